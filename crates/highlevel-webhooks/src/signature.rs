//! Signature checks over the raw body: Ed25519 (`x-ghl-signature`) and the legacy
//! RSA-SHA256 PKCS#1 v1.5 scheme (`x-wh-signature`), both base64.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::VerifyingKey;

/// The header of the current scheme.
pub const ED25519_HEADER: &str = "x-ghl-signature";
/// The header of the legacy scheme.
pub const RSA_HEADER: &str = "x-wh-signature";

/// HighLevel's public key for `x-wh-signature`, as `docs/oauth/WebhookAuthentication.md`
/// prints it.
pub const HIGHLEVEL_RSA_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key follows it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// An Ed25519 signature's length in bytes.
const ED25519_SIGNATURE_LEN: usize = 64;

/// Which signature verified a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Ed25519 in `x-ghl-signature`.
    Ed25519,
    /// RSA-SHA256 (PKCS#1 v1.5) in `x-wh-signature`.
    Rsa,
}

impl Scheme {
    /// The header carrying this scheme's signature.
    pub fn header(self) -> &'static str {
        match self {
            Self::Ed25519 => ED25519_HEADER,
            Self::Rsa => RSA_HEADER,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ed25519 => "Ed25519 (x-ghl-signature)",
            Self::Rsa => "RSA-SHA256 (x-wh-signature)",
        })
    }
}

/// A public key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyError {
    /// Which key.
    pub scheme: Scheme,
    /// Why.
    pub reason: String,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} public key: {}", self.scheme, self.reason)
    }
}

impl std::error::Error for KeyError {}

/// An Ed25519 public key (32 bytes), parsed once.
#[derive(Clone)]
pub struct Ed25519Key {
    raw: [u8; 32],
    parsed: VerifyingKey,
}

impl PartialEq for Ed25519Key {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Ed25519Key {}

impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Key({})", hex(&self.raw))
    }
}

impl Ed25519Key {
    /// Reads a key given as PEM (`-----BEGIN PUBLIC KEY-----`), base64 or hex, either the raw
    /// 32 bytes or a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// When the text is none of those, or not an Ed25519 key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let fail = |reason: String| KeyError {
            scheme: Scheme::Ed25519,
            reason,
        };
        let text = text.trim();
        let bytes = if text.starts_with("-----BEGIN") {
            pem_body(text).map_err(fail)?
        } else if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            unhex(text).ok_or_else(|| fail("not hex".into()))?
        } else {
            STANDARD
                .decode(text)
                .map_err(|e| fail(format!("not PEM, hex or base64 ({e})")))?
        };
        let raw = match bytes.len() {
            32 => bytes.as_slice(),
            44 if bytes.starts_with(&ED25519_SPKI_PREFIX) => &bytes[12..],
            n => {
                return Err(fail(format!(
                    "{n} bytes; an Ed25519 key is 32 bytes (or a 44-byte SubjectPublicKeyInfo)"
                )));
            }
        };
        let mut key = [0; 32];
        key.copy_from_slice(raw);
        let parsed = VerifyingKey::ed25519(key).map_err(fail)?;
        Ok(Self { raw: key, parsed })
    }

    fn verify(&self, body: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify(body, signature)
    }
}

/// An RSA public key for the legacy scheme, parsed once.
#[derive(Clone)]
pub struct RsaKey {
    der: Vec<u8>,
    parsed: Option<VerifyingKey>,
    /// The modulus length in bytes, which a PKCS#1 v1.5 signature has exactly.
    signature_len: usize,
}

impl PartialEq for RsaKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for RsaKey {}

impl fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaKey({} DER bytes)", self.der.len())
    }
}

impl RsaKey {
    /// HighLevel's documented key.
    pub fn highlevel() -> Self {
        // The bundled constant is checked by a test; an unreadable one is a build defect.
        Self::parse(HIGHLEVEL_RSA_PUBLIC_KEY).unwrap_or(Self {
            der: Vec::new(),
            parsed: None,
            signature_len: 0,
        })
    }

