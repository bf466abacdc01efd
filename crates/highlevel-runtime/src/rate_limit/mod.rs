//! Per-resource rate limiting: requests wait for the budget instead of collecting 429s.
//!
//! HighLevel gives each app a budget per resource (location or company): 100 requests per
//! 10 seconds and 200,000 per day by default. Each resource gets its own `Budget` and its
//! own queue, so callers of one resource are served in arrival order and a busy resource
//! never holds up another. Every answer's `X-RateLimit-*` headers correct the budget: new
//! limits take effect at once, and requests another process spent from the same budget
//! (a remaining count lower than this client can explain) are counted as spent here too.
//!
//! Several processes of one app can share the budget itself through a [`SharedBudget`]
//! backend (`RedisBudget` with feature `redis`): see [`RateLimitConfig::shared`].

mod budget;
pub(crate) mod headers;
#[cfg(feature = "redis")]
mod redis_budget;
mod shared;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::idle::SweptMap;
use crate::saturating::{instant_after, wall_after};
use budget::{Budget, Slot};
pub(crate) use headers::Advertised;
#[cfg(feature = "redis")]
pub use redis_budget::{DEFAULT_SHARED_TIMEOUT, RedisBudget};
pub use shared::{
    SHARED_WAIT_REFRESH, SharedAnswer, SharedBudget, SharedBudgetError, SharedBudgetFuture,
    SharedCorrection, SharedCount, SharedFigures, SharedLimits, SharedTake, SharedWaiter,
};
use shared::{SharedBackend, SharedLink, correction_for, fallback_share};

/// The key prefix of shared budgets unless configured: one resource's budget is at
/// `highlevel:ratelimit:location:<id>`.
pub const DEFAULT_KEY_PREFIX: &str = "highlevel:ratelimit";

/// How long a request waits for the shared budget by default before its process paces itself
/// alone (the fallback).
const SHARED_TIMEOUT: Duration = Duration::from_millis(200);

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
    /// `None`: each process keeps its own budget (the memory backend).
    pub(crate) shared: Option<SharedBackend>,
    pub(crate) key_prefix: String,
    pub(crate) shared_timeout: Duration,
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
            shared: None,
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            shared_timeout: SHARED_TIMEOUT,
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

    /// Takes every grant from `budget`, shared by all processes configured with the same
    /// backend and [`RateLimitConfig::key_prefix`] (default: each process keeps its own
    /// budget in memory). HighLevel's `X-RateLimit-Remaining` and 429 `Retry-After` are
    /// written there, so every process follows them.
    ///
    /// When the backend does not answer within [`RateLimitConfig::shared_timeout`] the
    /// process paces itself with its own budget, starting from the share of the window it was
    /// using, logs that once, and goes back to the shared budget when it answers again
    /// (it asks once a second). No call fails because the backend is down.
    #[must_use]
    pub fn shared(self, budget: impl SharedBudget + 'static) -> Self {
        self.shared_arc(Arc::new(budget))
    }

    /// [`RateLimitConfig::shared`] with a backend already behind an `Arc` (one connection
    /// for several handles).
    #[must_use]
    pub fn shared_arc(mut self, budget: Arc<dyn SharedBudget>) -> Self {
        self.shared = Some(SharedBackend(budget));
        self
    }

    /// Where the shared budgets live (default [`DEFAULT_KEY_PREFIX`]): apps that share one
    /// Redis need one prefix each, or they share one budget. A process with a static token
    /// (private integration token) keeps its budget at `<prefix>:token`, so give each token a
    /// prefix of its own.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long a request waits for the shared budget before its process falls back to its
    /// own (default 200 ms; at least 1 ms).
    #[must_use]
    pub fn shared_timeout(mut self, timeout: Duration) -> Self {
        self.shared_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Whether requests are paced.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether grants come from a shared backend.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
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
    /// The shared budget's counts as it last reported them (`None` without a shared
    /// backend, or before its first answer).
    pub shared: Option<SharedFigures>,
    /// Whether the process paces itself because the shared backend does not answer.
    pub on_fallback: bool,
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
    /// Whether the shared backend answers, for every resource of the handle.
    link: Arc<SharedLink>,
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
    /// Callers in (or joining) the queue; while there are any, no one passes them.
    waiting: AtomicUsize,
    budget: Mutex<Budget>,
    adaptive: bool,
    enabled: bool,
    /// Whether the share is below `max`, so that answers need the lock only then.
    reduced: AtomicBool,
    shared: Option<SharedSide>,
}

