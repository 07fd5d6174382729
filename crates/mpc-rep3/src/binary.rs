//! Boolean shares and the arithmetic/boolean conversions.
//!
//! Every circuit starts from the same split of an arithmetic sharing: v = x0 + x1 is known to
//! party 0 and w = x2 to parties 1 and 2, so x = v + w. Party 0 shares v's bits once (its message
//! is masked by F(k0)); the first AND of v's bits with w's is then computed without a message from
//! party 0 ([`Rep3::and_p0_p12`]). Only as many bits as the public bound requires enter a circuit:
//! a comparison of values below 2^25 costs a 26-bit circuit, not a 64- or 128-bit one.

use crate::{AShare, BShare, Rep3, gen_planes, recv_planes};
use mitsu_algebra::{Planes, Ring};
use mitsu_mpc_core::{MpcError, PartyId, Payload, Result, Reveal};

impl Rep3 {
    /// Boolean input from `owner`, as [`Rep3::input`] with XOR. 1 round.
    pub fn input_b(&mut self, owner: PartyId, values: Option<&Planes>, nplanes: usize, n: usize) -> Result<BShare> {
        if self.id == owner {
            let x = values.ok_or_else(|| MpcError::invalid("the input owner must supply its values"))?;
            if (x.nplanes(), x.n()) != (nplanes, n) {
                return Err(MpcError::invalid("boolean input of the wrong shape"));
            }
            let r = gen_planes(&mut self.prev, nplanes, n);
            let mut m = x.clone();
            m.xor_assign(&r);
            self.ch.round(vec![(owner.next(), Payload::U64(m.words().to_vec()))], &[])?;
            Ok(BShare { a: r, b: m })
        } else if self.id == owner.next() {
            let got = self.ch.round(vec![], &[owner])?.pop().unwrap();
            let m = recv_planes(got, owner, nplanes, n)?;
            Ok(BShare { a: m, b: Planes::zeros(nplanes, n) })
        } else {
            Ok(BShare { a: Planes::zeros(nplanes, n), b: gen_planes(&mut self.next, nplanes, n) })
        }
    }

    /// Opens boolean shares to all. 1 round, one plane set per party.
    pub fn open_b(&mut self, x: &BShare, why: Reveal) -> Result<Planes> {
        let (np, n) = x.shape();
        mitsu_mpc_core::record(&mut self.opened, why, None, (np * n) as u64);
        let got = self.ch.round(vec![(self.id.next(), Payload::U64(x.a.words().to_vec()))], &[self.id.prev()])?;
        let mut v = recv_planes(got.into_iter().next().unwrap(), self.id.prev(), np, n)?;
        v.xor_assign(&x.a);
        v.xor_assign(&x.b);
        Ok(v)
    }

    pub(crate) fn b_select(&self, x: &BShare, r: std::ops::Range<usize>) -> BShare {
        BShare { a: x.a.select(r.clone()), b: x.b.select(r) }
    }
    pub(crate) fn b_pick(&self, x: &BShare, idx: &[usize]) -> BShare {
        BShare { a: x.a.pick(idx), b: x.b.pick(idx) }
    }
    pub(crate) fn b_stack(&self, parts: &[&BShare]) -> BShare {
        let a: Vec<&Planes> = parts.iter().map(|p| &p.a).collect();
        let b: Vec<&Planes> = parts.iter().map(|p| &p.b).collect();
        BShare { a: Planes::stack(&a), b: Planes::stack(&b) }
    }
    pub(crate) fn b_xor(&self, x: &BShare, y: &BShare) -> BShare {
        let mut out = x.clone();
        out.a.xor_assign(&y.a);
        out.b.xor_assign(&y.b);
        out
    }
    /// NOT flips component 0 (held by parties 0 and 2).
    pub(crate) fn b_not(&self, x: &BShare) -> BShare {
        let mut out = x.clone();
        match self.id.index() {
            0 => out.a.not_assign(),
            2 => out.b.not_assign(),
            _ => {}
        }
        out
    }
    /// Public planes as component 0.
    pub(crate) fn b_constant(&self, p: &Planes) -> BShare {
        let z = Planes::zeros(p.nplanes(), p.n());
        match self.id.index() {
            0 => BShare { a: p.clone(), b: z },
            2 => BShare { a: z, b: p.clone() },
            _ => BShare { a: z.clone(), b: z },
        }
    }

