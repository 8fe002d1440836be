//! Request and response fields across the gateway, field by field, including hostile ones.

use http::Request;

use super::*;

/// The fields of `parts` as (name, value) text pairs, in iteration order.
fn pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn get(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn parts(builder: http::request::Builder) -> Parts {
    builder.body(()).unwrap().into_parts().0
}

fn client() -> ForwardContext<'static> {
    ForwardContext::new("192.0.2.7:50000".parse().unwrap(), Scheme::Https)
}

#[test]
fn hop_by_hop_fields_and_those_connection_names_are_removed() {
    let req = parts(
        Request::get("/x")
            .header("host", "example.com")
            .header("connection", "keep-alive, X-Secret , close")
            .header("connection", "x-other")
            .header("keep-alive", "timeout=5")
            .header("te", "trailers")
            .header("trailer", "x-checksum")
            .header("transfer-encoding", "chunked")
            .header("upgrade", "websocket")
            .header("proxy-connection", "keep-alive")
            .header("proxy-authenticate", "Basic")
            .header("proxy-authorization", "Basic dXNlcjpwYXNz")
            .header("http2-settings", "AAMAAABkAAQAAP__")
            .header("x-secret", "1")
            .header("x-other", "2")
            .header("expect", "100-continue")
            .header("proxy", "http://evil.example:8080")
            .header("accept", "*/*"),
    );
    let out = request_fields(&req, &client());
    let names: Vec<_> = out.keys().map(|n| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "host",
            "accept",
            "via",
            "x-forwarded-for",
            "forwarded",
            "x-forwarded-proto",
            "x-forwarded-host",
        ]
    );
}

#[test]
fn host_comes_first_and_order_and_duplicates_are_kept() {
    let req = parts(
        Request::post("/x")
            .header("cookie", "a=1")
            .header("x-b", "1")
            .header("host", "example.com")
            .header("cookie", "b=2")
            .header("content-length", "5")
            .header("x-a", "2")
            .header("x-b", "3"),
    );
    let out = request_fields(&req, &client());
    assert_eq!(
        pairs(&out)[..7],
        [
            ("host".into(), "example.com".into()),
            ("cookie".into(), "a=1".into()),
            ("cookie".into(), "b=2".into()),
            ("x-b".into(), "1".into()),
            ("x-b".into(), "3".into()),
            ("content-length".into(), "5".into()),
            ("x-a".into(), "2".into()),
        ]
    );
}

