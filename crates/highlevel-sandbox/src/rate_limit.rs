//! HighLevel's rate limits, per location: a fixed window of `max` requests per `interval`
//! starting at the location's first request, and a daily quota. Every answer carries the
//! `X-RateLimit-*` headers; past the limit the answer is a 429 with `Retry-After`.
//!
//! The counts live in the sandbox's memory, or (feature `redis`, [`crate::Sandbox::shared_rate_limits`])
//! in Redis, where every sandbox process pointed at the same Redis counts each location's
//! requests together, as HighLevel's servers do behind one API.

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
    #[cfg(feature = "redis")]
    redis: Option<std::sync::Arc<redis_counts::RedisCounts>>,
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
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// Counts in Redis from now on (with limits set; without, there is nothing to count).
    #[cfg(feature = "redis")]
    pub fn count_in_redis(&mut self, counts: redis_counts::RedisCounts) {
        self.redis = Some(std::sync::Arc::new(counts));
    }

    /// Counts a verdict made elsewhere (in Redis).
    fn record(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Allow(_) => self.stats.allowed += 1,
            Verdict::Refuse { daily: true, .. } => self.stats.daily_refused += 1,
            Verdict::Refuse { daily: false, .. } => self.stats.throttled += 1,
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
        }
        let verdict = verdict(
            &limits,
            window.count,
            window.day_count,
            if daily_spent {
                Some((
                    true,
                    (window.day_started + DAY).saturating_duration_since(now),
                ))
            } else if spent {
                Some((
                    false,
                    (window.started + limits.interval).saturating_duration_since(now),
                ))
            } else {
                None
            },
        );
        self.record(&verdict);
        Some(verdict)
    }
}

/// The verdict on counts `count` and `day_count` (after the request when it is let through);
/// `refused`: whether for the daily quota, and how long until it frees.
fn verdict(
    limits: &RateLimits,
    count: u32,
    day_count: u64,
    refused: Option<(bool, Duration)>,
) -> Verdict {
    let headers = headers(limits, count, day_count);
    match refused {
        Some((daily, retry_after)) => Verdict::Refuse {
            headers,
            retry_after,
            daily,
        },
        None => Verdict::Allow(headers),
    }
}

fn headers(limits: &RateLimits, count: u32, day_count: u64) -> HeaderMap {
    let mut map = HeaderMap::new();
    let mut set = |name: &'static str, value: u128| {
        map.insert(name, HeaderValue::from(value as u64));
    };
    set("x-ratelimit-max", u128::from(limits.max));
    set(
        "x-ratelimit-remaining",
        u128::from(limits.max.saturating_sub(count)),
    );
    set(
        "x-ratelimit-interval-milliseconds",
        limits.interval.as_millis(),
    );
    set("x-ratelimit-limit-daily", u128::from(limits.daily));
    set(
        "x-ratelimit-daily-remaining",
        u128::from(limits.daily.saturating_sub(day_count)),
    );
    map
}

/// Counts the request against its caller's location; a 429 past the limit.
pub async fn enforce(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let Some(Caller(location)) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    #[cfg(feature = "redis")]
    let in_redis = {
        let state = shared.rate_limits();
        state.redis.clone().zip(state.limits)
    };
    #[cfg(feature = "redis")]
    let verdict = match in_redis {
        Some((counts, limits)) => match counts.admit(&location, &limits).await {
            Ok(verdict) => {
                shared.rate_limits().record(&verdict);
                Some(verdict)
            }
            Err(e) => {
                tracing::warn!(error = %e, "sandbox: the rate-limit counts in Redis do not answer");
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The sandbox's rate-limit counts in Redis do not answer.",
                )
                .into_response();
            }
        },
        None => shared.rate_limits().admit(&location, Instant::now()),
    };
    #[cfg(not(feature = "redis"))]
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

/// The window and daily counts in Redis, one fixed window per location as in memory.
#[cfg(feature = "redis")]
pub mod redis_counts {
    use std::time::Duration;

    use super::{RateLimits, Verdict, verdict};

    /// Counts one request if the window and the day allow it. KEYS: window count, day count.
    /// ARGV: max, interval ms, daily limit. Returns `{refused (0 no, 1 window, 2 day), count,
    /// day count, ms until the refusing count expires}`. A count that is not a number (another
    /// program's key) starts again from zero.
    const ADMIT: &str = r"
local function count(key)
  if redis.call('TYPE', key).ok ~= 'string' then
    redis.call('DEL', key)
    return 0
  end
  local n = tonumber(redis.call('GET', key))
  if not n then
    redis.call('DEL', key)
    return 0
  end
  return n
end
local max = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local daily = tonumber(ARGV[3])
local window = count(KEYS[1])
local day = count(KEYS[2])
if day >= daily then return {2, window, day, redis.call('PTTL', KEYS[2])} end
if window >= max then return {1, window, day, redis.call('PTTL', KEYS[1])} end
window = redis.call('INCR', KEYS[1])
if window == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], interval) end
day = redis.call('INCR', KEYS[2])
if day == 1 or redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], 86400000) end
return {0, window, day, 0}
";

    /// The counts of every location in one Redis.
    pub struct RedisCounts {
        connection: redis::aio::ConnectionManager,
        admit: redis::Script,
    }

    impl std::fmt::Debug for RedisCounts {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // The URL may carry a password: not kept, not shown.
            f.debug_struct("RedisCounts").finish_non_exhaustive()
        }
    }

    impl RedisCounts {
        /// Connects to `url` (`redis://`, or `rediss://` with the system's roots).
        pub async fn connect(url: &str) -> redis::RedisResult<Self> {
            let connection = redis::Client::open(url)?.get_connection_manager().await?;
            Ok(Self {
                connection,
                admit: redis::Script::new(ADMIT),
            })
        }

        pub(super) async fn admit(
            &self,
            location: &str,
            limits: &RateLimits,
        ) -> redis::RedisResult<Verdict> {
            let prefix = format!("highlevel-sandbox:ratelimit:{{{location}}}");
            let (refused, count, day_count, left_ms): (u8, i64, i64, i64) = self
                .admit
                .key(format!("{prefix}:window"))
                .key(format!("{prefix}:day"))
                .arg(limits.max)
                .arg(u64::try_from(limits.interval.as_millis()).unwrap_or(u64::MAX))
                .arg(limits.daily)
                .invoke_async(&mut self.connection.clone())
                .await?;
            let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
            let day_count = u64::try_from(day_count.max(0)).unwrap_or(u64::MAX);
            let left = Duration::from_millis(u64::try_from(left_ms.max(0)).unwrap_or(0));
            Ok(verdict(
                limits,
                count,
                day_count,
                (refused != 0).then_some((refused == 2, left)),
            ))
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
