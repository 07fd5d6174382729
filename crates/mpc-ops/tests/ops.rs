//! Comparisons, selection, min/max and sort on the protocol and the twin, against plain math.

mod common;

use mitsu_algebra::{FixedPoint, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, MpcError, PartyId, Result};
use mitsu_mpc_ops::{Num, eq, ge, gt, le, lt, max, maximum, min, minimum, select, sort_by_key};

fn load<E: Engine, R: Ring>(e: &mut E, x: &[f64], fmt: FixedPoint, name: &str) -> Result<Num<E, R>> {
    Num::input_f64(e, PartyId::P0, Some(x), x.len(), fmt, name)
}

fn cmp_case<E: Engine, R: Ring>(e: &mut E, x: &[f64], y: &[f64], fmt: FixedPoint) -> Result<Vec<Vec<bool>>> {
    let a = load::<E, R>(e, x, fmt, "x")?;
    let b = load::<E, R>(e, y, fmt, "y")?;
    let bits = [lt(e, &a, &b)?, le(e, &a, &b)?, gt(e, &a, &b)?, ge(e, &a, &b)?, eq(e, &a, &b)?];
    bits.iter().map(|c| Ok(e.open_b(c, mitsu_mpc_core::Reveal::Check)?.plane_bools(0))).collect()
}

fn minmax_case<E: Engine, R: Ring>(e: &mut E, x: &[f64], y: &[f64], fmt: FixedPoint) -> Result<Vec<Vec<f64>>> {
    let a = load::<E, R>(e, x, fmt, "x")?;
    let b = load::<E, R>(e, y, fmt, "y")?;
    let c = lt(e, &a, &b)?;
    let s = select(e, &c, &b, &a)?; // max via select
    Ok(vec![
        min(e, &a, &b)?.open_f64(e, mitsu_mpc_core::Reveal::Check)?,
        max(e, &a, &b)?.open_f64(e, mitsu_mpc_core::Reveal::Check)?,
        s.open_f64(e, mitsu_mpc_core::Reveal::Check)?,
        minimum(e, &a)?.open_f64(e, mitsu_mpc_core::Reveal::Check)?,
        maximum(e, &a)?.open_f64(e, mitsu_mpc_core::Reveal::Check)?,
    ])
}

fn sort_case<E: Engine, R: Ring>(e: &mut E, keys: &[i64], key_bits: u32) -> Result<(Vec<i128>, Vec<i128>)> {
    let n = keys.len();
    let kv: Vec<R> = keys.iter().map(|&k| R::from_i128(k as i128)).collect();
    let pv: Vec<R> = (0..n as u64).map(R::from_u64).collect();
    let k = e.input(PartyId::P1, Some(&kv), n)?;
    let p = e.input(PartyId::P2, Some(&pv), n)?;
    let key = Num::<E, R>::from_share(k, FixedPoint::int(key_bits), "k")?;
    let (sk, sp) = sort_by_key(e, &key, &[&p])?;
    let ok = e.open(&sk.share, mitsu_mpc_core::Reveal::Check)?.iter().map(|v| v.to_i128()).collect();
    let op = e.open(&sp[0], mitsu_mpc_core::Reveal::Check)?.iter().map(|v| v.to_i128()).collect();
    Ok((ok, op))
}

fn with_ties(seed: u64, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = common::normals(seed, n, 50.0, 10.0);
    let y: Vec<f64> = common::normals(seed + 1, n, 50.0, 10.0)
        .iter()
        .enumerate()
        .map(|(i, v)| if i % 3 == 0 { x[i] } else { *v })
        .collect();
    if n > 4 {
        x[0] = 127.99;
        x[1] = -127.99;
        x[2] = 0.0;
    }
    (x, y)
}

fn check_cmp<R: Ring>() {
    let fmt = FixedPoint::real(7, 16);
    for n in [0usize, 1, 2, 100, 257] {
        let (x, y) = with_ties(n as u64, n);
        let (rep, twin) = both!(cmp_case::<R>(&x, &y, fmt));
        assert_eq!(rep, twin);
        let ex: Vec<f64> = x.iter().map(|v| fmt.decode::<R>(fmt.encode(*v).unwrap())).collect();
        let ey: Vec<f64> = y.iter().map(|v| fmt.decode::<R>(fmt.encode(*v).unwrap())).collect();
        for i in 0..n {
            let (a, b) = (ex[i], ey[i]);
            assert_eq!(
                [rep[0][i], rep[1][i], rep[2][i], rep[3][i], rep[4][i]],
                [a < b, a <= b, a > b, a >= b, a == b],
                "comparisons of {a} and {b}"
            );
        }
    }
}

#[test]
fn comparisons_match_plain_comparisons_z64() {
    check_cmp::<u64>();
}

#[test]
fn comparisons_match_plain_comparisons_z128() {
    check_cmp::<u128>();
}

