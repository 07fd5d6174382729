//! `mitsu bench --processes`: the same operations over the TLS mesh between party processes.
//!
//! To isolate what the network costs, inputs are dealt and staged at the parties first (untimed);
//! the timed part is compute + open, run by [`compute_op`] in batches exactly as in process. The
//! same staged shares also run in process (three threads, [`in_process`]) for the comparison.

use crate::{FRAC, data, deal_ints, deal_reals, int_bits};
use mitsu_algebra::{FixedPoint, Planes, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{CommStats, MpcError, Result};
use mitsu_mpc_ops::{Num, lt};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_mpc_runtime::run3_with;
use std::time::Instant;

/// Operations that `--processes` measures.
pub const PROCESS_OPS: [&str; 4] = ["mul_int", "mul_fixed", "lt", "eq"];

/// Elements per batch inside a party (both runs use it; larger batches mean fewer round trips).
pub const BATCH: usize = 1 << 18;

/// The public parameters of one staged operation (sent with the job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub n: usize,
    pub frac: u32,
    pub bits: u32,
    /// 64 or 128
    pub ring: u32,
}

/// Inputs dealt for one operation: the bytes each party stages, and the plaintext check.
#[derive(Debug)]
pub struct Prepared {
    pub spec: Spec,
    pub staged: [Vec<u8>; 3],
    want: Vec<i128>,
}

fn pair_bytes<R: Ring>(x: &AShare<R>, y: &AShare<R>) -> Vec<u8> {
    [mitsu_mpc_rep3::client::share_bytes(x), mitsu_mpc_rep3::client::share_bytes(y)].concat()
}

fn pair_from<R: Ring>(bytes: &[u8], n: usize) -> Result<(AShare<R>, AShare<R>)> {
    let sz = 2 * n * std::mem::size_of::<R>();
    if bytes.len() != 2 * sz {
        return Err(MpcError::invalid(format!("staged inputs have {} bytes, expected {}", bytes.len(), 2 * sz)));
    }
    let from = mitsu_mpc_rep3::client::share_from_bytes::<R>;
    Ok((from(&bytes[..sz], n)?, from(&bytes[sz..], n)?))
}

