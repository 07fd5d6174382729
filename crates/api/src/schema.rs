//! A table's schema: what the client library encodes and the parties store alongside the shares.
//! It is public metadata: names, types and value bounds, never values.

use serde::{Deserialize, Serialize};

/// How a column's values are encoded as integers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kind {
    /// Whole numbers.
    Integer,
    /// Exact decimals, stored as value * 10^scale.
    Decimal { scale: u32 },
    /// true/false as 1/0.
    Boolean,
    /// Short text (at most 15 UTF-8 bytes), packed reversibly so opened labels print as text.
    Category,
    /// Join keys: text or numbers hashed deterministically (SHA-256, 120 bits) by the uploading
    /// client, so equal keys of two providers match inside MPC; never printed.
    Key,
    /// Calendar dates (YYYY-MM-DD) as days since 1970-01-01.
    Date,
}

/// One column. (`deny_unknown_fields` does not combine with the flattened `kind`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    #[serde(flatten)]
    pub kind: Kind,
    /// Empty cells are allowed (NULL).
    pub nullable: bool,
    /// Public bound: every encoded value v satisfies |v| < 2^bits.
    pub bits: u32,
}

impl ColumnSchema {
    /// Ring the shares of this column live in: Z_2^64 while values and their sums stay far from
    /// the limit (bits <= 40), Z_2^128 otherwise.
    pub fn ring_bits(&self) -> u32 {
        if self.bits <= 40 { 64 } else { 128 }
    }
}

/// A table's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub columns: Vec<ColumnSchema>,
}

impl Schema {
    pub fn column(&self, name: &str) -> Option<(usize, &ColumnSchema)> {
        self.columns.iter().enumerate().find(|(_, c)| c.name == name)
    }
}