#[test]
fn min_max_and_select() {
    let fmt = FixedPoint::real(7, 16);
    for n in [1usize, 2, 3, 64, 101] {
        let (x, y) = with_ties(n as u64 + 9, n);
        let (rep, twin) = both!(minmax_case::<u64>(&x, &y, fmt));
        assert_eq!(rep, twin);
        let q = |v: f64| fmt.decode::<u64>(fmt.encode(v).unwrap());
        for i in 0..n {
            assert_eq!(rep[0][i], q(x[i]).min(q(y[i])));
            assert_eq!(rep[1][i], q(x[i]).max(q(y[i])));
            assert_eq!(rep[2][i], q(x[i]).max(q(y[i])));
        }
        assert_eq!(rep[3][0], x.iter().map(|v| q(*v)).fold(f64::INFINITY, f64::min));
        assert_eq!(rep[4][0], x.iter().map(|v| q(*v)).fold(f64::NEG_INFINITY, f64::max));
    }
}

fn check_sort<R: Ring>(key_bits: u32) {
    for n in [0usize, 1, 2, 3, 17, 300] {
        let mut p = Prg::new(Seed::from_u64(n as u64 + key_bits as u64));
        let lim = 1i128 << key_bits;
        let mut keys: Vec<i64> = (0..n)
            .map(|_| ((p.next_u64() as i128 % lim) - (p.next_u64() as i128 % lim)).clamp(-lim + 1, lim - 1) as i64)
            .collect();
        // ties and the ends of the range
        if n >= 3 {
            keys[0] = keys[n - 1];
            keys[1] = (lim - 1) as i64;
            keys[2] = (-lim + 1) as i64;
        }
        let (rep, twin) = both!(sort_case::<R>(&keys, key_bits));
        assert_eq!(rep, twin, "sort n={n}");
        // expected: stable sort of (key, original index)
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by_key(|&i| keys[i]);
        assert_eq!(rep.0, idx.iter().map(|&i| keys[i] as i128).collect::<Vec<_>>(), "sorted keys");
        assert_eq!(rep.1, idx.iter().map(|&i| i as i128).collect::<Vec<_>>(), "payload follows, ties keep their order");
    }
}

#[test]
fn sort_is_stable_and_carries_payload_z64() {
    check_sort::<u64>(30);
}

#[test]
fn sort_of_full_64_bit_keys_z128() {
    check_sort::<u128>(63);
}

#[test]
fn sort_refuses_keys_too_wide_for_the_ring() {
    let r = common::on_twin(|e| Ok(sort_case::<_, u64>(e, &[1, 2, 3], 63)));
    let err = r.unwrap_err();
    assert!(matches!(err, MpcError::Range { .. }), "{err}");
    assert!(err.to_string().contains("sort key k"), "{err}");
}

#[test]
fn arithmetic_that_could_overflow_is_refused_with_the_expression() {
    let err = common::on_twin(|e| {
        let a = load::<_, u64>(e, &[1.0], FixedPoint::real(20, 16), "revenue")?;
        let b = load::<_, u64>(e, &[1.0], FixedPoint::real(20, 16), "price")?;
        Ok(a.mul(e, &b, 16).map(|_| ()))
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("(revenue * price)") && msg.contains("Z64"), "{msg}");
    // the same product fits Z128
    common::on_twin(|e| {
        let a = load::<_, u128>(e, &[3.5], FixedPoint::real(20, 16), "revenue")?;
        let b = load::<_, u128>(e, &[2.0], FixedPoint::real(20, 16), "price")?;
        assert_eq!(a.mul(e, &b, 16)?.open_f64(e, mitsu_mpc_core::Reveal::Check)?, vec![7.0]);
        Ok(())
    });
}

#[test]
fn out_of_range_inputs_are_refused_before_sharing() {
    let err = common::on_twin(|e| Ok(load::<_, u64>(e, &[1.0, 200.0], FixedPoint::real(7, 16), "x").map(|_| ())))
        .unwrap_err();
    assert!(err.to_string().contains("outside the declared range"), "{err}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn mul_lt<E: Engine, R: Ring>(e: &mut E, x: &[f64], y: &[f64]) -> Result<(Vec<f64>, Vec<bool>)> {
        let fmt = FixedPoint::real(10, 16);
        let a = load::<E, R>(e, x, fmt, "x")?;
        let b = load::<E, R>(e, y, fmt, "y")?;
        let c = lt(e, &a, &b)?;
        Ok((
            a.mul(e, &b, 16)?.open_f64(e, mitsu_mpc_core::Reveal::Check)?,
            e.open_b(&c, mitsu_mpc_core::Reveal::Check)?.plane_bools(0),
        ))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn fixed_point_product_within_one_ulp_and_lt_exact(v in proptest::collection::vec((-1000.0f64..1000.0, -1000.0f64..1000.0), 0..40)) {
            let x: Vec<f64> = v.iter().map(|p| p.0).collect();
            let y: Vec<f64> = v.iter().map(|p| p.1).collect();
            let (rep, twin) = both!(mul_lt::<u128>(&x, &y));
            let fmt = FixedPoint::real(10, 16);
            for i in 0..x.len() {
                let (qx, qy) = (fmt.decode::<u128>(fmt.encode(x[i]).unwrap()), fmt.decode::<u128>(fmt.encode(y[i]).unwrap()));
                prop_assert!((rep.0[i] - qx * qy).abs() <= 2.0 / 65536.0);
                prop_assert!((twin.0[i] - qx * qy).abs() <= 1.0 / 65536.0);
                prop_assert_eq!(rep.1[i], qx < qy);
            }
            prop_assert_eq!(rep.1, twin.1);
        }
    }
}
