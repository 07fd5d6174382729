//! Checking that shared values lie in a public range without opening them: how the parties catch
//! a dealer (a provider that bypasses the client library) whose shares break the public bounds
//! every later circuit is sized by.
//!
//! For x and a range [lo, hi] with hi - lo < 2^(k-2): x is inside exactly when x - lo and hi - x
//! are both non-negative as signed k-bit integers. (The two sets {t : t - lo >= 0} and
//! {t : hi - t >= 0} are arcs of half the ring each; they overlap in [lo, hi] only.) The sign
//! bit of a k-bit value is its top bit, which the sign circuit computes for any ring element when
//! it is sized by the whole ring, so no promise about x is needed.

use mitsu_algebra::{Planes, Ring};
use mitsu_mpc_core::{Engine, MpcError, Result};

/// A boolean sharing (one plane, one element) of "every element of `x` lies in [lo, hi]".
///
/// Cost: one sign circuit over 2n elements sized by the whole ring (2 + ceil(log2 k) rounds,
/// about 3k AND gates per element), then an AND tree over the 2n results (ceil(log2 2n) rounds,
/// 2n AND gates). Reveals nothing.
pub fn all_within<E: Engine, R: Ring>(e: &mut E, x: &E::A<R>, lo: i128, hi: i128) -> Result<E::B> {
    if hi < lo || (hi - lo).unsigned_abs() >= 1u128 << (R::BITS - 2) {
        return Err(MpcError::invalid(format!("range [{lo}, {hi}] is too wide for {}", R::NAME)));
    }
    if e.len(x) == 0 {
        return Ok(e.b_constant(&ones(1)));
    }
    let t1 = e.add_public(x, &[R::from_i128(lo.wrapping_neg())]);
    let t2 = e.add_public(&e.neg(x), &[R::from_i128(hi)]);
    let both = e.concat(&[&t1, &t2]);
    let negative = e.msb(&both, R::BITS - 1)?;
    all(e, e.b_not(&negative))
}

/// The AND of all elements of a one-plane sharing.
pub fn all<E: Engine>(e: &mut E, mut b: E::B) -> Result<E::B> {
    loop {
        let n = e.b_shape(&b).1;
        if n <= 1 {
            return Ok(b);
        }
        let h = n / 2;
        let prod = e.b_and(&e.b_slice_elems(&b, 0..h), &e.b_slice_elems(&b, h..2 * h))?;
        b = if n % 2 == 1 { e.b_concat_elems(&prod, &e.b_slice_elems(&b, 2 * h..n)) } else { prod };
    }
}

fn ones(n: usize) -> Planes {
    let mut p = Planes::zeros(1, n);
    p.not_assign();
    p
}
