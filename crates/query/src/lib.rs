//! SQL over secret-shared tables.
//!
//! * [`plan`] parses a SELECT with `sqlparser`, binds names against the stored schemas, types every
//!   expression and derives its public value range (refusing, naming the expression, anything
//!   that could overflow), and picks the ring.
//! * [`exec`] runs the plan on any [`mitsu_mpc_core::Engine`]: the replicated protocol at the
//!   parties, or the plaintext twin in tests. Rows carry a secret validity bit; filters clear it,
//!   nothing is dropped until the plan opens a count (see [`explain`] for what each step reveals).
//! * [`explain`] describes a plan: steps, estimated rounds and bytes, leakage.

pub mod exec;
pub mod explain;
pub mod limits;
pub mod plan;
pub mod ty;
pub mod value;

pub use exec::{Output, Source, as_ring, execute, execute_for_aggregates};
pub use plan::{Options, Query, plan, plan_with};
pub use value::Value;

use mitsu_api::Schema;

/// A table as the planner sees it: public schema and row count.
#[derive(Debug, Clone)]
pub struct TableMeta {
    pub schema: Schema,
    pub rows: u64,
}

/// Where table schemas come from (a party's store, or the client's view of it).
pub trait Catalog {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError>;
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// The text does not parse.
    Syntax(String),
    /// Parses, but mitsu does not compute it (names the construct and where it is).
    Unsupported(String),
    /// A name, type or value problem.
    Invalid(String),
    /// A value could not be represented safely.
    Range(String),
    /// The computation failed (a party, the network, or a data-dependent check), with the
    /// engine's error kept so the server can answer by kind.
    Mpc(mitsu_mpc_core::MpcError),
    /// The query exceeds one of the planner's limits (see [`limits`]); the message names it.
    Limit(String),
    /// The account may not read a table the query names.
    Forbidden(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Syntax(m) => write!(f, "SQL syntax error: {m}"),
            QueryError::Unsupported(m)
            | QueryError::Invalid(m)
            | QueryError::Range(m)
            | QueryError::Limit(m)
            | QueryError::Forbidden(m) => f.write_str(m),
            QueryError::Mpc(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl QueryError {
    /// A broken invariant of mitsu's own (a bug), never the user's input.
    pub fn internal(what: impl Into<String>) -> QueryError {
        QueryError::Mpc(mitsu_mpc_core::MpcError::Internal(what.into()))
    }

    pub fn unsupported(what: &str, span: sqlparser::tokenizer::Span) -> QueryError {
        QueryError::Unsupported(format!("not supported: {what}{}", at(span)))
    }

    pub fn at(msg: String, span: sqlparser::tokenizer::Span) -> QueryError {
        QueryError::Invalid(format!("{msg}{}", at(span)))
    }

    pub fn range(expr: &str, bits: u32) -> QueryError {
        QueryError::Range(format!(
            "the value of {expr} may need {bits} bits, more than mitsu computes safely ({} bits); \
             narrow the columns' ranges or simplify the expression",
            ty::MAX_BITS
        ))
    }
}

fn at(span: sqlparser::tokenizer::Span) -> String {
    if span.start.line == 0 {
        String::new()
    } else {
        format!(" (line {}, column {})", span.start.line, span.start.column)
    }
}

impl From<mitsu_mpc_core::MpcError> for QueryError {
    fn from(e: mitsu_mpc_core::MpcError) -> Self {
        QueryError::Mpc(e)
    }
}
