//! `mitsu sql` against three real party processes on loopback: results equal SQLite's (the same
//! numbers as `crates/client/tests/sql/joins.test`), EXPLAIN, formats, errors users see, access
//! control at every party, a party killed mid-query, and `stats describe --from` a query.

mod common;

use common::{Deployment, stderr, stdout};
use std::time::Duration;

fn setup(name: &str, slot: u16) -> Deployment {
    let d = Deployment::new(name, common::ports(slot));
    d.wait_ready();
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (t, f) in [("clinic", "clinic_patients.csv"), ("lab", "lab_results.csv")] {
        let out = d.run(&["upload", "--table", t, "--csv", ex.join(f).to_str().unwrap(), "--key", "patient_id"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    d
}

const JOIN: &str = "SELECT c.sex, COUNT(*) AS n, AVG(l.progression) AS p FROM clinic c JOIN lab l USING (patient_id) GROUP BY c.sex ORDER BY c.sex";

#[test]
fn sql_over_party_processes() {
    let mut d = setup("sql", 9);
    let out = d.run(&["sql", JOIN, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["columns"], serde_json::json!(["sex", "n", "p"]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0][0].as_str(), rows[0][1].as_i64()), (Some("F"), Some(211)));
    assert_eq!((rows[1][0].as_str(), rows[1][1].as_i64()), (Some("M"), Some(187)));
    assert!((rows[0][2].as_f64().unwrap() - 146.72985782).abs() < 1e-6, "{rows:?}");
    assert!((rows[1][2].as_f64().unwrap() - 153.267379679).abs() < 1e-6, "{rows:?}");
    assert!(v["cost"]["rounds"].as_u64().unwrap() > 10 && v["cost"]["bytes_per_party"].as_u64().unwrap() > 1000, "{v}");
    let leak = v["leakage"].to_string();
    assert!(leak.contains("number of groups") && leak.contains("unique"), "{leak}");
    // the same query from a file (with a trailing semicolon) and from standard input
    let f = d.dir.join("q.sql");
    std::fs::write(&f, format!("-- progression by sex\n{JOIN};\n")).unwrap();
    let out = d.run(&["sql", "-f", f.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["rows"], v["rows"]);
    let mut child = common::mitsu()
        .env("MITSU_CLIENT", d.client("admin.toml"))
        .args(["sql", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), JOIN.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["rows"], v["rows"]);
    let out = d.run(&["sql", "-f", "/nonexistent/q.sql"]);
    assert!(!out.status.success() && stderr(&out).contains("/nonexistent/q.sql"), "{}", stderr(&out));
    // beside the promise, the engines' record of what was opened among the parties
    let rec = v["parties_opened"].to_string();
    assert!(rec.contains("whether each join side's keys are unique") && rec.contains("the number of groups"), "{rec}");
    let out = d.run(&["sql", JOIN]);
    assert!(stdout(&out).contains("opened among the parties (their engines' record): "), "{}", stdout(&out));

    // LEFT JOIN: patients without lab rows give NULL
    let out = d.run(&[
        "sql",
        "SELECT COUNT(*), COUNT(l.s1) FROM clinic c LEFT JOIN lab l ON c.patient_id = l.patient_id",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().nth(1).unwrap();
    let nums: Vec<i64> = line.split(',').map(|x| x.parse().unwrap()).collect();
    assert_eq!(nums[0], 442);
    assert!(nums[1] < 442 && nums[1] > 350, "{text}");

    // EXPLAIN names the steps, their cost and what they reveal, and runs nothing
    let out = d.run(&["sql", "--explain", JOIN]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("inner join on") && text.contains("reveals: the number of groups"), "{text}");
    assert!(text.contains("rounds ~") && text.contains("total:"), "{text}");

    // what a user sees for mistakes
    let out = d.run(&["sql", "SELECT agee FROM clinic"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown column \"agee\"") && stderr(&out).contains("line 1, column 8"),
        "{}",
        stderr(&out)
    );
    let out = d.run(&["sql", "SELECT age FROM clinic WHERE age LIKE '5%'"]);
    assert!(stderr(&out).contains("not supported: LIKE"), "{}", stderr(&out));
    let out = d.run(&["sql", "SELECT COUNT(*) FROM nosuch"]);
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));

    // every party checks the account: a provider may not read another provider's table
    let p = d.client("p.toml");
    let out = d.run(&["account", "create", "--name", "p", "--role", "provider", "--out", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out =
        common::mitsu().args(["sql", "--client", p.to_str().unwrap(), "SELECT COUNT(*) FROM clinic"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("table \"clinic\" belongs to \"admin\""), "{}", stderr(&out));

    // describe over a query opens what describe over a table opens
    let out = d.run(&[
        "stats",
        "describe",
        "--from",
        "SELECT l.progression FROM clinic c JOIN lab l USING (patient_id) WHERE c.sex = 'F'",
        "--columns",
        "progression",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["columns"]["progression"]["count"], 211);
    assert!((v["columns"]["progression"]["mean"].as_f64().unwrap() - 146.72985782).abs() < 1e-6);

    // a party dying mid-query fails the query with a message, and the data stays usable
    let csv = d.dir.join("big.csv");
    common::numbers_csv(&csv, 200_000);
    let out = d.run(&["upload", "--table", "big", "--csv", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let grouped = "SELECT c, COUNT(*), SUM(a) FROM big GROUP BY c";
    let out = d.run_killing(&["sql", grouped], Duration::from_millis(700), 2);
    assert!(!out.status.success(), "the query finished before party 2 was killed");
    let err = stderr(&out);
    assert!(err.contains("unreachable"), "{err}");
    d.restart(2);
    d.wait_ready();
    let out = d.run(&["sql", JOIN, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("146.7298578"), "{}", stdout(&out));
    let out = d.run(&["sql", grouped, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let total: i64 = v["rows"].as_array().unwrap().iter().map(|r| r[1].as_i64().unwrap()).sum();
    assert_eq!(total, 200_000);
}
