//! What every job and change shares: how it fails, its id on the mesh, and the round in which the
//! three parties confirm they were asked the same thing.

use crate::state::State;
use mitsu_mpc_core::{Channel, MpcError, Opened, Payload};
use mitsu_query::QueryError;

/// Why a job did not run or did not finish: the status the client gets and the message.
#[derive(Debug)]
pub(crate) struct Fail(pub u16, pub String);

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail(500, s)
    }
}

impl From<MpcError> for Fail {
    fn from(e: MpcError) -> Fail {
        Fail(mpc_status(&e), e.to_string())
    }
}

impl From<QueryError> for Fail {
    fn from(e: QueryError) -> Fail {
        let status = match &e {
            QueryError::Forbidden(_) => 403,
            QueryError::Mpc(m) => mpc_status(m),
            _ => 400,
        };
        Fail(status, e.to_string())
    }
}

impl From<mitsu_stats::StatsError> for Fail {
    fn from(e: mitsu_stats::StatsError) -> Fail {
        match e {
            mitsu_stats::StatsError::Invalid(e) => Fail(400, e),
            mitsu_stats::StatsError::Mpc(m) => m.into(),
        }
    }
}

/// The status of an engine error, by kind: the caller's problem (400), a peer that cannot be
/// reached (503) or misbehaved (502), or a bug (500).
pub(crate) fn mpc_status(e: &MpcError) -> u16 {
    match e {
        MpcError::Range { .. } | MpcError::Encode(_) | MpcError::Invalid(_) => 400,
        MpcError::PeerUnreachable { .. } => 503,
        MpcError::PeerMisbehaved { .. } => 502,
        MpcError::Internal(_) => 500,
    }
}

/// The mesh's id of a client's job: SHA-256 of the account name and the client's number, so that
/// accounts cannot collide with (or step into) each other's jobs. Never 0 (heartbeats).
pub(crate) fn mesh_job(account: &str, job: u64) -> u64 {
    let mut b = b"mitsu-job\0".to_vec();
    b.extend_from_slice(account.as_bytes());
    b.push(0);
    b.extend_from_slice(&job.to_le_bytes());
    let d = ring::digest::digest(&ring::digest::SHA256, &b);
    u64::from_le_bytes(d.as_ref()[..8].try_into().expect("8 bytes")).max(1)
}

/// SHA-256 of what the parties must agree on before computing.
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    ctx.finish().as_ref().try_into().expect("32 bytes")
}

/// One round: every party sends its digest of the request to the other two; all three refuse,
/// naming whose differs, unless the three are equal.
pub(crate) fn agree(state: &State, ch: &mut Channel, d: &[u8; 32]) -> Result<(), Fail> {
    let me = state.me;
    let peers = [me.next(), me.prev()];
    let words: Vec<u64> = d.chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    let got = ch.round(peers.iter().map(|&p| (p, Payload::U64(words.clone()))).collect(), &peers)?;
    let mut differ = Vec::new();
    for (p, msg) in peers.iter().zip(got) {
        let theirs: Vec<u64> = msg.into_ring(*p, 4)?;
        if theirs != words {
            differ.push(p.index());
        }
    }
    if differ.is_empty() {
        return Ok(());
    }
    differ.sort();
    Err(Fail(
        409,
        format!(
            "the parties received different requests under this job id (party {} saw a request that differs from \
             party {}'s): it was altered or replayed on the way, or the client sent each party something else; \
             nothing was computed",
            differ.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" and "),
            me.index()
        ),
    ))
}

/// What a job opened among the parties, as the party's log line shows it.
pub(crate) fn describe_openings(opened: &[Opened]) -> String {
    let list: Vec<String> = opened.iter().map(|o| o.to_string()).collect();
    if list.is_empty() { "nothing".to_string() } else { list.join("; ") }
}

/// The engine's record of openings, as the job's answer carries it.
pub(crate) fn records(opened: &[Opened]) -> Vec<mitsu_api::frame::OpenedRecord> {
    opened
        .iter()
        .map(|o| mitsu_api::frame::OpenedRecord {
            what: o.what.as_str().to_string(),
            elements: o.elements,
            calls: o.calls,
            to: o.to.map_or("all parties".to_string(), |p| p.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitsu_mpc_core::PartyId;

    // execution errors keep their kind up to the status a client sees (they were all 500)
    #[test]
    fn errors_answer_by_kind() {
        let peer = MpcError::PeerUnreachable { party: PartyId::P2, what: "gone".into() };
        assert_eq!(Fail::from(QueryError::Mpc(peer.clone())).0, 503);
        assert_eq!(Fail::from(QueryError::from(MpcError::invalid("x"))).0, 400);
        assert_eq!(Fail::from(QueryError::internal("bug")).0, 500);
        assert_eq!(Fail::from(QueryError::Forbidden("no".into())).0, 403);
        assert_eq!(Fail::from(QueryError::range("a * b", 140)).0, 400);
        let via_stats = mitsu_stats::StatsError::from(QueryError::Mpc(peer.clone()));
        assert!(matches!(via_stats, mitsu_stats::StatsError::Mpc(MpcError::PeerUnreachable { .. })));
        assert_eq!(Fail::from(mitsu_stats::StatsError::from(QueryError::Mpc(peer))).0, 503);
    }
}
