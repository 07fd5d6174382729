//! Secret floating point for the few scalars a statistic is finished from.
//!
//! Why: the sufficient statistics of a test (sums of powers and products) are exact integers whose
//! magnitude depends on the data, while the statistic itself (a correlation, an F ratio, a
//! regression coefficient) is scale free. Fixed point would need a public scale chosen from the
//! public column bounds and would lose every digit the data do not use of that range; a secret
//! exponent keeps 40 significant bits whatever the scale. Values are vectors (one operation
//! handles every element at once); each operation costs a few dozen rounds, which is nothing for
//! the handful of scalars it is used on.
//!
//! Representation of x: sign bit s, mantissa m with |x| = m / 2^F * 2^e and m in [2^(F-1), 2^F),
//! exponent e, zero flag z (all arithmetic shares). Zero is canonical: s = 0, m = 0, e = ZERO_EXP,
//! z = 1, so opening a value reveals the value and nothing else (no trace of how it was computed).
//! Relative error per operation: about 2^-38.

use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, MpcError, Result};
use mitsu_mpc_ops::{exact_bound, invsqrt_mantissa_with, normalize_with, reciprocal_mantissa_with};

/// Every truncation here is exact: a statistic comes out the same, to the last bit, every run.
fn xb<R: Ring>(bits: u32) -> u32 {
    exact_bound::<R>(bits)
}

/// Mantissa fraction bits.
pub const F: u32 = 40;
/// Exponent of zero: below every exponent a non-zero value reaches, so it loses every alignment.
pub const ZERO_EXP: i128 = -4096;
/// Exponents and their differences stay below 2^14 in magnitude.
const EXP_BITS: u32 = 15;

/// A vector of secret floating-point numbers (see the module documentation).
pub struct Flt<E: Engine, R: Ring> {
    pub s: E::A<R>,
    pub m: E::A<R>,
    pub e: E::A<R>,
    pub z: E::A<R>,
}

impl<E: Engine, R: Ring> Clone for Flt<E, R> {
    fn clone(&self) -> Self {
        Flt { s: self.s.clone(), m: self.m.clone(), e: self.e.clone(), z: self.z.clone() }
    }
}

impl<E: Engine, R: Ring> std::fmt::Debug for Flt<E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flt")
    }
}

fn ri<R: Ring>(v: i128) -> R {
    R::from_i128(v)
}

fn enc<R: Ring>(x: f64, frac: u32) -> R {
    R::from_i128((x * (2f64).powi(frac as i32)).round() as i128)
}

/// The value of an opened (s, m, e).
pub fn decode(s: i128, m: i128, e: i128) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let v = (m as f64) * (2f64).powi((e - F as i128) as i32);
    if s == 1 { -v } else { v }
}

/// Splits a public f64 into mantissa in [0.5, 1) and exponent.
fn frexp(c: f64) -> (f64, i32) {
    if c == 0.0 || !c.is_finite() {
        return (0.0, 0);
    }
    let mut e = c.abs().log2().floor() as i32 + 1;
    let mut m = c.abs() / (2f64).powi(e);
    // log2 may be off by one at powers of two
    while m >= 1.0 {
        m /= 2.0;
        e += 1;
    }
    while m < 0.5 {
        m *= 2.0;
        e -= 1;
    }
    (m, e)
}

impl<E: Engine, R: Ring> Flt<E, R> {
    pub fn len(&self, e: &E) -> usize {
        e.len(&self.m)
    }

    pub fn is_empty(&self, e: &E) -> bool {
        self.len(e) == 0
    }

    /// Public constants.
    pub fn constant(e: &E, vals: &[f64]) -> Self {
        let mut s = Vec::new();
        let mut m = Vec::new();
        let mut ex = Vec::new();
        let mut z = Vec::new();
        for &v in vals {
            let (mm, ee) = frexp(v);
            let zero = mm == 0.0;
            s.push(R::from_u64((v < 0.0 && !zero) as u64));
            m.push(if zero { R::ZERO } else { enc(mm, F) });
            ex.push(if zero { ri(ZERO_EXP) } else { ri(ee as i128) });
            z.push(R::from_u64(zero as u64));
        }
        Flt { s: e.constant(&s), m: e.constant(&m), e: e.constant(&ex), z: e.constant(&z) }
    }

