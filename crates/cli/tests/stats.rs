//! `mitsu stats` against three real party processes on loopback: answers equal the scipy and
//! statsmodels references of `crates/client/tests/stats/fixtures.json`, per-function help states
//! what is opened, and the errors users see.

mod common;

use common::{Deployment, stderr, stdout};

fn fixture(id: &str) -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../client/tests/stats/fixtures.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["cases"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no case {id}"))["expected"]
        .clone()
}

fn close(got: &serde_json::Value, want: &serde_json::Value, path: &str) {
    match want {
        serde_json::Value::Object(m) => {
            for (k, w) in m {
                close(&got[k], w, &format!("{path}.{k}"));
            }
        }
        serde_json::Value::Number(w) => {
            let (g, w) = (got.as_f64().unwrap_or_else(|| panic!("{path}: got {got}")), w.as_f64().unwrap());
            assert!((g - w).abs() <= 1e-6 * w.abs().max(1e-3), "{path}: got {g}, want {w}");
        }
        serde_json::Value::Array(w) => {
            assert_eq!(got.as_array().map(Vec::len), Some(w.len()), "{path}: got {got}");
            for (i, x) in w.iter().enumerate() {
                close(&got[i], x, &format!("{path}[{i}]"));
            }
        }
        other => assert_eq!(got, other, "{path}"),
    }
}

