//! One resource's budget: at most `max` requests in any `interval`, and a daily count.
//!
//! The window is a sliding log of the last `max` grants. Whether HighLevel counts in fixed
//! windows (starting at a resource's first request) or sliding ones, a sequence that never
//! has more than `max` requests in any `interval` stays inside both, and it reaches the
//! fixed window's full rate: a burst of `max`, then the next `max` one interval later.
//! A token bucket (GCRA, as in `governor`) cannot do both: with a burst of `max` it sends up
//! to twice `max` within one interval, with a burst of 1 it loses ~10 % of the budget.
//!
//! Clients that share nothing but the budget (two processes with their own limiters) cannot
//! see each other's bursts before they collide. So the window holds this client's *share* of
//! `max`: a 429 the budget did not predict halves it (once per interval), and each quiet
//! interval gives back a twentieth of `max`, as TCP shares a link: greedy clients converge
//! on fair shares instead of colliding at every window.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::headers::Advertised;
use crate::saturating::{self, instant_after};

/// Seconds in a day; the daily quota is assumed to reset at midnight UTC unless HighLevel
/// says when (`Retry-After`).
const DAY_SECS: u64 = 86_400;

#[derive(Debug)]
pub(crate) struct Budget {
    max: u32,
    /// How many of `max` this client takes per interval (all, until a 429 says otherwise).
    share: u32,
    last_cut: Option<Instant>,
    last_raise: Option<Instant>,
    interval: Duration,
    margin_floor: Duration,
    /// Send times of the latest grants (and of requests other clients spent, as learned
    /// from `X-RateLimit-Remaining`), oldest first, at most `max` of them.
    grants: VecDeque<Instant>,
    /// No grant before this (a 429 said to wait).
    blocked_until: Option<Instant>,
    daily_limit: u64,
    /// The daily remaining count last advertised, less the grants since.
    daily_remaining: Option<u64>,
    daily_resets_at: Option<SystemTime>,
    /// The latest advertised values, as they came, for [`super::RateLimitStatus`].
    pub(crate) last_advertised: Option<(Advertised, SystemTime)>,
}

/// Why no request may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Send now.
    Now,
    /// Wait until then, and ask again.
    At(Instant),
    /// The daily quota is spent until then.
    DailyExhausted { resets_at: SystemTime },
}

impl Budget {
    pub(crate) fn new(
        max: u32,
        interval: Duration,
        daily_limit: u64,
        margin_floor: Duration,
    ) -> Self {
        Self {
            max: max.max(1),
            share: max.max(1),
            last_cut: None,
            last_raise: None,
            interval: interval.min(saturating::LONGEST),
            margin_floor: margin_floor.min(saturating::LONGEST),
            grants: VecDeque::new(),
            blocked_until: None,
            daily_limit,
            daily_remaining: None,
            daily_resets_at: None,
            last_advertised: None,
        }
    }

    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    /// Requests per interval this client allows itself.
    pub(crate) fn share(&self) -> u32 {
        self.share.clamp(1, self.max)
    }

    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    pub(crate) fn daily_limit(&self) -> u64 {
        self.daily_limit
    }

    /// Slack added to each interval so that a request sent exactly one interval after
    /// another does not arrive before the server's window has moved on (network jitter).
    fn margin(&self) -> Duration {
        (self.interval / 100).max(self.margin_floor)
    }

    /// The interval and its margin.
    fn window(&self) -> Duration {
        self.interval.saturating_add(self.margin())
    }

    /// Requests sent (or counted as sent) within the last window.
    fn recent(&self, now: Instant) -> usize {
        let window = self.window();
        self.grants
            .iter()
            .filter(|t| instant_after(**t, window) > now)
            .count()
    }

    /// What holds the next request back whatever the window says: a spent daily quota, a
    /// 429's block. [`Slot::Now`] when neither does.
    pub(crate) fn held(&mut self, now: Instant, wall: SystemTime) -> Slot {
        if let (Some(0), Some(resets_at)) = (self.daily_remaining, self.daily_resets_at) {
            if wall < resets_at {
                return Slot::DailyExhausted { resets_at };
            }
            // Past the estimated reset: unknown again until HighLevel says.
            self.daily_remaining = None;
            self.daily_resets_at = None;
        }
        if let Some(blocked) = self.blocked_until {
            if blocked > now {
                return Slot::At(blocked);
            }
            self.blocked_until = None;
        }
        Slot::Now
    }

