//! usher's own HTTP/1.1 path: request content it does not need, 100-continue, framing
//! refusals, h2c hand-off, zero-copy downloads, and connections that stay usable.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{TestServer, curl, read_some, write};

async fn site() -> TestServer {
    TestServer::start(|root| {
        write(root, "a.txt", "alpha\n");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        write(root, "big.bin", big);
    })
    .await
}

fn statuses(out: &str) -> Vec<&str> {
    out.match_indices("HTTP/1.1 ")
        .map(|(i, _)| &out[i + 9..i + 12])
        .collect()
}

/// Content sent with a request the handler does not read (a GET with a body, a POST to a
/// file) is read past, so the next pipelined request on the connection is still answered.
#[tokio::test]
async fn unread_content_is_skipped_and_the_connection_goes_on() {
    let s = site().await;
    let req = "GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
               POST /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
               3\r\nabc\r\n0\r\n\r\n\
               GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let out = tokio::task::spawn_blocking(move || s.raw_text(req))
        .await
        .unwrap();
    assert_eq!(statuses(&out), ["200", "405", "200"], "{out}");
    assert_eq!(out.matches("alpha\n").count(), 2, "{out}");
}

/// Content past the discard limit is not read: the answer says the connection closes.
#[tokio::test]
async fn large_unread_content_closes_the_connection_after_the_answer() {
    let s = site().await;
    let addr = s.addr;
    let out = tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = "POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n";
        c.write_all(head.as_bytes()).unwrap();
        // Send well past the limit; the server may stop reading (and reset) at any point.
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..40 {
            if c.write_all(&chunk).is_err() {
                break;
            }
        }
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    let head = out.split("\r\n\r\n").next().unwrap_or_default();
    assert!(out.starts_with("HTTP/1.1 405 "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{head}"
    );
}

/// Content within the discard limit is read past, and the answer does not announce a close.
#[tokio::test]
async fn small_unread_content_keeps_the_connection() {
    let s = site().await;
    let req = "POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n".to_owned()
        + &"x".repeat(100_000)
        + "GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let out = tokio::task::spawn_blocking(move || s.raw_text(&req))
        .await
        .unwrap();
    assert_eq!(statuses(&out), ["405", "200"], "{out}");
    let first = out.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        !first.to_ascii_lowercase().contains("connection:"),
        "{first}"
    );
}

/// A handler that answers without wanting the content never triggers `100 Continue`; the
/// client, which may or may not send its content, gets the final answer and a close.
#[tokio::test]
async fn expect_continue_without_reading_gets_the_final_answer_and_close() {
    let s = site().await;
    let addr = s.addr;
    let out = tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(
            b"PUT /a.txt HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    assert!(out.starts_with("HTTP/1.1 405 "), "{out}");
    assert!(!out.contains("100 Continue"), "{out}");
    assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
}

/// Ambiguous framing is refused with an explanation before anything is dispatched, and the
/// connection is closed (its next request cannot be found reliably).
#[tokio::test]
async fn smuggling_shapes_get_a_400_problem_and_a_close() {
    let s = site().await;
    for (framing, status) in [
        ("Content-Length: 3\r\nTransfer-Encoding: chunked", "400"),
        ("Content-Length: 3\r\nContent-Length: 4", "400"),
        ("Transfer-Encoding: gzip, chunked", "501"),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            "400",
        ),
    ] {
        let req = format!(
            "POST /a.txt HTTP/1.1\r\nHost: t\r\nAccept: application/problem+json\r\n{framing}\r\n\r\n\
             0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        );
        let addr = s.addr;
        let out = tokio::task::spawn_blocking(move || {
            String::from_utf8_lossy(&crate::support::raw_exchange(addr, req.as_bytes()))
                .into_owned()
        })
        .await
        .unwrap();
        assert_eq!(statuses(&out), [status], "{framing}: {out}");
        assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
        assert!(out.contains("urn:usher:problem:"), "{out}");
    }
}

/// A chunked body with a bare LF line end is malformed: the handler never sees it as
/// complete, and the connection closes after the answer.
#[tokio::test]
async fn a_bare_lf_chunk_line_never_passes_as_a_boundary() {
    let s = site().await;
    let req = "POST /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
               3\nabc\r\n0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let out = tokio::task::spawn_blocking(move || s.raw_text(req))
        .await
        .unwrap();
    // The 405 was decided before the content; the smuggled GET is never answered.
    assert_eq!(statuses(&out), ["405"], "{out}");
}

/// A large file arrives whole and exact (sent with sendfile on this path), and the
/// connection carries another request afterwards.
#[tokio::test]
async fn a_large_file_then_another_request_on_the_same_connection() {
    let s = site().await;
    let addr = s.addr;
    let (first, second) = tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let read_answer = |c: &mut TcpStream, req: &str| {
            c.write_all(req.as_bytes()).unwrap();
            let mut head = Vec::new();
            let mut byte = [0];
            while !head.ends_with(b"\r\n\r\n") {
                c.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).unwrap();
            let len: usize = crate::support::head_value(&head, "content-length")
                .unwrap()
                .parse()
                .unwrap();
            let mut body = vec![0; len];
            c.read_exact(&mut body).unwrap();
            body
        };
        let first = read_answer(&mut c, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        let second = read_answer(
            &mut c,
            "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-1999,5000-5099\r\n\r\n",
        );
        (first, second)
    })
    .await
    .unwrap();
    let expected: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    assert!(first == expected, "the whole file, byte for byte");
    let text = String::from_utf8_lossy(&second);
    assert!(
        text.contains("Content-Range: bytes 1000-1999/3000000"),
        "{text}"
    );
    assert!(
        text.contains("Content-Range: bytes 5000-5099/3000000"),
        "{text}"
    );
}

