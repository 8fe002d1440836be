//! The per-request service: method policy, request-target normalisation, dispatch to the
//! responder, and turning a [`Problem`] into its negotiated answer.

use std::collections::HashMap;

use arc_swap::ArcSwap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{ACCEPT, ALLOW, HOST, LOCATION, SERVER};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};

use crate::body::ResponseBody;
use crate::config::{Config, ConfigError, canonical_root};
use crate::handlers::static_files::{ReadAheadBudget, ServeDir, StaticOptions};
use crate::http::target::{self, NormalPath};
use crate::problem::Problem;
use crate::router::path::PathPattern;
use crate::router::{Decision, Responder, Route, Router, Site};

/// Methods a static resource supports, as sent in `Allow` (RFC 9110 §10.2.1).
pub const STATIC_METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::OPTIONS];

const ALLOW_STATIC: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");
pub(super) const SERVER_NAME: HeaderValue = HeaderValue::from_static("usher");

/// Registered methods usher knows but a static resource does not allow: 405, not 501
/// (RFC 9110 §15.5.6 vs §15.6.2). From RFC 9110 §9, RFC 5789 and the WebDAV RFCs.
const KNOWN_METHODS: &[&str] = &[
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "SEARCH",
    "QUERY",
];

/// Everything a request needs. Its routes and file servers are swapped whole on reload
/// ([`App::reload`]): each request takes the current set once, so a request in flight finishes
/// with the configuration it started with.
#[derive(Debug)]
pub struct App {
    current: ArcSwap<Routes>,
}

/// One configuration's router, and a file server (with its caches) per files route.
#[derive(Debug)]
struct Routes {
    router: Arc<Router>,
    /// File servers by the address of their route in `router`. Routes never move: the router
    /// owns them in vectors it never changes, and `Routes` holds the router.
    files: HashMap<usize, ServeDir>,
}

impl App {
    /// The application for `config`: its config file's sites, or `config.files` for every
    /// host and path. Every files root must be a directory (it becomes canonical: the sandbox
    /// boundary).
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Ok(App {
            current: ArcSwap::from_pointee(Routes::new(config)?),
        })
    }

    /// Serve `config` from now on, if it can be served; otherwise keep the current one.
    /// Requests already started finish with the configuration they started with.
    pub fn reload(&self, config: &Config) -> Result<(), ConfigError> {
        self.current.store(Arc::new(Routes::new(config)?));
        Ok(())
    }

    /// The current router, for `usher explain` and `usher check`.
    pub fn router(&self) -> Arc<Router> {
        self.current.load().router.clone()
    }
}

impl Routes {
    fn new(config: &Config) -> Result<Self, ConfigError> {
        let router = match &config.router {
            Some(router) => router.clone(),
            None => Arc::new(directory_router(config.files.clone())),
        };
        let mut files = HashMap::new();
        for site in router.sites() {
            for route in &site.routes {
                if let Responder::Files(opts) = &route.responder {
                    let mut opts = opts.clone();
                    opts.root = canonical_root(&opts.root)?;
                    config.file_flags.apply(&mut opts);
                    files.insert(route_key(route), ServeDir::new(opts));
                }
            }
        }
        Ok(Routes { router, files })
    }
}

fn route_key(route: &Route) -> usize {
    std::ptr::from_ref(route) as usize
}

/// One default site with one route serving `files` at `/`: `usher serve ROOT`.
fn directory_router(files: StaticOptions) -> Router {
    let route = Route {
        label: "the command line".to_owned(),
        pattern: PathPattern::parse("/").expect("/ is a pattern"),
        methods: None,
        headers: http::HeaderMap::new(),
        responder: Responder::Files(files),
    };
    let site = Site {
        label: "the command line".to_owned(),
        hosts: Vec::new(),
        routes: vec![route],
    };
    Router::new(vec![site]).expect("one site with one route has no conflicts")
}

