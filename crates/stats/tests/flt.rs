//! The secret floating point against f64 on random and edge values, on the twin and the protocol.

use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, PartyId};
use mitsu_mpc_ref::RefEngine;
use mitsu_mpc_rep3::Rep3;
use mitsu_stats::flt::Flt;

fn input<E: Engine>(e: &mut E, v: &[f64]) -> Flt<E, u128> {
    // exact integers at 2^-20: the conversion path the kernels use
    let raw: Vec<u128> = v.iter().map(|x| u128::from_i128((x * (1u64 << 20) as f64).round() as i128)).collect();
    let mine = e.id() == PartyId::P0;
    let a = e.input(PartyId::P0, mine.then_some(raw.as_slice()), v.len()).unwrap();
    Flt::from_fixed(e, &a, 90, 20).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    if b == 0.0 { a.abs() } else { ((a - b) / b).abs() }
}

fn check<E: Engine>(e: &mut E, a: &[f64], b: &[f64]) {
    let x = input(e, a);
    let y = input(e, b);
    let got = x.open(e, mitsu_mpc_core::Reveal::Check).unwrap();
    for (g, w) in got.iter().zip(a) {
        assert!(rel(*g, *w) < 1e-11, "from_fixed {g} vs {w}");
    }
    let ops: Vec<(&str, Flt<E, u128>, Box<dyn Fn(f64, f64) -> f64>)> = vec![
        ("mul", x.mul(e, &y).unwrap(), Box::new(|a, b| a * b)),
        ("add", x.add(e, &y).unwrap(), Box::new(|a, b| a + b)),
        ("sub", x.sub(e, &y).unwrap(), Box::new(|a, b| a - b)),
        ("div", x.div(e, &y).unwrap(), Box::new(|a, b| a / b)),
        ("sqrt", x.sqrt(e).unwrap(), Box::new(|a, _| a.abs().sqrt())),
        ("mul_const", x.mul_const(e, &[-3.7e-5]).unwrap(), Box::new(|a, _| a * -3.7e-5)),
        ("neg", x.neg(e), Box::new(|a, _| -a)),
    ];
    for (name, r, f) in ops {
        let got = r.open(e, mitsu_mpc_core::Reveal::Check).unwrap();
        for i in 0..a.len() {
            let want = f(a[i], b[i]);
            let want = if name == "div" && b[i] == 0.0 { 0.0 } else { want };
            // sums lose what the operands' own rounding (2^-20 absolute) already lost
            let tol =
                if name == "add" || name == "sub" { 1e-10 * (a[i].abs() + b[i].abs()) } else { 1e-10 * want.abs() };
            assert!((got[i] - want).abs() <= tol.max(1e-300), "{name}({}, {}) = {} want {want}", a[i], b[i], got[i]);
        }
    }
}

fn values() -> (Vec<f64>, Vec<f64>) {
    let mut a = vec![0.0, 1.0, -1.0, 0.5, 3.0, 1e9, -2.5e-6, 7.0, 0.0, 123456.789, 1.0, -4.0];
    let mut b = vec![2.0, 0.0, 1.0, -0.5, 3.0, 1e-5, 8e8, -7.0, 0.0, 0.001, -1.0, 4.0];
    let mut s = 7u64;
    for _ in 0..40 {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let m = ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0;
        let ex = ((s >> 3) % 50) as i32 - 15;
        a.push(m * (2f64).powi(ex));
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let m = ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0;
        b.push(m * (2f64).powi(((s >> 5) % 50) as i32 - 15));
    }
    // the inputs as the fixed-point encoding sees them
    let q = |v: f64| (v * (1u64 << 20) as f64).round() / (1u64 << 20) as f64;
    (a.into_iter().map(q).collect(), b.into_iter().map(q).collect())
}

#[test]
fn twin() {
    let (a, b) = values();
    let mut e = RefEngine::new(mitsu_crypto::Seed::from_u64(3));
    check(&mut e, &a, &b);
}

#[test]
fn protocol() {
    let (a, b) = values();
    let r = mitsu_mpc_runtime::run3(|ch| {
        let mut p = Rep3::setup(ch)?;
        check(&mut p, &a, &b);
        Ok::<_, mitsu_mpc_core::MpcError>(())
    });
    for x in r {
        x.unwrap();
    }
}
