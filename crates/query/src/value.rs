//! Decoding opened results into values the analyst reads, and the ORDER BY that the client applies
//! to fully opened results.

use crate::plan::{Query, SortKey};
use crate::ty::{Class, Ty};
use mitsu_api::encode::{unpack_label, unpack_text};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i128),
    /// An exact decimal: mantissa and decimal places.
    Dec(i128, u32),
    Real(f64),
    Bool(bool),
    Text(String),
    Date(i128),
}

impl Value {
    pub fn decode(v: i128, ty: &Ty) -> Value {
        match ty.class {
            Class::Num { d: 0, f: 0 } => Value::Int(v),
            Class::Num { d, f: 0 } => Value::Dec(v, d),
            Class::Num { d, f } => Value::Real(v as f64 / 2f64.powi(f as i32) / 10f64.powi(d as i32)),
            Class::Bool => Value::Bool(v != 0),
            Class::Cat { w } => Value::Text(unpack_label(v, w as usize)),
            Class::Text { .. } => Value::Text(format!("<text {v:x}>")),
            Class::Key => Value::Text(format!("<key {v:x}>")),
            Class::Date => Value::Date(v),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) | Value::Date(v) => Some(*v as f64),
            Value::Dec(m, d) => Some(*m as f64 / 10f64.powi(*d as i32)),
            Value::Real(x) => Some(*x),
            Value::Bool(b) => Some(*b as i32 as f64),
            _ => None,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            // beyond 2^53 a JSON reader holding numbers as float64 (JavaScript, many tools)
            // would round an integer: it is written as a string of its digits
            Value::Int(v) if v.unsigned_abs() > 1 << 53 => serde_json::json!(self.to_string()),
            // exact at any width: the number's own digits, not a float64 or i64 cast
            Value::Int(_) | Value::Dec(..) => serde_json::from_str::<serde_json::Number>(&self.to_string())
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => serde_json::json!(b),
            Value::Text(_) | Value::Date(_) => serde_json::json!(self.to_string()),
            _ => serde_json::json!(self.as_f64()),
        }
    }

    fn cmp_key(&self, other: &Value) -> std::cmp::Ordering {
        match (self, other) {
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            _ => self.as_f64().unwrap_or(f64::NAN).total_cmp(&other.as_f64().unwrap_or(f64::NAN)),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Dec(m, d) => {
                let s = m.unsigned_abs().to_string();
                let d = *d as usize;
                let s = if s.len() <= d { format!("{}{s}", "0".repeat(d + 1 - s.len())) } else { s };
                let (i, fr) = s.split_at(s.len() - d);
                write!(f, "{}{i}.{fr}", if *m < 0 { "-" } else { "" })
            }
            Value::Real(x) => write!(f, "{}", (x * 1e9).round() / 1e9),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(s) => f.write_str(s),
            Value::Date(days) => {
                // civil from days (H. Hinnant)
                let z = *days as i64 + 719_468;
                let era = z.div_euclid(146_097);
                let doe = z - era * 146_097;
                let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
                let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
                let mp = (5 * doy + 2) / 153;
                let d = doy - (153 * mp + 2) / 5 + 1;
                let m = if mp < 10 { mp + 3 } else { mp - 9 };
                let y = yoe + era * 400 + (m <= 2) as i64;
                write!(f, "{y:04}-{m:02}-{d:02}")
            }
        }
    }
}

/// Decodes opened wire columns (values and not-NULL flags, column-major; a text column is its
/// payload chunks, [`Query::wire_columns`]) into rows, applying the query's client-side ORDER BY.
pub fn rows(q: &Query, values: &[Vec<i128>], not_null: &[Vec<bool>]) -> Vec<Vec<Value>> {
    let n = values.first().map(Vec::len).unwrap_or(0);
    let mut start = Vec::with_capacity(q.root.out.len());
    let mut at = 0;
    for t in &q.root.out {
        start.push(at);
        at += t.wire_width();
    }
    let mut out: Vec<Vec<Value>> = (0..n)
        .map(|i| {
            q.root
                .out
                .iter()
                .zip(&start)
                .map(|(t, &c)| match t.class {
                    _ if !not_null[c][i] => Value::Null,
                    Class::Text { .. } => {
                        let chunks: Vec<i128> = (c..c + t.wire_width()).map(|k| values[k][i]).collect();
                        Value::Text(unpack_text(&chunks))
                    }
                    _ => Value::decode(values[c][i], t),
                })
                .collect()
        })
        .collect();
    sort_rows(&mut out, &q.order);
    out
}

/// SQLite's order: NULLs first ascending, last descending (unless NULLS FIRST/LAST says otherwise).
pub fn sort_rows(rows: &mut [Vec<Value>], keys: &[SortKey]) {
    rows.sort_by(|a, b| {
        for k in keys {
            let (x, y) = (&a[k.col], &b[k.col]);
            let o = match (x, y) {
                (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
                (Value::Null, _) => {
                    if k.nulls_first {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                }
                (_, Value::Null) => {
                    if k.nulls_first {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Less
                    }
                }
                _ => {
                    let o = x.cmp_key(y);
                    if k.desc { o.reverse() } else { o }
                }
            };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
}
