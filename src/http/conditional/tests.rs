//! Unit tests for precondition evaluation: each step of RFC 9110 §13.2.2 and their order.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::*;

/// Sun, 06 Nov 1994 08:49:37 GMT, plus half a second so truncation matters.
fn modified() -> SystemTime {
    UNIX_EPOCH + Duration::new(784_111_777, 500_000_000)
}

const AT: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

fn tag() -> EntityTag {
    EntityTag::parse("\"v1\"").unwrap()
}

fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(name.clone(), HeaderValue::from_str(value).unwrap());
    }
    map
}

fn eval(method: Method, pairs: &[(HeaderName, &str)]) -> Precondition {
    evaluate(&method, &headers(pairs), &tag(), Some(modified()))
}

fn get(pairs: &[(HeaderName, &str)]) -> Precondition {
    eval(Method::GET, pairs)
}

use Precondition::{Failed, NotModified, Proceed};

#[test]
fn no_preconditions_proceed() {
    assert_eq!(get(&[]), Proceed);
    assert_eq!(eval(Method::PUT, &[]), Proceed);
}

#[test]
fn step1_if_match() {
    assert_eq!(get(&[(IF_MATCH, "\"v1\"")]), Proceed);
    assert_eq!(get(&[(IF_MATCH, "\"v0\", \"v1\"")]), Proceed);
    assert_eq!(get(&[(IF_MATCH, "*")]), Proceed);
    assert_eq!(get(&[(IF_MATCH, "\"v0\"")]), Failed);
    // Strong comparison: a weak tag never satisfies If-Match (§13.1.1).
    assert_eq!(get(&[(IF_MATCH, "W/\"v1\"")]), Failed);
    assert_eq!(eval(Method::PUT, &[(IF_MATCH, "\"v0\"")]), Failed);
    assert_eq!(eval(Method::DELETE, &[(IF_MATCH, "\"v1\"")]), Proceed);
    // Unparseable or empty: the precondition cannot be shown to hold.
    assert_eq!(get(&[(IF_MATCH, "v1")]), Failed);
    assert_eq!(get(&[(IF_MATCH, "")]), Failed);
}

#[test]
fn step1_if_match_lines_are_combined() {
    assert_eq!(get(&[(IF_MATCH, "\"v0\""), (IF_MATCH, "\"v1\"")]), Proceed);
    assert_eq!(get(&[(IF_MATCH, "\"v0\""), (IF_MATCH, "\"v2\"")]), Failed);
    assert_eq!(get(&[(IF_MATCH, "*"), (IF_MATCH, "\"v1\"")]), Failed);
}

#[test]
fn step2_if_unmodified_since() {
    assert_eq!(get(&[(IF_UNMODIFIED_SINCE, AT)]), Proceed);
    assert_eq!(get(&[(IF_UNMODIFIED_SINCE, AFTER)]), Proceed);
    assert_eq!(get(&[(IF_UNMODIFIED_SINCE, BEFORE)]), Failed);
    assert_eq!(eval(Method::PUT, &[(IF_UNMODIFIED_SINCE, BEFORE)]), Failed);
    // The obsolete forms are HTTP-dates too (RFC 9110 §5.6.7).
    assert_eq!(
        get(&[(IF_UNMODIFIED_SINCE, "Sunday, 06-Nov-94 08:49:36 GMT")]),
        Failed
    );
    assert_eq!(
        get(&[(IF_UNMODIFIED_SINCE, "Sun Nov  6 08:49:36 1994")]),
        Failed
    );
}

#[test]
fn step2_invalid_or_listed_dates_are_ignored() {
    assert_eq!(get(&[(IF_UNMODIFIED_SINCE, "yesterday")]), Proceed);
    assert_eq!(get(&[(IF_UNMODIFIED_SINCE, "")]), Proceed);
    assert_eq!(get(&[(IF_UNMODIFIED_SINCE, "784111776")]), Proceed);
    assert_eq!(
        get(&[(IF_UNMODIFIED_SINCE, BEFORE), (IF_UNMODIFIED_SINCE, BEFORE)]),
        Proceed
    );
    assert_eq!(
        get(&[(IF_UNMODIFIED_SINCE, &format!("{BEFORE}, {BEFORE}"))]),
        Proceed
    );
}

#[test]
fn step2_is_skipped_when_if_match_is_present() {
    // If-Match true: If-Unmodified-Since is not evaluated even though it would fail.
    assert_eq!(
        get(&[(IF_MATCH, "\"v1\""), (IF_UNMODIFIED_SINCE, BEFORE)]),
        Proceed
    );
}

