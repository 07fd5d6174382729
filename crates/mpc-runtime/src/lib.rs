//! The runtime side of the sans-IO split: protocol crates hand messages to a
//! [`mitsu_mpc_core::Channel`]; this crate supplies the [`Transport`] underneath.
//!
//! * [`MemoryTransport`]: the three parties as threads of one process, messages moved through
//!   channels without copying. Used by tests, benchmarks and the in-process demo.
//! * [`run3`]: runs one closure per party on its own thread and collects the results. A party that
//!   fails or panics drops its endpoints, so its peers get an error naming it instead of hanging.

use mitsu_mpc_core::{Channel, MpcError, PartyId, Payload, Result, Transport};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// How long a party waits for a peer's message before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// One party's end of an in-memory mesh.
#[derive(Debug)]
pub struct MemoryTransport {
    me: PartyId,
    to: [Option<Sender<Payload>>; 3],
    from: [Option<Receiver<Payload>>; 3],
    timeout: Duration,
}

impl MemoryTransport {
    /// A fully connected mesh of three endpoints.
    pub fn mesh() -> [MemoryTransport; 3] {
        let mut ends: Vec<MemoryTransport> = PartyId::ALL
            .iter()
            .map(|&me| MemoryTransport {
                me,
                to: [None, None, None],
                from: [None, None, None],
                timeout: DEFAULT_TIMEOUT,
            })
            .collect();
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    let (tx, rx) = channel();
                    ends[i].to[j] = Some(tx);
                    ends[j].from[i] = Some(rx);
                }
            }
        }
        let mut it = ends.into_iter();
        [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
    }

    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

impl Transport for MemoryTransport {
    fn send(&mut self, to: PartyId, msg: Payload) -> Result<()> {
        let tx =
            self.to[to.index()].as_ref().ok_or_else(|| MpcError::Internal(format!("{} sent to itself", self.me)))?;
        tx.send(msg)
            .map_err(|_| MpcError::PeerUnreachable { party: to, what: "it stopped (its endpoint is closed)".into() })
    }

    fn recv(&mut self, from: PartyId) -> Result<Payload> {
        let rx = self.from[from.index()]
            .as_ref()
            .ok_or_else(|| MpcError::Internal(format!("{} received from itself", self.me)))?;
        rx.recv_timeout(self.timeout).map_err(|e| MpcError::PeerUnreachable {
            party: from,
            what: match e {
                RecvTimeoutError::Timeout => format!("no message within {:?}", self.timeout),
                RecvTimeoutError::Disconnected => "it stopped (its endpoint is closed)".into(),
            },
        })
    }
}

/// Runs `f` once per party, each on its own thread with its own [`Channel`], and returns the three
/// results in party order. Panics in a party are propagated after all threads have ended.
pub fn run3<T, F>(f: F) -> [T; 3]
where
    T: Send,
    F: Fn(Channel) -> T + Sync,
{
    run3_with([(), (), ()], |ch, ()| f(ch))
}

/// Like [`run3`], handing party `i` the value `inputs[i]` (its private input, moved, not shared).
pub fn run3_with<I, T, F>(inputs: [I; 3], f: F) -> [T; 3]
where
    I: Send,
    T: Send,
    F: Fn(Channel, I) -> T + Sync,
{
    let ends = MemoryTransport::mesh();
    std::thread::scope(|s| {
        let handles: Vec<_> = ends
            .into_iter()
            .zip(inputs)
            .map(|(t, inp)| {
                let f = &f;
                let me = t.me;
                std::thread::Builder::new()
                    .name(format!("party-{}", me.index()))
                    // a quarter of a party worker's stack (mitsu-query's STACK_BYTES): the deepest
                    // query allowed must fit in it
                    .stack_size(16 << 20)
                    .spawn_scoped(s, move || f(Channel::new(me, Box::new(t)), inp))
                    .expect("spawning a party thread")
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        let mut out = Vec::with_capacity(3);
        for r in results {
            match r {
                Ok(v) => out.push(v),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        let mut it = out.into_iter();
        [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_flow_and_a_dead_peer_is_named() {
        let r = run3(|mut ch| {
            let me = ch.me();
            if me == PartyId::P2 {
                return Err(MpcError::invalid("party 2 gives up"));
            }
            // P0 sends to P1, then waits for P2; P1 only listens to P0.
            let send = (me == PartyId::P0).then(|| (PartyId::P1, vec![7u64]));
            let from = if me == PartyId::P0 { PartyId::P2 } else { PartyId::P0 };
            let got = ch.exchange::<u64>(send, Some((from, 1)))?;
            Ok(got.unwrap()[0])
        });
        // P1 hears from P0; P0 waits for P2, which has stopped.
        let e = r[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("party 2") && e.contains("stopped"), "{e}");
        assert_eq!(*r[1].as_ref().unwrap(), 7);
    }
}
