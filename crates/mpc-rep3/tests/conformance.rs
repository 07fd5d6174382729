//! Conformance suite: every kernel runs on the replicated protocol (three parties on three threads)
//! and on the plaintext twin, in both rings, on random inputs and edge values; results must agree
//! (exactly, or within the one documented unit for probabilistic truncation).

use mitsu_algebra::{Planes, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, PartyId, Result};
use mitsu_mpc_ref::RefEngine;
use mitsu_mpc_rep3::Rep3;
use mitsu_mpc_runtime::run3;

/// Runs `f` on the protocol; all three parties must open the same result.
fn on_rep3<T: Send + PartialEq + std::fmt::Debug>(f: impl Fn(&mut Rep3) -> Result<T> + Sync) -> T {
    let [a, b, c] = run3(|ch| {
        let mut p = Rep3::setup(ch)?;
        f(&mut p)
    });
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a, b, "parties 0 and 1 opened different values");
    assert_eq!(a, c, "parties 0 and 2 opened different values");
    a
}

fn on_twin<T>(f: impl Fn(&mut RefEngine) -> Result<T>) -> T {
    f(&mut RefEngine::new(Seed::from_u64(99))).unwrap()
}

/// Runs a generic case on both engines and returns (protocol, twin).
macro_rules! both {
    ($f:ident :: <$R:ty> ( $($arg:expr),* )) => {{
        let rep = on_rep3(|e| $f::<Rep3, $R>(e, $($arg),*));
        let twin = on_twin(|e| $f::<RefEngine, $R>(e, $($arg),*));
        (rep, twin)
    }};
}

/// Shares `x` from `owner`. Every caller passes the data: non-owners ignore it, and the twin,
/// which plays all parties, needs it whoever the owner is.
fn share<E: Engine, R: Ring>(e: &mut E, owner: PartyId, x: &[R]) -> Result<E::A<R>> {
    e.input(owner, Some(x), x.len())
}

/// Random values with |v| < 2^bits, plus the edge values 0, -1, 1 and the ends of the range.
fn values<R: Ring>(seed: u64, n: usize, bits: u32) -> Vec<R> {
    let mut p = Prg::new(Seed::from_u64(seed));
    let mut v: Vec<R> = (0..n)
        .map(|_| {
            let r = (p.next_u64() as u128) << 64 | p.next_u64() as u128;
            let m = if bits >= 127 { r as i128 } else { (r % (1u128 << bits)) as i128 };
            R::from_i128(if p.next_u64() & 1 == 1 { -m } else { m })
        })
        .collect();
    let lim = if bits >= 127 { i128::MAX } else { (1i128 << bits) - 1 };
    let edges: Vec<i128> = [0, -1, 1, lim, -lim, lim - 1, 0, 0].into_iter().filter(|e| e.abs() <= lim).collect();
    for (i, e) in edges.iter().enumerate().take(n.min(edges.len())) {
        v[(i * 7919) % n] = R::from_i128(*e);
    }
    v
}

fn signed<R: Ring>(v: &[R]) -> Vec<i128> {
    v.iter().map(|x| x.to_i128()).collect()
}

// ---- cases, written once against Engine ------------------------------------------------------

fn linear<E: Engine, R: Ring>(e: &mut E, x: &[R], y: &[R]) -> Result<Vec<Vec<R>>> {
    let a = share(e, PartyId::P0, x)?;
    let b = share(e, PartyId::P1, y)?;
    let c = [R::from_i128(-3)];
    let n = x.len() as u32;
    let idx: Vec<u32> = (0..n).rev().collect();
    let ops = [
        e.add(&a, &b),
        e.sub(&a, &b),
        e.neg(&a),
        e.add_public(&a, &c),
        e.mul_public(&b, &c),
        e.sum(&a),
        e.prefix_sum(&b),
        e.gather(&a, &idx),
        e.constant(y),
    ];
    ops.iter().map(|o| e.open(o, mitsu_mpc_core::Reveal::Check)).collect()
}

