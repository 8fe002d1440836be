//! The program's environment: RFC 3875 §4.1 meta-variables, built from scratch for each
//! request (nothing inherited from usher but a configured allowlist).
//!
//! Request fields become `HTTP_*` (§4.1.18) except those that would let a client set
//! something it must not: `Proxy` (httpoxy: `HTTP_PROXY` is read as a proxy setting by many
//! HTTP libraries), `Authorization` unless the route passes it on (credentials are the
//! server's to check), `Proxy-Authorization` (a proxy's credentials, never the program's:
//! §4.1.18 and Apache drop both), `Content-Length`/`Content-Type` (their own variables),
//! `Transfer-Encoding` (how the content crossed the client's connection: usher has removed
//! the chunked coding and counted the bytes, so the program reads exactly `CONTENT_LENGTH`;
//! `HTTP_TRANSFER_ENCODING=chunked` would tell it to decode chunks that are not there), and any
//! field whose name has an underscore (it would collide with the dash form, as nginx also
//! refuses).

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use http::Version;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, PROXY_AUTHORIZATION, TRANSFER_ENCODING,
};
use http::request::Parts;

use super::Script;
use crate::http::OriginalTarget;
use crate::http::addr_text::{push_decimal, push_ip};
use crate::http::encode::percent_encode_path;
use crate::http::target::{normalise, spells_its_normal_form};

/// The variables, name and value, in the order they were set. Most names are fixed (RFC
/// 3875's meta-variables): borrowed, not copied for every request.
pub type Vars = Vec<(Cow<'static, OsStr>, OsString)>;

/// `PATH` given to programs when the configuration does not pass usher's own.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What the environment needs beyond the request.
#[derive(Debug)]
pub struct EnvContext<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the request arrived on.
    pub local: SocketAddr,
    /// The route's document root (`DOCUMENT_ROOT`, and `PATH_TRANSLATED`'s base).
    pub document_root: &'a Path,
    /// Whether to pass the `Authorization` field as `HTTP_AUTHORIZATION`.
    pub pass_authorization: bool,
    /// Extra variables from the configuration.
    pub extra: &'a [(String, String)],
    /// Names of usher's own environment variables to pass on.
    pub inherit: &'a [String],
    /// The user the server authenticated (RFC 3875 §4.1.1, §4.1.11), if any.
    pub user: Option<&'a str>,
}

/// `env` with CONTENT_LENGTH set to `stored`, the length of content that had to be stored
/// to be known (RFC 3875 §4.1.2: set if and only if there is content); `env` unchanged
/// without it.
pub fn with_length(mut env: Vars, stored: Option<u64>) -> Vars {
    if let Some(length) = stored {
        env.retain(|(name, _)| **name != *"CONTENT_LENGTH");
        env.push((fixed("CONTENT_LENGTH"), length.to_string().into()));
    }
    env
}

