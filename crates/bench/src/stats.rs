//! `mitsu bench --stats`: the statistics suite's targets, three parties as threads of this process.
//! Tables are generated and secret-shared before the clock starts; the clock covers the whole
//! function (the SELECT, the kernel, opening, the analyst's finishing) and every answer is checked
//! against the same statistic computed in plain Rust (f64).
//!
//! * describe: one decimal column of `rows` rows, every field including median and quartiles.
//! * ols: 10 integer regressors and an outcome, `rows` rows.
//! * logit: 5 regressors and a 0/1 outcome, `logit_rows` rows.

use crate::relational::{Dealt, Tables, deal_all, int};
use mitsu_algebra::Ring;
use mitsu_api::{ColumnSchema, Kind, Schema};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, MpcError};
use mitsu_mpc_rep3::AShare;
use mitsu_mpc_rep3::Rep3;
use mitsu_query::{QueryError, Source};
use mitsu_stats::{Request, finish::finish, kernel};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct StatsConfig {
    pub rows: usize,
    pub logit_rows: usize,
    pub repeat: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatsBench {
    pub function: String,
    pub rows: usize,
    pub columns: usize,
    pub seconds: f64,
    /// The target for this function at this size (seconds).
    pub target_seconds: f64,
    pub rounds: u64,
    pub bytes_per_party: u64,
    /// The same statistic in plain Rust.
    pub plain_seconds: f64,
    /// Largest relative difference from the plain computation over the checked fields.
    pub max_rel_error: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    pub describe: StatsBench,
    pub ols: StatsBench,
    pub logit: StatsBench,
}

impl StatsBench {
    fn new(
        function: &str,
        rows: usize,
        columns: usize,
        target_seconds: f64,
        (seconds, bytes_per_party, rounds): (f64, u64, u64),
        plain_seconds: f64,
        max_rel_error: f64,
    ) -> Self {
        StatsBench {
            function: function.into(),
            rows,
            columns,
            seconds,
            target_seconds,
            rounds,
            bytes_per_party,
            plain_seconds,
            max_rel_error,
        }
    }
}

fn uniform(p: &mut Prg) -> f64 {
    (p.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A party's shares in both rings: the SELECT a function runs is planned in Z_2^64 or Z_2^128.
struct Both(Dealt<u64>, Dealt<u128>);

impl Source<Rep3> for Both {
    fn column<R: Ring>(
        &mut self,
        e: &mut Rep3,
        table: &str,
        col: usize,
    ) -> Result<(AShare<R>, Option<AShare<R>>), QueryError> {
        if R::BITS == 64 { self.0.column(e, table, col) } else { self.1.column(e, table, col) }
    }
}

/// Runs `req` over the dealt table; (seconds, bytes, rounds, answer).
fn run(t: &Tables, req: &Request) -> Result<(f64, u64, u64, Value), MpcError> {
    let [a, b, c] = deal_all::<u64>(t, 21);
    let [x, y, z] = deal_all::<u128>(t, 22);
    let dealt = [Both(a, x), Both(b, y), Both(c, z)];
    let start = Instant::now();
    let res = mitsu_mpc_runtime::run3_with(dealt, |ch, mut src| {
        let mut p = Rep3::setup(ch)?;
        let out = kernel::run(&mut p, t, &mut src, req).map_err(|e| MpcError::Internal(e.to_string()))?;
        let vals = out.values(&p).open(&mut p, mitsu_mpc_core::Reveal::StatisticValues)?;
        Ok::<_, MpcError>((out.decode(&vals), p.stats()))
    });
    let [a, b, c] = res;
    let (a, b, c) = (a?, b?, c?);
    let value = finish(req, &a.0).map_err(|e| MpcError::Internal(e.to_string()))?;
    let secs = start.elapsed().as_secs_f64();
    let bytes = a.1.bytes_sent.max(b.1.bytes_sent).max(c.1.bytes_sent);
    let rounds = a.1.rounds.max(b.1.rounds).max(c.1.rounds);
    Ok((secs, bytes, rounds, value))
}

fn best(t: &Tables, req: &Request, repeat: usize) -> Result<(f64, u64, u64, Value), MpcError> {
    let mut b: Option<(f64, u64, u64, Value)> = None;
    for _ in 0..repeat.max(1) {
        let r = run(t, req)?;
        if b.as_ref().is_none_or(|x| r.0 < x.0) {
            b = Some(r);
        }
    }
    Ok(b.expect("one run"))
}

fn rel(got: &Value, want: f64) -> f64 {
    let g = got.as_f64().unwrap_or(f64::NAN);
    let d = (g - want).abs() / want.abs().max(1e-12);
    if d.is_nan() { f64::INFINITY } else { d }
}

/// Solves the symmetric system a x = b (plain Gauss-Jordan); also returns diag(a^-1).
fn solve(a: &[Vec<f64>], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let p = b.len();
    let mut m: Vec<Vec<f64>> = (0..p)
        .map(|i| {
            let mut r = a[i].clone();
            r.push(b[i]);
            r.extend((0..p).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for j in 0..p {
        let piv = m[j][j];
        for x in m[j].iter_mut() {
            *x /= piv;
        }
        for r in 0..p {
            if r != j {
                let f = m[r][j];
                let row = m[j].clone();
                for (x, y) in m[r].iter_mut().zip(row) {
                    *x -= f * y;
                }
            }
        }
    }
    ((0..p).map(|i| m[i][p]).collect(), (0..p).map(|i| m[i][p + 1 + i]).collect())
}

fn describe(rows: usize, repeat: usize) -> Result<StatsBench, MpcError> {
    let mut prg = Prg::new(Seed::from_u64(3));
    // a bell-shaped amount in cents, 0 .. 10,000.00
    let v: Vec<i128> =
        (0..rows).map(|_| ((uniform(&mut prg) + uniform(&mut prg) + uniform(&mut prg)) / 3.0 * 1e6) as i128).collect();
    let schema = Schema::new(vec![ColumnSchema {
        name: "v".into(),
        kind: Kind::Decimal { scale: 2 },
        nullable: false,
        bits: 21,
    }]);
    let t = Tables(BTreeMap::from([("t".to_string(), (schema, vec![v.clone()]))]));
    let req =
        Request { function: "describe".into(), from: "t".into(), columns: vec!["v".into()], ..Request::default() };
    let (secs, bytes, rounds, got) = best(&t, &req, repeat)?;
    let start = Instant::now();
    let x: Vec<f64> = v.iter().map(|&a| a as f64 / 100.0).collect();
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1.0);
    let mut s = x.clone();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = (n - 1.0) * p;
        let lo = h.floor() as usize;
        s[lo] + (h - lo as f64) * (s[(lo + 1).min(s.len() - 1)] - s[lo])
    };
    let want = [
        ("mean", mean),
        ("variance", var),
        ("min", s[0]),
        ("q25", q(0.25)),
        ("median", q(0.5)),
        ("q75", q(0.75)),
        ("max", s[s.len() - 1]),
    ];
    let plain = start.elapsed().as_secs_f64();
    let c = &got["columns"]["v"];
    let err = want.iter().map(|(k, w)| rel(&c[*k], *w)).fold(0.0, f64::max);
    Ok(StatsBench::new("describe", rows, 1, 15.0 * rows as f64 / 1e6, (secs, bytes, rounds), plain, err))
}

fn ols(rows: usize, repeat: usize) -> Result<StatsBench, MpcError> {
    let k = 10;
    let mut prg = Prg::new(Seed::from_u64(4));
    let mut cols: Vec<Vec<i128>> =
        (0..k).map(|_| (0..rows).map(|_| (prg.next_u64() % 2001) as i128 - 1000).collect()).collect();
    let beta: Vec<f64> = (0..k).map(|j| j as f64 - 4.5).collect();
    let y: Vec<i128> = (0..rows)
        .map(|i| {
            let s: f64 = (0..k).map(|j| beta[j] * cols[j][i] as f64).sum();
            (s + 100.0 + (uniform(&mut prg) - 0.5) * 4000.0).round() as i128
        })
        .collect();
    cols.push(y);
    let mut sc: Vec<ColumnSchema> = (0..k).map(|j| int(&format!("x{j}"), 11)).collect();
    sc.push(int("y", 17));
    let t = Tables(BTreeMap::from([("t".to_string(), (Schema::new(sc), cols.clone()))]));
    let xs: Vec<String> = (0..k).map(|j| format!("x{j}")).collect();
    let req =
        Request { function: "ols".into(), from: "t".into(), y: Some("y".into()), x: xs.clone(), ..Request::default() };
    let (secs, bytes, rounds, got) = best(&t, &req, repeat)?;
    // plain: centred normal equations
    let start = Instant::now();
    let n = rows as f64;
    let means: Vec<f64> = cols.iter().map(|c| c.iter().map(|&a| a as f64).sum::<f64>() / n).collect();
    let mut a = vec![vec![0.0; k]; k];
    let mut b = vec![0.0; k];
    for i in 0..rows {
        let d: Vec<f64> = (0..=k).map(|j| cols[j][i] as f64 - means[j]).collect();
        for r in 0..k {
            for c in 0..k {
                a[r][c] += d[r] * d[c];
            }
            b[r] += d[r] * d[k];
        }
    }
    let (coef, _) = solve(&a, &b);
    let plain = start.elapsed().as_secs_f64();
    let err = (0..k).map(|j| rel(&got["coefficients"][&xs[j]], coef[j])).fold(0.0, f64::max);
    Ok(StatsBench::new("ols", rows, k + 1, 10.0 * rows as f64 / 1e6, (secs, bytes, rounds), plain, err))
}

fn logit(rows: usize, repeat: usize) -> Result<StatsBench, MpcError> {
    let k = 5;
    let mut prg = Prg::new(Seed::from_u64(5));
    let mut cols: Vec<Vec<i128>> =
        (0..k).map(|_| (0..rows).map(|_| (prg.next_u64() % 201) as i128 - 100).collect()).collect();
    let beta = [0.02, -0.01, 0.015, 0.0, -0.03];
    let y: Vec<i128> = (0..rows)
        .map(|i| {
            let eta: f64 = 0.3 + (0..k).map(|j| beta[j] * cols[j][i] as f64).sum::<f64>();
            (uniform(&mut prg) < 1.0 / (1.0 + (-eta).exp())) as i128
        })
        .collect();
    cols.push(y);
    let mut sc: Vec<ColumnSchema> = (0..k).map(|j| int(&format!("x{j}"), 8)).collect();
    sc.push(int("y", 1));
    let t = Tables(BTreeMap::from([("t".to_string(), (Schema::new(sc), cols.clone()))]));
    let xs: Vec<String> = (0..k).map(|j| format!("x{j}")).collect();
    let req = Request {
        function: "logit".into(),
        from: "t".into(),
        y: Some("y".into()),
        x: xs.clone(),
        ..Request::default()
    };
    let (secs, bytes, rounds, got) = best(&t, &req, repeat)?;
    // plain Newton in f64
    let start = Instant::now();
    let p = k + 1;
    let mut g = vec![0.0; p];
    for _ in 0..50 {
        let mut h = vec![vec![0.0; p]; p];
        let mut grad = vec![0.0; p];
        for i in 0..rows {
            let x: Vec<f64> = std::iter::once(1.0).chain((0..k).map(|j| cols[j][i] as f64)).collect();
            let eta: f64 = x.iter().zip(&g).map(|(a, b)| a * b).sum();
            let pr = 1.0 / (1.0 + (-eta).exp());
            for r in 0..p {
                grad[r] += x[r] * (cols[k][i] as f64 - pr);
                for c in 0..p {
                    h[r][c] += x[r] * x[c] * pr * (1.0 - pr);
                }
            }
        }
        let (d, _) = solve(&h, &grad);
        let dec: f64 = d.iter().zip(&grad).map(|(a, b)| a * b).sum();
        for (a, b) in g.iter_mut().zip(&d) {
            *a += b;
        }
        if dec < 1e-20 {
            break;
        }
    }
    let plain = start.elapsed().as_secs_f64();
    let names: Vec<String> = std::iter::once("const".to_string()).chain(xs.iter().cloned()).collect();
    // x3's true coefficient is 0: compare it relative to its standard error instead
    let err = (0..p)
        .map(|j| {
            let se = got["std_errors"][&names[j]].as_f64().unwrap_or(1.0);
            let gv = got["coefficients"][&names[j]].as_f64().unwrap_or(f64::NAN);
            ((gv - g[j]).abs() / g[j].abs().max(se)).max(0.0)
        })
        .fold(0.0, f64::max);
    Ok(StatsBench::new("logit", rows, k + 1, 60.0 * rows as f64 / 1e5, (secs, bytes, rounds), plain, err))
}

pub fn run_all(cfg: &StatsConfig) -> Result<StatsReport, MpcError> {
    Ok(StatsReport {
        describe: describe(cfg.rows, cfg.repeat)?,
        ols: ols(cfg.rows, cfg.repeat)?,
        logit: logit(cfg.logit_rows, cfg.repeat)?,
    })
}

pub fn format(r: &StatsReport) -> String {
    let mut s = format!(
        "{:<9} {:>9} {:>5} {:>9} {:>8} {:>8} {:>12} {:>10} {:>9}\n",
        "function", "rows", "cols", "seconds", "target", "rounds", "MB/party", "plain s", "max err"
    );
    for b in [&r.describe, &r.ols, &r.logit] {
        s += &format!(
            "{:<9} {:>9} {:>5} {:>9.2} {:>8.1} {:>8} {:>12.1} {:>10.4} {:>9.1e}\n",
            b.function,
            b.rows,
            b.columns,
            b.seconds,
            b.target_seconds,
            b.rounds,
            b.bytes_per_party as f64 / 1e6,
            b.plain_seconds,
            b.max_rel_error
        );
    }
    s
}
