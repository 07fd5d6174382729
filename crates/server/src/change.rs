//! Changes that all three parties apply or none: committing an uploaded table version; creating,
//! revoking an account or replacing its token; proposing, approving, withdrawing from or closing
//! an analysis project; setting a table's policy.
//!
//! Two-phase commit without a coordinator. The client sends the same request to all three
//! parties under one job id. Each party:
//! 1. checks the request itself and tells the others a digest of it and whether it accepts it;
//!    any difference or refusal ends the change everywhere (nobody has voted yet);
//! 2. for a table commit, takes part in checking the uploaded shares under MPC (see
//!    [`crate::upload_check`]), whose one opened result every party sees;
//! 3. records its yes vote durably (*prepared*), then exchanges votes;
//! 4. with three yes votes applies the change and records it committed, in one transaction.
//!
//! The decision is a function of the three durable votes, so a party that lost contact after
//! voting yes (*uncertain*) never decides alone: its resolver asks the peers, on the mesh's
//! control channel, how they stand. A committed peer means commit; an aborted peer means abort;
//! two prepared peers mean all three voted yes: commit. A peer asked about a change it has no
//! record of records a *no* (it never voted, so nobody can have committed) and answers aborted,
//! which also makes it refuse the request should it still arrive. Recovery runs at start and every
//! few seconds, so a party that crashed between the vote and its commit completes the change when
//! it comes back.

use crate::api::Response;
use crate::job::{Fail, agree, digest, mesh_job};
use crate::state::State;
use mitsu_api::wire::TablePolicy;
use mitsu_mpc_core::{Channel, PartyId, Payload};
use mitsu_store::{Account, Apply, ChangeRec, ChangeState, NewProjectRecord};
use serde::{Deserialize, Serialize};

/// A change, as every party records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Change {
    Commit { table: String, version: i64 },
    Account { name: String, role: mitsu_api::Role, token_sha256: String },
    Revoke { name: String },
    Rotate { name: String, token_sha256: String },
    Project(NewProjectRecord),
    Approve { project: String, owner: String, approved: bool },
    Close { project: String },
    Policy { table: String, policy: TablePolicy },
    Drop { table: String },
}

impl Change {
    fn kind(&self) -> &'static str {
        match self {
            Change::Commit { .. } => "commit",
            Change::Account { .. } => "account",
            Change::Revoke { .. } => "revoke",
            Change::Rotate { .. } => "rotate",
            Change::Project(_) => "project",
            Change::Approve { .. } => "approve",
            Change::Close { .. } => "close",
            Change::Policy { .. } => "policy",
            Change::Drop { .. } => "drop",
        }
    }

    /// What the change is about; a job on a project or table with an undecided change waits.
    fn target(&self) -> String {
        match self {
            Change::Commit { table, .. } | Change::Policy { table, .. } | Change::Drop { table } => {
                format!("table:{table}")
            }
            Change::Account { name, .. } | Change::Revoke { name } | Change::Rotate { name, .. } => {
                format!("account:{name}")
            }
            Change::Project(p) => format!("project:{}", p.name),
            Change::Approve { project, .. } | Change::Close { project } => format!("project:{project}"),
        }
    }

    /// The project a change is about, if any.
    fn project(&self) -> Option<&str> {
        match self {
            Change::Project(p) => Some(&p.name),
            Change::Approve { project, .. } | Change::Close { project } => Some(project),
            _ => None,
        }
    }

    /// The table (and version) a change is about, if any.
    fn table(&self) -> Option<(String, i64)> {
        match self {
            Change::Commit { table, version } => Some((table.clone(), *version)),
            Change::Policy { table, .. } | Change::Drop { table } => Some((table.clone(), 0)),
            _ => None,
        }
    }

    fn apply(&self) -> Apply {
        match self.clone() {
            Change::Commit { table, version } => Apply::CommitVersion { name: table, version },
            Change::Account { name, role, token_sha256 } => Apply::PutAccount { name, role, token_sha256 },
            Change::Revoke { name } => Apply::RevokeAccount { name },
            Change::Rotate { name, token_sha256 } => Apply::RotateToken { name, token_sha256 },
            Change::Project(p) => Apply::PutProject(p),
            Change::Approve { project, owner, approved } => Apply::ApproveProject { project, owner, approved },
            Change::Close { project } => Apply::CloseProject { project },
            Change::Policy { table, policy } => Apply::SetPolicy { table, policy },
            Change::Drop { table } => Apply::DropTable { name: table },
        }
    }

    fn describe(&self) -> String {
        match self {
            Change::Commit { table, version } => format!("commit of {table:?} version {version}"),
            Change::Account { name, .. } => format!("account {name:?}"),
            Change::Revoke { name } => format!("revocation of account {name:?}"),
            Change::Rotate { name, .. } => format!("new token of account {name:?}"),
            Change::Project(p) => format!("project {:?}", p.name),
            Change::Approve { project, owner, approved: true } => {
                format!("approval of project {project:?} by {owner:?}")
            }
            Change::Approve { project, owner, approved: false } => {
                format!("withdrawal of {owner:?}'s approval of project {project:?}")
            }
            Change::Close { project } => format!("closing of project {project:?}"),
            Change::Drop { table } => format!("removal of table {table:?}"),
            Change::Policy { table, policy } => format!("policy of table {table:?} ({})", policy.describe()),
        }
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Marks a change as running at this party for as long as the guard lives.
struct Busy<'a>(&'a State, u64);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy_changes.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.1);
    }
}

