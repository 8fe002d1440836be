//! The `proxy` route against real upstreams started by each test: the hyper test application
//! (`upstream.rs`), Python's `http.server`, and usher itself. What the upstream receives is
//! checked where it is received.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;

use crate::support::{IO_TIMEOUT, Process, exchange, head_value, start, unchunk, write};
use crate::upstream::{App, PythonServer};

/// usher with one route `path` proxying with the `proxy = { ... }` table `table`.
pub(crate) fn proxy(dir: &Path, path: &str, table: &str) -> Process {
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[[site]]\n\n[[site.route]]\npath = \"{path}\"\nproxy = {{ {table} }}\n"
    );
    write(dir, "usher.toml", config);
    start(&["-c", dir.join("usher.toml").to_str().unwrap()])
}

/// usher with one route `/` to `upstream`, and more options `extra` (`, name = value`).
pub(crate) fn usher_for(
    upstream: impl std::fmt::Display,
    extra: &str,
) -> (tempfile::TempDir, Process) {
    let dir = tempfile::tempdir().unwrap();
    let usher = proxy(
        dir.path(),
        "/",
        &format!(r#"upstreams = ["{upstream}"]{extra}"#),
    );
    (dir, usher)
}

pub(crate) fn get(addr: SocketAddr, target: &str, fields: &str) -> (String, String) {
    let (head, body) = exchange(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: site.test\r\n{fields}Connection: close\r\n\r\n"),
    );
    let body = unchunk(&head, &body);
    (head, body)
}

pub(crate) fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_request_reaches_the_upstream_with_forwarding_fields_and_without_hop_by_hop_ones() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let (head, body) = get(
        usher.addrs[0],
        "/echo/x?q=1",
        "Connection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\
         Proxy-Authorization: Basic eDp5\r\nProxy: http://evil.test\r\n\
         X-Forwarded-For: 203.0.113.9\r\nX-Custom: kept\r\n",
    );
    assert_eq!(status(&head), 200, "{head}\n{body}");
    assert_eq!(head_value(&head, "x-app"), Some("a"));
    assert!(
        head_value(&head, "via").is_some_and(|v| v.contains("usher")),
        "{head}"
    );
    let seen = app.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.target, "/echo/x?q=1");
    assert_eq!(seen.one("host"), Some("site.test"));
    assert_eq!(seen.one("x-custom"), Some("kept"));
    for gone in [
        "x-secret",
        "keep-alive",
        "te",
        "proxy-authorization",
        "proxy",
    ] {
        assert_eq!(seen.one(gone), None, "{gone} reached the upstream");
    }
    // The client is not a trusted proxy: its X-Forwarded-For is replaced, not appended to.
    assert_eq!(seen.one("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.one("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.one("x-forwarded-host"), Some("site.test"));
    assert!(
        seen.one("forwarded")
            .is_some_and(|f| f.contains("for=\"127.0.0.1:") && f.contains("proto=http")),
        "{:?}",
        seen.one("forwarded")
    );
    assert!(seen.one("via").is_some_and(|v| v.starts_with("1.1 ")));
}

/// An HTTP/2 client sends each cookie as a field of its own; the HTTP/1.1 upstream gets
/// them on one line, joined with "; " (RFC 9113 §8.2.3).
#[tokio::test]
async fn http2_cookies_reach_the_upstream_on_one_line() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let url = format!("http://{}/echo/c", usher.addrs[0]);
    let answer = crate::support::h2_client()
        .get(&url)
        .header("cookie", "x=1")
        .header("cookie", "y=2")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), 200);
    let seen = app.seen();
    assert_eq!(seen[0].one("cookie"), Some("x=1; y=2"));
}