    /// When the next request may be sent.
    pub(crate) fn slot(&mut self, now: Instant, wall: SystemTime) -> Slot {
        let mut at = now;
        match self.held(now, wall) {
            Slot::Now => {}
            Slot::At(blocked) => at = blocked,
            spent @ Slot::DailyExhausted { .. } => return spent,
        }
        let window = self.window();
        while self.grants.len() > self.max as usize {
            self.grants.pop_front();
        }
        let share = self.share() as usize;
        if let Some(oldest) = self
            .grants
            .len()
            .checked_sub(share)
            .and_then(|i| self.grants.get(i))
        {
            at = at.max(instant_after(*oldest, window));
        }
        if at <= now { Slot::Now } else { Slot::At(at) }
    }

    /// Grants a request at `now` if [`Budget::slot`] allows one now. The wall clock is read
    /// only while a daily count is kept: nothing else here depends on it.
    pub(crate) fn try_grant(&mut self, now: Instant) -> bool {
        let wall = if self.daily_remaining.is_some() {
            SystemTime::now()
        } else {
            SystemTime::UNIX_EPOCH
        };
        let free = self.slot(now, wall) == Slot::Now;
        if free {
            self.grant(now, wall);
        }
        free
    }

    /// The limits a shared budget grants under: this budget's, with the margin.
    pub(crate) fn shared_limits(&self) -> super::SharedLimits {
        super::SharedLimits {
            max: self.max,
            window: self.window(),
            daily_limit: self.daily_limit,
        }
    }

    /// Requests this budget's log holds within the last window (with a shared backend: this
    /// process's own grants).
    pub(crate) fn own_recent(&self, now: Instant) -> u32 {
        u32::try_from(self.recent(now)).unwrap_or(u32::MAX)
    }

    /// How long ago each grant of the last window sent at or after `since` went, oldest
    /// first (with a shared backend: the requests this process sent on its fallback).
    pub(crate) fn sent_since(&self, since: Instant, now: Instant) -> Vec<Duration> {
        let window = self.window();
        self.grants
            .iter()
            .filter(|t| **t >= since && instant_after(**t, window) > now)
            .map(|t| now.saturating_duration_since(*t))
            .collect()
    }

    /// Takes `share` of `max` from now on (clamped to 1..=max); it grows back as after a
    /// 429, from one interval on.
    pub(crate) fn assume_share(&mut self, share: u32, now: Instant) {
        self.share = share.clamp(1, self.max);
        if self.share < self.max {
            self.last_cut = Some(now);
        }
    }

    /// Records a request sent at `now` (after [`Budget::slot`] said [`Slot::Now`]).
    pub(crate) fn grant(&mut self, now: Instant, wall: SystemTime) {
        self.push(now);
        if let Some(remaining) = &mut self.daily_remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 && self.daily_resets_at.is_none() {
                self.daily_resets_at = Some(next_utc_midnight(wall));
            }
        }
    }

    fn push(&mut self, at: Instant) {
        self.grants.push_back(at);
        while self.grants.len() > self.max as usize {
            self.grants.pop_front();
        }
    }

    /// Follows what an answer advertised: new limits, and requests spent elsewhere (another
    /// process, another app instance) that the local log does not know about.
    pub(crate) fn observe(&mut self, advertised: &Advertised, now: Instant, wall: SystemTime) {
        if !advertised.any() {
            return;
        }
        self.last_advertised = Some((*advertised, wall));
        if let Some(max) = advertised.max
            && max != self.max
        {
            // A client taking the whole budget keeps doing so at the new size.
            self.share = if self.share >= self.max {
                max
            } else {
                self.share.min(max)
            };
            self.max = max;
        }
        if let Some(interval) = advertised.interval {
            self.interval = interval.min(saturating::LONGEST);
        }
        if let Some(limit) = advertised.daily_limit {
            self.daily_limit = limit;
        }
        if let Some(remaining) = advertised.remaining {
            let recent = self.recent(now);
            let local_left = (self.max as usize).saturating_sub(recent);
            // More spent than this client sent: count the difference as sent now. Fewer
            // spent is normal (answers to requests still in flight come later) and ignored.
            for _ in 0..local_left.saturating_sub(remaining as usize) {
                self.push(now);
            }
        }
        if let Some(remaining) = advertised.daily_remaining {
            self.daily_remaining = Some(remaining);
            self.daily_resets_at = (remaining == 0).then(|| next_utc_midnight(wall));
        }
    }

    /// After a 429 that was not about the daily quota: nothing goes before `until`, and
    /// (`adapt`) the share halves, at most once per interval.
    pub(crate) fn throttled(&mut self, now: Instant, until: Instant, adapt: bool) {
        self.block_until(until);
        if adapt
            && self
                .last_cut
                .is_none_or(|cut| now >= instant_after(cut, self.interval))
        {
            self.share = (self.share() / 2).max(1);
            self.last_cut = Some(now);
        }
    }

    /// After an answer that was not a 429: a share below `max` grows by a twentieth of
    /// `max`, at most once per interval and not within an interval of the last cut.
    pub(crate) fn answered(&mut self, now: Instant) {
        let quiet = |at: Option<Instant>| at.is_none_or(|t| now >= instant_after(t, self.interval));
        if self.share < self.max && quiet(self.last_cut) && quiet(self.last_raise) {
            self.share = (self.share + (self.max / 20).max(1)).min(self.max);
            self.last_raise = Some(now);
        }
    }

    /// Whether a fresh budget would behave the same from `now` on.
    pub(crate) fn idle(&self, now: Instant) -> bool {
        self.recent(now) == 0
            && self.blocked_until(now).is_none()
            && self.daily_remaining != Some(0)
            && self.share() >= self.max
    }

    /// Until when a 429 holds requests back, if it still does at `now`.
    pub(crate) fn blocked_until(&self, now: Instant) -> Option<Instant> {
        self.blocked_until.filter(|until| *until > now)
    }

    /// Nothing goes before `until`.
    pub(crate) fn block_until(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// After a 429 for the daily quota: spent until `resets_at` (or midnight UTC).
    pub(crate) fn daily_exhausted(
        &mut self,
        resets_at: Option<SystemTime>,
        wall: SystemTime,
    ) -> SystemTime {
        let resets_at = resets_at.unwrap_or_else(|| next_utc_midnight(wall));
        self.daily_remaining = Some(0);
        self.daily_resets_at = Some(resets_at);
        resets_at
    }

    pub(crate) fn daily_remaining(&self) -> Option<u64> {
        self.daily_remaining
    }

    pub(crate) fn daily_resets_at(&self) -> Option<SystemTime> {
        self.daily_resets_at
    }

    /// Requests this client may still send now without waiting (local estimate).
    pub(crate) fn available(&self, now: Instant) -> u32 {
        if self.blocked_until.is_some_and(|b| b > now) {
            return 0;
        }
        let recent = self.recent(now);
        u32::try_from((self.share() as usize).saturating_sub(recent)).unwrap_or(0)
    }
}

