//! Real party processes on loopback: `mitsu init`, three `mitsu party`, `mitsu status`.
//! Every process is killed when the test ends, whether it passes or fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

fn mitsu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mitsu"))
}

struct Deployment {
    dir: PathBuf,
    parties: Vec<Option<Child>>,
}

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
    fn new(name: &str, base_port: u16) -> Deployment {
        let dir = std::env::temp_dir().join(format!("mitsu-deploy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = mitsu()
            .args([
                "init",
                "--dir",
                dir.to_str().unwrap(),
                "--base-port",
                &base_port.to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut d = Deployment {
            dir,
            parties: vec![],
        };
        for i in 0..3 {
            let c = d.spawn(i);
            d.parties.push(Some(c));
        }
        d
    }

    fn spawn(&self, i: usize) -> Child {
        let log = std::fs::File::create(self.dir.join(format!("party-{i}.log"))).unwrap();
        mitsu()
            .args([
                "party",
                "--config",
                self.dir
                    .join(format!("party-{i}/party.toml"))
                    .to_str()
                    .unwrap(),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn client(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn status(&self, client: &Path) -> Output {
        mitsu()
            .args(["status", "--client", client.to_str().unwrap()])
            .output()
            .unwrap()
    }

    /// Waits until every party answers and is linked to both peers.
    fn wait_ready(&self) -> String {
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

#[test]
fn three_party_processes_link_up_and_answer_only_authenticated_clients() {
    let d = Deployment::new(
        "status",
        21300 + (std::process::id() % 1000) as u16 * 6 % 6000,
    );
    let text = d.wait_ready();
    assert!(
        text.contains("party 0: up") && text.contains("party 2: up"),
        "{text}"
    );

    // a client with a wrong token is refused by every party
    let admin = std::fs::read_to_string(d.client("admin.toml")).unwrap();
    let bad: String = admin
        .lines()
        .map(|l| {
            if l.starts_with("token") {
                "token = \"not-the-token\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(d.client("bad.toml"), bad).unwrap();
    let out = d.status(&d.client("bad.toml"));
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for i in 0..3 {
        assert!(
            text.contains(&format!(
                "party {i}: NOT OK: party {i}: missing or wrong token"
            )),
            "{text}"
        );
    }
}

#[test]
fn a_stopped_party_is_reported_and_the_others_stay_up() {
    let mut d = Deployment::new(
        "stop",
        27300 + (std::process::id() % 1000) as u16 * 6 % 6000,
    );
    d.wait_ready();
    let mut p1 = d.parties[1].take().unwrap();
    p1.kill().unwrap();
    p1.wait().unwrap();
    let out = d.status(&d.client("admin.toml"));
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("party 0: up") && text.contains("party 2: up"),
        "{text}"
    );
    assert!(
        text.contains("party 1: NOT OK: party 1: cannot connect"),
        "{text}"
    );
    // after a restart the mesh heals
    d.parties[1] = Some(d.spawn(1));
    d.wait_ready();
}
