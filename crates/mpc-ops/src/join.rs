//! Equi-join of two tables with secret validity bits, 1:1, 1:N and N:1, INNER or LEFT; sort-based,
//! O((nl + nr) log(nl + nr)).
//!
//! 1. Both tables' rows are stacked and sorted by (validity, key, side), so the rows of one key form
//!    a segment: left rows first, then right rows (stable shuffle-based sort; reveals nothing).
//! 2. A forward segmented prefix sum copies a unique left row's columns onto the right rows after
//!    it and counts left rows; a backward one (on the reversed order) copies a unique right row's
//!    columns onto the left rows before it and counts right rows.
//! 3. One batched zero test decides which side's keys are unique among valid rows; the two bits are
//!    opened. Left unique: result rows are the matched right rows (plus, for LEFT, unmatched left
//!    rows); else right unique: result rows are the left rows with the right columns copied.
//!    Both sides with repeated keys (many-to-many) is refused.
//!
//! Output: nl + nr rows with a secret validity bit, so nothing is revealed beyond the input sizes
//! and the two uniqueness bits.
//!
//! Many-to-many (only when allowed): the number m of matching pairs is opened; every valid left row
//! is expanded into as many copies as its key has right rows and every right row into as many as
//! its key has left rows (an oblivious expansion: one sort of the rows with m slot records, a
//! segmented copy, a shuffle), each copy gets its pair's position S_k + i r_k + j, and both
//! expansions are sorted by position, which aligns them pair by pair.

use crate::Num;
use crate::group::{segment_starts, segmented_sum};
use crate::num::check_bits;
use crate::sort::sort_by_key;
use mitsu_algebra::{FixedPoint, Planes, Ring};
use mitsu_mpc_core::{Engine, MpcError, Result, Reveal};

/// One side of a join: a non-negative key below 2^key_bits, validity (1 = the row exists) and the
/// columns to carry.
pub struct JoinSide<'a, E: Engine, R: Ring> {
    pub key: &'a E::A<R>,
    pub valid: &'a E::A<R>,
    pub cols: Vec<&'a E::A<R>>,
}

impl<E: Engine, R: Ring> std::fmt::Debug for JoinSide<'_, E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JoinSide({} columns)", self.cols.len())
    }
}

/// The joined rows: nl + nr rows, of which those with `valid` = 1 are the result. Right columns of
/// unmatched rows of a LEFT join are 0 (the caller's not-NULL columns then say NULL).
pub struct Joined<E: Engine, R: Ring> {
    pub valid: E::A<R>,
    pub left: Vec<E::A<R>>,
    pub right: Vec<E::A<R>>,
}

impl<E: Engine, R: Ring> std::fmt::Debug for Joined<E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Joined({} + {} columns)", self.left.len(), self.right.len())
    }
}

