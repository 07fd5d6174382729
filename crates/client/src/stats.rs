//! Statistics run as jobs at the three parties (see `mitsu_stats`); the outputs are reconstructed
//! here, on the analyst's machine, where p-values and intervals are computed from them.

use crate::{Client, ClientError};
use mitsu_api::Schema;
use mitsu_crypto::{Prg, Seed};
use mitsu_stats::{Request, StatsError, quote_ident};
use std::collections::BTreeMap;

/// A function's answer with what it cost.
#[derive(Debug, Clone)]
pub struct StatsResult {
    /// The function's JSON answer (field names as in docs/statistics.md).
    pub value: serde_json::Value,
    /// What the function opened, to whom.
    pub leakage: &'static str,
    /// Measured: rounds and bytes sent by the busiest party.
    pub rounds: u64,
    pub bytes_per_party: u64,
    /// What the parties' engines recorded opening among themselves (the same at all three);
    /// `None` for the counting functions, which run as SQL jobs (their EXPLAIN lists it).
    pub parties_opened: Option<Vec<String>>,
}

fn job_id() -> u64 {
    let mut p = Prg::new(Seed::random());
    loop {
        let j = p.next_u64();
        if j != 0 {
            return j;
        }
    }
}

fn serr(e: StatsError) -> ClientError {
    ClientError::Config(e.to_string())
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

    /// The sorted levels of `by` in the request's rows (a GROUP BY opening the labels and their
    /// counts to the analyst; the group sizes are opened by grouped tests anyway).
    fn levels(&self, req: &Request, by: &str) -> Result<Vec<String>, ClientError> {
        let b = quote_ident(by);
        let q = format!(
            "SELECT {b}, COUNT(*) FROM {} WHERE {b} IS NOT NULL GROUP BY {b}",
            mitsu_stats::from_clause(&req.from)
        );
        let r = self.sql(&q)?;
        let mut vals: Vec<mitsu_query::Value> = r.rows.into_iter().map(|mut row| row.swap_remove(0)).collect();
        vals.sort_by(|a, b| match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => a.to_string().cmp(&b.to_string()),
        });
        Ok(vals.iter().map(|v| v.to_string()).collect())
    }

    /// Runs a statistics function (see `mitsu_stats::FUNCTIONS`).
    pub fn stats(&self, req: &Request) -> Result<StatsResult, ClientError> {
        let f = mitsu_stats::spec(&req.function).map_err(serr)?;
        let mut req = req.clone();
        req.function = f.name.to_string();
        if f.kernel == mitsu_stats::Kernel::Sql {
            // counting functions are GROUP BY queries: run as SQL jobs, every SQL check applies
            let mut cost = (0, 0);
            let value = mitsu_stats::counts::run_sql(&req, &mut |q: &str| {
                let r = self.sql(q).map_err(|e| StatsError::Invalid(e.to_string()))?;
                cost = (cost.0 + r.rounds, cost.1 + r.bytes_per_party);
                Ok(r.rows)
            })
            .map_err(serr)?;
            return Ok(StatsResult {
                value,
                leakage: f.leakage,
                rounds: cost.0,
                bytes_per_party: cost.1,
                parties_opened: None,
            });
        }
        if f.name == "chisq" {
            match (req.row.clone(), req.col.clone()) {
                (Some(r), Some(c)) => {
                    if req.groups.is_empty() {
                        req.groups = self.levels(&req, &r)?;
                    }
                    if req.col_groups.is_empty() {
                        req.col_groups = self.levels(&req, &c)?;
                    }
                }
                _ => {
                    if req.groups.is_empty() {
                        let c = req.one_column().map_err(serr)?;
                        req.groups = self.levels(&req, &c)?;
                    }
                }
            }
        }
        if let Some(by) = req.by.clone()
            && req.groups.is_empty()
            && matches!(f.name, "ttest" | "ztest" | "vartest" | "anova" | "mannwhitney" | "kruskal")
        {
            req.groups = self.levels(&req, &by)?;
            let two = !matches!(f.name, "anova" | "kruskal");
            if (two && req.groups.len() != 2) || req.groups.len() < 2 {
                return Err(ClientError::Config(format!(
                    "grouping column {by:?} has {} levels ({}); {} needs {} — choose them with --groups",
                    req.groups.len(),
                    req.groups.join(", "),
                    f.name,
                    if two { "exactly two" } else { "at least two" }
                )));
            }
        }
        if matches!(f.name, "ttest" | "ztest" | "mannwhitney" | "vartest") && req.by.is_some() && req.groups.len() != 2
        {
            return Err(ClientError::Config(format!(
                "a two-sample t-test needs exactly two groups; --groups names {}",
                req.groups.len()
            )));
        }
        let parts = self.job_parts(serde_json::json!({"kind": "stats", "stats": req}))?;
        let mut headers = Vec::new();
        let mut words: Vec<Vec<u128>> = Vec::new();
        for (i, b) in parts.iter().enumerate() {
            let bad = || ClientError::Party { party: i, what: "returned a malformed result".into() };
            let (h, w) = mitsu_api::frame::read_stats(b).ok_or_else(bad)?;
            headers.push(serde_json::from_slice::<serde_json::Value>(h).map_err(|_| bad())?);
            words.push(w);
        }
        if headers[1]["names"] != headers[0]["names"]
            || headers[2]["names"] != headers[0]["names"]
            || headers[1]["divisors"] != headers[0]["divisors"]
            || headers[2]["divisors"] != headers[0]["divisors"]
            || headers[1]["opened"] != headers[0]["opened"]
            || headers[2]["opened"] != headers[0]["opened"]
        {
            return Err(ClientError::Config("the parties returned different outputs".into()));
        }
        if words[1].len() != words[0].len() || words[2].len() != words[0].len() {
            return Err(ClientError::Config("the parties returned results of different sizes".into()));
        }
        let names: Vec<String> = serde_json::from_value(headers[0]["names"].clone())
            .map_err(|e| ClientError::Config(format!("malformed output names: {e}")))?;
        let divisors: Vec<f64> = serde_json::from_value(headers[0]["divisors"].clone())
            .map_err(|e| ClientError::Config(format!("malformed output divisors: {e}")))?;
        let k = names.len();
        if words[0].len() != 3 * k || divisors.len() != k {
            return Err(ClientError::Config("the parties returned a result of the wrong size".into()));
        }
        let v: Vec<i128> = mitsu_mpc_rep3::client::reconstruct::<u128>([&words[0], &words[1], &words[2]])
            .map_err(|e| ClientError::Config(e.to_string()))?
            .into_iter()
            .map(|x| x as i128)
            .collect();
        let raw: Vec<f64> = (0..k).map(|i| mitsu_stats::flt::decode(v[i], v[k + i], v[2 * k + i])).collect();
        let opened: BTreeMap<String, f64> = mitsu_stats::kernel::combine(&names, &divisors, &raw);
        let value = mitsu_stats::finish::finish(&req, &opened).map_err(serr)?;
        let max = |key: &str| headers.iter().map(|h| h[key].as_u64().unwrap_or(0)).max().unwrap_or(0);
        let parties_opened = headers[0]["opened"].as_array().map(|a| crate::sql::describe_openings(a));
        Ok(StatsResult {
            value,
            leakage: f.leakage,
            rounds: max("rounds"),
            bytes_per_party: max("bytes"),
            parties_opened,
        })
    }

    /// `describe` of `columns` of a table or a SELECT: {"columns": {name: {field: value}}}.
    pub fn describe(&self, from: &str, columns: &[String]) -> Result<serde_json::Value, ClientError> {
        let req = Request {
            function: "describe".into(),
            from: from.to_string(),
            columns: columns.to_vec(),
            ..Request::default()
        };
        Ok(self.stats(&req)?.value)
    }
}
