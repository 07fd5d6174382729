//! The plaintext twin: [`RefEngine`] implements [`Engine`] on cleartext vectors with exact ring
//! semantics. Composite operations written against `Engine` run on it unchanged, so every protocol
//! result can be compared with the twin's, and the twin's result with ordinary `f64`/`i64` math.
//!
//! The twin is also a range checker: wherever a caller promises |x| < 2^bits, the twin verifies
//! the promise and returns [`MpcError::Internal`] when it is broken. A range-analysis mistake in
//! higher layers therefore fails tests loudly instead of producing a silently wrong number under MPC.
//!
//! Deliberate difference: `trunc` here is exact (floor); the protocol may return floor + 1 where it
//! uses the probabilistic method. Conformance tests allow exactly that difference.

use mitsu_algebra::{Planes, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{CommStats, Engine, MpcError, PartyId, Result, Reveal};

/// Cleartext engine. Shares are the values themselves.
pub struct RefEngine {
    prg: Prg,
    opened: Vec<mitsu_mpc_core::Opened>,
}

impl std::fmt::Debug for RefEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefEngine")
    }
}

impl Default for RefEngine {
    fn default() -> Self {
        RefEngine::new(Seed::random())
    }
}

impl RefEngine {
    pub fn new(seed: Seed) -> Self {
        RefEngine { prg: Prg::new(seed), opened: Vec::new() }
    }
}

fn check_bound<R: Ring>(x: &[R], bits: u32, op: &str) -> Result<()> {
    if bits >= R::BITS {
        return Ok(()); // no promise beyond the ring
    }
    let lim = 1i128.checked_shl(bits).unwrap_or(i128::MAX);
    if let Some(v) = x.iter().find(|v| v.to_i128().unsigned_abs() >= lim as u128) {
        return Err(MpcError::Internal(format!(
            "{op}: value {} breaks its declared bound 2^{bits} (a range-analysis bug)",
            v.to_i128()
        )));
    }
    Ok(())
}

fn same_len<R>(a: &[R], b: &[R], op: &str) -> Result<()> {
    if a.len() != b.len() {
        return Err(MpcError::invalid(format!("{op}: operands have lengths {} and {}", a.len(), b.len())));
    }
    Ok(())
}

fn bcast<R: Ring>(c: &[R], i: usize) -> R {
    if c.len() == 1 { c[0] } else { c[i] }
}

fn floor_shift<R: Ring>(v: R, d: u32) -> R {
    if d == 0 { v } else { v.sar(d) }
}

impl Engine for RefEngine {
    type A<R: Ring> = Vec<R>;
    type B = Planes;

    fn id(&self) -> PartyId {
        PartyId::P0
    }
    fn stats(&self) -> CommStats {
        CommStats::default()
    }

    fn input<R: Ring>(&mut self, _owner: PartyId, values: Option<&[R]>, n: usize) -> Result<Vec<R>> {
        let v = values.ok_or_else(|| MpcError::invalid("the twin needs the input values"))?;
        if v.len() != n {
            return Err(MpcError::invalid(format!("input of {} values declared as {n}", v.len())));
        }
        Ok(v.to_vec())
    }
    fn input_b(&mut self, _owner: PartyId, values: Option<&Planes>, nplanes: usize, n: usize) -> Result<Planes> {
        let v = values.ok_or_else(|| MpcError::invalid("the twin needs the input values"))?;
        if (v.nplanes(), v.n()) != (nplanes, n) {
            return Err(MpcError::invalid("boolean input of the wrong shape"));
        }
        Ok(v.clone())
    }
    fn open<R: Ring>(&mut self, x: &Vec<R>, why: Reveal) -> Result<Vec<R>> {
        mitsu_mpc_core::record(&mut self.opened, why, None, x.len() as u64);
        Ok(x.clone())
    }
    fn open_to<R: Ring>(&mut self, x: &Vec<R>, to: PartyId, why: Reveal) -> Result<Option<Vec<R>>> {
        mitsu_mpc_core::record(&mut self.opened, why, Some(to), x.len() as u64);
        Ok(Some(x.clone()))
    }
    fn open_b(&mut self, x: &Planes, why: Reveal) -> Result<Planes> {
        mitsu_mpc_core::record(&mut self.opened, why, None, (x.nplanes() * x.n()) as u64);
        Ok(x.clone())
    }
    fn opened(&self) -> &[mitsu_mpc_core::Opened] {
        &self.opened
    }

