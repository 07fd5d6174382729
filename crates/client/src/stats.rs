//! Statistics run as jobs at the three parties (see `mitsu_stats`); the outputs are reconstructed
//! here, on the analyst's machine, where p-values and intervals are computed from them.

use crate::{Client, ClientError};
use mitsu_api::Schema;
use mitsu_api::wire::{JobRequest, TableView};
use mitsu_stats::{Args as _, Id, Request, StatsError, quote_ident};
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
    /// What the query's steps reveal, when the function reads a SELECT (`--from "SELECT …"`) or
    /// runs as SQL jobs: EXPLAIN's list, one line per step.
    pub query_leakage: Vec<String>,
}

impl StatsResult {
    /// The function's answer with the leakage report beside it, under `"leakage"`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = self.value.clone();
        let report = serde_json::json!({
            "opened_to_you": self.leakage,
            "opened_among_parties": self.parties_opened,
            "query_steps": self.query_leakage,
            "rounds": self.rounds,
            "bytes_per_party": self.bytes_per_party,
        });
        match v.as_object_mut() {
            Some(o) => {
                o.insert("leakage".into(), report);
                v
            }
            None => serde_json::json!({"result": v, "leakage": report}),
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
            match self.typed::<TableView>(i, "GET", &format!("/v1/tables/{table}"), &[]) {
                Ok(t) => return Ok(t.schema),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("three attempts"))
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
            let mut steps: Vec<String> = Vec::new();
            let value = mitsu_stats::counts::run_sql(&req, &mut |q: &str| {
                let r = self.sql(q).map_err(|e| StatsError::Invalid(e.to_string()))?;
                cost = (cost.0 + r.rounds, cost.1 + r.bytes_per_party);
                for l in r.leakage {
                    if !steps.contains(&l) {
                        steps.push(l);
                    }
                }
                Ok(r.rows)
            })
            .map_err(serr)?;
            return Ok(StatsResult {
                value,
                leakage: f.leakage,
                rounds: cost.0,
                bytes_per_party: cost.1,
                parties_opened: None,
                query_leakage: steps,
            });
        }
        if f.id == Id::Chisq {
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
            && matches!(f.id, Id::Ttest | Id::Ztest | Id::Vartest | Id::Anova | Id::Mannwhitney | Id::Kruskal)
        {
            req.groups = self.levels(&req, &by)?;
            let two = !matches!(f.id, Id::Anova | Id::Kruskal);
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
        if matches!(f.id, Id::Ttest | Id::Ztest | Id::Mannwhitney | Id::Vartest)
            && req.by.is_some()
            && req.groups.len() != 2
        {
            return Err(ClientError::Config(format!(
                "a two-sample t-test needs exactly two groups; --groups names {}",
                req.groups.len()
            )));
        }
        let job =
            JobRequest::Stats { job: crate::job_id(), stats: Box::new(req.clone()), project: self.cfg.project.clone() };
        let parts = self.job_parts(&job)?;
        let mut headers = Vec::new();
        let mut words: Vec<Vec<u128>> = Vec::new();
        for (i, b) in parts.iter().enumerate() {
            let (h, w) = mitsu_api::frame::read_stats(b)
                .ok_or_else(|| ClientError::Party { party: i, what: "returned a malformed result".into() })?;
            headers.push(h);
            words.push(w);
        }
        let same = |h: &mitsu_api::frame::StatsHeader| {
            (h.names == headers[0].names) && (h.divisors == headers[0].divisors) && (h.opened == headers[0].opened)
        };
        if !headers.iter().all(same) {
            return Err(ClientError::Config("the parties returned different outputs".into()));
        }
        if words[1].len() != words[0].len() || words[2].len() != words[0].len() {
            return Err(ClientError::Config("the parties returned results of different sizes".into()));
        }
        let (names, divisors) = (headers[0].names.clone(), headers[0].divisors.clone());
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
        // a SELECT under the function reveals what its steps reveal, as EXPLAIN lists them
        let query_leakage = if mitsu_stats::is_query(&req.from) {
            self.explain_sql(&req.from, mitsu_query::Options::default())?.leakage
        } else {
            Vec::new()
        };
        Ok(StatsResult {
            query_leakage,
            value,
            leakage: f.leakage,
            rounds: headers.iter().map(|h| h.rounds).max().unwrap_or(0),
            bytes_per_party: headers.iter().map(|h| h.bytes).max().unwrap_or(0),
            parties_opened: Some(headers[0].opened.iter().map(|o| o.to_string()).collect()),
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
