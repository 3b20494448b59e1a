//! Time source injected into every time check.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
///
/// Every expiry check in idp reads a `Clock` instead of the system time, so that tests can
/// use a [`FixedClock`] rather than sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time as whole seconds since the Unix epoch (negative before 1970).
    fn unix_now(&self) -> i64 {
        to_unix(self.now())
    }
}

pub(crate) fn to_unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until told to move; for tests.
///
/// ```
/// use idp_core::{Clock, FixedClock};
/// use std::time::Duration;
///
/// let clock = FixedClock::at_unix(1_000);
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.unix_now(), 1_060);
/// ```
#[derive(Debug, Default)]
pub struct FixedClock {
    unix: AtomicI64,
}

impl FixedClock {
    /// A clock showing `unix` seconds since the epoch.
    pub fn at_unix(unix: i64) -> Self {
        Self {
            unix: AtomicI64::new(unix),
        }
    }

    /// A clock showing the current system time (to the second), frozen.
    pub fn now_frozen() -> Self {
        Self::at_unix(to_unix(SystemTime::now()))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.unix.fetch_add(secs, Ordering::SeqCst);
    }

    /// Sets the clock to `unix` seconds since the epoch.
    pub fn set_unix(&self, unix: i64) {
        self.unix.store(unix, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        let unix = self.unix.load(Ordering::SeqCst);
        if unix >= 0 {
            UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
        }
    }

    fn unix_now(&self) -> i64 {
        self.unix.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
    fn unix_now(&self) -> i64 {
        (**self).unix_now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_round_trips_through_system_time() {
        let c = FixedClock::at_unix(1_700_000_000);
        assert_eq!(to_unix(c.now()), 1_700_000_000);
        c.set_unix(-5);
        assert_eq!(to_unix(c.now()), -5);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.unix_now() > 1_577_836_800);
    }
}
