//! The analyst's side: opened outputs (name -> value) become the function's JSON answer.
//! p-values and intervals are computed here from the opened statistic and degrees of freedom.

use crate::Args as _;
use crate::Id;
use crate::dist;
use crate::{Request, StatsError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// Marks `fields` of `o` as undefined: null, and the reason in `o.undefined` (a statistic that
/// does not exist for these data is never shown as a number, nor as a null without a reason).
/// The alternative hypothesis of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alt {
    TwoSided,
    Less,
    Greater,
}

/// `--alternative`, checked against the function: only the two-group and paired tests take one.
pub fn check_alternative(req: &Request) -> Result<(), StatsError> {
    alternative(req).map(|_| ())
}

fn alternative(req: &Request) -> Result<Alt, StatsError> {
    let alt = match req.alternative.as_deref() {
        None | Some("two-sided") => return Ok(Alt::TwoSided),
        Some("less") => Alt::Less,
        Some("greater") => Alt::Greater,
        Some(other) => {
            return Err(StatsError::Invalid(format!("--alternative is two-sided, less or greater, not {other:?}")));
        }
    };
    if !["ttest", "ztest", "mannwhitney", "wilcoxon"].contains(&req.function.as_str()) {
        return Err(StatsError::Invalid(format!(
            "--alternative applies to ttest, ztest, mannwhitney and wilcoxon, not {}",
            req.function
        )));
    }
    Ok(alt)
}

/// p-value of a statistic whose null distribution has survival function `sf` (symmetric).
fn p_of(alt: Alt, x: f64, sf: impl Fn(f64) -> f64) -> f64 {
    match alt {
        Alt::TwoSided => (2.0 * sf(x.abs())).min(1.0),
        Alt::Greater => sf(x),
        Alt::Less => sf(-x),
    }
}

fn undefined(o: &mut Value, fields: &[&str], reason: &str) {
    for f in fields {
        o[*f] = Value::Null;
        if !o.get("undefined").is_some_and(Value::is_object) {
            o["undefined"] = json!({});
        }
        o["undefined"][*f] = json!(reason);
    }
}

/// Whether the opened flag `k` is set (absent means not set).
fn flag(v: &BTreeMap<String, f64>, k: &str) -> bool {
    v.get(k).is_some_and(|x| *x != 0.0)
}

/// 1 - R^2 of a regression: opened directly (refined residuals), else from R^2.
fn one_minus_r2(v: &BTreeMap<String, f64>) -> Result<f64, StatsError> {
    match v.get("one_minus_r2") {
        Some(x) => Ok(*x),
        None => Ok(1.0 - get(v, "r_squared")?),
    }
}

/// R^2: the parties open it directly and as 1 - R^2; each is precise where it is the smaller.
fn r_squared(v: &BTreeMap<String, f64>) -> Result<f64, StatsError> {
    let (r2, omr2) = (get(v, "r_squared")?, one_minus_r2(v)?);
    Ok(if omr2 < 0.5 { 1.0 - omr2 } else { r2 })
}

/// Why a regression's standard errors and the tests on them are not shown, if they are not.
fn residual_undefined(v: &BTreeMap<String, f64>) -> Result<Option<String>, StatsError> {
    if flag(v, "y_constant") {
        return Ok(Some("the response is constant: the fit is exact".into()));
    }
    if one_minus_r2(v)? == 0.0 {
        return Ok(Some("the fit is exact: there is no residual variance".into()));
    }
    Ok(flag(v, "ssr_imprecise").then(|| {
        "the fit is nearly exact: the residual variance is too small a difference to know to nine digits, so \
         standard errors and the tests built on them are not shown"
            .to_string()
    }))
}

const IMPRECISE_INTERCEPT: &str = "the intercept is a small difference of large terms here (the slopes times the \
     regressors' means dwarf it): it is not known to nine digits, so it is not shown (centre or rescale a regressor)";

