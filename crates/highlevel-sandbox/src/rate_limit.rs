//! HighLevel's rate limits, per location: a fixed window of `max` requests per `interval`
//! starting at the location's first request, and a daily quota. Every answer carries the
//! `X-RateLimit-*` headers; past the limit the answer is a 429 with `Retry-After`.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::state::Shared;

const DAY: Duration = Duration::from_secs(86_400);

/// The limits a sandbox enforces per location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per interval.
    pub max: u32,
    /// The window length.
    pub interval: Duration,
    /// Requests per day.
    pub daily: u64,
}

impl Default for RateLimits {
    /// HighLevel's documented limits: 100 per 10 s, 200,000 per day.
    fn default() -> Self {
        Self {
            max: 100,
            interval: Duration::from_secs(10),
            daily: 200_000,
        }
    }
}

/// What the sandbox's rate limiter did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitStats {
    /// Requests let through.
    pub allowed: u64,
    /// Requests answered 429 for the per-interval limit.
    pub throttled: u64,
    /// Requests answered 429 for the daily quota.
    pub daily_refused: u64,
}

#[derive(Debug)]
pub struct RateLimitState {
    limits: Option<RateLimits>,
    windows: HashMap<String, Window>,
    stats: RateLimitStats,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    count: u32,
    day_started: Instant,
    day_count: u64,
}

enum Verdict {
    Allow(HeaderMap),
    Refuse {
        headers: HeaderMap,
        retry_after: Duration,
        daily: bool,
    },
}

impl RateLimitState {
    /// `None`: no limits and no headers.
    pub fn new(limits: Option<RateLimits>) -> Self {
        Self {
            limits,
            windows: HashMap::new(),
            stats: RateLimitStats::default(),
        }
    }

    pub fn stats(&self) -> RateLimitStats {
        self.stats
    }

    fn admit(&mut self, location: &str, now: Instant) -> Option<Verdict> {
        let limits = self.limits?;
        let window = self.windows.entry(location.to_owned()).or_insert(Window {
            started: now,
            count: 0,
            day_started: now,
            day_count: 0,
        });
        if now >= window.started + limits.interval {
            window.started = now;
            window.count = 0;
        }
        if now >= window.day_started + DAY {
            window.day_started = now;
            window.day_count = 0;
        }
        let daily_spent = window.day_count >= limits.daily;
        let spent = window.count >= limits.max;
        if !daily_spent && !spent {
            window.count += 1;
            window.day_count += 1;
            self.stats.allowed += 1;
        }
        let headers = headers(&limits, window);
        Some(if daily_spent {
            self.stats.daily_refused += 1;
            Verdict::Refuse {
                headers,
                retry_after: (window.day_started + DAY).saturating_duration_since(now),
                daily: true,
            }
        } else if spent {
            self.stats.throttled += 1;
            Verdict::Refuse {
                headers,
                retry_after: (window.started + limits.interval).saturating_duration_since(now),
                daily: false,
            }
        } else {
            Verdict::Allow(headers)
        })
    }
}

fn headers(limits: &RateLimits, window: &Window) -> HeaderMap {
    let mut map = HeaderMap::new();
    let mut set = |name: &'static str, value: u128| {
        map.insert(name, HeaderValue::from(value as u64));
    };
    set("x-ratelimit-max", u128::from(limits.max));
    set(
        "x-ratelimit-remaining",
        u128::from(limits.max.saturating_sub(window.count)),
    );
    set(
        "x-ratelimit-interval-milliseconds",
        limits.interval.as_millis(),
    );
    set("x-ratelimit-limit-daily", u128::from(limits.daily));
    set(
        "x-ratelimit-daily-remaining",
        u128::from(limits.daily.saturating_sub(window.day_count)),
    );
    map
}

/// Counts the request against its caller's location; a 429 past the limit.
pub async fn enforce(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let Some(Caller(location)) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    let verdict = shared.rate_limits().admit(&location, Instant::now());
    match verdict {
        None => next.run(request).await,
        Some(Verdict::Allow(headers)) => {
            let mut response = next.run(request).await;
            response.headers_mut().extend(headers);
            response
        }
        Some(Verdict::Refuse {
            headers,
            retry_after,
            daily,
        }) => {
            let message = if daily {
                "Daily request limit exceeded for this location."
            } else {
                "Too many requests"
            };
            let mut response =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
            response.headers_mut().extend(headers);
            // Whole seconds, rounded up: a client that waits this long finds a new window.
            let seconds = retry_after.as_millis().div_ceil(1000) as u64;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remaining(verdict: &Verdict) -> (bool, String) {
        let (allowed, headers) = match verdict {
            Verdict::Allow(h) => (true, h),
            Verdict::Refuse { headers, .. } => (false, headers),
        };
        let left = headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (allowed, left)
    }

    #[test]
    fn fixed_windows_per_location() {
        let limits = RateLimits {
            max: 2,
            interval: Duration::from_secs(1),
            daily: 5,
        };
        let mut state = RateLimitState::new(Some(limits));
        let start = Instant::now();
        let mut admit = |location: &str, after_ms: u64| {
            let verdict = state
                .admit(location, start + Duration::from_millis(after_ms))
                .expect("limits on");
            remaining(&verdict)
        };
        assert_eq!(admit("a", 0), (true, "1".into()));
        assert_eq!(admit("a", 10), (true, "0".into()));
        assert_eq!(admit("a", 999), (false, "0".into()));
        assert_eq!(admit("b", 999), (true, "1".into()));
        assert_eq!(admit("a", 1_000), (true, "1".into()));
        assert_eq!(admit("a", 1_001), (true, "0".into()));
        assert_eq!(admit("a", 2_000), (true, "1".into()));
        // The daily quota (5) is spent now, whatever the window says.
        assert_eq!(admit("a", 3_000), (false, "2".into()));
        assert_eq!(state.stats().allowed, 6);
        assert_eq!(
            (state.stats().throttled, state.stats().daily_refused),
            (1, 1)
        );
        assert!(RateLimitState::new(None).admit("a", start).is_none());
    }
}
