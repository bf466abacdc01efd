//! The `verify_and_parse` fuzz target's body (`fuzz/`) on stable Rust, for a bounded number
//! of inputs: the docs' examples and signed-looking deliveries, mutated byte by byte with a
//! fixed seed, half of them signed by the fuzz body's test key so that the checks after the
//! signature run too. A panic anywhere fails the test; `cargo fuzz run verify_and_parse`
//! explores further with coverage guidance.

#[rustfmt::skip]
mod examples;

use highlevel_webhooks::fuzzing::{Reached, verify_and_parse};

/// xorshift64*: reproducible without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }
}

const ROUNDS: usize = 20_000;

#[test]
fn mutated_deliveries_never_panic() {
    let mut seeds: Vec<Vec<u8>> = examples::EXAMPLES
        .iter()
        .map(|(_, json)| {
            // The first byte chooses where the header ends: a plausible base64 signature.
            let mut input = vec![88];
            input.extend_from_slice(&[b'A'; 86]);
            input.extend_from_slice(b"==");
            input.extend_from_slice(json.as_bytes());
            input
        })
        .collect();
    // A first byte of 0: the fuzz body signs the body itself. The docs' examples carry no
    // `webhookId` (and few a `timestamp`): given both, they can get through every check.
    seeds.extend(examples::EXAMPLES.iter().enumerate().map(|(i, (_, json))| {
        let mut input = vec![0];
        input.extend_from_slice(
            format!(r#"{{"webhookId":"fuzz-{i}","timestamp":"2025-06-01T00:00:00Z","#).as_bytes(),
        );
        input.extend_from_slice(json.trim_start().trim_start_matches('{').as_bytes());
        input
    }));
    seeds.push(Vec::new());
    seeds.push(b"\x00{}".to_vec());
    seeds.push(b"\x05-----{\"timestamp\": 1e400, \"webhookId\": [], \"type\": {}}".to_vec());
    let mut reached = [0usize; 3];
    let mut rng = Rng(0x5EED_2026_1130);
    for round in 0..ROUNDS {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..=rng.below(8) {
            match rng.below(4) {
                0 if !input.is_empty() => {
                    let at = rng.below(input.len());
                    input[at] = rng.next() as u8;
                }
                1 => {
                    let at = rng.below(input.len() + 1);
                    input.insert(at, rng.next() as u8);
                }
                2 if !input.is_empty() => {
                    let at = rng.below(input.len());
                    input.remove(at);
                }
                _ => {
                    let at = rng.below(input.len() + 1);
                    let tail = input.split_off(at);
                    input.extend_from_slice(b"{\"type\":\"INSTALL\",\"x\":[[[[");
                    input.extend(tail);
                }
            }
        }
        let index = match verify_and_parse(&input) {
            Reached::Signature => 0,
            Reached::Checks => 1,
            _ => 2,
        };
        reached[index] += 1;
    }
    // The code after the signature check is exercised, not only the refusals before it: the
    // signed seeds keep a valid signature whatever the mutations, and some still parse.
    let [refused, checks, deliveries] = reached;
    assert!(refused > ROUNDS / 4, "{reached:?}");
    assert!(checks > ROUNDS / 20, "{reached:?}");
    assert!(deliveries > ROUNDS / 100, "{reached:?}");
}
