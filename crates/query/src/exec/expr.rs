//! Expressions over a relation's columns: arithmetic with exact division, comparisons, casts, CASE.

use super::*;

impl<E: Engine, S: Source<E>> Exec<'_, E, S> {
    pub(super) fn eval<R: Ring>(&mut self, rel: &Rel<E, R>, x: &Expr, tys: &[Ty]) -> Res<Col<E, R>> {
        let n = rel.n;
        let e = &mut *self.e;
        Ok(match &x.op {
            Op::Col(i) => {
                let c = rel.cols[*i].clone();
                return self.align(&c, &tys[*i], &x.ty);
            }
            Op::Lit(v) => Col { v: e.constant(&vec![r::<R>(*v); n]), nn: None, extra: Vec::new() },
            Op::Null => Col { v: self.zeros(n), nn: Some(self.zeros(n)), extra: Vec::new() },
            Op::Add(a, b) | Op::Sub(a, b) => {
                let (ca, cb) = (self.eval(rel, a, tys)?, self.eval(rel, b, tys)?);
                let (ca, cb) = if x.ty.class == Class::Date || a.ty.class == Class::Date {
                    (ca, cb)
                } else {
                    (self.align(&ca, &a.ty, &x.ty)?, self.align(&cb, &b.ty, &x.ty)?)
                };
                let v = if matches!(x.op, Op::Add(..)) { self.e.add(&ca.v, &cb.v) } else { self.e.sub(&ca.v, &cb.v) };
                let nn = self.and_nn(&ca.nn, &cb.nn)?;
                // a NULL operand's 0 must not leak into the result
                let v = match &nn {
                    Some(m) => self.e.mul(&v, m)?,
                    None => v,
                };
                Col { v, nn, extra: Vec::new() }
            }
            Op::Neg(a) => {
                let c = self.eval(rel, a, tys)?;
                Col { v: self.e.neg(&c.v), nn: c.nn, extra: Vec::new() }
            }
            Op::Mul(a, b) => {
                let (ca, cb) = (self.eval(rel, a, tys)?, self.eval(rel, b, tys)?);
                let (fa, fb) = (a.ty.scale().1, b.ty.scale().1);
                let mut v = self.e.mul(&ca.v, &cb.v)?;
                if fa + fb > x.ty.scale().1 {
                    // floor, exactly: the same product every run, so comparisons and casts of it
                    // are decided the same way
                    let s = fa + fb - x.ty.scale().1;
                    let bound = (a.ty.bits() + b.ty.bits()).max(R::BITS - 40);
                    v = self.e.trunc(&v, s, bound)?;
                }
                Col { v, nn: self.and_nn(&ca.nn, &cb.nn)?, extra: Vec::new() }
            }
            Op::Div(a, b) => self.divide(rel, x, a, b, tys)?,
            Op::Cmp(c, a, b) => {
                let (ca, cb) = (self.eval(rel, a, tys)?, self.eval(rel, b, tys)?);
                let u = crate::plan::unify(&a.ty, &b.ty, &x.text)?;
                let (ca2, cb2) = (self.align(&ca, &a.ty, &u)?, self.align(&cb, &b.ty, &u)?);
                let bits = bits_of(u.lo - u.hi, u.hi - u.lo) + 1;
                let e = &mut *self.e;
                let bit = match c {
                    Cmp::Lt | Cmp::Ge => e.msb(&e.sub(&ca2.v, &cb2.v), bits)?,
                    Cmp::Gt | Cmp::Le => e.msb(&e.sub(&cb2.v, &ca2.v), bits)?,
                    Cmp::Eq | Cmp::Ne => e.eqz(&e.sub(&ca2.v, &cb2.v), bits)?,
                };
                let bit = if matches!(c, Cmp::Ge | Cmp::Le | Cmp::Ne) { e.b_not(&bit) } else { bit };
                let v: E::A<R> = e.bits2a(&bit)?;
                let nn = self.and_nn(&ca.nn, &cb.nn)?;
                let v = match &nn {
                    Some(m) => self.e.mul(&v, m)?,
                    None => v,
                };
                Col { v, nn, extra: Vec::new() }
            }
            Op::And(a, b) | Op::Or(a, b) => {
                let (ca, cb) = (self.eval(rel, a, tys)?, self.eval(rel, b, tys)?);
                let and = matches!(x.op, Op::And(..));
                if ca.nn.is_none() && cb.nn.is_none() {
                    let p = self.e.mul(&ca.v, &cb.v)?;
                    let v = if and { p } else { self.e.sub(&self.e.add(&ca.v, &cb.v), &p) };
                    return Ok(Col { v, nn: None, extra: Vec::new() });
                }
                // three-valued logic: T = definitely true (v), F = definitely false (nn - v)
                let ones = self.ones(n);
                let fa = self.e.sub(ca.nn.as_ref().unwrap_or(&ones), &ca.v);
                let fb = self.e.sub(cb.nn.as_ref().unwrap_or(&ones), &cb.v);
                let e = &mut *self.e;
                let p = e.mul(&e.concat(&[&ca.v, &fa]), &e.concat(&[&cb.v, &fb]))?;
                let (tt, ff) = (e.slice(&p, 0..n), e.slice(&p, n..2 * n));
                let (t, f) =
                    if and { (tt, e.sub(&e.add(&fa, &fb), &ff)) } else { (e.sub(&e.add(&ca.v, &cb.v), &tt), ff) };
                let nn = e.add(&t, &f);
                Col { v: t, nn: Some(nn), extra: Vec::new() }
            }
            Op::Not(a) => {
                let c = self.eval(rel, a, tys)?;
                let ones = self.ones(n);
                Col { v: self.e.sub(c.nn.as_ref().unwrap_or(&ones), &c.v), nn: c.nn, extra: Vec::new() }
            }
            Op::IsNull(a) => {
                let c = self.eval(rel, a, tys)?;
                match c.nn {
                    None => Col { v: self.zeros(n), nn: None, extra: Vec::new() },
                    Some(m) => Col { v: self.e.sub(&self.ones(n), &m), nn: None, extra: Vec::new() },
                }
            }
            Op::Case(whens, els) => {
                let c = self.eval(rel, els, tys)?;
                let mut acc = self.align(&c, &els.ty, &x.ty)?;
                for (cond, res) in whens.iter().rev() {
                    let t = self.eval(rel, cond, tys)?.v;
                    let c = self.eval(rel, res, tys)?;
                    let rc = self.align(&c, &res.ty, &x.ty)?;
                    acc = self.choose(&t, &rc, &acc, n)?;
                }
                acc
            }
            Op::Coalesce(xs) => {
                let last = xs.last().expect("arguments");
                let c = self.eval(rel, last, tys)?;
                let mut acc = self.align(&c, &last.ty, &x.ty)?;
                for a in xs[..xs.len() - 1].iter().rev() {
                    let c = self.eval(rel, a, tys)?;
                    let c = self.align(&c, &a.ty, &x.ty)?;
                    acc = match &c.nn {
                        None => c,
                        Some(m) => {
                            let m = m.clone();
                            self.choose(&m, &c, &acc, n)?
                        }
                    };
                }
                acc
            }
            Op::Cast(a) => self.cast(rel, x, a, tys)?,
        })
    }

    /// t ? a : b for a 0/1 share t (one multiplication for values and not-NULL flags together).
    pub(super) fn choose<R: Ring>(&mut self, t: &E::A<R>, a: &Col<E, R>, b: &Col<E, R>, n: usize) -> Res<Col<E, R>> {
        let e = &mut *self.e;
        let dv = e.sub(&a.v, &b.v);
        if a.nn.is_none() && b.nn.is_none() {
            let p = e.mul(t, &dv)?;
            return Ok(Col { v: e.add(&b.v, &p), nn: None, extra: Vec::new() });
        }
        let ones = e.constant(&vec![R::ONE; n]);
        let (na, nb) = (a.nn.as_ref().unwrap_or(&ones), b.nn.as_ref().unwrap_or(&ones));
        let dn = e.sub(na, nb);
        let p = e.mul(&e.concat(&[t, t]), &e.concat(&[&dv, &dn]))?;
        Ok(Col { v: e.add(&b.v, &e.slice(&p, 0..n)), nn: Some(e.add(nb, &e.slice(&p, n..2 * n))), extra: Vec::new() })
    }

    /// a / b at FRAC fraction bits, truncated toward zero exactly; NULL when b is 0 (as SQLite
    /// does).
    pub(super) fn divide<R: Ring>(
        &mut self,
        rel: &Rel<E, R>,
        x: &Expr,
        a: &Expr,
        b: &Expr,
        tys: &[Ty],
    ) -> Res<Col<E, R>> {
        let (ca, cb) = (self.eval(rel, a, tys)?, self.eval(rel, b, tys)?);
        let e = &mut *self.e;
        let z = e.eqz(&cb.v, b.ty.bits() + 1)?;
        let zero: E::A<R> = e.bits2a(&z)?;
        let nz = e.sub(&e.constant(&vec![R::ONE; rel.n]), &zero);
        let nn = match self.and_nn(&ca.nn, &cb.nn)? {
            Some(m) => self.e.mul(&m, &nz)?,
            None => nz,
        };
        // a zero divisor becomes 1 (the result is masked below)
        let safe = self.e.add(&cb.v, &zero);
        let (na, nb, abits, bbits) = quotient_scales(&a.ty, &b.ty, &x.text)?;
        let an = self.e.mul_public(&ca.v, &[r(na)]);
        let bn = self.e.mul_public(&safe, &[r(nb)]);
        let v = mitsu_mpc_ops::div_trunc(self.e, &an, abits, &bn, bbits, &x.text)?;
        let v = self.e.mul(&v, &nn)?;
        Ok(Col { v, nn: Some(nn), extra: Vec::new() })
    }

    /// trunc(a 2^(out_frac - a_frac) / b) toward zero, exactly, for an integer 0 < b < 2^b_bits,
    /// computed in Z_2^128 whatever the plan's ring: in a Z_2^64 plan both are lifted (one
    /// extension each, on per-group values only) and the result, which the planner bounded to
    /// fit, is reduced back.
    pub(super) fn ratio_wide<R: Ring>(
        &mut self,
        a: &E::A<R>,
        a_bits: u32,
        a_frac: u32,
        b: &E::A<R>,
        b_bits: u32,
        out_frac: u32,
        expr: &str,
    ) -> Res<E::A<R>> {
        let up = out_frac.saturating_sub(a_frac);
        if R::BITS == 128 {
            let an = self.e.mul_public(a, &[R::pow2(up)]);
            return Ok(mitsu_mpc_ops::div_trunc(self.e, &an, a_bits + up, b, b_bits, expr)?);
        }
        let (a64, b64): (E::A<u64>, E::A<u64>) = (as_ring(a.clone())?, as_ring(b.clone())?);
        let a128 = self.e.extend(&a64, a_bits)?;
        let b128 = self.e.extend(&b64, b_bits)?;
        let an = self.e.mul_public(&a128, &[u128::pow2(up)]);
        let q = mitsu_mpc_ops::div_trunc(self.e, &an, a_bits + up, &b128, b_bits, expr)?;
        as_ring(self.e.reduce64(&q))
    }

    /// Numbers to integers (toward zero, as SQL casts) or to more decimal places / reals.
    pub(super) fn cast<R: Ring>(&mut self, rel: &Rel<E, R>, x: &Expr, a: &Expr, tys: &[Ty]) -> Res<Col<E, R>> {
        let c = self.eval(rel, a, tys)?;
        let ((d, f), (td, tf)) = (a.ty.scale(), x.ty.scale());
        if tf > 0 {
            // to a real: same value, at least one fraction bit
            let k = factor(td - d, tf - f, &x.text)?;
            return Ok(Col { v: self.e.mul_public(&c.v, &[r(k)]), nn: c.nn, extra: Vec::new() });
        }
        let up = factor(td.saturating_sub(d), 0, &x.text)?;
        let v = self.e.mul_public(&c.v, &[r(up)]);
        let divisor = factor(d.saturating_sub(td), f, &x.text)?;
        if divisor == 1 {
            return Ok(Col { v, nn: c.nn, extra: Vec::new() });
        }
        let xb = a.ty.bits() + bits_of(0, up);
        let q = self.div_public_toward_zero(&v, divisor, xb, rel.n)?;
        Ok(Col { v: q, nn: c.nn, extra: Vec::new() })
    }

    /// trunc(v / c) toward zero for a public c > 1, |v| < 2^bits: a multiply-and-shift estimate,
    /// then exact corrections by comparing the remainder with 0 and c.
    pub(super) fn div_public_toward_zero<R: Ring>(
        &mut self,
        v: &E::A<R>,
        c: i128,
        bits: u32,
        n: usize,
    ) -> Res<E::A<R>> {
        let e = &mut *self.e;
        let k = bits + 2;
        let m = ((1i128 << k) + c - 1) / c;
        let pb = bits + bits_of(0, m) + 1;
        let q0 = e.trunc(&e.mul_public(v, &[r(m)]), k, pb)?;
        let rem = e.sub(v, &e.mul_public(&q0, &[r(c)]));
        let cb = bits_of(0, c) + 3;
        let rc = e.add_public(&rem, &[r(-c)]);
        let both = e.concat(&[&rem, &rc]);
        let s = e.msb(&both, cb)?;
        let sa: E::A<R> = e.bits2a(&s)?; // [rem < 0, rem < c]
        let (neg, below) = (e.slice(&sa, 0..n), e.slice(&sa, n..2 * n));
        let ones = e.constant(&vec![R::ONE; n]);
        let above = e.sub(&ones, &below); // rem >= c
        let q1 = e.add(&e.sub(&q0, &neg), &above);
        let rem1 = e.add(&e.sub(&rem, &e.mul_public(&above, &[r(c)])), &e.mul_public(&neg, &[r(c)]));
        // floor -> toward zero: add 1 where v < 0 and the remainder is not 0
        let vneg = e.msb(v, bits + 1)?;
        let rz = e.eqz(&rem1, cb)?;
        let fix = e.b_and(&vneg, &e.b_not(&rz))?;
        let fa: E::A<R> = e.bits2a(&fix)?;
        Ok(e.add(&q1, &fa))
    }
}
