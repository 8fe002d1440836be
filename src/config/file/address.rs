//! Upstream addresses as written in the file: an IP address with a port, a host name with a
//! port (`localhost:3000`, a container's `app:8080`), or a Unix socket; for HTTP upstreams
//! also in URL form (`http://localhost:3000`, as nginx's `proxy_pass` and Caddy write them).

use std::net::SocketAddr;
use std::path::Path;

use toml::Spanned;

use super::build::resolve;
use super::diagnostic::Diagnostic;
use super::raw::OneOrMany;
use crate::handlers::upstream::Upstream;

/// The longest host name DNS can carry (RFC 1035 §2.3.4, without the final dot).
const MAX_NAME: usize = 253;
/// The longest label of a host name (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// Which written forms a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Speaks {
    /// FastCGI: `IP:port`, `name:port` or `unix:/path`.
    FastCgi,
    /// HTTP: those, or `http://` before an address or name (port 80 when it has none).
    Http,
}

/// Upstream addresses written as one string or a list (`key = "127.0.0.1:9000"` or
/// `key = ["unix:/run/a.sock", "127.0.0.1:9001"]`); each bad one is reported at its place. A
/// Unix socket's path is relative to the config file's directory.
pub(super) fn addresses(
    value: &Spanned<OneOrMany>,
    key: &str,
    speaks: Speaks,
    base: &Path,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Upstream> {
    let written = OneOrMany::written(value);
    if written.is_empty() {
        errors.push(
            Diagnostic::new(value.span(), format!("`{key}` lists no address"))
                .help("write at least one, such as [\"127.0.0.1:9000\"]"),
        );
    }
    let mut upstreams = Vec::with_capacity(written.len());
    for (address, span) in written {
        match address.strip_prefix("unix:") {
            Some("") => errors.push(
                Diagnostic::new(span, format!("`{key}` names no socket after unix:"))
                    .help("write the socket's path, such as \"unix:/run/app.sock\""),
            ),
            Some(path) => upstreams.push(Upstream::Unix(resolve(base, path))),
            None => match network(address, speaks) {
                Ok(upstream) => upstreams.push(upstream),
                Err(Bad { message, help }) => {
                    errors.push(Diagnostic::new(span, format!("`{key}` {message}")).help(help));
                }
            },
        }
    }
    upstreams
}

/// Why a written address is not one, and what to write instead.
#[derive(Debug, PartialEq, Eq)]
struct Bad {
    message: String,
    help: String,
}

impl Bad {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Bad {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// A TCP upstream: an IP address or a host name, with a port.
fn network(written: &str, speaks: Speaks) -> Result<Upstream, Bad> {
    let example = match speaks {
        Speaks::FastCgi => {
            "write \"127.0.0.1:9000\", \"localhost:9000\" or \"unix:/run/php/php-fpm.sock\""
        }
        Speaks::Http => "write \"127.0.0.1:3000\", \"localhost:3000\" or \"unix:/run/app.sock\"",
    };
    let (authority, default_port) = match url_authority(written, speaks)? {
        Some(authority) => (authority, Some(80)),
        None => (written, None),
    };
    if let Ok(addr) = authority.parse::<SocketAddr>() {
        return Ok(Upstream::Tcp(addr));
    }
    if authority.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(Bad::new(
            format!("{written:?} has no port"),
            "write an IPv6 address in brackets, with a port: \"[::1]:3000\"",
        ));
    }
    // Without a port: an IPv6 address in brackets, an IPv4 one or a name (after `http://`).
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let ip = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().ok().map(Into::into),
        None => host.parse::<std::net::Ipv4Addr>().ok().map(Into::into),
    };
    if ip.is_none() && !host_name(host) {
        return Err(Bad::new(
            format!(
                "is neither an address, a host name with a port, nor a Unix socket: {written:?}"
            ),
            example,
        ));
    }
    let port = match (port, default_port) {
        (Some(port), _) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                return Err(Bad::new(
                    format!("has no valid port in {written:?}"),
                    "a port is a number from 1 to 65535",
                ));
            }
        },
        (None, Some(port)) => port,
        (None, None) => return Err(Bad::new(format!("{written:?} has no port"), example)),
    };
    Ok(match ip {
        Some(ip) => Upstream::Tcp(SocketAddr::new(ip, port)),
        None => Upstream::Name {
            host: host.to_ascii_lowercase().into(),
            port,
        },
    })
}

/// The authority of `http://authority[/]`, when `written` is in URL form.
fn url_authority(written: &str, speaks: Speaks) -> Result<Option<&str>, Bad> {
    let Some((scheme, rest)) = written.split_once("://") else {
        return Ok(None);
    };
    if speaks == Speaks::FastCgi {
        return Err(Bad::new(
            format!("is a URL ({written:?}), but FastCGI is not HTTP"),
            "write the address alone, such as \"127.0.0.1:9000\"",
        ));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(Bad::new(
            format!("uses {scheme}://, but usher speaks plain HTTP to upstreams"),
            "write \"http://\" and the address, or the address alone",
        ));
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(Bad::new(
            format!("names more than a host and port: {written:?}"),
            "an upstream gets the request's own path; with `strip-prefix = true` the route's \
             prefix goes",
        ));
    }
    Ok(Some(authority))
}