    /// x XOR y where y is known to parties 1 and 2 (added to component 2).
    pub(crate) fn xor_with_p12(&self, x: &BShare, y: Option<&Planes>) -> BShare {
        let mut out = x.clone();
        match (self.id.index(), y) {
            (1, Some(y)) => out.b.xor_assign(y),
            (2, Some(y)) => out.a.xor_assign(y),
            _ => {}
        }
        out
    }

    /// AND of boolean shares. 1 round, one bit per gate per party. Reveals nothing.
    pub fn b_and(&mut self, x: &BShare, y: &BShare) -> Result<BShare> {
        if x.shape() != y.shape() {
            return Err(MpcError::invalid(format!("AND of shapes {:?} and {:?}", x.shape(), y.shape())));
        }
        let (np, n) = x.shape();
        let mut z = gen_planes(&mut self.prev, np, n);
        let r2 = gen_planes(&mut self.next, np, n);
        {
            let zw = z.words_mut();
            let (xa, xb, ya, yb, rw) = (x.a.words(), x.b.words(), y.a.words(), y.b.words(), r2.words());
            for i in 0..zw.len() {
                zw[i] ^= rw[i] ^ (xa[i] & (ya[i] ^ yb[i])) ^ (xb[i] & ya[i]);
            }
        }
        let got = self.ch.round(vec![(self.id.prev(), Payload::U64(z.words().to_vec()))], &[self.id.next()])?;
        let b = recv_planes(got.into_iter().next().unwrap(), self.id.next(), np, n)?;
        Ok(BShare { a: z, b })
    }

    /// Shares a ring vector and bit planes known to party 0 in one round (see `share_from_p0`).
    pub(crate) fn share_from_p0_both<R: Ring>(
        &mut self,
        v: Option<Vec<R>>,
        planes: Option<Planes>,
        nplanes: usize,
        n: usize,
    ) -> Result<(AShare<R>, BShare)> {
        match self.id.index() {
            0 => {
                let v = v.ok_or_else(|| MpcError::Internal("no value at party 0".into()))?;
                let mut p = planes.ok_or_else(|| MpcError::Internal("no planes at party 0".into()))?;
                let r: Vec<R> = self.prev.gen_vec(n);
                let rb = gen_planes(&mut self.prev, nplanes, n);
                let m: Vec<R> = v.iter().zip(&r).map(|(v, r)| v.sub(*r)).collect();
                p.xor_assign(&rb);
                self.ch.round(
                    vec![(PartyId::P1, Payload::from_ring(m.clone())), (PartyId::P1, Payload::U64(p.words().to_vec()))],
                    &[],
                )?;
                Ok((AShare { a: r, b: m }, BShare { a: rb, b: p }))
            }
            1 => {
                let mut got = self.ch.round(vec![], &[PartyId::P0, PartyId::P0])?.into_iter();
                let m: Vec<R> = got.next().unwrap().into_ring(PartyId::P0, n)?;
                let p = recv_planes(got.next().unwrap(), PartyId::P0, nplanes, n)?;
                Ok((AShare { a: m, b: vec![R::ZERO; n] }, BShare { a: p, b: Planes::zeros(nplanes, n) }))
            }
            _ => {
                let r: Vec<R> = self.next.gen_vec(n);
                let rb = gen_planes(&mut self.next, nplanes, n);
                Ok((AShare { a: vec![R::ZERO; n], b: r }, BShare { a: Planes::zeros(nplanes, n), b: rb }))
            }
        }
    }

