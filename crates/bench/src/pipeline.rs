//! The measured path: a client thread encodes and deals batch k+1 while the three party threads
//! compute batch k; results come back as the parties' client components and are reconstructed.

use mitsu_algebra::{Planes, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{CommStats, MpcError, Result};
use mitsu_mpc_rep3::{AShare, BShare, Rep3, client};
use mitsu_mpc_runtime::run3_with;
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// What a party returns for one batch.
pub enum Batch<R: Ring> {
    A(AShare<R>),
    B(BShare),
}

/// The reconstructed output of all batches.
pub enum Output<R: Ring> {
    A(Vec<R>),
    B(Vec<Planes>),
}

impl<R: Ring> Output<R> {
    pub fn ring(&self) -> &[R] {
        match self {
            Output::A(v) => v,
            Output::B(_) => &[],
        }
    }
    /// All batches' bits as one plane set.
    pub fn bits(&self) -> Planes {
        match self {
            Output::B(v) => {
                let total: usize = v.iter().map(|p| p.n()).sum();
                let mut out = Planes::zeros(1, total);
                let mut off = 0;
                for p in v {
                    for i in 0..p.n() {
                        if p.get(0, i) {
                            out.set(0, off + i, true);
                        }
                    }
                    off += p.n();
                }
                out
            }
            Output::A(_) => Planes::zeros(1, 0),
        }
    }
}

enum Part<R: Ring> {
    A(Vec<R>),
    B(Planes),
}

/// Runs `compute` over `n` elements in batches of `batch`, dealing inputs with `deal`: the client
/// deals on two threads (even and odd batches), as a provider's machine with two cores would.
/// Returns the reconstructed output and each party's inter-party communication.
pub fn pipeline<R: Ring, I: Send>(
    n: usize,
    batch: usize,
    deal: impl Fn(Range<usize>, &mut Prg) -> Result<[I; 3]> + Sync,
    compute: impl Fn(&mut Rep3, I) -> Result<Batch<R>> + Sync,
) -> Result<(Output<R>, [CommStats; 3])> {
    let batch = batch.max(1);
    let nb = n.div_ceil(batch).max(1);
    let mut prg = Prg::new(Seed::random());
    let mut to_parties: Vec<SyncSender<I>> = Vec::new();
    let mut from_parties: Vec<Receiver<Result<Part<R>>>> = Vec::new();
    let mut ends = Vec::new();
    for _ in 0..3 {
        let (tx, rx) = sync_channel::<I>(1);
        let (otx, orx) = sync_channel::<Result<Part<R>>>(2);
        to_parties.push(tx);
        from_parties.push(orx);
        ends.push((rx, otx));
    }
    let mut ends = ends.into_iter();
    let inputs = [ends.next().unwrap(), ends.next().unwrap(), ends.next().unwrap()];
    let range = |k: usize| k * batch..((k + 1) * batch).min(n);
    std::thread::scope(|s| {
        // the second dealer runs ahead on odd batches
        let (odd_tx, odd_rx) = sync_channel::<Result<[I; 3]>>(2);
        let deal = &deal;
        s.spawn(move || {
            let mut prg = Prg::new(Seed::random());
            for k in (1..nb).step_by(2) {
                if odd_tx.send(deal(range(k), &mut prg)).is_err() {
                    break;
                }
            }
        });
        let parties = s.spawn(|| {
            run3_with(inputs, |ch, (rx, otx): (Receiver<I>, SyncSender<Result<Part<R>>>)| -> Result<CommStats> {
                let mut p = Rep3::setup(ch)?;
                let base = p.comm_stats();
                for _ in 0..nb {
                    let Ok(inp) = rx.recv() else { break };
                    let r = compute(&mut p, inp).map(|b| match b {
                        Batch::A(a) => Part::A(a.into_client()),
                        Batch::B(b) => Part::B(b.into_client()),
                    });
                    let failed = r.is_err();
                    if otx.send(r).is_err() || failed {
                        break;
                    }
                }
                Ok(p.comm_stats().since(&base))
            })
        });
        let mut out_a: Vec<R> = Vec::new();
        let mut out_b: Vec<Planes> = Vec::new();
        let mut is_b = false;
        let mut err: Option<MpcError> = None;
        let mut collect = |from: &Vec<Receiver<Result<Part<R>>>>, err: &mut Option<MpcError>| {
            let parts: Vec<Result<Part<R>>> = from
                .iter()
                .map(|r| r.recv().unwrap_or_else(|_| Err(MpcError::Internal("a party stopped".into()))))
                .collect();
            let mut ok = Vec::new();
            for p in parts {
                match p {
                    Ok(p) => ok.push(p),
                    Err(e) => {
                        err.get_or_insert(e);
                        return;
                    }
                }
            }
            match (&ok[0], &ok[1], &ok[2]) {
                (Part::A(a), Part::A(b), Part::A(c)) => match client::reconstruct([a, b, c]) {
                    Ok(v) => out_a.extend(v),
                    Err(e) => *err = Some(e),
                },
                (Part::B(a), Part::B(b), Part::B(c)) => match client::reconstruct_b([a, b, c]) {
                    Ok(v) => {
                        is_b = true;
                        out_b.push(v)
                    }
                    Err(e) => *err = Some(e),
                },
                _ => *err = Some(MpcError::Internal("parties returned different result kinds".into())),
            }
        };
        for k in 0..nb {
            let dealt = if k % 2 == 0 {
                deal(range(k), &mut prg)
            } else {
                odd_rx.recv().unwrap_or_else(|_| Err(MpcError::Internal("the second dealer stopped".into())))
            };
            match dealt {
                Ok(bundles) => {
                    for (tx, b) in to_parties.iter().zip(bundles) {
                        let _ = tx.send(b);
                    }
                }
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
            if k >= 1 {
                collect(&from_parties, &mut err);
            }
            if err.is_some() {
                break;
            }
        }
        if err.is_none() {
            collect(&from_parties, &mut err);
        }
        drop(to_parties);
        drop(from_parties);
        drop(odd_rx);
        let stats = parties.join().expect("party threads");
        if let Some(e) = err {
            return Err(e);
        }
        let st = [stats[0].clone()?, stats[1].clone()?, stats[2].clone()?];
        let out = if is_b { Output::B(out_b) } else { Output::A(out_a) };
        Ok((out, st))
    })
}
