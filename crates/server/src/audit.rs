//! Writing and serving the party's audit log. Every job and every change is recorded where it
//! ends (`jobs`, `change`), with its outcome; `GET /v1/audit` serves the log to those who may
//! read it.

use crate::api::Response;
use crate::routes::ok;
use crate::state::State;
use mitsu_api::Role;
use mitsu_api::audit::{AuditPage, PAGE};
use mitsu_store::{Account, AuditEntry};

/// Appends `e` with the outcome `resp` says: done (200), refused (a 4xx check), failed.
pub(crate) fn record(state: &State, mut e: AuditEntry, resp: &Response) {
    (e.outcome, e.reason) = match resp.status {
        200 => ("done".to_string(), String::new()),
        400..=499 => ("refused".to_string(), resp.message()),
        _ => ("failed".to_string(), resp.message()),
    };
    if let Err(err) = state.store.audit(e) {
        // the answer has gone out already; the operator must see that the log is short
        tracing::error!("cannot append to the audit log: {err}");
    }
}

fn arg<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// `GET /v1/audit?after=N[&project=P]`: up to [`PAGE`] records after record N. The admin and
/// auditors read the whole log; an account taking part in a project (an analyst of it, its
/// proposer, an owner of a listed table) reads that project's records.
pub(crate) fn page(state: &State, who: &Account, query: &str) -> Response {
    let after = match arg(query, "after").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Response::error(400, "after must be a record number"),
    };
    let project = arg(query, "project").map(|p| {
        // project names may be Japanese: the query string carries them percent-encoded
        let bytes = p.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match (
                bytes[i],
                bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()),
            ) {
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let everything = matches!(who.role, Role::Admin | Role::Auditor);
    if !everything {
        let Some(p) = &project else {
            return Response::error(
                403,
                &format!("account {:?} ({}) reads the records of its projects only (`--project`)", who.name, who.role),
            );
        };
        let member = match state.store.project(p) {
            Ok(Some(pr)) => {
                pr.proposer == who.name
                    || pr.analysts.contains(&who.name)
                    || pr.tables.iter().any(|t| t.owner == who.name)
            }
            Ok(None) => return Response::error(404, &format!("no project {p:?} at {}", state.me)),
            Err(e) => return Response::error(500, &e.to_string()),
        };
        if !member {
            return Response::error(403, &format!("account {:?} takes no part in project {p:?}", who.name));
        }
    }
    match (state.store.audit_page(after, PAGE, project.as_deref()), state.store.audit_len()) {
        (Ok(records), Ok(total)) => ok(&AuditPage { party: state.me.index(), records, total }),
        (Err(e), _) | (_, Err(e)) => Response::error(500, &e.to_string()),
    }
}
