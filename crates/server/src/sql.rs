//! SQL jobs at a party. The party plans the query text itself against its own stored schemas (a
//! client cannot hand it a plan), checks that the account may analyse every table the query
//! reads, confirms with its peers that all three hold the same versions, runs the plan over the
//! mesh and answers with its shares of the result only.

use crate::jobs::{Fail, agree, same_version, shares};
use crate::party::State;
use mitsu_algebra::Ring;
use mitsu_api::Schema;
use mitsu_mpc_core::{Channel, Engine};
use mitsu_mpc_rep3::{AShare, Rep3};
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
        if !(self.who.role.reads_all_tables() || self.who.name == t.owner) {
            return Err(QueryError::Forbidden(format!("account {:?} may not analyse table {name:?}", self.who.name)));
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
        let s = shares::<u64>(bytes, rows).map_err(QueryError::internal)?;
        if R::BITS == 64 { as_ring(s) } else { as_ring(p.extend(&s, bits)?) }
    } else {
        let s = shares::<u128>(bytes, rows).map_err(QueryError::internal)?;
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
            self.tables.get(table).ok_or_else(|| QueryError::internal(format!("table {table:?} not loaded")))?;
        let c = &schema.columns[col];
        let rows = t.rows as usize;
        let read = |i: usize| {
            self.state
                .store
                .read_column(&t.name, t.version, i as i64)
                .map_err(|e| QueryError::internal(format!("reading shares: {e}")))
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

/// The result as sent to the client (`mitsu_api::frame`): the head, then per column this
/// party's shares of the values and of the not-NULL flags.
fn encode<R: Ring>(
    out: mitsu_query::Output<Rep3, R>,
    st: mitsu_mpc_core::CommStats,
    opened: &[mitsu_mpc_core::Opened],
) -> Vec<u8> {
    let head = mitsu_api::frame::SqlHead {
        rows: out.rows as u64,
        ring: R::BITS,
        columns: out.values.len() as u64,
        rounds: st.rounds,
        bytes_sent: st.bytes_sent,
    };
    let mut bytes = head.encode();
    for (v, nn) in out.values.into_iter().zip(out.not_null) {
        for part in [v, nn] {
            bytes.extend_from_slice(bytemuck::cast_slice::<R, u8>(&part.into_client()));
        }
    }
    let record = serde_json::to_vec(&opened_json(opened)).expect("serializes");
    bytes.extend_from_slice(&mitsu_api::frame::sql_tail(&record));
    bytes
}

/// The status of an engine error, by kind: the caller's problem (400), a peer that cannot be
/// reached (503) or misbehaved (502), or a bug (500).
pub(crate) fn mpc_status(e: &mitsu_mpc_core::MpcError) -> u16 {
    use mitsu_mpc_core::MpcError as M;
    match e {
        M::Range { .. } | M::Encode(_) | M::Invalid(_) => 400,
        M::PeerUnreachable { .. } => 503,
        M::PeerMisbehaved { .. } => 502,
        M::Internal(_) => 500,
    }
}

fn plan_fail(e: &QueryError) -> Fail {
    let status = match e {
        QueryError::Forbidden(_) => 403,
        QueryError::Mpc(m) => mpc_status(m),
        _ => 400,
    };
    Fail(status, e.to_string())
}

/// The start every job shares: the three parties agree on the request, confirm they hold the
/// same versions of its tables, and set up the protocol; shares are loaded only after.
fn start<'a>(
    state: &'a State,
    job: u64,
    d: &[u8; 32],
    tables: BTreeMap<String, (TableInfo, Schema)>,
) -> Result<(Rep3, StoreSource<'a>), Fail> {
    let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(job)));
    agree(state, &mut ch, d)?;
    for (t, _) in tables.values() {
        same_version(state, &mut ch, t)?;
    }
    Ok((Rep3::setup(ch)?, StoreSource { state, tables }))
}

/// One line per job in the party's log: who asked, and what the engine opened (its record).
fn log_openings(state: &State, who: &Account, job: u64, kind: &str, opened: &[mitsu_mpc_core::Opened]) {
    let list: Vec<String> = opened.iter().map(|o| o.to_string()).collect();
    eprintln!(
        "{}: {kind} job {job:x} for {:?}: opened {}",
        state.me,
        who.name,
        if list.is_empty() { "nothing".to_string() } else { list.join("; ") }
    );
}

