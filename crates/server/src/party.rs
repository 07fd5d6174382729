//! `mitsu party`: one party server. It holds a mesh to the other two parties (mutual TLS, see
//! `mitsu-net`), keeps its links warm with heartbeats, stores shares durably (`mitsu-store`), and
//! serves the client API over TLS. Every request is authenticated and checked here, independently
//! of the other parties.

use crate::state::State;
use mitsu_api::{PartyConfig, Role};
use mitsu_mpc_core::PartyId;
use mitsu_net::http;
use mitsu_net::{Identity, Mesh, MeshConfig};
use mitsu_store::{Account, Store};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {err} (is another party or program using it?)")]
    Listen { addr: String, err: std::io::Error },
    #[error(transparent)]
    Net(#[from] mitsu_net::NetError),
    #[error(transparent)]
    Store(#[from] mitsu_store::StoreError),
}

fn bind(addr: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr).map_err(|err| ServerError::Listen { addr: addr.to_string(), err })
}

/// Runs the party until `stop` is set (or forever).
pub fn run(cfg: PartyConfig, stop: Arc<AtomicBool>) -> Result<(), ServerError> {
    let me = PartyId::new(cfg.party).ok_or_else(|| ServerError::Config(format!("party {} out of range", cfg.party)))?;
    let id = Identity::load(me, &cfg.ca, &cfg.cert, &cfg.key)?;
    let store = Store::open(&cfg.data_dir)?;
    let peer_l = bind(&cfg.peer_listen)?;
    let api_l = bind(&cfg.api_listen)?;
    let peers = cfg.peers.iter().map(|p| (PartyId::new(p.party).expect("validated"), p.address.clone())).collect();
    let mesh = Mesh::start(
        MeshConfig { identity: id.clone(), peers, timeout: Duration::from_secs(cfg.timeout_secs) },
        peer_l,
    )?;
    let tls = http::server_config(&id)?;
    let state = Arc::new(State {
        cfg,
        me,
        mesh: mesh.clone(),
        store,
        started: Instant::now(),
        bench: Default::default(),
        jobs_seen: Default::default(),
        busy_changes: Default::default(),
        failpoint: std::env::var("MITSU_FAILPOINT").ok().filter(|s| !s.is_empty()),
    });
    {
        let st = state.clone();
        mesh.set_control_handler(Arc::new(move |from, msg| crate::change::answer(&st, from, msg)));
    }
    {
        let (st, stop) = (state.clone(), stop.clone());
        std::thread::Builder::new()
            .name("maintenance".into())
            .spawn(move || maintenance(&st, &stop))
            .map_err(|e| ServerError::Config(e.to_string()))?;
    }
    tracing::info!(party = me.index(), "peers on {}, client API on {}", state.cfg.peer_listen, state.cfg.api_listen);
    let st = stop.clone();
    let limits = http::ServeLimits {
        stack_bytes: mitsu_query::limits::STACK_BYTES,
        head_timeout: Duration::from_secs(state.cfg.client_head_timeout_secs.max(1)),
        ..Default::default()
    };
    let served = http::serve(api_l, tls, limits, move || st.load(Ordering::SeqCst), crate::api::router(state));
    mesh.shutdown();
    served.map_err(|err| ServerError::Listen { addr: "the client API".into(), err })
}

/// Every second: heartbeats; every few seconds: decide interrupted changes, drop messages of jobs
/// this party never joined, discard uploads left unfinished.
fn maintenance(state: &State, stop: &AtomicBool) {
    let timeout = Duration::from_secs(state.cfg.timeout_secs);
    let mut tick: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let _ = state.mesh.heartbeat();
        if tick.is_multiple_of(3) {
            crate::change::resolve(state);
            state.mesh.reap(2 * timeout);
            match state.store.expire_staged(state.cfg.upload_timeout_secs as i64) {
                Ok(gone) => {
                    for (t, v) in gone {
                        tracing::info!("discarded the unfinished upload of {t:?} version {v}");
                    }
                }
                Err(e) => tracing::error!("cannot expire uploads: {e}"),
            }
        }
        tick += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The caller's account: the bootstrap admin (token hash in the config) or a stored account.
pub(crate) fn caller(state: &State, tok: Option<&str>) -> Option<Account> {
    let tok = tok?;
    // compare hashes, not tokens, so the comparison's timing says nothing about the token
    let got = crate::init::token_hash(tok);
    let want = &state.cfg.admin_token_sha256;
    if got.len() == want.len() && got.bytes().zip(want.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0 {
        return Some(Account { name: "admin".into(), role: Role::Admin });
    }
    state.store.account_by_token(&got).ok().flatten()
}
