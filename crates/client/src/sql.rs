//! SQL on the analyst's machine: the query is planned here too (for EXPLAIN and to decode the
//! result), sent as text to all three parties (each plans and checks it itself), and the result
//! is reconstructed from the three parties' shares.

use crate::{Client, ClientError};
use mitsu_api::wire::{JobRequest, TableView};
use mitsu_query::explain::Explain;
use mitsu_query::{Catalog, Options, Query, QueryError, TableMeta, Value};
use serde::Serialize;

/// A query's answer.
#[derive(Debug, Clone, Serialize)]
pub struct SqlResult {
    pub columns: Vec<String>,
    #[serde(skip)]
    pub rows: Vec<Vec<Value>>,
    /// What the computation revealed besides the result.
    pub leakage: Vec<String>,
    /// Measured: rounds and bytes sent by the busiest party.
    pub rounds: u64,
    pub bytes_per_party: u64,
    /// What the parties' engines recorded opening among themselves (the same at all three).
    pub parties_opened: Vec<String>,
}

impl SqlResult {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "columns": self.columns,
            "rows": self.rows.iter().map(|r| r.iter().map(Value::to_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "leakage": self.leakage,
            "parties_opened": self.parties_opened,
            "cost": {"rounds": self.rounds, "bytes_per_party": self.bytes_per_party},
        })
    }
}

/// The parties' schemas as seen by this client (party 0 answers).
struct Remote<'a>(&'a Client);

impl Catalog for Remote<'_> {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError> {
        let t = self.0.typed::<TableView>(0, "GET", &format!("/v1/tables/{name}"), &[]).map_err(|e| match e {
            ClientError::Party { what, .. } => QueryError::Invalid(what),
            e => QueryError::Invalid(e.to_string()),
        })?;
        Ok(TableMeta { schema: t.schema, rows: t.rows })
    }
}

fn qerr(e: QueryError) -> ClientError {
    ClientError::Config(e.to_string())
}

impl Client {
    pub fn plan_sql(&self, sql: &str, opts: Options) -> Result<Query, ClientError> {
        mitsu_query::plan_with(sql, &Remote(self), opts).map_err(qerr)
    }

    pub fn explain_sql(&self, sql: &str, opts: Options) -> Result<Explain, ClientError> {
        Ok(mitsu_query::explain::explain(&self.plan_sql(sql, opts)?))
    }

    /// Runs a query with the default options.
    pub fn sql(&self, sql: &str) -> Result<SqlResult, ClientError> {
        self.sql_with(sql, Options::default())
    }

    /// Runs a query; rows are decoded and, for ORDER BY without LIMIT, sorted here.
    pub fn sql_with(&self, sql: &str, opts: Options) -> Result<SqlResult, ClientError> {
        let q = self.plan_sql(sql, opts)?;
        let job = JobRequest::Sql {
            job: crate::job_id(),
            sql: sql.to_string(),
            options: opts,
            project: self.cfg.project.clone(),
        };
        let parts = self.job_parts(&job)?;
        let (values, nn, [rounds, bytes_per_party], parties_opened) = reconstruct(&parts, q.wire_columns())?;
        let rows = mitsu_query::value::rows(&q, &values, &nn);
        Ok(SqlResult {
            columns: q.names.clone(),
            rows,
            leakage: mitsu_query::explain::explain(&q).leakage,
            rounds,
            bytes_per_party,
            parties_opened,
        })
    }
}

type Reconstructed = (Vec<Vec<i128>>, Vec<Vec<bool>>, [u64; 2], Vec<String>);

/// Reconstructs the three parties' result frames (`mitsu_api::frame`): values as signed integers,
/// flags as booleans; the busiest party's rounds and bytes.
fn reconstruct(parts: &[Vec<u8>], ncols: usize) -> Result<Reconstructed, ClientError> {
    let mut frames = Vec::new();
    for (i, b) in parts.iter().enumerate() {
        let f = mitsu_api::frame::read_sql(b)
            .ok_or_else(|| ClientError::Party { party: i, what: "returned a malformed result".into() })?;
        frames.push(f);
    }
    let shape = |h: &mitsu_api::frame::SqlHead| (h.rows, h.ring, h.columns);
    if frames.len() != 3
        || frames.iter().any(|f| shape(&f.0) != shape(&frames[0].0))
        || frames[0].0.columns as usize != ncols
    {
        return Err(ClientError::Config("the parties returned results of different shapes".into()));
    }
    if frames.iter().any(|f| f.2 != frames[0].2) {
        return Err(ClientError::Config("the parties recorded different openings".into()));
    }
    let opened = frames[0].2.iter().map(|o| o.to_string()).collect();
    let ring = frames[0].0.ring;
    let cost = [
        frames.iter().map(|f| f.0.rounds).max().unwrap_or(0),
        frames.iter().map(|f| f.0.bytes_sent).max().unwrap_or(0),
    ];
    let mut values = Vec::new();
    let mut nn = Vec::new();
    for k in 0..2 * ncols {
        let sum = mitsu_mpc_rep3::client::reconstruct::<u128>([&frames[0].1[k], &frames[1].1[k], &frames[2].1[k]])
            .map_err(|e| ClientError::Config(e.to_string()))?;
        // a Z_2^64 result is the low word of the sum
        let signed = |x: u128| if ring == 64 { x as u64 as i64 as i128 } else { x as i128 };
        if k % 2 == 0 {
            values.push(sum.into_iter().map(signed).collect());
        } else {
            nn.push(sum.into_iter().map(|x| signed(x) == 1).collect());
        }
    }
    Ok((values, nn, cost, opened))
}
