//! From SQL text to a typed plan. Every party plans the query text itself from its own stored
//! schemas (it never trusts a plan sent by a client), and the planner is deterministic, so the
//! three parties run the same protocol steps.
//!
//! Binding resolves names (tables, aliases, quoted identifiers, `USING`), types every expression
//! and derives its public value range; a range that would not fit the ring is refused here, naming
//! the expression, before any share is touched.

mod agg;
mod bind;
mod expr;

use agg::agg_name;
use expr::{compare, unify_range};

use crate::ty::{Class, FRAC, MAX_BITS, MAX_DECIMALS, Ty, check, factor, quotient_scales, scale_range};
use crate::{Catalog, QueryError, limits};
use mitsu_api::encode::{MAX_LABEL_BYTES, pack_label, parse_date, parse_decimal};
use serde::Serialize;
use sqlparser::ast::{self, Spanned};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// A typed expression over the columns of its input.
#[derive(Debug, Clone, Serialize)]
pub struct Expr {
    pub op: Op,
    pub ty: Ty,
    pub text: String,
}

impl Expr {
    /// The direct sub-expressions (the one traversal every walk over expressions uses).
    pub fn children(&self) -> Vec<&Expr> {
        match &self.op {
            Op::Col(_) | Op::Lit(_) | Op::Null => vec![],
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Cmp(_, a, b)
            | Op::And(a, b)
            | Op::Or(a, b) => vec![a, b],
            Op::Neg(a) | Op::Not(a) | Op::IsNull(a) | Op::Cast(a) => vec![a],
            Op::Case(w, els) => w.iter().flat_map(|(c, r)| [c, r]).chain([els.as_ref()]).collect(),
            Op::Coalesce(xs) => xs.iter().collect(),
        }
    }

    fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.op {
            Op::Col(_) | Op::Lit(_) | Op::Null => vec![],
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Cmp(_, a, b)
            | Op::And(a, b)
            | Op::Or(a, b) => vec![a, b],
            Op::Neg(a) | Op::Not(a) | Op::IsNull(a) | Op::Cast(a) => vec![a],
            Op::Case(w, els) => w.iter_mut().flat_map(|(c, r)| [c, r]).chain([els.as_mut()]).collect(),
            Op::Coalesce(xs) => xs.iter_mut().collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Serialize)]
