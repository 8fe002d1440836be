//! The express lane (`server::h1::express`), end to end: a repeated request gets the first
//! answer's bytes, requests that differ in what decides the answer do not, a change on disk
//! is seen within the cache's bound, a reload at once, and pipelined repeats in order.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{IO_TIMEOUT, TestServer, head_value, read_some, start, write};

/// A keep-alive HTTP/1.1 connection that reads one answer at a time.
struct Conn {
    stream: TcpStream,
    /// Bytes read past the last answer.
    rest: Vec<u8>,
}

/// One answer: its head without the `Date` line (which changes each second), and its body.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn status(&self) -> &str {
        &self.head[9..12]
    }
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Conn {
            stream,
            rest: Vec::new(),
        }
    }

    /// Send `request` (a whole head) and read its answer; `head_only` for HEAD.
    fn ask(&mut self, request: &str, head_only: bool) -> Answer {
        self.stream.write_all(request.as_bytes()).unwrap();
        self.answer(head_only)
    }

    /// Read the next answer.
    fn answer(&mut self, head_only: bool) -> Answer {
        let end = loop {
            if let Some(at) = self.rest.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            self.fill();
        };
        let head = String::from_utf8(self.rest[..end].to_vec()).unwrap();
        let length: usize = match head_value(&head, "content-length") {
            Some(n) if !head_only && !head.starts_with("HTTP/1.1 304") => n.parse().unwrap(),
            _ => 0,
        };
        while self.rest.len() < end + length {
            self.fill();
        }
        let body = self.rest[end..end + length].to_vec();
        self.rest.drain(..end + length);
        let head = head
            .split("\r\n")
            .filter(|line| !line.starts_with("date: "))
            .collect::<Vec<_>>()
            .join("\r\n");
        Answer { head, body }
    }

    fn fill(&mut self) {
        let mut buf = [0u8; 64 * 1024];
        let n = read_some(&mut self.stream, &mut buf);
        assert!(n > 0, "the connection closed mid-answer: {:?}", self.rest);
        self.rest.extend_from_slice(&buf[..n]);
    }
}

