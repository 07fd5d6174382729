//! The statistics suite against scipy/statsmodels: every case of `tests/stats/fixtures.json`
//! (written by `tests/stats/expected.py`) runs on the plaintext twin; cases marked `protocol`
//! also run on the three-party protocol (threads), whose parties must agree.

use mitsu_algebra::Ring;
use mitsu_client::local::Tables;
use mitsu_client::table::read_csv;
use mitsu_mpc_core::{Engine, MpcError};
use mitsu_mpc_ref::RefEngine;
use mitsu_mpc_rep3::Rep3;
use mitsu_stats::{Request, StatsError, finish::finish, kernel};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn table(file: &str) -> Tables {
    let path = if file == "gen.csv" { dir().join("stats/data").join(file) } else { dir().join("sql/data").join(file) };
    let first = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().split(',').next().unwrap().to_string();
    let t = read_csv(&path, None, Some(&first)).unwrap();
    Tables(BTreeMap::from([("t".to_string(), t)]))
}

/// Runs a request and opens its outputs (to everyone: this is a test).
fn run<E: Engine>(e: &mut E, t: &Tables, req: &Request) -> Result<BTreeMap<String, f64>, StatsError> {
    let mut src = t;
    let out = kernel::run(e, t, &mut src, req)?;
    let vals = out.values(e).open(e).map_err(|e: MpcError| StatsError::Mpc(e.to_string()))?;
    Ok(out.decode(&vals))
}

/// Runs one SQL query and opens its rows (the counting functions' path).
fn sql_rows<E: Engine, R: Ring>(e: &mut E, t: &Tables, sql: &str) -> Result<Vec<Vec<mitsu_query::Value>>, StatsError> {
    let q = mitsu_query::plan(sql, t).map_err(StatsError::from)?;
    let mut src = t;
    let out = mitsu_query::execute::<E, R, _>(e, &q, &mut src).map_err(StatsError::from)?;
    let m = |e: MpcError| StatsError::Mpc(e.to_string());
    let mut values = Vec::new();
    for c in &out.values {
        values.push(e.open(c).map_err(m)?.into_iter().map(|x| x.to_i128()).collect());
    }
    let mut nn = Vec::new();
    for c in &out.not_null {
        nn.push(e.open(c).map_err(m)?.into_iter().map(|x| x == R::ONE).collect());
    }
    Ok(mitsu_query::value::rows(&q, &values, &nn))
}

fn counting<E: Engine>(e: &mut E, t: &Tables, req: &Request) -> Result<Value, StatsError> {
    mitsu_stats::counts::run_sql(req, &mut |sql: &str| {
        let ring = mitsu_query::plan(sql, t).map_err(StatsError::from)?.ring;
        if ring == 64 { sql_rows::<E, u64>(e, t, sql) } else { sql_rows::<E, u128>(e, t, sql) }
    })
}

fn is_counting(req: &Request) -> bool {
    mitsu_stats::spec(&req.function).map(|f| f.kernel == mitsu_stats::Kernel::Sql).unwrap_or(false)
}

fn twin(t: &Tables, req: &Request) -> Result<Value, StatsError> {
    let mut e = RefEngine::new(mitsu_crypto::Seed::from_u64(5));
    if is_counting(req) {
        return counting(&mut e, t, req);
    }
    finish(req, &run(&mut e, t, req)?)
}

fn protocol(t: &Tables, req: &Request) -> Result<Value, StatsError> {
    if is_counting(req) {
        let [a, b, c] = mitsu_mpc_runtime::run3(|ch| {
            let mut p = Rep3::setup(ch).map_err(|e| StatsError::Mpc(e.to_string()))?;
            counting(&mut p, t, req)
        });
        let a = a?;
        assert_eq!(Ok(&a), b.as_ref(), "parties disagree");
        assert_eq!(Ok(&a), c.as_ref(), "parties disagree");
        return Ok(a);
    }
    let r = mitsu_mpc_runtime::run3(|ch| {
        let mut p = Rep3::setup(ch).map_err(|e| StatsError::Mpc(e.to_string()))?;
        run(&mut p, t, req)
    });
    let [a, b, c] = r;
    let a = a?;
    assert_eq!(Ok(&a), b.as_ref(), "parties disagree");
    assert_eq!(Ok(&a), c.as_ref(), "parties disagree");
    finish(req, &a)
}

fn compare(path: &str, got: &Value, want: &Value, tol: &Value, errs: &mut Vec<String>) {
    let field = path.rsplit('.').next().unwrap_or("");
    let t = tol.get("fields").and_then(|f| f.get(field)).unwrap_or(tol);
    let (rel, abs) = (t["rel"].as_f64().unwrap(), t["abs"].as_f64().unwrap());
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => compare(&format!("{path}.{k}"), gv, wv, tol, errs),
                    None => errs.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                compare(&format!("{path}[{i}]"), gv, wv, tol, errs);
            }
        }
        (g, Value::Number(w)) => {
            let w = w.as_f64().unwrap();
            match g.as_f64() {
                Some(x) if (x - w).abs() <= abs.max(rel * w.abs()) => {}
                _ => errs.push(format!(
                    "{path}: got {g}, want {w} (rel {:.2e})",
                    (g.as_f64().unwrap_or(f64::NAN) - w).abs() / w.abs()
                )),
            }
        }
        (g, w) if g == w => {}
        (g, w) => errs.push(format!("{path}: got {g}, want {w}")),
    }
}

#[test]
fn against_scipy_and_statsmodels() {
    let fx: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("stats/fixtures.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    let mut tables: BTreeMap<String, Tables> = BTreeMap::new();
    let cases = fx["cases"].as_array().unwrap();
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let file = c["table"].as_str().unwrap();
        let t = tables.entry(file.to_string()).or_insert_with(|| table(file));
        let req: Request = serde_json::from_value(c["request"].clone()).unwrap();
        let mut engines: Vec<(&str, fn(&Tables, &Request) -> Result<Value, StatsError>)> = vec![("twin", twin)];
        if c["protocol"].as_bool().unwrap_or(false) {
            engines.push(("protocol", protocol));
        }
        for (name, f) in engines {
            match f(t, &req) {
                Ok(got) => {
                    let mut errs = Vec::new();
                    compare("", &got, &c["expected"], &c["tol"], &mut errs);
                    for e in errs {
                        failures.push(format!("{id} [{name}]: {e}"));
                    }
                }
                Err(e) => failures.push(format!("{id} [{name}]: error {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