/// Whether `name` is a host name DNS can hold: dot-separated labels of letters, digits and
/// hyphens, none starting or ending with a hyphen (RFC 1123 §2.1), within RFC 1035's lengths.
/// A name that is all digits and dots is a mistyped IPv4 address, not a name.
fn host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(host: &str, port: u16) -> Upstream {
        Upstream::Name {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn ip_addresses_names_and_urls() {
        let ok = [
            (
                "127.0.0.1:9000",
                Speaks::FastCgi,
                Upstream::Tcp("127.0.0.1:9000".parse().unwrap()),
            ),
            (
                "[::1]:3000",
                Speaks::Http,
                Upstream::Tcp("[::1]:3000".parse().unwrap()),
            ),
            ("localhost:3000", Speaks::Http, name("localhost", 3000)),
            (
                "App-1.Internal:8080",
                Speaks::FastCgi,
                name("app-1.internal", 8080),
            ),
            ("db.:5", Speaks::Http, name("db.", 5)),
            (
                "http://localhost:3000",
                Speaks::Http,
                name("localhost", 3000),
            ),
            (
                "http://localhost:3000/",
                Speaks::Http,
                name("localhost", 3000),
            ),
            ("HTTP://app", Speaks::Http, name("app", 80)),
            (
                "http://127.0.0.1",
                Speaks::Http,
                Upstream::Tcp("127.0.0.1:80".parse().unwrap()),
            ),
            (
                "http://[::1]",
                Speaks::Http,
                Upstream::Tcp("[::1]:80".parse().unwrap()),
            ),
            (
                "http://[::1]:81",
                Speaks::Http,
                Upstream::Tcp("[::1]:81".parse().unwrap()),
            ),
        ];
        for (written, speaks, want) in ok {
            assert_eq!(network(written, speaks), Ok(want), "{written}");
        }
    }

    #[test]
    fn hostile_and_mistaken_addresses_are_refused_with_a_reason() {
        let bad = [
            ("localhost", Speaks::Http, "has no port"),
            ("127.0.0.1", Speaks::FastCgi, "has no port"),
            ("::1", Speaks::Http, "has no port"),
            ("localhost:0", Speaks::Http, "no valid port"),
            ("localhost:65536", Speaks::Http, "no valid port"),
            ("localhost:-1", Speaks::Http, "no valid port"),
            ("localhost:", Speaks::Http, "no valid port"),
            ("http://app:x", Speaks::Http, "no valid port"),
            ("300.1.1.1:80", Speaks::Http, "neither"),
            ("1.2.3:80", Speaks::Http, "neither"),
            ("-app:80", Speaks::Http, "neither"),
            ("app-:80", Speaks::Http, "neither"),
            ("a..b:80", Speaks::Http, "neither"),
            (":80", Speaks::Http, "neither"),
            ("app_1:80", Speaks::Http, "neither"),
            ("app name:80", Speaks::Http, "neither"),
            ("ünïcode:80", Speaks::Http, "neither"),
            ("a\0b:80", Speaks::Http, "neither"),
            ("[::1:80", Speaks::Http, "neither"),
            ("[localhost]:80", Speaks::Http, "neither"),
            ("https://app:443", Speaks::Http, "plain HTTP"),
            ("ws://app:80", Speaks::Http, "plain HTTP"),
            ("http://app:80/api", Speaks::Http, "more than a host"),
            ("http://user@app:80", Speaks::Http, "more than a host"),
            ("http://app:80?x", Speaks::Http, "more than a host"),
            ("http://", Speaks::Http, "neither"),
            (
                "http://localhost:9000",
                Speaks::FastCgi,
                "FastCGI is not HTTP",
            ),
        ];
        for (written, speaks, why) in bad {
            let err = network(written, speaks).expect_err(written);
            assert!(err.message.contains(why), "{written}: {}", err.message);
            assert!(!err.help.is_empty());
        }
        let long = format!("{}:80", vec!["a".repeat(63); 4].join("."));
        assert!(network(&long, Speaks::Http).is_err(), "254 characters");
        let label = format!("{}.b:80", "a".repeat(64));
        assert!(
            network(&label, Speaks::Http).is_err(),
            "a 64-character label"
        );
        let longest = format!(
            "{}.{}:80",
            vec!["a".repeat(63); 3].join("."),
            "a".repeat(61)
        );
        assert!(network(&longest, Speaks::Http).is_ok(), "253 characters");
    }
}
