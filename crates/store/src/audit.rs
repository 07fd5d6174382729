//! The party's audit log: append-only, hash-chained ([`mitsu_api::audit`]), in the same database
//! as everything else so that a record and the state it describes are equally durable. Nothing
//! here updates or deletes a record.

use crate::{Result, Store, now};
use mitsu_api::audit::{AuditRecord, GENESIS, digest};
use rusqlite::{OptionalExtension, params};

pub(crate) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY, record TEXT NOT NULL, hash TEXT NOT NULL, project TEXT);
    CREATE INDEX IF NOT EXISTS audit_project ON audit (project, seq);";

/// What a party records; the store adds the sequence number, time and chain.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub account: String,
    pub kind: String,
    pub job: String,
    pub project: Option<String>,
    pub request: String,
    pub tables: Vec<(String, i64)>,
    pub opened: Vec<mitsu_api::frame::OpenedRecord>,
    pub suppressed: u64,
    pub epsilon: f64,
    pub outcome: String,
    pub reason: String,
}

impl Store {
    /// Appends a record after the last one, in one transaction with reading the head.
    pub fn audit(&self, e: AuditEntry) -> Result<AuditRecord> {
        Ok(self.audit_batch(vec![e])?.pop().expect("one record"))
    }

    /// Appends records in one transaction (loading a log, benchmarks); a party appends one at a
    /// time, where its job or change ends.
    pub fn audit_batch(&self, entries: Vec<AuditEntry>) -> Result<Vec<AuditRecord>> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            out.push(Self::append(&tx, e)?);
        }
        tx.commit()?;
        Ok(out)
    }

    fn append(tx: &rusqlite::Connection, e: AuditEntry) -> Result<AuditRecord> {
        let head: Option<(i64, String)> = tx
            .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (seq, prev) = head.map(|(s, h)| (s as u64 + 1, h)).unwrap_or((1, GENESIS.to_string()));
        let mut r = AuditRecord {
            seq,
            time: now(),
            account: e.account,
            kind: e.kind,
            job: e.job,
            project: e.project,
            request: e.request,
            tables: e.tables,
            opened: e.opened,
            suppressed: e.suppressed,
            epsilon: e.epsilon,
            outcome: e.outcome,
            reason: e.reason,
            prev,
            hash: String::new(),
        };
        r.hash = digest(&r);
        let text = serde_json::to_string(&r).expect("records serialize");
        tx.execute(
            "INSERT INTO audit (seq, record, hash, project) VALUES (?1, ?2, ?3, ?4)",
            params![seq as i64, text, r.hash, r.project],
        )?;
        Ok(r)
    }

    /// Up to `limit` records after `after`, oldest first (of one project only, when given). A
    /// stored record that no longer parses is an error naming its sequence number.
    pub fn audit_page(&self, after: u64, limit: usize, project: Option<&str>) -> Result<Vec<AuditRecord>> {
        let db = self.db();
        let rows: Vec<(i64, String)> = match project {
            None => db
                .prepare("SELECT seq, record FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2")?
                .query_map(params![after as i64, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<std::result::Result<_, _>>()?,
            Some(p) => db
                .prepare("SELECT seq, record FROM audit WHERE project = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2")?
                .query_map(params![after as i64, limit as i64, p], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<std::result::Result<_, _>>()?,
        };
        rows.into_iter()
            .map(|(seq, text)| {
                serde_json::from_str(&text)
                    .map_err(|e| crate::StoreError::Invalid(format!("audit record {seq} is unreadable: {e}")))
            })
            .collect()
    }

    /// Records in the log.
    pub fn audit_len(&self) -> Result<u64> {
        Ok(self.db().query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
    }
}
