//! Differential testing of SQL against SQLite: seeded random tables (every column kind, NULLs,
//! keys repeating up to 50 times, magnitudes near every ring and range limit) and seeded random
//! queries over the whole supported SQL subset, run on the plaintext twin (and a sample on the
//! three-party protocol) and on SQLite. SQLite decides the relational part (joins, filters,
//! grouping, NULL logic, ordering); arithmetic and aggregates there are exact functions written
//! here from the semantics docs/sql.md states (exact integers and decimals, `/` truncated toward
//! zero at 32 fraction bits, exact AVG and VAR_SAMP), independently of mitsu's code. Every
//! answer must be equal (STDDEV_SAMP within its stated bound) or a refusal by the planner.
//!
//!     cargo test -p mitsu-client --test diff_sql -- --nocapture          # CI: a few hundred
//!     MITSU_DIFF_QUERIES=10000 MITSU_DIFF_PROTOCOL=1000 MITSU_DIFF_SEED=7 \
//!         cargo test --release -p mitsu-client --test diff_sql -- --nocapture
//!
//! A difference prints the seed, the query, both answers, and a shrunk case (fewer rows).

use mitsu_algebra::Ring;
use mitsu_api::{ColumnSchema, Kind, Schema};
use mitsu_client::local::Tables;
use mitsu_client::table::{Column, Table, pack_label};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::Engine;
use mitsu_mpc_ref::RefEngine;
use mitsu_mpc_rep3::Rep3;
use mitsu_query::ty::{Class, Ty};
use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::ValueRef;
use std::collections::BTreeMap;

const FRAC: u32 = 32;

// ---- randomness ------------------------------------------------------------------------------

struct Rng(Prg);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(Prg::new(Seed::from_u64(seed)))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n.max(1))
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.below(1_000_000) as f64) < p * 1e6
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn range(&mut self, lo: i128, hi: i128) -> i128 {
        let span = (hi - lo + 1) as u128;
        let r = (self.0.next_u64() as u128) | ((self.0.next_u64() as u128) << 64);
        lo + (r % span) as i128
    }
}

// ---- tables ----------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum CKind {
    Int,
    Dec(u32),
    Cat,
    Date,
}

#[derive(Clone, Debug)]
struct GCol {
    name: String,
    kind: CKind,
    /// declared bound |v| < 2^bits (labels: 8 per byte of width)
    bits: u32,
    nullable: bool,
    /// encoded values (labels packed), None = NULL; labels also as text
    values: Vec<Option<i128>>,
    labels: Vec<Option<String>>,
}

#[derive(Clone, Debug)]
struct GTable {
    name: String,
    cols: Vec<GCol>,
    rows: usize,
}

const LABELS: &[&str] = &["a", "b", "aa", "ab", "b1", "z", "Z", "M", "F", "東京", "é", "x y", "abc", "ab0"];

fn magnitude(r: &mut Rng) -> u32 {
    *r.pick(&[4, 7, 12, 20, 30, 31, 39, 40, 41, 50, 59])
}

fn gen_col(r: &mut Rng, name: &str, rows: usize, kind: CKind, key_pool: Option<i128>) -> GCol {
    let nullable = key_pool.is_none() && r.chance(0.4);
    let null_p = if nullable { *r.pick(&[0.05, 0.3, 0.9]) } else { 0.0 };
    let mag = magnitude(r);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    // a small pool of distinct values makes ties and groups; sometimes every value differs
    let pool: Vec<i128> =
        (0..*r.pick(&[1u64, 2, 3, 5, 40])).map(|_| r.range(-(1i128 << mag) + 1, (1i128 << mag) - 1)).collect();
    for _ in 0..rows {
        if r.chance(null_p) {
            values.push(None);
            labels.push(None);
            continue;
        }
        match &kind {
            CKind::Cat => {
                let l = r.pick(LABELS).to_string();
                labels.push(Some(l));
                values.push(Some(0));
            }
            CKind::Date => {
                values.push(Some(r.range(10_000, 20_000)));
                labels.push(None);
            }
            _ => {
                let v = match key_pool {
                    Some(p) => r.range(1, p),
                    None if r.chance(0.5) => *r.pick(&pool),
                    None => r.range(-(1i128 << mag) + 1, (1i128 << mag) - 1),
                };
                values.push(Some(v));
                labels.push(None);
            }
        }
    }
    let data_bits = values.iter().flatten().map(|v| 128 - v.unsigned_abs().leading_zeros()).max().unwrap_or(1).max(1);
    let bits = match kind {
        CKind::Cat => {
            let w = labels.iter().flatten().map(|l| l.len()).max().unwrap_or(1).max(1);
            // the declared width may exceed the longest label
            let w = (w + r.below(3) as usize).min(15);
            for (v, l) in values.iter_mut().zip(&labels) {
                if let Some(l) = l {
                    *v = Some(pack_label(l, w).unwrap());
                }
            }
            8 * w as u32
        }
        CKind::Date => 15,
        // declared bounds: tight, or anywhere up to 60 bits above the data
        _ => (data_bits + *r.pick(&[0, 0, 1, 10, 30])).min(60).max(data_bits),
    };
    GCol { name: name.into(), kind, bits, nullable, values, labels }
}

fn gen_table(r: &mut Rng, name: &str, key_pool: i128, unique_key: bool) -> GTable {
    let rows = *r.pick(&[0usize, 1, 2, 5, 12, 25, 40]);
    let mut cols = vec![gen_col(r, "k", rows, CKind::Int, Some(key_pool))];
    if unique_key {
        let mut ks: Vec<i128> = (1..=rows as i128).collect();
        for i in (1..ks.len()).rev() {
            ks.swap(i, r.below(i as u64 + 1) as usize);
        }
        cols[0].values = ks.into_iter().map(Some).collect();
        cols[0].bits = cols[0].bits.max(7);
    }
    let kinds = [CKind::Int, CKind::Int, CKind::Dec(2), CKind::Dec(*r.pick(&[1, 3])), CKind::Cat, CKind::Date];
    for (i, name) in ["a", "b", "c", "d", "g", "t"].iter().enumerate() {
        cols.push(gen_col(r, name, rows, kinds[i].clone(), None));
    }
    GTable { name: name.into(), cols, rows }
}

/// The columns of `SELECT k, a, c, d, g, t FROM l UNION ALL SELECT ... FROM r` as the generator
/// sees them (values are not needed).
fn union_of(l: &GTable, r: &GTable) -> GTable {
    let cols = l
        .cols
        .iter()
        .zip(&r.cols)
        .map(|(a, b)| GCol {
            name: a.name.clone(),
            kind: match (&a.kind, &b.kind) {
                (CKind::Dec(x), CKind::Dec(y)) => CKind::Dec(*x.max(y)),
                (k, _) => k.clone(),
            },
            bits: a.bits.max(b.bits),
            nullable: a.nullable || b.nullable,
            values: Vec::new(),
            labels: Vec::new(),
        })
        .collect();
    GTable { name: "u".into(), cols, rows: l.rows + r.rows }
}

