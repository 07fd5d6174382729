//! Runs a plan on an engine. Conventions:
//! * a relation has n physical rows and an optional secret validity column (1 = the row exists);
//!   filters clear validity, nothing is dropped until a step opens a count;
//! * a column has value shares and optional not-NULL shares; a NULL's value share is 0 (kept by
//!   every operation), so sums need no masking;
//! * every bound passed to the engine comes from the plan's types.

use crate::QueryError;
use crate::plan::{Agg, AggFn, Cmp, Expr, Node, Op, Plan, Query, SortKey, component_bits};
use crate::ty::{Class, FRAC, Ty, bits_of, factor, quotient_scales};
use mitsu_algebra::{FixedPoint, Planes, Ring};
use mitsu_mpc_core::{Engine, Reveal};
use mitsu_mpc_ops::{JoinSide, Num, equi_join, segment_starts, segmented_sum, sort_by_key, sqrt};

type Res<T> = Result<T, QueryError>;

/// Where a scan's shares come from.
pub trait Source<E: Engine> {
    /// Shares of column `col` of `table` in ring `R`, and its not-NULL indicator (None: the column
    /// has no NULLs).
    fn column<R: Ring>(&mut self, e: &mut E, table: &str, col: usize) -> Res<(E::A<R>, Option<E::A<R>>)>;
}

struct Col<E: Engine, R: Ring> {
    v: E::A<R>,
    nn: Option<E::A<R>>,
}

impl<E: Engine, R: Ring> Clone for Col<E, R> {
    fn clone(&self) -> Self {
        Col { v: self.v.clone(), nn: self.nn.clone() }
    }
}

struct Rel<E: Engine, R: Ring> {
    n: usize,
    valid: Option<E::A<R>>,
    cols: Vec<Col<E, R>>,
}

/// The result rows (compacted: every row is a result row), still secret-shared. Per column, the
/// values and the not-NULL indicators.
pub struct Output<E: Engine, R: Ring> {
    pub rows: usize,
    pub values: Vec<E::A<R>>,
    pub not_null: Vec<E::A<R>>,
}

impl<E: Engine, R: Ring> std::fmt::Debug for Output<E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Output({} rows x {} columns)", self.rows, self.values.len())
    }
}

/// Runs `q`. Reveals to the parties what `explain` lists (the result's row count among it); the
/// result values stay shared for the caller to open to the analyst.
pub fn execute<E: Engine, R: Ring, S: Source<E>>(e: &mut E, q: &Query, src: &mut S) -> Res<Output<E, R>> {
    execute_inner(e, q, src, true)
}

/// As [`execute`], but rows that all survive keep their stored order: only for callers that
/// open no row, only aggregates of the whole result (the statistics kernels, whose sorts
/// shuffle for themselves). Dropping invalid rows still shuffles before it opens anything.
pub fn execute_for_aggregates<E: Engine, R: Ring, S: Source<E>>(
    e: &mut E,
    q: &Query,
    src: &mut S,
) -> Res<Output<E, R>> {
    execute_inner(e, q, src, false)
}

fn execute_inner<E: Engine, R: Ring, S: Source<E>>(
    e: &mut E,
    q: &Query,
    src: &mut S,
    shuffle: bool,
) -> Res<Output<E, R>> {
    if R::BITS != q.ring {
        return Err(QueryError::internal(format!("plan needs Z_2^{}, executor runs Z_2^{}", q.ring, R::BITS)));
    }
    let mut x = Exec { e, src };
    let rel = x.run(&q.root, &vec![true; q.root.out.len()])?;
    // rows leave in a random order unless the query ordered them under MPC (ORDER BY … LIMIT):
    // the upload order of a provider's file must not show through
    let ordered = matches!(q.root.node, Node::TopK { .. });
    let rel = x.compact(rel, shuffle && !ordered)?;
    let ones = x.e.constant(&vec![R::ONE; rel.n]);
    Ok(Output {
        rows: rel.n,
        values: rel.cols.iter().map(|c| c.v.clone()).collect(),
        not_null: rel.cols.iter().map(|c| c.nn.clone().unwrap_or_else(|| ones.clone())).collect(),
    })
}

struct Exec<'a, E: Engine, S> {
    e: &'a mut E,
    src: &'a mut S,
}

fn lg(n: usize) -> u32 {
    usize::BITS - n.max(1).leading_zeros()
}

fn r<R: Ring>(v: i128) -> R {
    R::from_i128(v)
}

