//! What the parties compute: each function's per-row inputs come from one SQL SELECT over the
//! request's table or query (so every SQL check and leakage rule applies), the sufficient
//! statistics are exact integer sums in Z_2^128, and the statistic is finished in secret
//! floating point ([`crate::flt`]). Only the named outputs leave, as shares for the analyst.
//!
//! Revealed to the parties: the number of rows the SELECT yields (as for any SQL result), the
//! number of non-NULL values of a described column, and the size of each group of a grouped test.
//! Everything else stays shared.

use crate::flt::{F, Flt};
use crate::{Request, StatsError, quote_ident, quote_literal};
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, MpcError};
use mitsu_mpc_ops::{Num, max, maximum, minimum, segment_starts, segmented_sum, sort_by_key};
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

impl<E: Engine> std::fmt::Debug for Cols<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cols({} rows: {:?})", self.n, self.names)
    }
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
    StatsError::Mpc(e.to_string())
}

pub(crate) fn lg(n: usize) -> u32 {
    usize::BITS - n.max(1).leading_zeros()
}

/// Plans and runs `sql`; the numeric roles are checked here, before anything is computed.
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
        let out = mitsu_query::execute::<E, u64, S>(e, &q, src).map_err(StatsError::from)?;
        let mut v = Vec::new();
        for (c, ty) in out.values.iter().zip(&q.root.out) {
            v.push(e.extend(c, ty.bits() + 1).map_err(mpc)?);
        }
        let mut nn = Vec::new();
        for c in &out.not_null {
            nn.push(e.extend(c, 2).map_err(mpc)?);
        }
        (out.rows, v, nn)
    } else {
        let out = mitsu_query::execute::<E, u128, S>(e, &q, src).map_err(StatsError::from)?;
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

impl<E: Engine> std::fmt::Debug for Outputs<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outputs({:?})", self.names)
    }
}

impl<E: Engine> Outputs<E> {
    fn new() -> Self {
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

    /// Name -> value from the opened outputs (in the order of `names`).
    pub fn decode(&self, opened: &[f64]) -> std::collections::BTreeMap<String, f64> {
        self.names.iter().zip(&self.divisors).zip(opened).map(|((n, d), v)| (n.clone(), v / d)).collect()
    }

    /// All values as one float vector (s, m, e blocks).
    pub fn values(&self, e: &E) -> Flt<E, u128> {
        Flt::concat(e, &self.parts.iter().collect::<Vec<_>>())
    }
}

/// Runs a request at a party (or on the twin).
pub fn run<E: Engine, S: Source<E>>(
    e: &mut E,
    cat: &dyn Catalog,
    src: &mut S,
    req: &Request,
) -> Result<Outputs<E>, StatsError> {
    let f = crate::spec(&req.function)?;
    req.check_limits()?;
    let mut out = Outputs::new();
    let kernel = match f.kernel {
        crate::Kernel::TTest if req.by.is_some() => crate::Kernel::Groups,
        crate::Kernel::TTest => crate::Kernel::OneSample,
        k => k,
    };
    match kernel {
        crate::Kernel::Describe => {
            let cols = req.columns_or_column()?;
            let want = f.outputs;
            let sql = format!(
                "SELECT {} FROM {}",
                cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", "),
                crate::from_clause(&req.from)
            );
            let c = load(e, cat, src, &sql, &cols, &req.function)?;
            for i in 0..cols.len() {
                let prefix =
                    if cols.len() == 1 && f.name != "describe" { String::new() } else { format!("{}.", cols[i]) };
                let trim = req.trim.unwrap_or(0.1);
                if !(0.0..0.5).contains(&trim) {
                    return Err(StatsError::Invalid(format!(
                        "--trim {trim}: cut a proportion in [0, 0.5) from each end"
                    )));
                }
                describe(e, &c, i, want, &req.q, trim, &prefix, &mut out)?;
            }
        }
        crate::Kernel::OneSample => {
            let (expr, names) = if req.paired || req.columns.len() == 2 {
                let cs = req.two_columns()?;
                (format!("{} - {}", quote_ident(&cs[0]), quote_ident(&cs[1])), cs)
            } else {
                let c = req.one_column()?;
                (quote_ident(&c), vec![c])
            };
            let sql = format!("SELECT {expr} FROM {} WHERE {}", crate::from_clause(&req.from), not_null(&names));
            let c = load(e, cat, src, &sql, &[names.join(" - ")], &req.function)?;
            one_sample(e, &c, req.mu, &mut out)?;
        }
        crate::Kernel::Groups => {
            let (c, ng) = grouped(e, cat, src, req)?;
            groups(e, &c, &ng, f.name, req.welch, &mut out)?;
        }
        crate::Kernel::Matrix => {
            let (cols, is_ols) = match &req.y {
                Some(y) if f.name == "ols" || f.name == "linregress" => {
                    let mut v = req.x.clone();
                    if v.is_empty() {
                        return Err(StatsError::Invalid(format!("{} needs --x COLUMNS", f.name)));
                    }
                    if f.name == "linregress" && v.len() != 1 {
                        return Err(StatsError::Invalid("linregress takes one --x column (ols takes several)".into()));
                    }
                    v.push(y.clone());
                    (v, true)
                }
                _ if f.name == "ols" || f.name == "linregress" => {
                    return Err(StatsError::Invalid(format!("{} needs --y COLUMN", f.name)));
                }
                _ => (req.columns.clone(), false),
            };
            if cols.len() < 2 {
                return Err(StatsError::Invalid(format!("{} needs at least two columns", req.function)));
            }
            let sql = format!(
                "SELECT {} FROM {} WHERE {}",
                cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", "),
                crate::from_clause(&req.from),
                not_null(&cols)
            );
            let c = load(e, cat, src, &sql, &cols, &req.function)?;
            let spearman = f.name == "spearman" || req.method.as_deref() == Some("spearman");
            if let Some(m) = req.method.as_deref().filter(|m| !["pearson", "spearman"].contains(m)) {
                return Err(StatsError::Invalid(format!("--method {m:?}: choose pearson or spearman")));
            }
            if is_ols {
                ols(e, &c, &mut out)?
            } else if spearman {
                let ranks = crate::nonpar::rank_columns(e, &c)?;
                matrix(e, &ranks, "corr", &mut out)?
            } else {
                let name = match f.name {
                    "pca" if req.standardize => "corr",
                    "pca" => "cov",
                    other => other,
                };
                matrix(e, &c, name, &mut out)?
            }
        }
        crate::Kernel::Ranks => {
            let (c, ng) = grouped(e, cat, src, req)?;
            crate::nonpar::rank_groups(e, &c, &ng, f.name, &mut out)?;
        }
        crate::Kernel::SignedRank => {
            let cs = req.two_columns()?;
            let sql = format!(
                "SELECT {} - {} FROM {} WHERE {}",
                quote_ident(&cs[0]),
                quote_ident(&cs[1]),
                crate::from_clause(&req.from),
                not_null(&cs)
            );
            let c = load(e, cat, src, &sql, &[cs.join(" - ")], &req.function)?;
            crate::nonpar::signed_rank(e, &c, &mut out)?;
        }
        crate::Kernel::Chisq => {
            let from = crate::from_clause(&req.from);
            let ind = |col: &str, lits: &[String]| -> Vec<String> {
                lits.iter().map(|l| format!("{} = {l}", quote_ident(col))).collect()
            };
            match (&req.row, &req.col) {
                (Some(r), Some(cc)) => {
                    if req.groups.len() < 2 || req.col_groups.len() < 2 {
                        return Err(StatsError::Invalid(format!(
                            "chisq needs at least two levels of {r:?} and of {cc:?}"
                        )));
                    }
                    let (lr, lc) =
                        (literals(cat, &req.from, r, &req.groups)?, literals(cat, &req.from, cc, &req.col_groups)?);
                    let (ir, ic) = (ind(r, &lr), ind(cc, &lc));
                    let sql = format!(
                        "SELECT {}, {} FROM {from} WHERE {} AND ({}) AND ({})",
                        ir.join(", "),
                        ic.join(", "),
                        not_null(&[r.clone(), cc.clone()]),
                        ir.join(" OR "),
                        ic.join(" OR ")
                    );
                    let mut names: Vec<String> = req.groups.iter().map(|g| format!("{r} = {g}")).collect();
                    names.extend(req.col_groups.iter().map(|g| format!("{cc} = {g}")));
                    let c = load(e, cat, src, &sql, &names, &req.function)?;
                    crate::counts::independence(e, &c, req.groups.len(), &mut out)?;
                }
                (None, None) => {
                    let col = req.one_column()?;
                    if req.groups.len() < 2 {
                        return Err(StatsError::Invalid(format!("chisq needs at least two levels of {col:?}")));
                    }
                    let l = literals(cat, &req.from, &col, &req.groups)?;
                    let i = ind(&col, &l);
                    let sql = format!("SELECT {} FROM {from} WHERE {} IS NOT NULL", i.join(", "), quote_ident(&col));
                    let names: Vec<String> = req.groups.iter().map(|g| format!("{col} = {g}")).collect();
                    let c = load(e, cat, src, &sql, &names, &req.function)?;
                    crate::counts::goodness(e, &c, &req.expected, &mut out)?;
                }
                _ => return Err(StatsError::Invalid("chisq needs --row R --col C, or --column C".into())),
            }
        }
        crate::Kernel::Weighted => {
            let col = req.one_column()?;
            let w = req.weights.clone().ok_or_else(|| StatsError::Invalid("wmean needs --weights COLUMN".into()))?;
            let names = vec![col, w];
            let sql = format!(
                "SELECT {}, {} FROM {} WHERE {}",
                quote_ident(&names[0]),
                quote_ident(&names[1]),
                crate::from_clause(&req.from),
                not_null(&names)
            );
            let c = load(e, cat, src, &sql, &names, &req.function)?;
            weighted(e, &c, &mut out)?;
        }
        crate::Kernel::Logit => {
            let y = req.y.clone().ok_or_else(|| StatsError::Invalid("logit needs --y COLUMN (coded 0/1)".into()))?;
            if req.x.is_empty() {
                return Err(StatsError::Invalid("logit needs --x COLUMNS".into()));
            }
            let mut cols = req.x.clone();
            cols.push(y);
            let sql = format!(
                "SELECT {} FROM {} WHERE {}",
                cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", "),
                crate::from_clause(&req.from),
                not_null(&cols)
            );
            let c = load(e, cat, src, &sql, &cols, &req.function)?;
            crate::glm::logit(e, &c, &mut out)?;
        }
        crate::Kernel::Sql => {
            return Err(StatsError::Invalid(format!(
                "{} is a GROUP BY query: the analyst's client runs it as SQL (see docs/statistics.md)",
                f.name
            )));
        }
        crate::Kernel::TTest => unreachable!("resolved above"),
    }
    Ok(out)
}