/// A browser's request for a stylesheet, as Firefox sends it, with `extra` lines.
fn browser_get(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
         Accept: text/css,*/*;q=0.1\r\nAccept-Language: en-US,en;q=0.5\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\n\
         Referer: http://127.0.0.1/index.html\r\nSec-Fetch-Dest: style\r\n\
         Sec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\nPriority: u=2\r\n{extra}\r\n"
    )
}

/// Repeats of a 200 and of a remembered 404, on one connection and on another, get the
/// first answer's bytes (but for `Date`); requests that differ in what decides the answer
/// (method, Range, a validator, Accept, `Connection: close`) between them get their own.
#[tokio::test]
async fn a_repeat_gets_the_first_answers_bytes_and_a_different_request_its_own() {
    let s = TestServer::start(|root| {
        write(root, "site.css", "body { color: #123456 }\n");
        write(root, "a.txt", "plain a\n");
    })
    .await;
    let addr = s.addr;
    tokio::task::spawn_blocking(move || {
        let mut c = Conn::open(addr);
        let requests = [
            browser_get("/site.css", ""),
            "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            "GET /gone.txt HTTP/1.1\r\nHost: x\r\nAccept: application/problem+json\r\n\r\n"
                .to_owned(),
            browser_get("/gone.css", ""),
        ];
        let first: Vec<Answer> = requests.iter().map(|r| c.ask(r, false)).collect();
        assert_eq!(first[0].body, b"body { color: #123456 }\n");
        assert_eq!(first[2].status(), "404");
        assert!(
            first[2].head.contains("application/problem+json"),
            "{first:?}"
        );
        assert_eq!(first[3].status(), "404", "{:?}", first[3]);
        // The second answer comes from the cache entry the first made, written by the
        // connection's writer, and is the one the lane remembers: its fields are the first
        // answer's (their order may differ), and every repeat's bytes are its own.
        let second: Vec<Answer> = requests.iter().map(|r| c.ask(r, false)).collect();
        let lines = |a: &Answer| {
            let mut lines: Vec<String> = a.head.split("\r\n").map(str::to_owned).collect();
            lines.sort();
            (lines, a.body.clone())
        };
        for (one, two) in first.iter().zip(&second) {
            assert_eq!(lines(one), lines(two));
        }
        let mut other = Conn::open(addr);
        for round in 0..4 {
            for (request, expected) in requests.iter().zip(&second) {
                assert_eq!(&c.ask(request, false), expected, "round {round}: {request}");
                assert_eq!(&other.ask(request, false), expected, "round {round}");
            }
        }

        // Each of these differs from a repeated request in what decides its answer.
        let head = c.ask("HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", true);
        assert_eq!((head.status(), head.body.len()), ("200", 0), "{head:?}");
        assert!(head.head.contains("content-length: 8"), "{head:?}");
        let range = c.ask(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n",
            false,
        );
        assert_eq!((range.status(), &range.body[..]), ("206", &b"plain"[..]));
        let etag = head_value(&first[1].head, "etag").unwrap().to_owned();
        let revalidate = format!("GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n");
        let revalidated: Vec<Answer> = (0..4).map(|_| c.ask(&revalidate, false)).collect();
        assert_eq!(revalidated[0].status(), "304", "{revalidated:?}");
        assert!(
            !revalidated[0].head.contains("content-length"),
            "{revalidated:?}"
        );
        assert!(
            revalidated.iter().all(|a| *a == revalidated[1]),
            "{revalidated:?}"
        );
        let other_tag = revalidate.replace(&etag, "\"other\"");
        assert_eq!(
            c.ask(&other_tag, false),
            second[1],
            "a tag that does not match"
        );
        let refused = c.ask(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nAccept: image/png\r\n\r\n",
            false,
        );
        assert_eq!(refused.status(), "406", "{refused:?}");
        let as_text = c.ask("GET /gone.txt HTTP/1.1\r\nHost: x\r\n\r\n", false);
        assert!(as_text.head.contains("text/plain"), "{as_text:?}");
        let other_host = c.ask("GET /a.txt HTTP/1.1\r\nHost: bad host\r\n\r\n", false);
        assert_eq!(other_host.status(), "400", "{other_host:?}");
        let no_host = c.ask("GET /a.txt HTTP/1.1\r\n\r\n", false);
        assert_eq!(no_host.status(), "400", "{no_host:?}");
        // And the repeats still get theirs, up to a request that closes.
        assert_eq!(c.ask(&requests[1], false), first[1]);
        let last = c.ask(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            false,
        );
        assert!(last.head.contains("\r\nconnection: close"), "{last:?}");
        let mut after = [0u8; 16];
        assert_eq!(read_some(&mut c.stream, &mut after), 0, "open after close");
    })
    .await
    .unwrap();
}

/// Issue #3's bound holds through the lane: a file changed just after its entry was made is
/// served new to every request that starts once the bound has passed since the change, even
/// one repeated (and so remembered) in between.
#[tokio::test]
async fn a_change_is_seen_within_the_bound_through_the_lane() {
    let bound = Duration::from_millis(400);
    let s = TestServer::start_with(
        |root| write(root, "app.js", "let version = 1;"),
        |c| c.files.revalidate_after = bound,
    )
    .await;
    let addr = s.addr;
    let root = s.root.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = Conn::open(addr);
        let request = browser_get("/app.js", "");
        assert_eq!(c.ask(&request, false).body, b"let version = 1;");
        write(&root, "app.js", "let version = 2; // longer");
        let changed = Instant::now();
        // Halfway through the bound: answered (and remembered) from the entry made before the
        // change. A lane that counted its bound from here would serve this past the bound.
        std::thread::sleep(bound / 2);
        let mut saw_new = false;
        while changed.elapsed() < bound * 3 {
            let started = Instant::now();
            let body = c.ask(&request, false).body;
            if started.duration_since(changed) >= bound {
                assert_eq!(body, b"let version = 2; // longer", "stale past the bound");
                saw_new = true;
            } else {
                assert!(
                    body == b"let version = 1;" || body == b"let version = 2; // longer",
                    "{body:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(saw_new);
    })
    .await
    .unwrap();
}

/// Pipelined repeats, more than one batch of answers, come back complete and in order, with
/// the requests the lane does not take (HEAD) among them.
#[tokio::test]
async fn pipelined_repeats_are_answered_in_order() {
    // Sent with `sendfile` (over 32 KiB), repeated from an image of the whole answer.
    let big: Vec<u8> = (0..100 * 1024).map(|i| (i % 241) as u8).collect();
    let content = big.clone();
    let s = TestServer::start(move |root| {
        write(root, "a.txt", "aaaa");
        write(root, "b.txt", "b".repeat(3000));
        write(root, "c.bin", &content);
    })
    .await;
    let addr = s.addr;
    tokio::task::spawn_blocking(move || {
        const REQUESTS: usize = 1500;
        let kinds = [
            ("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200", 4, false),
            ("GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200", 3000, false),
            ("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", "404", 0, false),
            ("HEAD /b.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200", 0, true),
            (
                "GET /c.bin HTTP/1.1\r\nHost: x\r\n\r\n",
                "200",
                big.len(),
                false,
            ),
        ];
        let order: Vec<usize> = (0..REQUESTS)
            .map(|i| (i * 7 + i / 3) % kinds.len())
            .collect();
        let mut all = String::new();
        for &k in &order {
            all.push_str(kinds[k].0);
        }
        let mut c = Conn::open(addr);
        let mut writer = c.stream.try_clone().unwrap();
        // Written while the answers are read: neither side's buffers need hold it all.
        let sending = std::thread::spawn(move || writer.write_all(all.as_bytes()).unwrap());
        for (i, &k) in order.iter().enumerate() {
            let (request, status, length, head_only) = kinds[k];
            let answer = c.answer(head_only);
            assert_eq!(answer.status(), status, "answer {i} to {request}");
            if status == "200" {
                assert_eq!(answer.body.len(), length, "answer {i} to {request}");
            }
            if request.contains("c.bin") {
                assert!(answer.body == big, "answer {i} to {request}");
            }
        }
        sending.join().unwrap();
        assert!(c.rest.is_empty());
    })
    .await
    .unwrap();
}

/// A client that closes after each request (`Connection: close`, or HTTP/1.0 without
/// `keep-alive`) gets repeats as well, and its connection closes after each answer, cleanly,
/// a small file's and a large one's (sent with `sendfile`) alike; a request pipelined after
/// one that closes is not answered (RFC 9112 §9.6). HTTP/1.0 asking for `keep-alive` keeps
/// its connection, and is told so.
#[tokio::test]
async fn requests_that_close_get_repeats_and_their_connection_closes() {
    let s = TestServer::start(|root| {
        write(root, "a.txt", "plain a\n");
        write(root, "big.bin", "b".repeat(100 * 1024));
    })
    .await;
    let addr = s.addr;
    tokio::task::spawn_blocking(move || {
        // All the server sends on a new connection given `request`, up to its close; without
        // the `Date` line.
        let until_closed = |request: &str| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut all = Vec::new();
            stream.read_to_end(&mut all).expect("a clean close");
            String::from_utf8(all)
                .unwrap()
                .split("\r\n")
                .filter(|line| !line.starts_with("date: "))
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        for (path, length) in [("/a.txt", 8), ("/big.bin", 100 * 1024)] {
            for request in [
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n"),
            ] {
                let answers: Vec<String> = (0..4).map(|_| until_closed(&request)).collect();
                for answer in &answers {
                    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
                    assert!(head.starts_with("HTTP/1.1 200 OK"), "{request}: {head}");
                    assert!(head.contains("\r\nconnection: close"), "{request}: {head}");
                    assert_eq!(body.len(), length, "{request}: {head}");
                }
                // The first is the walk's; the others, from the cache and then the lane,
                // are one answer's bytes.
                assert!(answers[2..].iter().all(|a| *a == answers[1]), "{request}");
            }
        }
        let close = "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let all = until_closed(&format!("{close}GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(all.matches("HTTP/1.1 ").count(), 1, "{all}");

        let mut c = Conn::open(addr);
        let keep = "GET /a.txt HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
        let answers: Vec<Answer> = (0..4).map(|_| c.ask(keep, false)).collect();
        for answer in &answers {
            assert!(
                answer.head.contains("\r\nconnection: keep-alive"),
                "{answer:?}"
            );
            assert_eq!(answer.body, b"plain a\n");
        }
        assert!(answers[2..].iter().all(|a| *a == answers[1]));
    })
    .await
    .unwrap();
}

const SITE: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[[site]]
root = "one"

[[site.route]]
path = "/styled/"
files = {}
headers = { "X-Edition" = "first" }

[[site.route]]
path = "/"
files = {}
"#;

/// A reload is seen by the next request, also one the lane has an answer to; and a route's
/// header policy applies to every repeat.
#[test]
fn a_reload_and_route_policies_apply_to_repeats() {
    let dir = tempfile::tempdir().unwrap();
    for root in ["one", "two"] {
        write(
            dir.path(),
            &format!("{root}/page.txt"),
            format!("from {root}"),
        );
        write(
            dir.path(),
            &format!("{root}/styled/s.txt"),
            format!("styled {root}"),
        );
    }
    write(dir.path(), "usher.toml", SITE);
    let config = dir.path().join("usher.toml").display().to_string();
    let p = start(&["-c", &config]);
    let mut c = Conn::open(p.addrs[0]);
    let page = "GET /page.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    let styled = "GET /styled/s.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..4 {
        assert_eq!(c.ask(page, false).body, b"from one");
        let answer = c.ask(styled, false);
        assert_eq!(answer.body, b"styled one");
        assert!(answer.head.contains("\r\nx-edition: first"), "{answer:?}");
    }
    write(
        dir.path(),
        "usher.toml",
        SITE.replace("\"one\"", "\"two\"")
            .replace("\"first\"", "\"second\""),
    );
    p.signal("-HUP");
    p.wait_for_log("reloaded", IO_TIMEOUT)
        .expect("reload logged");
    for _ in 0..3 {
        assert_eq!(c.ask(page, false).body, b"from two");
        let answer = c.ask(styled, false);
        assert_eq!(answer.body, b"styled two");
        assert!(answer.head.contains("\r\nx-edition: second"), "{answer:?}");
    }
    let mut rest = Vec::new();
    c.stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let _ = c.stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "answers no request asked for: {rest:?}");
}

/// A file sent with `sendfile` (over 32 KiB) is repeated from the file kept open, checked
/// each time: a change in place, or a file cut short, is seen by the next request at once,
/// as without the lane.
#[tokio::test]
async fn a_file_sent_from_disk_is_checked_at_every_repeat() {
    let first: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    let content = first.clone();
    let s = TestServer::start(move |root| write(root, "big.bin", &content)).await;
    let (addr, root) = (s.addr, s.root.clone());
    tokio::task::spawn_blocking(move || {
        let mut c = Conn::open(addr);
        let request = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
        let answers: Vec<Answer> = (0..5).map(|_| c.ask(request, false)).collect();
        assert_eq!(answers[0].body, first);
        for answer in &answers[2..] {
            assert_eq!(answer, &answers[1]);
        }
        let second: Vec<u8> = first.iter().map(|b| b.wrapping_add(1)).collect();
        write(&root, "big.bin", &second);
        assert_eq!(c.ask(request, false).body, second, "a change in place");
        assert_eq!(c.ask(request, false).body, second);
        write(&root, "big.bin", &second[..40 * 1024]);
        assert_eq!(
            c.ask(request, false).body,
            &second[..40 * 1024],
            "cut short"
        );
    })
    .await
    .unwrap();
}

/// With each request logged (`RUST_LOG=usher::access=debug`), the lane stays closed: every
/// repeat is logged too.
#[test]
fn with_access_logs_every_repeat_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "page.txt", "logged");
    let mut cmd = crate::support::usher();
    cmd.env("RUST_LOG", "usher::access=debug").args([
        "serve",
        dir.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let p = crate::support::start_command(cmd);
    let mut c = Conn::open(p.addrs[0]);
    const REPEATS: usize = 5;
    for _ in 0..REPEATS {
        assert_eq!(
            c.ask("GET /page.txt HTTP/1.1\r\nHost: x\r\n\r\n", false)
                .body,
            b"logged"
        );
    }
    let mut logged = 0;
    let deadline = Instant::now() + IO_TIMEOUT;
    while logged < REPEATS {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = p
            .log
            .recv_timeout(left)
            .expect("an access line for each request");
        logged += usize::from(line.contains("usher::access") && line.contains("/page.txt"));
    }
}