    /// Fixed-point values x / 2^frac with |x| < 2^bits.
    pub fn from_fixed(e: &mut E, x: &E::A<R>, bits: u32, frac: u32) -> Result<Self> {
        if bits + 2 > R::BITS || bits == 0 {
            return Err(MpcError::invalid(format!("float conversion of a {bits}-bit value in {}", R::NAME)));
        }
        let k = e.len(x);
        let sign = e.msb(x, bits + 1)?;
        let zb = e.eqz(x, bits + 1)?;
        let both = e.b_stack(&[&sign, &zb]);
        let sz: E::A<R> = e.bits2a(&both)?;
        let (sa, za) = (e.slice(&sz, 0..k), e.slice(&sz, k..2 * k));
        let sx = e.mul(&sa, x)?;
        let absx = e.sub(x, &e.mul_public(&sx, &[R::from_u64(2)]));
        // zero becomes one ulp so that normalisation has a leading bit; masked below
        let nzx = e.add(&absx, &za);
        let nz = normalize_with(e, &nzx, bits, F, true)?;
        let w: Vec<R> = (0..bits).map(|j| ri(j as i128 + 1 - frac as i128)).collect();
        let ex = e.b2a_weighted(&nz.onehot, &w)?;
        finish(e, nz.u, ex, sa, za)
    }

    /// x 2^frac rounded toward minus infinity to an integer share, for |x| < 2^maxb, and one
    /// bit per element that is 1 where |x| >= 2^maxb (the integer is 0 there: the caller falls
    /// back to the float). |result| < 2^(maxb + frac) <= 2^125.
    pub fn to_fixed(&self, e: &mut E, frac: u32, maxb: u32) -> Result<(E::A<R>, E::A<R>)> {
        let top = maxb + frac;
        if top.max(2 * F) + 3 > R::BITS {
            return Err(MpcError::invalid(format!("fixed-point conversion to {top} bits in {}", R::NAME)));
        }
        let k = self.len(e);
        // x 2^frac = m 2^(t - F) with t = e + frac: (m 2^t) >> F for t <= F, m 2^(t - F) above
        // (exact), and 0 for t <= 0
        let cands: Vec<E::A<R>> = (1..=top).map(|t| e.add_public(&self.e, &[ri(frac as i128 - t as i128)])).collect();
        let hot = e.eqz(&e.concat(&cands.iter().collect::<Vec<_>>()), EXP_BITS + 1)?;
        let hot: E::A<R> = e.bits2a(&hot)?;
        let (mut lo, mut hi) = (e.constant(&vec![R::ZERO; k]), e.constant(&vec![R::ZERO; k]));
        for t in 1..=top {
            let h = e.slice(&hot, (t as usize - 1) * k..t as usize * k);
            if t <= F {
                lo = e.add(&lo, &e.mul_public(&h, &[R::pow2(t)]));
            } else {
                hi = e.add(&hi, &e.mul_public(&h, &[R::pow2(t - F)]));
            }
        }
        let big = e.msb(&e.add_public(&e.neg(&self.e), &[ri(maxb as i128)]), EXP_BITS + 1)?;
        let big: E::A<R> = e.bits2a(&big)?;
        let sm = e.mul(&self.s, &self.m)?;
        let signed = e.sub(&self.m, &e.mul_public(&sm, &[R::from_u64(2)]));
        let x = e.mul(&e.concat(&[&signed, &signed]), &e.concat(&[&lo, &hi]))?;
        let low = e.trunc(&e.slice(&x, 0..k), F, xb::<R>(2 * F + 1))?;
        Ok((e.add(&low, &e.slice(&x, k..2 * k)), big))
    }

    /// Exact integers with |x| < 2^bits.
    pub fn from_int(e: &mut E, x: &E::A<R>, bits: u32) -> Result<Self> {
        Self::from_fixed(e, x, bits, 0)
    }

    /// Elements `range`.
    pub fn slice(&self, e: &E, range: std::ops::Range<usize>) -> Self {
        Flt {
            s: e.slice(&self.s, range.clone()),
            m: e.slice(&self.m, range.clone()),
            e: e.slice(&self.e, range.clone()),
            z: e.slice(&self.z, range),
        }
    }

    pub fn concat(e: &E, parts: &[&Self]) -> Self {
        let c = |f: fn(&Self) -> &E::A<R>| e.concat(&parts.iter().map(|p| f(p)).collect::<Vec<_>>());
        Flt { s: c(|p| &p.s), m: c(|p| &p.m), e: c(|p| &p.e), z: c(|p| &p.z) }
    }

    /// `out[i] = self[idx[i]]`.
    pub fn gather(&self, e: &E, idx: &[u32]) -> Self {
        Flt {
            s: e.gather(&self.s, idx),
            m: e.gather(&self.m, idx),
            e: e.gather(&self.e, idx),
            z: e.gather(&self.z, idx),
        }
    }

