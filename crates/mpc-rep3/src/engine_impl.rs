//! [`Engine`] for [`Rep3`]: interactive kernels delegate to the protocol modules; local operations
//! act on both components.

use crate::{AShare, BShare, Rep3};
use mitsu_algebra::{Planes, Ring};
use mitsu_mpc_core::{CommStats, Engine, PartyId, Result, Reveal};

fn zip_map<R: Ring>(x: &[R], y: &[R], f: impl Fn(R, R) -> R) -> Vec<R> {
    x.iter().zip(y).map(|(a, b)| f(*a, *b)).collect()
}

fn bcast<R: Ring>(c: &[R], i: usize) -> R {
    if c.len() == 1 { c[0] } else { c[i] }
}

impl Engine for Rep3 {
    type A<R: Ring> = AShare<R>;
    type B = BShare;

    fn id(&self) -> PartyId {
        self.id
    }
    fn stats(&self) -> CommStats {
        self.ch.stats()
    }

    fn input<R: Ring>(&mut self, owner: PartyId, values: Option<&[R]>, n: usize) -> Result<AShare<R>> {
        Rep3::input(self, owner, values, n)
    }
    fn input_b(&mut self, owner: PartyId, values: Option<&Planes>, nplanes: usize, n: usize) -> Result<BShare> {
        Rep3::input_b(self, owner, values, nplanes, n)
    }
    fn open<R: Ring>(&mut self, x: &AShare<R>, why: Reveal) -> Result<Vec<R>> {
        Rep3::open(self, x, why)
    }
    fn open_to<R: Ring>(&mut self, x: &AShare<R>, to: PartyId, why: Reveal) -> Result<Option<Vec<R>>> {
        Rep3::open_to(self, x, to, why)
    }
    fn open_b(&mut self, x: &BShare, why: Reveal) -> Result<Planes> {
        Rep3::open_b(self, x, why)
    }
    fn opened(&self) -> &[mitsu_mpc_core::Opened] {
        &self.opened
    }

    fn len<R: Ring>(&self, x: &AShare<R>) -> usize {
        x.len()
    }
    fn constant<R: Ring>(&self, c: &[R]) -> AShare<R> {
        let z = vec![R::ZERO; c.len()];
        match self.id.index() {
            0 => AShare { a: c.to_vec(), b: z },
            2 => AShare { a: z, b: c.to_vec() },
            _ => AShare { a: z.clone(), b: z },
        }
    }
    fn add<R: Ring>(&self, x: &AShare<R>, y: &AShare<R>) -> AShare<R> {
        AShare { a: zip_map(&x.a, &y.a, R::add), b: zip_map(&x.b, &y.b, R::add) }
    }
    fn sub<R: Ring>(&self, x: &AShare<R>, y: &AShare<R>) -> AShare<R> {
        AShare { a: zip_map(&x.a, &y.a, R::sub), b: zip_map(&x.b, &y.b, R::sub) }
    }
    fn neg<R: Ring>(&self, x: &AShare<R>) -> AShare<R> {
        AShare { a: x.a.iter().map(|v| v.neg()).collect(), b: x.b.iter().map(|v| v.neg()).collect() }
    }
    fn add_public<R: Ring>(&self, x: &AShare<R>, c: &[R]) -> AShare<R> {
        let mut out = x.clone();
        let comp = match self.id.index() {
            0 => &mut out.a,
            2 => &mut out.b,
            _ => return out,
        };
        for (i, v) in comp.iter_mut().enumerate() {
            *v = v.add(bcast(c, i));
        }
        out
    }
    fn mul_public<R: Ring>(&self, x: &AShare<R>, c: &[R]) -> AShare<R> {
        AShare {
            a: x.a.iter().enumerate().map(|(i, v)| v.mul(bcast(c, i))).collect(),
            b: x.b.iter().enumerate().map(|(i, v)| v.mul(bcast(c, i))).collect(),
        }
    }
    fn gather<R: Ring>(&self, x: &AShare<R>, idx: &[u32]) -> AShare<R> {
        AShare { a: idx.iter().map(|&i| x.a[i as usize]).collect(), b: idx.iter().map(|&i| x.b[i as usize]).collect() }
    }
    fn slice<R: Ring>(&self, x: &AShare<R>, range: std::ops::Range<usize>) -> AShare<R> {
        x.slice(range)
    }
    fn concat<R: Ring>(&self, parts: &[&AShare<R>]) -> AShare<R> {
        AShare {
            a: parts.iter().flat_map(|p| p.a.iter().copied()).collect(),
            b: parts.iter().flat_map(|p| p.b.iter().copied()).collect(),
        }
    }
    fn sum<R: Ring>(&self, x: &AShare<R>) -> AShare<R> {
        AShare {
            a: vec![x.a.iter().fold(R::ZERO, |s, v| s.add(*v))],
            b: vec![x.b.iter().fold(R::ZERO, |s, v| s.add(*v))],
        }
    }
    fn prefix_sum<R: Ring>(&self, x: &AShare<R>) -> AShare<R> {
        let scan = |v: &[R]| {
            let mut acc = R::ZERO;
            v.iter()
                .map(|x| {
                    acc = acc.add(*x);
                    acc
                })
                .collect()
        };
        AShare { a: scan(&x.a), b: scan(&x.b) }
    }

