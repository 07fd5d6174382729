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

    /// Runs a job at all three parties and reconstructs the 128-bit result.
    pub fn job(&self, body: serde_json::Value) -> Result<Vec<i128>, ClientError> {
        let mut body = body;
        body["job"] = job_id().into();
        let text = body.to_string();
        let parts: Vec<Result<Vec<u128>, ClientError>> = std::thread::scope(|s| {
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
                        if bytes.len() % 16 != 0 {
                            return Err(ClientError::Party { party: i, what: "returned a malformed result".into() });
                        }
                        Ok(bytes.chunks_exact(16).map(|c| u128::from_le_bytes(c.try_into().unwrap())).collect())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("job thread")).collect()
        });
        let parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
        if parts[1].len() != parts[0].len() || parts[2].len() != parts[0].len() {
            return Err(ClientError::Config("the parties returned results of different sizes".into()));
        }
        Ok((0..parts[0].len())
            .map(|i| parts[0][i].wrapping_add(parts[1][i]).wrapping_add(parts[2][i]) as i128)
            .collect())
    }

    /// count, mean, variance (ddof 1), std, min, max of each column.
    pub fn describe(&self, table: &str, columns: &[String]) -> Result<BTreeMap<String, Describe>, ClientError> {
        let schema = self.schema(table)?;
        let v = self.job(serde_json::json!({"kind": "describe", "table": table, "columns": columns}))?;
        if v.len() != 5 * columns.len() {
            return Err(ClientError::Config("the parties returned a result of the wrong size".into()));
        }
        let mut out = BTreeMap::new();
        for (k, col) in columns.iter().enumerate() {
            let scale = match schema.column(col).map(|(_, c)| &c.kind) {
                Some(Kind::Decimal { scale }) => 10f64.powi(*scale as i32),
                _ => 1.0,
            };
            let r = &v[5 * k..5 * k + 5];
            let (n, s1, s2) = (r[0], r[1], r[2]);
            let mean = (n > 0).then(|| s1 as f64 / n as f64 / scale);
            // n * s2 - s1^2 exactly when it fits; the division happens once, in f64
            let variance = (n > 1).then(|| {
                let num = n.checked_mul(s2).and_then(|a| s1.checked_mul(s1).and_then(|b| a.checked_sub(b)));
                let num = num.map(|x| x as f64).unwrap_or(n as f64 * s2 as f64 - (s1 as f64) * (s1 as f64));
                num / (n as f64 * (n as f64 - 1.0)) / (scale * scale)
            });
            out.insert(
                col.clone(),
                Describe {
                    count: n as u64,
                    mean,
                    variance,
                    std: variance.map(f64::sqrt),
                    min: (n > 0).then(|| r[3] as f64 / scale),
                    max: (n > 0).then(|| r[4] as f64 / scale),
                },
            );
        }
        Ok(out)
    }
}
