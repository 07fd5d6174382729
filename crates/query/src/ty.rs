//! Value types of the planner: how a value is encoded as an integer and the public range of that
//! integer. Every expression's range is derived from its inputs' ranges, so the plan knows how
//! many bits each intermediate value needs before anything is computed.

use crate::QueryError;
use mitsu_api::{ColumnSchema, Kind};
use serde::Serialize;

/// Binary fraction bits of results of division, AVG, VAR_SAMP, STDDEV_SAMP and percentiles.
pub const FRAC: u32 = 32;
/// Largest decimal scale a product may reach.
pub const MAX_DECIMALS: u32 = 18;
/// No intermediate value may need more bits than this (Z_2^128 minus room for sorts and
/// comparisons: a sort key of b bits over n rows needs b + log2(n) + 2 bits).
pub const MAX_BITS: u32 = 100;

/// The encoding: a number v stands for v / (10^d 2^f); booleans are 0/1; categories are labels
/// packed first byte first into w bytes (a label at width w' > w is the same label times
/// 256^(w' - w), so categories align as decimals do); keys are opaque hashes; dates are days
/// since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Class {
    Num {
        d: u32,
        f: u32,
    },
    Bool,
    Cat {
        w: u32,
    },
    /// Text of at most w bytes: the value is its 96-bit hash (equality only); the bytes travel
    /// beside it in `ceil(w / 15)` payload chunks and are opened only in result columns.
    Text {
        w: u32,
    },
    Key,
    Date,
}

impl Class {
    pub fn name(&self) -> String {
        match self {
            Class::Num { d: 0, f: 0 } => "integer".into(),
            Class::Num { d, f: 0 } => format!("decimal({d})"),
            Class::Num { .. } => "real".into(),
            Class::Bool => "boolean".into(),
            Class::Cat { .. } => "category".into(),
            Class::Text { .. } => "text".into(),
            Class::Key => "key".into(),
            Class::Date => "date".into(),
        }
    }
}

/// A value's type: encoding, public range of the encoded integer, and whether it may be NULL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ty {
    pub class: Class,
    pub lo: i128,
    pub hi: i128,
    pub nullable: bool,
}

impl Ty {
    pub fn bool(nullable: bool) -> Ty {
        Ty { class: Class::Bool, lo: 0, hi: 1, nullable }
    }

    pub fn int(lo: i128, hi: i128) -> Ty {
        Ty { class: Class::Num { d: 0, f: 0 }, lo, hi, nullable: false }
    }

    /// Smallest b with |v| < 2^b for every v in the range (at least 1).
    pub fn bits(&self) -> u32 {
        bits_of(self.lo, self.hi)
    }

    pub fn from_column(c: &ColumnSchema) -> Ty {
        let class = match c.kind {
            Kind::Integer => Class::Num { d: 0, f: 0 },
            Kind::Decimal { scale } | Kind::Real { scale } => Class::Num { d: scale, f: 0 },
            Kind::Boolean => Class::Bool,
            Kind::Category => Class::Cat { w: c.label_width() as u32 },
            Kind::Key => Class::Key,
            Kind::Text => Class::Text { w: c.label_width() as u32 },
            Kind::Date => Class::Date,
        };
        let vb = c.value_bits();
        let m = if vb >= 127 { i128::MAX } else { (1i128 << vb) - 1 };
        // booleans, labels and text hashes are never negative
        let lo = if matches!(c.kind, Kind::Boolean | Kind::Category | Kind::Text) { 0 } else { -m };
        let hi = if matches!(c.kind, Kind::Boolean) { 1 } else { m };
        Ty { class, lo, hi, nullable: c.nullable }
    }

    /// The same kind of value, whatever the scale or width.
    pub fn same_kind(&self, other: &Ty) -> bool {
        std::mem::discriminant(&self.class) == std::mem::discriminant(&other.class)
    }

    /// Payload chunks a value of this type carries (text: its bytes; others none).
    pub fn chunks(&self) -> usize {
        match self.class {
            Class::Text { w } => (w as usize).div_ceil(mitsu_api::encode::TEXT_CHUNK_BYTES),
            _ => 0,
        }
    }

    /// Columns a result value of this type is sent as: its payload chunks for text, else one.
    pub fn wire_width(&self) -> usize {
        self.chunks().max(1)
    }

    pub fn is_num(&self) -> bool {
        matches!(self.class, Class::Num { .. } | Class::Bool)
    }

    /// (decimal digits, fraction bits) of a numeric type; booleans count as integers.
    pub fn scale(&self) -> (u32, u32) {
        match self.class {
            Class::Num { d, f } => (d, f),
            _ => (0, 0),
        }
    }
}

pub fn bits_of(lo: i128, hi: i128) -> u32 {
    let m = lo.unsigned_abs().max(hi.unsigned_abs());
    (128 - m.leading_zeros()).max(1)
}

/// 10^d 2^f as an exact integer.
pub fn factor(d: u32, f: u32, expr: &str) -> Result<i128, QueryError> {
    10i128
        .checked_pow(d)
        .and_then(|t| t.checked_mul(1i128.checked_shl(f).filter(|_| f < 127)?))
        .ok_or_else(|| QueryError::range(expr, 128))
}

/// The range [lo, hi] multiplied by a positive factor, or an error naming `expr`.
pub fn scale_range(lo: i128, hi: i128, k: i128, expr: &str) -> Result<(i128, i128), QueryError> {
    let lo2 = lo.checked_mul(k);
    let hi2 = hi.checked_mul(k);
    match (lo2, hi2) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(QueryError::range(expr, 128)),
    }
}

/// Checks that a range fits the planner's bound.
pub fn check(lo: i128, hi: i128, expr: &str) -> Result<(), QueryError> {
    let b = bits_of(lo, hi);
    if b > MAX_BITS { Err(QueryError::range(expr, b)) } else { Ok(()) }
}

/// How a quotient a / b is formed from the encoded operands: the public factors na, nb with which
/// trunc(a na / (b nb)) is the result encoded at FRAC fraction bits in the planner's decimal
/// scale, and the bits of the scaled operands.
pub(crate) fn quotient_scales(a: &Ty, b: &Ty, expr: &str) -> Result<(i128, i128, u32, u32), QueryError> {
    let ((da, fa), (db, fb)) = (a.scale(), b.scale());
    // value = (a / 10^da 2^fa) / (b / 10^db 2^fb); the result keeps max(da - db, 0) decimals
    let ten = factor(db.saturating_sub(da), 0, expr)?;
    let up = (fb + FRAC).saturating_sub(fa);
    let down = fa.saturating_sub(fb + FRAC);
    let na = 1i128.checked_shl(up).and_then(|p| ten.checked_mul(p)).ok_or_else(|| QueryError::range(expr, 128))?;
    let nb = 1i128.checked_shl(down).ok_or_else(|| QueryError::range(expr, 128))?;
    let abits = a.bits() + bits_of(0, na);
    let bbits = b.bits() + down;
    Ok((na, nb, abits, bbits))
}
