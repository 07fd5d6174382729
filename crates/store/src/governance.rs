//! Who may use what: accounts' revocation, analysis projects with their owners' approvals, and
//! table policies. Written only by [`Store::commit_change`] (so by all three parties or none);
//! read by every route and job that decides a permission.

use crate::{Result, Store, now};
use mitsu_api::wire::{AccountView, Function, TablePolicy};
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS projects (
        name TEXT PRIMARY KEY, purpose TEXT NOT NULL, proposer TEXT NOT NULL, functions TEXT NOT NULL,
        closed INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS project_analysts (
        project TEXT NOT NULL REFERENCES projects (name), account TEXT NOT NULL,
        PRIMARY KEY (project, account));
    CREATE TABLE IF NOT EXISTS project_tables (
        project TEXT NOT NULL REFERENCES projects (name), table_name TEXT NOT NULL, owner TEXT NOT NULL,
        approved INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (project, table_name));
    CREATE TABLE IF NOT EXISTS policies (
        table_name TEXT PRIMARY KEY, allow_rows INTEGER NOT NULL DEFAULT 0,
        min_group_size INTEGER NOT NULL DEFAULT 10, order_stats INTEGER NOT NULL DEFAULT 0,
        dp_epsilon REAL, dp_delta REAL, max_jobs INTEGER);
    CREATE TABLE IF NOT EXISTS policy_usage (
        table_name TEXT PRIMARY KEY, jobs INTEGER NOT NULL);";

/// Columns added to `policies` after its first version, with their definitions.
const POLICY_COLUMNS: [(&str, &str); 5] = [
    ("min_group_size", "INTEGER NOT NULL DEFAULT 10"),
    ("order_stats", "INTEGER NOT NULL DEFAULT 0"),
    ("dp_epsilon", "REAL"),
    ("dp_delta", "REAL"),
    ("max_jobs", "INTEGER"),
];

/// Brings a database written by an older version up to this one.
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    let has_revoked: bool =
        conn.prepare("SELECT 1 FROM pragma_table_info('accounts') WHERE name = 'revoked'")?.exists([])?;
    if !has_revoked {
        conn.execute_batch("ALTER TABLE accounts ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0")?;
    }
    for (col, def) in POLICY_COLUMNS {
        let has: bool = conn.prepare("SELECT 1 FROM pragma_table_info('policies') WHERE name = ?1")?.exists([col])?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE policies ADD COLUMN {col} {def}"))?;
        }
    }
    Ok(())
}

/// A project as this party stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub name: String,
    pub purpose: String,
    pub proposer: String,
    pub analysts: Vec<String>,
    pub tables: Vec<ProjectTable>,
    pub functions: Vec<Function>,
    pub closed: bool,
    pub created: i64,
}

/// One table of a project: the owner recorded when the project was proposed, and whether that
/// owner's approval holds (it lapses if the table changes hands or is gone).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectTable {
    pub name: String,
    pub owner: String,
    pub approved: bool,
}

/// Where a project stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectState {
    /// Some listed table's owner has not approved (or withdrew).
    Proposed,
    Active,
    Closed,
}

impl ProjectState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectState::Proposed => "proposed",
            ProjectState::Active => "active",
            ProjectState::Closed => "closed",
        }
    }
}

impl Project {
    pub fn state(&self) -> ProjectState {
        if self.closed {
            ProjectState::Closed
        } else if self.tables.iter().all(|t| t.approved) {
            ProjectState::Active
        } else {
            ProjectState::Proposed
        }
    }

    /// Owners whose approval is missing, each once.
    pub fn waiting_for(&self) -> Vec<String> {
        let mut w: Vec<String> = self.tables.iter().filter(|t| !t.approved).map(|t| t.owner.clone()).collect();
        w.dedup();
        w.sort();
        w.dedup();
        w
    }
}

/// A new project as every party records it (owners taken from the catalog when it was proposed,
/// so that the parties' digests cover them).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewProjectRecord {
    pub name: String,
    pub purpose: String,
    pub proposer: String,
    pub analysts: Vec<String>,
    /// (table, owner)
    pub tables: Vec<(String, String)>,
    pub functions: Vec<Function>,
}

fn functions_text(f: &[Function]) -> String {
    f.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",")
}