#[test]
fn untrusted_peers_forwarding_fields_are_replaced() {
    let req = parts(
        Request::get("/")
            .version(Version::HTTP_11)
            .header("host", "example.com:8443")
            .header("x-forwarded-for", "10.9.9.9")
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-port", "1")
            .header("x-forwarded-prefix", "/admin")
            .header("x-real-ip", "10.9.9.9")
            .header("forwarded", "for=10.9.9.9"),
    );
    let out = request_fields(&req, &client());
    assert_eq!(get(&out, "x-forwarded-for"), ["192.0.2.7"]);
    assert_eq!(get(&out, "x-forwarded-proto"), ["https"]);
    assert_eq!(get(&out, "x-forwarded-host"), ["example.com:8443"]);
    assert_eq!(
        get(&out, "forwarded"),
        [r#"for="192.0.2.7:50000";host="example.com:8443";proto=https"#]
    );
    for gone in ["x-forwarded-port", "x-forwarded-prefix", "x-real-ip"] {
        assert!(get(&out, gone).is_empty(), "{gone} passed");
    }
}

/// The client addresses and original targets other proxies and CDNs set are a client's
/// claims too (applications read them before `X-Forwarded-For`, or route by them); a
/// trusted proxy's are kept.
#[test]
fn other_address_and_original_target_claims_are_dropped_unless_trusted() {
    let claims = [
        "true-client-ip",
        "x-client-ip",
        "client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "x-original-url",
        "x-rewrite-url",
        "x-original-host",
        "x-host",
        "x-forwarded",
        "x_original_url",
    ];
    let mut request = Request::get("/").header("host", "example.com");
    for name in claims {
        request = request.header(name, "/admin");
    }
    let req = parts(request.header("x-client-hint", "kept"));
    let out = request_fields(&req, &client());
    for gone in claims {
        assert!(get(&out, gone).is_empty(), "{gone} passed");
    }
    assert_eq!(get(&out, "x-client-hint"), ["kept"]);
    let trusted = ["192.0.2.0/24".parse().unwrap()];
    let cx = ForwardContext {
        trusted_proxies: &trusted,
        ..client()
    };
    let out = request_fields(&req, &cx);
    assert_eq!(get(&out, "true-client-ip"), ["/admin"]);
    assert_eq!(get(&out, "x-original-url"), ["/admin"]);
}

/// Underscore spellings of the forwarding fields are a client's claims too: CGI-style
/// servers merge them into the same variable as the dashed ones.
#[test]
fn underscore_spellings_of_forwarding_fields_are_dropped() {
    let req = parts(
        Request::get("/")
            .header("host", "example.com")
            .header("x_forwarded_for", "6.6.6.6")
            .header("X_Forwarded_Proto", "https")
            .header("x-forwarded_host", "evil.example")
            .header("x_real_ip", "6.6.6.6")
            .header("x_custom", "kept"),
    );
    let out = request_fields(&req, &client());
    for gone in [
        "x_forwarded_for",
        "x_forwarded_proto",
        "x-forwarded_host",
        "x_real_ip",
    ] {
        assert!(get(&out, gone).is_empty(), "{gone} passed");
    }
    assert_eq!(get(&out, "x_custom"), ["kept"]);
    assert_eq!(get(&out, "x-forwarded-for"), ["192.0.2.7"]);
}

/// Passes through usher are counted from `Via` entries received by `usher`, whatever the
/// protocol, comment or line they are in.
#[test]
fn passes_through_usher_are_counted_from_via() {
    let mut headers = http::HeaderMap::new();
    assert_eq!(passes_through_usher(&headers), 0);
    headers.append(
        "via",
        "1.1 usher, 1.0 fred, 2 usher (comment)".parse().unwrap(),
    );
    headers.append(
        "via",
        "1.1 usher-edge, 1.1 nginx,1.1   usher".parse().unwrap(),
    );
    assert_eq!(passes_through_usher(&headers), 3);
}

#[test]
fn trusted_peers_forwarding_fields_are_kept_and_appended_to() {
    let trusted = ["192.0.2.0/24".parse().unwrap(), "::1".parse().unwrap()];
    let cx = ForwardContext {
        trusted_proxies: &trusted,
        local: Some("[2001:db8::5]:443".parse().unwrap()),
        ..client()
    };
    let req = parts(
        Request::get("/")
            .header("host", "example.com")
            .header("x-forwarded-for", "203.0.113.1")
            .header("x-forwarded-for", " 198.51.100.2 ")
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "shop.example")
            .header("x-forwarded-prefix", "/shop")
            .header("forwarded", "for=203.0.113.1;proto=http")
            .header("x_forwarded_for", "6.6.6.6")
            .header("x-other", "1"),
    );
    let out = request_fields(&req, &cx);
    // An underscore spelling goes even from a trusted proxy: a CGI-style server would merge
    // it with the appended field in an order usher does not choose.
    assert!(get(&out, "x_forwarded_for").is_empty());
    // The first proxy's view of the host wins over usher's, as the scheme's does.
    assert_eq!(get(&out, "x-forwarded-host"), ["shop.example"]);
    assert_eq!(
        get(&out, "x-forwarded-for"),
        ["203.0.113.1, 198.51.100.2, 192.0.2.7"]
    );
    // The first proxy's view of the scheme wins over usher's.
    assert_eq!(get(&out, "x-forwarded-proto"), ["http"]);
    assert_eq!(get(&out, "x-forwarded-prefix"), ["/shop"]);
    assert_eq!(
        get(&out, "forwarded"),
        [
            r#"for=203.0.113.1;proto=http, for="192.0.2.7:50000";by="[2001:db8::5]:443";host=example.com;proto=https"#
        ]
    );
    // The combined lists stay where the fields first were.
    let names: Vec<_> = out.keys().map(|n| n.as_str()).collect();
    assert_eq!(
        names[..6],
        [
            "host",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-prefix",
            "forwarded"
        ]
    );
}

