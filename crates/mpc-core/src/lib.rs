//! The vocabulary every MPC crate shares: [`PartyId`], wire [`Payload`]s, the [`Transport`] a
//! runtime provides, the [`Channel`] that protocol code talks through (and that counts rounds and
//! bytes), the error type [`MpcError`], and the [`Engine`] trait.
//!
//! The design decision to know: protocol code is written against [`Engine`] and never performs IO
//! itself. It hands outgoing messages to a [`Channel`], whose only job is to pass them to a
//! [`Transport`] supplied by the runtime (in-memory threads for tests and benchmarks, TLS between
//! processes in deployment) and to count what was sent. There is no async and no clock here.

mod engine;
mod error;
mod reveal;
mod transport;

pub use engine::Engine;
pub use error::{MpcError, Result};
pub use reveal::{Opened, Reveal, record};
pub use transport::{Channel, CommStats, Payload, Transport};

use std::fmt;

/// One of the three compute parties. Party `i` holds the share components `i` and `i+1 (mod 3)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PartyId(u8);

impl PartyId {
    pub const P0: PartyId = PartyId(0);
    pub const P1: PartyId = PartyId(1);
    pub const P2: PartyId = PartyId(2);
    pub const ALL: [PartyId; 3] = [PartyId(0), PartyId(1), PartyId(2)];

    pub fn new(i: usize) -> Option<PartyId> {
        (i < 3).then_some(PartyId(i as u8))
    }
    pub fn index(self) -> usize {
        self.0 as usize
    }
    /// Party `i+1 (mod 3)`.
    pub fn next(self) -> PartyId {
        PartyId((self.0 + 1) % 3)
    }
    /// Party `i-1 (mod 3)`.
    pub fn prev(self) -> PartyId {
        PartyId((self.0 + 2) % 3)
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "party {}", self.0)
    }
}
