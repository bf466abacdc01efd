//! The cryptography of the signature checks: ring (the default `ring` feature, quick to build)
//! or aws-lc-rs (the `aws-lc-rs` feature, for FIPS builds; used when both are on).

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "highlevel-webhooks checks signatures with ring or aws-lc-rs: enable its `ring` (default) \
     or `aws-lc-rs` feature"
);

#[cfg(feature = "aws-lc-rs")]
pub(crate) use aws_lc_rs::signature;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub(crate) use ring::signature;

/// A public key for one signature algorithm, read once.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    #[cfg(feature = "aws-lc-rs")]
    key: signature::ParsedPublicKey,
    // ring checks a key when it verifies; its structure is checked here before (see `rsa`).
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    key: signature::UnparsedPublicKey<Vec<u8>>,
}

impl VerifyingKey {
    /// An Ed25519 key from its 32 raw bytes.
    pub(crate) fn ed25519(raw: [u8; 32]) -> Result<Self, String> {
        #[cfg(feature = "aws-lc-rs")]
        let key = signature::ParsedPublicKey::new(&signature::ED25519, raw)
            .map_err(|e| format!("not an Ed25519 point ({e})"))?;
        #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
        let key = signature::UnparsedPublicKey::new(&signature::ED25519, raw.to_vec());
        Ok(Self { key })
    }

    /// An RSA key for PKCS#1 v1.5 SHA-256 signatures from its DER SubjectPublicKeyInfo, with
    /// its modulus length in bits.
    pub(crate) fn rsa_pkcs1_sha256(spki: &[u8]) -> Result<(Self, usize), String> {
        let (rsa_public_key, bits) =
            rsa_public_key(spki).ok_or_else(|| "not a DER RSA SubjectPublicKeyInfo".to_string())?;
        #[cfg(feature = "aws-lc-rs")]
        let key = {
            let _ = rsa_public_key;
            signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, spki)
                .map_err(|e| format!("not usable for RSA-SHA256 ({e})"))?
        };
        #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
        let key = signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            rsa_public_key.to_vec(),
        );
        Ok((Self { key }, bits))
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        #[cfg(feature = "aws-lc-rs")]
        return self.key.verify_sig(message, signature).is_ok();
        #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
        return self.key.verify(message, signature).is_ok();
    }
}

/// The DER of rsaEncryption's object identifier (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The PKCS#1 `RSAPublicKey` inside an RSA SubjectPublicKeyInfo, and its modulus length in
/// bits; `None` when `spki` is not one. ring takes the inner key only, and both need the
/// modulus length (a signature is exactly as long).
fn rsa_public_key(spki: &[u8]) -> Option<(&[u8], usize)> {
    const SEQUENCE: u8 = 0x30;
    let (info, rest) = der(spki, SEQUENCE)?;
    let (algorithm, info) = der(info, SEQUENCE)?;
    let (oid, _parameters) = der(algorithm, 0x06)?;
    let (bits, after) = der(info, 0x03)?;
    if !rest.is_empty() || !after.is_empty() || oid != RSA_ENCRYPTION {
        return None;
    }
    // A BIT STRING starts with its count of unused bits, which is 0 for a key.
    let (&0, rsa_public_key) = bits.split_first()? else {
        return None;
    };
    let (numbers, rest) = der(rsa_public_key, SEQUENCE)?;
    let (modulus, numbers) = der(numbers, 0x02)?;
    let (exponent, numbers) = der(numbers, 0x02)?;
    if !rest.is_empty() || !numbers.is_empty() || exponent.is_empty() {
        return None;
    }
    let first = modulus.iter().position(|&b| b != 0)?;
    let modulus = &modulus[first..];
    let top_bits = 8 - modulus.first()?.leading_zeros() as usize;
    Some((rsa_public_key, (modulus.len() - 1) * 8 + top_bits))
}

/// One DER element of `tag` at the start of `input`: its content and what follows it.
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, input) = input.split_first()?;
    let (&length, mut input) = input.split_first()?;
    if found != tag {
        return None;
    }
    let length = if length < 0x80 {
        usize::from(length)
    } else {
        let count = usize::from(length & 0x7f);
        if !(1..=4).contains(&count) {
            return None;
        }
        let (bytes, rest) = input.split_at_checked(count)?;
        input = rest;
        bytes
            .iter()
            .fold(0usize, |length, &b| (length << 8) | usize::from(b))
    };
    input.split_at_checked(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_elements_are_read_in_short_and_long_form_and_never_past_the_input() {
        assert_eq!(
            der(&[0x02, 0x01, 0x05, 0xff], 0x02),
            Some((&[5u8][..], &[0xffu8][..]))
        );
        let long = [&[0x04u8, 0x81, 0x80][..], &[7; 128]].concat();
        assert_eq!(
            der(&long, 0x04).map(|(c, r)| (c.len(), r.len())),
            Some((128, 0))
        );
        assert_eq!(der(&[0x02, 0x01, 0x05], 0x30), None, "another tag");
        assert_eq!(
            der(&[0x02, 0x05, 0x05], 0x02),
            None,
            "shorter than its length"
        );
        assert_eq!(
            der(&[0x02, 0x85, 1, 1, 1, 1, 1], 0x02),
            None,
            "a 5-byte length"
        );
        assert_eq!(der(&[0x02, 0x84, 0xff, 0xff, 0xff, 0xff], 0x02), None);
        assert_eq!(der(&[0x02], 0x02), None);
        assert_eq!(der(&[], 0x02), None);
    }

    #[test]
    fn an_rsa_key_info_gives_its_inner_key_and_modulus_bits() {
        // SPKI { rsaEncryption, NULL } BIT STRING { RSAPublicKey { n = 0x00c1 (8 bits), e = 3 } }
        let inner = [0x30, 0x07, 0x02, 0x02, 0x00, 0xc1, 0x02, 0x01, 0x03];
        let algorithm = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let bit_string = [&[0x03, 0x0a, 0x00][..], &inner].concat();
        let body = [&algorithm[..], &bit_string].concat();
        let spki = [&[0x30, body.len() as u8][..], &body].concat();
        assert_eq!(rsa_public_key(&spki), Some((&inner[..], 8)));

        let mut other_algorithm = spki.clone();
        other_algorithm[12] = 0x0b; // sha256WithRSAEncryption, not a key type
        assert_eq!(rsa_public_key(&other_algorithm), None);
        let trailing = [&spki[..], &[0]].concat();
        assert_eq!(rsa_public_key(&trailing), None);
        for cut in 0..spki.len() {
            assert_eq!(rsa_public_key(&spki[..cut]), None, "cut at {cut}");
        }
    }
}