#[test]
fn step3_if_none_match() {
    assert_eq!(get(&[(IF_NONE_MATCH, "\"v1\"")]), NotModified);
    assert_eq!(
        eval(Method::HEAD, &[(IF_NONE_MATCH, "\"v1\"")]),
        NotModified
    );
    // Weak comparison (§13.1.2).
    assert_eq!(get(&[(IF_NONE_MATCH, "W/\"v1\"")]), NotModified);
    assert_eq!(get(&[(IF_NONE_MATCH, "\"v0\", W/\"v1\"")]), NotModified);
    assert_eq!(get(&[(IF_NONE_MATCH, "*")]), NotModified);
    assert_eq!(get(&[(IF_NONE_MATCH, "\"v0\"")]), Proceed);
    assert_eq!(
        get(&[(IF_NONE_MATCH, "\"v0\""), (IF_NONE_MATCH, "\"v1\"")]),
        NotModified
    );
    // Other methods get 412 instead of 304.
    assert_eq!(eval(Method::PUT, &[(IF_NONE_MATCH, "*")]), Failed);
    assert_eq!(eval(Method::POST, &[(IF_NONE_MATCH, "\"v1\"")]), Failed);
    assert_eq!(eval(Method::DELETE, &[(IF_NONE_MATCH, "\"v0\"")]), Proceed);
    // Unparseable: matches nothing.
    assert_eq!(get(&[(IF_NONE_MATCH, "v1")]), Proceed);
}

#[test]
fn step4_if_modified_since() {
    assert_eq!(get(&[(IF_MODIFIED_SINCE, AT)]), NotModified);
    assert_eq!(get(&[(IF_MODIFIED_SINCE, AFTER)]), NotModified);
    assert_eq!(get(&[(IF_MODIFIED_SINCE, BEFORE)]), Proceed);
    assert_eq!(eval(Method::HEAD, &[(IF_MODIFIED_SINCE, AT)]), NotModified);
    // Only GET and HEAD (§13.1.3).
    assert_eq!(eval(Method::POST, &[(IF_MODIFIED_SINCE, AT)]), Proceed);
    assert_eq!(eval(Method::PUT, &[(IF_MODIFIED_SINCE, AT)]), Proceed);
    // Invalid and listed dates are ignored.
    assert_eq!(get(&[(IF_MODIFIED_SINCE, "not a date")]), Proceed);
    assert_eq!(
        get(&[(IF_MODIFIED_SINCE, AT), (IF_MODIFIED_SINCE, AT)]),
        Proceed
    );
    // So is a date past the server's clock: no Last-Modified of ours named it.
    let ahead = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    assert_eq!(get(&[(IF_MODIFIED_SINCE, &ahead)]), Proceed);
    assert_eq!(
        get(&[(IF_MODIFIED_SINCE, "Sat, 01 Jan 2050 00:00:00 GMT")]),
        Proceed
    );
}

#[test]
fn one_second_resolution() {
    // The file was modified at :37.5; the client saw `Last-Modified: ...:37`.
    assert_eq!(get(&[(IF_MODIFIED_SINCE, AT)]), NotModified);
    assert_eq!(get(&[(IF_UNMODIFIED_SINCE, AT)]), Proceed);
}

#[test]
fn if_none_match_disables_if_modified_since() {
    // Tag differs, date says not modified: the tag wins and the full response is sent.
    assert_eq!(
        get(&[(IF_NONE_MATCH, "\"v0\""), (IF_MODIFIED_SINCE, AFTER)]),
        Proceed
    );
    // Even an unparseable If-None-Match is "present".
    assert_eq!(
        get(&[(IF_NONE_MATCH, "junk"), (IF_MODIFIED_SINCE, AFTER)]),
        Proceed
    );
    // Tag matches, date says modified: still 304.
    assert_eq!(
        get(&[(IF_NONE_MATCH, "\"v1\""), (IF_MODIFIED_SINCE, BEFORE)]),
        NotModified
    );
}

#[test]
fn failing_if_match_beats_if_none_match() {
    assert_eq!(
        get(&[(IF_MATCH, "\"v0\""), (IF_NONE_MATCH, "\"v1\"")]),
        Failed
    );
    assert_eq!(
        get(&[(IF_MATCH, "\"v0\""), (IF_MODIFIED_SINCE, AT)]),
        Failed
    );
}

#[test]
fn failing_if_unmodified_since_beats_if_none_match() {
    assert_eq!(
        get(&[(IF_UNMODIFIED_SINCE, BEFORE), (IF_NONE_MATCH, "\"v1\"")]),
        Failed
    );
    assert_eq!(
        get(&[(IF_UNMODIFIED_SINCE, BEFORE), (IF_MODIFIED_SINCE, AT)]),
        Failed
    );
}

#[test]
fn passing_if_match_then_if_none_match() {
    assert_eq!(
        get(&[(IF_MATCH, "\"v1\""), (IF_NONE_MATCH, "\"v1\"")]),
        NotModified
    );
    assert_eq!(
        eval(Method::PUT, &[(IF_MATCH, "*"), (IF_NONE_MATCH, "*")]),
        Failed
    );
    assert_eq!(
        get(&[(IF_MATCH, "\"v1\""), (IF_NONE_MATCH, "\"v0\"")]),
        Proceed
    );
    assert_eq!(
        get(&[(IF_UNMODIFIED_SINCE, AT), (IF_MODIFIED_SINCE, AT)]),
        NotModified
    );
}

