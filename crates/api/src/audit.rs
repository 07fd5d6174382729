//! The audit log's record format and its hash chain: one definition for the party that appends
//! records and for whoever verifies them (`mitsu audit --verify`).
//!
//! Each party keeps its own log. A record's hash is SHA-256 over the previous record's hash and
//! the record's canonical JSON (its fields in this order, without `hash`), so changing, removing
//! or reordering any record breaks every hash after it; comparing the three parties' logs finds a
//! record removed from the end of one of them, or a job one party says ran and another does not.

use serde::{Deserialize, Serialize};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One record: a job, or a request that changed state, with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// 1, 2, 3, … at each party, without gaps.
    pub seq: u64,
    /// Unix seconds at this party.
    pub time: i64,
    pub account: String,
    /// `sql`, `stats`, `bench`, or `change:<kind>` (commit, account, revoke, rotate, project,
    /// approve, close, policy).
    pub kind: String,
    /// The job id the three parties share for this request (hex).
    pub job: String,
    pub project: Option<String>,
    /// The SQL text, the statistics request, or what the change does.
    pub request: String,
    /// Tables read, with the versions read.
    pub tables: Vec<(String, i64)>,
    /// What the job opened, as the engine recorded it.
    pub opened: Vec<crate::frame::OpenedRecord>,
    /// Result cells withheld because too few rows made them (small-cell suppression).
    #[serde(default)]
    pub suppressed: u64,
    /// Differential-privacy budget the job spent (0 without noise).
    #[serde(default)]
    pub epsilon: f64,
    /// `done`, `refused` (a check failed; nothing was computed), or `failed`.
    pub outcome: String,
    /// Why, when not done.
    pub reason: String,
    /// The previous record's hash ([`GENESIS`] for the first).
    pub prev: String,
    /// SHA-256 of `prev` and this record without `hash` ([`digest`]).
    pub hash: String,
}

/// The fields a hash covers, in their order.
#[derive(Serialize)]
struct Covered<'a> {
    seq: u64,
    time: i64,
    account: &'a str,
    kind: &'a str,
    job: &'a str,
    project: &'a Option<String>,
    request: &'a str,
    tables: &'a [(String, i64)],
    opened: &'a [crate::frame::OpenedRecord],
    suppressed: u64,
    epsilon: f64,
    outcome: &'a str,
    reason: &'a str,
    prev: &'a str,
}

/// The hash a record must carry: hex SHA-256 of its `prev`, a newline, and its canonical JSON.
pub fn digest(r: &AuditRecord) -> String {
    let c = Covered {
        seq: r.seq,
        time: r.time,
        account: &r.account,
        kind: &r.kind,
        job: &r.job,
        project: &r.project,
        request: &r.request,
        tables: &r.tables,
        opened: &r.opened,
        suppressed: r.suppressed,
        epsilon: r.epsilon,
        outcome: &r.outcome,
        reason: &r.reason,
        prev: &r.prev,
    };
    let json = serde_json::to_vec(&c).expect("records serialize");
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(r.prev.as_bytes());
    ctx.update(b"\n");
    ctx.update(&json);
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks one party's log from its first record: sequence numbers without gaps, each record
/// linked to the one before and carrying its own hash. Returns the head hash, or the first break.
pub fn verify_chain(records: &[AuditRecord]) -> Result<String, String> {
    let mut prev = GENESIS.to_string();
    for (i, r) in records.iter().enumerate() {
        let want = i as u64 + 1;
        if r.seq != want {
            return Err(format!(
                "record {want} is missing: the log goes from {} to {} (a record was deleted or reordered)",
                want.saturating_sub(1),
                r.seq
            ));
        }
        if r.prev != prev {
            return Err(format!(
                "record {} does not follow record {} (deleted, inserted or reordered)",
                r.seq,
                want - 1
            ));
        }
        if digest(r) != r.hash {
            return Err(format!("record {} was altered: its contents do not match its hash", r.seq));
        }
        prev = r.hash.clone();
    }
    Ok(prev)
}

/// Checks some of a party's records (one project's): ascending sequence numbers and each record
/// carrying its own hash. Without the records between them the links cannot be followed, so a
/// deletion is found by comparing the parties ([`verify_chain`] on the whole log finds it in one).
pub fn verify_records(records: &[AuditRecord]) -> Result<(), String> {
    let mut last = 0;
    for r in records {
        if r.seq <= last {
            return Err(format!("record {} comes after record {last} (reordered)", r.seq));
        }
        if digest(r) != r.hash {
            return Err(format!("record {} was altered: its contents do not match its hash", r.seq));
        }
        last = r.seq;
    }
    Ok(())
}

/// `GET /v1/audit`: a page of one party's log, oldest first, and the party's head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    pub party: usize,
    pub records: Vec<AuditRecord>,
    /// The number of records in the whole log.
    pub total: u64,
}

/// Most records one page holds.
pub const PAGE: usize = 5000;

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    time: 1_700_000_000 + seq as i64,
                    account: "ana".into(),
                    kind: "sql".into(),
                    job: format!("{seq:016x}"),
                    project: Some("p".into()),
                    request: "SELECT COUNT(*) FROM t".into(),
                    tables: vec![("t".into(), 1)],
                    opened: vec![],
                    suppressed: 0,
                    epsilon: 0.0,
                    outcome: "done".into(),
                    reason: String::new(),
                    prev: prev.clone(),
                    hash: String::new(),
                };
                r.hash = digest(&r);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn alterations_deletions_and_reorderings_are_found() {
        let c = chain(5);
        assert!(verify_chain(&c).is_ok());
        let mut altered = c.clone();
        altered[2].request = "SELECT * FROM t".into();
        assert_eq!(verify_chain(&altered).unwrap_err(), "record 3 was altered: its contents do not match its hash");
        let mut deleted = c.clone();
        deleted.remove(1);
        assert!(verify_chain(&deleted).unwrap_err().contains("record 2 is missing"));
        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert!(verify_chain(&swapped).is_err());
        // renumbered after a deletion: the link breaks
        let mut renumbered = c.clone();
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i as u64 + 1;
        }
        assert!(verify_chain(&renumbered).unwrap_err().contains("does not follow"));
    }
}
