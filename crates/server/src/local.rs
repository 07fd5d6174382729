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
