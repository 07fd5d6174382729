//! Messages between parties and the channel protocol code talks through.

use crate::{MpcError, PartyId, Result};
use mitsu_algebra::Ring;
use std::any::Any;

/// A message body: a vector of 64- or 128-bit words. Keeping the element type lets the in-memory
/// transport move vectors between threads without copying; a network transport writes the words
/// little-endian behind a one-byte tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    U64(Vec<u64>),
    U128(Vec<u128>),
}

impl Payload {
    /// Wraps ring elements (no copy).
    pub fn from_ring<R: Ring>(v: Vec<R>) -> Payload {
        let b: Box<dyn Any> = Box::new(v);
        match b.downcast::<Vec<u64>>() {
            Ok(v) => Payload::U64(*v),
            Err(b) => match b.downcast::<Vec<u128>>() {
                Ok(v) => Payload::U128(*v),
                Err(_) => unreachable!("Ring is implemented only for u64 and u128"),
            },
        }
    }

    /// Unwraps ring elements of type `R`, checking the type and the length.
    pub fn into_ring<R: Ring>(self, from: PartyId, expected_len: usize) -> Result<Vec<R>> {
        let (b, kind, len): (Box<dyn Any>, &str, usize) = match self {
            Payload::U64(v) => {
                let l = v.len();
                (Box::new(v), "Z64", l)
            }
            Payload::U128(v) => {
                let l = v.len();
                (Box::new(v), "Z128", l)
            }
        };
        if len != expected_len {
            return Err(MpcError::PeerMisbehaved {
                party: from,
                what: format!("expected {expected_len} elements, got {len}"),
            });
        }
        b.downcast::<Vec<R>>().map(|v| *v).map_err(|_| MpcError::PeerMisbehaved {
            party: from,
            what: format!("expected {} elements, got {kind}", R::NAME),
        })
    }

    /// Size on the wire in bytes (payload only).
    pub fn byte_len(&self) -> usize {
        match self {
            Payload::U64(v) => v.len() * 8,
            Payload::U128(v) => v.len() * 16,
        }
    }

    /// Serialises for a byte stream: tag, then little-endian words.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.byte_len());
        match self {
            Payload::U64(v) => {
                out.push(0);
                out.extend_from_slice(bytemuck::cast_slice(v));
            }
            Payload::U128(v) => {
                out.push(1);
                out.extend_from_slice(bytemuck::cast_slice(v));
            }
        }
        out
    }

    /// Parses [`Payload::to_bytes`] output; malformed input is an error, never a panic.
    pub fn from_bytes(b: &[u8], from: PartyId) -> Result<Payload> {
        let bad = |what: &str| MpcError::PeerMisbehaved { party: from, what: what.to_string() };
        let (&tag, body) = b.split_first().ok_or_else(|| bad("empty message"))?;
        match tag {
            // bulk copies (the body need not be aligned for the element type)
            0 if body.len() % 8 == 0 => Ok(Payload::U64(bytemuck::pod_collect_to_vec(body))),
            1 if body.len() % 16 == 0 => Ok(Payload::U128(bytemuck::pod_collect_to_vec(body))),
            0 | 1 => Err(bad("message length is not a whole number of words")),
            _ => Err(bad("unknown payload tag")),
        }
    }
}

/// Moves payloads between parties. Implemented by the runtime (in-memory, TLS); protocol code only
/// sees it through a [`Channel`]. Messages between a pair of parties arrive in the order sent.
pub trait Transport: Send {
    fn send(&mut self, to: PartyId, msg: Payload) -> Result<()>;
    fn recv(&mut self, from: PartyId) -> Result<Payload>;
}

/// Communication cost counters of one party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommStats {
    /// Payload bytes this party sent.
    pub bytes_sent: u64,
    /// Communication rounds this party took part in.
    pub rounds: u64,
    /// Messages this party sent.
    pub messages: u64,
}

impl CommStats {
    pub fn since(&self, earlier: &CommStats) -> CommStats {
        CommStats {
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            rounds: self.rounds - earlier.rounds,
            messages: self.messages - earlier.messages,
        }
    }
}

/// What protocol code talks through: one call of [`Channel::round`] is one communication round.
pub struct Channel {
    me: PartyId,
    transport: Box<dyn Transport>,
    stats: CommStats,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel({}, {:?})", self.me, self.stats)
    }
}

impl Channel {
    pub fn new(me: PartyId, transport: Box<dyn Transport>) -> Channel {
        Channel { me, transport, stats: CommStats::default() }
    }
    pub fn me(&self) -> PartyId {
        self.me
    }
    pub fn stats(&self) -> CommStats {
        self.stats
    }

    /// One round: send every message, then receive one message from each party in `recv_from`.
    pub fn round(&mut self, sends: Vec<(PartyId, Payload)>, recv_from: &[PartyId]) -> Result<Vec<Payload>> {
        if sends.is_empty() && recv_from.is_empty() {
            return Ok(vec![]);
        }
        self.stats.rounds += 1;
        for (to, msg) in sends {
            self.stats.bytes_sent += msg.byte_len() as u64;
            self.stats.messages += 1;
            self.transport.send(to, msg)?;
        }
        recv_from.iter().map(|&p| self.transport.recv(p)).collect()
    }

    /// Typed convenience: send ring elements to `to` (if any) and receive `n` from `from` (if any).
    pub fn exchange<R: Ring>(
        &mut self,
        send: Option<(PartyId, Vec<R>)>,
        recv: Option<(PartyId, usize)>,
    ) -> Result<Option<Vec<R>>> {
        let sends = send.map(|(p, v)| vec![(p, Payload::from_ring(v))]).unwrap_or_default();
        let from: Vec<PartyId> = recv.iter().map(|r| r.0).collect();
        let mut got = self.round(sends, &from)?;
        match recv {
            Some((p, n)) => Ok(Some(got.pop().expect("one message").into_ring(p, n)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_rejects_garbage() {
        let p = Payload::from_ring(vec![1u128, u128::MAX]);
        let b = p.to_bytes();
        assert_eq!(Payload::from_bytes(&b, PartyId::P1).unwrap(), p);
        assert!(Payload::from_bytes(&b[..5], PartyId::P1).is_err());
        assert!(Payload::from_bytes(&[9, 0, 0], PartyId::P1).is_err());
        assert!(Payload::from_bytes(&[], PartyId::P1).is_err());
        let err = Payload::from_ring(vec![1u64]).into_ring::<u128>(PartyId::P2, 1).unwrap_err();
        assert!(err.to_string().contains("party 2"), "{err}");
        assert!(Payload::from_ring(vec![1u64]).into_ring::<u64>(PartyId::P2, 2).is_err());
    }
}
