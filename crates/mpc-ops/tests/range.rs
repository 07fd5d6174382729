//! `all_within` on both engines against a plain check, for values inside, at and beyond the
//! edges of their range, and anywhere in the ring (what a dishonest dealer can share).

mod common;

use mitsu_algebra::Ring;
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, PartyId, Result};
use mitsu_mpc_ops::all_within;

/// 1 when every value is inside, else 0 (as the count tests below compare).
fn case<E: Engine, R: Ring>(e: &mut E, xs: &[i128], lo: i128, hi: i128) -> Result<i128> {
    let v: Vec<R> = xs.iter().map(|&x| R::from_i128(x)).collect();
    let x = e.input(PartyId::P0, Some(&v), v.len())?;
    let c = all_within(e, &x, lo, hi)?;
    Ok(e.open_b(&c, mitsu_mpc_core::Reveal::Check)?.get(0, 0) as i128)
}

fn plain<R: Ring>(xs: &[i128], lo: i128, hi: i128) -> i128 {
    // as the ring sees them: values wrap to signed k-bit integers
    xs.iter().filter(|&&x| !(lo..=hi).contains(&R::from_i128(x).to_i128())).count() as i128
}

fn values<R: Ring>(seed: u64, lo: i128, hi: i128) -> Vec<i128> {
    let mut p = Prg::new(Seed::from_u64(seed));
    let min = -(1i128 << (R::BITS - 1).min(126));
    let mut v = vec![lo, hi, lo - 1, hi + 1, 0, 1, -1, lo + 1, hi - 1, min + 1, -(min + 1)];
    for _ in 0..200 {
        let r = p.next_u64() as i128 | ((p.next_u64() as i128) << 64);
        v.push(match p.next_u64() % 3 {
            0 => lo + (r.rem_euclid(hi - lo + 1)),
            1 => R::from_i128(r).to_i128(),
            _ => hi + 1 + (r.rem_euclid(1000)),
        });
    }
    v.push(min);
    v
}

fn check(rep: i128, twin: i128, outside: i128, lo: i128, hi: i128) {
    assert_eq!(rep, twin, "[{lo}, {hi}]");
    assert_eq!(rep, (outside == 0) as i128, "[{lo}, {hi}]: {outside} outside");
}

#[test]
fn count_outside_matches_a_plain_count() {
    for (lo, hi) in [(-(1i128 << 40) + 1, (1 << 40) - 1), (0, 1), (0, 0), (-5, 17)] {
        let xs = values::<u64>(3, lo, hi);
        let (rep, twin) = both!(case::<u64>(&xs, lo, hi));
        check(rep, twin, plain::<u64>(&xs, lo, hi), lo, hi);
        let inside: Vec<i128> = xs.iter().copied().filter(|x| (lo..=hi).contains(x)).collect();
        assert_eq!(both!(case::<u64>(&inside, lo, hi)), (1, 1));
        // one element outside is enough to be seen, wherever it is
        for at in [0, inside.len() / 2, inside.len()] {
            let mut one = inside.clone();
            one.insert(at, lo - 1);
            assert_eq!(both!(case::<u64>(&one, lo, hi)), (0, 0));
        }
    }
    for (lo, hi) in [(-(1i128 << 120) + 1, (1 << 120) - 1), (0, 1), (-(1i128 << 96) + 1, (1 << 96) - 1)] {
        let xs = values::<u128>(4, lo, hi);
        let (rep, twin) = both!(case::<u128>(&xs, lo, hi));
        check(rep, twin, plain::<u128>(&xs, lo, hi), lo, hi);
        let inside: Vec<i128> = xs.iter().copied().filter(|x| (lo..=hi).contains(x)).collect();
        assert_eq!(both!(case::<u128>(&inside, lo, hi)), (1, 1));
        let mut one = inside.clone();
        one.push(hi + 1);
        assert_eq!(both!(case::<u128>(&one, lo, hi)), (0, 0));
        assert_eq!(both!(case::<u128>(&[], lo, hi)), (1, 1));
    }
}