    /// Shares planes known to party 0: components (r, v XOR r, 0) with r = F(k0). 1 round, party 0
    /// sends the planes to party 1.
    pub(crate) fn share_planes_from_p0(&mut self, planes: Option<Planes>, nplanes: usize, n: usize) -> Result<BShare> {
        match self.id.index() {
            0 => {
                let mut p = planes.ok_or_else(|| MpcError::Internal("no planes at party 0".into()))?;
                let rb = gen_planes(&mut self.prev, nplanes, n);
                p.xor_assign(&rb);
                self.ch.round(vec![(PartyId::P1, Payload::U64(p.words().to_vec()))], &[])?;
                Ok(BShare { a: rb, b: p })
            }
            1 => {
                let got = self.ch.round(vec![], &[PartyId::P0])?.pop().unwrap();
                let p = recv_planes(got, PartyId::P0, nplanes, n)?;
                Ok(BShare { a: p, b: Planes::zeros(nplanes, n) })
            }
            _ => Ok(BShare { a: Planes::zeros(nplanes, n), b: gen_planes(&mut self.next, nplanes, n) }),
        }
    }

    /// x AND y where x was shared by party 0 (components (r, v XOR r, 0)) and y is known to
    /// parties 1 and 2. 1 round; parties 1 and 2 send one bit per gate, party 0 nothing:
    /// z1 = (v XOR r) AND y XOR F(k2) goes to party 0, z2 = r AND y XOR F(k0) XOR F(k2) to party 1,
    /// and party 2 knows z0 = F(k0) itself.
    pub(crate) fn and_p0_p12(&mut self, x: &BShare, y: Option<&Planes>) -> Result<BShare> {
        let (np, n) = x.shape();
        match self.id.index() {
            0 => {
                let z0 = gen_planes(&mut self.prev, np, n);
                let got = self.ch.round(vec![], &[PartyId::P1])?.pop().unwrap();
                Ok(BShare { a: z0, b: recv_planes(got, PartyId::P1, np, n)? })
            }
            1 => {
                let y = y.ok_or_else(|| MpcError::Internal("and_p0_p12 without y at party 1".into()))?;
                let mut z1 = gen_planes(&mut self.next, np, n);
                for ((z, xa), yw) in z1.words_mut().iter_mut().zip(x.a.words()).zip(y.words()) {
                    *z ^= xa & yw;
                }
                let got = self
                    .ch
                    .round(vec![(PartyId::P0, Payload::U64(z1.words().to_vec()))], &[PartyId::P2])?
                    .pop()
                    .unwrap();
                Ok(BShare { a: z1, b: recv_planes(got, PartyId::P2, np, n)? })
            }
            _ => {
                let y = y.ok_or_else(|| MpcError::Internal("and_p0_p12 without y at party 2".into()))?;
                let z0 = gen_planes(&mut self.next, np, n);
                let f2 = gen_planes(&mut self.prev, np, n);
                let mut z2 = z0.clone();
                z2.xor_assign(&f2);
                for ((z, xb), yw) in z2.words_mut().iter_mut().zip(x.b.words()).zip(y.words()) {
                    *z ^= xb & yw;
                }
                self.ch.round(vec![(PartyId::P1, Payload::U64(z2.words().to_vec()))], &[])?;
                Ok(BShare { a: z2, b: z0 })
            }
        }
    }

    /// The v/w split of an arithmetic sharing as planes of the low `nbits` bits: party 0 gets v,
    /// parties 1 and 2 get w (negated first when `negate_w`).
    fn split_planes<R: Ring>(&self, x: &AShare<R>, nbits: usize, negate_w: bool) -> (Option<Planes>, Option<Planes>) {
        match self.id.index() {
            0 => {
                let v: Vec<R> = x.a.iter().zip(&x.b).map(|(a, b)| a.add(*b)).collect();
                (Some(Planes::from_values(&v, nbits)), None)
            }
            i => {
                let w = if i == 1 { &x.b } else { &x.a };
                if negate_w {
                    let nw: Vec<R> = w.iter().map(|v| v.neg()).collect();
                    (None, Some(Planes::from_values(&nw, nbits)))
                } else {
                    (None, Some(Planes::from_values(w, nbits)))
                }
            }
        }
    }

