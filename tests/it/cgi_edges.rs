//! CGI programs at the edges: a program that dies after its head has its answer cut, not
//! ended; the fields a program may not set; the fields of the request it is not given.

use std::io::Read as _;

use super::cgi::{get, send_get, site};
use crate::support::{head_value, split_head};

/// A program that writes its head and part of its answer, then ends as `end` says.
fn partial(end: &str) -> String {
    format!(
        "import os, signal, sys\n\
         sys.stdout.write('Content-Type: text/plain\\n\\npartial\\n')\n\
         sys.stdout.flush()\n{end}\n"
    )
}

/// An answer whose end only the last chunk tells is cut (no last chunk, the connection
/// closed) when its program is killed or exits with a failure status after its head: a
/// client or cache must not take it for whole (RFC 9112 §7.1). One that exits with success
/// is ended as usual.
#[test]
fn a_program_that_dies_after_its_head_has_its_answer_cut() {
    let (_dir, p) = site(&[
        (
            "killed.py",
            &partial("os.kill(os.getpid(), signal.SIGKILL)"),
        ),
        ("failed.py", &partial("sys.exit(3)")),
        ("fine.py", &partial("sys.exit(0)")),
    ]);
    for (script, whole) in [
        ("killed.py", false),
        ("failed.py", false),
        ("fine.py", true),
    ] {
        let mut s = send_get(p.addrs[0], &format!("/cgi-bin/{script}"));
        let mut got = Vec::new();
        // EOF, or a reset when the connection is cut.
        let _ = s.read_to_end(&mut got);
        let (head, body) = split_head(&got);
        assert!(head.starts_with("HTTP/1.1 200 "), "{script}: {head}");
        assert_eq!(head_value(&head, "transfer-encoding"), Some("chunked"));
        let body = String::from_utf8_lossy(body);
        assert!(body.starts_with("8\r\npartial\n\r\n"), "{script}: {body:?}");
        assert_eq!(body.ends_with("\r\n0\r\n\r\n"), whole, "{script}: {body:?}");
    }
    // What the program wrote before it died still arrived above; and the server goes on.
    assert!(get(p.addrs[0], "/a.txt").ends_with("alpha\n"));
}

/// Over HTTP/2 an answer that may have no content has none, whatever the program writes
/// after its head: to HEAD (with the GET's `Content-Length`), and a 204 or 304 (with no
/// `Content-Length`). DATA there would make the answer malformed (RFC 9113 §8.1.1): curl and
/// nghttp reset the stream.
#[tokio::test]
async fn over_http2_answers_that_have_no_content_carry_none() {
    let (_dir, p) = site(&[
        (
            "page.py",
            "import sys\nsys.stdout.write('Content-Type: text/plain\\nContent-Length: 6\\n\\nhello\\n')\n",
        ),
        (
            "streams.py",
            "import sys\nsys.stdout.write('Content-Type: text/plain\\n\\nhello\\n')\n",
        ),
        (
            "empty.py",
            "import sys\nsys.stdout.write('Status: 204\\nContent-Length: 6\\n\\nhello\\n')\n",
        ),
        (
            "same.py",
            "import sys\nsys.stdout.write('Status: 304\\nETag: \"a\"\\n\\nhello\\n')\n",
        ),
    ]);
    let addr = p.addrs[0];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let cases = [
        ("HEAD", "page.py", 200, Some("6")),
        ("HEAD", "streams.py", 200, None),
        ("GET", "empty.py", 204, None),
        ("GET", "same.py", 304, None),
    ];
    for (method, script, status, length) in cases {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://{addr}/cgi-bin/{script}"))
            .body(())
            .unwrap();
        let mut client = client.clone().ready().await.unwrap();
        let (answer, _) = client.send_request(request, true).unwrap();
        let answer = answer.await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{method} {script}");
        let fields = answer.headers();
        let stated = fields.get("content-length").map(|v| v.to_str().unwrap());
        assert_eq!(stated, length, "{method} {script}: {fields:?}");
        // The head ended the stream: no DATA follows.
        assert!(answer.body().is_end_stream(), "{method} {script}: content");
    }
    // And curl, which fails such an answer (exit 92), takes these.
    let url = format!("http://{addr}/cgi-bin/page.py");
    let out = crate::support::curl(&["--http2-prior-knowledge", "-I", &url]).await;
    assert!(out.ok, "{}", out.stderr);
    let url = format!("http://{addr}/cgi-bin/empty.py");
    let out = crate::support::curl(&["--http2-prior-knowledge", &url]).await;
    assert!(out.ok && out.stdout.is_empty(), "{}", out.stderr);
}

/// A program's 205 goes without its content (RFC 9110 §15.3.6: a length of 0 said), and its
/// 304 without the `Content-Length` it gave (§8.6), over HTTP/1.1 as over HTTP/2.
#[test]
fn a_programs_205_has_no_content_and_its_304_no_length() {
    let (_dir, p) = site(&[
        (
            "reset.py",
            "import sys\nsys.stdout.write('Status: 205\\nContent-Type: text/plain\\n\\nhello\\n')\n",
        ),
        (
            "same.py",
            "import sys\nsys.stdout.write('Status: 304\\nContent-Length: 5\\nETag: \"a\"\\n\\n')\n",
        ),
    ]);
    let reset = get(p.addrs[0], "/cgi-bin/reset.py");
    let (head, body) = split_head(reset.as_bytes());
    assert!(head.starts_with("HTTP/1.1 205 "), "{head}");
    assert_eq!(head_value(&head, "content-length"), Some("0"), "{head}");
    assert!(body.is_empty(), "{reset}");
    let same = get(p.addrs[0], "/cgi-bin/same.py");
    let (head, _) = split_head(same.as_bytes());
    assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
    assert_eq!(head_value(&head, "content-length"), None, "{head}");
    assert_eq!(head_value(&head, "etag"), Some("\"a\""), "{head}");
}