/// `left [LEFT] JOIN right ON left.key = right.key`; `expr` names the join in errors.
pub fn equi_join<E: Engine, R: Ring>(
    e: &mut E,
    left: &JoinSide<E, R>,
    right: &JoinSide<E, R>,
    key_bits: u32,
    left_outer: bool,
    many_to_many: bool,
    expr: &str,
) -> Result<Joined<E, R>> {
    let (nl, nr) = (e.len(left.key), e.len(right.key));
    for side in [left, right] {
        let n = e.len(side.key);
        if e.len(side.valid) != n || side.cols.iter().any(|c| e.len(c) != n) {
            return Err(MpcError::invalid("join: columns of different lengths"));
        }
    }
    let n = nl + nr;
    let (zl, zr) = (e.constant(&vec![R::ZERO; nl]), e.constant(&vec![R::ZERO; nr]));
    if nl == 0 || nr == 0 {
        // nothing matches; a LEFT join keeps the left rows
        let valid = if left_outer { e.concat(&[left.valid, &zr]) } else { e.constant(&vec![R::ZERO; n]) };
        let pad = |e: &E, c: &E::A<R>, left_side: bool| {
            if left_side { e.concat(&[c, &zr]) } else { e.concat(&[&zl, c]) }
        };
        return Ok(Joined {
            valid,
            left: left.cols.iter().map(|c| pad(e, c, true)).collect(),
            right: right.cols.iter().map(|c| pad(e, c, false)).collect(),
        });
    }
    check_bits::<R>(key_bits + 3, 0, expr)?;
    // segment key: (1 - valid) * 2^kb + key; sort key: segment key * 2 + side
    let seg = |e: &E, s: &JoinSide<E, R>| {
        let m = e.len(s.valid);
        let inv = e.sub(&e.constant(&vec![R::ONE; m]), s.valid);
        e.add(&e.mul_public(&inv, &[R::pow2(key_bits)]), s.key)
    };
    let segkey = e.concat(&[&seg(e, left), &seg(e, right)]);
    let side: Vec<R> = (0..n).map(|i| if i < nl { R::ZERO } else { R::ONE }).collect();
    let sk = e.add_public(&e.mul_public(&segkey, &[R::from_u64(2)]), &side);
    let sort_key = Num::<E, R>::from_share(sk, FixedPoint::int(key_bits + 2), expr)?;
    let lp = e.concat(&[left.valid, &zr]);
    let rp = e.concat(&[&zl, right.valid]);
    let lcols: Vec<E::A<R>> = left.cols.iter().map(|c| e.concat(&[c, &zr])).collect();
    let rcols: Vec<E::A<R>> = right.cols.iter().map(|c| e.concat(&[&zl, c])).collect();
    let nlc = lcols.len();
    let mut payload: Vec<&E::A<R>> = vec![&segkey, &lp, &rp];
    payload.extend(lcols.iter());
    payload.extend(rcols.iter());
    let (_, sorted) = sort_by_key(e, &sort_key, &payload)?;
    let (slp, srp) = (&sorted[1], &sorted[2]);
    let slcols = &sorted[3..3 + nlc];
    let srcols = &sorted[3 + nlc..];
    // segments in forward order, and in reversed order, stacked: one zero test, and one scan
    // counts left rows forward and right rows backward
    let rev: Vec<u32> = (0..n as u32).rev().collect();
    let starts = {
        let rkey = e.gather(&sorted[0], &rev);
        let stacked = e.concat(&[&sorted[0], &rkey]);
        stacked_starts(e, &stacked, n, key_bits + 1)?
    };
    let counts = segmented_sum(e, &starts, vec![e.concat(&[slp, &e.gather(srp, &rev)])])?.remove(0);
    let cl = e.slice(&counts, 0..n);
    let cr = e.gather(&e.slice(&counts, n..2 * n), &rev);
    // repeated keys: a valid left row after the first of its key (cl > 1), likewise right
    let ones = e.constant(&vec![R::ONE; n]);
    let dup = e.mul(&e.concat(&[slp, srp]), &e.concat(&[&e.sub(&cl, &ones), &e.sub(&cr, &ones)]))?;
    let dups = e.concat(&[&e.sum(&e.slice(&dup, 0..n)), &e.sum(&e.slice(&dup, n..2 * n))]);
    // each side's sum is the number of pairs of rows sharing a key, sum_k C(l_k, 2) < n^2 / 2:
    // the zero test is sized by that, not by n (a sum of 1024 over 78 rows looked like 0 mod 2^9)
    let lgn = usize::BITS - n.leading_zeros();
    let pair_bits = 2 * lgn;
    check_bits::<R>(pair_bits + 1, 0, expr)?;
    let z = e.eqz(&dups, pair_bits)?;
    let unique = e.open_b(&z, Reveal::JoinKeysUnique)?;
    let (left_unique, right_unique) = (unique.get(0, 0), unique.get(0, 1));
    if left_unique {
        // the unique left row's columns are copied forward onto the right rows of its key;
        // result rows: right rows under a valid left row; LEFT adds left rows without right rows
        let left = segmented_sum(e, &e.b_slice_elems(&starts, 0..n), slcols.to_vec())?;
        let mut valid = e.mul(srp, &cl)?;
        if left_outer {
            let z = e.eqz(&cr, lgn + 1)?;
            let none: E::A<R> = e.bits2a(&z)?;
            let un = e.mul(slp, &none)?;
            valid = e.add(&valid, &un);
        }
        Ok(Joined { valid, left, right: srcols.to_vec() })
    } else if right_unique {
        // the unique right row's columns are copied backward onto the left rows of its key
        let rcols: Vec<E::A<R>> = srcols.iter().map(|c| e.gather(c, &rev)).collect();
        let right: Vec<E::A<R>> =
            segmented_sum(e, &e.b_slice_elems(&starts, n..2 * n), rcols)?.iter().map(|c| e.gather(c, &rev)).collect();
        let valid = if left_outer { slp.clone() } else { e.mul(slp, &cr)? };
        Ok(Joined { valid, left: slcols.to_vec(), right })
    } else if many_to_many {
        let fstarts = e.b_slice_elems(&starts, 0..n);
        many(e, Sorted { slp, srp, slcols, srcols, cl: &cl, cr: &cr, fstarts: &fstarts }, left_outer, lgn)
    } else {
        Err(MpcError::invalid(format!(
            "{expr}: keys repeat on both sides (a many-to-many join); make the keys of one side unique, e.g. by \
             aggregating it first, or allow it (mitsu sql --allow-many-to-many), which opens the number of matching pairs"
        )))
    }
}

