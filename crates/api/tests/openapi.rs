//! `openapi.json` is checked against the types of `mitsu_api::wire`: every route the server
//! dispatches is documented with the schema of the type it reads and answers, and examples of
//! every type (with every optional field set, and with none) validate against their schema, which
//! names no field the type lacks.

use mitsu_api::wire::*;
use mitsu_api::{ColumnSchema, Kind, Role, Schema};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]["schemas"].get(name).unwrap_or_else(|| panic!("no component schema {name}"))
}

fn deref<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => schema(doc, r.strip_prefix("#/components/schemas/").expect("local ref")),
        None => s,
    }
}

/// Checks `v` against schema `s`; `seen` collects the documented properties `v` used, by path.
fn validate(doc: &Value, s: &Value, v: &Value, at: &str, seen: &mut BTreeSet<String>) -> Result<(), String> {
    let s = deref(doc, s);
    if v.is_null() {
        return if s["nullable"] == json!(true) { Ok(()) } else { Err(format!("{at}: null where none is allowed")) };
    }
    if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
        let ok: Vec<usize> = (0..alts.len()).filter(|&i| validate(doc, &alts[i], v, at, seen).is_ok()).collect();
        return if ok.len() == 1 { Ok(()) } else { Err(format!("{at}: matches {} of oneOf, not 1", ok.len())) };
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {e:?}"));
    }
    let ty = s["type"].as_str().unwrap_or_else(|| panic!("{at}: the schema has no type"));
    let ok = match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        t => panic!("{at}: unknown type {t}"),
    };
    if !ok {
        return Err(format!("{at}: {v} is not of type {ty}"));
    }
    if ty == "array" {
        for (i, x) in v.as_array().expect("array").iter().enumerate() {
            validate(doc, &s["items"], x, &format!("{at}[*]"), seen).map_err(|e| format!("{e} (element {i})"))?;
        }
    }
    if ty == "object" {
        let props = s["properties"].as_object().cloned().unwrap_or_default();
        for r in s["required"].as_array().into_iter().flatten() {
            if v.get(r.as_str().expect("name")).is_none() {
                return Err(format!("{at}: lacks the required {r}"));
            }
        }
        for (k, x) in v.as_object().expect("object") {
            let p = props.get(k).ok_or_else(|| format!("{at}: {k} is not documented"))?;
            seen.insert(format!("{at}.{k}"));
            validate(doc, p, x, &format!("{at}.{k}"), seen)?;
        }
    }
    Ok(())
}

/// Every documented property of schema `name`, by path (following objects and arrays).
fn documented(doc: &Value, s: &Value, at: &str, out: &mut BTreeSet<String>) {
    let s = deref(doc, s);
    if let Some(p) = s.get("properties").and_then(Value::as_object) {
        for (k, x) in p {
            out.insert(format!("{at}.{k}"));
            documented(doc, x, &format!("{at}.{k}"), out);
        }
    }
    if let Some(i) = s.get("items") {
        documented(doc, i, &format!("{at}[*]"), out);
    }
}

/// Serializes `x`, validates it against `name`, checks that it reads back equal, and returns
/// the properties it used.
fn check<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    name: &str,
    x: &T,
) -> BTreeSet<String> {
    let doc = doc();
    let v = serde_json::to_value(x).expect("serializes");
    let mut seen = BTreeSet::new();
    validate(&doc, schema(&doc, name), &v, name, &mut seen).unwrap_or_else(|e| panic!("{name}: {e}\n{v}"));
    let back: T = serde_json::from_value(v.clone()).expect("reads back");
    assert_eq!(&back, x);
    // and from text, as a party reads it (serde buffers some types differently from text)
    let back: T = serde_json::from_str(&v.to_string()).unwrap_or_else(|e| panic!("{name} reads back from text: {e}"));
    assert_eq!(&back, x);
    seen
}

/// `full` must use every property the schema documents.
fn check_full<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, full: &T) {
    let seen = check(name, full);
    let doc = doc();
    let mut want = BTreeSet::new();
    documented(&doc, schema(&doc, name), name, &mut want);
    let missing: Vec<_> = want.difference(&seen).collect();
    assert!(missing.is_empty(), "{name} documents properties the type does not write: {missing:?}");
}

