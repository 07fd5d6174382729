//! A party's durable state in one embedded SQLite database (`<data_dir>/party.db`).
//!
//! Why SQLite: it needs no server, and with the write-ahead log and `synchronous=FULL` a committed
//! transaction survives `kill -9` and power loss; its crash behaviour is among the most tested of
//! any storage engine. Every multi-step change here is one transaction.
//!
//! Tables are versioned. An upload writes a *staged* version chunk by chunk; it becomes visible only
//! when committed, and committing removes older versions in the same transaction. A staged version
//! that is never committed stays invisible and is replaced by a retry.
//!
//! The store holds share bytes only: it never sees, and cannot tell, what values they encode.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("no table {0:?}")]
    NoTable(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A table version as the catalog knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub name: String,
    pub version: i64,
    pub owner: String,
    /// The table's schema, as JSON written by the client library.
    pub schema: String,
    pub rows: i64,
    pub columns: i64,
    pub chunks_per_column: i64,
    pub committed: bool,
    pub created: i64,
}

/// An account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub name: String,
    pub role: String,
}

/// The store. One connection; SQLite serialises writers anyway.
#[derive(Debug)]
pub struct Store {
    db: Mutex<Connection>,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) `<dir>/party.db`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Invalid(format!("{}: {e}", dir.display())))?;
        let conn = Connection::open(dir.join("party.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS accounts (
                 name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, role TEXT NOT NULL, created INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS tables (
                 name TEXT NOT NULL, version INTEGER NOT NULL, owner TEXT NOT NULL, schema TEXT NOT NULL,
                 rows INTEGER NOT NULL, columns INTEGER NOT NULL, chunks_per_column INTEGER NOT NULL,
                 committed INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,
                 PRIMARY KEY (name, version));
             CREATE TABLE IF NOT EXISTS chunks (
                 name TEXT NOT NULL, version INTEGER NOT NULL, col INTEGER NOT NULL, chunk INTEGER NOT NULL,
                 data BLOB NOT NULL,
                 PRIMARY KEY (name, version, col, chunk),
                 FOREIGN KEY (name, version) REFERENCES tables (name, version) ON DELETE CASCADE);",
        )?;
        Ok(Store { db: Mutex::new(conn) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- accounts ----------------------------------------------------------------------------

    /// Creates or replaces an account.
    pub fn put_account(&self, name: &str, role: &str, token_sha256: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO accounts (name, token_sha256, role, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET token_sha256 = ?2, role = ?3",
            params![name, token_sha256, role, now()],
        )?;
        Ok(())
    }

    /// The account holding a token (by its hash).
    pub fn account_by_token(&self, token_sha256: &str) -> Result<Option<Account>> {
        Ok(self
            .db()
            .query_row("SELECT name, role FROM accounts WHERE token_sha256 = ?1", [token_sha256], |r| {
                Ok(Account { name: r.get(0)?, role: r.get(1)? })
            })
            .optional()?)
    }

    // ---- tables ------------------------------------------------------------------------------

    /// Starts a staged version (replacing an earlier staged attempt at the same version).
    /// The version must be newer than the committed one.
    pub fn begin_version(&self, t: &TableInfo) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let latest: Option<i64> =
            tx.query_row("SELECT MAX(version) FROM tables WHERE name = ?1 AND committed = 1", [&t.name], |r| r.get(0))?;
        if let Some(v) = latest
            && t.version <= v
        {
            return Err(StoreError::Invalid(format!(
                "table {:?} is already at version {v}; a new upload needs a newer version",
                t.name
            )));
        }
        tx.execute("DELETE FROM tables WHERE name = ?1 AND version = ?2", params![t.name, t.version])?;
        tx.execute(
            "INSERT INTO tables (name, version, owner, schema, rows, columns, chunks_per_column, committed, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
            params![t.name, t.version, t.owner, t.schema, t.rows, t.columns, t.chunks_per_column, now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn staged(&self, db: &Connection, name: &str, version: i64) -> Result<TableInfo> {
        let t = Self::info(db, name, version)?
            .ok_or_else(|| StoreError::Invalid(format!("no upload of {name:?} version {version} is in progress")))?;
        if t.committed {
            return Err(StoreError::Invalid(format!("{name:?} version {version} is already committed")));
        }
        Ok(t)
    }

    /// Stores one chunk of one column of a staged version (idempotent).
    pub fn put_chunk(&self, name: &str, version: i64, col: i64, chunk: i64, data: &[u8]) -> Result<()> {
        let db = self.db();
        let t = self.staged(&db, name, version)?;
        if col < 0 || col >= t.columns || chunk < 0 || chunk >= t.chunks_per_column {
            return Err(StoreError::Invalid(format!(
                "chunk {chunk} of column {col} is outside the upload ({} columns of {} chunks)",
                t.columns, t.chunks_per_column
            )));
        }
        db.execute(
            "INSERT OR REPLACE INTO chunks (name, version, col, chunk, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, version, col, chunk, data],
        )?;
        Ok(())
    }

    /// Whether every chunk of a staged version is present.
    pub fn is_complete(&self, name: &str, version: i64) -> Result<bool> {
        let db = self.db();
        let t = self.staged(&db, name, version)?;
        let n: i64 = db.query_row(
            "SELECT COUNT(*) FROM chunks WHERE name = ?1 AND version = ?2",
            params![name, version],
            |r| r.get(0),
        )?;
        Ok(n == t.columns * t.chunks_per_column)
    }

    /// Makes a complete staged version visible and drops older versions, atomically.
    pub fn commit_version(&self, name: &str, version: i64) -> Result<()> {
        if !self.is_complete(name, version)? {
            return Err(StoreError::Invalid(format!(
                "{name:?} version {version} is incomplete; upload the missing chunks first"
            )));
        }
        let mut db = self.db();
        let tx = db.transaction()?;
        tx.execute("UPDATE tables SET committed = 1 WHERE name = ?1 AND version = ?2", params![name, version])?;
        tx.execute("DELETE FROM tables WHERE name = ?1 AND version < ?2", params![name, version])?;
        tx.commit()?;
        Ok(())
    }

    /// Discards a staged version.
    pub fn abort_version(&self, name: &str, version: i64) -> Result<()> {
        self.db()
            .execute("DELETE FROM tables WHERE name = ?1 AND version = ?2 AND committed = 0", params![name, version])?;
        Ok(())
    }

    fn info(db: &Connection, name: &str, version: i64) -> Result<Option<TableInfo>> {
        Ok(db
            .query_row(
                "SELECT name, version, owner, schema, rows, columns, chunks_per_column, committed, created
                 FROM tables WHERE name = ?1 AND version = ?2",
                params![name, version],
                row_info,
            )
            .optional()?)
    }

    /// The committed version of every table.
    pub fn tables(&self) -> Result<Vec<TableInfo>> {
        let db = self.db();
        let mut st = db.prepare(
            "SELECT name, version, owner, schema, rows, columns, chunks_per_column, committed, created
             FROM tables WHERE committed = 1 ORDER BY name",
        )?;
        let rows = st.query_map([], row_info)?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The committed version of one table.
    pub fn table(&self, name: &str) -> Result<TableInfo> {
        self.tables()?.into_iter().find(|t| t.name == name).ok_or_else(|| StoreError::NoTable(name.to_string()))
    }

    /// A column's chunks of a committed version, concatenated in order.
    pub fn read_column(&self, name: &str, version: i64, col: i64) -> Result<Vec<u8>> {
        let db = self.db();
        let mut st =
            db.prepare("SELECT data FROM chunks WHERE name = ?1 AND version = ?2 AND col = ?3 ORDER BY chunk")?;
        let mut out = Vec::new();
        let mut rows = st.query(params![name, version, col])?;
        while let Some(r) = rows.next()? {
            let d: Vec<u8> = r.get(0)?;
            out.extend_from_slice(&d);
        }
        Ok(out)
    }
}

fn row_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<TableInfo> {
    Ok(TableInfo {
        name: r.get(0)?,
        version: r.get(1)?,
        owner: r.get(2)?,
        schema: r.get(3)?,
        rows: r.get(4)?,
        columns: r.get(5)?,
        chunks_per_column: r.get(6)?,
        committed: r.get::<_, i64>(7)? == 1,
        created: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mitsu-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn info(version: i64) -> TableInfo {
        TableInfo {
            name: "clinic".into(),
            version,
            owner: "clinic".into(),
            schema: "{}".into(),
            rows: 3,
            columns: 2,
            chunks_per_column: 2,
            committed: false,
            created: 0,
        }
    }

    #[test]
    fn a_version_is_visible_only_once_complete_and_committed() {
        let dir = tmp("versions");
        let s = Store::open(&dir).unwrap();
        s.begin_version(&info(1)).unwrap();
        s.put_chunk("clinic", 1, 0, 0, b"a0").unwrap();
        assert!(s.tables().unwrap().is_empty(), "staged versions are invisible");
        assert!(s.commit_version("clinic", 1).unwrap_err().to_string().contains("incomplete"));
        for (c, k) in [(0, 1), (1, 0), (1, 1)] {
            s.put_chunk("clinic", 1, c, k, format!("c{c}k{k}").as_bytes()).unwrap();
        }
        assert!(s.put_chunk("clinic", 1, 2, 0, b"x").unwrap_err().to_string().contains("outside the upload"));
        s.commit_version("clinic", 1).unwrap();
        assert_eq!(s.table("clinic").unwrap().version, 1);
        assert_eq!(s.read_column("clinic", 1, 1).unwrap(), b"c1k0c1k1");
        // a replacement upload leaves version 1 visible until it commits
        s.begin_version(&info(2)).unwrap();
        assert_eq!(s.table("clinic").unwrap().version, 1);
        assert!(s.begin_version(&info(1)).unwrap_err().to_string().contains("already at version 1"));
        drop(s);
        // reopen: everything committed is still there
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.table("clinic").unwrap().version, 1);
        assert_eq!(s.read_column("clinic", 1, 0).unwrap(), b"a0c0k1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn accounts_are_found_by_token_hash() {
        let dir = tmp("accounts");
        let s = Store::open(&dir).unwrap();
        s.put_account("clinic", "provider", "h1").unwrap();
        assert_eq!(s.account_by_token("h1").unwrap(), Some(Account { name: "clinic".into(), role: "provider".into() }));
        assert_eq!(s.account_by_token("h2").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
