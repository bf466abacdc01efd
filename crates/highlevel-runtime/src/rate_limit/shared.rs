//! A budget shared by every process of an app: the backend trait, and the decisions around it.
//!
//! HighLevel counts an app's requests per location (or company) across all of the app's
//! processes. Without a shared backend each process keeps its own budget and learns about the
//! others only from `X-RateLimit-Remaining`, after the fact. With one ([`SharedBudget`], for
//! instance `RedisBudget` with feature `redis`), every grant is taken from one window that all processes
//! see, and what HighLevel's answers say (a lower remaining count, a 429's `Retry-After`) is
//! written there too.
//!
//! The shared budget is an optimisation, never a dependency: when the backend does not answer
//! within a short timeout the process falls back to its own budget with an estimated share (see
//! [`fallback_share`]), logs it once, and goes back to the shared budget as soon as it answers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::lock;

/// What a [`SharedBudget`] method returns: a boxed future, so that the trait stays usable as
/// `dyn SharedBudget` without an extra dependency.
pub type SharedBudgetFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, SharedBudgetError>> + Send + 'a>>;

/// A budget kept outside the process, shared by every process of an app.
///
/// `key` names one resource's budget (the configured key prefix, then the resource, as in
/// `highlevel:ratelimit:location:abc`); an implementation keeps everything about that budget
/// under it. Each method is one atomic step: nothing may be held locked between calls, since
/// the process making them can die at any point.
pub trait SharedBudget: Send + Sync + fmt::Debug {
    /// Takes one request from the budget if `limits` allow it now; otherwise says how long to
    /// wait (or that the daily quota is spent) and takes nothing.
    ///
    /// `waiter` is the same on every attempt of one call and new for each call, so that a
    /// backend can serve waiting calls in arrival order across processes (a free slot goes
    /// to the longest waiting, not to whoever asks first once it frees). A waiting call asks
    /// again at least every [`SHARED_WAIT_REFRESH`]; a backend may forget a waiter that has
    /// not asked for a few of those (its process died, or the call was dropped).
    fn take<'a>(
        &'a self,
        key: &'a str,
        limits: SharedLimits,
        waiter: SharedWaiter,
    ) -> SharedBudgetFuture<'a, SharedAnswer>;

    /// Adds requests this process sent while the backend did not answer (paced by its own
    /// budget) to the window, each `ages[i]` ago, and to the daily count, so that the
    /// processes do not overshoot the window once the backend answers again. Called once when
    /// the backend answers after an outage, with at most one window's worth of requests.
    fn record_sent<'a>(
        &'a self,
        key: &'a str,
        limits: SharedLimits,
        ages: &'a [Duration],
    ) -> SharedBudgetFuture<'a, SharedCount>;

    /// Writes what an answer said into the budget: requests spent elsewhere
    /// (`X-RateLimit-Remaining` below the budget's own count) and a 429's block.
    fn correct<'a>(
        &'a self,
        key: &'a str,
        correction: SharedCorrection,
    ) -> SharedBudgetFuture<'a, SharedCount>;
}

/// How often a call waiting for the shared budget asks it again at least, so that the
/// backend knows it is still waiting.
pub const SHARED_WAIT_REFRESH: Duration = Duration::from_secs(1);

/// One call waiting for the shared budget (see [`SharedBudget::take`]): unique within the
/// process, whatever the handle or backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedWaiter(u64);

impl SharedWaiter {
    /// A waiter no other call of this process has.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Its number, unique within the process (a backend adds what makes it unique across
    /// processes).
    pub fn id(self) -> u64 {
        self.0
    }
}

/// The limits a grant is taken under (this process's view: configured, or as HighLevel last
/// advertised them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedLimits {
    /// At most this many requests within any `window`.
    pub max: u32,
    /// The interval and its safety margin.
    pub window: Duration,
    /// Requests per UTC day.
    pub daily_limit: u64,
}

/// The shared budget's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedTake {
    /// Taken: send the request now.
    Granted,
    /// Nothing taken: ask again after this long.
    Wait(Duration),
    /// The daily quota is spent for this long.
    DailySpent(Duration),
}

/// The budget's counts after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SharedCount {
    /// Requests within the current window, from every process.
    pub in_window: u32,
    /// Requests today (UTC), from every process.
    pub daily_used: u64,
    /// Whether the step found values it could not use (a hand-edited key, another program's
    /// data under the prefix) and discarded them.
    pub discarded_nonsense: bool,
    /// Calls (at most one per process and resource) waiting in the shared queue, when the
    /// backend keeps one.
    pub waiting: u32,
}

impl SharedCount {
    /// The counts a backend found.
    pub fn new(in_window: u32, daily_used: u64, discarded_nonsense: bool) -> Self {
        Self {
            in_window,
            daily_used,
            discarded_nonsense,
            waiting: 0,
        }
    }

    /// With the number of calls waiting in the backend's queue.
    #[must_use]
    pub fn with_waiting(mut self, waiting: u32) -> Self {
        self.waiting = waiting;
        self
    }
}