fn to_table(t: &GTable) -> Table {
    let schema = Schema::new(
        t.cols
            .iter()
            .map(|c| ColumnSchema {
                name: c.name.clone(),
                kind: match c.kind {
                    CKind::Int => Kind::Integer,
                    CKind::Dec(s) => Kind::Decimal { scale: s },
                    CKind::Cat => Kind::Category,
                    CKind::Date => Kind::Date,
                },
                nullable: c.nullable,
                bits: c.bits,
            })
            .collect(),
    );
    let columns = t
        .cols
        .iter()
        .map(|c| Column {
            values: c.values.iter().map(|v| v.unwrap_or(0)).collect(),
            valid: c.nullable.then(|| c.values.iter().map(|v| v.is_some()).collect()),
            payload: Vec::new(),
        })
        .collect();
    Table { schema, rows: t.rows, columns, notes: Vec::new() }
}

// ---- expressions -----------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum T {
    Num { d: u32, f: u32 },
    Bool,
    Cat,
    Date,
}

#[derive(Clone, Debug)]
enum X {
    Col {
        tab: String,
        col: String,
        t: T,
    },
    Lit(i128, u32),
    Label(String),
    Null,
    Add(Box<X>, Box<X>),
    Sub(Box<X>, Box<X>),
    Mul(Box<X>, Box<X>),
    Div(Box<X>, Box<X>),
    Neg(Box<X>),
    Cmp(&'static str, Box<X>, Box<X>),
    And(Box<X>, Box<X>),
    Or(Box<X>, Box<X>),
    Not(Box<X>),
    IsNull(Box<X>),
    Case(Box<X>, Box<X>, Box<X>),
    Coalesce(Box<X>, Box<X>),
    CastInt(Box<X>),
    CastReal(Box<X>),
    In(Box<X>, Vec<X>),
    Between(Box<X>, Box<X>, Box<X>),
    /// an aggregate (only at the top of a SELECT item or inside HAVING)
    Agg(&'static str, Option<Box<X>>),
}

fn ty(x: &X) -> T {
    let num = |t: T| match t {
        T::Num { d, f } => (d, f),
        _ => (0, 0),
    };
    match x {
        X::Col { t, .. } => *t,
        X::Lit(_, d) => T::Num { d: *d, f: 0 },
        X::Label(_) => T::Cat,
        X::Null => T::Num { d: 0, f: 0 },
        X::Add(a, b) | X::Sub(a, b) => {
            if ty(a) == T::Date {
                return if ty(b) == T::Date { T::Num { d: 0, f: 0 } } else { T::Date };
            }
            let ((da, fa), (db, fb)) = (num(ty(a)), num(ty(b)));
            T::Num { d: da.max(db), f: fa.max(fb) }
        }
        X::Mul(a, b) => {
            let ((da, fa), (db, fb)) = (num(ty(a)), num(ty(b)));
            T::Num { d: da + db, f: (fa + fb).min(FRAC) }
        }
        X::Div(a, b) => T::Num { d: num(ty(a)).0.saturating_sub(num(ty(b)).0), f: FRAC },
        X::Neg(a) => ty(a),
        X::Cmp(..) | X::And(..) | X::Or(..) | X::Not(_) | X::IsNull(_) | X::In(..) | X::Between(..) => T::Bool,
        X::Case(_, a, b) | X::Coalesce(a, b) => unify(ty(a), ty(b)),
        X::CastInt(_) => T::Num { d: 0, f: 0 },
        X::CastReal(a) => {
            let (d, f) = num(ty(a));
            T::Num { d, f: f.max(1) }
        }
        X::Agg(f, a) => match (*f, a) {
            ("COUNT", _) | ("COUNT_DISTINCT", _) => T::Num { d: 0, f: 0 },
            ("SUM", Some(a)) => match ty(a) {
                T::Bool => T::Num { d: 0, f: 0 },
                t => t,
            },
            ("MIN" | "MAX", Some(a)) => ty(a),
            ("AVG" | "MEDIAN" | "P25", Some(a)) => {
                let (d, f) = num(ty(a));
                T::Num { d, f: f.max(FRAC) }
            }
            ("VAR_SAMP", Some(a)) => T::Num { d: 2 * num(ty(a)).0, f: FRAC },
            ("STDDEV_SAMP", Some(a)) => T::Num { d: num(ty(a)).0, f: FRAC },
            _ => T::Num { d: 0, f: 0 },
        },
    }
}

fn unify(a: T, b: T) -> T {
    match (a, b) {
        (T::Num { d: da, f: fa }, T::Num { d: db, f: fb }) => T::Num { d: da.max(db), f: fa.max(fb) },
        (T::Bool, T::Num { .. }) => b,
        (T::Num { .. }, T::Bool) => a,
        _ => a,
    }
}

fn is_num(t: T) -> bool {
    matches!(t, T::Num { .. })
}

/// mitsu's SQL text.
fn sql(x: &X) -> String {
    let b = |a: &X, o: &str, c: &X| format!("({} {o} {})", sql(a), sql(c));
    match x {
        X::Col { tab, col, .. } => format!("{tab}.{col}"),
        X::Lit(m, d) => dec_text(*m, *d),
        X::Label(s) => format!("'{s}'"),
        X::Null => "NULL".into(),
        X::Add(a, c) => b(a, "+", c),
        X::Sub(a, c) => b(a, "-", c),
        X::Mul(a, c) => b(a, "*", c),
        X::Div(a, c) => b(a, "/", c),
        X::Neg(a) => format!("(- {})", sql(a)),
        X::Cmp(o, a, c) => b(a, o, c),
        X::And(a, c) => b(a, "AND", c),
        X::Or(a, c) => b(a, "OR", c),
        X::Not(a) => format!("(NOT {})", sql(a)),
        X::IsNull(a) => format!("({} IS NULL)", sql(a)),
        X::Case(c, a, e) => format!("(CASE WHEN {} THEN {} ELSE {} END)", sql(c), sql(a), sql(e)),
        X::Coalesce(a, c) => format!("COALESCE({}, {})", sql(a), sql(c)),
        X::CastInt(a) => format!("CAST({} AS INTEGER)", sql(a)),
        X::CastReal(a) => format!("CAST({} AS REAL)", sql(a)),
        X::In(a, l) => format!("({} IN ({}))", sql(a), l.iter().map(sql).collect::<Vec<_>>().join(", ")),
        X::Between(a, l, h) => format!("({} BETWEEN {} AND {})", sql(a), sql(l), sql(h)),
        X::Agg(f, a) => match (*f, a) {
            ("COUNT", None) => "COUNT(*)".into(),
            ("COUNT_DISTINCT", Some(a)) => format!("COUNT(DISTINCT {})", sql(a)),
            ("P25", Some(a)) => format!("PERCENTILE_CONT({}, 0.25)", sql(a)),
            (f, Some(a)) => format!("{f}({})", sql(a)),
            (f, None) => format!("{f}()"),
        },
    }
}

fn dec_text(m: i128, d: u32) -> String {
    if d == 0 {
        return m.to_string();
    }
    let s = format!("{:0>w$}", m.unsigned_abs(), w = d as usize + 1);
    let (i, f) = s.split_at(s.len() - d as usize);
    format!("{}{i}.{f}", if m < 0 { "-" } else { "" })
}

/// The reference's SQL: every number is its exact encoded integer (value 10^d 2^f) as TEXT, and
/// every operation on numbers an exact function (`x*` below).
fn rsql(x: &X) -> String {
    let at = |x: &X, to: T| -> String {
        match (ty(x), to) {
            (T::Num { d, f }, T::Num { d: d2, f: f2 }) if (d, f) != (d2, f2) => {
                format!("xs({}, {}, {})", rsql(x), d2 - d, f2 - f)
            }
            (T::Bool, T::Num { d: d2, f: f2 }) => format!("xs(xn({}), {d2}, {f2})", rsql(x)),
            _ => rsql(x),
        }
    };
    match x {
        X::Col { tab, col, .. } => format!("{tab}.\"{col}\""),
        X::Lit(m, _) => format!("'{m}'"),
        X::Label(s) => format!("'{s}'"),
        X::Null => "NULL".into(),
        X::Add(a, b) | X::Sub(a, b) => {
            let o = if matches!(x, X::Add(..)) { "xadd" } else { "xsub" };
            if ty(a) == T::Date || ty(b) == T::Date {
                return format!("{o}({}, {})", rsql(a), rsql(b));
            }
            let t = ty(x);
            format!("{o}({}, {})", at(a, t), at(b, t))
        }
        X::Mul(a, b) => {
            let (fa, fb) = (frac(ty(a)), frac(ty(b)));
            let p = format!("xmul({}, {})", at(a, num_of(ty(a))), at(b, num_of(ty(b))));
            if fa + fb > FRAC { format!("xfloor({p}, {})", fa + fb - FRAC) } else { p }
        }
        X::Div(a, b) => {
            let ((da, fa), (db, fb)) = (scale(ty(a)), scale(ty(b)));
            let ten = db.saturating_sub(da);
            let up = (fb + FRAC).saturating_sub(fa);
            let down = fa.saturating_sub(fb + FRAC);
            format!("xdiv(xs({}, {ten}, {up}), xs({}, 0, {down}))", at(a, num_of(ty(a))), at(b, num_of(ty(b))))
        }
        X::Neg(a) => format!("xneg({})", at(a, num_of(ty(a)))),
        X::Cmp(o, a, b) => {
            let (ta, tb) = (ty(a), ty(b));
            if ta == T::Cat {
                return format!("({} {o} {})", rsql(a), rsql(b));
            }
            let u = unify(num_or(ta), num_or(tb));
            let o = if *o == "<>" { "!=" } else { o };
            format!("(xcmp({}, {}) {o} 0)", at(a, u), at(b, u))
        }
        X::And(a, b) => format!("({} AND {})", rsql(a), rsql(b)),
        X::Or(a, b) => format!("({} OR {})", rsql(a), rsql(b)),
        X::Not(a) => format!("(NOT {})", rsql(a)),
        X::IsNull(a) => format!("({} IS NULL)", rsql(a)),
        X::Case(c, a, e) => {
            let t = ty(x);
            format!("(CASE WHEN {} THEN {} ELSE {} END)", rsql(c), at(a, t), at(e, t))
        }
        X::Coalesce(a, b) => {
            let t = ty(x);
            format!("COALESCE({}, {})", at(a, t), at(b, t))
        }
        X::CastInt(a) => {
            let (d, f) = scale(ty(a));
            format!("xtrunc({}, {d}, {f})", at(a, num_of(ty(a))))
        }
        X::CastReal(a) => at(a, ty(x)),
        X::In(a, l) => {
            let parts: Vec<String> =
                l.iter().map(|v| rsql(&X::Cmp("=", Box::new(a.as_ref().clone()), Box::new(v.clone())))).collect();
            format!("({})", parts.join(" OR "))
        }
        X::Between(a, l, h) => {
            let ge = X::Cmp(">=", a.clone(), l.clone());
            let le = X::Cmp("<=", a.clone(), h.clone());
            format!("({} AND {})", rsql(&ge), rsql(&le))
        }
        X::Agg(f, a) => {
            let arg = || rsql(a.as_ref().expect("argument"));
            let argt = || a.as_ref().map(|a| ty(a)).unwrap_or(T::Num { d: 0, f: 0 });
            match *f {
                "COUNT" if a.is_none() => "COUNT(*)".into(),
                "COUNT" => format!("COUNT({})", arg()),
                "COUNT_DISTINCT" => format!("COUNT(DISTINCT {})", arg()),
                "SUM" => format!("xsum({})", at(a.as_ref().unwrap(), num_of(argt()))),
                "MIN" | "MAX" if argt() == T::Cat => format!("{f}({})", arg()),
                "MIN" => format!("xmin({})", arg()),
                "MAX" => format!("xmax({})", arg()),
                "AVG" => format!("xavg({}, {})", at(a.as_ref().unwrap(), num_of(argt())), frac(argt())),
                "VAR_SAMP" => format!("xvar({})", arg()),
                "STDDEV_SAMP" => format!("xstd({})", arg()),
                "MEDIAN" => format!("xpct({}, 2147483648)", arg()),
                "P25" => format!("xpct({}, 1073741824)", arg()),
                _ => unreachable!(),
            }
        }
    }
}

fn scale(t: T) -> (u32, u32) {
    match t {
        T::Num { d, f } => (d, f),
        _ => (0, 0),
    }
}

fn frac(t: T) -> u32 {
    scale(t).1
}

fn num_of(t: T) -> T {
    match t {
        T::Bool => T::Num { d: 0, f: 0 },
        t => t,
    }
}

fn num_or(t: T) -> T {
    if t == T::Bool { T::Num { d: 0, f: 0 } } else { t }
}

// ---- the query generator ----------------------------------------------------------------------

struct Scope<'a> {
    tabs: Vec<(&'a str, &'a GTable)>,
}

impl Scope<'_> {
    fn col(&self, r: &mut Rng, want: Option<&CKind>) -> Option<X> {
        let mut all = Vec::new();
        for (alias, t) in &self.tabs {
            for c in t.cols.iter().skip(1) {
                if want.is_none_or(|w| *w == c.kind) {
                    all.push((*alias, c));
                }
            }
        }
        if all.is_empty() {
            return None;
        }
        let (alias, c) = *r.pick(&all);
        let t = match c.kind {
            CKind::Int => T::Num { d: 0, f: 0 },
            CKind::Dec(s) => T::Num { d: s, f: 0 },
            CKind::Cat => T::Cat,
            CKind::Date => T::Date,
        };
        Some(X::Col { tab: alias.into(), col: c.name.clone(), t })
    }
}

