//! Fixed-point functions by iteration and polynomial approximation, after Catrina & Saxena
//! (FC 2010) and Aly & Smart (2019): normalise the input to [0.5, 1) with a secret power of two
//! found by bit decomposition, approximate on that interval, undo the scaling.
//!
//! Internal precision: F = [`working_frac`] fraction bits (40 in Z_2^128, 20 in Z_2^64). Domains
//! and error bounds for outputs with f fraction bits in Z_2^128 (checked against f64 by the tests
//! in `tests/functions.rs`):
//!
//! | function | domain | absolute error bound |
//! |---|---|---|
//! | `reciprocal(x)` | x != 0 | 2^-f + 1e-9 / abs(x) |
//! | `div(a, b)` | b != 0 | 2^-f + abs(a) * (2^-g + 1e-9 / abs(b)), g = extra bits the ring allows |
//! | `invsqrt(x)` | x > 0 | 2^-f + 1e-9 / sqrt(x) |
//! | `sqrt(x)` | x >= 0 | 2^-f + 1e-9 sqrt(x) |
//! | `exp(x)` | abs(x) < 2^r, r = bits - frac, while the ring has room | 2^-f + 1e-9 e^x |
//! | `log(x)` | x > 0 | 2^-f + 1e-9 |
//! | `sigmoid(x)` | as exp(-x) | 3 * 2^-f |
//!
//! Inputs outside a domain cannot be detected without revealing them; zero is replaced by one ulp
//! so that the computation stays in range (the query layer turns a zero divisor into NULL with its
//! own zero test). Nothing is revealed.

use crate::num::{Num, check_bits};
use mitsu_algebra::{Planes, Ring};
use mitsu_mpc_core::{Engine, MpcError, Result};

// LN_POLY on [0.5, 1.0] with s = (2x - 1.5) / 0.5; degree 14; max error 6.07e-13
pub(crate) const LN_POLY: [f64; 15] = [
    -0.2876820724517808,
    0.3333333333395733,
    -0.05555555555751064,
    0.012345678780002277,
    -0.00308641968022731,
    0.0008230477606195281,
    -0.0002286244673018097,
    6.530931746801571e-05,
    -1.904829397894981e-05,
    5.673160306732539e-06,
    -1.702326962760085e-06,
    4.776158742906808e-07,
    -1.456614037913597e-07,
    7.030566630018435e-08,
    -2.184066228895443e-08,
];
// EXP2_POLY on [-1.0, 1.0] with s = (2x - 0.0) / 2.0; degree 13; max error 2.89e-15
pub(crate) const EXP2_POLY: [f64; 14] = [
    0.9999999999999993,
    0.6931471805599443,
    0.24022650695914136,
    0.05550410866488327,
    0.009618129107268744,
    0.0013333558142870831,
    0.00015403530517972894,
    1.5252734372254086e-05,
    1.3215466762279648e-06,
    1.0178100316667004e-07,
    7.056359127486442e-09,
    4.436252277211292e-10,
    2.5376419945057758e-11,
    1.8866449661310213e-12,
];

/// Working precision of the iterations in ring `R`.
pub fn working_frac<R: Ring>() -> u32 {
    if R::BITS >= 128 { 40 } else { 20 }
}

/// Smallest b with x < 2^b.
pub(crate) fn bits_for(x: f64) -> u32 {
    let mut b = 0;
    while (2f64).powi(b as i32) <= x {
        b += 1;
    }
    b
}

fn enc<R: Ring>(x: f64, frac: u32) -> R {
    R::from_i128((x * (2f64).powi(frac as i32)).round() as i128)
}

/// Largest bound for which the fused multiply-truncate stays probabilistic (cheap) in `R`.
fn cheap_bits<R: Ring>() -> u32 {
    R::BITS - 41
}

#[allow(missing_debug_implementations)]
pub struct Normalized<E: Engine, R: Ring> {
    /// x * c / 2^m in [0.5, 1], at F fraction bits
    pub u: E::A<R>,
    /// plane j is 1 where the most significant set bit of the encoded x is j
    pub onehot: E::B,
    /// c = 2^(m-1-j)
    pub c: E::A<R>,
    pub m: u32,
}