pub enum Op {
    Col(usize),
    /// An encoded constant (in the expression's type).
    Lit(i128),
    Null,
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    /// WHEN/THEN pairs and the ELSE value.
    Case(Vec<(Expr, Expr)>, Box<Expr>),
    Coalesce(Vec<Expr>),
    /// Conversion of a number to the expression's type (integer: toward zero, as SQL does).
    Cast(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum AggFn {
    CountStar,
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    VarSamp,
    StddevSamp,
    /// PERCENTILE_CONT(q); MEDIAN is q = 0.5.
    Percentile(f64),
    /// COVAR_SAMP(x, y) over the rows where both are not NULL (`Agg::arg2` is y).
    CovarSamp,
}

impl AggFn {
    /// Needs the rows of each group ordered by its argument.
    pub fn ordered(&self) -> bool {
        matches!(self, AggFn::CountDistinct | AggFn::Min | AggFn::Max | AggFn::Percentile(_))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Agg {
    pub func: AggFn,
    pub arg: Option<Expr>,
    /// The second argument of a two-argument aggregate (COVAR_SAMP).
    pub arg2: Option<Expr>,
    pub ty: Ty,
    pub text: String,
}

/// One key of a sort: an output column, descending?, NULLs first?
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SortKey {
    pub col: usize,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, Serialize)]
pub enum Node {
    Scan {
        table: String,
        cols: Vec<usize>,
    },
    Filter {
        input: Box<Plan>,
        pred: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// `many_to_many`: the query allows keys repeating on both sides (opens the number of pairs).
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        left_outer: bool,
        many_to_many: bool,
        lkeys: Vec<Expr>,
        rkeys: Vec<Expr>,
    },
    Union {
        inputs: Vec<Plan>,
    },
    /// GROUP BY `keys` (none: one group of all rows); output columns: keys, then aggregates.
    /// `ordered` is the one argument of ordered aggregates (MIN, MAX, COUNT DISTINCT, percentiles).
    /// `ranked`: per key, whether it enters the grouping's sort key as its dense rank (one extra
    /// sort of the input by that key first), so that two text keys, each a 96-bit hash, group
    /// together within Z_2^128.
    Aggregate {
        input: Box<Plan>,
        keys: Vec<Expr>,
        aggs: Vec<Agg>,
        ordered: Option<Expr>,
        ranked: Vec<bool>,
    },
    /// ORDER BY … LIMIT k computed under MPC: only the first k rows are opened.
    TopK {
        input: Box<Plan>,
        keys: Vec<SortKey>,
        limit: u64,
    },
}

/// A node with its output types and an upper bound on its row count (rows carry a secret
/// validity bit, so this is the physical length, not the number of valid rows).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub node: Node,
    pub out: Vec<Ty>,
    pub rows: u64,
}

/// A planned query.
#[derive(Debug, Clone, Serialize)]
pub struct Query {
    pub root: Plan,
    pub names: Vec<String>,
    /// ORDER BY without LIMIT: applied by the analyst's client to the opened rows (all of them are
    /// opened anyway, so sorting them under MPC would protect nothing).
    pub order: Vec<SortKey>,
    /// Ring width the plan runs in: 64 or 128.
    pub ring: u32,
}

impl Query {
    /// Whether every result value is an aggregate: each path from the result to a table passes
    /// through a GROUP BY (or a whole-table aggregate). Otherwise the result holds row-level values.
    pub fn aggregated(&self) -> bool {
        self.root.aggregated()
    }
}

impl Plan {
    fn aggregated(&self) -> bool {
        match &self.node {
            Node::Scan { .. } => false,
            Node::Aggregate { .. } => true,
            Node::Filter { input, .. } | Node::Project { input, .. } | Node::TopK { input, .. } => input.aggregated(),
            Node::Join { left, right, .. } => left.aggregated() && right.aggregated(),
            Node::Union { inputs } => inputs.iter().all(Plan::aggregated),
        }
    }
}

/// What a query allows beyond the defaults (part of the wire contract).
pub use mitsu_api::wire::QueryOptions as Options;

/// Parses and plans `sql`.
pub fn plan(sql: &str, cat: &dyn Catalog) -> Result<Query, QueryError> {
    plan_with(sql, cat, Options::default())
}

/// Parses and plans `sql` with `opts`.
pub fn plan_with(sql: &str, cat: &dyn Catalog, opts: Options) -> Result<Query, QueryError> {
    limits::check_text(sql)?;
    let syntax = |e: sqlparser::parser::ParserError| match e {
        sqlparser::parser::ParserError::RecursionLimitExceeded => QueryError::Limit(format!(
            "the query nests parentheses, operators or subqueries more than {} levels deep",
            limits::MAX_NESTING
        )),
        e => QueryError::Syntax(e.to_string()),
    };
    let stmts = Parser::new(&GenericDialect {})
        .with_recursion_limit(limits::MAX_NESTING)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(syntax)?;
    let [stmt] = stmts.as_slice() else {
        return Err(QueryError::Syntax(format!("expected one SELECT statement, found {}", stmts.len())));
    };
    limits::check_tree(stmt)?;
    let ast::Statement::Query(q) = stmt else {
        return Err(QueryError::unsupported("statements other than SELECT", stmt.span()));
    };
    let mut b = Binder { cat, needs_128: false, max_bits: 1, opts };
    let (root, names, order) = b.query(q)?;
    for (t, n) in root.out.iter().zip(&names) {
        if t.class == Class::Key {
            return Err(QueryError::Invalid(format!(
                "column {n:?} is a key: keys only join tables and are never opened; select other columns or aggregate"
            )));
        }
    }
    let ring = if b.needs_128 || b.max_bits > 60 { 128 } else { 64 };
    Ok(Query { root, names, order, ring })
}

impl Query {
    /// Columns the result is sent as: one per output column, a text column's payload chunks.
    pub fn wire_columns(&self) -> usize {
        self.root.out.iter().map(Ty::wire_width).sum()
    }
}

/// Names in scope: one entry per input column.
#[derive(Debug, Clone)]
struct ScopeCol {
    qual: Option<String>,
    name: String,
    ty: Ty,
    /// The right-hand copy of a `USING` column: reachable only qualified.
    hidden: bool,
}

#[derive(Debug, Clone, Default)]
struct Scope {
    cols: Vec<ScopeCol>,
}

impl Scope {
    fn find(&self, qual: Option<&str>, name: &str, span: sqlparser::tokenizer::Span) -> Result<usize, QueryError> {
        let matching = |exact: bool| -> Vec<usize> {
            let same = |a: &str, b: &str| if exact { a == b } else { a.eq_ignore_ascii_case(b) };
            (0..self.cols.len())
                .filter(|&i| {
                    let c = &self.cols[i];
                    same(&c.name, name)
                        && match qual {
                            Some(q) => c.qual.as_deref().is_some_and(|cq| same(cq, q)),
                            None => !c.hidden,
                        }
                })
                .collect()
        };
        // the exact name first; else, as SQL users expect, `age` finds a column named `Age`
        let mut hits = matching(true);
        if hits.is_empty() {
            hits = matching(false);
        }
        match hits.as_slice() {
            [i] => Ok(*i),
            [] => {
                let full = match qual {
                    Some(q) => format!("{q}.{name}"),
                    None => name.to_string(),
                };
                let known: Vec<String> = self
                    .cols
                    .iter()
                    .filter(|c| !c.hidden)
                    .map(|c| match &c.qual {
                        Some(q) => format!("{q}.{}", c.name),
                        None => c.name.clone(),
                    })
                    .collect();
                Err(QueryError::at(format!("unknown column {full:?} (known: {})", known.join(", ")), span))
            }
            _ => Err(QueryError::at(format!("column {name:?} is ambiguous; qualify it with a table alias"), span)),
        }
    }
}

/// Aggregation context: GROUP BY expressions (by their text) and the aggregates found so far.
struct AggCtx {
    keys: Vec<(String, Expr)>,
    aggs: Vec<Agg>,
    input: Scope,
    rows: u64,
}

struct Binder<'a> {
    cat: &'a dyn Catalog,
    opts: Options,
    needs_128: bool,
    max_bits: u32,
}

fn lit(v: i128, ty: Ty, text: String) -> Expr {
    Expr { op: Op::Lit(v), ty, text }
}

fn col(i: usize, ty: Ty, text: String) -> Expr {
    Expr { op: Op::Col(i), ty, text }
}

fn ident_name(id: &ast::Ident) -> String {
    id.value.clone()
}

fn object_name(n: &ast::ObjectName) -> String {
    n.0.iter().filter_map(|p| p.as_ident()).map(|i| i.value.clone()).collect::<Vec<_>>().join(".")
}

fn lg(n: u64) -> u32 {
    64 - n.max(1).leading_zeros()
}

impl Binder<'_> {
    /// A comparison, with the ring sized for the difference of its aligned operands (a literal
    /// compared with a column may need more bits than either side's own expression noted).
    fn cmp(
        &mut self,
        c: Cmp,
        a: Expr,
        b: Expr,
        text: String,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr, QueryError> {
        let x = compare(c, a, b, text, span)?;
        if let Op::Cmp(_, a, b) = &x.op {
            let u = unify(&a.ty, &b.ty, &x.text)?;
            let bits = crate::ty::bits_of(u.lo - u.hi, u.hi - u.lo);
            self.note_bits(bits + 2, &x.text)?;
        }
        Ok(x)
    }

    fn note_bits(&mut self, bits: u32, expr: &str) -> Result<(), QueryError> {
        if bits > 126 {
            return Err(QueryError::range(expr, bits));
        }
        self.max_bits = self.max_bits.max(bits);
        Ok(())
    }
}

/// Bits of one component of a composite sort key: the value shifted to be non-negative, with
/// NULL below every value.
pub fn component_bits(t: &Ty) -> u32 {
    let span = (t.hi - t.lo) as u128 + if t.nullable { 2 } else { 1 };
    (128 - span.leading_zeros()).max(1)
}

fn contains_agg(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Function(f) => {
            agg_name(f).is_some()
                || match &f.args {
                    ast::FunctionArguments::List(l) => l.args.iter().any(|a| match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => contains_agg(x),
                        _ => false,
                    }),
                    _ => false,
                }
        }
        ast::Expr::BinaryOp { left, right, .. } => contains_agg(left) || contains_agg(right),
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr)
        | ast::Expr::Cast { expr, .. } => contains_agg(expr),
        ast::Expr::Between { expr, low, high, .. } => contains_agg(expr) || contains_agg(low) || contains_agg(high),
        ast::Expr::InList { expr, list, .. } => contains_agg(expr) || list.iter().any(contains_agg),
        ast::Expr::Case { operand, conditions, else_result, .. } => {
            operand.as_deref().is_some_and(contains_agg)
                || conditions.iter().any(|c| contains_agg(&c.condition) || contains_agg(&c.result))
                || else_result.as_deref().is_some_and(contains_agg)
        }
        _ => false,
    }
}