/// A column and the indicators of the levels of `by` (rows with one of the levels and a
/// value); the group sizes are opened (every grouped test reports them).
fn grouped<E: Engine, S: Source<E>>(
    e: &mut E,
    cat: &dyn Catalog,
    src: &mut S,
    req: &Request,
) -> Result<(Cols<E>, Vec<usize>), StatsError> {
    let col = req.one_column()?;
    let by = req.by.clone().ok_or_else(|| StatsError::Invalid(format!("{} needs --by COLUMN", req.function)))?;
    if req.groups.len() < 2 {
        return Err(StatsError::Invalid(format!("{} needs the levels of {by:?} (at least two)", req.function)));
    }
    let lits = literals(cat, &req.from, &by, &req.groups)?;
    let sql = format!(
        "SELECT {}, {} FROM {} WHERE {} AND ({})",
        quote_ident(&col),
        lits.iter().map(|l| format!("{} = {l}", quote_ident(&by))).collect::<Vec<_>>().join(", "),
        crate::from_clause(&req.from),
        not_null(&[col.clone(), by.clone()]),
        lits.iter().map(|l| format!("{} = {l}", quote_ident(&by))).collect::<Vec<_>>().join(" OR ")
    );
    let mut names = vec![col.clone()];
    names.extend(req.groups.iter().map(|g| format!("{by} = {g}")));
    let c = load(e, cat, src, &sql, &names, &req.function)?;
    let k = c.v.len() - 1;
    let sizes = e.concat(&(1..=k).map(|g| e.sum(&c.v[g])).collect::<Vec<_>>().iter().collect::<Vec<_>>());
    let ng: Vec<usize> = e.open(&sizes).map_err(mpc)?.iter().map(|x| x.to_i128() as usize).collect();
    let min = if req.function == "mannwhitney" || req.function == "kruskal" { 1 } else { 2 };
    for (g, &m) in ng.iter().enumerate() {
        if m < min {
            return Err(StatsError::Invalid(format!(
                "group {:?} has {m} rows with a value; {} needs at least {min} per group",
                c.names[g + 1],
                req.function
            )));
        }
    }
    Ok((c, ng))
}