impl Store {
    /// Every account, revoked ones included (their names stay taken).
    pub fn accounts(&self) -> Result<Vec<AccountView>> {
        let db = self.db();
        let mut st = db.prepare("SELECT name, role, created, revoked FROM accounts ORDER BY name")?;
        let rows = st
            .query_map([], |r| {
                let role: String = r.get(1)?;
                Ok((r.get::<_, String>(0)?, role, r.get::<_, i64>(2)?, r.get::<_, i64>(3)? != 0))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(name, role, created, revoked)| {
                let role = mitsu_api::Role::parse(&role)
                    .ok_or_else(|| crate::StoreError::Invalid(format!("account {name:?} has an unknown role")))?;
                Ok(AccountView { name, role, created, revoked })
            })
            .collect()
    }

    /// One account by name.
    pub fn account(&self, name: &str) -> Result<Option<AccountView>> {
        Ok(self.accounts()?.into_iter().find(|a| a.name == name))
    }

    /// A table's policy (the default, aggregates only, when its owner never set one).
    pub fn policy(&self, table: &str) -> Result<TablePolicy> {
        let p = self
            .db()
            .query_row(
                "SELECT allow_rows, min_group_size, order_stats, dp_epsilon, dp_delta, max_jobs
                 FROM policies WHERE table_name = ?1",
                [table],
                |r| {
                    Ok(TablePolicy {
                        allow_rows: r.get::<_, i64>(0)? != 0,
                        min_group_size: r.get::<_, i64>(1)?.clamp(1, u32::MAX as i64) as u32,
                        allow_order_statistics: r.get::<_, i64>(2)? != 0,
                        dp_epsilon: r.get(3)?,
                        dp_delta: r.get(4)?,
                        max_jobs: r.get::<_, Option<i64>>(5)?.map(|n| n.max(0) as u64),
                    })
                },
            )
            .optional()?;
        Ok(p.unwrap_or_default())
    }

    /// Admits a job reading `tables` against their job limits: counts it for every table, or for
    /// none and names the first table whose limit it would pass. One transaction, so two jobs
    /// admitted at once cannot both take a table's last job.
    pub fn take_jobs(&self, tables: &[String]) -> Result<std::result::Result<(), (String, u64)>> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for t in tables {
            let limit: Option<i64> = tx
                .query_row("SELECT max_jobs FROM policies WHERE table_name = ?1", [t], |r| r.get(0))
                .optional()?
                .flatten();
            let used: i64 = tx
                .query_row("SELECT jobs FROM policy_usage WHERE table_name = ?1", [t], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            if let Some(limit) = limit
                && used >= limit
            {
                return Ok(Err((t.clone(), limit.max(0) as u64)));
            }
        }
        for t in tables {
            tx.execute(
                "INSERT INTO policy_usage (table_name, jobs) VALUES (?1, 1)
                 ON CONFLICT (table_name) DO UPDATE SET jobs = jobs + 1",
                [t],
            )?;
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    pub fn project(&self, name: &str) -> Result<Option<Project>> {
        Ok(self.projects()?.into_iter().find(|p| p.name == name))
    }

    pub fn projects(&self) -> Result<Vec<Project>> {
        let db = self.db();
        let mut st =
            db.prepare("SELECT name, purpose, proposer, functions, closed, created FROM projects ORDER BY name")?;
        let heads = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)? != 0,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for (name, purpose, proposer, functions, closed, created) in heads {
            let analysts = db
                .prepare("SELECT account FROM project_analysts WHERE project = ?1 ORDER BY account")?
                .query_map([&name], |r| r.get(0))?
                .collect::<std::result::Result<Vec<String>, _>>()?;
            // an approval holds while the table is committed and still has the owner who gave it
            let tables = db
                .prepare(
                    "SELECT p.table_name, p.owner, p.approved AND EXISTS (SELECT 1 FROM tables t
                         WHERE t.name = p.table_name AND t.committed = 1 AND t.owner = p.owner)
                     FROM project_tables p WHERE p.project = ?1 ORDER BY p.table_name",
                )?
                .query_map([&name], |r| Ok(ProjectTable { name: r.get(0)?, owner: r.get(1)?, approved: r.get(2)? }))?
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let functions = functions.split(',').filter_map(Function::parse).collect();
            out.push(Project { name, purpose, proposer, analysts, tables, functions, closed, created });
        }
        Ok(out)
    }

    pub(crate) fn put_project(tx: &Connection, p: &NewProjectRecord) -> Result<()> {
        tx.execute(
            "INSERT INTO projects (name, purpose, proposer, functions, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![p.name, p.purpose, p.proposer, functions_text(&p.functions), now()],
        )?;
        for a in &p.analysts {
            tx.execute("INSERT INTO project_analysts (project, account) VALUES (?1, ?2)", params![p.name, a])?;
        }
        for (t, owner) in &p.tables {
            // a provider proposing a project over its own tables approves them by proposing
            let approved = *owner == p.proposer;
            tx.execute(
                "INSERT INTO project_tables (project, table_name, owner, approved) VALUES (?1, ?2, ?3, ?4)",
                params![p.name, t, owner, approved],
            )?;
        }
        Ok(())
    }

    pub(crate) fn approve_project(tx: &Connection, project: &str, owner: &str, approved: bool) -> Result<()> {
        tx.execute(
            "UPDATE project_tables SET approved = ?3 WHERE project = ?1 AND owner = ?2",
            params![project, owner, approved],
        )?;
        Ok(())
    }

    pub(crate) fn close_project(tx: &Connection, project: &str) -> Result<()> {
        tx.execute("UPDATE projects SET closed = 1 WHERE name = ?1", [project])?;
        Ok(())
    }

    pub(crate) fn set_policy(tx: &Connection, table: &str, p: &TablePolicy) -> Result<()> {
        tx.execute(
            "INSERT INTO policies (table_name, allow_rows, min_group_size, order_stats, dp_epsilon, dp_delta, max_jobs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (table_name) DO UPDATE SET allow_rows = excluded.allow_rows,
                 min_group_size = excluded.min_group_size, order_stats = excluded.order_stats,
                 dp_epsilon = excluded.dp_epsilon, dp_delta = excluded.dp_delta, max_jobs = excluded.max_jobs",
            params![
                table,
                p.allow_rows,
                p.min_group_size,
                p.allow_order_statistics,
                p.dp_epsilon,
                p.dp_delta,
                p.max_jobs.map(|n| n.min(i64::MAX as u64) as i64)
            ],
        )?;
        Ok(())
    }
}
