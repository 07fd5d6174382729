//! The [`Engine`] trait: the kernels a protocol provides. Building blocks (comparisons, fixed-point
//! functions, shuffle-based sort, …) are written once against it in `mitsu-mpc-ops` and run on both
//! the replicated protocol (`mitsu-mpc-rep3`) and its plaintext twin (`mitsu-mpc-ref`).
//!
//! Conventions shared by every implementation:
//! * arithmetic shares `A<R>` are vectors over the ring `R`; boolean shares `B` are bit-sliced
//!   planes (see `mitsu_algebra::Planes`);
//! * all parties call the same methods in the same order with the same public arguments;
//! * "bits" arguments are public magnitude bounds: the caller promises |x| < 2^bits (the twin checks
//!   the promise and fails loudly when it is broken, which is how range-analysis bugs surface).

use crate::{CommStats, Opened, PartyId, Result, Reveal};
use mitsu_algebra::{Planes, Ring};
use std::fmt::Debug;

pub trait Engine: Send {
    /// An arithmetic-shared vector over `R`.
    type A<R: Ring>: Clone + Send + Sync + Debug + 'static;
    /// A boolean-shared bit-sliced value (`nplanes` planes over `n` elements).
    type B: Clone + Send + Sync + Debug;

    /// This party (the twin reports party 0).
    fn id(&self) -> PartyId;
    /// Communication so far.
    fn stats(&self) -> CommStats;

    // ---- sharing and opening -------------------------------------------------------------
    /// Secret-shares `values`, known to `owner` only (others pass `None`), of length `n`.
    fn input<R: Ring>(&mut self, owner: PartyId, values: Option<&[R]>, n: usize) -> Result<Self::A<R>>;
    /// Boolean input of `nplanes x n` planes from `owner`.
    fn input_b(&mut self, owner: PartyId, values: Option<&Planes>, nplanes: usize, n: usize) -> Result<Self::B>;
    /// Opens to every party. Reveals the values; `why` names what they are and is recorded.
    fn open<R: Ring>(&mut self, x: &Self::A<R>, why: Reveal) -> Result<Vec<R>>;
    /// Opens to `to` only; the others get `None` and learn nothing. Recorded.
    fn open_to<R: Ring>(&mut self, x: &Self::A<R>, to: PartyId, why: Reveal) -> Result<Option<Vec<R>>>;
    /// Opens boolean shares to every party. Recorded.
    fn open_b(&mut self, x: &Self::B, why: Reveal) -> Result<Planes>;
    /// Every opening so far, in order (consecutive ones of a kind merged).
    fn opened(&self) -> &[Opened];

    // ---- local arithmetic (no communication) ---------------------------------------------
    fn len<R: Ring>(&self, x: &Self::A<R>) -> usize;
    /// A sharing of public values (no randomness: everyone knows them anyway).
    fn constant<R: Ring>(&self, c: &[R]) -> Self::A<R>;
    fn add<R: Ring>(&self, a: &Self::A<R>, b: &Self::A<R>) -> Self::A<R>;
    fn sub<R: Ring>(&self, a: &Self::A<R>, b: &Self::A<R>) -> Self::A<R>;
    fn neg<R: Ring>(&self, a: &Self::A<R>) -> Self::A<R>;
    /// Adds public values (`c` of length 1 is broadcast).
    fn add_public<R: Ring>(&self, a: &Self::A<R>, c: &[R]) -> Self::A<R>;
    /// Multiplies by public values (`c` of length 1 is broadcast).
    fn mul_public<R: Ring>(&self, a: &Self::A<R>, c: &[R]) -> Self::A<R>;
    /// `out[i] = a[idx[i]]` for a public index list (a public permutation or selection).
    fn gather<R: Ring>(&self, a: &Self::A<R>, idx: &[u32]) -> Self::A<R>;
    fn slice<R: Ring>(&self, a: &Self::A<R>, range: std::ops::Range<usize>) -> Self::A<R>;
    fn concat<R: Ring>(&self, parts: &[&Self::A<R>]) -> Self::A<R>;
    /// Sum of all elements (length 1).
    fn sum<R: Ring>(&self, a: &Self::A<R>) -> Self::A<R>;
    /// Inclusive prefix sums.
    fn prefix_sum<R: Ring>(&self, a: &Self::A<R>) -> Self::A<R>;

