//! The retry policy as a pure function: no clock, no randomness, no I/O.

use std::time::Duration;

use http::{Method, StatusCode};

use super::RetryConfig;

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// An answer arrived.
    Status {
        /// Its status.
        status: StatusCode,
        /// Its `Retry-After`, as a wait from now.
        retry_after: Option<Duration>,
        /// Its `X-RateLimit-Interval-Milliseconds`.
        interval: Option<Duration>,
        /// Whether it said the daily quota is spent (`X-RateLimit-Daily-Remaining: 0`).
        daily_exhausted: bool,
    },
    /// The request never left: no connection could be made (refused, DNS, TLS handshake).
    NotSent,
    /// No answer in time; the server may or may not have acted on it.
    TimedOut,
    /// The connection broke after the request started going out.
    Interrupted,
}

impl Outcome {
    /// A 2xx answer. [`decide`] returns [`Decision::Return`] for it whatever the attempt,
    /// so the request loop hands it back without drawing a backoff or reading the clock.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Status { status, .. } if status.is_success())
    }
}

/// The attempt that just ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// Time since the call started, waits included.
    pub elapsed: Duration,
    /// Whether repeating the request is harmless ([`is_idempotent`]).
    pub idempotent: bool,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Hand the outcome to the caller (success, an error not worth repeating, or no
    /// attempts or time left).
    Return,
    /// Wait this long, then try again.
    Retry(Duration),
    /// The daily quota is spent: fail now with a typed error.
    DailyQuotaExhausted,
    /// HighLevel asked for a longer wait than allowed: fail now with a typed error.
    RetryAfterTooLong(Duration),
}

/// GET, HEAD, PUT, DELETE, OPTIONS and TRACE: repeating them leaves the same state.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Decides what follows `attempt`, given its `outcome` and the jittered exponential
/// `backoff` this retry would wait if the server names no wait of its own.
///
/// - 429: retried after `Retry-After`, else the advertised interval, else `backoff`,
///   whatever the method (HighLevel did not act on it) and however many attempts came
///   before, within the total budget; a spent daily quota fails at once, and a wait above
///   `max_retry_after` fails at once.
/// - 408 and 5xx (but 501 and 505, which will not change): retried after `Retry-After`
///   (when within `max_retry_after`) or `backoff`, for idempotent methods, or any method
///   when the config opts in.
/// - Not sent at all: retried for every method. Timed out or interrupted: like 5xx.
/// - Anything else returns. So does a retry of a failure (not a 429) past `max_attempts`,
///   any retry when `max_attempts` is 1, and any retry whose wait would end past the
///   config's total budget.
pub fn decide(
    config: &RetryConfig,
    attempt: &Attempt,
    outcome: &Outcome,
    backoff: Duration,
) -> Decision {
    let backoff = backoff.min(config.cap);
    let repeatable = attempt.idempotent || config.non_idempotent;
    // A 429 is "not now", not a failure: it is retried for as long as the budget lasts.
    let mut counts_as_failure = true;
    let wait = match *outcome {
        Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after,
            interval,
            daily_exhausted,
        } => {
            if daily_exhausted {
                return Decision::DailyQuotaExhausted;
            }
            let wait = retry_after.or(interval).unwrap_or(backoff);
            if wait > config.max_retry_after {
                return Decision::RetryAfterTooLong(wait);
            }
            counts_as_failure = false;
            wait
        }
        Outcome::Status {
            status,
            retry_after,
            ..
        } if repeatable && retryable_status(status) => match retry_after {
            Some(asked) if asked <= config.max_retry_after => asked,
            Some(_) => return Decision::Return,
            None => backoff,
        },
        Outcome::Status { .. } => return Decision::Return,
        Outcome::NotSent => backoff,
        Outcome::TimedOut | Outcome::Interrupted if repeatable => backoff,
        Outcome::TimedOut | Outcome::Interrupted => return Decision::Return,
    };
    // One attempt in all means none is repeated, 429s included.
    if config.max_attempts <= 1
        || (counts_as_failure && attempt.number >= config.max_attempts)
        || attempt.elapsed.saturating_add(wait) > config.budget
    {
        return Decision::Return;
    }
    Decision::Retry(wait)
}

fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Duration = Duration::from_millis(400);

    fn first(idempotent: bool) -> Attempt {
        Attempt {
            number: 1,
            elapsed: Duration::ZERO,
            idempotent,
        }
    }

    fn status(code: u16) -> Outcome {
        Outcome::Status {
            status: StatusCode::from_u16(code).expect("valid status"),
            retry_after: None,
            interval: None,
            daily_exhausted: false,
        }
    }

    fn throttled(
        retry_after: Option<u64>,
        interval_ms: Option<u64>,
        daily_exhausted: bool,
    ) -> Outcome {
        Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: retry_after.map(Duration::from_secs),
            interval: interval_ms.map(Duration::from_millis),
            daily_exhausted,
        }
    }

    /// Every status from 100 to 599, for both kinds of method, with and without opting in.
    #[test]
    fn every_status_for_every_kind_of_method() {
        let plain = RetryConfig::default();
        let opted_in = RetryConfig::default().retry_non_idempotent(true);
        for code in 100..600u16 {
            let outcome = status(code);
            for (config, idempotent) in [
                (&plain, true),
                (&plain, false),
                (&opted_in, true),
                (&opted_in, false),
            ] {
                let decision = decide(config, &first(idempotent), &outcome, BACKOFF);
                let expected = match code {
                    429 => Decision::Retry(BACKOFF),
                    408 | 500 | 502..=504 | 506..=599 if idempotent || config.non_idempotent => {
                        Decision::Retry(BACKOFF)
                    }
                    _ => Decision::Return,
                };
                assert_eq!(
                    decision, expected,
                    "status {code}, idempotent {idempotent}, opted in {}",
                    config.non_idempotent
                );
            }
        }
    }

    /// The request loop skips `decide` for a success: for every 2xx, late or early attempt,
    /// it would have said `Return`; nothing else counts as a success.
    #[test]
    fn a_success_is_returned_whatever_the_attempt() {
        let config = RetryConfig::default().retry_non_idempotent(true);
        let late = Attempt {
            number: 1_000,
            elapsed: Duration::from_secs(3_600),
            idempotent: true,
        };
        for code in 100..600u16 {
            let outcome = status(code);
            assert_eq!(outcome.is_success(), (200..300).contains(&code), "{code}");
            if outcome.is_success() {
                for attempt in [first(true), first(false), late] {
                    assert_eq!(
                        decide(&config, &attempt, &outcome, BACKOFF),
                        Decision::Return,
                        "{code}"
                    );
                }
            }
        }
        for outcome in [Outcome::NotSent, Outcome::TimedOut, Outcome::Interrupted] {
            assert!(!outcome.is_success(), "{outcome:?}");
        }
    }

    #[test]
    fn transport_failures_by_method() {
        let plain = RetryConfig::default();
        let opted_in = RetryConfig::default().retry_non_idempotent(true);
        let cases = [
            (Outcome::NotSent, true, &plain, Decision::Retry(BACKOFF)),
            (Outcome::NotSent, false, &plain, Decision::Retry(BACKOFF)),
            (Outcome::TimedOut, true, &plain, Decision::Retry(BACKOFF)),
            (Outcome::TimedOut, false, &plain, Decision::Return),
            (
                Outcome::TimedOut,
                false,
                &opted_in,
                Decision::Retry(BACKOFF),
            ),
            (Outcome::Interrupted, true, &plain, Decision::Retry(BACKOFF)),
            (Outcome::Interrupted, false, &plain, Decision::Return),
            (
                Outcome::Interrupted,
                false,
                &opted_in,
                Decision::Retry(BACKOFF),
            ),
        ];
        for (outcome, idempotent, config, expected) in cases {
            assert_eq!(
                decide(config, &first(idempotent), &outcome, BACKOFF),
                expected,
                "{outcome:?} idempotent {idempotent}"
            );
        }
    }

    #[test]
    fn throttling_waits_what_the_server_says() {
        let config = RetryConfig::default();
        for idempotent in [true, false] {
            let at = first(idempotent);
            assert_eq!(
                decide(
                    &config,
                    &at,
                    &throttled(Some(7), Some(10_000), false),
                    BACKOFF
                ),
                Decision::Retry(Duration::from_secs(7))
            );
            assert_eq!(
                decide(&config, &at, &throttled(None, Some(10_000), false), BACKOFF),
                Decision::Retry(Duration::from_secs(10))
            );
            assert_eq!(
                decide(&config, &at, &throttled(None, None, false), BACKOFF),
                Decision::Retry(BACKOFF)
            );
            assert_eq!(
                decide(&config, &at, &throttled(Some(0), None, false), BACKOFF),
                Decision::Retry(Duration::ZERO)
            );
        }
    }

    #[test]
    fn a_spent_daily_quota_fails_at_once() {
        let config = RetryConfig::default();
        for number in 1..=5 {
            let at = Attempt {
                number,
                elapsed: Duration::ZERO,
                idempotent: true,
            };
            assert_eq!(
                decide(&config, &at, &throttled(Some(5), None, true), BACKOFF),
                Decision::DailyQuotaExhausted
            );
        }
        // Even with retries disabled: the caller learns why, and until when.
        assert_eq!(
            decide(
                &RetryConfig::disabled(),
                &first(true),
                &throttled(None, None, true),
                BACKOFF
            ),
            Decision::DailyQuotaExhausted
        );
    }

    #[test]
    fn far_future_waits_are_refused_not_slept() {
        let config = RetryConfig::default().max_retry_after(Duration::from_secs(30));
        assert_eq!(
            decide(
                &config,
                &first(true),
                &throttled(Some(3_600), None, false),
                BACKOFF
            ),
            Decision::RetryAfterTooLong(Duration::from_secs(3_600))
        );
        assert_eq!(
            decide(
                &config,
                &first(true),
                &throttled(None, Some(31_000), false),
                BACKOFF
            ),
            Decision::RetryAfterTooLong(Duration::from_secs(31))
        );
        assert_eq!(
            decide(
                &config,
                &first(true),
                &throttled(Some(30), None, false),
                BACKOFF
            ),
            Decision::Retry(Duration::from_secs(30))
        );
        // A 503's far-future Retry-After: the 503 itself goes to the caller.
        let unavailable = Outcome::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(Duration::from_secs(3_600)),
            interval: None,
            daily_exhausted: false,
        };
        assert_eq!(
            decide(&config, &first(true), &unavailable, BACKOFF),
            Decision::Return
        );
        let soon = Outcome::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(Duration::from_secs(2)),
            interval: None,
            daily_exhausted: false,
        };
        assert_eq!(
            decide(&config, &first(true), &soon, BACKOFF),
            Decision::Retry(Duration::from_secs(2))
        );
    }

    #[test]
    fn attempts_are_counted() {
        let config = RetryConfig::default().max_attempts(3);
        for number in 1..=4 {
            let at = Attempt {
                number,
                elapsed: Duration::ZERO,
                idempotent: true,
            };
            let expected = if number < 3 {
                Decision::Retry(BACKOFF)
            } else {
                Decision::Return
            };
            assert_eq!(
                decide(&config, &at, &status(503), BACKOFF),
                expected,
                "attempt {number}"
            );
            // A 429 is "not now", not a failure: only the time budget ends its retries.
            assert_eq!(
                decide(&config, &at, &throttled(Some(1), None, false), BACKOFF),
                Decision::Retry(Duration::from_secs(1))
            );
        }
        let once = RetryConfig::disabled();
        assert_eq!(
            decide(
                &once,
                &first(true),
                &throttled(Some(1), None, false),
                BACKOFF
            ),
            Decision::Return
        );
        assert_eq!(
            decide(&once, &first(true), &status(503), BACKOFF),
            Decision::Return
        );
        assert_eq!(
            decide(&once, &first(true), &Outcome::NotSent, BACKOFF),
            Decision::Return
        );
        assert_eq!(RetryConfig::default().max_attempts(0).attempts(), 1);
    }

    #[test]
    fn the_total_budget_is_never_overrun() {
        let config = RetryConfig::default().budget(Duration::from_secs(10));
        let late = Attempt {
            number: 1,
            elapsed: Duration::from_millis(9_700),
            idempotent: true,
        };
        assert_eq!(
            decide(&config, &late, &status(500), BACKOFF),
            Decision::Return
        );
        assert_eq!(
            decide(&config, &late, &status(500), Duration::from_millis(300)),
            Decision::Retry(Duration::from_millis(300))
        );
        assert_eq!(
            decide(&config, &late, &throttled(Some(1), None, false), BACKOFF),
            Decision::Return
        );
    }

    #[test]
    fn backoff_is_capped() {
        let config =
            RetryConfig::default().backoff(Duration::from_millis(100), Duration::from_secs(2));
        assert_eq!(
            decide(&config, &first(true), &status(502), Duration::from_secs(9)),
            Decision::Retry(Duration::from_secs(2))
        );
    }

    #[test]
    fn idempotent_methods() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            assert!(is_idempotent(&method), "{method}");
        }
        for method in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&method), "{method}");
        }
    }

    #[test]
    fn backoffs_grow_with_jitter_up_to_the_cap() {
        let config =
            RetryConfig::default().backoff(Duration::from_millis(100), Duration::from_millis(800));
        let delays: Vec<_> = config.backoffs().take(6).collect();
        for (i, delay) in delays.iter().enumerate() {
            let floor = Duration::from_millis(100 * (1 << i.min(3)));
            assert!(
                *delay >= floor && *delay < floor * 2,
                "retry {i}: {delay:?}"
            );
        }
    }
}
