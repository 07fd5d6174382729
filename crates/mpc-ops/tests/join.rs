//! Equi-joins (1:1, 1:N, N:1; INNER and LEFT) on the protocol and the twin, against a plain join.

mod common;

use mitsu_algebra::Ring;
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, MpcError, PartyId, Result};
use mitsu_mpc_ops::{JoinSide, equi_join};

/// key, left value (None: no left row), right value (None: no right row)
type Row = (i128, Option<i128>, Option<i128>);
type In = (i64, bool, i64); // key, valid, value

fn case<E: Engine, R: Ring>(e: &mut E, l: &[In], r: &[In], outer: bool, many: bool) -> Result<Vec<Row>> {
    let load = |e: &mut E, rows: &[In], owner: PartyId| -> Result<[E::A<R>; 3]> {
        let n = rows.len();
        let k: Vec<R> = rows.iter().map(|r| R::from_i128(r.0 as i128)).collect();
        let v: Vec<R> = rows.iter().map(|r| R::from_u64(r.1 as u64)).collect();
        let x: Vec<R> = rows.iter().map(|r| R::from_i128(r.2 as i128)).collect();
        Ok([e.input(owner, Some(&k), n)?, e.input(owner, Some(&v), n)?, e.input(owner, Some(&x), n)?])
    };
    let [lk, lv, lx] = load(e, l, PartyId::P0)?;
    let [rk, rv, rx] = load(e, r, PartyId::P1)?;
    // a right "present" column tells unmatched rows (NULL) from matched ones
    let rone = e.constant(&vec![R::ONE; r.len()]);
    let lone = e.constant(&vec![R::ONE; l.len()]);
    let j = equi_join(
        e,
        &JoinSide { key: &lk, valid: &lv, cols: vec![&lk, &lx, &lone] },
        &JoinSide { key: &rk, valid: &rv, cols: vec![&rk, &rx, &rone] },
        9,
        outer,
        many,
        "JOIN ON k",
    )?;
    let v = e.open(&j.valid, mitsu_mpc_core::Reveal::Check)?;
    let o: Vec<Vec<R>> =
        j.left.iter().chain(&j.right).map(|c| e.open(c, mitsu_mpc_core::Reveal::Check)).collect::<Result<_>>()?;
    assert!(v.iter().all(|x| *x == R::ZERO || *x == R::ONE), "validity is a bit");
    let mut rows: Vec<Row> = (0..v.len())
        .filter(|&i| v[i] == R::ONE)
        .map(|i| {
            let lpres = o[2][i] == R::ONE;
            let rpres = o[5][i] == R::ONE;
            let key = if lpres { o[0][i] } else { o[3][i] };
            (key.to_i128(), lpres.then(|| o[1][i].to_i128()), rpres.then(|| o[4][i].to_i128()))
        })
        .collect();
    rows.sort();
    Ok(rows)
}

fn plain(l: &[In], r: &[In], outer: bool) -> Vec<Row> {
    let mut out = Vec::new();
    for ll in l.iter().filter(|x| x.1) {
        let mut any = false;
        for rr in r.iter().filter(|x| x.1 && x.0 == ll.0) {
            out.push((ll.0 as i128, Some(ll.2 as i128), Some(rr.2 as i128)));
            any = true;
        }
        if outer && !any {
            out.push((ll.0 as i128, Some(ll.2 as i128), None));
        }
    }
    out.sort();
    out
}

fn rows(p: &mut Prg, n: usize, unique: bool, pool: usize) -> Vec<In> {
    let mut keys: Vec<i64> = (0..200).map(|i| i + 1).collect();
    for i in (1..keys.len()).rev() {
        keys.swap(i, p.below(i as u64 + 1) as usize);
    }
    (0..n)
        .map(|i| {
            let k = if unique { keys[i] } else { keys[p.below(pool as u64) as usize] };
            (k, p.below(5) != 0, p.below(1000) as i64 - 500)
        })
        .collect()
}

