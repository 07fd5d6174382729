//! Real data as it arrives, through three real party processes: the files pandas writes
//! (`crates/client/tests/sql/data/floats.csv`, `crates/client/tests/stats/data/magnitudes.csv`)
//! uploaded with `mitsu upload`, queried with `mitsu sql`, and analysed with every statistic whose
//! scipy/statsmodels reference `tests/stats/expected.py` wrote for them.

mod common;

use common::{Deployment, stderr, stdout};
use std::path::{Path, PathBuf};

fn client_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../client/tests")
}

/// Relative `rel` with an absolute floor `abs`, field by field of `want`.
fn close(path: &str, got: &serde_json::Value, want: &serde_json::Value, rel: f64, abs: f64, errs: &mut Vec<String>) {
    use serde_json::Value as V;
    match (got, want) {
        (_, V::Object(w)) => {
            for (k, x) in w {
                close(&format!("{path}.{k}"), &got[k], x, rel, abs, errs);
            }
        }
        (V::Array(g), V::Array(w)) if g.len() == w.len() => {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                close(&format!("{path}[{i}]"), a, b, rel, abs, errs);
            }
        }
        (V::Number(a), V::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            if (a - b).abs() > (rel * b.abs()).max(abs) {
                errs.push(format!("{path}: {a} vs {b}"));
            }
        }
        (a, b) if a == b => {}
        (a, b) => errs.push(format!("{path}: {a} vs {b}")),
    }
}

