//! Failures a deployment must survive, with real party processes on loopback.

mod common;

use common::{Deployment, numbers_csv, stderr, stdout};
use std::time::Duration;

fn describe_json(d: &Deployment, table: &str, cols: &str) -> std::process::Output {
    d.run(&["stats", "describe", "--from", table, "--columns", cols, "--format", "json"])
}

#[test]
fn a_party_killed_during_an_upload_leaves_nothing_visible_and_a_retry_succeeds() {
    let mut d = Deployment::new("upload-kill", common::ports(2));
    d.wait_ready();
    let csv = d.dir.join("big.csv");
    numbers_csv(&csv, 1_500_000);
    let out = d.run_killing(&["upload", "--table", "t", "--csv", csv.to_str().unwrap()], Duration::from_millis(900), 1);
    assert!(!out.status.success(), "the upload finished before party 1 was killed; use a larger file");
    assert!(stderr(&out).contains("party 1"), "{}", stderr(&out));
    d.restart(1);
    d.wait_ready();
    // nothing became visible anywhere
    let out = d.run(&["tables"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("no tables yet"), "{}", stdout(&out));
    // the same upload simply works now
    let out = d.run(&["upload", "--table", "t", "--csv", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = describe_json(&d, "t", "a");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"count\":1500000"), "{}", stdout(&out));
}

#[test]
fn a_party_killed_during_a_job_is_named_and_the_job_succeeds_after_a_restart() {
    let mut d = Deployment::new("job-kill", common::ports(3));
    d.wait_ready();
    let csv = d.dir.join("t.csv");
    numbers_csv(&csv, 300_000);
    let out = d.run(&["upload", "--table", "t", "--csv", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = describe_json(&d, "t", "a,b,c");
    assert!(before.status.success(), "{}", stderr(&before));
    let args = ["stats", "describe", "--from", "t", "--columns", "a,b,c", "--format", "json"];
    let out = d.run_killing(&args, Duration::from_millis(300), 2);
    assert!(!out.status.success(), "the job finished before party 2 was killed");
    assert!(stderr(&out).contains("party 2"), "{}", stderr(&out));
    // the other parties stay up
    let st = d.run(&["status"]);
    assert!(stdout(&st).contains("party 0: up") && stdout(&st).contains("party 1: up"), "{}", stdout(&st));
    d.restart(2);
    d.wait_ready();
    let after = describe_json(&d, "t", "a,b,c");
    assert!(after.status.success(), "{}", stderr(&after));
    assert_same_numbers(&stdout(&before), &stdout(&after));
}

/// Two describe answers agree to 1e-9 relative: probabilistic truncation moves the last of ~12
/// digits from run to run, so a byte comparison would be wrong.
fn assert_same_numbers(before: &str, after: &str) {
    let (b, a): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(before).unwrap(), serde_json::from_str(after).unwrap());
    let cols = b["columns"].as_object().unwrap();
    assert!(!cols.is_empty(), "{before}");
    for (col, stats) in cols {
        for (k, x) in stats.as_object().unwrap() {
            let y = &a["columns"][col][k];
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => {
                    assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "data intact: {col}.{k} {x} vs {y}")
                }
                _ => assert_eq!(x, y, "data intact: {col}.{k}"),
            }
        }
    }
}

