//! HTTP/1.0, HTTP/1.1 keep-alive and pipelining, h2c with prior knowledge, methods, HEAD,
//! and malformed requests, spoken with raw bytes, reqwest and curl.

use crate::support::{
    TestServer, client, curl, fields_but_date, h2_client, head_value, header, split_head, write,
};

async fn site() -> TestServer {
    TestServer::start(|root| {
        write(root, "a.txt", "alpha\n");
        write(root, "b.txt", "bravo!\n");
        write(root, "index.html", "<!doctype html><title>home</title>");
    })
    .await
}

#[tokio::test]
async fn http10_gets_an_answer_and_the_connection_closes() {
    let s = site().await;
    let out = tokio::task::spawn_blocking(move || s.raw_text("GET /a.txt HTTP/1.0\r\n\r\n"))
        .await
        .unwrap();
    // RFC 9110 §6.2: a server answers with the highest minor version it supports.
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nalpha\n"), "{out}");
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let s = site().await;
    let req = "GET /b.txt HTTP/1.1\r\nHost: t\r\n\r\n\
               HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n\
               GET /missing HTTP/1.1\r\nHost: t\r\n\r\n\
               GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let out = tokio::task::spawn_blocking(move || s.raw_text(req))
        .await
        .unwrap();
    let statuses: Vec<&str> = out
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &out[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404", "200"], "{out}");
    let bravo = out.find("bravo!").unwrap();
    let alpha = out.rfind("alpha\n").unwrap();
    assert!(bravo < alpha, "bodies in request order");
    assert_eq!(
        out.matches("alpha\n").count(),
        1,
        "HEAD sent no body: {out}"
    );
}

/// Large files go out with `sendfile`, their head corked with the first bytes: pipelined
/// between small answers (written from memory) and with a range of one, every answer
/// arrives whole, in order, framed by its Content-Length, and nothing is held back.
#[tokio::test]
async fn pipelined_large_files_and_small_answers_arrive_whole_in_order() {
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let file = big.clone();
    let s = TestServer::start(move |root| {
        write(root, "a.txt", "alpha\n");
        std::fs::write(root.join("big.txt"), &file).unwrap();
    })
    .await;
    let req = "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n\
               GET /big.txt HTTP/1.1\r\nHost: t\r\n\r\n\
               GET /big.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-200999\r\n\r\n\
               GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let out = tokio::task::spawn_blocking(move || s.raw(req.as_bytes()))
        .await
        .unwrap();
    let mut rest = &out[..];
    let mut answers = Vec::new();
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head")
            + 4;
        let head = String::from_utf8(rest[..end].to_vec()).unwrap();
        let length: usize = head_value(&head, "content-length")
            .unwrap()
            .parse()
            .unwrap();
        answers.push((head[9..12].to_owned(), rest[end..end + length].to_vec()));
        rest = &rest[end + length..];
    }
    let statuses: Vec<&str> = answers.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(statuses, ["200", "200", "206", "200"]);
    assert_eq!(answers[0].1, b"alpha\n");
    assert!(answers[1].1 == big, "the whole file");
    assert!(answers[2].1 == big[1000..201_000], "the range");
    assert_eq!(answers[3].1, b"alpha\n");
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let s = site().await;
    for _ in 0..20 {
        let r = s.get("/a.txt", &[]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "alpha\n");
    }
    let req = "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let out = tokio::task::spawn_blocking(move || s.raw_text(req))
        .await
        .unwrap();
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
}

#[tokio::test]
async fn h2c_prior_knowledge_with_reqwest() {
    let s = site().await;
    let r = h2_client().get(s.url("/a.txt")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("date"));
    assert_eq!(r.headers()["content-length"], "6");
    assert_eq!(r.text().await.unwrap(), "alpha\n");
    let head = h2_client().head(s.url("/b.txt")).send().await.unwrap();
    assert_eq!(head.headers()["content-length"], "7");
    assert_eq!(head.bytes().await.unwrap().len(), 0);
}

