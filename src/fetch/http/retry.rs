//! The one retry policy: how many attempts, how long to wait between them (exponential backoff with
//! jitter, or the server's `Retry-After`), and which attempts count against the budget.
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Attempts per URL without progress before giving up on it.
pub const MAX_ATTEMPTS: u32 = 4;
/// Attempts per URL without progress of its own while the server keeps serving other requests: a server
/// that fails one request in a few is flaky, not down, but one file it never serves still ends.
pub const MAX_IDLE_ATTEMPTS: u32 = 16;
/// Longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Counts the failed attempts of one request. An attempt that moved the transfer forward (new bytes
/// received beyond anything received before) resets the count: a server that cuts every response short
/// still lets a large file finish, while one that never delivers a byte more gives up after
/// [`MAX_ATTEMPTS`]. A failure while other requests to the same server went through does not count
/// either, up to [`MAX_IDLE_ATTEMPTS`].
#[derive(Debug, Clone)]
pub struct Budget {
    failures: u32,
    idle: u32,
    /// Most bytes ever held for this request (a restart from zero does not count as progress twice).
    high_water: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self::new()
    }
}

impl Budget {
    pub fn new() -> Self {
        Self::starting_at(0)
    }

    /// Start counting after `held` bytes already on disk (a resumed `.incomplete` file).
    pub fn starting_at(held: u64) -> Self {
        Budget {
            failures: 0,
            idle: 0,
            high_water: held,
        }
    }

    /// Record a failed attempt that left `held` bytes; `true` while another attempt is allowed.
    pub fn failed(&mut self, held: u64) -> bool {
        self.failed_while(held, false)
    }

    /// Like [`Budget::failed`], saying whether other requests to the server succeeded meanwhile.
    pub fn failed_while(&mut self, held: u64, others_progressed: bool) -> bool {
        if held > self.high_water {
            self.high_water = held;
            self.failures = 1;
            self.idle = 0;
        } else {
            self.idle += 1;
            if !others_progressed || self.failures == 0 {
                self.failures += 1;
            }
        }
        self.failures < MAX_ATTEMPTS && self.idle < MAX_IDLE_ATTEMPTS
    }

    /// Failed attempts since the last progress (1-based after the first failure), for the backoff.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Exponential backoff with jitter (base `FERRY_RETRY_BASE_MS`, default 500 ms), or the server's
/// `Retry-After` (capped at [`MAX_RETRY_AFTER`]) when it gave one.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(MAX_RETRY_AFTER);
    }
    let base = std::env::var("FERRY_RETRY_BASE_MS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(500);
    let exp = base.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    let capped = exp.min(base.max(1).saturating_mul(20));
    let jitter = random_u64() % (capped / 2 + 1);
    Duration::from_millis(capped / 2 + jitter + capped / 4)
}

/// `Retry-After` as delay seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) → seconds since the epoch.
fn httpdate(s: &str) -> Option<u64> {
    let mut parts = s.split_whitespace().skip(1);
    let day: u64 = parts.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? as u64 + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|n| n.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    // Days from civil date (Howard Hinnant's algorithm), years ≥ 1970.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
        assert!(backoff(1, None) <= backoff(4, None) + Duration::from_millis(500));
    }

    #[test]
    fn progress_refills_the_budget() {
        let mut b = Budget::new();
        assert!(b.failed(0));
        assert!(b.failed(0));
        assert!(b.failed(0));
        assert!(!b.failed(0), "three failures then the fourth ends it");
        let mut b = Budget::new();
        for held in 1..100 {
            assert!(b.failed(held * 10), "progress every time never ends");
        }
        // A restart from zero is not progress until it passes the old high-water mark.
        // A flaky server (others served meanwhile) gets more tries, but not forever.
        let mut b = Budget::new();
        let tries = (1..).take_while(|_| b.failed_while(0, true)).count();
        assert_eq!(tries as u32, MAX_IDLE_ATTEMPTS - 1);
        let mut b = Budget::starting_at(500);
        assert!(b.failed(100));
        assert!(b.failed(200));
        assert!(b.failed(300));
        assert!(!b.failed(400));
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        assert_eq!(httpdate("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784111777));
        h.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