fn expr_kind(e: &ast::Expr) -> String {
    let s = format!("{e:?}");
    let head: String = s.chars().take_while(|c| c.is_alphanumeric()).collect();
    match e {
        ast::Expr::Subquery(_) | ast::Expr::Exists { .. } | ast::Expr::InSubquery { .. } => "subqueries".into(),
        ast::Expr::Like { .. } | ast::Expr::ILike { .. } => "LIKE (text is not stored as text)".into(),
        _ => format!("expression {e} ({head})"),
    }
}

/// Splits `a = b AND c = d` into equality pairs.
fn equi_pairs<'e>(e: &'e ast::Expr, out: &mut Vec<(&'e ast::Expr, &'e ast::Expr)>) -> Result<(), QueryError> {
    match e {
        ast::Expr::BinaryOp { left, op: ast::BinaryOperator::And, right } => {
            equi_pairs(left, out)?;
            equi_pairs(right, out)
        }
        ast::Expr::BinaryOp { left, op: ast::BinaryOperator::Eq, right } => {
            out.push((left, right));
            Ok(())
        }
        ast::Expr::Nested(x) => equi_pairs(x, out),
        other => Err(QueryError::unsupported(
            &format!("join condition {other} (only equalities of columns joined by AND)"),
            other.span(),
        )),
    }
}

