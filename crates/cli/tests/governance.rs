//! Only statistics leave, enforced by every party: projects, approvals, table policies and
//! accounts, against three real party processes through the CLI a user runs. Each refusal shows
//! the message the user sees; nothing is computed when any party refuses.

mod common;

use common::{Deployment, stderr, stdout};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn as_(client: &Path, args: &[&str]) -> std::process::Output {
    common::mitsu().env("MITSU_CLIENT", client).env_remove("MITSU_PROJECT").args(args).output().unwrap()
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "stdout: {}\nstderr: {}", stdout(&o), stderr(&o));
    stdout(&o)
}

fn refused(o: std::process::Output) -> String {
    assert!(!o.status.success(), "was allowed: {}", stdout(&o));
    stderr(&o)
}

/// Two providers with a table each, an analyst, a second analyst and an auditor.
fn setup(name: &str, slot: u16) -> (Deployment, [PathBuf; 5]) {
    let d = Deployment::new(name, common::ports(slot));
    d.wait_ready();
    let clinic = d.account("clinic", "provider");
    let lab = d.account("lab", "provider");
    let ana = d.account("ana", "analyst");
    let bob = d.account("bob", "analyst");
    let aud = d.account("aud", "auditor");
    for (who, table, file) in [(&clinic, "clinic", "clinic_patients.csv"), (&lab, "lab", "lab_results.csv")] {
        let csv = examples().join(file);
        ok(as_(who, &["upload", "--table", table, "--csv", csv.to_str().unwrap(), "--key", "patient_id"]));
    }
    (d, [clinic, lab, ana, bob, aud])
}

const AGG: &str = "SELECT COUNT(*) AS n, AVG(l.progression) AS p FROM clinic c JOIN lab l USING (patient_id)";