/// Every variable for running `script` for the request `parts`.
pub fn build(parts: &Parts, script: &Script, cx: &EnvContext<'_>) -> Vars {
    let mut env = Env(Vec::with_capacity(32 + parts.headers.len()));
    let text = |s: &str| OsString::from(s);

    env.set("GATEWAY_INTERFACE", text("CGI/1.1"));
    env.set(
        "SERVER_SOFTWARE",
        text(concat!("usher/", env!("CARGO_PKG_VERSION"))),
    );
    env.set("SERVER_PROTOCOL", text(protocol(parts.version)));
    // Not RFC 3875's, but set by nginx's stock fastcgi_params and by Apache: applications
    // build absolute links from it. usher serves plain HTTP only.
    env.set("REQUEST_SCHEME", text("http"));
    env.set("REQUEST_METHOD", text(parts.method.as_str()));
    env.set("REQUEST_URI", text(&request_uri(parts)));
    env.set("QUERY_STRING", text(parts.uri.query().unwrap_or("")));
    env.set("SCRIPT_NAME", text(&script.name));
    env.set("SCRIPT_FILENAME", script.file.clone().into_os_string());
    env.set("PATH_INFO", text(&script.path_info));
    if !script.path_info.is_empty() {
        // §4.1.6: PATH_INFO mapped onto the document root.
        let translated = cx
            .document_root
            .join(script.path_info.trim_start_matches('/'));
        env.set("PATH_TRANSLATED", translated.into_os_string());
    }
    env.set("DOCUMENT_ROOT", cx.document_root.as_os_str().to_owned());
    let remote = ip_text(cx.peer.ip());
    env.set("REMOTE_ADDR", remote.clone());
    env.set("REMOTE_HOST", remote); // §4.1.9: the address when not resolved
    env.set("REMOTE_PORT", decimal_text(cx.peer.port()));
    env.set("SERVER_NAME", server_name(parts, cx.local));
    // §4.1.15: always the port the request arrived on.
    env.set("SERVER_PORT", decimal_text(cx.local.port()));
    env.set("SERVER_ADDR", ip_text(cx.local.ip()));
    if let Some(user) = cx.user {
        env.set("AUTH_TYPE", text("Basic"));
        env.set("REMOTE_USER", text(user));
    }
    // php-cgi refuses to run without it (its force-cgi-redirect guard).
    env.set("REDIRECT_STATUS", text("200"));
    if let Some(length) = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    {
        env.set("CONTENT_LENGTH", text(length));
    }
    if let Some(kind) = parts.headers.get(CONTENT_TYPE) {
        env.set("CONTENT_TYPE", bytes(kind.as_bytes()));
    }
    // The target's authority stands for `Host`: HTTP/2's `:authority` (RFC 9113 §8.3.1: a
    // gateway to HTTP/1.1 makes `Host` from it) and an absolute-form target's, which RFC
    // 9112 §3.2.2 says overrides the `Host` field, so HTTP_HOST agrees with SERVER_NAME.
    let authority = parts.uri.authority();
    if let Some(authority) = authority {
        env.set("HTTP_HOST", text(authority.as_str()));
    }
    for name in parts.headers.keys() {
        if name == CONTENT_LENGTH
            || name == CONTENT_TYPE
            || name == TRANSFER_ENCODING
            || name.as_str() == "proxy"
            || (name == AUTHORIZATION && !cx.pass_authorization)
            || name == PROXY_AUTHORIZATION
            || (name == HOST && authority.is_some())
            || name.as_str().contains('_')
        {
            continue;
        }
        let joiner: &[u8] = if name == http::header::COOKIE {
            b"; "
        } else {
            b", "
        };
        let mut value = Vec::new();
        for (i, v) in parts.headers.get_all(name).iter().enumerate() {
            if i > 0 {
                value.extend_from_slice(joiner);
            }
            value.extend_from_slice(v.as_bytes());
        }
        env.set_named(http_variable(name.as_str()), bytes(&value));
    }
    let mut has_path = false;
    for name in cx.inherit {
        if let Some(value) = std::env::var_os(name) {
            has_path |= name == "PATH";
            env.set_named(name.into(), value);
        }
    }
    if !has_path {
        env.set("PATH", text(DEFAULT_PATH));
    }
    for (name, value) in cx.extra {
        env.set_named(name.into(), text(value));
    }
    env.0
}

/// `REQUEST_URI`: the target as received, unless dot-segments or empty segments (plain or
/// encoded) were resolved to route it; then its normal form, re-encoded. Front controllers
/// route on it, and must see the path usher chose the route by: as received,
/// `/admin/%2e%2e/index.php` would read as a path under `/admin/`, a route usher did not
/// choose (and whose `auth` it did not ask for). See `proxy::client::upstream_target`.
/// After a rewrite or a local redirect, the target the client sent ([`OriginalTarget`]).
fn request_uri(parts: &Parts) -> Cow<'_, str> {
    let uri = parts
        .extensions
        .get::<OriginalTarget>()
        .map_or(&parts.uri, |original| &original.0);
    let Some(pq) = uri.path_and_query() else {
        return Cow::Borrowed("/");
    };
    if spells_its_normal_form(pq.path()) {
        return Cow::Borrowed(pq.as_str());
    }
    match normalise(pq.path()) {
        Ok(path) => {
            let mut uri = percent_encode_path(path.as_str());
            if let Some(query) = pq.query() {
                uri.push('?');
                uri.push_str(query);
            }
            Cow::Owned(uri)
        }
        _ => Cow::Borrowed(pq.as_str()),
    }
}

