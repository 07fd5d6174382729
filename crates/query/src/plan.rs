//! From SQL text to a typed plan. Every party plans the query text itself from its own stored
//! schemas (it never trusts a plan sent by a client), and the planner is deterministic, so the
//! three parties run the same protocol steps.
//!
//! Binding resolves names (tables, aliases, quoted identifiers, `USING`), types every expression
//! and derives its public value range; a range that would not fit the ring is refused here, naming
//! the expression, before any share is touched.

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
    Aggregate {
        input: Box<Plan>,
        keys: Vec<Expr>,
        aggs: Vec<Agg>,
        ordered: Option<Expr>,
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
        let hits: Vec<usize> = (0..self.cols.len())
            .filter(|&i| {
                let c = &self.cols[i];
                c.name == name
                    && match qual {
                        Some(q) => c.qual.as_deref() == Some(q),
                        None => !c.hidden,
                    }
            })
            .collect();
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

    fn query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<String>, Vec<SortKey>), QueryError> {
        if let Some(w) = &q.with {
            return Err(QueryError::unsupported("WITH", w.span()));
        }
        if q.fetch.is_some() || !q.locks.is_empty() {
            return Err(QueryError::unsupported("FETCH / FOR UPDATE", q.span()));
        }
        let (mut p, names) = self.set_expr(&q.body)?;
        let mut keys = Vec::new();
        if let Some(ob) = &q.order_by {
            let ast::OrderByKind::Expressions(list) = &ob.kind else {
                return Err(QueryError::unsupported("ORDER BY ALL", ob.span()));
            };
            for o in list {
                let c = self.output_ref(&o.expr, &names)?;
                let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
                // SQLite and PostgreSQL disagree; we follow SQLite: NULLs are smallest
                let nulls_first = o.options.nulls_first.unwrap_or(!desc);
                keys.push(SortKey { col: c, desc, nulls_first });
            }
        }
        let mut limit = None;
        if let Some(lc) = &q.limit_clause {
            match lc {
                ast::LimitClause::LimitOffset { limit: Some(l), offset: None, limit_by } if limit_by.is_empty() => {
                    let v = match l {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::Number(s, _) => s.parse::<u64>().ok(),
                            _ => None,
                        },
                        _ => None,
                    };
                    limit = Some(v.ok_or_else(|| QueryError::at("LIMIT takes a whole number".into(), l.span()))?);
                }
                ast::LimitClause::LimitOffset { limit: None, offset: None, .. } => {}
                other => return Err(QueryError::unsupported("OFFSET", other.span())),
            }
        }
        if let Some(k) = limit {
            let rows = p.rows.min(k);
            let out = p.out.clone();
            let kb = self.sort_key_bits(&out, &keys);
            if kb + lg(p.rows) + 2 > 126 {
                // the secure top-k compares one key made of all ORDER BY items side by side
                return Err(QueryError::Range(format!(
                    "ORDER BY … LIMIT sorts under MPC on one key made of its {} item(s), which may need {} bits, \
                     more than mitsu compares safely (126 bits); order by fewer or narrower columns, or drop \
                     LIMIT (then every row is opened to you and sorted on your machine)",
                    keys.len(),
                    kb + lg(p.rows) + 2
                )));
            }
            self.note_bits(kb + lg(p.rows) + 2, "ORDER BY")?;
            p = Plan { node: Node::TopK { input: Box::new(p), keys: keys.clone(), limit: k }, out, rows };
        }
        Ok((p, names, keys))
    }

    fn sort_key_bits(&self, out: &[Ty], keys: &[SortKey]) -> u32 {
        keys.iter().map(|k| component_bits(&out[k.col])).sum::<u32>() + 1
    }

    /// An ORDER BY item: an output column's name or alias, or its 1-based position.
    fn output_ref(&self, e: &ast::Expr, names: &[String]) -> Result<usize, QueryError> {
        match e {
            ast::Expr::Value(v) => {
                if let ast::Value::Number(s, _) = &v.value
                    && let Ok(i) = s.parse::<usize>()
                    && (1..=names.len()).contains(&i)
                {
                    return Ok(i - 1);
                }
                Err(QueryError::at(format!("ORDER BY position must be 1..{}", names.len()), e.span()))
            }
            ast::Expr::Identifier(id) => names
                .iter()
                .position(|n| *n == id.value)
                .ok_or_else(|| QueryError::at(format!("ORDER BY {:?}: not an output column", id.value), e.span())),
            ast::Expr::CompoundIdentifier(ids) => {
                let last = ids.last().map(|i| i.value.clone()).unwrap_or_default();
                names
                    .iter()
                    .position(|n| *n == last)
                    .ok_or_else(|| QueryError::at(format!("ORDER BY {e}: not an output column"), e.span()))
            }
            _ => {
                let t = e.to_string();
                names.iter().position(|n| *n == t).ok_or_else(|| {
                    QueryError::at(
                        format!("ORDER BY {t}: order by an output column (give the expression an alias)"),
                        e.span(),
                    )
                })
            }
        }
    }

    fn set_expr(&mut self, s: &ast::SetExpr) -> Result<(Plan, Vec<String>), QueryError> {
        match s {
            ast::SetExpr::Select(sel) => self.select(sel),
            ast::SetExpr::Query(q) => {
                let (p, n, order) = self.query(q)?;
                if !order.is_empty() && !matches!(p.node, Node::TopK { .. }) {
                    return Err(QueryError::unsupported("ORDER BY without LIMIT inside a subquery", q.span()));
                }
                Ok((p, n))
            }
            ast::SetExpr::SetOperation { left, op, set_quantifier, right } => {
                if *op != ast::SetOperator::Union || *set_quantifier != ast::SetQuantifier::All {
                    return Err(QueryError::unsupported(
                        &format!("{op} {set_quantifier} (only UNION ALL)").replace("  ", " "),
                        s.span(),
                    ));
                }
                let (l, ln) = self.set_expr(left)?;
                let (r, _) = self.set_expr(right)?;
                if l.out.len() != r.out.len() {
                    return Err(QueryError::at(
                        format!("UNION ALL of {} and {} columns", l.out.len(), r.out.len()),
                        s.span(),
                    ));
                }
                let mut out = Vec::new();
                for (i, (a, b)) in l.out.iter().zip(&r.out).enumerate() {
                    out.push(unify(a, b, &format!("UNION ALL column {}", ln[i]))?);
                }
                let rows = l.rows + r.rows;
                let mut inputs = Vec::new();
                for p in [l, r] {
                    match p.node {
                        Node::Union { inputs: inner } => inputs.extend(inner),
                        _ => inputs.push(p),
                    }
                }
                Ok((Plan { node: Node::Union { inputs }, out, rows }, ln))
            }
            other => Err(QueryError::unsupported("this kind of query body", other.span())),
        }
    }

    fn select(&mut self, s: &ast::Select) -> Result<(Plan, Vec<String>), QueryError> {
        if s.distinct.is_some() {
            return Err(QueryError::unsupported("SELECT DISTINCT (use GROUP BY)", s.span()));
        }
        if s.top.is_some() || s.into.is_some() || !s.lateral_views.is_empty() || s.qualify.is_some() {
            return Err(QueryError::unsupported("TOP / INTO / LATERAL VIEW / QUALIFY", s.span()));
        }
        if s.from.is_empty() {
            return Err(QueryError::at("SELECT needs FROM a table".into(), s.span()));
        }
        let (mut p, scope) = self.from(&s.from)?;
        if let Some(w) = &s.selection {
            let pred = self.expr(w, &scope, &mut None)?;
            if pred.ty.class != Class::Bool {
                return Err(QueryError::at(format!("WHERE {}: not a condition", pred.text), w.span()));
            }
            // WHERE TRUE (as `x IS NOT NULL` of a column that cannot be NULL) keeps every row
            if !matches!(pred.op, Op::Lit(1)) || pred.ty.nullable {
                p = Plan { out: p.out.clone(), rows: p.rows, node: Node::Filter { input: Box::new(p), pred } };
            }
        }
        let group: Vec<&ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(e, m) if m.is_empty() => e.iter().collect(),
            other => return Err(QueryError::unsupported("GROUP BY ALL / modifiers", other.span())),
        };
        let has_agg = !group.is_empty()
            || s.having.is_some()
            || s.projection.iter().any(|i| match i {
                ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => contains_agg(e),
                _ => false,
            });
        let too_many = |n: usize| {
            QueryError::Limit(format!(
                "the SELECT list has {n} columns; a query returns at most {}",
                limits::MAX_OUTPUT_COLUMNS
            ))
        };
        if s.projection.len() > limits::MAX_OUTPUT_COLUMNS {
            return Err(too_many(s.projection.len()));
        }
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        if !has_agg {
            for item in &s.projection {
                self.select_item(item, &scope, &mut None, &mut names, &mut exprs)?;
            }
            if exprs.len() > limits::MAX_OUTPUT_COLUMNS {
                return Err(too_many(exprs.len()));
            }
            let out = exprs.iter().map(|e: &Expr| e.ty.clone()).collect();
            let rows = p.rows;
            return Ok((Plan { node: Node::Project { input: Box::new(p), exprs }, out, rows }, names));
        }
        // aggregation: keys first, then aggregates found in SELECT and HAVING
        if group.len() > limits::MAX_GROUP_KEYS {
            return Err(QueryError::Limit(format!(
                "GROUP BY has {} expressions; at most {}",
                group.len(),
                limits::MAX_GROUP_KEYS
            )));
        }
        let mut ctx = AggCtx { keys: Vec::new(), aggs: Vec::new(), input: scope.clone(), rows: p.rows };
        for g in &group {
            let e = self.expr(g, &scope, &mut None)?;
            if e.ty.class == Class::Key {
                return Err(QueryError::at(format!("GROUP BY {}: keys are never opened", e.text), g.span()));
            }
            ctx.keys.push((g.to_string(), e));
        }
        let mut ctx = Some(ctx);
        for item in &s.projection {
            self.select_item(item, &scope, &mut ctx, &mut names, &mut exprs)?;
        }
        // HAVING may name a SELECT alias (SUM(x) AS s ... HAVING s > 10) where no input column
        // has that name: the alias stands for its expression
        let having_ast = match &s.having {
            Some(h) => {
                let mut h = h.clone();
                let aliases: Vec<(String, ast::Expr)> = s
                    .projection
                    .iter()
                    .filter_map(|i| match i {
                        ast::SelectItem::ExprWithAlias { expr, alias } => Some((alias.value.clone(), expr.clone())),
                        _ => None,
                    })
                    .collect();
                let _ = ast::visit_expressions_mut(&mut h, |e| {
                    if let ast::Expr::Identifier(id) = e
                        && scope.find(None, &id.value, id.span).is_err()
                        && let Some((_, x)) = aliases.iter().find(|(a, _)| *a == id.value)
                    {
                        *e = ast::Expr::Nested(Box::new(x.clone()));
                    }
                    std::ops::ControlFlow::<()>::Continue(())
                });
                limits::check_expr(&h)?;
                Some(h)
            }
            None => None,
        };
        let having = match &having_ast {
            Some(h) => {
                let e = self.expr(h, &scope, &mut ctx)?;
                if e.ty.class != Class::Bool {
                    return Err(QueryError::at(format!("HAVING {}: not a condition", e.text), h.span()));
                }
                Some(e)
            }
            None => None,
        };
        let ctx = ctx.expect("aggregation context");
        // COUNT(DISTINCT x) and percentiles need the rows of each group sorted by x; MIN and MAX
        // use that order when they name the same x, else a segmented running extremum
        let rank_based = |a: &&Agg| matches!(a.func, AggFn::CountDistinct | AggFn::Percentile(_));
        let ordered: Option<Expr> = ctx
            .aggs
            .iter()
            .find(rank_based)
            .or_else(|| ctx.aggs.iter().find(|a| a.func.ordered()))
            .and_then(|a| a.arg.clone());
        for a in ctx.aggs.iter().filter(rank_based) {
            let (o, arg) = (ordered.as_ref().expect("set above"), a.arg.as_ref().expect("an argument"));
            if o.text != arg.text {
                return Err(QueryError::Invalid(format!(
                    "MEDIAN, PERCENTILE_CONT and COUNT(DISTINCT) are computed on one column per query \
                     (they share one sort); this query asks for {} and {}",
                    o.text, arg.text
                )));
            }
            if arg.ty.scale().1 > 0 {
                return Err(QueryError::Invalid(format!("{}: take it of a column, not of a quotient", a.text)));
            }
        }
        // sort key of the grouping: the composite of the keys (and the ordered argument)
        let mut kbits: u32 = ctx.keys.iter().map(|(_, e)| component_bits(&e.ty)).sum::<u32>() + 1;
        if let Some(o) = &ordered {
            kbits += component_bits(&o.ty);
        }
        if !ctx.keys.is_empty() || ordered.is_some() {
            self.note_bits(kbits + lg(p.rows) + 3, "GROUP BY")?;
        }
        let mut out: Vec<Ty> = ctx.keys.iter().map(|(_, e)| e.ty.clone()).collect();
        out.extend(ctx.aggs.iter().map(|a| a.ty.clone()));
        let rows = if ctx.keys.is_empty() { 1 } else { p.rows };
        let keys: Vec<Expr> = ctx.keys.into_iter().map(|(_, e)| e).collect();
        let mut plan = Plan {
            node: Node::Aggregate { input: Box::new(p), keys, aggs: ctx.aggs, ordered },
            out: out.clone(),
            rows,
        };
        if let Some(h) = having {
            plan =
                Plan { out: plan.out.clone(), rows: plan.rows, node: Node::Filter { input: Box::new(plan), pred: h } };
        }
        let pout = exprs.iter().map(|e: &Expr| e.ty.clone()).collect();
        Ok((Plan { node: Node::Project { input: Box::new(plan), exprs }, out: pout, rows }, names))
    }

    fn select_item(
        &mut self,
        item: &ast::SelectItem,
        scope: &Scope,
        ctx: &mut Option<AggCtx>,
        names: &mut Vec<String>,
        exprs: &mut Vec<Expr>,
    ) -> Result<(), QueryError> {
        match item {
            ast::SelectItem::UnnamedExpr(e) => {
                let x = self.expr(e, scope, ctx)?;
                names.push(match e {
                    ast::Expr::Identifier(i) => i.value.clone(),
                    ast::Expr::CompoundIdentifier(ids) => ids.last().map(|i| i.value.clone()).unwrap_or_default(),
                    _ => e.to_string(),
                });
                exprs.push(x);
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                exprs.push(self.expr(expr, scope, ctx)?);
                names.push(ident_name(alias));
            }
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                if ctx.is_some() {
                    return Err(QueryError::unsupported("* with GROUP BY or aggregates", item.span()));
                }
                let q = match item {
                    ast::SelectItem::QualifiedWildcard(ast::SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                        Some(object_name(n))
                    }
                    _ => None,
                };
                let mut any = false;
                for (i, c) in scope.cols.iter().enumerate() {
                    // keys are never opened: `*` leaves them out (naming one is an error)
                    if c.hidden || (q.is_some() && c.qual != q) || c.ty.class == Class::Key {
                        continue;
                    }
                    any = true;
                    // the column decides the ring as a named column would (a wide value or a long
                    // label needs Z_2^128)
                    self.note_bits(c.ty.bits() + 2, &c.name)?;
                    exprs.push(col(i, c.ty.clone(), c.name.clone()));
                    names.push(c.name.clone());
                }
                if !any {
                    return Err(QueryError::at("* matches no columns".into(), item.span()));
                }
            }
            other => return Err(QueryError::unsupported("this select item", other.span())),
        }
        Ok(())
    }

    fn from(&mut self, from: &[ast::TableWithJoins]) -> Result<(Plan, Scope), QueryError> {
        if from.len() > 1 {
            return Err(QueryError::unsupported(
                "comma joins (cross products); write JOIN … ON or USING",
                from[1].relation.span(),
            ));
        }
        let twj = &from[0];
        let (mut p, mut scope) = self.factor(&twj.relation)?;
        for j in &twj.joins {
            let (left_outer, c) = match &j.join_operator {
                ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => (false, c),
                ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => (true, c),
                _ => {
                    return Err(QueryError::unsupported(
                        "this join (only INNER and LEFT equi-joins; write a RIGHT JOIN as a LEFT JOIN)",
                        j.relation.span(),
                    ));
                }
            };
            let (rp, rscope) = self.factor(&j.relation)?;
            let nl = scope.cols.len();
            let mut both = scope.clone();
            for c in &rscope.cols {
                let mut c = c.clone();
                if left_outer {
                    c.ty.nullable = true;
                }
                both.cols.push(c);
            }
            let mut lkeys = Vec::new();
            let mut rkeys = Vec::new();
            match c {
                ast::JoinConstraint::On(e) => {
                    let mut pairs = Vec::new();
                    equi_pairs(e, &mut pairs)?;
                    for (a, b) in pairs {
                        let x = self.expr(a, &both, &mut None)?;
                        let y = self.expr(b, &both, &mut None)?;
                        let (xs, ys) = (side(&x, nl), side(&y, nl));
                        let (l, r) = match (xs, ys) {
                            (Some(false), Some(true)) => (x, y),
                            (Some(true), Some(false)) => (y, x),
                            _ => {
                                return Err(QueryError::at(
                                    format!("{a} = {b}: each side of a join condition must name one table's column"),
                                    e.span(),
                                ));
                            }
                        };
                        let r = shift_cols(r, nl);
                        lkeys.push(l);
                        rkeys.push(r);
                    }
                }
                ast::JoinConstraint::Using(names) => {
                    for n in names {
                        let name = object_name(n);
                        let li = scope.find(None, &name, n.span())?;
                        let ri = rscope.find(None, &name, n.span())?;
                        lkeys.push(col(li, scope.cols[li].ty.clone(), name.clone()));
                        rkeys.push(col(ri, rscope.cols[ri].ty.clone(), name.clone()));
                        both.cols[nl + ri].hidden = true;
                    }
                }
                _ => return Err(QueryError::unsupported("a join without ON or USING", j.relation.span())),
            }
            for (l, r) in lkeys.iter().zip(&rkeys) {
                let ok = match (l.ty.class, r.ty.class) {
                    (Class::Num { d: 0, f: 0 }, Class::Num { d: 0, f: 0 }) => true,
                    (Class::Cat { .. }, Class::Cat { .. }) => true,
                    (a, b) => a == b && matches!(a, Class::Key | Class::Date),
                };
                if !ok {
                    return Err(QueryError::Invalid(format!(
                        "join keys {} ({}) and {} ({}) cannot be matched: join integers, keys, categories or dates of the same kind",
                        l.text,
                        l.ty.class.name(),
                        r.text,
                        r.ty.class.name()
                    )));
                }
            }
            // labels of different widths meet at the wider one
            for (l, r) in lkeys.iter_mut().zip(rkeys.iter_mut()) {
                if let (Class::Cat { .. }, Class::Cat { .. }) = (l.ty.class, r.ty.class) {
                    let u = unify(&l.ty, &r.ty, &l.text)?;
                    l.ty = Ty { nullable: l.ty.nullable, ..u.clone() };
                    r.ty = Ty { nullable: r.ty.nullable, ..u };
                }
            }
            let kbits: u32 = lkeys.iter().zip(&rkeys).map(|(l, r)| component_bits(&unify_range(&l.ty, &r.ty))).sum();
            // physical rows: nl + nr; a many-to-many join may produce up to nl * nr
            let n = if self.opts.allow_many_to_many {
                (p.rows.max(1) * rp.rows.max(1)).max(p.rows + rp.rows)
            } else {
                p.rows + rp.rows
            };
            let expr = format!("JOIN ON {}", lkeys.iter().map(|k| k.text.clone()).collect::<Vec<_>>().join(", "));
            self.note_bits(kbits + 4 + lg(n) + 1, &expr)?;
            let mut out = p.out.clone();
            out.extend(rp.out.iter().map(|t| Ty { nullable: t.nullable || left_outer, ..t.clone() }));
            p = Plan {
                node: Node::Join {
                    left: Box::new(p),
                    right: Box::new(rp),
                    left_outer,
                    many_to_many: self.opts.allow_many_to_many,
                    lkeys,
                    rkeys,
                },
                out,
                rows: n,
            };
            scope = both;
        }
        Ok((p, scope))
    }

    fn factor(&mut self, f: &ast::TableFactor) -> Result<(Plan, Scope), QueryError> {
        match f {
            ast::TableFactor::Table { name, alias, args: None, .. } => {
                let table = object_name(name);
                let meta = self.cat.table(&table).map_err(|e| match e {
                    QueryError::Invalid(m) => QueryError::at(m, name.span()),
                    e => e,
                })?;
                if meta.schema.format < mitsu_api::SCHEMA_FORMAT
                    && meta.schema.columns.iter().any(|c| c.kind == mitsu_api::Kind::Category)
                {
                    return Err(QueryError::Invalid(format!(
                        "table {table:?} was uploaded by an older mitsu that stored labels in another order; \
                         upload it again"
                    )));
                }
                let qual = alias.as_ref().map(|a| a.name.value.clone()).unwrap_or_else(|| table.clone());
                let cols: Vec<usize> = (0..meta.schema.columns.len()).collect();
                let scope = Scope {
                    cols: meta
                        .schema
                        .columns
                        .iter()
                        .map(|c| ScopeCol {
                            qual: Some(qual.clone()),
                            name: c.name.clone(),
                            ty: Ty::from_column(c),
                            hidden: false,
                        })
                        .collect(),
                };
                let out = scope.cols.iter().map(|c| c.ty.clone()).collect();
                Ok((Plan { node: Node::Scan { table, cols }, out, rows: meta.rows }, scope))
            }
            ast::TableFactor::Derived { subquery, alias, lateral: false, .. } => {
                let (p, names, order) = self.query(subquery)?;
                if !order.is_empty() && !matches!(p.node, Node::TopK { .. }) {
                    return Err(QueryError::unsupported("ORDER BY without LIMIT inside a subquery", subquery.span()));
                }
                let qual = alias.as_ref().map(|a| a.name.value.clone());
                let scope = Scope {
                    cols: names
                        .iter()
                        .zip(&p.out)
                        .map(|(n, t)| ScopeCol { qual: qual.clone(), name: n.clone(), ty: t.clone(), hidden: false })
                        .collect(),
                };
                Ok((p, scope))
            }
            other => Err(QueryError::unsupported("this FROM item", other.span())),
        }
    }

    /// Binds an expression; in an aggregation context, GROUP BY expressions and aggregates become
    /// references to the aggregation's output columns.
    fn expr(&mut self, e: &ast::Expr, scope: &Scope, ctx: &mut Option<AggCtx>) -> Result<Expr, QueryError> {
        let mut x = self.expr_inner(e, scope, ctx)?;
        // a NULL, and every row a filter or join cleared, holds 0: every range contains it
        if !matches!(x.op, Op::Lit(_)) {
            x.ty.lo = x.ty.lo.min(0);
            x.ty.hi = x.ty.hi.max(0);
        }
        self.note_bits(x.ty.bits() + 2, &x.text)?;
        Ok(x)
    }

    fn expr_inner(&mut self, e: &ast::Expr, scope: &Scope, ctx: &mut Option<AggCtx>) -> Result<Expr, QueryError> {
        let text = e.to_string();
        if let Some(c) = ctx {
            if let Some(i) = c.keys.iter().position(|(t, _)| *t == text) {
                return Ok(col(i, c.keys[i].1.ty.clone(), text));
            }
            if let ast::Expr::Function(f) = e
                && agg_name(f).is_some()
            {
                return self.aggregate(f, c);
            }
        }
        match e {
            ast::Expr::Identifier(id) => {
                if ctx.is_some() {
                    return Err(QueryError::at(
                        format!("column {:?} must appear in GROUP BY or inside an aggregate", id.value),
                        e.span(),
                    ));
                }
                let i = scope.find(None, &id.value, e.span())?;
                Ok(col(i, scope.cols[i].ty.clone(), text))
            }
            ast::Expr::CompoundIdentifier(ids) if ids.len() == 2 => {
                if ctx.is_some() {
                    return Err(QueryError::at(
                        format!("column {text} must appear in GROUP BY or inside an aggregate"),
                        e.span(),
                    ));
                }
                let i = scope.find(Some(&ids[0].value), &ids[1].value, e.span())?;
                Ok(col(i, scope.cols[i].ty.clone(), text))
            }
            ast::Expr::Nested(inner) => self.expr_inner(inner, scope, ctx),
            ast::Expr::Value(v) => literal(&v.value, None, e.span()),
            ast::Expr::UnaryOp { op, expr } => {
                let x = self.expr(expr, scope, ctx)?;
                match op {
                    ast::UnaryOperator::Not => {
                        need_bool(&x)?;
                        Ok(Expr { ty: Ty::bool(x.ty.nullable), op: Op::Not(Box::new(x)), text })
                    }
                    ast::UnaryOperator::Minus => {
                        if let Op::Lit(v) = x.op {
                            return Ok(lit(-v, Ty { lo: -x.ty.hi, hi: -x.ty.lo, ..x.ty }, text));
                        }
                        need_num(&x)?;
                        let ty = Ty { lo: -x.ty.hi, hi: -x.ty.lo, ..num_ty(&x.ty) };
                        Ok(Expr { op: Op::Neg(Box::new(x)), ty, text })
                    }
                    ast::UnaryOperator::Plus => Ok(x),
                    other => Err(QueryError::unsupported(&format!("operator {other}"), e.span())),
                }
            }
            ast::Expr::BinaryOp { left, op, right } => {
                use ast::BinaryOperator as B;
                match op {
                    B::And | B::Or => {
                        let a = self.expr(left, scope, ctx)?;
                        let b = self.expr(right, scope, ctx)?;
                        need_bool(&a)?;
                        need_bool(&b)?;
                        let is_true = |x: &Expr| matches!(x.op, Op::Lit(1)) && !x.ty.nullable;
                        if *op == B::And && is_true(&a) {
                            return Ok(b);
                        }
                        if *op == B::And && is_true(&b) {
                            return Ok(a);
                        }
                        let ty = Ty::bool(a.ty.nullable || b.ty.nullable);
                        let op = if *op == B::And { Op::And(a.into(), b.into()) } else { Op::Or(a.into(), b.into()) };
                        Ok(Expr { op, ty, text })
                    }
                    B::Plus | B::Minus | B::Multiply | B::Divide => {
                        let a = self.expr(left, scope, ctx)?;
                        let b = self.expr(right, scope, ctx)?;
                        self.arith(op, a, b, text, e.span())
                    }
                    B::Lt | B::LtEq | B::Gt | B::GtEq | B::Eq | B::NotEq => {
                        let c = match op {
                            B::Lt => Cmp::Lt,
                            B::LtEq => Cmp::Le,
                            B::Gt => Cmp::Gt,
                            B::GtEq => Cmp::Ge,
                            B::Eq => Cmp::Eq,
                            _ => Cmp::Ne,
                        };
                        let (a, b) = self.operands(left, right, scope, ctx)?;
                        self.cmp(c, a, b, text, e.span())
                    }
                    other => Err(QueryError::unsupported(&format!("operator {other}"), e.span())),
                }
            }
            ast::Expr::IsNull(x) | ast::Expr::IsNotNull(x) => {
                let x = self.expr(x, scope, ctx)?;
                if !x.ty.nullable && !matches!(x.op, Op::Null) {
                    // the schema says it: no circuit (statistics ask it of every column)
                    return Ok(lit(matches!(e, ast::Expr::IsNotNull(_)) as i128, Ty::bool(false), text));
                }
                let isnull = Expr { op: Op::IsNull(Box::new(x)), ty: Ty::bool(false), text: text.clone() };
                if matches!(e, ast::Expr::IsNull(_)) {
                    Ok(isnull)
                } else {
                    Ok(Expr { op: Op::Not(Box::new(isnull)), ty: Ty::bool(false), text })
                }
            }
            ast::Expr::Between { expr, negated, low, high } => {
                let (x, lo) = self.operands(expr, low, scope, ctx)?;
                let (x2, hi) = self.operands(expr, high, scope, ctx)?;
                let a = self.cmp(Cmp::Ge, x, lo, format!("{expr} >= {low}"), e.span())?;
                let b = self.cmp(Cmp::Le, x2, hi, format!("{expr} <= {high}"), e.span())?;
                let ty = Ty::bool(a.ty.nullable || b.ty.nullable);
                let both = Expr { op: Op::And(a.into(), b.into()), ty: ty.clone(), text: text.clone() };
                Ok(if *negated { Expr { op: Op::Not(both.into()), ty, text } } else { both })
            }
            ast::Expr::InList { expr, list, negated } => {
                if list.is_empty() || list.len() > limits::MAX_IN_LIST {
                    return Err(QueryError::at(format!("IN takes 1 to {} values", limits::MAX_IN_LIST), e.span()));
                }
                let mut eqs = Vec::new();
                for item in list {
                    let (x, v) = self.operands(expr, item, scope, ctx)?;
                    eqs.push(self.cmp(Cmp::Eq, x, v, format!("{expr} = {item}"), e.span())?);
                }
                // a balanced OR: the plan's depth grows with log2 of the list, not its length
                while eqs.len() > 1 {
                    let mut next = Vec::with_capacity(eqs.len().div_ceil(2));
                    let mut it = eqs.into_iter();
                    while let Some(a) = it.next() {
                        next.push(match it.next() {
                            None => a,
                            Some(b) => {
                                let ty = Ty::bool(a.ty.nullable || b.ty.nullable);
                                Expr { op: Op::Or(a.into(), b.into()), ty, text: text.clone() }
                            }
                        });
                    }
                    eqs = next;
                }
                let acc = eqs.pop().expect("non-empty list");
                let ty = acc.ty.clone();
                Ok(if *negated { Expr { op: Op::Not(acc.into()), ty, text } } else { Expr { text, ..acc } })
            }
            ast::Expr::Case { operand, conditions, else_result, .. } => {
                if conditions.len() > limits::MAX_CASE_BRANCHES {
                    return Err(QueryError::Limit(format!(
                        "CASE has {} branches; mitsu computes at most {} (each is a secret selection over every row)",
                        conditions.len(),
                        limits::MAX_CASE_BRANCHES
                    )));
                }
                let mut whens = Vec::new();
                for cw in conditions {
                    let cond = match operand {
                        Some(o) => {
                            let (a, b) = self.operands(o, &cw.condition, scope, ctx)?;
                            self.cmp(Cmp::Eq, a, b, format!("{o} = {}", cw.condition), cw.condition.span())?
                        }
                        None => self.expr(&cw.condition, scope, ctx)?,
                    };
                    need_bool(&cond)?;
                    whens.push((cond, self.expr(&cw.result, scope, ctx)?));
                }
                let els = match else_result {
                    Some(x) => self.expr(x, scope, ctx)?,
                    None => null_of(&whens[0].1.ty),
                };
                let mut ty = els.ty.clone();
                for (_, r) in &whens {
                    ty = unify(&ty, &r.ty, &text)?;
                }
                if else_result.is_none() {
                    ty.nullable = true;
                }
                Ok(Expr { op: Op::Case(whens, Box::new(els)), ty, text })
            }
            ast::Expr::Function(f) => self.function(f, scope, ctx, e.span()),
            ast::Expr::Cast { expr, data_type, kind: ast::CastKind::Cast, format: None } => {
                let x = self.expr(expr, scope, ctx)?;
                need_num(&x)?;
                self.cast(x, data_type, text, e.span())
            }
            other => Err(QueryError::unsupported(&expr_kind(other), other.span())),
        }
    }

    /// Binds two operands of a comparison; a string literal takes the other side's type (date or
    /// category).
    fn operands(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        scope: &Scope,
        ctx: &mut Option<AggCtx>,
    ) -> Result<(Expr, Expr), QueryError> {
        let str_lit = |e: &ast::Expr| match e {
            ast::Expr::Value(v) => matches!(v.value, ast::Value::SingleQuotedString(_)),
            _ => false,
        };
        if str_lit(b) && !str_lit(a) {
            let x = self.expr(a, scope, ctx)?;
            let ast::Expr::Value(v) = b else { unreachable!() };
            let y = literal(&v.value, Some(x.ty.class), b.span())?;
            return Ok((x, y));
        }
        if str_lit(a) && !str_lit(b) {
            let y = self.expr(b, scope, ctx)?;
            let ast::Expr::Value(v) = a else { unreachable!() };
            let x = literal(&v.value, Some(y.ty.class), a.span())?;
            return Ok((x, y));
        }
        Ok((self.expr(a, scope, ctx)?, self.expr(b, scope, ctx)?))
    }

    fn arith(
        &mut self,
        op: &ast::BinaryOperator,
        a: Expr,
        b: Expr,
        text: String,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr, QueryError> {
        use ast::BinaryOperator as B;
        let nullable = a.ty.nullable || b.ty.nullable;
        // dates: date - date = days; date ± days = date
        if a.ty.class == Class::Date || b.ty.class == Class::Date {
            let int0 = |t: &Ty| t.class == Class::Num { d: 0, f: 0 };
            let (class, lo, hi) = match (op, a.ty.class, b.ty.class) {
                (B::Minus, Class::Date, Class::Date) => {
                    (Class::Num { d: 0, f: 0 }, a.ty.lo - b.ty.hi, a.ty.hi - b.ty.lo)
                }
                (B::Plus | B::Minus, Class::Date, _) if int0(&b.ty) => {
                    let (l, h) = if *op == B::Plus {
                        (a.ty.lo + b.ty.lo, a.ty.hi + b.ty.hi)
                    } else {
                        (a.ty.lo - b.ty.hi, a.ty.hi - b.ty.lo)
                    };
                    (Class::Date, l, h)
                }
                _ => return Err(QueryError::at(format!("{text}: dates subtract from dates or add whole days"), span)),
            };
            check(lo, hi, &text)?;
            let ty = Ty { class, lo, hi, nullable };
            let op = if *op == B::Plus { Op::Add(a.into(), b.into()) } else { Op::Sub(a.into(), b.into()) };
            return Ok(Expr { op, ty, text });
        }
        need_num(&a)?;
        need_num(&b)?;
        let ((da, fa), (db, fb)) = (a.ty.scale(), b.ty.scale());
        match op {
            B::Plus | B::Minus => {
                let (d, f) = (da.max(db), fa.max(fb));
                let ka = factor(d - da, f - fa, &text)?;
                let kb = factor(d - db, f - fb, &text)?;
                let (al, ah) = scale_range(a.ty.lo, a.ty.hi, ka, &text)?;
                let (bl, bh) = scale_range(b.ty.lo, b.ty.hi, kb, &text)?;
                let (lo, hi) = if *op == B::Plus {
                    (al.checked_add(bl), ah.checked_add(bh))
                } else {
                    (al.checked_sub(bh), ah.checked_sub(bl))
                };
                let (lo, hi) = (
                    lo.ok_or_else(|| QueryError::range(&text, 128))?,
                    hi.ok_or_else(|| QueryError::range(&text, 128))?,
                );
                check(lo, hi, &text)?;
                let ty = Ty { class: Class::Num { d, f }, lo, hi, nullable };
                let op = if *op == B::Plus { Op::Add(a.into(), b.into()) } else { Op::Sub(a.into(), b.into()) };
                Ok(Expr { op, ty, text })
            }
            B::Multiply => {
                let d = da + db;
                if d > MAX_DECIMALS {
                    return Err(QueryError::Invalid(format!(
                        "{text}: the product has {d} decimal places (at most {MAX_DECIMALS}); CAST a factor to fewer"
                    )));
                }
                let mut lo = i128::MAX;
                let mut hi = i128::MIN;
                for x in [a.ty.lo, a.ty.hi] {
                    for y in [b.ty.lo, b.ty.hi] {
                        let p = x.checked_mul(y).ok_or_else(|| QueryError::range(&text, 128))?;
                        lo = lo.min(p);
                        hi = hi.max(p);
                    }
                }
                check(lo, hi, &text)?;
                let mut f = fa + fb;
                if f > FRAC {
                    let s = f - FRAC;
                    lo = (lo >> s) - 1;
                    hi = (hi >> s) + 1;
                    f = FRAC;
                    self.needs_128 = true;
                }
                let ty = Ty { class: Class::Num { d, f }, lo, hi, nullable };
                Ok(Expr { op: Op::Mul(a.into(), b.into()), ty, text })
            }
            B::Divide => {
                // exact: trunc(a na / (b nb)) toward zero at FRAC fraction bits, in Z_2^128
                self.needs_128 = true;
                let d = da.saturating_sub(db);
                let (na, nb, abits, bbits) = quotient_scales(&a.ty, &b.ty, &text)?;
                if mitsu_mpc_ops::div_plan::<u128>(abits, bbits).is_none() {
                    let most = (1..bbits).rev().find(|&bb| mitsu_mpc_ops::div_plan::<u128>(abits, bb).is_some());
                    return Err(QueryError::Range(match most {
                        Some(bb) => format!(
                            "{text}: the divisor may reach 2^{bbits}; mitsu divides exactly by values below 2^{bb} \
                             (with this numerator); narrow the divisor's range"
                        ),
                        None => format!("{text}: the numerator may reach 2^{abits}, too wide to divide exactly"),
                    }));
                }
                let m = a.ty.lo.unsigned_abs().max(a.ty.hi.unsigned_abs());
                // |a na / (b nb)| <= max|a| na / nb (the smallest nonzero |b| is 1)
                let h = m.checked_mul(na as u128).map(|x| (x >> nb.trailing_zeros()) as i128 + 1);
                let h = h.filter(|h| *h < 1i128 << MAX_BITS).ok_or_else(|| QueryError::range(&text, abits))?;
                let ty = Ty { class: Class::Num { d, f: FRAC }, lo: -h, hi: h, nullable: true };
                self.note_bits(abits + 2, &text)?;
                Ok(Expr { op: Op::Div(a.into(), b.into()), ty, text })
            }
            _ => unreachable!(),
        }
    }

    fn cast(
        &mut self,
        x: Expr,
        dt: &ast::DataType,
        text: String,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr, QueryError> {
        use ast::DataType as D;
        let (d, f) = x.ty.scale();
        let to = match dt {
            D::Int(_) | D::Integer(_) | D::BigInt(_) | D::SmallInt(_) => Class::Num { d: 0, f: 0 },
            D::Decimal(info) | D::Numeric(info) => match info {
                ast::ExactNumberInfo::PrecisionAndScale(_, s) if *s >= 0 => Class::Num { d: *s as u32, f: 0 },
                ast::ExactNumberInfo::Precision(_) | ast::ExactNumberInfo::None => Class::Num { d: 0, f: 0 },
                _ => return Err(QueryError::unsupported(&format!("CAST AS {dt}"), span)),
            },
            D::Real | D::Double(_) | D::DoublePrecision | D::Float(_) | D::Float64 | D::Float8 => {
                // a real keeps its exact encoding; only the printed form changes
                let ty = Ty { class: Class::Num { d, f: f.max(1) }, ..x.ty.clone() };
                if f == 0 {
                    let (lo, hi) = scale_range(x.ty.lo, x.ty.hi, 2, &text)?;
                    return Ok(Expr { op: Op::Cast(x.into()), ty: Ty { lo, hi, ..ty }, text });
                }
                return Ok(Expr { op: Op::Cast(x.into()), ty, text });
            }
            _ => return Err(QueryError::unsupported(&format!("CAST AS {dt}"), span)),
        };
        let Class::Num { d: td, .. } = to else { unreachable!() };
        let (lo, hi) = if td >= d {
            let k = factor(td - d, 0, &text)?;
            let (l, h) = scale_range(x.ty.lo, x.ty.hi, k, &text)?;
            (l >> f, (h >> f) + 1)
        } else {
            let k = factor(d - td, f, &text)?;
            (x.ty.lo / k - 1, x.ty.hi / k + 1)
        };
        check(lo, hi, &text)?;
        if f > 0 || td < d {
            self.note_bits(x.ty.bits() + 64, &text)?;
        }
        let nullable = x.ty.nullable;
        Ok(Expr { op: Op::Cast(x.into()), ty: Ty { class: to, lo, hi, nullable }, text })
    }

    fn function(
        &mut self,
        f: &ast::Function,
        scope: &Scope,
        ctx: &mut Option<AggCtx>,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr, QueryError> {
        let name = object_name(&f.name).to_lowercase();
        let text = f.to_string();
        if agg_name(f).is_some() {
            return Err(QueryError::at(format!("aggregate {text} is not allowed here"), span));
        }
        let args = plain_args(f)?;
        match name.as_str() {
            "coalesce" => {
                if args.is_empty() {
                    return Err(QueryError::at("COALESCE needs arguments".into(), span));
                }
                let xs = args.iter().map(|a| self.expr(a, scope, ctx)).collect::<Result<Vec<_>, _>>()?;
                let mut ty = xs[0].ty.clone();
                for x in &xs[1..] {
                    ty = unify(&ty, &x.ty, &text)?;
                }
                ty.nullable = xs.iter().all(|x| x.ty.nullable);
                Ok(Expr { op: Op::Coalesce(xs), ty, text })
            }
            "abs" if args.len() == 1 => {
                // CASE WHEN x < 0 THEN -x ELSE x END
                let x = self.expr(args[0], scope, ctx)?;
                need_num(&x)?;
                let zero = lit(0, Ty { lo: 0, hi: 0, nullable: false, ..x.ty.clone() }, "0".into());
                let neg = self.cmp(Cmp::Lt, x.clone(), zero, format!("{} < 0", x.text), span)?;
                let m = x.ty.lo.unsigned_abs().max(x.ty.hi.unsigned_abs()) as i128;
                let ty = Ty { lo: 0, hi: m, ..x.ty.clone() };
                let minus = Expr { op: Op::Neg(Box::new(x.clone())), ty: ty.clone(), text: format!("-{}", x.text) };
                Ok(Expr { op: Op::Case(vec![(neg, minus)], Box::new(x)), ty, text })
            }
            _ => Err(QueryError::unsupported(&format!("function {}", object_name(&f.name)), span)),
        }
    }

    fn aggregate(&mut self, f: &ast::Function, c: &mut AggCtx) -> Result<Expr, QueryError> {
        let text = f.to_string();
        let k = c.keys.len();
        if let Some(i) = c.aggs.iter().position(|a| a.text == text) {
            return Ok(col(k + i, c.aggs[i].ty.clone(), text));
        }
        if c.aggs.len() >= limits::MAX_AGGREGATES {
            return Err(QueryError::Limit(format!("a SELECT computes at most {} aggregates", limits::MAX_AGGREGATES)));
        }
        let name = agg_name(f).expect("an aggregate");
        if f.filter.is_some() || f.over.is_some() || has_order_by(f) {
            return Err(QueryError::unsupported("FILTER / OVER / ORDER BY in an aggregate", f.span()));
        }
        let distinct = matches!(&f.args, ast::FunctionArguments::List(l) if l.duplicate_treatment == Some(ast::DuplicateTreatment::Distinct));
        let star = matches!(&f.args, ast::FunctionArguments::List(l) if l.args.len() == 1 && matches!(l.args[0], ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)));
        let rows = c.rows as i128;
        let input = c.input.clone();
        let mut none = None;
        let (func, arg) = if name == "count" && star {
            (AggFn::CountStar, None)
        } else if name == "percentile_cont" {
            // PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x), or the two-argument PERCENTILE_CONT(x, q)
            let args = plain_args(f)?;
            let number = |e: &ast::Expr| match e {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::Number(s, _) => s.parse::<f64>().ok().filter(|q| (0.0..=1.0).contains(q)),
                    _ => None,
                },
                _ => None,
            };
            let bad = || QueryError::at("PERCENTILE_CONT takes a fraction between 0 and 1".into(), f.span());
            match (args.as_slice(), f.within_group.as_slice()) {
                ([q], [o]) => {
                    if matches!(o.options.sort, Some(ast::OrderBySort::Desc)) {
                        return Err(QueryError::unsupported("WITHIN GROUP (ORDER BY … DESC)", o.span()));
                    }
                    (AggFn::Percentile(number(q).ok_or_else(bad)?), Some(self.expr(&o.expr, &input, &mut none)?))
                }
                ([x, q], []) => (AggFn::Percentile(number(q).ok_or_else(bad)?), Some(self.expr(x, &input, &mut none)?)),
                _ => {
                    return Err(QueryError::at(
                        "write PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY column) or PERCENTILE_CONT(column, q)".into(),
                        f.span(),
                    ));
                }
            }
        } else {
            let args = plain_args(f)?;
            let [a] = args.as_slice() else {
                return Err(QueryError::at(format!("{name} takes one argument"), f.span()));
            };
            if contains_agg(a) {
                return Err(QueryError::at("aggregates cannot be nested".into(), a.span()));
            }
            let x = self.expr(a, &input, &mut none)?;
            let func = match (name, distinct) {
                ("count", false) => AggFn::Count,
                ("count", true) => AggFn::CountDistinct,
                (_, true) => return Err(QueryError::unsupported(&format!("{name}(DISTINCT …)"), f.span())),
                ("sum", _) => AggFn::Sum,
                ("avg", _) => AggFn::Avg,
                ("min", _) => AggFn::Min,
                ("max", _) => AggFn::Max,
                ("var_samp" | "variance", _) => AggFn::VarSamp,
                ("stddev_samp" | "stddev", _) => AggFn::StddevSamp,
                ("median", _) => AggFn::Percentile(0.5),
                _ => unreachable!(),
            };
            (func, Some(x))
        };
        let ty = match (&func, &arg) {
            (AggFn::CountStar | AggFn::Count | AggFn::CountDistinct, _) => Ty::int(0, rows),
            (_, Some(x)) => {
                if matches!(func, AggFn::Min | AggFn::Max) {
                    if !(x.ty.is_num() || matches!(x.ty.class, Class::Date | Class::Cat { .. })) {
                        return Err(QueryError::Invalid(format!("{text}: MIN and MAX take numbers, dates or labels")));
                    }
                } else {
                    need_num(x)?;
                }
                let (d, _) = x.ty.scale();
                let m = x.ty.lo.unsigned_abs().max(x.ty.hi.unsigned_abs()) as i128;
                let bound = |v: Option<i128>| v.ok_or_else(|| QueryError::range(&text, 128));
                let t = match func {
                    AggFn::Sum => {
                        let (lo, hi) =
                            (bound(x.ty.lo.checked_mul(rows.max(1)))?, bound(x.ty.hi.checked_mul(rows.max(1)))?);
                        check(lo, hi, &text)?;
                        Ty { lo, hi, nullable: true, ..num_ty(&x.ty) }
                    }
                    AggFn::Min | AggFn::Max => Ty { nullable: true, ..x.ty.clone() },
                    AggFn::Avg | AggFn::Percentile(_) => {
                        // AVG divides per group in Z_2^128 even when the rest runs in Z_2^64
                        // (the group sums are lifted); percentiles combine rows in the plan's ring
                        if func != AggFn::Avg {
                            self.needs_128 = true;
                        } else {
                            let cb = lg(rows as u64) + 2;
                            let up = FRAC.saturating_sub(x.ty.scale().1);
                            if mitsu_mpc_ops::div_plan::<u128>(x.ty.bits() + cb + up, cb).is_none() {
                                return Err(QueryError::range(&text, x.ty.bits() + cb + up));
                            }
                        }
                        let (_, f) = x.ty.scale();
                        let s = FRAC.saturating_sub(f);
                        let h = bound(m.checked_mul(1 << s))? + 1;
                        Ty { class: Class::Num { d, f: f.max(FRAC) }, lo: -h, hi: h, nullable: true }
                    }
                    AggFn::VarSamp | AggFn::StddevSamp => {
                        self.needs_128 = true;
                        if x.ty.scale().1 > 0 {
                            return Err(QueryError::Invalid(format!(
                                "{text}: take the variance of a column, not of a quotient"
                            )));
                        }
                        // n * sum(x^2) - sum(x)^2, times 2^FRAC, divided exactly by n (n - 1)
                        let cb = lg(rows as u64) + 2;
                        let nb = 2 * x.ty.bits() + 2 * cb + 1;
                        if mitsu_mpc_ops::div_plan::<u128>(nb + FRAC, 2 * cb).is_none() {
                            return Err(QueryError::range(&text, nb + FRAC));
                        }
                        self.note_bits(nb + FRAC + 2, &text)?;
                        if func == AggFn::VarSamp {
                            if 2 * d > MAX_DECIMALS {
                                return Err(QueryError::Invalid(format!("{text}: too many decimal places")));
                            }
                            let h = bound(m.checked_mul(m).and_then(|v| v.checked_mul(2 << FRAC)))?;
                            check(0, h, &text)?;
                            Ty { class: Class::Num { d: 2 * d, f: FRAC }, lo: 0, hi: h, nullable: true }
                        } else {
                            let h = bound(m.checked_mul(2 << FRAC))?;
                            Ty { class: Class::Num { d, f: FRAC }, lo: 0, hi: h, nullable: true }
                        }
                    }
                    _ => unreachable!(),
                };
                // the type's range already covers the whole column (a sum's range is n times the value's)
                self.note_bits(t.bits() + 2, &text)?;
                t
            }
            _ => unreachable!(),
        };
        c.aggs.push(Agg { func, arg, ty: ty.clone(), text: text.clone() });
        Ok(col(k + c.aggs.len() - 1, ty, text))
    }
}