    /// Carry out of the addition whose generate/propagate planes are `g`, `p` (m planes each,
    /// least significant first): the AND-tree of (G, P) pairs. ceil(log2 m) rounds, about 2m gates.
    pub(crate) fn carry_out(&mut self, g: BShare, p: BShare) -> Result<BShare> {
        let (m, n) = g.shape();
        if m == 0 {
            return Ok(self.b_constant(&Planes::zeros(1, n)));
        }
        let (mut g, mut p) = (g, p);
        let mut m = m;
        while m > 1 {
            let h = m / 2;
            // left operands: P_{2j+1} (j < h) then P_{2j+1} (1 <= j < h); right: G_{2j}, P_{2j}.
            let mut li: Vec<usize> = (0..h).map(|j| 2 * j + 1).collect();
            li.extend((1..h).map(|j| 2 * j + 1));
            let ri_g: Vec<usize> = (0..h).map(|j| 2 * j).collect();
            let ri_p: Vec<usize> = (1..h).map(|j| 2 * j).collect();
            let left = {
                let a = self.b_pick(&p, &li[..h]);
                let b = self.b_pick(&p, &li[h..]);
                self.b_stack(&[&a, &b])
            };
            let right = {
                let a = self.b_pick(&g, &ri_g);
                let b = self.b_pick(&p, &ri_p);
                self.b_stack(&[&a, &b])
            };
            let prod = self.b_and(&left, &right)?;
            let g_hi = self.b_pick(&g, &(0..h).map(|j| 2 * j + 1).collect::<Vec<_>>());
            let mut new_g = self.b_xor(&g_hi, &self.b_select(&prod, 0..h));
            // P of group 0 is never needed (no carry into the lowest bit): keep a placeholder.
            let mut new_p = self.b_stack(&[&self.b_select(&prod, 0..1), &self.b_select(&prod, h..2 * h - 1)]);
            if m % 2 == 1 {
                new_g = self.b_stack(&[&new_g, &self.b_select(&g, m - 1..m)]);
                new_p = self.b_stack(&[&new_p, &self.b_select(&p, m - 1..m)]);
            }
            g = new_g;
            p = new_p;
            m = h + m % 2;
        }
        Ok(g)
    }

    /// Sign bit of x, |x| < 2^bits, as one plane. Rounds 2 + ceil(log2 bits); party 0 sends
    /// bits+1 bits, then about 3 * bits AND gates per element in total. Reveals nothing.
    /// Since x mod 2^{bits+1} determines the sign, only the low bits+1 bits of v + w are added.
    pub fn msb<R: Ring>(&mut self, x: &AShare<R>, bits: u32) -> Result<BShare> {
        if bits + 1 > R::BITS {
            return Err(MpcError::Internal(format!("msb with bound 2^{bits} in {}", R::NAME)));
        }
        let l = bits as usize;
        let n = x.len();
        let (v, w) = self.split_planes(x, l + 1, false);
        let vs = self.share_planes_from_p0(v, l + 1, n)?;
        let g = self.and_p0_p12(&self.b_select(&vs, 0..l), w.as_ref().map(|w| w.select(0..l)).as_ref())?;
        let p_all = self.xor_with_p12(&vs, w.as_ref());
        let c = self.carry_out(g, self.b_select(&p_all, 0..l))?;
        Ok(self.b_xor(&self.b_select(&p_all, l..l + 1), &c))
    }