/// Weighted mean sum(w x) / sum(w) (exact integer sums, one division).
fn weighted<E: Engine>(e: &mut E, c: &Cols<E>, out: &mut Outputs<E>) -> Result<(), StatsError> {
    let n = c.n;
    if n == 0 {
        return Err(StatsError::Invalid("no rows have both a value and a weight".into()));
    }
    let (wa, ww) = (c.bits(0), c.bits(1));
    let s = dots(e, &[(&c.v[0], &c.v[1])])?;
    let sw = e.sum(&c.v[1]);
    let num = Flt::from_int(e, &s, (wa + ww + lg(n) + 1).min(126)).map_err(mpc)?;
    let den = Flt::from_int(e, &sw, ww + lg(n) + 1).map_err(mpc)?;
    out.push("n", Flt::constant(e, &[n as f64]));
    out.push("zero_weight", Flt::from_int(e, &den.z, 2).map_err(mpc)?);
    out.push_div("wmean", num.div(e, &den).map_err(mpc)?, c.scale(0));
    Ok(())
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
            Class::Cat { .. } => Ok(quote_literal(l)),
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

/// A right shift t so that values below 2^bits, raised to `power` and summed over n rows (times
/// n^extra), stay below 2^120: precision beyond that is dropped, never wrapped.
pub(crate) fn shift_for(bits: u32, power: u32, n: usize, extra: u32) -> u32 {
    let need = lg(n) * (1 + extra) + power * bits;
    need.saturating_sub(120).div_ceil(power)
}

/// Descriptive statistics of column i over its non-NULL values.
fn describe<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    i: usize,
    want: &[&str],
    qs: &[f64],
    trim: f64,
    prefix: &str,
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let has = |k: &str| want.contains(&k);
    // computed in the encoding's units; the analyst divides by the scale
    let sc = c.scale(i);
    let w = c.bits(i);
    let v = &c.v[i];
    let nn = &c.nn[i];
    let cnt = e.sum(nn);
    let n = e.open(&cnt).map_err(mpc)?[0].to_i128() as usize;
    if has("count") {
        out.push_div(format!("{prefix}count"), Flt::constant(e, &[n as f64]), div_one(sc));
    }
    if n == 0 {
        // nothing else is defined; the answer shows nulls
        return Ok(());
    }
    let moments = ["sum", "mean", "variance", "std", "sem", "skewness", "kurtosis", "cv"];
    if moments.iter().any(|m| has(m)) {
        let s1 = e.sum(v);
        // c ~ mean (within 2): centring keeps the power sums small; any c gives exact moments
        let sb = lg(n) + w;
        let sh = sb + 2;
        let k = u128::from_i128(((1i128 << sh) as f64 / n as f64).round() as i128);
        let cm = e.trunc(&e.mul_public(&s1, &[k]), sh, sb + sh - lg(n) + 2).map_err(mpc)?;
        let cvec = e.gather(&cm, &vec![0u32; c.n]);
        let y0 = e.mul(&e.sub(v, &cvec), nn).map_err(mpc)?;
        let t = shift_for(w + 1, 4, n, 0);
        // rounded, not floored, so that the dropped bits do not bias the higher moments
        let y = if t > 0 { e.trunc(&e.add_public(&y0, &[u128::pow2(t - 1)]), t, w + 3).map_err(mpc)? } else { y0 };
        let yb = (w + 2).saturating_sub(t) + 1;
        let y2 = e.mul(&y, &y).map_err(mpc)?;
        let s = dots(e, &[(&y, &y), (&y2, &y), (&y2, &y2)])?;
        let sy = e.sum(&y);
        // exact n * sum y^2 - (sum y)^2: zero exactly for a constant column
        let syy = e.mul(&sy, &sy).map_err(mpc)?;
        let m2x = e.sub(&e.mul_public(&e.slice(&s, 0..1), &[u128::from_u64(n as u64)]), &syy);
        let sums = e.concat(&[&sy, &s, &s1, &m2x]);
        // bounds: sum y < n 2^yb (in fact < 3n), y^p sums < n 2^(p yb), s1 < n 2^w
        let fl = Flt::from_int(e, &sums, (lg(n) + 4 * yb + 1).max(2 * lg(n) + 2 * yb + 1).max(lg(n) + w + 1).min(126))
            .map_err(mpc)?;
        let unit = (2f64).powi(t as i32);
        let inv_n = 1.0 / n as f64;
        let a = fl
            .mul_const(
                e,
                &[
                    inv_n * unit,
                    inv_n * unit.powi(2),
                    inv_n * unit.powi(3),
                    inv_n * unit.powi(4),
                    1.0,
                    inv_n * inv_n * unit.powi(2),
                ],
            )
            .map_err(mpc)?;
        let mu = a.slice(e, 0..1);
        let (a2, a3, a4) = (a.slice(e, 1..2), a.slice(e, 2..3), a.slice(e, 3..4));
        // the sum on its own: exact while it has at most 40 significant bits
        let sum = Flt::from_int(e, &s1, lg(n) + w + 1).map_err(mpc)?;
        let cflt = Flt::from_int(e, &cm, w + 2).map_err(mpc)?;
        let mean = cflt.add(e, &mu).map_err(mpc)?;
        // central moments from raw moments of y (small: |mu| < 3 units)
        let mu2 = mu.mul(e, &mu).map_err(mpc)?;
        let m2 = a.slice(e, 5..6);
        let var = m2.mul_const(e, &[n as f64 / (n as f64 - 1.0).max(1.0)]).map_err(mpc)?;
        let std = var.sqrt(e).map_err(mpc)?;
        if has("sum") {
            out.push_div(format!("{prefix}sum"), sum, div_s(sc));
        }
        if has("mean") {
            out.push_div(format!("{prefix}mean"), mean.clone(), div_s(sc));
        }
        // one value has no sample variance: those outputs stay absent (null in the answer)
        let has = |k: &str| has(k) && (n > 1 || !["variance", "std", "sem", "cv"].contains(&k));
        if has("variance") {
            out.push_div(format!("{prefix}variance"), var.clone(), div_sq(sc));
        }
        if has("std") {
            out.push_div(format!("{prefix}std"), std.clone(), div_s(sc));
        }
        if has("sem") {
            out.push_div(format!("{prefix}sem"), std.mul_const(e, &[1.0 / (n as f64).sqrt()]).map_err(mpc)?, div_s(sc));
        }
        if has("cv") {
            out.push_div(format!("{prefix}cv"), std.div(e, &mean).map_err(mpc)?, div_one(sc));
        }
        if has("skewness") || has("kurtosis") {
            // m3 = a3 - 3 mu a2 + 2 mu^3; m4 = a4 - 4 mu a3 + 6 mu^2 a2 - 3 mu^4
            let mu_a2 = mu.mul(e, &a2).map_err(mpc)?;
            let mu3 = mu2.mul(e, &mu).map_err(mpc)?;
            let t3 = mu_a2.mul_const(e, &[3.0]).map_err(mpc)?;
            let t2 = mu3.mul_const(e, &[2.0]).map_err(mpc)?;
            let m3 = a3.sub(e, &t3).map_err(mpc)?.add(e, &t2).map_err(mpc)?;
            let sm2 = m2.sqrt(e).map_err(mpc)?;
            let m2s = m2.mul(e, &sm2).map_err(mpc)?;
            // skewness and kurtosis are undefined for a constant column: say so rather than divide by 0
            let z = Flt::from_int(e, &m2.z, 2).map_err(mpc)?;
            out.push_div(format!("{prefix}degenerate"), z, div_one(sc));
            if has("skewness") {
                out.push_div(format!("{prefix}skewness"), m3.div(e, &m2s).map_err(mpc)?, div_one(sc));
            }
            if has("kurtosis") {
                let mu_a3 = mu.mul(e, &a3).map_err(mpc)?.mul_const(e, &[4.0]).map_err(mpc)?;
                let mu2_a2 = mu2.mul(e, &a2).map_err(mpc)?.mul_const(e, &[6.0]).map_err(mpc)?;
                let mu4 = mu2.mul(e, &mu2).map_err(mpc)?.mul_const(e, &[3.0]).map_err(mpc)?;
                let m4 = a4.sub(e, &mu_a3).map_err(mpc)?.add(e, &mu2_a2).map_err(mpc)?.sub(e, &mu4).map_err(mpc)?;
                let m22 = m2.mul(e, &m2).map_err(mpc)?;
                let k = m4.div(e, &m22).map_err(mpc)?;
                out.push_div(
                    format!("{prefix}kurtosis"),
                    k.add(e, &Flt::constant(e, &[-3.0])).map_err(mpc)?,
                    div_one(sc),
                );
            }
        }
    }
    if has("gmean") || has("hmean") {
        positive_means(e, c, i, n, want, prefix, out)?;
    }
    let order =
        ["min", "q25", "median", "q75", "max", "range", "iqr", "mode", "mad", "quantiles", "trim_mean", "nunique"];
    if order.iter().any(|m| has(m)) {
        order_stats(e, c, i, n, want, qs, trim, prefix, out)?;
    }
    Ok(())
}