fn lit(r: &mut Rng) -> X {
    let mag = *r.pick(&[2, 5, 10, 31, 40, 60]);
    let mut m = r.range(-(1i128 << mag), 1i128 << mag);
    let mut d = if r.chance(0.3) { *r.pick(&[1, 2]) } else { 0 };
    // a literal's scale is its digits after the point without trailing zeros (1.50 is 1.5)
    while d > 0 && m % 10 == 0 {
        m /= 10;
        d -= 1;
    }
    X::Lit(m, d)
}

/// A numeric expression of depth at most `depth`.
fn num_expr(r: &mut Rng, s: &Scope, depth: u32) -> X {
    if depth == 0 || r.chance(0.35) {
        return match r.below(10) {
            0 | 1 => lit(r),
            2 if r.chance(0.2) => X::Null,
            _ => {
                let k = r.pick(&[CKind::Int, CKind::Int, CKind::Dec(2), CKind::Dec(1), CKind::Dec(3)]).clone();
                s.col(r, Some(&k))
            }
            .or_else(|| s.col(r, Some(&CKind::Int)))
            .unwrap_or_else(|| lit(r)),
        };
    }
    if r.chance(0.05)
        && let (Some(d1), Some(d2)) = (s.col(r, Some(&CKind::Date)), s.col(r, Some(&CKind::Date)))
    {
        // days between two dates, or a date moved by whole days and back
        return if r.chance(0.5) {
            X::Sub(Box::new(d1), Box::new(d2))
        } else {
            X::Sub(Box::new(X::Add(Box::new(d1), Box::new(X::Lit(r.range(-400, 400), 0)))), Box::new(d2))
        };
    }
    let a = Box::new(num_expr(r, s, depth - 1));
    let b = Box::new(num_expr(r, s, depth - 1));
    match r.below(12) {
        0 | 1 => X::Add(a, b),
        2 | 3 => X::Sub(a, b),
        4 | 5 => X::Mul(a, b),
        6 | 7 => X::Div(a, b),
        8 => X::Neg(a),
        9 => X::Case(Box::new(cond(r, s, depth - 1)), a, b),
        10 => X::Coalesce(a, b),
        _ => {
            if r.chance(0.5) {
                X::CastInt(a)
            } else {
                X::CastReal(a)
            }
        }
    }
}