fn get(v: &BTreeMap<String, f64>, k: &str) -> Result<f64, StatsError> {
    v.get(k).copied().ok_or_else(|| StatsError::internal(format!("the parties' answer lacks {k:?}")))
}

/// n of a one-sample test, or the groups and their sizes of a two-sample one.
fn sizes(req: &Request, v: &BTreeMap<String, f64>, o: &mut Value) -> Result<(), StatsError> {
    if req.by.is_some() {
        o["groups"] = json!(req.groups);
        o["n"] = json!([get(v, "n.0")?, get(v, "n.1")?]);
    } else {
        o["n"] = json!(get(v, "n")?);
    }
    Ok(())
}

/// Builds the answer of `req` from the opened values.
pub fn finish(req: &Request, v: &BTreeMap<String, f64>) -> Result<Value, StatsError> {
    let mut o = finish_values(req, v)?;
    integral_counts(&mut o);
    Ok(o)
}

/// Counts as integers, as R and scipy print them: every `n`, `count` and `zeros` (and group
/// sizes under `n`) that holds a whole number. Other fields keep their float type.
fn integral_counts(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if ["n", "count", "zeros"].contains(&k.as_str()) {
                    as_integer(x);
                } else {
                    integral_counts(x);
                }
            }
        }
        Value::Array(xs) => xs.iter_mut().for_each(integral_counts),
        _ => {}
    }
}

fn as_integer(x: &mut Value) {
    match x {
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *x = json!(f as i64);
            }
        }
        Value::Array(xs) => xs.iter_mut().for_each(as_integer),
        Value::Object(m) => m.values_mut().for_each(as_integer),
        _ => {}
    }
}

