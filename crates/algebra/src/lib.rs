//! Arithmetic that every other mitsu crate builds on: the rings Z_2^64 and Z_2^128 behind one
//! trait ([`Ring`]), fixed-point encoding with an explicit scale and a declared magnitude bound
//! ([`FixedPoint`]), and bit-sliced boolean vectors ([`Planes`]).
//!
//! The one design decision to know: ring elements wrap (that is what the protocols need), so
//! *every* conversion from a real or integer value checks the declared bound first. A value that
//! does not fit is an [`EncodeError`], never a silently wrapped element.

mod bits;
mod fixed;
mod ring;

pub use bits::{Planes, transpose64};
pub use fixed::{EncodeError, FixedPoint};
pub use ring::Ring;
