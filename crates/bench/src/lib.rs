//! `mitsu bench`: measures each engine operation over its whole path, as the SecretFlow SPU peer
//! script does: the client encodes and secret-shares the inputs, the three parties compute, each
//! party returns its result shares to the client, the client reconstructs. Every run is checked
//! against the plain computation, so a fast wrong answer fails instead of being reported.
//!
//! Inputs follow `shared/peers/spu_bench.py`: reals from N(50, 10) at 18 fraction bits, integers
//! uniform in [-2^30, 2^30). Their public ranges are inferred from the data (coarsened to a power
//! of two) as an upload would, and the ring is picked from those ranges: the same rules the planner
//! will use. Large inputs are processed in batches so memory stays bounded.

pub mod audit;
mod pipeline;
pub mod processes;
pub mod relational;
pub mod stats;

use mitsu_algebra::{FixedPoint, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{CommStats, MpcError, Result};
use mitsu_mpc_ops::{Num, lt, sort_by_key};
use mitsu_mpc_rep3::{AShare, Rep3, client};
use pipeline::{Batch, pipeline};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// Fraction bits of the real-valued inputs (SPU's setting, for a like-for-like comparison).
pub const FRAC: u32 = 18;

pub const ALL_OPS: [&str; 7] = ["mul_int", "mul_fixed", "lt", "eq", "sum", "mean_var", "sort"];

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub n: usize,
    pub sort_n: usize,
    pub only: Vec<String>,
    pub repeat: usize,
    /// Elements per batch for element-wise operations (bounds memory).
    pub batch: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig { n: 1_000_000, sort_n: 100_000, only: vec![], repeat: 3, batch: 1 << 15 }
    }
}

/// Cost of one operation.
#[derive(Debug, Clone, Serialize)]
pub struct Comm {
    /// Bytes sent by the busiest party to the other parties.
    pub bytes_per_party: u64,
    /// Communication rounds of the busiest party.
    pub rounds: u64,
    /// Ring the shares live in.
    pub ring: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub n: usize,
    pub sort_n: usize,
    #[serde(flatten)]
    pub seconds: BTreeMap<String, f64>,
    pub comm: BTreeMap<String, Comm>,
    pub plain: BTreeMap<String, f64>,
}

fn best<T>(repeat: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let v = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    Ok((best, last.expect("at least one run")))
}

fn plain_best(repeat: usize, mut f: impl FnMut()) -> f64 {
    best(repeat, || {
        f();
        Ok(())
    })
    .unwrap()
    .0
}

fn mismatch(op: &str, what: String) -> MpcError {
    MpcError::Internal(format!("benchmark {op} computed a wrong result: {what}"))
}

pub(crate) struct Data {
    x: Vec<f64>,
    y: Vec<f64>,
    xi: Vec<i64>,
    yi: Vec<i64>,
}

pub(crate) fn data(n: usize) -> Data {
    let mut p = Prg::new(Seed::from_u64(0));
    let x = (0..n).map(|_| 50.0 + 10.0 * p.normal()).collect();
    let y = (0..n).map(|_| 50.0 + 10.0 * p.normal()).collect();
    let xi: Vec<i64> = (0..n).map(|_| p.below(1 << 31) as i64 - (1 << 30)).collect();
    // one pair in ten equal, so equality is not trivially all-false
    let yi = xi.iter().map(|&v| if p.below(10) == 0 { v } else { p.below(1 << 31) as i64 - (1 << 30) }).collect();
    Data { x, y, xi, yi }
}

fn deal2<R: Ring>(a: &[R], b: &[R], prg: &mut Prg) -> [(AShare<R>, AShare<R>); 3] {
    let [a0, a1, a2] = client::deal(a, prg);
    let [b0, b1, b2] = client::deal(b, prg);
    [(a0, b0), (a1, b1), (a2, b2)]
}

/// Encodes two integer slices in `fmt` and deals both.
pub(crate) fn deal_ints<R: Ring>(
    x: &[i64],
    y: &[i64],
    fmt: FixedPoint,
    prg: &mut Prg,
) -> Result<[(AShare<R>, AShare<R>); 3]> {
    let enc = |v: &[i64]| v.iter().map(|&v| fmt.encode_i64::<R>(v)).collect::<std::result::Result<Vec<R>, _>>();
    Ok(deal2(&enc(x)?, &enc(y)?, prg))
}

