//! The shared budget in Redis: each step one Lua script, atomic on the server, so that no
//! process holds a lock across the network and a process that dies mid-call leaves nothing
//! half done.
//!
//! Per resource key `K` there are four Redis keys, hash-tagged to one cluster slot:
//! `{K}:log`, a sorted set of the grants of the last window scored by the Redis server's
//! clock (one clock for every process, so the hosts' clocks need not agree), `{K}:state`,
//! a hash with `blocked_until` (a 429's block, ms), `day`/`day_used` (the daily count) and
//! `seq` (the queue's arrival counter), and the queue of waiting calls: `{K}:queue`, scored by
//! arrival, and `{K}:alive`, the same members scored by the time after which a waiter that has
//! not asked again is dropped (its process died). All expire on their own once unused.
//!
//! Waiting calls are served in arrival order: a free slot goes to a waiter only if fewer
//! waiters are ahead of it than there are free slots, so a process that is farther from Redis
//! (or slower to wake) still gets its turn instead of losing every race for a freed slot. A
//! call that finds nobody waiting and a free slot is granted at once, without joining the
//! queue: one round trip, as before there was a queue.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret, SecretString};

use super::lock;
use super::shared::{
    SHARED_WAIT_REFRESH, SharedAnswer, SharedBudget, SharedBudgetError, SharedBudgetFuture,
    SharedCorrection, SharedCount, SharedLimits, SharedTake, SharedWaiter,
};
use crate::redis::{RedisConnectError, RedisOptions};

/// Takes one grant if the window, the daily count, any block and the queue allow it.
///
/// Every value read is checked: a key of another type, a field that is not a number, a score
/// or a block absurdly far in the future, a queue entry without its deadline (or the other
/// way round) are deleted and reported (the 5th number), never obeyed.
/// KEYS: log, state, queue, alive. ARGV: max, window ms, daily limit, grant member, waiter
/// ticket, waiter ttl ms. Returns `{verdict, wait_ms, in_window, daily_used, discarded,
/// waiting}`; verdict 0 granted, 1 wait, 2 daily quota spent.
const TAKE: &str = r"
local max = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local daily_limit = tonumber(ARGV[3])
local ticket = ARGV[5]
local ttl = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local day = math.floor(tonumber(t[1]) / 86400)
local discarded = 0
local wanted = {'zset', 'hash', 'zset', 'zset'}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind ~= wanted[i] and kind ~= 'none' then
    redis.call('DEL', key)
    discarded = 1
  end
end
local function number_field(field, lowest, highest)
  local raw = redis.call('HGET', KEYS[2], field)
  if not raw then return nil end
  local n = tonumber(raw)
  if not n or n ~= n or n < lowest or n > highest then
    redis.call('HDEL', KEYS[2], field)
    discarded = 1
    return nil
  end
  return n
end
local blocked = number_field('blocked_until', 0, now + 86400000)
local used_day = number_field('day', 0, day + 1)
local used = number_field('day_used', 0, 1e15) or 0
local seq = math.floor(number_field('seq', 0, 1e12) or 0)
if used_day ~= day then used = 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. (now + window), '+inf') > 0 then
  discarded = 1
end
-- The queue: arrivals the counter has not handed out and deadlines no waiter sets are
-- nonsense; waiters past their deadline stopped asking.
if redis.call('ZREMRANGEBYSCORE', KEYS[3], string.format('(%d', seq), '+inf') > 0 then
  discarded = 1
end
if redis.call('ZREMRANGEBYSCORE', KEYS[4], '(' .. (now + 60000), '+inf') > 0 then
  discarded = 1
end
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do
  redis.call('ZREM', KEYS[3], gone)
  redis.call('ZREM', KEYS[4], gone)
end
local waiting = redis.call('ZCARD', KEYS[3])
if waiting ~= redis.call('ZCARD', KEYS[4]) then
  for _, pair in ipairs({{KEYS[3], KEYS[4]}, {KEYS[4], KEYS[3]}}) do
    for _, member in ipairs(redis.call('ZRANGE', pair[1], 0, -1)) do
      if not redis.call('ZSCORE', pair[2], member) then
        redis.call('ZREM', pair[1], member)
        discarded = 1
      end
    end
  end
  waiting = redis.call('ZCARD', KEYS[3])
