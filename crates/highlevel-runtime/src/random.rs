//! Random values: the OAuth `state`, which must be unguessable, and the names that must only
//! be unique (lease holders, lock tokens, temporary files, Redis members).
//!
//! Both come from what the build already has instead of a UUID crate: the rustls provider's
//! CSPRNG (the operating system's, under ring and aws-lc-rs), and std's hash keys.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::tls::{self, TlsError};

/// `bytes` bytes from the rustls provider's CSPRNG, as lowercase hex.
///
/// # Errors
///
/// [`TlsError::NoCryptoProvider`] when no provider is installed nor compiled in;
/// [`TlsError::Config`] when the provider cannot read the system's randomness.
pub(crate) fn secure_hex(bytes: usize) -> Result<String, TlsError> {
    let mut buffer = vec![0; bytes];
    tls::crypto_provider()?
        .secure_random
        .fill(&mut buffer)
        .map_err(|_| TlsError::Config("the system's random source failed".into()))?;
    Ok(hex(&buffer))
}

/// 128 bits, as 32 lowercase hex characters, that no other call in any process returns.
///
/// Uniqueness is all its callers need, so it cannot fail: std seeds each thread's hash keys
/// from the operating system's randomness, and every `RandomState` after the first moves them
/// on. Two keyed hashes of a process-wide counter give the 128 bits. Not for secrets: use
/// [`secure_hex`].
pub(crate) fn unique_hex() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let keys = RandomState::new();
    let half = |lane: u8| {
        let mut hasher = keys.build_hasher();
        hasher.write_u8(lane);
        hasher.write_u64(call);
        hasher.write_u32(std::process::id());
        hasher.finish()
    };
    let mut unique = String::with_capacity(32);
    for lane in [0, 1] {
        let _ = write!(unique, "{:016x}", half(lane));
    }
    unique
}

fn hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn is_lower_hex(text: &str) -> bool {
        text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn unique_values_do_not_repeat_across_threads() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..5_000).map(|_| unique_hex()).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for thread in threads {
            for value in thread.join().expect("no panic") {
                assert_eq!(value.len(), 32);
                assert!(is_lower_hex(&value), "{value}");
                assert!(seen.insert(value.clone()), "{value} came twice");
            }
        }
        assert_eq!(seen.len(), 20_000);
    }

    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    #[test]
    fn secure_values_have_the_length_asked_and_differ() {
        let first = secure_hex(32).expect("a compiled provider");
        let second = secure_hex(32).expect("a compiled provider");
        assert_eq!(first.len(), 64);
        assert!(is_lower_hex(&first), "{first}");
        assert_ne!(first, second);
        // 256 bits that are all zero would mean the buffer was never filled.
        assert_ne!(first, "0".repeat(64));
    }

    #[test]
    fn hex_is_two_lowercase_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }
}