fn schema_example() -> Schema {
    Schema {
        columns: vec![
            ColumnSchema { name: "age".into(), kind: Kind::Integer, nullable: false, bits: 8 },
            ColumnSchema { name: "w".into(), kind: Kind::Decimal { scale: 2 }, nullable: true, bits: 20 },
        ],
        format: mitsu_api::SCHEMA_FORMAT,
    }
}

fn policy_full() -> TablePolicy {
    TablePolicy {
        allow_rows: true,
        min_group_size: 5,
        allow_order_statistics: true,
        dp_epsilon: Some(1.0),
        dp_delta: Some(1e-6),
        max_jobs: Some(100),
    }
}

fn stats_full() -> StatsRequest {
    StatsRequest {
        function: "ols".into(),
        from: "t".into(),
        columns: vec!["a".into()],
        column: Some("a".into()),
        by: Some("g".into()),
        groups: vec!["x".into()],
        q: vec![0.5],
        mu: 1.5,
        welch: true,
        paired: true,
        y: Some("y".into()),
        x: vec!["a".into()],
        method: Some("pearson".into()),
        confidence: Some(0.9),
        row: Some("r".into()),
        col: Some("c".into()),
        col_groups: vec!["u".into()],
        expected: vec![0.5, 0.5],
        bins: Some(10),
        weights: Some("w".into()),
        trim: Some(0.1),
        standardize: true,
        alternative: Some("less".into()),
    }
}

#[test]
fn every_type_validates_against_its_schema_and_names_every_documented_field() {
    let peer = PeerStatus { party: 1, linked: true, last_seen_ms: Some(3), last_error: Some("x".into()) };
    let status = Status {
        party: 0,
        version: "0.0.0".into(),
        uptime_s: 1.5,
        tables: 2,
        peers: vec![peer.clone(), PeerStatus { party: 2, linked: false, last_seen_ms: None, last_error: None }],
        pending_changes: 0,
    };
    check_full("Status", &status);
    check_full("NewAccount", &NewAccount::new(7, "alice", Role::Analyst, &"ab".repeat(32)));
    check_full("Applied", &Applied { applied: "account \"alice\"".into(), party: 2 });
    let t = TableView {
        name: "t".into(),
        version: 1,
        owner: "p".into(),
        rows: 9,
        schema: schema_example(),
        policy: policy_full(),
        party: 0,
    };
    check_full("Table", &t);
    check_full("TableList", &vec![t.clone(), t]);
    check_full(
        "BeginUpload",
        &BeginUpload { version: 1, schema: schema_example(), rows: 3, columns: 3, chunks_per_column: 1 },
    );
    check_full("ChangeJob", &ChangeJob { job: 5 });
    check_full("TablePolicy", &policy_full());
    check_full("SetPolicy", &SetPolicy { job: 5, policy: TablePolicy::default() });
    let acc = AccountView { name: "a".into(), role: Role::Auditor, created: 1_700_000_000, revoked: true };
    check_full("AccountView", &acc);
    check_full("AccountList", &vec![acc]);
    check_full("RotateToken", &RotateToken { job: 5, token_sha256: "ab".repeat(32) });
    let np = NewProject {
        job: 9,
        name: "糖尿病研究".into(),
        purpose: "BMI and progression".into(),
        analysts: vec!["ana".into()],
        tables: vec!["clinic".into(), "lab".into()],
        functions: Function::ALL.to_vec(),
    };
    check_full("NewProject", &np);
    let pv = ProjectView {
        name: np.name.clone(),
        purpose: np.purpose.clone(),
        proposer: "ana".into(),
        analysts: np.analysts.clone(),
        tables: vec![ProjectTable { name: "clinic".into(), owner: "clinic".into(), approved: true }],
        functions: vec![Function::Stats],
        state: "proposed".into(),
        created: 1,
        party: 2,
    };
    check_full("Project", &pv);
    check_full("ProjectList", &vec![pv]);
    let rec = mitsu_api::audit::AuditRecord {
        seq: 1,
        time: 2,
        account: "ana".into(),
        kind: "sql".into(),
        job: "00ff".into(),
        project: Some("p".into()),
        request: "SELECT 1".into(),
        tables: vec![("t".into(), 3)],
        opened: vec![mitsu_api::frame::OpenedRecord {
            what: "w".into(),
            elements: 1,
            calls: 1,
            to: "all parties".into(),
        }],
        suppressed: 2,
        epsilon: 0.5,
        outcome: "done".into(),
        reason: String::new(),
        prev: mitsu_api::audit::GENESIS.into(),
        hash: "ab".into(),
    };
    check_full("AuditPage", &mitsu_api::audit::AuditPage { party: 0, records: vec![rec], total: 1 });
    check_full("Discarded", &Discarded { discarded: 1 });
    check_full("Accepted", &Accepted {});
    check_full("Error", &ErrorBody { error: "no".into() });
    check_full("QueryOptions", &QueryOptions { allow_many_to_many: true });
    check_full("StatsRequest", &stats_full());
    check("StatsRequest", &StatsRequest { function: "mean".into(), from: "t".into(), ..Default::default() });
    let p = Some("p".to_string());
    check_full(
        "SqlJob",
        &JobRequest::Sql { job: 1, sql: "SELECT 1".into(), options: QueryOptions::default(), project: p.clone() },
    );
    check_full("StatsJob", &JobRequest::Stats { job: 1, stats: Box::new(stats_full()), project: p });
    for op in BenchOp::ALL {
        let spec = BenchSpec { n: 10, frac: 16, bits: 40, ring: 128 };
        check_full("BenchJob", &JobRequest::Bench { job: 1, op, stage: 3, spec });
    }
    // the three kinds, each through the document's one Job schema
    check("Job", &JobRequest::Sql { job: 1, sql: "SELECT 1".into(), options: QueryOptions::default(), project: None });
    check("Job", &JobRequest::Stats { job: 1, stats: Box::new(stats_full()), project: None });
}

