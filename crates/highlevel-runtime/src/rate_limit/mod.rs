//! Per-resource rate limiting: requests wait for the budget instead of collecting 429s.
//!
//! HighLevel gives each app a budget per resource (location or company): 100 requests per
//! 10 seconds and 200,000 per day by default. Each resource gets its own `Budget` and its
//! own queue, so callers of one resource are served in arrival order and a busy resource
//! never holds up another. Every answer's `X-RateLimit-*` headers correct the budget: new
//! limits take effect at once, and requests another process spent from the same budget
//! (a remaining count lower than this client can explain) are counted as spent here too.

mod budget;
pub(crate) mod headers;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::idle::SweptMap;
use crate::saturating::{instant_after, wall_after};
use budget::{Budget, Slot};
pub(crate) use headers::Advertised;

/// How requests are paced; the defaults are HighLevel's documented limits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    pub(crate) enabled: bool,
    pub(crate) max: u32,
    pub(crate) interval: Duration,
    pub(crate) daily: u64,
    pub(crate) adaptive: bool,
    pub(crate) margin_floor: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max: 100,
            interval: Duration::from_secs(10),
            daily: 200_000,
            adaptive: true,
            margin_floor: Duration::from_millis(20),
        }
    }
}

impl RateLimitConfig {
    /// HighLevel's documented limits: 100 requests per 10 s and 200,000 per day, per
    /// resource, corrected by the answers' headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// No pacing at all: every request goes at once (429s are still retried, see
    /// `RetryConfig`, after the wait their `Retry-After` asks for). For servers without HighLevel's limits (mocks) or callers that pace
    /// themselves.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// At most `max` requests per `interval` per resource until HighLevel's headers say
    /// otherwise. `max` below 1 counts as 1; an `interval` of zero disables pacing.
    pub fn per_interval(mut self, max: u32, interval: Duration) -> Self {
        self.max = max.max(1);
        self.interval = interval;
        self.enabled = !interval.is_zero();
        self
    }

    /// The daily quota per resource until HighLevel's headers say otherwise.
    pub fn daily(mut self, max: u64) -> Self {
        self.daily = max;
        self
    }

    /// Whether the budget adapts to what HighLevel says (default: yes): answers'
    /// `X-RateLimit-*` headers replace the configured limits and count requests other
    /// processes spent, and a 429 this client did not expect (someone else spends the same
    /// budget) halves its share of each interval, which grows back by a twentieth per quiet
    /// interval. Off, the budget is exactly what is configured.
    pub fn adaptive(mut self, adaptive: bool) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// The least slack added to each interval (default 20 ms; the slack is otherwise 1 % of
    /// the interval), so that requests sent one interval apart do not reach HighLevel
    /// before its window has moved on.
    pub fn margin(mut self, floor: Duration) -> Self {
        self.margin_floor = floor;
        self
    }

    /// Whether requests are paced.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }
}

/// The latest known state of one resource's budget.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitStatus {
    /// The resource (`location:<id>`, `company:<id>`, or `token` for a static token, whose
    /// budget is the token's own resource).
    pub resource: String,
    /// Requests allowed per interval (advertised, else configured).
    pub max: u32,
    /// How many of them this client takes per interval: `max`, or less after 429s showed
    /// that another client spends the same budget.
    pub share: u32,
    /// The interval (advertised, else configured).
    pub interval: Duration,
    /// Requests this client may send right now without waiting.
    pub available_now: u32,
    /// `X-RateLimit-Remaining` of the latest answer that carried it.
    pub remaining: Option<u32>,
    /// The daily quota (advertised, else configured).
    pub daily_limit: u64,
    /// The daily remaining count: the latest advertised, less requests sent since.
    pub daily_remaining: Option<u64>,
    /// When the daily quota is expected to reset, once it is spent.
    pub daily_resets_at: Option<SystemTime>,
    /// When an answer last advertised limits.
    pub updated_at: Option<SystemTime>,
}

