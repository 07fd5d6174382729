//! What every kernel shares: the request's rows as exact columns ([`Cols`], [`load`]), the
//! outputs opened to the analyst ([`Outputs`], [`combine`]), and small helpers (dot products,
//! Gauss-Jordan, SQL text). The dispatcher ([`crate::kernel`]) and the kernels of `counts`, `glm`
//! and `nonpar` all build on this module; it depends on none of them.

use crate::flt::Flt;
use crate::{StatsError, quote_ident, quote_literal};
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, MpcError};
use mitsu_mpc_ops::Num;
use mitsu_query::ty::{Class, Ty};
use mitsu_query::{Catalog, Source};

pub(crate) type A<E> = <E as Engine>::A<u128>;

/// The request's rows as columns: exact integers (a number is value * scale), not-NULL flags.
pub struct Cols<E: Engine> {
    pub n: usize,
    pub v: Vec<A<E>>,
    pub nn: Vec<A<E>>,
    pub ty: Vec<Ty>,
    pub names: Vec<String>,
}

impl<E: Engine> Cols<E> {
    /// Real value = encoded / scale.
    pub fn scale(&self, i: usize) -> f64 {
        match self.ty[i].class {
            Class::Num { d, f } => 10f64.powi(d as i32) * (2f64).powi(f as i32),
            _ => 1.0,
        }
    }

    /// |encoded| < 2^bits.
    pub fn bits(&self, i: usize) -> u32 {
        self.ty[i].bits()
    }
}

pub(crate) fn mpc(e: MpcError) -> StatsError {
    StatsError::Mpc(e)
}

pub(crate) fn lg(n: usize) -> u32 {
    usize::BITS - n.max(1).leading_zeros()
}

/// Plans and runs `sql`; the numeric roles are checked here, before anything is computed. No
/// kernel opens a row, only aggregates (sorts shuffle for themselves), so rows that all pass
/// are not shuffled on the way in.
pub fn load<E: Engine, S: Source<E>>(
    e: &mut E,
    cat: &dyn Catalog,
    src: &mut S,
    sql: &str,
    names: &[String],
    function: &str,
) -> Result<Cols<E>, StatsError> {
    let q = mitsu_query::plan(sql, cat).map_err(StatsError::from)?;
    for (ty, name) in q.root.out.iter().zip(names) {
        if !matches!(ty.class, Class::Num { .. } | Class::Bool) {
            return Err(StatsError::Invalid(format!(
                "column {name:?} is {}; {function} needs numbers",
                ty.class.name()
            )));
        }
    }
    let (n, v, nn) = if q.ring == 64 {
        let out = mitsu_query::execute_for_aggregates::<E, u64, S>(e, &q, src).map_err(StatsError::from)?;
        let mut v = Vec::new();
        for (c, ty) in out.values.iter().zip(&q.root.out) {
            v.push(e.extend(c, ty.bits() + 1).map_err(mpc)?);
        }
        let mut nn = Vec::new();
        for (c, ty) in out.not_null.iter().zip(&q.root.out) {
            // a column that cannot be NULL has the public flags 1: nothing to extend
            nn.push(if ty.nullable { e.extend(c, 2).map_err(mpc)? } else { e.constant(&vec![u128::ONE; out.rows]) });
        }
        (out.rows, v, nn)
    } else {
        let out = mitsu_query::execute_for_aggregates::<E, u128, S>(e, &q, src).map_err(StatsError::from)?;
        (out.rows, out.values, out.not_null)
    };
    Ok(Cols { n, v, nn, ty: q.root.out.clone(), names: names.to_vec() })
}

/// The outputs of a function: names and values (opened to the analyst only).
pub struct Outputs<E: Engine> {
    pub names: Vec<String>,
    /// The analyst divides each opened value by its divisor: values that are exact in the
    /// columns' encoding (sums, order statistics) stay exact until they reach f64.
    pub divisors: Vec<f64>,
    parts: Vec<Flt<E, u128>>,
}

