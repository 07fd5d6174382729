//! What runs on a data provider's or analyst's machine: one client that talks to all three parties.
//! Plaintext exists only here: values are secret-shared before they leave, results reconstructed
//! after they arrive.

mod audit;
mod governance;

pub use audit::{Verification, compare as compare_audit_logs};
pub mod local;
pub mod sql;
pub mod stats;
pub mod table;
mod upload;

pub use upload::{CHUNK_ROWS, UploadReport};

use mitsu_api::wire::{Applied, ErrorBody, JobRequest, NewAccount, Status, TableView};
use mitsu_api::{ClientConfig, Role};
use mitsu_mpc_core::PartyId;
use mitsu_net::http::ApiClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Config(String),
    #[error("party {party}: {what}")]
    Party { party: usize, what: String },
}

/// A fresh random job id (never 0). The parties namespace it by account.
pub fn job_id() -> u64 {
    loop {
        let j = mitsu_crypto::Prg::new(mitsu_crypto::Seed::random()).next_u64();
        if j != 0 {
            return j;
        }
    }
}

/// A client of one deployment.
#[derive(Debug, Clone)]
pub struct Client {
    pub cfg: ClientConfig,
    api: ApiClient,
}

impl Client {
    /// Loads a client file (for example `admin.toml` written by `mitsu init`).
    pub fn load(path: &Path) -> Result<Client, ClientError> {
        let cfg = ClientConfig::load(path).map_err(|e| ClientError::Config(e.to_string()))?;
        let ca = CertificateDer::from_pem_file(&cfg.ca)
            .map_err(|e| ClientError::Config(format!("{}: {e}", cfg.ca.display())))?;
        let api = ApiClient::new(ca, Duration::from_secs(10)).map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(Client { cfg, api })
    }

    fn party_id(&self, i: usize) -> Result<(PartyId, String), ClientError> {
        let p = self
            .cfg
            .parties
            .iter()
            .find(|p| p.party == i)
            .ok_or(ClientError::Config(format!("the client file lists no party {i}")))?;
        Ok((PartyId::new(i).ok_or(ClientError::Config(format!("party {i} out of range")))?, p.api.clone()))
    }

    /// An open TLS connection to party `i`'s API, for writing a request by hand (tests of what
    /// a hostile client can send).
    pub fn raw_connection(&self, i: usize) -> Result<impl std::io::Read + std::io::Write + use<>, ClientError> {
        let (party, addr) = self.party_id(i)?;
        self.api.connect(party, &addr).map_err(|what| ClientError::Party { party: i, what })
    }

    /// One request to party `i`, raw body. Jobs (`/v1/jobs`) may take as long as they need: the
    /// parties report failures of their own, so the client waits up to an hour for the answer.
    pub fn call_bytes(&self, i: usize, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
        let (party, addr) = self.party_id(i)?;
        let api = if path.starts_with("/v1/jobs") {
            self.api.with_read_timeout(Duration::from_secs(3600))
        } else {
            self.api.clone()
        };
        api.request(party, &addr, method, path, Some(&self.cfg.token), body)
            .map_err(|what| ClientError::Party { party: i, what })
    }

    /// One request to party `i`; the body parsed as JSON when it is JSON.
    pub fn call(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, serde_json::Value), ClientError> {
        let (party, addr) = self.party_id(i)?;
        let (status, resp) = self
            .api
            .request(party, &addr, method, path, Some(&self.cfg.token), body)
            .map_err(|what| ClientError::Party { party: i, what })?;
        let v = serde_json::from_slice(&resp).unwrap_or(serde_json::Value::Null);
        Ok((status, v))
    }