/// Segment starts of two stacked sorted key vectors of length n each, in one zero test; the
/// second vector's first row starts a segment, so scans never cross from one into the other.
fn stacked_starts<E: Engine, R: Ring>(e: &mut E, keys: &E::A<R>, n: usize, bits: u32) -> Result<E::B> {
    let s = segment_starts(e, keys, bits)?;
    let mut one = Planes::zeros(1, 1);
    one.not_assign();
    let head = e.b_concat_elems(&e.b_slice_elems(&s, 0..n), &e.b_constant(&one));
    Ok(e.b_concat_elems(&head, &e.b_slice_elems(&s, n + 1..2 * n)))
}

/// The stacked rows after the join's sort, with their within-key counts.
struct Sorted<'a, E: Engine, R: Ring> {
    slp: &'a E::A<R>,
    srp: &'a E::A<R>,
    slcols: &'a [E::A<R>],
    srcols: &'a [E::A<R>],
    /// valid left rows of the key up to and including this row
    cl: &'a E::A<R>,
    /// valid right rows of the key from this row on
    cr: &'a E::A<R>,
    fstarts: &'a E::B,
}

fn many<E: Engine, R: Ring>(e: &mut E, s: Sorted<'_, E, R>, left_outer: bool, lgn: u32) -> Result<Joined<E, R>> {
    let n = e.len(s.slp);
    // left row of key k: r_k partners; right row: l_k partners (cl counts all left rows, which come first)
    let cnt = e.mul(&e.concat(&[s.slp, s.srp]), &e.concat(&[s.cr, s.cl]))?;
    let (c_left, c_right) = (e.slice(&cnt, 0..n), e.slice(&cnt, n..2 * n));
    // right rows: index j within the key, r_k, and the key's block start S_k = E - l_k r_k, where
    // E (inclusive prefix sum of c_left) has passed all of the key's left rows
    let rf = segmented_sum(e, s.fstarts, vec![s.srp.clone()])?.remove(0);
    let ones = e.constant(&vec![R::ONE; n]);
    let jr = e.sub(&rf, &ones);
    let rk = e.add(&jr, s.cr);
    let big_e = e.prefix_sum(&c_left);
    let lr = e.mul(s.cl, &rk)?;
    let base = e.add(&e.sub(&big_e, &lr), &jr);
    let pos_bits = 2 * lgn + 2;
    // left copies land in pair order already: their slot position is the pair's position
    let lcols: Vec<&E::A<R>> = s.slcols.iter().collect();
    let (m, lpos, _, lexp) = expand(e, &c_left, &lcols, pos_bits)?;
    let mut rcols: Vec<&E::A<R>> = vec![&base, &rk];
    rcols.extend(s.srcols.iter());
    let (m2, _, ri, rexp) = expand(e, &c_right, &rcols, pos_bits)?;
    if m != m2 {
        return Err(MpcError::Internal(format!("many-to-many join: {m} left pairs, {m2} right pairs")));
    }
    let mut left: Vec<E::A<R>>;
    let mut right: Vec<E::A<R>>;
    if m == 0 {
        left = s.slcols.iter().map(|_| e.constant(&[])).collect();
        right = s.srcols.iter().map(|_| e.constant(&[])).collect();
    } else {
        let irk = e.mul(&ri, &rexp[1])?;
        let rpos = e.add(&rexp[0], &irk);
        let lk = Num::<E, R>::from_share(lpos, FixedPoint::int(pos_bits), "many-to-many join")?;
        let (_, l_sorted) = sort_by_key(e, &lk, &lexp.iter().collect::<Vec<_>>())?;
        let rkn = Num::<E, R>::from_share(rpos, FixedPoint::int(pos_bits), "many-to-many join")?;
        let (_, r_sorted) = sort_by_key(e, &rkn, &rexp[2..].iter().collect::<Vec<_>>())?;
        left = l_sorted;
        right = r_sorted;
    }
    let mut valid = e.constant(&vec![R::ONE; m]);
    if left_outer {
        // valid left rows whose key has no right rows, once each, right columns 0 (NULL)
        let z = e.eqz(s.cr, lgn + 1)?;
        let none: E::A<R> = e.bits2a(&z)?;
        let un = e.mul(s.slp, &none)?;
        valid = e.concat(&[&valid, &un]);
        left = left.iter().zip(s.slcols).map(|(a, b)| e.concat(&[a, b])).collect();
        let zr = e.constant(&vec![R::ZERO; n]);
        right = right.iter().map(|a| e.concat(&[a, &zr])).collect();
    }
    Ok(Joined { valid, left, right })
}

