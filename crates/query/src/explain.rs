//! What a plan does, what it costs (estimated from public sizes and bounds) and what each step
//! reveals besides the result.

use crate::plan::{AggFn, Expr, Node, Op, Plan, Query, component_bits};
use mitsu_mpc_core::Reveal;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub depth: usize,
    pub op: String,
    /// Physical rows (valid or not) the step produces.
    pub rows: u64,
    pub rounds: u64,
    /// Bytes each party sends.
    pub bytes: u64,
    pub reveals: String,
    /// What the engine opens in this step, always (checked against the engine's record).
    #[serde(skip)]
    pub opens: Vec<Reveal>,
    /// What it may open, depending on the data or sizes (a sort of more than one row, the pair
    /// count of a many-to-many join).
    #[serde(skip)]
    pub may_open: Vec<Reveal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    pub ring: u32,
    pub steps: Vec<Step>,
    pub rounds: u64,
    pub bytes: u64,
    pub leakage: Vec<String>,
}

fn lg(n: u64) -> u64 {
    (64 - n.max(1).leading_zeros()) as u64
}

/// Cost of a comparison (MSB or zero test) of `bits`-bit values on n elements.
fn cmp_cost(n: u64, bits: u64, ring: u64) -> (u64, u64) {
    // calibrated against measured runs (`mitsu bench --relational` prints both)
    (lg(bits) + 3, n * (bits * lg(bits) / 24 + ring / 8))
}

/// Cost of sorting n rows with a `bits`-bit key and `cols` payload columns.
fn sort_cost(n: u64, bits: u64, cols: u64, ring: u64) -> (u64, u64) {
    let (cr, cb) = cmp_cost(1, bits + lg(n), ring);
    let comparisons = n * lg(n) * 139 / 100;
    (3 + 2 * lg(n) * cr, n * (cols + 2) * ring / 8 + comparisons * cb / 2)
}

/// Cost of a segmented scan over n rows with k columns.
fn scan_cost(n: u64, k: u64, ring: u64) -> (u64, u64) {
    (3 * lg(n), lg(n) * n * ((k + 1) * ring / 8 + 1))
}

/// Checks an engine's record of what a query opened against what its EXPLAIN promises: every
/// opening is one some step lists, and every step's certain openings happened.
pub fn check_openings(x: &Explain, opened: &[mitsu_mpc_core::Opened]) -> Result<(), String> {
    let always: Vec<Reveal> = x.steps.iter().flat_map(|s| s.opens.iter().copied()).collect();
    let may: Vec<Reveal> = x.steps.iter().flat_map(|s| s.may_open.iter().copied()).collect();
    if let Some(o) = opened.iter().find(|o| !always.contains(&o.what) && !may.contains(&o.what)) {
        return Err(format!("the engine opened {} ({} elements), which EXPLAIN does not list", o.what, o.elements));
    }
    if let Some(w) = always.iter().find(|w| !opened.iter().any(|o| o.what == **w)) {
        return Err(format!("EXPLAIN lists {w}, which the engine never opened"));
    }
    Ok(())
}

pub fn explain(q: &Query) -> Explain {
    let mut steps = Vec::new();
    let ring = q.ring as u64;
    walk(&q.root, 0, ring, &mut steps);
    let out_rows = q.root.rows;
    let compact = !matches!(q.root.node, Node::TopK { .. });
    if compact {
        let cols = q.wire_columns() as u64;
        steps.push(Step {
            depth: 0,
            op: "open result: shuffle, open validity, keep result rows".into(),
            rows: out_rows,
            rounds: 4,
            bytes: out_rows * (2 * cols + 1) * ring / 8 * 3,
            reveals: "the number of result rows".into(),
            opens: vec![],
            // only where some rows may be invalid (a filter, a join)
            may_open: vec![Reveal::RowCount],
        });
    }
    steps.push(Step {
        depth: 0,
        op: format!("send result shares to the analyst ({} columns)", q.wire_columns()),
        rows: out_rows,
        rounds: 1,
        bytes: out_rows * q.wire_columns() as u64 * 2 * ring / 8,
        reveals: "the result values, to the analyst only".into(),
        opens: vec![],
        may_open: vec![],
    });
    let leakage: Vec<String> = steps
        .iter()
        .filter(|s| !s.reveals.is_empty() && s.reveals != "nothing")
        .map(|s| format!("{}: {}", s.op, s.reveals))
        .collect();
    Explain {
        ring: q.ring,
        rounds: steps.iter().map(|s| s.rounds).sum(),
        bytes: steps.iter().map(|s| s.bytes).sum(),
        steps,
        leakage,
    }
}