/// TRACE and OPTIONS count Max-Forwards down; at 0 usher answers as the final recipient and
/// forwards nothing (RFC 9110 §7.6.2).
#[test]
fn max_forwards_zero_is_answered_here() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let addr = usher.addrs[0];
    let ask = |method: &str, fields: &str| {
        exchange(
            addr,
            &format!(
                "{method} /echo/m HTTP/1.1\r\nHost: site.test\r\n{fields}Connection: close\r\n\r\n"
            ),
        )
        .0
    };
    // Both say the same methods: what the route passes on (it names none), never TRACE.
    let passed_on = "allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n";
    let head = ask("OPTIONS", "Max-Forwards: 0\r\n");
    assert_eq!(status(&head), 204, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&passed_on.to_ascii_lowercase()),
        "{head}"
    );
    let head = ask("TRACE", "Max-Forwards: 0\r\n");
    assert_eq!(status(&head), 405, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&passed_on.to_ascii_lowercase()),
        "{head}"
    );
    assert!(app.seen().is_empty(), "forwarded at Max-Forwards 0");
    // TRACE is never passed on by a route that does not name it (cross-site tracing).
    let head = ask("TRACE", "");
    assert_eq!(status(&head), 405, "{head}");
    assert!(app.seen().is_empty(), "a TRACE forwarded");
    let head = ask("OPTIONS", "Max-Forwards: 3\r\n");
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(app.seen()[0].one("max-forwards"), Some("2"));

    // A route that names TRACE and OPTIONS among its methods: at Max-Forwards 0 usher answers
    // both itself and never echoes a TRACE, so both answers list the same methods, without
    // TRACE.
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[[site]]\n\n[[site.route]]\npath = \"/\"\n\
         methods = [\"GET\", \"OPTIONS\", \"TRACE\"]\nproxy = {{ upstreams = [\"{}\"] }}\n",
        app.upstream()
    );
    write(dir.path(), "usher.toml", config);
    let named = start(&["-c", dir.path().join("usher.toml").to_str().unwrap()]);
    let allow = |method: &str| {
        let (head, _) = exchange(
            named.addrs[0],
            &format!(
                "{method} /m HTTP/1.1\r\nHost: site.test\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        head_value(&head, "allow").unwrap_or_default().to_owned()
    };
    let (options, trace) = (allow("OPTIONS"), allow("TRACE"));
    assert_eq!(options, trace);
    assert!(
        options.contains("GET") && !options.contains("TRACE"),
        "{options}"
    );
    // Named, TRACE is passed on.
    let before = app.seen().len();
    let (head, _) = exchange(
        named.addrs[0],
        "TRACE /m HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(app.seen().len(), before + 1);
}

#[test]
fn a_trusted_proxys_forwarding_fields_are_appended_to() {
    let app = App::start("a");
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        r#"upstreams = ["{}"], trusted-proxies = ["127.0.0.0/8"], host = "app.internal""#,
        app.upstream()
    );
    let usher = proxy(dir.path(), "/", &table);
    let (head, _) = get(
        usher.addrs[0],
        "/echo",
        "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n",
    );
    assert_eq!(status(&head), 200, "{head}");
    let seen = &app.seen()[0];
    assert_eq!(seen.one("x-forwarded-for"), Some("203.0.113.9, 127.0.0.1"));
    assert_eq!(seen.one("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.one("host"), Some("app.internal"));
}

#[test]
fn strip_prefix_removes_the_prefix_and_puts_it_back_in_location() {
    let app = App::start("a");
    let dir = tempfile::tempdir().unwrap();
    let table = format!(r#"upstreams = ["{}"], strip-prefix = true"#, app.upstream());
    let usher = proxy(dir.path(), "/app/", &table);
    let (head, _) = get(usher.addrs[0], "/app/echo?x=1", "");
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(app.seen()[0].target, "/echo?x=1");
    let (head, _) = get(usher.addrs[0], "/app/redirect?to=/login", "");
    assert_eq!(status(&head), 302, "{head}");
    assert_eq!(head_value(&head, "location"), Some("/app/login"));
}

/// A redirect to the upstream's own address never reaches the client with it: it becomes a
/// path on the site (nginx's `proxy_redirect default`), with or without a stripped prefix;
/// other absolute redirects pass as they are.
#[test]
fn a_location_naming_the_upstream_becomes_a_path() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let own = format!("http://{}/secret/x?y=1", app.upstream());
    // A path on the upstream that, bare, would name another host (an open redirect).
    let doubled = format!("http://{}//evil.test/a", app.upstream());
    for (to, seen) in [
        (own.as_str(), "/secret/x?y=1"),
        (doubled.as_str(), "/.//evil.test/a"),
        ("https://elsewhere.test/x", "https://elsewhere.test/x"),
        ("/login", "/login"),
    ] {
        let (head, _) = get(usher.addrs[0], &format!("/redirect?to={to}"), "");
        assert_eq!(status(&head), 302, "{head}");
        assert_eq!(head_value(&head, "location"), Some(seen), "{to}");
    }
}

/// The upstream gets the path the route was chosen by: a target whose dot-segments (plain
/// or encoded) or empty segments were resolved to choose the route goes normalised, so an
/// application cannot read it as a path under another route, one with a password. A target
/// that decodes to its own normal form keeps the client's spelling (`%2F` in a segment).
#[test]
fn the_upstream_gets_the_path_the_route_was_chosen_by() {
    let app = App::start("a");
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[[site]]\n\n\
         [[site.route]]\npath = \"/admin/\"\nauth = {{ realm = \"staff\", users = {{ alice = \"{hash}\" }} }}\n\
         proxy = {{ upstreams = [\"{up}\"] }}\n\n\
         [[site.route]]\npath = \"/public/\"\nproxy = {{ upstreams = [\"{up}\"] }}\n\n\
         [[site.route]]\npath = \"/api/\"\nproxy = {{ upstreams = [\"{up}\"], strip-prefix = true }}\n",
        hash = bcrypt::hash("pw", 4).unwrap(),
        up = app.upstream()
    );
    write(dir.path(), "usher.toml", config);
    let usher = start(&["-c", dir.path().join("usher.toml").to_str().unwrap()]);
    assert_eq!(status(&get(usher.addrs[0], "/admin/echo", "").0), 401);
    let cases = [
        ("/admin/%2e%2e/public/echo", "/public/echo"),
        ("/admin/../public/echo?q=1", "/public/echo?q=1"),
        ("/admin/.%2E/public/echo", "/public/echo"),
        ("/admin%2F..%2Fpublic/echo", "/public/echo"),
        ("/public/./echo", "/public/echo"),
        ("/public//echo", "/public/echo"),
        // Stripped: from the path the route was chosen by, however it was spelled.
        ("/api%2Fecho", "/echo"),
        ("/public/../api/echo?x", "/echo?x"),
        ("/api/./echo", "/echo"),
        ("/api/echo", "/echo"),
        // Spelled in its normal form: sent as the client spelled it.
        ("/public/a%2Fb/echo", "/public/a%2Fb/echo"),
        ("/public/caf%C3%A9%20x", "/public/caf%C3%A9%20x"),
        ("/api/a%2Fb", "/a%2Fb"),
    ];
    for (n, (asked, sent)) in cases.iter().enumerate() {
        let (head, _) = get(usher.addrs[0], asked, "");
        assert_eq!(status(&head), 200, "{asked}: {head}");
        assert_eq!(app.seen()[n].target, *sent, "{asked}");
    }
}

/// A route whose upstream is usher itself stops at a few passes with 508, saying why,
/// rather than recursing until the request head outgrows its limit.
#[test]
fn a_route_that_leads_back_to_usher_is_a_508_loop() {
    // A port that was free a moment ago: usher listens on it and proxies to it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\n\n[[site]]\n\n[[site.route]]\n\
         path = \"/\"\nproxy = {{ upstreams = [\"127.0.0.1:{port}\"] }}\n"
    );
    write(dir.path(), "usher.toml", config);
    let usher = start(&["-c", dir.path().join("usher.toml").to_str().unwrap()]);
    let (head, body) = get(usher.addrs[0], "/x", "Accept: application/problem+json\r\n");
    assert_eq!(status(&head), 508, "{head}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("passed through usher 8 times"), "{detail}");
    assert!(detail.contains("route /"), "{detail}");
}

#[test]
fn round_robin_spreads_requests_evenly() {
    let (a, b) = (App::start("a"), App::start("b"));
    let dir = tempfile::tempdir().unwrap();
    let table = format!(r#"upstreams = ["{}", "{}"]"#, a.upstream(), b.upstream());
    let usher = proxy(dir.path(), "/", &table);
    for _ in 0..40 {
        assert_eq!(status(&get(usher.addrs[0], "/echo", "").0), 200);
    }
    assert_eq!((a.hits(), b.hits()), (20, 20));
}

#[test]
fn ip_hash_keeps_a_client_on_one_upstream() {
    let (a, b) = (App::start("a"), App::start("b"));
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        r#"upstreams = ["{}", "{}"], policy = "ip_hash""#,
        a.upstream(),
        b.upstream()
    );
    let usher = proxy(dir.path(), "/", &table);
    for _ in 0..10 {
        assert_eq!(status(&get(usher.addrs[0], "/echo", "").0), 200);
    }
    assert!(
        (a.hits(), b.hits()) == (10, 0) || (a.hits(), b.hits()) == (0, 10),
        "{} {}",
        a.hits(),
        b.hits()
    );
}

/// One upstream stops: GETs keep succeeding (retried on the other one), and once it is
/// marked down it gets no more attempts.
#[test]
fn a_dead_upstream_costs_no_failed_get() {
    let (a, mut b) = (App::start("a"), App::start("b"));
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        r#"upstreams = ["{}", "{}"], cool-down = "60s""#,
        a.upstream(),
        b.upstream()
    );
    let usher = proxy(dir.path(), "/", &table);
    for _ in 0..4 {
        assert_eq!(status(&get(usher.addrs[0], "/echo", "").0), 200);
    }
    b.stop();
    let before = a.hits();
    for n in 0..20 {
        let (head, body) = get(usher.addrs[0], "/echo", "");
        assert_eq!(status(&head), 200, "request {n}: {head}\n{body}");
    }
    assert_eq!(
        a.hits() - before,
        20,
        "every request answered by the live one"
    );
}

#[test]
fn every_upstream_down_is_a_503_with_retry_after_and_no_address() {
    let dead = |_| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let (x, y): (String, String) = (dead(0), dead(1));
    let dir = tempfile::tempdir().unwrap();
    let usher = proxy(
        dir.path(),
        "/api/",
        &format!(r#"upstreams = ["{x}", "{y}"]"#),
    );
    let problem = "Accept: application/problem+json\r\n";
    let (head, body) = get(usher.addrs[0], "/api/x", problem);
    assert_eq!(status(&head), 502, "both refused: {head}\n{body}");
    assert!(body.contains("/api/"), "names the route: {body}");
    let (head, body) = get(usher.addrs[0], "/api/x", problem);
    assert_eq!(status(&head), 503, "both marked down: {head}\n{body}");
    assert!(head_value(&head, "retry-after").is_some(), "{head}");
    for address in [&x, &y] {
        assert!(!body.contains(address.as_str()), "{body}");
    }
}

/// An upstream that reads a request and closes without answering: a POST is not sent
/// again to the other upstream, a GET is not either (bytes were sent on a new connection).
#[test]
fn a_post_is_never_sent_twice() {
    let rude = TcpListener::bind("127.0.0.1:0").unwrap();
    let rude_addr = rude.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in rude.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            drop(conn);
        }
    });
    let app = App::start("b");
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        r#"upstreams = ["{rude_addr}", "{}"], policy = "first""#,
        app.upstream()
    );
    let usher = proxy(dir.path(), "/", &table);
    let (head, body) = exchange(
        usher.addrs[0],
        "POST /upload HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(status(&head), 502, "{head}\n{body}");
    assert!(
        body.contains("closed the connection without answering"),
        "{body}"
    );
    assert_eq!(app.hits(), 0, "the POST went to one upstream only");
}

