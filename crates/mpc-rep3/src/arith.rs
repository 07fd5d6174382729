//! Arithmetic: sharing, opening, multiplication, inner and matrix products, truncation and ring
//! extension. Costs are per element unless stated; "elements" are ring elements of the operand ring.

use crate::{AShare, Rep3, check_len};
use mitsu_algebra::Ring;
use mitsu_mpc_core::{MpcError, PartyId, Result, Reveal};

/// Largest magnitude bound (bits) for which probabilistic truncation in `R` fails with
/// probability at most 2^-40 per element. See [`Rep3::trunc_prob`] for the proof.
pub fn prob_trunc_max_bits<R: Ring>() -> u32 {
    R::BITS - 41
}

impl Rep3 {
    /// Input from `owner`. 1 round; the owner sends n elements to its next party, nobody else
    /// sends. Components: c_o = r (PRG k_o, known to owner and its previous party),
    /// c_{o+1} = x - r (sent to the next party), c_{o+2} = 0. Reveals nothing.
    pub fn input<R: Ring>(&mut self, owner: PartyId, values: Option<&[R]>, n: usize) -> Result<AShare<R>> {
        if self.id == owner {
            let x = values.ok_or_else(|| MpcError::invalid("the input owner must supply its values"))?;
            if x.len() != n {
                return Err(MpcError::invalid(format!("input of {} values declared as {n}", x.len())));
            }
            let r: Vec<R> = self.prev.gen_vec(n);
            let m: Vec<R> = x.iter().zip(&r).map(|(x, r)| x.sub(*r)).collect();
            self.ch.exchange(Some((owner.next(), m.clone())), None)?;
            Ok(AShare { a: r, b: m })
        } else if self.id == owner.next() {
            let m = self.ch.exchange::<R>(None, Some((owner, n)))?.unwrap();
            Ok(AShare { a: m, b: vec![R::ZERO; n] })
        } else {
            let r: Vec<R> = self.next.gen_vec(n);
            Ok(AShare { a: vec![R::ZERO; n], b: r })
        }
    }

    /// Opens to all. 1 round, 1 element per party. Reveals x.
    pub fn open<R: Ring>(&mut self, x: &AShare<R>, why: Reveal) -> Result<Vec<R>> {
        let n = x.len();
        mitsu_mpc_core::record(&mut self.opened, why, None, n as u64);
        let got = self.ch.exchange(Some((self.id.next(), x.a.clone())), Some((self.id.prev(), n)))?.unwrap();
        Ok((0..n).map(|i| x.a[i].add(x.b[i]).add(got[i])).collect())
    }

    /// Opens to `to` only. 1 round, 1 element sent by party `to+1`. Reveals x to `to`, nothing to
    /// the others.
    pub fn open_to<R: Ring>(&mut self, x: &AShare<R>, to: PartyId, why: Reveal) -> Result<Option<Vec<R>>> {
        let n = x.len();
        mitsu_mpc_core::record(&mut self.opened, why, Some(to), n as u64);
        if self.id == to {
            let got = self.ch.exchange::<R>(None, Some((to.next(), n)))?.unwrap();
            Ok(Some((0..n).map(|i| x.a[i].add(x.b[i]).add(got[i])).collect()))
        } else if self.id == to.next() {
            self.ch.exchange(Some((to, x.b.clone())), None)?;
            Ok(None)
        } else {
            Ok(None)
        }
    }

