//! Jobs: the same request reaches all three parties; each checks it, runs its part of the
//! protocol over the mesh under the request's job id, and answers the requesting client with its
//! result shares only. No party ever holds a reconstructed value.

use crate::party::State;
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Channel, MpcError};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_net::http::{Request, Response};
use mitsu_store::{Account, TableInfo};
use serde::Deserialize;

#[derive(Deserialize)]
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

pub(crate) fn shares<R: Ring>(bytes: &[u8], rows: usize) -> Result<AShare<R>, String> {
    let size = std::mem::size_of::<R>();
    if bytes.len() != 2 * rows * size {
        return Err(format!("stored shares have {} bytes, expected {}", bytes.len(), 2 * rows * size));
    }
    let mut a = vec![R::ZERO; rows];
    let mut b = vec![R::ZERO; rows];
    // stored chunk by chunk: each chunk is [a components][b components]
    let mut off = 0;
    let mut row = 0;
    while row < rows {
        let n = (rows - row).min(mitsu_store_chunk_rows());
        let ab = &bytes[off..off + 2 * n * size];
        bytemuck::cast_slice_mut::<R, u8>(&mut a[row..row + n]).copy_from_slice(&ab[..n * size]);
        bytemuck::cast_slice_mut::<R, u8>(&mut b[row..row + n]).copy_from_slice(&ab[n * size..]);
        off += 2 * n * size;
        row += n;
    }
    AShare::from_components(a, b).map_err(|e| e.to_string())
}

/// Rows per stored chunk (the client library's constant; part of the storage format).
fn mitsu_store_chunk_rows() -> usize {
    1 << 16
}

pub(crate) fn run(state: &State, who: &Account, req: &Request) -> Response {
    let r: JobRequest = match serde_json::from_slice(&req.body) {
        Ok(r) => r,
        Err(e) => return Response::error(400, &format!("malformed job request: {e}")),
    };
    if r.job == 0 {
        return Response::error(400, "job must be non-zero");
    }
    if r.kind == "bench" {
        return bench(state, who, &r);
    }
    if r.kind == "sql" {
        return crate::sql::run(state, who, r.job, &r.sql, r.options);
    }
    if r.kind == "stats" {
        let Some(s) = &r.stats else {
            return Response::error(400, "a stats job needs its request");
        };
        return crate::sql::run_stats(state, who, r.job, s);
    }
    Response::error(400, &format!("unknown job kind {:?} (sql, stats, bench)", r.kind))
}

/// Compute + open of a staged benchmark operation (admins only).
fn bench(state: &State, who: &Account, r: &JobRequest) -> Response {
    if who.role != "admin" {
        return Response::error(403, "only admins may run benchmarks");
    }
    let Some(staged) = state.bench.lock().unwrap_or_else(|p| p.into_inner()).remove(&r.stage) else {
        return Response::error(404, &format!("no benchmark inputs staged under {}", r.stage));
    };
    let spec = mitsu_bench::processes::Spec { n: r.n, frac: r.frac, bits: r.bits, ring: r.ring };
    let result = (|| -> Result<Vec<u8>, MpcError> {
        let ch = Channel::new(state.me, Box::new(state.mesh.transport(r.job)));
        let mut p = Rep3::setup(ch)?;
        mitsu_bench::processes::compute_op(&mut p, &r.op, spec, &staged)
    })();
    if let Err(e) = &result {
        state.mesh.abort_job(r.job, &e.to_string());
    }
    state.mesh.finish_job(r.job);
    match result {
        Ok(v) => Response::bytes(v),
        Err(e) => Response::error(500, &format!("job failed: {e}")),
    }
}

/// The parties must compute on shares of one and the same table version: shares of different
/// versions would reconstruct to a wrong number, silently. One round: each party tells the others
/// its (version, rows) and all refuse on any difference.
pub(crate) fn same_version(state: &State, ch: &mut Channel, t: &TableInfo) -> Result<(), String> {
    let me = state.me;
    let peers = [me.next(), me.prev()];
    let mine = mitsu_mpc_core::Payload::U64(vec![t.version as u64, t.rows as u64]);
    let got = ch.round(peers.iter().map(|&p| (p, mine.clone())).collect(), &peers).map_err(|e| e.to_string())?;
    let mut seen = vec![(me.index(), t.version, t.rows)];
    for (p, msg) in peers.iter().zip(got) {
        let v: Vec<u64> = msg.into_ring(*p, 2).map_err(|e| e.to_string())?;
        seen.push((p.index(), v[0] as i64, v[1] as i64));
    }
    seen.sort();
    if seen.iter().any(|s| (s.1, s.2) != (t.version, t.rows)) {
        let list: Vec<String> = seen.iter().map(|(p, v, r)| format!("party {p}: version {v} ({r} rows)")).collect();
        return Err(format!(
            "the parties hold different versions of table {:?} ({}); upload it again, or retry the interrupted commit",
            t.name,
            list.join(", ")
        ));
    }
    Ok(())
}