fn ok_json(state: &State, c: &Change) -> Response {
    crate::routes::ok(&mitsu_api::wire::Applied { applied: c.describe(), party: state.me.index() })
}

fn pending(c: &Change, why: &str) -> Response {
    Response::error(
        503,
        &format!(
            "the {} is decided but not yet applied at every party ({why}); the parties complete it on their own \
             when they reach each other again",
            c.describe()
        ),
    )
}

/// What a retried request (same account, same job id) is told: the recorded outcome.
fn answer_from_record(state: &State, rec: &ChangeRec, d: &str, c: &Change) -> Response {
    if rec.digest != d {
        return Response::error(409, "this job id was already used for a different request; use a new random id");
    }
    match rec.state {
        ChangeState::Committed => ok_json(state, c),
        ChangeState::Aborted => Response::error(409, &format!("the {} was not applied: {}", c.describe(), rec.reason)),
        ChangeState::Prepared => pending(c, "a party did not answer in time"),
    }
}

/// Runs `c`, requested by `who` under the client's `job` id. `local` is this party's own check
/// of the request, saying whether the shared check `mpc` is needed (a table commit: the shares
/// still have to be checked; a retried commit this party applied already: not); `mpc` runs under
/// the mesh job id it is given, and only when all three parties need it.
pub(crate) fn run(
    state: &State,
    who: &Account,
    job: u64,
    c: Change,
    local: Result<bool, Fail>,
    mpc: impl FnOnce(u64) -> Result<(), Fail>,
) -> Response {
    let entry = mitsu_store::AuditEntry {
        account: who.name.clone(),
        kind: format!("change:{}", c.kind()),
        job: format!("{:016x}", mesh_job(&who.name, job)),
        project: c.project().map(String::from),
        request: c.describe(),
        tables: c.table().map(|t| vec![t]).unwrap_or_default(),
        ..Default::default()
    };
    let resp = decide(state, who, job, c, local, mpc);
    crate::audit::record(state, entry, &resp);
    resp
}