fn mul_dot<E: Engine, R: Ring>(e: &mut E, x: &[R], y: &[R]) -> Result<Vec<Vec<R>>> {
    let a = share(e, PartyId::P0, x)?;
    let b = share(e, PartyId::P2, y)?;
    let p = e.mul(&a, &b)?;
    let d = e.dot(&[(&a, &b), (&b, &b)])?;
    // a 2x3 by 3x2 matrix product from the first six elements (when there are six)
    let mm = if x.len() >= 6 {
        let ma = e.slice(&a, 0..6);
        let mb = e.slice(&b, 0..6);
        e.matmul(&ma, &mb, 2, 3, 2)?
    } else {
        e.slice(&a, 0..0)
    };
    // a secret combination of three columns (a, b, a*b) with the first elements of b as
    // coefficients (or of a shorter vector when there are fewer)
    let coef = if x.len() >= 3 { e.slice(&b, 0..3) } else { e.constant(&[R::ONE, R::ZERO, R::ONE]) };
    let lc = e.lincomb(&coef, &[&a, &b, &p])?;
    let lc0 = e.lincomb(&e.slice(&coef, 0..0), &[])?;
    let po = e.open(&p, mitsu_mpc_core::Reveal::Check)?;
    let to = e.open_to(&d, PartyId::P1, mitsu_mpc_core::Reveal::Check)?;
    let d_all = e.open(&d, mitsu_mpc_core::Reveal::Check)?;
    // open_to: the recipient gets the value, the others nothing.
    if e.id() == PartyId::P1 {
        assert_eq!(to.as_deref(), Some(&d_all[..]));
    } else if std::any::type_name::<E>().contains("Rep3") {
        assert!(to.is_none(), "a party other than the recipient learned an opened value");
    }
    Ok(vec![
        po,
        d_all,
        e.open(&mm, mitsu_mpc_core::Reveal::Check)?,
        e.open(&lc, mitsu_mpc_core::Reveal::Check)?,
        e.open(&lc0, mitsu_mpc_core::Reveal::Check)?,
    ])
}

fn trunc_case<E: Engine, R: Ring>(e: &mut E, x: &[R], y: &[R], d: u32, bits: u32) -> Result<Vec<Vec<R>>> {
    let a = share(e, PartyId::P0, x)?;
    let t = e.trunc(&a, d, bits)?;
    let b = share(e, PartyId::P1, y)?;
    // y is bounded so that x*y < 2^bits as well (caller's choice of inputs)
    let mt = e.mul_trunc(&a, &b, d, bits)?;
    Ok(vec![e.open(&t, mitsu_mpc_core::Reveal::Check)?, e.open(&mt, mitsu_mpc_core::Reveal::Check)?])
}

fn compare_case<E: Engine, R: Ring>(e: &mut E, x: &[R], bits: u32) -> Result<Vec<Planes>> {
    let a = share(e, PartyId::P2, x)?;
    let m = e.msb(&a, bits)?;
    let z = e.eqz(&a, bits)?;
    Ok(vec![e.open_b(&m, mitsu_mpc_core::Reveal::Check)?, e.open_b(&z, mitsu_mpc_core::Reveal::Check)?])
}

fn convert_case<E: Engine, R: Ring>(e: &mut E, x: &[R], nbits: u32) -> Result<(Planes, Vec<R>, Vec<R>, Vec<R>)> {
    let a = share(e, PartyId::P0, x)?;
    let b = e.a2b(&a, nbits)?;
    let back: E::A<R> = e.b2a(&b)?;
    let each: E::A<R> = e.bits2a(&b)?;
    let w: Vec<R> = (0..nbits).map(|p| R::from_i128(p as i128 * 1_000_003 - 77)).collect();
    let weighted: E::A<R> = e.b2a_weighted(&b, &w)?;
    Ok((
        e.open_b(&b, mitsu_mpc_core::Reveal::Check)?,
        e.open(&back, mitsu_mpc_core::Reveal::Check)?,
        e.open(&each, mitsu_mpc_core::Reveal::Check)?,
        e.open(&weighted, mitsu_mpc_core::Reveal::Check)?,
    ))
}