/// Repeats row i of `cols` c_i times (sum m, opened): m rows in random order with each copy's
/// slot position (in input order of the rows) and its copy index. Reveals m only.
fn expand<E: Engine, R: Ring>(
    e: &mut E,
    c: &E::A<R>,
    cols: &[&E::A<R>],
    pos_bits: u32,
) -> Result<(usize, E::A<R>, E::A<R>, Vec<E::A<R>>)> {
    let n = e.len(c);
    let m = e.open(&e.sum(c), Reveal::JoinPairs)?[0].to_i128();
    if m < 0 || m >= 1i128 << pos_bits.min(40) {
        return Err(MpcError::Internal(format!("expansion to {m} rows")));
    }
    let m = m as usize;
    if m == 0 {
        let z = e.constant(&[]);
        return Ok((0, z.clone(), z, cols.iter().map(|_| e.constant(&[])).collect()));
    }
    // sources at key 2 e_i (e_i: exclusive prefix sum), slots at 2 t + 1: each slot follows the
    // last source with e_i <= t (sources with c_i = 0 share e with the next source but precede it)
    let excl = e.sub(&e.prefix_sum(c), c);
    let slots: Vec<R> = (0..m as u64).map(|t| R::from_u64(2 * t + 1)).collect();
    let key = e.concat(&[&e.mul_public(&excl, &[R::from_u64(2)]), &e.constant(&slots)]);
    let is_src = e.concat(&[&e.constant(&vec![R::ONE; n]), &e.constant(&vec![R::ZERO; m])]);
    let zm = e.constant(&vec![R::ZERO; m]);
    let t: Vec<R> = (0..m as u64).map(R::from_u64).collect();
    let tcol = e.concat(&[&e.constant(&vec![R::ZERO; n]), &e.constant(&t)]);
    let ecol = e.concat(&[&excl, &zm]);
    let padded: Vec<E::A<R>> = cols.iter().map(|x| e.concat(&[x, &zm])).collect();
    let mut payload: Vec<&E::A<R>> = vec![&is_src, &tcol, &ecol];
    payload.extend(padded.iter());
    let kn = Num::<E, R>::from_share(key, FixedPoint::int(pos_bits + 1), "expansion")?;
    let (_, sorted) = sort_by_key(e, &kn, &payload)?;
    let total = n + m;
    let not_src = e.sub(&e.constant(&vec![R::ONE; total]), &sorted[0]);
    let starts = e.eqz(&not_src, 2)?;
    let mut copy = vec![sorted[2].clone()];
    copy.extend(sorted[3..].iter().cloned());
    let copied = segmented_sum(e, &starts, copy)?;
    let j = e.sub(&sorted[1], &copied[0]);
    let mut sh_cols: Vec<&E::A<R>> = vec![&sorted[0], &sorted[1], &j];
    sh_cols.extend(copied[1..].iter());
    let sh = e.shuffle(&sh_cols)?;
    // which shuffled rows are slots: m of them, known already
    let flags = e.open(&sh[0], Reveal::JoinPairs)?;
    let idx: Vec<u32> = (0..total as u32).filter(|&i| flags[i as usize] == R::ZERO).collect();
    if idx.len() != m {
        return Err(MpcError::Internal("expansion lost slots".into()));
    }
    let pos = e.gather(&sh[1], &idx);
    let copy_idx = e.gather(&sh[2], &idx);
    let out = sh[3..].iter().map(|x| e.gather(x, &idx)).collect();
    Ok((m, pos, copy_idx, out))
}