#[test]
fn files_as_pandas_writes_them_through_party_processes() {
    let d = Deployment::new("realdata", common::ports(35));
    d.wait_ready();
    let floats = client_tests().join("sql/data/floats.csv");
    let out = d.run(&["upload", "--table", "f", "--csv", floats.to_str().unwrap(), "--key", "id"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // 10^9 with 6 decimals is exact; a probability keeps 9 places, values below 10^-3 twelve
    assert!(text.contains("decimal(6)") && text.contains("real(9), rounded to ±5e-10"), "{text}");
    assert!(text.contains("real(12), rounded to ±5e-13"), "{text}");
    assert!(text.contains("note: column \"score\": real numbers rounded"), "{text}");
    // the first query of floats.test, whose answer SQLite gave
    let slt = std::fs::read_to_string(client_tests().join("sql/floats.test")).unwrap();
    let block = slt.split("query\n").nth(1).unwrap();
    let (sql, want) = block.split_once("----\n").unwrap();
    let sql = sql.trim();
    let out = d.run(&["sql", sql, "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<String> = stdout(&out).lines().nth(1).unwrap().split(',').map(String::from).collect();
    let want: Vec<&str> = want.lines().next().unwrap().split('|').collect();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        let (g, w): (f64, f64) = (g.parse().unwrap(), w.parse().unwrap());
        assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "{sql}: {g} vs SQLite {w}");
    }
    // Japanese labels group, and the group sizes agree with SQLite's
    let out = d.run(&["sql", "SELECT pref, COUNT(*) AS n FROM f GROUP BY pref ORDER BY pref", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("北海道,62") && stdout(&out).contains("沖縄県,61"), "{}", stdout(&out));

    // every statistic the fixtures hold for magnitudes.csv, on the parties
    let m = client_tests().join("stats/data/magnitudes.csv");
    let out = d.run(&["upload", "--table", "m", "--csv", m.to_str().unwrap(), "--key", "id"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(client_tests().join("stats/fixtures.json")).unwrap()).unwrap();
    let lib = d.lib("admin.toml");
    let mut errs = Vec::new();
    let mut ran = 0;
    for c in fx["cases"].as_array().unwrap().iter().filter(|c| c["table"] == "magnitudes.csv") {
        let mut req = c["request"].clone();
        req["from"] = serde_json::json!("m");
        let req: mitsu_stats::Request = serde_json::from_value(req).unwrap();
        let got = lib.stats(&req).unwrap_or_else(|e| panic!("{}: {e}", c["id"]));
        let (rel, abs) = (c["tol"]["rel"].as_f64().unwrap(), c["tol"]["abs"].as_f64().unwrap());
        close(c["id"].as_str().unwrap(), &got.value, &c["expected"], rel, abs, &mut errs);
        ran += 1;
    }
    assert!(ran >= 10, "{ran} cases");
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// The answers `tests/sql/expected.py` wrote into a sqllogictest file: (SQL, rows as `a|b|c`).
fn slt_answers(file: &str) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(client_tests().join("sql").join(file)).unwrap();
    text.split("\nquery\n")
        .skip(1)
        .map(|b| {
            let (sql, rest) = b.split_once("----\n").unwrap();
            let rows = rest.split("\n\n").next().unwrap().lines().map(String::from).collect();
            (sql.trim().to_string(), rows)
        })
        .collect()
}

#[test]
fn text_of_any_length_through_party_processes() {
    let d = Deployment::new("texts", common::ports(36));
    d.wait_ready();
    let data = client_tests().join("sql/data");
    let out = d.run(&["upload", "--table", "t", "--csv", data.join("texts.csv").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("text") && shown.contains("labels of up to 258 bytes (compared on a hash)"), "{shown}");
    let out = d.run(&["upload", "--table", "m", "--csv", data.join("makers.csv").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // every aggregate query of texts.test, as SQLite answered it (values within 1e-6)
    let mut ran = 0;
    for (sql, want) in slt_answers("texts.test") {
        if sql.contains("ORDER BY") || !sql.contains("GROUP BY") && !sql.contains("COUNT(") {
            continue; // row-level results need the allow_rows policy; ordered ones are checked below
        }
        let out = d.run(&["sql", &sql, "--format", "csv"]);
        assert!(out.status.success(), "{sql}: {}", stderr(&out));
        let mut got: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .from_reader(stdout(&out).as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let mut want: Vec<Vec<String>> = want.iter().map(|r| r.split('|').map(String::from).collect()).collect();
        got.sort();
        want.sort();
        assert_eq!(got.len(), want.len(), "{sql}: {got:?} vs {want:?}");
        for (g, w) in got.iter().zip(&want) {
            for (a, b) in g.iter().zip(w) {
                // CSV writes NULL as an empty cell
                let same = a == b
                    || (a.is_empty() && b == "NULL")
                    || a.parse::<f64>()
                        .ok()
                        .zip(b.parse::<f64>().ok())
                        .is_some_and(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1.0));
                assert!(same, "{sql}: {g:?} vs SQLite {w:?}");
            }
        }
        ran += 1;
    }
    assert!(ran >= 7, "{ran} queries");
    // statistics group by text: freq, a cross table of two text columns, a grouped test
    let out = d.run(&["stats", "freq", "--from", "t", "--column", "maker", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let s = j.to_string();
    assert!(s.contains("パナソニックホールディングス株式会社") && s.contains(&"X".repeat(256)), "{s}");
    let out = d.run(&["stats", "crosstab", "--from", "t", "--row", "pref", "--col", "note", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("神奈川県横浜市西区みなとみらい"), "{}", stdout(&out));
    let out = d.run(&[
        "stats",
        "ttest",
        "--from",
        "t",
        "--column",
        "amount",
        "--by",
        "maker",
        "--groups",
        "MITSUBISHI HEAVY INDUSTRIES,株式会社日立製作所",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // errors name what text cannot do, and no party crashed on them
    let out = d.run(&["sql", "SELECT maker, COUNT(*) FROM t GROUP BY maker ORDER BY maker LIMIT 2"]);
    assert!(!out.status.success() && stderr(&out).contains("cannot be sorted there"), "{}", stderr(&out));
    let out = d.run(&["sql", "SELECT COUNT(*) FROM t WHERE maker = 'TOYOTA'"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
