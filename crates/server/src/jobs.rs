//! Jobs: the same request reaches all three parties; each checks it, runs its part of the
//! protocol over the mesh under the request's job id, and answers the requesting client with its
//! result shares only. No party ever holds a reconstructed value.

use crate::party::State;
use mitsu_algebra::{FixedPoint, Ring};
use mitsu_api::{Kind, Schema};
use mitsu_mpc_core::{Channel, Engine, MpcError};
use mitsu_mpc_ops::{Num, maximum, minimum};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_net::http::{Request, Response};
use mitsu_store::{Account, TableInfo};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobRequest {
    job: u64,
    kind: String,
    #[serde(default)]
    table: String,
    #[serde(default)]
    columns: Vec<String>,
    /// `sql` jobs (and analyses over a query): the query text, planned here from this party's own
    /// schemas
    #[serde(default)]
    sql: String,
    #[serde(default)]
    options: mitsu_query::Options,
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

/// A column's shares lifted to Z_2^128, and its validity (1 = not NULL).
fn load(
    state: &State,
    p: &mut Rep3,
    t: &TableInfo,
    schema: &Schema,
    col: &str,
) -> Result<(AShare<u128>, AShare<u128>, u32, u32), String> {
    let (i, c) = schema.column(col).ok_or_else(|| format!("table {:?} has no column {col:?}", t.name))?;
    let scale = match c.kind {
        Kind::Integer | Kind::Boolean | Kind::Date => 0,
        Kind::Decimal { scale } => scale,
        Kind::Category | Kind::Key => {
            return Err(format!("column {col:?} is a {:?}; this analysis needs numbers", c.kind).to_lowercase());
        }
    };
    let rows = t.rows as usize;
    let bytes = state.store.read_column(&t.name, t.version, i as i64).map_err(|e| e.to_string())?;
    let x = if c.ring_bits() == 64 {
        let s = shares::<u64>(&bytes, rows)?;
        p.extend(&s, c.bits).map_err(|e| e.to_string())?
    } else {
        shares::<u128>(&bytes, rows)?
    };
    let valid = if c.nullable {
        let k = schema.columns[..i].iter().filter(|c| c.nullable).count();
        let vb = state
            .store
            .read_column(&t.name, t.version, (schema.columns.len() + k) as i64)
            .map_err(|e| e.to_string())?;
        let v = shares::<u64>(&vb, rows)?;
        p.extend(&v, 1).map_err(|e| e.to_string())?
    } else {
        p.constant(&vec![1u128; rows])
    };
    Ok((x, valid, c.bits, scale))
}

/// count, sum, sum of squares, min, max of each column, NULLs skipped. Opens exactly these to the
/// client (sum and sum of squares with count are exactly the information in mean and variance).
fn describe(state: &State, p: &mut Rep3, t: &TableInfo, schema: &Schema, cols: &[String]) -> Result<Vec<u128>, String> {
    let rows = t.rows as usize;
    let lg = usize::BITS - rows.max(1).leading_zeros();
    let mut out: Vec<AShare<u128>> = Vec::new();
    for col in cols {
        let (x, valid, bits, _) = load(state, p, t, schema, col)?;
        let xn = Num::<Rep3, u128>::from_share(x.clone(), FixedPoint::int(bits), col).map_err(|e| e.to_string())?;
        let count = p.sum(&valid);
        let sum = xn.sum(p).map_err(|e| e.to_string())?;
        let sq = xn.sum_of_squares(p).map_err(|e| e.to_string())?;
        // NULLs (value 0, validity 0) are pushed past the ends of the range before min/max
        let big = 1u128 << bits;
        let shift = p.sub(&p.constant(&vec![big; rows]), &p.mul_public(&valid, &[big]));
        let lo = Num::<Rep3, u128>::from_share(p.add(&x, &shift), FixedPoint::int(bits + 1), col)
            .map_err(|e| e.to_string())?;
        let hi = Num::<Rep3, u128>::from_share(p.sub(&x, &shift), FixedPoint::int(bits + 1), col)
            .map_err(|e| e.to_string())?;
        let (mn, mx) = if rows == 0 {
            (p.constant(&[0]), p.constant(&[0]))
        } else {
            (minimum(p, &lo).map_err(|e| e.to_string())?.share, maximum(p, &hi).map_err(|e| e.to_string())?.share)
        };
        let _ = lg;
        out.extend([count, sum.share, sq.share, mn, mx]);
    }
    let refs: Vec<&AShare<u128>> = out.iter().collect();
    Ok(p.concat(&refs).into_client())
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
    let t = match state.store.table(&r.table) {
        Ok(t) => t,
        Err(e) => return Response::error(404, &e.to_string()),
    };
    // until per-table policies exist: admins, analysts and the table's owner may analyse it
    if !(who.role == "admin" || who.role == "analyst" || who.name == t.owner) {
        return Response::error(403, &format!("account {:?} may not analyse table {:?}", who.name, r.table));
    }
    let schema: Schema = match serde_json::from_str(&t.schema) {
        Ok(s) => s,
        Err(e) => return Response::error(500, &format!("stored schema unreadable: {e}")),
    };
    if r.columns.is_empty() {
        return Response::error(400, "name at least one column");
    }
    // refuse bad requests before any communication, identically at every party
    for c in &r.columns {
        match schema.column(c) {
            None => {
                return Response::error(
                    400,
                    &format!(
                        "table {:?} has no column {c:?} (columns: {})",
                        r.table,
                        schema.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            Some((_, cs)) if matches!(cs.kind, Kind::Category | Kind::Key) => {
                return Response::error(400, &format!("column {c:?} is not numeric; describe needs numbers"));
            }
            _ => {}
        }
    }
    let result = (|| -> Result<Vec<u128>, String> {
        let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(r.job)));
        same_version(state, &mut ch, &t)?;
        let mut p = Rep3::setup(ch).map_err(|e: MpcError| e.to_string())?;
        match r.kind.as_str() {
            "describe" => describe(state, &mut p, &t, &schema, &r.columns),
            k => Err(format!("unknown job kind {k:?}")),
        }
    })();
    if let Err(e) = &result {
        state.mesh.abort_job(r.job, e);
    }
    state.mesh.finish_job(r.job);
    match result {
        Ok(v) => Response::bytes(bytemuck::cast_slice::<u128, u8>(&v).to_vec()),
        Err(e) => Response::error(500, &format!("job failed: {e}")),
    }
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
