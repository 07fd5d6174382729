//! sqllogictest-style files (`tests/sql/*.test`): every query runs on the plaintext twin and on
//! the replicated protocol (three parties in threads) and both must give SQLite's answer, which
//! `tests/sql/expected.py` wrote into the file.
//!
//! Format: `table NAME FILE [key=COLUMN]` loads a CSV from `tests/sql/data`; `query [ordered]`
//! then SQL lines, `----`, then one row per line with values separated by `|` (rows compared as a
//! sorted multiset unless `ordered`; `allow-many` allows many-to-many joins); `query error TEXT`
//! expects an error containing TEXT.

use mitsu_algebra::Ring;
use mitsu_api::Schema;
use mitsu_client::local::Tables;
use mitsu_client::table::read_csv;
use mitsu_mpc_core::Engine;
use mitsu_mpc_ref::RefEngine;
use mitsu_mpc_rep3::Rep3;
use mitsu_query::{QueryError, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn run_on<E: Engine, R: Ring>(e: &mut E, q: &mitsu_query::Query, t: &Tables) -> Result<Vec<Vec<Value>>, QueryError> {
    let mut src = t;
    let out = mitsu_query::execute::<E, R, _>(e, q, &mut src)?;
    let values: Vec<Vec<i128>> = out
        .values
        .iter()
        .map(|c| Ok(e.open(c, mitsu_mpc_core::Reveal::Check)?.into_iter().map(|x| x.to_i128()).collect()))
        .collect::<Result<_, QueryError>>()?;
    let nn: Vec<Vec<bool>> = out
        .not_null
        .iter()
        .map(|c| Ok(e.open(c, mitsu_mpc_core::Reveal::Check)?.into_iter().map(|x| x == R::ONE).collect()))
        .collect::<Result<_, QueryError>>()?;
    Ok(mitsu_query::value::rows(q, &values, &nn))
}

fn twin(q: &mitsu_query::Query, t: &Tables) -> Result<Vec<Vec<Value>>, QueryError> {
    let mut e = RefEngine::new(mitsu_crypto::Seed::from_u64(1));
    if q.ring == 64 { run_on::<_, u64>(&mut e, q, t) } else { run_on::<_, u128>(&mut e, q, t) }
}

fn protocol(q: &mitsu_query::Query, t: &Tables) -> Result<Vec<Vec<Value>>, QueryError> {
    let [a, b, c] = mitsu_mpc_runtime::run3(|ch| {
        let mut p = Rep3::setup(ch)?;
        if q.ring == 64 { run_on::<_, u64>(&mut p, q, t) } else { run_on::<_, u128>(&mut p, q, t) }
    });
    let a = a?;
    assert_eq!(Ok(&a), b.as_ref(), "parties disagree");
    assert_eq!(Ok(&a), c.as_ref(), "parties disagree");
    Ok(a)
}

fn show(v: &Value) -> String {
    match v {
        Value::Bool(b) => (*b as u8).to_string(),
        other => other.to_string(),
    }
}

fn same(got: &str, want: &str) -> bool {
    if got == want {
        return true;
    }
    match (got.parse::<f64>(), want.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-6 * b.abs().max(1.0),
        _ => false,
    }
}

fn check_rows(file: &str, sql: &str, engine: &str, got: &[Vec<Value>], want: &[String], ordered: bool) {
    let mut g: Vec<String> = got.iter().map(|r| r.iter().map(show).collect::<Vec<_>>().join("|")).collect();
    let mut w: Vec<String> = want.to_vec();
    if !ordered {
        // sort numerically-aware: by the row text is enough when both sides print alike, so sort
        // both by a key that rounds numbers
        let key = |s: &String| {
            s.split('|')
                .map(|v| v.parse::<f64>().map(|x| format!("{:+024.6}", x)).unwrap_or_else(|_| v.to_string()))
                .collect::<Vec<_>>()
                .join("|")
        };
        g.sort_by_key(key);
        w.sort_by_key(key);
    }
    assert_eq!(
        g.len(),
        w.len(),
        "{file}: {engine}: row count differs for\n{sql}\ngot:\n{}\nwant:\n{}",
        g.join("\n"),
        w.join("\n")
    );
    for (a, b) in g.iter().zip(&w) {
        let (av, bv): (Vec<&str>, Vec<&str>) = (a.split('|').collect(), b.split('|').collect());
        let ok = av.len() == bv.len() && av.iter().zip(&bv).all(|(x, y)| same(x, y));
        assert!(
            ok,
            "{file}: {engine}: row {a:?} differs from {b:?} in\n{sql}\ngot:\n{}\nwant:\n{}",
            g.join("\n"),
            w.join("\n")
        );
    }
}

fn run_file(path: &Path) {
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let data = path.parent().unwrap().join("data");
    let mut tables = Tables(BTreeMap::new());
    let mut lines = text.lines().peekable();
    let mut count = 0;
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("table ") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            let key = parts.get(2).and_then(|k| k.strip_prefix("key="));
            let t = read_csv(&data.join(parts[1]), None::<&Schema>, key).unwrap();
            tables.0.insert(parts[0].to_string(), t);
            continue;
        }
        let header = line.strip_prefix("query").unwrap_or_else(|| panic!("{file}: unexpected line {line:?}"));
        let mut sql = Vec::new();
        while let Some(l) = lines.peek() {
            if l.trim() == "----" || l.trim().is_empty() {
                break;
            }
            sql.push(lines.next().unwrap());
        }
        let sql = sql.join("\n");
        count += 1;
        if let Some(msg) = header.trim().strip_prefix("error ") {
            let err = mitsu_query::plan(&sql, &tables).and_then(|q| twin(&q, &tables).map(|_| ()));
            let err = err.expect_err(&format!("{file}: expected an error for\n{sql}"));
            assert!(err.to_string().contains(msg), "{file}: error {err} lacks {msg:?} for\n{sql}");
            continue;
        }
        let ordered = header.contains("ordered");
        assert_eq!(lines.next().map(str::trim), Some("----"), "{file}: expected ---- after\n{sql}");
        let mut want = Vec::new();
        while let Some(l) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            want.push(lines.next().unwrap().trim().to_string());
        }
        let opts = mitsu_query::Options { allow_many_to_many: header.contains("allow-many") };
        let q = mitsu_query::plan_with(&sql, &tables, opts).unwrap_or_else(|e| panic!("{file}: {e}\n{sql}"));
        let t = twin(&q, &tables).unwrap_or_else(|e| panic!("{file}: twin: {e}\n{sql}"));
        check_rows(&file, &sql, "twin", &t, &want, ordered);
        let p = protocol(&q, &tables).unwrap_or_else(|e| panic!("{file}: protocol: {e}\n{sql}"));
        check_rows(&file, &sql, "protocol", &p, &want, ordered);
    }
    assert!(count > 0, "{file}: no queries");
}

macro_rules! slt {
    ($name:ident, $file:literal) => {
        #[test]
        fn $name() {
            run_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql").join($file));
        }
    };
}

slt!(basics, "basics.test");
slt!(joins, "joins.test");
slt!(unions, "union.test");
slt!(cancer, "cancer.test");
slt!(groups, "groups.test");
slt!(edge, "edge.test");
slt!(floats, "floats.test");
slt!(texts, "texts.test");
