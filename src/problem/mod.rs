//! The one error type a handler returns, and its body negotiated by `Accept`:
//! an HTML page, `application/problem+json` (RFC 9457), or plain text; always `Vary: Accept`.
//!
//! A `Problem` says what happened and what the client can do. It never carries internal
//! paths, OS error text or stack traces: the cause is logged once by the caller.
//!
//! Rendering: [`Problem::into_response`] picks the format (`negotiate`), `render` fills the
//! escaped per-request fields into a frame of static strings, and the headers are set here.
//! A problem answered again and again (the file cache's 404s) is [`Problem::remembered`]:
//! each format is rendered once, and its bytes and fields shared (a 404 with a problem+json
//! body: 16,029 -> 14,667 instructions per request in callgrind for the body, -> 13,224 with
//! the fields too). Its fields are also rendered as HTTP/1.1 writes them, for a connection
//! that copies them whole ([`Problem::into_response_as`], [`crate::body::prepared`]).
//!
//! Caching: 5xx answers carry `Cache-Control: no-store` (they are transient and name a
//! request id). 4xx answers carry none, so the defaults of RFC 9111 apply: 404, 405 and 410
//! may be cached heuristically (§4.2.2), which is right for a name that does not exist, and
//! `Vary: Accept` keeps the formats apart; 412 and 416 are never stored without explicit
//! freshness. A handler that knows better sets `Cache-Control` in [`Problem::headers`].

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    RETRY_AFTER, VARY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use crate::body::ResponseBody;
use crate::body::prepared::{FieldForm, Prepared, RenderedFields};
use crate::http::accept::{LastVerdict, Specificity, best_of, media_type_matches};
use crate::http::encode::printable;

mod render;

/// At most this many "did you mean" suggestions are kept (the nearest first).
pub const MAX_SUGGESTIONS: usize = 3;

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
    /// Bodies already rendered, with their fields, one slot per format, shared by clones (see
    /// [`Problem::remembered`]); `None` renders every time.
    rendered: Option<Arc<[OnceLock<Rendition>; Format::ALL.len()]>>,
    /// Until when a remembered problem answers the same request alike (its cache entry's
    /// revalidation; see `Prepared::wrap_until`).
    fresh_until: Option<Instant>,
}

