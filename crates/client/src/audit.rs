//! Reading and verifying the parties' audit logs. Each party's chain is checked on its own; then
//! the three logs are compared: a job one party records as done must be recorded as done, with
//! the same request, by the other two.

use crate::{Client, ClientError};
use mitsu_api::audit::{AuditPage, AuditRecord, verify_chain, verify_records};
use std::collections::BTreeMap;

/// What `verify_audit` found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Per party: records read and the head hash (empty for one project's records, which are
    /// checked one by one), or the first break.
    pub chains: Vec<(usize, usize, Result<String, String>)>,
    /// Jobs recorded as done, found at all three parties with the same request.
    pub agreed_jobs: usize,
    /// Every disagreement between the parties, naming the party and the record.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.chains.iter().all(|c| c.2.is_ok())
    }
}

fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

impl Client {
    /// Party `i`'s whole log (or one project's records), page by page.
    pub fn audit_log(&self, i: usize, project: Option<&str>) -> Result<Vec<AuditRecord>, ClientError> {
        let mut out: Vec<AuditRecord> = Vec::new();
        loop {
            let after = out.last().map(|r| r.seq).unwrap_or(0);
            let mut path = format!("/v1/audit?after={after}");
            if let Some(p) = project {
                path.push_str(&format!("&project={}", query_escape(p)));
            }
            let page: AuditPage = self.typed(i, "GET", &path, &[])?;
            if page.records.is_empty() {
                return Ok(out);
            }
            if page.records.first().is_some_and(|r| r.seq <= after) {
                return Err(ClientError::Party { party: i, what: "answered audit records out of order".into() });
            }
            out.extend(page.records);
        }
    }

    /// Verifies the three parties' whole logs (the admin or an auditor), or one project's
    /// records (anyone taking part in it): each record's hash, and that the parties agree.
    pub fn verify_audit(&self, project: Option<&str>) -> Result<Verification, ClientError> {
        let logs: Vec<Vec<AuditRecord>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3).map(|i| s.spawn(move || self.audit_log(i, project))).collect();
            hs.into_iter().map(|h| h.join().expect("audit thread")).collect::<Result<Vec<_>, _>>()
        })?;
        let chains = logs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let checked = match project {
                    None => verify_chain(l),
                    Some(_) => verify_records(l).map(|()| String::new()),
                };
                (i, l.len(), checked)
            })
            .collect();
        let (agreed_jobs, problems) = compare(&logs);
        Ok(Verification { chains, agreed_jobs, problems })
    }
}

/// Compares the parties' records job by job: a job done at one party must be done, with the same
/// request, at every party. (Refused jobs may differ: a party that refused first makes the others
/// abort, and a request sent to one party only is recorded by that party alone.)
pub fn compare(logs: &[Vec<AuditRecord>]) -> (usize, Vec<String>) {
    let mut by_job: BTreeMap<&str, Vec<Option<&AuditRecord>>> = BTreeMap::new();
    for (p, log) in logs.iter().enumerate() {
        for r in log.iter().filter(|r| !r.job.is_empty()) {
            let e = by_job.entry(&r.job).or_insert_with(|| vec![None; logs.len()]);
            // a job id recorded twice at one party (a retried change): the last record counts
            e[p] = Some(r);
        }
    }
    let mut problems = Vec::new();
    let mut agreed = 0;
    for (job, recs) in by_job {
        let Some((p0, done)) =
            recs.iter().enumerate().find_map(|(p, r)| r.filter(|r| r.outcome == "done").map(|r| (p, r)))
        else {
            continue;
        };
        let mut fine = true;
        for (p, r) in recs.iter().enumerate() {
            match r {
                None => {
                    fine = false;
                    problems.push(format!(
                        "party {p} has no record of job {job} ({} by {:?}), which party {p0} records as done (record {})",
                        done.kind, done.account, done.seq
                    ));
                }
                Some(r) if r.outcome != "done" => {
                    fine = false;
                    problems.push(format!(
                        "job {job}: done at party {p0} (record {}), {} at party {p} (record {})",
                        done.seq, r.outcome, r.seq
                    ));
                }
                Some(r) if r.request != done.request || r.account != done.account || r.kind != done.kind => {
                    fine = false;
                    problems.push(format!(
                        "job {job}: party {p} (record {}) records another request than party {p0} (record {})",
                        r.seq, done.seq
                    ));
                }
                Some(_) => {}
            }
        }
        agreed += fine as usize;
    }
    (agreed, problems)
}