    /// Converts a 3-out-of-3 additive value held by parties 1 and 2 (party 0 holds zero) into
    /// replicated shares. 1 round; parties 1 and 2 send n elements each, party 0 sends nothing:
    /// the zero sharing is alpha_0 = F(k0), alpha_1 = F(k2), alpha_2 = -F(k0) - F(k2), so party 2
    /// can compute party 0's component itself. Each message is masked by a seed its receiver lacks.
    pub(crate) fn reshare_p12<R: Ring>(&mut self, z: Option<Vec<R>>, n: usize) -> Result<AShare<R>> {
        match self.id.index() {
            0 => {
                let c0: Vec<R> = self.prev.gen_vec(n);
                let c1 = self.ch.exchange::<R>(None, Some((PartyId::P1, n)))?.unwrap();
                Ok(AShare { a: c0, b: c1 })
            }
            1 => {
                let mut c1 = z.ok_or_else(|| MpcError::Internal("reshare_p12 without a value at party 1".into()))?;
                let f2: Vec<R> = self.next.gen_vec(n);
                for (c, f) in c1.iter_mut().zip(&f2) {
                    *c = c.add(*f);
                }
                let c2 = self.ch.exchange(Some((PartyId::P0, c1.clone())), Some((PartyId::P2, n)))?.unwrap();
                Ok(AShare { a: c1, b: c2 })
            }
            _ => {
                let mut c2 = z.ok_or_else(|| MpcError::Internal("reshare_p12 without a value at party 2".into()))?;
                let f0: Vec<R> = self.next.gen_vec(n);
                let f2: Vec<R> = self.prev.gen_vec(n);
                for i in 0..n {
                    c2[i] = c2[i].sub(f0[i]).sub(f2[i]);
                }
                self.ch.exchange(Some((PartyId::P1, c2.clone())), None)?;
                Ok(AShare { a: c2, b: f0 })
            }
        }
    }

    /// Shares a vector known to party 0: components (r, v - r, 0) with r = F(k0). 1 round; party 0
    /// sends n elements to party 1.
    pub(crate) fn share_from_p0<R: Ring>(&mut self, v: Option<Vec<R>>, n: usize) -> Result<AShare<R>> {
        match self.id.index() {
            0 => {
                let v = v.ok_or_else(|| MpcError::Internal("share_from_p0 without a value at party 0".into()))?;
                let r: Vec<R> = self.prev.gen_vec(n);
                let m: Vec<R> = v.iter().zip(&r).map(|(v, r)| v.sub(*r)).collect();
                self.ch.exchange(Some((PartyId::P1, m.clone())), None)?;
                Ok(AShare { a: r, b: m })
            }
            1 => {
                let m = self.ch.exchange::<R>(None, Some((PartyId::P0, n)))?.unwrap();
                Ok(AShare { a: m, b: vec![R::ZERO; n] })
            }
            _ => Ok(AShare { a: vec![R::ZERO; n], b: self.next.gen_vec(n) }),
        }
    }

