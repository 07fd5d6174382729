//! `mitsu bench --audit`: verifying the parties' audit logs, as `mitsu audit --verify` does, over
//! a deployment whose three parties each hold `records` records: every page fetched over the
//! client API, each chain rehashed, the three logs compared job by job.

use mitsu_store::{AuditEntry, Store};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct AuditBench {
    pub records: usize,
    /// Writing the records into each party's store (one transaction per party).
    pub load_s: f64,
    /// The whole verification: fetch, rehash, compare.
    pub verify_s: f64,
    /// Of which rehashing the three chains locally.
    pub rehash_s: f64,
    pub records_per_s: f64,
}

fn entry(i: usize) -> AuditEntry {
    // a realistic record: an aggregate join with its tables and the engine's openings
    AuditEntry {
        account: format!("analyst{}", i % 7),
        kind: if i.is_multiple_of(5) { "stats".into() } else { "sql".into() },
        job: format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        project: Some(format!("project{}", i % 11)),
        request: format!(
            "SELECT c.sex, COUNT(*) AS n, AVG(l.progression) FROM clinic c JOIN lab l USING (patient_id) WHERE c.age >= {} GROUP BY c.sex",
            i % 90
        ),
        tables: vec![("clinic".into(), 1), ("lab".into(), 1)],
        opened: vec![
            mitsu_api::frame::OpenedRecord {
                what: "whether each join side's keys are unique".into(),
                elements: 2,
                calls: 1,
                to: "all parties".into(),
            },
            mitsu_api::frame::OpenedRecord {
                what: "the number of groups".into(),
                elements: 1,
                calls: 1,
                to: "all parties".into(),
            },
        ],
        suppressed: (i % 3) as u64,
        epsilon: 0.0,
        outcome: "done".into(),
        reason: String::new(),
    }
}

fn load(dir: &Path, records: usize) -> Result<(), String> {
    for p in 0..3 {
        let store = Store::open(&dir.join(format!("party-{p}/data"))).map_err(|e| e.to_string())?;
        store.audit_batch((0..records).map(entry).collect()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub fn run(records: usize, exe: &Path) -> Result<AuditBench, String> {
    let t = Instant::now();
    let mut load_s = 0.0;
    let dep = mitsu_server::local::TempDeployment::start_with("bench-audit", exe, |dir| {
        load(dir, records)?;
        load_s = t.elapsed().as_secs_f64();
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let admin = mitsu_client::Client::load(&dep.dir.join("admin.toml")).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let v = admin.verify_audit(None).map_err(|e| e.to_string())?;
    let verify_s = t.elapsed().as_secs_f64();
    if !v.ok() || v.chains.iter().any(|c| c.1 != records) || v.agreed_jobs != records {
        return Err(format!("the benchmark's logs did not verify: {:?} {:?}", v.chains, v.problems.first()));
    }
    // the local part alone: rehashing three chains
    let logs: Vec<_> = (0..3).map(|i| admin.audit_log(i, None)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let t = Instant::now();
    for l in &logs {
        mitsu_api::audit::verify_chain(l)?;
    }
    let rehash_s = t.elapsed().as_secs_f64();
    Ok(AuditBench { records, load_s, verify_s, rehash_s, records_per_s: (3 * records) as f64 / verify_s })
}

pub fn format(b: &AuditBench) -> String {
    format!(
        "audit log of {} records at each of three parties\n  load (one transaction per party): {:.2} s\n  \
         mitsu audit --verify (fetch over TLS, rehash, compare): {:.2} s ({:.0} records/s)\n  \
         of which rehashing the three chains: {:.2} s\n",
        b.records, b.load_s, b.verify_s, b.records_per_s, b.rehash_s
    )
}
