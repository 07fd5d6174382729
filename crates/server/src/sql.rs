//! SQL jobs at a party. The party plans the query text itself against its own stored schemas (a
//! client cannot hand it a plan), checks that the account may analyse every table the query
//! reads, confirms with its peers that all three hold the same versions, runs the plan over the
//! mesh and answers with its shares of the result only.

use crate::jobs::{same_version, shares};
use crate::party::State;
use mitsu_algebra::Ring;
use mitsu_api::Schema;
use mitsu_mpc_core::{Channel, Engine, MpcError};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_net::http::Response;
use mitsu_query::{Catalog, QueryError, Source, TableMeta, as_ring};
use mitsu_store::{Account, TableInfo};
use std::cell::RefCell;
use std::collections::BTreeMap;

struct StoreCatalog<'a> {
    state: &'a State,
    who: &'a Account,
    used: RefCell<BTreeMap<String, (TableInfo, Schema)>>,
}

impl Catalog for StoreCatalog<'_> {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError> {
        let t = self.state.store.table(name).map_err(|e| QueryError::Invalid(e.to_string()))?;
        // until per-table policies exist: admins, analysts and the table's owner may analyse it
        if !(self.who.role == "admin" || self.who.role == "analyst" || self.who.name == t.owner) {
            return Err(QueryError::Invalid(format!("account {:?} may not analyse table {name:?}", self.who.name)));
        }
        let schema: Schema = serde_json::from_str(&t.schema)
            .map_err(|e| QueryError::Invalid(format!("stored schema of {name:?} unreadable: {e}")))?;
        let meta = TableMeta { schema: schema.clone(), rows: t.rows as u64 };
        self.used.borrow_mut().insert(name.to_string(), (t, schema));
        Ok(meta)
    }
}

struct StoreSource<'a> {
    state: &'a State,
    tables: BTreeMap<String, (TableInfo, Schema)>,
}

/// Stored shares (Z_2^64 or Z_2^128) in the plan's ring: lifted by the extension protocol, or
/// reduced mod 2^64 locally (valid when the plan proved the values fit).
fn load_as<R: Ring>(p: &mut Rep3, bytes: &[u8], rows: usize, stored: u32, bits: u32) -> Result<AShare<R>, QueryError> {
    if stored == 64 {
        let s = shares::<u64>(bytes, rows).map_err(QueryError::Mpc)?;
        if R::BITS == 64 { as_ring(s) } else { as_ring(p.extend(&s, bits)?) }
    } else {
        let s = shares::<u128>(bytes, rows).map_err(QueryError::Mpc)?;
        if R::BITS == 128 { as_ring(s) } else { as_ring(p.reduce64(&s)) }
    }
}

impl Source<Rep3> for StoreSource<'_> {
    fn column<R: Ring>(
        &mut self,
        e: &mut Rep3,
        table: &str,
        col: usize,
    ) -> Result<(AShare<R>, Option<AShare<R>>), QueryError> {
        let (t, schema) =
            self.tables.get(table).ok_or_else(|| QueryError::Mpc(format!("table {table:?} not loaded")))?;
        let c = &schema.columns[col];
        let rows = t.rows as usize;
        let read = |i: usize| {
            self.state.store.read_column(&t.name, t.version, i as i64).map_err(|e| QueryError::Mpc(e.to_string()))
        };
        let v = load_as::<R>(e, &read(col)?, rows, c.ring_bits(), c.bits)?;
        let nn = if c.nullable {
            let k = schema.columns[..col].iter().filter(|c| c.nullable).count();
            Some(load_as::<R>(e, &read(schema.columns.len() + k)?, rows, 64, 1)?)
        } else {
            None
        };
        Ok((v, nn))
    }
}

/// The result as sent to the client: rows, ring, column count, rounds and bytes this party sent
/// (five little-endian u64), then
/// per column this party's shares of the values and of the not-NULL flags.
fn encode<R: Ring>(out: mitsu_query::Output<Rep3, R>, st: mitsu_mpc_core::CommStats) -> Vec<u8> {
    let mut bytes = Vec::new();
    for h in [out.rows as u64, R::BITS as u64, out.values.len() as u64, st.rounds, st.bytes_sent] {
        bytes.extend_from_slice(&h.to_le_bytes());
    }
    for (v, nn) in out.values.into_iter().zip(out.not_null) {
        for part in [v, nn] {
            bytes.extend_from_slice(bytemuck::cast_slice::<R, u8>(&part.into_client()));
        }
    }
    bytes
}

