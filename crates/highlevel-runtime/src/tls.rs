//! TLS: which cryptography rustls runs on, and the certificate authorities that connections
//! to the shared stores trust (Redis `rediss://` and PostgreSQL's `sslmode`).
//!
//! reqwest is built without a rustls provider, so that the cryptography is chosen once, here:
//! ring with the `ring` feature (the default; it builds in a fraction of aws-lc-rs's time) or
//! aws-lc-rs with `aws-lc-rs` (for FIPS builds), aws-lc-rs when both are on. The facade
//! installs it as rustls's process-wide provider before it builds its HTTP clients
//! ([`install_crypto_provider`]); a provider the application installed first stays.
//! PostgreSQL's configuration gets the provider passed explicitly; redis builds its own on the
//! process-wide one, which [`crate::redis::connect`] installs for a `rediss://` URL.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Certificate authorities to trust instead of the system's, parsed from PEM.
///
/// Certificates are public, so [`Debug`] shows how many there are; it never holds a key.
///
/// ```
/// # fn example(pem: &[u8]) -> Result<(), highlevel_runtime::tls::TlsError> {
/// use highlevel_runtime::tls::TrustedRoots;
///
/// let roots = TrustedRoots::from_pem(pem)?; // e.g. std::fs::read("ca.pem")
/// # let _ = roots;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TrustedRoots {
    /// The PEM as given: what redis's TLS builder takes.
    pem: Arc<[u8]>,
    certificates: Arc<[CertificateDer<'static>]>,
}

impl TrustedRoots {
    /// Parses every `CERTIFICATE` section of `pem` (other sections are skipped).
    ///
    /// # Errors
    ///
    /// [`TlsError::InvalidPem`] when a section is malformed, [`TlsError::NoCertificate`] when
    /// the PEM holds no certificate.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        let pem = pem.as_ref();
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::InvalidPem(e.to_string()))?;
        if certificates.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        // Each must be usable as a trust anchor, so that a bad one fails here and not at the
        // first handshake.
        roots_of(&certificates)?;
        Ok(Self {
            pem: pem.into(),
            certificates: certificates.into(),
        })
    }

    /// How many certificates are trusted.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// Always `false`: [`TrustedRoots::from_pem`] refuses a PEM without a certificate.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    #[cfg(all(test, any(feature = "redis", feature = "postgres")))]
    pub(crate) fn unchecked_for_tests() -> Self {
        Self {
            pem: Vec::new().into(),
            certificates: Vec::new().into(),
        }
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn pem(&self) -> &[u8] {
        &self.pem
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn root_store(&self) -> Result<rustls::RootCertStore, TlsError> {
        roots_of(&self.certificates)
    }
}

fn roots_of(certificates: &[CertificateDer<'static>]) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate.clone())
            .map_err(|e| TlsError::InvalidCertificate(e.to_string()))?;
    }
    Ok(roots)
}

impl std::fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoots")
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

impl PartialEq for TrustedRoots {
    fn eq(&self, other: &Self) -> bool {
        self.certificates == other.certificates
    }
}

impl Eq for TrustedRoots {}

/// Why a TLS setting cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The PEM holds no `CERTIFICATE` section.
    NoCertificate,
    /// A PEM section is malformed.
    InvalidPem(String),
    /// A certificate cannot be a trust anchor (not a valid X.509 certificate).
    InvalidCertificate(String),
    /// rustls refused the configuration.
    Config(String),
    /// No rustls provider is installed and this build has none: enable the `ring` (default)
    /// or `aws-lc-rs` feature, or install one with `CryptoProvider::install_default`.
    NoCryptoProvider,
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoCertificate => write!(f, "tls: the PEM holds no certificate"),
            Self::InvalidPem(e) => write!(f, "tls: invalid PEM: {e}"),
            Self::InvalidCertificate(e) => write!(f, "tls: unusable root certificate: {e}"),
            Self::Config(e) => write!(f, "tls: {e}"),
            Self::NoCryptoProvider => write!(
                f,
                "tls: no rustls crypto provider: enable the `ring` or `aws-lc-rs` feature, or \
                 install one with rustls::crypto::CryptoProvider::install_default"
            ),
        }
    }
}

impl std::error::Error for TlsError {}

/// The provider this crate was built with: aws-lc-rs, else ring, else none.
fn compiled_provider() -> Option<rustls::crypto::CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    return Some(rustls::crypto::aws_lc_rs::default_provider());
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return Some(rustls::crypto::ring::default_provider());
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    return None;
}

/// The rustls provider TLS connections use: the process-wide one when the application (or an
/// earlier call of [`install_crypto_provider`]) installed one, else the one this crate was
/// built with.
///
/// # Errors
///
/// [`TlsError::NoCryptoProvider`] when neither the `ring` nor the `aws-lc-rs` feature is on
/// and no provider is installed.
pub fn crypto_provider() -> Result<Arc<rustls::crypto::CryptoProvider>, TlsError> {
    if let Some(installed) = rustls::crypto::CryptoProvider::get_default() {
        return Ok(Arc::clone(installed));
    }
    compiled_provider()
        .map(Arc::new)
        .ok_or(TlsError::NoCryptoProvider)
}

