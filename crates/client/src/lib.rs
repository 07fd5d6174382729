//! What runs on a data provider's or analyst's machine: one client that talks to all three parties.
//! Plaintext exists only here: values are secret-shared before they leave, results reconstructed
//! after they arrive.

pub mod table;

use mitsu_api::ClientConfig;
use mitsu_mpc_core::PartyId;
use mitsu_net::http::ApiClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Config(String),
    #[error("party {party}: {what}")]
    Party { party: usize, what: String },
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
        let api = ApiClient::new(ca, Duration::from_secs(10))
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(Client { cfg, api })
    }

    /// GET `path` from every party; one result per party, in party order.
    pub fn get_all(&self, path: &str) -> Vec<Result<serde_json::Value, ClientError>> {
        self.cfg
            .parties
            .iter()
            .map(|p| {
                let party = PartyId::new(p.party).ok_or(ClientError::Config(format!(
                    "party {} out of range",
                    p.party
                )))?;
                let err = |what: String| ClientError::Party {
                    party: p.party,
                    what,
                };
                let (status, body) = self
                    .api
                    .request(party, &p.api, "GET", path, Some(&self.cfg.token), &[])
                    .map_err(err)?;
                let v: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| err(format!("answered with something that is not JSON: {e}")))?;
                if status != 200 {
                    return Err(err(v["error"]
                        .as_str()
                        .unwrap_or("request failed")
                        .to_string()));
                }
                Ok(v)
            })
            .collect()
    }

    /// Health of every party.
    pub fn status(&self) -> Vec<Result<serde_json::Value, ClientError>> {
        self.get_all("/v1/status")
    }
}
