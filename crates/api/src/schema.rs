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
    /// Real numbers as pandas and R write them (17 digits, exponent notation), stored in fixed
    /// point as value * 10^scale rounded half away from zero: the rounding error of each value is
    /// at most 0.5 * 10^-scale. Computed with exactly like a decimal of that scale.
    Real { scale: u32 },
    /// true/false as 1/0.
    Boolean,
    /// Short text (at most 15 UTF-8 bytes), packed reversibly so opened labels print as text:
    /// first byte most significant, padded to the column's width (`bits / 8` bytes), so that
    /// integer order is byte-wise text order.
    Category,
    /// Text of any length up to [`crate::encode::MAX_TEXT_BYTES`] UTF-8 bytes (`bits / 8` bytes
    /// at most): stored as a 96-bit hash of the label (the [`Kind::Key`] hash, so equal labels
    /// match at every provider) on which equality, grouping and joins run, and the label's bytes
    /// in payload columns of 15 bytes each, carried along and opened only for result rows.
    Text,
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

impl Kind {
    /// Decimal places of a number column's encoding (0 for integers, None for other kinds).
    pub fn scale(&self) -> Option<u32> {
        match self {
            Kind::Integer => Some(0),
            Kind::Decimal { scale } | Kind::Real { scale } => Some(*scale),
            _ => None,
        }
    }

    /// How schemas and listings name the type: `integer`, `decimal(2)`, `real(6)`, `category`.
    pub fn display(&self) -> String {
        match self {
            Kind::Decimal { scale } => format!("decimal({scale})"),
            Kind::Real { scale } => format!("real({scale})"),
            k => kind_name(k).to_string(),
        }
    }
}

impl ColumnSchema {
    /// Bytes every label of a category column is packed to.
    pub fn label_width(&self) -> usize {
        (self.bits as usize).div_ceil(8)
    }

    /// Ring the shares of this column live in: Z_2^64 while values and their sums stay far from
    /// the limit (bits <= 40), Z_2^128 otherwise.
    pub fn ring_bits(&self) -> u32 {
        if self.value_bits() <= 40 { 64 } else { 128 }
    }

    /// Bound of the stored value column: `bits`, except for text, whose value is its hash.
    pub fn value_bits(&self) -> u32 {
        if self.kind == Kind::Text { crate::encode::TEXT_HASH_BITS } else { self.bits }
    }

    /// Payload columns of a text column: its bytes in chunks of 15 (none for other kinds).
    pub fn text_chunks(&self) -> usize {
        if self.kind == Kind::Text { self.label_width().div_ceil(crate::encode::TEXT_CHUNK_BYTES) } else { 0 }
    }
}

/// The encoding a schema describes. 2: category labels packed first byte most significant
/// (ordered); schemas without the field (0) packed them least significant first, and their
/// category columns must be uploaded again.
pub const SCHEMA_FORMAT: u32 = 2;

/// A table's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub columns: Vec<ColumnSchema>,
    /// Encoding version, [`SCHEMA_FORMAT`] for what this version writes.
    #[serde(default)]
    pub format: u32,
}

/// Most columns a table may have.
pub const MAX_COLUMNS: usize = 1024;
/// Most rows a table may have.
pub const MAX_ROWS: u64 = 1 << 31;

impl Schema {
    /// A schema in the current encoding.
    pub fn new(columns: Vec<ColumnSchema>) -> Schema {
        Schema { columns, format: SCHEMA_FORMAT }
    }

    pub fn column(&self, name: &str) -> Option<(usize, &ColumnSchema)> {
        self.columns.iter().enumerate().find(|(_, c)| c.name == name)
    }

    /// Stored share columns: the schema's columns, then one not-NULL column per nullable column,
    /// then the payload columns of text columns, in column order.
    pub fn stored_columns(&self) -> usize {
        self.payload_start() + self.columns.iter().map(|c| c.text_chunks()).sum::<usize>()
    }

    fn payload_start(&self) -> usize {
        self.columns.len() + self.columns.iter().filter(|c| c.nullable).count()
    }

    /// Stored index of column `i`'s not-NULL flags, if it is nullable.
    pub fn not_null_column(&self, i: usize) -> Option<usize> {
        self.columns[i].nullable.then(|| self.columns.len() + self.columns[..i].iter().filter(|c| c.nullable).count())
    }

    /// Stored indices of text column `i`'s payload chunks (empty for other kinds).
    pub fn payload_columns(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.payload_start() + self.columns[..i].iter().map(|c| c.text_chunks()).sum::<usize>();
        start..start + self.columns[i].text_chunks()
    }

    /// Ring (64 or 128) of stored column `i` (validity columns are 0/1 in Z_2^64, payload chunks
    /// are below 2^120 in Z_2^128).
    pub fn stored_ring(&self, i: usize) -> Option<u32> {
        match self.columns.get(i) {
            Some(c) => Some(c.ring_bits()),
            None if i < self.payload_start() => Some(64),
            None => (i < self.stored_columns()).then_some(128),
        }
    }

    /// Bound (|v| < 2^bits) of stored column `i`, as the upload check verifies it.
    pub fn stored_bits(&self, i: usize) -> Option<u32> {
        match self.columns.get(i) {
            Some(c) => Some(c.value_bits()),
            None if i < self.payload_start() => Some(1),
            None => (i < self.stored_columns()).then_some(8 * crate::encode::TEXT_CHUNK_BYTES as u32),
        }
    }

    /// Checks what a party will rely on: names, count, and per kind a bound the engine can hold.
    /// A client that bypasses the library meets the same check at every party.
    pub fn validate(&self) -> Result<(), String> {
        if self.columns.is_empty() || self.columns.len() > MAX_COLUMNS {
            return Err(format!("a table has 1 to {MAX_COLUMNS} columns, not {}", self.columns.len()));
        }
        for (i, c) in self.columns.iter().enumerate() {
            crate::names::check_column_name(&c.name)?;
            if self.columns[..i].iter().any(|d| d.name == c.name) {
                return Err(format!("column {:?} appears twice", c.name));
            }
            let (lo, hi) = match c.kind {
                Kind::Integer | Kind::Decimal { .. } | Kind::Real { .. } => (1, 120),
                Kind::Boolean => (1, 1),
                Kind::Category => (8, 120),
                Kind::Text => (8, 8 * crate::encode::MAX_TEXT_BYTES as u32),
                Kind::Key => (96, 96),
                Kind::Date => (1, 32),
            };
            if !(lo..=hi).contains(&c.bits) {
                return Err(format!(
                    "column {:?}: a bound of 2^{} is outside what a {} column may declare (2^{lo} to 2^{hi})",
                    c.name,
                    c.bits,
                    kind_name(&c.kind)
                ));
            }
            if matches!(c.kind, Kind::Category | Kind::Text) && !c.bits.is_multiple_of(8) {
                return Err(format!("column {:?}: a category's bound is 8 bits per byte of its longest label", c.name));
            }
            if let Kind::Decimal { scale } = c.kind
                && !(1..=36).contains(&scale)
            {
                return Err(format!("column {:?}: a decimal has 1 to 36 places, not {scale}", c.name));
            }
            if let Kind::Real { scale } = c.kind
                && scale > 36
            {
                return Err(format!("column {:?}: a real keeps 0 to 36 decimal places, not {scale}", c.name));
            }
        }
        Ok(())
    }
}

fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::Integer => "integer",
        Kind::Decimal { .. } => "decimal",
        Kind::Real { .. } => "real",
        Kind::Boolean => "boolean",
        Kind::Category => "category",
        Kind::Text => "text",
        Kind::Key => "key",
        Kind::Date => "date",
    }
}
