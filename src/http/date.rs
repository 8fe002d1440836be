//! The `Date` header value (RFC 9110 §6.6.1), rendered at most once a second per thread.

/// The current time as an HTTP-date header value.
pub fn now() -> http::HeaderValue {
    todo!()
}