fn cond(r: &mut Rng, s: &Scope, depth: u32) -> X {
    let ops = ["<", "<=", ">", ">=", "=", "<>"];
    match r.below(10) {
        0 if depth > 0 => X::And(Box::new(cond(r, s, depth - 1)), Box::new(cond(r, s, depth - 1))),
        1 if depth > 0 => X::Or(Box::new(cond(r, s, depth - 1)), Box::new(cond(r, s, depth - 1))),
        2 if depth > 0 => X::Not(Box::new(cond(r, s, depth - 1))),
        3 => X::IsNull(Box::new(num_expr(r, s, 1))),
        4 => {
            let a = num_expr(r, s, depth.min(1));
            let l = (0..1 + r.below(4)).map(|_| if r.chance(0.15) { X::Null } else { lit(r) }).collect();
            X::In(Box::new(a), l)
        }
        5 => X::Between(Box::new(num_expr(r, s, depth.min(1))), Box::new(lit(r)), Box::new(lit(r))),
        6 => match s.col(r, Some(&CKind::Cat)) {
            Some(c) => X::Cmp(
                ops[r.below(ops.len() as u64) as usize],
                Box::new(c),
                Box::new(X::Label(r.pick(LABELS).to_string())),
            ),
            None => X::Cmp("<", Box::new(num_expr(r, s, 1)), Box::new(lit(r))),
        },
        7 => match (s.col(r, Some(&CKind::Date)), s.col(r, Some(&CKind::Date))) {
            (Some(a), Some(b)) => X::Cmp(ops[r.below(ops.len() as u64) as usize], Box::new(a), Box::new(b)),
            _ => X::Cmp(">", Box::new(num_expr(r, s, 1)), Box::new(lit(r))),
        },
        _ => X::Cmp(
            ops[r.below(ops.len() as u64) as usize],
            Box::new(num_expr(r, s, depth.min(2))),
            Box::new(num_expr(r, s, depth.min(1))),
        ),
    }
}

#[derive(Clone, Debug)]
struct Query {
    mitsu: String,
    reference: String,
    types: Vec<T>,
    /// output columns that are STDDEV_SAMP (compared within their bound, not exactly)
    stddev: Vec<bool>,
    ordered: bool,
    allow_many: bool,
}

