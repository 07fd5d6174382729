//! Runs a case written against `Engine` on the protocol and on the twin.
#![allow(dead_code)]

use mitsu_crypto::Seed;
use mitsu_mpc_core::Result;
use mitsu_mpc_ref::RefEngine;
use mitsu_mpc_rep3::Rep3;
use mitsu_mpc_runtime::run3;

pub fn on_rep3<T: Send + PartialEq + std::fmt::Debug>(f: impl Fn(&mut Rep3) -> Result<T> + Sync) -> T {
    let [a, b, c] = run3(|ch| {
        let mut p = Rep3::setup(ch)?;
        f(&mut p)
    });
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(a, b, "parties disagree");
    assert_eq!(a, c, "parties disagree");
    a
}

pub fn on_twin<T>(f: impl Fn(&mut RefEngine) -> Result<T>) -> T {
    f(&mut RefEngine::new(Seed::from_u64(5))).unwrap()
}

/// Runs a generic case on both engines: (protocol, twin).
#[macro_export]
macro_rules! both {
    ($f:ident :: <$R:ty> ( $($arg:expr),* )) => {{
        let rep = common::on_rep3(|e| $f::<mitsu_mpc_rep3::Rep3, $R>(e, $($arg),*));
        let twin = common::on_twin(|e| $f::<mitsu_mpc_ref::RefEngine, $R>(e, $($arg),*));
        (rep, twin)
    }};
}

pub fn normals(seed: u64, n: usize, mean: f64, sd: f64) -> Vec<f64> {
    let mut p = mitsu_crypto::Prg::new(Seed::from_u64(seed));
    (0..n).map(|_| mean + sd * p.normal()).collect()
}
