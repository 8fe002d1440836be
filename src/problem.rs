//! The one error type a handler returns, and its body negotiated by `Accept`:
//! an HTML page, `application/problem+json` (RFC 9457), or plain text; always `Vary: Accept`.
//!
//! A `Problem` says what happened and what the client can do. It never carries internal
//! paths, OS error text or stack traces: the cause is logged once by the caller.

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use crate::body::ResponseBody;

/// An error answer: status, a stable title and type, and a detail written for the client.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// Short, stable kebab-case name of the problem type, e.g. `not-found`; the RFC 9457
    /// `type` member is `urn:usher:problem:<slug>`.
    pub slug: &'static str,
    /// Short human summary, the same for every occurrence of this type (RFC 9457 `title`).
    pub title: &'static str,
    /// What happened to this request and what the client can do (RFC 9457 `detail`).
    pub detail: String,
    /// The request path this occurrence concerns (RFC 9457 `instance`), decoded.
    pub instance: Option<String>,
    /// Nearby paths that exist ("did you mean"), as decoded absolute paths.
    pub suggestions: Vec<String>,
    /// Representations that exist (406), as decoded absolute paths or media types.
    pub available: Vec<String>,
    /// The request id, also logged with the cause.
    pub request_id: Option<String>,
    /// Extra response headers: `Allow`, `Content-Range`, `Retry-After`.
    pub headers: HeaderMap,
}

impl Problem {
    /// A problem with `status` and the given slug/title; detail empty.
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        let _ = (status, slug, title);
        todo!()
    }

    /// Set the detail.
    pub fn with_detail(self, detail: impl Into<String>) -> Self {
        let _ = detail;
        todo!()
    }

    /// Set the instance (the decoded request path).
    pub fn with_instance(self, path: impl Into<String>) -> Self {
        let _ = path;
        todo!()
    }

    /// 400: the request cannot be understood; `detail` says why.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        let _ = detail;
        todo!()
    }

    /// 404 for `path` with up to three nearest existing names.
    pub fn not_found(path: &str, suggestions: Vec<String>) -> Self {
        let _ = (path, suggestions);
        todo!()
    }

    /// 403: `policy` names the rule that refused (e.g. "symbolic links leaving the root are not followed").
    pub fn forbidden(path: &str, policy: &str) -> Self {
        let _ = (path, policy);
        todo!()
    }

    /// 405 with `Allow`, listing the allowed methods in the detail.
    pub fn method_not_allowed(method: &Method, allowed: &[Method]) -> Self {
        let _ = (method, allowed);
        todo!()
    }

    /// 501 for a method usher does not know.
    pub fn not_implemented(method: &Method) -> Self {
        let _ = method;
        todo!()
    }

    /// 406: `available` lists what exists (paths or media types).
    pub fn not_acceptable(path: &str, available: Vec<String>) -> Self {
        let _ = (path, available);
        todo!()
    }

    /// 412 Precondition Failed.
    pub fn precondition_failed(path: &str) -> Self {
        let _ = path;
        todo!()
    }

    /// 416 with `Content-Range: bytes */len`.
    pub fn range_not_satisfiable(path: &str, len: u64) -> Self {
        let _ = (path, len);
        todo!()
    }

    /// 500: something failed inside usher; the cause is logged, not sent.
    pub fn internal() -> Self {
        todo!()
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        let _ = (detail, retry_after_secs);
        todo!()
    }

    /// Render for a request whose `Accept` is `accept` (None = absent). HEAD gets the same
    /// headers with no body.
    pub fn into_response(
        self,
        accept: Option<&HeaderValue>,
        is_head: bool,
    ) -> Response<ResponseBody> {
        let _ = (accept, is_head);
        todo!()
    }
}