    /// 1 where x == 0, for |x| < 2^bits, as one plane. Rounds 1 + ceil(log2 bits); party 0 sends
    /// `bits` bits, then bits-1 AND gates. Since |x| < 2^bits, x == 0 iff its low `bits` bits are
    /// zero, i.e. iff v == -w on those bits.
    pub fn eqz<R: Ring>(&mut self, x: &AShare<R>, bits: u32) -> Result<BShare> {
        let n = x.len();
        if bits == 0 {
            return Ok(self.b_constant(&{
                let mut p = Planes::zeros(1, n);
                p.not_assign();
                p
            }));
        }
        if bits > R::BITS {
            return Err(MpcError::Internal(format!("eqz with bound 2^{bits} in {}", R::NAME)));
        }
        let l = bits as usize;
        let (v, w) = self.split_planes(x, l, true);
        let vs = self.share_planes_from_p0(v, l, n)?;
        let e = self.xor_with_p12(&vs, w.as_ref());
        let mut t = self.b_not(&e);
        while t.shape().0 > 1 {
            let m = t.shape().0;
            let h = m / 2;
            let prod = self.b_and(&self.b_select(&t, 0..h), &self.b_select(&t, h..2 * h))?;
            t = if m % 2 == 1 { self.b_stack(&[&prod, &self.b_select(&t, m - 1..m)]) } else { prod };
        }
        Ok(t)
    }

    /// Bit decomposition: the low `nbits` bits of x. A parallel-prefix (Kogge–Stone) adder on the
    /// v/w split: 2 + ceil(log2(nbits-1)) rounds, about nbits * (1 + 2 log2 nbits) AND gates.
    pub fn a2b<R: Ring>(&mut self, x: &AShare<R>, nbits: u32) -> Result<BShare> {
        if nbits > R::BITS {
            return Err(MpcError::invalid(format!("a2b of {nbits} bits in {}", R::NAME)));
        }
        let k = nbits as usize;
        let n = x.len();
        if k == 0 {
            return Ok(self.b_constant(&Planes::zeros(0, n)));
        }
        let (v, w) = self.split_planes(x, k, false);
        let vs = self.share_planes_from_p0(v, k, n)?;
        let p0 = self.xor_with_p12(&vs, w.as_ref());
        let m = k - 1; // carries into bits 1..k come from prefixes over bits 0..k-1
        if m == 0 {
            return Ok(p0);
        }
        let mut g = self.and_p0_p12(&self.b_select(&vs, 0..m), w.as_ref().map(|w| w.select(0..m)).as_ref())?;
        let mut p = self.b_select(&p0, 0..m);
        let mut s = 1;
        while s < m {
            let hi: Vec<usize> = (s..m).collect();
            let lo: Vec<usize> = (0..m - s).collect();
            let need_p: Vec<usize> = (2 * s..m).collect();
            let need_p_lo: Vec<usize> = need_p.iter().map(|i| i - s).collect();
            let left = self.b_stack(&[&self.b_pick(&p, &hi), &self.b_pick(&p, &need_p)]);
            let right = self.b_stack(&[&self.b_pick(&g, &lo), &self.b_pick(&p, &need_p_lo)]);
            let prod = self.b_and(&left, &right)?;
            let upd_g = self.b_xor(&self.b_pick(&g, &hi), &self.b_select(&prod, 0..hi.len()));
            g = self.b_stack(&[&self.b_select(&g, 0..s), &upd_g]);
            let upd_p = self.b_select(&prod, hi.len()..hi.len() + need_p.len());
            p = self.b_stack(&[&self.b_select(&p, 0..(2 * s).min(m)), &upd_p]);
            s *= 2;
        }
        // sum bit 0 = p_0; bit i = p_i XOR G_{i-1}
        let carries = self.b_stack(&[&self.b_constant(&Planes::zeros(1, n)), &g]);
        Ok(self.b_xor(&p0, &carries))
    }