fn gen_query(r: &mut Rng, tables: &[GTable]) -> Query {
    let (l, rt) = (&tables[0], &tables[1]);
    let join = r.below(4);
    let union_table;
    let mut scope = Scope { tabs: vec![("l", l)] };
    let (mfrom, rfrom) = match join {
        0..=2 => {
            let from = match join {
                0 => "\"l\" AS l".to_string(),
                j => {
                    scope.tabs.push(("r", rt));
                    let kind = if j == 1 { "JOIN" } else { "LEFT JOIN" };
                    format!("\"l\" AS l {kind} \"r\" AS r ON l.k = r.k")
                }
            };
            // the same FROM for both: SQLite joins on the keys' exact text
            (from.clone(), from)
        }
        _ => {
            // UNION ALL of the two tables' rows: columns meet at the wider scale and width
            union_table = union_of(l, rt);
            scope = Scope { tabs: vec![("u", &union_table)] };
            let names: Vec<&str> = union_table.cols.iter().map(|c| c.name.as_str()).collect();
            let arm_m = |t: &str| {
                let cols: Vec<String> = names.iter().map(|n| format!("{t}.{n} AS {n}")).collect();
                format!("SELECT {} FROM \"{t}\" AS {t}", cols.join(", "))
            };
            let arm_r = |t: &GTable, alias: &str| {
                let cols: Vec<String> = union_table
                    .cols
                    .iter()
                    .map(|u| {
                        let c = t.cols.iter().find(|c| c.name == u.name).expect("column");
                        let x = format!("{alias}.\"{}\"", c.name);
                        match (&c.kind, &u.kind) {
                            (CKind::Dec(a), CKind::Dec(b)) if a != b => {
                                format!("xs({x}, {}, 0) AS \"{}\"", b - a, u.name)
                            }
                            _ => format!("{x} AS \"{}\"", u.name),
                        }
                    })
                    .collect();
                format!("SELECT {} FROM \"{}\" AS {alias}", cols.join(", "), t.name)
            };
            (
                format!("({} UNION ALL {}) AS u", arm_m("l"), arm_m("r")),
                format!("({} UNION ALL {}) AS u", arm_r(l, "l"), arm_r(rt, "r")),
            )
        }
    };
    let wh = r.chance(0.5).then(|| cond(r, &scope, 2));
    let (w_m, w_r) = match &wh {
        Some(c) => (format!(" WHERE {}", sql(c)), format!(" WHERE {}", rsql(c))),
        None => (String::new(), String::new()),
    };
    let shape = r.below(10);
    let mut items: Vec<X> = Vec::new();
    let mut group: Vec<X> = Vec::new();
    let mut having: Option<X> = None;
    if shape < 4 {
        // rows
        for _ in 0..1 + r.below(3) {
            items.push(match r.below(6) {
                0 => scope.col(r, Some(&CKind::Cat)).unwrap_or_else(|| num_expr(r, &scope, 1)),
                1 => scope.col(r, Some(&CKind::Date)).unwrap_or_else(|| num_expr(r, &scope, 1)),
                2 => cond(r, &scope, 1),
                _ => num_expr(r, &scope, 3),
            });
        }
    } else {
        // aggregates, grouped or not
        if shape >= 6 {
            let k = match r.below(3) {
                0 => scope.col(r, Some(&CKind::Cat)),
                1 => scope.col(r, Some(&CKind::Int)),
                _ => scope.col(r, None),
            };
            if let Some(k) = k {
                group.push(k.clone());
                items.push(k);
            }
        }
        let ordered_arg = num_expr(r, &scope, 0);
        let mut used_ordered = false;
        for _ in 0..1 + r.below(3) {
            let f = *r.pick(&[
                "COUNT",
                "COUNT",
                "SUM",
                "SUM",
                "AVG",
                "MIN",
                "MAX",
                "VAR_SAMP",
                "STDDEV_SAMP",
                "MEDIAN",
                "P25",
                "COUNT_DISTINCT",
            ]);
            let a = match f {
                "COUNT" if r.chance(0.5) => None,
                "MEDIAN" | "P25" | "COUNT_DISTINCT" => {
                    if used_ordered {
                        Some(num_expr(r, &scope, 1))
                    } else {
                        used_ordered = true;
                        Some(ordered_arg.clone())
                    }
                }
                "MIN" | "MAX" if r.chance(0.3) => {
                    scope.col(r, Some(&CKind::Cat)).or_else(|| Some(num_expr(r, &scope, 1)))
                }
                "VAR_SAMP" | "STDDEV_SAMP" => Some(num_expr(r, &scope, 0)),
                _ => Some(num_expr(r, &scope, 2)),
            };
            let f = if matches!(f, "MEDIAN" | "P25" | "COUNT_DISTINCT")
                && !matches!(a, Some(ref x) if sql(x) == sql(&ordered_arg))
            {
                "SUM"
            } else {
                f
            };
            items.push(X::Agg(f, a.map(Box::new)));
        }
        if !group.is_empty() && r.chance(0.4) {
            // HAVING on a numeric aggregate of the list, sometimes by its alias
            let i = group.len() + r.below((items.len() - group.len()) as u64) as usize;
            if is_num(ty(&items[i])) && !matches!(items[i], X::Agg("STDDEV_SAMP", _)) {
                let hops = [">", "<=", "<>"];
                having = Some(X::Cmp(hops[r.below(3) as usize], Box::new(items[i].clone()), Box::new(lit(r))));
            }
        }
    }
    let names: Vec<String> = (0..items.len()).map(|i| format!("c{i}")).collect();
    let msel: Vec<String> = items.iter().zip(&names).map(|(x, n)| format!("{} AS {n}", sql(x))).collect();
    let rsel: Vec<String> = items.iter().zip(&names).map(|(x, n)| format!("{} AS {n}", rsql(x))).collect();
    let (g_m, g_r) = if group.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(" GROUP BY {}", group.iter().map(sql).collect::<Vec<_>>().join(", ")),
            format!(" GROUP BY {}", group.iter().map(rsql).collect::<Vec<_>>().join(", ")),
        )
    };
    let (h_m, h_r) = match &having {
        Some(h @ X::Cmp(o, a, b)) => {
            let by_alias = r.chance(0.5);
            let m = if by_alias {
                let i = items.iter().position(|x| sql(x) == sql(a)).unwrap();
                format!(" HAVING c{i} {o} {}", sql(b))
            } else {
                format!(" HAVING {}", sql(h))
            };
            (m, format!(" HAVING {}", rsql(h)))
        }
        _ => (String::new(), String::new()),
    };
    let types: Vec<T> = items.iter().map(ty).collect();
    // rows are ordered by every output column (ties would make LIMIT ambiguous); STDDEV_SAMP is
    // approximate, so a query that returns it is not ordered
    let ordered = r.chance(0.25) && !items.iter().any(|x| matches!(x, X::Agg("STDDEV_SAMP", _)));
    let (o_m, o_r) = if ordered {
        let k = 1 + r.below(5);
        let desc = r.chance(0.5);
        let keys_m: Vec<String> =
            (1..=items.len()).map(|i| format!("{i}{}", if desc && i == 1 { " DESC" } else { "" })).collect();
        let keys_r: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let c = format!("c{i}");
                let key = if is_num(*t) { format!("xkey({c})") } else { c };
                // SQLite puts NULLs first ascending and last descending, as mitsu does
                format!("{key}{}", if desc && i == 0 { " DESC" } else { "" })
            })
            .collect();
        (format!(" ORDER BY {} LIMIT {k}", keys_m.join(", ")), format!(" ORDER BY {} LIMIT {k}", keys_r.join(", ")))
    } else {
        (String::new(), String::new())
    };
    let stddev = items.iter().map(|x| matches!(x, X::Agg("STDDEV_SAMP", _))).collect();
    Query {
        mitsu: format!("SELECT {} FROM {mfrom}{w_m}{g_m}{h_m}{o_m}", msel.join(", ")),
        reference: format!("SELECT {} FROM {rfrom}{w_r}{g_r}{h_r}{o_r}", rsel.join(", ")),
        types,
        stddev,
        ordered,
        allow_many: true,
    }
}

// ---- the reference: SQLite with exact functions ------------------------------------------------

fn arg(ctx: &Context<'_>, i: usize) -> rusqlite::Result<Option<i128>> {
    Ok(match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Integer(v) => Some(v as i128),
        ValueRef::Text(t) => Some(
            std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.parse::<i128>().ok())
                .ok_or_else(|| rusqlite::Error::UserFunctionError("not an exact number".into()))?,
        ),
        ValueRef::Real(x) => Some(x as i128),
        ValueRef::Blob(_) => return Err(rusqlite::Error::UserFunctionError("blob".into())),
    })
}

