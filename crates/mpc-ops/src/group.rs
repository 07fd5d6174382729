//! Grouped aggregation (GROUP BY key with SUM and COUNT), oblivious up to the number of groups.
//!
//! 1. Rows are sorted by (invalid, key), so valid rows come first, grouped by key (stable sort with
//!    payloads; reveals nothing, see `sort`).
//! 2. Group starts are marked by comparing each sorted key with its predecessor (a batched zero
//!    test) and the validity of the row.
//! 3. A segmented prefix sum in ceil(log2 n) levels: at distance s, S_j += (1 - B_j) S_{j-s} and
//!    B_j |= B_{j-s}, where B marks that a group start lies within the window. Afterwards the last
//!    row of each group holds the group's sums.
//! 4. The rows are shuffled and the "last row of a valid group" flags opened; only those rows go on.
//!
//! Leakage: the number of groups (and n). Cost: one sort, one zero test, ceil(log2 n) levels of one
//! AND and one bit-times-value multiplication per aggregated column, one shuffle.

use crate::num::{Num, check_bits};
use crate::sort::sort_by_key;
use mitsu_algebra::{Planes, Ring};
use mitsu_mpc_core::{Engine, MpcError, Result, Reveal};

/// One output group: its key share and the shares of each aggregated column's sum.
pub struct Groups<E: Engine, R: Ring> {
    /// Keys of the groups (in random order), one element per group.
    pub keys: Num<E, R>,
    /// Row count per group.
    pub counts: Num<E, R>,
    /// Per aggregated column, the group sums.
    pub sums: Vec<Num<E, R>>,
}

impl<E: Engine, R: Ring> std::fmt::Debug for Groups<E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Groups({} sums)", self.sums.len())
    }
}

/// GROUP BY `key` over rows whose `valid` share is 1 (0 rows are ignored), summing each of `values`
/// and counting rows.
pub fn group_sum<E: Engine, R: Ring>(
    e: &mut E,
    key: &Num<E, R>,
    valid: &E::A<R>,
    values: &[&Num<E, R>],
) -> Result<Groups<E, R>> {
    let n = e.len(&key.share);
    if n == 0 {
        return Err(MpcError::invalid("GROUP BY over no rows"));
    }
    if e.len(valid) != n || values.iter().any(|v| e.len(&v.share) != n) {
        return Err(MpcError::invalid("GROUP BY: columns of different lengths"));
    }
    if key.frac != 0 {
        return Err(MpcError::invalid(format!("GROUP BY key {} must be an integer or category", key.expr)));
    }
    let lg = usize::BITS - (n - 1).leading_zeros();
    // sort key: invalid rows after all valid ones: (1 - valid) * 2^(kb+1) + key + 2^kb >= 0
    let kb = key.bits;
    check_bits::<R>(kb + 2, 0, &format!("GROUP BY {}", key.expr))?;
    let ones = e.constant(&vec![R::ONE; n]);
    let invalid = e.sub(&ones, valid);
    let sk = e.add_public(&e.add(&e.mul_public(&invalid, &[R::pow2(kb + 1)]), &key.share), &[R::pow2(kb)]);
    let sort_key = Num::<E, R> { share: sk, frac: 0, bits: kb + 2, expr: format!("GROUP BY {}", key.expr) };
    let mut payload: Vec<&E::A<R>> = vec![&key.share, valid];
    payload.extend(values.iter().map(|v| &v.share));
    let (ssk, sorted) = sort_by_key(e, &sort_key, &payload)?;
    let (skey, svalid) = (&sorted[0], &sorted[1]);
    // starts: row 0, or a sort key (validity and key) different from the previous row's, so that
    // invalid rows never join a valid group
    let start = segment_starts(e, &ssk.share, kb + 2)?;
    let mut cols: Vec<E::A<R>> = vec![svalid.clone()];
    cols.extend(sorted[2..].iter().cloned());
    let cols = segmented_sum(e, &start, cols)?;
    // last row of a group: the next row starts a group (or j = n-1), and the row is valid
    let next_start = {
        let mut tail = Planes::zeros(1, 1);
        tail.not_assign();
        let tb = e.b_constant(&tail);
        unshift_bits(e, &start, tb)
    };
    let last_a: E::A<R> = e.bits2a(&next_start)?;
    let keep = e.mul(&last_a, svalid)?;
    let mut to_shuffle: Vec<&E::A<R>> = vec![&keep, skey];
    to_shuffle.extend(cols.iter());
    let sh = e.shuffle(&to_shuffle)?;
    let flags = e.open(&sh[0], Reveal::GroupCount)?;
    let idx: Vec<u32> = flags.iter().enumerate().filter(|(_, f)| **f == R::ONE).map(|(i, _)| i as u32).collect();
    let count_bits = lg + 1;
    let keys = Num { share: e.gather(&sh[1], &idx), frac: 0, bits: kb, expr: key.expr.clone() };
    let counts = Num { share: e.gather(&sh[2], &idx), frac: 0, bits: count_bits, expr: "count(*)".into() };
    let sums = values
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let bits = v.bits + lg;
            check_bits::<R>(bits, 0, &format!("sum({})", v.expr))?;
            Ok(Num { share: e.gather(&sh[3 + k], &idx), frac: v.frac, bits, expr: format!("sum({})", v.expr) })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Groups { keys, counts, sums })
}