fn boolean_case<E: Engine, R: Ring>(e: &mut E, x: &Planes, y: &Planes) -> Result<Vec<Planes>> {
    let (np, n) = (x.nplanes(), x.n());
    let a = e.input_b(PartyId::P1, Some(x), np, n)?;
    let b = e.input_b(PartyId::P0, Some(y), np, n)?;
    let and = e.b_and(&a, &b)?;
    let xor = e.b_xor(&a, &b);
    let not = e.b_not(&a);
    let st = e.b_stack(&[&e.b_select(&a, 0..1), &and]);
    let _ = R::ZERO;
    Ok(vec![
        e.open_b(&and, mitsu_mpc_core::Reveal::Check)?,
        e.open_b(&xor, mitsu_mpc_core::Reveal::Check)?,
        e.open_b(&not, mitsu_mpc_core::Reveal::Check)?,
        e.open_b(&st, mitsu_mpc_core::Reveal::Check)?,
    ])
}

fn shuffle_case<E: Engine, R: Ring>(e: &mut E, x: &[R], y: &[R]) -> Result<Vec<Vec<R>>> {
    let a = share(e, PartyId::P0, x)?;
    let b = share(e, PartyId::P1, y)?;
    let s = e.shuffle(&[&a, &b])?;
    Ok(vec![e.open(&s[0], mitsu_mpc_core::Reveal::Check)?, e.open(&s[1], mitsu_mpc_core::Reveal::Check)?])
}

fn extend_case<E: Engine, R: Ring>(e: &mut E, x: &[u64], bits: u32) -> Result<Vec<u128>> {
    let a = share(e, PartyId::P0, x)?;
    let w = e.extend(&a, bits)?;
    let _ = R::ZERO;
    e.open(&w, mitsu_mpc_core::Reveal::Check)
}

// ---- the checks -------------------------------------------------------------------------------

const SIZES: [usize; 5] = [0, 1, 2, 65, 300];

fn check_linear_and_mul<R: Ring>() {
    for &n in &SIZES {
        let x = values::<R>(n as u64, n, R::BITS - 1);
        let y = values::<R>(n as u64 + 7, n, R::BITS - 1);
        let (rep, twin) = both!(linear::<R>(&x, &y));
        assert_eq!(rep, twin, "linear ops, n={n}, {}", R::NAME);
        let (rep, twin) = both!(mul_dot::<R>(&x, &y));
        assert_eq!(rep, twin, "mul/dot/matmul, n={n}, {}", R::NAME);
    }
}

fn check_trunc<R: Ring>() {
    // bounds on both sides of the probabilistic/exact switch (k - 41)
    for bits in [8, 20, R::BITS - 41, R::BITS - 40, R::BITS - 2] {
        for d in [1u32, 7, 16.min(bits)] {
            for &n in &SIZES {
                let x = values::<R>(bits as u64 * 31 + n as u64, n, bits);
                // y small enough that |x*y| < 2^bits: |y| < 2^(bits - xb) with |x| < 2^xb
                let xb = bits / 2;
                let xs = values::<R>(bits as u64 * 17 + n as u64, n, xb);
                let ys = values::<R>(bits as u64 * 13 + n as u64, n, bits - xb);
                let (rep, twin) = both!(trunc_case::<R>(&xs, &ys, d, bits));
                let (rep1, twin1) = both!(trunc_case::<R>(&x, &ys.iter().map(|_| R::ONE).collect::<Vec<_>>(), d, bits));
                for (r, t) in rep.iter().zip(&twin).chain(rep1.iter().zip(&twin1)) {
                    for (a, b) in signed(r).iter().zip(signed(t)) {
                        let diff = a - b;
                        let exact = bits.max(d) > R::BITS - 41;
                        assert!(
                            if exact { diff == 0 } else { diff == 0 || diff == 1 },
                            "trunc by {d} of |x| < 2^{bits} in {}: got {a}, want {b}",
                            R::NAME
                        );
                    }
                }
            }
        }
    }
}