#[test]
fn a_mapped_ipv4_peer_is_trusted_by_its_ipv4_range() {
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    let cx = ForwardContext {
        trusted_proxies: &trusted,
        ..ForwardContext::new("[::ffff:10.1.2.3]:4000".parse().unwrap(), Scheme::Http)
    };
    let req = parts(Request::get("/").header("x-forwarded-for", "203.0.113.1"));
    let out = request_fields(&req, &cx);
    assert_eq!(get(&out, "x-forwarded-for"), ["203.0.113.1, 10.1.2.3"]);
    assert_eq!(
        get(&out, "forwarded"),
        [r#"for="10.1.2.3:4000";proto=http"#]
    );
}

#[test]
fn ipv6_peers_are_quoted_in_forwarded_and_bare_in_x_forwarded_for() {
    let cx = ForwardContext::new("[2001:db8::1]:4711".parse().unwrap(), Scheme::Http);
    let out = request_fields(&parts(Request::get("/")), &cx);
    assert_eq!(get(&out, "x-forwarded-for"), ["2001:db8::1"]);
    assert_eq!(
        get(&out, "forwarded"),
        [r#"for="[2001:db8::1]:4711";proto=http"#]
    );
}

#[test]
fn via_is_appended_with_the_received_version() {
    for (version, via) in [
        (Version::HTTP_10, "1.0 usher"),
        (Version::HTTP_11, "1.1 usher"),
        (Version::HTTP_2, "2 usher"),
    ] {
        let req = parts(Request::get("/").version(version));
        assert_eq!(get(&request_fields(&req, &client()), "via"), [via]);
    }
    let req = parts(
        Request::get("/")
            .header("via", "1.0 fred")
            .header("via", "1.1 p.example (Apache/1.1)"),
    );
    assert_eq!(
        get(&request_fields(&req, &client()), "via"),
        ["1.0 fred, 1.1 p.example (Apache/1.1), 1.1 usher"]
    );
}

#[test]
fn host_is_the_clients_or_the_configured_one() {
    let h1 = parts(Request::get("/").header("host", "example.com"));
    assert_eq!(
        get(&request_fields(&h1, &client()), "host"),
        ["example.com"]
    );
    // HTTP/2: the authority, not a Host field.
    let h2 = parts(
        Request::get("https://example.org/x")
            .version(Version::HTTP_2)
            .header("host", "ignored.example"),
    );
    let out = request_fields(&h2, &client());
    assert_eq!(get(&out, "host"), ["example.org"]);
    assert_eq!(get(&out, "x-forwarded-host"), ["example.org"]);
    // No host at all (HTTP/1.0): the address usher was reached on (RFC 9112 §3.3), and no
    // X-Forwarded-Host; with no address known, an empty Host.
    let none = parts(Request::get("/").version(Version::HTTP_10));
    let out = request_fields(&none, &client());
    assert_eq!(get(&out, "host"), [""]);
    assert!(get(&out, "x-forwarded-host").is_empty());
    for (local, host) in [
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("[::1]:80", "[::1]:80"),
    ] {
        let reached = ForwardContext {
            local: Some(local.parse().unwrap()),
            ..client()
        };
        let out = request_fields(&none, &reached);
        assert_eq!(get(&out, "host"), [host]);
        assert!(get(&out, "x-forwarded-host").is_empty());
    }
    let fixed = ForwardContext {
        host: UpstreamHost::Fixed(HeaderValue::from_static("app.internal:8080")),
        ..client()
    };
    let out = request_fields(&h1, &fixed);
    assert_eq!(get(&out, "host"), ["app.internal:8080"]);
    assert_eq!(get(&out, "x-forwarded-host"), ["example.com"]);
}

#[test]
fn connection_cannot_remove_host() {
    let req = parts(
        Request::get("/")
            .header("host", "example.com")
            .header("connection", "host"),
    );
    assert_eq!(
        get(&request_fields(&req, &client()), "host"),
        ["example.com"]
    );
}

fn websocket() -> Parts {
    parts(
        Request::get("/chat")
            .header("host", "example.com")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13"),
    )
}

#[test]
fn upgrades_pass_only_when_tunnelled() {
    let req = websocket();
    assert!(is_upgrade(&req));
    let plain = request_fields(&req, &client());
    assert!(get(&plain, "upgrade").is_empty());
    assert!(get(&plain, "connection").is_empty());
    assert_eq!(get(&plain, "sec-websocket-version"), ["13"]);
    let tunnel = ForwardContext {
        tunnel_upgrade: true,
        ..client()
    };
    let out = request_fields(&req, &tunnel);
    assert_eq!(get(&out, "upgrade"), ["websocket"]);
    assert_eq!(get(&out, "connection"), ["upgrade"]);
}

#[test]
fn only_http_1_1_with_the_connection_option_is_an_upgrade() {
    let mut req = websocket();
    req.version = Version::HTTP_10;
    assert!(!is_upgrade(&req));
    let tunnel = ForwardContext {
        tunnel_upgrade: true,
        ..client()
    };
    assert!(get(&request_fields(&req, &tunnel), "upgrade").is_empty());
    let mut req = websocket();
    req.headers.remove("connection");
    assert!(!is_upgrade(&req));
    let mut req = websocket();
    req.version = Version::HTTP_2;
    assert!(!is_upgrade(&req));
    // h2c is never tunnelled: the client's later requests would reach the upstream unrouted.
    for offered in ["h2c", "websocket, H2C", " h2c "] {
        let mut req = websocket();
        req.headers.insert("upgrade", offered.parse().unwrap());
        assert!(!is_upgrade(&req), "{offered}");
    }
}

#[test]
fn max_forwards_counts_down_on_trace_and_options_only() {
    let options = parts(Request::options("*").header("max-forwards", "3"));
    assert!(!max_forwards_exhausted(&options));
    assert_eq!(
        get(&request_fields(&options, &client()), "max-forwards"),
        ["2"]
    );
    let zero = parts(
        Request::builder()
            .method("TRACE")
            .header("max-forwards", "0"),
    );
    assert!(max_forwards_exhausted(&zero));
    let get_req = parts(Request::get("/").header("max-forwards", "0"));
    assert!(!max_forwards_exhausted(&get_req));
    assert_eq!(
        get(&request_fields(&get_req, &client()), "max-forwards"),
        ["0"]
    );
    for odd in ["-1", "x", ""] {
        let req = parts(Request::options("/").header("max-forwards", odd));
        assert!(!max_forwards_exhausted(&req));
        assert_eq!(get(&request_fields(&req, &client()), "max-forwards"), [odd]);
    }
    // Past 64 bits: the largest value usher holds (§7.6.2: the lesser of the two).
    let huge = parts(Request::options("/").header("max-forwards", "99999999999999999999999"));
    assert!(!max_forwards_exhausted(&huge));
    assert_eq!(
        get(&request_fields(&huge, &client()), "max-forwards"),
        ["18446744073709551615"]
    );
}

fn response(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_static(value));
    }
    headers
}