/// A [`SharedBudget::take`] result: the verdict and the counts it was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedAnswer {
    /// Whether the request may go.
    pub take: SharedTake,
    /// The counts, after the grant when there was one.
    pub count: SharedCount,
}

impl SharedAnswer {
    /// A verdict and its counts.
    pub fn new(take: SharedTake, count: SharedCount) -> Self {
        Self { take, count }
    }
}

/// What an answer from HighLevel said, to be written to the shared budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedCorrection {
    /// The limits in force (see [`SharedLimits`]).
    pub limits: SharedLimits,
    /// `X-RateLimit-Remaining`: the window holds at least `max - remaining` requests.
    pub remaining: Option<u32>,
    /// `X-RateLimit-Daily-Remaining`: today holds at least `daily_limit - daily_remaining`.
    pub daily_remaining: Option<u64>,
    /// A 429's `Retry-After`: no process sends before this long from now.
    pub blocked_for: Option<Duration>,
}

/// Why the shared budget did not answer; the process then uses its own budget meanwhile.
#[derive(Debug)]
#[non_exhaustive]
pub enum SharedBudgetError {
    /// The backend was not reached or failed the command.
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
    /// It did not answer within the configured timeout.
    Timeout(Duration),
    /// It answered something this client cannot read.
    Unreadable(String),
}

impl fmt::Display for SharedBudgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(e) => write!(f, "the shared rate-limit budget is unavailable: {e}"),
            Self::Timeout(after) => write!(
                f,
                "the shared rate-limit budget did not answer within {} ms",
                after.as_millis()
            ),
            Self::Unreadable(what) => {
                write!(f, "the shared rate-limit budget answered nonsense: {what}")
            }
        }
    }
}

impl std::error::Error for SharedBudgetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unavailable(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// The shared backend as [`super::RateLimitConfig`] holds it: compared by identity, so that
/// two configurations are equal when they share the very same backend.
#[derive(Clone)]
pub(crate) struct SharedBackend(pub(crate) Arc<dyn SharedBudget>);

impl PartialEq for SharedBackend {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedBackend {}

impl fmt::Debug for SharedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The backend's own Debug, which keeps its secrets (a URL's password) out.
        self.0.fmt(f)
    }
}

/// The shared counts as last seen, for [`super::RateLimitStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedFigures {
    /// Requests within the current window, from every process of the app.
    pub in_window: u32,
    /// Requests today (UTC), from every process of the app.
    pub daily_used: u64,
    /// Calls waiting in the shared queue (one per waiting process at most).
    pub waiting: u32,
    /// When the shared budget said so.
    pub seen_at: SystemTime,
}

/// How often a process on its fallback asks the shared budget whether it is back.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Whether the process uses the shared budget or its own, shared by all resources of a handle
/// (the backend is either reachable or not, whatever the resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Link {
    pub(crate) on_fallback: bool,
    /// On the fallback: when to ask the shared budget again.
    next_probe: Option<Instant>,
}

/// What a change of [`Link`] asks to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Unchanged,
    FellBack,
    Recovered,
}

impl Link {
    /// Whether to ask the shared budget now: always while it answers; on the fallback once
    /// per [`PROBE_EVERY`], so that a down backend costs one failed attempt a second, not one
    /// per request.
    pub(crate) fn shared_due(&self, now: Instant) -> bool {
        !self.on_fallback || self.next_probe.is_none_or(|at| now >= at)
    }

    /// The backend failed at `now`.
    pub(crate) fn failed(&mut self, now: Instant) -> Transition {
        let was = self.on_fallback;
        self.on_fallback = true;
        self.next_probe = Some(now + PROBE_EVERY);
        if was {
            Transition::Unchanged
        } else {
            Transition::FellBack
        }
    }

    /// The backend answered.
    pub(crate) fn answered(&mut self) -> Transition {
        let was = self.on_fallback;
        *self = Self::default();
        if was {
            Transition::Recovered
        } else {
            Transition::Unchanged
        }
    }
}

/// The link of one handle, shared by its resources.
#[derive(Debug, Default)]
pub(crate) struct SharedLink(Mutex<Link>);

impl SharedLink {
    pub(crate) fn shared_due(&self, now: Instant) -> bool {
        lock(&self.0).shared_due(now)
    }

    pub(crate) fn on_fallback(&self) -> bool {
        lock(&self.0).on_fallback
    }

    /// Records a failure, logging the fall back once (not once per request while it lasts).
    pub(crate) fn failed(&self, now: Instant, error: &SharedBudgetError) {
        if lock(&self.0).failed(now) == Transition::FellBack {
            tracing::warn!(
                %error,
                "rate limit: shared budget unavailable, each process paces itself until it answers"
            );
        }
    }

    /// Records an answer, logging the return once.
    pub(crate) fn answered(&self) {
        if lock(&self.0).answered() == Transition::Recovered {
            tracing::info!("rate limit: shared budget answers again, back on it");
        }
    }
}