/// Rounds (critical path) and bytes of evaluating `e` on n rows.
fn expr_cost(e: &Expr, n: u64, ring: u64) -> (u64, u64) {
    let mul = (1, n * ring / 8);
    let kids = e.children();
    let (mut r, mut b) = (0, 0);
    for k in kids {
        let (kr, kb) = expr_cost(k, n, ring);
        r = r.max(kr);
        b += kb;
    }
    let own = match &e.op {
        Op::Mul(..) | Op::And(..) | Op::Or(..) => mul,
        Op::Add(..) | Op::Sub(..) if e.ty.nullable => mul,
        Op::Cmp(_, a, c) => {
            let (cr, cb) = cmp_cost(n, a.ty.bits().max(c.ty.bits()) as u64 + 2, ring);
            (cr + 1, cb + n * ring / 8)
        }
        // zero test, reciprocal (normalisation and Newton steps), product
        Op::Div(..) => (40, n * (ring / 8) * 60),
        Op::Cast(a) if a.ty.scale() != e.ty.scale() => (12, n * ring / 8 * 8),
        Op::Case(w, _) => (w.len() as u64, w.len() as u64 * 2 * n * ring / 8),
        Op::Coalesce(xs) => (xs.len() as u64, xs.len() as u64 * 2 * n * ring / 8),
        _ => (0, 0),
    };
    (r + own.0, b + own.1)
}

