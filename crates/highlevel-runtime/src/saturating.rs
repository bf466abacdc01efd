//! Time arithmetic that saturates instead of panicking: a header, a token answer or a
//! configuration value can hold any number, and `Instant + Duration` panics on overflow.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// The longest wait or interval the runtime keeps; a longer one (a `Retry-After` near
/// `u64::MAX`, an interval of `Duration::MAX`) is read as this. A year is far past anything
/// HighLevel asks for and far inside what every platform's clock can add.
pub(crate) const LONGEST: Duration = Duration::from_secs(365 * 86_400);

/// `at + wait`, the wait capped at [`LONGEST`].
pub(crate) fn instant_after(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait.min(LONGEST)).unwrap_or(at)
}

/// `at + wait` on the wall clock, the wait capped at [`LONGEST`].
pub(crate) fn wall_after(at: SystemTime, wait: Duration) -> SystemTime {
    at.checked_add(wait.min(LONGEST)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_wait_is_added_without_panicking() {
        let now = Instant::now();
        assert_eq!(instant_after(now, Duration::MAX), now + LONGEST);
        assert_eq!(
            instant_after(now, Duration::from_secs(3)),
            now + Duration::from_secs(3)
        );
        let wall = SystemTime::now();
        assert_eq!(
            wall_after(wall, Duration::from_secs(u64::MAX)),
            wall + LONGEST
        );
        assert_eq!(wall_after(wall, Duration::ZERO), wall);
    }
}