#[test]
fn weak_current_tag() {
    // A representation with a weak tag can never satisfy If-Match, but can If-None-Match.
    let weak = EntityTag::parse("W/\"v1\"").unwrap();
    let h = headers(&[(IF_MATCH, "W/\"v1\"")]);
    assert_eq!(evaluate(&Method::GET, &h, &weak, Some(modified())), Failed);
    let h = headers(&[(IF_NONE_MATCH, "\"v1\"")]);
    assert_eq!(
        evaluate(&Method::GET, &h, &weak, Some(modified())),
        NotModified
    );
}

fn if_range(values: &[&str]) -> bool {
    let pairs: Vec<(HeaderName, &str)> = values.iter().map(|v| (IF_RANGE, *v)).collect();
    if_range_allows(&headers(&pairs), &tag(), Some(modified()))
}

#[test]
fn if_range_absent_allows() {
    assert!(if_range(&[]));
}

#[test]
fn if_range_entity_tag_is_strong_only() {
    assert!(if_range(&["\"v1\""]));
    assert!(!if_range(&["\"v0\""]));
    assert!(!if_range(&["W/\"v1\""]));
    assert!(!if_range(&["\"v1\", \"v2\""]));
    assert!(!if_range(&["*"]));
    let weak = EntityTag::parse("W/\"v1\"").unwrap();
    let h = headers(&[(IF_RANGE, "\"v1\"")]);
    assert!(!if_range_allows(&h, &weak, Some(modified())));
}

/// RFC 9110 §13.1.5 / §8.8.2.2: a Last-Modified within the current second is weak (the file
/// may change again within it), so an If-Range naming it cannot allow a range.
#[test]
fn if_range_date_of_this_second_is_weak() {
    let now = SystemTime::now();
    let date = httpdate::fmt_http_date(now);
    let h = headers(&[(IF_RANGE, date.as_str())]);
    let allowed = if_range_allows(&h, &tag(), Some(now));
    // Unless the clock ticked into the next second in between, the date is still weak.
    if truncate_to_seconds(SystemTime::now()) == truncate_to_seconds(now) {
        assert!(!allowed);
    }
    let h = headers(&[(IF_RANGE, AT)]);
    assert!(if_range_allows(&h, &tag(), Some(modified())));
}

#[test]
fn if_range_date_must_equal_last_modified() {
    assert!(if_range(&[AT]));
    assert!(if_range(&["Sunday, 06-Nov-94 08:49:37 GMT"]));
    assert!(!if_range(&[BEFORE]));
    assert!(!if_range(&[AFTER]));
    assert!(!if_range(&["garbage"]));
    assert!(!if_range(&[""]));
    assert!(!if_range(&[AT, AT]));
}

#[test]
fn truncation() {
    let t = UNIX_EPOCH + Duration::new(5, 999_999_999);
    assert_eq!(truncate_to_seconds(t), UNIX_EPOCH + Duration::from_secs(5));
    let t = UNIX_EPOCH - Duration::new(5, 1);
    assert_eq!(truncate_to_seconds(t), UNIX_EPOCH - Duration::from_secs(6));
    let t = UNIX_EPOCH - Duration::from_secs(5);
    assert_eq!(truncate_to_seconds(t), t);
}

#[test]
fn files_before_1970_compare_sanely() {
    let old = UNIX_EPOCH - Duration::from_secs(10);
    let h = headers(&[(IF_MODIFIED_SINCE, "Thu, 01 Jan 1970 00:00:00 GMT")]);
    assert_eq!(evaluate(&Method::GET, &h, &tag(), Some(old)), NotModified);
    let h = headers(&[(IF_UNMODIFIED_SINCE, "Thu, 01 Jan 1970 00:00:00 GMT")]);
    assert_eq!(evaluate(&Method::GET, &h, &tag(), Some(old)), Proceed);
}

/// A representation without a modification date: the date fields are ignored (§13.1.3,
/// §13.1.4), an If-Range date is false (§13.1.5), the entity-tag fields still count.
#[test]
fn without_a_modification_date_only_entity_tags_count() {
    let h = headers(&[(IF_UNMODIFIED_SINCE, BEFORE)]);
    assert_eq!(evaluate(&Method::GET, &h, &tag(), None), Proceed);
    let h = headers(&[(IF_MODIFIED_SINCE, AFTER)]);
    assert_eq!(evaluate(&Method::GET, &h, &tag(), None), Proceed);
    let h = headers(&[(IF_NONE_MATCH, r#""v1""#)]);
    assert_eq!(evaluate(&Method::GET, &h, &tag(), None), NotModified);
    assert!(!if_range_allows(&headers(&[(IF_RANGE, AT)]), &tag(), None));
}