#[test]
fn tables_and_results_survive_kill_9_of_every_party() {
    let mut d = Deployment::new("restart-all", common::ports(4));
    d.wait_ready();
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (t, f) in [("clinic", "clinic_patients.csv"), ("lab", "lab_results.csv")] {
        let out = d.run(&["upload", "--table", t, "--csv", ex.join(f).to_str().unwrap(), "--key", "patient_id"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let tables = stdout(&d.run(&["tables"]));
    let r1 = stdout(&describe_json(&d, "clinic", "age,bmi,bp"));
    let r2 = stdout(&describe_json(&d, "lab", "s1,s5"));
    for i in 0..3 {
        d.kill(i);
    }
    for i in 0..3 {
        d.restart(i);
    }
    d.wait_ready();
    assert_eq!(stdout(&d.run(&["tables"])), tables);
    assert_same_numbers(&r1, &stdout(&describe_json(&d, "clinic", "age,bmi,bp")));
    assert_same_numbers(&r2, &stdout(&describe_json(&d, "lab", "s1,s5")));
    let v: serde_json::Value = serde_json::from_str(&r1).unwrap();
    let mean = v["columns"]["bmi"]["mean"].as_f64().unwrap();
    assert!((mean - 26.37579185520362).abs() < 1e-9, "{r1}");
}

#[test]
fn junk_on_the_client_port_does_not_disturb_a_party_and_shares_are_not_plaintext() {
    let base = common::ports(5);
    let d = Deployment::new("junk", base);
    d.wait_ready();
    let api = format!("127.0.0.1:{}", base + 3);
    for k in 0..5u8 {
        use std::io::Write;
        if let Ok(mut s) = std::net::TcpStream::connect(&api) {
            let junk: Vec<u8> = (0..10_000u32).map(|i| (i as u8).wrapping_mul(17).wrapping_add(k)).collect();
            let _ = s.write_all(&junk);
        }
    }
    // a distinctive column: every value is 123456789
    let csv = d.dir.join("secret.csv");
    std::fs::write(&csv, format!("v\n{}", "123456789\n".repeat(5000))).unwrap();
    let out = d.run(&["upload", "--table", "secret", "--csv", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = describe_json(&d, "secret", "v");
    assert!(stdout(&out).contains("\"min\":123456789.0"), "{}", stdout(&out));
    // the value does not appear in any party's database, in any encoding the client could use
    let needles: Vec<Vec<u8>> =
        vec![123456789u64.to_le_bytes().to_vec(), 123456789u32.to_le_bytes().to_vec(), b"123456789".to_vec()];
    for i in 0..3 {
        let data = d.dir.join(format!("party-{i}/data"));
        let mut bytes = Vec::new();
        for e in std::fs::read_dir(&data).unwrap() {
            bytes.extend(std::fs::read(e.unwrap().path()).unwrap());
        }
        assert!(bytes.len() > 5000 * 16, "party {i} stored the shares");
        for n in &needles {
            let hits = bytes.windows(n.len()).filter(|w| w == &&n[..]).count();
            assert!(hits < 3, "party {i}'s storage contains the plaintext {n:?} {hits} times");
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_party_restored_from_an_old_backup_is_detected_not_computed_with() {
    let mut d = Deployment::new("old-backup", common::ports(8));
    d.wait_ready();
    let csv = d.dir.join("t.csv");
    std::fs::write(&csv, "x\n1\n2\n3\n").unwrap();
    assert!(d.run(&["upload", "--table", "t", "--csv", csv.to_str().unwrap()]).status.success());
    // back up party 1 while it is stopped
    let data = d.dir.join("party-1/data");
    let backup = d.dir.join("party-1-backup");
    d.kill(1);
    copy_dir(&data, &backup);
    d.parties[1] = Some(d.spawn(1));
    d.wait_ready();
    std::fs::write(&csv, "x\n10\n20\n30\n40\n").unwrap();
    assert!(d.run(&["upload", "--table", "t", "--csv", csv.to_str().unwrap()]).status.success());
    // party 1 comes back from the old backup: it holds version 1, the others version 2
    d.kill(1);
    std::fs::remove_dir_all(&data).unwrap();
    copy_dir(&backup, &data);
    d.parties[1] = Some(d.spawn(1));
    d.wait_ready();
    let out = describe_json(&d, "t", "x");
    assert!(!out.status.success(), "computed with mixed versions: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("different versions of table \"t\"") && err.contains("party 1: version 1 (3 rows)"), "{err}");
    // uploading again brings every party to one version
    assert!(d.run(&["upload", "--table", "t", "--csv", csv.to_str().unwrap()]).status.success());
    let out = describe_json(&d, "t", "x");
    assert!(stdout(&out).contains("\"count\":4") && stdout(&out).contains("\"mean\":25.0"), "{}", stdout(&out));
}
