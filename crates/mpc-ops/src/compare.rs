//! Comparisons, selection and min/max on [`Num`]s.
//!
//! Every comparison is the sign or zero test of a difference whose bound is known, so the circuit
//! has only as many bits as the bound: `lt` on values below 2^25 is a 27-bit circuit
//! (2 + ceil(log2 26) rounds), `eq` on 32-bit integers a 33-bit AND tree. They reveal nothing.

use crate::num::{Num, check_bits};
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, Result};

/// [a < b] as one boolean plane.
pub fn lt<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<E::B> {
    let d = a.sub(e, b)?;
    check_bits::<R>(d.bits, 0, &format!("({} < {})", a.expr, b.expr))?;
    e.msb(&d.share, d.bits)
}

/// [a > b].
pub fn gt<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<E::B> {
    lt(e, b, a)
}

/// [a <= b].
pub fn le<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<E::B> {
    let g = lt(e, b, a)?;
    Ok(e.b_not(&g))
}

/// [a >= b].
pub fn ge<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<E::B> {
    let l = lt(e, a, b)?;
    Ok(e.b_not(&l))
}

/// [a == b].
pub fn eq<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<E::B> {
    let d = a.sub(e, b)?;
    e.eqz(&d.share, d.bits)
}

/// c ? x : y for a secret bit c: y + c (x - y). 3 rounds (bit injection, then one
/// multiplication). Reveals nothing.
pub fn select<E: Engine, R: Ring>(e: &mut E, c: &E::B, x: &Num<E, R>, y: &Num<E, R>) -> Result<Num<E, R>> {
    let diff = x.sub(e, y)?;
    let y = y.rescale_up(e, diff.frac)?;
    let ca: E::A<R> = e.bits2a(c)?;
    let t = e.mul(&ca, &diff.share)?;
    Ok(Num {
        share: e.add(&y.share, &t),
        frac: diff.frac,
        bits: diff.bits - 1,
        expr: format!("select({}, {})", x.expr, y.expr),
    })
}

fn min_max<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<(Num<E, R>, Num<E, R>)> {
    let c = lt(e, a, b)?;
    let diff = a.sub(e, b)?;
    let (a2, b2) = (a.rescale_up(e, diff.frac)?, b.rescale_up(e, diff.frac)?);
    let ca: E::A<R> = e.bits2a(&c)?;
    let t = e.mul(&ca, &diff.share)?; // c (a - b)
    let bits = diff.bits - 1;
    Ok((
        Num { share: e.add(&b2.share, &t), frac: diff.frac, bits, expr: format!("min({}, {})", a.expr, b.expr) },
        Num { share: e.sub(&a2.share, &t), frac: diff.frac, bits, expr: format!("max({}, {})", a.expr, b.expr) },
    ))
}

/// Element-wise minimum.
pub fn min<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<Num<E, R>> {
    Ok(min_max(e, a, b)?.0)
}

/// Element-wise maximum.
pub fn max<E: Engine, R: Ring>(e: &mut E, a: &Num<E, R>, b: &Num<E, R>) -> Result<Num<E, R>> {
    Ok(min_max(e, a, b)?.1)
}

fn reduce<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>, take_min: bool) -> Result<Num<E, R>> {
    let mut cur = x.clone();
    let name = format!("{}({})", if take_min { "minimum" } else { "maximum" }, x.expr);
    let mut n = e.len(&cur.share);
    if n == 0 {
        return Err(mitsu_mpc_core::MpcError::invalid(format!("{name} of an empty vector")));
    }
    while n > 1 {
        let h = n / 2;
        let lo = Num { share: e.slice(&cur.share, 0..h), ..cur.clone() };
        let hi = Num { share: e.slice(&cur.share, h..2 * h), ..cur.clone() };
        let (mn, mx) = min_max(e, &lo, &hi)?;
        let mut next = if take_min { mn } else { mx };
        if n % 2 == 1 {
            let last = e.slice(&cur.share, n - 1..n);
            next.share = e.concat(&[&next.share, &last]);
        }
        next.bits = cur.bits;
        cur = next;
        n = h + n % 2;
    }
    cur.expr = name;
    Ok(cur)
}

/// Minimum over the vector: a tree of ceil(log2 n) comparison-and-select levels, n-1 comparisons.
pub fn minimum<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    reduce(e, x, true)
}

/// Maximum over the vector.
pub fn maximum<E: Engine, R: Ring>(e: &mut E, x: &Num<E, R>) -> Result<Num<E, R>> {
    reduce(e, x, false)
}