/// A POST whose connection is refused goes on to the next upstream: none of it was sent,
/// so nothing can have been done twice (nginx's `proxy_next_upstream error` does the same).
#[test]
fn a_post_goes_on_when_its_connection_is_refused() {
    let refused = TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_addr = refused.local_addr().unwrap();
    drop(refused);
    let app = App::start("b");
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        r#"upstreams = ["{refused_addr}", "{}"], policy = "first""#,
        app.upstream()
    );
    let usher = proxy(dir.path(), "/", &table);
    let (head, body) = exchange(
        usher.addrs[0],
        "POST /echo HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(status(&head), 200, "{head}\n{body}");
    let seen = app.seen();
    assert_eq!(seen.len(), 1, "sent once, to the live upstream");
    assert_eq!(seen[0].body_len, 5, "with its content");
}

#[test]
fn a_slow_upstream_is_a_504() {
    let app = App::start("a");
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        r#"upstreams = ["{}"], header-timeout = "300ms""#,
        app.upstream()
    );
    let usher = proxy(dir.path(), "/", &table);
    let (head, body) = get(
        usher.addrs[0],
        "/slow?ms=5000",
        "Accept: application/problem+json\r\n",
    );
    assert_eq!(status(&head), 504, "{head}\n{body}");
}

/// Request-smuggling payloads never reach the upstream: usher refuses each before routing.
#[test]
fn desynchronising_requests_never_reach_the_upstream() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let payloads = [
        // CL.TE
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        // TE.CL
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\n{smuggled}\r\n0\r\n\r\n"
        ),
        // TE.TE: an obfuscated second coding
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        // Two lengths
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n{smuggled}"
        ),
        // obs-fold
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        // A bare LF in the chunk framing
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n{smuggled}"
        ),
    ];
    for payload in &payloads {
        let (head, _) = exchange(usher.addrs[0], payload);
        let code = status(&head);
        assert!(
            (400..500).contains(&code) || code == 501,
            "{payload:?}: {head}"
        );
    }
    let seen = app.seen();
    assert!(
        seen.iter().all(|s| s.target != "/smuggled"),
        "a smuggled request reached the upstream: {seen:?}"
    );
}

