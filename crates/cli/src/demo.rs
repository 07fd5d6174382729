//! `mitsu demo`: the whole story on one machine. A local deployment in a temporary directory,
//! three party processes, a clinic and a lab uploading their tables under their own accounts, an
//! analyst computing statistics jointly, the parties stopped.
//!
//! `mitsu demo --in-process` shows the engine alone: three parties as threads, mean, variance and a
//! sort of the clinic's data.

use anyhow::{Context, Result, bail};
use mitsu_algebra::{FixedPoint, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::Engine;
use mitsu_mpc_ops::{Num, sort_by_key};
use mitsu_mpc_rep3::{AShare, Rep3, client};
use mitsu_mpc_runtime::run3_with;
use std::path::PathBuf;
use std::time::Instant;

const FRAC: u32 = 16;

/// The story across real processes.
pub fn run(data: Option<PathBuf>) -> Result<()> {
    let (data, _cleanup) = match data {
        Some(d) => (d, None),
        None => default_dir(),
    };
    let t0 = Instant::now();
    let dep = mitsu_server::local::TempDeployment::start("demo", &std::env::current_exe()?)?;
    let (dir, base) = (dep.dir.clone(), dep.base_port);
    println!("mitsu demo: a three-party deployment in {} (ports {base}-{})", dir.display(), base + 5);
    println!("  three party processes are up and linked by mutually authenticated TLS\n");
    let admin = mitsu_client::Client::load(&dir.join("admin.toml"))?;
    for (name, role) in [("clinic", "provider"), ("lab", "provider"), ("analyst", "analyst")] {
        let cfg = admin.create_account(name, role)?;
        std::fs::write(dir.join(format!("{name}.toml")), cfg.to_toml())?;
    }
    println!("  accounts: clinic and lab (data providers), analyst");
    for (who, table, file) in [("clinic", "clinic", "clinic_patients.csv"), ("lab", "lab", "lab_results.csv")] {
        let c = mitsu_client::Client::load(&dir.join(format!("{who}.toml")))?;
        let t = mitsu_client::table::read_csv(&data.join(file), None, Some("patient_id"))?;
        let r = c.upload(table, &t, &|_, _| {})?;
        println!(
            "  {who} secret-shared {} rows of {file} on its own machine and uploaded them as {table:?} v{}",
            r.rows, r.version
        );
    }
    // only statistics leave, and only inside a project every data owner approved
    let analyst = mitsu_client::Client::load(&dir.join("analyst.toml"))?;
    let (project, purpose) = ("diabetes", "Does BMI relate to disease progression? Aggregates only.");
    let tables = ["clinic".to_string(), "lab".to_string()];
    let functions = [mitsu_api::wire::Function::Stats, mitsu_api::wire::Function::SqlAggregate];
    analyst.propose_project(project, purpose, &["analyst".to_string()], &tables, &functions)?;
    println!("\n  the analyst proposes project {project:?} over clinic and lab: {purpose}");
    for who in ["clinic", "lab"] {
        mitsu_client::Client::load(&dir.join(format!("{who}.toml")))?.approve_project(project, true)?;
    }
    println!("  the clinic and the lab approve it; all three parties enforce it on every job");
    let analyst = analyst.with_project(Some(project.to_string()));
    println!("\n  the analyst asks all three parties for statistics; each party checks the request itself");
    println!("  {:<16} {:>6} {:>11} {:>11} {:>9} {:>9}", "column", "count", "mean", "variance", "min", "max");
    for (table, cols) in [("clinic", vec!["age", "bmi", "bp"]), ("lab", vec!["s1", "s5", "progression"])] {
        let cols: Vec<String> = cols.into_iter().map(String::from).collect();
        let r = analyst.describe(table, &cols)?;
        for c in &cols {
            let d = &r["columns"][c];
            let f = |k: &str| d[k].as_f64().map(|x| format!("{x:.4}")).unwrap_or_else(|| "null".into());
            println!(
                "  {:<16} {:>6} {:>11} {:>11} {:>9} {:>9}",
                format!("{table}.{c}"),
                d["count"].to_string(),
                f("mean"),
                f("variance"),
                f("min"),
                f("max")
            );
        }
    }
    println!("\n  opened to the analyst: {}", mitsu_stats::spec("describe")?.leakage);
    // the two providers' tables joined on the patient: neither saw the other's rows
    let sql = "SELECT c.sex, COUNT(*) AS patients, AVG(l.progression) AS progression, AVG(c.bmi) AS bmi \
               FROM clinic c JOIN lab l USING (patient_id) WHERE c.age >= 40 GROUP BY c.sex ORDER BY c.sex";
    println!("\n  the analyst joins the clinic's and the lab's rows on the patient, under MPC:");
    println!("    {sql}");
    let r = analyst.sql(sql)?;
    println!("    {:>4} {:>9} {:>12} {:>8}", r.columns[0], r.columns[1], r.columns[2], r.columns[3]);
    for row in &r.rows {
        let f = |v: &mitsu_query::Value| v.as_f64().map(|x| format!("{x:.2}")).unwrap_or_else(|| v.to_string());
        println!("    {:>4} {:>9} {:>12} {:>8}", row[0].to_string(), row[1].to_string(), f(&row[2]), f(&row[3]));
    }
    println!("    revealed besides the result:");
    for l in &r.leakage {
        println!("      - {l}");
    }
    // and rows do not leave: every party refuses, nothing is computed
    let rows = "SELECT age, bmi FROM clinic ORDER BY bmi DESC LIMIT 3";
    println!("\n  the analyst tries to read rows: {rows}");
    match analyst.sql(rows) {
        Ok(_) => anyhow::bail!("a row-level query on an aggregate-only table was answered"),
        Err(e) => println!("    refused by the parties: {e}"),
    }
    println!("\n  no party saw a value: each holds two of three random-looking share components");
    let stopped = mitsu_server::local::down(&dir)?;
    println!("  stopped {stopped} parties; total {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// The sample data, built into the binary so that `mitsu demo` runs from an installed copy.
const SAMPLES: [(&str, &str); 2] = [
    ("clinic_patients.csv", include_str!("../../../examples/clinic_patients.csv")),
    ("lab_results.csv", include_str!("../../../examples/lab_results.csv")),
];

/// Where the sample data is: the checkout's copy when run from it (a user may have edited it),
/// else the built-in one written to a directory removed when the guard is dropped.
fn default_dir() -> (PathBuf, Option<Cleanup>) {
    let here = PathBuf::from("examples");
    if SAMPLES.iter().all(|(f, _)| here.join(f).exists()) {
        return (here, None);
    }
    let dir = std::env::temp_dir().join(format!("mitsu-samples-{}", std::process::id()));
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| SAMPLES.iter().try_for_each(|(f, text)| std::fs::write(dir.join(f), text)));
    match written {
        Ok(()) => (dir.clone(), Some(Cleanup(dir))),
        // the error surfaces when a file is read, naming it
        Err(_) => (here, None),
    }
}

/// Removes the built-in samples' directory.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_columns(path: &PathBuf, cols: &[&str]) -> Result<Vec<Vec<f64>>> {
    let mut rd = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = rd.headers()?.clone();
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| {
            headers.iter().position(|h| h == *c).with_context(|| format!("{} has no column {c:?}", path.display()))
        })
        .collect::<Result<_>>()?;
    let mut out = vec![Vec::new(); cols.len()];
    for (line, rec) in rd.records().enumerate() {
        let rec = rec?;
        for (k, &i) in idx.iter().enumerate() {
            let v: f64 = rec[i].trim().parse().with_context(|| {
                format!("{}, line {}, column {:?}: {:?} is not a number", path.display(), line + 2, cols[k], &rec[i])
            })?;
            out[k].push(v);
        }
    }
    Ok(out)
}

