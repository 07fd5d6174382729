//! Runs a plan on an engine. Conventions:
//! * a relation has n physical rows and an optional secret validity column (1 = the row exists);
//!   filters clear validity, nothing is dropped until a step opens a count;
//! * a column has value shares and optional not-NULL shares; a NULL's value share is 0 (kept by
//!   every operation), so sums need no masking;
//! * every bound passed to the engine comes from the plan's types.

mod aggregate;
mod expr;
mod join;
mod top_k;

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

    /// Shares of the payload chunks of text column `col` (the label's bytes, 15 per chunk).
    fn payload<R: Ring>(&mut self, _e: &mut E, table: &str, col: usize) -> Res<Vec<E::A<R>>> {
        Err(QueryError::internal(format!("table {table:?}: column {col} is text, and this source holds no payload")))
    }
}

/// A column: value shares, not-NULL shares if it may be NULL, and for text the payload chunks
/// (the label's bytes) that travel with the value wherever rows move.
struct Col<E: Engine, R: Ring> {
    v: E::A<R>,
    nn: Option<E::A<R>>,
    extra: Vec<E::A<R>>,
}

impl<E: Engine, R: Ring> Clone for Col<E, R> {
    fn clone(&self) -> Self {
        Col { v: self.v.clone(), nn: self.nn.clone(), extra: self.extra.clone() }
    }
}

impl<E: Engine, R: Ring> Col<E, R> {
    /// Every share vector of the column, in the order [`Col::rebuild`] reads them back.
    fn parts(&self) -> impl Iterator<Item = &E::A<R>> {
        std::iter::once(&self.v).chain(self.nn.as_ref()).chain(self.extra.iter())
    }

    /// A column shaped like `like` from the vectors `parts` listed, moved by a row operation.
    fn rebuild(like: &Col<E, R>, it: &mut impl Iterator<Item = E::A<R>>) -> Col<E, R> {
        let v = it.next().expect("a value vector");
        let nn = like.nn.as_ref().map(|_| it.next().expect("a not-NULL vector"));
        let extra = like.extra.iter().map(|_| it.next().expect("a payload vector")).collect();
        Col { v, nn, extra }
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
    // wire columns: a text column is sent as its payload chunks (the hash is of no use to the
    // analyst), each with the column's not-NULL flags
    let (mut values, mut not_null) = (Vec::new(), Vec::new());
    for (c, t) in rel.cols.iter().zip(&q.root.out) {
        let nn = c.nn.clone().unwrap_or_else(|| ones.clone());
        if t.chunks() > 0 {
            if c.extra.len() != t.chunks() {
                return Err(QueryError::internal("a text result column lost its payload"));
            }
            for x in &c.extra {
                values.push(x.clone());
                not_null.push(nn.clone());
            }
        } else {
            values.push(c.v.clone());
            not_null.push(nn);
        }
    }
    Ok(Output { rows: rel.n, values, not_null })
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
                        let extra =
                            if p.out[i].chunks() > 0 { self.src.payload::<R>(self.e, table, c)? } else { Vec::new() };
                        if self.e.len(&v) != n
                            || extra.len() != p.out[i].chunks()
                            || extra.iter().any(|x| self.e.len(x) != n)
                        {
                            return Err(QueryError::internal(format!("table {table:?}: column lengths differ")));
                        }
                        out.push(Col { v, nn, extra });
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
                    // text: every input padded to the union's width by `align`
                    let extra = (0..t.chunks())
                        .map(|k| self.e.concat(&parts.iter().map(|c| &c.extra[k]).collect::<Vec<_>>()))
                        .collect();
                    cols.push(Col { v, nn, extra });
                }
                Ok(Rel { n, valid, cols })
            }
            Node::Join { left, right, left_outer, many_to_many, lkeys, rkeys } => {
                self.join(left, right, *left_outer, *many_to_many, lkeys, rkeys, need)
            }
            Node::Aggregate { input, keys, aggs, ordered, ranked } => {
                let mut inner = vec![false; input.out.len()];
                for k in keys {
                    uses(k, &mut inner);
                }
                for a in aggs {
                    for x in a.arg.iter().chain(&a.arg2) {
                        uses(x, &mut inner);
                    }
                }
                if let Some(o) = ordered {
                    uses(o, &mut inner);
                }
                let rel = self.run::<R>(input, &inner)?;
                self.aggregate(rel, input, keys, aggs, ordered.as_ref(), ranked)
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
        Col { v: self.zeros(n), nn: None, extra: Vec::new() }
    }

    /// A value converted to another type of the same family (numbers: scaled up exactly).
    fn align<R: Ring>(&mut self, c: &Col<E, R>, from: &Ty, to: &Ty) -> Res<Col<E, R>> {
        if let (Class::Text { .. }, Class::Text { .. }) = (from.class, to.class) {
            // the hash is the same at any width; a narrower payload gets zero chunks at its end
            let mut c = c.clone();
            if !c.extra.is_empty() {
                let n = self.e.len(&c.v);
                while c.extra.len() < to.chunks() {
                    c.extra.push(self.zeros(n));
                }
            }
            return Ok(c);
        }
        if let (Class::Cat { w: wf }, Class::Cat { w: wt }) = (from.class, to.class) {
            // a label at a wider width: its bytes move up, zero bytes fill the end
            if wt < wf {
                return Err(QueryError::internal(format!("cannot narrow {from:?} to {to:?}")));
            }
            return Ok(if wt == wf {
                c.clone()
            } else {
                Col { v: self.e.mul_public(&c.v, &[R::pow2(8 * (wt - wf))]), nn: c.nn.clone(), extra: Vec::new() }
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
        Ok(Col { v: self.e.mul_public(&c.v, &[r(k)]), nn: c.nn.clone(), extra: Vec::new() })
    }

    fn and_nn<R: Ring>(&mut self, a: &Option<E::A<R>>, b: &Option<E::A<R>>) -> Res<Option<E::A<R>>> {
        Ok(match (a, b) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (Some(x), Some(y)) => Some(self.e.mul(x, y)?),
        })
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
            cols.extend(c.parts());
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
        let mut kept = sh.map(|v| keep(self.e, v));
        let out: Vec<Col<E, R>> = rel.cols.iter().map(|c| Col::rebuild(c, &mut kept)).collect();
        Ok(Rel { n: idx.as_ref().map_or(n, |i| i.len()), valid: None, cols: out })
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
