//! The client API's routes. Each checks the caller's role itself.

use crate::api::Response;
use crate::change::{self, Change};
use crate::job::Fail;
use crate::state::State;
use crate::tables::Readable;
use mitsu_api::wire::{Accepted, BeginUpload, CommitUpload, Discarded, NewAccount, PeerStatus, Status, TableView};
use mitsu_api::{Role, Schema};
use mitsu_mpc_core::PartyId;
use mitsu_store::{Account, StoreError, TableInfo};
use serde::Serialize;

fn json_err(e: impl std::fmt::Display) -> Response {
    Response::error(400, &format!("malformed request body: {e}"))
}

fn store_err(e: StoreError) -> Response {
    match e {
        StoreError::NoTable(_) => Response::error(404, &e.to_string()),
        StoreError::Invalid(_) => Response::error(409, &e.to_string()),
        StoreError::Forbidden(_) => Response::error(403, &e.to_string()),
        StoreError::Db(_) => Response::error(500, &e.to_string()),
    }
}

fn forbidden(who: &Account, what: &str) -> Response {
    Response::error(403, &format!("account {:?} ({}) may not {what}", who.name, who.role))
}

/// A 200 answer with a body of the wire contract.
pub(crate) fn ok<T: Serialize>(body: &T) -> Response {
    Response::json(200, serde_json::to_string(body).expect("wire types serialize"))
}

fn table_view(state: &State, t: &TableInfo, me: PartyId) -> Result<TableView, Response> {
    let schema: Schema = serde_json::from_str(&t.schema)
        .map_err(|_| Response::error(500, &format!("the stored schema of {:?} is unreadable", t.name)))?;
    Ok(TableView {
        name: t.name.clone(),
        version: t.version,
        owner: t.owner.clone(),
        rows: t.rows.max(0) as u64,
        schema,
        policy: state.store.policy(&t.name).map_err(store_err)?,
        party: me.index(),
    })
}

/// A path segment named by the client: a table name under the one name rule.
fn table_name(name: &str) -> Result<&str, Response> {
    mitsu_api::names::check_name("table", name).map_err(|e| Response::error(400, &e))?;
    Ok(name)
}

pub(crate) fn tables(state: &State) -> Response {
    state
        .store
        .tables()
        .map_err(store_err)
        .and_then(|ts| ts.iter().map(|t| table_view(state, t, state.me)).collect::<Result<Vec<_>, _>>())
        .map(|v| ok(&v))
        .unwrap_or_else(|r| r)
}

pub(crate) fn table(state: &State, name: &str) -> Response {
    table_name(name)
        .and_then(|name| state.store.table(name).map_err(store_err))
        .and_then(|t| table_view(state, &t, state.me))
        .map(|v| ok(&v))
        .unwrap_or_else(|r| r)
}

/// Benchmark inputs for `mitsu bench --processes`, kept in memory until the next stage.
pub(crate) fn stage_bench(state: &State, who: &Account, body: &[u8], id: &str) -> Response {
    if who.role != Role::Admin {
        return forbidden(who, "stage benchmark inputs");
    }
    let Ok(id) = id.parse::<u64>() else { return Response::error(400, "stage id must be a number") };
    let mut b = state.bench.lock().unwrap_or_else(|p| p.into_inner());
    b.clear(); // one staged benchmark at a time bounds the memory it can take
    b.insert(id, body.to_vec());
    ok(&Accepted {})
}

/// A path as it may be echoed: at most 200 characters.
fn shorten(s: &str) -> String {
    s.chars().take(200).collect()
}

fn may_upload(who: &Account) -> bool {
    who.role.uploads()
}

