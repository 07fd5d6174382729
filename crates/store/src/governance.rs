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
        table_name TEXT PRIMARY KEY, allow_rows INTEGER NOT NULL DEFAULT 0);";

/// Brings a database written by an older version up to this one.
pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    let has_revoked: bool =
        conn.prepare("SELECT 1 FROM pragma_table_info('accounts') WHERE name = 'revoked'")?.exists([])?;
    if !has_revoked {
        conn.execute_batch("ALTER TABLE accounts ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0")?;
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
        let allow: Option<i64> = self
            .db()
            .query_row("SELECT allow_rows FROM policies WHERE table_name = ?1", [table], |r| r.get(0))
            .optional()?;
        Ok(TablePolicy { allow_rows: allow.unwrap_or(0) != 0 })
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
            "INSERT INTO policies (table_name, allow_rows) VALUES (?1, ?2)
             ON CONFLICT (table_name) DO UPDATE SET allow_rows = excluded.allow_rows",
            params![table, p.allow_rows],
        )?;
        Ok(())
    }
}
