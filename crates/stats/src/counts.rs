//! Counts: frequency tables, contingency tables and histograms are GROUP BY / SUM(CASE …)
//! queries (the analyst's client runs them as SQL jobs, so every SQL check and leakage rule
//! applies and the parties treat them like any query); the chi-square tests count indicator
//! columns under MPC and open only the statistic and the margins.

use crate::Args as _;
use crate::Id;
use crate::common::{A, Cols, Outputs, dots, lg, mpc};
use crate::flt::{F, Flt};
use crate::{Request, StatsError, from_clause, quote_ident};
use mitsu_algebra::Ring;
use mitsu_mpc_core::Engine;
use mitsu_query::Value;
use serde_json::{Map, Value as Json, json};

/// Runs one SQL query and returns its rows.
pub type RunSql<'a> = dyn FnMut(&str) -> Result<Vec<Vec<Value>>, StatsError> + 'a;

fn label(v: &Value) -> String {
    v.to_string()
}

fn count(v: &Value) -> Result<u64, StatsError> {
    v.as_f64().map(|x| x as u64).ok_or_else(|| StatsError::internal(format!("a count came back as {v}")))
}

/// Numbers by value, other labels by text.
fn sort_labels(rows: &mut [Vec<Value>], col: usize) {
    rows.sort_by(|a, b| match (a[col].as_f64(), b[col].as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a[col].to_string().cmp(&b[col].to_string()),
    });
}

/// freq, crosstab and histogram through `run`.
pub fn run_sql(req: &Request, run: &mut RunSql<'_>) -> Result<Json, StatsError> {
    let from = from_clause(&req.from);
    match crate::spec(&req.function)?.id {
        Id::Freq => {
            let c = quote_ident(&req.one_column()?);
            let mut rows = run(&format!("SELECT {c}, COUNT(*) FROM {from} WHERE {c} IS NOT NULL GROUP BY {c}"))?;
            sort_labels(&mut rows, 0);
            let n: u64 = rows.iter().map(|r| count(&r[1])).sum::<Result<u64, _>>()?;
            let (mut f, mut p, mut levels) = (Map::new(), Map::new(), Vec::new());
            for r in &rows {
                let k = count(&r[1])?;
                f.insert(label(&r[0]), json!(k));
                p.insert(label(&r[0]), json!(k as f64 / n as f64));
                levels.push(label(&r[0]));
            }
            Ok(json!({"freq": f, "proportions": p, "levels": levels, "n": n}))
        }
        Id::Crosstab => {
            let (r, c) = row_col(req)?;
            let (qr, qc) = (quote_ident(&r), quote_ident(&c));
            let rows = run(&format!(
                "SELECT {qr}, {qc}, COUNT(*) FROM {from} WHERE {qr} IS NOT NULL AND {qc} IS NOT NULL GROUP BY {qr}, {qc}"
            ))?;
            let mut rl: Vec<Vec<Value>> = rows.iter().map(|x| vec![x[0].clone()]).collect();
            let mut cl: Vec<Vec<Value>> = rows.iter().map(|x| vec![x[1].clone()]).collect();
            sort_labels(&mut rl, 0);
            sort_labels(&mut cl, 0);
            let mut rlab: Vec<String> = rl.iter().map(|x| label(&x[0])).collect();
            let mut clab: Vec<String> = cl.iter().map(|x| label(&x[0])).collect();
            rlab.dedup();
            clab.dedup();
            let mut table = Map::new();
            let mut rt = Map::new();
            let mut ct: Map<String, Json> = clab.iter().map(|c| (c.clone(), json!(0))).collect();
            let mut n = 0;
            for a in &rlab {
                let mut row = Map::new();
                let mut tot = 0;
                for b in &clab {
                    let k = match rows.iter().find(|x| &label(&x[0]) == a && &label(&x[1]) == b) {
                        Some(x) => count(&x[2])?,
                        None => 0,
                    };
                    row.insert(b.clone(), json!(k));
                    tot += k;
                    ct[b] = json!(ct[b].as_u64().unwrap_or(0) + k);
                }
                n += tot;
                rt.insert(a.clone(), json!(tot));
                table.insert(a.clone(), Json::Object(row));
            }
            Ok(json!({"table": table, "rows": rlab, "cols": clab, "row_totals": rt, "col_totals": ct, "n": n}))
        }
        Id::Histogram => {
            let col = req.one_column()?;
            let c = quote_ident(&col);
            let bins = req.bins.unwrap_or(10);
            if bins == 0 || bins > 1000 {
                return Err(StatsError::Invalid(format!("--bins {bins}: choose between 1 and 1000")));
            }
            let r = run(&format!("SELECT MIN({c}), MAX({c}), COUNT({c}) FROM {from}"))?;
            let row = r.first().ok_or_else(|| StatsError::internal("MIN/MAX returned no row"))?;
            if count(&row[2])? == 0 {
                return Err(StatsError::Invalid(format!("column {col:?} has no values to put in bins")));
            }
            let grid = match &row[0] {
                Value::Int(_) => 0,
                Value::Dec(_, d) => *d,
                Value::Real(_) => {
                    return Err(StatsError::Invalid(format!(
                        "histogram of the real-valued column {col:?}: round it in a query first (e.g. --from \"SELECT ROUND({col}, 6) AS {col} FROM …\")"
                    )));
                }
                other => {
                    return Err(StatsError::Invalid(format!("column {col:?} holds {other}; histogram needs numbers")));
                }
            };
            let (mut lo, mut hi) = (row[0].as_f64().unwrap_or(0.0), row[1].as_f64().unwrap_or(0.0));
            if lo == hi {
                // numpy widens an empty range by 0.5 on each side
                lo -= 0.5;
                hi += 0.5;
            }
            let step = (hi - lo) / bins as f64;
            let mut edges: Vec<f64> = (0..bins).map(|i| lo + i as f64 * step).collect();
            edges.push(hi);
            // numpy compares each value (as a double) with each edge; on the column's decimal
            // grid that is `value >= K / 10^d` for the smallest K whose double reaches the edge
            let at = |x: f64| threshold(x, grid);
            let mut parts = Vec::new();
            for i in 0..bins {
                let upper = if i + 1 == bins {
                    format!("{c} <= {}", at_max(hi, grid))
                } else {
                    format!("{c} < {}", at(edges[i + 1]))
                };
                parts.push(format!("SUM(CASE WHEN {c} >= {} AND {upper} THEN 1 ELSE 0 END)", at(edges[i])));
            }
            let r = run(&format!("SELECT {} FROM {from} WHERE {c} IS NOT NULL", parts.join(", ")))?;
            let counts: Vec<u64> = match r.first() {
                Some(row) => row
                    .iter()
                    .map(|v| if matches!(v, Value::Null) { Ok(0) } else { count(v) })
                    .collect::<Result<_, _>>()?,
                None => vec![0; bins],
            };
            Ok(json!({"counts": counts, "edges": edges}))
        }
        other => Err(StatsError::Invalid(format!("{other} is not a counting function"))),
    }
}

