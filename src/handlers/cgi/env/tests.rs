//! The environment, variable by variable (RFC 3875 §4.1), and what it must never carry.

use std::collections::HashMap;
use std::path::PathBuf;

use http::Request;

use super::*;

/// A request from `peer` to `local` on a route rooted at /srv/site, passing nothing extra.
fn context(peer: &str, local: &str) -> EnvContext<'static> {
    EnvContext {
        peer: peer.parse().unwrap(),
        local: local.parse().unwrap(),
        document_root: Path::new("/srv/site"),
        pass_authorization: false,
        extra: &[],
        inherit: &[],
        user: None,
    }
}

fn env_of(req: Request<()>, script: &Script, pass_authorization: bool) -> HashMap<String, String> {
    let (parts, ()) = req.into_parts();
    let extra = [("GIT_PROJECT_ROOT".to_owned(), "/srv/git".to_owned())];
    let cx = EnvContext {
        pass_authorization,
        extra: &extra,
        ..context("192.0.2.7:50000", "127.0.0.1:8080")
    };
    build(&parts, script, &cx)
        .into_iter()
        .map(|(k, v)| {
            (
                k.into_owned().into_string().unwrap(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

fn script() -> Script {
    Script {
        file: PathBuf::from("/srv/cgi-bin/env.py"),
        name: "/cgi-bin/env.py".to_owned(),
        path_info: "/extra/path".to_owned(),
    }
}

#[test]
fn every_meta_variable_is_set_from_the_request() {
    let req = Request::post("/cgi-bin/env.py/extra/path?a=1&b=%20")
        .header("host", "example.test:8080")
        .header("content-type", "text/plain")
        .header("content-length", "5")
        .header("x-custom", "one")
        .header("x-custom", "two")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(())
        .unwrap();
    let env = env_of(req, &script(), false);
    let expect = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "http"),
        ("REQUEST_METHOD", "POST"),
        ("REQUEST_URI", "/cgi-bin/env.py/extra/path?a=1&b=%20"),
        ("QUERY_STRING", "a=1&b=%20"),
        ("SCRIPT_NAME", "/cgi-bin/env.py"),
        ("SCRIPT_FILENAME", "/srv/cgi-bin/env.py"),
        ("PATH_INFO", "/extra/path"),
        ("PATH_TRANSLATED", "/srv/site/extra/path"),
        ("DOCUMENT_ROOT", "/srv/site"),
        ("REMOTE_ADDR", "192.0.2.7"),
        ("REMOTE_HOST", "192.0.2.7"),
        ("REMOTE_PORT", "50000"),
        ("SERVER_NAME", "example.test"),
        ("SERVER_PORT", "8080"),
        ("SERVER_ADDR", "127.0.0.1"),
        ("CONTENT_TYPE", "text/plain"),
        ("CONTENT_LENGTH", "5"),
        ("REDIRECT_STATUS", "200"),
        ("HTTP_HOST", "example.test:8080"),
        ("HTTP_X_CUSTOM", "one, two"),
        ("HTTP_COOKIE", "a=1; b=2"),
        ("GIT_PROJECT_ROOT", "/srv/git"),
        ("PATH", DEFAULT_PATH),
    ];
    for (name, value) in expect {
        assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert!(env["SERVER_SOFTWARE"].starts_with("usher/"));
    assert!(!env.contains_key("HTTP_CONTENT_TYPE") && !env.contains_key("HTTP_CONTENT_LENGTH"));
}

/// IPv6 addresses are written as the standard formatter writes them (RFC 5952's zero
/// compression), bracketed only as `SERVER_NAME`; a field with dashes and capitals becomes
/// its `HTTP_` name.
#[test]
fn ipv6_addresses_and_field_names_are_written_plainly() {
    let (parts, ()) = Request::get("/x")
        .header("X-Request-Start-Time", "t=1")
        .body(())
        .unwrap()
        .into_parts();
    let cx = context("[2001:db8:0:0::7]:443", "[::1]:8443");
    let env: HashMap<String, String> = build(&parts, &script(), &cx)
        .into_iter()
        .map(|(k, v)| {
            (
                k.into_owned().into_string().unwrap(),
                v.into_string().unwrap(),
            )
        })
        .collect();
    assert_eq!(env["REMOTE_ADDR"], "2001:db8::7");
    assert_eq!(env["REMOTE_HOST"], "2001:db8::7");
    assert_eq!(env["REMOTE_PORT"], "443");
    assert_eq!(env["SERVER_ADDR"], "::1");
    assert_eq!(env["SERVER_PORT"], "8443");
    // §4.1.14: an IPv6 server name is bracketed.
    assert_eq!(env["SERVER_NAME"], "[::1]");
    assert_eq!(env["HTTP_X_REQUEST_START_TIME"], "t=1");
}

#[test]
fn nothing_is_inherited_from_the_server() {
    let req = Request::get("/").header("host", "h").body(()).unwrap();
    let env = env_of(req, &script(), false);
    for name in ["HOME", "USER", "CARGO", "RUST_LOG", "PWD"] {
        assert!(!env.contains_key(name), "{name} leaked");
    }
}

#[test]
fn httpoxy_authorization_and_underscored_names_never_pass() {
    let req = Request::get("/")
        .header("host", "h")
        .header("proxy", "http://evil.test:1")
        .header("authorization", "Basic YTpi")
        .header("proxy-authorization", "Basic cHJveHk6cHc=")
        .header("x_forwarded_for", "1.2.3.4")
        .body(())
        .unwrap();
    let env = env_of(req, &script(), false);
    assert!(!env.contains_key("HTTP_PROXY"));
    assert!(!env.contains_key("HTTP_AUTHORIZATION"));
    assert!(!env.contains_key("HTTP_PROXY_AUTHORIZATION"));
    assert!(!env.contains_key("HTTP_X_FORWARDED_FOR"));
    // Passing the server's credentials on never passes a proxy's.
    let req = Request::get("/")
        .header("authorization", "Basic YTpi")
        .header("proxy-authorization", "Basic cHJveHk6cHc=")
        .body(())
        .unwrap();
    let env = env_of(req, &script(), true);
    assert_eq!(env["HTTP_AUTHORIZATION"], "Basic YTpi");
    assert!(!env.contains_key("HTTP_PROXY_AUTHORIZATION"));
}

/// The target's authority is the host: HTTP/2's `:authority` becomes HTTP_HOST (RFC 9113
/// §8.3.1), and an absolute-form target's overrides the `Host` field (RFC 9112 §3.2.2), so
/// HTTP_HOST and SERVER_NAME agree.
#[test]
fn http_host_is_the_targets_authority() {
    let h2 = Request::get("http://foo.test:99/x")
        .version(Version::HTTP_2)
        .body(())
        .unwrap();
    let env = env_of(h2, &script(), false);
    assert_eq!(env["HTTP_HOST"], "foo.test:99");
    assert_eq!(env["SERVER_NAME"], "foo.test");
    let absolute = Request::get("http://foo.test:8080/x")
        .header("host", "127.0.0.1")
        .body(())
        .unwrap();
    let env = env_of(absolute, &script(), false);
    assert_eq!(env["HTTP_HOST"], "foo.test:8080");
    assert_eq!(env["SERVER_NAME"], "foo.test");
    let (parts, ()) = Request::get("http://a.test/")
        .header("host", "b.test")
        .body(())
        .unwrap()
        .into_parts();
    let vars = build(&parts, &script(), &context("192.0.2.7:1", "127.0.0.1:80"));
    let hosts = vars.iter().filter(|(n, _)| *n == OsStr::new("HTTP_HOST"));
    assert_eq!(hosts.count(), 1, "one HTTP_HOST");
}

/// `REQUEST_URI` is the target as received, or, when routing resolved dot-segments or empty
/// segments, the path the route was chosen by.
#[test]
fn request_uri_is_the_path_the_route_was_chosen_by() {
    for (asked, seen) in [
        ("/index.php/a%2Fb?x=1", "/index.php/a%2Fb?x=1"),
        ("/caf%C3%A9.php", "/caf%C3%A9.php"),
        ("/admin/%2e%2e/index.php?x", "/index.php?x"),
        ("/admin/../index.php", "/index.php"),
        ("//index.php", "/index.php"),
        ("/a/./b%20c/", "/a/b%20c/"),
    ] {
        let req = Request::get(asked).header("host", "h").body(()).unwrap();
        let env = env_of(req, &script(), false);
        assert_eq!(env["REQUEST_URI"], seen, "{asked}");
    }
}

/// A chunked request reaches the program de-chunked and counted: `CONTENT_LENGTH`, and no
/// `HTTP_TRANSFER_ENCODING` telling it to decode chunks that are not there.
#[test]
fn the_transfer_coding_is_not_passed_on() {
    let req = Request::post("/")
        .header("host", "h")
        .header("transfer-encoding", "chunked")
        .header("content-length", "8")
        .header("x-kept", "yes")
        .body(())
        .unwrap();
    let env = env_of(req, &script(), false);
    assert!(!env.contains_key("HTTP_TRANSFER_ENCODING"), "{env:?}");
    assert_eq!(env["CONTENT_LENGTH"], "8");
    assert_eq!(env["HTTP_X_KEPT"], "yes");
}

#[test]
fn server_name_falls_back_to_the_local_address_and_ipv6_hosts_keep_brackets() {
    let req = Request::get("/").body(()).unwrap();
    let env = env_of(req, &script(), false);
    assert_eq!(env["SERVER_NAME"], "127.0.0.1");
    let req = Request::get("/")
        .header("host", "[::1]:8080")
        .body(())
        .unwrap();
    assert_eq!(env_of(req, &script(), false)["SERVER_NAME"], "[::1]");
    let req = Request::get("/").header("host", "[::1]").body(()).unwrap();
    assert_eq!(env_of(req, &script(), false)["SERVER_NAME"], "[::1]");
    // The name as routing reads it: one spelling whatever the client's case or final dot,
    // while HTTP_HOST keeps what was sent.
    let req = Request::get("/")
        .header("host", "Example.TEST.:81")
        .body(())
        .unwrap();
    let env = env_of(req, &script(), false);
    assert_eq!(
        (env["SERVER_NAME"].as_str(), env["HTTP_HOST"].as_str()),
        ("example.test", "Example.TEST.:81")
    );
    let req = Request::get("/").header("host", ".").body(()).unwrap();
    assert_eq!(env_of(req, &script(), false)["SERVER_NAME"], "127.0.0.1");
    let empty = Script {
        path_info: String::new(),
        ..script()
    };
    let req = Request::get("/").body(()).unwrap();
    let env = env_of(req, &empty, false);
    assert_eq!(env["PATH_INFO"], "");
    assert!(!env.contains_key("PATH_TRANSLATED"));
}

/// Content whose length had to be stored to be known replaces any CONTENT_LENGTH the request
/// stated, once (RFC 3875 §4.1.2); without it the environment is unchanged.
#[test]
fn a_stored_length_replaces_the_stated_one() {
    let (parts, ()) = Request::post("/x")
        .header("content-length", "5")
        .body(())
        .unwrap()
        .into_parts();
    let cx = context("192.0.2.7:50000", "127.0.0.1:8080");
    let lengths = |env: Vars| -> Vec<String> {
        env.into_iter()
            .filter(|(name, _)| **name == *"CONTENT_LENGTH")
            .map(|(_, value)| value.into_string().unwrap())
            .collect()
    };
    assert_eq!(
        lengths(with_length(build(&parts, &script(), &cx), None)),
        ["5"]
    );
    assert_eq!(
        lengths(with_length(build(&parts, &script(), &cx), Some(12))),
        ["12"]
    );
}
