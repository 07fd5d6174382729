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

mod audit;
mod governance;

pub use audit::AuditEntry;

pub use governance::{NewProjectRecord, Project, ProjectState, ProjectTable};
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
    /// The account may not do this (another account's upload, say).
    #[error("{0}")]
    Forbidden(String),
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
    pub role: mitsu_api::Role,
}

/// The store. One connection; SQLite serialises writers anyway.
#[derive(Debug)]
pub struct Store {
    db: Mutex<Connection>,
}

#[cfg(unix)]
fn private(dir: &Path, db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(db)?;
    // a database created by an older version (0644) becomes private too
    for f in [db.to_path_buf(), db.with_extension("db-wal"), db.with_extension("db-shm")] {
        if f.exists() {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn private(_dir: &Path, _db: &Path) -> std::io::Result<()> {
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) `<dir>/party.db`.
    /// The directory is made private to the party's user (0700) and the database file created
    /// 0600 before SQLite opens it; SQLite gives its -wal and -shm files the database's mode.
    pub fn open(dir: &Path) -> Result<Store> {
        let io = |e: std::io::Error| StoreError::Invalid(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let db = dir.join("party.db");
        private(dir, &db).map_err(io)?;
        let conn = Connection::open(&db)?;
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
                 FOREIGN KEY (name, version) REFERENCES tables (name, version) ON DELETE CASCADE);
             CREATE TABLE IF NOT EXISTS changes (
                 id INTEGER PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, body TEXT NOT NULL,
                 digest TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
                 created INTEGER NOT NULL, decided INTEGER);
             CREATE INDEX IF NOT EXISTS changes_state ON changes (state, target);",
        )?;
        // databases written before uploads expired lack the activity column
        let has_touched: bool =
            conn.prepare("SELECT 1 FROM pragma_table_info('tables') WHERE name = 'touched'")?.exists([])?;
        if !has_touched {
            conn.execute_batch("ALTER TABLE tables ADD COLUMN touched INTEGER NOT NULL DEFAULT 0")?;
        }
        governance::migrate(&conn)?;
        conn.execute_batch(audit::SCHEMA)?;
        Ok(Store { db: Mutex::new(conn) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- accounts ----------------------------------------------------------------------------

    /// The account holding a token (by its hash).
    pub fn account_by_token(&self, token_sha256: &str) -> Result<Option<Account>> {
        Ok(self
            .db()
            .query_row("SELECT name, role FROM accounts WHERE token_sha256 = ?1 AND revoked = 0", [token_sha256], |r| {
                let role: String = r.get(1)?;
                // a role this version does not know is a damaged store, not a guess
                let role = mitsu_api::Role::parse(&role).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        format!("role {role:?}").into(),
                    )
                })?;
                Ok(Account { name: r.get(0)?, role })
            })
            .optional()?)
    }

    /// Whether an account of this name exists, or a token hash is taken.
    pub fn account_taken(&self, name: &str, token_sha256: &str) -> Result<bool> {
        Ok(self
            .db()
            .prepare("SELECT 1 FROM accounts WHERE name = ?1 OR token_sha256 = ?2")?
            .exists(params![name, token_sha256])?)
    }

    // ---- tables ------------------------------------------------------------------------------

    /// Starts a staged version (replacing an earlier staged attempt of the same owner). The
    /// version must be newer than the committed one, and no other account may have an upload of
    /// the table in progress: a version belongs to the account that began it.
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
        let other: Option<String> = tx
            .query_row(
                "SELECT owner FROM tables WHERE name = ?1 AND committed = 0 AND owner <> ?2 LIMIT 1",
                params![t.name, t.owner],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(o) = other {
            return Err(StoreError::Forbidden(format!(
                "account {o:?} has an upload of table {:?} in progress; only it can continue or abort it \
                 (it expires if left unfinished)",
                t.name
            )));
        }
        if Self::commit_pending(&tx, &t.name)? {
            return Err(StoreError::Invalid(format!(
                "a commit of table {:?} is still being completed by the parties; try again shortly",
                t.name
            )));
        }
        tx.execute("DELETE FROM tables WHERE name = ?1 AND committed = 0", params![t.name])?;
        tx.execute(
            "INSERT INTO tables (name, version, owner, schema, rows, columns, chunks_per_column, committed, created, touched)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
            params![t.name, t.version, t.owner, t.schema, t.rows, t.columns, t.chunks_per_column, now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Whether a change about `target` (`project:NAME`, `table:NAME`, `account:NAME`) was voted
    /// for here and is not decided yet: jobs that depend on it wait until it is.
    pub fn change_pending(&self, target: &str) -> Result<bool> {
        Ok(self.db().prepare("SELECT 1 FROM changes WHERE state = 'prepared' AND target = ?1")?.exists([target])?)
    }

    /// Whether a prepared (undecided) commit of some version of `name` exists.
    fn commit_pending(db: &Connection, name: &str) -> Result<bool> {
        Ok(db
            .prepare("SELECT 1 FROM changes WHERE state = 'prepared' AND target = ?1")?
            .exists([format!("table:{name}")])?)
    }

    fn staged(&self, db: &Connection, name: &str, version: i64) -> Result<TableInfo> {
        let t = Self::info(db, name, version)?
            .ok_or_else(|| StoreError::Invalid(format!("no upload of {name:?} version {version} is in progress")))?;
        if t.committed {
            return Err(StoreError::Invalid(format!("{name:?} version {version} is already committed")));
        }
        Ok(t)
    }

    /// A staged (uncommitted) version.
    pub fn staged_info(&self, name: &str, version: i64) -> Result<TableInfo> {
        let db = self.db();
        self.staged(&db, name, version)
    }

    /// Stores one chunk of one column of a staged version (idempotent). The caller has checked
    /// the owner and the chunk's size against the version's schema.
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
        db.execute("UPDATE tables SET touched = ?3 WHERE name = ?1 AND version = ?2", params![name, version, now()])?;
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

    /// Discards the staged versions of `name` that `owner` began, unless their commit is being
    /// decided. Returns how many were discarded.
    pub fn abort_staged(&self, name: &str, owner: &str) -> Result<usize> {
        let mut db = self.db();
        let tx = db.transaction()?;
        if Self::commit_pending(&tx, name)? {
            return Err(StoreError::Invalid(format!(
                "the parties are completing a commit of {name:?}; it can no longer be aborted"
            )));
        }
        let n =
            tx.execute("DELETE FROM tables WHERE name = ?1 AND committed = 0 AND owner = ?2", params![name, owner])?;
        tx.commit()?;
        Ok(n)
    }

    /// Discards staged versions that received nothing for `idle_secs` (and whose commit is not
    /// being decided). Returns the (name, version) discarded.
    pub fn expire_staged(&self, idle_secs: i64) -> Result<Vec<(String, i64)>> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let cutoff = now() - idle_secs;
        let old: Vec<(String, i64)> = tx
            .prepare("SELECT name, version FROM tables WHERE committed = 0 AND touched < ?1")?
            .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<std::result::Result<_, _>>()?;
        let mut gone = Vec::new();
        for (name, v) in old {
            if !Self::commit_pending(&tx, &name)? {
                tx.execute("DELETE FROM tables WHERE name = ?1 AND version = ?2", params![name, v])?;
                gone.push((name, v));
            }
        }
        tx.commit()?;
        Ok(gone)
    }

    // ---- changes that all three parties apply or none ----------------------------------------

    /// A change's record, if this party has one.
    pub fn change(&self, id: u64) -> Result<Option<ChangeRec>> {
        Ok(self
            .db()
            .query_row(
                "SELECT id, kind, target, body, digest, state, reason FROM changes WHERE id = ?1",
                [id as i64],
                row_change,
            )
            .optional()?)
    }

    /// Records a change in its first state (prepared: this party votes yes; aborted: no).
    /// Returns false, recording nothing, when this party already has a record of the id.
    pub fn record_change(&self, c: &ChangeRec) -> Result<bool> {
        let decided = (c.state != ChangeState::Prepared).then(now);
        let n = self.db().execute(
            "INSERT OR IGNORE INTO changes (id, kind, target, body, digest, state, reason, created, decided)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![c.id as i64, c.kind, c.target, c.body, c.digest, c.state.as_str(), c.reason, now(), decided],
        )?;
        Ok(n == 1)
    }

    /// Changes this party voted for and has not yet seen decided.
    pub fn prepared_changes(&self) -> Result<Vec<ChangeRec>> {
        let db = self.db();
        let mut st = db.prepare(
            "SELECT id, kind, target, body, digest, state, reason FROM changes WHERE state = 'prepared' ORDER BY id",
        )?;
        let rows = st.query_map([], row_change)?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Commits a prepared change: applies it and marks it committed in one transaction.
    /// Committing a committed change again does nothing.
    pub fn commit_change(&self, id: u64, apply: &Apply) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let state: Option<String> =
            tx.query_row("SELECT state FROM changes WHERE id = ?1", [id as i64], |r| r.get(0)).optional()?;
        match state.as_deref() {
            Some("committed") => return Ok(()),
            Some("prepared") => {}
            other => {
                return Err(StoreError::Invalid(format!("change {id:x} cannot be committed from state {other:?}")));
            }
        }
        match apply {
            Apply::CommitVersion { name, version } => {
                let t = Self::info(&tx, name, *version)?;
                match t {
                    Some(t) if t.committed => {}
                    Some(_) => {
                        tx.execute(
                            "UPDATE tables SET committed = 1 WHERE name = ?1 AND version = ?2",
                            params![name, version],
                        )?;
                        tx.execute("DELETE FROM tables WHERE name = ?1 AND version < ?2", params![name, version])?;
                    }
                    None => {
                        return Err(StoreError::Invalid(format!(
                            "{name:?} version {version} is no longer stored at this party"
                        )));
                    }
                }
            }
            Apply::PutAccount { name, role, token_sha256 } => {
                tx.execute(
                    "INSERT INTO accounts (name, token_sha256, role, created) VALUES (?1, ?2, ?3, ?4)",
                    params![name, token_sha256, role.as_str(), now()],
                )?;
            }
            Apply::RevokeAccount { name } => {
                tx.execute("UPDATE accounts SET revoked = 1 WHERE name = ?1", [name])?;
            }
            Apply::RotateToken { name, token_sha256 } => {
                tx.execute(
                    "UPDATE accounts SET token_sha256 = ?2 WHERE name = ?1 AND revoked = 0",
                    params![name, token_sha256],
                )?;
            }
            Apply::PutProject(p) => Self::put_project(&tx, p)?,
            Apply::ApproveProject { project, owner, approved } => {
                Self::approve_project(&tx, project, owner, *approved)?
            }
            Apply::CloseProject { project } => Self::close_project(&tx, project)?,
            Apply::SetPolicy { table, policy } => Self::set_policy(&tx, table, policy)?,
            // every version and its chunks (cascade), the policy and its job count; projects keep the name, and
            // their approvals lapse because the table is gone
            Apply::DropTable { name } => {
                tx.execute("DELETE FROM tables WHERE name = ?1", [name])?;
                tx.execute("DELETE FROM policies WHERE table_name = ?1", [name])?;
                tx.execute("DELETE FROM policy_usage WHERE table_name = ?1", [name])?;
            }
        }
        tx.execute("UPDATE changes SET state = 'committed', decided = ?2 WHERE id = ?1", params![id as i64, now()])?;
        tx.commit()?;
        Ok(())
    }

    /// Aborts a prepared change (a committed one stays committed: that is an error).
    pub fn abort_change(&self, id: u64, reason: &str) -> Result<()> {
        let db = self.db();
        let n = db.execute(
            "UPDATE changes SET state = 'aborted', reason = ?2, decided = ?3 WHERE id = ?1 AND state <> 'committed'",
            params![id as i64, reason, now()],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("change {id:x} is committed or unknown; it cannot be aborted")));
        }
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

/// Where a change stands at this party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeState {
    /// Voted yes; waiting to learn the decision.
    Prepared,
    Committed,
    Aborted,
}

impl ChangeState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeState::Prepared => "prepared",
            ChangeState::Committed => "committed",
            ChangeState::Aborted => "aborted",
        }
    }
    fn parse(s: &str) -> ChangeState {
        match s {
            "prepared" => ChangeState::Prepared,
            "committed" => ChangeState::Committed,
            _ => ChangeState::Aborted,
        }
    }
}