/// n sum(x^2) - (sum x)^2 with n, exactly (None below two values).
fn spread(xs: &[i128]) -> rusqlite::Result<Option<(i128, i128)>> {
    let n = xs.len() as i128;
    if n < 2 {
        return Ok(None);
    }
    let s1: i128 = xs.iter().sum();
    let s2 = xs.iter().try_fold(0i128, |a, &x| x.checked_mul(x).and_then(|q| a.checked_add(q))).ok_or_else(over)?;
    let d = n.checked_mul(s2).and_then(|a| s1.checked_mul(s1).and_then(|b| a.checked_sub(b))).ok_or_else(over)?;
    Ok(Some((n, d)))
}

fn over() -> rusqlite::Error {
    rusqlite::Error::UserFunctionError("overflow in the reference".into())
}

fn text(v: Option<i128>) -> Option<String> {
    v.map(|v| v.to_string())
}

fn pow(base: i128, k: i128) -> rusqlite::Result<i128> {
    (0..k).try_fold(1i128, |acc, _| acc.checked_mul(base)).ok_or_else(over)
}

fn trunc_div(a: i128, b: i128) -> i128 {
    a / b // Rust's integer division truncates toward zero, as mitsu's `/` does
}

fn floor_div(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

#[derive(Default)]
struct Acc {
    xs: Vec<i128>,
}

struct Agg<F: Fn(&[i128], &[i128]) -> rusqlite::Result<Option<String>>>(F);

impl<F> Aggregate<(Acc, Vec<i128>), Option<String>> for Agg<F>
where
    F: Fn(&[i128], &[i128]) -> rusqlite::Result<Option<String>> + Send + 'static,
{
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<(Acc, Vec<i128>)> {
        Ok((Acc::default(), Vec::new()))
    }
    fn step(&self, ctx: &mut Context<'_>, acc: &mut (Acc, Vec<i128>)) -> rusqlite::Result<()> {
        if let Some(v) = arg(ctx, 0)? {
            acc.0.xs.push(v);
        }
        acc.1 = (1..ctx.len()).map(|i| arg(ctx, i).map(|v| v.unwrap_or(0))).collect::<rusqlite::Result<_>>()?;
        Ok(())
    }
    fn finalize(&self, _: &mut Context<'_>, acc: Option<(Acc, Vec<i128>)>) -> rusqlite::Result<Option<String>> {
        match acc {
            None => (self.0)(&[], &[]),
            Some((a, p)) => (self.0)(&a.xs, &p),
        }
    }
}

fn reference_db(tables: &[GTable]) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    let fl = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    let bin = |db: &rusqlite::Connection, name: &str, f: fn(i128, i128) -> rusqlite::Result<Option<i128>>| {
        db.create_scalar_function(name, 2, fl, move |ctx| match (arg(ctx, 0)?, arg(ctx, 1)?) {
            (Some(a), Some(b)) => f(a, b).map(text),
            _ => Ok(None),
        })
        .unwrap();
    };
    bin(&db, "xadd", |a, b| a.checked_add(b).map(Some).ok_or_else(over));
    bin(&db, "xsub", |a, b| a.checked_sub(b).map(Some).ok_or_else(over));
    bin(&db, "xmul", |a, b| a.checked_mul(b).map(Some).ok_or_else(over));
    bin(&db, "xdiv", |a, b| Ok((b != 0).then(|| trunc_div(a, b))));
    bin(&db, "xfloor", |a, s| Ok(Some(floor_div(a, 1i128 << s))));
    db.create_scalar_function("xcmp", 2, fl, |ctx| match (arg(ctx, 0)?, arg(ctx, 1)?) {
        (Some(a), Some(b)) => Ok(Some(a.cmp(&b) as i64)),
        _ => Ok(None),
    })
    .unwrap();
    db.create_scalar_function("xneg", 1, fl, |ctx| Ok(text(arg(ctx, 0)?.map(|v| -v)))).unwrap();
    db.create_scalar_function("xn", 1, fl, |ctx| Ok(text(arg(ctx, 0)?))).unwrap();
    db.create_scalar_function("xs", 3, fl, |ctx| {
        let (v, k10, k2) = (arg(ctx, 0)?, arg(ctx, 1)?.unwrap_or(0), arg(ctx, 2)?.unwrap_or(0));
        match v {
            None => Ok(None),
            Some(v) => {
                let f = pow(10, k10)?.checked_mul(pow(2, k2)?).ok_or_else(over)?;
                v.checked_mul(f).map(|x| Some(x.to_string())).ok_or_else(over)
            }
        }
    })
    .unwrap();
    db.create_scalar_function("xtrunc", 3, fl, |ctx| {
        let (v, d, f) = (arg(ctx, 0)?, arg(ctx, 1)?.unwrap_or(0), arg(ctx, 2)?.unwrap_or(0));
        let c = pow(10, d)?.checked_mul(pow(2, f)?).ok_or_else(over)?;
        Ok(text(v.map(|v| trunc_div(v, c))))
    })
    .unwrap();
    // a TEXT key whose byte order is the numbers' order
    db.create_scalar_function("xkey", 1, fl, |ctx| {
        Ok(arg(ctx, 0)?.map(|v| format!("{:040}", (v as u128) ^ (1u128 << 127))))
    })
    .unwrap();
    let agg =
        |db: &rusqlite::Connection, name: &str, n: i32, f: fn(&[i128], &[i128]) -> rusqlite::Result<Option<String>>| {
            db.create_aggregate_function(name, n, fl, Agg(f)).unwrap();
        };
    agg(&db, "xsum", 1, |xs, _| {
        if xs.is_empty() {
            return Ok(None);
        }
        xs.iter().try_fold(0i128, |a, &x| a.checked_add(x)).map(|s| Some(s.to_string())).ok_or_else(over)
    });
    agg(&db, "xmin", 1, |xs, _| Ok(xs.iter().min().map(|v| v.to_string())));
    agg(&db, "xmax", 1, |xs, _| Ok(xs.iter().max().map(|v| v.to_string())));
    agg(&db, "xavg", 2, |xs, p| {
        if xs.is_empty() {
            return Ok(None);
        }
        let f = p.first().copied().unwrap_or(0) as u32;
        let s: i128 = xs.iter().try_fold(0i128, |a, &x| a.checked_add(x)).ok_or_else(over)?;
        let up = FRAC.saturating_sub(f);
        let s = s.checked_mul(1i128 << up).ok_or_else(over)?;
        Ok(Some(trunc_div(s, xs.len() as i128).to_string()))
    });
    agg(&db, "xvar", 1, |xs, _| {
        let Some((n, d)) = spread(xs)? else { return Ok(None) };
        let d = d.checked_mul(1i128 << FRAC).ok_or_else(over)?;
        Ok(Some(trunc_div(d, n * (n - 1)).to_string()))
    });
    agg(&db, "xstd", 1, |xs, _| {
        let Some((n, d)) = spread(xs)? else { return Ok(None) };
        // sd 10^d 2^32 = sqrt(var_enc 2^32): a float, compared within its bound
        let var = d as f64 / (n * (n - 1)) as f64;
        Ok(Some(format!("~{}", var.max(0.0).sqrt() * 2f64.powi(FRAC as i32))))
    });
    agg(&db, "xpct", 2, |xs, p| {
        if xs.is_empty() {
            return Ok(None);
        }
        let mut v = xs.to_vec();
        v.sort();
        let qq = p.first().copied().unwrap_or(0);
        let h = (v.len() as i128 - 1) * qq;
        let lo = (h >> FRAC) as usize;
        let d = h - ((lo as i128) << FRAC);
        let hi = (lo + 1).min(v.len() - 1);
        Ok(Some((v[lo] * (1i128 << FRAC) + d * (v[hi] - v[lo])).to_string()))
    });
    for t in tables {
        let cols: Vec<String> = t.cols.iter().map(|c| format!("\"{}\"", c.name)).collect();
        db.execute_batch(&format!("CREATE TABLE \"{}\" ({})", t.name, cols.join(", "))).unwrap();
        for i in 0..t.rows {
            let vals: Vec<rusqlite::types::Value> = t
                .cols
                .iter()
                .map(|c| match (&c.values[i], &c.labels[i]) {
                    (None, _) => rusqlite::types::Value::Null,
                    (_, Some(l)) => rusqlite::types::Value::Text(l.clone()),
                    (Some(v), None) => rusqlite::types::Value::Text(v.to_string()),
                })
                .collect();
            let marks = vec!["?"; vals.len()].join(", ");
            db.execute(&format!("INSERT INTO \"{}\" VALUES ({marks})", t.name), rusqlite::params_from_iter(vals))
                .unwrap();
        }
    }
    db
}

