//! Equi-join of a table whose valid rows have unique keys (left) with a table whose keys may repeat
//! (right): the 1:1 and 1:N joins, sort-based, O((nl + nr) log(nl + nr)).
//!
//! 1. Both tables' rows are stacked and sorted by (validity, key, side), so each left row directly
//!    precedes the right rows with its key (stable shuffle-based sort; reveals nothing).
//! 2. A segmented prefix sum over segments of equal (validity, key) copies each left row's columns
//!    (right rows carry zeros there) and its "present" bit onto the right rows after it.
//! 3. A right row is a result row when it is valid and a valid left row shares its key: the output
//!    keeps all nl + nr rows with a secret validity bit, so nothing is revealed but the input sizes.
//!
//! Duplicate keys among valid left rows are refused: the number of left rows that are not the first
//! of their key is opened (0 when the join is legal, so then it reveals nothing).

use crate::group::{segment_starts, segmented_sum};
use crate::num::{Num, check_bits};
use crate::sort::sort_by_key;
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, MpcError, Result};

/// One side of a join.
pub struct JoinSide<'a, E: Engine, R: Ring> {
    pub key: &'a Num<E, R>,
    /// 1 for rows that exist (after filters), 0 otherwise.
    pub valid: &'a E::A<R>,
    pub cols: Vec<&'a Num<E, R>>,
}

impl<E: Engine, R: Ring> std::fmt::Debug for JoinSide<'_, E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JoinSide({}, {} columns)", self.key.expr, self.cols.len())
    }
}

/// The joined rows: nl + nr rows, of which those with `valid` = 1 are the result.
pub struct Joined<E: Engine, R: Ring> {
    pub valid: E::A<R>,
    pub key: Num<E, R>,
    pub left: Vec<Num<E, R>>,
    pub right: Vec<Num<E, R>>,
}

impl<E: Engine, R: Ring> std::fmt::Debug for Joined<E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Joined({} + {} columns)", self.left.len(), self.right.len())
    }
}

/// Inner equi-join `left JOIN right ON left.key = right.key`, left keys unique among valid rows.
pub fn join_unique_left<E: Engine, R: Ring>(
    e: &mut E,
    left: &JoinSide<E, R>,
    right: &JoinSide<E, R>,
) -> Result<Joined<E, R>> {
    let (nl, nr) = (e.len(&left.key.share), e.len(&right.key.share));
    if left.key.frac != 0 || right.key.frac != 0 {
        return Err(MpcError::invalid("join keys must be integers, keys or categories"));
    }
    for side in [left, right] {
        let n = e.len(&side.key.share);
        if e.len(side.valid) != n || side.cols.iter().any(|c| e.len(&c.share) != n) {
            return Err(MpcError::invalid("join: columns of different lengths"));
        }
    }
    let n = nl + nr;
    if nl == 0 || nr == 0 {
        return Err(MpcError::invalid("join of an empty table"));
    }
    let kb = left.key.bits.max(right.key.bits);
    let expr = format!("JOIN ON {} = {}", left.key.expr, right.key.expr);
    check_bits::<R>(kb + 4, 0, &expr)?;
    // segment key: (1 - valid) * 2^(kb+1) + key + 2^kb >= 0; sort key: segment key * 2 + side
    let seg = |e: &E, s: &JoinSide<E, R>| {
        let m = e.len(s.valid);
        let inv = e.sub(&e.constant(&vec![R::ONE; m]), s.valid);
        e.add_public(&e.add(&e.mul_public(&inv, &[R::pow2(kb + 1)]), &s.key.share), &[R::pow2(kb)])
    };
    let segkey = e.concat(&[&seg(e, left), &seg(e, right)]);
    let side: Vec<R> = (0..n).map(|i| if i < nl { R::ZERO } else { R::ONE }).collect();
    let sk = e.add_public(&e.mul_public(&segkey, &[R::from_u64(2)]), &side);
    let sort_key = Num::<E, R> { share: sk, frac: 0, bits: kb + 3, expr: expr.clone() };
    // payload: segment key, key, left-present, right-valid, left columns, right columns
    let zl = e.constant(&vec![R::ZERO; nl]);
    let zr = e.constant(&vec![R::ZERO; nr]);
    let key = e.concat(&[&left.key.share, &right.key.share]);
    let present = e.concat(&[left.valid, &zr]);
    let rvalid = e.concat(&[&zl, right.valid]);
    let lcols: Vec<E::A<R>> = left.cols.iter().map(|c| e.concat(&[&c.share, &zr])).collect();
    let rcols: Vec<E::A<R>> = right.cols.iter().map(|c| e.concat(&[&zl, &c.share])).collect();
    let mut payload: Vec<&E::A<R>> = vec![&segkey, &key, &present, &rvalid];
    payload.extend(lcols.iter());
    payload.extend(rcols.iter());
    let (_, sorted) = sort_by_key(e, &sort_key, &payload)?;
    let starts = segment_starts(e, &sorted[0], kb + 2)?;
    let mut scan = vec![sorted[2].clone()];
    scan.extend(sorted[4..4 + lcols.len()].iter().cloned());
    let scanned = segmented_sum(e, &starts, scan)?;
    // duplicates among valid left rows: a left row (present = 1) whose running count exceeds 1
    let count = &scanned[0];
    let excess = e.sub(count, &e.constant(&vec![R::ONE; n]));
    let dup = e.mul(&sorted[2], &excess)?; // nonzero only at the second and later left rows of a key
    let dups = e.open(&e.sum(&dup))?[0];
    if dups != R::ZERO {
        return Err(MpcError::invalid(format!(
            "{expr}: the left table has {} rows whose key repeats; a join needs unique keys on one side",
            dups.to_i128()
        )));
    }
    let valid = e.mul(&sorted[3], count)?;
    Ok(Joined {
        valid,
        key: Num { share: sorted[1].clone(), frac: 0, bits: kb, expr: left.key.expr.clone() },
        left: left
            .cols
            .iter()
            .zip(&scanned[1..])
            .map(|(c, s)| Num { share: s.clone(), frac: c.frac, bits: c.bits, expr: c.expr.clone() })
            .collect(),
        right: right
            .cols
            .iter()
            .zip(&sorted[4 + lcols.len()..])
            .map(|(c, s)| Num { share: s.clone(), frac: c.frac, bits: c.bits, expr: c.expr.clone() })
            .collect(),
    })
}