/// Why a call was not sent (or not sent again) for want of rate-limit budget.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitError {
    /// The resource's daily quota is spent; calls fail at once until it resets.
    DailyQuotaExhausted {
        /// The resource whose quota is spent.
        resource: String,
        /// When it is expected to reset (`Retry-After` when HighLevel sent one, otherwise
        /// the next midnight UTC).
        resets_at: SystemTime,
    },
    /// HighLevel asked to wait longer than the retry configuration allows
    /// (`RetryConfig::max_retry_after`); the call fails instead of sleeping that long.
    RetryAfterTooLong {
        /// The resource that was throttled.
        resource: String,
        /// How long HighLevel asked to wait.
        retry_after: Duration,
        /// The longest wait allowed.
        cap: Duration,
    },
}

impl fmt::Display for RateLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DailyQuotaExhausted {
                resource,
                resets_at,
            } => {
                let at = httpdate::fmt_http_date(*resets_at);
                write!(
                    f,
                    "the daily request quota of {resource} is spent; it resets at {at}"
                )
            }
            Self::RetryAfterTooLong {
                resource,
                retry_after,
                cap,
            } => write!(
                f,
                "{resource} is rate limited for {} s, longer than the {} s the retry \
                 configuration waits",
                retry_after.as_secs(),
                cap.as_secs()
            ),
        }
    }
}

impl std::error::Error for RateLimitError {}

/// The budgets of every resource one handle has called, shared by its clones.
pub(crate) struct RateLimiter {
    config: RateLimitConfig,
    /// Budgets with nobody waiting, nothing sent within their window and nothing to
    /// remember (no 429 block, no spent quota, a full share) are dropped as the map grows.
    resources: Mutex<SweptMap<Arc<str>, Arc<ResourceLimiter>>>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .field("resources", &lock(&self.resources).len())
            .finish()
    }
}

/// One resource: a FIFO queue of waiting callers and the budget they wait for.
#[derive(Debug)]
pub(crate) struct ResourceLimiter {
    name: Arc<str>,
    queue: tokio::sync::Mutex<()>,
    budget: Mutex<Budget>,
    adaptive: bool,
    enabled: bool,
    /// Whether the share is below `max`, so that answers need the lock only then.
    reduced: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a few field writes that cannot be left half done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RateLimiter {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            resources: Mutex::new(SweptMap::default()),
        }
    }

    pub(crate) fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The resource's limiter, created on first use.
    pub(crate) fn resource(&self, name: &str) -> Arc<ResourceLimiter> {
        let mut resources = lock(&self.resources);
        if let Some(existing) = resources.get(name) {
            return existing.clone();
        }
        let name: Arc<str> = Arc::from(name);
        let limiter = Arc::new(ResourceLimiter {
            name: name.clone(),
            queue: tokio::sync::Mutex::new(()),
            budget: Mutex::new(Budget::new(
                self.config.max,
                self.config.interval,
                self.config.daily,
                self.config.margin_floor,
            )),
            adaptive: self.config.adaptive,
            enabled: self.config.enabled,
            reduced: AtomicBool::new(false),
        });
        let now = Instant::now();
        resources.insert(name, limiter.clone(), |_, held| {
            Arc::strong_count(held) > 1 || !held.idle(now)
        });
        limiter
    }

    pub(crate) fn status(&self, resource: &str) -> Option<RateLimitStatus> {
        let limiter = lock(&self.resources).get(resource).cloned()?;
        Some(limiter.status())
    }

    pub(crate) fn statuses(&self) -> Vec<RateLimitStatus> {
        let limiters: Vec<_> = lock(&self.resources).values().cloned().collect();
        let mut statuses: Vec<_> = limiters.iter().map(|l| l.status()).collect();
        statuses.sort_by(|a, b| a.resource.cmp(&b.resource));
        statuses
    }
}

