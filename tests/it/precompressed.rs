//! Precompressed siblings (`--precompressed`, `files = { precompressed = true }`): a client
//! whose Accept-Encoding takes a coding gets `name.br`, `name.zst` or `name.gz`, encoded, with
//! the file's type and its own validators; every other client, and every route without the
//! option, gets the file itself.

use std::net::SocketAddr;

use crate::support::{exchange, head_value, start, write};

fn get(addr: SocketAddr, target: &str, fields: &str) -> (String, String) {
    exchange(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\n{fields}Connection: close\r\n\r\n"),
    )
}

fn site(dir: &std::path::Path) {
    write(dir, "app.js", "console.log('plain')");
    write(dir, "app.js.gz", "GZIP-BYTES");
    write(dir, "app.js.br", "BROTLI-BYTES");
    write(dir, "only-gz.css", "p{}");
    write(dir, "only-gz.css.gz", "GZ-CSS");
    write(dir, "lonely.txt", "no siblings");
}

#[test]
fn a_client_that_takes_a_coding_gets_the_sibling() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let p = start(&[
        dir.path().to_str().unwrap(),
        "-l",
        "127.0.0.1:0",
        "--precompressed",
    ]);
    let addr = p.addrs[0];

    let (plain, body) = get(addr, "/app.js", "");
    assert!(plain.starts_with("HTTP/1.1 200 "), "{plain}");
    assert_eq!(body, "console.log('plain')");
    assert_eq!(head_value(&plain, "content-encoding"), None);

    // Both codings taken alike: the smaller kind, br. The type stays the file's.
    let (head, body) = get(
        addr,
        "/app.js",
        "Accept-Encoding: gzip, deflate, br, zstd\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, "BROTLI-BYTES");
    assert_eq!(head_value(&head, "content-encoding"), Some("br"));
    assert_eq!(head_value(&head, "content-length"), Some("12"));
    assert!(
        head_value(&head, "content-type").is_some_and(|t| t.starts_with("text/javascript")),
        "{head}"
    );
    assert_eq!(head_value(&head, "vary"), Some("Accept-Encoding"));
    assert_eq!(head_value(&head, "content-location"), None);
    // Its own validator: a cache never takes one encoding's 304 for another's.
    let etag = head_value(&head, "etag").unwrap().to_owned();
    assert_ne!(Some(etag.as_str()), head_value(&plain, "etag"));
    let (head, body) = get(
        addr,
        "/app.js",
        &format!("Accept-Encoding: br\r\nIf-None-Match: {etag}\r\n"),
    );
    assert!(
        head.starts_with("HTTP/1.1 304 ") && body.is_empty(),
        "{head}"
    );
    assert_eq!(head_value(&head, "vary"), Some("Accept-Encoding"));

    // Weights decide; a refused coding is never sent; nothing taken: the file itself.
    let (head, body) = get(addr, "/app.js", "Accept-Encoding: br;q=0.5, gzip\r\n");
    assert_eq!(
        (head_value(&head, "content-encoding"), body.as_str()),
        (Some("gzip"), "GZIP-BYTES")
    );
    let (head, body) = get(addr, "/app.js", "Accept-Encoding: br;q=0, gzip;q=0\r\n");
    assert_eq!(
        (head_value(&head, "content-encoding"), body.as_str()),
        (None, "console.log('plain')")
    );
    let (head, body) = get(addr, "/only-gz.css", "Accept-Encoding: br, gzip;q=0.1\r\n");
    assert_eq!(
        (head_value(&head, "content-encoding"), body.as_str()),
        (Some("gzip"), "GZ-CSS")
    );
    let (head, body) = get(addr, "/lonely.txt", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(
        (head_value(&head, "content-encoding"), body.as_str()),
        (None, "no siblings")
    );

    // Ranges count bytes of the encoded form (RFC 9110 §14.1.2), and HEAD says what GET sends.
    let (head, body) = get(
        addr,
        "/app.js",
        "Accept-Encoding: gzip\r\nRange: bytes=0-3\r\n",
    );
    assert!(
        head.starts_with("HTTP/1.1 206 ") && body == "GZIP",
        "{head}\n{body}"
    );
    assert_eq!(head_value(&head, "content-range"), Some("bytes 0-3/10"));
    let (head, body) = exchange(
        addr,
        "HEAD /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert!(
        body.is_empty() && head_value(&head, "content-encoding") == Some("gzip"),
        "{head}"
    );

    // A plain request after the encoded ones still gets the file: nothing was remembered
    // across codings, neither by the cache nor by the express lane (the same request again).
    for _ in 0..3 {
        let (_, body) = get(addr, "/app.js", "");
        assert_eq!(body, "console.log('plain')");
        let (_, body) = get(addr, "/app.js", "Accept-Encoding: gzip\r\n");
        assert_eq!(body, "GZIP-BYTES");
    }
}

#[test]
fn without_the_option_siblings_are_only_files() {
    let dir = tempfile::tempdir().unwrap();
    site(dir.path());
    let p = start(&[dir.path().to_str().unwrap(), "-l", "127.0.0.1:0"]);
    let (head, body) = get(p.addrs[0], "/app.js", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(
        (head_value(&head, "content-encoding"), body.as_str()),
        (None, "console.log('plain')")
    );
    let (_, body) = get(p.addrs[0], "/app.js.gz", "");
    assert_eq!(body, "GZIP-BYTES");
}
