//! What the parties compute: each function's per-row inputs come from one SQL SELECT over the
//! request's table or query (so every SQL check and leakage rule applies), the sufficient
//! statistics are exact integer sums in Z_2^128, and the statistic is finished in secret
//! floating point ([`crate::flt`]). Only the named outputs leave, as shares for the analyst.
//!
//! Revealed to the parties: the number of rows the SELECT yields (as for any SQL result), the
//! number of non-NULL values of a described column, and the size of each group of a grouped test.
//! Everything else stays shared.

use crate::Args as _;
use crate::Id;
use crate::common::*;
pub use crate::common::{Cols, Outputs, combine, load};
use crate::flt::{F, Flt};
use crate::{Request, StatsError, quote_ident};
use mitsu_algebra::Ring;
use mitsu_mpc_core::Engine;
use mitsu_mpc_ops::{Num, max, maximum, minimum, segment_starts, segmented_sum, sort_by_key};
use mitsu_query::{Catalog, Source};

impl<E: Engine> std::fmt::Debug for Cols<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cols({} rows: {:?})", self.n, self.names)
    }
}

impl<E: Engine> std::fmt::Debug for Outputs<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outputs({:?})", self.names)
    }
}

/// Sums of powers of y = x - c over a column's non-NULL values, for c = trunc(mean) (so that
/// |mean of y| < 1), in a unit 2^u that keeps them exact: y itself while its public bound
/// leaves room, else y scaled by a secret power of two so that the largest |y| has K bits
/// (K = (125 - log2 n) / 2: relative precision 2^-K, about f64's). Powers 3 and 4 are split
/// into exact parts (y^2 = h 2^K + l), so every sum is an exact integer before it becomes a
/// float. Returns the floats S_1..S_order / n and the unit's exponent u (None: u = 0).
pub(crate) fn moments<E: Engine>(
    e: &mut E,
    v: &A<E>,
    nn: &A<E>,
    n: usize,
    w: u32,
    order: u32,
) -> Result<(Vec<Flt<E, u128>>, Option<A<E>>), StatsError> {
    let rows = e.len(v);
    let ln = lg(rows.max(n));
    let s1 = e.sum(v);
    let np = e.constant(&[u128::from_u64(n.max(1) as u64)]);
    let c = mitsu_mpc_ops::div_trunc(e, &s1, w + ln + 1, &np, ln + 1, "the mean").map_err(mpc)?;
    let cvec = e.gather(&c, &vec![0u32; rows]);
    let y0 = e.mul(&e.sub(v, &cvec), nn).map_err(mpc)?;
    let k = (125 - ln) / 2;
    let (y, unit) = scale_to(e, y0, w + 2, k)?;
    let y2 = e.mul(&y, &y).map_err(mpc)?;
    let mut exact: Vec<(A<E>, u32)> = vec![(e.sum(&y), k + ln + 1), (e.sum(&y2), 2 * k + ln)];
    let mut parts = Vec::new();
    if order >= 3 {
        let h = e.trunc(&y2, k, mitsu_mpc_ops::exact_bound::<u128>(2 * k)).map_err(mpc)?;
        let l = e.sub(&y2, &e.mul_public(&h, &[u128::pow2(k)]));
        let d = dots(e, &[(&h, &y), (&l, &y), (&h, &h), (&h, &l), (&l, &l)])?;
        for i in 0..5 {
            parts.push(e.slice(&d, i..i + 1));
        }
        for p in &parts {
            exact.push((p.clone(), 2 * k + ln + 1));
        }
    }
    let bits = exact.iter().map(|x| x.1).max().unwrap_or(2).min(126);
    let all = e.concat(&exact.iter().map(|x| &x.0).collect::<Vec<_>>());
    let fl = Flt::from_int(e, &all, bits).map_err(mpc)?.mul_const(e, &[1.0 / n.max(1) as f64]).map_err(mpc)?;
    let mut out = vec![fl.slice(e, 0..1), fl.slice(e, 1..2)];
    if order >= 3 {
        let (hy, ly, hh, hl, ll) =
            (fl.slice(e, 2..3), fl.slice(e, 3..4), fl.slice(e, 4..5), fl.slice(e, 5..6), fl.slice(e, 6..7));
        let two_k = (2f64).powi(k as i32);
        let s3 = hy.mul_const(e, &[two_k]).map_err(mpc)?.add(e, &ly).map_err(mpc)?;
        let hl2 = hl.mul_const(e, &[2.0 * two_k]).map_err(mpc)?;
        let s4 = hh.mul_const(e, &[two_k * two_k]).map_err(mpc)?.add(e, &hl2).map_err(mpc)?.add(e, &ll).map_err(mpc)?;
        out.push(s3);
        out.push(s4);
    }
    Ok((out, unit))
}