fn finish_values(req: &Request, v: &BTreeMap<String, f64>) -> Result<Value, StatsError> {
    let f = crate::spec(&req.function)?;
    let conf = req.confidence.unwrap_or(0.95);
    if !(conf > 0.0 && conf < 1.0) {
        return Err(StatsError::Invalid(format!("confidence {conf} is not between 0 and 1")));
    }
    let alt = alternative(req)?;
    match f.id {
        Id::Ztest => {
            let md = get(v, "mean_diff")?;
            let se = get(v, "se")?;
            let z = md / se;
            let mut o =
                json!({"z": num(z), "p_value": num(p_of(alt, z, dist::norm_sf)), "mean_diff": num(md), "se": num(se)});
            sizes(req, v, &mut o)?;
            Ok(o)
        }
        Id::Chisq => {
            let chi = get(v, "chi2")?;
            let df = if req.row.is_some() {
                (req.groups.len() as f64 - 1.0) * (req.col_groups.len() as f64 - 1.0)
            } else {
                req.groups.len() as f64 - 1.0
            };
            let n = get(v, "n")?;
            let mut o = json!({"chi2": num(chi), "df": df, "p_value": num(dist::chi2_sf(chi, df)), "n": n});
            // the counts the test expects, from what it opened (the margins, or n): the observed
            // cells stay secret (`crosstab` opens them)
            if req.row.is_some() {
                let rows: Vec<f64> =
                    (0..req.groups.len()).map(|i| get(v, &format!("row.{i}"))).collect::<Result<_, _>>()?;
                let cols: Vec<f64> =
                    (0..req.col_groups.len()).map(|j| get(v, &format!("col.{j}"))).collect::<Result<_, _>>()?;
                let mut ex = Map::new();
                for (i, r) in req.groups.iter().enumerate() {
                    let row: Map<String, Value> =
                        req.col_groups.iter().zip(&cols).map(|(c, cj)| (c.clone(), num(rows[i] * cj / n))).collect();
                    ex.insert(r.clone(), Value::Object(row));
                }
                o["expected"] = Value::Object(ex);
                o["row_totals"] =
                    Value::Object(req.groups.iter().cloned().zip(rows.iter().map(|x| json!(*x as u64))).collect());
                o["col_totals"] =
                    Value::Object(req.col_groups.iter().cloned().zip(cols.iter().map(|x| json!(*x as u64))).collect());
            } else {
                let k = req.groups.len();
                let total: f64 = if req.expected.is_empty() { k as f64 } else { req.expected.iter().sum() };
                let ex: Map<String, Value> = req
                    .groups
                    .iter()
                    .enumerate()
                    .map(|(j, g)| {
                        let pj = if req.expected.is_empty() { 1.0 } else { req.expected[j] };
                        (g.clone(), num(n * pj / total))
                    })
                    .collect();
                o["expected"] = Value::Object(ex);
            }
            Ok(o)
        }
        Id::Mannwhitney => {
            let (n1, n2) = (get(v, "n.0")?, get(v, "n.1")?);
            let u1 = get(v, "u")?;
            let n = n1 + n2;
            // as scipy: the U of the first group against `greater`, of the second against
            // `less`, the larger against two-sided, with the continuity correction
            let u = match alt {
                Alt::Greater => u1,
                Alt::Less => n1 * n2 - u1,
                Alt::TwoSided => u1.max(n1 * n2 - u1),
            };
            let s = (n1 * n2 / 12.0 * ((n + 1.0) - get(v, "tie_term")? / (n * (n - 1.0)))).sqrt();
            let z = (u - n1 * n2 / 2.0 - 0.5) / s;
            let p = if alt == Alt::TwoSided { 2.0 * dist::norm_sf(z) } else { dist::norm_sf(z) };
            Ok(
                json!({"u": num(u1), "statistic": num(u1), "p_value": num(p.clamp(0.0, 1.0)), "n": [n1, n2], "groups": req.groups}),
            )
        }
        Id::Kruskal => {
            let h = get(v, "h")?;
            let df = req.groups.len() as f64 - 1.0;
            let n: Vec<f64> = (0..req.groups.len()).map(|g| get(v, &format!("n.{g}"))).collect::<Result<_, _>>()?;
            Ok(
                json!({"h": num(h), "statistic": num(h), "df": df, "p_value": num(dist::chi2_sf(h, df)), "n": n, "groups": req.groups}),
            )
        }
        Id::Wilcoxon => {
            let n = get(v, "n")?;
            let rp = get(v, "r_plus")?;
            let rm = n * (n + 1.0) / 2.0 - rp;
            // two-sided: the smaller rank sum; one-sided, as scipy: the positive ranks' sum
            let t = if alt == Alt::TwoSided { rp.min(rm) } else { rp };
            let se = ((n * (n + 1.0) * (2.0 * n + 1.0) - 0.5 * get(v, "tie_term")?) / 24.0).sqrt();
            let z = (t - n * (n + 1.0) / 4.0) / se;
            Ok(json!({"statistic": num(t), "r_plus": num(rp), "r_minus": num(rm), "z": num(z),
                "p_value": num(p_of(alt, z, dist::norm_sf)), "n": n, "zeros": get(v, "zeros")?}))
        }
        Id::Wmean => {
            if get(v, "zero_weight")? != 0.0 {
                return Err(StatsError::Invalid("the weights sum to zero".into()));
            }
            Ok(json!({"wmean": num(get(v, "wmean")?), "n": get(v, "n")?}))
        }
        Id::Linregress => {
            let x = req.x.first().ok_or_else(|| StatsError::Invalid("linregress needs --x A".into()))?;
            let n = get(v, "n")?;
            let (b, se) = (get(v, &format!("coef.{x}"))?, get(v, &format!("se.{x}"))?);
            let r2 = r_squared(v)?;
            let y_constant = flag(v, "y_constant");
            let mut o = json!({"slope": num(b), "intercept": num(get(v, "coef.const")?), "rvalue": num(r2.max(0.0).sqrt().copysign(b)),
                "pvalue": num(dist::t_two_sided(b / se, n - 2.0)), "stderr": num(se), "intercept_stderr": num(get(v, "se.const")?), "n": n});
            if y_constant {
                undefined(&mut o, &["rvalue"], "the response is constant");
            }
            if let Some(why) = residual_undefined(v)? {
                undefined(&mut o, &["pvalue", "stderr", "intercept_stderr"], &why);
            }
            if flag(v, "cst_imprecise") {
                undefined(&mut o, &["intercept"], IMPRECISE_INTERCEPT);
            }
            Ok(o)
        }
        Id::Logit => {
            let names: Vec<String> = std::iter::once("const".to_string()).chain(req.x.iter().cloned()).collect();
            let (mut c, mut se, mut z, mut p) = (Map::new(), Map::new(), Map::new(), Map::new());
            let crit = dist::norm_isf((1.0 - conf) / 2.0);
            let mut ci = Map::new();
            for name in &names {
                let b = get(v, &format!("coef.{name}"))?;
                let s = get(v, &format!("se.{name}"))?;
                c.insert(name.clone(), num(b));
                se.insert(name.clone(), num(s));
                z.insert(name.clone(), num(b / s));
                p.insert(name.clone(), num(2.0 * dist::norm_sf((b / s).abs())));
                ci.insert(name.clone(), json!([num(b - crit * s), num(b + crit * s)]));
            }
            Ok(
                json!({"coefficients": c, "std_errors": se, "z_values": z, "p_values": p, "conf_int": ci, "confidence": conf,
                "log_likelihood": num(get(v, "log_likelihood")?), "n": get(v, "n")?, "iterations": get(v, "iterations")? as u64}),
            )
        }
        Id::Pca => {
            let cols = &req.columns;
            let p = cols.len();
            let mut m = vec![vec![0.0; p]; p];
            for i in 0..p {
                for j in 0..p {
                    m[i][j] = if req.standardize && i == j {
                        1.0
                    } else {
                        let (a, b) = (&cols[i.min(j)], &cols[i.max(j)]);
                        get(v, &format!("{a}|{b}"))?
                    };
                }
            }
            let (vals, vecs) = eigen_symmetric(&m);
            let total: f64 = vals.iter().sum();
            let mut comps = Vec::new();
            for vec in &vecs {
                // the largest-magnitude loading positive
                let big = vec.iter().copied().fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
                let s = if big < 0.0 { -1.0 } else { 1.0 };
                comps.push(vec.iter().map(|x| num(x * s)).collect::<Vec<_>>());
            }
            Ok(json!({"components": comps, "explained_variance": vals.iter().map(|x| num(*x)).collect::<Vec<_>>(),
                "explained_variance_ratio": vals.iter().map(|x| num(x / total)).collect::<Vec<_>>(), "columns": cols, "n": get(v, "n")?}))
        }
        Id::Ttest => {
            let md = get(v, "mean_diff")?;
            let (se, df) = if req.by.is_some() {
                let (na, nb) = (get(v, "n.0")?, get(v, "n.1")?);
                if req.welch {
                    let (a, b) = (get(v, "va_n")?, get(v, "vb_n")?);
                    let df = (a + b).powi(2) / (a * a / (na - 1.0) + b * b / (nb - 1.0));
                    ((a + b).sqrt(), df)
                } else {
                    (get(v, "se")?, na + nb - 2.0)
                }
            } else {
                (get(v, "se")?, get(v, "n")? - 1.0)
            };
            let t = md / se;
            let p = if alt == Alt::TwoSided { dist::t_two_sided(t, df) } else { p_of(alt, t, |x| dist::t_sf(x, df)) };
            let crit = dist::t_isf(if alt == Alt::TwoSided { (1.0 - conf) / 2.0 } else { 1.0 - conf }, df);
            let mut o = json!({
                "t": num(t), "df": num(df), "p_value": num(p), "mean_diff": num(md),
                "se": num(se), "ci_low": num(md - crit * se), "ci_high": num(md + crit * se), "confidence": conf,
            });
            sizes(req, v, &mut o)?;
            // a one-sided interval is open on one end, as scipy's (-inf or inf there)
            match alt {
                Alt::Less => undefined(&mut o, &["ci_low"], "the interval against `less` has no lower end"),
                Alt::Greater => undefined(&mut o, &["ci_high"], "the interval against `greater` has no upper end"),
                Alt::TwoSided => {}
            }
            if se == 0.0 {
                let why = "the values do not vary (the standard error is 0)";
                undefined(&mut o, &["t", "p_value", "ci_low", "ci_high"], why);
                if req.welch {
                    undefined(&mut o, &["df"], why);
                }
            }
            Ok(o)
        }
        Id::Vartest => {
            let fv = get(v, "f")?;
            let (d1, d2) = (get(v, "n.0")? - 1.0, get(v, "n.1")? - 1.0);
            let p = 2.0 * dist::f_cdf(fv, d1, d2).min(dist::f_sf(fv, d1, d2));
            let mut o = json!({"f": num(fv), "df1": d1, "df2": d2, "p_value": num(p.min(1.0)), "groups": req.groups});
            if flag(v, "f_undefined") {
                let b = req.groups.get(1).map(String::as_str).unwrap_or("second");
                undefined(&mut o, &["f", "p_value"], &format!("group {b:?} does not vary (its variance is 0)"));
            }
            Ok(o)
        }
        Id::Anova => {
            let fv = get(v, "f")?;
            let k = req.groups.len() as f64;
            let n: f64 = (0..req.groups.len()).map(|g| get(v, &format!("n.{g}"))).sum::<Result<f64, _>>()?;
            let (db, dw) = (k - 1.0, n - k);
            let mut o = json!({"f": num(fv), "df_between": db, "df_within": dw, "p_value": num(dist::f_sf(fv, db, dw)), "groups": req.groups});
            if flag(v, "f_undefined") {
                undefined(&mut o, &["f", "p_value"], "no group varies within itself (the within-group variance is 0)");
            }
            Ok(o)
        }
        Id::Cov | Id::Corr | Id::Spearman => {
            let cols = &req.columns;
            let constant = |c: &str| f.id != Id::Cov && flag(v, &format!("constant.{c}"));
            let mut m = Map::new();
            for a in cols {
                let mut row = json!({});
                for b in cols {
                    let x = if f.id != Id::Cov && a == b {
                        1.0
                    } else {
                        v.get(&format!("{a}|{b}")).or_else(|| v.get(&format!("{b}|{a}"))).copied().unwrap_or(f64::NAN)
                    };
                    row[b.as_str()] = num(x);
                    if let Some(c) = [a, b].into_iter().find(|c| constant(c)) {
                        undefined(&mut row, &[b.as_str()], &format!("column {c:?} is constant"));
                    }
                }
                m.insert(a.clone(), row);
            }
            let n = get(v, "n")?;
            let mut o = json!({"matrix": m, "n": n});
            if f.id != Id::Cov && cols.len() == 2 {
                let r = get(v, &format!("{}|{}", cols[0], cols[1]))?;
                let df = n - 2.0;
                // 1 - r^2 from the refined residuals where the parties opened it (|r| near 1)
                let omr2 = v.get("one_minus_r2").copied().unwrap_or(1.0 - r * r);
                let p = if omr2 <= 0.0 { 0.0 } else { dist::t_two_sided(r * (df / omr2).sqrt(), df) };
                o["r"] = num(r);
                o["p_value"] = num(p);
                if let Some(c) = cols.iter().find(|c| constant(c)) {
                    undefined(&mut o, &["r", "p_value"], &format!("column {c:?} is constant"));
                } else if df < 1.0 {
                    undefined(
                        &mut o,
                        &["p_value"],
                        "two rows always correlate perfectly; the test needs at least three",
                    );
                }
            }
            Ok(o)
        }
        Id::Ols => {
            let n = get(v, "n")?;
            let names: Vec<String> = std::iter::once("const".to_string()).chain(req.x.iter().cloned()).collect();
            let k = req.x.len() as f64;
            let df = n - k - 1.0;
            let (mut c, mut se, mut t, mut p) = (Map::new(), Map::new(), Map::new(), Map::new());
            let crit = if df > 0.0 { dist::t_isf((1.0 - conf) / 2.0, df) } else { f64::NAN };
            let mut ci = Map::new();
            for name in &names {
                let b = get(v, &format!("coef.{name}"))?;
                let s = get(v, &format!("se.{name}"))?;
                c.insert(name.clone(), num(b));
                se.insert(name.clone(), num(s));
                t.insert(name.clone(), num(b / s));
                p.insert(name.clone(), num(dist::t_two_sided(b / s, df)));
                ci.insert(name.clone(), json!([num(b - crit * s), num(b + crit * s)]));
            }
            let r2 = r_squared(v)?;
            let omr2 = one_minus_r2(v)?;
            let adj = 1.0 - omr2 * (n - 1.0) / df;
            let fv = (r2 / k) / (omr2 / df);
            let mut o = json!({
                "coefficients": c, "std_errors": se, "t_values": t, "p_values": p, "r_squared": num(r2),
                "adj_r_squared": num(adj), "f": num(fv), "f_p_value": num(dist::f_sf(fv, k, df)), "n": n, "df_resid": df,
                "conf_int": ci, "confidence": conf,
            });
            let y_constant = flag(v, "y_constant");
            if y_constant {
                undefined(&mut o, &["r_squared", "adj_r_squared"], "the response is constant");
            }
            if let Some(why) = residual_undefined(v)? {
                for part in ["std_errors", "t_values", "p_values", "conf_int"] {
                    let fields: Vec<&str> = names.iter().map(String::as_str).collect();
                    undefined(&mut o[part], &fields, &why);
                }
                undefined(&mut o, &["f", "f_p_value"], &why);
            }
            if flag(v, "cst_imprecise") {
                for part in ["coefficients", "t_values", "p_values", "conf_int"] {
                    undefined(&mut o[part], &["const"], IMPRECISE_INTERCEPT);
                }
            }
            Ok(o)
        }
        Id::Quantile => {
            let mut cols = Map::new();
            let all = req.columns_or_column()?;
            let single = all.len() == 1;
            for col in all {
                let mut q = Map::new();
                for p in &req.q {
                    let key = if single { format!("quantile.{p}") } else { format!("{col}.quantile.{p}") };
                    q.insert(q_label(*p), num(get(v, &key)?));
                }
                cols.insert(col, Value::Object(q));
            }
            if cols.len() == 1 {
                let (_, q) = cols.into_iter().next().expect("one column");
                Ok(json!({"quantiles": q}))
            } else {
                Ok(
                    json!({"columns": cols.into_iter().map(|(k, q)| (k, json!({"quantiles": q}))).collect::<Map<_, _>>()}),
                )
            }
        }
        // the counting functions are SQL jobs, finished by `counts::run_sql` on the client
        Id::Freq | Id::Crosstab | Id::Histogram => {
            Err(StatsError::internal(format!("{} is answered by SQL jobs, not finished here", f.name)))
        }
        Id::Describe
        | Id::Fivenum
        | Id::Count
        | Id::Sum
        | Id::Mean
        | Id::Variance
        | Id::Std
        | Id::Sem
        | Id::Min
        | Id::Max
        | Id::Range
        | Id::Median
        | Id::Iqr
        | Id::Mode
        | Id::Skewness
        | Id::Kurtosis
        | Id::Cv
        | Id::Mad
        | Id::TrimMean
        | Id::Nunique
        | Id::Gmean
        | Id::Hmean => {
            // describe-kernel functions: per column, the opened fields
            let cols = req.columns_or_column()?;
            let single = cols.len() == 1 && f.id != Id::Describe;
            let mut out = Map::new();
            for col in &cols {
                let mut o = json!({});
                let key = |field: &str| if single { field.to_string() } else { format!("{col}.{field}") };
                for field in f.outputs {
                    o[*field] = v.get(&key(field)).map(|x| num(*x)).unwrap_or(Value::Null);
                }
                let count = v.get(&key("count")).copied();
                // why a field has no value, most specific reason first
                let spread = ["variance", "std", "sem", "cv", "skewness", "kurtosis"];
                for field in f.outputs {
                    let moment = ["skewness", "kurtosis"].contains(field) && flag(v, &key("degenerate"));
                    let cv = *field == "cv" && flag(v, &key("cv_undefined"));
                    if !o[*field].is_null() && !moment && !cv {
                        continue;
                    }
                    let why = if count == Some(0.0) {
                        "the column has no values".to_string()
                    } else if count == Some(1.0) && spread.contains(field) {
                        "one value has no sample variance".to_string()
                    } else if moment {
                        "the values are constant".to_string()
                    } else if cv {
                        "the mean is 0".to_string()
                    } else if v.contains_key(&key(field)) {
                        "the value is not a finite number".to_string()
                    } else {
                        "not computed for these data".to_string()
                    };
                    undefined(&mut o, &[*field], &why);
                }
                let Value::Object(mut o) = o else { unreachable!("built as an object") };
                if let Some(g) = o.get("gmean").and_then(|x| x.as_f64()) {
                    // the parties open the mean logarithm
                    o["gmean"] = num(g.exp());
                }
                for k in ["count", "nunique"] {
                    if let Some(x) = o.get(k).and_then(|x| x.as_f64()) {
                        o[k] = json!(x as u64);
                    }
                }
                if o.contains_key("count") {
                    o["count"] = json!(o["count"].as_f64().unwrap_or(0.0) as u64);
                }
                out.insert(col.clone(), Value::Object(o));
            }
            if single { Ok(out.into_iter().next().expect("one column").1) } else { Ok(json!({"columns": out})) }
        }
    }
}

