//! `mitsu bench --processes`: the same operations over the TLS mesh between party processes.
//!
//! To isolate what the network costs, inputs are dealt and staged at the parties first (untimed);
//! the timed part is compute + open, run by [`compute_op`] in batches exactly as in process. The
//! same staged shares also run in process (three threads, [`in_process`]) for the comparison.

use crate::{FRAC, data, deal_ints, deal_reals, int_bits};
use mitsu_algebra::{FixedPoint, Planes, Ring};
use mitsu_api::wire::{BenchOp, BenchSpec as Spec};
use mitsu_client::{Client, ClientError};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{CommStats, MpcError, Result};
use mitsu_mpc_rep3::Rep3;
use mitsu_mpc_runtime::run3_with;
use mitsu_server::bench::{compute_op, pair_bytes};
use serde::Serialize;
use std::time::Instant;

/// Operations that `--processes` measures.
pub const PROCESS_OPS: [&str; 4] = ["mul_int", "mul_fixed", "lt", "eq"];

/// Inputs dealt for one operation: the bytes each party stages, and the plaintext check.
#[derive(Debug)]
pub struct Prepared {
    pub op: BenchOp,
    pub spec: Spec,
    pub staged: [Vec<u8>; 3],
    want: Vec<i128>,
}

/// Deals the inputs of `op` (data as in the in-process benchmark).
pub fn prepare(op: &str, n: usize) -> Result<Prepared> {
    let kind = BenchOp::parse(op)
        .ok_or_else(|| MpcError::invalid(format!("--processes measures {}, not {op:?}", PROCESS_OPS.join(", "))))?;
    let d = data(n);
    let mut prg = Prg::new(Seed::random());
    let fx = FixedPoint::real(FixedPoint::infer_range_bits(&d.x).max(FixedPoint::infer_range_bits(&d.y)), FRAC);
    let ib = int_bits(&d.xi).max(int_bits(&d.yi));
    let fi = FixedPoint::int(ib);
    let q = |v: f64| fx.encode::<u64>(v).map(|e| e.to_i128());
    let (spec, staged, want) = match kind {
        BenchOp::MulInt => {
            let s = deal_ints::<u64>(&d.xi, &d.yi, fi, &mut prg)?;
            let w = d.xi.iter().zip(&d.yi).map(|(a, b)| (*a as i128) * (*b as i128)).collect();
            (Spec { n, frac: 0, bits: ib, ring: 64 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
        BenchOp::MulFixed => {
            let s = deal_reals::<u128>(&d.x, &d.y, fx, &mut prg)?;
            let w = d.x.iter().zip(&d.y).map(|(a, b)| Ok((q(*a)? * q(*b)?) >> FRAC)).collect::<Result<_>>()?;
            (Spec { n, frac: FRAC, bits: fx.bits, ring: 128 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
        BenchOp::Lt => {
            let s = deal_reals::<u64>(&d.x, &d.y, fx, &mut prg)?;
            let w = d.x.iter().zip(&d.y).map(|(a, b)| Ok((q(*a)? < q(*b)?) as i128)).collect::<Result<_>>()?;
            (Spec { n, frac: FRAC, bits: fx.bits, ring: 64 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
        BenchOp::Eq => {
            let s = deal_ints::<u64>(&d.xi, &d.yi, fi, &mut prg)?;
            let w = d.xi.iter().zip(&d.yi).map(|(a, b)| (a == b) as i128).collect();
            (Spec { n, frac: 0, bits: ib, ring: 64 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
    };
    Ok(Prepared { op: kind, spec, staged, want })
}

/// Reconstructs the three parties' answers and checks them against the plaintext.
pub fn verify(prep: &Prepared, parts: [&[u8]; 3]) -> Result<()> {
    let op = prep.op;
    let n = prep.spec.n;
    let got: Vec<i128> = match op {
        BenchOp::Lt | BenchOp::Eq => {
            let words: Vec<Vec<u64>> = parts
                .iter()
                .map(|b| b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect())
                .collect();
            if words.iter().any(|w| w.len() != words[0].len()) {
                return Err(MpcError::Internal("parties answered with different sizes".into()));
            }
            // batches are whole words (BATCH is a multiple of 64), so the words form one plane
            let all: Vec<u64> = (0..words[0].len()).map(|i| words[0][i] ^ words[1][i] ^ words[2][i]).collect();
            let p = Planes::from_words(1, n, all).ok_or_else(|| MpcError::Internal("malformed bit result".into()))?;
            (0..n).map(|i| p.get(0, i) as i128).collect()
        }
        _ if prep.spec.ring == 64 => {
            let v: Vec<Vec<u64>> = parts.iter().map(|b| bytemuck::pod_collect_to_vec(b)).collect();
            mitsu_mpc_rep3::client::reconstruct::<u64>([&v[0], &v[1], &v[2]])?
                .into_iter()
                .map(|x| x.to_i128())
                .collect()
        }
        _ => {
            let v: Vec<Vec<u128>> = parts.iter().map(|b| bytemuck::pod_collect_to_vec(b)).collect();
            mitsu_mpc_rep3::client::reconstruct::<u128>([&v[0], &v[1], &v[2]])?
                .into_iter()
                .map(|x| x.to_i128())
                .collect()
        }
    };
    let tol = if op == BenchOp::MulFixed { 1 } else { 0 };
    for i in 0..n {
        if (got[i] - prep.want[i]).abs() > tol {
            return Err(MpcError::Internal(format!(
                "{} computed a wrong result at element {i}: {} vs {}",
                op.as_str(),
                got[i],
                prep.want[i]
            )));
        }
    }
    Ok(())
}

/// The same compute + open with three threads of this process. Returns seconds and the busiest
/// party's communication.
pub fn in_process(prep: &Prepared) -> Result<(f64, CommStats)> {
    let staged = [prep.staged[0].clone(), prep.staged[1].clone(), prep.staged[2].clone()];
    let t = Instant::now();
    let r = run3_with(staged, |ch, bytes| -> Result<(Vec<u8>, CommStats)> {
        let mut p = Rep3::setup(ch)?;
        let base = p.comm_stats();
        let out = compute_op(&mut p, prep.op, prep.spec, &bytes)?;
        Ok((out, p.comm_stats().since(&base)))
    });
    let secs = t.elapsed().as_secs_f64();
    let [a, b, c] = r;
    let (a, b, c) = (a?, b?, c?);
    verify(prep, [&a.0, &b.0, &c.0])?;
    let busiest = [a.1, b.1, c.1].into_iter().max_by_key(|s| s.bytes_sent).unwrap_or_default();
    Ok((secs, busiest))
}

/// One operation measured over the mesh and in process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessBench {
    /// Compute + open across the three party processes (TLS mesh), seconds.
    pub processes: f64,
    /// The same compute + open with three threads of one process, seconds.
    pub in_process: f64,
    /// processes / in_process.
    pub ratio: f64,
    /// Including sending every party its input shares over TLS first, seconds.
    pub with_sharing: f64,
    /// Bytes the busiest party sent to the others (from the in-process run; identical protocol).
    pub bytes_per_party: u64,
}

fn err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Config(e.to_string())
}

/// Stages the inputs at the parties and runs the job: (compute + open, including staging) seconds.
fn once(c: &Client, prep: &Prepared) -> std::result::Result<(f64, f64), ClientError> {
    let stage = Prg::new(Seed::random()).next_u64() | 1;
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let body = &prep.staged[i];
                s.spawn(move || c.expect(i, "POST", &format!("/v1/bench/stage/{stage}"), body))
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("stage thread")).collect::<std::result::Result<Vec<_>, _>>()
    })?;
    let t1 = Instant::now();
    let parts = c.job_parts(&mitsu_api::wire::JobRequest::Bench { job: stage, op: prep.op, stage, spec: prep.spec })?;
    let t2 = Instant::now();
    verify(prep, [&parts[0], &parts[1], &parts[2]]).map_err(err)?;
    Ok(((t2 - t1).as_secs_f64(), (t2 - t0).as_secs_f64()))
}

/// Measures `op` on `n` elements, best of `repeat`, across the parties of `c` and in process.
pub fn measure(c: &Client, op: &str, n: usize, repeat: usize) -> std::result::Result<ProcessBench, ClientError> {
    let prep = prepare(op, n).map_err(err)?;
    let mut best = (f64::INFINITY, f64::INFINITY, f64::INFINITY, 0);
    for _ in 0..repeat.max(1) {
        let (ip, st) = in_process(&prep).map_err(err)?;
        let (pr, ws) = once(c, &prep)?;
        best = (best.0.min(pr), best.1.min(ip), best.2.min(ws), st.bytes_sent);
    }
    Ok(ProcessBench {
        processes: best.0,
        in_process: best.1,
        ratio: best.0 / best.1,
        with_sharing: best.2,
        bytes_per_party: best.3,
    })
}