#[test]
fn statistics_over_party_processes() {
    let d = Deployment::new("stats", common::ports(10));
    d.wait_ready();
    let ex = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (t, f) in [("clinic", "clinic_patients.csv"), ("lab", "lab_results.csv")] {
        let out = d.run(&["upload", "--table", t, "--csv", ex.join(f).to_str().unwrap(), "--key", "patient_id"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let json = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["stats"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--format", "json"]);
        let out = d.run(&a);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    // the fixtures' tables are called t; here they are clinic and lab
    let v = json(&["ttest", "--from", "clinic", "--column", "bmi", "--by", "sex", "--groups", "M,F"]);
    close(&v, &fixture("ttest two-sample"), "ttest");
    // levels found from the data (sorted: F, M) when not given
    let v = json(&["ttest", "--from", "clinic", "--column", "bmi", "--by", "sex"]);
    assert_eq!(v["groups"], serde_json::json!(["F", "M"]));
    // counts are integers in JSON too, as scipy's are
    assert_eq!(v["n"], serde_json::json!([235, 207]), "{v}");
    let v = json(&["describe", "--from", "clinic", "--columns", "age,bmi,bp"]);
    close(&v, &fixture("describe clinic"), "describe");
    let v = json(&["ols", "--from", "lab", "--y", "progression", "--x", "s1,s2,s3,s4,s5,s6"]);
    close(&v, &fixture("ols lab (collinear s1, s2)"), "ols");
    let v = json(&["quantile", "--from", "lab", "--column", "s5", "--q", "0.1,0.5,0.9,0.01"]);
    close(&v, &fixture("quantile s5"), "quantile");
    let v = json(&["corr", "--from", "lab", "--columns", "s1,s2,s3,s5"]);
    close(&v, &fixture("corr lab"), "corr");
    // counting functions run as SQL jobs; rank tests sort under MPC
    let v = json(&["freq", "--from", "clinic", "--column", "sex"]);
    close(&v, &fixture("freq sex"), "freq");
    let v = json(&["histogram", "--from", "clinic", "--column", "bmi", "--bins", "10"]);
    close(&v, &fixture("histogram bmi"), "histogram");
    let v = json(&["mannwhitney", "--from", "clinic", "--column", "bmi", "--by", "sex", "--groups", "M,F"]);
    close(&v, &fixture("mannwhitney"), "mannwhitney");
    let v = json(&["corr", "--method", "spearman", "--from", "clinic", "--columns", "age,bmi"]);
    close(&v, &fixture("spearman with ties"), "spearman");
    let v = json(&["wmean", "--from", "clinic", "--column", "bmi", "--weights", "age"]);
    close(&v, &fixture("wmean"), "wmean");
    // levels of both variables found from the data
    let v = json(&["chisq", "--from", "clinic", "--column", "sex"]);
    assert_eq!(v["df"], 1.0, "{v}");

    // the table format names what was opened
    let out = d.run(&["stats", "mean", "--from", "clinic", "--column", "bmi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("mean") && stdout(&out).contains("opened to you: the mean"), "{}", stdout(&out));
    // and what the parties' engines recorded opening among themselves: the non-NULL count
    assert!(
        stdout(&out)
            .contains("opened among the parties (their engines' record): counts the statistic needs (1 elements)"),
        "{}",
        stdout(&out)
    );
    // every party logs each job with its record
    for i in 0..3 {
        let log = std::fs::read_to_string(d.dir.join(format!("party-{i}.log"))).unwrap();
        assert!(log.contains("stats job") && log.contains("opened counts the statistic needs"), "{log}");
        assert!(log.contains("sql job") && log.contains("the number of groups"), "{log}");
        assert!(!log.contains("differ from EXPLAIN"), "{log}");
    }

    // a regression prints its coefficient table as R and statsmodels do
    let out = d.run(&["stats", "ols", "--from", "lab", "--y", "progression", "--x", "s5,s1"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for h in ["term", "estimate", "std. error", "t value", "Pr(>|t|)", "[2.5%", "97.5%]", "r_squared"] {
        assert!(text.contains(h), "{h}: {text}");
    }
    let s5 = text.lines().find(|l| l.trim_start().starts_with("s5")).unwrap_or_else(|| panic!("{text}"));
    assert!(s5.contains("e-"), "a tiny p-value in scientific notation: {s5}");
    // a small p-value reads as R prints it, never as 0.0000000000; counts are integers
    let out = d.run(&["stats", "corr", "--from", "lab", "--columns", "s5,progression"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = text.lines().find(|l| l.contains("p_value") || l.contains(".p ")).unwrap_or_else(|| panic!("{text}"));
    assert!(p.contains("e-") && !p.contains("0.0000000000"), "{text}");
    let out = d.run(&["stats", "ttest", "--from", "clinic", "--column", "bmi", "--by", "sex", "--groups", "M,F"]);
    let text = stdout(&out);
    let line =
        |k: &str| text.lines().find(|l| l.split_whitespace().next() == Some(k)).unwrap_or_else(|| panic!("{text}"));
    assert!(line("df").trim_end().ends_with(" 440"), "{text}");
    assert!(line("n").contains("207, 235"), "group sizes as integers: {text}");
    let out = d.run(&["stats", "mean", "--from", "clinic", "--column", "bmi", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    assert!(csv.starts_with("statistic,value\n") && csv.contains("\ncount,442\n"), "{csv}");
    assert!(stderr(&out).contains("opened to you: the mean"), "{}", stderr(&out));

    // per-function help with its leakage; the list of functions
    let out = d.run(&["stats", "ols", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("opens: coefficients, standard errors and R^2"), "{}", stdout(&out));
    let out = d.run(&["stats", "--help"]);
    for f in ["mannwhitney", "anova", "logit", "pca", "histogram"] {
        assert!(stdout(&out).contains(f), "{f}: {}", stdout(&out));
    }

    // errors name the problem
    let err = |args: &[&str]| -> String {
        let mut a = vec!["stats"];
        a.extend_from_slice(args);
        let out = d.run(&a);
        assert!(!out.status.success(), "{args:?} should fail");
        stderr(&out)
    };
    let e = err(&["mean", "--from", "clinic", "--column", "sex"]);
    assert!(e.contains("column \"sex\" is category; mean needs numbers"), "{e}");
    let e = err(&["mean", "--from", "clinic", "--column", "weight"]);
    assert!(e.contains("weight"), "{e}");
    let e = err(&["ttest", "--from", "lab", "--column", "s1", "--by", "s4"]);
    assert!(e.contains("grouping column \"s4\" has") && e.contains("exactly two"), "{e}");
    let e = err(&["ols", "--from", "lab", "--y", "progression", "--x", "s1,s1"]);
    assert!(e.contains("singular design matrix") && e.contains("s1"), "{e}");
    let e = err(&["mean", "--from", "clinic", "--column", "bmi", "--alternative", "less"]);
    assert!(e.contains("--alternative applies to ttest, ztest, mannwhitney and wilcoxon"), "{e}");
    let e = err(&["ttest", "--from", "clinic", "--column", "bmi", "--alternative", "bigger"]);
    assert!(e.contains("two-sided, less or greater"), "{e}");
    let v = json(&["ttest", "--from", "clinic", "--column", "bmi", "--mu", "26", "--alternative", "greater"]);
    assert!(v["ci_high"].is_null() && v["undefined"]["ci_high"].is_string(), "{v}");
    let e = err(&["frobnicate", "--from", "lab"]);
    assert!(e.contains("unknown statistics function \"frobnicate\""), "{e}");
    let e = err(&["ttest", "--from", "SELECT bmi FROM clinic WHERE bmi > 100", "--column", "bmi"]);
    assert!(e.contains("a t-test needs at least two"), "{e}");
}
