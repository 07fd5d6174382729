//! What a data provider or analyst does on its own machine: split values into three share bundles
//! (one per party) and reconstruct a result from the components the parties return.

use crate::AShare;
use mitsu_algebra::{Planes, Ring};
use mitsu_crypto::Prg;
use mitsu_mpc_core::{MpcError, Result};

/// Splits `values` into replicated shares: x0, x1 uniformly random, x2 = x - x0 - x1. Party i
/// receives (x_i, x_{i+1}); any one bundle is uniformly random and independent of the values.
pub fn deal<R: Ring>(values: &[R], prg: &mut Prg) -> [AShare<R>; 3] {
    let x0: Vec<R> = prg.gen_vec(values.len());
    let x1: Vec<R> = prg.gen_vec(values.len());
    let x2: Vec<R> = values.iter().zip(x0.iter().zip(&x1)).map(|(v, (a, b))| v.sub(a.add(*b))).collect();
    [AShare { a: x0.clone(), b: x1.clone() }, AShare { a: x1, b: x2.clone() }, AShare { a: x2, b: x0 }]
}

/// Reconstructs from the three parties' [`AShare::for_client`] components.
pub fn reconstruct<R: Ring>(parts: [&[R]; 3]) -> Result<Vec<R>> {
    let n = parts[0].len();
    if parts.iter().any(|p| p.len() != n) {
        return Err(MpcError::invalid("result shares of different lengths"));
    }
    Ok(parts[0].iter().zip(parts[1].iter().zip(parts[2])).map(|(a, (b, c))| a.add(b.add(*c))).collect())
}

/// Reconstructs boolean results from the three parties' [`crate::BShare::for_client`] planes.
pub fn reconstruct_b(parts: [&Planes; 3]) -> Result<Planes> {
    let shape = (parts[0].nplanes(), parts[0].n());
    if parts.iter().any(|p| (p.nplanes(), p.n()) != shape) {
        return Err(MpcError::invalid("result shares of different shapes"));
    }
    let mut out = parts[0].clone();
    out.xor_assign(parts[1]);
    out.xor_assign(parts[2]);
    Ok(out)
}

/// A party's bundle as bytes: its two component vectors, `[a][b]`, n words each in the machine's
/// (little-endian) order. The layout of upload chunks, stored chunks and staged benchmark inputs.
pub fn share_bytes<R: Ring>(s: &AShare<R>) -> Vec<u8> {
    let (a, b) = s.components();
    let mut out = Vec::with_capacity(2 * std::mem::size_of_val(a));
    out.extend_from_slice(bytemuck::cast_slice(a));
    out.extend_from_slice(bytemuck::cast_slice(b));
    out
}

/// The bundle of `n` rows from [`share_bytes`]' layout; a length that does not match is an error.
pub fn share_from_bytes<R: Ring>(bytes: &[u8], n: usize) -> Result<AShare<R>> {
    let sz = n * std::mem::size_of::<R>();
    if bytes.len() != 2 * sz {
        return Err(MpcError::invalid(format!("shares of {n} rows take {} bytes, not {}", 2 * sz, bytes.len())));
    }
    let words = |s: &[u8]| -> Vec<R> { bytemuck::pod_collect_to_vec(s) };
    AShare::from_components(words(&bytes[..sz]), words(&bytes[sz..]))
}
