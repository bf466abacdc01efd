//! Shared runtime of the HighLevel SDK.
//!
//! Behaviour that every call needs lives here once, keyed by each operation's generated
//! [`OperationMeta`]: authentication ([`Credentials`]), the per-operation `Version` header,
//! multipart bodies ([`multipart`]), rate limits, retries, and errors ([`Error`]). A generated
//! module crate's `send()` (`highlevel-contacts`, …) only builds its request and returns the
//! runtime's future, which prepares the request, sends it through the one request loop,
//! decodes the answer and maps every failure into [`Error`].
//!
//! [`auth`] is the OAuth 2.0 side: an app's sessions per location and agency, kept in a
//! [`auth::TokenStore`], refreshed once per token across tasks and processes, and picked per
//! call from the operation's security schemes.
//!
//! [`pagination`] turns each list operation into lazy streams of pages and items.
//!
//! [`rate_limit`] paces requests per resource within HighLevel's budget (corrected live by
//! its `X-RateLimit-*` headers), and [`retry`] decides which failed attempts go again.
//!
//! What only generated code calls (`send`, `builder`, `path`, `query`, `lenient`, and the
//! pagination glue) is public, because the module crates are other crates, but hidden from
//! these docs: it is not the SDK's API, and it changes with the generator.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod bearer;
mod body;
mod credentials;
mod decode;
mod error;
mod failure;
mod idle;
pub mod multipart;
mod object;
mod operation;
pub mod pagination;
#[cfg(feature = "postgres")]
pub mod postgres;
mod prepare;
mod random;
pub mod rate_limit;
#[cfg(feature = "redis")]
pub mod redis;
mod request_loop;
mod response;
pub mod retry;
mod runtime;
mod saturating;
#[rustfmt::skip]
mod scope;
pub mod tls;

// What generated module crates call. Public because those crates are other crates; hidden
// from the docs because it is not the SDK's API and moves with the generator (semver
// checkers leave `#[doc(hidden)]` items out as well).
#[doc(hidden)]
pub mod builder;
#[doc(hidden)]
pub mod lenient;
#[doc(hidden)]
pub mod path;
#[doc(hidden)]
pub mod query;
#[doc(hidden)]
pub mod send;

pub use auth::{AuthError, OAuthApp, OAuthConfig, OAuthEndpoints, Resource};
pub use body::DEFAULT_MAX_RESPONSE_BYTES;
pub use credentials::Credentials;
pub use decode::collect_bytes;
pub use error::{ApiError, ApiErrorBody, DecodeError, Error, ErrorMessage};
pub use multipart::{FilePart, MultipartForm};
pub use operation::{OperationMeta, RequestBodyKind, ResponseBodyKind, SecurityScheme};
pub use rate_limit::{RateLimitConfig, RateLimitError, RateLimitStatus};
pub use response::{ByteStream, ResponseValue};
pub use retry::RetryConfig;
pub use runtime::Runtime;
pub use scope::{Scope, ScopeAccess};
