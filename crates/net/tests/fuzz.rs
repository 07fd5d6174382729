//! Property-based fuzzing of what a peer can send: the mesh's frame decoder. No input may panic;
//! what it allocates is bounded by what the sender actually sent (and by the stated limits), never
//! by a size it announces. (What a client can send the API is fuzzed against the real server in
//! `http.rs`.)
//!
//! CI runs a bounded number of cases; maintainers run longer with
//! `PROPTEST_CASES=200000 cargo test --release -p mitsu-net --test fuzz`.

use mitsu_mpc_core::{PartyId, Payload};
use mitsu_net::{Frame, FrameDecoder, encode_frames};
use proptest::prelude::*;
use std::io::Cursor;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(n),
        ..Default::default()
    }
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, String> {
    let mut d = FrameDecoder::default();
    let mut r = Cursor::new(bytes);
    let mut out = Vec::new();
    while let Some(f) = d.next(&mut r, PartyId::P1)? {
        out.push(f);
    }
    Ok(out)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        prop::collection::vec(any::<u64>(), 0..300).prop_map(Payload::U64),
        prop::collection::vec(any::<u128>(), 0..150).prop_map(Payload::U128),
    ]
}

/// A frame header: job, flags, length.
fn header(job: u64, flags: u8, len: u32) -> Vec<u8> {
    let mut h = job.to_le_bytes().to_vec();
    h.push(flags);
    h.extend_from_slice(&len.to_le_bytes());
    h
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn the_frame_decoder_survives_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = decode_all(&bytes);
    }

    #[test]
    fn the_frame_decoder_survives_mutated_messages(msgs in prop::collection::vec((any::<u64>(), payload(), any::<bool>()), 1..5),
                                                    flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
                                                    cut in any::<prop::sample::Index>()) {
        let mut bytes: Vec<u8> = msgs.iter().flat_map(|(j, p, c)| encode_frames(*j, p, *c)).collect();
        // untouched: every message comes back whole, in order
        let back: Vec<Frame> = decode_all(&bytes).unwrap().into_iter().filter(|f| *f != Frame::Partial).collect();
        let want: Vec<Frame> = msgs.iter().map(|(j, p, c)| Frame::Message { job: *j, payload: p.clone(), control: *c }).collect();
        prop_assert_eq!(back, want);
        // flipped bytes and a cut stream: an error or fewer messages, never a panic
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b | 1;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = decode_all(&bytes);
    }

    #[test]
    fn announced_sizes_do_not_allocate(job in any::<u64>(), total in any::<u64>(), tag in 0u8..3, starts in 1usize..10) {
        // headers announcing up to 2^64 bytes, then nothing: refused, or held with at most
        // 64 MiB reserved for each of at most MAX_PARTIAL messages
        let mut bytes = Vec::new();
        for k in 0..starts {
            bytes.extend(header(job.wrapping_add(k as u64), 2, 9));
            bytes.push(tag);
            bytes.extend_from_slice(&total.to_le_bytes());
        }
        let r = decode_all(&bytes);
        if starts > mitsu_net::MAX_PARTIAL {
            prop_assert!(r.is_err());
        }
    }
}