pub(crate) fn status(state: &State) -> Response {
    let peers = state
        .mesh
        .health()
        .into_iter()
        .map(|h| PeerStatus {
            party: h.party.index(),
            linked: h.linked,
            last_seen_ms: h.last_seen_ms,
            last_error: h.last_error,
        })
        .collect();
    ok(&Status {
        party: state.me.index(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_s: state.started.elapsed().as_secs_f64(),
        tables: state.store.tables().map(|t| t.len()).unwrap_or(0),
        peers,
        pending_changes: state.store.prepared_changes().map(|c| c.len()).unwrap_or(0),
    })
}

/// Creates an account at all three parties or at none.
pub(crate) fn create_account(state: &State, who: &Account, body: &[u8]) -> Response {
    if who.role != Role::Admin {
        return forbidden(who, "create accounts");
    }
    let a: NewAccount = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => return json_err(e),
    };
    if a.job == 0 {
        return Response::error(400, "job must be non-zero");
    }
    let role = Role::parse(&a.role);
    let local = (|| {
        if role.is_none() {
            return Err(Fail(400, format!("role must be provider, analyst or admin, not {:?}", shorten(&a.role))));
        }
        mitsu_api::names::check_name("account", &a.name).map_err(|e| Fail(400, e))?;
        if a.name == "admin" || a.token_sha256.len() != 64 || !a.token_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Fail(400, "an account needs a name other than \"admin\" and a 64-hex-digit token hash".into()));
        }
        match state.store.account_taken(&a.name, &a.token_sha256) {
            Ok(false) => Ok(()),
            Ok(true) => Err(Fail(409, format!("an account named {:?} exists already (or the token is taken)", a.name))),
            Err(e) => Err(Fail(500, e.to_string())),
        }
    })();
    // an unknown role is refused above; the change still goes through the agreement so that
    // peers given another request are released (a party that refused votes no)
    let role = role.unwrap_or(Role::Analyst);
    let c = Change::Account { name: a.name.clone(), role, token_sha256: a.token_sha256.clone() };
    change::run(state, who, a.job, c, local.map(|()| false), |_| Ok(()))
}

pub(crate) fn begin(state: &State, who: &Account, body: &[u8], name: &str) -> Response {
    let name = match table_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if !may_upload(who) {
        return forbidden(who, "upload tables");
    }
    let b: BeginUpload = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return json_err(e),
    };
    // everything later steps rely on is checked here, whatever the client claims
    if let Err(e) = b.schema.validate() {
        return Response::error(400, &e);
    }
    if !(0..=mitsu_api::MAX_ROWS as i64).contains(&b.rows) {
        return Response::error(400, &format!("a table has 0 to {} rows, not {}", mitsu_api::MAX_ROWS, b.rows));
    }
    if !(1..=1i64 << 53).contains(&b.version) {
        return Response::error(400, "version must be a positive number");
    }
    if b.columns != b.schema.stored_columns() as i64 {
        return Response::error(400, "the column count does not match the schema");
    }
    if b.chunks_per_column != (b.rows as u64).div_ceil(mitsu_api::CHUNK_ROWS as u64) as i64 {
        return Response::error(
            400,
            &format!(
                "{} rows are sent in {} chunks per column",
                b.rows,
                (b.rows as u64).div_ceil(mitsu_api::CHUNK_ROWS as u64)
            ),
        );
    }
    // a table may be replaced only by its owner (or an admin)
    if let Ok(t) = state.store.table(name)
        && t.owner != who.name
        && who.role != Role::Admin
    {
        return forbidden(who, &format!("replace table {name:?}, owned by {:?}", t.owner));
    }
    let info = TableInfo {
        name: name.to_string(),
        version: b.version,
        owner: who.name.clone(),
        schema: serde_json::to_string(&b.schema).expect("schema serializes"),
        rows: b.rows,
        columns: b.columns,
        chunks_per_column: b.chunks_per_column,
        committed: false,
        created: 0,
    };
    match state.store.begin_version(&info) {
        Ok(()) => ok(&Accepted {}),
        Err(e) => store_err(e),
    }
}

/// The staged version `v` of `name`, if `who` began it.
fn own_staged(state: &State, who: &Account, name: &str, v: &str) -> Result<TableInfo, Response> {
    let v = v.parse::<i64>().map_err(|_| Response::error(400, "version must be a number"))?;
    let t = state.store.staged_info(name, v).map_err(store_err)?;
    if t.owner != who.name {
        // the same answer whoever began it: another account's upload is not a thing to probe
        return Err(forbidden(who, &format!("add to an upload of {name:?} that another account began")));
    }
    Ok(t)
}

