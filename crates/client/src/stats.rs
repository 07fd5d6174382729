//! Analyses run as jobs at the three parties; results are reconstructed here, on the analyst's
//! machine.

use crate::{Client, ClientError};
use mitsu_api::{Kind, Schema};
use mitsu_crypto::{Prg, Seed};
use serde::Serialize;
use std::collections::BTreeMap;

/// Descriptive statistics of one column (NULLs skipped). `None` where undefined (no values, or
/// fewer than two for the variance).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Describe {
    pub count: u64,
    pub mean: Option<f64>,
    pub variance: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// What `describe` opens, for the analyst to see beside the result.
pub const DESCRIBE_LEAKAGE: &str = "per column: the count of non-NULL values, their sum and sum of squares \
(exactly the information in mean and variance) and the minimum and maximum; nothing else";

fn job_id() -> u64 {
    let mut p = Prg::new(Seed::random());
    loop {
        let j = p.next_u64();
        if j != 0 {
            return j;
        }
    }
}

impl Client {
    /// The schema of a table (from the first party that answers).
    pub fn schema(&self, table: &str) -> Result<Schema, ClientError> {
        let mut last = None;
        for i in 0..3 {
            match self.expect(i, "GET", &format!("/v1/tables/{table}"), &[]) {
                Ok(v) => {
                    return serde_json::from_value(v["schema"].clone())
                        .map_err(|e| ClientError::Party { party: i, what: e.to_string() });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("three attempts"))
    }

    /// Runs a job at all three parties; each party's raw answer.
    pub fn job_parts(&self, body: serde_json::Value) -> Result<Vec<Vec<u8>>, ClientError> {
        let mut body = body;
        body["job"] = job_id().into();
        let text = body.to_string();
        let parts: Vec<Result<Vec<u8>, ClientError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let text = &text;
                    s.spawn(move || {
                        let (st, bytes) = self.call_bytes(i, "POST", "/v1/jobs", text.as_bytes())?;
                        if st != 200 {
                            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                            return Err(ClientError::Party {
                                party: i,
                                what: v["error"].as_str().unwrap_or("job failed").to_string(),
                            });
                        }
                        Ok(bytes)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("job thread")).collect()
        });
        // a refusal (400) is the same at every party; report the first party's reason
        parts.into_iter().collect()
    }

    /// Runs a job at all three parties and reconstructs the 128-bit result.
    pub fn job(&self, body: serde_json::Value) -> Result<Vec<i128>, ClientError> {
        let parts = self.job_parts(body)?;
        let words: Vec<Vec<u128>> = parts
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if b.len() % 16 != 0 {
                    return Err(ClientError::Party { party: i, what: "returned a malformed result".into() });
                }
                Ok(b.chunks_exact(16).map(|c| u128::from_le_bytes(c.try_into().unwrap())).collect())
            })
            .collect::<Result<_, _>>()?;
        if words[1].len() != words[0].len() || words[2].len() != words[0].len() {
            return Err(ClientError::Config("the parties returned results of different sizes".into()));
        }
        Ok((0..words[0].len())
            .map(|i| words[0][i].wrapping_add(words[1][i]).wrapping_add(words[2][i]) as i128)
            .collect())
    }

    /// count, mean, variance (ddof 1), std, min, max of each column.
    /// `from` is a table name or a SELECT query.
    pub fn describe(&self, from: &str, columns: &[String]) -> Result<BTreeMap<String, Describe>, ClientError> {
        if is_query(from) {
            return self.describe_query(from, columns);
        }
        let table = from;
        let schema = self.schema(table)?;
        let v = self.job(serde_json::json!({"kind": "describe", "table": table, "columns": columns}))?;
        if v.len() != 5 * columns.len() {
            return Err(ClientError::Config("the parties returned a result of the wrong size".into()));
        }
        let mut out = BTreeMap::new();
        for (k, col) in columns.iter().enumerate() {
            let d = match schema.column(col).map(|(_, c)| &c.kind) {
                Some(Kind::Decimal { scale }) => *scale,
                _ => 0,
            };
            let r = &v[5 * k..5 * k + 5];
            out.insert(col.clone(), finish(r[0], r[1], r[2], r[3], r[4], d));
        }
        Ok(out)
    }

    /// describe over a query: per column one SQL job opening exactly what the table form opens
    /// (count, sum, sum of squares, minimum, maximum).
    fn describe_query(&self, sql: &str, columns: &[String]) -> Result<BTreeMap<String, Describe>, ClientError> {
        let mut out = BTreeMap::new();
        for col in columns {
            let c = format!("\"{}\"", col.replace('"', "\"\""));
            let q = format!(
                "SELECT COUNT({c}), SUM({c}), SUM({c} * {c}), MIN({c}), MAX({c}) FROM ({sql}) AS describe_from"
            );
            let r = self.sql(&q)?;
            let row = r.rows.first().ok_or_else(|| ClientError::Config("describe: no result row".into()))?;
            let int = |v: &mitsu_query::Value| -> Result<(i128, u32), ClientError> {
                match v {
                    mitsu_query::Value::Null => Ok((0, 0)),
                    mitsu_query::Value::Int(x) => Ok((*x, 0)),
                    mitsu_query::Value::Dec(m, d) => Ok((*m, *d)),
                    other => Err(ClientError::Config(format!("describe: column {col:?} gave {other}, not a number"))),
                }
            };
            let (n, _) = int(&row[0])?;
            let (s1, d) = int(&row[1])?;
            let (s2, _) = int(&row[2])?;
            let (mn, _) = int(&row[3])?;
            let (mx, _) = int(&row[4])?;
            out.insert(col.clone(), finish(n, s1, s2, mn, mx, d));
        }
        Ok(out)
    }
}

/// A SELECT (or WITH … SELECT) rather than a table name.
pub fn is_query(from: &str) -> bool {
    let t = from.trim_start().to_ascii_lowercase();
    t.starts_with("select") || t.starts_with("(")
}

/// Moments from count, sum and sum of squares of values with `d` decimal places.
fn finish(n: i128, s1: i128, s2: i128, mn: i128, mx: i128, d: u32) -> Describe {
    let scale = 10f64.powi(d as i32);
    let mean = (n > 0).then(|| s1 as f64 / n as f64 / scale);
    // n * s2 - s1^2 exactly when it fits; the division happens once, in f64
    let variance = (n > 1).then(|| {
        let num = n.checked_mul(s2).and_then(|a| s1.checked_mul(s1).and_then(|b| a.checked_sub(b)));
        let num = num.map(|x| x as f64).unwrap_or(n as f64 * s2 as f64 - (s1 as f64) * (s1 as f64));
        num / (n as f64 * (n as f64 - 1.0)) / (scale * scale)
    });
    Describe {
        count: n as u64,
        mean,
        variance,
        std: variance.map(f64::sqrt),
        min: (n > 0).then(|| mn as f64 / scale),
        max: (n > 0).then(|| mx as f64 / scale),
    }
}