#[test]
fn every_route_is_documented_with_the_types_it_reads_and_answers() {
    let doc = doc();
    let paths = doc["paths"].as_object().expect("paths");
    let body = |c: &Value| -> Option<String> {
        let c = c.as_object()?;
        if c.contains_key("application/octet-stream") {
            return Some("bytes".into());
        }
        let s = &c.get("application/json")?["schema"];
        Some(s["$ref"].as_str()?.strip_prefix("#/components/schemas/")?.to_string())
    };
    for r in ROUTES {
        let op = paths
            .get(r.path)
            .and_then(|p| p.get(r.method))
            .unwrap_or_else(|| panic!("{} {} is not documented", r.method, r.path));
        assert_eq!(body(&op["requestBody"]["content"]).as_deref(), r.request, "request of {} {}", r.method, r.path);
        assert_eq!(
            body(&op["responses"]["200"]["content"]).as_deref(),
            r.response,
            "answer of {} {}",
            r.method,
            r.path
        );
    }
    for (path, ops) in paths {
        for method in ops.as_object().expect("operations").keys() {
            assert!(
                ROUTES.iter().any(|r| r.path == path && r.method == method),
                "{method} {path} is documented but not a route"
            );
        }
    }
}

#[test]
fn job_requests_refuse_unknown_fields_and_kinds() {
    for bad in [
        json!({"kind": "sql", "job": 1, "sql": "SELECT 1", "extra": 1}),
        json!({"kind": "drop", "job": 1}),
        json!({"job": 1, "sql": "SELECT 1"}),
        json!({"kind": "sql", "job": 1, "sql": "SELECT 1", "stage": 3}),
        json!({"kind": "stats", "job": 1}),
        json!({"kind": "stats", "job": 1, "stats": {"function": "mean", "from": "t", "colum": "x"}}),
        json!({"kind": "bench", "job": 1, "op": "div", "stage": 1, "spec": {"n": 1, "frac": 0, "bits": 1, "ring": 64}}),
        json!({"kind": "bench", "job": 1, "op": "lt", "stage": 1, "spec": {"n": 1, "frac": 0, "bits": 1, "ring": 64}, "project": "p"}),
    ] {
        assert!(serde_json::from_str::<JobRequest>(&bad.to_string()).is_err(), "{bad} was accepted");
    }
}
