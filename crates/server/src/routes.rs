//! The client API's routes. Each checks the caller's role itself.

use crate::party::State;
use mitsu_api::Schema;
use mitsu_mpc_core::{Channel, PartyId, Payload};
use mitsu_net::http::{Request, Response};
use mitsu_store::{Account, StoreError, TableInfo};
use serde::Deserialize;

fn json_err(e: impl std::fmt::Display) -> Response {
    Response::error(400, &format!("malformed request body: {e}"))
}

fn store_err(e: StoreError) -> Response {
    match e {
        StoreError::NoTable(_) => Response::error(404, &e.to_string()),
        StoreError::Invalid(_) => Response::error(409, &e.to_string()),
        StoreError::Db(_) => Response::error(500, &e.to_string()),
    }
}

fn forbidden(who: &Account, what: &str) -> Response {
    Response::error(403, &format!("account {:?} ({}) may not {what}", who.name, who.role))
}

fn table_json(t: &TableInfo, me: PartyId) -> serde_json::Value {
    serde_json::json!({
        "name": t.name, "version": t.version, "owner": t.owner, "rows": t.rows,
        "schema": serde_json::from_str::<serde_json::Value>(&t.schema).unwrap_or(serde_json::Value::Null),
        "party": me.index(),
    })
}

pub(crate) fn route(state: &State, who: &Account, req: &Request, path: &str) -> Response {
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), seg.as_slice()) {
        ("GET", ["v1", "status"]) => status(state),
        ("POST", ["v1", "accounts"]) => create_account(state, who, req),
        ("GET", ["v1", "tables"]) => match state.store.tables() {
            Ok(ts) => Response::json(
                200,
                serde_json::Value::Array(ts.iter().map(|t| table_json(t, state.me)).collect()).to_string(),
            ),
            Err(e) => store_err(e),
        },
        ("GET", ["v1", "tables", name]) => match state.store.table(name) {
            Ok(t) => Response::json(200, table_json(&t, state.me).to_string()),
            Err(e) => store_err(e),
        },
        ("POST", ["v1", "tables", name, "versions"]) => begin(state, who, req, name),
        ("PUT", ["v1", "tables", name, "versions", v, "columns", c, "chunks", k]) => {
            let (Ok(v), Ok(c), Ok(k)) = (v.parse::<i64>(), c.parse::<i64>(), k.parse::<i64>()) else {
                return Response::error(400, "version, column and chunk must be numbers");
            };
            if !may_upload(who) {
                return forbidden(who, "upload tables");
            }
            match state.store.put_chunk(name, v, c, k, &req.body) {
                Ok(()) => Response::json(200, "{}"),
                Err(e) => store_err(e),
            }
        }
        ("POST", ["v1", "tables", name, "versions", v, "commit"]) => commit(state, who, req, name, v),
        ("POST", ["v1", "bench", "stage", id]) => {
            if who.role != "admin" {
                return forbidden(who, "stage benchmark inputs");
            }
            let Ok(id) = id.parse::<u64>() else { return Response::error(400, "stage id must be a number") };
            let mut b = state.bench.lock().unwrap_or_else(|p| p.into_inner());
            b.clear(); // one staged benchmark at a time bounds the memory it can take
            b.insert(id, req.body.clone());
            Response::json(200, "{}")
        }
        ("POST", ["v1", "jobs"]) => crate::jobs::run(state, who, req),
        _ => Response::error(404, &format!("{} {path} is not part of the API (see /openapi.json)", req.method)),
    }
}

fn may_upload(who: &Account) -> bool {
    who.role == "admin" || who.role == "provider"
}

