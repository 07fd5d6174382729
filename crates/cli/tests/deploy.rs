//! Real party processes on loopback: `mitsu init`, three `mitsu party`, `mitsu status`.
//! Every process is killed when the test ends, whether it passes or fails.

mod common;

use common::Deployment;

#[test]
fn three_party_processes_link_up_and_answer_only_authenticated_clients() {
    let d = Deployment::new("status", 21300 + (std::process::id() % 1000) as u16 * 6 % 6000);
    let text = d.wait_ready();
    assert!(text.contains("party 0: up") && text.contains("party 2: up"), "{text}");

    // a client with a wrong token is refused by every party
    let admin = std::fs::read_to_string(d.client("admin.toml")).unwrap();
    let bad: String = admin
        .lines()
        .map(|l| if l.starts_with("token") { "token = \"not-the-token\"".to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(d.client("bad.toml"), bad).unwrap();
    let out = d.status(&d.client("bad.toml"));
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for i in 0..3 {
        assert!(text.contains(&format!("party {i}: NOT OK: party {i}: missing or wrong token")), "{text}");
    }
}

#[test]
fn a_stopped_party_is_reported_and_the_others_stay_up() {
    let mut d = Deployment::new("stop", 27300 + (std::process::id() % 1000) as u16 * 6 % 6000);
    d.wait_ready();
    let mut p1 = d.parties[1].take().unwrap();
    p1.kill().unwrap();
    p1.wait().unwrap();
    let out = d.status(&d.client("admin.toml"));
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("party 0: up") && text.contains("party 2: up"), "{text}");
    assert!(text.contains("party 1: NOT OK: party 1: cannot connect"), "{text}");
    // after a restart the mesh heals
    d.parties[1] = Some(d.spawn(1));
    d.wait_ready();
}
