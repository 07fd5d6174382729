//! Logistic regression by Newton's method (IRLS), as statsmodels' `Logit.fit` does.
//!
//! Per iteration, on secret shares: the linear predictor from the coefficients (fixed point,
//! G fraction bits, in units of the columns' encodings so that no row is rescaled), the
//! logistic function (fixed point, 32 fraction bits; the predictor is clamped to [-15, 15]),
//! the gradient X'(y - p) and the Hessian X' diag(p (1 - p)) X as exact sums, then the Newton
//! step by Gauss-Jordan in secret floating point, converted back to fixed point and added.
//! The iteration stops when the Newton decrement g' H^-1 g falls below 2^-40 (or the floor the
//! fixed point sets on a wide regressor, which is first shifted right to fit); the one bit
//! "converged" is opened per iteration, so the number of iterations is revealed.

use crate::StatsError;
use crate::common::{A, Cols, Outputs, dots, gauss_jordan, lg, mpc, tri};
use crate::flt::{F, Flt};
use mitsu_algebra::Ring;
use mitsu_mpc_core::Engine;
use mitsu_mpc_ops::{Num, log, sigmoid};

/// Fraction bits of the coefficients.
const G: u32 = 56;
/// Fraction bits of the predictor and the probabilities.
const FP: u32 = 32;
/// Bound on |coefficient| in encoding units: 2^CB.
const CB: u32 = 26;
/// Largest Newton step exponent accepted (a larger step means divergence, e.g. separation).
const EMAX: i128 = 20;
const MAX_ITER: usize = 35;

/// Fixed point at `g` fraction bits from floats with exponents below EMAX (smaller values
/// underflow to zero); also whether any element overflowed.
fn to_fixed<E: Engine>(e: &mut E, x: &Flt<E, u128>, g: u32) -> Result<(A<E>, A<E>), StatsError> {
    let k = x.len(e);
    let emin = 1 - g as i128;
    let span = (EMAX - emin + 1) as usize;
    // one-hot of e - emin over [0, span)
    let de = e.add_public(&x.e, &[u128::from_i128(-emin)]);
    let parts: Vec<A<E>> = (0..span).map(|j| e.add_public(&de, &[u128::from_i128(-(j as i128))])).collect();
    let all = e.concat(&parts.iter().collect::<Vec<_>>());
    let hot = e.eqz(&all, 15).map_err(mpc)?;
    let hot: A<E> = e.bits2a(&hot).map_err(mpc)?;
    let mut q = e.constant(&vec![u128::ZERO; k]);
    for j in 0..span {
        q = e.add(&q, &e.mul_public(&e.slice(&hot, j * k..(j + 1) * k), &[u128::pow2(j as u32)]));
    }
    // |x| 2^g = m 2^(e - F + g) = m 2^(e - emin) / 2^(F - 1)
    let mq = e.mul(&x.m, &q).map_err(mpc)?;
    let mag = e.trunc(&mq, F - 1, F + span as u32 + 1).map_err(mpc)?;
    let sm = e.mul(&x.s, &mag).map_err(mpc)?;
    let v = e.sub(&mag, &e.mul_public(&sm, &[u128::from_u64(2)]));
    // overflow: e > EMAX on a non-zero element
    let over = e.msb(&e.add_public(&e.neg(&x.e), &[u128::from_i128(EMAX)]), 16).map_err(mpc)?;
    let over: A<E> = e.bits2a(&over).map_err(mpc)?;
    let nz = e.add_public(&e.neg(&x.z), &[u128::ONE]);
    let of = e.mul(&over, &nz).map_err(mpc)?;
    Ok((v, e.sum(&of)))
}