    /// The 3-out-of-3 product shares z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + alpha_i with a
    /// fresh zero sharing alpha_i = F(k_i) - F(k_{i+1}).
    fn mul_local<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>) -> Vec<R> {
        let n = x.len();
        let mut z: Vec<R> = self.prev.gen_vec(n);
        let r2: Vec<R> = self.next.gen_vec(n);
        for (z, (r, ((xa, xb), (ya, yb)))) in
            z.iter_mut().zip(r2.iter().zip(x.a.iter().zip(&x.b).zip(y.a.iter().zip(&y.b))))
        {
            *z = z.sub(*r).add(xa.mul(ya.add(*yb))).add(xb.mul(*ya));
        }
        z
    }

    /// Element-wise product. 1 round, 1 element per party (Araki et al.). Reveals nothing.
    pub fn mul<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>) -> Result<AShare<R>> {
        check_len(x, y, "mul")?;
        let n = x.len();
        let z = self.mul_local(x, y);
        let b = self.ch.exchange(Some((self.id.prev(), z.clone())), Some((self.id.next(), n)))?.unwrap();
        Ok(AShare { a: z, b })
    }

    /// Inner products of each pair. 1 round, 1 element per party per pair, whatever the length.
    pub fn dot<R: Ring>(&mut self, pairs: &[(&AShare<R>, &AShare<R>)]) -> Result<AShare<R>> {
        let k = pairs.len();
        let mut z: Vec<R> = self.prev.gen_vec(k);
        let r2: Vec<R> = self.next.gen_vec(k);
        for (j, (x, y)) in pairs.iter().enumerate() {
            check_len(x, y, "dot")?;
            let mut acc = z[j].sub(r2[j]);
            for i in 0..x.len() {
                acc = acc.add(x.a[i].mul(y.a[i].add(y.b[i]))).add(x.b[i].mul(y.a[i]));
            }
            z[j] = acc;
        }
        let b = self.ch.exchange(Some((self.id.prev(), z.clone())), Some((self.id.next(), k)))?.unwrap();
        Ok(AShare { a: z, b })
    }

    /// `out[i] = sum_l coef[l] * cols[l][i]`. 1 round, one element per row per party: the
    /// cross terms of every column are summed locally before the one reshare.
    pub fn lincomb<R: Ring>(&mut self, coef: &AShare<R>, cols: &[&AShare<R>]) -> Result<AShare<R>> {
        if coef.len() != cols.len() {
            return Err(MpcError::invalid(format!("lincomb: {} coefficients for {} columns", coef.len(), cols.len())));
        }
        let n = cols.first().map_or(0, |c| c.len());
        if cols.iter().any(|c| c.len() != n) {
            return Err(MpcError::invalid("lincomb: columns of different lengths"));
        }
        let mut z: Vec<R> = self.prev.gen_vec(n);
        let r2: Vec<R> = self.next.gen_vec(n);
        for (zi, ri) in z.iter_mut().zip(&r2) {
            *zi = zi.sub(*ri);
        }
        for (l, c) in cols.iter().enumerate() {
            let (ca, cs) = (coef.a[l], coef.a[l].add(coef.b[l]));
            for ((zi, ya), yb) in z.iter_mut().zip(&c.a).zip(&c.b) {
                // x_a (y_a + y_b) + x_b y_a, with x the coefficient
                *zi = zi.add(ya.mul(cs)).add(yb.mul(ca));
            }
        }
        let b = self.ch.exchange(Some((self.id.prev(), z.clone())), Some((self.id.next(), n)))?.unwrap();
        Ok(AShare { a: z, b })
    }

    /// Matrix product (m x k) * (k x n). 1 round, m*n elements per party.
    pub fn matmul<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>, m: usize, k: usize, n: usize) -> Result<AShare<R>> {
        if x.len() != m * k || y.len() != k * n {
            return Err(MpcError::invalid(format!("matmul: shapes {}x{} and {}x{} do not match the data", m, k, k, n)));
        }
        let mut z: Vec<R> = self.prev.gen_vec(m * n);
        let r2: Vec<R> = self.next.gen_vec(m * n);
        for (zi, ri) in z.iter_mut().zip(&r2) {
            *zi = zi.sub(*ri);
        }
        let ysum: Vec<R> = y.a.iter().zip(&y.b).map(|(a, b)| a.add(*b)).collect();
        for i in 0..m {
            let row = &mut z[i * n..(i + 1) * n];
            for l in 0..k {
                let (xa, xb) = (x.a[i * k + l], x.b[i * k + l]);
                let (ys, ya) = (&ysum[l * n..(l + 1) * n], &y.a[l * n..(l + 1) * n]);
                for j in 0..n {
                    row[j] = row[j].add(xa.mul(ys[j])).add(xb.mul(ya[j]));
                }
            }
        }
        let b = self.ch.exchange(Some((self.id.prev(), z.clone())), Some((self.id.next(), m * n)))?.unwrap();
        Ok(AShare { a: z, b })
    }

    /// floor(x / 2^d) for |x| < 2^bits, choosing the probabilistic method when it is safe
    /// (bits <= k - 41) and the exact one otherwise.
    pub fn trunc<R: Ring>(&mut self, x: &AShare<R>, d: u32, bits: u32) -> Result<AShare<R>> {
        if d == 0 {
            return Ok(x.clone());
        }
        if bits.max(d) <= prob_trunc_max_bits::<R>() {
            self.trunc_prob(x, d, bits)
        } else {
            self.trunc_exact(x, d, bits)
        }
    }

    /// Probabilistic truncation: returns floor(x / 2^d) + e with e in {0, 1}. 1 round; party 0
    /// sends 1 element, the others nothing. Reveals nothing.
    ///
    /// Correctness (after Mohassel–Zhang, SecureML, Thm. 1). Let B = max(bits, d) and
    /// x' = x + 2^B in [0, 2^{B+1}). Write x' = s0 + s1 (mod 2^k) with s1 = x2 + rho, where rho is
    /// drawn from the seed common to all parties, so s1 is uniform and independent of x, and
    /// s0 = x0 + x1 + 2^B - rho. Whenever s1 > x' (as integers), s0 = x' - s1 + 2^k and with
    /// t = 2^k - s1 we get s0 - t = x' exactly, hence floor(s0/2^d) - floor(t/2^d) is
    /// floor(x'/2^d) or one more. The failure event s1 <= x' has probability
    /// (x'+1)/2^k <= 2^{B+1-k}, which is at most 2^-40 exactly when B <= k - 41; `trunc` uses this
    /// method only then. Subtracting the public 2^{B-d} removes the offset.
    pub fn trunc_prob<R: Ring>(&mut self, x: &AShare<R>, d: u32, bits: u32) -> Result<AShare<R>> {
        let bb = bits.max(d);
        if bb > prob_trunc_max_bits::<R>() {
            return Err(MpcError::Internal(format!("probabilistic truncation with bound 2^{bb} in {}", R::NAME)));
        }
        let n = x.len();
        let rho: Vec<R> = self.common.gen_vec(n);
        let bias = R::pow2(bb);
        let unbias = R::pow2(bb - d);
        let low_part = |s1: R| s1.neg().shr(d).neg();
        match self.id.index() {
            0 => {
                let r: Vec<R> = self.prev.gen_vec(n);
                let c1: Vec<R> =
                    (0..n).map(|i| x.a[i].add(x.b[i]).add(bias).sub(rho[i]).shr(d).sub(r[i]).sub(unbias)).collect();
                self.ch.exchange(Some((PartyId::P1, c1.clone())), None)?;
                Ok(AShare { a: r, b: c1 })
            }
            1 => {
                let c2: Vec<R> = (0..n).map(|i| low_part(x.b[i].add(rho[i]))).collect();
                let c1 = self.ch.exchange::<R>(None, Some((PartyId::P0, n)))?.unwrap();
                Ok(AShare { a: c1, b: c2 })
            }
            _ => {
                let c2: Vec<R> = (0..n).map(|i| low_part(x.a[i].add(rho[i]))).collect();
                let r: Vec<R> = self.next.gen_vec(n);
                Ok(AShare { a: c2, b: r })
            }
        }
    }

    /// Exact truncation floor(x / 2^d) for |x| < 2^bits with max(bits, d) <= k - 2.
    /// Rounds: 1 + 1 + ceil(log2 d) + 2; party 0 sends 1 element and d+1 bits first, then every
    /// party about 2d bits in the carry circuit and 2 elements in the bit conversions.
    ///
    /// With B = max(bits, d), x' = x + 2^B in [0, 2^{B+1}) and s0 = x0 + x1 + 2^B (party 0),
    /// s1 = x2 (parties 1, 2), the integers satisfy s0 + s1 = x' + w 2^k with w in {0, 1}, so
    /// floor(x'/2^d) = floor(s0/2^d) + floor(s1/2^d) + c - w 2^{k-d}, where c is the carry out of
    /// the low d bits of s0 + s1. Because x' < 2^{B+1}, w = 1 exactly when s0 or s1 has a bit at
    /// or above B+1 set: w = u OR v with u known to party 0 and v to parties 1 and 2. Only c and w
    /// are computed jointly (a d-bit carry circuit and one AND), then converted to arithmetic.
    pub fn trunc_exact<R: Ring>(&mut self, x: &AShare<R>, d: u32, bits: u32) -> Result<AShare<R>> {
        let bb = bits.max(d);
        if bb > R::BITS - 2 {
            return Err(MpcError::Internal(format!("exact truncation with bound 2^{bb} in {}", R::NAME)));
        }
        let n = x.len();
        let l = bb + 1;
        let bias = R::pow2(bb);
        let d_us = d as usize;
        // Party 0's s0, parties 1 and 2's s1.
        let (s0, s1): (Option<Vec<R>>, Option<Vec<R>>) = match self.id.index() {
            0 => (Some((0..n).map(|i| x.a[i].add(x.b[i]).add(bias)).collect()), None),
            1 => (None, Some(x.b.clone())),
            _ => (None, Some(x.a.clone())),
        };
        // Boolean inputs: low d bits and the "high part non-zero" flag (negated, for the AND).
        let mine_bits = |s: &Vec<R>| {
            let mut p = mitsu_algebra::Planes::from_values(s, d_us);
            let mut flag = mitsu_algebra::Planes::zeros(1, n);
            for (i, v) in s.iter().enumerate() {
                flag.set(0, i, v.shr(l) == R::ZERO); // NOT(high part non-zero)
            }
            p = mitsu_algebra::Planes::stack(&[&p, &flag]);
            p
        };
        let a_part = s0.as_ref().map(|s| s.iter().map(|v| v.shr(d)).collect::<Vec<R>>());
        let p0_planes = s0.as_ref().map(&mine_bits);
        let p12_planes = s1.as_ref().map(&mine_bits);
        let (a_sh, x_b) = self.share_from_p0_both(a_part, p0_planes, d_us + 1, n)?;
        // g_j = lo0_j AND lo1_j for j < d, and (NOT u) AND (NOT v) in plane d.
        let g_all = self.and_p0_p12(&x_b, p12_planes.as_ref())?;
        let p_all = self.xor_with_p12(&x_b, p12_planes.as_ref());
        let g = self.b_select(&g_all, 0..d_us);
        let p = self.b_select(&p_all, 0..d_us);
        let c = self.carry_out(g, p)?;
        let not_w = self.b_select(&g_all, d_us..d_us + 1);
        let w = self.b_not(&not_w);
        let cw = self.b_stack(&[&c, &w]);
        let cw_a: AShare<R> = self.bits2a(&cw)?;
        let (c_a, w_a) = (cw_a.slice(0..n), cw_a.slice(n..2 * n));
        // result = [A] + B + [c] - [w] 2^{k-d} - 2^{B-d}
        let shift_w = R::pow2(R::BITS - d);
        let mut out = a_sh;
        for i in 0..n {
            out.a[i] = out.a[i].add(c_a.a[i]).sub(w_a.a[i].mul(shift_w));
            out.b[i] = out.b[i].add(c_a.b[i]).sub(w_a.b[i].mul(shift_w));
        }
        if let Some(s1) = &s1 {
            let bpart: Vec<R> = s1.iter().map(|v| v.shr(d)).collect();
            // component 2: party 1's b, party 2's a
            let comp = if self.id.index() == 1 { &mut out.b } else { &mut out.a };
            for (o, v) in comp.iter_mut().zip(&bpart) {
                *o = o.add(*v);
            }
        }
        Ok(self.add_public_scalar(&out, R::pow2(bb - d).neg()))
    }

    /// trunc(x * y, d) fused, for a product bounded by 2^bits. When the probabilistic method is
    /// safe: 2 rounds and 1 element per party in total (parties 1 and 2 send in the first round,
    /// party 0 in the second), half the traffic of a multiplication followed by a truncation.
    /// Otherwise a multiplication followed by exact truncation.
    pub fn mul_trunc<R: Ring>(&mut self, x: &AShare<R>, y: &AShare<R>, d: u32, bits: u32) -> Result<AShare<R>> {
        check_len(x, y, "mul_trunc")?;
        let bb = bits.max(d);
        if d == 0 {
            return self.mul(x, y);
        }
        if bb > prob_trunc_max_bits::<R>() {
            let p = self.mul(x, y)?;
            return self.trunc_exact(&p, d, bits);
        }
        // 3-out-of-3 product shares z0 + z1 + z2 = xy with the zero sharing
        // alpha0 = -F(k0), alpha1 = F(k2), alpha2 = F(k0) - F(k2): four PRG draws instead of six.
        // Party 1's z1 goes to party 0, which lacks k2; party 2's truncated z2 goes to party 1,
        // which lacks k0. z2 is uniform, so the split (z0 + z1, z2) meets the bound of `trunc_prob`.
        let n = x.len();
        let cross_all = || -> Vec<R> {
            x.a.iter()
                .zip(&x.b)
                .zip(y.a.iter().zip(&y.b))
                .map(|((xa, xb), (ya, yb))| xa.mul(ya.add(*yb)).add(xb.mul(*ya)))
                .collect()
        };
        let bias = R::pow2(bb);
        let unbias = R::pow2(bb - d);
        match self.id.index() {
            0 => {
                let f0: Vec<R> = self.prev.gen_vec(n);
                let mut z0 = cross_all();
                z0.iter_mut().zip(&f0).for_each(|(z, f)| *z = z.sub(*f));
                let z1 = self.ch.exchange::<R>(None, Some((PartyId::P1, n)))?.unwrap();
                let r: Vec<R> = self.prev.gen_vec(n);
                let c1: Vec<R> = z0
                    .iter()
                    .zip(z1.iter().zip(&r))
                    .map(|(z0, (z1, r))| z0.add(*z1).add(bias).shr(d).sub(*r).sub(unbias))
                    .collect();
                self.ch.exchange(Some((PartyId::P1, c1.clone())), None)?;
                Ok(AShare { a: r, b: c1 })
            }
            1 => {
                let f2: Vec<R> = self.next.gen_vec(n);
                let mut z1 = cross_all();
                z1.iter_mut().zip(&f2).for_each(|(z, f)| *z = z.add(*f));
                let c2 = self.ch.exchange(Some((PartyId::P0, z1)), Some((PartyId::P2, n)))?.unwrap();
                let c1 = self.ch.exchange::<R>(None, Some((PartyId::P0, n)))?.unwrap();
                Ok(AShare { a: c1, b: c2 })
            }
            _ => {
                let f0: Vec<R> = self.next.gen_vec(n);
                let f2: Vec<R> = self.prev.gen_vec(n);
                let mut c2 = cross_all();
                c2.iter_mut().zip(f0.iter().zip(&f2)).for_each(|(z, (a, b))| *z = z.add(*a).sub(*b).neg().shr(d).neg());
                self.ch.exchange(Some((PartyId::P1, c2.clone())), None)?;
                let r: Vec<R> = self.next.gen_vec(n);
                Ok(AShare { a: c2, b: r })
            }
        }
    }

    /// Lifts shares of |x| < 2^bits (bits <= 62) from Z_2^64 to Z_2^128. 2 rounds; party 0 sends
    /// 2 elements of Z_2^128, parties 1 and 2 one each. With s0 = x0 + x1 + 2^bits and s1 = x2 the
    /// integer s0 + s1 wraps (w = 1) exactly when either has a bit at or above bits+1 set, so
    /// w = u + v - uv with u known to party 0 and v to parties 1 and 2 (see `trunc_exact`).
    pub fn extend(&mut self, x: &AShare<u64>, bits: u32) -> Result<AShare<u128>> {
        if bits > 62 {
            return Err(MpcError::Internal(format!("extension of a value bounded by 2^{bits}")));
        }
        let n = x.len();
        let l = bits + 1;
        let bias = 1u64 << bits;
        let two64: u128 = 1u128 << 64;
        match self.id.index() {
            0 => {
                let mut msg = Vec::with_capacity(2 * n);
                let rho: Vec<u128> = self.prev.gen_vec(2 * n);
                for i in 0..n {
                    let s0 = x.a[i].wrapping_add(x.b[i]).wrapping_add(bias);
                    let u = ((s0 >> l) != 0) as u128;
                    msg.push(u.wrapping_sub(rho[i]));
                }
                for i in 0..n {
                    let s0 = x.a[i].wrapping_add(x.b[i]).wrapping_add(bias);
                    let u = ((s0 >> l) != 0) as u128;
                    msg.push((s0 as u128).wrapping_sub(u.wrapping_mul(two64)).wrapping_sub(rho[n + i]));
                }
                self.ch.exchange(Some((PartyId::P1, msg.clone())), None)?;
                let prod = self.reshare_p12::<u128>(None, n)?;
                // [A] = (rho2, A - rho2, 0)
                let a: Vec<u128> = (0..n).map(|i| prod.a[i].wrapping_add(rho[n + i])).collect();
                let b: Vec<u128> = (0..n).map(|i| prod.b[i].wrapping_add(msg[n + i])).collect();
                Ok(self.add_public_scalar(&AShare { a, b }, (bias as u128).wrapping_neg()))
            }
            1 => {
                let msg = self.ch.exchange::<u128>(None, Some((PartyId::P0, 2 * n)))?.unwrap();
                let mut z = Vec::with_capacity(n);
                let mut bpart = Vec::with_capacity(n);
                for i in 0..n {
                    let s1 = x.b[i];
                    let v = ((s1 >> l) != 0) as u128;
                    z.push(msg[i].wrapping_mul(v).wrapping_mul(two64));
                    bpart.push((s1 as u128).wrapping_sub(v.wrapping_mul(two64)));
                }
                let prod = self.reshare_p12(Some(z), n)?;
                let a: Vec<u128> = (0..n).map(|i| prod.a[i].wrapping_add(msg[n + i])).collect();
                let b: Vec<u128> = (0..n).map(|i| prod.b[i].wrapping_add(bpart[i])).collect();
                Ok(AShare { a, b })
            }
            _ => {
                let rho: Vec<u128> = self.next.gen_vec(2 * n);
                let mut z = Vec::with_capacity(n);
                let mut bpart = Vec::with_capacity(n);
                for i in 0..n {
                    let s1 = x.a[i];
                    let v = ((s1 >> l) != 0) as u128;
                    z.push(rho[i].wrapping_mul(v).wrapping_mul(two64));
                    bpart.push((s1 as u128).wrapping_sub(v.wrapping_mul(two64)));
                }
                let prod = self.reshare_p12(Some(z), n)?;
                let a: Vec<u128> = (0..n).map(|i| prod.a[i].wrapping_add(bpart[i])).collect();
                let b: Vec<u128> = (0..n).map(|i| prod.b[i].wrapping_add(rho[n + i])).collect();
                Ok(self.add_public_scalar(&AShare { a, b }, (bias as u128).wrapping_neg()))
            }
        }
    }

    /// Adds a public scalar (to component 0).
    pub(crate) fn add_public_scalar<R: Ring>(&self, x: &AShare<R>, c: R) -> AShare<R> {
        let mut out = x.clone();
        match self.id.index() {
            0 => out.a.iter_mut().for_each(|v| *v = v.add(c)),
            2 => out.b.iter_mut().for_each(|v| *v = v.add(c)),
            _ => {}
        }
        out
    }
}

impl<R: Ring> AShare<R> {
    pub(crate) fn slice(&self, r: std::ops::Range<usize>) -> AShare<R> {
        AShare { a: self.a[r.clone()].to_vec(), b: self.b[r].to_vec() }
    }
}