/// Encodes two real slices in `fmt` and deals both.
pub(crate) fn deal_reals<R: Ring>(
    x: &[f64],
    y: &[f64],
    fmt: FixedPoint,
    prg: &mut Prg,
) -> Result<[(AShare<R>, AShare<R>); 3]> {
    Ok(deal2(&fmt.encode_all::<R>(x)?, &fmt.encode_all::<R>(y)?, prg))
}

pub(crate) fn int_bits(v: &[i64]) -> u32 {
    let m = v.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
    64 - m.leading_zeros()
}

/// Runs the selected operations.
pub fn run(cfg: &BenchConfig) -> Result<Report> {
    let want = |op: &str| cfg.only.is_empty() || cfg.only.iter().any(|o| o == op);
    for o in &cfg.only {
        if !ALL_OPS.contains(&o.as_str()) {
            return Err(MpcError::invalid(format!(
                "unknown benchmark operation {o:?}; choose from {}",
                ALL_OPS.join(", ")
            )));
        }
    }
    let needs_data = ALL_OPS[..6].iter().any(|o| want(o));
    let d = if needs_data { data(cfg.n) } else { data(0) };
    let mut rep = Report {
        n: cfg.n,
        sort_n: cfg.sort_n,
        seconds: BTreeMap::new(),
        comm: BTreeMap::new(),
        plain: BTreeMap::new(),
    };
    let record = |rep: &mut Report, op: &str, secs: f64, stats: [CommStats; 3], ring: &'static str, plain: f64| {
        rep.seconds.insert(op.into(), secs);
        rep.comm.insert(
            op.into(),
            Comm {
                bytes_per_party: stats.iter().map(|s| s.bytes_sent).max().unwrap_or(0),
                rounds: stats.iter().map(|s| s.rounds).max().unwrap_or(0),
                ring,
            },
        );
        rep.plain.insert(op.into(), plain);
    };
    let fx = FixedPoint::real(FixedPoint::infer_range_bits(&d.x).max(FixedPoint::infer_range_bits(&d.y)), FRAC);
    let n = cfg.n;

    if want("mul_int") {
        // |x|, |y| < 2^30, so |xy| < 2^60: Z_2^64 holds the exact product.
        let ib = int_bits(&d.xi).max(int_bits(&d.yi));
        let fmt = FixedPoint::int(ib);
        let (secs, (out, st)) = best(cfg.repeat, || {
            pipeline::<u64, _>(
                n,
                cfg.batch,
                |r, prg| deal_ints(&d.xi[r.clone()], &d.yi[r], fmt, prg),
                |p: &mut Rep3, (a, b): (AShare<u64>, AShare<u64>)| Ok(Batch::A(p.mul(&a, &b)?)),
            )
        })?;
        let got = out.ring();
        for i in 0..n {
            if got[i] as i64 != d.xi[i] * d.yi[i] {
                return Err(mismatch("mul_int", format!("element {i}")));
            }
        }
        let plain = plain_best(cfg.repeat, || {
            let v: Vec<i64> = d.xi.iter().zip(&d.yi).map(|(a, b)| a * b).collect();
            std::hint::black_box(v);
        });
        record(&mut rep, "mul_int", secs, st, "Z64", plain);
    }

    if want("mul_fixed") {
        // The product of two 25-bit encodings needs 50 bits before truncation; probabilistic
        // truncation is within its 2^-40 failure bound only in Z_2^128 (in Z_2^64 it would need the
        // costlier exact truncation), so the planner's choice is Z_2^128.
        let pbits = 2 * fx.bits;
        let (secs, (out, st)) = best(cfg.repeat, || {
            pipeline::<u128, _>(
                n,
                cfg.batch,
                |r, prg| deal_reals::<u128>(&d.x[r.clone()], &d.y[r], fx, prg),
                |p: &mut Rep3, (a, b): (AShare<u128>, AShare<u128>)| Ok(Batch::A(p.mul_trunc(&a, &b, FRAC, pbits)?)),
            )
        })?;
        let got = out.ring();
        for i in 0..n {
            let want = fx.decode::<u128>(fx.encode(d.x[i])?) * fx.decode::<u128>(fx.encode(d.y[i])?);
            if (fx.decode(got[i]) - want).abs() > 2.0 / (1u64 << FRAC) as f64 {
                return Err(mismatch("mul_fixed", format!("element {i}: {} vs {want}", fx.decode(got[i]))));
            }
        }
        let plain = plain_best(cfg.repeat, || {
            let v: Vec<f64> = d.x.iter().zip(&d.y).map(|(a, b)| a * b).collect();
            std::hint::black_box(v);
        });
        record(&mut rep, "mul_fixed", secs, st, "Z128", plain);
    }

    if want("lt") {
        // |x - y| < 2^26 at 18 fraction bits: a 27-bit comparison circuit in Z_2^64.
        let (secs, (out, st)) = best(cfg.repeat, || {
            pipeline::<u64, _>(
                n,
                cfg.batch,
                |r, prg| deal_reals::<u64>(&d.x[r.clone()], &d.y[r], fx, prg),
                |p: &mut Rep3, (a, b): (AShare<u64>, AShare<u64>)| {
                    let a = Num::<Rep3, u64>::from_share(a, fx, "x")?;
                    let b = Num::<Rep3, u64>::from_share(b, fx, "y")?;
                    Ok(Batch::B(lt(p, &a, &b)?))
                },
            )
        })?;
        let bits = out.bits();
        for i in 0..n {
            let want = fx.encode::<u64>(d.x[i])?.to_i128() < fx.encode::<u64>(d.y[i])?.to_i128();
            if bits.get(0, i) != want {
                return Err(mismatch("lt", format!("element {i}")));
            }
        }
        let plain = plain_best(cfg.repeat, || {
            let v: Vec<bool> = d.x.iter().zip(&d.y).map(|(a, b)| a < b).collect();
            std::hint::black_box(v);
        });
        record(&mut rep, "lt", secs, st, "Z64", plain);
    }

    if want("eq") {
        let ib = int_bits(&d.xi).max(int_bits(&d.yi));
        let fmt = FixedPoint::int(ib);
        let (secs, (out, st)) = best(cfg.repeat, || {
            pipeline::<u64, _>(
                n,
                cfg.batch,
                |r, prg| deal_ints(&d.xi[r.clone()], &d.yi[r], fmt, prg),
                |p: &mut Rep3, (a, b): (AShare<u64>, AShare<u64>)| {
                    let a = Num::<Rep3, u64>::from_share(a, fmt, "x")?;
                    let b = Num::<Rep3, u64>::from_share(b, fmt, "y")?;
                    Ok(Batch::B(mitsu_mpc_ops::eq(p, &a, &b)?))
                },
            )
        })?;
        let bits = out.bits();
        for i in 0..n {
            if bits.get(0, i) != (d.xi[i] == d.yi[i]) {
                return Err(mismatch("eq", format!("element {i}")));
            }
        }
        let plain = plain_best(cfg.repeat, || {
            let v: Vec<bool> = d.xi.iter().zip(&d.yi).map(|(a, b)| a == b).collect();
            std::hint::black_box(v);
        });
        record(&mut rep, "eq", secs, st, "Z64", plain);
    }

    if want("sum") {
        // n values below 2^25 sum to below 2^(25 + log2 n): Z_2^64.
        let (secs, (out, st)) = best(cfg.repeat, || {
            pipeline::<u64, _>(
                n,
                cfg.batch,
                |r, prg| Ok(client::deal(&fx.encode_all::<u64>(&d.x[r])?, prg)),
                |p: &mut Rep3, a: AShare<u64>| Ok(Batch::A(mitsu_mpc_core::Engine::sum(p, &a))),
            )
        })?;
        let total: i128 = out.ring().iter().map(|v| v.to_i128()).sum();
        let got = total as f64 / (1u64 << FRAC) as f64;
        let want: f64 = d.x.iter().map(|v| fx.decode::<u64>(fx.encode(*v).unwrap())).sum();
        if (got - want).abs() > 1e-6 * want.abs().max(1.0) {
            return Err(mismatch("sum", format!("{got} vs {want}")));
        }
        let plain = plain_best(cfg.repeat, || {
            std::hint::black_box(d.x.iter().sum::<f64>());
        });
        record(&mut rep, "sum", secs, st, "Z64", plain);
    }

    if want("mean_var") {
        // Opens sum(x) and sum(x^2), which given n is exactly the information in (mean, variance).
        // Squares of 25-bit encodings summed over n need 50 + log2 n bits: Z_2^128.
        let (secs, (out, st)) = best(cfg.repeat, || {
            pipeline::<u128, _>(
                n,
                cfg.batch,
                |r, prg| Ok(client::deal(&fx.encode_all::<u128>(&d.x[r])?, prg)),
                |p: &mut Rep3, a: AShare<u128>| {
                    let s = mitsu_mpc_core::Engine::sum(p, &a);
                    let sq = p.dot(&[(&a, &a)])?;
                    Ok(Batch::A(mitsu_mpc_core::Engine::concat(p, &[&s, &sq])))
                },
            )
        })?;
        let v = out.ring();
        let (s1, s2): (i128, i128) = v.chunks(2).fold((0, 0), |(a, b), c| (a + c[0].to_i128(), b + c[1].to_i128()));
        let (mean, var) = mean_var_exact(n as i128, s1, s2, FRAC);
        let m: f64 = d.x.iter().sum::<f64>() / n as f64;
        let pv: f64 = d.x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n as f64 - 1.0);
        if (mean - m).abs() > 1e-5 || (var - pv).abs() > 1e-4 * pv {
            return Err(mismatch("mean_var", format!("({mean}, {var}) vs ({m}, {pv})")));
        }
        let plain = plain_best(cfg.repeat, || {
            let m: f64 = d.x.iter().sum::<f64>() / n as f64;
            let v: f64 = d.x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n as f64 - 1.0);
            std::hint::black_box((m, v));
        });
        record(&mut rep, "mean_var", secs, st, "Z128", plain);
    }

    if want("sort") {
        let sn = cfg.sort_n;
        let mut p = Prg::new(Seed::from_u64(1));
        let keys: Vec<i64> = (0..sn).map(|_| p.next_u64() as i64).collect();
        let pay: Vec<i64> = (0..sn as i64).collect();
        // 64-bit keys plus a 20-bit position tie-breaker: Z_2^128.
        let kfmt = FixedPoint::int(63);
        let (secs, (out, st)) = best(cfg.repeat, || {
            pipeline::<u128, _>(
                sn,
                usize::MAX,
                |r, prg| {
                    let k: Vec<u128> = keys[r.clone()].iter().map(|&v| v as i128 as u128).collect();
                    let v: Vec<u128> = pay[r].iter().map(|&v| v as u128).collect();
                    Ok(deal2(&k, &v, prg))
                },
                |p: &mut Rep3, (k, v): (AShare<u128>, AShare<u128>)| {
                    let key = Num::<Rep3, u128>::from_share(k, kfmt, "key")?;
                    let (sk, sv) = sort_by_key(p, &key, &[&v])?;
                    Ok(Batch::A(mitsu_mpc_core::Engine::concat(p, &[&sk.share, &sv[0]])))
                },
            )
        })?;
        let v = out.ring();
        let mut expect: Vec<(i64, i64)> = keys.iter().copied().zip(pay.iter().copied()).collect();
        expect.sort_by_key(|kv| kv.0);
        for i in 0..sn {
            if (v[i] as i64, v[sn + i] as i64) != expect[i] {
                return Err(mismatch("sort", format!("position {i}")));
            }
        }
        let plain = plain_best(cfg.repeat, || {
            let mut e: Vec<(i64, i64)> = keys.iter().copied().zip(pay.iter().copied()).collect();
            e.sort_by_key(|kv| kv.0);
            std::hint::black_box(e);
        });
        record(&mut rep, "sort", secs, st, "Z128", plain);
    }
    Ok(rep)
}