fn div_s(scale: f64) -> f64 {
    scale
}

fn div_sq(scale: f64) -> f64 {
    scale * scale
}

fn div_one(_: f64) -> f64 {
    1.0
}

/// Quantile by linear interpolation between order statistics (numpy's default) at public
/// positions: x_lo + w (x_hi - x_lo) as one fixed-point value per quantile.
fn interp<E: Engine>(e: &mut E, sorted: &A<E>, n: usize, qs: &[f64], bits: u32) -> Result<Flt<E, u128>, StatsError> {
    // weights 0, 1/2, 1/4, 3/4 need 0 or 2 fraction bits: such quantiles of exact values stay
    // exact (a float conversion keeps 40 bits); others get F
    let mut by_frac: Vec<(u32, Vec<usize>)> = Vec::new();
    let mut pos = Vec::new();
    for &q in qs {
        let h = (n as f64 - 1.0) * q;
        let lo = h.floor() as usize;
        let w = h - lo as f64;
        let g = if w == 0.0 {
            0
        } else if (w * 4.0).fract() == 0.0 {
            2
        } else {
            F
        };
        pos.push((lo, (lo + 1).min(n - 1), w));
        match by_frac.iter_mut().find(|(f, _)| *f == g) {
            Some((_, v)) => v.push(pos.len() - 1),
            None => by_frac.push((g, vec![pos.len() - 1])),
        }
    }
    let mut parts = Vec::new();
    let mut order = Vec::new();
    for (g, idx) in &by_frac {
        let lo: Vec<u32> = idx.iter().map(|&k| pos[k].0 as u32).collect();
        let hi: Vec<u32> = idx.iter().map(|&k| pos[k].1 as u32).collect();
        let wts: Vec<u128> =
            idx.iter().map(|&k| u128::from_i128((pos[k].2 * (2f64).powi(*g as i32)).round() as i128)).collect();
        let xl = e.gather(sorted, &lo);
        let xh = e.gather(sorted, &hi);
        let d = e.mul_public(&e.sub(&xh, &xl), &wts);
        let v = e.add(&e.mul_public(&xl, &[u128::pow2(*g)]), &d);
        parts.push(Flt::from_fixed(e, &v, bits + g + 2, *g).map_err(mpc)?);
        order.extend(idx.iter().copied());
    }
    let all = Flt::concat(e, &parts.iter().collect::<Vec<_>>());
    let mut back = vec![0u32; qs.len()];
    for (at, &k) in order.iter().enumerate() {
        back[k] = at as u32;
    }
    Ok(all.gather(e, &back))
}