/// The engine's record of openings, as the job's answer and log show it.
pub(crate) fn opened_json(opened: &[mitsu_mpc_core::Opened]) -> Vec<serde_json::Value> {
    opened
        .iter()
        .map(|o| {
            serde_json::json!({"what": o.what.as_str(), "elements": o.elements, "calls": o.calls,
                "to": o.to.map_or("all parties".to_string(), |p| p.to_string())})
        })
        .collect()
}

pub(crate) fn run(
    state: &State,
    who: &Account,
    job: u64,
    d: &[u8; 32],
    sql: &str,
    opts: mitsu_query::Options,
) -> Result<Vec<u8>, Fail> {
    let cat = StoreCatalog { state, who, used: RefCell::new(BTreeMap::new()) };
    // a refusal here aborts the job, which releases peers that planned differently (e.g. a table
    // missing at one party)
    let q = mitsu_query::plan_with(sql, &cat, opts).map_err(|e| plan_fail(&e))?;
    let (mut p, mut src) = start(state, job, d, cat.used.into_inner())?;
    let exec = |e: QueryError| plan_fail(&e);
    let frame = if q.ring == 64 {
        let out = mitsu_query::execute::<_, u64, _>(&mut p, &q, &mut src).map_err(exec)?;
        encode(out, p.stats(), p.opened())
    } else {
        let out = mitsu_query::execute::<_, u128, _>(&mut p, &q, &mut src).map_err(exec)?;
        encode(out, p.stats(), p.opened())
    };
    log_openings(state, who, job, "sql", p.opened());
    // the record must match what EXPLAIN promised the analyst; a mismatch is a bug to report
    if let Err(w) = mitsu_query::explain::check_openings(&mitsu_query::explain::explain(&q), p.opened()) {
        eprintln!("{}: sql job {job:x}: the openings differ from EXPLAIN: {w}", state.me);
    }
    Ok(frame)
}

/// A statistics job: the party derives the function's SELECT from the request itself (against its
/// own schemas, with the same per-table checks as SQL), runs the kernel and answers with a JSON
/// header (output names, rounds, bytes) and its shares of the outputs.
pub(crate) fn run_stats(
    state: &State,
    who: &Account,
    job: u64,
    d: &[u8; 32],
    req: &mitsu_stats::Request,
) -> Result<Vec<u8>, Fail> {
    let cat = StoreCatalog { state, who, used: RefCell::new(BTreeMap::new()) };
    // the tables the request reads, checked for access before anything else
    mitsu_stats::spec(&req.function).map_err(|e| Fail(400, e.to_string()))?;
    req.check_limits().map_err(|e| Fail(400, e.to_string()))?;
    let probe = format!("SELECT COUNT(*) FROM {}", mitsu_stats::from_clause(&req.from));
    mitsu_query::plan(&probe, &cat).map_err(|e| plan_fail(&e))?;
    let tables = cat.used.borrow().clone();
    let stats = |e: mitsu_stats::StatsError| match e {
        mitsu_stats::StatsError::Invalid(e) => Fail(400, e),
        mitsu_stats::StatsError::Mpc(m) => Fail(mpc_status(&m), m.to_string()),
    };
    let (mut p, mut src) = start(state, job, d, tables)?;
    let out = mitsu_stats::kernel::run(&mut p, &cat, &mut src, req).map_err(stats)?;
    let st = p.stats();
    log_openings(state, who, job, "stats", p.opened());
    let header = serde_json::json!({"names": out.names, "divisors": out.divisors, "rounds": st.rounds,
        "bytes": st.bytes_sent, "opened": opened_json(p.opened())})
    .to_string();
    let vals = out.values(&p).parts(&p).into_client();
    Ok(mitsu_api::frame::write_stats(header.as_bytes(), &vals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitsu_mpc_core::{MpcError, PartyId};

    // execution errors keep their kind up to the status a client sees (they were all 500)
    #[test]
    fn errors_answer_by_kind() {
        let peer = MpcError::PeerUnreachable { party: PartyId::P2, what: "gone".into() };
        assert_eq!(plan_fail(&QueryError::Mpc(peer.clone())).0, 503);
        assert_eq!(plan_fail(&QueryError::from(MpcError::invalid("x"))).0, 400);
        assert_eq!(plan_fail(&QueryError::internal("bug")).0, 500);
        assert_eq!(plan_fail(&QueryError::Forbidden("no".into())).0, 403);
        assert_eq!(plan_fail(&QueryError::range("a * b", 140)).0, 400);
        let via_stats = mitsu_stats::StatsError::from(QueryError::Mpc(peer));
        assert!(matches!(via_stats, mitsu_stats::StatsError::Mpc(MpcError::PeerUnreachable { .. })));
    }
}
