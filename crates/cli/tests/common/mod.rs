//! Real party processes for tests: spawned, and killed when the test ends (pass or fail).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub fn mitsu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mitsu"))
}

pub struct Deployment {
    pub dir: PathBuf,
    pub parties: Vec<Option<Child>>,
    // Deployments of one test binary run one at a time: twelve party processes on two cores
    // starve each other past their timeouts. Dropped last, after the processes are killed.
    _turn: std::sync::MutexGuard<'static, ()>,
}

static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Drop for Deployment {
    fn drop(&mut self) {
        for c in self.parties.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Deployment {
    pub fn new(name: &str, base_port: u16) -> Deployment {
        let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("mitsu-deploy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = mitsu()
            .args(["init", "--dir", dir.to_str().unwrap(), "--base-port", &base_port.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut d = Deployment { dir, parties: vec![], _turn: turn };
        for i in 0..3 {
            let c = d.spawn(i);
            d.parties.push(Some(c));
        }
        d
    }

    pub fn spawn(&self, i: usize) -> Child {
        let log = std::fs::File::create(self.dir.join(format!("party-{i}.log"))).unwrap();
        mitsu()
            .args(["party", "--config", self.dir.join(format!("party-{i}/party.toml")).to_str().unwrap()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    pub fn client(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn status(&self, client: &Path) -> Output {
        mitsu().args(["status", "--client", client.to_str().unwrap()]).output().unwrap()
    }

    /// Waits until every party answers and is linked to both peers.
    pub fn wait_ready(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.status(&self.client("admin.toml"));
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            if out.status.success() && !text.contains("not linked") {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "parties did not come up:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Deployment {
    /// Runs `mitsu <args>` with the admin client file in MITSU_CLIENT.
    pub fn run(&self, args: &[&str]) -> Output {
        mitsu().env("MITSU_CLIENT", self.client("admin.toml")).args(args).output().unwrap()
    }

    /// Kills party `i` (SIGKILL, like a crash) and waits for it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.parties[i].take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Runs `mitsu <args>` (admin client) and kills party `i` after `delay`, while it runs.
    pub fn run_killing(&mut self, args: &[&str], delay: Duration, i: usize) -> Output {
        let child = mitsu()
            .env("MITSU_CLIENT", self.client("admin.toml"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        self.kill(i);
        child.wait_with_output().unwrap()
    }

    /// Restarts party `i`.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.parties[i] = Some(self.spawn(i));
    }
}

/// A distinct port range per test name (six ports), away from other tests' ranges.
pub fn ports(slot: u16) -> u16 {
    20000 + slot * 600 + ((std::process::id() % 100) as u16) * 6
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a CSV of `rows` rows with numeric columns a, b, c.
pub fn numbers_csv(path: &Path, rows: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "a,b,c").unwrap();
    for i in 0..rows as i64 {
        writeln!(f, "{},{}.{:02},{}", (i * 7919) % 2001 - 1000, (i * 31) % 1000, i % 100, i % 17).unwrap();
    }
}