/// An aggregate call with `ORDER BY` inside its argument list.
fn has_order_by(f: &ast::Function) -> bool {
    matches!(&f.args, ast::FunctionArguments::List(l)
        if l.clauses.iter().any(|c| matches!(c, ast::FunctionArgumentClause::OrderBy(_))))
}

/// Bits of one component of a composite sort key: the value shifted to be non-negative, with
/// NULL below every value.
pub fn component_bits(t: &Ty) -> u32 {
    let span = (t.hi - t.lo) as u128 + if t.nullable { 2 } else { 1 };
    (128 - span.leading_zeros()).max(1)
}

fn agg_name(f: &ast::Function) -> Option<&'static str> {
    let n = object_name(&f.name).to_lowercase();
    ["count", "sum", "avg", "min", "max", "var_samp", "variance", "stddev_samp", "stddev", "median", "percentile_cont"]
        .into_iter()
        .find(|a| *a == n)
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

fn plain_args(f: &ast::Function) -> Result<Vec<&ast::Expr>, QueryError> {
    match &f.args {
        ast::FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => Ok(x),
                other => Err(QueryError::unsupported("this function argument", other.span())),
            })
            .collect(),
        ast::FunctionArguments::None => Ok(Vec::new()),
        ast::FunctionArguments::Subquery(q) => Err(QueryError::unsupported("subqueries", q.span())),
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

