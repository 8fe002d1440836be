//! Preconditions evaluated exactly in the order of RFC 9110 §13.2.2, and `If-Range` (§13.1.5).
//!
//! Times are compared at one-second resolution: an HTTP-date carries whole seconds, so the
//! file's modification time is truncated before comparing (otherwise a file modified at
//! 12:00:00.5 would never be "not modified since" the `Last-Modified: 12:00:00` we sent).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderName, Method};

use super::etag::{self, EntityTag, ListMatch};

/// What the preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Perform the method.
    Proceed,
    /// 304 Not Modified (GET/HEAD only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluate If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since for a
/// representation that exists with `etag` and `last_modified` (`None`: it has no
/// modification date to compare, and the two date fields are ignored, §13.1.3, §13.1.4).
///
/// A syntactically invalid If-Match fails (we cannot show the client's precondition holds);
/// an invalid If-None-Match matches nothing (a full response is always correct) and still
/// disables If-Modified-Since; invalid dates are ignored (§13.1.3, §13.1.4).
pub fn evaluate(
    method: &Method,
    headers: &HeaderMap,
    etag: &EntityTag,
    last_modified: Option<SystemTime>,
) -> Precondition {
    let present = Present::in_fields(headers);
    if !present.any() {
        return Precondition::Proceed;
    }
    let last_modified = last_modified.map(truncate_to_seconds);
    let safe = method == Method::GET || method == Method::HEAD;

    // Step 1: If-Match, strong comparison (§13.1.1). `*` is true: the representation exists.
    if present.if_match {
        match etag::list_matches(headers.get_all(IF_MATCH), etag, true) {
            ListMatch::Any | ListMatch::Match => {}
            ListMatch::NoMatch | ListMatch::Invalid => return Precondition::Failed,
        }
    // Step 2: only without If-Match. True when not modified after the date (§13.1.4).
    } else if present.if_unmodified_since {
        if let (Some(date), Some(last_modified)) =
            (single_date(headers, &IF_UNMODIFIED_SINCE), last_modified)
        {
            if last_modified > date {
                return Precondition::Failed;
            }
        }
    }

    // Step 3: If-None-Match, weak comparison (§13.1.2). A match makes the condition false.
    if present.if_none_match {
        match etag::list_matches(headers.get_all(IF_NONE_MATCH), etag, false) {
            ListMatch::Any | ListMatch::Match if safe => return Precondition::NotModified,
            ListMatch::Any | ListMatch::Match => return Precondition::Failed,
            ListMatch::NoMatch | ListMatch::Invalid => {}
        }
    // Step 4: only GET/HEAD and only without If-None-Match (§13.1.3). A date later than the
    // server's clock came from no Last-Modified of ours (a client's clock ahead, a forged
    // date): invalid, as RFC 2616 §14.25 said and Apache still holds, and ignored, or the
    // client would keep a stale copy until that date.
    } else if safe && present.if_modified_since {
        let date = single_date(headers, &IF_MODIFIED_SINCE).filter(|d| *d <= SystemTime::now());
        if let (Some(date), Some(last_modified)) = (date, last_modified) {
            if last_modified <= date {
                return Precondition::NotModified;
            }
        }
    }

    Precondition::Proceed
}

/// Which precondition fields a request has, found in one pass over its field names: most
/// requests have none, and four lookups by name (a hash and a probe each) cost more.
#[derive(Debug, Default)]
struct Present {
    if_match: bool,
    if_unmodified_since: bool,
    if_none_match: bool,
    if_modified_since: bool,
}

impl Present {
    fn in_fields(headers: &HeaderMap) -> Self {
        let mut present = Present::default();
        for name in headers.keys() {
            if name == IF_MATCH {
                present.if_match = true;
            } else if name == IF_UNMODIFIED_SINCE {
                present.if_unmodified_since = true;
            } else if name == IF_NONE_MATCH {
                present.if_none_match = true;
            } else if name == IF_MODIFIED_SINCE {
                present.if_modified_since = true;
            }
        }
        present
    }

    fn any(&self) -> bool {
        self.if_match || self.if_unmodified_since || self.if_none_match || self.if_modified_since
    }
}

/// Whether a `Range` header may be honoured given `If-Range` (absent → true).
/// Only strong validators match (RFC 9110 §13.1.5).
///
/// An entity-tag is compared strongly, so a weak tag never matches; an HTTP-date matches only
/// when it equals `last_modified` to the second and is a strong validator (§8.8.2.2): at
/// least one second old, since a file changed twice within the second it names would keep
/// the same date for different content. Anything else (invalid, several field lines) is
/// false: ignoring the Range and sending the whole representation is always safe. So is a
/// date when the representation has no modification date (`None`).
pub fn if_range_allows(
    headers: &HeaderMap,
    etag: &EntityTag,
    last_modified: Option<SystemTime>,
) -> bool {
    let mut lines = headers.get_all(IF_RANGE).iter();
    let Some(value) = lines.next() else {
        return true;
    };
    if lines.next().is_some() {
        return false;
    }
    // `If-Range = entity-tag / HTTP-date`; an entity-tag starts with `"` or `W/`.
    if let Some(matched) = etag::strong_match_one(value.as_bytes(), etag) {
        return matched;
    }
    value
        .to_str()
        .ok()
        .and_then(|s| httpdate::parse_http_date(s).ok())
        .zip(last_modified)
        .is_some_and(|(date, last_modified)| {
            date == truncate_to_seconds(last_modified)
                && date
                    .checked_add(Duration::from_secs(1))
                    .is_some_and(|strong_from| SystemTime::now() >= strong_from)
        })
}

/// The HTTP-date in `name`, if it is present exactly once and valid. Several lines look like a
/// list of dates, which §13.1.3 and §13.1.4 say to ignore, as any invalid date.
fn single_date(headers: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    let mut lines = headers.get_all(name).iter();
    let value = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    // httpdate accepts the three forms recipients must accept (RFC 9110 §5.6.7).
    httpdate::parse_http_date(value.to_str().ok()?).ok()
}

/// `t` rounded down to a whole second (towards the past, also before 1970).
fn truncate_to_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after.as_secs()),
        Err(before) => {
            let before = before.duration();
            let secs = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(secs))
                .unwrap_or(t)
        }
    }
}

#[cfg(test)]
mod tests;