/// `SERVER_PROTOCOL` (§4.1.16).
fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    }
}

/// The variables as they are set, in order.
struct Env(Vars);

impl Env {
    /// A meta-variable of RFC 3875, by its fixed name.
    fn set(&mut self, name: &'static str, value: OsString) {
        self.0.push((fixed(name), value));
    }

    /// A variable whose name is made per request or comes from the configuration.
    fn set_named(&mut self, name: OsString, value: OsString) {
        self.0.push((Cow::Owned(name), value));
    }
}

fn fixed(name: &'static str) -> Cow<'static, OsStr> {
    Cow::Borrowed(OsStr::new(name))
}

/// `HTTP_` and the field's name upper-cased with `-` as `_` (§4.1.18), in one allocation:
/// browsers send a dozen fields, and a `format!` of an upper-cased, replaced copy made three.
fn http_variable(field: &str) -> OsString {
    use std::os::unix::ffi::OsStringExt as _;
    let mut name = Vec::with_capacity(5 + field.len());
    name.extend_from_slice(b"HTTP_");
    name.extend(field.bytes().map(|b| match b {
        b'-' => b'_',
        _ => b.to_ascii_uppercase(),
    }));
    OsString::from_vec(name)
}

/// An address as text (`REMOTE_ADDR`, `SERVER_ADDR`), written without the formatter.
fn ip_text(ip: IpAddr) -> OsString {
    use std::os::unix::ffi::OsStringExt as _;
    let mut text = Vec::with_capacity(15);
    push_ip(&mut text, ip);
    OsString::from_vec(text)
}

/// A port as text (`REMOTE_PORT`, `SERVER_PORT`).
fn decimal_text(n: u16) -> OsString {
    use std::os::unix::ffi::OsStringExt as _;
    let mut text = Vec::with_capacity(5);
    push_decimal(&mut text, u32::from(n));
    OsString::from_vec(text)
}

/// `SERVER_NAME` from the request's host (§4.1.14), lower-cased and without a final dot,
/// else the local address.
fn server_name(parts: &Parts, local: SocketAddr) -> OsString {
    let authority = parts
        .uri
        .authority()
        .map(|a| a.host().to_owned())
        .or_else(|| {
            let host = parts.headers.get(HOST)?.to_str().ok()?;
            let host = match host.rfind(':') {
                Some(colon) if !host.ends_with(']') => &host[..colon],
                _ => host,
            };
            Some(host.to_owned())
        })
        // The name as routing read it: host names are case-insensitive and `a.test.` is
        // `a.test` (RFC 9110 §4.2.3), so a program comparing names sees one spelling.
        .map(|host| {
            let host = host.strip_suffix('.').unwrap_or(&host);
            host.to_ascii_lowercase()
        })
        .filter(|host| !host.is_empty());
    authority.map_or_else(|| local_name(local.ip()), OsString::from)
}

/// `SERVER_NAME` from the local address: §4.1.14 writes an IPv6 address in brackets
/// (`server-name = hostname | ipv4-address | ( "[" ipv6-address "]" )`).
fn local_name(ip: IpAddr) -> OsString {
    match ip {
        IpAddr::V4(_) => ip_text(ip),
        IpAddr::V6(_) => {
            let mut name = OsString::from("[");
            name.push(ip_text(ip));
            name.push("]");
            name
        }
    }
}

fn bytes(value: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt as _;
    OsString::from_vec(value.to_vec())
}

#[cfg(test)]
mod tests;
