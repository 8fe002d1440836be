//! The `Date` header value (RFC 9110 §6.6.1), rendered at most once a second per thread.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// 9999-12-31T23:59:59Z, the last second an IMF-fixdate can write (four-digit year).
const LAST_RENDERABLE_SECOND: u64 = 253_402_300_799;

thread_local! {
    /// The second last rendered on this thread and its header value. A per-thread cache needs
    /// no lock; `HeaderValue` clones share their bytes, so a hit does not allocate.
    static CACHE: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
}

/// The current time as an HTTP-date header value.
pub fn now() -> HeaderValue {
    at(SystemTime::now())
}

/// The header value for `time`, through this thread's cache.
fn at(time: SystemTime) -> HeaderValue {
    // A clock before 1970 or past 9999 is wrong, but must not panic in httpdate: clamp it.
    let second = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(LAST_RENDERABLE_SECOND);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        match &*cache {
            Some((cached, value)) if *cached == second => value.clone(),
            _ => {
                let value = render(second);
                *cache = Some((second, value.clone()));
                value
            }
        }
    })
}

/// Render `second` (since 1970) as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn render(second: u64) -> HeaderValue {
    let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
    HeaderValue::from_str(&text).expect("an IMF-fixdate is visible ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_back(value: &HeaderValue) -> SystemTime {
        httpdate::parse_http_date(value.to_str().unwrap()).unwrap()
    }

    #[test]
    fn now_parses_back_to_the_current_second() {
        let before = SystemTime::now() - Duration::from_secs(1);
        let value = now();
        let after = SystemTime::now();
        let parsed = parse_back(&value);
        assert!(before <= parsed && parsed <= after, "{value:?}");
        assert_eq!(value.len(), "Sun, 06 Nov 1994 08:49:37 GMT".len());
        assert!(value.to_str().unwrap().ends_with(" GMT"));
    }

    #[test]
    fn renders_imf_fixdate() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(at(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn same_second_reuses_the_rendering() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 100);
        let first = at(t);
        let second = at(t + Duration::from_millis(500));
        assert_eq!(first, second);
        // Same bytes, not a copy: the cache hit shares the buffer.
        assert_eq!(first.as_bytes().as_ptr(), second.as_bytes().as_ptr());
        let next = at(t + Duration::from_secs(1));
        assert_ne!(first, next);
        assert_eq!(
            parse_back(&next),
            parse_back(&first) + Duration::from_secs(1)
        );
    }

    #[test]
    fn impossible_clocks_do_not_panic() {
        assert_eq!(
            at(UNIX_EPOCH - Duration::from_secs(10)),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        let far = UNIX_EPOCH + Duration::from_secs(LAST_RENDERABLE_SECOND + 1_000);
        assert_eq!(at(far), "Fri, 31 Dec 9999 23:59:59 GMT");
    }
}
