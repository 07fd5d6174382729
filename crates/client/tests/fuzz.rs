//! Property-based fuzzing of what a provider's file and an analyst's query text can contain:
//! the CSV reader and encoder, and the SQL planner (with the twin executing what plans). No
//! input may panic or take more than the planner's limits allow.
//!
//! CI runs a bounded number of cases; maintainers run longer with
//! `PROPTEST_CASES=100000 cargo test --release -p mitsu-client --test fuzz`.

use mitsu_client::local::Tables;
use mitsu_client::table::{parse_decimal, read_csv};
use mitsu_mpc_ref::RefEngine;
use mitsu_query::limits::STACK_BYTES;
use proptest::prelude::*;
use std::path::Path;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(n),
        ..Default::default()
    }
}

fn tmp(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("mitsu-fuzz-{tag}-{}-{n}.csv", std::process::id()))
}

fn read_bytes(bytes: &[u8]) -> Result<mitsu_client::table::Table, String> {
    let p = tmp("csv");
    std::fs::write(&p, bytes).unwrap();
    let r = read_csv(&p, None, None).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&p);
    r
}

const CELLS: &[&str] = &[
    "1",
    "-7",
    "0",
    "1e5",
    "2.5E-3",
    "NaN",
    "inf",
    "-Infinity",
    "1e309",
    "99999999999999999999",
    "0.000000000001",
    "3.14159",
    "true",
    "false",
    "2024-02-29",
    "2024-02-30",
    "1970-01-01",
    "M",
    "F",
    "東京",
    "ラベル",
    "",
    " ",
    "\"quoted, with comma\"",
    "\"multi\nline\"",
    "x\u{0}y",
    "\u{feff}",
    "12a",
    "--",
    ".",
    "+.5",
    "1e",
    "e5",
    "123456789012345678901234567890123456789",
    "a_very_long_label_over_fifteen_bytes",
];

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn the_csv_reader_survives_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = read_bytes(&bytes);
    }

    #[test]
    fn csv_files_of_hostile_cells_read_or_are_refused(ncols in 1usize..5, rows in prop::collection::vec(prop::collection::vec(prop::sample::select(CELLS), 5), 0..12),
                                                      header in prop::sample::select(vec!["a,b,c,d,e", "年齢,性別,c,d,e", "a,a,b,c,d", ",b,c,d,e", "a\"q,b,c,d,e"])) {
        let head: Vec<&str> = header.split(',').take(ncols).collect();
        let mut text = head.join(",") + "\n";
        for r in &rows {
            text.push_str(&r[..ncols].join(","));
            text.push('\n');
        }
        if let Ok(t) = read_bytes(text.as_bytes()) {
            // what reads is valid for every party, and every column has one value per row
            prop_assert!(t.schema.validate().is_ok());
            prop_assert!(t.columns.iter().all(|c| c.values.len() == t.rows));
        }
    }

    #[test]
    fn exact_decimals_round_trip(m in any::<i64>(), scale in 0u32..12, exp in -8i32..8) {
        let digits = format!("{:0>w$}", m.unsigned_abs(), w = scale as usize + 1);
        let (int, frac) = digits.split_at(digits.len() - scale as usize);
        let s = format!("{}{int}{}{frac}", if m < 0 { "-" } else { "" }, if scale > 0 { "." } else { "" });
        let (v, sc) = parse_decimal(&s).unwrap();
        // the same number: v / 10^sc == m / 10^scale
        let same = |a: i128, ea: i32, b: i128, eb: i32| {
            let k = ea.min(eb);
            match (a.checked_mul(10i128.pow((ea - k) as u32)), b.checked_mul(10i128.pow((eb - k) as u32))) {
                (Some(x), Some(y)) => x == y,
                _ => true, // beyond i128: not compared
            }
        };
        prop_assert!(same(v, scale as i32, m as i128, sc as i32), "{}", s);
        // with an exponent: w / 10^wsc == v / 10^sc * 10^exp, exactly
        if let Some((w, wsc)) = parse_decimal(&format!("{s}e{exp}")) {
            prop_assert!(same(w, sc as i32, v, wsc as i32 + exp), "{}e{}", s, exp);
        }
    }
}