/// Deals the inputs of `op` (data as in the in-process benchmark).
pub fn prepare(op: &str, n: usize) -> Result<Prepared> {
    let d = data(n);
    let mut prg = Prg::new(Seed::random());
    let fx = FixedPoint::real(FixedPoint::infer_range_bits(&d.x).max(FixedPoint::infer_range_bits(&d.y)), FRAC);
    let ib = int_bits(&d.xi).max(int_bits(&d.yi));
    let fi = FixedPoint::int(ib);
    let q = |v: f64| fx.encode::<u64>(v).map(|e| e.to_i128());
    let (spec, staged, want) = match op {
        "mul_int" => {
            let s = deal_ints::<u64>(&d.xi, &d.yi, fi, &mut prg)?;
            let w = d.xi.iter().zip(&d.yi).map(|(a, b)| (*a as i128) * (*b as i128)).collect();
            (Spec { n, frac: 0, bits: ib, ring: 64 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
        "mul_fixed" => {
            let s = deal_reals::<u128>(&d.x, &d.y, fx, &mut prg)?;
            let w = d.x.iter().zip(&d.y).map(|(a, b)| Ok((q(*a)? * q(*b)?) >> FRAC)).collect::<Result<_>>()?;
            (Spec { n, frac: FRAC, bits: fx.bits, ring: 128 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
        "lt" => {
            let s = deal_reals::<u64>(&d.x, &d.y, fx, &mut prg)?;
            let w = d.x.iter().zip(&d.y).map(|(a, b)| Ok((q(*a)? < q(*b)?) as i128)).collect::<Result<_>>()?;
            (Spec { n, frac: FRAC, bits: fx.bits, ring: 64 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
        "eq" => {
            let s = deal_ints::<u64>(&d.xi, &d.yi, fi, &mut prg)?;
            let w = d.xi.iter().zip(&d.yi).map(|(a, b)| (a == b) as i128).collect();
            (Spec { n, frac: 0, bits: ib, ring: 64 }, s.map(|(x, y)| pair_bytes(&x, &y)), w)
        }
        _ => return Err(MpcError::invalid(format!("--processes measures {}, not {op:?}", PROCESS_OPS.join(", ")))),
    };
    Ok(Prepared { spec, staged, want })
}

fn run_pair<R: Ring>(p: &mut Rep3, op: &str, spec: Spec, x: &AShare<R>, y: &AShare<R>) -> Result<Vec<u8>> {
    let fmt = FixedPoint { frac: spec.frac, bits: spec.bits };
    let mut out = Vec::new();
    for start in (0..spec.n).step_by(BATCH) {
        let r = start..(start + BATCH).min(spec.n);
        let (a, b) = (x_slice(x, r.clone()), x_slice(y, r));
        match op {
            "mul_int" => out.extend_from_slice(bytemuck::cast_slice(&p.mul(&a, &b)?.into_client())),
            "mul_fixed" => out
                .extend_from_slice(bytemuck::cast_slice(&p.mul_trunc(&a, &b, spec.frac, 2 * spec.bits)?.into_client())),
            "lt" | "eq" => {
                let an = Num::<Rep3, R>::from_share(a, fmt, "x")?;
                let bn = Num::<Rep3, R>::from_share(b, fmt, "y")?;
                let bits = if op == "lt" { lt(p, &an, &bn)? } else { mitsu_mpc_ops::eq(p, &an, &bn)? };
                out.extend_from_slice(bytemuck::cast_slice(bits.into_client().words()));
            }
            _ => return Err(MpcError::invalid(format!("unknown operation {op:?}"))),
        }
    }
    Ok(out)
}

fn x_slice<R: Ring>(s: &AShare<R>, r: std::ops::Range<usize>) -> AShare<R> {
    let (a, b) = s.components();
    AShare::from_components(a[r.clone()].to_vec(), b[r].to_vec()).expect("same lengths")
}

/// One party's compute + open of `op` on its staged bytes; returns its client component.
pub fn compute_op(p: &mut Rep3, op: &str, spec: Spec, staged: &[u8]) -> Result<Vec<u8>> {
    if spec.ring == 64 {
        let (x, y) = pair_from::<u64>(staged, spec.n)?;
        run_pair(p, op, spec, &x, &y)
    } else {
        let (x, y) = pair_from::<u128>(staged, spec.n)?;
        run_pair(p, op, spec, &x, &y)
    }
}

/// Reconstructs the three parties' answers and checks them against the plaintext.
pub fn verify(op: &str, prep: &Prepared, parts: [&[u8]; 3]) -> Result<()> {
    let n = prep.spec.n;
    let got: Vec<i128> = match op {
        "lt" | "eq" => {
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
    let tol = if op == "mul_fixed" { 1 } else { 0 };
    for i in 0..n {
        if (got[i] - prep.want[i]).abs() > tol {
            return Err(MpcError::Internal(format!(
                "{op} computed a wrong result at element {i}: {} vs {}",
                got[i], prep.want[i]
            )));
        }
    }
    Ok(())
}

/// The same compute + open with three threads of this process. Returns seconds and the busiest
/// party's communication.
pub fn in_process(op: &str, prep: &Prepared) -> Result<(f64, CommStats)> {
    let staged = [prep.staged[0].clone(), prep.staged[1].clone(), prep.staged[2].clone()];
    let t = Instant::now();
    let r = run3_with(staged, |ch, bytes| -> Result<(Vec<u8>, CommStats)> {
        let mut p = Rep3::setup(ch)?;
        let base = p.comm_stats();
        let out = compute_op(&mut p, op, prep.spec, &bytes)?;
        Ok((out, p.comm_stats().since(&base)))
    });
    let secs = t.elapsed().as_secs_f64();
    let [a, b, c] = r;
    let (a, b, c) = (a?, b?, c?);
    verify(op, prep, [&a.0, &b.0, &c.0])?;
    let busiest = [a.1, b.1, c.1].into_iter().max_by_key(|s| s.bytes_sent).unwrap_or_default();
    Ok((secs, busiest))
}