/// Normalises positive encoded values 1 <= X < 2^m. Cost: an m-bit decomposition, a
/// ceil(log2 m)-round suffix OR, a weighted injection and one multiplication.
pub fn normalize<E: Engine, R: Ring>(e: &mut E, x: &E::A<R>, m: u32, ff: u32) -> Result<Normalized<E, R>> {
    normalize_with(e, x, m, ff, false)
}

/// A truncation bound raised past the probabilistic method's: the exact method, so the result is
/// the same every run. (The bound is a promise |x| < 2^bits; a larger one is still true.)
pub fn exact_bound<R: Ring>(bits: u32) -> u32 {
    bits.max(cheap_bits::<R>() + 1)
}

/// [`normalize`]; with `exact`, the mantissa is truncated exactly (deterministic).
pub fn normalize_with<E: Engine, R: Ring>(
    e: &mut E,
    x: &E::A<R>,
    m: u32,
    ff: u32,
    exact: bool,
) -> Result<Normalized<E, R>> {
    let mu = m as usize;
    let bits = e.a2b(x, m)?;
    // suffix OR: y_j = OR_{i >= j} bit_i
    let mut y = bits;
    let mut s = 1;
    while s < mu {
        let a = e.b_select(&y, 0..mu - s);
        let b = e.b_select(&y, s..mu);
        let ab = e.b_and(&a, &b)?;
        let or = e.b_xor(&e.b_xor(&a, &b), &ab);
        let rest = e.b_select(&y, mu - s..mu);
        y = e.b_stack(&[&or, &rest]);
        s *= 2;
    }
    let n = e.len(x);
    let shifted = e.b_stack(&[&e.b_select(&y, 1..mu), &e.b_constant(&Planes::zeros(1, n))]);
    let onehot = e.b_xor(&y, &shifted);
    let w: Vec<R> = (0..m).map(|j| R::pow2(m - 1 - j)).collect();
    let c = e.b2a_weighted(&onehot, &w)?;
    let um = e.mul(x, &c)?; // exactly X * c in [2^(m-1), 2^m)
    let tb = if exact { exact_bound::<R>(m) } else { m };
    let u = if m > ff { e.trunc(&um, m - ff, tb)? } else { e.mul_public(&um, &[R::pow2(ff - m)]) };
    Ok(Normalized { u, onehot, c, m })
}

/// Replaces zeros by one ulp (local after one zero test and injection) so that functions of
/// positive inputs stay in range.
fn nonzero<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<E::A<R>> {
    let z = e.eqz(&x.share, x.bits)?;
    let za: E::A<R> = e.bits2a(&z)?;
    Ok(e.add(&x.share, &za))
}

/// Horner evaluation of sum c_i s^i, with s and the result at `ff` fraction bits; |s| <= 1 and
/// sum |c_i| <= 2, so every partial result stays below 2^(ff+2).
fn horner<E: Engine, R: Ring>(e: &mut E, coef: &[f64], s: &E::A<R>, ff: u32) -> Result<E::A<R>> {
    let d = coef.len() - 1;
    let mut h = e.trunc(&e.mul_public(s, &[enc(coef[d], ff)]), ff, 2 * ff + 2)?;
    h = e.add_public(&h, &[enc(coef[d - 1], ff)]);
    for i in (0..d - 1).rev() {
        h = e.mul_trunc(&h, s, ff, 2 * ff + 3)?;
        h = e.add_public(&h, &[enc(coef[i], ff)]);
    }
    Ok(h)
}

fn out<E: Engine, R: Ring>(share: E::A<R>, frac: u32, bits: u32, expr: String) -> Result<Num<E, R>> {
    check_bits::<R>(bits, 0, &expr)?;
    Ok(Num { share, frac, bits, expr })
}

/// 1/u for a mantissa u in [0.5, 1] at `ff` fraction bits: Newton's iteration y <- y (2 - u y)
/// from y0 = 2.9142 - 2u (relative error <= 0.0858, squared every step).
pub fn reciprocal_mantissa<E: Engine, R: Ring>(e: &mut E, u: &E::A<R>, ff: u32) -> Result<E::A<R>> {
    reciprocal_mantissa_with(e, u, ff, false)
}