/// Mean and sample variance from exact sums of encoded values (integers at `frac` bits).
pub fn mean_var_exact(n: i128, s1: i128, s2: i128, frac: u32) -> (f64, f64) {
    let scale = (2f64).powi(frac as i32);
    let mean = s1 as f64 / n as f64 / scale;
    // n * s2 - s1^2 is exact in i128 for the sizes used; divide once at the end
    let num = n * s2 - s1 * s1;
    let var = num as f64 / (n as f64 * (n as f64 - 1.0)) / (scale * scale);
    (mean, var)
}

/// Human-readable table.
pub fn format_table(r: &Report) -> String {
    let mut s = format!(
        "mitsu bench: n = {}, sort_n = {} (3 parties in one process; whole path: share, compute, open)\n",
        r.n, r.sort_n
    );
    s += &format!(
        "{:<10} {:>10} {:>11} {:>9} {:>14} {:>7} {:>5}\n",
        "op", "mpc (s)", "plain (s)", "mpc/plain", "bytes/party", "rounds", "ring"
    );
    for (op, secs) in &r.seconds {
        let c = &r.comm[op];
        let p = r.plain[op];
        s += &format!(
            "{:<10} {:>10.4} {:>11.5} {:>9.0} {:>14} {:>7} {:>5}\n",
            op,
            secs,
            p,
            secs / p.max(1e-9),
            c.bytes_per_party,
            c.rounds,
            c.ring
        );
    }
    s
}
