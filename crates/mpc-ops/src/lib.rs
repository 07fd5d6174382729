//! Building blocks written once against [`mitsu_mpc_core::Engine`], so they run on the replicated
//! protocol and on the plaintext twin alike.
//!
//! The design decision to know: values travel as [`Num`]: a share plus its public fixed-point
//! format (fraction bits and a magnitude bound) and the expression that produced it. Every
//! operation derives the bound of its result and refuses, with an error naming the expression,
//! when the bound would not fit the ring. Comparison circuits are sized by the same bounds, so a
//! tight range is both safer and faster.

mod compare;
mod div;
mod func;
mod group;
mod join;
mod num;
mod range;
mod sort;

pub use compare::{eq, ge, gt, le, lt, max, maximum, min, minimum, select};
pub use div::{div_floor_pos, div_plan, div_steps, div_trunc};
pub use func::{
    Normalized, div, exact_bound, exp, invsqrt, invsqrt_mantissa, invsqrt_mantissa_with, log, normalize,
    normalize_with, reciprocal, reciprocal_mantissa, reciprocal_mantissa_with, sigmoid, sqrt, working_frac,
};
pub use group::{Groups, group_sum, segment_starts, segmented_extremum, segmented_sum};
pub use join::{JoinSide, Joined, equi_join};
pub use num::{Num, check_bits};
pub use range::{all, all_within};
pub use sort::sort_by_key;