fn status(state: &State) -> Response {
    let peers: Vec<serde_json::Value> = state
        .mesh
        .health()
        .into_iter()
        .map(|h| serde_json::json!({"party": h.party.index(), "linked": h.linked, "last_seen_ms": h.last_seen_ms, "last_error": h.last_error}))
        .collect();
    let tables = state.store.tables().map(|t| t.len()).unwrap_or(0);
    let body = serde_json::json!({
        "party": state.me.index(), "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs_f64(), "tables": tables, "peers": peers,
    });
    Response::json(200, body.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
    role: String,
    token_sha256: String,
}

fn create_account(state: &State, who: &Account, req: &Request) -> Response {
    if who.role != "admin" {
        return forbidden(who, "create accounts");
    }
    let a: NewAccount = match serde_json::from_slice(&req.body) {
        Ok(a) => a,
        Err(e) => return json_err(e),
    };
    if !["provider", "analyst", "admin"].contains(&a.role.as_str()) {
        return Response::error(400, &format!("role must be provider, analyst or admin, not {:?}", a.role));
    }
    if a.name.is_empty() || a.name == "admin" || a.token_sha256.len() != 64 {
        return Response::error(400, "an account needs a name other than \"admin\" and a 64-hex-digit token hash");
    }
    match state.store.put_account(&a.name, &a.role, &a.token_sha256) {
        Ok(()) => Response::json(200, "{}"),
        Err(e) => store_err(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Begin {
    version: i64,
    schema: Schema,
    rows: i64,
    /// stored columns: schema columns plus one validity column per nullable column
    columns: i64,
    chunks_per_column: i64,
}

fn begin(state: &State, who: &Account, req: &Request, name: &str) -> Response {
    if !may_upload(who) {
        return forbidden(who, "upload tables");
    }
    let b: Begin = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return json_err(e),
    };
    let nullable = b.schema.columns.iter().filter(|c| c.nullable).count() as i64;
    if b.columns != b.schema.columns.len() as i64 + nullable || b.rows < 0 || b.chunks_per_column < 0 {
        return Response::error(400, "the column count does not match the schema");
    }
    // a table may be replaced only by its owner (or an admin)
    if let Ok(t) = state.store.table(name)
        && t.owner != who.name
        && who.role != "admin"
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
        Ok(()) => Response::json(200, "{}"),
        Err(e) => store_err(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Commit {
    /// Job id shared by the three commit requests (chosen by the client).
    job: u64,
}

/// Commits only when all three parties hold the version complete: each party tells the others
/// whether it does, over the mesh, and commits only if every answer is yes. A party that never
/// receives the client's request stays silent, so the others time out and commit nothing.
fn commit(state: &State, who: &Account, req: &Request, name: &str, v: &str) -> Response {
    if !may_upload(who) {
        return forbidden(who, "upload tables");
    }
    let Ok(v) = v.parse::<i64>() else {
        return Response::error(400, "version must be a number");
    };
    let c: Commit = match serde_json::from_slice(&req.body) {
        Ok(c) => c,
        Err(e) => return json_err(e),
    };
    if c.job == 0 {
        return Response::error(400, "job must be non-zero");
    }
    // a retried commit of a version this party already committed takes part again (answering
    // "complete"), so that a party which missed the commit can catch up
    let already = state.store.table(name).map(|t| t.version == v).unwrap_or(false);
    let complete = match already {
        true => true,
        false => match state.store.is_complete(name, v) {
            Ok(x) => x,
            Err(e) => return store_err(e),
        },
    };
    let me = state.me;
    let mut ch = Channel::new(me, Box::new(state.mesh.transport(c.job)));
    let peers = [me.next(), me.prev()];
    let sends = peers.iter().map(|&p| (p, Payload::U64(vec![complete as u64]))).collect();
    let answers = ch.round(sends, &peers);
    state.mesh.finish_job(c.job);
    let answers = match answers {
        Ok(a) => a,
        Err(e) => return Response::error(503, &format!("not committed: {e}")),
    };
    let mut missing = Vec::new();
    if !complete {
        missing.push(me.index());
    }
    for (p, a) in peers.iter().zip(answers) {
        if a != Payload::U64(vec![1]) {
            missing.push(p.index());
        }
    }
    if !missing.is_empty() {
        missing.sort();
        return Response::error(
            409,
            &format!("not committed: parties {missing:?} do not hold {name:?} version {v} complete"),
        );
    }
    if already {
        return Response::json(200, "{}");
    }
    match state.store.commit_version(name, v) {
        Ok(()) => Response::json(200, "{}"),
        Err(e) => store_err(e),
    }
}

#[cfg(test)]
mod tests {
    // Every route `route` serves is described in the OpenAPI document served at /openapi.json.
    #[test]
    fn the_openapi_document_describes_every_route() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (method, path) in [
            ("get", "/v1/status"),
            ("post", "/v1/accounts"),
            ("get", "/v1/tables"),
            ("get", "/v1/tables/{name}"),
            ("post", "/v1/tables/{name}/versions"),
            ("put", "/v1/tables/{name}/versions/{version}/columns/{column}/chunks/{chunk}"),
            ("post", "/v1/tables/{name}/versions/{version}/commit"),
            ("post", "/v1/jobs"),
            ("post", "/v1/bench/stage/{id}"),
            ("get", "/openapi.json"),
        ] {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not documented");
        }
    }
}
