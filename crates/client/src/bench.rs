//! The client side of `mitsu bench --processes`.

use crate::{Client, ClientError};
use mitsu_bench::processes::{Prepared, in_process, prepare, verify};
use serde::Serialize;
use std::time::Instant;

/// One operation measured over the mesh and in process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessBench {
    /// Compute + open across the three party processes (TLS mesh), seconds.
    pub processes: f64,
    /// The same compute + open with three threads of one process, seconds.
    pub in_process: f64,
    /// processes / in_process.
    pub ratio: f64,
    /// Including sending every party its input shares over TLS first, seconds.
    pub with_sharing: f64,
    /// Bytes the busiest party sent to the others (from the in-process run; identical protocol).
    pub bytes_per_party: u64,
}

fn err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Config(e.to_string())
}

impl Client {
    fn bench_once(&self, op: &str, prep: &Prepared) -> Result<(f64, f64), ClientError> {
        let stage = mitsu_crypto::Prg::new(mitsu_crypto::Seed::random()).next_u64() | 1;
        let t0 = Instant::now();
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let body = &prep.staged[i];
                    s.spawn(move || self.expect(i, "POST", &format!("/v1/bench/stage/{stage}"), body))
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("stage thread")).collect::<Result<Vec<_>, _>>()
        })?;
        let t1 = Instant::now();
        let spec = prep.spec;
        let job = serde_json::json!({
            "job": stage, "kind": "bench", "op": op, "stage": stage,
            "n": spec.n, "frac": spec.frac, "bits": spec.bits, "ring": spec.ring,
        })
        .to_string();
        let parts: Vec<Vec<u8>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let job = &job;
                    s.spawn(move || match self.call_bytes(i, "POST", "/v1/jobs", job.as_bytes())? {
                        (200, b) => Ok(b),
                        (_, b) => Err(ClientError::Party {
                            party: i,
                            what: serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default()["error"]
                                .as_str()
                                .unwrap_or("job failed")
                                .to_string(),
                        }),
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("job thread")).collect::<Result<Vec<_>, _>>()
        })?;
        let t2 = Instant::now();
        verify(op, prep, [&parts[0], &parts[1], &parts[2]]).map_err(err)?;
        Ok(((t2 - t1).as_secs_f64(), (t2 - t0).as_secs_f64()))
    }

    /// Measures `op` on `n` elements, best of `repeat`, across the parties and in process.
    pub fn bench_processes(&self, op: &str, n: usize, repeat: usize) -> Result<ProcessBench, ClientError> {
        let prep = prepare(op, n).map_err(err)?;
        let mut best = (f64::INFINITY, f64::INFINITY, f64::INFINITY, 0);
        for _ in 0..repeat.max(1) {
            let (ip, st) = in_process(op, &prep).map_err(err)?;
            let (pr, ws) = self.bench_once(op, &prep)?;
            best = (best.0.min(pr), best.1.min(ip), best.2.min(ws), st.bytes_sent);
        }
        Ok(ProcessBench {
            processes: best.0,
            in_process: best.1,
            ratio: best.0 / best.1,
            with_sharing: best.2,
            bytes_per_party: best.3,
        })
    }
}