    // ---- interactive arithmetic ----------------------------------------------------------
    /// Element-wise product.
    fn mul<R: Ring>(&mut self, a: &Self::A<R>, b: &Self::A<R>) -> Result<Self::A<R>>;
    /// Inner products: `out[j] = sum_i a[j][i] * b[j][i]`, at the cost of one multiplication each.
    fn dot<R: Ring>(&mut self, pairs: &[(&Self::A<R>, &Self::A<R>)]) -> Result<Self::A<R>>;
    /// Matrix product of `a` (m x k, row-major) and `b` (k x n): m*n elements.
    fn matmul<R: Ring>(&mut self, a: &Self::A<R>, b: &Self::A<R>, m: usize, k: usize, n: usize) -> Result<Self::A<R>>;
    /// Per element, `out[i] = sum_l coef[l] * cols[l][i]` (secret coefficients, columns of one
    /// length): one multiplication per element however many columns, and no copy of them.
    fn lincomb<R: Ring>(&mut self, coef: &Self::A<R>, cols: &[&Self::A<R>]) -> Result<Self::A<R>>;
    /// floor(x / 2^shift), possibly + 1 when the probabilistic method is used (only where its
    /// failure probability is below 2^-40). Requires |x| < 2^bits.
    fn trunc<R: Ring>(&mut self, x: &Self::A<R>, shift: u32, bits: u32) -> Result<Self::A<R>>;
    /// `trunc(a * b, shift)` fused; `bits` bounds the product.
    fn mul_trunc<R: Ring>(&mut self, a: &Self::A<R>, b: &Self::A<R>, shift: u32, bits: u32) -> Result<Self::A<R>>;
    /// Lifts Z_2^64 shares to Z_2^128. Requires |x| < 2^bits.
    fn extend(&mut self, x: &Self::A<u64>, bits: u32) -> Result<Self::A<u128>>;
    /// Z_2^128 shares reduced mod 2^64: local (every component reduced), exact for |x| < 2^63.
    fn reduce64(&self, x: &Self::A<u128>) -> Self::A<u64>;

    // ---- conversions ---------------------------------------------------------------------
    /// The sign bit of x (1 when x < 0) as one plane. Requires |x| < 2^bits.
    fn msb<R: Ring>(&mut self, x: &Self::A<R>, bits: u32) -> Result<Self::B>;
    /// 1 where x == 0, as one plane. Requires |x| < 2^bits.
    fn eqz<R: Ring>(&mut self, x: &Self::A<R>, bits: u32) -> Result<Self::B>;
    /// The low `nbits` bits of x as planes (bit decomposition).
    fn a2b<R: Ring>(&mut self, x: &Self::A<R>, nbits: u32) -> Result<Self::B>;
    /// The unsigned integer sum_p 2^p * plane_p, reduced mod 2^k.
    fn b2a<R: Ring>(&mut self, x: &Self::B) -> Result<Self::A<R>>;
    /// sum_p weights[p] * plane_p (mod 2^k) for public weights: one-hot selections of public
    /// constants, exponent factors, positional values.
    fn b2a_weighted<R: Ring>(&mut self, x: &Self::B, weights: &[R]) -> Result<Self::A<R>>;
    /// Every plane injected separately as 0/1 values: output has nplanes * n elements, plane-major.
    fn bits2a<R: Ring>(&mut self, x: &Self::B) -> Result<Self::A<R>>;

    // ---- boolean -------------------------------------------------------------------------
    /// (nplanes, n).
    fn b_shape(&self, x: &Self::B) -> (usize, usize);
    fn b_constant(&self, p: &Planes) -> Self::B;
    fn b_xor(&self, a: &Self::B, b: &Self::B) -> Self::B;
    fn b_not(&self, a: &Self::B) -> Self::B;
    fn b_and(&mut self, a: &Self::B, b: &Self::B) -> Result<Self::B>;
    fn b_select(&self, a: &Self::B, planes: std::ops::Range<usize>) -> Self::B;
    fn b_stack(&self, parts: &[&Self::B]) -> Self::B;
    /// Elements `range` of every plane.
    fn b_slice_elems(&self, a: &Self::B, range: std::ops::Range<usize>) -> Self::B;
    /// The elements of `a` followed by those of `b`.
    fn b_concat_elems(&self, a: &Self::B, b: &Self::B) -> Self::B;

    // ---- permutation ---------------------------------------------------------------------
    /// Applies one uniformly random permutation, unknown to every single party, to all columns.
    fn shuffle<R: Ring>(&mut self, cols: &[&Self::A<R>]) -> Result<Vec<Self::A<R>>>;
}
