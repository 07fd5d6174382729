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
        // MITSU_TEST_KEEP=1 keeps the directory (configs, databases, party logs) for a look
        if std::env::var_os("MITSU_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Deployment {
    pub fn new(name: &str, base_port: u16) -> Deployment {
        let mut d = Deployment::init(name, base_port);
        d.start();
        d
    }

    /// A deployment written but not started (edit its configs, then `start`).
    pub fn init(name: &str, base_port: u16) -> Deployment {
        let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("mitsu-deploy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = mitsu()
            .args(["init", "--dir", dir.to_str().unwrap(), "--base-port", &base_port.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Deployment { dir, parties: vec![], _turn: turn }
    }

    pub fn start(&mut self) {
        for i in 0..3 {
            let c = self.spawn(i);
            self.parties.push(Some(c));
        }
    }

    pub fn spawn(&self, i: usize) -> Child {
        self.spawn_with(i, &[])
    }

    /// Starts party `i` with extra environment variables (`MITSU_FAILPOINT`); its log is appended to.
    pub fn spawn_with(&self, i: usize, env: &[(&str, &str)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("party-{i}.log")))
            .unwrap();
        let mut c = mitsu();
        c.args(["party", "--config", self.dir.join(format!("party-{i}/party.toml")).to_str().unwrap()]);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap()
    }

    /// Rewrites party `i`'s configuration file.
    pub fn edit_config(&self, i: usize, f: impl FnOnce(&mut mitsu_api::PartyConfig)) {
        let path = self.dir.join(format!("party-{i}/party.toml"));
        let mut c = mitsu_api::PartyConfig::load(&path).unwrap();
        f(&mut c);
        std::fs::write(&path, c.to_toml()).unwrap();
    }

    /// The client library on one of the deployment's client files.
    pub fn lib(&self, file: &str) -> mitsu_client::Client {
        mitsu_client::Client::load(&self.client(file)).unwrap()
    }

    /// Process id of party `i`.
    pub fn pid(&self, i: usize) -> u32 {
        self.parties[i].as_ref().expect("running").id()
    }

    /// Resident memory of party `i`, in KiB.
    pub fn rss_kib(&self, i: usize) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid(i))).unwrap();
        let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Whether party `i` is still running.
    pub fn alive(&mut self, i: usize) -> bool {
        self.parties[i].as_mut().is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Creates an account and returns its client file.
    pub fn account(&self, name: &str, role: &str) -> PathBuf {
        let f = self.client(&format!("{name}.toml"));
        let out = self.run(&["account", "create", "--name", name, "--role", role, "--out", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        f
    }

    /// An active project `name` over `tables` (stats and every kind of SQL) with `analysts`,
    /// approved by `owners`; the analysts' client files name it as their default project.
    pub fn project(&self, name: &str, analysts: &[&Path], tables: &[&str], owners: &[&Path]) {
        let user = |f: &Path| mitsu_api::ClientConfig::load(f).unwrap().user;
        let names: Vec<String> = analysts.iter().map(|a| user(a)).collect();
        let out = mitsu()
            .env("MITSU_CLIENT", analysts[0])
            .args(["project", "create", name, "--purpose", "a test", "--analysts", &names.join(",")])
            .args(["--tables", &tables.join(","), "--functions", "stats,sql-aggregate,sql-rows"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        for o in owners {
            let out = mitsu().env("MITSU_CLIENT", o).args(["project", "approve", name]).output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        }
        for a in analysts {
            let mut cfg = mitsu_api::ClientConfig::load(a).unwrap();
            cfg.project = Some(name.to_string());
            std::fs::write(a, cfg.to_toml()).unwrap();
        }
    }

    /// Waits until party `i` has exited (at most `secs` seconds).
    pub fn wait_exit(&mut self, i: usize, secs: u64) {
        let c = self.parties[i].as_mut().expect("started");
        eventually(secs, &format!("party {i} exits"), || c.try_wait().unwrap().is_some());
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

/// Waits until `cond` holds (at most `secs` seconds).
pub fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Six consecutive free ports for a test's deployment: a distinct range per slot, moved along
/// while any of its ports is taken (another program, or a test run in parallel).
pub fn ports(slot: u16) -> u16 {
    let start = ((std::process::id() % 100) as u16) * 6;
    (0..100u16)
        .map(|k| 20000 + slot * 600 + (start + 6 * k) % 600)
        .find(|&base| (base..base + 6).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("six free ports")
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
