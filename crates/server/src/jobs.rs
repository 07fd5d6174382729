//! Jobs: the same request reaches all three parties; each checks it, runs its part of the
//! protocol over the mesh under the request's job id, and answers the requesting client with its
//! result shares only. No party ever holds a reconstructed value. One module per kind:
//! [`crate::sql`], [`crate::stats`], [`crate::bench`].
//!
//! Before any share is loaded the three parties agree on what they were asked: each sends the
//! others a digest of the exact request (account, job id, kind, text and options), and all three
//! stop when the digests differ. A request altered on its way to one party, or different texts
//! sent to each under one id, computes nothing. Job ids are the client's random number
//! namespaced by the account ([`mesh_job`]), so two analysts cannot collide, and an id is used once.

use crate::api::Response;
use crate::job::{Fail, describe_openings, digest, mesh_job};
use crate::state::State;
use mitsu_api::wire::JobRequest;
use mitsu_store::Account;
use mitsu_store::AuditEntry;

/// Runs a job and appends its record to the audit log, whatever the outcome.
pub(crate) fn run(state: &State, who: &Account, body: &[u8]) -> Response {
    let mut entry = AuditEntry { account: who.name.clone(), kind: "job".into(), ..Default::default() };
    let resp = run_job(state, who, body, &mut entry);
    crate::audit::record(state, entry, &resp);
    resp
}

fn run_job(state: &State, who: &Account, body: &[u8], entry: &mut AuditEntry) -> Response {
    let r: JobRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            let e = format!("malformed job request: {e}");
            // the peers may have been sent a readable request under the same id: tell them, so
            // they stop now rather than wait for this party until their timeout
            if let Some(job) = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("job").and_then(serde_json::Value::as_u64))
                .filter(|j| *j != 0)
            {
                let id = mesh_job(&who.name, job);
                if state.claim_job(id) {
                    state.mesh.abort_job(id, &format!("{} could not read the request: {e}", state.me));
                    state.mesh.finish_job(id);
                }
            }
            return Response::error(400, &e);
        }
    };
    if r.job() == 0 {
        return Response::error(400, "job must be non-zero");
    }
    let id = mesh_job(&who.name, r.job());
    entry.job = format!("{id:016x}");
    entry.project = r.project().map(String::from);
    (entry.kind, entry.request) = match &r {
        JobRequest::Sql { sql, .. } => ("sql".into(), sql.clone()),
        JobRequest::Stats { stats, .. } => ("stats".into(), serde_json::to_string(stats).expect("serializes")),
        JobRequest::Bench { op, spec, .. } => ("bench".into(), format!("{} n={}", op.as_str(), spec.n)),
    };
    if !state.claim_job(id) {
        return Response::error(
            409,
            &format!("job id {} was used before by account {:?}; every job needs a new random id", r.job(), who.name),
        );
    }
    // the digest covers the request as this party understood it, so formatting differences do not
    // matter but any difference in meaning does
    let canonical = serde_json::to_vec(&r).expect("a job request serializes");
    let d = digest(&[b"job", who.name.as_bytes(), &canonical]);
    let started = std::time::Instant::now();
    // a bug must not leave the peers waiting for this party until their timeout
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &r {
        JobRequest::Sql { sql, options, project, .. } => {
            crate::sql::run(state, who, id, &d, sql, *options, project.as_deref(), &mut entry.tables)
        }
        JobRequest::Stats { stats, project, .. } => {
            crate::stats::run(state, who, id, &d, stats, project.as_deref(), &mut entry.tables)
        }
        JobRequest::Bench { op, stage, spec, .. } => crate::bench::run(state, who, id, &d, *op, *stage, *spec),
    }));
    let res =
        res.unwrap_or_else(|_| Err(Fail(500, "internal error: the party hit a bug; its log has the details".into())));
    if let Err(Fail(_, e)) = &res {
        state.mesh.abort_job(id, e);
    }
    state.mesh.finish_job(id);
    let kind = match &r {
        JobRequest::Sql { .. } => "sql",
        JobRequest::Stats { .. } => "stats",
        JobRequest::Bench { .. } => "bench",
    };
    let (job, ms) = (format!("{id:016x}"), started.elapsed().as_millis() as u64);
    // one line per job: the audit trail of who ran what and what it opened
    match res {
        Ok((frame, opened)) => {
            entry.opened = crate::job::records(&opened);
            tracing::info!(%job, kind, account = %who.name, ms, outcome = "done", "{kind} job opened {}", describe_openings(&opened));
            Response::bytes(frame)
        }
        Err(Fail(s, e)) => {
            tracing::info!(%job, kind, account = %who.name, ms, outcome = "failed", status = s, "{kind} job failed: {e}");
            Response::error(s, &e)
        }
    }
}