/// Order statistics of column i: one sort of its values with NULLs moved to the end.
fn order_stats<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    i: usize,
    n: usize,
    want: &[&str],
    qs: &[f64],
    trim: f64,
    prefix: &str,
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let has = |k: &str| want.contains(&k);
    let w = c.bits(i);
    let sc = c.scale(i);
    let rows = c.n;
    // key = v + (1 - nn) 2^(w+1): NULLs after every value
    let off = e.mul_public(&e.add_public(&e.neg(&c.nn[i]), &[u128::ONE]), &[u128::pow2(w + 1)]);
    let key = e.add(&c.v[i], &off);
    let kb = w + 3;
    // the sort and the comparisons of mode and MAD are the dominant cost: they run in Z_2^64
    // when the key (and mode's run-length key) fits
    let small = kb + lg(rows) + 3 < 62;
    let mut sorted64 = None;
    let sorted: A<E> = if small {
        let k64 = e.reduce64(&key);
        let (s, _) =
            sort_by_key(e, &Num { share: k64, frac: 0, bits: kb, expr: c.names[i].clone() }, &[]).map_err(mpc)?;
        let wide = e.extend(&s.share, kb).map_err(mpc)?;
        sorted64 = Some(e.slice(&s.share, 0..n));
        wide
    } else {
        let (s, _) = sort_by_key(e, &num::<E>(key, kb, &c.names[i]), &[]).map_err(mpc)?;
        s.share
    };
    let vals = e.slice(&sorted, 0..n);
    let mut labels = Vec::new();
    let mut q = Vec::new();
    for (k, p) in [("min", 0.0), ("q25", 0.25), ("median", 0.5), ("q75", 0.75), ("max", 1.0)] {
        labels.push(k.to_string());
        q.push(p);
    }
    for p in qs {
        labels.push(format!("q{p}"));
        q.push(*p);
    }
    let at = interp(e, &vals, n, &q, w)?;
    for (k, l) in labels.iter().enumerate().take(5) {
        if has(l) {
            out.push_div(format!("{prefix}{l}"), at.slice(e, k..k + 1), div_s(sc));
        }
    }
    if has("quantiles") {
        for (k, p) in qs.iter().enumerate() {
            out.push_div(format!("{prefix}quantile.{p}"), at.slice(e, 5 + k..6 + k), div_s(sc));
        }
    }
    if has("range") {
        out.push_div(format!("{prefix}range"), at.slice(e, 4..5).sub(e, &at.slice(e, 0..1)).map_err(mpc)?, div_s(sc));
    }
    if has("iqr") {
        out.push_div(format!("{prefix}iqr"), at.slice(e, 3..4).sub(e, &at.slice(e, 1..2)).map_err(mpc)?, div_s(sc));
    }
    if has("mode") {
        let v = match &sorted64 {
            Some(v64) => {
                let m = mode::<E, u64>(e, v64, w)?;
                e.extend(&m, w + 2).map_err(mpc)?
            }
            None => mode::<E, u128>(e, &vals, w)?,
        };
        out.push_div(format!("{prefix}mode"), Flt::from_int(e, &v, w + 1).map_err(mpc)?, div_s(sc));
    }
    if has("mad") {
        let s4 = match &sorted64 {
            Some(v64) => {
                let m = mad::<E, u64>(e, v64, n, w)?;
                e.extend(&m, w + 5).map_err(mpc)?
            }
            None => mad::<E, u128>(e, &vals, n, w)?,
        };
        // s4 = 4 * mad (twice the deviation, summed or doubled)
        let m = Flt::from_int(e, &s4, w + 5).map_err(mpc)?.mul_const(e, &[0.25]).map_err(mpc)?;
        out.push_div(format!("{prefix}mad"), m, div_s(sc));
    }
    if has("trim_mean") {
        // scipy cuts int(trim * n) values from each end
        let k = (trim * n as f64).floor() as usize;
        let kept = e.sum(&e.slice(&vals, k..n - k));
        let m = Flt::from_int(e, &kept, w + lg(n) + 1)
            .map_err(mpc)?
            .mul_const(e, &[1.0 / (n - 2 * k) as f64])
            .map_err(mpc)?;
        out.push_div(format!("{prefix}trim_mean"), m, div_s(sc));
    }
    if has("nunique") {
        let starts = segment_starts(e, &vals, w + 1).map_err(mpc)?;
        let ones: A<E> = e.bits2a(&starts).map_err(mpc)?;
        let d = e.sum(&ones);
        out.push_div(format!("{prefix}nunique"), Flt::from_int(e, &d, lg(n) + 1).map_err(mpc)?, div_one(sc));
    }
    Ok(())
}

/// Geometric and harmonic means of a column's non-NULL values, all of which must be positive
/// (only that bit is opened when they are not). The geometric mean opens the mean of the
/// logarithms (the analyst exponentiates: a bijection, so nothing more is revealed).
fn positive_means<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    i: usize,
    n: usize,
    want: &[&str],
    prefix: &str,
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let w = c.bits(i);
    let sc = c.scale(i);
    let nn = &c.nn[i];
    // a non-NULL value <= 0: msb(v - 1) on non-NULL rows
    let le0 = e.msb(&e.add_public(&c.v[i], &[u128::from_i128(-1)]), w + 1).map_err(mpc)?;
    let le0a: A<E> = e.bits2a(&le0).map_err(mpc)?;
    let bad = dots(e, &[(&le0a, nn)])?;
    let any = e.eqz(&bad, lg(c.n) + 1).map_err(mpc)?;
    let anya: A<E> = e.bits2a(&any).map_err(mpc)?;
    if e.open(&anya).map_err(mpc)?[0] != u128::ONE {
        return Err(StatsError::Invalid(format!(
            "column {:?} has a value <= 0; geometric and harmonic means need positive values",
            c.names[i]
        )));
    }
    // NULL rows hold 0: make them 1 so that logarithms and reciprocals stay defined, then mask
    let off = e.add_public(&e.neg(nn), &[u128::ONE]);
    let v = e.add(&c.v[i], &off);
    if want.contains(&"gmean") {
        let fr = mitsu_mpc_ops::working_frac::<u128>();
        let x =
            Num { share: e.mul_public(&v, &[u128::pow2(fr)]), frac: fr, bits: w + fr + 1, expr: c.names[i].clone() };
        let l = mitsu_mpc_ops::log(e, &x).map_err(mpc)?;
        let s = dots(e, &[(&l.share, nn)])?;
        let lb = fr + 8 + lg(c.n);
        let m = Flt::from_fixed(e, &s, lb, fr).map_err(mpc)?;
        let ml = m.mul_const(e, &[1.0 / n as f64]).map_err(mpc)?.add(e, &Flt::constant(e, &[-sc.ln()])).map_err(mpc)?;
        out.push(format!("{prefix}gmean"), ml);
    }
    if want.contains(&"hmean") {
        // 1/x 2^(w + F) = c y exactly, with x c / 2^w the normalised mantissa and y = 1/mantissa
        let ff = mitsu_mpc_ops::working_frac::<u128>();
        let nz = mitsu_mpc_ops::normalize(e, &v, w, ff).map_err(mpc)?;
        let y = mitsu_mpc_ops::reciprocal_mantissa(e, &nz.u, ff).map_err(mpc)?;
        let r = e.mul(&nz.c, &y).map_err(mpc)?;
        let s = dots(e, &[(&r, nn)])?;
        let total = Flt::from_fixed(e, &s, w + ff + 2 + lg(c.n), w + ff).map_err(mpc)?;
        let h = Flt::constant(e, &[n as f64]).div(e, &total).map_err(mpc)?;
        out.push_div(format!("{prefix}hmean"), h, div_s(sc));
    }
    Ok(())
}

/// The most frequent value (the smallest of several): run lengths by a segmented count over the
/// sorted values, then one maximum over (run length, -value).
fn mode<E: Engine, R: Ring>(e: &mut E, vals: &E::A<R>, w: u32) -> Result<E::A<R>, StatsError> {
    let n = e.len(vals);
    let starts = segment_starts(e, vals, w + 1).map_err(mpc)?;
    let ones = e.constant(&vec![R::ONE; n]);
    let run = segmented_sum(e, &starts, vec![ones]).map_err(mpc)?.remove(0);
    // key = run * 2^(w+2) + (2^(w+1) - v): larger runs first, then smaller values
    let neg = e.add_public(&e.neg(vals), &[R::pow2(w + 1)]);
    let key = e.add(&e.mul_public(&run, &[R::pow2(w + 2)]), &neg);
    let kb = w + 3 + lg(n);
    let best = maximum(e, &Num { share: key, frac: 0, bits: kb, expr: "mode key".into() }).map_err(mpc)?;
    // the low w+2 bits give the value back
    let bits = e.a2b(&best.share, w + 2).map_err(mpc)?;
    let low: E::A<R> = e.b2a(&bits).map_err(mpc)?;
    Ok(e.add_public(&e.neg(&low), &[R::pow2(w + 1)]))
}

