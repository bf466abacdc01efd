//! What HighLevel's answers say about the budget: `X-RateLimit-*` and `Retry-After`.
//!
//! Every value is checked against a plausible range; anything else (negative, huge,
//! non-numeric) is ignored with a debug log, so a misbehaving proxy can neither panic the
//! client nor stall it.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};

const MAX: &str = "x-ratelimit-max";
const REMAINING: &str = "x-ratelimit-remaining";
const INTERVAL_MS: &str = "x-ratelimit-interval-milliseconds";
const DAILY_LIMIT: &str = "x-ratelimit-limit-daily";
const DAILY_REMAINING: &str = "x-ratelimit-daily-remaining";

/// Largest per-interval limit believed; HighLevel documents 100.
const MAX_LIMIT: u64 = 1_000_000;
/// Longest interval believed.
const MAX_INTERVAL_MS: u64 = 86_400_000;
/// Largest daily limit believed; HighLevel documents 200,000.
const MAX_DAILY: u64 = 1_000_000_000;

/// The limits one response advertised; `None` where a header was absent or not believable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Advertised {
    pub(crate) max: Option<u32>,
    pub(crate) remaining: Option<u32>,
    pub(crate) interval: Option<Duration>,
    pub(crate) daily_limit: Option<u64>,
    pub(crate) daily_remaining: Option<u64>,
}

impl Advertised {
    pub(crate) fn read(headers: &HeaderMap) -> Self {
        // One walk over the answer's headers instead of a hashed lookup per name: every
        // response is read, and most carry a dozen headers at most.
        let mut found: [Option<&HeaderValue>; 5] = [None; 5];
        for (name, value) in headers {
            let slot = match name.as_str() {
                MAX => 0,
                REMAINING => 1,
                INTERVAL_MS => 2,
                DAILY_LIMIT => 3,
                DAILY_REMAINING => 4,
                _ => continue,
            };
            // The first value of a repeated header counts, as `HeaderMap::get` has it.
            found[slot].get_or_insert(value);
        }
        if found.iter().all(Option::is_none) {
            return Self::default();
        }
        let [max, remaining, interval, daily_limit, daily_remaining] = found;
        let max = number(max, MAX, 1, MAX_LIMIT).and_then(|n| u32::try_from(n).ok());
        let remaining = number(remaining, REMAINING, 0, MAX_LIMIT)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|r| {
                let fits = max.is_none_or(|m| *r <= m);
                if !fits {
                    tracing::debug!(
                        header = REMAINING,
                        "rate limit: remaining above the maximum, ignored"
                    );
                }
                fits
            });
        let daily_limit = number(daily_limit, DAILY_LIMIT, 1, MAX_DAILY);
        let daily_remaining = number(daily_remaining, DAILY_REMAINING, 0, MAX_DAILY)
            .filter(|r| daily_limit.is_none_or(|l| *r <= l));
        Self {
            max,
            remaining,
            interval: number(interval, INTERVAL_MS, 1, MAX_INTERVAL_MS).map(Duration::from_millis),
            daily_limit,
            daily_remaining,
        }
    }

    /// Whether the answer carried any of the headers, so the caller knows to follow them.
    pub(crate) fn any(&self) -> bool {
        *self != Self::default()
    }
}

/// An unsigned decimal header value within `low..=high`.
fn number(value: Option<&HeaderValue>, name: &str, low: u64, high: u64) -> Option<u64> {
    let value = value?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|n| (low..=high).contains(n));
    if parsed.is_none() {
        tracing::debug!(header = name, value = ?value, "rate limit: unusable header value ignored");
    }
    parsed
}

