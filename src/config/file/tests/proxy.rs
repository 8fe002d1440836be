//! `proxy = { ... }`: the options a table gives, and every error message with its place.

use std::time::Duration;

use super::{SITE, headlines, ok};
use crate::handlers::balance::Policy;
use crate::handlers::proxy::ExpectStatus;
use crate::handlers::proxy::forward::UpstreamHost;
use crate::handlers::upstream::Upstream;
use crate::router::Responder;

fn route(table: &str) -> String {
    format!("{SITE}[[site.route]]\npath = \"/api/\"\nproxy = {table}\n")
}

#[test]
fn a_full_table_gives_its_options_and_a_short_one_the_defaults() {
    let config = ok(&route(
        "{ upstreams = [\"127.0.0.1:9001\", \"unix:app.sock\"], policy = \"header:X-User\", \
         strip_prefix = true, host = \"app.internal\", trusted-proxies = [\"10.0.0.0/8\", \"::1\"], \
         connect-timeout = \"1s\", header-timeout = \"2s\", idle-timeout = \"3s\", max-fails = 3, \
         fail-window = \"4s\", cool-down = \"5s\", max-connections = 7, \
         health-check = { path = \"/healthz\", interval = \"6s\", timeout = \"500ms\", expect = \"204\" } }",
    ));
    let Responder::Proxy(opts) = &config.router.sites().next().unwrap().routes[0].responder else {
        panic!("a proxy route");
    };
    assert_eq!(
        opts.upstreams,
        [
            Upstream::Tcp("127.0.0.1:9001".parse().unwrap()),
            Upstream::Unix(std::env::current_dir().unwrap().join("conf/app.sock")),
        ]
    );
    assert_eq!(
        opts.policy,
        Policy::Header(http::HeaderName::from_static("x-user"))
    );
    assert!(
        opts.strip_prefix,
        "snake_case is accepted as the issue spells it"
    );
    assert_eq!(
        opts.host,
        UpstreamHost::Fixed(http::HeaderValue::from_static("app.internal"))
    );
    assert_eq!(opts.trusted_proxies.len(), 2);
    assert_eq!(
        (opts.connect_timeout, opts.header_timeout, opts.idle_timeout),
        (
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(3)
        )
    );
    assert_eq!(opts.health.max_fails, 3);
    assert_eq!(
        (opts.health.fail_window, opts.health.cool_down),
        (Duration::from_secs(4), Duration::from_secs(5))
    );
    assert_eq!(opts.max_connections, Some(7));
    let check = opts.check.as_ref().unwrap();
    assert_eq!(check.path, "/healthz");
    assert_eq!(
        (check.interval, check.timeout),
        (Duration::from_secs(6), Duration::from_millis(500))
    );
    assert_eq!(
        check.expect,
        ExpectStatus::Exact(http::StatusCode::NO_CONTENT)
    );

    let config = ok(&route("{ upstreams = \"127.0.0.1:9001\" }"));
    let Responder::Proxy(opts) = &config.router.sites().next().unwrap().routes[0].responder else {
        panic!("a proxy route");
    };
    assert_eq!(opts.policy, Policy::RoundRobin);
    assert_eq!(opts.host, UpstreamHost::Client);
    assert!(!opts.strip_prefix && opts.check.is_none() && opts.max_connections.is_none());
}

#[test]
fn every_proxy_error_message() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            route("{ upstreams = [] }"),
            vec!["5:23: `upstreams` lists no address"],
        ),
        (
            route("{ upstreams = [\"https://app:443\", \"app_1:80\", \"127.0.0.1:80\"] }"),
            vec![
                "5:24: `upstreams` uses https://, but usher speaks plain HTTP to upstreams",
                "5:43: `upstreams` is neither an address, a host name with a port, nor a Unix socket: \"app_1:80\"",
            ],
        ),
        (
            route("{ upstreams = \"127.0.0.1:80\", policy = \"random\" }"),
            vec!["5:48: unknown policy \"random\""],
        ),
        (
            route("{ upstreams = \"127.0.0.1:80\", policy = \"header:a b\" }"),
            vec!["5:48: \"a b\" is not a header field name"],
        ),
        (
            route("{ upstreams = \"127.0.0.1:80\", host = \"a b\" }"),
            vec!["5:46: `host` is neither `client` nor a host name"],
        ),
        (
            route("{ upstreams = \"127.0.0.1:80\", trusted-proxies = [\"10.0.0.0/33\"] }"),
            vec![
                "5:58: not an address or a range: \"33\" is not a prefix length for this address; use 0 to 32",
            ],
        ),
        (
            route("{ upstreams = \"127.0.0.1:80\", max-connections = 0, cool-down = \"soon\" }"),
            vec![
                "5:57: `max-connections` must be a whole number from 1",
                "5:72: expected seconds, or a number with a unit (10s, 500ms, 2m, 1h), got \"soon\"",
            ],
        ),
        // No timeout, interval or window can be nothing.
        (
            route(
                "{ upstreams = \"127.0.0.1:80\", header-timeout = \"0s\", idle-timeout = \"0\" }",
            ),
            vec![
                "5:56: \"0s\" is no time at all",
                "5:77: \"0\" is no time at all",
            ],
        ),
        (
            route(
                "{ upstreams = \"127.0.0.1:80\", health-check = { path = \"healthz\", expect = \"2x\" } }",
            ),
            vec![
                "5:63: a health check's `path` is a path",
                "5:83: expected a status such as 200 or a class such as 2xx, got \"2x\"",
            ],
        ),
        (
            route("{ upstreams = \"127.0.0.1:80\", balance = \"first\" }"),
            vec![
                "5:39: unknown field `balance`, expected one of `upstreams`, `policy`, `strip-prefix`, `strip_prefix`, `host`, `trusted-proxies`, `trusted_proxies`, `connect-timeout`, `header-timeout`, `idle-timeout`, `max-fails`, `fail-window`, `cool-down`, `max-connections`, `health-check`",
            ],
        ),
        // Only a prefix route has a prefix to strip.
        (
            route("{ upstreams = \"127.0.0.1:80\", strip-prefix = true }")
                .replace("\"/api/\"", "\"= /api\""),
            vec!["5:9: `strip-prefix` needs a prefix route"],
        ),
        (
            route("{ upstreams = \"127.0.0.1:80\", strip-prefix = true }")
                .replace("\"/api/\"", "\"*.json\""),
            vec!["5:9: `strip-prefix` needs a prefix route"],
        ),
    ];
    for (source, want) in cases {
        assert_eq!(headlines(&source), want, "in:\n{source}");
    }
    // False, or on a prefix, is fine.
    ok(&route(
        "{ upstreams = \"127.0.0.1:80\", strip-prefix = true }",
    ));
    ok(
        &route("{ upstreams = \"127.0.0.1:80\", strip-prefix = false }")
            .replace("\"/api/\"", "\"= /api\""),
    );
}
