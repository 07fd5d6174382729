//! One error type for the MPC layer. Variants separate what a peer did wrong, what the caller asked
//! for that cannot be done, and broken internal invariants, so callers can react differently.

use crate::PartyId;
use mitsu_algebra::EncodeError;

pub type Result<T, E = MpcError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MpcError {
    /// A peer sent something malformed (wrong type, wrong length). Never a panic.
    #[error("{party} sent a malformed message: {what}")]
    PeerMisbehaved { party: PartyId, what: String },
    /// A peer cannot be reached (disconnected, timed out, crashed).
    #[error("{party} is unreachable: {what}")]
    PeerUnreachable { party: PartyId, what: String },
    /// An expression's values could exceed the ring: refused rather than computed wrongly.
    #[error(
        "expression `{expr}` needs {needed_bits} bits but the ring {ring} allows at most {max_bits}; use a wider ring or declare smaller input ranges"
    )]
    Range { expr: String, needed_bits: u32, ring: &'static str, max_bits: u32 },
    /// A value could not be encoded (outside its declared range, not finite).
    #[error("{0}")]
    Encode(#[from] EncodeError),
    /// The caller asked for something invalid (mismatched lengths, bad parameters).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// An internal invariant does not hold: a bug in mitsu.
    #[error("internal error (a bug in mitsu): {0}")]
    Internal(String),
}

impl MpcError {
    pub fn invalid(s: impl Into<String>) -> Self {
        MpcError::Invalid(s.into())
    }
}