fn decide(
    state: &State,
    who: &Account,
    job: u64,
    c: Change,
    local: Result<bool, Fail>,
    mpc: impl FnOnce(u64) -> Result<(), Fail>,
) -> Response {
    let id = mesh_job(&who.name, job);
    let body = serde_json::to_string(&c).expect("a change serializes");
    let dd = digest(&[b"change", who.name.as_bytes(), body.as_bytes()]);
    let d = hex(&dd);
    match state.store.change(id) {
        Ok(Some(rec)) => return answer_from_record(state, &rec, &d, &c),
        Ok(None) => {}
        Err(e) => return Response::error(500, &e.to_string()),
    }
    if !state.busy_changes.lock().unwrap_or_else(|p| p.into_inner()).insert(id) {
        return Response::error(409, "this change is already being applied under this job id");
    }
    let _busy = Busy(state, id);
    let rec = |st: ChangeState, reason: String| ChangeRec {
        id,
        kind: c.kind().into(),
        target: c.target(),
        body: body.clone(),
        digest: d.clone(),
        state: st,
        reason,
    };
    // refusing is recorded too, so that a resolver asking about the id learns "aborted"
    let refuse = |Fail(status, msg): Fail| -> Response {
        let _ = state.store.record_change(&rec(ChangeState::Aborted, msg.clone()));
        state.mesh.abort_job(id, &msg);
        state.mesh.finish_job(id);
        Response::error(status, &format!("the {} was not applied: {msg}", c.describe()))
    };
    let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(id)));
    // 1. the same request everywhere, accepted everywhere
    if let Err(f) = agree(state, &mut ch, &dd) {
        return refuse(f);
    }
    // 0: refused, 1: accepted, 2: accepted, the shared check still to do
    let mine = match &local {
        Err(_) => 0,
        Ok(false) => 1,
        Ok(true) => 2,
    };
    let theirs = match exchange(state, &mut ch, mine) {
        Ok(v) => v,
        Err(f) => return refuse(f),
    };
    let need_check = match local {
        Err(f) => return refuse(f),
        Ok(n) => n,
    };
    let peers = [state.me.next(), state.me.prev()];
    if let Some(p) = theirs.iter().position(|a| *a == 0) {
        return refuse(Fail(409, format!("{} refused it (its answer says why)", peers[p])));
    }
    if theirs.iter().any(|t| (*t == 2) != need_check) {
        // some party applied it already, which it does only after all three voted for it: the
        // others complete it on their own
        state.mesh.finish_job(id);
        return pending(&c, "it was interrupted earlier and some parties have applied it already");
    }
    // 2. what the three check together
    let sub = mesh_job(&who.name, job ^ 0x6368_6563_6b00_0000);
    let checked = if need_check { mpc(sub) } else { Ok(()) };
    if let Err(f) = &checked {
        state.mesh.abort_job(sub, &f.1);
    }
    state.mesh.finish_job(sub);
    if let Err(f) = checked {
        return refuse(f);
    }
    // 3. vote: durably prepared first
    state.failpoint("change-before-prepare");
    let prepared = match state.store.record_change(&rec(ChangeState::Prepared, String::new())) {
        Ok(true) => true,
        Ok(false) => false, // a peer's resolver asked first and this party recorded a no
        Err(e) => {
            tracing::error!(change = %format!("{id:x}"), "cannot record the change: {e}");
            false
        }
    };
    state.failpoint("change-before-vote");
    let votes = exchange(state, &mut ch, prepared as u64).map(|v| v.map(|x| x == 1));
    if let Err(Fail(_, msg)) = &votes {
        // a failed send may have left a peer waiting for this party's vote: tell it now, or it
        // waits out the whole timeout before its resolver can decide
        state.mesh.abort_job(id, msg);
    }
    state.mesh.finish_job(id);
    let votes = match votes {
        Ok(v) => v,
        Err(Fail(_, msg)) if prepared => return pending(&c, &msg),
        Err(f) => return refuse(f),
    };
    if !prepared {
        let why = format!("{} could not record its vote", state.me);
        let _ = state.store.record_change(&rec(ChangeState::Aborted, why.clone()));
        return Response::error(409, &format!("the {} was not applied: {why}", c.describe()));
    }
    if let Some(p) = votes.iter().position(|v| !v) {
        let why = format!("{} could not record its vote", [state.me.next(), state.me.prev()][p]);
        let _ = state.store.abort_change(id, &why);
        return Response::error(409, &format!("the {} was not applied: {why}", c.describe()));
    }
    state.failpoint("change-after-vote");
    // 4. three yes votes: apply
    match state.store.commit_change(id, &c.apply()) {
        Ok(()) => ok_json(state, &c),
        Err(e) => {
            tracing::warn!(change = %format!("{id:x}"), "decided but not applied yet: {e}");
            pending(&c, &format!("{} could not apply it yet: {e}", state.me))
        }
    }
}

