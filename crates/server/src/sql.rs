//! SQL jobs at a party. The party plans the query text itself against its own stored schemas (a
//! client cannot hand it a plan), checks that the account may analyse every table the query
//! reads, confirms with its peers that all three hold the same versions, runs the plan over the
//! mesh and answers with its shares of the result only.

use crate::job::{Fail, records};
use crate::state::State;
use crate::tables::{Scope, Tables, start};
use mitsu_algebra::Ring;
use mitsu_api::wire::QueryOptions;
use mitsu_mpc_core::{Engine, Opened};
use mitsu_mpc_rep3::Rep3;
use mitsu_store::Account;

/// The result as sent to the client (`mitsu_api::frame`): the head, then per column this
/// party's shares of the values and of the not-NULL flags, then the engine's record of openings.
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
    bytes.extend_from_slice(&mitsu_api::frame::sql_tail(&records(opened)));
    bytes
}

pub(crate) fn run(
    state: &State,
    who: &Account,
    job: u64,
    d: &[u8; 32],
    sql: &str,
    opts: QueryOptions,
    project: Option<&str>,
    read: &mut Vec<(String, i64)>,
) -> Result<(Vec<u8>, Vec<Opened>), Fail> {
    let scope = Scope::resolve(state, who, project, mitsu_api::wire::Function::SqlAggregate)?;
    let cat = Tables::new(state, who, scope);
    // a refusal here aborts the job, which releases peers that planned differently (e.g. a table
    // missing at one party)
    let q = mitsu_query::plan_with(sql, &cat, opts)?;
    *read = cat.versions();
    if !q.aggregated() {
        cat.check_rows()?;
    }
    let (mut p, mut src) = start(state, job, d, &cat)?;
    let frame = if q.ring == 64 {
        let out = mitsu_query::execute::<_, u64, _>(&mut p, &q, &mut src)?;
        encode(out, p.stats(), p.opened())
    } else {
        let out = mitsu_query::execute::<_, u128, _>(&mut p, &q, &mut src)?;
        encode(out, p.stats(), p.opened())
    };
    // the record must match what EXPLAIN promised the analyst; a mismatch is a bug to report
    if let Err(w) = mitsu_query::explain::check_openings(&mitsu_query::explain::explain(&q), p.opened()) {
        tracing::error!(job = %format!("{job:x}"), "the openings differ from EXPLAIN (a bug): {w}");
    }
    Ok((frame, p.opened().to_vec()))
}