impl<E: Engine> Outputs<E> {
    pub(crate) fn new() -> Self {
        Outputs { names: Vec::new(), divisors: Vec::new(), parts: Vec::new() }
    }

    pub(crate) fn push(&mut self, name: impl Into<String>, v: Flt<E, u128>) {
        self.push_div(name, v, 1.0);
    }

    pub(crate) fn push_div(&mut self, name: impl Into<String>, v: Flt<E, u128>, div: f64) {
        self.names.push(name.into());
        self.divisors.push(div);
        self.parts.push(v);
    }

    /// An exact integer |x| < 2^bits, opened in limbs below 2^39 (each exact in a 40-bit
    /// mantissa) and put back together by the analyst ([`combine`]) before it is divided by
    /// `div`: a sum of any size arrives exactly.
    pub(crate) fn push_exact(
        &mut self,
        e: &mut E,
        name: &str,
        x: &A<E>,
        bits: u32,
        div: f64,
    ) -> Result<(), StatsError> {
        let bits = bits.min(124);
        // X = x + 2^bits in [0, 2^(bits+1)); limb k = floor(X / 2^(39 k)) mod 2^39
        let xx = e.add_public(x, &[u128::pow2(bits)]);
        let nl = (bits + 1).div_ceil(LIMB);
        let mut tops = vec![xx.clone()];
        for k in 1..nl {
            tops.push(e.trunc(&xx, LIMB * k, mitsu_mpc_ops::exact_bound::<u128>(bits + 1)).map_err(mpc)?);
        }
        for k in 0..nl as usize {
            let limb = match tops.get(k + 1) {
                Some(hi) => e.sub(&tops[k], &e.mul_public(hi, &[u128::pow2(LIMB)])),
                None => tops[k].clone(),
            };
            let f = Flt::from_int(e, &limb, LIMB + 1).map_err(mpc)?;
            self.push_div(format!("{name}#{k}"), f, if k == 0 { div } else { 1.0 });
        }
        self.push_div(format!("{name}#off"), Flt::constant(e, &[bits as f64]), 1.0);
        Ok(())
    }

    /// Name -> value from the opened outputs (in the order of `names`).
    pub fn decode(&self, opened: &[f64]) -> std::collections::BTreeMap<String, f64> {
        combine(&self.names, &self.divisors, opened)
    }

    /// All values as one float vector (s, m, e blocks).
    pub fn values(&self, e: &E) -> Flt<E, u128> {
        Flt::concat(e, &self.parts.iter().collect::<Vec<_>>())
    }
}

/// Bits per limb of an exact output.
pub(crate) const LIMB: u32 = 39;

/// Name -> value from opened outputs, each divided by its divisor; exact outputs
/// (`name#0`, `name#1`, ..., `name#off`) put back together from their limbs as exact integers
/// first, then divided by the divisor of `name#0`.
pub fn combine(names: &[String], divisors: &[f64], raw: &[f64]) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    let mut exact: std::collections::BTreeMap<&str, (i128, i128, f64)> = std::collections::BTreeMap::new();
    for ((n, d), v) in names.iter().zip(divisors).zip(raw) {
        match n.rsplit_once('#') {
            None => {
                out.insert(n.clone(), v / d);
            }
            Some((base, "off")) => exact.entry(base).or_insert((0, 0, 1.0)).1 = *v as i128,
            Some((base, k)) => {
                let k: u32 = k.parse().unwrap_or(0);
                let slot = exact.entry(base).or_insert((0, 0, 1.0));
                slot.0 = slot.0.wrapping_add((*v as i128) << (LIMB * k));
                if k == 0 {
                    slot.2 = *d;
                }
            }
        }
    }
    for (base, (x, off, d)) in exact {
        out.insert(base.to_string(), (x - (1i128 << off.clamp(0, 125))) as f64 / d);
    }
    out
}

pub(crate) fn not_null(cols: &[String]) -> String {
    cols.iter().map(|c| format!("{} IS NOT NULL", quote_ident(c))).collect::<Vec<_>>().join(" AND ")
}

