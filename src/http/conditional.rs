//! Preconditions evaluated exactly in the order of RFC 9110 §13.2.2, and `If-Range` (§13.1.5).

use std::time::SystemTime;

use http::{HeaderMap, Method};

use super::etag::EntityTag;

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
/// representation that exists with `etag` and `last_modified`.
pub fn evaluate(
    method: &Method,
    headers: &HeaderMap,
    etag: &EntityTag,
    last_modified: SystemTime,
) -> Precondition {
    let _ = (method, headers, etag, last_modified);
    todo!()
}

/// Whether a `Range` header may be honoured given `If-Range` (absent → true).
/// Only strong validators match (RFC 9110 §13.1.5).
pub fn if_range_allows(headers: &HeaderMap, etag: &EntityTag, last_modified: SystemTime) -> bool {
    let _ = (headers, etag, last_modified);
    todo!()
}
