//! `mitsu init`: writes a local deployment: a CA, one certificate and key per party (naming the
//! party), `party-<i>/party.toml` for each party, and an admin client file `admin.toml` holding a
//! fresh bootstrap token (the parties store only its SHA-256).

use mitsu_api::{ClientConfig, PartyConfig, PartyEndpoint, PeerAddr};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} already exists and is not empty; choose another --dir or remove it")]
    NotEmpty(PathBuf),
    #[error("only three-party deployments are supported (replicated sharing), not {0}")]
    Parties(usize),
    #[error("ports {0}..{1} do not fit below 65536; choose a smaller --base-port")]
    Ports(u32, u32),
    #[error("writing {path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error(transparent)]
    Net(#[from] mitsu_net::NetError),
}

/// Options of `mitsu init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub dir: PathBuf,
    pub parties: usize,
    pub host: String,
    pub base_port: u16,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub party_configs: Vec<PathBuf>,
    pub admin: PathBuf,
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), InitError> {
    let io = |err| InitError::Io { path: path.to_path_buf(), err };
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).map_err(io)?;
    }
    fs::write(path, text).map_err(io)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    let _ = secret;
    Ok(())
}

/// Hex SHA-256 of a token: what a party stores instead of the token.
pub fn token_hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes the deployment. Refuses to overwrite a non-empty directory.
pub fn init(opts: &InitOptions) -> Result<Written, InitError> {
    if opts.parties != 3 {
        return Err(InitError::Parties(opts.parties));
    }
    let last = opts.base_port as u32 + 2 * opts.parties as u32;
    if last > 65535 {
        return Err(InitError::Ports(opts.base_port as u32, last));
    }
    if opts.dir.exists() && fs::read_dir(&opts.dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(InitError::NotEmpty(opts.dir.clone()));
    }
    let dep = mitsu_net::pki::generate(opts.parties, std::slice::from_ref(&opts.host))?;
    let dir = &opts.dir;
    write(&dir.join("ca.pem"), &dep.ca_pem, false)?;
    // The CA key signs new certificates (for example a replacement party); keep it offline.
    write(&dir.join("ca.key"), &dep.ca_key_pem, true)?;
    let mut tok = [0u8; 32];
    getrandom::getrandom(&mut tok).expect("OS randomness");
    let token = hex(&tok);
    let peer_port = |i: usize| opts.base_port as usize + i;
    let api_port = |i: usize| opts.base_port as usize + opts.parties + i;
    let mut party_configs = Vec::new();
    for (i, (cert, key)) in dep.parties.iter().enumerate() {
        let pd = dir.join(format!("party-{i}"));
        write(&pd.join("party.pem"), cert, false)?;
        write(&pd.join("party.key"), key, true)?;
        let cfg = PartyConfig {
            party: i,
            peer_listen: format!("{}:{}", opts.host, peer_port(i)),
            api_listen: format!("{}:{}", opts.host, api_port(i)),
            data_dir: "data".into(),
            ca: "../ca.pem".into(),
            cert: "party.pem".into(),
            key: "party.key".into(),
            timeout_secs: 30,
            admin_token_sha256: token_hash(&token),
            upload_timeout_secs: 6 * 3600,
            client_head_timeout_secs: 10,
            peers: (0..opts.parties)
                .filter(|&j| j != i)
                .map(|j| PeerAddr { party: j, address: format!("{}:{}", opts.host, peer_port(j)) })
                .collect(),
        };
        let path = pd.join("party.toml");
        write(&path, &cfg.to_toml(), false)?;
        party_configs.push(path);
    }
    let admin = ClientConfig {
        user: "admin".into(),
        token,
        ca: "ca.pem".into(),
        parties: (0..opts.parties)
            .map(|i| PartyEndpoint { party: i, api: format!("{}:{}", opts.host, api_port(i)) })
            .collect(),
        project: None,
    };
    let admin_path = dir.join("admin.toml");
    write(&admin_path, &admin.to_toml(), true)?;
    Ok(Written { party_configs, admin: admin_path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitsu_mpc_core::PartyId;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("mitsu-init-{name}-{}", std::process::id()))
    }

    #[test]
    fn writes_configs_that_load_and_certificates_that_name_their_party() {
        let dir = tmp("ok");
        let _ = fs::remove_dir_all(&dir);
        let w =
            init(&InitOptions { dir: dir.clone(), parties: 3, host: "127.0.0.1".into(), base_port: 17000 }).unwrap();
        for (i, p) in w.party_configs.iter().enumerate() {
            let c = PartyConfig::load(p).unwrap();
            assert_eq!(c.party, i);
            assert_eq!(c.peer_listen, format!("127.0.0.1:{}", 17000 + i));
            assert_eq!(c.api_listen, format!("127.0.0.1:{}", 17003 + i));
            assert!(c.ca.exists() && c.cert.exists() && c.key.exists());
            let id = mitsu_net::Identity::load(PartyId::new(i).unwrap(), &c.ca, &c.cert, &c.key).unwrap();
            assert_eq!(id.chain.len(), 1);
        }
        let admin = mitsu_api::ClientConfig::load(&w.admin).unwrap();
        assert_eq!(admin.parties.len(), 3);
        let c0 = PartyConfig::load(&w.party_configs[0]).unwrap();
        assert_eq!(c0.admin_token_sha256, token_hash(&admin.token));
        // refuses to overwrite
        let again = init(&InitOptions { dir: dir.clone(), parties: 3, host: "127.0.0.1".into(), base_port: 17000 });
        assert!(matches!(again, Err(InitError::NotEmpty(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_options_are_explained() {
        let e =
            init(&InitOptions { dir: tmp("p"), parties: 4, host: "127.0.0.1".into(), base_port: 7000 }).unwrap_err();
        assert!(e.to_string().contains("only three-party"), "{e}");
        let e =
            init(&InitOptions { dir: tmp("q"), parties: 3, host: "127.0.0.1".into(), base_port: 65533 }).unwrap_err();
        assert!(e.to_string().contains("smaller --base-port"), "{e}");
    }
}