/// One cell as both sides print it: exact numbers as a reduced fraction n/(10^d 2^f) in a
/// canonical text, labels as text, approximate numbers (`~x`) as floats.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Cell {
    Null,
    Exact(i128, u32, u32),
    Approx(f64),
    Text(String),
}

fn canon(c: &Cell) -> String {
    match c {
        Cell::Null => "NULL".into(),
        Cell::Exact(v, d, f) => {
            // v / (10^d 2^f) = v / (2^(d+f) 5^d), reduced: one text per number whatever the scale
            let (mut v, mut twos, mut fives) = (*v, d + f, *d);
            while twos > 0 && v % 2 == 0 {
                v /= 2;
                twos -= 1;
            }
            while fives > 0 && v % 5 == 0 {
                v /= 5;
                fives -= 1;
            }
            match (twos, fives) {
                (0, 0) => v.to_string(),
                _ => format!("{v}/2^{twos}5^{fives}"),
            }
        }
        Cell::Approx(x) => format!("~{x:.6e}"),
        Cell::Text(s) => s.clone(),
    }
}

fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        // STDDEV_SAMP = sqrt(VAR_SAMP), with VAR_SAMP exact to 2^-32: a variance off by one unit
        // of 2^-32 moves the root by up to 2^31 / root units, plus sqrt's own 2^-34 relative
        (Cell::Approx(x), Cell::Approx(y)) => {
            (x - y).abs() <= 4.0 + y.abs() * 2f64.powi(-34) + 2f64.powi(31) / (y.abs() + 1.0)
        }
        _ => canon(a) == canon(b),
    }
}

fn reference(db: &rusqlite::Connection, q: &Query) -> Result<Vec<Vec<Cell>>, String> {
    let mut st = db.prepare(&q.reference).map_err(|e| format!("{e}\n{}", q.reference))?;
    let n = st.column_count();
    let rows = st
        .query_map([], |row| {
            (0..n)
                .map(|i| {
                    let t = q.types[i];
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Text(s) => {
                            let s = String::from_utf8_lossy(s).to_string();
                            match t {
                                T::Cat => Cell::Text(s),
                                _ if s.starts_with('~') => Cell::Approx(s[1..].parse().unwrap()),
                                T::Num { d, f } => Cell::Exact(s.parse().unwrap(), d, f),
                                T::Date => Cell::Exact(s.parse().unwrap(), 0, 0),
                                T::Bool => Cell::Exact(s.parse().unwrap(), 0, 0),
                            }
                        }
                        ValueRef::Integer(v) => Cell::Exact(v as i128, 0, 0),
                        other => Cell::Text(format!("{other:?}")),
                    })
                })
                .collect::<rusqlite::Result<Vec<Cell>>>()
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| e.to_string())
}

// ---- mitsu -----------------------------------------------------------------------------------

fn cells<R: Ring>(q: &mitsu_query::Query, values: &[Vec<R>], nn: &[Vec<R>], stddev: &[bool]) -> Vec<Vec<Cell>> {
    let n = values.first().map(Vec::len).unwrap_or(0);
    let rows: Vec<Vec<Cell>> = (0..n)
        .map(|i| {
            q.root
                .out
                .iter()
                .enumerate()
                .map(|(c, t): (usize, &Ty)| {
                    if nn[c][i] != R::ONE {
                        return Cell::Null;
                    }
                    let v = values[c][i].to_i128();
                    match t.class {
                        Class::Cat { w } => Cell::Text(mitsu_api::encode::unpack_label(v, w as usize)),
                        _ if stddev[c] => Cell::Approx(v as f64),
                        Class::Num { d, f } => Cell::Exact(v, d, f),
                        _ => Cell::Exact(v, 0, 0),
                    }
                })
                .collect()
        })
        .collect();
    // ORDER BY ... LIMIT comes ordered from the top-k under MPC (the generator writes no
    // ORDER BY without LIMIT)
    rows
}

fn run_on<E: Engine, R: Ring>(
    e: &mut E,
    q: &mitsu_query::Query,
    t: &Tables,
    sd: &[bool],
) -> Result<Vec<Vec<Cell>>, String> {
    let mut src = t;
    let out = mitsu_query::execute::<E, R, _>(e, q, &mut src).map_err(|e| e.to_string())?;
    // what the engine opened is what EXPLAIN promised, on every random query
    mitsu_query::explain::check_openings(&mitsu_query::explain::explain(q), e.opened())
        .map_err(|w| format!("leakage differs from EXPLAIN: {w}"))?;
    let mut open_all = |cols: &[E::A<R>]| -> Result<Vec<Vec<R>>, String> {
        cols.iter().map(|c| e.open(c, mitsu_mpc_core::Reveal::Check).map_err(|e| e.to_string())).collect()
    };
    let values = open_all(&out.values)?;
    let nn = open_all(&out.not_null)?;
    Ok(cells(q, &values, &nn, sd))
}

fn twin(q: &mitsu_query::Query, t: &Tables, sd: &[bool]) -> Result<Vec<Vec<Cell>>, String> {
    let mut e = RefEngine::new(Seed::from_u64(11));
    if q.ring == 64 { run_on::<_, u64>(&mut e, q, t, sd) } else { run_on::<_, u128>(&mut e, q, t, sd) }
}

