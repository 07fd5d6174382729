//! Hostile input from ordinary accounts, against three real party processes: each test is a
//! finding of the hardening review (issue 10) that broke a promise of SECURITY.md, and shows the
//! message the attacker gets, that every party stays up, and that stored data is intact.

mod common;

use common::{Deployment, stderr, stdout};
use mitsu_client::{Client, job_id};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn upload(d: &Deployment, client: &Path, table: &str, csv: &Path, key: Option<&str>) {
    let mut args =
        vec!["upload", "--client", client.to_str().unwrap(), "--table", table, "--csv", csv.to_str().unwrap()];
    if let Some(k) = key {
        args.extend(["--key", k]);
    }
    let out = common::mitsu().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let _ = d;
}

fn sql(client: &Path, q: &str) -> std::process::Output {
    common::mitsu().args(["sql", "--client", client.to_str().unwrap(), q, "--format", "json"]).output().unwrap()
}

fn error_of(v: &Value) -> String {
    v["error"].as_str().unwrap_or_default().to_string()
}

/// The same request to all three parties; (status, error) of each.
fn all(c: &Client, method: &str, path: &str, body: &Value) -> Vec<(u16, String)> {
    c.call_all(method, path, body.to_string().as_bytes())
        .into_iter()
        .map(|r| r.map(|(s, v)| (s, error_of(&v))).unwrap())
        .collect()
}

fn still_up(d: &mut Deployment) {
    for i in 0..3 {
        assert!(d.alive(i), "party {i} stopped");
    }
    let out = d.status(&d.client("admin.toml"));
    assert!(out.status.success() && !stdout(&out).contains("not linked"), "{}", stdout(&out));
}

// Regression: a 1,000-term SUM or OR chain overflowed the stack of every party's API thread and
// aborted all three processes; 5,000 terms crashed the CLI.
#[test]
fn a_deep_query_is_refused_by_every_party_and_none_stops() {
    let mut d = Deployment::new("deep", common::ports(20));
    d.wait_ready();
    let clinic = d.account("clinic", "provider");
    let analyst = d.account("ana", "analyst");
    upload(&d, &clinic, "clinic", &examples().join("clinic_patients.csv"), Some("patient_id"));
    let c = Client::load(&analyst).unwrap();
    let sum = format!("SELECT SUM({}) FROM clinic", vec!["age"; 1000].join("+"));
    let ors: Vec<String> = (0..1000).map(|i| format!("age = {i}")).collect();
    let or = format!("SELECT COUNT(*) FROM clinic WHERE {}", ors.join(" OR "));
    for q in [&sum, &or] {
        // straight to the parties, past the client's own planning
        for (status, e) in all(&c, "POST", "/v1/jobs", &json!({"job": job_id(), "kind": "sql", "sql": q})) {
            assert_eq!(status, 400, "{e}");
            assert!(e.contains("more than 128 levels deep"), "{e}");
        }
    }
    still_up(&mut d);
    d.project("p", &[&analyst], &["clinic"], &[&clinic]);
    // the CLI refuses a 5,000-term query itself, with the same message
    let out = sql(&analyst, &format!("SELECT SUM({}) FROM clinic", vec!["age"; 5000].join("+")));
    assert!(!out.status.success() && stderr(&out).contains("levels deep"), "{}", stderr(&out));
    let out = sql(&analyst, &format!("SELECT COUNT(*) FROM clinic WHERE age IN ({})", vec!["1"; 300].join(",")));
    assert!(stderr(&out).contains("IN takes 1 to 256 values"), "{}", stderr(&out));
    // and the parties still compute
    let out = sql(&analyst, "SELECT COUNT(*) AS n FROM clinic");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["rows"][0][0], json!(442));
    // every route of the contract is served (each refuses these empty bodies with its own
    // message), and nothing else is
    let admin = Client::load(&d.client("admin.toml")).unwrap();
    for r in mitsu_api::wire::ROUTES {
        let path = r
            .path
            .replace("{name}", "nosuch")
            .replace("{version}", "1")
            .replace("{column}", "0")
            .replace("{chunk}", "0")
            .replace("{id}", "1");
        let (status, v) = admin.call(0, &r.method.to_uppercase(), &path, b"").unwrap();
        let e = error_of(&v);
        assert!(!e.contains("not part of the API"), "{} {path}: {status} {e}", r.method);
    }
    let (status, v) = admin.call(0, "GET", "/v1/nosuch", b"").unwrap();
    assert!(status == 404 && error_of(&v).contains("not part of the API"), "{status} {v}");
    still_up(&mut d);
}

