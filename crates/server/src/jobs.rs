//! Jobs: the same request reaches all three parties; each checks it, runs its part of the
//! protocol over the mesh under the request's job id, and answers the requesting client with its
//! result shares only. No party ever holds a reconstructed value.
//!
//! Before any share is loaded the three parties agree on what they were asked: each sends the
//! others a digest of the exact request (account, job id, kind, text and options), and all three
//! stop when the digests differ. A request altered on its way to one party, or different texts
//! sent to each under one id, computes nothing. Job ids are the client's random number
//! namespaced by the account ([`mesh_job`]), so two analysts cannot collide, and an id is used once.

use crate::party::State;
use mitsu_algebra::Ring;
use mitsu_api::Role;
use mitsu_mpc_core::{Channel, MpcError, Payload};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_net::http::{Request, Response};
use mitsu_store::{Account, TableInfo};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobRequest {
    job: u64,
    kind: String,
    /// `sql` jobs (and analyses over a query): the query text, planned here from this party's own
    /// schemas
    #[serde(default)]
    sql: String,
    #[serde(default)]
    options: mitsu_query::Options,
    /// `stats` jobs: the function and its arguments
    #[serde(default)]
    stats: Option<mitsu_stats::Request>,
    /// `bench` jobs: the operation, the staged inputs and their public format
    #[serde(default)]
    op: String,
    #[serde(default)]
    stage: u64,
    #[serde(default)]
    n: usize,
    #[serde(default)]
    frac: u32,
    #[serde(default)]
    bits: u32,
    #[serde(default)]
    ring: u32,
}

/// Why a job did not run or did not finish: the status the client gets and the message.
#[derive(Debug)]
pub(crate) struct Fail(pub u16, pub String);

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail(500, s)
    }
}

impl From<MpcError> for Fail {
    fn from(e: MpcError) -> Fail {
        Fail(crate::sql::mpc_status(&e), e.to_string())
    }
}

/// The mesh's id of a client's job: SHA-256 of the account name and the client's number, so that
/// accounts cannot collide with (or step into) each other's jobs. Never 0 (heartbeats).
pub(crate) fn mesh_job(account: &str, job: u64) -> u64 {
    let mut b = b"mitsu-job\0".to_vec();
    b.extend_from_slice(account.as_bytes());
    b.push(0);
    b.extend_from_slice(&job.to_le_bytes());
    let d = ring::digest::digest(&ring::digest::SHA256, &b);
    u64::from_le_bytes(d.as_ref()[..8].try_into().expect("8 bytes")).max(1)
}

/// SHA-256 of what the parties must agree on before computing.
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    ctx.finish().as_ref().try_into().expect("32 bytes")
}

/// One round: every party sends its digest of the request to the other two; all three refuse,
/// naming whose differs, unless the three are equal.
pub(crate) fn agree(state: &State, ch: &mut Channel, d: &[u8; 32]) -> Result<(), Fail> {
    let me = state.me;
    let peers = [me.next(), me.prev()];
    let words: Vec<u64> = d.chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    let got = ch.round(peers.iter().map(|&p| (p, Payload::U64(words.clone()))).collect(), &peers)?;
    let mut differ = Vec::new();
    for (p, msg) in peers.iter().zip(got) {
        let theirs: Vec<u64> = msg.into_ring(*p, 4)?;
        if theirs != words {
            differ.push(p.index());
        }
    }
    if differ.is_empty() {
        return Ok(());
    }
    differ.sort();
    Err(Fail(
        409,
        format!(
            "the parties received different requests under this job id (party {} saw a request that differs from \
             party {}'s): it was altered or replayed on the way, or the client sent each party something else; \
             nothing was computed",
            differ.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" and "),
            me.index()
        ),
    ))
}

pub(crate) fn shares<R: Ring>(bytes: &[u8], rows: usize) -> Result<AShare<R>, String> {
    let size = std::mem::size_of::<R>();
    if bytes.len() != 2 * rows * size {
        return Err(format!("stored shares have {} bytes, expected {}", bytes.len(), 2 * rows * size));
    }
    let (mut a, mut b) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    // stored chunk by chunk, each in the upload layout (mitsu_mpc_rep3::client::share_bytes)
    let (mut off, mut row) = (0, 0);
    while row < rows {
        let n = (rows - row).min(mitsu_api::CHUNK_ROWS);
        let chunk = mitsu_mpc_rep3::client::share_from_bytes::<R>(&bytes[off..off + 2 * n * size], n)
            .map_err(|e| e.to_string())?;
        let (ca, cb) = chunk.components();
        a.extend_from_slice(ca);
        b.extend_from_slice(cb);
        off += 2 * n * size;
        row += n;
    }
    AShare::from_components(a, b).map_err(|e| e.to_string())
}