/// A chunked upload with an unknown length goes on chunked, whole.
#[test]
fn chunked_content_is_streamed_to_the_upstream() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let (head, body) = exchange(
        usher.addrs[0],
        "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    assert_eq!(status(&head), 200, "{head}\n{body}");
    let sum: u64 = b"abcde".iter().map(|&b| u64::from(b)).sum();
    assert_eq!(unchunk(&head, &body), format!("5 {sum}"));
}

/// 1 GiB down and 1 GiB up through the proxy, with usher's peak memory bounded.
#[test]
fn a_gibibyte_each_way_streams_in_bounded_memory() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    const GIB: u64 = 1 << 30;
    let mut s = TcpStream::connect(usher.addrs[0]).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "GET /bytes?n={GIB} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => panic!("after {total} bytes: {e}"),
        }
    }
    assert!(
        total > GIB && total < GIB + 4096,
        "{total} bytes (head included)"
    );

    let mut s = TcpStream::connect(usher.addrs[0]).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {GIB}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let block = vec![7u8; 1 << 20];
    for _ in 0..1024 {
        s.write_all(&block).unwrap();
    }
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.contains(&format!("{GIB} {}", 7 * GIB)), "{answer}");

    let hwm_kib = crate::support::peak_rss_kib(usher.pid());
    assert!(hwm_kib < 64 * 1024, "peak RSS {hwm_kib} KiB");
}

