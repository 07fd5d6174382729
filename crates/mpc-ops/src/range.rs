//! Checking that shared values lie in a public range without opening them: how the parties catch
//! a dealer (a provider that bypasses the client library) whose shares break the public bounds
//! every later circuit is sized by.
//!
//! For x and a range [lo, hi] with hi - lo < 2^(k-2): x is inside exactly when x - lo and hi - x
//! are both non-negative as signed k-bit integers. (The two sets {t : t - lo >= 0} and
//! {t : hi - t >= 0} are arcs of half the ring each; they overlap in [lo, hi] only.) The sign
//! bit of a k-bit value is its top bit, which the sign circuit computes for any ring element when
//! it is sized by the whole ring, so no promise about x is needed.

use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, MpcError, Result};

/// A sharing (length 1) of a count that is 0 exactly when every element of `x` lies in
/// [lo, hi]: each element outside adds 1 or 2 (one per failed side), each inside adds 0.
///
/// Cost: one sign circuit over 2n elements sized by the whole ring (2 + ceil(log2 k) rounds,
/// about 3k AND gates per element) and one bit injection (2 rounds); local sums. Reveals nothing.
pub fn count_outside<E: Engine, R: Ring>(e: &mut E, x: &E::A<R>, lo: i128, hi: i128) -> Result<E::A<R>> {
    if hi < lo || (hi - lo).unsigned_abs() >= 1u128 << (R::BITS - 2) {
        return Err(MpcError::invalid(format!("range [{lo}, {hi}] is too wide for {}", R::NAME)));
    }
    let t1 = e.add_public(x, &[R::from_i128(lo.wrapping_neg())]);
    let t2 = e.add_public(&e.neg(x), &[R::from_i128(hi)]);
    let both = e.concat(&[&t1, &t2]);
    let negative = e.msb(&both, R::BITS - 1)?;
    let ones = e.bits2a::<R>(&negative)?;
    Ok(e.sum(&ones))
}
