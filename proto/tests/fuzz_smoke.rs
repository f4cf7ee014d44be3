//! A bounded, deterministic mutation fuzzer for CI: every packet vector (ILP and BTP, valid or
//! not) is mutated a few hundred times (bit flips, byte overwrites with boundary values,
//! truncation, insertion, deletion, length-byte tweaks, chunk duplication) and fed to every
//! decoder. Nothing may panic, and whatever decodes must re-encode to bytes that decode to the
//! same value. The real fuzzing is in proto/fuzz (cargo fuzz); this keeps the cheap part of it
//! running on every commit. Runs in well under 5 s in a debug build.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use proto::btp::BtpPacket;
use proto::ilp::{Fulfill, Packet, Prepare, Reject};
use proto::{Timestamp, oer};

/// Mutants per seed: with the 75 packet vectors, 60k mutants (~0.3 s in debug).
const MUTANTS_PER_SEED: usize = 800;

/// splitmix64: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Values that sit on OER boundaries: short/long form, indefinite, max lengths.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x02, 0x03, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x0e, 0x11, 0x20, 0x30, 0x39, 0x3a, 0x7e,
    0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x88, 0x89, 0xfe, 0xff,
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => data.truncate(rng.below(len + 1)),
            3 => {
                let i = rng.below(len + 1);
                for _ in 0..1 + rng.below(4) {
                    data.insert(i, rng.byte());
                }
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                data.drain(i..i + n);
            }
            // Length-byte tweak: nudge a small byte (likely a length) by ±1..3, or turn it
            // into its long form.
            5 if len > 0 => {
                let i = rng.below(len.min(12));
                let delta = 1 + rng.below(3) as u8;
                data[i] = if rng.below(2) == 0 {
                    data[i].wrapping_add(delta)
                } else {
                    data[i].wrapping_sub(delta)
                };
            }
            6 if len > 1 => {
                let i = rng.below(len);
                if data[i] < 0x80 {
                    let v = data[i];
                    data[i] = 0x81;
                    data.insert(i + 1, v);
                }
            }
            7 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                let chunk = data[i..i + n].to_vec();
                let at = rng.below(data.len() + 1);
                data.splice(at..at, chunk);
            }
            _ => data.push(rng.byte()),
        }
    }
    data
}

/// Runs every decoder on `input`; the error names the first broken property.
fn exercise(input: &[u8]) -> Result<(), String> {
    let bytes = Bytes::copy_from_slice(input);
    if let Ok(packet) = Packet::decode(bytes.clone()) {
        let wire = packet.encode();
        if input.get(..wire.len()) != Some(&wire[..]) {
            return Err("ILP encoding is not the input's envelope".into());
        }
        if Packet::decode(wire).as_ref() != Ok(&packet) {
            return Err("ILP re-decode differs".into());
        }
    }
    let _ = Prepare::decode(bytes.clone());
    let _ = Fulfill::decode(bytes.clone());
    let _ = Reject::decode(bytes.clone());
    if let Ok(packet) = BtpPacket::decode(bytes) {
        let wire = packet.encode();
        // Errors may hold a non-`.fffZ` GeneralizedTime, which re-encodes longer.
        if !matches!(packet, BtpPacket::Error { .. }) && wire != input {
            return Err("BTP encoding differs from the input".into());
        }
        if BtpPacket::decode(Bytes::from(wire)).as_ref() != Ok(&packet) {
            return Err("BTP re-decode differs".into());
        }
        // ILP carried inside BTP goes through the ILP decoder too.
        for entry in packet.protocol_data() {
            let _ = Packet::decode(entry.data.clone());
        }
    }
    let _ = oer::read_length(input);
    let _ = oer::read_var_uint(input);
    let _ = Timestamp::parse_ilp(input);
    if let Ok(text) = std::str::from_utf8(input) {
        let _ = Timestamp::parse_generalized(text);
    }
    Ok(())
}

#[test]
fn mutated_vectors_never_panic_and_round_trip() {
    let (ilp, btp) = common::packet_seeds();
    let seeds: Vec<_> = ilp.into_iter().chain(btp).collect();
    assert!(seeds.len() >= 70, "expected all packet vectors as seeds");
    let mut rng = Rng(0x5eed_1a7e_0fc0_ffee);
    let mut decoded_ok = 0usize;
    let mut runs = 0usize;
    for (name, seed) in &seeds {
        for _ in 0..MUTANTS_PER_SEED {
            let input = mutate(&mut rng, seed);
            let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&input)));
            runs += 1;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(broken)) => {
                    panic!("{broken}: seed {name}, input {}", hex::encode(&input))
                }
                Err(_) => panic!(
                    "decoder panicked: seed {name}, input {}",
                    hex::encode(&input)
                ),
            }
            let b = Bytes::from(input);
            decoded_ok += usize::from(Packet::decode(b.clone()).is_ok());
            decoded_ok += usize::from(BtpPacket::decode(b).is_ok());
        }
    }
    eprintln!("{runs} mutants, {decoded_ok} decoded");
    assert!(runs >= 25_000, "only {runs} mutants");
    // Guard against a mutator so destructive that nothing ever decodes.
    assert!(
        decoded_ok > runs / 50,
        "only {decoded_ok} of {runs} mutants decoded"
    );
}

#[test]
fn unmutated_vectors_pass_the_same_checks() {
    let (ilp, btp) = common::packet_seeds();
    for (name, seed) in ilp.iter().chain(&btp) {
        if let Err(broken) = exercise(seed) {
            panic!("{name}: {broken}");
        }
    }
}
