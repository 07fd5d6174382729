//! Routes that change who may use what: accounts (list, revoke, rotate), analysis projects
//! (propose, approve, withdraw, close, show) and table policies. Every change goes through
//! [`crate::change`], so all three parties apply it or none; each party checks the request itself
//! and a party that refuses still takes part in the agreement, so that its peers are released.

use crate::api::Response;
use crate::change::{self, Change};
use crate::job::Fail;
use crate::routes::ok;
use crate::state::State;
use mitsu_api::Role;
use mitsu_api::wire::{ChangeJob, Function, NewProject, ProjectTable, ProjectView, RotateToken, SetPolicy};
use mitsu_store::{Account, NewProjectRecord, Project};
use serde::de::DeserializeOwned;

/// Most analysts and tables one project lists.
pub const MAX_PROJECT_MEMBERS: usize = 64;
/// Longest purpose text, in characters.
pub const MAX_PURPOSE_CHARS: usize = 2000;

fn body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| Response::error(400, &format!("malformed request body: {e}")))
}

fn job_of(job: u64) -> Result<u64, Response> {
    if job == 0 { Err(Response::error(400, "job must be non-zero")) } else { Ok(job) }
}

fn may(ok: bool, who: &Account, what: &str) -> Result<(), Fail> {
    if ok { Ok(()) } else { Err(Fail(403, format!("account {:?} ({}) may not {what}", who.name, who.role))) }
}

fn name_ok(what: &str, name: &str) -> Result<(), Fail> {
    mitsu_api::names::check_name(what, name).map_err(|e| Fail(400, e))
}

