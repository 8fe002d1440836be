//! The per-request service: the checks on the Host field, dispatch (see [`super::dispatch`]),
//! and turning a [`Problem`] into its negotiated answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{ACCEPT, COOKIE, HOST, SERVER};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};

use super::dispatch::{App, PolicyAnswer, Routed, dispatch};
use super::h1::head::{
    MAX_HEAD_BYTES, MAX_HEADERS, MAX_TARGET_BYTES, target_too_long, too_large, too_many_fields,
};
use crate::body::ResponseBody;
use crate::handlers::static_files::ReadAheadBudget;
use crate::problem::Problem;

pub(super) const SERVER_NAME: HeaderValue = HeaderValue::from_static("usher");

/// Where a request came from and arrived.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The client's address.
    pub peer: SocketAddr,
    /// The server address it connected to.
    pub local: SocketAddr,
    /// On an HTTP/1.x connection, what a responder can tell it (see [`super::h1::ConnLink`]):
    /// stop my work if the client goes away; send this interim answer. One per connection,
    /// reset for each request, rather than an allocation in every request's extensions.
    pub link: Option<super::h1::ConnLink>,
}

/// `response` naming usher in `Server` (RFC 9110 §10.2.4), for a connection that does not
/// write the field itself (HTTP/1.x writes it into the head without touching the map).
pub(super) fn with_server(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    // Such a connection writes the map alone (only HTTP/1.x asks for prepared answers).
    crate::body::prepared::thaw(&mut response);
    response.headers_mut().insert(SERVER, SERVER_NAME);
    response
}

/// A process-unique request id, carried in problem bodies and log lines: a counter in
/// lowercase hex. Written by hand: `format!` cost about 400 instructions, on every proxied
/// and program request.
pub(super) fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    hex(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `n` in lowercase hex without leading zeros, as `{:x}` writes it.
fn hex(n: u64) -> String {
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
    (0..digits)
        .rev()
        .map(|i| char::from(b"0123456789abcdef"[((n >> (i * 4)) & 0xf) as usize]))
        .collect()
}

/// Answer one request. Never fails: every error becomes a negotiated [`Problem`] answer.
pub async fn handle<B>(
    app: Arc<App>,
    conn: Conn,
    budget: Option<ReadAheadBudget>,
    req: Request<B>,
) -> Result<Response<ResponseBody>, Infallible>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let (parts, body) = req.into_parts();
    let peer = conn.peer;
    let is_head = parts.method == Method::HEAD;
    let routes = app.routes();
    let mut routed: Option<Routed<'_>> = None;
    let result = match host_problem(&parts).or_else(|| http2_problem(&parts)) {
        Some(problem) => Err(problem),
        None => {
            let answer = dispatch(&routes, &parts, body, conn, &mut routed);
            match budget {
                Some(budget) => budget.scope(answer).await,
                // HTTP/1.1 sends one body at a time, and file ranges zero-copy: no budget.
                None => answer.await,
            }
        }
    };
    let made_here = result.is_err();
    let mut response = match result {
        Ok(response) => response,
        Err(mut problem) => {
            // Only a server error has a logged cause for an id to point at; a 4xx body is
            // complete in itself (and stays identical across requests, so it can be cached).
            // So is a 501: its cause is the client's method, which its body names, and
            // logging every unknown method would let any client fill the log.
            if problem.status.is_server_error() && problem.status != StatusCode::NOT_IMPLEMENTED {
                let id = problem.request_id.clone().unwrap_or_else(next_request_id);
                tracing::warn!(request_id = %id, status = problem.status.as_u16(), method = %parts.method, uri = %parts.uri, "answered with a server error");
                problem.request_id = Some(id);
            }
            let form = crate::body::prepared::FieldForm::for_version(parts.version);
            problem.into_response_as(parts.headers.get(ACCEPT), is_head, form)
        }
    };
    // The route's custom page, for an error usher made (a problem, or the policy's own 401
    // or 403), not for a program's answer: its errors are its content.
    let made_here = made_here || response.extensions().get::<PolicyAnswer>().is_some();
    let status = response.status();
    let page = routed
        .as_ref()
        .filter(|_| made_here && (status.is_client_error() || status.is_server_error()))
        .and_then(|r| r.route.policy.error_page(status));
    if let Some(page) = page {
        // Boxed: error pages are rare, and their file read would enlarge every request.
        response = Box::pin(super::dispatch::custom_page(
            page, response, &parts, is_head,
        ))
        .await;
    }
    if let Some(routed) = &routed {
        routed
            .route
            .policy
            .after(&parts, &routed.path, &mut response, routes.compress());
        if !answers_alike(routed.route) {
            crate::body::prepared::forget_freshness(&mut response);
        }
    }
    settle_content_fields(&mut response);
    if parts.version == Version::HTTP_2 {
        without_forbidden_content(&mut response, is_head);
    }
    tracing::debug!(target: "usher::access", peer = %peer, method = %parts.method, uri = %parts.uri, version = ?parts.version, status = response.status().as_u16());
    super::access_log::record(peer, &parts, &response);
    Ok(response)
}