#[test]
fn an_analyst_reads_others_tables_only_in_a_project_every_owner_approved() {
    let (mut d, [clinic, lab, ana, bob, _]) = setup("gov-project", 30);
    // without a project: refused, naming the owner and the way out
    let e = refused(as_(&ana, &["sql", AGG]));
    assert!(e.contains("table \"clinic\" belongs to \"clinic\""), "{e}");
    assert!(e.contains("--project"), "{e}");
    // a provider cannot read another provider's table either, but always its own
    let e = refused(as_(&clinic, &["sql", "SELECT COUNT(*) FROM lab"]));
    assert!(e.contains("belongs to \"lab\""), "{e}");
    assert!(ok(as_(&clinic, &["sql", "SELECT age, bmi FROM clinic ORDER BY bmi DESC LIMIT 2"])).contains("bmi"));
    // a provider may not propose; the analyst does
    let e =
        refused(as_(&clinic, &["project", "create", "p", "--purpose", "x", "--analysts", "ana", "--tables", "lab"]));
    assert!(e.contains("may not propose projects"), "{e}");
    let out = ok(as_(
        &ana,
        &["project", "create", "糖尿病", "--purpose", "BMI と進行度", "--analysts", "ana", "--tables", "clinic,lab"],
    ));
    assert!(out.contains("becomes active when clinic, lab approved it"), "{out}");
    // proposed, not active: refused, naming who still has to approve
    let e = refused(as_(&ana, &["sql", AGG, "--project", "糖尿病"]));
    assert!(e.contains("not active") && e.contains("waiting for the approval of clinic, lab"), "{e}");
    ok(as_(&clinic, &["project", "approve", "糖尿病"]));
    let e = refused(as_(&ana, &["sql", AGG, "--project", "糖尿病"]));
    assert!(e.contains("waiting for the approval of lab"), "{e}");
    // only an owner of a listed table approves
    let e = refused(as_(&bob, &["project", "approve", "糖尿病"]));
    assert!(e.contains("owns no table of project"), "{e}");
    let out = ok(as_(&lab, &["project", "approve", "糖尿病"]));
    assert!(out.contains("the project is active"), "{out}");
    // active: aggregates run, and statistics
    let out = ok(as_(&ana, &["sql", AGG, "--project", "糖尿病", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"][0][0], serde_json::json!(398), "{out}");
    ok(as_(&ana, &["stats", "describe", "--from", "lab", "--columns", "s1", "--project", "糖尿病"]));
    // every result carries its leakage report, including what a query under a statistic revealed
    let q = "SELECT l.s1 FROM clinic c JOIN lab l USING (patient_id) WHERE c.age > 40";
    let out = ok(as_(
        &ana,
        &["stats", "describe", "--from", q, "--columns", "s1", "--project", "糖尿病", "--format", "json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let steps = v["leakage"]["query_steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s.as_str().unwrap().contains("join")), "{out}");
    assert!(v["leakage"]["opened_to_you"].as_str().unwrap().contains("listed statistics"), "{out}");
    let out = ok(as_(&ana, &["stats", "describe", "--from", q, "--columns", "s1", "--project", "糖尿病"]));
    assert!(out.contains("the query's steps revealed:"), "{out}");
    let out = as_(&ana, &["sql", AGG, "--project", "糖尿病", "--format", "csv"]);
    assert!(
        stdout(&out).starts_with("n,p\n") && stderr(&out).contains("revealed besides the result"),
        "{}",
        stderr(&out)
    );
    // rows do not leave an aggregate-only table, even in an active project
    for q in ["SELECT age, bmi FROM clinic", "SELECT bmi FROM clinic ORDER BY bmi DESC LIMIT 3"] {
        let e = refused(as_(&ana, &["sql", q, "--project", "糖尿病"]));
        assert!(e.contains("row-level values of table \"clinic\""), "{e}");
    }
    // another analyst is not in the project
    let e = refused(as_(&bob, &["sql", AGG, "--project", "糖尿病"]));
    assert!(e.contains("account \"bob\" is not an analyst of project \"糖尿病\""), "{e}");
    // a table the project does not list
    ok(as_(
        &clinic,
        &["upload", "--table", "extra", "--csv", examples().join("clinic_patients.csv").to_str().unwrap()],
    ));
    let e = refused(as_(&ana, &["sql", "SELECT COUNT(*) FROM extra", "--project", "糖尿病"]));
    assert!(e.contains("does not list table \"extra\""), "{e}");
    // withdrawing stops the project at once; closing ends it
    ok(as_(&lab, &["project", "withdraw", "糖尿病"]));
    let e = refused(as_(&ana, &["sql", AGG, "--project", "糖尿病"]));
    assert!(e.contains("waiting for the approval of lab"), "{e}");
    ok(as_(&lab, &["project", "approve", "糖尿病"]));
    let e = refused(as_(&bob, &["project", "close", "糖尿病"]));
    assert!(e.contains("may not close project"), "{e}");
    ok(as_(&ana, &["project", "close", "糖尿病"]));
    let e = refused(as_(&ana, &["sql", AGG, "--project", "糖尿病"]));
    assert!(e.contains("is closed"), "{e}");
    // the three parties agree on the project
    let show = ok(as_(&ana, &["project", "show", "糖尿病"]));
    assert!(show.contains("closed") && !show.contains("differ"), "{show}");
    for i in 0..3 {
        assert!(d.alive(i));
    }
}

#[test]
fn rows_leave_only_with_the_owners_policy_and_a_sql_rows_project() {
    let (d, [clinic, lab, ana, _, aud]) = setup("gov-rows", 31);
    ok(as_(
        &ana,
        &[
            "project",
            "create",
            "rows",
            "--purpose",
            "linkage check",
            "--analysts",
            "ana",
            "--tables",
            "clinic,lab",
            "--functions",
            "sql-rows",
        ],
    ));
    ok(as_(&clinic, &["project", "approve", "rows"]));
    ok(as_(&lab, &["project", "approve", "rows"]));
    let q = "SELECT age FROM clinic ORDER BY age LIMIT 2";
    let e = refused(as_(&ana, &["sql", q, "--project", "rows"]));
    assert!(
        e.contains("whose policy allows aggregates only") && e.contains("mitsu policy set clinic --allow-rows"),
        "{e}"
    );
    // only the owner sets the policy
    let e = refused(as_(&lab, &["policy", "set", "clinic", "--allow-rows"]));
    assert!(e.contains("may not set the policy of table \"clinic\""), "{e}");
    ok(as_(&clinic, &["policy", "set", "clinic", "--allow-rows"]));
    assert!(ok(as_(&ana, &["policy", "show", "clinic"])).contains("row-level results allowed"));
    assert!(ok(as_(&ana, &["sql", q, "--project", "rows"])).contains("19"));
    // a query reading two tables obeys each one's policy: lab still allows aggregates only
    let join = "SELECT c.age, l.s1 FROM clinic c JOIN lab l USING (patient_id) ORDER BY c.age LIMIT 2";
    let e = refused(as_(&ana, &["sql", join, "--project", "rows"]));
    assert!(e.contains("row-level values of table \"lab\"") && e.contains("\"lab\""), "{e}");
    // the project allows no statistics
    let e = refused(as_(&ana, &["stats", "describe", "--from", "clinic", "--columns", "age", "--project", "rows"]));
    assert!(e.contains("does not allow stats"), "{e}");
    // an auditor runs nothing
    let e = refused(as_(&aud, &["sql", "SELECT COUNT(*) FROM clinic", "--project", "rows"]));
    assert!(e.contains("is an auditor"), "{e}");
    let e =
        refused(as_(&aud, &["upload", "--table", "a", "--csv", examples().join("lab_results.csv").to_str().unwrap()]));
    assert!(e.contains("may not upload"), "{e}");
    drop(d);
}

#[test]
fn a_revoked_or_rotated_token_opens_nothing() {
    let (d, [clinic, _, ana, _, _]) = setup("gov-accounts", 32);
    let admin = d.client("admin.toml");
    let list = ok(as_(&admin, &["account", "list"]));
    for a in ["clinic", "lab", "ana", "bob", "aud"] {
        assert!(list.contains(a), "{list}");
    }
    let e = refused(as_(&ana, &["account", "list"]));
    assert!(e.contains("may not list accounts"), "{e}");
    // rotation: the new file works, the old token does not
    let new = d.client("clinic-new.toml");
    ok(as_(&clinic, &["account", "rotate", "--out", new.to_str().unwrap()]));
    let e = refused(as_(&clinic, &["tables"]));
    assert!(e.contains("missing or wrong token"), "{e}");
    assert!(ok(as_(&new, &["tables"])).contains("clinic"));
    // an analyst cannot rotate another account's token
    let e = refused(as_(&ana, &["account", "rotate", "--name", "clinic", "--out", "/dev/null"]));
    assert!(e.contains("may not replace the token of account \"clinic\""), "{e}");
    // revocation, by the admin only
    let e = refused(as_(&ana, &["account", "revoke", "--name", "bob"]));
    assert!(e.contains("may not revoke accounts"), "{e}");
    ok(as_(&admin, &["account", "revoke", "--name", "ana"]));
    let e = refused(as_(&ana, &["tables"]));
    assert!(e.contains("missing or wrong token"), "{e}");
    assert!(ok(as_(&admin, &["account", "list"])).contains("revoked"));
    // the name stays taken
    let e = refused(as_(&admin, &["account", "create", "--name", "ana", "--role", "analyst", "--out", "/dev/null"]));
    assert!(e.contains("exists already"), "{e}");
}

#[test]
fn the_audit_log_records_every_job_and_shows_any_alteration() {
    let (mut d, [clinic, lab, ana, bob, aud]) = setup("gov-audit", 33);
    let admin = d.client("admin.toml");
    ok(as_(
        &ana,
        &[
            "project",
            "create",
            "study",
            "--purpose",
            "progression by sex",
            "--analysts",
            "ana",
            "--tables",
            "clinic,lab",
        ],
    ));
    ok(as_(&clinic, &["project", "approve", "study"]));
    ok(as_(&lab, &["project", "approve", "study"]));
    ok(as_(&ana, &["sql", AGG, "--project", "study"]));
    refused(as_(&ana, &["sql", "SELECT bmi FROM clinic", "--project", "study"]));
    ok(as_(&ana, &["stats", "describe", "--from", "lab", "--columns", "s1", "--project", "study"]));
    // the records: who, what, the outcome and why
    let out = ok(as_(&aud, &["audit", "--project", "study", "--json"]));
    let recs: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let kinds: Vec<(&str, &str)> =
        recs.iter().map(|r| (r["kind"].as_str().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [
            ("change:project", "done"),
            ("change:approve", "done"),
            ("change:approve", "done"),
            ("sql", "done"),
            ("sql", "refused"),
            ("stats", "done")
        ],
        "{out}"
    );
    assert!(recs[4]["reason"].as_str().unwrap().contains("row-level values"), "{out}");
    assert_eq!(recs[3]["tables"], serde_json::json!([["clinic", 1], ["lab", 1]]), "{out}");
    assert!(!recs[3]["opened"].as_array().unwrap().is_empty(), "{out}");
    // who may read: the admin and auditors everything, members their project's records
    let out = ok(as_(&aud, &["audit", "--verify"]));
    assert!(out.contains("verified: the three parties agree on") && out.contains("chain intact"), "{out}");
    let e = refused(as_(&ana, &["audit"]));
    assert!(e.contains("reads the records of its projects only"), "{e}");
    let e = refused(as_(&bob, &["audit", "--project", "study"]));
    assert!(e.contains("takes no part in project"), "{e}");
    // a member verifies its project's records at the three parties
    let out = ok(as_(&clinic, &["audit", "--project", "study", "--verify"]));
    assert!(out.contains("6 records of the project, each intact") && out.contains("an auditor checks"), "{out}");
    // the transparency report, from the provider's side
    let md = ok(as_(&clinic, &["project", "report", "study"]));
    assert!(md.contains("# Analysis project study") && md.contains("progression by sex"), "{md}");
    assert!(md.contains("| clinic | clinic | yes | aggregates only"), "{md}");
    assert!(md.contains("SELECT COUNT(*) AS n") && md.contains("refused: "), "{md}");
    assert!(md.contains("completed records agree"), "{md}");
    // an altered record at party 1 and a deleted last record at party 2 are found and named
    // and two records swapped at party 0
    d.kill(0);
    d.kill(1);
    d.kill(2);
    let db0 = rusqlite::Connection::open(d.dir.join("party-0/data/party.db")).unwrap();
    let swap = |a: i64, b: i64| {
        let get = |s: i64| -> (String, String) {
            db0.query_row("SELECT record, hash FROM audit WHERE seq = ?1", [s], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
        };
        let (ra, rb) = (get(a), get(b));
        for (s, (rec, hash)) in [(a, rb), (b, ra)] {
            db0.execute("UPDATE audit SET record = ?2, hash = ?3 WHERE seq = ?1", rusqlite::params![s, rec, hash])
                .unwrap();
        }
    };
    swap(2, 3);
    drop(db0);
    let db1 = rusqlite::Connection::open(d.dir.join("party-1/data/party.db")).unwrap();
    db1.execute("UPDATE audit SET record = replace(record, 'COUNT(*) AS n', 'COUNT(*) AS m') WHERE seq = (SELECT MAX(seq) - 2 FROM audit)", [])
        .unwrap();
    drop(db1);
    let db2 = rusqlite::Connection::open(d.dir.join("party-2/data/party.db")).unwrap();
    db2.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)", []).unwrap();
    drop(db2);
    for i in 0..3 {
        d.parties[i] = Some(d.spawn(i));
    }
    d.wait_ready();
    let out = as_(&admin, &["audit", "--verify"]);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(text.contains("party 1:") && text.contains("CHAIN BROKEN") && text.contains("was altered"), "{text}");
    assert!(text.contains("party 2 has no record of job") && text.contains("stats"), "{text}");
    assert!(text.contains("party 0:") && text.contains("record 2 is missing") && text.contains("reordered"), "{text}");
    // the altered record belongs to the project: its members see it too, and no report is made
    let out = as_(&clinic, &["audit", "--project", "study", "--verify"]);
    assert!(!out.status.success() && stdout(&out).contains("was altered"), "{}", stdout(&out));
    let e = refused(as_(&clinic, &["project", "report", "study"]));
    assert!(e.contains("party 1's records of project \"study\" do not verify"), "{e}");
}

#[test]
fn job_limits_and_budgets_are_kept_by_every_party_and_a_stale_party_computes_nothing() {
    let (mut d, [clinic, lab, ana, _, _]) = setup("gov-policy", 34);
    ok(as_(&ana, &["project", "create", "p", "--purpose", "limits", "--analysts", "ana", "--tables", "clinic,lab"]));
    ok(as_(&clinic, &["project", "approve", "p"]));
    ok(as_(&lab, &["project", "approve", "p"]));
    // the owner sets what it wants; what it does not name keeps its value
    let out = ok(as_(&lab, &["policy", "set", "lab", "--max-jobs", "2", "--min-group-size", "5"]));
    assert!(out.contains("at most 2 jobs in projects") && out.contains("minimum group size 5"), "{out}");
    let out = ok(as_(&lab, &["policy", "set", "lab", "--allow-order-statistics"]));
    assert!(
        out.contains("at most 2 jobs") && out.contains("order statistics (min, max, quantiles, mode) allowed"),
        "{out}"
    );
    let show = ok(as_(&ana, &["policy", "show", "lab"]));
    assert!(show.contains("aggregates only") && show.contains("no differential-privacy budget"), "{show}");
    // the job limit: two jobs run, the third is refused at every party, naming the owner
    ok(as_(&ana, &["sql", AGG, "--project", "p"]));
    ok(as_(&ana, &["stats", "describe", "--from", "lab", "--columns", "s1", "--project", "p"]));
    let e = refused(as_(&ana, &["sql", AGG, "--project", "p"]));
    assert!(e.contains("table \"lab\" allows 2 jobs in projects") && e.contains("owner \"lab\""), "{e}");
    // the owner's own analysis is never limited
    ok(as_(&lab, &["sql", "SELECT COUNT(*) FROM lab"]));
    ok(as_(&lab, &["policy", "set", "lab", "--max-jobs", "none"]));
    ok(as_(&ana, &["sql", AGG, "--project", "p"]));
    // values no party stores: refused by the CLI, and by each party when sent past the CLI
    for (args, want) in [
        (vec!["--min-group-size", "0"], "between 1 and"),
        (vec!["--dp-delta", "0.1"], "δ goes with an ε budget"),
        (vec!["--dp-epsilon", "1e9"], "ε must be a number above 0"),
        (vec!["--max-jobs", "lots"], "takes a number or `none`"),
    ] {
        let mut a = vec!["policy", "set", "lab"];
        a.extend(args);
        let e = refused(as_(&lab, &a));
        assert!(e.contains(want), "{e}");
    }
    let lib = mitsu_client::Client::load(&lab).unwrap();
    let bad = mitsu_api::wire::TablePolicy { min_group_size: 0, ..Default::default() };
    let e = lib.set_policy("lab", bad).unwrap_err().to_string();
    assert!(e.contains("policy of \"lab\" refused") && e.contains("between 1 and"), "{e}");
    let now = lib.table_at(1, "lab").unwrap().unwrap().policy;
    assert_eq!((now.min_group_size, now.max_jobs), (5, None), "the refused policy changed nothing");
    // an ε budget: no exact answer leaves while the parties cannot add noise
    ok(as_(&clinic, &["policy", "set", "clinic", "--dp-epsilon", "1", "--dp-delta", "1e-6"]));
    let e = refused(as_(&ana, &["sql", AGG, "--project", "p"]));
    assert!(e.contains("differential-privacy budget") && e.contains("--dp-epsilon none"), "{e}");
    ok(as_(&clinic, &["policy", "set", "clinic", "--dp-epsilon", "none"]));
    ok(as_(&ana, &["sql", AGG, "--project", "p"]));

    // party 2's copy of the project is stale: lab's approval is missing there
    d.kill(2);
    let db = rusqlite::Connection::open(d.dir.join("party-2/data/party.db")).unwrap();
    db.execute("UPDATE project_tables SET approved = 0 WHERE project = 'p' AND owner = 'lab'", []).unwrap();
    drop(db);
    d.parties[2] = Some(d.spawn(2));
    d.wait_ready();
    let e = refused(as_(&ana, &["sql", AGG, "--project", "p", "--format", "json"]));
    assert!(e.contains("not active at party 2") && e.contains("waiting for the approval of lab"), "{e}");
    // nothing was computed or opened anywhere, and each party recorded the job as not done
    let admin = mitsu_client::Client::load(&d.client("admin.toml")).unwrap();
    for i in 0..3 {
        let log = admin.audit_log(i, Some("p")).unwrap();
        let last = log.last().unwrap();
        assert_eq!(last.kind, "sql");
        assert_ne!(last.outcome, "done", "party {i}: {last:?}");
        assert!(last.opened.is_empty(), "party {i} opened {:?}", last.opened);
    }
    let show = ok(as_(&ana, &["project", "show", "p"]));
    assert!(show.contains("differ"), "{show}");
    // the owner approves again: party 2 catches up, the others keep their state, jobs run
    ok(as_(&lab, &["project", "approve", "p"]));
    ok(as_(&ana, &["sql", AGG, "--project", "p"]));
    // a policy given at upload: checked before any share leaves, set once the version is committed
    let csv = examples().join("lab_results.csv");
    let up = |extra: &[&str]| {
        let mut a = vec!["upload", "--table", "lab2", "--csv", csv.to_str().unwrap()];
        a.extend_from_slice(extra);
        as_(&lab, &a)
    };
    let e = refused(up(&["--min-group-size", "0"]));
    assert!(e.contains("between 1 and"), "{e}");
    assert!(!ok(as_(&lab, &["tables"])).contains("lab2"), "nothing was uploaded");
    let out = ok(up(&["--allow-rows", "--min-group-size", "3"]));
    assert!(out.contains("policy of \"lab2\" at all three parties: row-level results allowed"), "{out}");
    assert!(ok(as_(&lab, &["policy", "show", "lab2"])).contains("minimum group size 3"));
    for i in 0..3 {
        assert!(d.alive(i));
    }
}