    /// Injects every plane into the ring as 0/1 values (output nplanes * n, plane-major).
    /// 2 rounds; party 0 sends 1 element per bit, parties 1 and 2 one each. With u = c0 XOR c1
    /// (party 0) and t = c2 (parties 1, 2): b = u + t - 2ut, where party 0 shares u - rho
    /// (rho = F(k0)) with party 1, so 2ut = 2(u - rho)t + 2 rho t splits between parties 1 and 2.
    pub fn bits2a<R: Ring>(&mut self, x: &BShare) -> Result<AShare<R>> {
        self.inject(x, None)
    }

    /// sum_p 2^p plane_p as a ring element (mod 2^k). Same rounds as `bits2a`; parties 1 and 2
    /// send one element per value instead of one per bit.
    pub fn b2a<R: Ring>(&mut self, x: &BShare) -> Result<AShare<R>> {
        let w: Vec<R> = (0..x.shape().0).map(|p| R::pow2(p as u32)).collect();
        self.inject(x, Some(&w))
    }

    /// sum_p weights[p] plane_p for public weights; costs as `b2a`.
    pub fn b2a_weighted<R: Ring>(&mut self, x: &BShare, weights: &[R]) -> Result<AShare<R>> {
        if weights.len() != x.shape().0 {
            return Err(MpcError::invalid("b2a_weighted: one weight per plane"));
        }
        self.inject(x, Some(weights))
    }

    fn inject<R: Ring>(&mut self, x: &BShare, weights: Option<&[R]>) -> Result<AShare<R>> {
        let weighted = weights.is_some();
        let (np, n) = x.shape();
        let total = np * n;
        let out_n = if weighted { n } else { total };
        let unpack = |p: &Planes| -> Vec<R> {
            let mut v = Vec::with_capacity(total);
            for pl in 0..p.nplanes() {
                for i in 0..n {
                    v.push(if p.get(pl, i) { R::ONE } else { R::ZERO });
                }
            }
            v
        };
        let fold = |v: &[R]| -> Vec<R> {
            if !weighted {
                return v.to_vec();
            }
            let ws = weights.expect("weighted");
            let mut out = vec![R::ZERO; n];
            for pl in 0..np {
                let w = ws[pl];
                for i in 0..n {
                    out[i] = out[i].add(v[pl * n + i].mul(w));
                }
            }
            out
        };
        let two = R::from_u64(2);
        match self.id.index() {
            0 => {
                let mut u = x.a.clone();
                u.xor_assign(&x.b);
                let uv = unpack(&u);
                let us = self.share_from_p0(Some(uv), total)?;
                let prod = self.reshare_p12::<R>(None, out_n)?;
                let ua = fold(&us.a);
                let ub = fold(&us.b);
                Ok(AShare {
                    a: (0..out_n).map(|i| prod.a[i].add(ua[i])).collect(),
                    b: (0..out_n).map(|i| prod.b[i].add(ub[i])).collect(),
                })
            }
            i => {
                let t = unpack(if i == 1 { &x.b } else { &x.a });
                let us = self.share_from_p0::<R>(None, total)?;
                // party 1 holds u - rho in its `a`, party 2 holds rho in its `b`
                let known = if i == 1 { &us.a } else { &us.b };
                let z: Vec<R> = (0..total).map(|j| known[j].mul(t[j]).mul(two).neg()).collect();
                let prod = self.reshare_p12(Some(fold(&z)), out_n)?;
                let ua = fold(&us.a);
                let ub = fold(&us.b);
                let tf = fold(&t);
                let (mut a, mut b): (Vec<R>, Vec<R>) = (
                    (0..out_n).map(|j| prod.a[j].add(ua[j])).collect(),
                    (0..out_n).map(|j| prod.b[j].add(ub[j])).collect(),
                );
                // t is component 2: party 1's b, party 2's a
                let comp = if i == 1 { &mut b } else { &mut a };
                for (c, tv) in comp.iter_mut().zip(&tf) {
                    *c = c.add(*tv);
                }
                Ok(AShare { a, b })
            }
        }
    }
}