/// Over HTTP/2, drop the content of an answer that may have none: to HEAD (RFC 9110 §9.3.2; its
/// `Content-Length` stays, the GET's), and of a 1xx, 204 or 304 (§15.3.5, §15.4.5; with no
/// `Content-Length` either, §8.6). A program or upstream may send some; over HTTP/2 its DATA
/// would make the answer malformed (RFC 9113 §8.1.1) and clients reset the stream. (The
/// HTTP/1.1 writer leaves it out itself.) An empty body ends the stream with the head, and
/// hyper then adds no `Content-Length`. (Here, not around the
/// handler in the connection's service: a future wrapped around this one's cost 10% of the
/// h2c row's rate, h2load, 2026-11-28.)
fn without_forbidden_content(response: &mut Response<ResponseBody>, head: bool) {
    let status = response.status();
    let never = status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED;
    if never {
        response.headers_mut().remove(http::header::CONTENT_LENGTH);
    }
    if head || never {
        *response.body_mut() = ResponseBody::Empty;
    }
}

/// What a program or upstream may get wrong in a 205 or 304, put right for every protocol:
/// a 205 has no content (RFC 9110 §15.3.6: the writers then state a length of 0), and a 304
/// no `Content-Length` (§8.6 allows one only equal to the 200's, which usher cannot know for
/// another's answer; its own 304s state none).
fn settle_content_fields(response: &mut Response<ResponseBody>) {
    match response.status() {
        StatusCode::RESET_CONTENT => {
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
            *response.body_mut() = ResponseBody::Empty;
        }
        StatusCode::NOT_MODIFIED => {
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
        }
        _ => {}
    }
}