/// One round: every party tells the others a small number; returns the peers' (next, prev).
fn exchange(state: &State, ch: &mut Channel, mine: u64) -> Result<[u64; 2], Fail> {
    let me = state.me;
    let peers = [me.next(), me.prev()];
    let got = ch.round(peers.iter().map(|&p| (p, Payload::U64(vec![mine]))).collect(), &peers)?;
    let mut out = [0; 2];
    for (i, (p, msg)) in peers.iter().zip(got).enumerate() {
        let v: Vec<u64> = msg.into_ring(*p, 1)?;
        out[i] = v[0];
    }
    Ok(out)
}

// ---- recovery ------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct Ask {
    change: u64,
}

#[derive(Serialize, Deserialize)]
struct Told {
    state: String,
    digest: String,
}

fn to_words(b: &[u8]) -> Payload {
    let mut w = vec![b.len() as u64];
    w.extend(b.chunks(8).map(|c| {
        let mut x = [0u8; 8];
        x[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(x)
    }));
    Payload::U64(w)
}

fn from_words(p: Payload) -> Option<Vec<u8>> {
    let Payload::U64(w) = p else { return None };
    let n = *w.first()? as usize;
    if n > 8 * (w.len() - 1) {
        return None;
    }
    let mut b: Vec<u8> = w[1..].iter().flat_map(|x| x.to_le_bytes()).collect();
    b.truncate(n);
    Some(b)
}

/// Answers a peer's question about a change (the mesh's control handler).
pub(crate) fn answer(state: &State, from: PartyId, msg: Payload) -> Payload {
    let told = (|| {
        let ask: Ask = serde_json::from_slice(&from_words(msg)?).ok()?;
        let rec = match state.store.change(ask.change).ok()? {
            Some(r) => r,
            None => {
                // never voted: record a no, so nobody can commit it and a late request is refused
                let reason = format!("{} had not received it when {from} asked", state.me);
                let tomb = ChangeRec {
                    id: ask.change,
                    kind: "unknown".into(),
                    target: String::new(),
                    body: String::new(),
                    digest: String::new(),
                    state: ChangeState::Aborted,
                    reason,
                };
                state.store.record_change(&tomb).ok()?;
                state.store.change(ask.change).ok()??
            }
        };
        Some(Told { state: rec.state.as_str().into(), digest: rec.digest })
    })();
    let told = told.unwrap_or(Told { state: "error".into(), digest: String::new() });
    to_words(&serde_json::to_vec(&told).expect("serializes"))
}

/// Decides the changes this party voted for and has not seen decided, by asking its peers.
/// Returns how many were decided.
pub(crate) fn resolve(state: &State) -> usize {
    let Ok(pending) = state.store.prepared_changes() else { return 0 };
    let mut decided = 0;
    for rec in pending {
        if state.busy_changes.lock().unwrap_or_else(|p| p.into_inner()).contains(&rec.id) {
            continue;
        }
        let me = state.me;
        let mut told = Vec::new();
        for p in [me.next(), me.prev()] {
            let ask = serde_json::to_vec(&Ask { change: rec.id }).expect("serializes");
            let t = state
                .mesh
                .call(p, crate::state::random_u64(), &to_words(&ask), std::time::Duration::from_secs(3))
                .ok()
                .and_then(from_words)
                .and_then(|b| serde_json::from_slice::<Told>(&b).ok());
            told.push((p, t));
        }
        let committed = told.iter().any(|(_, t)| t.as_ref().is_some_and(|t| t.state == "committed"));
        let aborted = told.iter().find(|(_, t)| t.as_ref().is_some_and(|t| t.state == "aborted"));
        let all_yes =
            told.iter().all(|(_, t)| t.as_ref().is_some_and(|t| t.state == "prepared" && t.digest == rec.digest));
        if committed || (all_yes && aborted.is_none()) {
            let Ok(c) = serde_json::from_str::<Change>(&rec.body) else { continue };
            match state.store.commit_change(rec.id, &c.apply()) {
                Ok(()) => {
                    tracing::info!("completed the {} after an interruption", c.describe());
                    decided += 1;
                }
                Err(e) => tracing::warn!(change = %format!("{:x}", rec.id), "cannot apply the change yet: {e}"),
            }
        } else if let Some((p, _)) = aborted
            && state.store.abort_change(rec.id, &format!("{p} did not vote for it")).is_ok()
        {
            tracing::info!(change = %format!("{:x}", rec.id), "dropped: {p} did not vote for it");
            decided += 1;
        }
    }
    decided
}