/// One resource's side of the shared budget.
#[derive(Debug)]
struct SharedSide {
    backend: SharedBackend,
    /// `<prefix>:<resource>`.
    key: String,
    link: Arc<SharedLink>,
    timeout: Duration,
    /// The counts the backend last reported, and when.
    last: Mutex<Option<(SharedCount, SystemTime)>>,
    /// Whether this resource currently runs on its own budget (so that entering and leaving
    /// the fallback adjust its share once).
    local: AtomicBool,
    /// Since when, while the requests it sent on its own budget are not yet written back.
    fell_back_at: Mutex<Option<Instant>>,
}

impl SharedSide {
    /// Runs one backend step within the timeout; records the outcome on the link and the
    /// counts; `None` when the backend failed (the caller falls back).
    async fn step<T>(
        &self,
        step: shared::SharedBudgetFuture<'_, T>,
        count_of: impl Fn(&T) -> SharedCount,
    ) -> Option<T> {
        let result = match tokio::time::timeout(self.timeout, step).await {
            Ok(result) => result,
            Err(_) => Err(SharedBudgetError::Timeout(self.timeout)),
        };
        match result {
            Ok(answer) => {
                self.link.answered();
                let count = count_of(&answer);
                if count.discarded_nonsense {
                    tracing::warn!(
                        key = %self.key,
                        "rate limit: unusable values in the shared budget were discarded"
                    );
                }
                *lock(&self.last) = Some((count, SystemTime::now()));
                Some(answer)
            }
            Err(error) => {
                self.link.failed(Instant::now(), &error);
                None
            }
        }
    }

    fn last_count(&self) -> Option<SharedCount> {
        lock(&self.last).map(|(count, _)| count)
    }
}

