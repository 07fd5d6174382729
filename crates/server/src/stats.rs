//! Statistics jobs at a party: the party derives the function's SELECT from the request itself
//! (against its own schemas, with the same per-table checks as SQL), runs the kernel and answers
//! with a JSON header (output names, rounds, bytes, the engine's record of openings) and its
//! shares of the outputs.

use crate::job::{Fail, records};
use crate::state::State;
use crate::tables::{Scope, Tables, start};
use mitsu_mpc_core::{Engine, Opened};
use mitsu_stats::Args as _;
use mitsu_store::Account;

pub(crate) fn run(
    state: &State,
    who: &Account,
    job: u64,
    d: &[u8; 32],
    req: &mitsu_stats::Request,
    project: Option<&str>,
    read: &mut Vec<(String, i64)>,
) -> Result<(Vec<u8>, Vec<Opened>), Fail> {
    let scope = Scope::resolve(state, who, project, mitsu_api::wire::Function::Stats)?;
    let cat = Tables::new(state, who, scope);
    mitsu_stats::spec(&req.function)?;
    req.check_limits()?;
    // the tables the request reads, checked for access before anything else
    let probe = format!("SELECT COUNT(*) FROM {}", mitsu_stats::from_clause(&req.from));
    mitsu_query::plan(&probe, &cat)?;
    *read = cat.versions();
    let (mut p, mut src) = start(state, job, d, &cat)?;
    let out = mitsu_stats::kernel::run(&mut p, &cat, &mut src, req)?;
    let st = p.stats();
    let vals = out.values(&p).parts(&p).into_client();
    let header = mitsu_api::frame::StatsHeader {
        names: out.names,
        divisors: out.divisors,
        rounds: st.rounds,
        bytes: st.bytes_sent,
        opened: records(p.opened()),
    };
    Ok((mitsu_api::frame::write_stats(&header, &vals), p.opened().to_vec()))
}