/// Begins an upload of `table` with one integer column of `rows` rows, straight through the API.
fn begin(c: &Client, table: &str, version: i64, rows: i64) -> Vec<(u16, String)> {
    let schema = json!({"columns": [{"name": "v", "type": "integer", "nullable": false, "bits": 20}]});
    let body = json!({"version": version, "schema": schema, "rows": rows, "columns": 1, "chunks_per_column": (rows + 65535) / 65536});
    all(c, "POST", &format!("/v1/tables/{table}/versions"), &body)
}

/// Chunk 0 of column 0 for each party: shares of `values` in Z_2^64.
fn chunks(values: &[i64]) -> [Vec<u8>; 3] {
    let v: Vec<u64> = values.iter().map(|&x| x as u64).collect();
    let mut prg = mitsu_crypto::Prg::new(mitsu_crypto::Seed::random());
    mitsu_mpc_rep3::client::deal(&v, &mut prg).map(|s| {
        let (a, b) = s.components();
        let mut out: Vec<u8> = a.iter().flat_map(|x| x.to_le_bytes()).collect();
        out.extend(b.iter().flat_map(|x| x.to_le_bytes()));
        out
    })
}

fn put(c: &Client, table: &str, version: i64, parts: &[Vec<u8>; 3]) -> Vec<(u16, String)> {
    (0..3)
        .map(|i| {
            let path = format!("/v1/tables/{table}/versions/{version}/columns/0/chunks/0");
            let (s, v) = c.call(i, "PUT", &path, &parts[i]).unwrap();
            (s, error_of(&v))
        })
        .collect()
}

fn commit(c: &Client, table: &str, version: i64) -> Vec<(u16, String)> {
    all(c, "POST", &format!("/v1/tables/{table}/versions/{version}/commit"), &json!({"job": job_id()}))
}

fn count(analyst: &Path, table: &str) -> Value {
    let out = sql(analyst, &format!("SELECT COUNT(*) AS n, SUM(v) AS s FROM {table}"));
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str::<Value>(&stdout(&out)).unwrap()["rows"][0].clone()
}

