//! GROUP BY with SUM and COUNT on the protocol and the twin, against plain aggregation.

mod common;

use mitsu_algebra::{FixedPoint, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, PartyId, Result};
use mitsu_mpc_ops::{Num, group_sum};
use std::collections::BTreeMap;

/// Returns (key, count, sum) per group, sorted by key.
fn case<E: Engine, R: Ring>(e: &mut E, keys: &[i64], valid: &[bool], vals: &[f64]) -> Result<Vec<(i128, i128, f64)>> {
    let n = keys.len();
    let kv: Vec<R> = keys.iter().map(|&k| R::from_i128(k as i128)).collect();
    let vv: Vec<R> = valid.iter().map(|&b| R::from_u64(b as u64)).collect();
    let k = Num::<E, R>::from_share(e.input(PartyId::P0, Some(&kv), n)?, FixedPoint::int(10), "g")?;
    let v = e.input(PartyId::P1, Some(&vv), n)?;
    let x = Num::<E, R>::input_f64(e, PartyId::P2, Some(vals), n, FixedPoint::real(8, 8), "x")?;
    let g = group_sum(e, &k, &v, &[&x])?;
    let keys = e.open(&g.keys.share, mitsu_mpc_core::Reveal::Check)?;
    let counts = e.open(&g.counts.share, mitsu_mpc_core::Reveal::Check)?;
    let sums = g.sums[0].open_f64(e, mitsu_mpc_core::Reveal::Check)?;
    let mut out: Vec<(i128, i128, f64)> =
        (0..keys.len()).map(|i| (keys[i].to_i128(), counts[i].to_i128(), sums[i])).collect();
    out.sort_by_key(|g| g.0);
    Ok(out)
}

fn plain(keys: &[i64], valid: &[bool], vals: &[f64]) -> Vec<(i128, i128, f64)> {
    let mut m: BTreeMap<i64, (i128, f64)> = BTreeMap::new();
    for i in 0..keys.len() {
        if valid[i] {
            let q = (vals[i] * 256.0).round() / 256.0;
            let e = m.entry(keys[i]).or_default();
            e.0 += 1;
            e.1 += q;
        }
    }
    m.into_iter().map(|(k, (c, s))| (k as i128, c, s)).collect()
}

#[test]
fn group_by_sum_and_count_match_plain_aggregation() {
    for (n, groups) in [(1usize, 1i64), (2, 1), (5, 3), (64, 7), (200, 1), (300, 300), (257, 20)] {
        let mut p = Prg::new(Seed::from_u64(n as u64 * 31 + groups as u64));
        let keys: Vec<i64> = (0..n).map(|_| p.below(groups as u64) as i64 - groups / 2).collect();
        // some rows filtered out, including whole groups; invalid rows share keys with valid ones
        let valid: Vec<bool> = (0..n).map(|i| i == 0 || p.below(5) != 0).collect();
        let vals: Vec<f64> = (0..n).map(|_| (p.below(20000) as f64 - 10000.0) / 100.0).collect();
        let (rep, twin) = both!(case::<u128>(&keys, &valid, &vals));
        let want = plain(&keys, &valid, &vals);
        for got in [&rep, &twin] {
            assert_eq!(got.len(), want.len(), "number of groups, n={n}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1), (w.0, w.1), "key and count, n={n}");
                assert!((g.2 - w.2).abs() < 1e-9, "sum of group {}: {} vs {}", g.0, g.2, w.2);
            }
        }
    }
}