/// `Retry-After` as a wait from `now` (read only when the header is there): delta-seconds
/// or an HTTP date (a date in the past is no wait). Absurd values come back as they are;
/// the retry decision caps them.
pub(crate) fn retry_after(
    headers: &HeaderMap,
    now: impl FnOnce() -> SystemTime,
) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?;
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    match httpdate::parse_http_date(text) {
        Ok(at) => Some(at.duration_since(now()).unwrap_or(Duration::ZERO)),
        Err(_) => {
            tracing::debug!(header = "retry-after", value = ?value, "rate limit: unusable Retry-After ignored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_static(name),
                value.parse().expect("test header value"),
            );
        }
        map
    }

    const RETRY_AFTER: &str = "retry-after";

    /// A repeated header counts once, by its first value (as a lookup by name reads it),
    /// whatever other headers come between.
    #[test]
    fn the_first_of_a_repeated_header_counts() {
        let read = Advertised::read(&headers(&[
            ("content-type", "application/json"),
            (REMAINING, "7"),
            (MAX, "100"),
            (REMAINING, "99"),
            ("x-ratelimit-maximum", "5"),
        ]));
        assert_eq!(read.max, Some(100));
        assert_eq!(read.remaining, Some(7));
        assert_eq!(read.interval, None);
    }

    #[test]
    fn documented_headers_are_read() {
        let read = Advertised::read(&headers(&[
            (MAX, "100"),
            (REMAINING, "42"),
            (INTERVAL_MS, "10000"),
            (DAILY_LIMIT, "200000"),
            (DAILY_REMAINING, "199000"),
        ]));
        assert_eq!(
            read,
            Advertised {
                max: Some(100),
                remaining: Some(42),
                interval: Some(Duration::from_secs(10)),
                daily_limit: Some(200_000),
                daily_remaining: Some(199_000),
            }
        );
        assert!(read.any());
        assert!(!Advertised::read(&HeaderMap::new()).any());
    }

    #[test]
    fn nonsense_values_are_ignored() {
        for bad in [
            "-1",
            "abc",
            "1e3",
            "99999999999999999999999",
            "",
            "1.5",
            "0x10",
        ] {
            let read = Advertised::read(&headers(&[
                (MAX, bad),
                (REMAINING, bad),
                (INTERVAL_MS, bad),
                (DAILY_LIMIT, bad),
                (DAILY_REMAINING, bad),
            ]));
            assert_eq!(read, Advertised::default(), "{bad:?}");
        }
        // Zero is a valid remaining count, but not a valid limit or interval.
        let zeros = Advertised::read(&headers(&[
            (MAX, "0"),
            (REMAINING, "0"),
            (INTERVAL_MS, "0"),
            (DAILY_LIMIT, "0"),
            (DAILY_REMAINING, "0"),
        ]));
        assert_eq!(zeros.max, None);
        assert_eq!(zeros.interval, None);
        assert_eq!(zeros.daily_limit, None);
        assert_eq!(zeros.remaining, Some(0));
        assert_eq!(zeros.daily_remaining, Some(0));
        // Out of range, or contradicting the limit of the same answer.
        let huge = Advertised::read(&headers(&[
            (MAX, "10"),
            (REMAINING, "11"),
            (INTERVAL_MS, "86400001"),
            (DAILY_LIMIT, "5"),
            (DAILY_REMAINING, "6"),
        ]));
        assert_eq!(huge.max, Some(10));
        assert_eq!(huge.remaining, None);
        assert_eq!(huge.interval, None);
        assert_eq!(huge.daily_remaining, None);
        // Non-UTF-8 bytes.
        let mut raw = HeaderMap::new();
        raw.insert(
            MAX,
            http::HeaderValue::from_bytes(b"\xff1").expect("opaque value"),
        );
        assert_eq!(Advertised::read(&raw).max, None);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            retry_after(&headers(&[(RETRY_AFTER, "7")]), || now),
            Some(Duration::from_secs(7))
        );
        // 2015-10-21 07:28:00 GMT is exactly `now` + 120 s.
        assert_eq!(
            retry_after(
                &headers(&[(RETRY_AFTER, "Wed, 21 Oct 2015 07:30:00 GMT")]),
                || now
            ),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(
                &headers(&[(RETRY_AFTER, "Wed, 21 Oct 2015 07:00:00 GMT")]),
                || now
            ),
            Some(Duration::ZERO)
        );
        for bad in ["-3", "soon", "1.5"] {
            assert_eq!(
                retry_after(&headers(&[(RETRY_AFTER, bad)]), || now),
                None,
                "{bad}"
            );
        }
        assert_eq!(retry_after(&HeaderMap::new(), || now), None);
        assert_eq!(
            retry_after(&headers(&[(RETRY_AFTER, "99999999999")]), || now),
            Some(Duration::from_secs(99_999_999_999))
        );
    }
}