/// 1 where a row starts a segment of equal sorted keys (|key| < 2^bits): row 0, or a key different
/// from the previous row's. One batched zero test.
pub fn segment_starts<E: Engine, R: Ring>(e: &mut E, sorted_key: &E::A<R>, bits: u32) -> Result<E::B> {
    let n = e.len(sorted_key);
    if n == 0 {
        return Ok(e.b_constant(&Planes::zeros(1, 0)));
    }
    let prev = e.concat(&[&e.slice(sorted_key, 0..1), &e.slice(sorted_key, 0..n - 1)]);
    let diff = e.sub(sorted_key, &prev);
    let same = e.eqz(&diff, bits + 1)?; // row 0 compares with itself: "same", fixed below
    let mut first = Planes::zeros(1, n);
    first.set(0, 0, true);
    Ok(e.b_xor(&e.b_not(&same), &e.b_constant(&first)))
}

/// Segmented prefix sums: afterwards row j of each column holds the sum of its segment's rows up
/// to j. ceil(log2 n) levels, each one AND and one multiplication (all columns in one call):
/// S_j += (1 - B_j) S_{j-s}, B_j |= B_{j-s}.
pub fn segmented_sum<E: Engine, R: Ring>(e: &mut E, starts: &E::B, mut cols: Vec<E::A<R>>) -> Result<Vec<E::A<R>>> {
    let (_, n) = e.b_shape(starts);
    let k = cols.len();
    let mut b = starts.clone();
    let mut s = 1usize;
    while s < n {
        // B_{j-s}, with "start" before the first row; values before the first row are zero
        let bits_prev = {
            let mut head = Planes::zeros(1, s);
            head.not_assign();
            shift_bits(e, &b, s, e.b_constant(&head))
        };
        let nb: E::A<R> = e.bits2a(&e.b_not(&b))?; // 1 - B_j
        let zeros = e.constant(&vec![R::ZERO; s]);
        let shifted: Vec<E::A<R>> = cols.iter().map(|c| e.concat(&[&zeros, &e.slice(c, 0..n - s)])).collect();
        let lhs = e.concat(&vec![&nb; k]);
        let rhs = e.concat(&shifted.iter().collect::<Vec<_>>());
        let prod = e.mul(&lhs, &rhs)?;
        for (i, c) in cols.iter_mut().enumerate() {
            *c = e.add(c, &e.slice(&prod, i * n..(i + 1) * n));
        }
        let and = e.b_and(&b, &bits_prev)?;
        b = e.b_xor(&e.b_xor(&b, &bits_prev), &and);
        s *= 2;
    }
    Ok(cols)
}

/// `x` moved down by `s` positions, with `head` (s planes' worth of one plane) in front.
fn shift_bits<E: Engine>(e: &E, x: &E::B, s: usize, head: E::B) -> E::B {
    let (_, n) = e.b_shape(x);
    e.b_concat_elems(&head, &e.b_slice_elems(x, 0..n - s.min(n)))
}

/// `x` moved up by one position, with `tail` (one element) at the end.
fn unshift_bits<E: Engine>(e: &E, x: &E::B, tail: E::B) -> E::B {
    let (_, n) = e.b_shape(x);
    e.b_concat_elems(&e.b_slice_elems(x, 1..n), &tail)
}

/// Segmented running minimum (or maximum) of `col` (|v| < 2^bits): afterwards row j holds the
/// extremum of its segment's rows up to j. ceil(log2 n) levels of one comparison, one AND and one
/// selection each. Rows to ignore should hold a value beyond every real one (e.g. 2^bits for a
/// minimum).
pub fn segmented_extremum<E: Engine, R: Ring>(
    e: &mut E,
    starts: &E::B,
    col: E::A<R>,
    bits: u32,
    max: bool,
) -> Result<E::A<R>> {
    check_bits::<R>(bits + 2, 0, "segmented minimum/maximum")?;
    let (_, n) = e.b_shape(starts);
    let mut b = starts.clone();
    let mut cur = col;
    let mut s = 1usize;
    let sentinel = if max { R::from_i128(-(1i128 << bits)) } else { R::pow2(bits) };
    while s < n {
        let bits_prev = {
            let mut head = Planes::zeros(1, s);
            head.not_assign();
            shift_bits(e, &b, s, e.b_constant(&head))
        };
        let cand = e.concat(&[&e.constant(&vec![sentinel; s]), &e.slice(&cur, 0..n - s)]);
        // better: cand < cur for a minimum, cur < cand for a maximum
        let diff = if max { e.sub(&cur, &cand) } else { e.sub(&cand, &cur) };
        let better = e.msb(&diff, bits + 2)?;
        let take = e.b_and(&better, &e.b_not(&b))?;
        let t: E::A<R> = e.bits2a(&take)?;
        let d = e.sub(&cand, &cur);
        let p = e.mul(&t, &d)?;
        cur = e.add(&cur, &p);
        let and = e.b_and(&b, &bits_prev)?;
        b = e.b_xor(&e.b_xor(&b, &bits_prev), &and);
        s *= 2;
    }
    Ok(cur)
}