/// y0 (|y0| < 2^m) with at most k bits: itself when m <= k, else scaled by a secret power of
/// two so that its largest |y0| has k bits (relative precision 2^-k). Returns y and the unit's
/// exponent u with y0 = y 2^u (None: u = 0). Cost when scaling: a sign test and a maximum over
/// the rows, one normalisation, one product and one exact truncation per row.
pub(crate) fn scale_to<E: Engine>(e: &mut E, y0: A<E>, m: u32, k: u32) -> Result<(A<E>, Option<A<E>>), StatsError> {
    if m <= k {
        return Ok((y0, None));
    }
    let rows = e.len(&y0);
    // the largest |y0| decides the scale: c_s = 2^(m-1-j) for its leading bit j
    let neg = e.msb(&y0, m).map_err(mpc)?;
    let sg: A<E> = e.bits2a(&neg).map_err(mpc)?;
    let sy = e.mul(&sg, &y0).map_err(mpc)?;
    let abs = e.sub(&y0, &e.mul_public(&sy, &[u128::from_u64(2)]));
    let mx = maximum(e, &num(abs, m, "|x - mean|")).map_err(mpc)?;
    let mx1 = e.add_public(&mx.share, &[u128::ONE]);
    let nz = mitsu_mpc_ops::normalize_with(e, &mx1, m, 1, true).map_err(mpc)?;
    let cs = e.gather(&nz.c, &vec![0u32; rows]);
    let scaled = e.mul(&y0, &cs).map_err(mpc)?; // below 2^m
    let y = e.trunc(&scaled, m - k, mitsu_mpc_ops::exact_bound::<u128>(m)).map_err(mpc)?;
    // y0 = y 2^(j + 1 - k)
    let w: Vec<u128> = (0..m).map(|j| u128::from_i128(j as i128 + 1 - k as i128)).collect();
    Ok((y, Some(e.b2a_weighted(&nz.onehot, &w).map_err(mpc)?)))
}