pub(crate) fn next_utc_midnight(now: SystemTime) -> SystemTime {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs((secs / DAY_SECS + 1) * DAY_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_FLOOR: Duration = Duration::ZERO;

    fn wall() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// Grants as fast as the budget allows; returns the send times relative to `start`.
    fn drain(budget: &mut Budget, start: Instant, count: usize) -> Vec<Duration> {
        let mut now = start;
        let mut sent = Vec::new();
        while sent.len() < count {
            match budget.slot(now, wall()) {
                Slot::Now => {
                    budget.grant(now, wall());
                    sent.push(now - start);
                }
                Slot::At(at) => now = at,
                Slot::DailyExhausted { .. } => break,
            }
        }
        sent
    }

    #[test]
    fn bursts_then_waits_one_interval_plus_margin() {
        let start = Instant::now();
        let mut budget = Budget::new(100, Duration::from_secs(10), 200_000, NO_FLOOR);
        let sent = drain(&mut budget, start, 1_000);
        assert_eq!(sent.len(), 1_000);
        // 100 at once, then each batch of 100 exactly one window (10 s + 1 %) later.
        assert!(sent[..100].iter().all(|t| t.is_zero()));
        assert_eq!(sent[100], Duration::from_millis(10_100));
        assert_eq!(sent[999], Duration::from_millis(9 * 10_100));
        // Never more than 100 in any 10 s.
        for (i, t) in sent.iter().enumerate().skip(100) {
            assert!(*t >= sent[i - 100] + Duration::from_secs(10));
        }
    }

    #[test]
    fn margin_has_a_floor() {
        let start = Instant::now();
        let mut budget = Budget::new(2, Duration::from_millis(100), 10, Duration::from_millis(20));
        let sent = drain(&mut budget, start, 3);
        assert_eq!(sent[2], Duration::from_millis(120));
    }

    #[test]
    fn remaining_below_the_local_view_counts_foreign_requests() {
        let start = Instant::now();
        let mut budget = Budget::new(10, Duration::from_secs(1), 1_000, NO_FLOOR);
        for _ in 0..2 {
            budget.grant(start, wall());
        }
        // The server saw 7 in its window: 5 came from someone else.
        let advertised = Advertised {
            remaining: Some(3),
            ..Advertised::default()
        };
        budget.observe(&advertised, start, wall());
        assert_eq!(budget.available(start), 3);
        // A stale answer (more remaining than the local view) changes nothing.
        let stale = Advertised {
            remaining: Some(9),
            ..Advertised::default()
        };
        budget.observe(&stale, start, wall());
        assert_eq!(budget.available(start), 3);
        assert_eq!(
            drain(&mut budget, start, 4)[3],
            Duration::from_millis(1_010)
        );
    }

    #[test]
    fn advertised_limits_replace_the_defaults() {
        let start = Instant::now();
        let mut budget = Budget::new(100, Duration::from_secs(10), 200_000, NO_FLOOR);
        let advertised = Advertised {
            max: Some(5),
            interval: Some(Duration::from_secs(2)),
            daily_limit: Some(1_000),
            ..Advertised::default()
        };
        budget.observe(&advertised, start, wall());
        assert_eq!(
            (budget.max(), budget.interval(), budget.daily_limit()),
            (5, Duration::from_secs(2), 1_000)
        );
        let sent = drain(&mut budget, start, 6);
        assert_eq!(sent[5], Duration::from_millis(2_020));
    }

    #[test]
    fn a_block_holds_every_request_back() {
        let start = Instant::now();
        let mut budget = Budget::new(100, Duration::from_secs(10), 200_000, NO_FLOOR);
        budget.block_until(start + Duration::from_secs(3));
        assert_eq!(
            budget.slot(start, wall()),
            Slot::At(start + Duration::from_secs(3))
        );
        assert_eq!(budget.available(start), 0);
        assert_eq!(
            budget.slot(start + Duration::from_secs(3), wall()),
            Slot::Now
        );
    }

    #[test]
    fn the_daily_quota_fails_fast_until_it_resets() {
        let start = Instant::now();
        let mut budget = Budget::new(100, Duration::from_secs(10), 200_000, NO_FLOOR);
        let advertised = Advertised {
            daily_remaining: Some(2),
            ..Advertised::default()
        };
        budget.observe(&advertised, start, wall());
        let sent = drain(&mut budget, start, 5);
        assert_eq!(sent.len(), 2);
        let midnight = next_utc_midnight(wall());
        assert_eq!(
            budget.slot(start, wall()),
            Slot::DailyExhausted {
                resets_at: midnight
            }
        );
        // After the reset the budget is unknown again and requests flow.
        assert_eq!(budget.slot(start, midnight), Slot::Now);
        assert_eq!(budget.daily_remaining(), None);
        let resets_at = budget.daily_exhausted(Some(wall() + Duration::from_secs(60)), wall());
        assert_eq!(
            budget.slot(start, wall()),
            Slot::DailyExhausted { resets_at }
        );
    }

    #[test]
    fn an_unexpected_429_halves_the_share_once_per_interval_and_quiet_intervals_give_it_back() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut budget = Budget::new(20, second, 200_000, NO_FLOOR);
        budget.throttled(start, start + second, true);
        assert_eq!(budget.share(), 10);
        // More 429s from the same burst change nothing.
        budget.throttled(start + second / 2, start + second, true);
        assert_eq!(budget.share(), 10);
        // Within an interval of the cut nothing grows back; then one step per interval.
        budget.answered(start + second / 2);
        assert_eq!(budget.share(), 10);
        budget.answered(start + second);
        assert_eq!(budget.share(), 11);
        budget.answered(start + second + second / 2);
        assert_eq!(budget.share(), 11);
        budget.answered(start + second * 2);
        assert_eq!(budget.share(), 12);
        // A window now holds 12 requests.
        let sent = drain(&mut budget, start + second * 3, 13);
        assert_eq!(sent[12] - sent[0], Duration::from_millis(1_010));
        // Without adapting, a 429 only blocks.
        let mut fixed = Budget::new(20, second, 200_000, NO_FLOOR);
        fixed.throttled(start, start + second, false);
        assert_eq!((fixed.share(), fixed.available(start)), (20, 0));
        // A new advertised limit carries a full share along, and caps a partial one.
        let bigger = Advertised {
            max: Some(40),
            ..Advertised::default()
        };
        fixed.observe(&bigger, start, wall());
        assert_eq!(fixed.share(), 40);
        budget.observe(&bigger, start, wall());
        assert_eq!(budget.share(), 12);
    }

    #[test]
    fn midnight_is_the_next_one() {
        let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(DAY_SECS * 10 + DAY_SECS / 2);
        assert_eq!(
            next_utc_midnight(noon),
            SystemTime::UNIX_EPOCH + Duration::from_secs(DAY_SECS * 11)
        );
        let midnight = SystemTime::UNIX_EPOCH + Duration::from_secs(DAY_SECS * 11);
        assert_eq!(
            next_utc_midnight(midnight),
            SystemTime::UNIX_EPOCH + Duration::from_secs(DAY_SECS * 12)
        );
    }
}