    fn len<R: Ring>(&self, x: &Vec<R>) -> usize {
        x.len()
    }
    fn constant<R: Ring>(&self, c: &[R]) -> Vec<R> {
        c.to_vec()
    }
    fn add<R: Ring>(&self, a: &Vec<R>, b: &Vec<R>) -> Vec<R> {
        a.iter().zip(b).map(|(x, y)| x.add(*y)).collect()
    }
    fn sub<R: Ring>(&self, a: &Vec<R>, b: &Vec<R>) -> Vec<R> {
        a.iter().zip(b).map(|(x, y)| x.sub(*y)).collect()
    }
    fn neg<R: Ring>(&self, a: &Vec<R>) -> Vec<R> {
        a.iter().map(|x| x.neg()).collect()
    }
    fn add_public<R: Ring>(&self, a: &Vec<R>, c: &[R]) -> Vec<R> {
        a.iter().enumerate().map(|(i, x)| x.add(bcast(c, i))).collect()
    }
    fn mul_public<R: Ring>(&self, a: &Vec<R>, c: &[R]) -> Vec<R> {
        a.iter().enumerate().map(|(i, x)| x.mul(bcast(c, i))).collect()
    }
    fn gather<R: Ring>(&self, a: &Vec<R>, idx: &[u32]) -> Vec<R> {
        idx.iter().map(|&i| a[i as usize]).collect()
    }
    fn slice<R: Ring>(&self, a: &Vec<R>, range: std::ops::Range<usize>) -> Vec<R> {
        a[range].to_vec()
    }
    fn concat<R: Ring>(&self, parts: &[&Vec<R>]) -> Vec<R> {
        parts.iter().flat_map(|p| p.iter().copied()).collect()
    }
    fn sum<R: Ring>(&self, a: &Vec<R>) -> Vec<R> {
        vec![a.iter().fold(R::ZERO, |s, v| s.add(*v))]
    }
    fn prefix_sum<R: Ring>(&self, a: &Vec<R>) -> Vec<R> {
        let mut acc = R::ZERO;
        a.iter()
            .map(|v| {
                acc = acc.add(*v);
                acc
            })
            .collect()
    }

