//! Real party processes on loopback: `mitsu init`, three `mitsu party`, `mitsu status`.
//! Every process is killed when the test ends, whether it passes or fails.

mod common;

use common::Deployment;

#[test]
fn three_party_processes_link_up_and_answer_only_authenticated_clients() {
    let d = Deployment::new("status", common::ports(0));
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
    let mut d = Deployment::new("stop", common::ports(1));
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

#[test]
fn bad_uploads_are_explained_and_store_nothing() {
    let d = Deployment::new("bad-upload", common::ports(6));
    d.wait_ready();
    let csv = d.dir.join("bad.csv");
    std::fs::write(&csv, "id,x\na,1.5\nb,2.5\nc,abc\n").unwrap();
    // `schema infer` writes a file that `upload --schema` reads; here x is declared a decimal, so the
    // fourth line is rejected before anything is sent
    let schema = d.dir.join("schema.json");
    let out = d.run(&["schema", "infer", "--csv", csv.to_str().unwrap(), "--out", schema.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(std::fs::read_to_string(&schema).unwrap().contains("\"type\": \"category\""));
    std::fs::write(
        &schema,
        r#"{"columns": [{"name": "id", "type": "category", "nullable": false, "bits": 120},
                        {"name": "x", "type": "decimal", "scale": 1, "nullable": false, "bits": 8}]}"#,
    )
    .unwrap();
    let out = d.run(&["upload", "--table", "t", "--csv", csv.to_str().unwrap(), "--schema", schema.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("bad.csv, line 4, column \"x\": \"abc\" is not a number"), "{err}");
    assert!(common::stdout(&d.run(&["tables"])).contains("no tables yet"));
    // an analyst may not upload; a provider may not replace another provider's table
    for (name, role) in [("ana", "analyst"), ("p1", "provider"), ("p2", "provider")] {
        let out = d.run(&[
            "account",
            "create",
            "--name",
            name,
            "--role",
            role,
            "--out",
            d.client(&format!("{name}.toml")).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let good = d.dir.join("good.csv");
    std::fs::write(&good, "x\n1\n2\n").unwrap();
    let up = |who: &str| {
        common::mitsu()
            .args([
                "upload",
                "--client",
                d.client(&format!("{who}.toml")).to_str().unwrap(),
                "--table",
                "g",
                "--csv",
                good.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let out = up("ana");
    assert!(
        common::stderr(&out).contains("account \"ana\" (analyst) may not upload tables"),
        "{}",
        common::stderr(&out)
    );
    assert!(up("p1").status.success());
    let out = up("p2");
    assert!(common::stderr(&out).contains("may not replace table \"g\", owned by \"p1\""), "{}", common::stderr(&out));
    let out = d.run(&["table", "show", "g"]);
    assert!(common::stdout(&out).contains("version 1, 2 rows, owner p1"), "{}", common::stdout(&out));
}

/// Mean and sample variance of the non-empty cells of `col`, computed here in plain f64.
fn plain_stats(csv: &std::path::Path, col: &str) -> (usize, f64, f64) {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let idx = lines.next().unwrap().split(',').position(|h| h == col).unwrap();
    let v: Vec<f64> =
        lines.filter_map(|l| l.split(',').nth(idx)).filter(|c| !c.is_empty()).map(|c| c.parse().unwrap()).collect();
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (v.len(), m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0))
}

#[test]
fn describe_skips_nulls_and_a_reupload_replaces_the_table() {
    let d = Deployment::new("nulls", common::ports(7));
    d.wait_ready();
    let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/insurer_a_members.csv");
    let out = d.run(&["upload", "--table", "ins", "--csv", csv.to_str().unwrap(), "--key", "member_id"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = d.run(&["stats", "describe", "--from", "ins", "--columns", "lpi,mdvis", "--format", "json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for col in ["lpi", "mdvis"] {
        let (n, mean, var) = plain_stats(&csv, col);
        let got = &v["columns"][col];
        assert_eq!(got["count"].as_u64().unwrap() as usize, n, "{col}: NULLs are not counted");
        assert!((got["mean"].as_f64().unwrap() - mean).abs() <= 1e-9 * mean.abs().max(1.0), "{col} mean {got}");
        assert!((got["variance"].as_f64().unwrap() - var).abs() <= 1e-9 * var, "{col} variance {got}");
    }
    assert!(v["columns"]["lpi"]["count"].as_u64().unwrap() < 10_095, "lpi has missing values");
    // a re-upload replaces the table as a whole: new version, new rows
    let small = d.dir.join("small.csv");
    std::fs::write(&small, "member_id,lpi,mdvis\nA,1.5,2\nB,,4\n").unwrap();
    let out = d.run(&["upload", "--table", "ins", "--csv", small.to_str().unwrap(), "--key", "member_id"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let out = d.run(&["table", "show", "ins"]);
    assert!(common::stdout(&out).contains("version 2, 2 rows"), "{}", common::stdout(&out));
    let out = d.run(&["stats", "describe", "--from", "ins", "--columns", "lpi,mdvis", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["columns"]["lpi"]["count"], 1);
    assert_eq!(v["columns"]["lpi"]["variance"], serde_json::Value::Null, "one value has no sample variance");
    assert_eq!(v["columns"]["mdvis"]["mean"], 3.0);
}