/// Whether the route answers a request the same way each time its file cache does: it
/// serves files, and checks no credentials (a password may change, where a repeated
/// request would not). Other policies change fields, which takes a prepared answer's
/// freshness along with its rendered fields (`prepared::thaw`).
fn answers_alike(route: &crate::router::Route) -> bool {
    matches!(route.responder, crate::router::Responder::Files(_)) && route.policy.auth.is_none()
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
/// request message that lacks a Host header field and to any request message that contains more
/// than one Host header field line or a Host header field with an invalid field value."
/// (HTTP/2 carries the authority in `:authority`, so only HTTP/1.1 needs the field; HTTP/1.0
/// predates it.)
fn host_problem(parts: &Parts) -> Option<Problem> {
    // An absolute-form target's authority is the host (RFC 9112 §3.2.2), and must be one as
    // much as Host must (HTTP/2's `:authority` is checked with its own words).
    let bad_authority = parts
        .uri
        .authority()
        .is_some_and(|a| !valid_host(a.as_str().as_bytes()));
    if bad_authority && parts.version != Version::HTTP_2 {
        return Some(Problem::bad_request(
            "The request-target's authority is not a valid host[:port] (RFC 9112 section \
             3.2.2). Send the server's name, such as http://example.com/ or \
             http://127.0.0.1:8080/.",
        ));
    }
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
        // An `http` URI has a host (RFC 9110 §4.2.1: one with an empty host is invalid), so
        // an empty Host names no resource here (nginx refuses it too).
        (Some(host), None) if host.is_empty() => Some(Problem::bad_request(
            "The Host header is empty (RFC 9110 section 4.2.1: an http URI has a host). \
             Send the server's name, such as Host: example.com.",
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
                    let default_port = match parts.uri.scheme_str() {
                        Some("https") => 443,
                        _ => 80,
                    };
                    // A valid Host (checked above) is an authority; `a:` has no port.
                    http::uri::Authority::try_from(host.as_bytes())
                        .is_ok_and(|h| !crate::http::same_authority(a, &h, Some(default_port)))
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

/// HTTP/1.1's limits for a request hyper's HTTP/2 server hands over (its own is the header
/// list's 128 KiB), so a request is refused alike whichever protocol it came by: 100 fields
/// (431; cookie crumbs, which RFC 9113 §8.2.3 lets a client split, not counted) and a 16 KiB
/// target (414); and an `:authority` that is a valid host[:port], with no user information
/// (RFC 9113 §8.3.1), as `Host` must be.
fn http2_problem(parts: &Parts) -> Option<Problem> {
    if parts.version != Version::HTTP_2 {
        return None;
    }
    let fields = parts.headers.len() - parts.headers.get_all(COOKIE).iter().count();
    if fields > MAX_HEADERS {
        return Some(*too_many_fields());
    }
    let target = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Some(*target_too_long(target));
    }
    // The head as HTTP/1.1 would carry it: the request line, and each field as `name: value`
    // and CRLF. hyper's own limit is set above this, so that a head past it gets usher's
    // explained 431 rather than the bare one hyper sends.
    let line = parts.method.as_str().len() + target + " HTTP/1.1\r\n".len();
    let mut padded = false;
    let head = parts.headers.iter().fold(line, |sum, (name, value)| {
        let bytes = value.as_bytes();
        padded |= [bytes.first(), bytes.last()]
            .into_iter()
            .flatten()
            .any(|&b| b == b' ' || b == b'\t');
        sum + name.as_str().len() + value.len() + 4
    });
    if head > MAX_HEAD_BYTES {
        return Some(*too_large());
    }
    // RFC 9113 §8.2.1: a field value that starts or ends with whitespace makes the request
    // malformed (HTTP/1.1's parser trims it; HTTP/2 carries values exactly).
    if padded {
        return Some(Problem::bad_request(
            "A header field value starts or ends with whitespace, which HTTP/2 does not \
             allow (RFC 9113 section 8.2.1). Send values without padding.",
        ));
    }
    // An http or https target has a host (RFC 9110 §4.2.1), given by :authority or Host
    // (RFC 9113 §8.3.1); and usher serves no other scheme, as over HTTP/1.1. (Without
    // :authority the target hyper hands over is the path alone, its :scheme not kept: Host
    // then names the server, as an HTTP/1.1 gateway's request may.)
    let scheme = parts.uri.scheme_str();
    if !matches!(scheme, Some("http" | "https") | None) && parts.method != Method::CONNECT {
        return Some(Problem::bad_request(
            "The request's :scheme is neither http nor https. Send one of them.",
        ));
    }
    if parts.uri.authority().is_none() && !parts.headers.contains_key(HOST) {
        return Some(Problem::bad_request(
            "The request names no host: it has neither :authority nor Host (RFC 9113 \
             section 8.3.1). Send the server's name, such as :authority example.com.",
        ));
    }
    match parts.uri.authority() {
        Some(authority) if !valid_host(authority.as_str().as_bytes()) => {
            Some(Problem::bad_request(
                "The :authority is not a valid host[:port] (RFC 9113 section 8.3.1: no user \
             information). Send the server's name, such as example.com or 127.0.0.1:8080.",
            ))
        }
        _ => None,
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2–3.2.3). An empty value is
/// one (RFC 9112 §3.2, a target without an authority), refused apart.
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
    // reg-name / IPv4address: unreserved, pct-encoded and sub-delims. Two dots in a row name
    // an empty label, which no DNS name has (RFC 1035 §2.3.1; nginx refuses them too); one
    // final dot is a fully qualified name's.
    host.iter().all(|&b| REG_NAME[usize::from(b)])
        && !host.windows(2).any(|pair| pair == b"..")
        && host.first() != Some(&b'.')
        && port.iter().all(u8::is_ascii_digit)
}

/// The bytes a reg-name or IPv4 address may hold (RFC 3986 §3.2.2): unreserved, `%` of
/// pct-encoded, and sub-delims. A table: Host is checked on every request.
const REG_NAME: [bool; 256] = crate::http::alphanumeric_and(b"-._~%!$&'()*+,;=");

#[cfg(test)]
mod request_id_tests {
    use super::hex;

    /// The hand-written hex is what `{:x}` writes, at every length.
    #[test]
    fn hex_matches_the_formatter() {
        let mut samples = vec![0, 1, 9, 10, 15, 16, 255, 256, u64::MAX, u64::MAX - 1];
        samples.extend((0..64).map(|shift| 1u64 << shift));
        samples.extend((0..64).map(|shift| (1u64 << shift) - 1));
        samples.extend((1..64).map(|shift| 0xdead_beef_u64.rotate_left(shift)));
        for n in samples {
            assert_eq!(hex(n), format!("{n:x}"));
        }
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
        // The same origin however its port is written (RFC 9110 §4.2.3).
        assert!(ok(Version::HTTP_2, "http://a/x", &["a:80"]));
        assert!(ok(Version::HTTP_2, "http://a:80/x", &["a"]));
        assert!(ok(Version::HTTP_2, "http://a:/x", &["A"]));
        assert!(ok(Version::HTTP_2, "https://a/x", &["a:443"]));
        assert!(ok(Version::HTTP_2, "http://[::1]/x", &["[::1]:80"]));
        assert!(!ok(Version::HTTP_2, "http://a/x", &["a:8080"]));
        assert!(!ok(Version::HTTP_2, "https://a/x", &["a:80"]));
        assert!(!ok(Version::HTTP_2, "http://[::1]/x", &["[::2]"]));
        assert!(!ok(Version::HTTP_2, "http://a/x", &["a", "a"]));
        // HTTP/1.1 absolute-form: the target wins and Host is ignored (RFC 9112 §3.2.2).
        assert!(ok(Version::HTTP_11, "http://a/x", &["b"]));
        assert!(!ok(Version::HTTP_11, "/x", &[]));
        assert!(ok(Version::HTTP_10, "/x", &[]));
        // An absolute-form authority is a host as much as Host is.
        assert!(!ok(Version::HTTP_11, "http://a:x/y", &["a"]));
        assert!(!ok(Version::HTTP_10, "http://a:x/y", &[]));
        // An empty Host names no http resource (RFC 9110 §4.2.1).
        assert!(!ok(Version::HTTP_11, "/x", &[""]));
        assert!(!ok(Version::HTTP_10, "/x", &[""]));
    }

    /// HTTP/2 requests are refused where RFC 9113 calls them malformed and the stream
    /// layer let them through: padded values, no host at all, a scheme usher does not serve.
    #[test]
    fn malformed_http2_requests() {
        let h2 = |uri: &str, fields: &[(&str, &str)]| {
            let mut b = Request::builder().version(Version::HTTP_2).uri(uri);
            for (name, value) in fields {
                b = b.header(*name, *value);
            }
            http2_problem(&b.body(()).unwrap().into_parts().0).map(|p| p.status.as_u16())
        };
        assert_eq!(h2("http://a/x", &[("x-a", "b")]), None);
        assert_eq!(h2("http://a/x", &[("x-a", " b")]), Some(400));
        assert_eq!(h2("http://a/x", &[("x-a", "b\t")]), Some(400));
        assert_eq!(h2("http://a/x", &[("x-a", "")]), None);
        assert_eq!(h2("/x", &[]), Some(400));
        // No :authority: h2 keeps the target's path alone (it refuses a missing :scheme
        // itself), and Host names the server (RFC 9113 §8.3.1).
        assert_eq!(h2("/x", &[("host", "a")]), None);
        assert_eq!(h2("ftp://a/x", &[]), Some(400));
        assert_eq!(h2("https://a/x", &[]), None);
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
            "example.com.",
            "example.com.:80",
        ] {
            assert!(valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "a b", "a/b", "u@h", "a:x", "[::1", "[]", "[::1]x", "a:1:2", "h\t", "a..", "a..b",
            "..", ".", ".a", "..:80",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad}");
        }
    }
}
