//! Three-party shuffle by resharing. The permutation is pi = pi20 . pi12 . pi01, where each factor
//! is drawn from the seed of one pair of parties; every party misses one factor, so none knows pi.
//!
//! 1. Parties 0 and 1 hold the 2-out-of-2 split (x0 + x1, x2). Both apply pi01; party 0 masks
//!    with z (seed k1) and sends to party 2; party 1 subtracts z.
//! 2. Parties 1 and 2 now hold a 2-out-of-2 split; both apply pi12; party 1 masks with z' (k2) and
//!    sends to party 0; party 2 subtracts z'.
//! 3. Parties 2 and 0 apply pi20 and reshare to replicated form with masks q, r from k0: party 0
//!    sends b - r - q and party 2 sends a + q to party 1; component 0 is r.
//!
//! Cost: 3 rounds; per column and element party 0 sends 2 elements, parties 1 and 2 one each.
//! Reveals nothing: every message is masked by a seed its receiver does not hold.

use crate::{AShare, Rep3};
use mitsu_algebra::Ring;
use mitsu_mpc_core::{MpcError, PartyId, Result};

fn permute_cols<R: Ring>(v: &[R], perm: &[u32], cols: usize, n: usize) -> Vec<R> {
    let mut out = Vec::with_capacity(v.len());
    for c in 0..cols {
        let col = &v[c * n..(c + 1) * n];
        out.extend(perm.iter().map(|&j| col[j as usize]));
    }
    out
}

impl Rep3 {
    pub fn shuffle<R: Ring>(&mut self, cols: &[&AShare<R>]) -> Result<Vec<AShare<R>>> {
        let k = cols.len();
        let n = cols.first().map_or(0, |c| c.len());
        if cols.iter().any(|c| c.len() != n) {
            return Err(MpcError::invalid("shuffle of columns of different lengths"));
        }
        let total = k * n;
        let concat = |f: &dyn Fn(&AShare<R>) -> &Vec<R>| -> Vec<R> {
            let mut v = Vec::with_capacity(total);
            for c in cols {
                v.extend_from_slice(f(c));
            }
            v
        };
        let (c1, c2): (Vec<R>, Vec<R>) = match self.id.index() {
            0 => {
                let a = concat(&|c| &c.a);
                let b = concat(&|c| &c.b);
                let s: Vec<R> = a.iter().zip(&b).map(|(x, y)| x.add(*y)).collect();
                let p01 = self.next.permutation(n);
                let z: Vec<R> = self.next.gen_vec(total);
                let mut a1 = permute_cols(&s, &p01, k, n);
                a1.iter_mut().zip(&z).for_each(|(v, z)| *v = v.add(*z));
                self.ch.exchange(Some((PartyId::P2, a1)), None)?;
                let b2 = self.ch.exchange::<R>(None, Some((PartyId::P1, total)))?.unwrap();
                let p20 = self.prev.permutation(n);
                let q: Vec<R> = self.prev.gen_vec(total);
                let r: Vec<R> = self.prev.gen_vec(total);
                let b3 = permute_cols(&b2, &p20, k, n);
                let c1: Vec<R> = (0..total).map(|i| b3[i].sub(r[i]).sub(q[i])).collect();
                self.ch.exchange(Some((PartyId::P1, c1.clone())), None)?;
                (r, c1)
            }
            1 => {
                let x2 = concat(&|c| &c.b);
                let p01 = self.prev.permutation(n);
                let z: Vec<R> = self.prev.gen_vec(total);
                let mut b1 = permute_cols(&x2, &p01, k, n);
                b1.iter_mut().zip(&z).for_each(|(v, z)| *v = v.sub(*z));
                let p12 = self.next.permutation(n);
                let z2: Vec<R> = self.next.gen_vec(total);
                let mut b2 = permute_cols(&b1, &p12, k, n);
                b2.iter_mut().zip(&z2).for_each(|(v, z)| *v = v.add(*z));
                self.ch.exchange(Some((PartyId::P0, b2)), None)?;
                let mut got = self.ch.round(vec![], &[PartyId::P0, PartyId::P2])?.into_iter();
                let c1: Vec<R> = got.next().unwrap().into_ring(PartyId::P0, total)?;
                let c2: Vec<R> = got.next().unwrap().into_ring(PartyId::P2, total)?;
                (c1, c2)
            }
            _ => {
                let a1 = self.ch.exchange::<R>(None, Some((PartyId::P0, total)))?.unwrap();
                let p12 = self.prev.permutation(n);
                let z2: Vec<R> = self.prev.gen_vec(total);
                let mut a2 = permute_cols(&a1, &p12, k, n);
                a2.iter_mut().zip(&z2).for_each(|(v, z)| *v = v.sub(*z));
                let p20 = self.next.permutation(n);
                let q: Vec<R> = self.next.gen_vec(total);
                let r: Vec<R> = self.next.gen_vec(total);
                let a3 = permute_cols(&a2, &p20, k, n);
                let c2: Vec<R> = (0..total).map(|i| a3[i].add(q[i])).collect();
                self.ch.exchange(Some((PartyId::P1, c2.clone())), None)?;
                (c2, r)
            }
        };
        Ok((0..k).map(|c| AShare { a: c1[c * n..(c + 1) * n].to_vec(), b: c2[c * n..(c + 1) * n].to_vec() }).collect())
    }
}