// Regression: a provider could PUT chunks into another provider's upload in progress (the owner's
// commit then committed the tampered data under the owner's name) and re-begin a table another
// provider had begun, taking it over. Upload steps checked the role, not the version's owner.
#[test]
fn a_provider_cannot_touch_another_providers_upload() {
    let mut d = Deployment::new("tamper", common::ports(21));
    d.wait_ready();
    let (a, m) = (d.account("hospital", "provider"), d.account("mallory", "provider"));
    let analyst = d.account("ana", "analyst");
    let (ca, cm) = (Client::load(&a).unwrap(), Client::load(&m).unwrap());
    assert!(begin(&ca, "t", 1, 3).iter().all(|(s, _)| *s == 200));
    // mallory writes into the hospital's version, re-begins it, commits it: refused at every party
    for (s, e) in put(&cm, "t", 1, &chunks(&[666, 666, 666])) {
        assert_eq!(s, 403, "{e}");
        assert!(e.contains("another account began"), "{e}");
    }
    for (s, e) in begin(&cm, "t", 1, 3).into_iter().chain(begin(&cm, "t", 2, 3)) {
        assert_eq!(s, 403, "{e}");
        assert!(e.contains("\"hospital\" has an upload of table \"t\" in progress"), "{e}");
    }
    for (s, e) in commit(&cm, "t", 1) {
        assert!(s == 403 || s == 409, "{s} {e}");
    }
    for (s, e) in all(&cm, "DELETE", "/v1/tables/t/staged", &json!(null)) {
        assert_eq!(s, 200, "{e}"); // discards only mallory's own uploads: none
    }
    // the owner's upload is intact and commits its own numbers
    assert!(put(&ca, "t", 1, &chunks(&[1, 2, 3])).iter().all(|(s, _)| *s == 200));
    for (s, e) in commit(&ca, "t", 1) {
        assert_eq!(s, 200, "{e}");
    }
    d.project("p", &[&analyst], &["t"], &[&a]);
    assert_eq!(count(&analyst, "t"), json!([3, 6]));
    // a committed table is replaced only by its owner
    for (s, e) in begin(&cm, "t", 2, 3) {
        assert_eq!(s, 403, "{e}");
        assert!(e.contains("owned by \"hospital\""), "{e}");
    }
    // an unfinished upload is aborted by its owner at every party, from the CLI
    assert!(begin(&ca, "t", 2, 3).iter().all(|(s, _)| *s == 200));
    let out = common::mitsu().args(["upload", "--client", a.to_str().unwrap(), "--abort", "t"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("discarded your unfinished upload of \"t\""), "{}", stdout(&out));
    assert!(begin(&cm, "t", 2, 3).iter().all(|(s, _)| *s == 403), "the committed table is still the hospital's");
    assert_eq!(count(&analyst, "t"), json!([3, 6]));
    still_up(&mut d);
}

// Regression: table names, schemas (bits = 200) and row counts (2^60 with no chunks) sent
// straight to the API were stored, and a query on such a table panicked every party's worker.
#[test]
fn lying_names_schemas_counts_and_sizes_are_refused_and_nothing_is_stored() {
    let mut d = Deployment::new("lies", common::ports(22));
    d.wait_ready();
    let p = d.account("prov", "provider");
    let c = Client::load(&p).unwrap();
    let col = |bits: u32, ty: &str| json!({"columns": [{"name": "v", "type": ty, "nullable": false, "bits": bits}]});
    let cases: Vec<(String, Value, &str)> = vec![
        (
            "t".into(),
            json!({"version": 1, "schema": col(200, "integer"), "rows": 3, "columns": 1, "chunks_per_column": 1}),
            "2^200",
        ),
        (
            "t".into(),
            json!({"version": 1, "schema": col(20, "integer"), "rows": 1u64 << 60, "columns": 1, "chunks_per_column": 0}),
            "rows",
        ),
        (
            "t".into(),
            json!({"version": 1, "schema": col(20, "integer"), "rows": 3, "columns": 1, "chunks_per_column": 0}),
            "chunks per column",
        ),
        (
            "t".into(),
            json!({"version": 1, "schema": col(20, "integer"), "rows": 3, "columns": 2, "chunks_per_column": 1}),
            "column count",
        ),
        (
            "t".into(),
            json!({"version": -4, "schema": col(20, "integer"), "rows": 3, "columns": 1, "chunks_per_column": 1}),
            "version",
        ),
        (
            "t".into(),
            json!({"version": 1, "schema": col(8, "key"), "rows": 3, "columns": 1, "chunks_per_column": 1}),
            "key",
        ),
        (
            "t".into(),
            json!({"version": 1, "schema": {"columns": []}, "rows": 3, "columns": 0, "chunks_per_column": 1}),
            "1 to 1024 columns",
        ),
        (
            "t".into(),
            json!({"version": 1, "schema": {"columns": [{"name": "a\"b", "type": "integer", "nullable": false, "bits": 8}]}, "rows": 3, "columns": 1, "chunks_per_column": 1}),
            "column name",
        ),
        (
            "t".into(),
            json!({"version": 1, "schema": {"columns": [{"name": "v", "type": "integer", "nullable": false, "bits": 8}, {"name": "v", "type": "integer", "nullable": false, "bits": 8}]}, "rows": 3, "columns": 2, "chunks_per_column": 1}),
            "appears twice",
        ),
        (
            "..%2Fx".into(),
            json!({"version": 1, "schema": col(8, "integer"), "rows": 3, "columns": 1, "chunks_per_column": 1}),
            "table name",
        ),
        (
            "-rf".into(),
            json!({"version": 1, "schema": col(8, "integer"), "rows": 3, "columns": 1, "chunks_per_column": 1}),
            "table name",
        ),
        (
            "x".repeat(100),
            json!({"version": 1, "schema": col(8, "integer"), "rows": 3, "columns": 1, "chunks_per_column": 1}),
            "table name",
        ),
    ];
    for (name, body, want) in &cases {
        for (s, e) in all(&c, "POST", &format!("/v1/tables/{name}/versions"), body) {
            assert_eq!(s, 400, "{name}: {e}");
            assert!(e.contains(want), "{name}: {e:?} should mention {want:?}");
            assert!(e.len() < 400, "errors stay short: {e}");
        }
    }
    // a chunk of the wrong size, or outside the upload
    assert!(begin(&c, "t", 1, 3).iter().all(|(s, _)| *s == 200));
    let mut short = chunks(&[1, 2, 3]);
    for s in &mut short {
        s.truncate(40);
    }
    for (s, e) in put(&c, "t", 1, &short) {
        assert_eq!(s, 400, "{e}");
        assert!(e.contains("has 40 bytes; 3 rows of shares take 48"), "{e}");
    }
    let (s, v) = c.call(0, "PUT", "/v1/tables/t/versions/1/columns/5/chunks/0", &[0; 48]).unwrap();
    assert_eq!(s, 400, "{v}");
    let (s, v) = c.call(0, "PUT", "/v1/tables/t/versions/1/columns/0/chunks/9", &[0; 48]).unwrap();
    assert_eq!(s, 400, "{v}");
    // the incomplete version cannot be committed, and nothing became visible
    for (s, e) in commit(&c, "t", 1) {
        assert_eq!(s, 409, "{e}");
    }
    for i in 0..3 {
        assert_eq!(c.tables_at(i).unwrap(), vec![]);
    }
    still_up(&mut d);
}

// Regression: the three parties did not check that they ran the same request: a different SQL
// text to each party under one job id ran and opened garbage; two analysts who picked the same
// job id made both jobs fail, blaming honest parties.
#[test]
fn the_parties_agree_on_the_exact_request_before_computing() {
    let mut d = Deployment::new("agree", common::ports(23));
    d.wait_ready();
    let clinic = d.account("clinic", "provider");
    upload(&d, &clinic, "clinic", &examples().join("clinic_patients.csv"), Some("patient_id"));
    let (a1, a2) = (d.account("ana", "analyst"), d.account("bob", "analyst"));
    d.project("p", &[&a1, &a2], &["clinic"], &[&clinic]);
    let c = Client::load(&a1).unwrap();
    let job = job_id();
    let texts = ["SELECT SUM(age) FROM clinic", "SELECT SUM(bmi) FROM clinic", "SELECT SUM(age) FROM clinic"];
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let (c, q) = (&c, texts[i]);
                s.spawn(move || {
                    let body = json!({"job": job, "kind": "sql", "sql": q, "project": "p"}).to_string();
                    let (st, b) = c.call_bytes(i, "POST", "/v1/jobs", body.as_bytes()).unwrap();
                    (st, error_of(&serde_json::from_slice(&b).unwrap_or(Value::Null)))
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (s, e)) in answers.iter().enumerate() {
        assert_eq!(*s, 409, "party {i}: {e}");
        assert!(e.contains("received different requests") && e.contains("nothing was computed"), "party {i}: {e}");
    }
    // the id was used: it cannot run again, even with the same text everywhere
    for (s, e) in all(&c, "POST", "/v1/jobs", &json!({"job": job, "kind": "sql", "sql": texts[0], "project": "p"})) {
        assert_eq!(s, 409, "{e}");
        assert!(e.contains("used before"), "{e}");
    }
    // one party is sent a body it cannot read (a field of another job kind): it tells the others,
    // which stop at once instead of waiting for it until their timeout (30 s)
    let job = job_id();
    let t = Instant::now();
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|i| {
                let c = &c;
                s.spawn(move || {
                    let mut body = json!({"job": job, "kind": "sql", "sql": texts[0], "project": "p"});
                    if i == 1 {
                        body["stage"] = json!(7);
                    }
                    let (st, b) = c.call_bytes(i, "POST", "/v1/jobs", body.to_string().as_bytes()).unwrap();
                    (st, error_of(&serde_json::from_slice(&b).unwrap_or(Value::Null)))
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(t.elapsed() < Duration::from_secs(15), "{:?} {answers:?}", t.elapsed());
    assert_eq!(answers[1].0, 400, "{answers:?}");
    assert!(answers[1].1.contains("takes no field `stage`"), "{answers:?}");
    for i in [0, 2] {
        assert_ne!(answers[i].0, 200, "{answers:?}");
        assert!(answers[i].1.contains("could not read"), "party {i}: {answers:?}");
    }
    // two analysts with the same job id at the same time: both jobs run (ids are per account)
    let shared = job_id();
    let run = |f: &Path| {
        let c = Client::load(f).unwrap();
        let body = json!({"job": shared, "kind": "sql", "sql": "SELECT COUNT(*) FROM clinic", "project": "p"});
        all(&c, "POST", "/v1/jobs", &body)
    };
    let (r1, r2) = std::thread::scope(|s| {
        let h = s.spawn(|| run(&a2));
        (run(&a1), h.join().unwrap())
    });
    for (s, e) in r1.into_iter().chain(r2) {
        assert_eq!(s, 200, "{e}");
    }
    still_up(&mut d);
}

// Regression: a client without a token could make a party buffer a 256 MiB body per connection
// before the token was checked (RSS 71 MB -> 845 MB with three connections, 583 MB kept).
#[test]
fn a_client_without_a_token_cannot_make_a_party_hold_memory_or_connections() {
    let mut d = Deployment::init("unauth", common::ports(24));
    for i in 0..3 {
        d.edit_config(i, |c| c.client_head_timeout_secs = 2);
    }
    d.start();
    d.wait_ready();
    let admin = d.lib("admin.toml");
    let before = d.rss_kib(0);
    // the party answers from the head alone
    let mut s = admin.raw_connection(0).unwrap();
    s.write_all(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 268435000\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 401") && text.contains("missing or wrong token"), "{text}");
    // and what follows is discarded, not buffered: three connections pushing 48 MiB each
    std::thread::scope(|sc| {
        for _ in 0..3 {
            let admin = &admin;
            sc.spawn(move || {
                let mut s = admin.raw_connection(0).unwrap();
                s.write_all(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 268435000\r\n\r\n").unwrap();
                let block = vec![7u8; 1 << 20];
                for _ in 0..48 {
                    if s.write_all(&block).is_err() {
                        break;
                    }
                }
            });
        }
    });
    // a bearer token that is wrong is the same as none
    let mut s = admin.raw_connection(1).unwrap();
    s.write_all(b"POST /v1/jobs HTTP/1.1\r\nAuthorization: Bearer nope\r\nContent-Length: 100000000\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    assert!(String::from_utf8_lossy(&resp).starts_with("HTTP/1.1 401"));
    let grown = d.rss_kib(0).saturating_sub(before);
    assert!(grown < 30 * 1024, "party 0 grew by {grown} KiB");
    // an account's body is limited to 4 MiB (a share chunk is at most 2 MiB), the admin's to 256
    let prov = Client::load(&d.account("prov", "provider")).unwrap();
    let (s, v) = prov.call(0, "POST", "/v1/jobs", &vec![b' '; 5 << 20]).unwrap();
    assert_eq!(s, 413, "{v}");
    assert!(error_of(&v).contains("exceeds the limit of 4194304"), "{v}");
    let (s, v) = admin.call(0, "POST", "/v1/jobs", &vec![b' '; 5 << 20]).unwrap();
    assert_eq!(s, 400, "{v}");
    assert!(error_of(&v).contains("malformed job request"), "{v}");
    // connections that never finish their head are closed at the deadline, and at most 64 wait
    let addr = admin.cfg.parties[2].api.clone();
    let idle: Vec<std::net::TcpStream> = (0..100).map(|_| std::net::TcpStream::connect(&addr).unwrap()).collect();
    let t0 = Instant::now();
    let mut closed = 0;
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        let mut b = [0u8; 16];
        if matches!(c.read(&mut b), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 100, "every idle connection is closed");
    assert!(t0.elapsed() < Duration::from_secs(8), "closed within the head deadline: {:?}", t0.elapsed());
    // and the party serves again
    still_up(&mut d);
}

// Regression: killing a party around a commit could leave the parties at different versions
// until the next upload; an account could be created at two parties of three.
#[test]
fn a_change_interrupted_at_one_party_is_completed_or_undone_everywhere() {
    let mut d = Deployment::init("twophase", common::ports(25));
    d.start();
    d.wait_ready();
    let clinic = d.account("clinic", "provider");
    let analyst = d.account("ana", "analyst");
    // party 2 crashes after voting for the commit, before applying it
    d.kill(2);
    d.parties[2] = Some(d.spawn_with(2, &[("MITSU_FAILPOINT", "change-after-vote")]));
    d.wait_ready();
    let out = common::mitsu()
        .args(["upload", "--client", clinic.to_str().unwrap(), "--table", "clinic", "--csv"])
        .arg(examples().join("clinic_patients.csv"))
        .args(["--key", "patient_id"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "party 2 stopped mid-commit: {}", stdout(&out));
    assert!(stderr(&out).contains("party 2"), "{}", stderr(&out));
    d.wait_exit(2, 10);
    // parties 0 and 1 applied it (all three had voted yes); party 2 applies it when it is back
    d.parties[2] = Some(d.spawn(2));
    d.wait_ready();
    let admin = d.lib("admin.toml");
    common::eventually(20, "party 2 completes the commit", || {
        (0..3).all(|i| admin.table_at(i, "clinic").is_ok_and(|t| t.is_some_and(|t| t.version == 1)))
    });
    d.project("p", &[&analyst], &["clinic"], &[&clinic]);
    let out = sql(&analyst, "SELECT COUNT(*) FROM clinic");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(d.dir.join("party-2.log")).unwrap().contains("completed the commit"));

    // party 1 crashes before recording its vote for an account: nobody creates it
    d.kill(1);
    d.parties[1] = Some(d.spawn_with(1, &[("MITSU_FAILPOINT", "change-before-prepare")]));
    d.wait_ready();
    let f = d.client("eve.toml");
    let out = d.run(&["account", "create", "--name", "eve", "--role", "analyst", "--out", f.to_str().unwrap()]);
    assert!(!out.status.success());
    d.wait_exit(1, 10);
    d.parties[1] = Some(d.spawn(1));
    d.wait_ready();
    // parties 0 and 2 voted yes; party 1 never did: they ask it and drop the change
    common::eventually(20, "the parties drop the account", || {
        admin.status().iter().all(|r| r.as_ref().is_ok_and(|v| v.pending_changes == 0))
    });
    assert!(!f.exists(), "no client file for an account that does not exist");
    // the name is free at every party: creating it again works everywhere
    let out = d.run(&["account", "create", "--name", "eve", "--role", "analyst", "--out", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    d.project("eve", &[&f], &["clinic"], &[&clinic]);
    let out = sql(&f, "SELECT COUNT(*) FROM clinic");
    assert!(out.status.success(), "{}", stderr(&out));
    // an existing name is refused, not silently given a new token
    let out = d.run(&["account", "create", "--name", "eve", "--role", "analyst", "--out", f.to_str().unwrap()]);
    assert!(!out.status.success() && stderr(&out).contains("exists already"), "{}", stderr(&out));
    let out = sql(&f, "SELECT COUNT(*) FROM clinic");
    assert!(out.status.success(), "the first token still works: {}", stderr(&out));
}

/// Uploads a one-column table through the API with the given share chunks, and commits it.
fn dishonest_upload(c: &Client, table: &str, schema: Value, rows: i64, cols: &[[Vec<u8>; 3]]) -> Vec<(u16, String)> {
    let body = json!({"version": 1, "schema": schema, "rows": rows, "columns": cols.len(), "chunks_per_column": 1});
    for (s, e) in all(c, "POST", &format!("/v1/tables/{table}/versions"), &body) {
        assert_eq!(s, 200, "{e}");
    }
    for (k, parts) in cols.iter().enumerate() {
        for i in 0..3 {
            let (s, v) =
                c.call(i, "PUT", &format!("/v1/tables/{table}/versions/1/columns/{k}/chunks/0"), &parts[i]).unwrap();
            assert_eq!(s, 200, "{v}");
        }
    }
    commit(c, table, 1)
}

// Regression: shares outside a column's declared bound, flags that are not 0/1, or components
// that disagree between parties were stored; comparison and sort circuits sized by the bound
// then returned wrong bits silently.
#[test]
fn shares_that_break_their_bounds_are_refused_at_commit() {
    let mut d = Deployment::new("bounds", common::ports(26));
    d.wait_ready();
    let p = d.account("prov", "provider");
    let c = Client::load(&p).unwrap();
    let int8 = json!({"columns": [{"name": "v", "type": "integer", "nullable": false, "bits": 8}]});
    let nullable = json!({"columns": [{"name": "v", "type": "integer", "nullable": true, "bits": 8}]});
    // a value of 1000 under a bound of 2^8
    for (s, e) in dishonest_upload(&c, "big", int8.clone(), 3, &[chunks(&[1, 1000, 3])]) {
        assert_eq!(s, 409, "{e}");
        assert!(e.contains("columns \"v\" hold values outside their declared range"), "{e}");
    }
    // a not-NULL flag of 2, and a value under a NULL
    for flags in [[1, 2, 1], [1, 0, 1]] {
        for (s, e) in dishonest_upload(&c, "flags", nullable.clone(), 3, &[chunks(&[1, 5, 3]), chunks(&flags)]) {
            assert_eq!(s, 409, "{e}");
            assert!(
                e.contains("outside their declared range, not-NULL flags other than 0/1, or values under NULL"),
                "{e}"
            );
        }
        let _ = all(&c, "DELETE", "/v1/tables/flags/staged", &json!(null));
    }
    // components that do not agree between parties 0 and 1
    let mut parts = chunks(&[1, 2, 3]);
    parts[0][30] ^= 1; // in party 0's second components, which party 1 holds as its first
    for (s, e) in dishonest_upload(&c, "split", int8.clone(), 3, &[parts]) {
        assert_eq!(s, 409, "{e}");
        assert!(e.contains("inconsistent"), "{e}");
    }
    // nothing was committed; an honest upload with the same schema goes through
    for i in 0..3 {
        assert_eq!(c.tables_at(i).unwrap(), vec![]);
    }
    for (s, e) in dishonest_upload(&c, "ok", nullable, 3, &[chunks(&[1, 0, -255]), chunks(&[1, 0, 1])]) {
        assert_eq!(s, 200, "{e}");
    }
    let out = sql(&p, "SELECT COUNT(v), SUM(v), MIN(v) FROM ok");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["rows"][0], json!([2, -254, -255]));
    still_up(&mut d);
}

// Regression: `SELECT *` computed in Z_2^64 whatever the columns needed: 99999999999999999999
// came back as 7766279631452241919, a 30-digit decimal scaled wrongly, labels cut to 8 bytes;
// JSON output cast integers to i64.
#[test]
fn select_star_returns_wide_values_and_long_labels_exactly() {
    let d = Deployment::new("star", common::ports(27));
    d.wait_ready();
    let p = d.account("prov", "provider");
    let csv = d.dir.join("wide.csv");
    std::fs::write(
        &csv,
        "id,big,dec,label\n1,99999999999999999999,123456789012345678.901234567890,fifteen-bytes!!\n2,-5,0.000000000001,短いラベル\n",
    )
    .unwrap();
    upload(&d, &p, "wide", &csv, None);
    let out = sql(&p, "SELECT * FROM wide ORDER BY id");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("99999999999999999999") && text.contains("123456789012345678.901234567890"), "{text}");
    assert!(text.contains("0.000000000001"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["rows"][0][3], json!("fifteen-bytes!!"));
    assert_eq!(v["rows"][1][3], json!("短いラベル"));
    assert_eq!(v["rows"][0][1], json!("99999999999999999999"), "beyond 2^53 an integer is a string of its digits");
    assert_eq!(v["rows"][1][1], json!(-5), "smaller integers are numbers");
    let out = common::mitsu()
        .args(["sql", "--client", p.to_str().unwrap(), "SELECT * FROM wide ORDER BY id"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("99999999999999999999") && stdout(&out).contains("fifteen-bytes!!"),
        "{}",
        stdout(&out)
    );
}

// Regression: without WHERE, rows came back in upload order (though EXPLAIN said "shuffle"),
// so they could be tied back to the provider's file.
#[test]
fn result_rows_do_not_come_back_in_upload_order() {
    let d = Deployment::new("order", common::ports(28));
    d.wait_ready();
    let p = d.account("prov", "provider");
    let csv = d.dir.join("seq.csv");
    let mut text = String::from("i,v\n");
    for i in 0..200 {
        text.push_str(&format!("{i},{}\n", i * 3));
    }
    std::fs::write(&csv, text).unwrap();
    upload(&d, &p, "seq", &csv, None);
    let mut orders = Vec::new();
    for q in ["SELECT i FROM seq", "SELECT i FROM seq WHERE v >= 0", "SELECT * FROM seq"] {
        let out = sql(&p, q);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let got: Vec<i64> = v["rows"].as_array().unwrap().iter().map(|r| r[0].as_i64().unwrap()).collect();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, (0..200).collect::<Vec<_>>(), "{q}: every row once");
        // 200 rows in upload order by chance: probability 1/200!
        assert_ne!(got, sorted, "{q}: rows came back in upload order");
        orders.push(got);
    }
    assert_ne!(orders[0], orders[2], "each query draws its own order");
    // ORDER BY still orders
    let out = sql(&p, "SELECT i FROM seq ORDER BY i DESC LIMIT 3");
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["rows"], json!([[199], [198], [197]]));
}

// Regression: party.db and the account files `mitsu account create` wrote were mode 0644, so
// anyone on a party's machine could read its two share components.
#[cfg(unix)]
#[test]
fn a_partys_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = Deployment::new("modes", common::ports(29));
    d.wait_ready();
    let f = d.account("prov", "provider");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&f), 0o600, "account file");
    for i in 0..3 {
        let data = d.dir.join(format!("party-{i}/data"));
        assert_eq!(mode(&data), 0o700, "party {i} data directory");
        for file in ["party.db", "party.db-wal"] {
            assert_eq!(mode(&data.join(file)), 0o600, "party {i} {file}");
        }
        assert_eq!(mode(&d.dir.join(format!("party-{i}/party.key"))), 0o600);
    }
}

// Regression: CSV values such as `1e309`, `NaN`, `inf`, `1e5` and `2024-02-30` silently turned
// a numeric or date column into a category; floats as pandas writes them were refused.
#[test]
fn csv_numbers_and_dates_are_read_exactly_or_refused_naming_the_cell() {
    let mut d = Deployment::new("csvnum", common::ports(30));
    d.wait_ready();
    let p = d.account("prov", "provider");
    let good = d.dir.join("good.csv");
    std::fs::write(
        &good,
        "x,day,r\n1e5,2024-02-29,0.1234567890123\n2.5E-3,2024-03-01,NaN\n-1,2023-12-31,1234.5678901234567\n",
    )
    .unwrap();
    let out = common::mitsu()
        .args(["upload", "--client", p.to_str().unwrap(), "--table", "good", "--csv", good.to_str().unwrap()])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("real(6), rounded to ±5e-7"), "{text}");
    assert!(text.contains("note: column \"r\": real numbers rounded to 6 decimal places"), "{text}");
    assert!(text.contains("note: column \"r\": 1 cell of NA, NaN or inf read as NULL"), "{text}");
    let out = sql(&p, "SELECT SUM(x) AS s, MIN(day) AS d, SUM(r) AS r, COUNT(r) AS n FROM good");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()["rows"][0],
        json!([99999.0025, "2023-12-31", 1234.691347, 2])
    );
    for (cell, want) in [("1e309", "is too large"), ("2024-02-30", "is not a valid date")] {
        let f = d.dir.join("bad.csv");
        let col = if cell.contains('-') { "2024-01-01" } else { "1.5" };
        std::fs::write(&f, format!("id,v\na,{col}\nb,{cell}\n")).unwrap();
        let out = common::mitsu()
            .args(["upload", "--client", p.to_str().unwrap(), "--table", "bad", "--csv", f.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains(&format!("line 3, column \"v\": \"{cell}\" {want}")), "{}", stderr(&out));
    }
    let out = common::mitsu().args(["tables", "--client", p.to_str().unwrap()]).output().unwrap();
    assert!(!stdout(&out).contains("bad"), "nothing was uploaded: {}", stdout(&out));
    still_up(&mut d);
}

// Regression: a join took a side whose keys repeat for unique when its pair count wrapped
// (keys repeating 45, 8 and 4 times: 1024 pairs, 0 mod 2^9), opened multiplicities and dropped rows.
#[test]
fn a_join_sees_keys_that_repeat_however_often() {
    let d = Deployment::new("joinrep", common::ports(31));
    d.wait_ready();
    let p = d.account("prov", "provider");
    let (l, r) = (d.dir.join("l.csv"), d.dir.join("r.csv"));
    let mut text = String::from("k,x\n");
    for (k, times) in [(1, 45), (2, 8), (3, 4)] {
        for i in 0..times {
            text.push_str(&format!("{k},{i}\n"));
        }
    }
    std::fs::write(&l, text).unwrap();
    std::fs::write(&r, (1..=21).fold(String::from("k,w\n"), |s, k| s + &format!("{k},{}\n", 100 + k))).unwrap();
    upload(&d, &p, "l", &l, None);
    upload(&d, &p, "r", &r, None);
    let out = sql(&p, "SELECT COUNT(*) AS n, SUM(r.w) AS s, SUM(l.x) AS sx FROM l JOIN r ON l.k = r.k");
    assert!(out.status.success(), "{}", stderr(&out));
    // 57 matched rows: 45 * 101 + 8 * 102 + 4 * 103, and the sums of 0..45, 0..8, 0..4
    let want = json!([57, 45 * 101 + 8 * 102 + 4 * 103, 990 + 28 + 6]);
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["rows"][0], want);
    let out = sql(&p, "SELECT l.k, COUNT(*) AS n FROM r LEFT JOIN l ON r.k = l.k GROUP BY l.k ORDER BY n DESC LIMIT 3");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["rows"], json!([[1, 45], [null, 18], [2, 8]]));
}

// Regression: a partial upload stayed at the parties with no command to abort it (see also
// `mitsu upload --abort` above): left unfinished, it expires.
#[test]
fn an_unfinished_upload_expires_at_every_party() {
    let mut d = Deployment::init("expire", common::ports(32));
    for i in 0..3 {
        d.edit_config(i, |c| c.upload_timeout_secs = 2);
    }
    d.start();
    d.wait_ready();
    let (a, b) = (d.account("first", "provider"), d.account("second", "provider"));
    let (ca, cb) = (Client::load(&a).unwrap(), Client::load(&b).unwrap());
    assert!(begin(&ca, "t", 1, 3).iter().all(|(s, _)| *s == 200));
    assert!(begin(&cb, "t", 1, 3).iter().all(|(s, _)| *s == 403), "still first's upload");
    common::eventually(15, "the unfinished upload expires", || begin(&cb, "t", 1, 3).iter().all(|(s, _)| *s == 200));
    for i in 0..3 {
        let log = std::fs::read_to_string(d.dir.join(format!("party-{i}.log"))).unwrap();
        assert!(log.contains("discarded the unfinished upload of \"t\" version 1"), "party {i}: {log}");
    }
    still_up(&mut d);
}