/// Median absolute deviation from the median (scipy's `median_abs_deviation`, scale 1). The
/// deviations of the sorted values below the median, read backwards, and those above it are two
/// sorted lists; the k-th smallest of their union is min_i max(A_i, B_{k-i}): one vector of
/// comparisons and one minimum, no second sort.
fn mad<E: Engine, R: Ring>(e: &mut E, vals: &E::A<R>, n: usize, w: u32) -> Result<E::A<R>, StatsError> {
    let a = (n - 1) / 2;
    let b = n / 2;
    // twice the median and twice the deviations keep everything integral
    let med2 = e.add(&e.gather(vals, &[a as u32]), &e.gather(vals, &[b as u32]));
    let med2v = e.gather(&med2, &vec![0u32; n]);
    let twice = e.mul_public(vals, &[R::from_u64(2)]);
    let left: Vec<u32> = (0..=a).rev().map(|j| j as u32).collect(); // A ascending
    let right: Vec<u32> = (a + 1..n).map(|j| j as u32).collect(); // B ascending
    let da = e.sub(&e.gather(&med2v, &vec![0u32; left.len()]), &e.gather(&twice, &left));
    let db = e.sub(&e.gather(&twice, &right), &e.gather(&med2v, &vec![0u32; right.len()]));
    let (la, lb) = (left.len(), right.len());
    let ks: Vec<usize> = if n % 2 == 1 { vec![n.div_ceil(2)] } else { vec![n / 2, n / 2 + 1] };
    let zero = e.constant(&[R::ZERO]);
    let da0 = e.concat(&[&zero, &da]);
    let db0 = e.concat(&[&zero, &db]);
    let mut res = Vec::new();
    for k in ks {
        // i from A, k - i from B; index 0 stands for "none" (deviations are >= 0)
        let lo = k.saturating_sub(lb);
        let hi = k.min(la);
        let ia: Vec<u32> = (lo..=hi).map(|i| i as u32).collect();
        let ib: Vec<u32> = (lo..=hi).map(|i| (k - i) as u32).collect();
        let xa = Num { share: e.gather(&da0, &ia), frac: 0, bits: w + 3, expr: "deviation".into() };
        let xb = Num { share: e.gather(&db0, &ib), frac: 0, bits: w + 3, expr: "deviation".into() };
        let m = max(e, &xa, &xb).map_err(mpc)?;
        res.push(minimum(e, &m).map_err(mpc)?.share);
    }
    let r = e.concat(&res.iter().collect::<Vec<_>>());
    let s = if res.len() == 2 {
        e.add(&e.slice(&r, 0..1), &e.slice(&r, 1..2))
    } else {
        e.mul_public(&r, &[R::from_u64(2)])
    };
    Ok(s)
}

/// One-sample t: mean difference and its standard error (from these and n the analyst computes
/// t, p and the interval; they determine each other, so nothing else is revealed).
fn one_sample<E: Engine>(e: &mut E, c: &Cols<E>, mu: f64, out: &mut Outputs<E>) -> Result<(), StatsError> {
    let n = c.n;
    if n < 2 {
        return Err(StatsError::Invalid(format!("{n} rows with a value; a t-test needs at least two")));
    }
    let (m2, mean) = var_mean(e, &c.v[0], n, c.bits(0), c.scale(0))?;
    out.push("n", Flt::constant(e, &[n as f64]));
    out.push("mean_diff", mean.add(e, &Flt::constant(e, &[-mu])).map_err(mpc)?);
    out.push("se", m2.mul_const(e, &[1.0 / ((n - 1) as f64)]).map_err(mpc)?.sqrt(e).map_err(mpc)?);
    Ok(())
}

/// Exact n * sum(x^2) - sum(x)^2 as a float divided by n^2 (the population variance m2, as a
/// mean square per row) and the mean, for a column with no NULLs.
fn var_mean<E: Engine>(
    e: &mut E,
    v: &A<E>,
    n: usize,
    w: u32,
    scale: f64,
) -> Result<(Flt<E, u128>, Flt<E, u128>), StatsError> {
    let t = shift_for(w, 2, n, 1);
    let y = if t > 0 { e.trunc(v, t, w + 1).map_err(mpc)? } else { v.clone() };
    let s1 = e.sum(v);
    let sy = e.sum(&y);
    let s2 = dots(e, &[(&y, &y)])?;
    let sq = e.mul(&sy, &sy).map_err(mpc)?;
    let m = e.sub(&e.mul_public(&s2, &[u128::from_u64(n as u64)]), &sq);
    let both = e.concat(&[&m, &s1]);
    let fl = Flt::from_int(e, &both, (2 * lg(n) + 2 * w + 2).min(126)).map_err(mpc)?;
    let unit = (2f64).powi(t as i32) / scale;
    let nn = n as f64;
    let r = fl.mul_const(e, &[unit * unit / (nn * nn), 1.0 / (scale * nn)]).map_err(mpc)?;
    Ok((r.slice(e, 0..1), r.slice(e, 1..2)))
}

