//! What a party holds while it runs: its configuration, mesh, store, and the bookkeeping of the
//! jobs and changes in flight. Every route and job reads it; it depends on none of them.

use mitsu_api::PartyConfig;
use mitsu_mpc_core::PartyId;
use mitsu_net::Mesh;
use mitsu_store::Store;
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

/// One running party.
pub(crate) struct State {
    pub cfg: PartyConfig,
    pub me: PartyId,
    pub mesh: Mesh,
    pub store: Store,
    pub started: Instant,
    /// Benchmark inputs staged by an admin (`mitsu bench --processes`), by stage id; in memory only.
    pub bench: Mutex<std::collections::HashMap<u64, Vec<u8>>>,
    /// Mesh job ids used recently (a job id runs once), oldest first.
    pub jobs_seen: Mutex<(HashSet<u64>, VecDeque<u64>)>,
    /// Changes this party is running now (the resolver leaves them alone).
    pub busy_changes: Mutex<HashSet<u64>>,
    /// `MITSU_FAILPOINT`: a named point where the party aborts, to test recovery.
    pub failpoint: Option<String>,
}

/// How many recent job ids a party remembers to refuse their reuse.
const JOBS_REMEMBERED: usize = 1 << 16;

impl State {
    /// Claims a mesh job id; false when it was used recently.
    pub(crate) fn claim_job(&self, id: u64) -> bool {
        let mut g = self.jobs_seen.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *g;
        if !set.insert(id) {
            return false;
        }
        order.push_back(id);
        if order.len() > JOBS_REMEMBERED
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }

    /// Aborts the process at the named point when `MITSU_FAILPOINT` names it (tests of crash
    /// recovery kill a party exactly there).
    pub(crate) fn failpoint(&self, name: &str) {
        if self.failpoint.as_deref() == Some(name) {
            tracing::warn!("failpoint {name}: aborting");
            std::process::abort();
        }
    }
}

/// A random 64-bit number from the operating system.
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("the operating system's random numbers");
    u64::from_le_bytes(b)
}