end
local count = redis.call('ZCARD', KEYS[1])
local rank = redis.call('ZRANK', KEYS[3], ticket)
if used >= daily_limit then
  if rank then
    redis.call('ZREM', KEYS[3], ticket)
    redis.call('ZREM', KEYS[4], ticket)
    waiting = waiting - 1
  end
  return {2, (day + 1) * 86400000 - now, count, used, discarded, waiting}
end
-- Waiters ahead of this one: its own rank, or all of them for a newcomer.
local ahead = rank or waiting
local free = max - count
local held = blocked and blocked > now
if not held and ahead < free then
  if rank then
    redis.call('ZREM', KEYS[3], ticket)
    redis.call('ZREM', KEYS[4], ticket)
    waiting = waiting - 1
  end
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('HSET', KEYS[2], 'day', day, 'day_used', used + 1)
  redis.call('PEXPIRE', KEYS[2], 172800000)
  return {0, 0, count + 1, used + 1, discarded, waiting}
end
if not rank then
  seq = seq + 1
  redis.call('HSET', KEYS[2], 'seq', seq)
  redis.call('PEXPIRE', KEYS[2], 172800000)
  redis.call('ZADD', KEYS[3], seq, ticket)
  waiting = waiting + 1
end
redis.call('ZADD', KEYS[4], now + ttl, ticket)
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
if held then
  return {1, blocked - now, count, used, discarded, waiting}
end
-- This waiter's slot frees when the grant `ahead - free` (oldest first) leaves the window;
-- with more waiters ahead than a window holds, ask again a window later.
local index = ahead - free
local wait = window
if index < count then
  local entry = redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')
  wait = tonumber(entry[2]) + window - now
end
if wait < 1 then wait = 1 end
return {1, wait, count, used, discarded, waiting}
";

/// Writes an answer's news: requests spent elsewhere become entries of the window (as sent
/// now), a higher daily count replaces the stored one, a block extends the stored one.
/// ARGV: max, window, remaining (-1: none), daily limit, daily remaining (-1), block ms (-1),
/// member prefix. Returns `{in_window, daily_used, discarded}`.
const CORRECT: &str = r"
local max = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
local daily_limit = tonumber(ARGV[4])
local daily_remaining = tonumber(ARGV[5])
local block = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local day = math.floor(tonumber(t[1]) / 86400)
local discarded = 0
if redis.call('TYPE', KEYS[1]).ok ~= 'zset' and redis.call('TYPE', KEYS[1]).ok ~= 'none' then
  redis.call('DEL', KEYS[1])
  discarded = 1
end
if redis.call('TYPE', KEYS[2]).ok ~= 'hash' and redis.call('TYPE', KEYS[2]).ok ~= 'none' then
  redis.call('DEL', KEYS[2])
  discarded = 1
end
if block >= 0 then
  local current = tonumber(redis.call('HGET', KEYS[2], 'blocked_until'))
  if not current or current ~= current or current < now + block or current > now + 86400000 then
    redis.call('HSET', KEYS[2], 'blocked_until', now + block)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if remaining >= 0 then
  local missing = math.min(max - remaining - count, max)
  for i = 1, missing do
    redis.call('ZADD', KEYS[1], now, ARGV[7] .. ':' .. i)
  end
  if missing > 0 then
    count = count + missing
    redis.call('PEXPIRE', KEYS[1], window)
  end
end
local used = tonumber(redis.call('HGET', KEYS[2], 'day_used'))
if not used or used ~= used or tonumber(redis.call('HGET', KEYS[2], 'day')) ~= day then
  used = 0
end
if daily_remaining >= 0 and daily_limit - daily_remaining > used then
  used = daily_limit - daily_remaining
  redis.call('HSET', KEYS[2], 'day', day, 'day_used', used)
end
redis.call('PEXPIRE', KEYS[2], 172800000)
return {count, used, discarded}
";

