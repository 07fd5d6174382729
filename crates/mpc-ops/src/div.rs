//! Exact division of secret integers: `trunc(a / b)` toward zero, the same number every run.
//!
//! Long division in steps of L quotient bits against an approximate reciprocal of the divisor.
//! The divisor b is normalised by a secret power of two c (b c in [2^(m-1), 2^m)), Newton's
//! iteration gives y ~ 2^(F+m) / (b c) at F bits, and rc = y c ~ 2^(F+m) / b. Step s takes the
//! prefix P = floor(a / 2^(sL)) (a cheap truncation, off by at most one), subtracts what the
//! quotient so far accounts for, `cur = P - (Q 2^L) b`, and adds the estimate
//! `q = floor(cur rc / 2^(F+m))`. The remainder is never rounded: every estimate error only leaves
//! a larger remainder, which the next step divides. After the last step (prefix a itself)
//! `rem = a - Q b` lies in [-2b, 2b], and one stacked sign test moves Q to the exact floor.
//!
//! Bounds (proved beside the code, checked by the twin on every run of the tests): with
//! |rc b / 2^(F+m) - 1| <= 2^-(F-4) and L = F - 7, each step has |cur / b| < 2^(L+3), so
//! |cur / b - q| <= 2 and |rem| <= 2b; `cur rc` stays below 2^(2m + L + F + 3), which [`div_plan`]
//! keeps inside the ring. A divisor range too wide for that is refused by the planner.

use crate::func::{normalize, reciprocal_mantissa, working_frac};
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, MpcError, Result};

/// How `div_trunc` divides |a| < 2^abits by 0 < |b| < 2^bbits in ring `R`: the reciprocal's
/// working precision F and the quotient bits per step L; `None` when the ring is too narrow.
pub fn div_plan<R: Ring>(abits: u32, bbits: u32) -> Option<(u32, u32)> {
    let k = R::BITS;
    // the step's product needs 2 bbits + L + F + 4 = 2 bbits + 2F - 3 bits, at most k - 4
    let room = (k - 1).checked_sub(2 * bbits)? / 2;
    let ff = working_frac::<R>().min(room);
    if ff < 12 || abits + 2 > k - 2 || bbits + ff > k - 2 {
        return None;
    }
    Some((ff, ff - 7))
}

/// Steps (and so rounds, about 4 + 2 ceil(log2 F) per step) of a division: ceil(abits / L).
pub fn div_steps<R: Ring>(abits: u32, bbits: u32) -> Option<u32> {
    div_plan::<R>(abits, bbits).map(|(_, l)| abits.div_ceil(l).max(1))
}

/// trunc(a / b) toward zero, exactly, for |a| < 2^abits and 0 < |b| < 2^bbits (a zero divisor
/// gives an unspecified in-range result: callers replace it). Reveals nothing.
pub fn div_trunc<E: Engine, R: Ring>(
    e: &mut E,
    a: &E::A<R>,
    abits: u32,
    b: &E::A<R>,
    bbits: u32,
    expr: &str,
) -> Result<E::A<R>> {
    if div_plan::<R>(abits, bbits).is_none() {
        return Err(MpcError::Range {
            expr: expr.into(),
            needed_bits: 2 * bbits + 12,
            ring: R::NAME,
            max_bits: R::BITS,
        });
    }
    let n = e.len(a);
    if n == 0 {
        return Ok(a.clone());
    }
    // signs, then |a| and |b| with one stacked multiplication
    let ab = e.concat(&[a, b]);
    let neg = e.msb(&ab, abits.max(bbits))?;
    let s: E::A<R> = e.bits2a(&neg)?;
    let sab = e.mul(&s, &ab)?;
    let abs = e.sub(&ab, &e.mul_public(&sab, &[R::from_u64(2)]));
    let (pa, pb) = (e.slice(&abs, 0..n), e.slice(&abs, n..2 * n));
    let q = div_floor_pos(e, &pa, abits, &pb, bbits)?;
    // the quotient is negative where exactly one sign is
    let (sa, sb) = (e.slice(&s, 0..n), e.slice(&s, n..2 * n));
    let both = e.mul(&sa, &sb)?;
    let sq = e.sub(&e.add(&sa, &sb), &e.mul_public(&both, &[R::from_u64(2)]));
    let t = e.mul(&sq, &q)?;
    Ok(e.sub(&q, &e.mul_public(&t, &[R::from_u64(2)])))
}

/// floor(a / b) for 0 <= a < 2^abits and 1 <= b < 2^bbits.
pub fn div_floor_pos<E: Engine, R: Ring>(
    e: &mut E,
    a: &E::A<R>,
    abits: u32,
    b: &E::A<R>,
    bbits: u32,
) -> Result<E::A<R>> {
    let (ff, l) =
        div_plan::<R>(abits, bbits).ok_or_else(|| MpcError::invalid(format!("division of 2^{abits} by 2^{bbits}")))?;
    let n = e.len(a);
    let nz = normalize(e, b, bbits, ff)?;
    let y = reciprocal_mantissa(e, &nz.u, ff)?;
    let rc = e.mul(&y, &nz.c)?; // ~ 2^(ff + bbits) / b, below 2^(ff + bbits + 1)
    let cur_bits = bbits + l + 3;
    let prod_bits = cur_bits + ff + bbits + 1;
    let steps = abits.div_ceil(l).max(1);
    let mut q = e.constant(&vec![R::ZERO; n]);
    for s in (0..steps).rev() {
        let shift = s * l;
        let prefix = if shift == 0 { a.clone() } else { e.trunc(a, shift, abits)? };
        let q_up = e.mul_public(&q, &[R::pow2(l)]);
        let qb = e.mul(&q_up, b)?;
        let cur = e.sub(&prefix, &qb);
        let p = e.mul(&cur, &rc)?;
        let qi = e.trunc(&p, ff + bbits, prod_bits)?;
        q = e.add(&q_up, &qi);
    }
    // rem = a - q b in [-2b, 2b]: add b where rem < -b and where rem < 0, subtract it where
    // rem >= b and where rem >= 2b (one sign test over the four differences)
    let qb = e.mul(&q, b)?;
    let rem = e.sub(a, &qb);
    let b2 = e.mul_public(b, &[R::from_u64(2)]);
    let tests = e.concat(&[&e.add(&rem, b), &rem, &e.sub(&rem, b), &e.sub(&rem, &b2)]);
    let negs = e.msb(&tests, bbits + 3)?;
    let na: E::A<R> = e.bits2a(&negs)?;
    let part = |e: &E, i: usize| e.slice(&na, i * n..(i + 1) * n);
    // adjustment = [rem < -b] + [rem < 0] - [rem >= b] - [rem >= 2b]
    let down = e.add(&part(e, 0), &part(e, 1));
    let up = e.sub(&e.constant(&vec![R::from_u64(2); n]), &e.add(&part(e, 2), &part(e, 3)));
    Ok(e.sub(&q, &e.sub(&down, &up)))
}
