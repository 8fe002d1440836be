//! `proxy = { ... }`: the reverse proxy's options, every bad value reported at its place.

use std::path::Path;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use toml::Spanned;

use super::address::{Speaks, addresses};
use super::build::{UpstreamKeys, duration};
use super::diagnostic::Diagnostic;
use super::raw::RawProxy;
use crate::handlers::balance::Policy;
use crate::handlers::proxy::forward::{Cidr, UpstreamHost};
use crate::handlers::proxy::{ActiveCheck, ExpectStatus, ProxyOptions};
use crate::router::Responder;

/// Build the options of a `proxy` route.
pub(super) fn proxy_options(
    raw: Spanned<RawProxy>,
    base: &Path,
    errors: &mut Vec<Diagnostic>,
) -> Option<Responder> {
    let proxy = raw.into_inner();
    let before = errors.len();
    let upstreams = addresses(&proxy.upstreams, "upstreams", Speaks::Http, base, errors);
    let policy = proxy.policy.as_ref().and_then(|p| {
        policy(p.get_ref())
            .map_err(|message| {
                errors.push(Diagnostic::new(p.span(), message).help(
                    "use round_robin, least_conn, ip_hash, first or header:NAME (such as header:X-User)",
                ));
            })
            .ok()
    });
    let host = proxy.host.as_ref().and_then(|h| {
        let text = h.get_ref();
        if text == "client" {
            return Some(UpstreamHost::Client);
        }
        let valid = !text.is_empty() && text.parse::<http::uri::Authority>().is_ok();
        match HeaderValue::from_str(text) {
            Ok(value) if valid => Some(UpstreamHost::Fixed(value)),
            _ => {
                errors.push(
                    Diagnostic::new(h.span(), "`host` is neither `client` nor a host name")
                        .help("such as host = \"app.internal\" or host = \"client\" (the default)"),
                );
                None
            }
        }
    });
    let mut trusted = Vec::new();
    for range in proxy.trusted_proxies.iter().flatten() {
        match range.get_ref().parse::<Cidr>() {
            Ok(cidr) => trusted.push(cidr),
            Err(e) => errors.push(
                Diagnostic::new(range.span(), format!("not an address or a range: {e}"))
                    .help("such as \"10.0.0.0/8\", \"::1\" or \"192.0.2.7\""),
            ),
        }
    }
    let keys = UpstreamKeys::read(
        [
            &proxy.connect_timeout,
            &proxy.header_timeout,
            &proxy.idle_timeout,
            &proxy.fail_window,
            &proxy.cool_down,
        ],
        &proxy.max_fails,
        &proxy.max_connections,
        errors,
    );
    let check = proxy.health_check.map(|raw| {
        let raw = raw.into_inner();
        let path = raw.path.get_ref();
        if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            errors.push(
                Diagnostic::new(raw.path.span(), "a health check's `path` is a path")
                    .help("such as path = \"/healthz\""),
            );
        }
        let expect = raw.expect.as_ref().and_then(|e| {
            e.get_ref()
                .parse::<ExpectStatus>()
                .map_err(|m| errors.push(Diagnostic::new(e.span(), m).help("such as \"2xx\"")))
                .ok()
        });
        ActiveCheck {
            path: path.clone(),
            interval: duration(&raw.interval, errors).unwrap_or(Duration::from_secs(5)),
            timeout: duration(&raw.timeout, errors).unwrap_or(Duration::from_secs(2)),
            expect: expect.unwrap_or(ExpectStatus::Class(2)),
        }
    });
    if errors.len() > before || upstreams.is_empty() {
        return None;
    }
    let mut opts = ProxyOptions::new(upstreams);
    let timeouts = [
        &mut opts.connect_timeout,
        &mut opts.header_timeout,
        &mut opts.idle_timeout,
    ];
    keys.apply(timeouts, &mut opts.health);
    opts.max_connections = keys.max_connections;
    opts.policy = policy.unwrap_or(Policy::RoundRobin);
    opts.host = host.unwrap_or(UpstreamHost::Client);
    opts.strip_prefix = proxy.strip_prefix.unwrap_or(false);
    opts.trusted_proxies = trusted;
    opts.check = check;
    Some(Responder::Proxy(opts))
}

/// A balancing policy as written: `round_robin` (or `round-robin`), `least_conn`, `ip_hash`,
/// `first`, or `header:NAME`.
fn policy(text: &str) -> Result<Policy, String> {
    if let Some(name) = text.strip_prefix("header:") {
        return HeaderName::from_bytes(name.trim().as_bytes())
            .map(Policy::Header)
            .map_err(|_| format!("{name:?} is not a header field name"));
    }
    match text.replace('-', "_").as_str() {
        "round_robin" => Ok(Policy::RoundRobin),
        "least_conn" => Ok(Policy::LeastConn),
        "ip_hash" => Ok(Policy::IpHash),
        "first" => Ok(Policy::First),
        _ => Err(format!("unknown policy {text:?}")),
    }
}
