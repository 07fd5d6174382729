//! Exact division (`div_trunc`) on both engines against plain integer division, at every
//! magnitude its plan allows: random operands, powers of two and their neighbours, exact
//! multiples and one less, zero, signs. The twin also checks every bound the steps promise.

mod common;

use mitsu_algebra::Ring;
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, PartyId, Result};
use mitsu_mpc_ops::{div_plan, div_trunc};

fn case<E: Engine, R: Ring>(e: &mut E, pairs: &[(i128, i128)], abits: u32, bbits: u32) -> Result<Vec<i128>> {
    let a: Vec<R> = pairs.iter().map(|p| R::from_i128(p.0)).collect();
    let b: Vec<R> = pairs.iter().map(|p| R::from_i128(p.1)).collect();
    let sa = e.input(PartyId::P0, Some(&a), a.len())?;
    let sb = e.input(PartyId::P1, Some(&b), b.len())?;
    let q = div_trunc(e, &sa, abits, &sb, bbits, "a / b")?;
    Ok(e.open(&q, mitsu_mpc_core::Reveal::Check)?.into_iter().map(|x| x.to_i128()).collect())
}

fn below(p: &mut Prg, bits: u32) -> i128 {
    let r = (p.next_u64() as u128) | ((p.next_u64() as u128) << 64);
    let r = if bits >= 128 { r } else { r & ((1u128 << bits) - 1) };
    r as i128
}

fn pairs(seed: u64, abits: u32, bbits: u32) -> Vec<(i128, i128)> {
    let mut p = Prg::new(Seed::from_u64(seed));
    let amax = (1i128 << abits) - 1;
    let bmax = (1i128 << bbits) - 1;
    let mut v =
        vec![(0, 1), (amax, 1), (amax, bmax), (-amax, bmax), (amax, -1), (1, bmax), (-1, bmax), (7, 2), (-7, 2)];
    for k in [1i128, 3, 1000] {
        let b = bmax.min((1 << (bbits / 2)) + 1);
        if k * b <= amax {
            v.extend([(k * b, b), (k * b - 1, b), (-(k * b), b), (k * b + 1, -b)]);
        }
    }
    for i in 0..bbits {
        let b = 1i128 << i;
        v.push((amax, b));
        v.push((amax - 1, (b + 1).min(bmax)));
    }
    for _ in 0..120 {
        // magnitudes spread over the whole range: a random bit length, then random bits
        let (la, lb) = (below(&mut p, 8) as u32 % (abits + 1), 1 + below(&mut p, 8) as u32 % bbits);
        let a = below(&mut p, la);
        let b = below(&mut p, lb).max(1);
        let sa = if p.next_u64().is_multiple_of(2) { 1 } else { -1 };
        let sb = if p.next_u64().is_multiple_of(3) { -1 } else { 1 };
        v.push((sa * a, sb * b));
    }
    v.retain(|&(a, b)| a.abs() <= amax && b != 0 && b.abs() <= bmax);
    v
}

#[test]
fn division_is_exact_at_every_magnitude_it_accepts() {
    for (abits, bbits) in [(100, 20), (92, 40), (126 - 2, 3), (70, 50), (64, 1), (40, 40)] {
        if div_plan::<u128>(abits, bbits).is_none() {
            panic!("2^{abits} / 2^{bbits} should be planned");
        }
        let ps = pairs(abits as u64 * 131 + bbits as u64, abits, bbits);
        let want: Vec<i128> = ps.iter().map(|(a, b)| a / b).collect();
        let (rep, twin) = both!(case::<u128>(&ps, abits, bbits));
        for (i, ((x, y), w)) in ps.iter().zip(&want).enumerate() {
            assert_eq!(rep[i], *w, "protocol: {x} / {y} (2^{abits} / 2^{bbits})");
            assert_eq!(twin[i], *w, "twin: {x} / {y} (2^{abits} / 2^{bbits})");
        }
    }
    for (abits, bbits) in [(40, 10), (50, 4)] {
        if div_plan::<u64>(abits, bbits).is_none() {
            continue;
        }
        let ps = pairs(7, abits, bbits);
        let want: Vec<i128> = ps.iter().map(|(a, b)| a / b).collect();
        let (rep, twin) = both!(case::<u64>(&ps, abits, bbits));
        assert_eq!((&rep, &twin), (&want, &want), "Z_2^64: 2^{abits} / 2^{bbits}");
    }
}

#[test]
fn divisions_beyond_the_ring_are_refused() {
    assert!(div_plan::<u128>(100, 60).is_none());
    assert!(div_plan::<u128>(127, 10).is_none());
    let err = common::on_twin(|e| Ok(case::<_, u128>(e, &[(1, 1)], 100, 60))).unwrap_err();
    assert!(err.to_string().contains("a / b"), "{err}");
}

mod random {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        // any planned pair of bounds, operands anywhere inside them
        #[test]
        fn exact_for_any_planned_bounds(abits in 1u32..125, bbits in 1u32..60, seed in any::<u64>()) {
            prop_assume!(div_plan::<u128>(abits, bbits).is_some());
            let ps = pairs(seed, abits, bbits);
            let want: Vec<i128> = ps.iter().map(|(a, b)| a / b).collect();
            let twin = common::on_twin(|e| case::<_, u128>(e, &ps, abits, bbits));
            prop_assert_eq!(twin, want);
        }
    }
}