/// Adds the requests a process sent on its fallback: each `ARGV[3..]` ms ago (those within
/// the window) to the window, all of them to the daily count. ARGV: window, member prefix,
/// ages. Returns `{in_window, daily_used, discarded}`.
const RECORD: &str = r"
local window = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local day = math.floor(tonumber(t[1]) / 86400)
local discarded = 0
local wanted = {'zset', 'hash'}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind ~= wanted[i] and kind ~= 'none' then
    redis.call('DEL', key)
    discarded = 1
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
for i = 3, #ARGV do
  local age = tonumber(ARGV[i])
  if age and age >= 0 and age < window then
    redis.call('ZADD', KEYS[1], now - age, ARGV[2] .. ':' .. i)
  end
end
redis.call('PEXPIRE', KEYS[1], window)
local used = tonumber(redis.call('HGET', KEYS[2], 'day_used'))
if not used or used ~= used or used < 0 or tonumber(redis.call('HGET', KEYS[2], 'day')) ~= day then
  used = 0
end
used = used + #ARGV - 2
redis.call('HSET', KEYS[2], 'day', day, 'day_used', used)
redis.call('PEXPIRE', KEYS[2], 172800000)
return {redis.call('ZCARD', KEYS[1]), used, discarded}
";

/// How long a waiter that stopped asking keeps its place in the queue: a few of the
/// [`SHARED_WAIT_REFRESH`] intervals at which live waiters ask again.
const WAITER_TTL: Duration = Duration::from_secs(3);

/// How long the budget waits for Redis by default before the process paces itself alone.
pub const DEFAULT_SHARED_TIMEOUT: Duration = Duration::from_millis(200);

/// A [`SharedBudget`] in Redis (feature `redis`), connected with [`crate::redis::connect`]
/// (TLS with `rediss://`, the trusted roots and time bounds of [`RedisOptions`]).
///
/// It connects on first use, so that a handle builds while Redis is down (its requests are
/// paced by the fallback meanwhile), and reconnects by itself.
///
/// ```no_run
/// use highlevel_runtime::rate_limit::RedisBudget;
/// use highlevel_runtime::redis::RedisOptions;
/// use highlevel_runtime::RateLimitConfig;
///
/// let budget = RedisBudget::new("redis://redis.internal:6379/0", RedisOptions::new())?;
/// let config = RateLimitConfig::new().shared(budget).key_prefix("my-app:ratelimit");
/// # let _ = config;
/// # Ok::<(), highlevel_runtime::redis::RedisConnectError>(())
/// ```
pub struct RedisBudget {
    url: SecretString,
    /// The URL without its password, for Debug and logs.
    shown_url: String,
    options: RedisOptions,
    connection: Mutex<Option<ConnectionManager>>,
    /// Makes each grant's member of the window unique across processes.
    member_prefix: String,
    grants: AtomicU64,
    take: redis::Script,
    correct: redis::Script,
    record: redis::Script,
}

impl fmt::Debug for RedisBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBudget")
            .field("url", &self.shown_url)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `url` without its password (or the whole URL hidden when it does not parse).
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

impl RedisBudget {
    /// A budget at `url` (`redis://[:password@]host:port/db`, `rediss://` for TLS), connected
    /// on first use. Set the [`RedisOptions`] response and connection timeouts no longer than
    /// the rate limiter's [`crate::RateLimitConfig::shared_timeout`].
    ///
    /// # Errors
    ///
    /// [`RedisConnectError::Config`] when the URL is not a Redis URL.
    pub fn new(url: impl Into<String>, options: RedisOptions) -> Result<Self, RedisConnectError> {
        let url = url.into();
        redis::Client::open(url.as_str()).map_err(RedisConnectError::Config)?;
        Ok(Self {
            shown_url: without_password(&url),
            url: SecretString::from(url),
            options,
            connection: Mutex::new(None),
            member_prefix: crate::random::unique_hex(),
            grants: AtomicU64::new(0),
            take: redis::Script::new(TAKE),
            correct: redis::Script::new(CORRECT),
            record: redis::Script::new(RECORD),
        })
    }