/// A process-unique request id, carried in problem bodies and log lines.
fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Answer one request. Never fails: every error becomes a negotiated [`Problem`] answer.
pub async fn handle<B>(
    app: Arc<App>,
    peer: SocketAddr,
    budget: Option<ReadAheadBudget>,
    req: Request<B>,
) -> Result<Response<ResponseBody>, Infallible> {
    // The body is never read by a static resource; hyper discards what the client sends.
    let (parts, _body) = req.into_parts();
    let is_head = parts.method == Method::HEAD;
    let result = match host_problem(&parts) {
        Some(problem) => Err(problem),
        None => {
            let routes = app.current.load_full();
            match budget {
                Some(budget) => budget.scope(dispatch(&routes, &parts)).await,
                // HTTP/1.1 sends one body at a time, and file ranges zero-copy: no budget.
                None => dispatch(&routes, &parts).await,
            }
        }
    };
    let mut response = match result {
        Ok(response) => response,
        Err(mut problem) => {
            // Only a server error has a logged cause for an id to point at; a 4xx body is
            // complete in itself (and stays identical across requests, so it can be cached).
            if problem.status.is_server_error() {
                let id = next_request_id();
                tracing::warn!(request_id = %id, status = problem.status.as_u16(), method = %parts.method, uri = %parts.uri, "answered with a server error");
                problem.request_id = Some(id);
            }
            problem.into_response(parts.headers.get(ACCEPT), is_head)
        }
    };
    response.headers_mut().insert(SERVER, SERVER_NAME);
    tracing::debug!(target: "usher::access", %peer, method = %parts.method, uri = %parts.uri, version = ?parts.version, status = response.status().as_u16());
    Ok(response)
}

/// Route and answer a request whose head passed [`host_problem`].
async fn dispatch(app: &Routes, parts: &Parts) -> Result<Response<ResponseBody>, Problem> {
    if parts.method == Method::OPTIONS && parts.uri == "*" {
        return Ok(options(ALLOW_STATIC)); // the server as a whole (RFC 9110 §9.3.7)
    }
    if parts.uri.path().is_empty() {
        // Authority-form (`CONNECT host:port`) has no path to route.
        return Err(Problem::method_not_allowed(&parts.method, &STATIC_METHODS));
    }
    let path = target::normalise(parts.uri.path()).map_err(|e| {
        Problem::bad_request(format!(
            "{e}. Send a path made of percent-encoded UTF-8, such as /docs/caf%C3%A9.html."
        ))
    })?;
    match app.router.decide(authority(parts), &parts.method, &path) {
        Decision::Misdirected => Err(Problem::misdirected(authority(parts).unwrap_or(""))),
        Decision::NoRoute { .. } => {
            let shown = path.to_decoded_string();
            Err(Problem::not_found(&shown, Vec::new()))
        }
        Decision::MethodNotAllowed { allowed, .. } if parts.method == Method::OPTIONS => {
            Ok(options(allow_value(allowed)))
        }
        Decision::MethodNotAllowed { allowed, .. } => {
            let shown = path.to_decoded_string();
            let mut allowed = allowed.to_vec();
            if !allowed.contains(&Method::OPTIONS) {
                allowed.push(Method::OPTIONS); // always answered, with Allow
            }
            Err(Problem::method_not_allowed_on(
                &shown,
                &parts.method,
                &allowed,
            ))
        }
        Decision::Route(matched) => {
            let mut response = match &matched.route.responder {
                Responder::Files(_) => {
                    let Some(files) = app.files.get(&route_key(matched.route)) else {
                        tracing::warn!(route = %matched.route.label, "files route without a file server");
                        return Err(Problem::internal());
                    };
                    serve_files(files, parts, &path).await?
                }
                Responder::Redirect(redirect) => {
                    let location = redirect.location(&path, matched.consumed, parts.uri.query());
                    let mut response = Response::new(ResponseBody::Empty);
                    *response.status_mut() = redirect.status();
                    response.headers_mut().insert(LOCATION, location);
                    response
                }
            };
            for (name, value) in &matched.route.headers {
                response.headers_mut().insert(name, value.clone());
            }
            Ok(response)
        }
    }
}

/// The host a request names: the target's authority (absolute-form, RFC 9112 §3.2.2, or
/// HTTP/2's `:authority`), else the Host field.
fn authority(parts: &Parts) -> Option<&str> {
    parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
}

/// Method policy of a files route: GET and HEAD serve, OPTIONS lists them, known methods get
/// 405 (RFC 9110 §15.5.6), unknown ones 501 (§15.6.2).
async fn serve_files(
    files: &ServeDir,
    parts: &Parts,
    path: &NormalPath,
) -> Result<Response<ResponseBody>, Problem> {
    match parts.method {
        Method::GET | Method::HEAD => files.serve(parts, path).await,
        Method::OPTIONS => Ok(options(ALLOW_STATIC)),
        ref m if KNOWN_METHODS.contains(&m.as_str()) => {
            let shown = path.to_decoded_string();
            Err(Problem::method_not_allowed_on(&shown, m, &STATIC_METHODS).with_instance(shown))
        }
        ref m => Err(Problem::not_implemented(m)),
    }
}