fn need_bool(x: &Expr) -> Result<(), QueryError> {
    if x.ty.class == Class::Bool {
        Ok(())
    } else {
        Err(QueryError::Invalid(format!("{} is a {}, not a condition", x.text, x.ty.class.name())))
    }
}

fn need_num(x: &Expr) -> Result<(), QueryError> {
    if x.ty.is_num() {
        Ok(())
    } else {
        Err(QueryError::Invalid(format!("{} is a {}, not a number", x.text, x.ty.class.name())))
    }
}

/// Booleans used as numbers are integers.
fn num_ty(t: &Ty) -> Ty {
    match t.class {
        Class::Bool => Ty { class: Class::Num { d: 0, f: 0 }, ..t.clone() },
        _ => t.clone(),
    }
}

fn null_of(t: &Ty) -> Expr {
    Expr { op: Op::Null, ty: Ty { lo: 0, hi: 0, nullable: true, ..t.clone() }, text: "NULL".into() }
}

/// The range covering both (same class).
fn unify_range(a: &Ty, b: &Ty) -> Ty {
    Ty { lo: a.lo.min(b.lo), hi: a.hi.max(b.hi), nullable: a.nullable || b.nullable, ..a.clone() }
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
    if a.class == b.class {
        return Ok(unify_range(a, b));
    }
    Err(QueryError::Invalid(format!("{expr}: cannot combine a {} with a {}", a.class.name(), b.class.name())))
}