/// [`reciprocal_mantissa`]; with `exact`, every truncation is exact (the same result every run).
pub fn reciprocal_mantissa_with<E: Engine, R: Ring>(e: &mut E, u: &E::A<R>, ff: u32, exact: bool) -> Result<E::A<R>> {
    let b = |bits: u32| if exact { exact_bound::<R>(bits) } else { bits };
    let mut y = e.add_public(&e.mul_public(u, &[R::from_i128(-2)]), &[enc(2.9142, ff)]);
    // the start's error 0.0858 squares each step: 3 steps reach 2^-28, 4 steps 2^-56
    let iters = if ff > 26 { 4 } else { 3 };
    for _ in 0..iters {
        let t = e.mul_trunc(u, &y, ff, b(2 * ff + 2))?;
        let two_minus = e.add_public(&e.neg(&t), &[enc(2.0, ff)]);
        y = e.mul_trunc(&y, &two_minus, ff, b(2 * ff + 2))?;
    }
    Ok(y)
}

/// 1/x for x > 0 given its normalisation (see [`reciprocal_mantissa`]).
/// Returns 1/x with `fo` fraction bits for x encoded with `f` fraction bits.
fn reciprocal_pos<E: Engine, R: Ring>(e: &mut E, x: &E::A<R>, m: u32, f: u32, fo: u32, expr: &str) -> Result<E::A<R>> {
    let ff = working_frac::<R>();
    check_bits::<R>(m + ff, 0, expr)?;
    let nz = normalize(e, x, m, ff)?;
    let y = reciprocal_mantissa(e, &nz.u, ff)?;
    // 1/x * 2^fo = c * y * 2^(f + fo - m - F)
    let p = e.mul(&nz.c, &y)?;
    let pb = nz.m + ff;
    let sh = pb as i64 - (f + fo) as i64;
    if sh > 0 { e.trunc(&p, sh as u32, pb) } else { Ok(e.mul_public(&p, &[R::pow2((-sh) as u32)])) }
}

/// 1/x with the fraction bits of x. Domain: x != 0 (see the module table).
pub fn reciprocal<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    let expr = format!("1 / {}", x.expr);
    let r = reciprocal_signed(e, x, x.frac, &expr)?;
    out(r, x.frac, 2 * x.frac + 2, expr)
}

/// 1/x at `fo` fraction bits (|1/x| <= 2^f, so the result is below 2^(f + fo + 1)).
fn reciprocal_signed<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>, fo: u32, expr: &str) -> Result<E::A<R>> {
    let f = x.frac;
    check_bits::<R>(f + fo + 2, 0, expr)?;
    let sign = e.msb(&x.share, x.bits)?;
    let sa: E::A<R> = e.bits2a(&sign)?;
    let sx = e.mul(&sa, &x.share)?;
    let absx = e.sub(&x.share, &e.mul_public(&sx, &[R::from_u64(2)]));
    let absn = Num { share: absx, ..x.clone() };
    let nzx = nonzero(e, &absn)?;
    let r = reciprocal_pos(e, &nzx, x.bits, f, fo, expr)?;
    let sr = e.mul(&sa, &r)?;
    Ok(e.sub(&r, &e.mul_public(&sr, &[R::from_u64(2)])))
}

/// a / b with the fraction bits of a. Domain: b != 0. The reciprocal of b is formed with as many
/// extra fraction bits as the ring allows, so the error is not multiplied by |a| at 2^-f.
pub fn div<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<Num<E, R>> {
    let expr = format!("({} / {})", a.expr, b.expr);
    // bits of a * (1/b at g fraction bits): a.bits + b.frac + g + 1 must stay cheap to truncate
    let room = cheap_bits::<R>().saturating_sub(a.bits + b.frac + 2);
    let g = room.min(working_frac::<R>()).max(b.frac);
    let r = reciprocal_signed(e, b, g, &expr)?;
    let rb = b.frac + g + 1;
    let pbits = a.bits + rb;
    check_bits::<R>(pbits, 0, &expr)?;
    let q = e.mul_trunc(&a.share, &r, g, pbits)?;
    out(q, a.frac, pbits - g + 1, expr)
}

/// Newton for 1/sqrt(u) on the mantissa: y <- y (3 - u y^2) / 2 from a shifted secant
/// (relative error <= 2.3%, then 1.5 e^2 per step).
pub fn invsqrt_mantissa<E: Engine, R: Ring>(e: &mut E, u: &E::A<R>, ff: u32) -> Result<E::A<R>> {
    invsqrt_mantissa_with(e, u, ff, false)
}