/// Some(false) when the expression uses only left columns (< nl), Some(true) only right ones.
fn side(e: &Expr, nl: usize) -> Option<bool> {
    let mut cols = Vec::new();
    collect_cols(e, &mut cols);
    if cols.is_empty() {
        return None;
    }
    if cols.iter().all(|&c| c < nl) {
        Some(false)
    } else if cols.iter().all(|&c| c >= nl) {
        Some(true)
    } else {
        None
    }
}

pub(crate) fn collect_cols(e: &Expr, out: &mut Vec<usize>) {
    if let Op::Col(i) = e.op {
        out.push(i);
    }
    e.children().into_iter().for_each(|c| collect_cols(c, out));
}

/// The expression with its column references moved down by `by` (right side of a join).
fn shift_cols(mut e: Expr, by: usize) -> Expr {
    fn go(e: &mut Expr, by: usize) {
        if let Op::Col(i) = &mut e.op {
            *i -= by;
        }
        e.children_mut().into_iter().for_each(|c| go(c, by));
    }
    go(&mut e, by);
    e
}

/// A type both values convert to without loss: numbers at the larger scale, else the same class.
pub(crate) fn unify(a: &Ty, b: &Ty, expr: &str) -> Result<Ty, QueryError> {
    if a.is_num() && b.is_num() && !(a.class == Class::Bool && b.class == Class::Bool) {
        let ((da, fa), (db, fb)) = (a.scale(), b.scale());
        let (d, f) = (da.max(db), fa.max(fb));
        let (al, ah) = scale_range(a.lo, a.hi, factor(d - da, f - fa, expr)?, expr)?;
        let (bl, bh) = scale_range(b.lo, b.hi, factor(d - db, f - fb, expr)?, expr)?;
        return Ok(Ty {
            class: Class::Num { d, f },
            lo: al.min(bl),
            hi: ah.max(bh),
            nullable: a.nullable || b.nullable,
        });
    }
    if let (Class::Cat { w: wa }, Class::Cat { w: wb }) = (a.class, b.class) {
        let w = wa.max(wb);
        let up = |t: &Ty, from: u32| -> Result<(i128, i128), QueryError> {
            scale_range(t.lo, t.hi, 1i128 << (8 * (w - from)), expr)
        };
        let ((al, ah), (bl, bh)) = (up(a, wa)?, up(b, wb)?);
        return Ok(Ty { class: Class::Cat { w }, lo: al.min(bl), hi: ah.max(bh), nullable: a.nullable || b.nullable });
    }
    if let (Class::Text { w: wa }, Class::Text { w: wb }) = (a.class, b.class) {
        // hashes do not depend on the width; the wider payload holds both
        return Ok(Ty { class: Class::Text { w: wa.max(wb) }, ..unify_range(a, b) });
    }
    if a.class == b.class {
        return Ok(unify_range(a, b));
    }
    Err(QueryError::Invalid(format!("{expr}: cannot combine a {} with a {}", a.class.name(), b.class.name())))
}