pub(crate) fn put_chunk(state: &State, who: &Account, body: &[u8], name: &str, v: &str, c: &str, k: &str) -> Response {
    let name = match table_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if !may_upload(who) {
        return forbidden(who, "upload tables");
    }
    let t = match own_staged(state, who, name, v) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (Ok(c), Ok(k)) = (c.parse::<usize>(), k.parse::<usize>()) else {
        return Response::error(400, "column and chunk must be numbers");
    };
    let Ok(schema) = serde_json::from_str::<Schema>(&t.schema) else {
        return Response::error(500, "the stored schema is unreadable");
    };
    let Some(ring) = schema.stored_ring(c) else {
        return Response::error(400, &format!("the upload has {} columns, not column {c}", t.columns));
    };
    let rows = t.rows as usize;
    let start = k.saturating_mul(mitsu_api::CHUNK_ROWS);
    if start >= rows.max(1) || k as i64 >= t.chunks_per_column {
        return Response::error(
            400,
            &format!("the upload has {} chunks per column, not chunk {k}", t.chunks_per_column),
        );
    }
    let n = (rows - start).min(mitsu_api::CHUNK_ROWS);
    let want = 2 * n * ring as usize / 8;
    if body.len() != want {
        return Response::error(
            400,
            &format!("chunk {k} of column {c} has {} bytes; {n} rows of shares take {want}", body.len()),
        );
    }
    match state.store.put_chunk(name, t.version, c as i64, k as i64, body) {
        Ok(()) => ok(&Accepted {}),
        Err(e) => store_err(e),
    }
}

/// Discards `who`'s unfinished upload of `name` at this party (`mitsu upload --abort`).
pub(crate) fn abort(state: &State, who: &Account, name: &str) -> Response {
    let name = match table_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if !may_upload(who) {
        return forbidden(who, "upload tables");
    }
    match state.store.abort_staged(name, &who.name) {
        Ok(n) => ok(&Discarded { discarded: n as u64 }),
        Err(e) => store_err(e),
    }
}

/// Commits a staged version at all three parties or none (see [`change`]), after the parties
/// have checked the shares together ([`crate::upload_check`]). A retried commit of a version
/// this party already committed takes part again, so that a party which missed it catches up.
pub(crate) fn commit(state: &State, who: &Account, body: &[u8], name: &str, v: &str) -> Response {
    let name = match table_name(name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if !may_upload(who) {
        return forbidden(who, "upload tables");
    }
    let Ok(version) = v.parse::<i64>() else {
        return Response::error(400, "version must be a number");
    };
    let c: CommitUpload = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return json_err(e),
    };
    if c.job == 0 {
        return Response::error(400, "job must be non-zero");
    }
    let committed = state.store.table(name).ok().filter(|t| t.version == version);
    let (local, staged) = match committed {
        Some(t) if t.owner == who.name => (Ok(false), None),
        Some(_) => (Err(Fail(403, format!("{name:?} version {version} was uploaded by another account"))), None),
        None => match own_staged(state, who, name, v) {
            Ok(t) => match state.store.is_complete(name, version) {
                Ok(true) => match Readable::own_upload(t, who) {
                    Ok(r) => (Ok(true), Some(r)),
                    Err(f) => (Err(f), None),
                },
                Ok(false) => {
                    (Err(Fail(409, format!("{} does not hold {name:?} version {version} complete", state.me))), None)
                }
                Err(e) => (Err(Fail(500, e.to_string())), None),
            },
            Err(r) => {
                let msg = r.message();
                (Err(Fail(r.status, msg)), None)
            }
        },
    };
    let change = Change::Commit { table: name.to_string(), version };
    change::run(state, who, c.job, change, local, |sub| match &staged {
        Some(t) => crate::upload_check::check(state, sub, t),
        None => Ok(()),
    })
}
