//! Benchmark jobs (`mitsu bench --processes`, admins only): compute + open of inputs an admin
//! staged at every party, timed by the client. [`compute_op`] is also what `mitsu-bench` runs in
//! process for the comparison, so both measure the same code.

use crate::job::{Fail, agree};
use crate::state::State;
use mitsu_algebra::{FixedPoint, Ring};
use mitsu_api::Role;
use mitsu_api::wire::{BenchOp, BenchSpec};
use mitsu_mpc_core::{Channel, MpcError, Result};
use mitsu_mpc_ops::{Num, lt};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_store::Account;

/// Elements per batch inside a party (larger batches mean fewer round trips).
pub const BATCH: usize = 1 << 18;

/// The staged bytes of one operation: the shares of x, then of y (upload layout).
pub fn pair_bytes<R: Ring>(x: &AShare<R>, y: &AShare<R>) -> Vec<u8> {
    [mitsu_mpc_rep3::client::share_bytes(x), mitsu_mpc_rep3::client::share_bytes(y)].concat()
}

fn pair_from<R: Ring>(bytes: &[u8], n: usize) -> Result<(AShare<R>, AShare<R>)> {
    let sz = 2 * n * std::mem::size_of::<R>();
    if bytes.len() != 2 * sz {
        return Err(MpcError::invalid(format!("staged inputs have {} bytes, expected {}", bytes.len(), 2 * sz)));
    }
    let from = mitsu_mpc_rep3::client::share_from_bytes::<R>;
    Ok((from(&bytes[..sz], n)?, from(&bytes[sz..], n)?))
}

fn slice<R: Ring>(s: &AShare<R>, r: std::ops::Range<usize>) -> AShare<R> {
    let (a, b) = s.components();
    AShare::from_components(a[r.clone()].to_vec(), b[r].to_vec()).expect("same lengths")
}

fn run_pair<R: Ring>(p: &mut Rep3, op: BenchOp, spec: BenchSpec, x: &AShare<R>, y: &AShare<R>) -> Result<Vec<u8>> {
    let fmt = FixedPoint { frac: spec.frac, bits: spec.bits };
    let mut out = Vec::new();
    for start in (0..spec.n).step_by(BATCH) {
        let r = start..(start + BATCH).min(spec.n);
        let (a, b) = (slice(x, r.clone()), slice(y, r));
        match op {
            BenchOp::MulInt => out.extend_from_slice(bytemuck::cast_slice(&p.mul(&a, &b)?.into_client())),
            BenchOp::MulFixed => out
                .extend_from_slice(bytemuck::cast_slice(&p.mul_trunc(&a, &b, spec.frac, 2 * spec.bits)?.into_client())),
            BenchOp::Lt | BenchOp::Eq => {
                let an = Num::<Rep3, R>::from_share(a, fmt, "x")?;
                let bn = Num::<Rep3, R>::from_share(b, fmt, "y")?;
                let bits = if op == BenchOp::Lt { lt(p, &an, &bn)? } else { mitsu_mpc_ops::eq(p, &an, &bn)? };
                out.extend_from_slice(bytemuck::cast_slice(bits.into_client().words()));
            }
        }
    }
    Ok(out)
}

/// One party's compute + open of `op` on its staged bytes; returns its client component.
pub fn compute_op(p: &mut Rep3, op: BenchOp, spec: BenchSpec, staged: &[u8]) -> Result<Vec<u8>> {
    match spec.ring {
        64 => {
            let (x, y) = pair_from::<u64>(staged, spec.n)?;
            run_pair(p, op, spec, &x, &y)
        }
        128 => {
            let (x, y) = pair_from::<u128>(staged, spec.n)?;
            run_pair(p, op, spec, &x, &y)
        }
        r => Err(MpcError::invalid(format!("benchmarks run in a 64- or 128-bit ring, not {r}"))),
    }
}

/// The job: checks the caller, takes the staged inputs and computes with the peers.
pub(crate) fn run(
    state: &State,
    who: &Account,
    id: u64,
    d: &[u8; 32],
    op: BenchOp,
    stage: u64,
    spec: BenchSpec,
) -> std::result::Result<(Vec<u8>, Vec<mitsu_mpc_core::Opened>), Fail> {
    if who.role != Role::Admin {
        return Err(Fail(403, "only admins may run benchmarks".into()));
    }
    let Some(staged) = state.bench.lock().unwrap_or_else(|p| p.into_inner()).remove(&stage) else {
        return Err(Fail(404, format!("no benchmark inputs staged under {stage}")));
    };
    let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(id)));
    agree(state, &mut ch, d)?;
    let mut p = Rep3::setup(ch)?;
    let out = compute_op(&mut p, op, spec, &staged)?;
    Ok((out, mitsu_mpc_core::Engine::opened(&p).to_vec()))
}