fn compare(c: Cmp, a: Expr, b: Expr, text: String, span: sqlparser::tokenizer::Span) -> Result<Expr, QueryError> {
    let ok = (a.ty.is_num() && b.ty.is_num())
        || (a.ty.same_kind(&b.ty)
            && match a.ty.class {
                // labels compare in byte-wise UTF-8 order, as SQLite's BINARY collation
                Class::Date | Class::Bool | Class::Cat { .. } => true,
                Class::Key => matches!(c, Cmp::Eq | Cmp::Ne),
                Class::Num { .. } => true,
            });
    if !ok {
        return Err(QueryError::at(
            format!("{text}: cannot compare a {} with a {}", a.ty.class.name(), b.ty.class.name()),
            span,
        ));
    }
    let u = unify(&a.ty, &b.ty, &text)?;
    // the difference of the aligned values must fit
    let (lo, hi) = (u.lo.checked_sub(u.hi), u.hi.checked_sub(u.lo));
    match (lo, hi) {
        (Some(l), Some(h)) => check(l, h, &text)?,
        _ => return Err(QueryError::range(&text, 128)),
    }
    let nullable = a.ty.nullable || b.ty.nullable;
    Ok(Expr { op: Op::Cmp(c, a.into(), b.into()), ty: Ty::bool(nullable), text })
}