/// A caller counted in [`ResourceLimiter::waiting`] until it is served or given up on (its
/// future dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn join(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
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
            link: Arc::new(SharedLink::default()),
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
            waiting: AtomicUsize::new(0),
            budget: Mutex::new(Budget::new(
                self.config.max,
                self.config.interval,
                self.config.daily,
                self.config.margin_floor,
            )),
            adaptive: self.config.adaptive,
            enabled: self.config.enabled,
            reduced: AtomicBool::new(false),
            shared: self.config.shared.clone().map(|backend| SharedSide {
                backend,
                key: format!("{}:{name}", self.config.key_prefix),
                link: self.link.clone(),
                timeout: self.config.shared_timeout,
                last: Mutex::new(None),
                local: AtomicBool::new(false),
                fell_back_at: Mutex::new(None),
            }),
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
    /// A caller that finds budget left and nobody waiting goes at once, without queueing.
    /// Otherwise callers queue in arrival order (tokio's mutex is fair); the one at the head sleeps
    /// until the budget allows it, and re-reads the budget after sleeping because an
    /// answer may have changed it meanwhile. With a shared backend the head of each process's
    /// queue waits in the backend's queue too, as one [`SharedWaiter`] until it is granted.
    ///
    /// `started` is now, as the caller last read the clock.
    pub(crate) async fn acquire(&self, started: Instant) -> Result<Duration, RateLimitError> {
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
        // Nobody waiting and budget left (the usual case): granted without queueing. A
        // caller that finds others waiting queues behind them, in arrival order.
        if self.shared.is_none()
            && self.waiting.load(Ordering::Acquire) == 0
            && lock(&self.budget).try_grant(started)
        {
            return Ok(Duration::ZERO);
        }
        let _waiting = Waiting::join(&self.waiting);
        let (_turn, queued) = match self.queue.try_lock() {
            Ok(turn) => (turn, false),
            Err(_) => (self.queue.lock().await, true),
        };
        // Only a shared backend needs this call told apart from others (a process-wide
        // counter, so not paid per request without one).
        let waiter = self.shared.is_some().then(SharedWaiter::next);
        // One clock read per pass: the first reuses `started` unless it queued.
        let mut now = if queued { Instant::now() } else { started };
        loop {
            let wall = SystemTime::now();
            if let Some(shared) = &self.shared
                && let Some(waiter) = waiter
                && shared.link.shared_due(now)
            {
                // Boxed: the shared step is most of this future's size, and every call's
                // future (shared budget or not) would carry it.
                match Box::pin(self.take_shared(shared, waiter, now, wall)).await {
                    Some(Slot::Now) => return Ok(Instant::now() - started),
                    Some(Slot::At(at)) => {
                        tokio::time::sleep_until(at).await;
                        now = Instant::now();
                        continue;
                    }
                    Some(Slot::DailyExhausted { resets_at }) => {
                        return Err(RateLimitError::DailyQuotaExhausted {
                            resource: self.name.to_string(),
                            resets_at,
                        });
                    }
                    // The backend failed: this process paces itself (below) meanwhile.
                    None => {}
                }
            }
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
                Slot::At(at) => {
                    tokio::time::sleep_until(at).await;
                    now = Instant::now();
                }
                Slot::DailyExhausted { resets_at } => {
                    return Err(RateLimitError::DailyQuotaExhausted {
                        resource: self.name.to_string(),
                        resets_at,
                    });
                }
            }
        }
    }

    /// One attempt at the shared budget: `None` when it did not answer.
    ///
    /// What only this process knows holds first (a `Retry-After` it was given, a daily quota
    /// HighLevel said is spent); then the shared window decides.
    async fn take_shared(
        &self,
        shared: &SharedSide,
        waiter: SharedWaiter,
        now: Instant,
        wall: SystemTime,
    ) -> Option<Slot> {
        let limits = {
            let mut budget = lock(&self.budget);
            let held = budget.held(now, wall);
            if held != Slot::Now {
                return Some(held);
            }
            budget.shared_limits()
        };
        if !self.write_back(shared, limits, now).await {
            return None;
        }
        let Some(answer) = shared
            .step(shared.backend.0.take(&shared.key, limits, waiter), |a| {
                a.count
            })
            .await
        else {
            self.enter_fallback(shared, now);
            return None;
        };
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut budget = lock(&self.budget);
        if shared.local.swap(false, Ordering::Relaxed) {
            // Back on the shared budget, which now decides the share.
            let max = budget.max();
            budget.assume_share(max, now);
        }
        Some(match answer.take {
            SharedTake::Granted => {
                // Counted here too: the own log is the fallback's starting point.
                budget.grant(now, wall);
                Slot::Now
            }
            // Asked again at least once per window, in case the budget changed meanwhile, and
            // often enough that the backend keeps this waiter's place in its queue.
            SharedTake::Wait(wait) => Slot::At(instant_after(
                now,
                wait.min(limits.window).min(SHARED_WAIT_REFRESH),
            )),
            SharedTake::DailySpent(left) => Slot::DailyExhausted {
                resets_at: wall_after(wall, left),
            },
        })
    }

    /// Back from the fallback: writes the requests this process sent on its own budget to
    /// the shared window first, so that the processes that come back together do not each
    /// take a whole window again. `false` when the backend still does not answer.
    async fn write_back(&self, shared: &SharedSide, limits: SharedLimits, now: Instant) -> bool {
        let Some(since) = *lock(&shared.fell_back_at) else {
            return true;
        };
        let ages = lock(&self.budget).sent_since(since, now);
        if !ages.is_empty()
            && shared
                .step(
                    shared.backend.0.record_sent(&shared.key, limits, &ages),
                    |count| *count,
                )
                .await
                .is_none()
        {
            return false;
        }
        *lock(&shared.fell_back_at) = None;
        true
    }

    /// The shared backend just failed: if this resource was on it, its own budget takes over
    /// with the share of the window this process was using (adaptive; otherwise the budget
    /// stays exactly as configured).
    fn enter_fallback(&self, shared: &SharedSide, now: Instant) {
        if shared.local.swap(true, Ordering::Relaxed) {
            return;
        }
        lock(&shared.fell_back_at).get_or_insert(now);
        if !self.adaptive {
            return;
        }
        let in_window = shared.last_count().map(|c| c.in_window);
        let mut budget = lock(&self.budget);
        let share = fallback_share(budget.max(), budget.own_recent(now), in_window);
        budget.assume_share(share, now);
        if share < budget.max() {
            self.reduced.store(true, Ordering::Relaxed);
        }
    }

    /// Writes what an answer said to the shared budget, when it is news to it (see
    /// [`shared::correction_for`]); a 429's block always is. Does nothing without a shared
    /// backend or while the process is on its fallback (probing is the requests' job).
    pub(crate) async fn report(&self, advertised: &Advertised, blocked_for: Option<Duration>) {
        let Some(shared) = &self.shared else {
            return;
        };
        if shared.link.on_fallback() {
            return;
        }
        let limits = lock(&self.budget).shared_limits();
        // Not adaptive: the budget is exactly what is configured, whatever the headers say.
        let (remaining, daily_remaining) = if self.adaptive {
            (advertised.remaining, advertised.daily_remaining)
        } else {
            (None, None)
        };
        let Some(correction) = correction_for(
            limits,
            remaining,
            daily_remaining,
            blocked_for,
            shared.last_count(),
        ) else {
            return;
        };
        if shared
            .step(shared.backend.0.correct(&shared.key, correction), |count| {
                *count
            })
            .await
            .is_none()
        {
            self.enter_fallback(shared, Instant::now());
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
        if self.adaptive && self.shared.is_some() {
            // Requests spent elsewhere go to the shared window (`report`); the own log keeps
            // only this process's grants, the fallback's measure of its share.
            let limits_only = Advertised {
                remaining: None,
                ..*advertised
            };
            budget.observe(&limits_only, Instant::now(), SystemTime::now());
            budget.last_advertised = Some((*advertised, SystemTime::now()));
        } else if self.adaptive {
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
        let shared = self.shared.as_ref().and_then(|side| {
            lock(&side.last).map(|(count, seen_at)| SharedFigures {
                in_window: count.in_window,
                daily_used: count.daily_used,
                waiting: count.waiting,
                seen_at,
            })
        });
        let on_fallback = self.shared.as_ref().is_some_and(|s| s.link.on_fallback());
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
            shared,
            on_fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared budget in memory that can be switched off, counting grants per window.
    #[derive(Debug, Default)]
    struct SwitchableBudget {
        down: AtomicBool,
        grants: Mutex<Vec<Instant>>,
        corrections: Mutex<Vec<SharedCorrection>>,
        recorded: Mutex<Vec<Vec<Duration>>>,
    }

    impl SharedBudget for SwitchableBudget {
        fn take<'a>(
            &'a self,
            _key: &'a str,
            limits: SharedLimits,
            _waiter: SharedWaiter,
        ) -> SharedBudgetFuture<'a, SharedAnswer> {
            Box::pin(async move {
                if self.down.load(Ordering::Relaxed) {
                    return Err(SharedBudgetError::Unavailable("switched off".into()));
                }
                let now = Instant::now();
                let mut grants = lock(&self.grants);
                grants.retain(|t| *t + limits.window > now);
                let in_window = u32::try_from(grants.len()).expect("small");
                if in_window >= limits.max {
                    let wait = grants[0] + limits.window - now;
                    return Ok(SharedAnswer::new(
                        SharedTake::Wait(wait),
                        SharedCount::new(in_window, 0, false),
                    ));
                }
                grants.push(now);
                Ok(SharedAnswer::new(
                    SharedTake::Granted,
                    SharedCount::new(in_window + 1, 0, false),
                ))
            })
        }

        fn correct<'a>(
            &'a self,
            _key: &'a str,
            correction: SharedCorrection,
        ) -> SharedBudgetFuture<'a, SharedCount> {
            Box::pin(async move {
                lock(&self.corrections).push(correction);
                Ok(SharedCount::default())
            })
        }

        fn record_sent<'a>(
            &'a self,
            _key: &'a str,
            _limits: SharedLimits,
            ages: &'a [Duration],
        ) -> SharedBudgetFuture<'a, SharedCount> {
            Box::pin(async move {
                if self.down.load(Ordering::Relaxed) {
                    return Err(SharedBudgetError::Unavailable("switched off".into()));
                }
                lock(&self.recorded).push(ages.to_vec());
                let now = Instant::now();
                let mut grants = lock(&self.grants);
                grants.extend(ages.iter().map(|age| now - *age));
                grants.sort();
                Ok(SharedCount::new(
                    u32::try_from(grants.len()).expect("small"),
                    0,
                    false,
                ))
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_down_shared_budget_falls_back_to_the_share_used_and_recovers() {
        let backend = Arc::new(SwitchableBudget::default());
        let config = RateLimitConfig::new()
            .per_interval(4, Duration::from_secs(1))
            .margin(Duration::ZERO)
            .shared_arc(backend.clone());
        let limiter = RateLimiter::new(config);
        let resource = limiter.resource("location:a");
        // Another process took half of the window.
        lock(&backend.grants).extend([Instant::now(), Instant::now()]);
        for _ in 0..2 {
            assert_eq!(resource.acquire(Instant::now()).await, Ok(Duration::ZERO));
        }
        assert_eq!(
            resource.acquire(Instant::now()).await,
            Ok(Duration::from_millis(1_010)),
            "the shared window is full (1 s and the 1 % margin)"
        );
        let status = limiter.status("location:a").expect("known");
        assert!(!status.on_fallback);
        assert_eq!(status.shared.map(|s| s.in_window), Some(1));

        backend.down.store(true, Ordering::Relaxed);
        tokio::time::advance(Duration::from_millis(500)).await;
        resource
            .acquire(Instant::now())
            .await
            .expect("the fallback grants");
        let status = limiter.status("location:a").expect("known");
        assert!(status.on_fallback);
        assert_eq!(status.share, 4, "it had the whole window to itself of late");

        backend.down.store(false, Ordering::Relaxed);
        tokio::time::advance(shared::PROBE_EVERY).await;
        resource
            .acquire(Instant::now())
            .await
            .expect("the shared budget grants");
        assert!(!limiter.status("location:a").expect("known").on_fallback);
        assert_eq!(
            *lock(&backend.recorded),
            [vec![Duration::from_millis(1_000)]],
            "the fallback's grant, written back first"
        );
        assert_eq!(
            lock(&backend.grants).len(),
            2,
            "the fallback's grant and one granted by the backend again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_sent_on_the_fallback_are_written_back_once_when_it_answers() {
        let backend = Arc::new(SwitchableBudget::default());
        let limiter = RateLimiter::new(
            RateLimitConfig::new()
                .per_interval(10, Duration::from_secs(10))
                .margin(Duration::ZERO)
                .shared_arc(backend.clone()),
        );
        let resource = limiter.resource("location:a");
        resource
            .acquire(Instant::now())
            .await
            .expect("shared grant");
        backend.down.store(true, Ordering::Relaxed);
        tokio::time::advance(Duration::from_secs(1)).await;
        for _ in 0..3 {
            resource
                .acquire(Instant::now())
                .await
                .expect("the fallback grants");
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        // A probe while it is still down writes nothing and keeps the grants for later.
        tokio::time::advance(shared::PROBE_EVERY).await;
        resource
            .acquire(Instant::now())
            .await
            .expect("the fallback grants");
        assert!(lock(&backend.recorded).is_empty());

        backend.down.store(false, Ordering::Relaxed);
        tokio::time::advance(shared::PROBE_EVERY).await;
        resource
            .acquire(Instant::now())
            .await
            .expect("the shared budget grants");
        let ms = |ms| Duration::from_millis(ms);
        assert_eq!(
            *lock(&backend.recorded),
            [vec![ms(2_300), ms(2_200), ms(2_100), ms(1_000)]],
            "the 4 fallback grants with their ages, not the shared grant before"
        );
        assert_eq!(lock(&backend.grants).len(), 1 + 4 + 1);
        resource
            .acquire(Instant::now())
            .await
            .expect("the shared budget grants");
        assert_eq!(lock(&backend.recorded).len(), 1, "written back once");
    }

    #[tokio::test(start_paused = true)]
    async fn the_fallback_share_is_the_part_of_the_window_this_process_used() {
        let backend = Arc::new(SwitchableBudget::default());
        let limiter = RateLimiter::new(
            RateLimitConfig::new()
                .per_interval(10, Duration::from_secs(10))
                .shared_arc(backend.clone()),
        );
        let resource = limiter.resource("location:a");
        lock(&backend.grants).extend([Instant::now(); 6]);
        for _ in 0..2 {
            resource.acquire(Instant::now()).await.expect("granted");
        }
        backend.down.store(true, Ordering::Relaxed);
        resource
            .acquire(Instant::now())
            .await
            .expect("the fallback grants");
        let status = limiter.status("location:a").expect("known");
        assert!(status.on_fallback);
        // 2 of the 8 in the window: a quarter of 10, rounded up.
        assert_eq!(status.share, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn only_news_and_blocks_reach_the_shared_budget() {
        let backend = Arc::new(SwitchableBudget::default());
        let limiter = RateLimiter::new(
            RateLimitConfig::new()
                .per_interval(10, Duration::from_secs(10))
                .shared_arc(backend.clone()),
        );
        let resource = limiter.resource("location:a");
        resource.acquire(Instant::now()).await.expect("granted");
        let explained = Advertised {
            remaining: Some(9),
            ..Advertised::default()
        };
        resource.report(&explained, None).await;
        assert!(lock(&backend.corrections).is_empty());
        let spent_elsewhere = Advertised {
            remaining: Some(3),
            ..Advertised::default()
        };
        resource.observe(&spent_elsewhere);
        resource.report(&spent_elsewhere, None).await;
        resource
            .report(&Advertised::default(), Some(Duration::from_secs(2)))
            .await;
        let corrections = lock(&backend.corrections).clone();
        assert_eq!(corrections.len(), 2);
        assert_eq!(corrections[0].remaining, Some(3));
        assert_eq!(corrections[1].blocked_for, Some(Duration::from_secs(2)));
        // The own log keeps this process's grant only: the fallback's measure.
        let status = limiter.status("location:a").expect("known");
        assert_eq!((status.available_now, status.remaining), (9, Some(3)));
    }

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
                resource.acquire(Instant::now()).await.map(|waited| {
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
    async fn a_caller_given_up_on_no_longer_holds_others_in_the_queue() {
        let limiter =
            RateLimiter::new(RateLimitConfig::new().per_interval(1, Duration::from_secs(1)));
        let resource = limiter.resource("location:a");
        resource.acquire(Instant::now()).await.expect("first");
        let queued = tokio::spawn({
            let resource = resource.clone();
            async move { resource.acquire(Instant::now()).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(resource.waiting.load(Ordering::Acquire), 1);
        // While it waits, a newcomer queues behind it instead of passing it.
        let newcomer = tokio::spawn({
            let resource = resource.clone();
            async move { resource.acquire(Instant::now()).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(resource.waiting.load(Ordering::Acquire), 2);
        queued.abort();
        newcomer.abort();
        assert!(queued.await.is_err_and(|e| e.is_cancelled()));
        assert!(newcomer.await.is_err_and(|e| e.is_cancelled()));
        assert_eq!(resource.waiting.load(Ordering::Acquire), 0);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(resource.acquire(Instant::now()).await, Ok(Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_resource_does_not_hold_up_another() {
        let limiter =
            RateLimiter::new(RateLimitConfig::new().per_interval(1, Duration::from_secs(60)));
        let busy = limiter.resource("location:busy");
        busy.acquire(Instant::now()).await.expect("first");
        let waiting = tokio::spawn({
            let busy = busy.clone();
            async move { busy.acquire(Instant::now()).await }
        });
        tokio::task::yield_now().await;
        let other = limiter.resource("location:other");
        assert_eq!(other.acquire(Instant::now()).await, Ok(Duration::ZERO));
        assert!(!waiting.is_finished());
        assert!(waiting.await.expect("task").expect("budget") >= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_never_waits_but_still_reports() {
        let limiter = RateLimiter::new(RateLimitConfig::disabled());
        let resource = limiter.resource("token");
        for _ in 0..500 {
            assert_eq!(resource.acquire(Instant::now()).await, Ok(Duration::ZERO));
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
        assert_eq!(
            resource.acquire(Instant::now()).await,
            Ok(Duration::from_secs(3))
        );
        assert_eq!(
            resource.acquire(Instant::now()).await,
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
        assert_eq!(resource.acquire(Instant::now()).await, Ok(Duration::ZERO));
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