/// Grouped tests: per group size (opened), sum and exact centred sum of squares.
fn groups<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    ng: &[usize],
    function: &str,
    welch: bool,
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let k = c.v.len() - 1;
    let w = c.bits(0);
    let scale = c.scale(0);
    let total: usize = ng.iter().sum();
    let t = shift_for(w, 2, total, 1);
    let y = if t > 0 { e.trunc(&c.v[0], t, w + 1).map_err(mpc)? } else { c.v[0].clone() };
    let y2 = e.mul(&y, &y).map_err(mpc)?;
    let mut pairs = Vec::new();
    for g in 1..=k {
        pairs.push((&c.v[g], &y));
        pairs.push((&c.v[g], &y2));
    }
    let sums = dots(e, &pairs)?;
    // group mean squares M_g / n_g^2 = (n_g Q_g - S_g^2) / n_g^2, and means S_g / n_g
    let sg: Vec<A<E>> = (0..k).map(|g| e.slice(&sums, 2 * g..2 * g + 1)).collect();
    let qg: Vec<A<E>> = (0..k).map(|g| e.slice(&sums, 2 * g + 1..2 * g + 2)).collect();
    let sgv = e.concat(&sg.iter().collect::<Vec<_>>());
    let sq = e.mul(&sgv, &sgv).map_err(mpc)?;
    let mut ms = Vec::new();
    for g in 0..k {
        ms.push(e.sub(&e.mul_public(&qg[g], &[u128::from_u64(ng[g] as u64)]), &e.slice(&sq, g..g + 1)));
    }
    let msv = e.concat(&ms.iter().collect::<Vec<_>>());
    let all = e.concat(&[&msv, &sgv]);
    let fl = Flt::from_int(e, &all, (2 * lg(total) + 2 * w + 2).min(126)).map_err(mpc)?;
    let unit = (2f64).powi(t as i32) / scale;
    let mut cs: Vec<f64> = ng.iter().map(|&m| unit * unit / (m as f64 * m as f64)).collect();
    cs.extend(ng.iter().map(|&m| unit / m as f64));
    let r = fl.mul_const(e, &cs).map_err(mpc)?;
    // m2_g: population variance of group g; mean_g
    let m2: Vec<Flt<E, u128>> = (0..k).map(|g| r.slice(e, g..g + 1)).collect();
    let mean: Vec<Flt<E, u128>> = (0..k).map(|g| r.slice(e, k + g..k + g + 1)).collect();
    for (g, &m) in ng.iter().enumerate() {
        out.push(format!("n.{g}"), Flt::constant(e, &[m as f64]));
    }
    let var = |e: &mut E, g: usize| m2[g].mul_const(e, &[ng[g] as f64 / (ng[g] as f64 - 1.0)]).map_err(mpc);
    match function {
        "ttest" | "ztest" => {
            out.push("mean_diff", mean[0].sub(e, &mean[1]).map_err(mpc)?);
            let (na, nb) = (ng[0] as f64, ng[1] as f64);
            if welch {
                // va/na and vb/nb: with the mean difference and the Welch df they are the output
                let a = var(e, 0)?.mul_const(e, &[1.0 / na]).map_err(mpc)?;
                let b = var(e, 1)?.mul_const(e, &[1.0 / nb]).map_err(mpc)?;
                out.push("va_n", a);
                out.push("vb_n", b);
            } else {
                // pooled: (na m2a + nb m2b) / (na + nb - 2) * (1/na + 1/nb)
                let sa = m2[0].mul_const(e, &[na]).map_err(mpc)?;
                let sb = m2[1].mul_const(e, &[nb]).map_err(mpc)?;
                let ss = sa.add(e, &sb).map_err(mpc)?;
                let se2 = ss.mul_const(e, &[(1.0 / na + 1.0 / nb) / (na + nb - 2.0)]).map_err(mpc)?;
                out.push("se", se2.sqrt(e).map_err(mpc)?);
            }
        }
        "vartest" => {
            let a = var(e, 0)?;
            let b = var(e, 1)?;
            out.push("f", a.div(e, &b).map_err(mpc)?);
        }
        "anova" => {
            // SSW = sum n_g m2_g; SST from the pooled sums; F = (SST - SSW)/(k-1) / (SSW/(n-k))
            // vectors over the groups, summed pairwise (log k additions deep)
            let m2v = r.slice(e, 0..k);
            let meanv = r.slice(e, k..2 * k);
            let ngf: Vec<f64> = ng.iter().map(|&m| m as f64).collect();
            let ssw = m2v.mul_const(e, &ngf).map_err(mpc)?.total(e).map_err(mpc)?;
            // SSB = sum n_g (mean_g - grand)^2 with grand = sum n_g mean_g / n
            let wts: Vec<f64> = ngf.iter().map(|m| m / total as f64).collect();
            let grand = meanv.mul_const(e, &wts).map_err(mpc)?.total(e).map_err(mpc)?;
            let d = meanv.sub(e, &grand.gather(e, &vec![0; k])).map_err(mpc)?;
            let ssb = d.mul(e, &d).map_err(mpc)?.mul_const(e, &ngf).map_err(mpc)?.total(e).map_err(mpc)?;
            let num = ssb.mul_const(e, &[1.0 / (k as f64 - 1.0)]).map_err(mpc)?;
            let den = ssw.mul_const(e, &[1.0 / (total as f64 - k as f64)]).map_err(mpc)?;
            out.push("f", num.div(e, &den).map_err(mpc)?);
        }
        other => return Err(StatsError::Invalid(format!("{other} is not a grouped function"))),
    }
    Ok(())
}

/// Exact centred cross products M_ij = n sum(x_i x_j) - sum(x_i) sum(x_j) (= n^2 times the
/// population covariance) as floats, in real units.
fn cross<E: Engine>(e: &mut E, c: &Cols<E>) -> Result<(Flt<E, u128>, Flt<E, u128>), StatsError> {
    let p = c.v.len();
    let n = c.n;
    let wmax = (0..p).map(|i| c.bits(i)).max().unwrap_or(1);
    let t = shift_for(wmax, 2, n, 1);
    let ys: Vec<A<E>> = if t > 0 {
        let all = e.concat(&c.v.iter().collect::<Vec<_>>());
        let tr = e.trunc(&all, t, wmax + 1).map_err(mpc)?;
        (0..p).map(|i| e.slice(&tr, i * n..(i + 1) * n)).collect()
    } else {
        c.v.clone()
    };
    let mut pairs = Vec::new();
    for i in 0..p {
        for j in i..p {
            pairs.push((&ys[i], &ys[j]));
        }
    }
    let pr = dots(e, &pairs)?;
    let s: Vec<A<E>> = ys.iter().map(|y| e.sum(y)).collect();
    let sv = e.concat(&s.iter().collect::<Vec<_>>());
    let (mut li, mut ri) = (Vec::new(), Vec::new());
    for i in 0..p {
        for j in i..p {
            li.push(i as u32);
            ri.push(j as u32);
        }
    }
    let ss = e.mul(&e.gather(&sv, &li), &e.gather(&sv, &ri)).map_err(mpc)?;
    let m = e.sub(&e.mul_public(&pr, &[u128::from_u64(n as u64)]), &ss);
    let b = (2 * lg(n) + 2 * wmax + 2).min(126);
    let both = e.concat(&[&m, &sv]);
    let fl = Flt::from_int(e, &both, b).map_err(mpc)?;
    let mut cs = Vec::new();
    for i in 0..p {
        for j in i..p {
            let u = (2f64).powi(2 * t as i32) / (c.scale(i) * c.scale(j));
            cs.push(u);
        }
    }
    for i in 0..p {
        cs.push((2f64).powi(t as i32) / c.scale(i));
    }
    let r = fl.mul_const(e, &cs).map_err(mpc)?;
    let np = p * (p + 1) / 2;
    Ok((r.slice(e, 0..np), r.slice(e, np..np + p)))
}

/// Index of (i, j), i <= j, in the packed upper triangle of a p x p matrix.
pub(crate) fn tri(p: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i <= j { (i, j) } else { (j, i) };
    i * p - i * (i + 1) / 2 + j
}

