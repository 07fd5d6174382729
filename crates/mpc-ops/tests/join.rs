//! Inner equi-join (unique left keys, 1:N) on the protocol and the twin, against a plain join.

mod common;

use mitsu_algebra::{FixedPoint, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, MpcError, PartyId, Result};
use mitsu_mpc_ops::{JoinSide, Num, join_unique_left};

type Row = (i128, i128, i128); // key, left value, right value

fn case<E: Engine, R: Ring>(e: &mut E, l: &[(i64, bool, i64)], r: &[(i64, bool, i64)]) -> Result<Vec<Row>> {
    let load = |e: &mut E, rows: &[(i64, bool, i64)], owner: PartyId| -> Result<(Num<E, R>, E::A<R>, Num<E, R>)> {
        let n = rows.len();
        let k: Vec<R> = rows.iter().map(|r| R::from_i128(r.0 as i128)).collect();
        let v: Vec<R> = rows.iter().map(|r| R::from_u64(r.1 as u64)).collect();
        let x: Vec<R> = rows.iter().map(|r| R::from_i128(r.2 as i128)).collect();
        Ok((
            Num::from_share(e.input(owner, Some(&k), n)?, FixedPoint::int(12), "k")?,
            e.input(owner, Some(&v), n)?,
            Num::from_share(e.input(owner, Some(&x), n)?, FixedPoint::int(20), "x")?,
        ))
    };
    let (lk, lv, lx) = load(e, l, PartyId::P0)?;
    let (rk, rv, rx) = load(e, r, PartyId::P1)?;
    let j = join_unique_left(
        e,
        &JoinSide { key: &lk, valid: &lv, cols: vec![&lx] },
        &JoinSide { key: &rk, valid: &rv, cols: vec![&rx] },
    )?;
    let (v, k, a, b) =
        (e.open(&j.valid)?, e.open(&j.key.share)?, e.open(&j.left[0].share)?, e.open(&j.right[0].share)?);
    let mut rows: Vec<Row> =
        (0..v.len()).filter(|&i| v[i] == R::ONE).map(|i| (k[i].to_i128(), a[i].to_i128(), b[i].to_i128())).collect();
    assert!(v.iter().all(|x| *x == R::ZERO || *x == R::ONE), "validity is a bit");
    rows.sort();
    Ok(rows)
}

fn plain(l: &[(i64, bool, i64)], r: &[(i64, bool, i64)]) -> Vec<Row> {
    let mut out = Vec::new();
    for rr in r.iter().filter(|x| x.1) {
        for ll in l.iter().filter(|x| x.1 && x.0 == rr.0) {
            out.push((rr.0 as i128, ll.2 as i128, rr.2 as i128));
        }
    }
    out.sort();
    out
}

#[test]
fn inner_join_one_to_many_matches_a_plain_join() {
    for (nl, nr) in [(1usize, 1usize), (1, 5), (3, 1), (20, 60), (64, 65), (100, 7)] {
        let mut p = Prg::new(Seed::from_u64((nl * 1000 + nr) as u64));
        // unique left keys (some rows filtered out); right keys repeat, some unmatched
        let mut keys: Vec<i64> = (0..200).map(|i| i - 100).collect();
        for i in (1..keys.len()).rev() {
            keys.swap(i, p.below(i as u64 + 1) as usize);
        }
        let l: Vec<(i64, bool, i64)> =
            (0..nl).map(|i| (keys[i], p.below(4) != 0, p.below(1000) as i64 - 500)).collect();
        let r: Vec<(i64, bool, i64)> =
            (0..nr).map(|_| (keys[p.below((nl + 3) as u64) as usize], p.below(5) != 0, p.below(1000) as i64)).collect();
        let (rep, twin) = both!(case::<u64>(&l, &r));
        let want = plain(&l, &r);
        assert_eq!(rep, want, "protocol, {nl} x {nr}");
        assert_eq!(twin, want, "twin, {nl} x {nr}");
    }
}

#[test]
fn duplicate_left_keys_are_refused() {
    let l = [(5, true, 1), (5, true, 2), (6, true, 3)];
    let r = [(5, true, 9)];
    let err = common::on_twin(|e| Ok(case::<_, u64>(e, &l, &r))).unwrap_err();
    assert!(matches!(err, MpcError::Invalid(_)) && err.to_string().contains("1 rows whose key repeats"), "{err}");
    // a duplicate that is filtered out is fine
    let l = [(5, true, 1), (5, false, 2), (6, true, 3)];
    assert_eq!(common::on_twin(|e| case::<_, u64>(e, &l, &r)), vec![(5, 1, 9)]);
}
