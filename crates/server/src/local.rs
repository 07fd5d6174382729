//! `mitsu up` / `mitsu down`: start and stop a local deployment's parties in the background.
//! Each party's pid is kept in `party-<i>/party.pid`, its log in `party-<i>/party.log`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{0} has no party-<i>/party.toml; create a deployment with `mitsu init --dir {0}`")]
    NoDeployment(String),
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("party {party} exited right after starting; see {log}")]
    Exited { party: usize, log: String },
    #[error("{0}")]
    NotReady(String),
}

fn party_dirs(dir: &Path) -> Result<Vec<PathBuf>, LocalError> {
    let v: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("party-{i}"))).collect();
    if v.iter().any(|d| !d.join("party.toml").exists()) {
        return Err(LocalError::NoDeployment(dir.display().to_string()));
    }
    Ok(v)
}

/// Whether a process with this pid is alive (Linux /proc).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| !s.contains(") Z ")).unwrap_or(false)
}

fn read_pid(d: &Path) -> Option<u32> {
    std::fs::read_to_string(d.join("party.pid")).ok()?.trim().parse().ok()
}

/// Starts every party that is not running. Returns the pids (already running ones included).
pub fn up(dir: &Path, exe: &Path) -> Result<Vec<u32>, LocalError> {
    let mut pids = Vec::new();
    for (i, d) in party_dirs(dir)?.iter().enumerate() {
        if let Some(pid) = read_pid(d).filter(|&p| alive(p)) {
            pids.push(pid);
            continue;
        }
        let log_path = d.join("party.log");
        let io = |err| LocalError::Io { path: log_path.clone(), err };
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io)?;
        let err_log = log.try_clone().map_err(io)?;
        // setsid keeps the party running when the starting terminal closes
        let mut cmd = if Path::new("/usr/bin/setsid").exists() {
            let mut c = Command::new("/usr/bin/setsid");
            c.arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let child = cmd
            .args(["party", "--config"])
            .arg(d.join("party.toml"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(|err| LocalError::Io { path: exe.to_path_buf(), err })?;
        let pid = child.id();
        std::fs::write(d.join("party.pid"), format!("{pid}\n"))
            .map_err(|err| LocalError::Io { path: d.join("party.pid"), err })?;
        std::thread::sleep(Duration::from_millis(50));
        if !alive(pid) {
            return Err(LocalError::Exited { party: i, log: log_path.display().to_string() });
        }
        pids.push(pid);
    }
    Ok(pids)
}

/// Stops every running party (SIGTERM, then SIGKILL after 5 s). Returns how many were stopped.
pub fn down(dir: &Path) -> Result<usize, LocalError> {
    let mut stopped = 0;
    for d in party_dirs(dir)? {
        let Some(pid) = read_pid(&d) else { continue };
        if alive(pid) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if alive(pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            stopped += 1;
        }
        let _ = std::fs::remove_file(d.join("party.pid"));
    }
    Ok(stopped)
}

/// Waits until every party of the deployment in `dir` answers its status request and is linked
/// to both peers (asked with the deployment's `admin.toml`).
pub fn wait_ready(dir: &Path, timeout: Duration) -> Result<(), LocalError> {
    let not_ready = |e: String| LocalError::NotReady(e);
    let cfg = mitsu_api::ClientConfig::load(&dir.join("admin.toml")).map_err(|e| not_ready(e.to_string()))?;
    let ca = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_file(&cfg.ca)
            .map_err(|e| not_ready(format!("{}: {e}", cfg.ca.display())))?
    };
    let api = mitsu_net::http::ApiClient::new(ca, Duration::from_secs(5)).map_err(|e| not_ready(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    loop {
        let mut why = Vec::new();
        for p in &cfg.parties {
            let party = mitsu_mpc_core::PartyId::new(p.party).ok_or_else(|| not_ready(format!("party {}", p.party)))?;
            match api.request(party, &p.api, "GET", "/v1/status", Some(&cfg.token), &[]) {
                Ok((200, body)) => match serde_json::from_slice::<mitsu_api::wire::Status>(&body) {
                    Ok(s) if s.peers.iter().all(|l| l.linked) => {}
                    Ok(_) => why.push(format!("party {} is not linked to both peers yet", p.party)),
                    Err(e) => why.push(format!("party {} answered outside the API contract: {e}", p.party)),
                },
                Ok((status, _)) => why.push(format!("party {} answered {status}", p.party)),
                Err(e) => why.push(format!("party {}: {e}", p.party)),
            }
        }
        if why.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(not_ready(format!("the parties did not come up within {timeout:?}: {}", why.join("; "))));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A base port with `n` consecutive free ports on 127.0.0.1.
pub fn free_ports(n: u16) -> Result<u16, LocalError> {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64);
    for k in 0..200u64 {
        let base = 20000 + ((seed.wrapping_mul(2654435761).wrapping_add(k * 7919)) % 40000) as u16;
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
    Err(LocalError::NotReady(format!("no {n} consecutive free ports found on 127.0.0.1")))
}

/// A local deployment in a temporary directory (`mitsu demo`, `mitsu bench --processes`),
/// started and linked; stopped and removed on drop, also when the command fails.
#[derive(Debug)]
pub struct TempDeployment {
    pub dir: PathBuf,
    pub base_port: u16,
}

impl TempDeployment {
    /// Writes the deployment, starts `exe party` three times and waits until they are linked.
    pub fn start(name: &str, exe: &Path) -> Result<TempDeployment, LocalError> {
        Self::start_with(name, exe, |_| Ok(()))
    }

    /// Like [`start`](Self::start), running `prepare` on the written deployment directory before
    /// the parties start (benchmarks fill the parties' stores there).
    pub fn start_with(
        name: &str,
        exe: &Path,
        prepare: impl FnOnce(&Path) -> Result<(), String>,
    ) -> Result<TempDeployment, LocalError> {
        let dir = std::env::temp_dir().join(format!("mitsu-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let base_port = free_ports(6)?;
        let opts = crate::init::InitOptions { dir: dir.clone(), parties: 3, host: "127.0.0.1".into(), base_port };
        crate::init::init(&opts).map_err(|e| LocalError::NotReady(e.to_string()))?;
        let dep = TempDeployment { dir, base_port };
        prepare(&dep.dir).map_err(LocalError::NotReady)?;
        up(&dep.dir, exe)?;
        wait_ready(&dep.dir, Duration::from_secs(30))?;
        Ok(dep)
    }
}

impl Drop for TempDeployment {
    fn drop(&mut self) {
        let _ = down(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