/// Covariance (ddof 1) or Pearson correlation matrices.
fn matrix<E: Engine>(e: &mut E, c: &Cols<E>, function: &str, out: &mut Outputs<E>) -> Result<(), StatsError> {
    let p = c.v.len();
    let n = c.n;
    if n < 2 {
        return Err(StatsError::Invalid(format!("{n} complete rows; {function} needs at least two")));
    }
    let (m, _) = cross(e, c)?;
    out.push("n", Flt::constant(e, &[n as f64]));
    match function {
        "cov" => {
            let cov = m.mul_const(e, &[1.0 / (n as f64 * (n as f64 - 1.0))]).map_err(mpc)?;
            for i in 0..p {
                for j in i..p {
                    out.push(format!("{}|{}", c.names[i], c.names[j]), cov.slice(e, tri(p, i, j)..tri(p, i, j) + 1));
                }
            }
        }
        _ => {
            let diag: Vec<u32> = (0..p).map(|i| tri(p, i, i) as u32).collect();
            let d = m.gather(e, &diag);
            let sd = d.sqrt(e).map_err(mpc)?;
            let (mut li, mut ri, mut idx) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..p {
                for j in i + 1..p {
                    li.push(i as u32);
                    ri.push(j as u32);
                    idx.push(tri(p, i, j) as u32);
                }
            }
            let den = sd.gather(e, &li).mul(e, &sd.gather(e, &ri)).map_err(mpc)?;
            let r = m.gather(e, &idx).div(e, &den).map_err(mpc)?;
            for (k, (&i, &j)) in li.iter().zip(&ri).enumerate() {
                out.push(format!("{}|{}", c.names[i as usize], c.names[j as usize]), r.slice(e, k..k + 1));
            }
        }
    }
    Ok(())
}

/// OLS with an intercept by Gauss-Jordan elimination in secret floating point on the exact
/// centred cross products. Opens coefficients, standard errors and R^2 (t, p, adjusted R^2 and
/// F follow from them and n on the analyst's machine).
fn ols<E: Engine>(e: &mut E, c: &Cols<E>, out: &mut Outputs<E>) -> Result<(), StatsError> {
    let p = c.v.len(); // k regressors, then y
    let k = p - 1;
    let n = c.n;
    if n <= p {
        return Err(StatsError::Invalid(format!("{n} complete rows; OLS with {k} regressors needs more than {p}")));
    }
    let (m, s) = cross(e, c)?;
    // augmented [Mxx | Mxy | I], k rows of 2k + 1
    let wd = 2 * k + 1;
    let mut rows: Vec<Flt<E, u128>> = Vec::new();
    for i in 0..k {
        let idx: Vec<u32> = (0..k).map(|j| tri(p, i, j) as u32).chain([tri(p, i, k) as u32]).collect();
        let left = m.gather(e, &idx);
        let mut id = vec![0.0; k];
        id[i] = 1.0;
        rows.push(Flt::concat(e, &[&left, &Flt::constant(e, &id)]));
    }
    let a = Flt::concat(e, &rows.iter().collect::<Vec<_>>());
    let diag_idx: Vec<u32> = (0..k).map(|i| tri(p, i, i) as u32).collect();
    let diag = m.gather(e, &diag_idx);
    let (a, pv) = gauss_jordan(e, a, k, wd)?;
    // singular: some pivot below 2^-34 of its column's own spread (the bit and the column are
    // opened; the job ends with an error)
    let ratio = pv.div(e, &diag).map_err(mpc)?;
    let small = e.msb(&e.add_public(&ratio.e, &[u128::from_u64(33)]), 16).map_err(mpc)?;
    let sa: A<E> = e.bits2a(&small).map_err(mpc)?;
    let bad = e.add(&sa, &ratio.z);
    let opened = e.open(&bad).map_err(mpc)?;
    if let Some(j) = opened.iter().position(|b| b.to_i128() != 0) {
        return Err(StatsError::Invalid(format!(
            "singular design matrix: {:?} is (nearly) a linear combination of the other regressors",
            c.names[j]
        )));
    }
    let beta: Vec<u32> = (0..k).map(|i| (i * wd + k) as u32).collect();
    let b = a.gather(e, &beta);
    let inv = |i: usize, j: usize| (i * wd + k + 1 + j) as u32;
    // explained = b . Mxy; SSR n = Myy - explained
    let mxy_idx: Vec<u32> = (0..k).map(|i| tri(p, i, k) as u32).collect();
    let mxy = m.gather(e, &mxy_idx);
    let expl = b.mul(e, &mxy).map_err(mpc)?.total(e).map_err(mpc)?;
    let myy = m.slice(e, tri(p, k, k)..tri(p, k, k) + 1);
    let r2 = expl.div(e, &myy).map_err(mpc)?;
    let ssr_n = myy.sub(e, &expl).map_err(mpc)?; // n * SSR... in units of M (n^2 * mean squares)
    // sigma^2 = SSR / (n - p); SSR = ssr_n / n; Var(b_j) = sigma^2 n (Mxx^-1)_jj
    let sig2 = ssr_n.mul_const(e, &[1.0 / (n as f64 * (n - p) as f64)]).map_err(mpc)?;
    let dinv = a.gather(e, &(0..k).map(|j| inv(j, j)).collect::<Vec<_>>());
    let vb = dinv.mul(e, &sig2.gather(e, &vec![0; k])).map_err(mpc)?.mul_const(e, &[n as f64]).map_err(mpc)?;
    let seb = vb.sqrt(e).map_err(mpc)?;
    // const = (S_y - sum b_j S_j) / n; Var(const) = sigma^2 (1 + S' Mxx^-1 S) / n
    let sx = s.slice(e, 0..k);
    let sy = s.slice(e, k..k + 1);
    let bs = b.mul(e, &sx).map_err(mpc)?.total(e).map_err(mpc)?;
    let acc = sy.sub(e, &bs).map_err(mpc)?;
    let cst = acc.mul_const(e, &[1.0 / n as f64]).map_err(mpc)?;
    // S' Minv S
    let (mut li, mut ri, mut ii) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..k {
        for j in 0..k {
            li.push(i as u32);
            ri.push(j as u32);
            ii.push(inv(i, j));
        }
    }
    let terms = sx.gather(e, &li).mul(e, &sx.gather(e, &ri)).map_err(mpc)?.mul(e, &a.gather(e, &ii)).map_err(mpc)?;
    let quad = Flt::concat(e, &[&terms, &Flt::constant(e, &[1.0])]).total(e).map_err(mpc)?;
    let vc = quad.mul(e, &sig2).map_err(mpc)?.mul_const(e, &[1.0 / n as f64]).map_err(mpc)?;
    let sec = vc.sqrt(e).map_err(mpc)?;
    out.push("n", Flt::constant(e, &[n as f64]));
    out.push("coef.const", cst);
    out.push("se.const", sec);
    for i in 0..k {
        out.push(format!("coef.{}", c.names[i]), b.slice(e, i..i + 1));
        out.push(format!("se.{}", c.names[i]), seb.slice(e, i..i + 1));
    }
    out.push("r_squared", r2);
    Ok(())
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
