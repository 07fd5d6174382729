//! SQL on the analyst's machine: the query is planned here too (for EXPLAIN and to decode the
//! result), sent as text to all three parties (each plans and checks it itself), and the result
//! is reconstructed from the three parties' shares.

use crate::{Client, ClientError};
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
}

impl SqlResult {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "columns": self.columns,
            "rows": self.rows.iter().map(|r| r.iter().map(Value::to_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "leakage": self.leakage,
            "cost": {"rounds": self.rounds, "bytes_per_party": self.bytes_per_party},
        })
    }
}

/// The parties' schemas as seen by this client (party 0 answers).
struct Remote<'a>(&'a Client);

impl Catalog for Remote<'_> {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError> {
        let v = self.0.expect(0, "GET", &format!("/v1/tables/{name}"), &[]).map_err(|e| match e {
            ClientError::Party { what, .. } => QueryError::Invalid(what),
            e => QueryError::Invalid(e.to_string()),
        })?;
        let schema = serde_json::from_value(v["schema"].clone())
            .map_err(|e| QueryError::Invalid(format!("schema of {name:?}: {e}")))?;
        Ok(TableMeta { schema, rows: v["rows"].as_u64().unwrap_or(0) })
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
        let parts = self.job_parts(serde_json::json!({"kind": "sql", "sql": sql, "options": opts}))?;
        let (values, nn, [rounds, bytes_per_party]) = reconstruct(&parts, q.root.out.len())?;
        let rows = mitsu_query::value::rows(&q, &values, &nn);
        Ok(SqlResult {
            columns: q.names.clone(),
            rows,
            leakage: mitsu_query::explain::explain(&q).leakage,
            rounds,
            bytes_per_party,
        })
    }
}

type Reconstructed = (Vec<Vec<i128>>, Vec<Vec<bool>>, [u64; 2]);

/// Sums the three parties' shares; values as signed integers, flags as booleans; the busiest
/// party's rounds and bytes.
fn reconstruct(parts: &[Vec<u8>], ncols: usize) -> Result<Reconstructed, ClientError> {
    let h = |b: &[u8], i: usize| b.get(8 * i..8 * i + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap()));
    let header = |b: &[u8]| -> Option<[u64; 3]> { Some([h(b, 0)?, h(b, 1)?, h(b, 2)?]) };
    let cost = |i: usize| parts.iter().filter_map(|b| h(b, i)).max().unwrap_or(0);
    let hs: Vec<Option<[u64; 3]>> = parts.iter().map(|b| header(b)).collect();
    let Some([rows, ring, cols]) = hs[0] else {
        return Err(ClientError::Party { party: 0, what: "returned a malformed result".into() });
    };
    if hs.iter().any(|h| *h != hs[0]) || cols as usize != ncols || !(ring == 64 || ring == 128) {
        return Err(ClientError::Config("the parties returned results of different shapes".into()));
    }
    let (rows, w) = (rows as usize, ring as usize / 8);
    let want = HEADER + 2 * ncols * rows * w;
    if let Some(i) = parts.iter().position(|b| b.len() != want) {
        return Err(ClientError::Party { party: i, what: "returned a result of the wrong size".into() });
    }
    let word = |b: &[u8], k: usize| -> u128 {
        let s = &b[HEADER + k * w..HEADER + (k + 1) * w];
        if w == 8 {
            u64::from_le_bytes(s.try_into().unwrap()) as u128
        } else {
            u128::from_le_bytes(s.try_into().unwrap())
        }
    };
    let mut values = Vec::new();
    let mut nn = Vec::new();
    for c in 0..ncols {
        let base = 2 * c * rows;
        let sum = |k: usize| parts.iter().fold(0u128, |acc, b| acc.wrapping_add(word(b, k)));
        let v: Vec<i128> = (0..rows)
            .map(|i| {
                let x = sum(base + i);
                if w == 8 { x as u64 as i64 as i128 } else { x as i128 }
            })
            .collect();
        let f: Vec<bool> = (0..rows)
            .map(|i| (sum(base + rows + i) & if w == 8 { u64::MAX as u128 } else { u128::MAX }) == 1)
            .collect();
        values.push(v);
        nn.push(f);
    }
    Ok((values, nn, [cost(3), cost(4)]))
}

/// Bytes before the shares: rows, ring, columns, rounds, bytes sent.
const HEADER: usize = 40;