fn tables() -> Tables {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/data");
    let mut t = Tables::default();
    t.0.insert("clinic".into(), read_csv(&dir.join("clinic_patients.csv"), None, Some("patient_id")).unwrap());
    t.0.insert("lab".into(), read_csv(&dir.join("lab_results.csv"), None, Some("patient_id")).unwrap());
    t
}

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "LIMIT",
    "HAVING",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "USING",
    "AS",
    "clinic",
    "lab",
    "c",
    "l",
    "age",
    "bmi",
    "sex",
    "bp",
    "s1",
    "progression",
    "patient_id",
    "c.age",
    "l.s1",
    "*",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "=",
    "<",
    ">=",
    "<>",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "IS NULL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "INTEGER",
    "REAL",
    "DECIMAL(10,2)",
    "COUNT(*)",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "VAR_SAMP",
    "MEDIAN",
    "COUNT",
    "DISTINCT",
    "COALESCE",
    "ABS",
    "1",
    "0",
    "-1",
    "2.5",
    "1e5",
    "'M'",
    "'2020-01-01'",
    "NULL",
    "UNION ALL",
    "DESC",
    "99999999999999999999",
    ";",
    "--",
    "\"mean radius\"",
];

/// An expression of random shape and depth.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec!["age", "bmi", "bp", "1", "2.5", "-3", "NULL", "c.age", "99999999999999"])
        .prop_map(String::from);
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(vec!["+", "-", "*", "/", "=", "<", ">=", "AND", "OR"]), inner.clone())
                .prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("CAST({a} AS INTEGER)")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("CASE WHEN {a} > 0 THEN {b} ELSE {c} END")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("COALESCE({a}, {b})")),
            (inner.clone(), prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(a, l)| format!("{a} IN ({})", l.join(", "))),
            inner.prop_map(|a| format!("ABS({a})")),
        ]
    })
}

fn select() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(expr(), 1..4),
        prop::option::of(expr()),
        prop::sample::select(vec!["", " GROUP BY sex", " ORDER BY 1 LIMIT 3"]),
        prop::sample::select(vec![
            "clinic",
            "clinic c JOIN lab l USING (patient_id)",
            "(SELECT age, bmi, bp, sex FROM clinic) AS c",
        ]),
    )
        .prop_map(|(cols, w, tail, from)| {
            let cols: Vec<String> = if tail.contains("GROUP") {
                cols.iter().map(|c| format!("SUM({c})")).chain(["sex".to_string()]).collect()
            } else {
                cols
            };
            let w = w.map(|w| format!(" WHERE {w} > 0")).unwrap_or_default();
            format!("SELECT {} FROM {from}{w}{tail}", cols.join(", "))
        })
}

static PLANNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Plans `sql` and, when it plans, runs it on the twin: an error is fine, a panic is not.
fn plan_and_run(sql: String, t: &Tables) {
    if std::env::var_os("FUZZ_SHOW").is_some() {
        eprintln!("{sql}\n  -> {:?}", mitsu_query::plan(&sql, t).err());
    }
    if let Ok(q) = mitsu_query::plan(&sql, t) {
        PLANNED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut e = RefEngine::new(mitsu_crypto::Seed::from_u64(3));
        let _ = if q.ring == 64 {
            mitsu_query::execute::<_, u64, _>(&mut e, &q, &mut &*t).map(|_| ())
        } else {
            mitsu_query::execute::<_, u128, _>(&mut e, &q, &mut &*t).map(|_| ())
        };
    }
}

#[test]
fn the_planner_survives_token_soup_and_random_queries() {
    // on a quarter of a party worker's stack, as in production
    std::thread::Builder::new()
        .stack_size(STACK_BYTES / 4)
        .spawn(|| {
            let t = tables();
            // a runner counts its cases across runs: one runner per property
            let runner = || proptest::test_runner::TestRunner::new(cases(256));
            runner()
                .run(&prop::collection::vec(prop::sample::select(TOKENS), 0..40), |toks| {
                    let _ = mitsu_query::plan(&toks.join(" "), &t);
                    Ok(())
                })
                .unwrap();
            runner()
                .run(&prop::collection::vec(any::<char>(), 0..200), |cs| {
                    let _ = mitsu_query::plan(&cs.into_iter().collect::<String>(), &t);
                    Ok(())
                })
                .unwrap();
            runner()
                .run(&select(), |sql| {
                    plan_and_run(sql, &t);
                    Ok(())
                })
                .unwrap();
            // the generator must reach the executor, not only the binder's refusals
            let planned = PLANNED.load(std::sync::atomic::Ordering::SeqCst);
            eprintln!("{planned} random queries planned and ran on the twin");
            assert!(planned >= 20, "only {planned} random queries planned");
        })
        .unwrap()
        .join()
        .unwrap();
}