pub(crate) fn run(state: &State, who: &Account, job: u64, sql: &str, opts: mitsu_query::Options) -> Response {
    let cat = StoreCatalog { state, who, used: RefCell::new(BTreeMap::new()) };
    let q = match mitsu_query::plan_with(sql, &cat, opts) {
        Ok(q) => q,
        Err(e) => {
            // the peers planned the same text against the same schemas and refuse alike; the
            // abort releases them should they not (e.g. a table missing at one party)
            state.mesh.abort_job(job, &e.to_string());
            state.mesh.finish_job(job);
            return Response::error(400, &e.to_string());
        }
    };
    let tables = cat.used.into_inner();
    let result = (|| -> Result<Vec<u8>, String> {
        let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(job)));
        for (t, _) in tables.values() {
            same_version(state, &mut ch, t)?;
        }
        let mut p = Rep3::setup(ch).map_err(|e: MpcError| e.to_string())?;
        let mut src = StoreSource { state, tables };
        let bytes = if q.ring == 64 {
            let out = mitsu_query::execute::<_, u64, _>(&mut p, &q, &mut src).map_err(|e| e.to_string())?;
            encode(out, p.stats())
        } else {
            let out = mitsu_query::execute::<_, u128, _>(&mut p, &q, &mut src).map_err(|e| e.to_string())?;
            encode(out, p.stats())
        };
        Ok(bytes)
    })();
    if let Err(e) = &result {
        state.mesh.abort_job(job, e);
    }
    state.mesh.finish_job(job);
    match result {
        Ok(v) => Response::bytes(v),
        Err(e) => Response::error(500, &format!("job failed: {e}")),
    }
}

/// A statistics job: the party derives the function's SELECT from the request itself (against its
/// own schemas, with the same per-table checks as SQL), runs the kernel and answers with a JSON
/// header (output names, rounds, bytes) and its shares of the outputs.
pub(crate) fn run_stats(state: &State, who: &Account, job: u64, req: &mitsu_stats::Request) -> Response {
    let cat = StoreCatalog { state, who, used: RefCell::new(BTreeMap::new()) };
    // the tables the request reads, checked for access before anything else
    let probe = format!("SELECT COUNT(*) FROM {}", mitsu_stats::from_clause(&req.from));
    if let Err(e) = mitsu_stats::spec(&req.function)
        .map(|_| ())
        .and_then(|_| mitsu_query::plan(&probe, &cat).map(|_| ()).map_err(mitsu_stats::StatsError::from))
    {
        state.mesh.abort_job(job, &e.to_string());
        state.mesh.finish_job(job);
        return Response::error(400, &e.to_string());
    }
    let tables = cat.used.borrow().clone();
    let result = (|| -> Result<Vec<u8>, mitsu_stats::StatsError> {
        let mpc = |e: MpcError| mitsu_stats::StatsError::Mpc(e.to_string());
        let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(job)));
        for (t, _) in tables.values() {
            same_version(state, &mut ch, t).map_err(mitsu_stats::StatsError::Mpc)?;
        }
        let mut p = Rep3::setup(ch).map_err(mpc)?;
        let mut src = StoreSource { state, tables };
        let out = mitsu_stats::kernel::run(&mut p, &cat, &mut src, req)?;
        let st = p.stats();
        let header = serde_json::json!({"names": out.names, "divisors": out.divisors, "rounds": st.rounds, "bytes": st.bytes_sent}).to_string();
        let vals = out.values(&p).parts(&p).into_client();
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(bytemuck::cast_slice::<u128, u8>(&vals));
        Ok(bytes)
    })();
    if let Err(e) = &result {
        state.mesh.abort_job(job, &e.to_string());
    }
    state.mesh.finish_job(job);
    match result {
        Ok(v) => Response::bytes(v),
        Err(mitsu_stats::StatsError::Invalid(e)) => Response::error(400, &e),
        Err(e) => Response::error(500, &format!("job failed: {e}")),
    }
}