    fn mul<R: Ring>(&mut self, a: &Vec<R>, b: &Vec<R>) -> Result<Vec<R>> {
        same_len(a, b, "mul")?;
        Ok(a.iter().zip(b).map(|(x, y)| x.mul(*y)).collect())
    }
    fn dot<R: Ring>(&mut self, pairs: &[(&Vec<R>, &Vec<R>)]) -> Result<Vec<R>> {
        pairs
            .iter()
            .map(|(a, b)| {
                same_len(a, b, "dot")?;
                Ok(a.iter().zip(b.iter()).fold(R::ZERO, |s, (x, y)| s.add(x.mul(*y))))
            })
            .collect()
    }
    fn lincomb<R: Ring>(&mut self, coef: &Vec<R>, cols: &[&Vec<R>]) -> Result<Vec<R>> {
        if coef.len() != cols.len() {
            return Err(MpcError::invalid("lincomb: one coefficient per column"));
        }
        let n = cols.first().map_or(0, |c| c.len());
        if cols.iter().any(|c| c.len() != n) {
            return Err(MpcError::invalid("lincomb: columns of different lengths"));
        }
        let mut out = vec![R::ZERO; n];
        for (c, col) in coef.iter().zip(cols) {
            for (o, x) in out.iter_mut().zip(col.iter()) {
                *o = o.add(c.mul(*x));
            }
        }
        Ok(out)
    }
    fn matmul<R: Ring>(&mut self, a: &Vec<R>, b: &Vec<R>, m: usize, k: usize, n: usize) -> Result<Vec<R>> {
        if a.len() != m * k || b.len() != k * n {
            return Err(MpcError::invalid("matmul: shapes do not match the data"));
        }
        let mut out = vec![R::ZERO; m * n];
        for i in 0..m {
            for l in 0..k {
                for j in 0..n {
                    out[i * n + j] = out[i * n + j].add(a[i * k + l].mul(b[l * n + j]));
                }
            }
        }
        Ok(out)
    }
    fn trunc<R: Ring>(&mut self, x: &Vec<R>, shift: u32, bits: u32) -> Result<Vec<R>> {
        check_bound(x, bits, "trunc")?;
        Ok(x.iter().map(|v| floor_shift(*v, shift)).collect())
    }
    fn mul_trunc<R: Ring>(&mut self, a: &Vec<R>, b: &Vec<R>, shift: u32, bits: u32) -> Result<Vec<R>> {
        let p = self.mul(a, b)?;
        self.trunc(&p, shift, bits)
    }
    fn extend(&mut self, x: &Vec<u64>, bits: u32) -> Result<Vec<u128>> {
        check_bound(x, bits, "extend")?;
        Ok(x.iter().map(|v| (*v as i64) as i128 as u128).collect())
    }
    fn reduce64(&self, x: &Vec<u128>) -> Vec<u64> {
        x.iter().map(|v| *v as u64).collect()
    }
    fn msb<R: Ring>(&mut self, x: &Vec<R>, bits: u32) -> Result<Planes> {
        // sized by the whole ring (bits + 1 = k) the circuit reads every bit: any value has a sign
        if bits + 1 < R::BITS {
            check_bound(x, bits, "msb")?;
        }
        Ok(Planes::from_bools(&x.iter().map(|v| v.bit(R::BITS - 1)).collect::<Vec<_>>()))
    }
    fn eqz<R: Ring>(&mut self, x: &Vec<R>, bits: u32) -> Result<Planes> {
        check_bound(x, bits, "eqz")?;
        Ok(Planes::from_bools(&x.iter().map(|v| *v == R::ZERO).collect::<Vec<_>>()))
    }
    fn a2b<R: Ring>(&mut self, x: &Vec<R>, nbits: u32) -> Result<Planes> {
        if nbits > R::BITS {
            return Err(MpcError::invalid(format!("a2b of {nbits} bits in {}", R::NAME)));
        }
        Ok(Planes::from_values(x, nbits as usize))
    }
    fn b2a<R: Ring>(&mut self, x: &Planes) -> Result<Vec<R>> {
        let n = x.n();
        Ok((0..n)
            .map(|i| (0..x.nplanes()).filter(|&p| x.get(p, i)).fold(R::ZERO, |s, p| s.add(R::pow2(p as u32))))
            .collect())
    }
    fn b2a_weighted<R: Ring>(&mut self, x: &Planes, weights: &[R]) -> Result<Vec<R>> {
        if weights.len() != x.nplanes() {
            return Err(MpcError::invalid("b2a_weighted: one weight per plane"));
        }
        Ok((0..x.n())
            .map(|i| (0..x.nplanes()).filter(|&p| x.get(p, i)).fold(R::ZERO, |s, p| s.add(weights[p])))
            .collect())
    }
    fn bits2a<R: Ring>(&mut self, x: &Planes) -> Result<Vec<R>> {
        let mut out = Vec::with_capacity(x.nplanes() * x.n());
        for p in 0..x.nplanes() {
            for i in 0..x.n() {
                out.push(if x.get(p, i) { R::ONE } else { R::ZERO });
            }
        }
        Ok(out)
    }

    fn b_shape(&self, x: &Planes) -> (usize, usize) {
        (x.nplanes(), x.n())
    }
    fn b_constant(&self, p: &Planes) -> Planes {
        p.clone()
    }
    fn b_xor(&self, a: &Planes, b: &Planes) -> Planes {
        let mut o = a.clone();
        o.xor_assign(b);
        o
    }
    fn b_not(&self, a: &Planes) -> Planes {
        let mut o = a.clone();
        o.not_assign();
        o
    }
    fn b_and(&mut self, a: &Planes, b: &Planes) -> Result<Planes> {
        if (a.nplanes(), a.n()) != (b.nplanes(), b.n()) {
            return Err(MpcError::invalid("AND of different shapes"));
        }
        let mut o = a.clone();
        o.and_assign(b);
        Ok(o)
    }
    fn b_select(&self, a: &Planes, planes: std::ops::Range<usize>) -> Planes {
        a.select(planes)
    }
    fn b_stack(&self, parts: &[&Planes]) -> Planes {
        Planes::stack(parts)
    }
    fn b_slice_elems(&self, a: &Planes, range: std::ops::Range<usize>) -> Planes {
        a.slice_elems(range)
    }
    fn b_concat_elems(&self, a: &Planes, b: &Planes) -> Planes {
        Planes::concat_elems(a, b)
    }

    fn shuffle<R: Ring>(&mut self, cols: &[&Vec<R>]) -> Result<Vec<Vec<R>>> {
        let n = cols.first().map_or(0, |c| c.len());
        if cols.iter().any(|c| c.len() != n) {
            return Err(MpcError::invalid("shuffle of columns of different lengths"));
        }
        let p = self.prg.permutation(n);
        Ok(cols.iter().map(|c| p.iter().map(|&j| c[j as usize]).collect()).collect())
    }
}