/// curl's upload with `Expect: 100-continue` to a resource that refuses the method gets the
/// refusal without sending the upload, and exits promptly.
#[tokio::test]
async fn curl_upload_to_a_file_gets_405_promptly() {
    let s = site().await;
    let upload = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(upload.path(), vec![b'u'; 2 * 1024 * 1024]).unwrap();
    let out = curl(&[
        "--write-out",
        "%{http_code}",
        "--output",
        "/dev/null",
        "-T",
        upload.path().to_str().unwrap(),
        &s.url("/a.txt"),
    ])
    .await;
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "405");
}

/// An idle keep-alive connection stays open (and usable) until the idle limit, and many
/// idle ones do not stop new ones from being served.
#[tokio::test]
async fn idle_connections_stay_usable() {
    let s = site().await;
    let addr = s.addr;
    tokio::task::spawn_blocking(move || {
        let mut idle: Vec<TcpStream> = (0..50)
            .map(|_| {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
                    .unwrap();
                let mut buf = [0; 4096];
                let n = read_some(&mut c, &mut buf);
                assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
                c
            })
            .collect();
        for c in &mut idle {
            c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = Vec::new();
            c.read_to_end(&mut out).unwrap();
            assert!(
                out.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&out)
            );
            assert!(out.ends_with(b"alpha\n"));
        }
    })
    .await
    .unwrap();
}

/// Targets no client may send are refused with 400 and a reason, over a real connection: a
/// fragment (RFC 9112 §3.2), user information (RFC 9110 §4.2.4), a scheme other than http(s).
/// The same file by an absolute-form http target is served.
#[tokio::test]
async fn targets_with_fragments_userinfo_or_other_schemes_are_refused() {
    let s = site().await;
    let s = std::sync::Arc::new(s);
    for (target, reason) in [
        ("/a.txt#top", "fragment"),
        ("http://t/a.txt#top", "fragment"),
        ("http://user:pw@t/a.txt", "user information"),
        ("ftp://t/a.txt", "neither http nor https"),
    ] {
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: t\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
        );
        let server = std::sync::Arc::clone(&s);
        let out = tokio::task::spawn_blocking(move || server.raw_text(&req))
            .await
            .unwrap();
        assert_eq!(statuses(&out), ["400"], "{target}: {out}");
        assert!(out.contains(reason), "{target}: {out}");
    }
    let req = "GET http://t/a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let out = tokio::task::spawn_blocking(move || s.raw_text(req))
        .await
        .unwrap();
    assert_eq!(statuses(&out), ["200"], "{out}");
    assert!(out.ends_with("alpha\n"), "{out}");
}

/// A head refused before its fields could be read (431 for its size, 400 for obs-fold) is
/// still answered in the format its Accept asks for.
#[tokio::test]
async fn refused_heads_are_answered_in_the_format_asked_for() {
    let s = std::sync::Arc::new(site().await);
    let big = format!(
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\nX: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    let folded = "GET /a.txt HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\nX: a\r\n b\r\n\r\n"
        .to_owned();
    for (req, status) in [(big, "431"), (folded, "400")] {
        let server = std::sync::Arc::clone(&s);
        let out = tokio::task::spawn_blocking(move || server.raw_text(&req))
            .await
            .unwrap();
        assert_eq!(statuses(&out), [status], "{out}");
        let head = out.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/problem+json"),
            "{out}"
        );
    }
}