impl Problem {
    /// A problem with `status` and the given slug/title; detail empty.
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Problem {
            status,
            slug,
            title,
            detail: String::new(),
            instance: None,
            suggestions: Vec::new(),
            available: Vec::new(),
            request_id: None,
            headers: HeaderMap::new(),
            rendered: None,
            fresh_until: None,
        }
    }

    /// This problem, answering the same request alike until `until` when it is remembered
    /// and its answer prepared (see [`into_response_as`](Self::into_response_as)).
    pub fn fresh_until(self, until: Option<Instant>) -> Self {
        Problem {
            fresh_until: until,
            ..self
        }
    }

    /// This problem, its bodies rendered at most once per format from now on, for it and
    /// every clone: for a problem kept and answered again and again (the file cache's 404s),
    /// whose body fields no longer change. A clone that changes them (or gets a request id)
    /// must first [`forget`](Self::forget) what was rendered.
    pub fn remembered(mut self) -> Self {
        self.rendered = Some(Arc::default());
        self
    }

    /// Render bodies afresh from now on (see [`remembered`](Self::remembered)).
    pub fn forget(&mut self) {
        self.rendered = None;
    }

    /// Set the detail. Control and bidi characters are percent-encoded so the detail cannot
    /// rewrite a terminal ([`printable`]).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        self.detail = match printable(&detail) {
            std::borrow::Cow::Borrowed(_) => detail,
            std::borrow::Cow::Owned(clean) => clean,
        };
        self.forget();
        self
    }

    /// Set the instance (the decoded request path).
    pub fn with_instance(mut self, path: impl Into<String>) -> Self {
        self.instance = Some(path.into());
        self.forget();
        self
    }

    /// Set the request id, shown in every format so a user can quote it to the operator.
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// 400: the request cannot be understood; `detail` says why.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad Request").with_detail(detail)
    }

    /// 400: the request's content could not be read to its end; `reason` is what usher's
    /// reader found (a malformed chunk, the client gone quiet or away), said to the client
    /// so it can tell a framing mistake from a cut connection.
    pub fn unreadable_content(reason: &str) -> Self {
        Problem::bad_request(format!(
            "The request's content could not be read to its end: {}.",
            printable(reason.trim_end_matches('.'))
        ))
    }

    /// 404 for `path` with up to three nearest existing names.
    pub fn not_found(path: &str, mut suggestions: Vec<String>) -> Self {
        suggestions.truncate(MAX_SUGGESTIONS);
        let p = printable(path);
        let detail = if suggestions.is_empty() {
            format!("No file or directory at {p}. Check the address for typos.")
        } else {
            format!("No file or directory at {p}.")
        };
        let mut problem = Problem::new(StatusCode::NOT_FOUND, "not-found", "Not Found")
            .with_detail(detail)
            .with_instance(path);
        problem.suggestions = suggestions;
        problem
    }

    /// 404 for a path no route of the site covers: nothing is served there, whatever the
    /// site's root holds (a site with routes serves its files only through `files` routes).
    pub fn no_route(path: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not Found")
            .with_detail(format!(
                "Nothing is served at {}: no route of this site covers it.",
                printable(path)
            ))
            .with_instance(path)
    }

    /// 403: `policy` names the rule that refused (e.g. "symbolic links leaving the root are not followed").
    ///
    /// Per DESIGN.md, `policy` must name a rule, never a filesystem path or OS error text.
    pub fn forbidden(path: &str, policy: &str) -> Self {
        let detail = format!(
            "Access to {} is refused: {}. This is the site's configuration; \
             the request itself is fine.",
            printable(path),
            policy.trim_end_matches('.')
        );
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
            .with_detail(detail)
            .with_instance(path)
    }

    /// 405 with `Allow`, listing the allowed methods in the detail.
    pub fn method_not_allowed(method: &Method, allowed: &[Method]) -> Self {
        method_not_allowed(method, None, allowed)
    }

    /// 405 for `path`, naming it in the detail; otherwise as [`Problem::method_not_allowed`].
    pub fn method_not_allowed_on(path: &str, method: &Method, allowed: &[Method]) -> Self {
        method_not_allowed(method, Some(path), allowed).with_instance(path)
    }

    /// 421: no site answers `host` (RFC 9110 §15.5.20), and there is no default site.
    pub fn misdirected(host: &str) -> Self {
        let detail = if host.is_empty() {
            "The request names no site (it has no Host header or an empty one), and this server \
             has no default site to answer it. Send the site's name, such as Host: example.com."
                .to_owned()
        } else {
            format!(
                "This server has no site named {}. Check the address, or ask the operator to add the name to a site's hosts.",
                printable(host)
            )
        };
        Problem::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected-request",
            "Misdirected Request",
        )
        .with_detail(detail)
    }

    /// 501 for a method usher does not know.
    pub fn not_implemented(method: &Method) -> Self {
        Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "not-implemented",
            "Not Implemented",
        )
        .with_detail(format!(
            "usher does not implement the method {}.",
            shortened(method.as_str())
        ))
    }

    /// 406: `available` lists what exists (paths or media types).
    pub fn not_acceptable(path: &str, available: Vec<String>) -> Self {
        let detail = format!(
            "{} exists, but not in any form this request accepts (see its Accept and \
             Accept-Language headers). Ask for one of the available representations.",
            printable(path)
        );
        let mut problem = Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "not-acceptable",
            "Not Acceptable",
        )
        .with_detail(detail)
        .with_instance(path);
        problem.available = available;
        problem
    }

    /// 412 Precondition Failed.
    pub fn precondition_failed(path: &str) -> Self {
        let detail = format!(
            "The request's preconditions (If-Match, If-None-Match or If-Unmodified-Since) \
             do not hold for {}: it changed since the client last saw it. Fetch the current \
             version before trying again.",
            printable(path)
        );
        Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition Failed",
        )
        .with_detail(detail)
        .with_instance(path)
    }

    /// 416 with `Content-Range: bytes */len`.
    pub fn range_not_satisfiable(path: &str, len: u64) -> Self {
        let p = printable(path);
        let detail = match len.checked_sub(1) {
            None => format!(
                "{p} is empty, so no byte range of it exists; request it without a Range header."
            ),
            Some(last) => format!(
                "The range does not overlap the {len}-byte representation of {p}; \
                 request bytes within 0-{last}."
            ),
        };
        let mut problem = Problem::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range-not-satisfiable",
            "Range Not Satisfiable",
        )
        .with_detail(detail)
        .with_instance(path);
        // RFC 9110 §14.4: a 416 to a byte range request SHOULD carry `bytes */complete-length`.
        if let Ok(v) = HeaderValue::try_from(format!("bytes */{len}")) {
            problem.headers.insert(CONTENT_RANGE, v);
        }
        problem
    }

    /// 500: something failed inside usher; the cause is logged, not sent.
    ///
    /// Set the id the cause was logged with by [`Problem::with_request_id`]; every format
    /// shows it.
    pub fn internal() -> Self {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
        )
        .with_detail(
            "usher failed to answer this request; the error was logged with its request id. \
             Try again; if it keeps failing, give the request id to the site's operator.",
        )
    }

    /// 503 for an answer that needed a file descriptor and found none (EMFILE, ENFILE): a
    /// passing overload, not a fault of the site, so `Retry-After: 1`; `None` for any other
    /// error.
    pub fn out_of_descriptors(err: &std::io::Error) -> Option<Self> {
        use nix::errno::Errno;
        let errno = err.raw_os_error().map(Errno::from_raw);
        matches!(errno, Some(Errno::EMFILE | Errno::ENFILE)).then(|| {
            tracing::warn!(error = %err, "out of file descriptors: answered 503");
            Problem::unavailable("This server has too many files open at once.", 1)
        })
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        let detail = detail.into();
        let unit = if retry_after_secs == 1 {
            "second"
        } else {
            "seconds"
        };
        let retry = format!("Try again in {retry_after_secs} {unit}.");
        let detail = if detail.is_empty() {
            retry
        } else {
            format!("{} {retry}", detail.trim_end())
        };
        let mut problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service Unavailable",
        )
        .with_detail(detail);
        // RFC 9110 §10.2.3: delay-seconds.
        problem
            .headers
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
        problem
    }

    /// Render for a request whose `Accept` is `accept` (None = absent). HEAD gets the same
    /// headers with no body.
    ///
    /// Headers: `Content-Type` (charset on text), `Content-Length`, `Vary: Accept`,
    /// `X-Content-Type-Options: nosniff`, a restrictive `Content-Security-Policy` on HTML,
    /// `Cache-Control: no-store` on 5xx (see the module docs), then [`Problem::headers`],
    /// which replace ours except `Content-Type`/`Content-Length` (ignored: they describe
    /// our body) and `Vary` (appended).
    pub fn into_response(
        self,
        accept: Option<&HeaderValue>,
        is_head: bool,
    ) -> Response<ResponseBody> {
        self.into_response_as(accept, is_head, FieldForm::Map)
    }

    /// [`into_response`](Self::into_response), with the fields of a remembered problem's
    /// body rendered ahead when `form` asks for it (see [`crate::body::prepared`]).
    pub fn into_response_as(
        self,
        accept: Option<&HeaderValue>,
        is_head: bool,
        form: FieldForm,
    ) -> Response<ResponseBody> {
        let format = negotiate(accept.map(HeaderValue::as_bytes));
        let Rendition { body, headers, .. } = match &self.rendered {
            // A request id is this request's own: never in a shared body.
            Some(rendered) if self.request_id.is_none() => {
                let slot = &rendered[format as usize];
                let kept = slot.get_or_init(|| self.render(format).with_lines());
                if cfg!(debug_assertions) {
                    let fresh = self.render(format);
                    assert_eq!(kept.body, fresh.body, "changed after remembered");
                    assert_eq!(kept.headers, fresh.headers, "changed after remembered");
                }
                if let (FieldForm::Prepared, Some(fields), false) = (form, &kept.prepared, is_head)
                {
                    let body = ResponseBody::full(kept.body.clone());
                    let fresh_until = self.fresh_until;
                    let prepared =
                        Prepared::wrap_until(Arc::clone(fields), body, fresh_until, None);
                    let mut response = Response::new(prepared);
                    *response.status_mut() = self.status;
                    return response;
                }
                kept.clone()
            }
            _ => self.render(format),
        };
        let body = if is_head {
            ResponseBody::Empty
        } else {
            ResponseBody::full(body)
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        response
    }

    /// The body in `format` and the fields that go with it.
    fn render(&self, format: Format) -> Rendition {
        let body = render::render(self, format);
        let mut headers = HeaderMap::with_capacity(6 + self.headers.len());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        headers.insert(VARY, HeaderValue::from_static("Accept"));
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if format == Format::Html {
            // The page needs nothing but its inline style; anything injected despite the
            // escaping can neither run nor load.
            headers.insert(
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                     form-action 'none'",
                ),
            );
        }
        if self.status.is_server_error() {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        for name in self.headers.keys() {
            if name == CONTENT_TYPE || name == CONTENT_LENGTH {
                continue;
            }
            if name == VARY {
                headers.insert(VARY, merged_vary(self.headers.get_all(VARY)));
                continue;
            }
            headers.remove(name);
            for value in self.headers.get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        Rendition {
            body,
            headers,
            prepared: None,
        }
    }
}

/// A problem rendered in one format: its body and the response fields that describe it.
#[derive(Debug, Clone)]
struct Rendition {
    body: Bytes,
    headers: HeaderMap,
    /// The fields but `Content-Length`, rendered (for a remembered problem only).
    prepared: Option<Arc<RenderedFields>>,
}

impl Rendition {
    /// This rendition with its fields rendered too.
    fn with_lines(mut self) -> Self {
        let mut fields = self.headers.clone();
        fields.remove(CONTENT_LENGTH);
        self.prepared = RenderedFields::new(fields).map(Arc::new);
        self
    }
}

/// One `Vary` value: `Accept` (the body is negotiated on it) and the names in `extra`, each
/// once (field names are case-insensitive), so a problem about a negotiated variant says
/// everything its selection depended on (RFC 9110 §12.5.5) in a single field line.
fn merged_vary(extra: http::header::GetAll<'_, HeaderValue>) -> HeaderValue {
    let mut names: Vec<&str> = vec!["Accept"];
    for value in extra {
        let Ok(value) = value.to_str() else { continue };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                return HeaderValue::from_static("*");
            }
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name);
            }
        }
    }
    HeaderValue::try_from(names.join(", ")).unwrap_or_else(|_| HeaderValue::from_static("Accept"))
}