    /// -x (local).
    pub fn neg(&self, e: &E) -> Self {
        // 1 - s for non-zero values, 0 for zero (s = 0 there)
        let s = e.add_public(&e.neg(&e.add(&self.s, &self.z)), &[R::ONE]);
        Flt { s, ..self.clone() }
    }

    pub fn mul(&self, e: &mut E, o: &Self) -> Result<Self> {
        let k = self.len(e);
        let p = e.mul_trunc(&self.m, &o.m, F, xb::<R>(2 * F + 2))?;
        let f = Self::from_fixed(e, &p, F + 2, F)?;
        let lhs = e.concat(&[&self.z, &self.s]);
        let rhs = e.concat(&[&o.z, &o.s]);
        let prod = e.mul(&lhs, &rhs)?;
        let z = e.sub(&e.add(&self.z, &o.z), &e.slice(&prod, 0..k));
        let s2 = e.mul_public(&e.slice(&prod, k..2 * k), &[R::from_u64(2)]);
        let s = e.sub(&e.add(&self.s, &o.s), &s2);
        let ex = e.add(&f.e, &e.add(&self.e, &o.e));
        finish(e, f.m, ex, s, z)
    }

    /// x / y; x / 0 gives 0 (callers that can meet a zero divisor test for it themselves).
    pub fn div(&self, e: &mut E, o: &Self) -> Result<Self> {
        let k = self.len(e);
        // a zero divisor's mantissa is 0; give it 1/2 so the iteration stays in range
        let u = e.add(&o.m, &e.mul_public(&o.z, &[R::pow2(F - 1)]));
        let y = reciprocal_mantissa_with(e, &u, F, true)?;
        let q = e.mul_trunc(&self.m, &y, F, xb::<R>(2 * F + 3))?;
        let f = Self::from_fixed(e, &q, F + 2, F)?;
        let prod = e.mul(&e.concat(&[&self.s, &self.z]), &e.concat(&[&o.s, &o.z]))?;
        let ss = e.slice(&prod, 0..k);
        let s = e.sub(&e.add(&self.s, &o.s), &e.mul_public(&ss, &[R::from_u64(2)]));
        let z = e.sub(&e.add(&self.z, &o.z), &e.slice(&prod, k..2 * k));
        let ex = e.add(&f.e, &e.sub(&self.e, &o.e));
        finish(e, f.m, ex, s, z)
    }

    /// sqrt(x) for x >= 0 (the sign is dropped).
    pub fn sqrt(&self, e: &mut E) -> Result<Self> {
        let k = self.len(e);
        // zero's mantissa is 0; give it 1/2 so the iteration stays in range, masked below
        let u = e.add(&self.m, &e.mul_public(&self.z, &[R::pow2(F - 1)]));
        let iy = invsqrt_mantissa_with(e, &u, F, true)?;
        let sq = e.mul_trunc(&u, &iy, F, xb::<R>(2 * F + 2))?;
        let sq_odd = e.trunc(&e.mul_public(&sq, &[enc(std::f64::consts::FRAC_1_SQRT_2, F)]), F, xb::<R>(2 * F + 1))?;
        let off = 1i128 << (EXP_BITS - 2);
        let eo = e.add_public(&self.e, &[ri(off)]);
        let bits = e.a2b(&eo, EXP_BITS - 1)?;
        let mut w = vec![R::ZERO];
        w.extend((0..EXP_BITS - 2).map(R::pow2));
        let half = e.b2a_weighted(&bits, &w)?;
        let odd: E::A<R> = e.bits2a(&e.b_select(&bits, 0..1))?;
        let pick = e.mul(&odd, &e.sub(&sq_odd, &sq))?;
        let m = e.add(&sq, &pick);
        let ex = e.add_public(&e.add(&half, &odd), &[ri(-off / 2)]);
        let zero = e.constant(&vec![R::ZERO; k]);
        finish(e, m, ex, zero, self.z.clone())
    }

    /// x * c for a public c per element (length 1 broadcasts).
    pub fn mul_const(&self, e: &mut E, c: &[f64]) -> Result<Self> {
        let k = self.len(e);
        let c: Vec<f64> = if c.len() == 1 { vec![c[0]; k] } else { c.to_vec() };
        self.mul(e, &Self::constant(e, &c))
    }