impl<E: Engine, S: Source<E>> Exec<'_, E, S> {
    fn ones<R: Ring>(&self, n: usize) -> E::A<R> {
        self.e.constant(&vec![R::ONE; n])
    }

    fn zeros<R: Ring>(&self, n: usize) -> E::A<R> {
        self.e.constant(&vec![R::ZERO; n])
    }

    /// Runs `p`, computing only the output columns flagged in `need` (the others are zero
    /// placeholders): columns no later step reads are never loaded, sorted or carried.
    fn run<R: Ring>(&mut self, p: &Plan, need: &[bool]) -> Res<Rel<E, R>> {
        match &p.node {
            Node::Scan { table, cols } => {
                let n = p.rows as usize;
                let mut out = Vec::new();
                for (i, &c) in cols.iter().enumerate() {
                    if need[i] {
                        let (v, nn) = self.src.column::<R>(self.e, table, c)?;
                        if self.e.len(&v) != n {
                            return Err(QueryError::internal(format!("table {table:?}: column lengths differ")));
                        }
                        out.push(Col { v, nn });
                    } else {
                        out.push(self.placeholder(n));
                    }
                }
                Ok(Rel { n, valid: None, cols: out })
            }
            Node::Filter { input, pred } => {
                let mut inner = need.to_vec();
                uses(pred, &mut inner);
                let rel = self.run::<R>(input, &inner)?;
                let c = self.eval(&rel, pred, &input.out)?;
                let valid = match &rel.valid {
                    None => c.v,
                    Some(v) => self.e.mul(v, &c.v)?,
                };
                Ok(Rel { valid: Some(valid), ..rel })
            }
            Node::Project { input, exprs } => {
                let mut inner = vec![false; input.out.len()];
                for (x, _) in exprs.iter().zip(need).filter(|(_, n)| **n) {
                    uses(x, &mut inner);
                }
                let rel = self.run::<R>(input, &inner)?;
                let mut cols = Vec::new();
                for (x, n) in exprs.iter().zip(need) {
                    cols.push(if *n { self.eval(&rel, x, &input.out)? } else { self.placeholder(rel.n) });
                }
                Ok(Rel { n: rel.n, valid: rel.valid, cols })
            }
            Node::Union { inputs } => {
                let rels = inputs.iter().map(|i| self.run::<R>(i, need)).collect::<Res<Vec<_>>>()?;
                let n = rels.iter().map(|r| r.n).sum();
                let valid = if rels.iter().all(|r| r.valid.is_none()) {
                    None
                } else {
                    let parts: Vec<E::A<R>> =
                        rels.iter().map(|r| r.valid.clone().unwrap_or_else(|| self.ones(r.n))).collect();
                    Some(self.e.concat(&parts.iter().collect::<Vec<_>>()))
                };
                let mut cols = Vec::new();
                for (j, t) in p.out.iter().enumerate() {
                    if !need[j] {
                        cols.push(self.placeholder(n));
                        continue;
                    }
                    let parts: Vec<Col<E, R>> = rels
                        .iter()
                        .zip(inputs)
                        .map(|(rel, i)| self.align(&rel.cols[j], &i.out[j], t))
                        .collect::<Res<_>>()?;
                    let v = self.e.concat(&parts.iter().map(|c| &c.v).collect::<Vec<_>>());
                    let nn = if parts.iter().all(|c| c.nn.is_none()) {
                        None
                    } else {
                        let nns: Vec<E::A<R>> =
                            parts.iter().map(|c| c.nn.clone().unwrap_or_else(|| self.ones(self.e.len(&c.v)))).collect();
                        Some(self.e.concat(&nns.iter().collect::<Vec<_>>()))
                    };
                    cols.push(Col { v, nn });
                }
                Ok(Rel { n, valid, cols })
            }
            Node::Join { left, right, left_outer, many_to_many, lkeys, rkeys } => {
                self.join(left, right, *left_outer, *many_to_many, lkeys, rkeys, need)
            }
            Node::Aggregate { input, keys, aggs, ordered } => {
                let mut inner = vec![false; input.out.len()];
                for k in keys {
                    uses(k, &mut inner);
                }
                for a in aggs {
                    if let Some(x) = &a.arg {
                        uses(x, &mut inner);
                    }
                }
                if let Some(o) = ordered {
                    uses(o, &mut inner);
                }
                let rel = self.run::<R>(input, &inner)?;
                self.aggregate(rel, input, keys, aggs, ordered.as_ref())
            }
            Node::TopK { input, keys, limit } => {
                let mut inner = need.to_vec();
                for k in keys {
                    inner[k.col] = true;
                }
                let rel = self.run::<R>(input, &inner)?;
                self.top_k(rel, &input.out, keys, *limit as usize)
            }
        }
    }

    /// A column no later step reads.
    fn placeholder<R: Ring>(&self, n: usize) -> Col<E, R> {
        Col { v: self.zeros(n), nn: None }
    }

    /// A value converted to another type of the same family (numbers: scaled up exactly).
    fn align<R: Ring>(&mut self, c: &Col<E, R>, from: &Ty, to: &Ty) -> Res<Col<E, R>> {
        if let (Class::Cat { w: wf }, Class::Cat { w: wt }) = (from.class, to.class) {
            // a label at a wider width: its bytes move up, zero bytes fill the end
            if wt < wf {
                return Err(QueryError::internal(format!("cannot narrow {from:?} to {to:?}")));
            }
            return Ok(if wt == wf {
                c.clone()
            } else {
                Col { v: self.e.mul_public(&c.v, &[R::pow2(8 * (wt - wf))]), nn: c.nn.clone() }
            });
        }
        if !(from.is_num() && to.is_num()) {
            return Ok(c.clone());
        }
        let ((df, ff), (dt, ft)) = (from.scale(), to.scale());
        if dt < df || ft < ff {
            return Err(QueryError::internal(format!("cannot align {from:?} to {to:?}")));
        }
        let k = factor(dt - df, ft - ff, "alignment")?;
        if k == 1 {
            return Ok(c.clone());
        }
        Ok(Col { v: self.e.mul_public(&c.v, &[r(k)]), nn: c.nn.clone() })
    }

    fn and_nn<R: Ring>(&mut self, a: &Option<E::A<R>>, b: &Option<E::A<R>>) -> Res<Option<E::A<R>>> {
        Ok(match (a, b) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (Some(x), Some(y)) => Some(self.e.mul(x, y)?),
        })
    }

    fn eval<R: Ring>(&mut self, rel: &Rel<E, R>, x: &Expr, tys: &[Ty]) -> Res<Col<E, R>> {
        let n = rel.n;
        let e = &mut *self.e;
        Ok(match &x.op {
            Op::Col(i) => {
                let c = rel.cols[*i].clone();
                return self.align(&c, &tys[*i], &x.ty);
            }
            Op::Lit(v) => Col { v: e.constant(&vec![r::<R>(*v); n]), nn: None },
            Op::Null => Col { v: self.zeros(n), nn: Some(self.zeros(n)) },
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
                Col { v, nn }
            }
            Op::Neg(a) => {
                let c = self.eval(rel, a, tys)?;
                Col { v: self.e.neg(&c.v), nn: c.nn }
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
                Col { v, nn: self.and_nn(&ca.nn, &cb.nn)? }
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
                Col { v, nn }
            }
            Op::And(a, b) | Op::Or(a, b) => {
                let (ca, cb) = (self.eval(rel, a, tys)?, self.eval(rel, b, tys)?);
                let and = matches!(x.op, Op::And(..));
                if ca.nn.is_none() && cb.nn.is_none() {
                    let p = self.e.mul(&ca.v, &cb.v)?;
                    let v = if and { p } else { self.e.sub(&self.e.add(&ca.v, &cb.v), &p) };
                    return Ok(Col { v, nn: None });
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
                Col { v: t, nn: Some(nn) }
            }
            Op::Not(a) => {
                let c = self.eval(rel, a, tys)?;
                let ones = self.ones(n);
                Col { v: self.e.sub(c.nn.as_ref().unwrap_or(&ones), &c.v), nn: c.nn }
            }
            Op::IsNull(a) => {
                let c = self.eval(rel, a, tys)?;
                match c.nn {
                    None => Col { v: self.zeros(n), nn: None },
                    Some(m) => Col { v: self.e.sub(&self.ones(n), &m), nn: None },
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
    fn choose<R: Ring>(&mut self, t: &E::A<R>, a: &Col<E, R>, b: &Col<E, R>, n: usize) -> Res<Col<E, R>> {
        let e = &mut *self.e;
        let dv = e.sub(&a.v, &b.v);
        if a.nn.is_none() && b.nn.is_none() {
            let p = e.mul(t, &dv)?;
            return Ok(Col { v: e.add(&b.v, &p), nn: None });
        }
        let ones = e.constant(&vec![R::ONE; n]);
        let (na, nb) = (a.nn.as_ref().unwrap_or(&ones), b.nn.as_ref().unwrap_or(&ones));
        let dn = e.sub(na, nb);
        let p = e.mul(&e.concat(&[t, t]), &e.concat(&[&dv, &dn]))?;
        Ok(Col { v: e.add(&b.v, &e.slice(&p, 0..n)), nn: Some(e.add(nb, &e.slice(&p, n..2 * n))) })
    }

    /// a / b at FRAC fraction bits, truncated toward zero exactly; NULL when b is 0 (as SQLite
    /// does).
    fn divide<R: Ring>(&mut self, rel: &Rel<E, R>, x: &Expr, a: &Expr, b: &Expr, tys: &[Ty]) -> Res<Col<E, R>> {
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
        Ok(Col { v, nn: Some(nn) })
    }

    /// trunc(a 2^(out_frac - a_frac) / b) toward zero, exactly, for an integer 0 < b < 2^b_bits,
    /// computed in Z_2^128 whatever the plan's ring: in a Z_2^64 plan both are lifted (one
    /// extension each, on per-group values only) and the result, which the planner bounded to
    /// fit, is reduced back.
    fn ratio_wide<R: Ring>(
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
    fn cast<R: Ring>(&mut self, rel: &Rel<E, R>, x: &Expr, a: &Expr, tys: &[Ty]) -> Res<Col<E, R>> {
        let c = self.eval(rel, a, tys)?;
        let ((d, f), (td, tf)) = (a.ty.scale(), x.ty.scale());
        if tf > 0 {
            // to a real: same value, at least one fraction bit
            let k = factor(td - d, tf - f, &x.text)?;
            return Ok(Col { v: self.e.mul_public(&c.v, &[r(k)]), nn: c.nn });
        }
        let up = factor(td.saturating_sub(d), 0, &x.text)?;
        let v = self.e.mul_public(&c.v, &[r(up)]);
        let divisor = factor(d.saturating_sub(td), f, &x.text)?;
        if divisor == 1 {
            return Ok(Col { v, nn: c.nn });
        }
        let xb = a.ty.bits() + bits_of(0, up);
        let q = self.div_public_toward_zero(&v, divisor, xb, rel.n)?;
        Ok(Col { v: q, nn: c.nn })
    }

    /// trunc(v / c) toward zero for a public c > 1, |v| < 2^bits: a multiply-and-shift estimate,
    /// then exact corrections by comparing the remainder with 0 and c.
    fn div_public_toward_zero<R: Ring>(&mut self, v: &E::A<R>, c: i128, bits: u32, n: usize) -> Res<E::A<R>> {
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

    fn join<R: Ring>(
        &mut self,
        left: &Plan,
        right: &Plan,
        left_outer: bool,
        many_to_many: bool,
        lkeys: &[Expr],
        rkeys: &[Expr],
        need: &[bool],
    ) -> Res<Rel<E, R>> {
        let nlc = left.out.len();
        let mut lneed = need[..nlc].to_vec();
        let mut rneed = need[nlc..].to_vec();
        lkeys.iter().for_each(|k| uses(k, &mut lneed));
        rkeys.iter().for_each(|k| uses(k, &mut rneed));
        let l = self.run::<R>(left, &lneed)?;
        let rr = self.run::<R>(right, &rneed)?;
        let text = format!("JOIN ON {}", lkeys.iter().map(|k| k.text.clone()).collect::<Vec<_>>().join(", "));
        // composite key: each component shifted to >= 0 by the common lower bound
        let mut lk = self.zeros::<R>(l.n);
        let mut rk = self.zeros::<R>(rr.n);
        let mut lv = l.valid.clone().unwrap_or_else(|| self.ones(l.n));
        let mut rv = rr.valid.clone().unwrap_or_else(|| self.ones(rr.n));
        let mut shift = 0u32;
        for (a, b) in lkeys.iter().zip(rkeys).rev() {
            let lo = a.ty.lo.min(b.ty.lo);
            let hi = a.ty.hi.max(b.ty.hi);
            let w = bits_of(0, hi - lo);
            for (side, rel, key, valid, tys) in
                [(a, &l, &mut lk, &mut lv, &left.out), (b, &rr, &mut rk, &mut rv, &right.out)]
            {
                let c = self.eval(rel, side, tys)?;
                let comp = self.e.add_public(&c.v, &[r(-lo)]);
                *key = self.e.add(key, &self.e.mul_public(&comp, &[R::pow2(shift)]));
                if let Some(m) = &c.nn {
                    // a NULL key matches nothing
                    *valid = self.e.mul(valid, m)?;
                }
            }
            shift += w;
        }
        let lrows_valid = lv.clone();
        // carried columns: values, not-NULL flags of nullable columns, and for LEFT JOIN one
        // "matched" flag (1 on every right row) that makes unmatched rows' right columns NULL
        let mut lcols = Vec::new();
        for c in l.cols.iter().zip(&need[..nlc]).filter(|(_, n)| **n).map(|(c, _)| c) {
            lcols.push(c.v.clone());
            if let Some(m) = &c.nn {
                lcols.push(m.clone());
            }
        }
        let mut rcols = Vec::new();
        for c in rr.cols.iter().zip(&need[nlc..]).filter(|(_, n)| **n).map(|(c, _)| c) {
            rcols.push(c.v.clone());
            if let Some(m) = &c.nn {
                rcols.push(m.clone());
            }
        }
        if left_outer {
            rcols.push(self.ones(rr.n));
        }
        // LEFT JOIN keeps left rows whose key is NULL too: they match nothing
        let lside_valid = if left_outer { l.valid.clone().unwrap_or_else(|| self.ones(l.n)) } else { lrows_valid };
        let j = equi_join(
            self.e,
            &JoinSide { key: &lk, valid: &lside_valid, cols: lcols.iter().collect() },
            &JoinSide { key: &rk, valid: &rv, cols: rcols.iter().collect() },
            shift.max(1),
            left_outer,
            many_to_many,
            &text,
        )?;
        let matched = if left_outer { j.right.last().cloned() } else { None };
        let mut cols = Vec::new();
        let (mut li, mut ri) = (0, 0);
        let n = self.e.len(&j.valid);
        for (c, _) in l.cols.iter().zip(&need[..nlc]).filter(|(_, n)| **n) {
            let v = j.left[li].clone();
            li += 1;
            let nn = c.nn.as_ref().map(|_| {
                li += 1;
                j.left[li - 1].clone()
            });
            cols.push(Col { v, nn });
        }
        for (c, _) in rr.cols.iter().zip(&need[nlc..]).filter(|(_, n)| **n) {
            let v = j.right[ri].clone();
            ri += 1;
            let nn = match &c.nn {
                Some(_) => {
                    ri += 1;
                    Some(j.right[ri - 1].clone())
                }
                // unmatched rows of a LEFT JOIN carry zeros: their not-NULL flag is the match flag
                None => matched.clone(),
            };
            cols.push(Col { v, nn });
        }
        // back to one entry per output column, placeholders where nothing reads it
        let mut it = cols.into_iter();
        let cols: Vec<Col<E, R>> =
            need.iter().map(|k| if *k { it.next().expect("a needed column") } else { self.placeholder(n) }).collect();
        Ok(Rel { n, valid: Some(j.valid), cols })
    }

    /// The composite sort key of `cols` (non-negative, below 2^bits): each component shifted by its
    /// lower bound, NULL first (or last), descending components mirrored.
    fn composite<R: Ring>(&mut self, parts: &[(&Col<E, R>, &Ty, bool, bool)], n: usize) -> (E::A<R>, u32) {
        let e = &mut *self.e;
        let mut key = e.constant(&vec![R::ZERO; n]);
        let mut shift = 0u32;
        for (c, t, desc, nulls_first) in parts.iter().rev() {
            let w = component_bits(t);
            let span = t.hi - t.lo;
            // val = v - lo ascending, hi - v descending, in [0, span]; NULL goes to 0 (first) or
            // span + 1 (last) whatever the direction. A NULL's v is 0, so v * nn = v and every
            // term is linear: val * nn = a v + c nn.
            let (a, k) = if *desc { (-1, t.hi) } else { (1, -t.lo) };
            let av = e.mul_public(&c.v, &[r(a)]);
            let comp = match &c.nn {
                None => e.add_public(&av, &[r(k)]),
                Some(m) => {
                    if *nulls_first {
                        e.add(&av, &e.mul_public(m, &[r(k + 1)]))
                    } else {
                        let t = e.add(&av, &e.mul_public(m, &[r(k - span - 1)]));
                        e.add_public(&t, &[r(span + 1)])
                    }
                }
            };
            key = e.add(&key, &e.mul_public(&comp, &[R::pow2(shift)]));
            shift += w;
        }
        (key, shift.max(1))
    }

    fn top_k<R: Ring>(&mut self, rel: Rel<E, R>, tys: &[Ty], keys: &[SortKey], limit: usize) -> Res<Rel<E, R>> {
        let n = rel.n;
        let parts: Vec<(&Col<E, R>, &Ty, bool, bool)> =
            keys.iter().map(|k| (&rel.cols[k.col], &tys[k.col], k.desc, k.nulls_first)).collect();
        let (mut key, bits) = self.composite(&parts, n);
        if let Some(v) = &rel.valid {
            // invalid rows after all valid ones
            let inv = self.e.sub(&self.ones(n), v);
            key = self.e.add(&key, &self.e.mul_public(&inv, &[R::pow2(bits)]));
        }
        let kn = Num::<E, R>::from_share(key, FixedPoint::int(bits + 1), "ORDER BY")?;
        let mut payload: Vec<&E::A<R>> = Vec::new();
        let ones = self.ones(n);
        let valid = rel.valid.clone().unwrap_or(ones.clone());
        payload.push(&valid);
        for c in &rel.cols {
            payload.push(&c.v);
            payload.push(c.nn.as_ref().unwrap_or(&ones));
        }
        let (_, sorted) = sort_by_key(self.e, &kn, &payload)?;
        let k = limit.min(n);
        // valid rows come first: opening the first k validity bits reveals min(k, count)
        let head = self.e.slice(&sorted[0], 0..k);
        let flags = self.e.open(&head, Reveal::LimitRows)?;
        let m = flags.iter().take_while(|f| **f == R::ONE).count();
        let cols = rel
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| Col {
                v: self.e.slice(&sorted[1 + 2 * i], 0..m),
                nn: c.nn.as_ref().map(|_| self.e.slice(&sorted[2 + 2 * i], 0..m)),
            })
            .collect();
        Ok(Rel { n: m, valid: None, cols })
    }

    /// Drops invalid rows: one shuffle, then the validity bits are opened (revealing the count).
    /// With `shuffle`, rows that are all valid are shuffled too (nothing is opened).
    fn compact<R: Ring>(&mut self, rel: Rel<E, R>, shuffle: bool) -> Res<Rel<E, R>> {
        let n = rel.n;
        if rel.valid.is_none() && (!shuffle || n <= 1) {
            return Ok(rel);
        }
        // one shuffle of the validity bits (if any), every value and the NULL flags that exist
        let mut cols: Vec<&E::A<R>> = rel.valid.iter().collect();
        for c in &rel.cols {
            cols.push(&c.v);
            cols.extend(c.nn.as_ref());
        }
        let mut sh = self.e.shuffle(&cols)?.into_iter();
        let idx: Option<Vec<u32>> = match rel.valid {
            Some(_) => {
                let flags = self.e.open(&sh.next().expect("shuffled"), Reveal::RowCount)?;
                Some((0..n as u32).filter(|&i| flags[i as usize] == R::ONE).collect())
            }
            None => None,
        };
        let keep = |e: &E, v: E::A<R>| match &idx {
            Some(idx) => e.gather(&v, idx),
            None => v,
        };
        let out: Vec<Col<E, R>> = rel
            .cols
            .iter()
            .map(|c| {
                let v = keep(self.e, sh.next().expect("shuffled"));
                let nn = c.nn.as_ref().map(|_| keep(self.e, sh.next().expect("shuffled")));
                Col { v, nn }
            })
            .collect();
        Ok(Rel { n: idx.as_ref().map_or(n, |i| i.len()), valid: None, cols: out })
    }

    fn aggregate<R: Ring>(
        &mut self,
        rel: Rel<E, R>,
        input: &Plan,
        keys: &[Expr],
        aggs: &[Agg],
        ordered: Option<&Expr>,
    ) -> Res<Rel<E, R>> {
        // no rows: one invalid row instead, so that sorting and scanning have something to hold
        // (it forms no group, and the aggregates of an ungrouped query see no values)
        let rel = if rel.n == 0 {
            let cols =
                rel.cols.iter().map(|c| Col { v: self.zeros(1), nn: c.nn.as_ref().map(|_| self.zeros(1)) }).collect();
            Rel { n: 1, valid: Some(self.zeros(1)), cols }
        } else {
            rel
        };
        let n = rel.n;
        let vl = rel.valid.clone().unwrap_or_else(|| self.ones(n));
        let kcols = keys.iter().map(|k| self.eval(&rel, k, &input.out)).collect::<Res<Vec<_>>>()?;
        let args: Vec<Option<Col<E, R>>> = aggs
            .iter()
            .map(|a| a.arg.as_ref().map(|x| self.eval(&rel, x, &input.out)).transpose())
            .collect::<Res<_>>()?;
        // per-row inputs of the sums: validity-masked counts, values, squares (one multiplication);
        // aggregates of the same argument share them (SUM(v) and AVG(v) scan two columns, not four)
        let mut lhs = Vec::new();
        let mut rhs = Vec::new();
        let mut keys_of: Vec<(u8, String)> = Vec::new();
        let mut plan_cols: Vec<Vec<usize>> = Vec::new(); // per agg: indices into the product list
        for (a, c) in aggs.iter().zip(&args) {
            let mut idx = Vec::new();
            match (a.func, c) {
                (AggFn::CountStar, _) => {}
                (f, Some(c)) => {
                    let text = a.arg.as_ref().map(|x| x.text.clone()).unwrap_or_default();
                    let mut want = vec![0u8]; // count of non-NULL values
                    if matches!(f, AggFn::Sum | AggFn::Avg | AggFn::VarSamp | AggFn::StddevSamp) {
                        want.push(1); // sum
                    }
                    if matches!(f, AggFn::VarSamp | AggFn::StddevSamp) {
                        want.push(2); // sum of squares
                    }
                    for kind in want {
                        let key = (kind, text.clone());
                        let i = match keys_of.iter().position(|k| *k == key) {
                            Some(i) => i,
                            None => {
                                keys_of.push(key);
                                let (l, r) = match kind {
                                    0 => (vl.clone(), c.nn.clone().unwrap_or_else(|| self.ones(n))),
                                    1 => (vl.clone(), c.v.clone()),
                                    _ => (c.v.clone(), c.v.clone()),
                                };
                                lhs.push(l);
                                rhs.push(r);
                                lhs.len() - 1
                            }
                        };
                        idx.push(i);
                    }
                }
                _ => unreachable!("aggregates other than COUNT(*) have an argument"),
            }
            plan_cols.push(idx);
        }
        let mut prods = if lhs.is_empty() {
            Vec::new()
        } else {
            let p = self.e.mul(
                &self.e.concat(&lhs.iter().collect::<Vec<_>>()),
                &self.e.concat(&rhs.iter().collect::<Vec<_>>()),
            )?;
            (0..lhs.len()).map(|i| self.e.slice(&p, i * n..(i + 1) * n)).collect::<Vec<_>>()
        };
        // squares of valid rows only
        for (i, (kind, _)) in keys_of.iter().enumerate() {
            if *kind == 2 {
                prods[i] = self.e.mul(&prods[i], &vl)?;
            }
        }
        if keys.is_empty() && ordered.is_none() {
            // one group of all rows: plain sums, nothing opened
            let cnt = self.e.sum(&vl);
            let sums: Vec<E::A<R>> = prods.iter().map(|p| self.e.sum(p)).collect();
            let cols = self.finish(aggs, &plan_cols, &cnt, &sums, &[], &[], 1, input.rows as usize)?;
            return Ok(Rel { n: 1, valid: None, cols });
        }
        // sort by (invalid, group key, ordered argument)
        let kparts: Vec<(&Col<E, R>, &Ty, bool, bool)> =
            kcols.iter().zip(keys).map(|(c, k)| (c, &k.ty, false, true)).collect();
        let (gk, gbits) = self.composite(&kparts, n);
        let inv = self.e.sub(&self.ones(n), &vl);
        let gseg = self.e.add(&gk, &self.e.mul_public(&inv, &[R::pow2(gbits)]));
        let ocol = ordered.map(|o| self.eval(&rel, o, &input.out)).transpose()?;
        let (skey, sbits) = match (&ocol, ordered) {
            (Some(c), Some(o)) => {
                let (ok, obits) = self.composite(&[(c, &o.ty, false, true)], n);
                (self.e.add(&self.e.mul_public(&gseg, &[R::pow2(obits)]), &ok), gbits + 1 + obits)
            }
            _ => (gseg.clone(), gbits + 1),
        };
        let ones = self.ones(n);
        let mut payload: Vec<&E::A<R>> = vec![&gseg, &vl];
        for c in &kcols {
            payload.push(&c.v);
            payload.push(c.nn.as_ref().unwrap_or(&ones));
        }
        let np = payload.len();
        payload.extend(prods.iter());
        let ox_nn;
        if let Some(c) = &ocol {
            payload.push(&c.v);
            ox_nn = c.nn.clone().unwrap_or_else(|| ones.clone());
            payload.push(&ox_nn);
        }
        // MIN/MAX of other columns: a running extremum over values where ignored rows (invalid or
        // NULL) hold a value beyond every real one
        let by_order = |a: &Agg| ordered.zip(a.arg.as_ref()).is_some_and(|(o, x)| o.text == x.text);
        let mut scanned: Vec<(usize, u32, bool)> = Vec::new(); // (agg, bits, max)
        let mut masked_cols: Vec<E::A<R>> = Vec::new();
        for (ai, (a, c)) in aggs.iter().zip(&args).enumerate() {
            if !matches!(a.func, AggFn::Min | AggFn::Max) || by_order(a) {
                continue;
            }
            let (c, x) = (c.as_ref().expect("an argument"), a.arg.as_ref().expect("an argument"));
            let bits = x.ty.bits();
            let max = a.func == AggFn::Max;
            let sentinel = if max { R::from_i128(-(1i128 << bits)) } else { R::pow2(bits) };
            let present = match &c.nn {
                Some(m) => self.e.mul(&vl, m)?,
                None => vl.clone(),
            };
            // sentinel + present * (v - sentinel)
            let d = self.e.add_public(&c.v, &[sentinel.neg()]);
            let pd = self.e.mul(&present, &d)?;
            masked_cols.push(self.e.add_public(&pd, &[sentinel]));
            scanned.push((ai, bits, max));
        }
        let nm = payload.len();
        payload.extend(masked_cols.iter());
        let kn = Num::<E, R>::from_share(skey, FixedPoint::int(sbits), "GROUP BY")?;
        let (ssk, sorted) = sort_by_key(self.e, &kn, &payload)?;
        let svl = sorted[1].clone();
        let starts = segment_starts(self.e, &sorted[0], gbits + 1)?;
        let mut scan = vec![svl.clone()];
        scan.extend(sorted[np..np + prods.len()].iter().cloned());
        let mut extra: Vec<(usize, usize)> = Vec::new(); // (agg, index in scan) of ordered sums
        // ordered aggregates: indicators of the wanted rows within each group
        let mut pct_rows: Vec<(usize, [usize; 3])> = Vec::new();
        if let (Some(o), Some(_)) = (ordered, &ocol) {
            let sx = sorted[np + prods.len()].clone();
            let sxnn = sorted[np + prods.len() + 1].clone();
            let present = self.e.mul(&svl, &sxnn)?;
            // rank among non-NULL values so far in the group, and the group's count at every row
            let rank = segmented_sum(self.e, &starts, vec![present.clone()])?.remove(0);
            let total = self.broadcast_last(&starts, &rank, n)?;
            let cb = lg(n) + 2;
            for (ai, a) in aggs.iter().enumerate() {
                match a.func {
                    AggFn::CountDistinct => {
                        let ds = segment_starts(self.e, &ssk.share, sbits)?;
                        let dsa: E::A<R> = self.e.bits2a(&ds)?;
                        let c = self.e.mul(&dsa, &present)?;
                        extra.push((ai, scan.len()));
                        scan.push(c);
                    }
                    AggFn::Min | AggFn::Max if by_order(a) => {
                        let target = if a.func == AggFn::Min {
                            self.e.add_public(&rank, &[R::from_i128(-1)])
                        } else {
                            self.e.sub(&rank, &total)
                        };
                        let z = self.e.eqz(&target, cb)?;
                        let ind: E::A<R> = self.e.bits2a(&z)?;
                        let ind = self.e.mul(&ind, &present)?;
                        let c = self.e.mul(&ind, &sx)?;
                        extra.push((ai, scan.len()));
                        scan.push(c);
                    }
                    AggFn::Percentile(q) => {
                        // h = q (c - 1) at FRAC bits; d = h - (rank - 1) 2^FRAC; the lower row has
                        // 0 <= d < 2^FRAC, the upper one -2^FRAC <= d < 0
                        let qq = (q * 2f64.powi(FRAC as i32)).round() as i128;
                        let cm1 = self.e.add_public(&total, &[R::from_i128(-1)]);
                        let rm1 = self.e.add_public(&rank, &[R::from_i128(-1)]);
                        let d =
                            self.e.sub(&self.e.mul_public(&cm1, &[r(qq)]), &self.e.mul_public(&rm1, &[R::pow2(FRAC)]));
                        let one = R::pow2(FRAC);
                        let probes =
                            self.e.concat(&[&d, &self.e.add_public(&d, &[one.neg()]), &self.e.add_public(&d, &[one])]);
                        let s = self.e.msb(&probes, FRAC + cb + 2)?;
                        let s0 = self.e.b_slice_elems(&s, 0..n);
                        let s1 = self.e.b_slice_elems(&s, n..2 * n);
                        let s2 = self.e.b_slice_elems(&s, 2 * n..3 * n);
                        // lower: d >= 0 and d - 2^F < 0; upper: d < 0 and d + 2^F >= 0
                        let lo_b = self.e.b_and(&self.e.b_not(&s0), &s1)?;
                        let hi_b = self.e.b_and(&s0, &self.e.b_not(&s2))?;
                        let both = self.e.b_concat_elems(&lo_b, &hi_b);
                        let ia: E::A<R> = self.e.bits2a(&both)?;
                        let pr2 = self.e.concat(&[&present, &present]);
                        let ia = self.e.mul(&ia, &pr2)?;
                        let (ilo, ihi) = (self.e.slice(&ia, 0..n), self.e.slice(&ia, n..2 * n));
                        let p = self.e.mul(&self.e.concat(&[&ilo, &ilo, &ihi]), &self.e.concat(&[&sx, &d, &sx]))?;
                        let base = scan.len();
                        for i in 0..3 {
                            scan.push(self.e.slice(&p, i * n..(i + 1) * n));
                        }
                        pct_rows.push((ai, [base, base + 1, base + 2]));
                        let _ = o;
                    }
                    _ => {}
                }
            }
        }
        let mut summed = segmented_sum(self.e, &starts, scan)?;
        for (k, (ai, bits, max)) in scanned.iter().enumerate() {
            let col = sorted[nm + k].clone();
            let ext = mitsu_mpc_ops::segmented_extremum(self.e, &starts, col, *bits, *max)?;
            extra.push((*ai, summed.len()));
            summed.push(ext);
        }
        // the last row of each valid group holds the group's sums
        let next_start = {
            let mut tail = Planes::zeros(1, 1);
            tail.not_assign();
            let t = self.e.b_constant(&tail);
            self.e.b_concat_elems(&self.e.b_slice_elems(&starts, 1..n), &t)
        };
        let last: E::A<R> = self.e.bits2a(&next_start)?;
        let keep = self.e.mul(&last, &svl)?;
        let mut cols: Vec<&E::A<R>> = vec![&keep];
        cols.extend(sorted[2..np].iter());
        cols.extend(summed.iter());
        let sh = self.e.shuffle(&cols)?;
        let flags = self.e.open(&sh[0], Reveal::GroupCount)?;
        let idx: Vec<u32> = (0..n as u32).filter(|&i| flags[i as usize] == R::ONE).collect();
        let g = idx.len();
        let got: Vec<E::A<R>> = sh[1..].iter().map(|c| self.e.gather(c, &idx)).collect();
        let nk = 2 * keys.len();
        let kout: Vec<Col<E, R>> = (0..keys.len())
            .map(|i| Col { v: got[2 * i].clone(), nn: keys[i].ty.nullable.then(|| got[2 * i + 1].clone()) })
            .collect();
        let cnt = got[nk].clone();
        let sums: Vec<E::A<R>> = got[nk + 1..nk + 1 + prods.len()].to_vec();
        let ordered_sums: Vec<(usize, E::A<R>)> = extra.iter().map(|(ai, si)| (*ai, got[nk + *si].clone())).collect();
        let pct: Vec<(usize, [E::A<R>; 3])> = pct_rows
            .iter()
            .map(|(ai, s)| (*ai, [got[nk + s[0]].clone(), got[nk + s[1]].clone(), got[nk + s[2]].clone()]))
            .collect();
        if keys.is_empty() && g == 0 {
            // an aggregate over no rows still answers one row: counts 0, the rest NULL
            let z = self.zeros::<R>(1);
            let zs: Vec<E::A<R>> = sums.iter().map(|_| z.clone()).collect();
            let oz: Vec<(usize, E::A<R>)> = ordered_sums.iter().map(|(a, _)| (*a, z.clone())).collect();
            let pz: Vec<(usize, [E::A<R>; 3])> =
                pct.iter().map(|(a, _)| (*a, [z.clone(), z.clone(), z.clone()])).collect();
            let cols = self.finish(aggs, &plan_cols, &z, &zs, &oz, &pz, 1, input.rows as usize)?;
            return Ok(Rel { n: 1, valid: None, cols });
        }
        let mut cols = kout;
        cols.extend(self.finish(aggs, &plan_cols, &cnt, &sums, &ordered_sums, &pct, g, input.rows as usize)?);
        Ok(Rel { n: g, valid: None, cols })
    }

    /// Every row of a segment gets the value at the segment's last row (a backward scan).
    fn broadcast_last<R: Ring>(&mut self, starts: &E::B, x: &E::A<R>, n: usize) -> Res<E::A<R>> {
        let mut tail = Planes::zeros(1, 1);
        tail.not_assign();
        let t = self.e.b_constant(&tail);
        let next_start = self.e.b_concat_elems(&self.e.b_slice_elems(starts, 1..n), &t);
        let last: E::A<R> = self.e.bits2a(&next_start)?;
        let at_last = self.e.mul(&last, x)?;
        // reversed, the last rows are segment starts
        let rev: Vec<u32> = (0..n as u32).rev().collect();
        let rstarts = {
            // starts of the reversed order = next_start reversed; build from the opened-free
            // reversal of the arithmetic flags by a zero test of 1 - flag
            let rl = self.e.gather(&last, &rev);
            let one_minus = self.e.sub(&self.ones(n), &rl);
            self.e.eqz(&one_minus, 2)?
        };
        let s = segmented_sum(self.e, &rstarts, vec![self.e.gather(&at_last, &rev)])?;
        Ok(self.e.gather(&s[0], &rev))
    }

    /// Aggregate values from the per-group sums (g groups).
    fn finish<R: Ring>(
        &mut self,
        aggs: &[Agg],
        plan_cols: &[Vec<usize>],
        cnt: &E::A<R>,
        sums: &[E::A<R>],
        ordered: &[(usize, E::A<R>)],
        pct: &[(usize, [E::A<R>; 3])],
        g: usize,
        rows: usize,
    ) -> Res<Vec<Col<E, R>>> {
        let cb = lg(rows) + 2;
        let mut out = Vec::new();
        for (ai, (a, idx)) in aggs.iter().zip(plan_cols).enumerate() {
            let ones = self.ones(g);
            let nonzero = |s: &mut Self, c: &E::A<R>| -> Res<E::A<R>> {
                let z = s.e.eqz(c, cb)?;
                let za: E::A<R> = s.e.bits2a(&z)?;
                Ok(s.e.sub(&ones, &za))
            };
            let arg_ty = a.arg.as_ref().map(|x| x.ty.clone());
            let col = match a.func {
                AggFn::CountStar => Col { v: cnt.clone(), nn: None },
                AggFn::Count => Col { v: sums[idx[0]].clone(), nn: None },
                AggFn::Sum => {
                    let nn = nonzero(self, &sums[idx[0]])?;
                    let at = arg_ty.expect("argument");
                    let c = Col { v: sums[idx[1]].clone(), nn: Some(nn) };
                    let from = Ty { lo: a.ty.lo, hi: a.ty.hi, ..at };
                    self.align(&c, &from, &a.ty)?
                }
                AggFn::Avg => {
                    let c = &sums[idx[0]];
                    let nn = nonzero(self, c)?;
                    let at = arg_ty.expect("argument");
                    let (_, f) = at.scale();
                    let sbits = at.bits() + cb;
                    // no values: divide by 1 instead of 0 (masked below)
                    let safe = self.e.sub(&self.e.add(c, &ones), &nn);
                    let v = self.ratio_wide(&sums[idx[1]], sbits, f, &safe, cb, a.ty.scale().1, &a.text)?;
                    Col { v: self.e.mul(&v, &nn)?, nn: Some(nn) }
                }
                AggFn::VarSamp | AggFn::StddevSamp => {
                    let at = arg_ty.expect("argument");
                    let c = &sums[idx[0]];
                    let (s1, s2) = (&sums[idx[1]], &sums[idx[2]]);
                    // n >= 2
                    let m2 = self.e.add_public(c, &[R::from_i128(-2)]);
                    let lt2 = self.e.msb(&m2, cb + 1)?;
                    let lt2a: E::A<R> = self.e.bits2a(&lt2)?;
                    let nn = self.e.sub(&ones, &lt2a);
                    // exactly: var = (n s2 - s1^2) / (n (n - 1)), truncated at FRAC fraction bits;
                    // the numerator is a sum of squared differences, never negative
                    let bx = at.bits();
                    let ns2 = self.e.mul(c, s2)?;
                    let s1s1 = self.e.mul(s1, s1)?;
                    let d = self.e.sub(&ns2, &s1s1);
                    let cm1 = self.e.add_public(c, &[R::from_i128(-1)]);
                    // fewer than two values: divide by 1 (the result is masked)
                    let den = self.e.mul(c, &cm1)?;
                    let den = self.e.mul(&den, &nn)?;
                    let den = self.e.add(&den, &lt2a);
                    let dbits = 2 * bx + 2 * cb + 1;
                    let dn = self.e.mul_public(&d, &[R::pow2(FRAC)]);
                    let var = mitsu_mpc_ops::div_trunc(self.e, &dn, dbits + FRAC, &den, 2 * cb, &a.text)?;
                    let var = Num::<E, R>::from_share(
                        var,
                        FixedPoint { frac: FRAC, bits: (2 * bx + FRAC + 2).min(R::BITS - 2) },
                        &a.text,
                    )?;
                    let v = if a.func == AggFn::VarSamp { var.share } else { sqrt(self.e, &var)?.share };
                    Col { v: self.e.mul(&v, &nn)?, nn: Some(nn) }
                }
                AggFn::CountDistinct => {
                    let s = &ordered.iter().find(|(i, _)| *i == ai).expect("ordered sum").1;
                    Col { v: s.clone(), nn: None }
                }
                AggFn::Min | AggFn::Max => {
                    let nn = nonzero(self, &sums[idx[0]])?;
                    let s = &ordered.iter().find(|(i, _)| *i == ai).expect("ordered sum").1;
                    // a group without values holds the scan's sentinel: NULL, value 0
                    Col { v: self.e.mul(s, &nn)?, nn: Some(nn) }
                }
                AggFn::Percentile(_) => {
                    let nn = nonzero(self, &sums[idx[0]])?;
                    let [lo, d, hi] = &pct.iter().find(|(i, _)| *i == ai).expect("percentile sums").1;
                    // lo * 2^F + d * (hi - lo); where the upper row is missing (d = 0) hi is 0
                    let diff = self.e.sub(hi, lo);
                    let t = self.e.mul(d, &diff)?;
                    let v = self.e.add(&self.e.mul_public(lo, &[R::pow2(FRAC)]), &t);
                    Col { v, nn: Some(nn) }
                }
            };
            out.push(col);
        }
        Ok(out)
    }
}

/// Flags the input columns `x` reads.
fn uses(x: &Expr, need: &mut [bool]) {
    let mut cols = Vec::new();
    crate::plan::collect_cols(x, &mut cols);
    for c in cols {
        need[c] = true;
    }
}

/// The same value at its concrete type, for generic code that knows at run time which ring `R`
/// is (sources holding shares in a fixed ring, mixed-ring steps).
pub fn as_ring<T: 'static, U: 'static>(x: T) -> Res<U> {
    let b: Box<dyn std::any::Any> = Box::new(x);
    b.downcast::<U>().map(|b| *b).map_err(|_| QueryError::internal("ring mismatch"))
}