fn walk(p: &Plan, depth: usize, ring: u64, out: &mut Vec<Step>) {
    let n = p.rows;
    let cols = p.out.len() as u64;
    // what the step opens: always, and depending on the data
    let (mut opens, mut may_open) = (Vec::new(), Vec::new());
    let (op, (rounds, bytes), reveals): (String, (u64, u64), String) = match &p.node {
        Node::Scan { table, .. } => {
            (format!("scan {table:?}"), (0, 0), "the table's row count (public metadata)".into())
        }
        Node::Filter { input, pred } => {
            walk(input, depth + 1, ring, out);
            let (r, b) = expr_cost(pred, n, ring);
            (format!("filter {}", pred.text), (r + 1, b + n * ring / 8), "nothing".into())
        }
        Node::Project { input, exprs } => {
            walk(input, depth + 1, ring, out);
            let texts: Vec<&str> = exprs.iter().map(|e| e.text.as_str()).collect();
            let cost = exprs.iter().map(|e| expr_cost(e, n, ring)).fold((0, 0), |a, c| (a.0.max(c.0), a.1 + c.1));
            (format!("project {}", texts.join(", ")), cost, "nothing".into())
        }
        Node::Union { inputs } => {
            for i in inputs {
                walk(i, depth + 1, ring, out);
            }
            (format!("union all of {} inputs", inputs.len()), (0, 0), "nothing".into())
        }
        Node::Join { left, right, left_outer, many_to_many, lkeys, rkeys } => {
            walk(left, depth + 1, ring, out);
            walk(right, depth + 1, ring, out);
            let kb: u64 = lkeys.iter().map(|k| component_bits(&k.ty) as u64).sum::<u64>() + 2;
            // payload: the columns of both sides; one counting scan over 2n rows, one copy scan of
            // the unique side's columns
            let (sr, sb) = sort_cost(n, kb, cols + 3, ring);
            let (cr1, cb1) = scan_cost(2 * n, 1, ring);
            let (cr2, cb2) = scan_cost(n, cols.div_ceil(2), ring);
            let (cr, cbytes) = ((cr1 + cr2) / 2, (cb1 + cb2) / 2);
            let keys: Vec<String> = lkeys.iter().zip(rkeys).map(|(a, b)| format!("{} = {}", a.text, b.text)).collect();
            // a side without rows matches nothing: nothing is computed, nothing opened
            if left.rows > 0 && right.rows > 0 {
                opens.push(Reveal::JoinKeysUnique);
                may_open.push(Reveal::SortComparisons);
            }
            if *many_to_many {
                may_open.push(Reveal::JoinPairs);
            }
            (
                format!("{} join on {} (sort-based)", if *left_outer { "left" } else { "inner" }, keys.join(" and ")),
                (sr + 2 * cr + 10, sb + 2 * cbytes),
                if *many_to_many {
                    "whether each side's join keys are unique (two bits); if neither is (many-to-many, allowed by the \
                     query), the number of matching pairs"
                        .into()
                } else {
                    "whether each side's join keys are unique (two bits); the output keeps all input rows with a secret \
                     validity bit"
                        .into()
                },
            )
        }
        Node::Aggregate { input, keys, aggs, ordered, ranked } => {
            walk(input, depth + 1, ring, out);
            let texts: Vec<&str> = aggs.iter().map(|a| a.text.as_str()).collect();
            let m = input.rows;
            let divs = aggs
                .iter()
                .filter(|a| matches!(a.func, AggFn::Avg | AggFn::VarSamp | AggFn::StddevSamp | AggFn::CovarSamp))
                .count() as u64;
            if keys.is_empty() && ordered.is_none() {
                (
                    format!("aggregate {}", texts.join(", ")),
                    (2 + divs * 30, aggs.len() as u64 * m * ring / 8 + divs * 2000),
                    "nothing".into(),
                )
            } else {
                let kb: u64 = keys.iter().map(|k| component_bits(&k.ty) as u64).sum::<u64>()
                    + ordered.as_ref().map(|o| component_bits(&o.ty) as u64).unwrap_or(0)
                    + 1;
                // per-row products shared by aggregates of one argument (count, sum, squares)
                let mut prods: Vec<(u8, &str)> = Vec::new();
                for a in aggs {
                    let t = a.arg.as_ref().map(|x| x.text.as_str()).unwrap_or("");
                    let kinds: &[u8] = match a.func {
                        AggFn::CountStar => &[],
                        AggFn::Sum | AggFn::Avg => &[0, 1],
                        AggFn::VarSamp | AggFn::StddevSamp => &[0, 1, 2],
                        AggFn::CovarSamp => &[10, 11, 12, 13],
                        _ => &[0],
                    };
                    for k in kinds {
                        if !prods.contains(&(*k, t)) {
                            prods.push((*k, t));
                        }
                    }
                }
                let np = prods.len() as u64;
                let (mut sr, mut sb) = sort_cost(m, kb, 2 * keys.len() as u64 + np + 2, ring);
                // each ranked key: one more sort of the input by it, carrying every column
                for (k, _) in keys.iter().zip(ranked).filter(|(_, r)| **r) {
                    let (r2, b2) = sort_cost(m, component_bits(&k.ty) as u64 + 1, input.out.len() as u64 * 2 + 4, ring);
                    sr += r2 + 2;
                    sb += b2;
                }
                let (cr, cbytes) = scan_cost(m, np + 1, ring);
                let gtext: Vec<String> = keys
                    .iter()
                    .zip(ranked)
                    .map(|(k, r)| if *r { format!("{} (ranked by a sort of its own)", k.text) } else { k.text.clone() })
                    .collect();
                opens.push(Reveal::GroupCount);
                may_open.push(Reveal::SortComparisons);
                let reveals = if keys.is_empty() {
                    "whether any row qualifies".to_string()
                } else {
                    "the number of groups".to_string()
                };
                (
                    format!(
                        "group by {} computing {}",
                        if gtext.is_empty() { "()".into() } else { gtext.join(", ") },
                        texts.join(", ")
                    ),
                    // divisions run per group: at most n of them, about 400 bytes each
                    (sr + cr + 8 + divs * 30, sb + cbytes + divs * n * 400),
                    reveals,
                )
            }
        }
        Node::TopK { input, keys, limit } => {
            walk(input, depth + 1, ring, out);
            let kb: u64 = keys.iter().map(|k| component_bits(&input.out[k.col]) as u64).sum::<u64>() + 1;
            let (sr, sb) = sort_cost(input.rows, kb, 2 * cols + 1, ring);
            opens.push(Reveal::LimitRows);
            may_open.push(Reveal::SortComparisons);
            (
                format!("order by and keep the first {limit} rows"),
                (sr + 1, sb),
                format!("min({limit}, number of rows before the limit)"),
            )
        }
    };
    out.push(Step { depth, op, rows: n, rounds, bytes, reveals, opens, may_open });
}