/// The decimal literal K / 10^d for the smallest K with double(K / 10^d) >= x.
fn threshold(x: f64, d: u32) -> String {
    let s = 10f64.powi(d as i32);
    let mut k = (x * s).floor() as i128 - 2;
    while (k as f64) / s < x {
        k += 1;
    }
    decimal(k, d)
}

/// The largest grid value whose double is <= x, as a literal (the last bin includes its edge).
fn at_max(x: f64, d: u32) -> String {
    let s = 10f64.powi(d as i32);
    let mut k = (x * s).ceil() as i128 + 2;
    while (k as f64) / s > x {
        k -= 1;
    }
    decimal(k, d)
}

fn decimal(k: i128, d: u32) -> String {
    if d == 0 {
        return k.to_string();
    }
    let p = 10i128.pow(d);
    let sign = if k < 0 { "-" } else { "" };
    let a = k.unsigned_abs();
    format!("{sign}{}.{:0w$}", a / p as u128, a % p as u128, w = d as usize)
}

fn row_col(req: &Request) -> Result<(String, String), StatsError> {
    match (&req.row, &req.col) {
        (Some(r), Some(c)) => Ok((r.clone(), c.clone())),
        _ => Err(StatsError::Invalid(format!("{} needs --row R --col C", req.function))),
    }
}

