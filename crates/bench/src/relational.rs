//! `mitsu bench --relational`: SQL queries through the planner and executor, three parties as
//! threads of this process. Tables are generated, secret-shared before the clock starts, and
//! every result is reconstructed afterwards and checked against the plain computation.
//!
//! * join: `SELECT l.a, l.b, r.c, r.d FROM l JOIN r ON l.k = r.k`, both tables `rows` rows,
//!   unique keys, half of them matching; the output (rows with a secret validity bit) is compacted.
//! * group_by: `SELECT g, COUNT(*), SUM(v), AVG(v) FROM t GROUP BY g`, `rows` rows in `groups`
//!   groups.
//! * join_text and group_by_text: the same queries on 40-byte text labels (`Kind::Text`: the
//!   provider's hash for matching and grouping, the bytes carried as payload and opened for the
//!   groups), to compare with the integer keys.

use mitsu_algebra::Ring;
use mitsu_api::{ColumnSchema, Kind, Schema};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Engine, MpcError};
use mitsu_mpc_rep3::{AShare, Rep3, client};
use mitsu_query::{Catalog, Query, QueryError, Source, TableMeta};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct RelConfig {
    pub rows: usize,
    pub groups: usize,
    pub repeat: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelResult {
    pub query: String,
    pub rows: usize,
    pub seconds: f64,
    /// Bytes sent by the busiest party.
    pub bytes_per_party: u64,
    pub rounds: u64,
    /// What `mitsu sql --explain` estimated for the same query.
    pub estimated_rounds: u64,
    pub estimated_bytes: u64,
    pub ring: u32,
    /// The same query computed in plain Rust (hash join / hash aggregation).
    pub plain_seconds: f64,
    pub result_rows: usize,
}

impl RelResult {
    fn new(
        sql: &str,
        q: &Query,
        rows: usize,
        (seconds, bytes, rounds): (f64, u64, u64),
        plain: f64,
        out: usize,
    ) -> Self {
        let est = mitsu_query::explain::explain(q);
        RelResult {
            query: sql.into(),
            rows,
            seconds,
            bytes_per_party: bytes,
            rounds,
            estimated_rounds: est.rounds,
            estimated_bytes: est.bytes,
            ring: q.ring,
            plain_seconds: plain,
            result_rows: out,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RelReport {
    pub join: RelResult,
    pub group_by: RelResult,
    pub join_text: RelResult,
    pub group_by_text: RelResult,
}

/// Tables by name: the schema and the encoded stored columns (the schema's columns, then text
/// columns' payload chunks; the benchmarks' columns are never NULL).
pub(crate) struct Tables(pub(crate) BTreeMap<String, (Schema, Vec<Vec<i128>>)>);

impl Catalog for Tables {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError> {
        let (s, cols) = self.0.get(name).ok_or_else(|| QueryError::Invalid(format!("no table {name}")))?;
        Ok(TableMeta { schema: s.clone(), rows: cols[0].len() as u64 })
    }
}

pub(crate) fn int(name: &str, bits: u32) -> ColumnSchema {
    ColumnSchema { name: name.into(), kind: Kind::Integer, nullable: false, bits }
}

pub(crate) fn text(name: &str, bytes: usize) -> ColumnSchema {
    ColumnSchema { name: name.into(), kind: Kind::Text, nullable: false, bits: 8 * bytes as u32 }
}

/// One party's shares of every stored column, and the schemas that place payload chunks.
pub(crate) struct Dealt<R: Ring>(BTreeMap<(String, usize), AShare<R>>, BTreeMap<String, Schema>);

impl<R0: Ring> Source<Rep3> for Dealt<R0> {
    fn column<R: Ring>(
        &mut self,
        _: &mut Rep3,
        table: &str,
        col: usize,
    ) -> Result<(AShare<R>, Option<AShare<R>>), QueryError> {
        let s = self.0.remove(&(table.to_string(), col)).ok_or_else(|| QueryError::internal("column read twice"))?;
        Ok((mitsu_query::as_ring(s)?, None))
    }

    fn payload<R: Ring>(&mut self, _: &mut Rep3, table: &str, col: usize) -> Result<Vec<AShare<R>>, QueryError> {
        let schema = self.1.get(table).ok_or_else(|| QueryError::internal("no such table"))?;
        schema
            .payload_columns(col)
            .map(|i| {
                let s =
                    self.0.remove(&(table.to_string(), i)).ok_or_else(|| QueryError::internal("payload read twice"))?;
                mitsu_query::as_ring(s)
            })
            .collect()
    }
}

pub(crate) fn deal_all<R: Ring>(t: &Tables, seed: u64) -> [Dealt<R>; 3] {
    let mut prg = Prg::new(Seed::from_u64(seed));
    let schemas: BTreeMap<String, Schema> = t.0.iter().map(|(n, (s, _))| (n.clone(), s.clone())).collect();
    let mut out = [
        Dealt(BTreeMap::new(), schemas.clone()),
        Dealt(BTreeMap::new(), schemas.clone()),
        Dealt(BTreeMap::new(), schemas),
    ];
    for (name, (_, cols)) in &t.0 {
        for (i, c) in cols.iter().enumerate() {
            let v: Vec<R> = c.iter().map(|x| R::from_i128(*x)).collect();
            let [a, b, cc] = client::deal(&v, &mut prg);
            out[0].0.insert((name.clone(), i), a);
            out[1].0.insert((name.clone(), i), b);
            out[2].0.insert((name.clone(), i), cc);
        }
    }
    out
}

/// Runs `q` on freshly dealt shares; (seconds, busiest party's bytes, rounds, reconstructed columns).
fn run_query<R: Ring>(q: &Query, t: &Tables) -> Result<(f64, u64, u64, Vec<Vec<i128>>), MpcError> {
    let dealt = deal_all::<R>(t, 11);
    let start = Instant::now();
    let res = mitsu_mpc_runtime::run3_with(dealt, |ch, mut src| {
        let mut p = Rep3::setup(ch)?;
        let out =
            mitsu_query::execute::<_, R, _>(&mut p, q, &mut src).map_err(|e| MpcError::Internal(e.to_string()))?;
        let st = p.stats();
        Ok::<_, MpcError>((out.values.into_iter().map(AShare::into_client).collect::<Vec<_>>(), st))
    });
    let secs = start.elapsed().as_secs_f64();
    let [a, b, c] = res;
    let (a, b, c) = (a?, b?, c?);
    let bytes = a.1.bytes_sent.max(b.1.bytes_sent).max(c.1.bytes_sent);
    let rounds = a.1.rounds.max(b.1.rounds).max(c.1.rounds);
    let cols = (0..a.0.len())
        .map(|i| Ok(client::reconstruct([&a.0[i], &b.0[i], &c.0[i]])?.into_iter().map(|x| x.to_i128()).collect()))
        .collect::<Result<Vec<Vec<i128>>, MpcError>>()?;
    Ok((secs, bytes, rounds, cols))
}

fn run_best(q: &Query, t: &Tables, repeat: usize) -> Result<(f64, u64, u64, Vec<Vec<i128>>), MpcError> {
    let mut best: Option<(f64, u64, u64, Vec<Vec<i128>>)> = None;
    for _ in 0..repeat.max(1) {
        let r = if q.ring == 64 { run_query::<u64>(q, t)? } else { run_query::<u128>(q, t)? };
        if best.as_ref().is_none_or(|b| r.0 < b.0) {
            best = Some(r);
        }
    }
    Ok(best.expect("one run"))
}

pub fn run(cfg: &RelConfig) -> Result<RelReport, MpcError> {
    let n = cfg.rows;
    let mut prg = Prg::new(Seed::from_u64(5));
    let qerr = |e: QueryError| MpcError::Internal(e.to_string());
    // join: unique keys; r's keys are shifted by n/2 so half of them match
    let mut lk: Vec<i128> = (0..n as i128).collect();
    let mut rk: Vec<i128> = (n as i128 / 2..n as i128 / 2 + n as i128).collect();
    for v in [&mut lk, &mut rk] {
        for i in (1..v.len()).rev() {
            v.swap(i, prg.below(i as u64 + 1) as usize);
        }
    }
    let col = |prg: &mut Prg| -> Vec<i128> { (0..n).map(|_| prg.below(1 << 20) as i128).collect() };
    let (a, b, c, d) = (col(&mut prg), col(&mut prg), col(&mut prg), col(&mut prg));
    let kb = 64 - (2 * n as u64).leading_zeros();
    let mut t = Tables(BTreeMap::new());
    t.0.insert(
        "l".into(),
        (Schema::new(vec![int("k", kb), int("a", 21), int("b", 21)]), vec![lk.clone(), a.clone(), b.clone()]),
    );
    t.0.insert(
        "r".into(),
        (Schema::new(vec![int("k", kb), int("c", 21), int("d", 21)]), vec![rk.clone(), c.clone(), d.clone()]),
    );
    let sql = "SELECT l.a, l.b, r.c, r.d FROM l JOIN r ON l.k = r.k";
    let q = mitsu_query::plan(sql, &t).map_err(qerr)?;
    let (secs, bytes, rounds, out) = run_best(&q, &t, cfg.repeat)?;
    // plain twin: hash join
    let pt = Instant::now();
    let idx: std::collections::HashMap<i128, usize> = lk.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut want: Vec<(i128, i128, i128, i128)> =
        rk.iter().enumerate().filter_map(|(j, k)| idx.get(k).map(|&i| (a[i], b[i], c[j], d[j]))).collect();
    let plain = pt.elapsed().as_secs_f64();
    let mut got: Vec<(i128, i128, i128, i128)> =
        (0..out[0].len()).map(|i| (out[0][i], out[1][i], out[2][i], out[3][i])).collect();
    want.sort_unstable();
    got.sort_unstable();
    if got != want {
        return Err(MpcError::Internal(format!("join: {} rows, plain join has {}", got.len(), want.len())));
    }
    let join = RelResult::new(sql, &q, n, (secs, bytes, rounds), plain, got.len());

    // group by
    let g: Vec<i128> = (0..n).map(|_| prg.below(cfg.groups as u64) as i128).collect();
    let v: Vec<i128> = (0..n).map(|_| prg.below(1 << 20) as i128).collect();
    let gb = 64 - (cfg.groups as u64).leading_zeros();
    let mut t = Tables(BTreeMap::new());
    t.0.insert("t".into(), (Schema::new(vec![int("g", gb), int("v", 21)]), vec![g.clone(), v.clone()]));
    let sql = "SELECT g, COUNT(*), SUM(v), AVG(v) FROM t GROUP BY g";
    let q = mitsu_query::plan(sql, &t).map_err(qerr)?;
    let (secs, bytes, rounds, out) = run_best(&q, &t, cfg.repeat)?;
    let pt = Instant::now();
    let mut agg: BTreeMap<i128, (i128, i128)> = BTreeMap::new();
    for i in 0..n {
        let e = agg.entry(g[i]).or_default();
        e.0 += 1;
        e.1 += v[i];
    }
    let plain = pt.elapsed().as_secs_f64();
    if out[0].len() != agg.len() {
        return Err(MpcError::Internal(format!("group by: {} groups, plain has {}", out[0].len(), agg.len())));
    }
    for i in 0..out[0].len() {
        let (cnt, sum) = agg[&out[0][i]];
        let avg = out[3][i] as f64 / 2f64.powi(mitsu_query::ty::FRAC as i32);
        if out[1][i] != cnt
            || out[2][i] != sum
            || (avg - sum as f64 / cnt as f64).abs() > 1e-6 * (sum as f64 / cnt as f64).max(1.0)
        {
            return Err(MpcError::Internal(format!("group by: group {} differs from the plain result", out[0][i])));
        }
    }
    let group_by = RelResult::new(sql, &q, n, (secs, bytes, rounds), plain, out[0].len());

    // the same on 40-byte text labels: the join key and the group label as a provider's client
    // encodes them (hash, then payload chunks)
    let label = |kind: &str, v: i128| format!("{kind}-{v:0>width$}", width = LABEL_BYTES - kind.len() - 1);
    let text_cols = |labels: &[String]| -> Vec<Vec<i128>> {
        let chunks = LABEL_BYTES.div_ceil(mitsu_api::encode::TEXT_CHUNK_BYTES);
        let mut cols = vec![labels.iter().map(|l| mitsu_api::encode::key_of(l)).collect::<Vec<_>>()];
        let packed: Vec<Vec<i128>> =
            labels.iter().map(|l| mitsu_api::encode::text_chunks(l, chunks).expect("a label that fits")).collect();
        cols.extend((0..chunks).map(|k| packed.iter().map(|p| p[k]).collect()));
        cols
    };
    let lt = text_cols(&lk.iter().map(|k| label("customer", *k)).collect::<Vec<_>>());
    let rt = text_cols(&rk.iter().map(|k| label("customer", *k)).collect::<Vec<_>>());
    let with_payload = |key: &[Vec<i128>], rest: [&Vec<i128>; 2]| -> Vec<Vec<i128>> {
        let mut cols = vec![key[0].clone(), rest[0].clone(), rest[1].clone()];
        cols.extend(key[1..].iter().cloned());
        cols
    };
    let mut t = Tables(BTreeMap::new());
    t.0.insert(
        "l".into(),
        (Schema::new(vec![text("k", LABEL_BYTES), int("a", 21), int("b", 21)]), with_payload(&lt, [&a, &b])),
    );
    t.0.insert(
        "r".into(),
        (Schema::new(vec![text("k", LABEL_BYTES), int("c", 21), int("d", 21)]), with_payload(&rt, [&c, &d])),
    );
    let sql = "SELECT l.a, l.b, r.c, r.d FROM l JOIN r ON l.k = r.k";
    let q = mitsu_query::plan(sql, &t).map_err(qerr)?;
    let (secs, bytes, rounds, out) = run_best(&q, &t, cfg.repeat)?;
    let mut got: Vec<(i128, i128, i128, i128)> =
        (0..out[0].len()).map(|i| (out[0][i], out[1][i], out[2][i], out[3][i])).collect();
    got.sort_unstable();
    if got != want {
        return Err(MpcError::Internal(format!("text join: {} rows, plain join has {}", got.len(), want.len())));
    }
    let join_text =
        RelResult::new(&format!("{sql} (40-byte text)"), &q, n, (secs, bytes, rounds), join.plain_seconds, got.len());

    let gt = text_cols(&g.iter().map(|x| label("category", *x)).collect::<Vec<_>>());
    let mut cols = vec![gt[0].clone(), v.clone()];
    cols.extend(gt[1..].iter().cloned());
    let mut t = Tables(BTreeMap::new());
    t.0.insert("t".into(), (Schema::new(vec![text("g", LABEL_BYTES), int("v", 21)]), cols));
    let sql = "SELECT g, COUNT(*), SUM(v), AVG(v) FROM t GROUP BY g";
    let q = mitsu_query::plan(sql, &t).map_err(qerr)?;
    let (secs, bytes, rounds, out) = run_best(&q, &t, cfg.repeat)?;
    // wire columns: g's payload chunks, then the aggregates
    let chunks = q.root.out[0].wire_width();
    let by_label: BTreeMap<String, (i128, i128)> = agg.iter().map(|(k, cs)| (label("category", *k), *cs)).collect();
    if out[0].len() != by_label.len() {
        return Err(MpcError::Internal(format!("text group by: {} groups, plain has {}", out[0].len(), agg.len())));
    }
    for i in 0..out[0].len() {
        let l = mitsu_api::encode::unpack_text(&(0..chunks).map(|k| out[k][i]).collect::<Vec<_>>());
        let ok = by_label.get(&l).is_some_and(|&(cnt, sum)| out[chunks][i] == cnt && out[chunks + 1][i] == sum);
        if !ok {
            return Err(MpcError::Internal(format!("text group by: group {l:?} differs from the plain result")));
        }
    }
    let group_by_text = RelResult::new(
        &format!("{sql} (40-byte text)"),
        &q,
        n,
        (secs, bytes, rounds),
        group_by.plain_seconds,
        out[0].len(),
    );
    Ok(RelReport { join, group_by, join_text, group_by_text })
}

/// Length of the text labels of `join_text` and `group_by_text`.
const LABEL_BYTES: usize = 40;

pub fn format(r: &RelReport) -> String {
    let mut s = String::from(
        "query                                                 rows      mpc s   ring   rounds   MB/party   plain s\n",
    );
    for x in [&r.join, &r.join_text, &r.group_by, &r.group_by_text] {
        s += &format!(
            "{:<52} {:>8} {:>9.2} {:>6} {:>8} {:>10.1} {:>9.3}   ({}, {:.1})\n",
            short(&x.query),
            x.rows,
            x.seconds,
            x.ring,
            x.rounds,
            x.bytes_per_party as f64 / 1e6,
            x.plain_seconds,
            x.estimated_rounds,
            x.estimated_bytes as f64 / 1e6
        );
    }
    s
}

/// The query as the table prints it: at most 52 characters, the text marker kept.
fn short(q: &str) -> String {
    match q.strip_suffix(" (40-byte text)") {
        Some(sql) => format!("{} (text)", sql.chars().take(45).collect::<String>()),
        None => q.chars().take(52).collect(),
    }
}