/// `Allow` for a route's methods, with OPTIONS (always answered).
fn allow_value(allowed: &[Method]) -> HeaderValue {
    let mut names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    if !names.contains(&"OPTIONS") {
        names.push("OPTIONS");
    }
    HeaderValue::from_str(&names.join(", ")).unwrap_or(ALLOW_STATIC)
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
/// request message that lacks a Host header field and to any request message that contains more
/// than one Host header field line or a Host header field with an invalid field value."
/// (HTTP/2 carries the authority in `:authority`, so only HTTP/1.1 needs the field; HTTP/1.0
/// predates it.)
fn host_problem(parts: &Parts) -> Option<Problem> {
    let mut hosts = parts.headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if parts.version == Version::HTTP_11 => Some(Problem::bad_request(
            "The request has no Host header, which HTTP/1.1 requires (RFC 9112 section 3.2). \
             Send the server's name, such as Host: example.com.",
        )),
        (None, _) => None,
        (Some(_), Some(_)) => Some(Problem::bad_request(
            "The request has more than one Host header (RFC 9112 section 3.2). Send exactly one.",
        )),
        (Some(host), None) if !valid_host(host.as_bytes()) => Some(Problem::bad_request(
            "The Host header is not a valid host[:port] (RFC 9110 section 7.2). \
             Send the server's name, such as Host: example.com or Host: 127.0.0.1:8080.",
        )),
        // RFC 9113 §8.3.1: a server SHOULD treat an HTTP/2 request whose Host differs from its
        // :authority as malformed.
        (Some(host), None)
            if parts.version == Version::HTTP_2
                && parts.uri.authority().is_some_and(|a| {
                    !a.as_str().as_bytes().eq_ignore_ascii_case(host.as_bytes())
                }) =>
        {
            Some(Problem::bad_request(
                "The Host header names a different server than :authority (RFC 9113 section 8.3.1). \
                 Send one name, or leave Host out.",
            ))
        }
        (Some(_), None) => None,
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2–3.2.3). An empty value is
/// allowed (RFC 9112 §3.2, a target without an authority).
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        // IP-literal: an IPv6 address (or IPvFuture) in brackets.
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &rest[..close];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b":.-_~!$&'()*+,;=".contains(&b))
        {
            return false;
        }
        match &rest[close + 1..] {
            [] => return true,
            [b':', port @ ..] => (&b""[..], port),
            _ => return false,
        }
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &b""[..]),
        }
    };
    // reg-name / IPv4address: unreserved, pct-encoded and sub-delims.
    let host_ok = host
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
    host_ok && port.iter().all(u8::is_ascii_digit)
}

/// `OPTIONS` on any resource, or on the server as a whole (`OPTIONS *`, RFC 9110 §9.3.7):
/// 204 with `Allow`, and no `Content-Length` (RFC 9110 §8.6: a server MUST NOT send one in a
/// 204; the status itself says there is no content).
fn options(allow: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response.headers_mut().insert(ALLOW, allow);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_is_204_with_allow_and_no_content_length() {
        let r = options(ALLOW_STATIC);
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(r.headers()[ALLOW], "GET, HEAD, OPTIONS");
        // RFC 9110 §8.6: never a Content-Length on a 204.
        assert!(r.headers().get(http::header::CONTENT_LENGTH).is_none());
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    fn parts(version: Version, uri: &str, hosts: &[&str]) -> Parts {
        let mut b = Request::builder().version(version).uri(uri);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn http2_host_must_match_authority() {
        let ok = |v, uri, hosts: &[&str]| host_problem(&parts(v, uri, hosts)).is_none();
        assert!(ok(Version::HTTP_2, "http://a:80/x", &[]));
        assert!(ok(Version::HTTP_2, "http://a:80/x", &["A:80"]));
        assert!(!ok(Version::HTTP_2, "http://a:80/x", &["evil"]));
        assert!(!ok(Version::HTTP_2, "http://a/x", &["a", "a"]));
        // HTTP/1.1 absolute-form: the target wins and Host is ignored (RFC 9112 §3.2.2).
        assert!(ok(Version::HTTP_11, "http://a/x", &["b"]));
        assert!(!ok(Version::HTTP_11, "/x", &[]));
        assert!(ok(Version::HTTP_10, "/x", &[]));
    }

    #[test]
    fn host_values() {
        for good in [
            "",
            "a",
            "a.b-c_d~",
            "a:",
            "a:8080",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:8",
        ] {
            assert!(valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "a b", "a/b", "u@h", "a:x", "[::1", "[]", "[::1]x", "a:1:2", "h\t",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad}");
        }
    }
}
