//! What an opening reveals, named where it happens. Every `open` of an [`Engine`](crate::Engine)
//! takes a [`Reveal`], and the engine keeps the record ([`Opened`]): the leakage a job reports is
//! read from that record, and tests check it against what EXPLAIN and the statistics catalogue
//! promise.

use crate::PartyId;

/// Why values are opened (what kind of information leaves the secret sharing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reveal {
    /// Comparison bits of a sort on shuffled keys made unique: distributed independently of the
    /// data (reveals nothing beyond the number of rows).
    SortComparisons,
    /// Whether each side of a join has unique keys among its valid rows (two bits).
    JoinKeysUnique,
    /// The number of matching pairs of a many-to-many join the query allowed.
    JoinPairs,
    /// Group boundaries after a shuffle: the number of groups of a GROUP BY.
    GroupCount,
    /// Validity flags after a shuffle: the number of rows that pass (a result's row count).
    RowCount,
    /// The first k validity bits after an oblivious sort: min(k, rows) of an ORDER BY … LIMIT k.
    LimitRows,
    /// One bit per uploaded column: whether its shares passed the range check.
    UploadCheck,
    /// Counts a statistic's p-value needs or the parties learn by definition: non-NULL values,
    /// group sizes, zero differences, row and column totals.
    StatisticCounts,
    /// A bit that ends a statistics job with an error (singular design, a value out of domain).
    StatisticError,
    /// A logistic regression's convergence and divergence bits (its iteration count).
    Iterations,
    /// A statistic's outputs, to the analyst's party channel (tests and the in-process demo).
    StatisticValues,
    /// Values opened by a test or a benchmark to check a result.
    Check,
}

impl Reveal {
    pub fn as_str(self) -> &'static str {
        match self {
            Reveal::SortComparisons => "sort comparisons (independent of the data)",
            Reveal::JoinKeysUnique => "whether each join side's keys are unique",
            Reveal::JoinPairs => "the number of matching pairs of a many-to-many join",
            Reveal::GroupCount => "the number of groups",
            Reveal::RowCount => "the number of rows that pass",
            Reveal::LimitRows => "min(limit, rows) of an ORDER BY … LIMIT",
            Reveal::UploadCheck => "whether each column passed the upload check",
            Reveal::StatisticCounts => "counts the statistic needs",
            Reveal::StatisticError => "a bit that ends the job with an error",
            Reveal::Iterations => "convergence bits (the iteration count)",
            Reveal::StatisticValues => "the statistic's values",
            Reveal::Check => "values checked by a test or benchmark",
        }
    }
}

impl std::fmt::Display for Reveal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Consecutive openings of one kind to one audience, as the engine recorded them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub what: Reveal,
    /// `None`: every party learns the values; `Some(p)`: only party p.
    pub to: Option<PartyId>,
    /// Elements opened (ring elements, or bits of boolean planes).
    pub elements: u64,
    /// Calls merged into this entry.
    pub calls: u64,
}

impl std::fmt::Display for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} elements)", self.what, self.elements)
    }
}

/// Appends an opening to a record, merging it with the last entry of the same kind.
pub fn record(log: &mut Vec<Opened>, what: Reveal, to: Option<PartyId>, elements: u64) {
    match log.last_mut() {
        Some(o) if o.what == what && o.to == to => {
            o.elements += elements;
            o.calls += 1;
        }
        _ => log.push(Opened { what, to, elements, calls: 1 }),
    }
}
