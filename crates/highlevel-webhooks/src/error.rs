//! Why a delivery was refused.

use std::fmt;
use std::time::Duration;

use crate::Scheme;

/// Why a delivery was refused. Every variant is safe to log: none holds the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// The body is larger than the verifier accepts.
    BodyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No signature header of an accepted scheme.
    MissingSignature {
        /// The schemes accepted.
        accepted: Vec<Scheme>,
    },
    /// The signature header is not base64 (or not the scheme's length).
    MalformedSignature {
        /// Whose header.
        scheme: Scheme,
    },
    /// The signature does not match the body and key: tampered, or signed with another key.
    BadSignature {
        /// Which scheme was checked.
        scheme: Scheme,
    },
    /// The delivery is signed with a scheme this verifier has no key for.
    NoKey {
        /// The scheme.
        scheme: Scheme,
    },
    /// The verified body is not a JSON object.
    MalformedBody {
        /// Why.
        reason: String,
    },
    /// The body has no `timestamp` (or one that is not a date).
    MissingTimestamp,
    /// The `timestamp` is older than the window allows: a replay, or a delivery held too long.
    StaleTimestamp {
        /// How old it is.
        age: Duration,
        /// The window.
        window: Duration,
    },
    /// The `timestamp` is further in the future than the window allows.
    FutureTimestamp {
        /// How far ahead it is.
        ahead: Duration,
        /// The window.
        window: Duration,
    },
    /// The body has no `webhookId`.
    MissingWebhookId,
    /// This `webhookId` was delivered before: a replay or a retry already handled.
    Duplicate {
        /// The id.
        webhook_id: String,
    },
    /// The seen-store failed, so the delivery could not be checked for a replay.
    SeenStore {
        /// What failed.
        message: String,
    },
}

impl WebhookError {
    /// Whether the sender may succeed by delivering again later (a store failure), as opposed
    /// to a delivery that will never verify. Answer 5xx for these, 4xx for the rest; a
    /// duplicate is best answered 200 so the sender stops retrying.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::SeenStore { .. })
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BodyTooLarge { len, max } => {
                write!(
                    f,
                    "webhook body of {len} bytes is over the {max}-byte limit"
                )
            }
            Self::MissingSignature { accepted } => {
                let headers: Vec<&str> = accepted.iter().map(|s| s.header()).collect();
                write!(
                    f,
                    "webhook has no signature header ({})",
                    headers.join(" or ")
                )
            }
            Self::MalformedSignature { scheme } => {
                write!(
                    f,
                    "webhook {} header is not a base64 signature of the scheme's length",
                    scheme.header()
                )
            }
            Self::BadSignature { scheme } => {
                write!(f, "webhook signature does not verify: {scheme}")
            }
            Self::NoKey { scheme } => write!(
                f,
                "webhook is signed with {scheme}, and no public key for it is configured"
            ),
            Self::MalformedBody { reason } => write!(f, "webhook body: {reason}"),
            Self::MissingTimestamp => f.write_str("webhook body has no `timestamp`"),
            Self::StaleTimestamp { age, window } => write!(
                f,
                "webhook timestamp is {} s old, outside the {} s window",
                age.as_secs(),
                window.as_secs()
            ),
            Self::FutureTimestamp { ahead, window } => write!(
                f,
                "webhook timestamp is {} s in the future, outside the {} s window",
                ahead.as_secs(),
                window.as_secs()
            ),
            Self::MissingWebhookId => f.write_str("webhook body has no `webhookId`"),
            Self::Duplicate { webhook_id } => {
                write!(f, "webhook {webhook_id} was already delivered")
            }
            Self::SeenStore { message } => write!(f, "webhook seen-store: {message}"),
        }
    }
}

impl std::error::Error for WebhookError {}