    /// Like [`RedisBudget::new`], with timeouts fit for a budget that must not slow requests
    /// down: [`DEFAULT_SHARED_TIMEOUT`] for commands and connection attempts.
    ///
    /// # Errors
    ///
    /// [`RedisConnectError::Config`] when the URL is not a Redis URL.
    pub fn with_short_timeouts(url: impl Into<String>) -> Result<Self, RedisConnectError> {
        Self::new(
            url,
            RedisOptions::new()
                .response_timeout(DEFAULT_SHARED_TIMEOUT)
                .connection_timeout(DEFAULT_SHARED_TIMEOUT),
        )
    }

    async fn connection(&self) -> Result<ConnectionManager, SharedBudgetError> {
        if let Some(connection) = lock(&self.connection).clone() {
            return Ok(connection);
        }
        // Connected without holding the lock: concurrent first calls may each connect once,
        // and the last one kept; nothing waits on another's network.
        let connection = crate::redis::connect(self.url.expose_secret(), &self.options)
            .await
            .map_err(|e| SharedBudgetError::Unavailable(Box::new(e)))?;
        *lock(&self.connection) = Some(connection.clone());
        Ok(connection)
    }
}

/// The two Redis keys of one budget's counts, in one cluster slot.
fn redis_keys(key: &str) -> [String; 2] {
    [format!("{{{key}}}:log"), format!("{{{key}}}:state")]
}