    /// x + y: the operand with the smaller exponent is shifted by the secret difference (chosen
    /// by a one-hot over 0..=F+2; beyond that it does not reach the result's 40 bits).
    pub fn add(&self, e: &mut E, o: &Self) -> Result<Self> {
        let k = self.len(e);
        let lt = e.msb(&e.sub(&self.e, &o.e), EXP_BITS)?;
        let g: E::A<R> = e.bits2a(&lt)?; // 1 where o is the bigger
        let g3 = e.concat(&[&g, &g, &g]);
        let a3 = e.concat(&[&self.m, &self.e, &self.s]);
        let b3 = e.concat(&[&o.m, &o.e, &o.s]);
        let pick = e.mul(&g3, &e.sub(&b3, &a3))?;
        let big = e.add(&a3, &pick);
        let small = e.sub(&e.add(&a3, &b3), &big);
        let (bm, be, bs) = (e.slice(&big, 0..k), e.slice(&big, k..2 * k), e.slice(&big, 2 * k..3 * k));
        let (sm, se, ss) = (e.slice(&small, 0..k), e.slice(&small, k..2 * k), e.slice(&small, 2 * k..3 * k));
        let d = e.sub(&be, &se);
        let dmax = F + 2;
        let cands: Vec<E::A<R>> = (0..=dmax).map(|v| e.add_public(&d, &[ri(-(v as i128))])).collect();
        let hot = e.eqz(&e.concat(&cands.iter().collect::<Vec<_>>()), EXP_BITS + 1)?;
        let hot: E::A<R> = e.bits2a(&hot)?;
        let mut w = e.constant(&vec![R::ZERO; k]);
        for v in 0..=dmax {
            let h = e.slice(&hot, v as usize * k..(v as usize + 1) * k);
            w = e.add(&w, &e.mul_public(&h, &[R::pow2(dmax - v)]));
        }
        // signed mantissas, the big one at 2^dmax, the small one shifted by 2^(dmax - d)
        let sgn = e.mul(&e.concat(&[&bs, &ss]), &e.concat(&[&bm, &sm]))?;
        let two = [R::from_u64(2)];
        let bsm = e.sub(&bm, &e.mul_public(&e.slice(&sgn, 0..k), &two));
        let ssm = e.sub(&sm, &e.mul_public(&e.slice(&sgn, k..2 * k), &two));
        let sh = e.mul(&ssm, &w)?;
        let sum = e.add(&e.mul_public(&bsm, &[R::pow2(dmax)]), &sh);
        let f = Self::from_fixed(e, &sum, F + dmax + 2, F + dmax)?;
        let ex = e.add(&f.e, &be);
        finish(e, f.m, ex, f.s, f.z)
    }

    /// The sum of all elements (length 1), by pairwise additions: ceil(log2 k) additions deep.
    pub fn total(&self, e: &mut E) -> Result<Self> {
        let mut v = self.clone();
        let mut k = v.len(e);
        if k == 0 {
            return Ok(Self::constant(e, &[0.0]));
        }
        while k > 1 {
            let h = k / 2;
            let (a, b) = (v.slice(e, 0..h), v.slice(e, h..2 * h));
            let s = a.add(e, &b)?;
            v = if k % 2 == 1 { Self::concat(e, &[&s, &v.slice(e, 2 * h..k)]) } else { s };
            k = h + k % 2;
        }
        Ok(v)
    }

    pub fn sub(&self, e: &mut E, o: &Self) -> Result<Self> {
        self.add(e, &o.neg(e))
    }

    /// Layout for opening: s, m, e (each of the vector's length).
    pub fn parts(&self, e: &E) -> E::A<R> {
        e.concat(&[&self.s, &self.m, &self.e])
    }

    /// Opens to every party (tests and the few values a kernel must make public anyway).
    pub fn open(&self, e: &mut E, why: mitsu_mpc_core::Reveal) -> Result<Vec<f64>> {
        let v = e.open(&self.parts(e), why)?;
        let k = v.len() / 3;
        Ok((0..k).map(|i| decode(v[i].to_i128(), v[k + i].to_i128(), v[2 * k + i].to_i128())).collect())
    }
}

/// Canonical zeros: where z, s = 0, m = 0, e = ZERO_EXP.
fn finish<E: Engine, R: Ring>(e: &mut E, m: E::A<R>, ex: E::A<R>, s: E::A<R>, z: E::A<R>) -> Result<Flt<E, R>> {
    let k = e.len(&m);
    let nz = e.add_public(&e.neg(&z), &[R::ONE]);
    let exz = e.add_public(&ex, &[ri(-ZERO_EXP)]);
    let prod = e.mul(&e.concat(&[&nz, &nz, &nz]), &e.concat(&[&m, &exz, &s]))?;
    Ok(Flt {
        m: e.slice(&prod, 0..k),
        e: e.add_public(&e.slice(&prod, k..2 * k), &[ri(ZERO_EXP)]),
        s: e.slice(&prod, 2 * k..3 * k),
        z,
    })
}
