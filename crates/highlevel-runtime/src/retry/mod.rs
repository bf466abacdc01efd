//! When a failed attempt is tried again, and after how long.
//!
//! [`decide`] is the whole policy, as a pure function of the attempt and its outcome; the
//! request loop (`request_loop.rs`) only carries its decisions out.

mod decision;

use std::time::Duration;

pub use decision::{Attempt, Decision, Outcome, decide, is_idempotent};

/// How failed attempts are retried; per handle (`HighLevelBuilder::retry`) and per call
/// (`HighLevel::with_retry`, a cheap clone for one call).
///
/// Defaults: 4 attempts in all, backoff from 250 ms doubling up to 10 s with jitter, at
/// most 60 s for the whole call, `Retry-After` honoured up to 60 s, and POST (or PATCH)
/// retried only when the request provably never reached HighLevel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    pub(crate) max_attempts: u32,
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) budget: Duration,
    pub(crate) max_retry_after: Duration,
    pub(crate) non_idempotent: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
            budget: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
            non_idempotent: false,
        }
    }
}

impl RetryConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// One attempt, never retried (429s and 5xx reach the caller as they are).
    pub fn disabled() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts in all, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff delay; each later one doubles, with jitter, up to `cap`.
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.base = base;
        self.cap = cap.max(base);
        self
    }

    /// The most time one call may take, waits included; no retry starts that would end
    /// its wait past it.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The longest `Retry-After` (or advertised interval) waited out; a 429 asking for more
    /// fails at once with `RateLimitError::RetryAfterTooLong` instead of sleeping.
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Retries POST and PATCH after 408, 5xx, timeouts and broken connections too, not only
    /// when the request never left. Only for calls that are safe to repeat (they carry an
    /// idempotency key, or a duplicate does no harm).
    pub fn retry_non_idempotent(mut self, retry: bool) -> Self {
        self.non_idempotent = retry;
        self
    }

    /// Attempts in all.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff delays (jittered) for successive retries.
    pub(crate) fn backoffs(&self) -> impl Iterator<Item = Duration> + use<> {
        use backon::BackoffBuilder;
        backon::ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.cap)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }
}