/// A quantile's key as Python prints the float ("0.1", "0.0", "1.0").
pub fn q_label(p: f64) -> String {
    if p.fract() == 0.0 { format!("{p:.1}") } else { p.to_string() }
}

/// Eigenvalues (descending) and unit eigenvectors of a small symmetric matrix by cyclic Jacobi
/// rotations (analyst side: the matrix is already open).
fn eigen_symmetric(m: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let p = m.len();
    let mut a = m.to_vec();
    let mut v: Vec<Vec<f64>> = (0..p).map(|i| (0..p).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    for _ in 0..100 {
        let off: f64 = (0..p)
            .flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        let scale: f64 = (0..p).map(|i| a[i][i] * a[i][i]).sum();
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for i in 0..p {
            for j in i + 1..p {
                if a[i][j] == 0.0 {
                    continue;
                }
                let theta = (a[j][j] - a[i][i]) / (2.0 * a[i][j]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..p {
                    let (aki, akj) = (a[k][i], a[k][j]);
                    a[k][i] = c * aki - s * akj;
                    a[k][j] = s * aki + c * akj;
                }
                for k in 0..p {
                    let (aik, ajk) = (a[i][k], a[j][k]);
                    a[i][k] = c * aik - s * ajk;
                    a[j][k] = s * aik + c * ajk;
                }
                for row in v.iter_mut() {
                    let (vi, vj) = (row[i], row[j]);
                    row[i] = c * vi - s * vj;
                    row[j] = s * vi + c * vj;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&x, &y| a[y][y].total_cmp(&a[x][x]));
    let vals = order.iter().map(|&k| a[k][k]).collect();
    let vecs = order.iter().map(|&k| (0..p).map(|r| v[r][k]).collect()).collect();
    (vals, vecs)
}