#[test]
fn response_hop_by_hop_fields_are_removed_and_order_kept() {
    let mut headers = response(&[
        ("set-cookie", "a=1"),
        ("connection", "keep-alive, x-upstream-debug"),
        ("content-type", "text/html"),
        ("keep-alive", "timeout=5"),
        ("set-cookie", "b=2"),
        ("transfer-encoding", "chunked"),
        ("trailer", "x-sum"),
        ("proxy-authenticate", "Basic realm=\"x\""),
        ("x-upstream-debug", "1"),
        ("upgrade", "h2c"),
        ("content-length", "10"),
        ("cache-control", "no-cache"),
    ]);
    response_fields(
        &mut headers,
        &ResponseContext {
            version: Version::HTTP_11,
            ..ResponseContext::default()
        },
    );
    assert_eq!(
        pairs(&headers),
        [
            ("set-cookie".into(), "a=1".into()),
            ("set-cookie".into(), "b=2".into()),
            ("content-type".into(), "text/html".into()),
            ("content-length".into(), "10".into()),
            ("cache-control".into(), "no-cache".into()),
            ("via".into(), "1.1 usher".into()),
        ]
    );
}

/// The fields servers send most often put `Connection` (and `Keep-Alive`) last: those are
/// dropped where they are, and the rest keep their order, as when the map is rebuilt.
#[test]
fn hop_by_hop_fields_at_the_end_are_dropped_in_place() {
    let cx = ResponseContext {
        version: Version::HTTP_11,
        ..ResponseContext::default()
    };
    for (fields, kept) in [
        // nginx
        (
            &[
                ("server", "nginx"),
                ("content-type", "text/plain"),
                ("content-length", "2"),
                ("connection", "keep-alive"),
            ][..],
            &["server", "content-type", "content-length"][..],
        ),
        // Node, with a cookie sent twice and a field Connection names.
        (
            &[
                ("set-cookie", "a=1"),
                ("x-powered-by", "Express"),
                ("set-cookie", "b=2"),
                ("x-debug", "1"),
                ("connection", "keep-alive, x-debug"),
                ("keep-alive", "timeout=5"),
            ][..],
            &["set-cookie", "set-cookie", "x-powered-by"][..],
        ),
        // Go: no Connection at all.
        (
            &[("content-type", "text/plain"), ("date", "x")][..],
            &["content-type", "date"][..],
        ),
    ] {
        let mut headers = response(fields);
        response_fields(&mut headers, &cx);
        let mut names: Vec<_> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.pop(), Some("via"), "{fields:?}");
        assert_eq!(names, kept, "{fields:?}");
    }
}

