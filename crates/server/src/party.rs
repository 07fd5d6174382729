//! `mitsu party`: one party server. It holds a mesh to the other two parties (mutual TLS, see
//! `mitsu-net`), keeps its links warm with heartbeats, stores shares durably (`mitsu-store`), and
//! serves the client API over TLS. Every request is authenticated and checked here, independently
//! of the other parties.

use crate::routes;
use mitsu_api::PartyConfig;
use mitsu_mpc_core::PartyId;
use mitsu_net::http::{self, Request, Response};
use mitsu_net::{Identity, Mesh, MeshConfig};
use mitsu_store::{Account, Store};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Largest request body the API accepts (share uploads arrive in chunks below this).
pub const MAX_BODY: usize = 256 << 20;

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

pub(crate) struct State {
    pub cfg: PartyConfig,
    pub me: PartyId,
    pub mesh: Mesh,
    pub store: Store,
    pub started: Instant,
    /// Benchmark inputs staged by an admin (`mitsu bench --processes`), by stage id; in memory only.
    pub bench: std::sync::Mutex<std::collections::HashMap<u64, Vec<u8>>>,
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
    let state =
        Arc::new(State { cfg, me, mesh: mesh.clone(), store, started: Instant::now(), bench: Default::default() });
    {
        let (mesh, stop) = (mesh.clone(), stop.clone());
        std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let _ = mesh.heartbeat();
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
            .map_err(|e| ServerError::Config(e.to_string()))?;
    }
    eprintln!("{me}: peers on {}, client API on {}", state.cfg.peer_listen, state.cfg.api_listen);
    let st = stop.clone();
    http::serve(api_l, tls, MAX_BODY, move || st.load(Ordering::SeqCst), move |req| handle(&state, req));
    mesh.shutdown();
    Ok(())
}

/// The caller's account: the bootstrap admin (token hash in the config) or a stored account.
pub(crate) fn caller(state: &State, req: &Request) -> Option<Account> {
    let tok = req.bearer()?;
    // compare hashes, not tokens, so the comparison's timing says nothing about the token
    let got = crate::init::token_hash(tok);
    let want = &state.cfg.admin_token_sha256;
    if got.len() == want.len() && got.bytes().zip(want.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0 {
        return Some(Account { name: "admin".into(), role: "admin".into() });
    }
    state.store.account_by_token(&got).ok().flatten()
}

fn handle(state: &State, req: Request) -> Response {
    let path = req.path.split('?').next().unwrap_or("").to_string();
    if req.method == "GET" && path == "/openapi.json" {
        return Response::json(200, include_str!("openapi.json"));
    }
    let Some(who) = caller(state, &req) else {
        return Response::error(401, "missing or wrong token");
    };
    routes::route(state, &who, &req, &path)
}