/// The two keys of its queue, in the same slot.
fn queue_keys(key: &str) -> [String; 2] {
    [format!("{{{key}}}:queue"), format!("{{{key}}}:alive")]
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn count_of(in_window: i64, daily_used: i64, discarded: i64) -> SharedCount {
    SharedCount::new(
        u32::try_from(in_window.max(0)).unwrap_or(u32::MAX),
        u64::try_from(daily_used.max(0)).unwrap_or(u64::MAX),
        discarded != 0,
    )
}

/// Reads the TAKE script's reply.
fn read_take(reply: &[i64]) -> Result<SharedAnswer, SharedBudgetError> {
    let &[verdict, wait_ms, in_window, daily_used, discarded, waiting] = reply else {
        return Err(SharedBudgetError::Unreadable(format!(
            "a take reply of {} numbers",
            reply.len()
        )));
    };
    let wait = Duration::from_millis(u64::try_from(wait_ms.max(1)).unwrap_or(1));
    let take = match verdict {
        0 => SharedTake::Granted,
        1 => SharedTake::Wait(wait),
        2 => SharedTake::DailySpent(wait),
        other => {
            return Err(SharedBudgetError::Unreadable(format!(
                "a take verdict of {other}"
            )));
        }
    };
    let waiting = u32::try_from(waiting.max(0)).unwrap_or(u32::MAX);
    Ok(SharedAnswer::new(
        take,
        count_of(in_window, daily_used, discarded).with_waiting(waiting),
    ))
}

fn read_correct(reply: &[i64]) -> Result<SharedCount, SharedBudgetError> {
    let &[in_window, daily_used, discarded] = reply else {
        return Err(SharedBudgetError::Unreadable(format!(
            "a correction reply of {} numbers",
            reply.len()
        )));
    };
    Ok(count_of(in_window, daily_used, discarded))
}

fn unavailable(e: redis::RedisError) -> SharedBudgetError {
    SharedBudgetError::Unavailable(Box::new(e))
}

impl SharedBudget for RedisBudget {
    fn take<'a>(
        &'a self,
        key: &'a str,
        limits: SharedLimits,
        waiter: SharedWaiter,
    ) -> SharedBudgetFuture<'a, SharedAnswer> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let [log, state] = redis_keys(key);
            let [queue, alive] = queue_keys(key);
            let member = format!(
                "{}:{}",
                self.member_prefix,
                self.grants.fetch_add(1, Ordering::Relaxed)
            );
            // EVALSHA, and the script's text only when the server does not know it yet.
            let reply: Vec<i64> = self
                .take
                .key(log)
                .key(state)
                .key(queue)
                .key(alive)
                .arg(limits.max.max(1))
                .arg(millis(limits.window))
                .arg(limits.daily_limit)
                .arg(member)
                .arg(format!("{}:w{}", self.member_prefix, waiter.id()))
                .arg(millis(WAITER_TTL.max(SHARED_WAIT_REFRESH * 2)))
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            read_take(&reply)
        })
    }

    fn correct<'a>(
        &'a self,
        key: &'a str,
        correction: SharedCorrection,
    ) -> SharedBudgetFuture<'a, SharedCount> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let [log, state] = redis_keys(key);
            let limits = correction.limits;
            let member = format!(
                "{}:{}:spent-elsewhere",
                self.member_prefix,
                self.grants.fetch_add(1, Ordering::Relaxed)
            );
            let reply: Vec<i64> = self
                .correct
                .key(log)
                .key(state)
                .arg(limits.max.max(1))
                .arg(millis(limits.window))
                .arg(correction.remaining.map_or(-1, i64::from))
                .arg(limits.daily_limit)
                .arg(
                    correction
                        .daily_remaining
                        .and_then(|r| i64::try_from(r).ok())
                        .unwrap_or(-1),
                )
                .arg(
                    correction
                        .blocked_for
                        .map_or(-1, |d| i64::try_from(millis(d)).unwrap_or(i64::MAX)),
                )
                .arg(member)
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            read_correct(&reply)
        })
    }

    fn record_sent<'a>(
        &'a self,
        key: &'a str,
        limits: SharedLimits,
        ages: &'a [Duration],
    ) -> SharedBudgetFuture<'a, SharedCount> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let [log, state] = redis_keys(key);
            let member = format!(
                "{}:{}:sent-on-fallback",
                self.member_prefix,
                self.grants.fetch_add(1, Ordering::Relaxed)
            );
            let mut invocation = self.record.key(log);
            invocation.key(state).arg(millis(limits.window)).arg(member);
            for age in ages {
                invocation.arg(u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
            }
            let reply: Vec<i64> = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            read_correct(&reply)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_or_refused() {
        let granted = read_take(&[0, 0, 3, 40, 0, 0]).expect("reply");
        assert_eq!(granted.take, SharedTake::Granted);
        assert_eq!(granted.count, SharedCount::new(3, 40, false));
        let wait = read_take(&[1, 250, 100, 40, 1, 3]).expect("reply");
        assert_eq!(wait.take, SharedTake::Wait(Duration::from_millis(250)));
        assert!(wait.count.discarded_nonsense);
        assert_eq!(wait.count.waiting, 3, "the queue's length");
        assert_eq!(
            read_take(&[2, 5, 0, 9, 0, 0]).expect("reply").take,
            SharedTake::DailySpent(Duration::from_millis(5))
        );
        assert_eq!(
            read_take(&[1, -7, -1, -1, 0, -2]).expect("clamped").count,
            SharedCount::new(0, 0, false)
        );
        assert_eq!(
            read_take(&[1, 0, 0, 0, 0, i64::MAX])
                .expect("clamped")
                .count
                .waiting,
            u32::MAX
        );
        assert!(read_take(&[7, 0, 0, 0, 0, 0]).is_err());
        assert!(
            read_take(&[0, 0, 3, 40, 0]).is_err(),
            "a reply of the script without the queue"
        );
        assert!(read_take(&[0, 0]).is_err());
        assert_eq!(
            read_correct(&[5, 6, 0]).expect("reply"),
            SharedCount::new(5, 6, false)
        );
        assert!(read_correct(&[]).is_err());
    }

    #[test]
    fn keys_share_a_cluster_slot_and_debug_hides_the_password() {
        assert_eq!(
            redis_keys("hl:location:a"),
            ["{hl:location:a}:log", "{hl:location:a}:state"]
        );
        assert_eq!(
            queue_keys("hl:location:a"),
            ["{hl:location:a}:queue", "{hl:location:a}:alive"]
        );
        let budget = RedisBudget::new("redis://:hunter2@127.0.0.1:6379/0", RedisOptions::new())
            .expect("a Redis URL");
        let shown = format!("{budget:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("127.0.0.1"), "{shown}");
        assert!(RedisBudget::new("http://nope", RedisOptions::new()).is_err());
    }
}