    /// Reads a key given as PEM (`-----BEGIN PUBLIC KEY-----`) or as base64 of its DER.
    ///
    /// # Errors
    ///
    /// When the text is neither, or not an RSA key of 2048 to 8192 bits.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let fail = |reason: String| KeyError {
            scheme: Scheme::Rsa,
            reason,
        };
        let text = text.trim();
        let der = if text.starts_with("-----BEGIN") {
            pem_body(text).map_err(fail)?
        } else {
            STANDARD
                .decode(text)
                .map_err(|e| fail(format!("not PEM or base64 ({e})")))?
        };
        // A key that cannot verify anything is reported now, not at the first delivery.
        let (parsed, bits) = VerifyingKey::rsa_pkcs1_sha256(&der).map_err(fail)?;
        if !(2048..=8192).contains(&bits) {
            return Err(fail(format!("{bits} bits; 2048 to 8192 are accepted")));
        }
        Ok(Self {
            der,
            parsed: Some(parsed),
            signature_len: bits.div_ceil(8),
        })
    }

    fn verify(&self, body: &[u8], signature: &[u8]) -> bool {
        self.parsed
            .as_ref()
            .is_some_and(|key| key.verify(body, signature))
    }
}

/// What a signature check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Valid,
    Invalid,
}

/// Checks `signature` (base64, as the header carries it) over `body`.
pub(crate) fn check(
    scheme: Scheme,
    ed25519: Option<&Ed25519Key>,
    rsa: Option<&RsaKey>,
    body: &[u8],
    signature: &str,
) -> Result<Check, crate::WebhookError> {
    let malformed = crate::WebhookError::MalformedSignature { scheme };
    let decoded = STANDARD
        .decode(signature.trim())
        .map_err(|_| malformed.clone())?;
    // A signature of the wrong length is malformed, as `MalformedSignature` documents: it
    // cannot be any key's signature, so it says nothing about the body.
    let valid = match scheme {
        Scheme::Ed25519 => {
            let key = ed25519.ok_or(crate::WebhookError::NoKey { scheme })?;
            if decoded.len() != ED25519_SIGNATURE_LEN {
                return Err(malformed);
            }
            key.verify(body, &decoded)
        }
        Scheme::Rsa => {
            let key = rsa.ok_or(crate::WebhookError::NoKey { scheme })?;
            if decoded.len() != key.signature_len {
                return Err(malformed);
            }
            key.verify(body, &decoded)
        }
    };
    Ok(if valid { Check::Valid } else { Check::Invalid })
}

fn pem_body(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----") && !line.is_empty())
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| format!("the PEM body is not base64 ({e})"))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::signature::{Ed25519KeyPair, KeyPair as _};

    #[test]
    fn the_bundled_key_is_highlevels_4096_bit_rsa_key() {
        let key = RsaKey::parse(HIGHLEVEL_RSA_PUBLIC_KEY).expect("bundled key parses");
        assert_eq!(key, RsaKey::highlevel());
        assert!(
            key.der.len() > 500,
            "a 4096-bit key: {} DER bytes",
            key.der.len()
        );
        assert!(key.parsed.is_some());
    }

    #[test]
    fn ed25519_keys_are_read_as_pem_base64_or_hex_raw_or_spki() {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("key");
        let raw = pair.public_key().as_ref().to_vec();
        let mut spki = ED25519_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(&raw);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(&spki)
        );
        let expected = Ed25519Key::parse(&hex(&raw)).expect("hex");
        for text in [
            pem,
            STANDARD.encode(&raw),
            STANDARD.encode(&spki),
            hex(&spki),
            hex(&raw).to_uppercase(),
        ] {
            assert_eq!(
                Ed25519Key::parse(&text).expect("parses"),
                expected,
                "{text}"
            );
        }
        for bad in ["", "zz", "not a key at all!", &STANDARD.encode([1u8; 31])] {
            let error = Ed25519Key::parse(bad).expect_err(bad);
            assert_eq!(error.scheme, Scheme::Ed25519);
        }
    }

    #[test]
    fn rsa_keys_that_cannot_verify_are_refused_when_configured() {
        assert!(
            RsaKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err()
        );
        assert!(RsaKey::parse("not base64 !").is_err());
    }
}