/// The share of `max` a process takes per interval when it falls back to its own budget:
/// the part of the shared window it was using (`own_recent` of `shared_in_window`), so that
/// processes that split the budget keep splitting it instead of each taking all of it. With
/// nothing known about the others, the whole budget (a 429 then halves it, as without a
/// shared backend).
pub(crate) fn fallback_share(max: u32, own_recent: u32, shared_in_window: Option<u32>) -> u32 {
    let max = max.max(1);
    match shared_in_window {
        Some(total) if total > 0 => {
            let own = u64::from(own_recent.min(total));
            let share = (u64::from(max) * own).div_ceil(u64::from(total));
            u32::try_from(share).unwrap_or(max).clamp(1, max)
        }
        _ => max,
    }
}

/// Whether an answer tells the shared budget something it does not know yet, given the
/// counts it last reported; `None` keeps the common case at one round trip per request.
///
/// The shared window counts a request when it is granted, before HighLevel sees it, so a
/// remaining count at or above `max - in_window` is already explained.
pub(crate) fn correction_for(
    limits: SharedLimits,
    remaining: Option<u32>,
    daily_remaining: Option<u64>,
    blocked_for: Option<Duration>,
    last: Option<SharedCount>,
) -> Option<SharedCorrection> {
    let in_window = last.map_or(0, |c| c.in_window);
    let daily_used = last.map_or(0, |c| c.daily_used);
    let remaining = remaining.filter(|r| limits.max.saturating_sub(*r) > in_window);
    let daily_remaining =
        daily_remaining.filter(|r| limits.daily_limit.saturating_sub(*r) > daily_used);
    (remaining.is_some() || daily_remaining.is_some() || blocked_for.is_some()).then_some(
        SharedCorrection {
            limits,
            remaining,
            daily_remaining,
            blocked_for,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SharedLimits {
        SharedLimits {
            max: 100,
            window: Duration::from_millis(10_100),
            daily_limit: 200_000,
        }
    }

    #[test]
    fn a_fallback_keeps_the_part_of_the_window_the_process_used() {
        assert_eq!(fallback_share(100, 25, Some(100)), 25);
        assert_eq!(fallback_share(100, 1, Some(3)), 34, "rounded up");
        assert_eq!(
            fallback_share(100, 0, Some(80)),
            1,
            "an idle process starts low"
        );
        assert_eq!(fallback_share(100, 0, None), 100, "nothing known");
        assert_eq!(fallback_share(100, 0, Some(0)), 100, "nobody else either");
        assert_eq!(fallback_share(100, 500, Some(3)), 100, "never above max");
        assert_eq!(fallback_share(0, 0, Some(0)), 1);
        assert_eq!(fallback_share(u32::MAX, u32::MAX, Some(u32::MAX)), u32::MAX);
    }

    #[test]
    fn only_news_is_written_back() {
        let seen = Some(SharedCount::new(40, 1_000, false));
        assert_eq!(correction_for(limits(), Some(60), None, None, seen), None);
        assert_eq!(correction_for(limits(), Some(80), None, None, seen), None);
        let more_spent = correction_for(limits(), Some(50), None, None, seen).expect("news");
        assert_eq!(more_spent.remaining, Some(50));
        let daily = correction_for(limits(), None, Some(198_000), None, seen).expect("news");
        assert_eq!(
            (daily.remaining, daily.daily_remaining),
            (None, Some(198_000))
        );
        assert_eq!(
            correction_for(limits(), None, Some(199_500), None, seen),
            None
        );
        let blocked = correction_for(limits(), None, None, Some(Duration::from_secs(2)), seen)
            .expect("a block is always news");
        assert_eq!(blocked.blocked_for, Some(Duration::from_secs(2)));
        assert!(correction_for(limits(), Some(99), None, None, None).is_some());
    }

    #[test]
    fn the_link_falls_back_once_probes_once_a_second_and_recovers() {
        let start = Instant::now();
        let mut link = Link::default();
        assert!(link.shared_due(start));
        assert_eq!(link.failed(start), Transition::FellBack);
        assert!(!link.shared_due(start + Duration::from_millis(999)));
        assert!(link.shared_due(start + PROBE_EVERY));
        assert_eq!(link.failed(start + PROBE_EVERY), Transition::Unchanged);
        assert!(!link.shared_due(start + PROBE_EVERY));
        assert_eq!(link.answered(), Transition::Recovered);
        assert!(link.shared_due(start) && !link.on_fallback);
        assert_eq!(link.answered(), Transition::Unchanged);
    }

    #[test]
    fn errors_say_what_failed() {
        let timeout = SharedBudgetError::Timeout(Duration::from_millis(200));
        assert!(timeout.to_string().contains("200 ms"), "{timeout}");
        let nonsense = SharedBudgetError::Unreadable("a reply of 2 numbers".into());
        assert!(nonsense.to_string().contains("2 numbers"));
    }
}
