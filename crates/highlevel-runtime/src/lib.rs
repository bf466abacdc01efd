//! Shared runtime of the HighLevel SDK.
//!
//! Every generated module crate's `send()` (`highlevel-contacts`, …) builds its request and
//! returns the future of [`send::json`] or [`send::stream`], which runs the [`hooks`], decodes
//! the response and maps failures into [`Error`]; the crates' `ClientHooks` impls, which
//! progenitor requires, delegate to [`hooks`] too. Behaviour that every call needs
//! (authentication, the per-operation `Version` header, multipart boundaries, errors) lives
//! here once, keyed by each operation's generated [`OperationMeta`].
//!
//! [`auth`] is the OAuth 2.0 side: an app's sessions per location and agency, kept in a
//! [`auth::TokenStore`], refreshed once per token across tasks and processes, and picked per
//! call from the operation's security schemes.
//!
//! [`pagination`] turns each list operation into lazy streams of pages and items.
//!
//! [`rate_limit`] paces requests per resource within HighLevel's budget (corrected live by
//! its `X-RateLimit-*` headers), and [`retry`] decides which failed attempts go again.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod body;
pub mod builder;
mod credentials;
mod decode;
mod error;
pub mod hooks;
mod idle;
pub mod lenient;
pub mod multipart;
mod operation;
pub mod pagination;
pub mod path;
#[cfg(feature = "postgres")]
pub mod postgres;
mod random;
pub mod rate_limit;
#[cfg(feature = "redis")]
pub mod redis;
pub mod retry;
mod saturating;
#[rustfmt::skip]
mod scope;
pub mod send;
pub mod tls;

pub use auth::{AuthError, OAuthApp, OAuthConfig, OAuthEndpoints, Resource};
pub use body::DEFAULT_MAX_RESPONSE_BYTES;
pub use credentials::{Credentials, Runtime};
pub use decode::collect_bytes;
pub use error::{ApiError, ApiErrorBody, DecodeError, Error, ErrorMessage};
pub use multipart::{FilePart, MultipartForm};
pub use operation::{OperationMeta, RequestBodyKind, ResponseBodyKind, SecurityScheme};
pub use rate_limit::{RateLimitConfig, RateLimitError, RateLimitStatus};
pub use retry::RetryConfig;
pub use scope::{Scope, ScopeAccess};
