//! The program's environment: RFC 3875 §4.1 meta-variables, built from scratch for each
//! request (nothing inherited from usher but a configured allowlist).
//!
//! Request fields become `HTTP_*` (§4.1.18) except those that would let a client set
//! something it must not: `Proxy` (httpoxy: `HTTP_PROXY` is read as a proxy setting by many
//! HTTP libraries), `Authorization` unless the route passes it on (credentials are the
//! server's to check), `Content-Length`/`Content-Type` (their own variables), and any field
//! whose name has an underscore (it would collide with the dash form, as nginx also refuses).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;

use http::Version;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::request::Parts;

use super::Script;

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
pub fn with_length(
    mut env: Vec<(OsString, OsString)>,
    stored: Option<u64>,
) -> Vec<(OsString, OsString)> {
    if let Some(length) = stored {
        env.retain(|(name, _)| name != "CONTENT_LENGTH");
        env.push(("CONTENT_LENGTH".into(), length.to_string().into()));
    }
    env
}

/// Every variable for running `script` for the request `parts`.
pub fn build(parts: &Parts, script: &Script, cx: &EnvContext<'_>) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::with_capacity(32 + parts.headers.len());
    let mut set = |name: &str, value: OsString| env.push((name.into(), value));
    let text = |s: &str| OsString::from(s);

    set("GATEWAY_INTERFACE", text("CGI/1.1"));
    set(
        "SERVER_SOFTWARE",
        text(concat!("usher/", env!("CARGO_PKG_VERSION"))),
    );
    set("SERVER_PROTOCOL", text(protocol(parts.version)));
    set("REQUEST_METHOD", text(parts.method.as_str()));
    set(
        "REQUEST_URI",
        text(parts.uri.path_and_query().map_or("/", |p| p.as_str())),
    );
    set("QUERY_STRING", text(parts.uri.query().unwrap_or("")));
    set("SCRIPT_NAME", text(&script.name));
    set("SCRIPT_FILENAME", script.file.clone().into_os_string());
    set("PATH_INFO", text(&script.path_info));
    if !script.path_info.is_empty() {
        // §4.1.6: PATH_INFO mapped onto the document root.
        let translated = cx
            .document_root
            .join(script.path_info.trim_start_matches('/'));
        set("PATH_TRANSLATED", translated.into_os_string());
    }
    set("DOCUMENT_ROOT", cx.document_root.as_os_str().to_owned());
    set("REMOTE_ADDR", text(&cx.peer.ip().to_string()));
    set("REMOTE_HOST", text(&cx.peer.ip().to_string())); // §4.1.9: the address when not resolved
    set("REMOTE_PORT", text(&cx.peer.port().to_string()));
    let (name, port) = server_name_and_port(parts, cx.local);
    set("SERVER_NAME", text(&name));
    set("SERVER_PORT", text(&port));
    set("SERVER_ADDR", text(&cx.local.ip().to_string()));
    if let Some(user) = cx.user {
        set("AUTH_TYPE", text("Basic"));
        set("REMOTE_USER", text(user));
    }
    // php-cgi refuses to run without it (its force-cgi-redirect guard).
    set("REDIRECT_STATUS", text("200"));
    if let Some(length) = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    {
        set("CONTENT_LENGTH", text(length));
    }
    if let Some(kind) = parts.headers.get(CONTENT_TYPE) {
        set("CONTENT_TYPE", bytes(kind.as_bytes()));
    }
    for name in parts.headers.keys() {
        if name == CONTENT_LENGTH
            || name == CONTENT_TYPE
            || name.as_str() == "proxy"
            || (name == AUTHORIZATION && !cx.pass_authorization)
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
        let var = format!(
            "HTTP_{}",
            name.as_str().to_ascii_uppercase().replace('-', "_")
        );
        set(&var, bytes(&value));
    }
    let mut has_path = false;
    for name in cx.inherit {
        if let Some(value) = std::env::var_os(name) {
            has_path |= name == "PATH";
            set(name, value);
        }
    }
    if !has_path {
        set("PATH", text(DEFAULT_PATH));
    }
    for (name, value) in cx.extra {
        set(name, text(value));
    }
    env
}

/// `SERVER_PROTOCOL` (§4.1.16).
fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    }
}

/// `SERVER_NAME` from the request's host (§4.1.14), else the local address; `SERVER_PORT`
/// is always the port the request arrived on (§4.1.15).
fn server_name_and_port(parts: &Parts, local: SocketAddr) -> (String, String) {
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
            (!host.is_empty()).then(|| host.to_owned())
        });
    let name = authority.unwrap_or_else(|| local.ip().to_string());
    (name, local.port().to_string())
}

fn bytes(value: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt as _;
    OsString::from_vec(value.to_vec())
}

#[cfg(test)]
mod tests;