impl ResourceLimiter {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Waits for this caller's turn and for budget, then counts the request as sent.
    /// Returns how long it waited.
    ///
    /// Callers queue in arrival order (tokio's mutex is fair); the one at the head sleeps
    /// until the budget allows it, and re-reads the budget after sleeping because an
    /// answer may have changed it meanwhile.
    pub(crate) async fn acquire(&self) -> Result<Duration, RateLimitError> {
        let started = Instant::now();
        if !self.enabled {
            // Not paced, but a 429's `Retry-After` still holds: without it the retries of a
            // 429 would follow each other at once until the retry budget ran out.
            let blocked = lock(&self.budget).blocked_until(started);
            if let Some(until) = blocked {
                tokio::time::sleep_until(until).await;
            }
            // Still counted, so the status shows the daily count going down.
            lock(&self.budget).grant(Instant::now(), SystemTime::now());
            return Ok(started.elapsed());
        }
        // Nobody waiting (the usual case): no need to queue.
        let _turn = match self.queue.try_lock() {
            Ok(turn) => turn,
            Err(_) => self.queue.lock().await,
        };
        loop {
            let now = Instant::now();
            let wall = SystemTime::now();
            let slot = {
                let mut budget = lock(&self.budget);
                let slot = budget.slot(now, wall);
                if slot == Slot::Now {
                    budget.grant(now, wall);
                }
                slot
            };
            match slot {
                Slot::Now => return Ok(now - started),
                Slot::At(at) => tokio::time::sleep_until(at).await,
                Slot::DailyExhausted { resets_at } => {
                    return Err(RateLimitError::DailyQuotaExhausted {
                        resource: self.name.to_string(),
                        resets_at,
                    });
                }
            }
        }
    }

    /// Whether dropping this budget loses nothing: no grant within the window, no block, no
    /// spent daily quota, a full share.
    fn idle(&self, now: Instant) -> bool {
        lock(&self.budget).idle(now)
    }

    /// Follows an answer's headers (when configured to).
    pub(crate) fn observe(&self, advertised: &Advertised) {
        if !advertised.any() {
            return;
        }
        let mut budget = lock(&self.budget);
        if self.adaptive {
            budget.observe(advertised, Instant::now(), SystemTime::now());
        } else {
            budget.last_advertised = Some((*advertised, SystemTime::now()));
        }
    }

    /// A 429 said to wait `wait`: hold every caller of this resource back that long (and,
    /// adaptive, take a smaller share from now on).
    pub(crate) fn throttled(&self, wait: Duration) {
        let now = Instant::now();
        lock(&self.budget).throttled(now, instant_after(now, wait), self.adaptive);
        if self.adaptive {
            self.reduced.store(true, Ordering::Relaxed);
        }
    }

    /// An answer that was not a 429: an adaptive share grows back.
    pub(crate) fn answered(&self) {
        if self.adaptive && self.reduced.load(Ordering::Relaxed) {
            let mut budget = lock(&self.budget);
            budget.answered(Instant::now());
            if budget.share() >= budget.max() {
                self.reduced.store(false, Ordering::Relaxed);
            }
        }
    }

    /// A 429 said the daily quota is spent; returns the expected reset.
    pub(crate) fn daily_exhausted(&self, retry_after: Option<Duration>) -> SystemTime {
        let wall = SystemTime::now();
        lock(&self.budget).daily_exhausted(retry_after.map(|d| wall_after(wall, d)), wall)
    }