/// [`invsqrt_mantissa`]; with `exact`, every truncation is exact (the same result every run).
pub fn invsqrt_mantissa_with<E: Engine, R: Ring>(e: &mut E, u: &E::A<R>, ff: u32, exact: bool) -> Result<E::A<R>> {
    let b = |bits: u32| if exact { exact_bound::<R>(bits) } else { bits };
    // -0.8284 u needs a truncation: u is at F bits and so is the constant
    let slope = e.trunc(&e.mul_public(u, &[enc(-0.8284, ff)]), ff, b(2 * ff + 1))?;
    let mut y = e.add_public(&slope, &[enc(1.8016, ff)]);
    for _ in 0..if ff >= 40 { 4 } else { 3 } {
        let y2 = e.mul_trunc(&y, &y, ff, b(2 * ff + 2))?;
        let t = e.mul_trunc(u, &y2, ff, b(2 * ff + 3))?;
        let three_minus = e.add_public(&e.neg(&t), &[enc(3.0, ff)]);
        y = e.mul_trunc(&y, &three_minus, ff + 1, b(2 * ff + 3))?;
    }
    Ok(y)
}

/// 1/sqrt(x). Domain: x > 0 (0 is treated as one ulp).
pub fn invsqrt<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    let expr = format!("1 / sqrt({})", x.expr);
    let (f, m) = (x.frac, x.bits);
    let ff = working_frac::<R>();
    let nzx = nonzero(e, x)?;
    let nz = normalize(e, &nzx, m, ff)?;
    let y = invsqrt_mantissa(e, &nz.u, ff)?;
    // 1/sqrt(x) = y * 2^(-(j+1-f)/2) with j the position of the leading bit
    let g = cheap_bits::<R>().saturating_sub(ff + 3 + f.div_ceil(2));
    if g < 8 {
        return Err(MpcError::Range { expr, needed_bits: ff + 3 + f / 2 + 8, ring: R::NAME, max_bits: R::BITS });
    }
    let w: Vec<R> = (0..m).map(|j| enc((2f64).powf(-((j as f64) + 1.0 - f as f64) / 2.0), g)).collect();
    let q = e.b2a_weighted(&nz.onehot, &w)?;
    let r = e.mul_trunc(&y, &q, ff + g - f, ff + 2 + g + f.div_ceil(2))?;
    out(r, f, f + f.div_ceil(2) + 2, expr)
}

/// sqrt(x). Domain: x >= 0; sqrt(0) = 0 exactly. Deterministic: every truncation is exact, and
/// the power of two that undoes the normalisation carries as many bits as the ring allows, so the
/// relative error stays near 2^-(F-3) however small x is within its bound.
pub fn sqrt<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    let expr = format!("sqrt({})", x.expr);
    let (f, m) = (x.frac, x.bits);
    let ff = working_frac::<R>();
    let z = e.eqz(&x.share, x.bits)?;
    let za: E::A<R> = e.bits2a(&z)?;
    let nzx = e.add(&x.share, &za);
    let nz = normalize_with(e, &nzx, m, ff, true)?;
    let y = invsqrt_mantissa_with(e, &nz.u, ff, true)?;
    let s = e.mul_trunc(&nz.u, &y, ff, exact_bound::<R>(2 * ff + 2))?; // sqrt(u) at F
    let half = (m.saturating_sub(f)).div_ceil(2);
    // the product s q stays below 2^(ff + 2 + g + half), at most k - 3
    let g = (R::BITS - 3).saturating_sub(ff + 2 + half);
    if g < 8 {
        return Err(MpcError::Range { expr, needed_bits: ff + 2 + half + 8, ring: R::NAME, max_bits: R::BITS });
    }
    let w: Vec<R> = (0..m).map(|j| enc((2f64).powf(((j as f64) + 1.0 - f as f64) / 2.0), g)).collect();
    let q = e.b2a_weighted(&nz.onehot, &w)?;
    let r = e.mul_trunc(&s, &q, ff + g - f, exact_bound::<R>(ff + 2 + g + half))?;
    // zero in, zero out
    let keep = e.add_public(&e.neg(&za), &[R::ONE]);
    let r = e.mul(&r, &keep)?;
    out(r, f, f + half + 2, expr)
}

