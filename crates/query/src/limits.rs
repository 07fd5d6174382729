//! What one query may ask for. Every party plans every query it is sent, so a query is hostile
//! input: these limits bound the stack, memory and time planning takes, whoever wrote the text.
//!
//! The one design decision: depth is measured on the parsed syntax tree *before* any recursive
//! walk of ours touches it, by a visitor that stops at the limit. The parser itself builds
//! left-deep chains (`a + a + …`, `x = 0 OR x = 1 OR …`) iteratively, and its own recursion
//! (parentheses, unary operators, subqueries) is capped by [`MAX_NESTING`]; the text limit caps
//! the depth of what is dropped afterwards. Past this check every walk (binding, explain,
//! execution) recurses at most [`MAX_EXPR_DEPTH`] levels, which [`STACK_BYTES`] covers.

use crate::QueryError;
use sqlparser::ast::{Expr, ObjectName, Query, Statement, Visit, Visitor};
use std::ops::ControlFlow;

/// Longest query text, in bytes.
pub const MAX_SQL_BYTES: usize = 32 * 1024;
/// Deepest nesting of expressions (an operator over an operator over …).
pub const MAX_EXPR_DEPTH: usize = 128;
/// Deepest nesting the parser follows (parentheses, unary operators, subqueries).
pub const MAX_NESTING: usize = 40;
/// Most queries in one statement: the statement itself and each parenthesised subquery.
pub const MAX_QUERIES: usize = 32;
/// Most table references in one query (joins and UNION ALL arms).
pub const MAX_TABLES: usize = 16;
/// Most values in one `IN (…)` list.
pub const MAX_IN_LIST: usize = 256;
/// Most columns a query may return.
pub const MAX_OUTPUT_COLUMNS: usize = 256;
/// Most `WHEN` branches of one `CASE`.
pub const MAX_CASE_BRANCHES: usize = 64;
/// Most distinct aggregates of one SELECT.
pub const MAX_AGGREGATES: usize = 64;
/// Most GROUP BY expressions.
pub const MAX_GROUP_KEYS: usize = 16;
/// Stack a thread that plans or runs queries needs for the limits above (with a wide margin:
/// `tests/limits.rs` plans and runs the deepest query allowed on a quarter of it).
pub const STACK_BYTES: usize = 64 << 20;

pub(crate) fn limit(what: String) -> QueryError {
    QueryError::Limit(what)
}

/// Refuses text that is longer than [`MAX_SQL_BYTES`].
pub(crate) fn check_text(sql: &str) -> Result<(), QueryError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(limit(format!(
            "the query is {} bytes long; mitsu plans queries of at most {MAX_SQL_BYTES} bytes",
            sql.len()
        )));
    }
    Ok(())
}

#[derive(Default)]
struct Depth {
    exprs: usize,
    queries: usize,
    tables: usize,
}

impl Visitor for Depth {
    // a small break value: the visitor's recursion carries it up every frame
    type Break = Box<QueryError>;

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<Self::Break> {
        self.exprs += 1;
        if self.exprs > MAX_EXPR_DEPTH {
            return ControlFlow::Break(Box::new(limit(format!(
                "an expression nests more than {MAX_EXPR_DEPTH} levels deep; write long OR chains \
                 as IN (…) and split long sums into several queries"
            ))));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<Self::Break> {
        self.exprs -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<Self::Break> {
        self.queries += 1;
        if self.queries > MAX_QUERIES {
            return ControlFlow::Break(Box::new(limit(format!("the query has more than {MAX_QUERIES} subqueries"))));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, _: &ObjectName) -> ControlFlow<Self::Break> {
        self.tables += 1;
        if self.tables > MAX_TABLES {
            return ControlFlow::Break(Box::new(limit(format!(
                "the query reads more than {MAX_TABLES} tables (joins and UNION ALL arms)"
            ))));
        }
        ControlFlow::Continue(())
    }
}

/// Checks one expression (after a rewrite) against the depth limit.
pub(crate) fn check_expr(e: &Expr) -> Result<(), QueryError> {
    let mut d = Depth::default();
    match e.visit(&mut d) {
        ControlFlow::Break(e) => Err(*e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Checks the parsed statement against the depth and count limits, visiting at most
/// [`MAX_EXPR_DEPTH`] levels.
pub(crate) fn check_tree(stmt: &Statement) -> Result<(), QueryError> {
    let mut d = Depth::default();
    match stmt.visit(&mut d) {
        ControlFlow::Break(e) => Err(*e),
        ControlFlow::Continue(()) => Ok(()),
    }
}
