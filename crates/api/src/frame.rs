//! The byte layout of job results, one codec for the parties that write them and the client that
//! reads them (all integers little-endian).
//!
//! * SQL: five u64 — rows, ring bits (64 or 128), columns, rounds, bytes sent — then per column
//!   this party's share words of the values, then of the not-NULL flags (`rows` words each, of
//!   ring/8 bytes), then a u64 length and that many bytes of JSON: the engine's record of what
//!   it opened among the parties.
//! * Statistics: a u64 length, that many bytes of JSON header ([`StatsHeader`]), then u128 share
//!   words.

use serde::{Deserialize, Serialize};

/// One entry of the engine's record of what a job opened among the parties (the same at all three).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenedRecord {
    /// Why: the engine's name of the opening (`mitsu_mpc_core::Reveal`).
    pub what: String,
    /// Elements opened (ring elements, or bits of boolean planes).
    pub elements: u64,
    /// Calls merged into this entry.
    pub calls: u64,
    /// "all parties", or the one party that learns the values.
    pub to: String,
}

impl std::fmt::Display for OpenedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} elements)", self.what, self.elements)
    }
}

/// The header of a statistics result frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsHeader {
    /// Output names, one per opened value (three share words each: mantissa, exponent, zero).
    pub names: Vec<String>,
    /// Public divisors of the outputs, one per name.
    pub divisors: Vec<f64>,
    pub rounds: u64,
    /// Bytes this party sent.
    pub bytes: u64,
    pub opened: Vec<OpenedRecord>,
}

/// The head of a SQL result frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlHead {
    pub rows: u64,
    pub ring: u32,
    pub columns: u64,
    pub rounds: u64,
    pub bytes_sent: u64,
}

/// Bytes before the shares of a SQL result.
pub const SQL_HEAD_BYTES: usize = 40;

impl SqlHead {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(SQL_HEAD_BYTES);
        for h in [self.rows, self.ring as u64, self.columns, self.rounds, self.bytes_sent] {
            b.extend_from_slice(&h.to_le_bytes());
        }
        b
    }
}

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    b.get(8 * i..8 * i + 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
}

/// The tail of a SQL result frame: the record of openings.
pub fn sql_tail(record: &[OpenedRecord]) -> Vec<u8> {
    let json = serde_json::to_vec(record).expect("records serialize");
    let mut b = (json.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(&json);
    b
}

/// Reads a SQL result frame: its head, 2 x columns vectors of `rows` share words (values, then
/// flags, per column) widened to u128, and the record of openings. `None` when the frame is
/// malformed or a size lies.
pub fn read_sql(b: &[u8]) -> Option<(SqlHead, Vec<Vec<u128>>, Vec<OpenedRecord>)> {
    let h = SqlHead {
        rows: u64_at(b, 0)?,
        ring: u32::try_from(u64_at(b, 1)?).ok()?,
        columns: u64_at(b, 2)?,
        rounds: u64_at(b, 3)?,
        bytes_sent: u64_at(b, 4)?,
    };
    if h.ring != 64 && h.ring != 128 {
        return None;
    }
    let w = h.ring as usize / 8;
    let (rows, cols) = (usize::try_from(h.rows).ok()?, usize::try_from(h.columns).ok()?);
    let shares_end = rows.checked_mul(cols)?.checked_mul(2)?.checked_mul(w)?.checked_add(SQL_HEAD_BYTES)?;
    let tl = usize::try_from(u64_at(b.get(shares_end..)?, 0)?).ok()?;
    if b.len() != shares_end.checked_add(8)?.checked_add(tl)? {
        return None;
    }
    let record = serde_json::from_slice(&b[shares_end + 8..]).ok()?;
    let word = |s: &[u8]| -> u128 {
        if w == 8 {
            u64::from_le_bytes(s.try_into().expect("8 bytes")) as u128
        } else {
            u128::from_le_bytes(s.try_into().expect("16 bytes"))
        }
    };
    let body = &b[SQL_HEAD_BYTES..shares_end];
    let parts =
        (0..2 * cols).map(|k| body[k * rows * w..(k + 1) * rows * w].chunks_exact(w).map(word).collect()).collect();
    Some((h, parts, record))
}

/// A statistics result frame: the header and this party's share words.
pub fn write_stats(header: &StatsHeader, words: &[u128]) -> Vec<u8> {
    let header = serde_json::to_vec(header).expect("headers serialize");
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(&header);
    for w in words {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b
}

/// Reads a statistics result frame: (header, share words). `None` when malformed.
pub fn read_stats(b: &[u8]) -> Option<(StatsHeader, Vec<u128>)> {
    let hl = usize::try_from(u64_at(b, 0)?).ok()?;
    let header = serde_json::from_slice(b.get(8..8usize.checked_add(hl)?)?).ok()?;
    let rest = &b[8 + hl..];
    if !rest.len().is_multiple_of(16) {
        return None;
    }
    Some((header, rest.chunks_exact(16).map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes"))).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_lies_are_refused() {
        let h = SqlHead { rows: 2, ring: 64, columns: 1, rounds: 7, bytes_sent: 9 };
        let mut b = h.encode();
        for w in [1u64, 2, 3, 4] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        let rec = vec![OpenedRecord { what: "x".into(), elements: 2, calls: 1, to: "all parties".into() }];
        b.extend_from_slice(&sql_tail(&rec));
        let (got, parts, tail) = read_sql(&b).unwrap();
        assert_eq!(got, h);
        assert_eq!(parts, vec![vec![1, 2], vec![3, 4]]);
        assert_eq!(tail, rec);
        // a head that announces more rows than the frame holds, or an odd ring
        assert!(read_sql(&b[..b.len() - 1]).is_none());
        let mut lie = SqlHead { rows: u64::MAX, ..h }.encode();
        lie.extend_from_slice(&b[SQL_HEAD_BYTES..]);
        assert!(read_sql(&lie).is_none());
        assert!(read_sql(&SqlHead { ring: 32, ..h }.encode()).is_none());
        let head = StatsHeader { names: vec!["n".into()], divisors: vec![1.0], rounds: 3, bytes: 4, opened: rec };
        let s = write_stats(&head, &[5, u128::MAX]);
        assert_eq!(read_stats(&s).unwrap(), (head, vec![5, u128::MAX]));
        assert!(read_stats(&s[..s.len() - 3]).is_none());
        let mut long = s.clone();
        long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_stats(&long).is_none());
    }
}