#[test]
fn joins_match_a_plain_join() {
    for (nl, nr) in [(1usize, 1usize), (1, 5), (3, 1), (20, 60), (64, 65), (100, 7)] {
        for outer in [false, true] {
            let mut p = Prg::new(Seed::from_u64((nl * 1000 + nr) as u64 + outer as u64));
            // 1:N (left unique, right repeats) and N:1 (left repeats, right unique)
            let l = rows(&mut p, nl, true, 0);
            let r = rows(&mut p, nr, false, nl + 3);
            let (rep, twin) = both!(case::<u64>(&l, &r, outer, false));
            let want = plain(&l, &r, outer);
            assert_eq!(rep, want, "protocol, {nl} x {nr}, outer {outer}");
            assert_eq!(twin, want, "twin, {nl} x {nr}, outer {outer}");
            let l2 = rows(&mut p, nr, false, nl + 3);
            let r2 = rows(&mut p, nl, true, 0);
            let (rep, twin) = both!(case::<u128>(&l2, &r2, outer, false));
            let want = plain(&l2, &r2, outer);
            assert_eq!(rep, want, "protocol N:1, {nr} x {nl}, outer {outer}");
            assert_eq!(twin, want, "twin N:1, {nr} x {nl}, outer {outer}");
        }
    }
}

// Regression: the uniqueness test looked at the low lgn + 2 bits of sum C(l_k, 2): left keys
// repeating 45, 8 and 4 times (990 + 28 + 6 = 1024 pairs, n = 78) passed for unique, and the
// validity compaction opens carried multiplicities such as 45.
#[test]
fn keys_repeating_so_that_their_pair_count_wraps_are_seen_as_repeating() {
    let mut l: Vec<In> = Vec::new();
    for (k, times) in [(1i64, 45usize), (2, 8), (3, 4)] {
        l.extend((0..times).map(|i| (k, true, i as i64)));
    }
    let r: Vec<In> = (1..=21).map(|k| (k, true, 100 + k)).collect();
    for outer in [false, true] {
        let want = plain(&l, &r, outer);
        assert_eq!(want.len(), 57);
        let (rep, twin) = both!(case::<u64>(&l, &r, outer, false));
        assert_eq!((&rep, &twin), (&want, &want), "outer {outer}");
        let (rep, twin) = both!(case::<u128>(&l, &r, outer, false));
        assert_eq!((&rep, &twin), (&want, &want), "outer {outer}");
    }
    // with the right side repeating too, it is a many-to-many join: refused unless allowed
    let mut r2 = r.clone();
    r2.push((1, true, 7));
    let err = common::on_twin(|e| Ok(case::<_, u64>(e, &l, &r2, false, false))).unwrap_err();
    assert!(err.to_string().contains("keys repeat on both sides"), "{err}");
}

#[test]
fn empty_sides_and_many_to_many() {
    let l = [(5, true, 1), (5, true, 2), (6, true, 3)];
    let r = [(5, true, 9), (5, true, 8)];
    let err = common::on_twin(|e| Ok(case::<_, u64>(e, &l, &r, false, false))).unwrap_err();
    assert!(matches!(err, MpcError::Invalid(_)) && err.to_string().contains("keys repeat on both sides"), "{err}");
    // a duplicate that is filtered out is fine
    let r = [(5, true, 9), (5, false, 8)];
    assert_eq!(
        common::on_twin(|e| case::<_, u64>(e, &l, &r, false, false)),
        vec![(5, Some(1), Some(9)), (5, Some(2), Some(9))]
    );
    assert_eq!(common::on_twin(|e| case::<_, u64>(e, &l, &[], true, false)).len(), 3);
    assert_eq!(common::on_twin(|e| case::<_, u64>(e, &[], &r, false, false)), vec![]);
}

#[test]
fn many_to_many_when_allowed() {
    for (nl, nr, pool) in [(5usize, 5usize, 2usize), (30, 40, 6), (64, 20, 10), (8, 8, 40)] {
        for outer in [false, true] {
            let mut p = Prg::new(Seed::from_u64((nl * 77 + nr) as u64 + outer as u64));
            let l = rows(&mut p, nl, false, pool);
            let r = rows(&mut p, nr, false, pool);
            let (rep, twin) = both!(case::<u64>(&l, &r, outer, true));
            let want = plain(&l, &r, outer);
            assert_eq!(rep, want, "protocol, {nl} x {nr}, outer {outer}");
            assert_eq!(twin, want, "twin, {nl} x {nr}, outer {outer}");
        }
    }
}