/// SQL literals for the levels of `by`, written for its type.
pub(crate) fn literals(cat: &dyn Catalog, from: &str, by: &str, levels: &[String]) -> Result<Vec<String>, StatsError> {
    let q = mitsu_query::plan(&format!("SELECT {} FROM {}", quote_ident(by), crate::from_clause(from)), cat)
        .map_err(StatsError::from)?;
    let class = q.root.out[0].class;
    levels
        .iter()
        .map(|l| match class {
            Class::Cat { .. } | Class::Text { .. } => Ok(quote_literal(l)),
            Class::Bool => match l.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok("TRUE".into()),
                "false" | "0" => Ok("FALSE".into()),
                _ => Err(StatsError::Invalid(format!("{l:?} is not a level of the boolean column {by:?}"))),
            },
            Class::Num { .. } => l
                .parse::<f64>()
                .map(|_| l.clone())
                .map_err(|_| StatsError::Invalid(format!("{l:?} is not a level of the numeric column {by:?}"))),
            other => Err(StatsError::Invalid(format!("column {by:?} is {}; it cannot group", other.name()))),
        })
        .collect()
}

pub(crate) fn num<E: Engine>(share: A<E>, bits: u32, expr: &str) -> Num<E, u128> {
    Num { share, frac: 0, bits, expr: expr.to_string() }
}

/// Exact sums of `pairs` (one multiplication's cost each).
pub(crate) fn dots<E: Engine>(e: &mut E, pairs: &[(&A<E>, &A<E>)]) -> Result<A<E>, StatsError> {
    e.dot(pairs).map_err(mpc)
}

/// Index of (i, j), i <= j, in the packed upper triangle of a p x p matrix.
pub(crate) fn tri(p: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i <= j { (i, j) } else { (j, i) };
    i * p - i * (i + 1) / 2 + j
}

/// Gauss-Jordan elimination without pivoting (the matrices are symmetric positive
/// semi-definite) on k rows of width wd: the reduced matrix and the pivots used.
pub(crate) fn gauss_jordan<E: Engine>(
    e: &mut E,
    a: Flt<E, u128>,
    k: usize,
    wd: usize,
) -> Result<(Flt<E, u128>, Flt<E, u128>), StatsError> {
    let mut a = a;
    let mut pivots = Vec::new();
    for j in 0..k {
        let piv = a.slice(e, j * wd + j..j * wd + j + 1);
        pivots.push(piv.clone());
        let pr = a.slice(e, j * wd..(j + 1) * wd);
        let prn = pr.div(e, &piv.gather(e, &vec![0; wd])).map_err(mpc)?;
        // every row r != j: row_r - a[r][j] * prn
        let others: Vec<usize> = (0..k).filter(|&r| r != j).collect();
        let mut parts = Vec::new();
        if !others.is_empty() {
            let fidx: Vec<u32> = others.iter().flat_map(|&r| vec![(r * wd + j) as u32; wd]).collect();
            let rep: Vec<u32> = others.iter().flat_map(|_| 0..wd as u32).collect();
            let f = a.gather(e, &fidx);
            let prod = f.mul(e, &prn.gather(e, &rep)).map_err(mpc)?;
            let ridx: Vec<u32> = others.iter().flat_map(|&r| (r * wd) as u32..((r + 1) * wd) as u32).collect();
            let newr = a.gather(e, &ridx).sub(e, &prod).map_err(mpc)?;
            parts = others.iter().enumerate().map(|(q, &r)| (r, newr.slice(e, q * wd..(q + 1) * wd))).collect();
        }
        parts.push((j, prn));
        parts.sort_by_key(|(r, _)| *r);
        a = Flt::concat(e, &parts.iter().map(|(_, f)| f).collect::<Vec<_>>());
    }
    Ok((a, Flt::concat(e, &pivots.iter().collect::<Vec<_>>())))
}
