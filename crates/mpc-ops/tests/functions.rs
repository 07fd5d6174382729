//! Fixed-point functions on the protocol and the twin against f64, within the error bounds stated
//! in `src/func.rs`.

mod common;

use mitsu_algebra::{FixedPoint, Ring};
use mitsu_mpc_core::{Engine, PartyId, Result};
use mitsu_mpc_ops::{Num, div, exp, invsqrt, log, reciprocal, sigmoid, sqrt};

const F: u32 = 16;

fn run<E: Engine, R: Ring>(e: &mut E, which: &str, x: &[f64], y: &[f64], range: u32) -> Result<Vec<f64>> {
    let fmt = FixedPoint::real(range, F);
    let a = Num::<E, R>::input_f64(e, PartyId::P0, Some(x), x.len(), fmt, "x")?;
    let r = match which {
        "reciprocal" => reciprocal(e, &a)?,
        "div" => {
            let b = Num::<E, R>::input_f64(e, PartyId::P1, Some(y), y.len(), fmt, "y")?;
            div(e, &a, &b)?
        }
        "invsqrt" => invsqrt(e, &a)?,
        "sqrt" => sqrt(e, &a)?,
        "exp" => exp(e, &a)?,
        "log" => log(e, &a)?,
        "sigmoid" => sigmoid(e, &a)?,
        _ => unreachable!(),
    };
    r.open_f64(e, mitsu_mpc_core::Reveal::Check)
}

fn q(x: f64) -> f64 {
    FixedPoint::real(40, F).decode::<u128>(FixedPoint::real(40, F).encode(x).unwrap())
}

fn check(which: &str, x: &[f64], y: &[f64], range: u32, f: impl Fn(f64, f64) -> f64, tol: impl Fn(f64, f64) -> f64) {
    // probabilistic truncation makes every run different: rare error paths need several runs
    for _ in 0..10 {
        check_once(which, x, y, range, &f, &tol);
    }
}

fn check_once(
    which: &str,
    x: &[f64],
    y: &[f64],
    range: u32,
    f: &impl Fn(f64, f64) -> f64,
    tol: &impl Fn(f64, f64) -> f64,
) {
    let (rep, twin) = both!(run::<u128>(which, x, y, range));
    let ulp = 1.0 / (1u64 << F) as f64;
    for (i, (&r, &t)) in rep.iter().zip(&twin).enumerate() {
        let want = f(q(x[i]), y.get(i).copied().map(q).unwrap_or(0.0));
        let bound = ulp + tol(want, q(x[i]));
        assert!((r - want).abs() <= bound, "{which}({}) = {r} under MPC, want {want} (bound {bound})", x[i]);
        assert!((t - want).abs() <= bound, "{which}({}) = {t} on the twin, want {want}", x[i]);
    }
}

fn spread(lo: f64, hi: f64, n: usize, signed: bool) -> Vec<f64> {
    // log-spaced magnitudes including both ends
    (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            let v = (lo.ln() + t * (hi.ln() - lo.ln())).exp();
            if signed && i % 2 == 1 { -v } else { v }
        })
        .collect()
}

#[test]
fn reciprocal_and_division() {
    let x = spread(1.0 / 1024.0, 30000.0, 41, true);
    check("reciprocal", &x, &[], 15, |x, _| 1.0 / x, |w, _| 1e-9 * w.abs());
    let a: Vec<f64> = x.iter().map(|v| (v * 7.3) % 100.0).collect();
    let b = spread(0.01, 3000.0, 41, true);
    check("div", &a, &b, 15, |a, b| a / b, |w, a| 1.0 / 65536.0 + 1e-9 * (w.abs() + a.abs()));
}

#[test]
fn square_roots() {
    let x = spread(1.0 / 4096.0, 30000.0, 41, false);
    check("invsqrt", &x, &[], 15, |x, _| 1.0 / x.sqrt(), |w, _| 1e-9 * w);
    let mut x0 = x.clone();
    x0.push(0.0);
    check("sqrt", &x0, &[], 15, |x, _| x.sqrt(), |w, _| 1e-9 * w + 1.0 / 65536.0);
}

#[test]
fn exponential_logarithm_sigmoid() {
    let x: Vec<f64> = (0..61).map(|i| -15.0 + 0.5 * i as f64 + 0.01).collect();
    check("exp", &x, &[], 4, |x, _| x.exp(), |w, _| 1e-9 * w);
    check("sigmoid", &x, &[], 4, |x, _| 1.0 / (1.0 + (-x).exp()), |_, _| 3.0 / 65536.0);
    let p = spread(1.0 / 60000.0, 30000.0, 41, false);
    check("log", &p, &[], 15, |x, _| x.ln(), |_, _| 1e-9);
}

#[test]
fn a_range_too_wide_for_exp_is_refused() {
    let err = common::on_twin(|e| Ok(run::<_, u128>(e, "exp", &[1.0], &[], 8))).unwrap_err();
    assert!(err.to_string().contains("exp(x)"), "{err}");
}

#[test]
fn functions_in_z64_use_exact_truncation_and_stay_within_looser_bounds() {
    // Z_2^64 leaves room for a 20-bit working precision with exact truncation.
    let x = spread(0.05, 100.0, 13, true);
    let (rep, twin) = both!(run::<u64>("reciprocal", &x, &[], 7));
    for (i, (&r, &t)) in rep.iter().zip(&twin).enumerate() {
        let want = 1.0 / q(x[i]);
        assert!((r - want).abs() <= 2e-4 * want.abs().max(1.0), "1/{} = {r}", x[i]);
        assert!((t - want).abs() <= 2e-4 * want.abs().max(1.0), "1/{} = {t}", x[i]);
    }
}