/// x 2^(p u) for a secret exponent u (None: 0); a zero stays the canonical zero.
pub(crate) fn scale_by<E: Engine>(
    e: &mut E,
    x: &Flt<E, u128>,
    unit: &Option<A<E>>,
    p: u64,
) -> Result<Flt<E, u128>, StatsError> {
    let Some(u) = unit else { return Ok(x.clone()) };
    let k = x.len(e);
    let nz = e.add_public(&e.neg(&x.z), &[u128::ONE]);
    let shift = e.mul_public(&e.gather(u, &vec![0u32; k]), &[u128::from_u64(p)]);
    let add = e.mul(&nz, &shift).map_err(mpc)?;
    Ok(Flt { e: e.add(&x.e, &add), ..x.clone() })
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
                    if cols.len() == 1 && f.id != Id::Describe { String::new() } else { format!("{}.", cols[i]) };
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
            groups(e, &c, &ng, f.id, req.welch, &mut out)?;
        }
        crate::Kernel::Matrix => {
            let (cols, is_ols) = match &req.y {
                Some(y) if f.id == Id::Ols || f.id == Id::Linregress => {
                    let mut v = req.x.clone();
                    if v.is_empty() {
                        return Err(StatsError::Invalid(format!("{} needs --x COLUMNS", f.name)));
                    }
                    if f.id == Id::Linregress && v.len() != 1 {
                        return Err(StatsError::Invalid("linregress takes one --x column (ols takes several)".into()));
                    }
                    v.push(y.clone());
                    (v, true)
                }
                _ if f.id == Id::Ols || f.id == Id::Linregress => {
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
            let spearman = f.id == Id::Spearman || req.method.as_deref() == Some("spearman");
            if let Some(m) = req.method.as_deref().filter(|m| !["pearson", "spearman"].contains(m)) {
                return Err(StatsError::Invalid(format!("--method {m:?}: choose pearson or spearman")));
            }
            if is_ols {
                ols(e, &c, &mut out)?
            } else if spearman {
                let ranks = crate::nonpar::rank_columns(e, &c)?;
                matrix(e, &ranks, Id::Corr, &mut out)?
            } else {
                let name = match f.id {
                    Id::Pca if req.standardize => Id::Corr,
                    Id::Pca => Id::Cov,
                    other => other,
                };
                matrix(e, &c, name, &mut out)?
            }
        }
        crate::Kernel::Ranks => {
            let (c, ng) = grouped(e, cat, src, req)?;
            crate::nonpar::rank_groups(e, &c, &ng, f.id, &mut out)?;
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
    let ng: Vec<usize> = e
        .open(&sizes, mitsu_mpc_core::Reveal::StatisticCounts)
        .map_err(mpc)?
        .iter()
        .map(|x| x.to_i128() as usize)
        .collect();
    // a pooled variance (Student's t, ANOVA) needs only positive pooled degrees of freedom; a
    // group's own variance (Welch, the F-test of variances, z) needs two values
    let f = crate::spec(&req.function)?.id;
    let pooled = (f == Id::Ttest && !req.welch) || f == Id::Anova;
    let min = if f == Id::Mannwhitney || f == Id::Kruskal || pooled { 1 } else { 2 };
    if pooled && ng.iter().sum::<usize>() <= ng.len() {
        return Err(StatsError::Invalid(format!(
            "{} needs more values than groups (pooled degrees of freedom {})",
            req.function,
            ng.iter().sum::<usize>() as i64 - ng.len() as i64
        )));
    }
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
    let n = e.open(&cnt, mitsu_mpc_core::Reveal::StatisticCounts).map_err(mpc)?[0].to_i128() as usize;
    // always: the answer says why a field has no value (the parties know n already)
    out.push_div(format!("{prefix}count"), Flt::constant(e, &[n as f64]), div_one(sc));
    if n == 0 {
        // nothing else is defined; the answer shows nulls
        return Ok(());
    }
    let moment_fields = ["sum", "mean", "variance", "std", "sem", "skewness", "kurtosis", "cv"];
    if moment_fields.iter().any(|m| has(m)) {
        let s1 = e.sum(v);
        let sb = lg(n) + w + 1;
        // the sum and the mean are exact: the sum's integer travels in limbs, the analyst
        // divides it by the scale (and by n, public)
        if has("sum") {
            out.push_exact(e, &format!("{prefix}sum"), &s1, sb, div_s(sc))?;
        }
        if has("mean") {
            out.push_exact(e, &format!("{prefix}mean"), &s1, sb, div_s(sc) * n as f64)?;
        }
        // one value has no sample variance: those outputs stay absent (null in the answer)
        let has = |k: &str| has(k) && (n > 1 || !["variance", "std", "sem", "cv"].contains(&k));
        let order = if has("skewness") || has("kurtosis") { 4 } else { 2 };
        if ["variance", "std", "sem", "cv", "skewness", "kurtosis"].iter().any(|k| has(k)) {
            let (a, unit) = moments(e, v, nn, n, w, order)?;
            // central moments of y from its raw ones: |mu| < 1 unit of x, so nothing cancels
            let mu = &a[0];
            let mu2 = mu.mul(e, mu).map_err(mpc)?;
            let m2 = a[1].sub(e, &mu2).map_err(mpc)?;
            let m2x = scale_by(e, &m2, &unit, 2)?;
            let var = m2x.mul_const(e, &[n as f64 / (n as f64 - 1.0).max(1.0)]).map_err(mpc)?;
            let std = var.sqrt(e).map_err(mpc)?;
            if has("variance") {
                out.push_div(format!("{prefix}variance"), var.clone(), div_sq(sc));
            }
            if has("std") {
                out.push_div(format!("{prefix}std"), std.clone(), div_s(sc));
            }
            if has("sem") {
                out.push_div(
                    format!("{prefix}sem"),
                    std.mul_const(e, &[1.0 / (n as f64).sqrt()]).map_err(mpc)?,
                    div_s(sc),
                );
            }
            if has("cv") {
                let mean = Flt::from_int(e, &s1, sb).map_err(mpc)?.mul_const(e, &[1.0 / n as f64]).map_err(mpc)?;
                out.push_div(format!("{prefix}cv"), std.div(e, &mean).map_err(mpc)?, div_one(sc));
                // undefined where the mean is 0 (the one bit says so; the value is not shown)
                let z = Flt::from_int(e, &mean.z, 2).map_err(mpc)?;
                out.push_div(format!("{prefix}cv_undefined"), z, div_one(sc));
            }
            if order == 4 {
                // m3 = a3 - 3 mu a2 + 2 mu^3; m4 = a4 - 4 mu a3 + 6 mu^2 a2 - 3 mu^4 (scale free)
                let (a2, a3, a4) = (&a[1], &a[2], &a[3]);
                let mu_a2 = mu.mul(e, a2).map_err(mpc)?;
                let mu3 = mu2.mul(e, mu).map_err(mpc)?;
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
                    let mu_a3 = mu.mul(e, a3).map_err(mpc)?.mul_const(e, &[4.0]).map_err(mpc)?;
                    let mu2_a2 = mu2.mul(e, a2).map_err(mpc)?.mul_const(e, &[6.0]).map_err(mpc)?;
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
    if e.open(&anya, mitsu_mpc_core::Reveal::StatisticError).map_err(mpc)?[0] != u128::ONE {
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
    // mean - mu = (sum - n mu scale) / (n scale): exact before the float when n mu scale is an
    // integer (a mean near 2^41 and mu = 2^41 would otherwise cancel in 40-bit floats)
    let target = n as f64 * mu * c.scale(0);
    let md = if target.fract() == 0.0 && target.abs() < 2f64.powi(100) {
        let s1 = e.sum(&c.v[0]);
        let d = e.add_public(&s1, &[u128::from_i128(-(target as i128))]);
        let bits = (c.bits(0) + lg(n) + 1).max(128 - (target.abs() as i128).leading_zeros()) + 1;
        Flt::from_int(e, &d, bits.min(126)).map_err(mpc)?.mul_const(e, &[1.0 / (n as f64 * c.scale(0))]).map_err(mpc)?
    } else {
        mean.add(e, &Flt::constant(e, &[-mu])).map_err(mpc)?
    };
    out.push("mean_diff", md);
    out.push("se", m2.mul_const(e, &[1.0 / ((n - 1) as f64)]).map_err(mpc)?.sqrt(e).map_err(mpc)?);
    Ok(())
}

/// The population variance m2 (sum of squared deviations / n) and the mean, in real units, of a
/// column with no NULLs: from exact sums around the truncated mean ([`moments`]).
fn var_mean<E: Engine>(
    e: &mut E,
    v: &A<E>,
    n: usize,
    w: u32,
    scale: f64,
) -> Result<(Flt<E, u128>, Flt<E, u128>), StatsError> {
    let ones = e.constant(&vec![u128::ONE; e.len(v)]);
    let (a, unit) = moments(e, v, &ones, n, w, 2)?;
    let mu2 = a[0].mul(e, &a[0]).map_err(mpc)?;
    let d = a[1].sub(e, &mu2).map_err(mpc)?;
    let m2 = scale_by(e, &d, &unit, 2)?;
    let m2 = m2.mul_const(e, &[1.0 / (scale * scale)]).map_err(mpc)?;
    let s1 = e.sum(v);
    let mean =
        Flt::from_int(e, &s1, w + lg(n) + 1).map_err(mpc)?.mul_const(e, &[1.0 / (scale * n as f64)]).map_err(mpc)?;
    Ok((m2, mean))
}

/// Grouped tests: per group size (opened), and from exact sums around each group's truncated
/// mean: the group's population variance and the differences of means, formed from exact
/// numerators (N s_g - n_g S) so that nearby large means do not cancel.
fn groups<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    ng: &[usize],
    function: Id,
    welch: bool,
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let k = c.v.len() - 1;
    let w = c.bits(0);
    let scale = c.scale(0);
    let total: usize = ng.iter().sum();
    let x = &c.v[0];
    let rows = e.len(x);
    let ln = lg(rows.max(total));
    let ind: Vec<&A<E>> = c.v[1..].iter().collect();
    // exact group sums and the grand sum
    let sx = dots(e, &ind.iter().map(|g| (*g, x)).collect::<Vec<_>>())?;
    let sizes: Vec<u128> = ng.iter().map(|&m| m.max(1) as u128).collect();
    let cg = mitsu_mpc_ops::div_trunc(e, &sx, w + ln + 1, &e.constant(&sizes), ln + 1, "a group mean").map_err(mpc)?;
    // each row's group centre: sum_g ind_g c_g
    let cb: Vec<A<E>> = (0..k).map(|g| e.gather(&e.slice(&cg, g..g + 1), &vec![0u32; rows])).collect();
    let centre = dots_rows(e, &ind, &cb)?;
    let y0 = e.sub(x, &centre);
    let kk = (125 - ln) / 2;
    let (y, unit) = scale_to(e, y0, w + 2, kk)?;
    let y2 = e.mul(&y, &y).map_err(mpc)?;
    let mut pairs = Vec::new();
    for g in &ind {
        pairs.push((*g, &y));
        pairs.push((*g, &y2));
    }
    let sums = dots(e, &pairs)?;
    // exact numerators of mean differences: d_g = N s_g - n_g S
    let big_s = e.sum(&sx);
    let d: Vec<A<E>> = (0..k)
        .map(|g| {
            let a = e.mul_public(&e.slice(&sx, g..g + 1), &[u128::from_u64(total as u64)]);
            e.sub(&a, &e.mul_public(&big_s, &[u128::from_u64(ng[g] as u64)]))
        })
        .collect();
    let dv = e.concat(&d.iter().collect::<Vec<_>>());
    let fl =
        Flt::from_int(e, &e.concat(&[&sums, &dv, &sx]), (2 * kk + ln + 1).max(w + 2 * ln + 2).min(126)).map_err(mpc)?;
    // per group: mu_g, a2_g in units, then m2_g = a2_g - mu_g^2 in real units
    let mut inv = Vec::new();
    for &m in ng {
        inv.push(1.0 / m as f64);
        inv.push(1.0 / m as f64);
    }
    inv.extend(ng.iter().map(|&m| 1.0 / (m as f64 * total as f64 * scale)));
    inv.extend(ng.iter().map(|&m| 1.0 / (m as f64 * scale)));
    let r = fl.mul_const(e, &inv).map_err(mpc)?;
    let mut m2 = Vec::new();
    for g in 0..k {
        let (mu, a2) = (r.slice(e, 2 * g..2 * g + 1), r.slice(e, 2 * g + 1..2 * g + 2));
        let mu2 = mu.mul(e, &mu).map_err(mpc)?;
        let d = a2.sub(e, &mu2).map_err(mpc)?;
        let v = scale_by(e, &d, &unit, 2)?;
        m2.push(v.mul_const(e, &[1.0 / (scale * scale)]).map_err(mpc)?);
    }
    // mean_g - grand mean, and the group means
    let dev: Vec<Flt<E, u128>> = (0..k).map(|g| r.slice(e, 2 * k + g..2 * k + g + 1)).collect();
    for (g, &m) in ng.iter().enumerate() {
        out.push(format!("n.{g}"), Flt::constant(e, &[m as f64]));
    }
    let var = |e: &mut E, g: usize| m2[g].mul_const(e, &[ng[g] as f64 / (ng[g] as f64 - 1.0)]).map_err(mpc);
    match function {
        Id::Ttest | Id::Ztest => {
            // mean_0 - mean_1 = (n_1 s_0 - n_0 s_1) / (n_0 n_1), exactly before the float
            let num = e.sub(
                &e.mul_public(&e.slice(&sx, 0..1), &[u128::from_u64(ng[1] as u64)]),
                &e.mul_public(&e.slice(&sx, 1..2), &[u128::from_u64(ng[0] as u64)]),
            );
            let md = Flt::from_int(e, &num, w + 2 * ln + 2)
                .map_err(mpc)?
                .mul_const(e, &[1.0 / (ng[0] as f64 * ng[1] as f64 * scale)])
                .map_err(mpc)?;
            out.push("mean_diff", md);
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
        Id::Vartest => {
            let a = var(e, 0)?;
            let b = var(e, 1)?;
            // F is undefined when the second group does not vary: one bit says so
            let z = Flt::from_int(e, &b.z, 2).map_err(mpc)?;
            out.push("f_undefined", z);
            out.push("f", a.div(e, &b).map_err(mpc)?);
        }
        Id::Anova => {
            // SSW = sum n_g m2_g; SSB = sum n_g (mean_g - grand)^2; F = SSB/(k-1) / (SSW/(n-k))
            let ngf: Vec<f64> = ng.iter().map(|&m| m as f64).collect();
            let m2v = Flt::concat(e, &m2.iter().collect::<Vec<_>>());
            let ssw = m2v.mul_const(e, &ngf).map_err(mpc)?.total(e).map_err(mpc)?;
            let devv = Flt::concat(e, &dev.iter().collect::<Vec<_>>());
            let ssb = devv.mul(e, &devv).map_err(mpc)?.mul_const(e, &ngf).map_err(mpc)?.total(e).map_err(mpc)?;
            let num = ssb.mul_const(e, &[1.0 / (k as f64 - 1.0)]).map_err(mpc)?;
            let den = ssw.mul_const(e, &[1.0 / (total as f64 - k as f64)]).map_err(mpc)?;
            // F is undefined when no group varies within itself: one bit says so
            let z = Flt::from_int(e, &den.z, 2).map_err(mpc)?;
            out.push("f_undefined", z);
            out.push("f", num.div(e, &den).map_err(mpc)?);
        }
        other => return Err(StatsError::Invalid(format!("{other} is not a grouped function"))),
    }
    Ok(())
}

/// Per row, sum_g a_g * b_g (one multiplication round over all groups).
fn dots_rows<E: Engine>(e: &mut E, a: &[&A<E>], b: &[A<E>]) -> Result<A<E>, StatsError> {
    let n = e.len(a[0]);
    let p = e.mul(&e.concat(a), &e.concat(&b.iter().collect::<Vec<_>>())).map_err(mpc)?;
    let mut acc = e.constant(&vec![u128::ZERO; n]);
    for g in 0..a.len() {
        acc = e.add(&acc, &e.slice(&p, g * n..(g + 1) * n));
    }
    Ok(acc)
}

/// The columns centred at their truncated means and scaled to at most `k` bits (y_i), with
/// the units: column i's centred value is y_i 2^(u_i).
pub(crate) struct Centred<E: Engine> {
    ys: Vec<A<E>>,
    units: Vec<Option<A<E>>>,
    /// sum of each y_i
    ysum: A<E>,
    k: u32,
}

/// Exact centred cross products M_ij = n sum(x_i x_j) - sum(x_i) sum(x_j) (= n^2 times the
/// population covariance) as floats in real units, the columns' sums, and the centred columns
/// they were computed from (for [`refine`]).
fn cross_parts<E: Engine>(e: &mut E, c: &Cols<E>) -> Result<(Flt<E, u128>, Flt<E, u128>, Centred<E>), StatsError> {
    let p = c.v.len();
    let n = c.n;
    let ln = lg(n);
    // each column centred at its truncated mean and scaled to at most k bits, so that
    // n sum(y_i y_j) - sum(y_i) sum(y_j) is exact: M_ij in units 2^(u_i + u_j)
    let k = (124 - 2 * ln) / 2;
    let sums: Vec<A<E>> = c.v.iter().map(|v| e.sum(v)).collect();
    let sv0 = e.concat(&sums.iter().collect::<Vec<_>>());
    let wmax = (0..p).map(|i| c.bits(i)).max().unwrap_or(1);
    let np = e.constant(&vec![u128::from_u64(n.max(1) as u64); p]);
    let centres = mitsu_mpc_ops::div_trunc(e, &sv0, wmax + ln + 1, &np, ln + 1, "a column's mean").map_err(mpc)?;
    let mut ys = Vec::new();
    let mut units = Vec::new();
    for i in 0..p {
        let ci = e.gather(&centres, &vec![i as u32; n]);
        let y0 = e.sub(&c.v[i], &ci);
        let (y, u) = scale_to(e, y0, c.bits(i) + 2, k)?;
        ys.push(y);
        units.push(u);
    }
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
    let fl = Flt::from_int(e, &m, (2 * ln + 2 * k + 2).min(126)).map_err(mpc)?;
    // back to real units: M_ij 2^(u_i + u_j) / (scale_i scale_j)
    let mut entries = Vec::new();
    let mut cs = Vec::new();
    for (t, (&i, &j)) in li.iter().zip(&ri).enumerate() {
        let (i, j) = (i as usize, j as usize);
        let x = fl.slice(e, t..t + 1);
        let x = scale_by(e, &x, &units[i], 1)?;
        let x = scale_by(e, &x, &units[j], 1)?;
        entries.push(x);
        cs.push(1.0 / (c.scale(i) * c.scale(j)));
    }
    let r = Flt::concat(e, &entries.iter().collect::<Vec<_>>()).mul_const(e, &cs).map_err(mpc)?;
    // the plain sums, in real units (exact integers before the float)
    let sf = Flt::from_int(e, &sv0, (wmax + ln + 1).min(126)).map_err(mpc)?;
    let inv: Vec<f64> = (0..p).map(|i| 1.0 / c.scale(i)).collect();
    let sf = sf.mul_const(e, &inv).map_err(mpc)?;
    Ok((r, sf, Centred { ys, units, ysum: sv, k }))
}

/// A regression of the last column y on the first k, refined once: the float coefficients b0
/// become fixed-point integers B (2^-G resolution), the residuals E = y 2^G - sum B_j x_j are
/// computed exactly from the columns' integers, and E is regressed on x. Its slope corrects b,
/// its mean gives the intercept, and its centred square sum the residual sum of squares, so
/// none of them is a small difference of large floats: the intercept of data around 2^41 with
/// a slope of 3, or the residual variance of a fit with R^2 = 1 - 1e-12, keep their digits.
/// The exponent gap beyond which [`Fit`]'s results are withheld: 2^8 times the float's 2^-38.
const GAP: u32 = 8;

pub(crate) struct Fit<E: Engine> {
    /// slopes, real units
    pub b: Flt<E, u128>,
    /// intercept
    pub cst: Flt<E, u128>,
    /// n times the residual sum of squares, real units
    pub nssr: Flt<E, u128>,
    /// 1 where the intercept is not known to 2^-30 relative: it is a difference of terms more
    /// than 2^8 times its size (each known to about 2^-38), as when a slope stayed unrefined
    pub cst_imprecise: A<E>,
    /// 1 where n SSR is not known to 2^-30 relative (Q more than 2^8 times it), or not positive
    pub ssr_imprecise: A<E>,
}

/// See [`Fit`]. `m` and `sf` come from [`cross_parts`] (with `cent`); `b0` are the float
/// slopes and `minv` the inverse of the regressors' block of `m` (k x k, row-major).
pub(crate) fn refine<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    cent: &Centred<E>,
    sf: &Flt<E, u128>,
    b0: &Flt<E, u128>,
    minv: &Flt<E, u128>,
) -> Result<Fit<E>, StatsError> {
    let p = c.v.len();
    let k = p - 1;
    let n = c.n;
    let ln = lg(n);
    let rows = e.len(&c.v[k]);
    let (wy, wx) = (c.bits(k), (0..k).map(|j| c.bits(j)).max().unwrap_or(1));
    // E's bits: max(wy + G, G + bmax + wx) + lg(k + 1) + 1, with room for its sum (ln) and for
    // its float conversions
    let h = 122u32.saturating_sub(ln + lg(k + 1) + wx.max(wy)).min(120);
    if h < 8 {
        return Err(StatsError::Invalid(format!("{n} rows of {wx}-bit values: too wide for a regression")));
    }
    let g = h / 2;
    let bmax = h - g;
    let be = wx.max(wy) + h + lg(k + 1) + 1;
    let ratio: Vec<f64> = (0..k).map(|j| c.scale(k) / c.scale(j)).collect();
    let benc = b0.mul_const(e, &ratio).map_err(mpc)?;
    // a slope beyond the range stays 0 in B: its refinement is the whole slope (the flags
    // below catch what precision that costs)
    let (bfix, _) = benc.to_fixed(e, g, bmax).map_err(mpc)?;
    // E = y 2^G - sum_j B_j x_j, exact
    // sum_j B_j x_j per row: one reshare per row, and the columns are not copied
    let bx = e.lincomb(&bfix, &c.v[..k].iter().collect::<Vec<_>>()).map_err(mpc)?;
    let ev = e.sub(&e.mul_public(&c.v[k], &[u128::pow2(g)]), &bx);
    // centred at (about) its mean, scaled like the columns
    let se_ = e.sum(&ev);
    let mean_e = Flt::from_int(e, &se_, be + ln).map_err(mpc)?.mul_const(e, &[1.0 / n as f64]).map_err(mpc)?;
    let (ce, _) = mean_e.to_fixed(e, 0, be).map_err(mpc)?;
    let e0 = e.sub(&ev, &e.gather(&ce, &vec![0u32; rows]));
    // E0 in limbs of at most K bits (E0 = sum_a E_a 2^(aK), exact; scaling it would drop the
    // low bits that the correction lives in when the residuals are large)
    let kk = cent.k;
    let eb = be + 2;
    let nl = eb.div_ceil(kk) as usize;
    let mut limbs = Vec::new();
    let mut rest = e0;
    for a in 0..nl - 1 {
        // balanced: the remainder in [-2^(K-1), 2^(K-1)), so a small E0 has zero upper limbs
        // (sign-extended limbs would be huge and cancel in the float sum)
        let up = e.add_public(&rest, &[u128::pow2(kk - 1)]);
        let hi = e.trunc(&up, kk, mitsu_mpc_ops::exact_bound::<u128>(eb + 1 - a as u32 * kk)).map_err(mpc)?;
        limbs.push(e.sub(&rest, &e.mul_public(&hi, &[u128::pow2(kk)])));
        rest = hi;
    }
    limbs.push(rest);
    // P_ja = n sum(y_j E_a) - sum y_j sum E_a; Q_ab likewise, a <= b
    let mut pairs: Vec<(&A<E>, &A<E>)> = Vec::new();
    let (mut lx, mut ly) = (Vec::new(), Vec::new());
    for j in 0..k {
        for (a, l) in limbs.iter().enumerate() {
            pairs.push((&cent.ys[j], l));
            lx.push(j as u32);
            ly.push((k + a) as u32);
        }
    }
    for a in 0..nl {
        for b in a..nl {
            pairs.push((&limbs[a], &limbs[b]));
            lx.push((k + a) as u32);
            ly.push((k + b) as u32);
        }
    }
    let d = dots(e, &pairs)?;
    let lsum: Vec<A<E>> = limbs.iter().map(|l| e.sum(l)).collect();
    let sums = e.concat(&[&e.slice(&cent.ysum, 0..k), &e.concat(&lsum.iter().collect::<Vec<_>>())]);
    let ss = e.mul(&e.gather(&sums, &lx), &e.gather(&sums, &ly)).map_err(mpc)?;
    let pq = e.sub(&e.mul_public(&d, &[u128::from_u64(n as u64)]), &ss);
    let fl = Flt::from_int(e, &pq, 126).map_err(mpc)?;
    // real units: P_j = sum_a P_ja 2^(aK) 2^(u_j) / (sc_j sc_y 2^G); Q = sum Q_ab 2^((a+b)K)
    // (twice off the diagonal) / (sc_y 2^G)^2
    let two_g = (2f64).powi(g as i32);
    let mut parts = Vec::new();
    for j in 0..k {
        let w: Vec<f64> =
            (0..nl).map(|a| (2f64).powi((a as u32 * kk) as i32) / (c.scale(j) * c.scale(k) * two_g)).collect();
        let pj = fl.slice(e, j * nl..(j + 1) * nl).mul_const(e, &w).map_err(mpc)?.total(e).map_err(mpc)?;
        parts.push(scale_by(e, &pj, &cent.units[j], 1)?);
    }
    let mut w = Vec::new();
    for a in 0..nl {
        for b in a..nl {
            let twice = if a == b { 1.0 } else { 2.0 };
            w.push(twice * (2f64).powi(((a + b) as u32 * kk) as i32) / (c.scale(k) * two_g).powi(2));
        }
    }
    let qs = fl.slice(e, k * nl..fl.len(e)).mul_const(e, &w).map_err(mpc)?.total(e).map_err(mpc)?;
    parts.push(qs);
    let pq = Flt::concat(e, &parts.iter().collect::<Vec<_>>());
    let pv = pq.slice(e, 0..k);
    let q = pq.slice(e, k..k + 1);
    // delta = Minv P; b = B 2^-G (sc_j / sc_y) + delta
    let li: Vec<u32> = (0..k * k).map(|t| (t % k) as u32).collect();
    let terms = minv.mul(e, &pv.gather(e, &li)).map_err(mpc)?;
    let mut delta = Vec::new();
    for j in 0..k {
        delta.push(terms.slice(e, j * k..(j + 1) * k).total(e).map_err(mpc)?);
    }
    let delta = Flt::concat(e, &delta.iter().collect::<Vec<_>>());
    let bf = Flt::from_int(e, &bfix, g + bmax + 1).map_err(mpc)?;
    let back: Vec<f64> = (0..k).map(|j| c.scale(j) / (c.scale(k) * two_g)).collect();
    let b = bf.mul_const(e, &back).map_err(mpc)?.add(e, &delta).map_err(mpc)?;
    // intercept = mean(E) - sum delta_j mean(x_j), real units
    let me = mean_e.mul_const(e, &[1.0 / (c.scale(k) * two_g)]).map_err(mpc)?;
    let xbar = sf.slice(e, 0..k).mul_const(e, &[1.0 / n as f64]).map_err(mpc)?;
    let dx = delta.mul(e, &xbar).map_err(mpc)?;
    let cst = Flt::concat(e, &[&me, &dx.neg(e)]).total(e).map_err(mpc)?;
    // n SSR = Q - delta . P
    let dp = delta.mul(e, &pv).map_err(mpc)?;
    let nssr = Flt::concat(e, &[&q, &dp.neg(e)]).total(e).map_err(mpc)?;
    // precision: exponent gaps between the terms and the result (a zero result has the
    // lowest exponent, so any non-zero term flags it)
    let terms = Flt::concat(e, &[&me, &dx, &q]);
    let res = Flt::concat(e, &[&cst.gather(e, &vec![0; k + 1]), &nssr]);
    let gap = e.add_public(&e.sub(&res.e, &terms.e), &[u128::from_u64(GAP as u64)]);
    let over = e.msb(&gap, 17).map_err(mpc)?;
    let over: A<E> = e.bits2a(&over).map_err(mpc)?;
    let cst_imprecise = e.sum(&e.slice(&over, 0..k + 1));
    let ssr_imprecise = e.add(&e.slice(&over, k + 1..k + 2), &nssr.s);
    Ok(Fit { b, cst, nssr, cst_imprecise, ssr_imprecise })
}

/// Covariance (ddof 1) or Pearson correlation matrices.
fn matrix<E: Engine>(e: &mut E, c: &Cols<E>, function: Id, out: &mut Outputs<E>) -> Result<(), StatsError> {
    let p = c.v.len();
    let n = c.n;
    if n < 2 {
        return Err(StatsError::Invalid(format!("{n} complete rows; {function} needs at least two")));
    }
    let (m, sf, cent) = cross_parts(e, c)?;
    out.push("n", Flt::constant(e, &[n as f64]));
    if function == Id::Corr && p == 2 {
        // the test of r needs 1 - r^2, which is a small difference when |r| is near 1: from
        // the refined residuals of the second column on the first
        let (m00, m01, m11) = (m.slice(e, 0..1), m.slice(e, 1..2), m.slice(e, 2..3));
        let b0 = m01.div(e, &m00).map_err(mpc)?;
        let minv = Flt::constant(e, &[1.0]).div(e, &m00).map_err(mpc)?;
        let fit = refine(e, c, &cent, &sf, &b0, &minv)?;
        out.push("one_minus_r2", fit.nssr.div(e, &m11).map_err(mpc)?);
        out.push("ssr_imprecise", Flt::from_int(e, &fit.ssr_imprecise, 3).map_err(mpc)?);
    }
    match function {
        Id::Cov => {
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
            // a constant column has no correlation: one bit per column says so
            let z = Flt::from_int(e, &d.z, 2).map_err(mpc)?;
            for i in 0..p {
                out.push(format!("constant.{}", c.names[i]), z.slice(e, i..i + 1));
            }
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
    let (m, s, cent) = cross_parts(e, c)?;
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
    let opened = e.open(&bad, mitsu_mpc_core::Reveal::StatisticError).map_err(mpc)?;
    if let Some(j) = opened.iter().position(|b| b.to_i128() != 0) {
        return Err(StatsError::Invalid(format!(
            "singular design matrix: {:?} is (nearly) a linear combination of the other regressors",
            c.names[j]
        )));
    }
    let beta: Vec<u32> = (0..k).map(|i| (i * wd + k) as u32).collect();
    let b0 = a.gather(e, &beta);
    let inv = |i: usize, j: usize| (i * wd + k + 1 + j) as u32;
    let minv = a.gather(e, &(0..k * k).map(|t| inv(t / k, t % k)).collect::<Vec<_>>());
    let fit = refine(e, c, &cent, &s, &b0, &minv)?;
    let myy = m.slice(e, tri(p, k, k)..tri(p, k, k) + 1);
    // 1 - R^2 = n SSR / Myy, from the refined residuals (R^2 near 1 keeps its digits)
    let omr2 = fit.nssr.div(e, &myy).map_err(mpc)?;
    // R^2 itself = b0 . Mxy / Myy (no cancellation for one regressor: precise when R^2 is
    // small, where 1 - (1 - R^2) would not be); the analyst takes whichever is the smaller
    let mxy_idx: Vec<u32> = (0..k).map(|i| tri(p, i, k) as u32).collect();
    let mxy = m.gather(e, &mxy_idx);
    let expl = b0.mul(e, &mxy).map_err(mpc)?.total(e).map_err(mpc)?;
    let r2 = expl.div(e, &myy).map_err(mpc)?;
    // R^2 is undefined for a constant response: one bit says so
    let y_constant = Flt::from_int(e, &myy.z, 2).map_err(mpc)?;
    // sigma^2 = SSR / (n - p); Var(b_j) = sigma^2 n (Mxx^-1)_jj
    let sig2 = fit.nssr.mul_const(e, &[1.0 / (n as f64 * (n - p) as f64)]).map_err(mpc)?;
    let dinv = a.gather(e, &(0..k).map(|j| inv(j, j)).collect::<Vec<_>>());
    let vb = dinv.mul(e, &sig2.gather(e, &vec![0; k])).map_err(mpc)?.mul_const(e, &[n as f64]).map_err(mpc)?;
    let seb = vb.sqrt(e).map_err(mpc)?;
    // Var(const) = sigma^2 (1 + S' Mxx^-1 S) / n
    let sx = s.slice(e, 0..k);
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
    out.push("coef.const", fit.cst);
    out.push("se.const", sec);
    for i in 0..k {
        out.push(format!("coef.{}", c.names[i]), fit.b.slice(e, i..i + 1));
        out.push(format!("se.{}", c.names[i]), seb.slice(e, i..i + 1));
    }
    out.push("r_squared", r2);
    out.push("one_minus_r2", omr2);
    out.push("y_constant", y_constant);
    out.push("cst_imprecise", Flt::from_int(e, &fit.cst_imprecise, lg(k + 1) + 2).map_err(mpc)?);
    out.push("ssr_imprecise", Flt::from_int(e, &fit.ssr_imprecise, 3).map_err(mpc)?);
    Ok(())
}