/// e^x. Domain: |x| < 2^r where r = bits - frac; refused when 2^r log2(e) is too large for the
/// ring. 2^(x log2 e) = 2^t * 2^k with k = floor(x log2 e) (or one more; the polynomial covers
/// t in [-1, 1]) and 2^k selected by a one-hot zero test over the public range of k.
pub fn exp<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    let expr = format!("exp({})", x.expr);
    let f = x.frac;
    let r = x.bits.saturating_sub(f);
    let kmax = ((2f64).powi(r as i32) * std::f64::consts::LOG2_E).ceil() as u32 + 1;
    // 2^t (< 2^(F+1)) times the exact integer 2^(k+kmax) (<= 2^(2 kmax)) must fit: cheaply (probabilistic
    // truncation) when possible, else with exact truncation up to the ring's signed limit
    let ff = working_frac::<R>().min(cheap_bits::<R>().saturating_sub(2 * kmax + 1));
    let ff = if ff >= 24 { ff } else { working_frac::<R>().min((R::BITS - 3).saturating_sub(2 * kmax + 1)) };
    if ff < 20 || ff + kmax < f {
        return Err(MpcError::Range { expr, needed_bits: 20 + 2 * kmax + 3, ring: R::NAME, max_bits: R::BITS });
    }
    let n = e.len(&x.share);
    // y = x log2 e at F bits
    let lc: R = enc(std::f64::consts::LOG2_E, ff);
    let y = e.trunc(&e.mul_public(&x.share, &[lc]), f, x.bits + ff + 1)?;
    let ybits = r + 1 + ff + 1;
    let k = e.trunc(&y, ff, ybits)?; // floor(y) or floor(y) + 1
    let t = e.sub(&y, &e.mul_public(&k, &[R::pow2(ff)])); // in [-1, 1) at F
    let p = horner(e, &EXP2_POLY, &t, ff)?;
    // one-hot of k over [-kmax, kmax]
    let span = 2 * kmax + 1;
    let kk = e.add_public(&k, &[R::from_u64(kmax as u64)]); // in [0, 2 kmax]
    let parts: Vec<E::A<R>> = (0..span).map(|j| e.add_public(&kk, &[R::from_i128(-(j as i128))])).collect();
    let refs: Vec<&E::A<R>> = parts.iter().collect();
    let all = e.concat(&refs);
    let lk = bits_for(span as f64) + 1;
    let hot = e.eqz(&all, lk)?;
    let hot_a: E::A<R> = e.bits2a(&hot)?;
    // q = 2^(k + kmax), an exact integer: no weight is rounded, however small 2^k is
    let mut q = e.constant(&vec![R::ZERO; n]);
    for j in 0..span as usize {
        let part = e.slice(&hot_a, j * n..(j + 1) * n);
        q = e.add(&q, &e.mul_public(&part, &[R::pow2(j as u32)]));
    }
    // e^x * 2^f = 2^t 2^F * 2^(k+kmax) / 2^(F + kmax - f)
    let res = e.mul_trunc(&p, &q, ff + kmax - f, ff + 1 + 2 * kmax + 1)?;
    out(res, f, kmax + f + 2, expr)
}

/// Natural logarithm. Domain: x > 0 (0 is treated as one ulp).
pub fn log<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    let expr = format!("ln({})", x.expr);
    let (f, m) = (x.frac, x.bits);
    let ff = working_frac::<R>();
    let nzx = nonzero(e, x)?;
    let nz = normalize(e, &nzx, m, ff)?;
    // s = 4u - 3 in [-1, 1]
    let s = e.add_public(&e.mul_public(&nz.u, &[R::from_u64(4)]), &[enc(-3.0, ff)]);
    let h = horner(e, &LN_POLY, &s, ff)?;
    let w: Vec<R> = (0..m).map(|j| enc(((j as f64) + 1.0 - f as f64) * std::f64::consts::LN_2, ff)).collect();
    let et = e.b2a_weighted(&nz.onehot, &w)?;
    let sum = e.add(&h, &et);
    let bound = ff + bits_for((m as f64 + 1.0) * 0.7) + 1;
    let res = e.trunc(&sum, ff - f, bound)?;
    out(res, f, bound - (ff - f) + 1, expr)
}

/// The logistic function 1 / (1 + e^-x). Domain: as `exp(-x)`.
pub fn sigmoid<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    let expr = format!("sigmoid({})", x.expr);
    let ex = exp(e, &x.neg(e))?;
    let den = ex.add_const(e, 1.0, "1")?;
    let r = reciprocal_pos(e, &den.share, den.bits, den.frac, den.frac, &expr)?;
    out(r, x.frac, x.frac + 2, expr)
}