fn method_not_allowed(method: &Method, path: Option<&str>, allowed: &[Method]) -> Problem {
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let place = match path {
        Some(p) => format!("on {}", printable(p)),
        None => "here".to_owned(),
    };
    let detail = if allowed.is_empty() {
        format!("{method} is not allowed {place}, and neither is any other method.")
    } else {
        format!("{method} is not allowed {place}. Allowed methods: {list}.")
    };
    let mut problem = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method Not Allowed",
    )
    .with_detail(detail);
    // RFC 9110 §15.5.6: a 405 MUST carry Allow; an empty one means nothing is allowed.
    if let Ok(v) = HeaderValue::try_from(list) {
        problem.headers.insert(ALLOW, v);
    }
    problem
}

/// The body formats a problem is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// A self-contained HTML page, for browsers.
    Html,
    /// RFC 9457 JSON, for API clients.
    ProblemJson,
    /// Title, detail and lists as lines, for terminals and logs.
    Text,
    /// The RFC 9457 body as plain `application/json`, for a client that refuses
    /// `application/problem+json` by name (`q=0`) but takes JSON.
    Json,
}

impl Format {
    /// Every format, each at the index its `as u16` gives.
    const ALL: [Format; 4] = [
        Format::Html,
        Format::ProblemJson,
        Format::Text,
        Format::Json,
    ];

    fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            // RFC 8259 §11: JSON has no charset parameter; it is UTF-8.
            Format::ProblemJson => "application/problem+json",
            Format::Text => "text/plain; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// What we offer, in tie-break order, and the format each one is rendered in.
const OFFERED: [(&str, Format); 4] = [
    ("text/html", Format::Html),
    ("application/problem+json", Format::ProblemJson),
    // A client asking for JSON gets problem+json: it is JSON, and its own media type
    // tells a client that understands RFC 9457 what it is.
    ("application/json", Format::ProblemJson),
    ("text/plain", Format::Text),
];

/// Choose the format for `accept` (RFC 9110 §12.5.1), with two rules of our own:
///
/// - A client that names none of our formats and only reaches them through `*/*` (curl,
///   wget, scripts, or no `Accept` at all) gets plain text, readable in a terminal, unless
///   it values text/plain lower than the winner.
/// - A client that accepts none of them still gets plain text: an error must never turn
///   into a 406 (RFC 9110 §15.5.7 lets a server disregard `Accept`).
fn negotiate(accept: Option<&[u8]>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    thread_local! {
        static LAST: RefCell<LastVerdict> = const { RefCell::new(LastVerdict::new()) };
    }
    // A client sends the same Accept with each request: choose once per value (the choice
    // cost about 2,000 instructions of a 404's 21,700).
    let chosen = LAST.with_borrow_mut(|last| {
        last.answer(accept, "problem formats", || {
            negotiate_afresh(accept) as u16
        })
    });
    Format::ALL
        .get(usize::from(chosen))
        .copied()
        .unwrap_or(Format::Text)
}

/// [`negotiate`] for a present `accept`, without the memo.
fn negotiate_afresh(accept: &[u8]) -> Format {
    let accept = Some(accept);
    let types = OFFERED.map(|(t, _)| t);
    // One pass over the header for all four (this runs for every error answer).
    let Some(matches) = media_type_matches(accept, &types) else {
        // No Accept, or none that parses: as `*/*`, so plain text.
        return Format::Text;
    };
    let Some(i) = best_of(&matches) else {
        return Format::Text;
    };
    let (quality, specificity) = matches[i];
    let text_quality = matches[TEXT].0;
    if specificity == Specificity::Any && text_quality >= quality {
        return Format::Text;
    }
    // JSON wins, but the client named problem+json to refuse it: the same body, as the
    // media type it takes.
    if i == JSON && matches!(matches[PROBLEM_JSON], (0, Specificity::Subtype { .. })) {
        return Format::Json;
    }
    OFFERED[i].1
}

/// Where application/problem+json, application/json and text/plain are in [`OFFERED`].
const PROBLEM_JSON: usize = 1;
const JSON: usize = 2;
const TEXT: usize = 3;

/// At most [`ECHOED_MAX`] characters of a method, a token (ASCII): an answer does not echo
/// a request's oversized parts back in full.
fn shortened(token: &str) -> Cow<'_, str> {
    match token.get(..ECHOED_MAX) {
        Some(head) if token.len() > ECHOED_MAX => {
            Cow::Owned(format!("{head}... ({} bytes)", token.len()))
        }
        _ => Cow::Borrowed(token),
    }
}

/// Longest method name an answer repeats whole.
const ECHOED_MAX: usize = 64;

#[cfg(test)]
mod tests;