/// A file's answer from the cache (whose fields HTTP/1.x writes as rendered when the file was
/// cached) carries the same fields as the first, read from the disk, over either protocol;
/// so does a 304 the validators of the first.
#[tokio::test]
async fn a_cached_answer_has_the_fields_of_the_first() {
    let s = site().await;
    let fields = fields_but_date;
    for (protocol, client, path) in [
        ("HTTP/1.1", client(), "/a.txt"),
        ("HTTP/2", h2_client(), "/b.txt"),
    ] {
        let first = client.get(s.url(path)).send().await.unwrap();
        let second = client.get(s.url(path)).send().await.unwrap();
        let names: Vec<String> = fields(&first).into_iter().map(|(n, _)| n).collect();
        for name in ["etag", "last-modified", "content-type", "content-length"] {
            assert!(
                names.iter().any(|n| n == name),
                "{protocol}: {name} in {names:?}"
            );
        }
        assert_eq!(fields(&first), fields(&second), "{protocol}");
        // Revalidated: a 304 from the cache repeats the validators, and only them.
        let etag = first.headers()["etag"].clone();
        let revalidated = client
            .get(s.url(path))
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), 304, "{protocol}");
        let expected: Vec<(String, String)> = fields(&first)
            .into_iter()
            .filter(|(name, _)| ["etag", "last-modified", "server"].contains(&name.as_str()))
            .collect();
        assert_eq!(fields(&revalidated), expected, "{protocol}");
        assert_eq!(first.text().await.unwrap(), second.text().await.unwrap());
    }
}

#[tokio::test]
async fn h2c_prior_knowledge_with_curl() {
    let s = site().await;
    let out = curl(&["--http2-prior-knowledge", "-i", &s.url("/b.txt")]).await;
    assert!(out.ok, "{}", out.stderr);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/2 200"), "{text}");
    assert!(text.ends_with("bravo!\n"), "{text}");
    let missing = curl(&["--http2-prior-knowledge", "-i", &s.url("/nope")]).await;
    assert!(String::from_utf8_lossy(&missing.stdout).starts_with("HTTP/2 404"));
}

