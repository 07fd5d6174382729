//! Three-party replicated secret sharing, semi-honest with an honest majority.
//!
//! A value x is split as x = x0 + x1 + x2 (mod 2^k) and party i holds (x_i, x_{i+1}); any two
//! parties can reconstruct, any single party sees uniformly random-looking components. Boolean
//! values use the same layout with XOR, bit-sliced into 64-element words.
//!
//! Correlated randomness comes from three pairwise AES seeds set up once per connection
//! ([`Rep3::setup`]): party i holds k_i (shared with party i-1, its `prev` PRG) and k_{i+1}
//! (shared with party i+1, its `next` PRG), plus one seed common to all three. Both holders of a seed
//! must draw the same lengths in the same order: every function here documents its draws by
//! construction, and the conformance tests would catch a desynchronisation at once.
//!
//! Each operation states its cost as rounds and elements sent per party, and what it reveals
//! (nothing beyond its output unless stated). References: Araki, Furukawa, Lindell, Nof, Ohara,
//! CCS 2016; Mohassel, Rindal, "ABY3", CCS 2018; Mohassel, Zhang, "SecureML", S&P 2017 (the
//! truncation bound).

mod arith;
mod binary;
pub mod client;
mod engine_impl;
mod shuffle;

use mitsu_algebra::{Planes, Ring};
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_core::{Channel, CommStats, MpcError, PartyId, Payload, Result};

/// A party's replicated shares of a vector over `R`: `a` is component i, `b` is component i+1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AShare<R: Ring> {
    pub(crate) a: Vec<R>,
    pub(crate) b: Vec<R>,
}

impl<R: Ring> AShare<R> {
    /// Builds a share from its two components (as received from a dealing client).
    pub fn from_components(a: Vec<R>, b: Vec<R>) -> Result<Self> {
        if a.len() != b.len() {
            return Err(MpcError::invalid("share components of different lengths"));
        }
        Ok(AShare { a, b })
    }
    pub fn len(&self) -> usize {
        self.a.len()
    }
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }
    /// The component this party sends to a client that reconstructs a result (component i).
    pub fn for_client(&self) -> &[R] {
        &self.a
    }
    /// Consumes the share, keeping only the client's component (no copy).
    pub fn into_client(self) -> Vec<R> {
        self.a
    }
    /// Both components (for storage).
    pub fn components(&self) -> (&[R], &[R]) {
        (&self.a, &self.b)
    }
}

/// A party's replicated boolean shares: two component plane sets of equal shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BShare {
    pub(crate) a: Planes,
    pub(crate) b: Planes,
}

impl BShare {
    pub fn shape(&self) -> (usize, usize) {
        (self.a.nplanes(), self.a.n())
    }
    /// The component this party sends to a client that reconstructs a result (component i).
    pub fn for_client(&self) -> &Planes {
        &self.a
    }
    /// Consumes the share, keeping only the client's component.
    pub fn into_client(self) -> Planes {
        self.a
    }
}

/// One party of the replicated protocol.
pub struct Rep3 {
    pub(crate) id: PartyId,
    pub(crate) ch: Channel,
    /// PRG on k_i, shared with party i-1.
    pub(crate) prev: Prg,
    /// PRG on k_{i+1}, shared with party i+1.
    pub(crate) next: Prg,
    /// PRG on a seed common to all three parties.
    pub(crate) common: Prg,
    /// What this party's openings revealed, in order.
    pub(crate) opened: Vec<mitsu_mpc_core::Opened>,
}

impl std::fmt::Debug for Rep3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rep3({})", self.id)
    }
}

fn seed_word(s: Seed) -> u128 {
    u128::from_le_bytes(s.0)
}
fn word_seed(w: u128) -> Seed {
    Seed(w.to_le_bytes())
}

impl Rep3 {
    /// Sets up the correlated-randomness seeds over `ch`. One round; each party sends 48 bytes.
    /// Party i draws k_i and sends it to party i-1; every party contributes to the common seed, so
    /// no single party chooses it.
    pub fn setup(mut ch: Channel) -> Result<Rep3> {
        let me = ch.me();
        let k_mine = Seed::random();
        let c_mine = Seed::random();
        let sends = vec![
            (me.prev(), Payload::U128(vec![seed_word(k_mine), seed_word(c_mine)])),
            (me.next(), Payload::U128(vec![seed_word(c_mine)])),
        ];
        let mut got = ch.round(sends, &[me.next(), me.prev()])?.into_iter();
        let from_next: Vec<u128> = got.next().unwrap().into_ring(me.next(), 2)?;
        let from_prev: Vec<u128> = got.next().unwrap().into_ring(me.prev(), 1)?;
        let common = c_mine.xor(word_seed(from_next[1])).xor(word_seed(from_prev[0]));
        Ok(Rep3 {
            id: me,
            ch,
            prev: Prg::new(k_mine),
            next: Prg::new(word_seed(from_next[0])),
            common: Prg::new(common),
            opened: Vec::new(),
        })
    }

    pub fn id(&self) -> PartyId {
        self.id
    }
    pub fn comm_stats(&self) -> CommStats {
        self.ch.stats()
    }
}

pub(crate) fn check_len<R: Ring>(x: &AShare<R>, y: &AShare<R>, what: &str) -> Result<()> {
    if x.len() != y.len() {
        return Err(MpcError::invalid(format!("{what}: operands have lengths {} and {}", x.len(), y.len())));
    }
    Ok(())
}

/// Random planes with clear padding.
pub(crate) fn gen_planes(prg: &mut Prg, nplanes: usize, n: usize) -> Planes {
    let words = prg.gen_vec::<u64>(nplanes * n.div_ceil(64));
    let mut p = Planes::from_words(nplanes, n, vec![0; words.len()]).expect("shape");
    p.words_mut().copy_from_slice(&words);
    p.clear_padding();
    p
}

pub(crate) fn recv_planes(p: Payload, from: PartyId, nplanes: usize, n: usize) -> Result<Planes> {
    let words: Vec<u64> = p.into_ring(from, nplanes * n.div_ceil(64))?;
    Planes::from_words(nplanes, n, words)
        .ok_or_else(|| MpcError::PeerMisbehaved { party: from, what: "bit planes with padding bits set".into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mitsu_mpc_runtime::run3;

    // A malformed message from a peer must surface as an error naming that peer, never a panic.
    #[test]
    fn a_peer_sending_the_wrong_length_is_named() {
        let r = run3(|ch| -> Result<()> {
            let mut p = Rep3::setup(ch)?;
            let x = AShare { a: vec![1u64; 10], b: vec![2u64; 10] };
            if p.id == PartyId::P1 {
                // party 1 sends party 0 nine elements instead of ten
                p.ch.round(vec![(PartyId::P0, Payload::U64(vec![0; 9]))], &[])?;
                // stay until party 2's multiplication message arrives, so that party 2 and then
                // party 0 do not fail on a closed endpoint first
                let _ = p.ch.round(vec![], &[PartyId::P2]);
                return Ok(());
            }
            p.mul(&x, &x).map(|_| ())
        });
        let e0 = r[0].as_ref().unwrap_err().to_string();
        assert!(e0.contains("party 1 sent a malformed message: expected 10 elements, got 9"), "{e0}");
    }
}