/// Chi-square test of independence: columns 0..r are the row indicators, r..r+c the column
/// indicators of complete rows. Opens the margins and chi2.
pub(crate) fn independence<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    r: usize,
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let k = c.v.len() - r;
    let totals: Vec<A<E>> = c.v.iter().map(|v| e.sum(v)).collect();
    let t = e.concat(&totals.iter().collect::<Vec<_>>());
    let m: Vec<u64> =
        e.open(&t, mitsu_mpc_core::Reveal::StatisticCounts).map_err(mpc)?.iter().map(|x| x.to_i128() as u64).collect();
    let n: u64 = m[..r].iter().sum();
    if let Some(i) = m.iter().position(|&x| x == 0) {
        return Err(StatsError::Invalid(format!(
            "level {:?} has no complete rows; leave it out with --groups / --col-groups",
            c.names[i]
        )));
    }
    let mut pairs = Vec::new();
    for i in 0..r {
        for j in 0..k {
            pairs.push((&c.v[i], &c.v[r + j]));
        }
    }
    let o = dots(e, &pairs)?;
    // D_ij = n O_ij - R_i C_j (exact): chi2 = sum D_ij^2 / (n R_i C_j), no cancellation
    let rc: Vec<u128> = (0..r)
        .flat_map(|i| (0..k).map(move |j| (i, j)))
        .map(|(i, j)| u128::from_i128(-((m[i] * m[r + j]) as i128)))
        .collect();
    let d = e.add_public(&e.mul_public(&o, &[u128::from_u64(n)]), &rc);
    let d2 = e.mul(&d, &d).map_err(mpc)?;
    let w: Vec<f64> = (0..r)
        .flat_map(|i| (0..k).map(move |j| (i, j)))
        .map(|(i, j)| 1.0 / (n as f64 * m[i] as f64 * m[r + j] as f64))
        .collect();
    let chi = Flt::from_int(e, &d2, (4 * lg(n as usize) + 4).min(126))
        .map_err(mpc)?
        .mul_const(e, &w)
        .map_err(mpc)?
        .total(e)
        .map_err(mpc)?;
    out.push("n", Flt::constant(e, &[n as f64]));
    for (i, &x) in m.iter().enumerate() {
        let name = if i < r { format!("row.{i}") } else { format!("col.{}", i - r) };
        out.push(name, Flt::constant(e, &[x as f64]));
    }
    out.push("chi2", chi);
    Ok(())
}

/// Goodness of fit of the level counts (indicator columns) to expected proportions.
pub(crate) fn goodness<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    expected: &[f64],
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let k = c.v.len();
    let p: Vec<f64> = if expected.is_empty() {
        vec![1.0 / k as f64; k]
    } else if expected.len() != k {
        return Err(StatsError::Invalid(format!("--expected has {} values for {k} levels", expected.len())));
    } else if expected.iter().any(|&x| !(x > 0.0 && x.is_finite())) {
        return Err(StatsError::Invalid("--expected values must be positive".into()));
    } else {
        let s: f64 = expected.iter().sum();
        expected.iter().map(|x| x / s).collect()
    };
    let counts: Vec<A<E>> = c.v.iter().map(|v| e.sum(v)).collect();
    let o = e.concat(&counts.iter().collect::<Vec<_>>());
    let n = e.open(&e.sum(&o), mitsu_mpc_core::Reveal::StatisticCounts).map_err(mpc)?[0].to_i128() as u64;
    if n == 0 {
        return Err(StatsError::Invalid("no rows have one of the levels".into()));
    }
    // D_j = O_j - n p_j at F fraction bits; chi2 = sum D_j^2 / (n p_j)
    let ex: Vec<u128> =
        p.iter().map(|&q| u128::from_i128(-((n as f64 * q * (2f64).powi(F as i32)).round() as i128))).collect();
    let d = e.add_public(&e.mul_public(&o, &[u128::pow2(F)]), &ex);
    let d2 = e.mul(&d, &d).map_err(mpc)?;
    let w: Vec<f64> = p.iter().map(|&q| 1.0 / (n as f64 * q)).collect();
    let bits = 2 * (lg(n as usize) + F + 1);
    let chi =
        Flt::from_fixed(e, &d2, bits, 2 * F).map_err(mpc)?.mul_const(e, &w).map_err(mpc)?.total(e).map_err(mpc)?;
    out.push("n", Flt::constant(e, &[n as f64]));
    out.push("chi2", chi);
    Ok(())
}