fn protocol(q: &mitsu_query::Query, t: &Tables, sd: &[bool]) -> Result<Vec<Vec<Cell>>, String> {
    let [a, _, _] = mitsu_mpc_runtime::run3(|ch| {
        let mut p = Rep3::setup(ch).map_err(|e| e.to_string())?;
        if q.ring == 64 { run_on::<_, u64>(&mut p, q, t, sd) } else { run_on::<_, u128>(&mut p, q, t, sd) }
    });
    a
}

// ---- the loop --------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Outcome {
    Equal,
    Refused(String),
    Different(String),
}

fn compare(mut got: Vec<Vec<Cell>>, mut want: Vec<Vec<Cell>>, ordered: bool) -> Result<(), String> {
    if !ordered {
        let key = |r: &Vec<Cell>| r.iter().map(canon).collect::<Vec<_>>().join("|");
        got.sort_by_key(key);
        want.sort_by_key(key);
    }
    let show = |rs: &[Vec<Cell>]| {
        rs.iter().map(|r| r.iter().map(canon).collect::<Vec<_>>().join(" | ")).collect::<Vec<_>>().join("\n    ")
    };
    let ok = got.len() == want.len()
        && got.iter().zip(&want).all(|(a, b)| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)));
    if ok { Ok(()) } else { Err(format!("mitsu:\n    {}\nreference:\n    {}", show(&got), show(&want))) }
}

fn check(tables: &[GTable], q: &Query, on_protocol: bool) -> Outcome {
    let mut ts = Tables::default();
    for t in tables {
        ts.0.insert(t.name.clone(), to_table(t));
    }
    let opts = mitsu_query::Options { allow_many_to_many: q.allow_many };
    let plan = match mitsu_query::plan_with(&q.mitsu, &ts, opts) {
        Ok(p) => p,
        Err(e @ (mitsu_query::QueryError::Range(_) | mitsu_query::QueryError::Limit(_))) => {
            return Outcome::Refused(e.to_string());
        }
        // documented limits of decimal arithmetic
        Err(mitsu_query::QueryError::Invalid(m)) if m.contains("decimal places") => return Outcome::Refused(m),
        // the generator writes only what mitsu supports: any other refusal is a finding
        Err(e) => return Outcome::Different(format!("planner error: {e}")),
    };
    let sd = &q.stddev;
    let db = reference_db(tables);
    let want = match reference(&db, q) {
        Ok(w) => w,
        Err(e) if e.contains("overflow in the reference") => return Outcome::Refused(e),
        Err(e) => return Outcome::Different(format!("reference error: {e}")),
    };
    let got = match twin(&plan, &ts, sd) {
        Ok(g) => g,
        Err(e) => return Outcome::Different(format!("twin error: {e}")),
    };
    if let Err(d) = compare(got, want.clone(), q.ordered) {
        return Outcome::Different(format!("twin differs:\n{d}"));
    }
    if on_protocol {
        let got = match protocol(&plan, &ts, sd) {
            Ok(g) => g,
            Err(e) => return Outcome::Different(format!("protocol error: {e}")),
        };
        if let Err(d) = compare(got, want, q.ordered) {
            return Outcome::Different(format!("protocol differs:\n{d}"));
        }
    }
    Outcome::Equal
}

/// Smaller tables that still show a difference: rows removed half at a time, then one at a time.
fn shrink(tables: &[GTable], q: &Query) -> Vec<GTable> {
    let mut best = tables.to_vec();
    let differs = |ts: &[GTable]| matches!(check(ts, q, false), Outcome::Different(_));
    for ti in 0..best.len() {
        let mut step = best[ti].rows.div_ceil(2);
        while step >= 1 {
            let mut start = 0;
            while start < best[ti].rows {
                let mut cand = best.clone();
                let t = &mut cand[ti];
                let end = (start + step).min(t.rows);
                for c in &mut t.cols {
                    c.values.drain(start..end);
                    c.labels.drain(start..end);
                }
                t.rows -= end - start;
                if differs(&cand) {
                    best = cand;
                } else {
                    start += step;
                }
            }
            step /= 2;
        }
    }
    best
}

fn show_tables(ts: &[GTable]) -> String {
    let mut s = String::new();
    for t in ts {
        s.push_str(&format!("  table {} ({} rows):\n", t.name, t.rows));
        for c in &t.cols {
            let vals: Vec<String> = (0..t.rows)
                .map(|i| match (&c.values[i], &c.labels[i]) {
                    (None, _) => "NULL".into(),
                    (_, Some(l)) => format!("{l:?}"),
                    (Some(v), None) => match c.kind {
                        CKind::Dec(s) => dec_text(*v, s),
                        _ => v.to_string(),
                    },
                })
                .collect();
            s.push_str(&format!(
                "    {} {:?} bits {} nullable {}: {}\n",
                c.name,
                c.kind,
                c.bits,
                c.nullable,
                vals.join(", ")
            ));
        }
    }
    s
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn random_queries_agree_with_sqlite() {
    let seed = env("MITSU_DIFF_SEED", 20261201);
    let n = env("MITSU_DIFF_QUERIES", 300);
    let every = (n / env("MITSU_DIFF_PROTOCOL", 20).max(1)).max(1);
    eprintln!("SQL differential test: seed {seed}, {n} queries (every {every}th also on the protocol)");
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    let only = std::env::var("MITSU_DIFF_ONLY").ok().and_then(|v| v.parse::<u64>().ok());
    for i in 0..n {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let mut r = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(i));
        let pool = *r.pick(&[3i128, 10, 40]);
        let unique = r.chance(0.5);
        let tables = vec![gen_table(&mut r, "l", pool, false), gen_table(&mut r, "r", pool, unique)];
        let q = gen_query(&mut r, &tables);
        let on_protocol = i % every == 0;
        match check(&tables, &q, on_protocol) {
            Outcome::Equal => {
                *counts.entry("equal").or_default() += 1;
                if on_protocol {
                    *counts.entry("equal on the protocol too").or_default() += 1;
                }
            }
            Outcome::Refused(why) => {
                *counts.entry("refused").or_default() += 1;
                if std::env::var_os("MITSU_DIFF_SHOW_REFUSALS").is_some() {
                    eprintln!("refused: {why}\n  {}", q.mitsu);
                }
            }
            Outcome::Different(why) => {
                *counts.entry("different").or_default() += 1;
                if failures.len() < 5 {
                    let small = shrink(&tables, &q);
                    failures.push(format!(
                        "seed {seed}, query {i}:\n  {}\n  reference: {}\n{why}\nshrunk:\n{}",
                        q.mitsu,
                        q.reference,
                        show_tables(&small)
                    ));
                }
            }
        }
    }
    eprintln!("SQL differential test: {counts:?}");
    assert!(failures.is_empty(), "{} different:\n\n{}", counts.get("different").unwrap_or(&0), failures.join("\n\n"));
    assert!(only.is_some() || counts.get("equal").copied().unwrap_or(0) >= n / 2, "too many refusals: {counts:?}");
}