/// A change that all three parties apply or none: a table commit, an account.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRec {
    /// The job id the change was requested under (namespaced by account).
    pub id: u64,
    pub kind: String,
    /// What it changes (`table:NAME`, `account:NAME`).
    pub target: String,
    /// The request, as JSON.
    pub body: String,
    /// SHA-256 (hex) of the exact request, compared among the parties.
    pub digest: String,
    pub state: ChangeState,
    pub reason: String,
}

/// What committing a change does to the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Apply {
    CommitVersion { name: String, version: i64 },
    PutAccount { name: String, role: mitsu_api::Role, token_sha256: String },
    RevokeAccount { name: String },
    RotateToken { name: String, token_sha256: String },
    PutProject(NewProjectRecord),
    ApproveProject { project: String, owner: String, approved: bool },
    CloseProject { project: String },
    SetPolicy { table: String, policy: mitsu_api::wire::TablePolicy },
    DropTable { name: String },
}

fn row_change(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeRec> {
    Ok(ChangeRec {
        id: r.get::<_, i64>(0)? as u64,
        kind: r.get(1)?,
        target: r.get(2)?,
        body: r.get(3)?,
        digest: r.get(4)?,
        state: ChangeState::parse(&r.get::<_, String>(5)?),
        reason: r.get(6)?,
    })
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

    fn commit(s: &Store, id: u64, version: i64) -> Result<()> {
        let rec = ChangeRec {
            id,
            kind: "commit".into(),
            target: "table:clinic".into(),
            body: "{}".into(),
            digest: "d".into(),
            state: ChangeState::Prepared,
            reason: String::new(),
        };
        if !s.record_change(&rec)? {
            return Err(StoreError::Invalid("recorded already".into()));
        }
        s.commit_change(id, &Apply::CommitVersion { name: "clinic".into(), version })
    }

    #[test]
    fn a_version_is_visible_only_once_complete_and_committed() {
        let dir = tmp("versions");
        let s = Store::open(&dir).unwrap();
        s.begin_version(&info(1)).unwrap();
        s.put_chunk("clinic", 1, 0, 0, b"a0").unwrap();
        assert!(s.tables().unwrap().is_empty(), "staged versions are invisible");
        assert!(!s.is_complete("clinic", 1).unwrap());
        for (c, k) in [(0, 1), (1, 0), (1, 1)] {
            s.put_chunk("clinic", 1, c, k, format!("c{c}k{k}").as_bytes()).unwrap();
        }
        assert!(s.put_chunk("clinic", 1, 2, 0, b"x").unwrap_err().to_string().contains("outside the upload"));
        assert!(s.is_complete("clinic", 1).unwrap());
        commit(&s, 7, 1).unwrap();
        commit(&s, 7, 1).unwrap_err(); // the id is recorded once
        s.commit_change(7, &Apply::CommitVersion { name: "clinic".into(), version: 1 }).unwrap(); // idempotent
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

    // Regression: another provider could re-begin a table someone had begun, taking it over.
    #[test]
    fn an_upload_belongs_to_the_account_that_began_it() {
        let dir = tmp("owner");
        let s = Store::open(&dir).unwrap();
        s.begin_version(&info(1)).unwrap();
        let mut other = info(1);
        other.owner = "mallory".into();
        let e = s.begin_version(&other).unwrap_err();
        assert!(matches!(e, StoreError::Forbidden(_)) && e.to_string().contains("\"clinic\" has an upload"), "{e}");
        assert_eq!(s.abort_staged("clinic", "mallory").unwrap(), 0);
        assert_eq!(s.staged_info("clinic", 1).unwrap().owner, "clinic");
        assert_eq!(s.abort_staged("clinic", "clinic").unwrap(), 1);
        s.begin_version(&other).unwrap(); // gone: anyone may begin it now
        // idle uploads expire; a recent one does not
        assert!(s.expire_staged(3600).unwrap().is_empty());
        assert_eq!(s.expire_staged(-1).unwrap(), vec![("clinic".to_string(), 1)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn changes_are_recorded_once_and_decided_once() {
        let dir = tmp("changes");
        let s = Store::open(&dir).unwrap();
        let rec = ChangeRec {
            id: u64::MAX - 3,
            kind: "account".into(),
            target: "account:lab".into(),
            body: "{}".into(),
            digest: "d".into(),
            state: ChangeState::Prepared,
            reason: String::new(),
        };
        assert!(s.record_change(&rec).unwrap());
        assert!(!s.record_change(&ChangeRec { state: ChangeState::Aborted, ..rec.clone() }).unwrap());
        assert_eq!(s.prepared_changes().unwrap(), vec![rec.clone()]);
        assert!(!s.account_taken("lab", "h").unwrap());
        let apply = Apply::PutAccount { name: "lab".into(), role: mitsu_api::Role::Provider, token_sha256: "h".into() };
        s.commit_change(rec.id, &apply).unwrap();
        assert!(s.account_taken("lab", "x").unwrap() && s.account_taken("y", "h").unwrap());
        assert_eq!(
            s.account_by_token("h").unwrap(),
            Some(Account { name: "lab".into(), role: mitsu_api::Role::Provider })
        );
        assert!(s.abort_change(rec.id, "late").is_err(), "a committed change stays committed");
        assert!(s.prepared_changes().unwrap().is_empty());
        // a pending commit of a table blocks aborting and expiring its upload
        s.begin_version(&info(1)).unwrap();
        let c = ChangeRec { id: 9, kind: "commit".into(), target: "table:clinic".into(), ..rec };
        assert!(s.record_change(&c).unwrap());
        assert!(s.abort_staged("clinic", "clinic").is_err());
        assert!(s.expire_staged(-1).unwrap().is_empty());
        s.abort_change(9, "no").unwrap();
        assert_eq!(s.change(9).unwrap().unwrap().state, ChangeState::Aborted);
        assert_eq!(s.abort_staged("clinic", "clinic").unwrap(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_database_is_private_to_the_party() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tmp("modes");
        let s = Store::open(&dir).unwrap();
        s.begin_version(&info(1)).unwrap();
        for f in ["party.db", "party.db-wal"] {
            let m = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o600, "{f}");
        }
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