/// Column 0..k-1 regressors, column k the outcome.
pub(crate) fn logit<E: Engine>(e: &mut E, c: &Cols<E>, out: &mut Outputs<E>) -> Result<(), StatsError> {
    let k = c.v.len() - 1;
    let p = k + 1; // with the intercept
    let n = c.n;
    if n <= p {
        return Err(StatsError::Invalid(format!("{n} complete rows; logit with {k} regressors needs more than {p}")));
    }
    // a regressor wider than the fixed point leaves room for is shifted right inside MPC (its
    // low bits dropped, a relative change below 2^-38 of its range), and its coefficient is
    // scaled back: values up to 10^9 with 6 decimals need no rescaling by the analyst
    let room = (126 - G - CB - lg(p) - 3).min((126 - FP - lg(n) - 3) / 2);
    if room < 8 {
        return Err(StatsError::Invalid(format!(
            "logit: {n} rows and {k} regressors leave no room for the fixed point"
        )));
    }
    let mut v: Vec<A<E>> = Vec::with_capacity(k);
    let mut dropped = vec![0u32; k];
    for j in 0..k {
        let w = c.bits(j) + 1;
        if w > room {
            dropped[j] = w - room;
            v.push(e.trunc(&c.v[j], dropped[j], w + 1).map_err(mpc)?);
        } else {
            v.push(c.v[j].clone());
        }
    }
    // regressors are centred at their truncated means (exactly, in MPC): a column near 2^31
    // with a spread of 100 would otherwise make the Hessian as ill-conditioned as 2^31 / 100
    let ws: Vec<u32> = (0..k).map(|j| c.bits(j) + 1 - dropped[j]).collect();
    let wmax = ws.iter().copied().max().unwrap_or(1);
    // y must be 0 or 1 (in its encoding: 0 or the scale)
    let sy = c.scale(k);
    if sy.fract() != 0.0 {
        return Err(StatsError::Invalid(format!("logit: {:?} must be coded 0/1", c.names[k])));
    }
    let y = &c.v[k];
    let wy = c.bits(k) + 1;
    let z0 = e.eqz(y, wy).map_err(mpc)?;
    let z1 = e.eqz(&e.add_public(y, &[u128::from_i128(-(sy as i128))]), wy).map_err(mpc)?;
    let both = e.b_stack(&[&z0, &z1]);
    let zz: A<E> = e.bits2a(&both).map_err(mpc)?;
    let y01 = e.slice(&zz, n..2 * n);
    let bad = e.add_public(&e.neg(&e.add(&e.slice(&zz, 0..n), &y01)), &[u128::ONE]);
    if e.open(&e.sum(&bad), mitsu_mpc_core::Reveal::StatisticError).map_err(mpc)?[0] != u128::ZERO {
        return Err(StatsError::Invalid(format!("logit: {:?} must be coded 0/1", c.names[k])));
    }
    let ones = e.constant(&vec![u128::ONE; n]);
    let sums_x = e.concat(&v.iter().map(|x| e.sum(x)).collect::<Vec<_>>().iter().collect::<Vec<_>>());
    let np = e.constant(&vec![u128::from_u64(n as u64); k]);
    let cx = mitsu_mpc_ops::div_trunc(e, &sums_x, wmax + lg(n), &np, lg(n) + 1, "a regressor's mean").map_err(mpc)?;
    let mut xs: Vec<A<E>> = vec![ones];
    for j in 0..k {
        let cj = e.gather(&cx, &vec![j as u32; n]);
        xs.push(e.sub(&v[j], &cj));
    }
    let xall = e.concat(&xs.iter().collect::<Vec<_>>());
    // the decrement below which Newton has converged: 2^-40, or the floor the coefficients'
    // G fraction bits set on a wide column (its last bit moves the decrement by about
    // n 2^(2w - 2G)), which would otherwise keep it iterating until MAX_ITER
    let stop: i128 = (-40i128).max(lg(n) as i128 + 2 * wmax as i128 - 2 * G as i128 + 4);
    let mut gamma = e.constant(&vec![u128::ZERO; p]);
    let wd = 2 * p + 1;
    let mut last = None;
    let mut iterations = 0;
    for it in 1..=MAX_ITER {
        iterations = it;
        // eta = sum_j gamma_j x_j at G bits, then FP bits, clamped to [-15, 15]
        let rep: Vec<u32> = (0..p).flat_map(|j| std::iter::repeat_n(j as u32, n)).collect();
        let gx = e.mul(&xall, &e.gather(&gamma, &rep)).map_err(mpc)?;
        let mut eta = e.slice(&gx, 0..n);
        for j in 1..p {
            eta = e.add(&eta, &e.slice(&gx, j * n..(j + 1) * n));
        }
        let eb = G + CB + wmax + lg(p) + 1;
        let eta = e.trunc(&eta, G - FP, eb).map_err(mpc)?;
        let eb = eb - (G - FP) + 1;
        let lim = 15i128 << FP;
        let hi = e.msb(&e.add_public(&eta, &[u128::from_i128(-lim)]), eb + 1).map_err(mpc)?; // eta < 15
        let lo = e.msb(&e.add_public(&eta, &[u128::from_i128(lim)]), eb + 1).map_err(mpc)?; // eta < -15
        let hl = e.b_stack(&[&hi, &lo]);
        let hl: A<E> = e.bits2a(&hl).map_err(mpc)?;
        let (below_hi, below_lo) = (e.slice(&hl, 0..n), e.slice(&hl, n..2 * n));
        // eta' = below_lo ? -lim : below_hi ? eta : lim
        let t = e.mul(&below_hi, &e.add_public(&eta, &[u128::from_i128(-lim)])).map_err(mpc)?;
        let mid = e.add_public(&t, &[u128::from_i128(lim)]);
        let t = e.mul(&below_lo, &e.add_public(&mid, &[u128::from_i128(lim)])).map_err(mpc)?;
        let eta = e.sub(&mid, &t);
        let pr =
            sigmoid(e, &Num { share: eta, frac: FP, bits: FP + 4, expr: "linear predictor".into() }).map_err(mpc)?;
        let pr = pr.share;
        let yf = e.mul_public(&y01, &[u128::pow2(FP)]);
        let resid = e.sub(&yf, &pr);
        let q1 = e.add_public(&e.neg(&pr), &[u128::pow2(FP)]);
        let w = e.mul_trunc(&pr, &q1, FP, 2 * FP + 2).map_err(mpc)?;
        let wrep = e.gather(&w, &(0..p * n).map(|i| (i % n) as u32).collect::<Vec<_>>());
        let xw = e.mul(&xall, &wrep).map_err(mpc)?;
        let xwj: Vec<A<E>> = (0..p).map(|j| e.slice(&xw, j * n..(j + 1) * n)).collect();
        let mut pairs: Vec<(&A<E>, &A<E>)> = Vec::new();
        for i in 0..p {
            for j in i..p {
                pairs.push((&xwj[i], &xs[j]));
            }
        }
        for x in &xs {
            pairs.push((x, &resid));
        }
        let sums = dots(e, &pairs)?;
        let hb = (2 * wmax + FP + lg(n) + 2).min(126);
        let fl = Flt::from_fixed(e, &sums, hb, FP).map_err(mpc)?;
        let np = p * (p + 1) / 2;
        let (h, g) = (fl.slice(e, 0..np), fl.slice(e, np..np + p));
        // [H | g | I]
        let mut rows = Vec::new();
        for i in 0..p {
            let idx: Vec<u32> = (0..p).map(|j| tri(p, i, j) as u32).collect();
            let mut id = vec![0.0; p];
            id[i] = 1.0;
            rows.push(Flt::concat(e, &[&h.gather(e, &idx), &g.slice(e, i..i + 1), &Flt::constant(e, &id)]));
        }
        let a = Flt::concat(e, &rows.iter().collect::<Vec<_>>());
        let (a, _) = gauss_jordan(e, a, p, wd)?;
        let delta = a.gather(e, &(0..p).map(|i| (i * wd + p) as u32).collect::<Vec<_>>());
        // Newton decrement g' delta
        let gd = g.mul(e, &delta).map_err(mpc)?.total(e).map_err(mpc)?;
        let small = e.msb(&e.add_public(&gd.e, &[u128::from_i128(-stop)]), 16).map_err(mpc)?;
        let small: A<E> = e.bits2a(&small).map_err(mpc)?;
        let conv = e.add(&small, &gd.z);
        let (df, over) = to_fixed(e, &delta, G)?;
        let flags = e.open(&e.concat(&[&conv, &over]), mitsu_mpc_core::Reveal::Iterations).map_err(mpc)?;
        if flags[1] != u128::ZERO {
            return Err(StatsError::Invalid(
                "logit does not converge: a coefficient grows without bound (perfect separation?)".into(),
            ));
        }
        gamma = e.add(&gamma, &df);
        last = Some((a, pr));
        if flags[0] != u128::ZERO {
            break;
        }
        if it == MAX_ITER {
            return Err(StatsError::Invalid(format!("logit did not converge in {MAX_ITER} iterations")));
        }
    }
    let (a, pr) = last.expect("one iteration");
    // standard errors: sqrt of the inverse Hessian's diagonal (the inverse sits after g)
    let dinv: Vec<u32> = (0..p).map(|j| (j * wd + p + 1 + j) as u32).collect();
    let inv_diag = a.gather(e, &dinv);
    let se = inv_diag.sqrt(e).map_err(mpc)?;
    // log-likelihood sum log(y ? p : 1 - p) at the last predictor
    let yp = e.mul(&y01, &pr).map_err(mpc)?;
    let qv = e.add(
        &e.add_public(&e.neg(&e.add(&e.mul_public(&y01, &[u128::pow2(FP)]), &pr)), &[u128::pow2(FP)]),
        &e.mul_public(&yp, &[u128::from_u64(2)]),
    );
    let l = log(e, &Num { share: qv, frac: FP, bits: FP + 1, expr: "probability".into() }).map_err(mpc)?;
    let ll = e.sum(&l.share);
    let llf = Flt::from_fixed(e, &ll, FP + 8 + lg(n), FP).map_err(mpc)?;
    let coef = Flt::from_fixed(e, &gamma, G + CB + 6, G).map_err(mpc)?;
    // back to the uncentred columns: b0 = b0' - sum_j c_j b_j, and var(b0) = v' H^-1 v with
    // v = (1, -c_1, ..., -c_k)
    let cf = Flt::from_int(e, &cx, wmax + 1).map_err(mpc)?;
    let slopes = coef.slice(e, 1..p);
    let shift = cf.mul(e, &slopes).map_err(mpc)?.total(e).map_err(mpc)?;
    let b0 = coef.slice(e, 0..1).sub(e, &shift).map_err(mpc)?;
    let coef = Flt::concat(e, &[&b0, &slopes]);
    let vv = Flt::concat(e, &[&Flt::constant(e, &[1.0]), &cf.neg(e)]);
    let inv_idx: Vec<u32> = (0..p).flat_map(|i| (0..p).map(move |j| (i * wd + p + 1 + j) as u32)).collect();
    let inv = a.gather(e, &inv_idx);
    let vj = vv.gather(e, &(0..p * p).map(|x| (x % p) as u32).collect::<Vec<_>>());
    let vi = vv.gather(e, &(0..p * p).map(|x| (x / p) as u32).collect::<Vec<_>>());
    let q = inv.mul(e, &vj).map_err(mpc)?.mul(e, &vi).map_err(mpc)?.total(e).map_err(mpc)?;
    let se0 = q.sqrt(e).map_err(mpc)?;
    let se = Flt::concat(e, &[&se0, &se.slice(e, 1..p)]);
    out.push("n", Flt::constant(e, &[n as f64]));
    out.push("iterations", Flt::constant(e, &[iterations as f64]));
    out.push("log_likelihood", llf);
    for j in 0..p {
        let (name, s) = if j == 0 {
            ("const".to_string(), 1.0)
        } else {
            // one shifted unit is 2^shift encoded units
            (c.names[j - 1].clone(), c.scale(j - 1) / 2f64.powi(dropped[j - 1] as i32))
        };
        // coefficients are per encoded unit: the analyst multiplies by the scale
        out.push_div(format!("coef.{name}"), coef.slice(e, j..j + 1), 1.0 / s);
        out.push_div(format!("se.{name}"), se.slice(e, j..j + 1), 1.0 / s);
    }
    Ok(())
}
