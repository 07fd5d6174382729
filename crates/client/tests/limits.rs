//! The planner's limits (`mitsu_query::limits`): hostile query texts are refused with an error
//! that names the limit, using little stack; the deepest query allowed plans and runs on the twin
//! and on the protocol within a quarter of the stack the parties give their worker threads.

use mitsu_client::local::Tables;
use mitsu_client::table::read_csv;
use mitsu_mpc_ref::RefEngine;
use mitsu_mpc_rep3::Rep3;
use mitsu_query::limits::{MAX_EXPR_DEPTH, MAX_IN_LIST, MAX_SQL_BYTES, STACK_BYTES};
use mitsu_query::{QueryError, plan};
use std::path::Path;

fn tables() -> Tables {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/data");
    let mut t = Tables::default();
    t.0.insert("clinic".into(), read_csv(&dir.join("clinic_patients.csv"), None, Some("patient_id")).unwrap());
    t
}

/// Runs `f` on a thread with `stack` bytes of stack (a stack overflow would abort the test binary).
fn on_stack<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(stack).spawn(f).unwrap().join().unwrap()
}

fn refused(sql: String) -> String {
    on_stack(4 << 20, move || match plan(&sql, &tables()) {
        Err(e @ QueryError::Limit(_)) => e.to_string(),
        other => panic!("expected a limit error, got {:?}", other.map(|_| "a plan")),
    })
}

// Regression: a 1,000-term sum (3.6 KB of SQL) overflowed the stack of every party's API thread.
#[test]
fn long_sums_and_or_chains_are_refused_naming_the_limit() {
    for n in [1_000, 5_000, 15_000] {
        let e = refused(format!("SELECT SUM({}) FROM clinic", vec!["age"; n].join("+")));
        let want =
            if 4 * n < MAX_SQL_BYTES { format!("more than {MAX_EXPR_DEPTH} levels deep") } else { "bytes".into() };
        assert!(e.contains(&want), "{e}");
        let ors: Vec<String> = (0..n.min(2000)).map(|i| format!("age = {i}")).collect();
        let e = refused(format!("SELECT COUNT(*) FROM clinic WHERE {}", ors.join(" OR ")));
        assert!(e.contains("IN (…)"), "{e}");
    }
    let e = refused(format!("SELECT age FROM clinic WHERE {}age > 1{}", "(".repeat(500), ")".repeat(500)));
    assert!(e.contains("levels deep"), "{e}");
    let e = refused(format!("SELECT {}age FROM clinic", "- ".repeat(500)));
    assert!(e.contains("levels deep"), "{e}");
    let e = refused(format!("SELECT age FROM clinic -- {}", "x".repeat(MAX_SQL_BYTES)));
    assert!(e.contains(&format!("at most {MAX_SQL_BYTES} bytes")), "{e}");
    let cols = vec!["age"; 300].join(", ");
    assert!(refused(format!("SELECT {cols} FROM clinic")).contains("at most 256"));
    let joins: String = (0..20).map(|i| format!(" JOIN clinic c{i} USING (patient_id)")).collect();
    assert!(refused(format!("SELECT COUNT(*) FROM clinic{joins}")).contains("more than 16 tables"));
    let whens: String = (0..100).map(|i| format!(" WHEN age = {i} THEN {i}")).collect();
    assert!(refused(format!("SELECT CASE{whens} END FROM clinic")).contains("CASE has 100 branches"));
    let list: Vec<String> = (0..=MAX_IN_LIST).map(|i| i.to_string()).collect();
    let e = on_stack(4 << 20, move || {
        plan(&format!("SELECT COUNT(*) FROM clinic WHERE age IN ({})", list.join(",")), &tables())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    });
    assert!(e.contains(&format!("IN takes 1 to {MAX_IN_LIST} values")), "{e}");
}

/// The deepest expression the planner accepts, and the longest IN list, plan and run on the
/// twin and on the protocol on a quarter of a party worker's stack.
#[test]
fn the_deepest_query_allowed_runs_within_the_worker_stack() {
    on_stack(STACK_BYTES / 4, || {
        let t = tables();
        // SUM( ( ... ) ) nests the sum's operators inside the function call and the projection
        let terms = MAX_EXPR_DEPTH - 4;
        let list: Vec<String> = (0..MAX_IN_LIST).map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT SUM({}) AS s FROM clinic WHERE age IN ({})",
            vec!["(age - age + 1)"; terms].join("+"),
            list.join(",")
        );
        let q = plan(&sql, &t).unwrap_or_else(|e| panic!("{e}"));
        let age = &t.0["clinic"].columns[1];
        let valid = |i: usize| age.valid.as_ref().is_none_or(|v| v[i]);
        let want = (0..t.0["clinic"].rows).filter(|&i| valid(i) && age.values[i] < MAX_IN_LIST as i128).count() * terms;
        assert!(want > 0);
        let mut e = RefEngine::new(mitsu_crypto::Seed::from_u64(1));
        let out = mitsu_query::execute::<_, u64, _>(&mut e, &q, &mut &t).unwrap();
        use mitsu_mpc_core::Engine;
        assert_eq!(e.open(&out.values[0], mitsu_mpc_core::Reveal::Check).unwrap(), vec![want as u64]);
        let q2 = q.clone();
        let t2 = t.clone();
        let [a, _, _] = mitsu_mpc_runtime::run3(move |ch| {
            let mut p = Rep3::setup(ch)?;
            let out = mitsu_query::execute::<_, u64, _>(&mut p, &q2, &mut &t2)?;
            Ok::<_, QueryError>(p.open(&out.values[0], mitsu_mpc_core::Reveal::Check)?)
        });
        assert_eq!(a.unwrap(), vec![want as u64]);
    });
}