#[tokio::test]
async fn head_has_the_same_headers_as_get_and_no_body() {
    let s = site().await;
    let c = client();
    for path in ["/a.txt", "/", "/missing", "/%00"] {
        let get = s.get(path, &[]).await;
        let head = c.head(s.url(path)).send().await.unwrap();
        assert_eq!(get.status(), head.status(), "{path}");
        for name in [
            "content-type",
            "content-length",
            "etag",
            "last-modified",
            "vary",
        ] {
            assert_eq!(
                get.headers().get(name),
                head.headers().get(name),
                "{path} {name}"
            );
        }
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    let raw = tokio::task::spawn_blocking(move || {
        s.raw(b"HEAD /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    })
    .await
    .unwrap();
    let (head, body) = split_head(&raw);
    assert_eq!(head_value(&head, "content-length"), Some("6"), "{head}");
    assert!(body.is_empty());
}

#[tokio::test]
async fn options_answers_allow() {
    let s = site().await;
    let r = client()
        .request(reqwest::Method::OPTIONS, s.url("/a.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["allow"], "GET, HEAD, OPTIONS");
    // RFC 9110 §8.6: a 204 carries no Content-Length, on either protocol.
    assert!(r.headers().get("content-length").is_none());
    let h2 = h2_client()
        .request(reqwest::Method::OPTIONS, s.url("/a.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    assert_eq!(h2.status(), 204);
    assert_eq!(h2.headers()["allow"], "GET, HEAD, OPTIONS");
    assert!(h2.headers().get("content-length").is_none());
    // Over HTTP/2 the asterisk is the `:path` (RFC 9113 §8.3.1).
    let h2_star = curl(&[
        "--http2-prior-knowledge",
        "-i",
        "-X",
        "OPTIONS",
        "--request-target",
        "*",
        &s.url("/"),
    ])
    .await;
    let h2_star = String::from_utf8_lossy(&h2_star.stdout);
    assert!(h2_star.starts_with("HTTP/2 204"), "{h2_star}");
    assert!(h2_star.contains("allow: GET, HEAD, OPTIONS"), "{h2_star}");
    let star = tokio::task::spawn_blocking(move || {
        s.raw_text("OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(star.starts_with("HTTP/1.1 204"), "{star}");
    assert_eq!(head_value(&star, "allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(head_value(&star, "content-length"), None, "{star}");
}

#[tokio::test]
async fn known_methods_get_405_with_allow_and_unknown_ones_501() {
    let s = site().await;
    let c = client();
    for m in ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"] {
        let r = c
            .request(
                reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                s.url("/a.txt"),
            )
            .header("accept", "application/problem+json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{m}");
        assert_eq!(r.headers()["allow"], "GET, HEAD, OPTIONS");
        let body: serde_json::Value = r.json().await.unwrap();
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(m) && detail.contains("GET, HEAD, OPTIONS"),
            "{detail}"
        );
    }
    let r = c
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            s.url("/a.txt"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    let text = r.text().await.unwrap();
    assert!(text.contains("BREW"), "{text}");
    // The client's method is the whole cause: no request id pointing at a logged one.
    assert!(!text.contains("Request id"), "{text}");
}

/// A method a file would refuse, sent to a path that names nothing, gets the 404 a GET gets
/// (RFC 9110 §15.5.6: 405 is for a target resource that exists), suggestions and all.
#[tokio::test]
async fn a_refused_method_on_a_missing_path_is_404() {
    let s = site().await;
    let c = client();
    for m in ["POST", "PUT", "DELETE", "TRACE"] {
        let r = c
            .request(
                reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                s.url("/a.tx"),
            )
            .header("accept", "application/problem+json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{m}");
        assert!(r.headers().get("allow").is_none(), "{m}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["suggestions"][0], "/a.txt", "{m}: {body}");
    }
}

#[tokio::test]
async fn malformed_requests_get_400_not_a_hang() {
    let s = site().await;
    let addr = s.addr;
    let cases: [&[u8]; 4] = [
        b"GARBAGE\r\n\r\n",
        b"GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET /a.txt HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /a.txt HTTP/9.9\r\n\r\n",
    ];
    for case in cases {
        let out = tokio::task::spawn_blocking(move || crate::support::raw_exchange(addr, case))
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 400") || text.starts_with("HTTP/1.1 505") || text.is_empty(),
            "{:?} -> {text}",
            String::from_utf8_lossy(case)
        );
    }
}

#[tokio::test]
async fn targets_with_nul_or_invalid_utf8_are_400_with_an_explanation() {
    let s = site().await;
    for path in ["/a%00.txt", "/%ff%fe", "/%c0%ae%c0%ae/", "/bad%zz"] {
        let r = s.get(path, &[("accept", "text/plain")]).await;
        assert_eq!(r.status(), 400, "{path}");
        assert!(!r.text().await.unwrap().is_empty(), "{path}");
    }
}

#[tokio::test]
async fn oversized_heads_get_431_and_long_uris_414() {
    let s = site().await;
    let addr = s.addr;
    // One byte past the exact head limit, and past the target limit (within the head limit).
    let line = "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ";
    let big = format!(
        "{line}{}\r\n\r\n",
        "a".repeat(usher::server::MAX_HEAD_BYTES + 1 - line.len() - 4)
    );
    assert_eq!(big.len(), usher::server::MAX_HEAD_BYTES + 1);
    let many: String = (0..usher::server::MAX_HEADERS + 1)
        .map(|i| format!("X-H{i}: v\r\n"))
        .collect();
    let many = format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n");
    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(usher::server::MAX_TARGET_BYTES)
    );
    let head_limit = usher::server::MAX_HEAD_BYTES.to_string();
    let field_limit = usher::server::MAX_HEADERS.to_string();
    let target_limit = usher::server::MAX_TARGET_BYTES.to_string();
    for (req, status, limit) in [
        (big, "431", head_limit),
        (many, "431", field_limit),
        (long_uri, "414", target_limit),
    ] {
        let out = tokio::task::spawn_blocking(move || {
            String::from_utf8_lossy(&exchange_until_reset(addr, req.as_bytes())).into_owned()
        })
        .await
        .unwrap();
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status} ")),
            "{}",
            &out[..out.len().min(200)]
        );
        // The refusal explains itself, and the connection is not kept.
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(body.contains(&limit), "{body}");
    }
}

/// Like `support::raw_exchange`, but for a request the server refuses before reading it all:
/// usher answers and closes with the rest unread (after lingering briefly), so the kernel may
/// reset the connection, which can fail the write, the half-close or a read after the answer
/// has arrived. Returns what was read.
fn exchange_until_reset(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[tokio::test]
async fn every_answer_names_the_server_and_has_a_date() {
    let s = site().await;
    for path in ["/a.txt", "/missing"] {
        let r = s.get(path, &[]).await;
        assert_eq!(r.headers()["server"], "usher");
        let date = header(&r, "date");
        assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    }
}

/// RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, for more than one Host, and for an
/// invalid Host; each with an explanation. HTTP/1.0 without Host and an empty Host stay fine.
#[tokio::test]
async fn host_header_is_required_once_and_valid_in_http11() {
    let s = site().await;
    let addr = s.addr;
    let cases: [(&str, &str); 9] = [
        ("GET /a.txt HTTP/1.1\r\nAccept: text/plain\r\n\r\n", "400"),
        ("OPTIONS * HTTP/1.1\r\nAccept: text/plain\r\n\r\n", "400"),
        (
            "GET http://t/a.txt HTTP/1.1\r\nAccept: text/plain\r\n\r\n",
            "400",
        ),
        (
            "GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\nAccept: text/plain\r\n\r\n",
            "400",
        ),
        (
            "GET /a.txt HTTP/1.1\r\nHost: a b/c\r\nAccept: text/plain\r\n\r\n",
            "400",
        ),
        (
            "GET /a.txt HTTP/1.1\r\nHost: u@t\r\nAccept: text/plain\r\n\r\n",
            "400",
        ),
        ("GET /a.txt HTTP/1.0\r\n\r\n", "200"),
        // Empty: an http URI has a host (RFC 9110 §4.2.1).
        ("GET /a.txt HTTP/1.1\r\nHost:\r\n\r\n", "400"),
        ("GET /a.txt HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "200"),
    ];
    for (req, status) in cases {
        let req = req.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
        let out =
            tokio::task::spawn_blocking(move || crate::support::raw_exchange(addr, req.as_bytes()))
                .await
                .unwrap();
        let (head, body) = split_head(&out);
        assert_eq!(&head[9..12], status, "{head}");
        if status == "400" {
            let body = String::from_utf8_lossy(body);
            assert!(body.contains("Host"), "explained: {body}");
        }
    }
    // h2 carries the authority in :authority; no Host field is needed there.
    let r = h2_client().get(s.url("/a.txt")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// CONNECT in authority-form has no path: its 405 must not name an empty one.
#[tokio::test]
async fn connect_authority_form_is_405_without_an_empty_path() {
    let s = site().await;
    let out = tokio::task::spawn_blocking(move || {
        s.raw_text("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nAccept: text/plain\r\nConnection: close\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    assert!(!out.contains(" on ."), "{out}");
}

/// HTTP/2 requests meet HTTP/1.1's limits: 100 fields (cookie crumbs not counted), a 16 KiB
/// target, and an `:authority` that is a valid host with no user information (RFC 9113
/// §8.3.1).
#[tokio::test]
async fn http2_requests_meet_the_http1_limits() {
    let s = site().await;
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let authority = s.addr.to_string();
    // The status and the body of the answer to a GET of `uri` with `fields`.
    let ask = |uri: String, fields: Vec<(String, String)>| {
        let client = client.clone();
        async move {
            let mut request = http::Request::get(uri).header("accept", "text/plain");
            for (name, value) in fields {
                request = request.header(name, value);
            }
            let mut client = client.ready().await.unwrap();
            let (answer, _) = client
                .send_request(request.body(()).unwrap(), true)
                .unwrap();
            let answer = answer.await.unwrap();
            let status = answer.status().as_u16();
            let mut body = answer.into_body();
            let mut text = Vec::new();
            while let Some(chunk) = body.data().await {
                text.extend_from_slice(&chunk.unwrap());
            }
            (status, String::from_utf8_lossy(&text).into_owned())
        }
    };
    let url = |path: &str| format!("http://{authority}{path}");
    let many = |n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("x-f{i}"), "v".to_owned()))
            .collect()
    };
    assert_eq!(ask(url("/a.txt"), many(95)).await.0, 200);
    assert_eq!(ask(url("/a.txt"), many(101)).await.0, 431);
    // Cookie crumbs are one field split up (RFC 9113 §8.2.3): not counted.
    let mut crumbs = many(95);
    crumbs.extend((0..30).map(|i| ("cookie".to_owned(), format!("c{i}=1"))));
    assert_eq!(ask(url("/a.txt"), crumbs).await.0, 200);
    let long = format!("/a.txt?{}", "q".repeat(16 * 1024));
    assert_eq!(ask(url(&long), Vec::new()).await.0, 414);
    // A head past 64 KiB: usher's 431, which says why (hyper's own has no body).
    let big = vec![("x-big".to_owned(), "b".repeat(70 * 1024))];
    let (status, body) = ask(url("/a.txt"), big).await;
    assert_eq!(status, 431, "{body}");
    assert!(body.contains("exceed"), "{body}");
    let fits = vec![("x-big".to_owned(), "b".repeat(60 * 1024))];
    let (status, _) = ask(url("/a.txt"), fits).await;
    assert_eq!(status, 200);
    for bad in ["user@127.0.0.1", "u:p@127.0.0.1", "127.0.0.1:abc"] {
        assert_eq!(
            ask(format!("http://{bad}/a.txt"), Vec::new()).await.0,
            400,
            "{bad}"
        );
    }
}