fn literal(v: &ast::Value, hint: Option<Class>, span: sqlparser::tokenizer::Span) -> Result<Expr, QueryError> {
    let text = v.to_string();
    match v {
        ast::Value::Number(s, _) => {
            let (m, d) = parse_decimal(s).ok_or_else(|| QueryError::at(format!("number {s} is not exact"), span))?;
            if d > MAX_DECIMALS {
                return Err(QueryError::at(format!("{s}: at most {MAX_DECIMALS} decimal places"), span));
            }
            check(m, m, &text)?;
            Ok(lit(m, Ty { class: Class::Num { d, f: 0 }, lo: m, hi: m, nullable: false }, text))
        }
        ast::Value::Boolean(b) => Ok(lit(*b as i128, Ty { lo: *b as i128, hi: *b as i128, ..Ty::bool(false) }, text)),
        ast::Value::Null => Ok(Expr {
            op: Op::Null,
            ty: Ty { class: hint.unwrap_or(Class::Num { d: 0, f: 0 }), lo: 0, hi: 0, nullable: true },
            text,
        }),
        ast::Value::SingleQuotedString(s) => match hint {
            Some(Class::Date) => {
                let d =
                    parse_date(s).ok_or_else(|| QueryError::at(format!("'{s}' is not a date (YYYY-MM-DD)"), span))?;
                Ok(lit(d, Ty { class: Class::Date, lo: d, hi: d, nullable: false }, text))
            }
            Some(Class::Key) => Err(QueryError::at(
                "keys are hashed by the uploading client; compare keys with keys (join), not with text".into(),
                span,
            )),
            _ => {
                let w = s.len();
                let p = pack_label(s, w).ok_or_else(|| {
                    QueryError::at(format!("'{s}' is longer than a category label ({MAX_LABEL_BYTES} bytes)"), span)
                })?;
                Ok(lit(p, Ty { class: Class::Cat { w: w as u32 }, lo: p, hi: p, nullable: false }, text))
            }
        },
        other => Err(QueryError::unsupported(&format!("literal {other}"), span)),
    }
}
