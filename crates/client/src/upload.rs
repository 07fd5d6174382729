//! Upload: secret-share a validated table on the caller's machine and send each party only its
//! shares, then commit at all three parties together.
//!
//! Stored columns: the schema's columns in order, then one 0/1 validity column per nullable column
//! (in schema order), then the payload chunks of text columns (`Schema::payload_columns`). Each column is dealt in its ring (see `ColumnSchema::ring_bits`) in chunks
//! of [`CHUNK_ROWS`] rows; a chunk's bytes at a party are its two share components, little-endian.

use crate::table::Table;
use crate::{Client, ClientError};
use mitsu_algebra::Ring;
use mitsu_api::wire::{Accepted, Applied, BeginUpload, CommitUpload, Discarded};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_rep3::client::deal;
use std::sync::mpsc::sync_channel;

pub use mitsu_api::CHUNK_ROWS;

/// What an upload did.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadReport {
    pub table: String,
    pub version: i64,
    pub rows: usize,
    pub bytes_per_party: u64,
}

fn share_bytes<R: Ring>(values: &[i128], prg: &mut Prg) -> [Vec<u8>; 3] {
    let v: Vec<R> = values.iter().map(|&x| R::from_i128(x)).collect();
    deal(&v, prg).map(|s| mitsu_mpc_rep3::client::share_bytes(&s))
}

impl Client {
    /// Uploads `t` as table `name` (a new version if it exists). `progress(done, total)` is called
    /// as chunks are sent. Nothing becomes visible unless all three parties commit.
    pub fn upload(&self, name: &str, t: &Table, progress: &dyn Fn(usize, usize)) -> Result<UploadReport, ClientError> {
        mitsu_api::names::check_name("table", name).map_err(ClientError::Config)?;
        t.schema.validate().map_err(ClientError::Config)?;
        // next version: one above the newest any party has committed
        let mut version = 0;
        for i in 0..3 {
            if let Some(t) = self.table_at(i, name)? {
                version = version.max(t.version);
            }
        }
        version += 1;
        let mut cols: Vec<(&[i128], u32)> =
            t.columns.iter().zip(&t.schema.columns).map(|(c, s)| (&c.values[..], s.ring_bits())).collect();
        let valid: Vec<Vec<i128>> =
            t.columns.iter().filter_map(|c| c.valid.as_ref()).map(|v| v.iter().map(|&b| b as i128).collect()).collect();
        for v in &valid {
            cols.push((&v[..], 64));
        }
        for c in &t.columns {
            for p in &c.payload {
                cols.push((&p[..], 128));
            }
        }
        if cols.len() != t.schema.stored_columns() {
            return Err(ClientError::Config("the encoded table does not match its schema's stored columns".into()));
        }
        let chunks = t.rows.div_ceil(CHUNK_ROWS);
        let begin = BeginUpload {
            version,
            schema: t.schema.clone(),
            rows: t.rows as i64,
            columns: cols.len() as i64,
            chunks_per_column: chunks as i64,
        };
        let begin = serde_json::to_vec(&begin).expect("serializes");
        self.typed_all::<Accepted>("POST", &format!("/v1/tables/{name}/versions"), &begin)?;
        // one sender thread per party; the dealer runs ahead by a few chunks
        let total = cols.len() * chunks;
        let mut sent = 0usize;
        let mut bytes = 0u64;
        let res: Result<(), ClientError> = std::thread::scope(|s| {
            let mut txs = Vec::new();
            let mut handles = Vec::new();
            for p in 0..3 {
                let (tx, rx) = sync_channel::<(usize, usize, Vec<u8>)>(4);
                txs.push(tx);
                handles.push(s.spawn(move || -> Result<(), ClientError> {
                    for (c, k, body) in rx {
                        let path = format!("/v1/tables/{name}/versions/{version}/columns/{c}/chunks/{k}");
                        self.typed::<Accepted>(p, "PUT", &path, &body)?;
                    }
                    Ok(())
                }));
            }
            let mut prg = Prg::new(Seed::random());
            'outer: for (c, (values, ring)) in cols.iter().enumerate() {
                for k in 0..chunks {
                    let part = &values[k * CHUNK_ROWS..((k + 1) * CHUNK_ROWS).min(t.rows)];
                    let shares = if *ring == 64 {
                        share_bytes::<u64>(part, &mut prg)
                    } else {
                        share_bytes::<u128>(part, &mut prg)
                    };
                    bytes += shares[0].len() as u64;
                    for (tx, body) in txs.iter().zip(shares) {
                        if tx.send((c, k, body)).is_err() {
                            break 'outer; // a sender failed; its error is reported below
                        }
                    }
                    sent += 1;
                    progress(sent, total);
                }
            }
            drop(txs);
            for h in handles {
                h.join().expect("sender thread")?;
            }
            Ok(())
        });
        res?;
        let body = serde_json::to_vec(&CommitUpload { job: crate::job_id() }).expect("serializes");
        // concurrently: each party waits for the other two to confirm
        self.typed_all::<Applied>("POST", &format!("/v1/tables/{name}/versions/{version}/commit"), &body)?;
        Ok(UploadReport { table: name.to_string(), version, rows: t.rows, bytes_per_party: bytes })
    }

    /// Discards this account's unfinished upload of `name` at every party (`mitsu upload --abort`).
    /// Returns how many staged versions the parties discarded (the largest count of any party).
    pub fn abort_upload(&self, name: &str) -> Result<u64, ClientError> {
        mitsu_api::names::check_name("table", name).map_err(ClientError::Config)?;
        let answers = self.typed_all::<Discarded>("DELETE", &format!("/v1/tables/{name}/staged"), &[])?;
        Ok(answers.iter().map(|d| d.discarded).max().unwrap_or(0))
    }
}
