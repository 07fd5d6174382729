//! Sorting by a secret key with payload columns: shuffle, then quicksort with opened comparisons
//! (Hamada et al., ICISC 2012).
//!
//! 1. Each key is made unique and the sort stable by appending its original position:
//!    k' = key * 2^L + i with n <= 2^L. Local.
//! 2. Keys and payloads are shuffled together by one secret permutation.
//! 3. Quicksort on the shuffled keys: in every pass each unsorted segment compares all its elements
//!    with its first element (one batched comparison for all segments) and the comparison bits
//!    are opened; the segment is split publicly. Expected 1.39 n log2 n comparisons in
//!    O(log n) passes.
//! 4. The resulting public order is applied to every column locally.
//!
//! Leakage: none beyond n. The opened bits compare distinct keys in uniformly random order, so
//! their distribution depends only on the random permutation, not on the data.

use crate::num::{Num, check_bits};
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, MpcError, Result, Reveal};

/// Sorts `key` ascending (ties keep their input order), applying the same order to `payload`.
/// Returns the sorted key and payload columns.
pub fn sort_by_key<E: Engine, R: Ring>(
    e: &mut E,
    key: &Num<E, R>,
    payload: &[&E::A<R>],
) -> Result<(Num<E, R>, Vec<E::A<R>>)> {
    let n = e.len(&key.share);
    if payload.iter().any(|p| e.len(p) != n) {
        return Err(MpcError::invalid("sort: payload columns must have the key's length"));
    }
    if n <= 1 {
        return Ok((key.clone(), payload.iter().map(|p| (*p).clone()).collect()));
    }
    let l = usize::BITS - (n - 1).leading_zeros();
    let ck_bits = key.bits + l;
    // the comparison of two composite keys needs one more bit for the difference and one for the sign
    check_bits::<R>(ck_bits, 1, &format!("sort key {} with {n} rows", key.expr))?;
    let idx: Vec<R> = (0..n as u64).map(R::from_u64).collect();
    let ck = e.add_public(&e.mul_public(&key.share, &[R::pow2(l)]), &idx);
    let mut cols: Vec<&E::A<R>> = vec![&ck, &key.share];
    cols.extend_from_slice(payload);
    let shuffled = e.shuffle(&cols)?;
    let order = quicksort_order(e, &shuffled[0], ck_bits + 1)?;
    let sorted_key = Num { share: e.gather(&shuffled[1], &order), ..key.clone() };
    let sorted_payload = shuffled[2..].iter().map(|c| e.gather(c, &order)).collect();
    Ok((sorted_key, sorted_payload))
}

/// The public order that sorts distinct keys (|difference| < 2^diff_bits), by quicksort with
/// opened comparison bits. Only safe on shuffled, distinct keys.
fn quicksort_order<E: Engine, R: Ring>(e: &mut E, ck: &E::A<R>, diff_bits: u32) -> Result<Vec<u32>> {
    let n = e.len(ck);
    let mut pos: Vec<u32> = (0..n as u32).collect();
    // unsorted segments [start, end) of `pos`
    let mut segs: Vec<(usize, usize)> = vec![(0, n)];
    while !segs.is_empty() {
        let mut left = Vec::new();
        let mut right = Vec::new();
        for &(s, t) in &segs {
            for j in s + 1..t {
                left.push(pos[j]);
                right.push(pos[s]);
            }
        }
        let a = e.gather(ck, &left);
        let b = e.gather(ck, &right);
        let d = e.sub(&a, &b);
        let bits = e.msb(&d, diff_bits)?;
        let opened = e.open_b(&bits, Reveal::SortComparisons)?;
        let mut k = 0;
        let mut next = Vec::new();
        for &(s, t) in &segs {
            let pivot = pos[s];
            let mut less = Vec::new();
            let mut more = Vec::new();
            for j in s + 1..t {
                if opened.get(0, k) {
                    less.push(pos[j])
                } else {
                    more.push(pos[j])
                }
                k += 1;
            }
            let nl = less.len();
            for (w, v) in (s..).zip(less.into_iter().chain(std::iter::once(pivot)).chain(more)) {
                pos[w] = v;
            }
            if nl >= 2 {
                next.push((s, s + nl));
            }
            if t - (s + nl + 1) >= 2 {
                next.push((s + nl + 1, t));
            }
        }
        segs = next;
    }
    Ok(pos)
}
