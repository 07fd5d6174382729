//! Types that cross a boundary: configuration files, table schemas, and the client API's requests
//! and responses. Nothing here knows about shares or protocols.

pub mod audit;
pub mod encode;
pub mod frame;
pub mod names;
mod schema;
pub mod wire;

pub use schema::{ColumnSchema, Kind, MAX_COLUMNS, MAX_ROWS, SCHEMA_FORMAT, Schema};

/// Rows per stored share chunk: the client uploads and every party stores and reads column shares
/// in chunks of this many rows (the last chunk holds the rest). Part of the wire and disk format.
pub const CHUNK_ROWS: usize = 1 << 16;

/// What an account may do. Routes decide through this type, never by comparing strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Uploads and replaces its own tables, sets their policies and approves projects that list them.
    Provider,
    /// Runs analyses: on other accounts' tables only inside an active project that names it.
    Analyst,
    /// Creates and revokes accounts, runs benchmarks; like everyone, reads others' tables only
    /// through a project.
    Admin,
    /// Reads the parties' status (and, with the audit log, their records); runs nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Provider, Role::Analyst, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// May upload tables (its own).
    pub fn uploads(self) -> bool {
        matches!(self, Role::Provider | Role::Admin)
    }

    /// May run jobs (on its own tables, or inside a project).
    pub fn runs_jobs(self) -> bool {
        !matches!(self, Role::Auditor)
    }

    /// May propose analysis projects.
    pub fn proposes_projects(self) -> bool {
        matches!(self, Role::Analyst | Role::Admin)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {what}")]
    Invalid { path: String, what: String },
}

/// `party-<i>/party.toml`: one party server. Relative paths are relative to the file's directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartyConfig {
    /// This party's id (0, 1 or 2).
    pub party: usize,
    /// Address the peer links listen on.
    pub peer_listen: String,
    /// Address the client API listens on.
    pub api_listen: String,
    /// Directory of the embedded database.
    pub data_dir: PathBuf,
    /// The deployment CA (PEM).
    pub ca: PathBuf,
    /// This party's certificate chain and key (PEM).
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Seconds to wait for a peer before reporting it unreachable.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// SHA-256 (hex) of the bootstrap admin token.
    pub admin_token_sha256: String,
    /// Seconds an upload may go without receiving a chunk before the party discards it.
    #[serde(default = "default_upload_timeout")]
    pub upload_timeout_secs: u64,
    /// Seconds a client connection may take for its TLS handshake and request head together
    /// before the party closes it.
    #[serde(default = "default_head_timeout")]
    pub client_head_timeout_secs: u64,
    pub peers: Vec<PeerAddr>,
}

fn default_timeout() -> u64 {
    30
}

fn default_upload_timeout() -> u64 {
    6 * 3600
}

fn default_head_timeout() -> u64 {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerAddr {
    pub party: usize,
    pub address: String,
}

/// `admin.toml` and other client files: where the parties are and how to authenticate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Account name.
    pub user: String,
    /// Bearer token for the client API.
    pub token: String,
    /// The deployment CA (PEM) that the parties' API certificates chain to.
    pub ca: PathBuf,
    pub parties: Vec<PartyEndpoint>,
    /// The project jobs run in when none is named (`--project`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartyEndpoint {
    pub party: usize,
    /// host:port of the party's client API.
    pub api: String,
}

fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ConfigError> {
    let bad = |what: String| ConfigError::Invalid { path: path.display().to_string(), what };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    toml::from_str(&text).map_err(|e| bad(e.to_string()))
}

/// `p` relative to `base`, made absolute, so that a configuration written back (an account's
/// client file, say) works from any directory.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    std::path::absolute(&joined).unwrap_or(joined)
}

impl PartyConfig {
    /// Reads and validates a party file; relative paths become relative to its directory.
    pub fn load(path: &Path) -> Result<PartyConfig, ConfigError> {
        let mut c: PartyConfig = read(path)?;
        let bad = |what: String| ConfigError::Invalid { path: path.display().to_string(), what };
        if c.party > 2 {
            return Err(bad(format!("party must be 0, 1 or 2, not {}", c.party)));
        }
        let mut ids: Vec<usize> = c.peers.iter().map(|p| p.party).collect();
        ids.sort();
        let want: Vec<usize> = (0..3).filter(|&i| i != c.party).collect();
        if ids != want {
            return Err(bad(format!("peers must be exactly parties {want:?}, found {ids:?}")));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut c.data_dir, &mut c.ca, &mut c.cert, &mut c.key] {
            *p = resolve(base, p);
        }
        Ok(c)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }
}

impl ClientConfig {
    /// Reads a client file; the CA path becomes relative to its directory.
    pub fn load(path: &Path) -> Result<ClientConfig, ConfigError> {
        let mut c: ClientConfig = read(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        c.ca = resolve(base, &c.ca);
        Ok(c)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that removes itself when the test is done with it.
    struct TempFile(PathBuf);
    impl std::ops::Deref for TempFile {
        type Target = std::path::Path;
        fn deref(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn write(name: &str, text: &str) -> TempFile {
        let p = std::env::temp_dir().join(format!("mitsu-api-{name}-{}.toml", std::process::id()));
        std::fs::write(&p, text).unwrap();
        TempFile(p)
    }

    #[test]
    fn malformed_party_files_are_explained() {
        let base = "party = 0\npeer_listen = \"a:1\"\napi_listen = \"a:2\"\ndata_dir = \"d\"\nca = \"c\"\ncert = \"c\"\nkey = \"k\"\nadmin_token_sha256 = \"x\"\n";
        let ok = format!("{base}[[peers]]\nparty = 1\naddress = \"b:1\"\n[[peers]]\nparty = 2\naddress = \"c:1\"\n");
        let p = write("ok", &ok);
        let c = PartyConfig::load(&p).unwrap();
        assert_eq!(c.data_dir, p.parent().unwrap().join("d"));
        let p = write("peers", &format!("{base}[[peers]]\nparty = 1\naddress = \"b:1\"\n"));
        let e = PartyConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("peers must be exactly parties [1, 2]"), "{e}");
        let p = write("typo", &format!("{ok}colour = 3\n"));
        let e = PartyConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = PartyConfig::load(Path::new("/nonexistent/party.toml")).unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/party.toml:"), "{e}");
    }
}