#[test]
fn pythons_http_server_serves_through_the_proxy() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "hello.txt", "from python\n");
    let Some(python) = PythonServer::start(root.path()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let usher = proxy(
        dir.path(),
        "/",
        &format!(r#"upstreams = ["{}"]"#, python.addr),
    );
    for _ in 0..3 {
        let (head, body) = get(usher.addrs[0], "/hello.txt", "");
        assert_eq!(status(&head), 200, "{head}");
        assert_eq!(body, "from python\n");
        // The software behind the proxy is not announced (nginx hides it too): one
        // Server field, usher's, in place of Python's.
        let servers: Vec<&str> = head
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("server:"))
            .collect();
        assert_eq!(servers, ["server: usher"], "{head}");
    }
}

/// usher in front of usher: ranges, validators and a 404 problem pass through.
#[test]
fn usher_serves_through_usher() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "data.txt", "0123456789");
    let back = start(&[root.path().to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let dir = tempfile::tempdir().unwrap();
    let front = proxy(
        dir.path(),
        "/",
        &format!(r#"upstreams = ["{}"]"#, back.addrs[0]),
    );
    let (head, body) = get(front.addrs[0], "/data.txt", "Range: bytes=2-4\r\n");
    assert_eq!(status(&head), 206, "{head}");
    assert_eq!(body, "234");
    let etag = head_value(&head, "etag").unwrap().to_owned();
    let (head, _) = get(
        front.addrs[0],
        "/data.txt",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(status(&head), 304, "{head}");
    let (head, body) = get(
        front.addrs[0],
        "/missing",
        "Accept: application/problem+json\r\n",
    );
    assert_eq!(status(&head), 404, "{head}");
    assert!(body.contains("\"status\":404"), "{body}");
}

#[test]
fn explain_shows_the_upstreams_and_what_they_would_receive() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "usher.toml",
        "[[site]]\n[[site.route]]\npath = \"/api/\"\n\
         proxy = { upstreams = [\"127.0.0.1:9001\", \"unix:/run/app.sock\"], policy = \"least_conn\", strip-prefix = true }\n",
    );
    let out = crate::support::explain(
        dir.path(),
        &[
            "-H",
            "Connection: X-A",
            "-H",
            "X-A: 1",
            "GET",
            "/api/users?id=3",
        ],
    );
    assert!(
        out.contains("upstreams: 127.0.0.1:9001, unix:/run/app.sock"),
        "{out}"
    );
    assert!(out.contains("policy: least_conn\n"), "{out}");
    assert!(out.contains("GET /users?id=3 HTTP/1.1"), "{out}");
    assert!(out.contains("x-forwarded-for: 127.0.0.1"), "{out}");
    assert!(
        !out.contains("x-a:"),
        "a hop-by-hop field is shown as sent: {out}"
    );
}

/// A WebSocket through the proxy: the handshake goes upstream, the 101 comes back, and
/// 10,000 messages echo through the tunnel in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_echoes_ten_thousand_messages_through_the_proxy() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;

    let app = App::start("ws");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let url = format!("ws://{}/ws", usher.addrs[0]);
    let (mut ws, response) =
        tokio::time::timeout(IO_TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("handshake in time")
            .expect("handshake");
    assert_eq!(response.status(), 101);
    let sending = async {
        for n in 0..10_000u32 {
            ws.send(Message::text(format!("message {n}")))
                .await
                .unwrap();
            let echoed = ws.next().await.expect("an echo").expect("a message");
            assert_eq!(echoed.into_text().unwrap().as_str(), format!("message {n}"));
        }
        ws.close(None).await.unwrap();
    };
    tokio::time::timeout(IO_TIMEOUT, sending)
        .await
        .expect("10,000 echoes in time");
    let seen = app.seen();
    assert_eq!(seen[0].one("upgrade"), Some("websocket"));
    assert!(seen[0].one("sec-websocket-key").is_some());
}

/// The HTTP/1.1 connection stays HTTP when the upstream refuses the upgrade.
#[test]
fn a_refused_upgrade_is_an_ordinary_answer() {
    let app = App::start("a");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let (head, _) = get(
        usher.addrs[0],
        "/status/403",
        "Upgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    assert_eq!(status(&head), 403, "{head}");
}

/// An HTTP/2 client's extended CONNECT (RFC 8441) reaches an HTTP/1.1 upstream as an
/// Upgrade, and the stream carries the tunnel both ways.
#[tokio::test]
async fn an_http2_extended_connect_is_tunnelled_to_an_http1_upgrade() {
    use bytes::Bytes;
    let app = App::start("t");
    let (_dir, usher) = usher_for(app.upstream(), "");
    let io = tokio::net::TcpStream::connect(usher.addrs[0])
        .await
        .unwrap();
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    tokio::time::timeout(IO_TIMEOUT, async {
        while !client.is_extended_connect_protocol_enabled() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("usher allows extended CONNECT");
    let mut connect = http::Request::connect(format!("http://{}/tunnel", usher.addrs[0]))
        .body(())
        .unwrap();
    connect
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("echo"));
    let (answer, mut out) = client.send_request(connect, false).unwrap();
    let answer = tokio::time::timeout(IO_TIMEOUT, answer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().get("upgrade").is_none());
    let mut back = answer.into_body();
    for message in [&b"ping"[..], b"pong pong"] {
        out.send_data(Bytes::from_static(message), false).unwrap();
        let mut got = Vec::new();
        while got.len() < message.len() {
            let data = tokio::time::timeout(IO_TIMEOUT, back.data())
                .await
                .unwrap()
                .expect("open")
                .unwrap();
            let _ = back.flow_control().release_capacity(data.len());
            got.extend_from_slice(&data);
        }
        assert_eq!(got, message);
    }
    let seen = &app.seen()[0];
    assert_eq!(
        (seen.method.as_str(), seen.target.as_str()),
        ("GET", "/tunnel")
    );
    assert_eq!(seen.one("upgrade"), Some("echo"));
    // An upstream that answers 200 without switching opened no tunnel: 502, not a 200 the
    // client would take for one.
    let mut refused = http::Request::connect(format!("http://{}/echo", usher.addrs[0]))
        .body(())
        .unwrap();
    refused
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("echo"));
    let mut client = client.ready().await.unwrap();
    let (answer, _out) = client.send_request(refused, false).unwrap();
    let answer = tokio::time::timeout(IO_TIMEOUT, answer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status(), 502);
}

/// Polls `done` until it holds, up to the I/O limit: waiting on an outcome, not a time.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {IO_TIMEOUT:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// An upstream failing its active check gets no traffic until a check passes again.
#[test]
fn an_active_check_takes_an_upstream_out_and_brings_it_back() {
    let (a, b) = (App::start("a"), App::start("b"));
    let dir = tempfile::tempdir().unwrap();
    let table = format!(
        r#"upstreams = ["{}", "{}"], health-check = {{ path = "/health", interval = "50ms", timeout = "1s", expect = "2xx" }}"#,
        a.upstream(),
        b.upstream()
    );
    let usher = proxy(dir.path(), "/", &table);
    b.set_health(503);
    // Once b has answered two checks, the second saw 503 and took it out.
    let seen = b.checks();
    eventually("two checks of b", || b.checks() >= seen + 2);
    let before = b.hits();
    for _ in 0..10 {
        assert_eq!(status(&get(usher.addrs[0], "/echo", "").0), 200);
    }
    assert_eq!(b.hits(), before, "b is out");
    b.set_health(200);
    let seen = b.checks();
    eventually("two more checks of b", || b.checks() >= seen + 2);
    for _ in 0..10 {
        assert_eq!(status(&get(usher.addrs[0], "/echo", "").0), 200);
    }
    assert!(b.hits() > before, "b is back");
    assert!(a.hits() > 0);
}

/// Under load from four clients, one upstream stops: requests started after it stopped
/// all succeed (refused connections are retried on the other one, and it is marked down).
#[test]
fn an_upstream_killed_under_load_fails_no_later_get() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let (a, mut b) = (App::start("a"), App::start("b"));
    let dir = tempfile::tempdir().unwrap();
    let table = format!(r#"upstreams = ["{}", "{}"]"#, a.upstream(), b.upstream());
    let usher = proxy(dir.path(), "/", &table);
    let addr = usher.addrs[0];
    let stopped = Arc::new(AtomicBool::new(false));
    let (late_failures, late_requests) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stopped, late_failures, late_requests) = (
                stopped.clone(),
                late_failures.clone(),
                late_requests.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..150 {
                    let late = stopped.load(Ordering::SeqCst);
                    let code = status(&get(addr, "/echo", "").0);
                    if late {
                        late_requests.fetch_add(1, Ordering::SeqCst);
                        if code != 200 {
                            late_failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    eventually("load on both", || a.hits() > 20 && b.hits() > 20);
    b.stop();
    stopped.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    assert!(
        late_requests.load(Ordering::SeqCst) > 100,
        "load went on after the stop"
    );
    assert_eq!(
        late_failures.load(Ordering::SeqCst),
        0,
        "a GET failed after the stop"
    );
}

/// The README's proxy examples are what `usher check` accepts.
#[test]
fn the_readme_proxy_examples_are_valid() {
    let blocks = crate::support::readme_toml_blocks("Reverse proxy");
    assert!(!blocks.is_empty());
    for block in blocks {
        let dir = tempfile::tempdir().unwrap();
        let config = format!("[[site]]\n\n{block}");
        write(dir.path(), "usher.toml", &config);
        let checked = crate::support::check(&dir.path().join("usher.toml"));
        assert!(checked.is_ok(), "{config}\n{checked:?}");
    }
}

/// An upstream that says `Connection: close` but leaves the connection open: usher does
/// not send it another request (RFC 9112 §9.3), which it would never answer.
#[test]
fn a_connection_the_upstream_closes_is_not_reused() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for conn in upstream.incoming() {
            let Ok(mut conn) = conn else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                // Held open, never answering again, until usher closes it.
                while matches!(conn.read(&mut buf), Ok(1..)) {}
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let usher = proxy(
        dir.path(),
        "/",
        &format!(r#"upstreams = ["{upstream_addr}"], header-timeout = "3s""#),
    );
    for n in 0..3 {
        let (head, body) = exchange(
            usher.addrs[0],
            "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
        );
        assert_eq!(status(&head), 200, "request {n}: {head}");
        assert_eq!(unchunk(&head, &body), "ok");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
}