#[test]
fn response_via_is_appended_where_it_was() {
    let mut headers = response(&[("date", "x"), ("via", "1.1 cache"), ("server", "y")]);
    response_fields(
        &mut headers,
        &ResponseContext {
            version: Version::HTTP_10,
            ..ResponseContext::default()
        },
    );
    let names: Vec<_> = headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["date", "via", "server"]);
    assert_eq!(get(&headers, "via"), ["1.1 cache, 1.0 usher"]);
}

#[test]
fn a_tunnelled_101_keeps_upgrade() {
    let mut headers = response(&[
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    ]);
    response_fields(
        &mut headers,
        &ResponseContext {
            version: Version::HTTP_11,
            upgrade: true,
            rewrite: None,
        },
    );
    assert_eq!(get(&headers, "upgrade"), ["websocket"]);
    assert_eq!(get(&headers, "connection"), ["upgrade"]);
    assert_eq!(
        get(&headers, "sec-websocket-accept"),
        ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    );
}

#[test]
fn locations_and_refresh_move_under_the_prefix() {
    let upstream = http::uri::Authority::from_static("127.0.0.1:8080");
    let cx = ResponseContext {
        version: Version::HTTP_11,
        upgrade: false,
        rewrite: Some(PrefixRewrite {
            prefix: "/app",
            upstream: Some(&upstream),
            host: None,
            host_is_fixed: false,
        }),
    };
    let mut headers = response(&[
        ("location", "http://127.0.0.1:8080/login?next=%2F"),
        ("refresh", "5; url=/done"),
        ("content-location", "/x"),
    ]);
    response_fields(&mut headers, &cx);
    assert_eq!(get(&headers, "location"), ["/app/login?next=%2F"]);
    assert_eq!(get(&headers, "refresh"), ["5; url=/app/done"]);
    assert_eq!(get(&headers, "content-location"), ["/x"]);
    let mut foreign = response(&[("location", "https://id.example/authorize")]);
    response_fields(&mut foreign, &cx);
    assert_eq!(get(&foreign, "location"), ["https://id.example/authorize"]);
}