/// The engine alone, three parties as threads of this process.
pub fn run_in_process(data: Option<PathBuf>) -> Result<()> {
    let (dir, _cleanup) = match data {
        Some(d) => (d, None),
        None => default_dir(),
    };
    let path = dir.join("clinic_patients.csv");
    let cols = read_columns(&path, &["bmi", "bp", "age"])?;
    let n = cols[0].len();
    if n < 2 {
        bail!("{} has fewer than two rows", path.display());
    }
    println!("mitsu demo: three parties in one process, secret-shared data from {}", path.display());
    println!("  the clinic (data provider) shares {n} rows of bmi, bp, age; no party sees a value\n");
    let t0 = Instant::now();
    // Public ranges as an upload infers them, coarsened to powers of two.
    let fmts: Vec<FixedPoint> = cols.iter().map(|c| FixedPoint::real(FixedPoint::infer_range_bits(c), FRAC)).collect();
    let mut prg = Prg::new(Seed::random());
    let enc: Vec<Vec<u128>> =
        cols.iter().zip(&fmts).map(|(c, f)| f.encode_all(c)).collect::<std::result::Result<_, _>>()?;
    let bundles: Vec<[AShare<u128>; 3]> = enc.iter().map(|v| client::deal(v, &mut prg)).collect();
    let mut per_party: [Vec<AShare<u128>>; 3] = [vec![], vec![], vec![]];
    for b in bundles {
        for (i, s) in b.into_iter().enumerate() {
            per_party[i].push(s);
        }
    }
    let results =
        run3_with(per_party, |ch, shares| -> mitsu_mpc_core::Result<(Vec<u128>, mitsu_mpc_core::CommStats)> {
            let mut p = Rep3::setup(ch)?;
            let mut outs = Vec::new();
            // sums and sums of squares of bmi and bp: exact in Z_2^128, opened as (mean, variance)
            for (k, name) in [(0usize, "bmi"), (1, "bp")] {
                let x = Num::<Rep3, u128>::from_share(shares[k].clone(), fmts[k], name)?;
                let s = x.sum(&p)?;
                let sq = x.sum_of_squares(&mut p)?;
                outs.push(s.share);
                outs.push(sq.share);
            }
            // sort by bmi carrying age
            let key = Num::<Rep3, u128>::from_share(shares[0].clone(), fmts[0], "bmi")?;
            let (sk, sp) = sort_by_key(&mut p, &key, &[&shares[2]])?;
            outs.push(sk.share);
            outs.push(sp[0].clone());
            let refs: Vec<&AShare<u128>> = outs.iter().collect();
            let all = p.concat(&refs);
            Ok((all.for_client().to_vec(), p.stats()))
        });
    let mut parts = Vec::new();
    let mut bytes = 0;
    for r in results {
        let (v, st) = r?;
        bytes = bytes.max(st.bytes_sent);
        parts.push(v);
    }
    let opened = client::reconstruct([&parts[0], &parts[1], &parts[2]])?;
    let elapsed = t0.elapsed();
    let scale = (1u64 << FRAC) as f64;
    println!("  {:<5} {:>6} {:>10} {:>10}   (plaintext check)", "col", "count", "mean", "variance");
    for (k, name) in ["bmi", "bp"].iter().enumerate() {
        let (mean, var) =
            mitsu_bench::mean_var_exact(n as i128, opened[2 * k].to_i128(), opened[2 * k + 1].to_i128(), FRAC);
        let m: f64 = cols[k].iter().sum::<f64>() / n as f64;
        let v: f64 = cols[k].iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n as f64 - 1.0);
        println!("  {:<5} {:>6} {:>10.4} {:>10.4}   ({m:.4}, {v:.4})", name, n, mean, var);
    }
    let sorted_bmi: Vec<f64> = opened[4..4 + n].iter().map(|v| v.to_f64() / scale).collect();
    let ages: Vec<f64> = opened[4 + n..4 + 2 * n].iter().map(|v| v.to_f64() / scale).collect();
    println!("\n  patients sorted by bmi (lowest three, highest three) with their age:");
    for i in [0, 1, 2, n - 3, n - 2, n - 1] {
        println!("    bmi {:>5.1}  age {:>3.0}", sorted_bmi[i], ages[i]);
    }
    let ok = sorted_bmi.windows(2).all(|w| w[0] <= w[1]);
    println!("\n  opened to the analyst: n; sum and sum of squares of bmi and bp (exactly the information");
    println!("  in their means and variances); the sorted bmi column with ages. Nothing else.");
    println!(
        "  parties exchanged at most {:.1} KiB each; total time {:.3} s; sort order verified: {ok}",
        bytes as f64 / 1024.0,
        elapsed.as_secs_f64()
    );
    if !ok {
        bail!("the sorted column is not in order");
    }
    Ok(())
}