    fn mul<R: Ring>(&mut self, a: &AShare<R>, b: &AShare<R>) -> Result<AShare<R>> {
        Rep3::mul(self, a, b)
    }
    fn dot<R: Ring>(&mut self, pairs: &[(&AShare<R>, &AShare<R>)]) -> Result<AShare<R>> {
        Rep3::dot(self, pairs)
    }
    fn matmul<R: Ring>(&mut self, a: &AShare<R>, b: &AShare<R>, m: usize, k: usize, n: usize) -> Result<AShare<R>> {
        Rep3::matmul(self, a, b, m, k, n)
    }
    fn lincomb<R: Ring>(&mut self, coef: &AShare<R>, cols: &[&AShare<R>]) -> Result<AShare<R>> {
        Rep3::lincomb(self, coef, cols)
    }
    fn trunc<R: Ring>(&mut self, x: &AShare<R>, shift: u32, bits: u32) -> Result<AShare<R>> {
        Rep3::trunc(self, x, shift, bits)
    }
    fn mul_trunc<R: Ring>(&mut self, a: &AShare<R>, b: &AShare<R>, shift: u32, bits: u32) -> Result<AShare<R>> {
        Rep3::mul_trunc(self, a, b, shift, bits)
    }
    fn extend(&mut self, x: &AShare<u64>, bits: u32) -> Result<AShare<u128>> {
        Rep3::extend(self, x, bits)
    }
    fn reduce64(&self, x: &AShare<u128>) -> AShare<u64> {
        let (a, b) = x.components();
        let low = |v: &[u128]| v.iter().map(|x| *x as u64).collect::<Vec<u64>>();
        AShare::from_components(low(a), low(b)).expect("components of one share have equal lengths")
    }
    fn msb<R: Ring>(&mut self, x: &AShare<R>, bits: u32) -> Result<BShare> {
        Rep3::msb(self, x, bits)
    }
    fn eqz<R: Ring>(&mut self, x: &AShare<R>, bits: u32) -> Result<BShare> {
        Rep3::eqz(self, x, bits)
    }
    fn a2b<R: Ring>(&mut self, x: &AShare<R>, nbits: u32) -> Result<BShare> {
        Rep3::a2b(self, x, nbits)
    }
    fn b2a<R: Ring>(&mut self, x: &BShare) -> Result<AShare<R>> {
        Rep3::b2a(self, x)
    }
    fn b2a_weighted<R: Ring>(&mut self, x: &BShare, weights: &[R]) -> Result<AShare<R>> {
        Rep3::b2a_weighted(self, x, weights)
    }
    fn bits2a<R: Ring>(&mut self, x: &BShare) -> Result<AShare<R>> {
        Rep3::bits2a(self, x)
    }

    fn b_shape(&self, x: &BShare) -> (usize, usize) {
        x.shape()
    }
    fn b_constant(&self, p: &Planes) -> BShare {
        Rep3::b_constant(self, p)
    }
    fn b_xor(&self, a: &BShare, b: &BShare) -> BShare {
        Rep3::b_xor(self, a, b)
    }
    fn b_not(&self, a: &BShare) -> BShare {
        Rep3::b_not(self, a)
    }
    fn b_and(&mut self, a: &BShare, b: &BShare) -> Result<BShare> {
        Rep3::b_and(self, a, b)
    }
    fn b_select(&self, a: &BShare, planes: std::ops::Range<usize>) -> BShare {
        Rep3::b_select(self, a, planes)
    }
    fn b_stack(&self, parts: &[&BShare]) -> BShare {
        Rep3::b_stack(self, parts)
    }
    fn b_slice_elems(&self, a: &BShare, range: std::ops::Range<usize>) -> BShare {
        BShare { a: a.a.slice_elems(range.clone()), b: a.b.slice_elems(range) }
    }
    fn b_concat_elems(&self, x: &BShare, y: &BShare) -> BShare {
        BShare { a: Planes::concat_elems(&x.a, &y.a), b: Planes::concat_elems(&x.b, &y.b) }
    }

    fn shuffle<R: Ring>(&mut self, cols: &[&AShare<R>]) -> Result<Vec<AShare<R>>> {
        Rep3::shuffle(self, cols)
    }
}