fn hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /v1/accounts` (admin).
pub(crate) fn accounts(state: &State, who: &Account) -> Response {
    if who.role != Role::Admin {
        return Response::error(403, &format!("account {:?} ({}) may not list accounts", who.name, who.role));
    }
    match state.store.accounts() {
        Ok(a) => ok(&a),
        Err(e) => Response::error(500, &e.to_string()),
    }
}

/// `POST /v1/accounts/{name}/revoke` (admin).
pub(crate) fn revoke(state: &State, who: &Account, bytes: &[u8], name: &str) -> Response {
    let job = match body::<ChangeJob>(bytes).and_then(|r| job_of(r.job)) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let local = (|| {
        may(who.role == Role::Admin, who, "revoke accounts")?;
        name_ok("account", name)?;
        match state.store.account(name).map_err(|e| Fail(500, e.to_string()))? {
            None => Err(Fail(404, format!("no account {name:?}"))),
            Some(a) if a.revoked => Err(Fail(409, format!("account {name:?} is revoked already"))),
            Some(_) => Ok(false),
        }
    })();
    change::run(state, who, job, Change::Revoke { name: name.to_string() }, local, |_| Ok(()))
}

/// `POST /v1/accounts/{name}/rotate` (the account itself, or the admin).
pub(crate) fn rotate(state: &State, who: &Account, bytes: &[u8], name: &str) -> Response {
    let r: RotateToken = match body(bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let job = match job_of(r.job) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let local = (|| {
        may(who.role == Role::Admin || who.name == name, who, &format!("replace the token of account {name:?}"))?;
        name_ok("account", name)?;
        if name == "admin" {
            return Err(Fail(400, "the admin's token is in the parties' configuration; `mitsu init` writes it".into()));
        }
        if !hex64(&r.token_sha256) {
            return Err(Fail(400, "a token hash is 64 hex digits".into()));
        }
        match state.store.account(name).map_err(|e| Fail(500, e.to_string()))? {
            None => return Err(Fail(404, format!("no account {name:?}"))),
            Some(a) if a.revoked => return Err(Fail(409, format!("account {name:?} is revoked"))),
            Some(_) => {}
        }
        if state.store.account_taken("", &r.token_sha256).map_err(|e| Fail(500, e.to_string()))? {
            return Err(Fail(409, "that token is taken; generate a new one".into()));
        }
        Ok(false)
    })();
    let c = Change::Rotate { name: name.to_string(), token_sha256: r.token_sha256 };
    change::run(state, who, job, c, local, |_| Ok(()))
}

/// A project as the API shows it.
pub(crate) fn view(state: &State, p: &Project) -> ProjectView {
    ProjectView {
        name: p.name.clone(),
        purpose: p.purpose.clone(),
        proposer: p.proposer.clone(),
        analysts: p.analysts.clone(),
        tables: p
            .tables
            .iter()
            .map(|t| ProjectTable { name: t.name.clone(), owner: t.owner.clone(), approved: t.approved })
            .collect(),
        functions: p.functions.clone(),
        state: p.state().as_str().into(),
        created: p.created,
        party: state.me.index(),
    }
}

/// `GET /v1/projects`: every project; what a project is for and who takes part is public within
/// the deployment (and meant to be published).
pub(crate) fn projects(state: &State) -> Response {
    match state.store.projects() {
        Ok(ps) => ok(&ps.iter().map(|p| view(state, p)).collect::<Vec<_>>()),
        Err(e) => Response::error(500, &e.to_string()),
    }
}

/// `GET /v1/projects/{name}`.
pub(crate) fn project(state: &State, name: &str) -> Response {
    if let Err(Fail(s, m)) = name_ok("project", name) {
        return Response::error(s, &m);
    }
    match state.store.project(name) {
        Ok(Some(p)) => ok(&view(state, &p)),
        Ok(None) => Response::error(404, &format!("no project {name:?} at {}", state.me)),
        Err(e) => Response::error(500, &e.to_string()),
    }
}

/// `POST /v1/projects` (an analyst or the admin).
pub(crate) fn propose(state: &State, who: &Account, bytes: &[u8]) -> Response {
    let r: NewProject = match body(bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let job = match job_of(r.job) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let mut owners = Vec::new();
    let local = (|| {
        may(who.role.proposes_projects(), who, "propose projects (analysts and the admin do)")?;
        name_ok("project", &r.name)?;
        let purpose = r.purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > MAX_PURPOSE_CHARS {
            return Err(Fail(400, format!("a project states its purpose in 1 to {MAX_PURPOSE_CHARS} characters")));
        }
        if r.analysts.is_empty() || r.tables.is_empty() || r.functions.is_empty() {
            return Err(Fail(400, "a project lists at least one analyst, one table and one function".into()));
        }
        if r.analysts.len() > MAX_PROJECT_MEMBERS || r.tables.len() > MAX_PROJECT_MEMBERS {
            return Err(Fail(400, format!("a project lists at most {MAX_PROJECT_MEMBERS} analysts and tables")));
        }
        if state.store.project(&r.name).map_err(|e| Fail(500, e.to_string()))?.is_some() {
            return Err(Fail(409, format!("a project named {:?} exists already", r.name)));
        }
        for a in &r.analysts {
            name_ok("account", a)?;
            match state.store.account(a).map_err(|e| Fail(500, e.to_string()))? {
                Some(acc) if acc.role == Role::Analyst && !acc.revoked => {}
                Some(acc) if acc.revoked => return Err(Fail(400, format!("account {a:?} is revoked"))),
                Some(acc) => {
                    return Err(Fail(
                        400,
                        format!("{a:?} is a {} account; a project's analysts are analysts", acc.role),
                    ));
                }
                None => return Err(Fail(404, format!("no account {a:?}"))),
            }
        }
        for t in &r.tables {
            name_ok("table", t)?;
            let info = state.store.table(t).map_err(|_| Fail(404, format!("no table {t:?} at {}", state.me)))?;
            owners.push((t.clone(), info.owner));
        }
        Ok(false)
    })();
    let mut analysts = r.analysts.clone();
    analysts.sort();
    analysts.dedup();
    let mut functions: Vec<Function> = r.functions.clone();
    functions.sort();
    functions.dedup();
    owners.sort();
    owners.dedup();
    let rec = NewProjectRecord {
        name: r.name.clone(),
        purpose: r.purpose.trim().to_string(),
        proposer: who.name.clone(),
        analysts,
        tables: owners,
        functions,
    };
    change::run(state, who, job, Change::Project(rec), local, |_| Ok(()))
}

/// `POST /v1/projects/{name}/approve` and `/withdraw` (an owner of a listed table).
pub(crate) fn approve(state: &State, who: &Account, bytes: &[u8], name: &str, approved: bool) -> Response {
    let job = match body::<ChangeJob>(bytes).and_then(|r| job_of(r.job)) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let local = (|| {
        name_ok("project", name)?;
        let p = state.store.project(name).map_err(|e| Fail(500, e.to_string()))?;
        let p = p.ok_or_else(|| Fail(404, format!("no project {name:?} at {}", state.me)))?;
        if p.closed {
            return Err(Fail(409, format!("project {name:?} is closed")));
        }
        if !p.tables.iter().any(|t| t.owner == who.name) {
            let what = if approved { "approve" } else { "withdraw from" };
            return Err(Fail(
                403,
                format!("account {:?} owns no table of project {name:?}, so it has nothing to {what}", who.name),
            ));
        }
        Ok(false)
    })();
    let c = Change::Approve { project: name.to_string(), owner: who.name.clone(), approved };
    change::run(state, who, job, c, local, |_| Ok(()))
}

/// `POST /v1/projects/{name}/close` (its proposer or the admin).
pub(crate) fn close(state: &State, who: &Account, bytes: &[u8], name: &str) -> Response {
    let job = match body::<ChangeJob>(bytes).and_then(|r| job_of(r.job)) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let local = (|| {
        name_ok("project", name)?;
        let p = state.store.project(name).map_err(|e| Fail(500, e.to_string()))?;
        let p = p.ok_or_else(|| Fail(404, format!("no project {name:?} at {}", state.me)))?;
        may(who.role == Role::Admin || who.name == p.proposer, who, &format!("close project {name:?}"))?;
        if p.closed {
            return Err(Fail(409, format!("project {name:?} is closed already")));
        }
        Ok(false)
    })();
    change::run(state, who, job, Change::Close { project: name.to_string() }, local, |_| Ok(()))
}

/// `DELETE /v1/tables/{name}` (the table's owner): every version and its shares, at all three
/// parties or none.
pub(crate) fn drop_table(state: &State, who: &Account, bytes: &[u8], table: &str) -> Response {
    let job = match body::<ChangeJob>(bytes).and_then(|r| job_of(r.job)) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let local = (|| {
        name_ok("table", table)?;
        let t = state.store.table(table).map_err(|_| Fail(404, format!("no table {table:?} at {}", state.me)))?;
        may(t.owner == who.name, who, &format!("remove table {table:?}, owned by {:?}", t.owner))?;
        Ok(false)
    })();
    change::run(state, who, job, Change::Drop { table: table.to_string() }, local, |_| Ok(()))
}

/// `PUT /v1/tables/{name}/policy` (the table's owner).
pub(crate) fn set_policy(state: &State, who: &Account, bytes: &[u8], table: &str) -> Response {
    let r: SetPolicy = match body(bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let job = match job_of(r.job) {
        Ok(j) => j,
        Err(e) => return e,
    };
    let local = (|| {
        name_ok("table", table)?;
        let t = state.store.table(table).map_err(|_| Fail(404, format!("no table {table:?} at {}", state.me)))?;
        may(t.owner == who.name, who, &format!("set the policy of table {table:?}, owned by {:?}", t.owner))?;
        r.policy.check().map_err(|e| Fail(400, format!("policy of {table:?} refused: {e}")))?;
        Ok(false)
    })();
    change::run(state, who, job, Change::Policy { table: table.to_string(), policy: r.policy }, local, |_| Ok(()))
}
