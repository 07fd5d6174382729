//! The analyst's side: opened outputs (name -> value) become the function's JSON answer.
//! p-values and intervals are computed here from the opened statistic and degrees of freedom.

use crate::dist;
use crate::{Request, StatsError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn get(v: &BTreeMap<String, f64>, k: &str) -> Result<f64, StatsError> {
    v.get(k).copied().ok_or_else(|| StatsError::Mpc(format!("the parties' answer lacks {k:?}")))
}

/// Builds the answer of `req` from the opened values.
pub fn finish(req: &Request, v: &BTreeMap<String, f64>) -> Result<Value, StatsError> {
    let f = crate::spec(&req.function)?;
    let conf = req.confidence.unwrap_or(0.95);
    if !(conf > 0.0 && conf < 1.0) {
        return Err(StatsError::Invalid(format!("confidence {conf} is not between 0 and 1")));
    }
    match f.name {
        "ttest" => {
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
            let crit = dist::t_isf((1.0 - conf) / 2.0, df);
            let mut o = json!({
                "t": num(t), "df": num(df), "p_value": num(dist::t_two_sided(t, df)), "mean_diff": num(md),
                "se": num(se), "ci_low": num(md - crit * se), "ci_high": num(md + crit * se), "confidence": conf,
            });
            if req.by.is_some() {
                o["groups"] = json!(req.groups);
                o["n"] = json!([get(v, "n.0")?, get(v, "n.1")?]);
            } else {
                o["n"] = json!(get(v, "n")?);
            }
            Ok(o)
        }
        "vartest" => {
            let fv = get(v, "f")?;
            let (d1, d2) = (get(v, "n.0")? - 1.0, get(v, "n.1")? - 1.0);
            let p = 2.0 * dist::f_cdf(fv, d1, d2).min(dist::f_sf(fv, d1, d2));
            Ok(json!({"f": num(fv), "df1": d1, "df2": d2, "p_value": num(p.min(1.0)), "groups": req.groups}))
        }
        "anova" => {
            let fv = get(v, "f")?;
            let k = req.groups.len() as f64;
            let n: f64 = (0..req.groups.len()).map(|g| get(v, &format!("n.{g}"))).sum::<Result<f64, _>>()?;
            let (db, dw) = (k - 1.0, n - k);
            Ok(
                json!({"f": num(fv), "df_between": db, "df_within": dw, "p_value": num(dist::f_sf(fv, db, dw)), "groups": req.groups}),
            )
        }
        "cov" | "corr" => {
            let cols = &req.columns;
            let mut m = Map::new();
            for a in cols {
                let mut row = Map::new();
                for b in cols {
                    let x = if f.name == "corr" && a == b {
                        1.0
                    } else {
                        v.get(&format!("{a}|{b}")).or_else(|| v.get(&format!("{b}|{a}"))).copied().unwrap_or(f64::NAN)
                    };
                    row.insert(b.clone(), num(x));
                }
                m.insert(a.clone(), Value::Object(row));
            }
            let n = get(v, "n")?;
            let mut o = json!({"matrix": m, "n": n});
            if f.name == "corr" && cols.len() == 2 {
                let r = get(v, &format!("{}|{}", cols[0], cols[1]))?;
                let df = n - 2.0;
                let p = if r.abs() >= 1.0 { 0.0 } else { dist::t_two_sided(r * (df / (1.0 - r * r)).sqrt(), df) };
                o["r"] = num(r);
                o["p_value"] = num(p);
            }
            Ok(o)
        }
        "ols" => {
            let n = get(v, "n")?;
            let names: Vec<String> = std::iter::once("const".to_string()).chain(req.x.iter().cloned()).collect();
            let k = req.x.len() as f64;
            let df = n - k - 1.0;
            let (mut c, mut se, mut t, mut p) = (Map::new(), Map::new(), Map::new(), Map::new());
            for name in &names {
                let b = get(v, &format!("coef.{name}"))?;
                let s = get(v, &format!("se.{name}"))?;
                c.insert(name.clone(), num(b));
                se.insert(name.clone(), num(s));
                t.insert(name.clone(), num(b / s));
                p.insert(name.clone(), num(dist::t_two_sided(b / s, df)));
            }
            let r2 = get(v, "r_squared")?;
            let adj = 1.0 - (1.0 - r2) * (n - 1.0) / df;
            let fv = (r2 / k) / ((1.0 - r2) / df);
            Ok(json!({
                "coefficients": c, "std_errors": se, "t_values": t, "p_values": p, "r_squared": num(r2),
                "adj_r_squared": num(adj), "f": num(fv), "f_p_value": num(dist::f_sf(fv, k, df)), "n": n, "df_resid": df,
            }))
        }
        "quantile" => {
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
        _ => {
            // describe-kernel functions: per column, the opened fields
            let cols = req.columns_or_column()?;
            let single = cols.len() == 1 && f.name != "describe";
            let mut out = Map::new();
            for col in &cols {
                let mut o = Map::new();
                for field in f.outputs {
                    let key = if single { field.to_string() } else { format!("{col}.{field}") };
                    o.insert(field.to_string(), v.get(&key).map(|x| num(*x)).unwrap_or(Value::Null));
                }
                let degenerate = if single { v.get("degenerate") } else { v.get(&format!("{col}.degenerate")) };
                if degenerate.is_some_and(|d| *d != 0.0) {
                    for k in ["skewness", "kurtosis"] {
                        if o.contains_key(k) {
                            o.insert(k.to_string(), Value::Null);
                        }
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