fn check_compare<R: Ring>() {
    for bits in [0u32, 1, 5, 26, 33, R::BITS - 2, R::BITS - 1] {
        for &n in &SIZES {
            let mut x = values::<R>(bits as u64 + 1000 * n as u64, n, bits);
            if n > 10 {
                x[3] = x[4]; // duplicates
            }
            let (rep, twin) = both!(compare_case::<R>(&x, bits));
            assert_eq!(rep, twin, "msb/eqz with |x| < 2^{bits}, n={n}, {}", R::NAME);
        }
    }
}

fn check_convert<R: Ring>() {
    for nbits in [1u32, 2, 17, 64, R::BITS] {
        for &n in &SIZES {
            let x = values::<R>(nbits as u64 + 77 * n as u64, n, R::BITS - 1);
            let (rep, twin) = both!(convert_case::<R>(&x, nbits));
            assert_eq!(rep, twin, "a2b/b2a of {nbits} bits, n={n}, {}", R::NAME);
            let low: Vec<R> = x.iter().map(|v| v.low_bits(nbits)).collect();
            assert_eq!(rep.1, low, "b2a(a2b(x)) is x mod 2^{nbits}");
        }
    }
}

fn check_boolean<R: Ring>() {
    for &n in &SIZES {
        let xv = values::<u64>(n as u64 + 5, n, 63);
        let yv = values::<u64>(n as u64 + 6, n, 63);
        let x = Planes::from_values(&xv, 3);
        let y = Planes::from_values(&yv, 3);
        let (rep, twin) = both!(boolean_case::<R>(&x, &y));
        assert_eq!(rep, twin, "boolean ops, n={n}");
    }
}

fn check_shuffle<R: Ring>() {
    for &n in &SIZES {
        let x = values::<R>(n as u64 + 50, n, R::BITS - 1);
        let y: Vec<R> = (0..n as u64).map(R::from_u64).collect();
        let (rep, twin) = both!(shuffle_case::<R>(&x, &y));
        for out in [&rep, &twin] {
            // the payload column still pairs with its key, and nothing is lost or duplicated
            let mut seen = vec![false; n];
            for (k, p) in out[0].iter().zip(&out[1]) {
                let i = p.low_u64() as usize;
                assert!(!seen[i], "element {i} appears twice");
                seen[i] = true;
                assert_eq!(*k, x[i]);
            }
            assert!(seen.iter().all(|s| *s));
        }
        if n >= 65 {
            assert_ne!(rep[1], y, "a shuffle of 65 elements left them in order");
        }
    }
}

#[test]
fn linear_and_multiplication_z64() {
    check_linear_and_mul::<u64>();
}
#[test]
fn linear_and_multiplication_z128() {
    check_linear_and_mul::<u128>();
}
#[test]
fn truncation_z64() {
    check_trunc::<u64>();
}
#[test]
fn truncation_z128() {
    check_trunc::<u128>();
}
#[test]
fn msb_and_eqz_z64() {
    check_compare::<u64>();
}
#[test]
fn msb_and_eqz_z128() {
    check_compare::<u128>();
}
#[test]
fn bit_decomposition_and_injection_z64() {
    check_convert::<u64>();
}
#[test]
fn bit_decomposition_and_injection_z128() {
    check_convert::<u128>();
}
#[test]
fn boolean_gates() {
    check_boolean::<u64>();
}
#[test]
fn shuffle_z64() {
    check_shuffle::<u64>();
}
#[test]
fn shuffle_z128() {
    check_shuffle::<u128>();
}

#[test]
fn ring_extension() {
    for bits in [0u32, 1, 20, 40, 62] {
        for &n in &SIZES {
            let x = values::<u64>(bits as u64 + n as u64, n, bits);
            let (rep, twin) = both!(extend_case::<u64>(&x, bits));
            assert_eq!(rep, twin, "extend |x| < 2^{bits}, n={n}");
        }
    }
}

#[test]
fn the_twin_refuses_values_outside_their_declared_bound() {
    let mut e = RefEngine::new(Seed::from_u64(1));
    let x = vec![1u64 << 20];
    let a = e.input(PartyId::P0, Some(&x), 1).unwrap();
    let err = e.msb(&a, 20).unwrap_err().to_string();
    assert!(err.contains("breaks its declared bound 2^20"), "{err}");
    assert!(e.msb(&a, 21).is_ok());
}
