//! The `mitsu` binary as a user runs it.

use std::process::Command;

fn mitsu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mitsu")).args(args).output().expect("running mitsu")
}

#[test]
fn demo_runs_the_whole_story_across_processes() {
    let out = mitsu(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("clinic.bmi          442     26.3758     19.5198"), "{text}");
    assert!(text.contains("lab.s5              428      4.6310      0.2634"), "{text}");
    assert!(text.contains("stopped 3 parties"), "{text}");
}

// Regression: `mitsu demo | head -3` left the three party processes running; the demo must
// run from an installed binary, away from the checkout's sample files.
#[test]
fn demo_from_anywhere_and_into_a_closed_pipe_leaves_nothing_behind() {
    use std::io::BufRead;
    let cwd = std::env::temp_dir().join(format!("mitsu-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&cwd).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mitsu"))
        .arg("demo")
        .current_dir(&cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // the reader is gone: the next line the demo prints meets a closed pipe
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141), "ended quietly, as Unix tools do");
    let dir = first.split(" in ").nth(1).and_then(|r| r.split(" (").next()).expect(&first).to_string();
    assert!(!std::path::Path::new(&dir).exists(), "the deployment {dir} was removed and its parties stopped");
    let parties = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(&dir))
        .count();
    assert_eq!(parties, 0, "no party of {dir} is still running");
    let left: Vec<_> = std::fs::read_dir(&cwd).unwrap().collect();
    assert!(left.is_empty(), "the demo wrote nothing where it was run");
    std::fs::remove_dir_all(&cwd).unwrap();
}

#[test]
fn the_engine_demo_runs_in_process() {
    let out = mitsu(&["demo", "--in-process"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("bmi      442    26.3758    19.5198"), "{text}");
    assert!(text.contains("opened to the analyst"), "{text}");
    assert!(text.contains("sort order verified: true"), "{text}");
}

#[test]
fn bench_json_has_every_operation_with_its_cost_and_plain_time() {
    let out = mitsu(&["bench", "--n", "3000", "--sort-n", "300", "--repeat", "1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["n"], 3000);
    assert_eq!(v["sort_n"], 300);
    for op in ["mul_int", "mul_fixed", "lt", "eq", "sum", "mean_var", "sort"] {
        assert!(v[op].as_f64().unwrap() > 0.0, "{op}");
        assert!(v["plain"][op].as_f64().unwrap() > 0.0, "{op}");
        assert!(v["comm"][op]["bytes_per_party"].is_u64(), "{op}");
        assert!(v["comm"][op]["rounds"].is_u64(), "{op}");
    }
    assert!(v["comm"]["mul_int"]["rounds"].as_u64().unwrap() >= 1);
    assert_eq!(v["comm"]["sum"]["bytes_per_party"], 0, "a sum is local");
}

#[test]
fn bench_only_runs_the_chosen_operations() {
    let out = mitsu(&["bench", "--sort-n", "200", "--only", "sort", "--repeat", "1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["sort"].is_f64());
    assert!(v.get("mul_int").is_none());
}

#[test]
fn an_unknown_operation_is_named() {
    let out = mitsu(&["bench", "--only", "mul_int,frobnicate"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown benchmark operation \"frobnicate\""), "{err}");
}

#[test]
fn a_malformed_csv_is_reported_with_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("mitsu-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("clinic_patients.csv"), "patient_id,age,sex,bmi,bp\nP1,50,M,30.1,90\nP2,40,F,abc,80\n")
        .unwrap();
    let out = mitsu(&["demo", "--in-process", "--data", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("clinic_patients.csv, line 3, column \"bmi\": \"abc\" is not a number"), "{err}");
}

#[test]
fn bench_stats_checks_each_function_against_plain_rust() {
    let out = mitsu(&["bench", "--stats", "--rows", "3000", "--logit-rows", "2000", "--repeat", "1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for (f, tol) in [("describe", 1e-9), ("ols", 1e-9), ("logit", 1e-4)] {
        assert!(v[f]["seconds"].as_f64().unwrap() > 0.0, "{f}");
        assert!(v[f]["rounds"].as_u64().unwrap() > 0, "{f}");
        assert!(v[f]["max_rel_error"].as_f64().unwrap() < tol, "{f}: {}", v[f]);
    }
    assert_eq!(v["describe"]["rows"], 3000);
    assert_eq!(v["logit"]["rows"], 2000);
}

// Regression: `mitsu ... | head -1` panicked ("failed printing to stdout: Broken pipe").
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mitsu"))
        .arg("stats")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running mitsu");
    drop(child.stdout.take()); // the reader goes away before the first line
    let out = child.wait_with_output().expect("waiting for mitsu");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // 141 (128 + SIGPIPE) when printing met the closed pipe; 0 if all of it fit before the close
    assert!(matches!(out.status.code(), Some(141) | Some(0)), "{:?} {err}", out.status);
}

// The process benchmark runs the server's own benchmark job over a real deployment and checks
// every result against the plaintext before it reports a time.
#[test]
fn bench_processes_measures_across_three_party_processes() {
    let out = mitsu(&["bench", "--processes", "--n", "3000", "--repeat", "1", "--only", "mul_int,lt", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for op in ["mul_int", "lt"] {
        let r = &v["processes"][op];
        assert!(r["processes"].as_f64().unwrap() > 0.0 && r["in_process"].as_f64().unwrap() > 0.0, "{v}");
        assert!(r["bytes_per_party"].as_u64().unwrap() > 0, "{v}");
    }
}