/// Installs the provider this crate was built with as rustls's process-wide provider, unless
/// one is installed already (which then stays). reqwest is built without a provider of its
/// own: call this before building a `reqwest::Client` yourself (the facade's builder calls
/// it for the clients it makes). Calling it again does nothing.
///
/// ```
/// highlevel_runtime::tls::install_crypto_provider()?;
/// let http = reqwest::Client::new();
/// # let _ = http;
/// # Ok::<(), highlevel_runtime::tls::TlsError>(())
/// ```
///
/// # Errors
///
/// [`TlsError::NoCryptoProvider`] when no provider is installed and neither the `ring` nor
/// the `aws-lc-rs` feature is on.
pub fn install_crypto_provider() -> Result<(), TlsError> {
    if rustls::crypto::CryptoProvider::get_default().is_some() {
        return Ok(());
    }
    let provider = compiled_provider().ok_or(TlsError::NoCryptoProvider)?;
    // Another thread may have installed one meanwhile; either way one is set now.
    let _ = provider.install_default();
    Ok(())
}

/// A client configuration trusting `roots`, on [`crypto_provider`] with rustls's safe default
/// protocol versions (TLS 1.2 and 1.3).
#[cfg(feature = "postgres")]
pub(crate) fn client_config(
    roots: rustls::RootCertStore,
) -> Result<rustls::ClientConfig, TlsError> {
    Ok(
        rustls::ClientConfig::builder_with_provider(crypto_provider()?)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The system's certificate authorities. Unreadable ones are skipped (and logged): with none,
/// every handshake fails with an unknown issuer, a typed error.
#[cfg(feature = "postgres")]
pub(crate) fn system_roots() -> rustls::RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "tls: cannot load a system certificate");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 || added == 0 {
        tracing::warn!(added, ignored, "tls: system certificate authorities");
    }
    roots
}

/// Whether `error` (or an error it wraps) is rustls's: a failed handshake, e.g. a
/// certificate not trusted. Wrappers whose `source()` skips the error they hold are looked
/// through: `io::Error` (tokio-postgres, tokio-rustls) and `Arc<dyn Error>` (redis).
#[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
pub(crate) fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if is_rustls(e, 4) {
            return true;
        }
        current = e.source();
    }
    false
}

fn is_rustls(error: &(dyn std::error::Error + 'static), depth: u8) -> bool {
    type Shared = Arc<dyn std::error::Error + Send + Sync>;
    if error.is::<rustls::Error>() {
        return true;
    }
    let Some(depth) = depth.checked_sub(1) else {
        return false;
    };
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        return io.get_ref().is_some_and(|inner| is_rustls(inner, depth));
    }
    if let Some(shared) = error.downcast_ref::<Shared>() {
        let inner: &(dyn std::error::Error + 'static) = &**shared;
        return is_rustls(inner, depth);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_provider_is_installed_once_and_an_installed_one_is_kept() {
        install_crypto_provider().expect("a backend feature is on in tests");
        let installed = crypto_provider().expect("installed");
        let again = rustls::crypto::CryptoProvider::get_default().expect("process default");
        assert!(
            Arc::ptr_eq(&installed, again),
            "the installed provider is used"
        );
        install_crypto_provider().expect("a second call is a no-op");
        let still = rustls::crypto::CryptoProvider::get_default().expect("process default");
        assert!(Arc::ptr_eq(again, still), "an installed provider stays");
        // The cipher suites are the chosen backend's.
        let suite = format!("{:?}", installed.cipher_suites.first());
        assert!(suite.contains("TLS13"), "{suite}");
    }

    #[test]
    fn pem_without_certificate_is_a_typed_error() {
        assert!(matches!(
            TrustedRoots::from_pem(b""),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            TrustedRoots::from_pem(b"just some text\n"),
            Err(TlsError::NoCertificate)
        ));
        // A key alone is not something to trust.
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            TrustedRoots::from_pem(key),
            Err(TlsError::NoCertificate)
        ));
    }

    #[test]
    fn malformed_certificate_is_a_typed_error() {
        let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            TrustedRoots::from_pem(broken),
            Err(TlsError::InvalidCertificate(_))
        ));
        let unterminated = b"-----BEGIN CERTIFICATE-----\nAAAA\n";
        assert!(TrustedRoots::from_pem(unterminated).is_err());
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        let io = std::io::Error::other(rustls::Error::General("x".into()));
        assert!(is_tls_failure(&io));
        assert!(!is_tls_failure(&std::io::Error::other("refused")));
        let shared: Arc<dyn std::error::Error + Send + Sync> = Arc::new(io);
        assert!(is_tls_failure(&shared));
    }
}