    /// The same request to all three parties, concurrently.
    pub fn call_all(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Vec<Result<(u16, serde_json::Value), ClientError>> {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..3).map(|i| s.spawn(move || self.call(i, method, path, body))).collect();
            hs.into_iter().map(|h| h.join().expect("request thread")).collect()
        })
    }

    /// A request that must succeed (200) at party `i`.
    pub fn expect(&self, i: usize, method: &str, path: &str, body: &[u8]) -> Result<serde_json::Value, ClientError> {
        self.typed(i, method, path, body)
    }

    /// A request that must succeed at all three parties (sent concurrently); the first failure is
    /// returned.
    pub fn expect_all(&self, method: &str, path: &str, body: &[u8]) -> Result<Vec<serde_json::Value>, ClientError> {
        self.typed_all(method, path, body)
    }

    /// A request that must succeed at party `i`, its answer read as the contract's type `T`.
    pub fn typed<T: DeserializeOwned>(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<T, ClientError> {
        let (status, bytes) = self.call_bytes(i, method, path, body)?;
        answer(i, status, &bytes)
    }

    /// The same request to all three parties (concurrently), each answer read as `T`; the first
    /// failure is returned.
    pub fn typed_all<T: DeserializeOwned + Send>(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Vec<T>, ClientError> {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..3).map(|i| s.spawn(move || self.typed::<T>(i, method, path, body))).collect();
            hs.into_iter().map(|h| h.join().expect("request thread")).collect()
        })
    }

    /// Table `name` as party `i` holds it; `None` when it holds none of that name.
    pub fn table_at(&self, i: usize, name: &str) -> Result<Option<TableView>, ClientError> {
        mitsu_api::names::check_name("table", name).map_err(ClientError::Config)?;
        match self.call_bytes(i, "GET", &format!("/v1/tables/{name}"), &[])? {
            (404, _) => Ok(None),
            (status, bytes) => answer(i, status, &bytes).map(Some),
        }
    }

    /// Every table party `i` holds.
    pub fn tables_at(&self, i: usize) -> Result<Vec<TableView>, ClientError> {
        self.typed(i, "GET", "/v1/tables", &[])
    }

    /// Runs a job at all three parties (concurrently); each party's raw answer (a result frame).
    pub fn job_parts(&self, job: &JobRequest) -> Result<Vec<Vec<u8>>, ClientError> {
        let text = serde_json::to_vec(job).expect("a job request serializes");
        let parts: Vec<Result<Vec<u8>, ClientError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let text = &text;
                    s.spawn(move || match self.call_bytes(i, "POST", "/v1/jobs", text)? {
                        (200, bytes) => Ok(bytes),
                        (_, bytes) => Err(ClientError::Party { party: i, what: error_text(&bytes) }),
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("job thread")).collect()
        });
        // a refusal (400) is the same at every party; report the first party's reason
        parts.into_iter().collect()
    }

    /// Creates an account at every party and returns its client file text (with a fresh token).
    pub fn create_account(&self, name: &str, role: &str) -> Result<mitsu_api::ClientConfig, ClientError> {
        let (token, hash) = new_token();
        mitsu_api::names::check_name("account", name).map_err(ClientError::Config)?;
        let role = Role::parse(role).ok_or_else(|| {
            ClientError::Config(format!("a role is provider, analyst, admin or auditor, not {role:?}"))
        })?;
        // one job id for the three requests: the parties create the account together or not at all
        let body = serde_json::to_vec(&NewAccount::new(job_id(), name, role, &hash)).expect("serializes");
        self.typed_all::<Applied>("POST", "/v1/accounts", &body)?;
        let mut cfg = self.cfg.clone();
        cfg.user = name.to_string();
        cfg.token = token;
        cfg.project = None;
        Ok(cfg)
    }

    /// Health of every party, in party order.
    pub fn status(&self) -> Vec<Result<Status, ClientError>> {
        std::thread::scope(|s| {
            let hs: Vec<_> =
                (0..3).map(|i| s.spawn(move || self.typed::<Status>(i, "GET", "/v1/status", &[]))).collect();
            hs.into_iter().map(|h| h.join().expect("status thread")).collect()
        })
    }
}

/// A fresh random token and the hex SHA-256 the parties store of it.
pub(crate) fn new_token() -> (String, String) {
    let mut tok = [0u8; 32];
    mitsu_crypto::Seed::random()
        .0
        .iter()
        .chain(mitsu_crypto::Seed::random().0.iter())
        .enumerate()
        .for_each(|(i, b)| tok[i] = *b);
    let token: String = tok.iter().map(|b| format!("{b:02x}")).collect();
    let hash: String = ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (token, hash)
}

/// The message of an error answer (`ErrorBody`), or a description of an answer that is not one.
pub fn error_text(bytes: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(e) => e.error,
        Err(_) => format!("the party answered with something that is not an error message ({} bytes)", bytes.len()),
    }
}

/// A 200 answer read as `T`, or the party's error.
fn answer<T: DeserializeOwned>(party: usize, status: u16, bytes: &[u8]) -> Result<T, ClientError> {
    if status != 200 {
        return Err(ClientError::Party { party, what: error_text(bytes) });
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ClientError::Party { party, what: format!("answered outside the API contract: {e}") })
}