    fn status(&self) -> RateLimitStatus {
        let budget = lock(&self.budget);
        let advertised = budget.last_advertised;
        RateLimitStatus {
            resource: self.name.to_string(),
            max: budget.max(),
            share: budget.share(),
            interval: budget.interval(),
            available_now: budget.available(Instant::now()),
            remaining: advertised.and_then(|(a, _)| a.remaining),
            daily_limit: budget.daily_limit(),
            daily_remaining: budget.daily_remaining(),
            daily_resets_at: budget.daily_resets_at(),
            updated_at: advertised.map(|(_, at)| at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn callers_are_served_in_arrival_order() {
        let limiter = RateLimiter::new(
            RateLimitConfig::new()
                .per_interval(2, Duration::from_secs(1))
                .margin(Duration::ZERO),
        );
        let resource = limiter.resource("location:a");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let resource = resource.clone();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                resource.acquire().await.map(|waited| {
                    lock(&order).push((i, waited));
                })
            }));
            // Let each task reach the queue before the next one starts.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.expect("task").expect("budget");
        }
        let order = lock(&order).clone();
        let ids: Vec<_> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5]);
        let waits: Vec<_> = order.iter().map(|(_, w)| w.as_millis()).collect();
        assert_eq!(waits, [0, 0, 1_010, 1_010, 2_020, 2_020]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_resource_does_not_hold_up_another() {
        let limiter =
            RateLimiter::new(RateLimitConfig::new().per_interval(1, Duration::from_secs(60)));
        let busy = limiter.resource("location:busy");
        busy.acquire().await.expect("first");
        let waiting = tokio::spawn({
            let busy = busy.clone();
            async move { busy.acquire().await }
        });
        tokio::task::yield_now().await;
        let other = limiter.resource("location:other");
        assert_eq!(other.acquire().await, Ok(Duration::ZERO));
        assert!(!waiting.is_finished());
        assert!(waiting.await.expect("task").expect("budget") >= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_never_waits_but_still_reports() {
        let limiter = RateLimiter::new(RateLimitConfig::disabled());
        let resource = limiter.resource("token");
        for _ in 0..500 {
            assert_eq!(resource.acquire().await, Ok(Duration::ZERO));
        }
        resource.observe(&Advertised {
            remaining: Some(7),
            ..Advertised::default()
        });
        let status = limiter.status("token").expect("known resource");
        assert_eq!(status.remaining, Some(7));
        assert!(status.updated_at.is_some());
        assert!(limiter.status("location:never-called").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_holds_even_without_pacing() {
        let limiter = RateLimiter::new(RateLimitConfig::disabled());
        let resource = limiter.resource("token");
        resource.throttled(Duration::from_secs(3));
        assert_eq!(resource.acquire().await, Ok(Duration::from_secs(3)));
        assert_eq!(
            resource.acquire().await,
            Ok(Duration::ZERO),
            "the block is over"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_wait_or_interval_overflows_the_clock() {
        let limiter = RateLimiter::new(
            RateLimitConfig::new()
                .per_interval(1, Duration::MAX)
                .margin(Duration::MAX),
        );
        let resource = limiter.resource("location:a");
        assert_eq!(resource.acquire().await, Ok(Duration::ZERO));
        resource.throttled(Duration::MAX);
        resource.answered();
        let resets_at = resource.daily_exhausted(Some(Duration::from_secs(u64::MAX)));
        assert!(resets_at > SystemTime::now());
        let status = limiter.status("location:a").expect("known");
        assert_eq!(status.available_now, 0);
        assert_eq!(status.daily_resets_at, Some(resets_at));
    }

    #[tokio::test(start_paused = true)]
    async fn ignoring_headers_keeps_the_configured_budget() {
        let limiter = RateLimiter::new(
            RateLimitConfig::new()
                .per_interval(10, Duration::from_secs(1))
                .adaptive(false),
        );
        let resource = limiter.resource("location:a");
        resource.observe(&Advertised {
            max: Some(1),
            remaining: Some(0),
            ..Advertised::default()
        });
        let status = limiter.status("location:a").expect("known");
        assert_eq!(
            (status.max, status.available_now, status.remaining),
            (10, 10, Some(0))
        );
    }

    #[test]
    fn errors_say_what_and_until_when() {
        let daily = RateLimitError::DailyQuotaExhausted {
            resource: "location:abc".into(),
            resets_at: SystemTime::UNIX_EPOCH + Duration::from_secs(86_400),
        };
        assert_eq!(
            daily.to_string(),
            "the daily request quota of location:abc is spent; it resets at Fri, 02 Jan 1970 00:00:00 GMT"
        );
        let long = RateLimitError::RetryAfterTooLong {
            resource: "token".into(),
            retry_after: Duration::from_secs(3_600),
            cap: Duration::from_secs(60),
        };
        assert!(long.to_string().contains("3600 s"), "{long}");
    }
}