pub(crate) fn run(state: &State, who: &Account, req: &Request) -> Response {
    let r: JobRequest = match serde_json::from_slice(&req.body) {
        Ok(r) => r,
        Err(e) => return Response::error(400, &format!("malformed job request: {e}")),
    };
    if r.job == 0 {
        return Response::error(400, "job must be non-zero");
    }
    let id = mesh_job(&who.name, r.job);
    if !state.claim_job(id) {
        return Response::error(
            409,
            &format!("job id {} was used before by account {:?}; every job needs a new random id", r.job, who.name),
        );
    }
    // the digest covers the request as this party understood it, so formatting differences do not
    // matter but any difference in meaning does
    let canonical = serde_json::to_vec(&r).expect("a job request serializes");
    let d = digest(&[b"job", who.name.as_bytes(), &canonical]);
    // a bug must not leave the peers waiting for this party until their timeout
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match r.kind.as_str() {
        "bench" => bench(state, who, id, &d, &r),
        "sql" => crate::sql::run(state, who, id, &d, &r.sql, r.options),
        "stats" => match &r.stats {
            Some(s) => crate::sql::run_stats(state, who, id, &d, s),
            None => Err(Fail(400, "a stats job needs its request".into())),
        },
        k => Err(Fail(400, format!("unknown job kind {k:?} (sql, stats, bench)"))),
    }));
    let res =
        res.unwrap_or_else(|_| Err(Fail(500, "internal error: the party hit a bug; its log has the details".into())));
    if let Err(Fail(_, e)) = &res {
        state.mesh.abort_job(id, e);
    }
    state.mesh.finish_job(id);
    match res {
        Ok(v) => Response::bytes(v),
        Err(Fail(s, e)) => Response::error(s, &e),
    }
}

/// Compute + open of a staged benchmark operation (admins only).
fn bench(state: &State, who: &Account, id: u64, d: &[u8; 32], r: &JobRequest) -> Result<Vec<u8>, Fail> {
    if who.role != Role::Admin {
        return Err(Fail(403, "only admins may run benchmarks".into()));
    }
    let Some(staged) = state.bench.lock().unwrap_or_else(|p| p.into_inner()).remove(&r.stage) else {
        return Err(Fail(404, format!("no benchmark inputs staged under {}", r.stage)));
    };
    let spec = mitsu_bench::processes::Spec { n: r.n, frac: r.frac, bits: r.bits, ring: r.ring };
    let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(id)));
    agree(state, &mut ch, d)?;
    let mut p = Rep3::setup(ch)?;
    Ok(mitsu_bench::processes::compute_op(&mut p, &r.op, spec, &staged)?)
}

/// The parties must compute on shares of one and the same table version: shares of different
/// versions would reconstruct to a wrong number, silently. One round: each party tells the others
/// its (version, rows) and all refuse on any difference.
pub(crate) fn same_version(state: &State, ch: &mut Channel, t: &TableInfo) -> Result<(), Fail> {
    let me = state.me;
    let peers = [me.next(), me.prev()];
    let mine = Payload::U64(vec![t.version as u64, t.rows as u64]);
    let got = ch.round(peers.iter().map(|&p| (p, mine.clone())).collect(), &peers)?;
    let mut seen = vec![(me.index(), t.version, t.rows)];
    for (p, msg) in peers.iter().zip(got) {
        let v: Vec<u64> = msg.into_ring(*p, 2)?;
        seen.push((p.index(), v[0] as i64, v[1] as i64));
    }
    seen.sort();
    if seen.iter().any(|s| (s.1, s.2) != (t.version, t.rows)) {
        let list: Vec<String> = seen.iter().map(|(p, v, r)| format!("party {p}: version {v} ({r} rows)")).collect();
        return Err(Fail(
            409,
            format!(
                "the parties hold different versions of table {:?} ({}); upload it again, or wait until the \
                 parties finish the interrupted commit",
                t.name,
                list.join(", ")
            ),
        ));
    }
    Ok(())
}
