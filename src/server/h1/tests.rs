//! The connection loop driven by scripted handlers over a real socket: what handlers may do
//! with their request body (drop it, read it late, read it from the response body), timeouts
//! on content, answers held back for pipelining, and protocol switches (101).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use http::StatusCode;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;

/// Longest any step of these tests may take.
const LIMIT: Duration = Duration::from_secs(5);

/// A connection served by `handler` with `timeout` as the head and content timeout; the
/// client end, and the outcome of serving the other. The server runs on a thread and
/// runtime of its own, so a server that never yields cannot stop the client's timeouts.
async fn connect<H, F>(
    handler: H,
    timeout: Duration,
) -> (
    tokio::net::TcpStream,
    tokio::sync::oneshot::Receiver<std::io::Result<()>>,
)
where
    H: Fn(Request<RequestBody>) -> F + Send + 'static,
    F: Future<Output = Response<ResponseBody>>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    on_own_runtime(move || async move {
        let served = async {
            let server = Socket::new(server);
            let (_stop_tx, stop) = watch::channel(false);
            match serve_with(server, timeout, stop, ConnLink::default(), None, handler).await? {
                Outcome::Switched(tunnel) => tunnel.await,
                Outcome::Closed | Outcome::H2(..) => {}
            }
            // Tasks the handlers spawned and the connection's end woke run before the
            // runtime goes, as they would in the server, whose runtime outlives connections.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            Ok::<_, std::io::Error>(())
        };
        let _ = done_tx.send(served.await);
    });
    (client, done)
}

/// Run the future `make` makes on a thread and current-thread runtime of its own (the
/// handlers' futures need not be `Send`).
fn on_own_runtime<F: Future<Output = ()>>(make: impl FnOnce() -> F + Send + 'static) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(make());
    });
}

/// Read until the server closes, failing the test past [`LIMIT`].
async fn read_to_close(client: &mut tokio::net::TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(LIMIT, client.read_to_end(&mut out))
        .await
        .expect("the server closes in time")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

fn text(status: StatusCode, body: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response
}

/// A handler that drops its body unread and then takes a while: the feed has nothing left
/// to do and must not be run again and again meanwhile (it returned at once each time, a
/// busy loop that polled the handler thousands of times).
#[tokio::test]
async fn a_body_dropped_unread_is_not_fed_in_a_busy_loop() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let handler = move |request: Request<RequestBody>| {
        let polls = counted.clone();
        let mut answer = Box::pin(async move {
            drop(request);
            tokio::time::sleep(Duration::from_millis(200)).await;
            text(StatusCode::OK, "ok")
        });
        std::future::poll_fn(move |cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            answer.as_mut().poll(cx)
        })
    };
    let (mut client, _task) = connect(handler, LIMIT).await;
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        .await
        .unwrap();
    let out = read_to_close(&mut client).await;
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    let polls = polls.load(Ordering::Relaxed);
    assert!(polls < 20, "the handler was polled {polls} times");
}

/// A handler that answers at once with a response body that reads the request body (an
/// echo): the content must still be fed while the answer is written, though nobody had
/// asked for it when the answer began.
#[tokio::test]
async fn a_response_body_may_be_what_reads_the_request_body() {
    let handler = |request: Request<RequestBody>| async move {
        Response::new(ResponseBody::stream(request.into_body()))
    };
    let (mut client, _task) = connect(handler, LIMIT).await;
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        .await
        .unwrap();
    let out = read_to_close(&mut client).await;
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(out.ends_with("\r\n\r\nhello"), "{out}");
}

/// A client that stops sending content a handler is reading is cut off after the timeout
/// (slowloris on content): the handler sees an error, and the connection closes.
#[tokio::test]
async fn content_that_stops_arriving_times_out() {
    let handler = |request: Request<RequestBody>| async move {
        match request.into_body().collect().await {
            Ok(_) => text(StatusCode::OK, "all of it"),
            Err(_) => text(StatusCode::REQUEST_TIMEOUT, "cut off"),
        }
    };
    let (mut client, task) = connect(handler, Duration::from_millis(300)).await;
    client
        .write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let out = read_to_close(&mut client).await;
    assert!(out.starts_with("HTTP/1.1 408 "), "{out}");
    assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
    tokio::time::timeout(LIMIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Answers held back to be written with the next pipelined one go out on their own when
/// the next handler takes long: the client must not wait on a request it sent later.
#[tokio::test]
async fn held_back_answers_do_not_wait_for_a_slow_handler() {
    let release = Arc::new(tokio::sync::Notify::new());
    let released = release.clone();
    let handler = move |request: Request<RequestBody>| {
        let released = released.clone();
        async move {
            if request.uri().path() == "/slow" {
                released.notified().await;
            }
            text(StatusCode::OK, "done")
        }
    };
    let (mut client, _task) = connect(handler, LIMIT).await;
    client
        .write_all(b"GET /fast HTTP/1.1\r\n\r\nGET /slow HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0; 1024];
    let n = tokio::time::timeout(LIMIT, client.read(&mut first))
        .await
        .expect("the first answer arrives while the second request is in progress")
        .unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200 "));
    release.notify_one();
    let rest = read_to_close(&mut client).await;
    assert!(
        rest.contains("HTTP/1.1 200 ") && rest.ends_with("done"),
        "{rest}"
    );
}

/// `Expect: 100-continue` and a handler that drops the body unread, then answers later:
/// the client never got 100 and may not send its content, so the connection closes.
#[tokio::test]
async fn expect_continue_with_a_body_dropped_unread_closes() {
    let handler = |request: Request<RequestBody>| async move {
        drop(request);
        tokio::time::sleep(Duration::from_millis(50)).await;
        text(StatusCode::OK, "ok")
    };
    // Longer than the client waits: a discard of content that never comes must not be
    // what ends the connection.
    let (mut client, _task) = connect(handler, LIMIT * 4).await;
    client
        .write_all(b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        .await
        .unwrap();
    let out = read_to_close(&mut client).await;
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(!out.contains("100 Continue"), "{out}");
    assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
}

/// A response that says `Connection: close` itself closes the connection (RFC 9112 §9.6).
#[tokio::test]
async fn a_handler_close_option_closes_the_connection() {
    let handler = |_request: Request<RequestBody>| async move {
        let mut response = text(StatusCode::OK, "bye");
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        response
    };
    let (mut client, _task) = connect(handler, LIMIT).await;
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let out = read_to_close(&mut client).await;
    assert!(
        out.starts_with("HTTP/1.1 200 ") && out.ends_with("bye"),
        "{out}"
    );
}

/// The parse trigger: only a new line end (of the request line, or of the head) or the
/// size limit can change the parser's answer.
#[test]
fn heads_are_parsed_again_only_when_that_can_progress() {
    assert!(may_progress(b"GET / HTTP/1.1\r\n", 0));
    assert!(!may_progress(b"GET / HTTP/1.1\r\nHost: t", 16));
    assert!(!may_progress(b"GET / HTTP/1.1\r\nHost: t\r\n", 16));
    assert!(may_progress(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 25));
    assert!(may_progress(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", 24));
    assert!(may_progress(b"GET / HTTP/1.1\nHost: t\n\n", 23));
    assert!(!may_progress(b"GET / HTTP/1.1\r\n", 16));
    let big = vec![b'a'; head::MAX_HEAD_BYTES + 1];
    assert!(may_progress(&big, head::MAX_HEAD_BYTES));
    // The stateful trigger agrees with parsing after every byte, for any split.
    let raw = b"\r\nGET /x HTTP/1.1\r\nA: b\r\nC: d\r\n\r\nGET /next";
    let mut buf = BytesMut::new();
    let mut seen = 0;
    let mut found = None;
    for (i, byte) in raw.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        let eager = head::parse(&mut buf.clone()).unwrap().is_some();
        if may_progress(&buf, seen) {
            seen = buf.len();
            if head::parse(&mut buf.clone()).unwrap().is_some() {
                found.get_or_insert(i);
            }
        }
        if eager {
            assert_eq!(found, Some(i), "found late");
            break;
        }
    }
}

/// Answers 101 with `Upgrade: echo` whatever the request, and, when the request offered a
/// switch, echoes the switched connection's bytes back.
async fn echo(request: Request<RequestBody>) -> Response<ResponseBody> {
    let (parts, _body) = request.into_parts();
    if let Some(on_upgrade) = upgrade::OnUpgrade::take(&parts) {
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let (mut from, mut to) = tokio::io::split(upgraded);
            let _ = tokio::io::copy(&mut from, &mut to).await;
        });
    }
    let mut response = text(StatusCode::SWITCHING_PROTOCOLS, "");
    response.headers_mut().insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("echo"),
    );
    response
}

/// Read up to the end of a response head: the head, and what came after it.
async fn read_head(client: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = got.split_off(end + 4);
            return (String::from_utf8_lossy(&got).into_owned(), rest);
        }
        let mut buf = [0; 1024];
        let n = tokio::time::timeout(LIMIT, client.read(&mut buf))
            .await
            .expect("a head in time")
            .unwrap();
        assert!(n > 0, "closed before a whole head: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// Read exactly `n` bytes (after `already`, bytes read before).
async fn read_n(client: &mut tokio::net::TcpStream, mut already: Vec<u8>, n: usize) -> Vec<u8> {
    let start = already.len();
    already.resize(n.max(start), 0);
    tokio::time::timeout(LIMIT, client.read_exact(&mut already[start..]))
        .await
        .expect("bytes in time")
        .unwrap();
    already
}

const OFFER: &str = "Upgrade: echo\r\nConnection: Upgrade\r\n";

/// The client's first bytes of the new protocol, sent in the same write as the head, reach
/// the handler first (they were already read with the head); the 101 has no framing fields;
/// the connection's task ends once the tunnel does.
#[tokio::test]
async fn a_101_hands_the_connection_over_with_the_bytes_behind_the_head() {
    let (mut client, done) = connect(echo, LIMIT).await;
    client
        .write_all(format!("GET /chat HTTP/1.1\r\nHost: t\r\n{OFFER}\r\nearly").as_bytes())
        .await
        .unwrap();
    let (head, rest) = read_head(&mut client).await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nupgrade: echo\r\n"), "{head}");
    assert!(lower.contains("\r\nconnection: upgrade\r\n"), "{head}");
    assert!(!lower.contains("content-length") && !lower.contains("transfer-encoding"));
    assert_eq!(read_n(&mut client, rest, 5).await, b"early");
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let echoed = read_n(&mut client, Vec::new(), 18).await;
    assert_eq!(echoed, b"GET / HTTP/1.1\r\n\r\n", "tunnelled, not parsed");
    client.shutdown().await.unwrap();
    assert_eq!(read_to_close(&mut client).await, "");
    let served = tokio::time::timeout(LIMIT, done).await.expect("ends");
    assert!(matches!(served, Ok(Ok(()))), "{served:?}");
}

/// RFC 9110 §7.8: the new protocol starts after the request's content. Content the handler
/// did not read is read past; with 100-continue, the 100 comes before the 101.
#[tokio::test]
async fn a_switch_waits_for_the_request_content() {
    let (mut client, _done) = connect(echo, LIMIT).await;
    client
        .write_all(
            format!("POST / HTTP/1.1\r\nHost: t\r\n{OFFER}Content-Length: 5\r\n\r\nhelloearly")
                .as_bytes(),
        )
        .await
        .unwrap();
    let (head, rest) = read_head(&mut client).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(read_n(&mut client, rest, 5).await, b"early");

    let (mut client, _done) = connect(echo, LIMIT).await;
    client
        .write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: t\r\n{OFFER}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (head, rest) = read_head(&mut client).await;
    assert_eq!(head, "HTTP/1.1 100 Continue\r\n\r\n");
    assert!(rest.is_empty(), "nothing before the content: {rest:?}");
    client.write_all(b"hellolate").await.unwrap();
    let (head, rest) = read_head(&mut client).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(read_n(&mut client, rest, 4).await, b"late");
}

/// A handler that takes the switch but answers otherwise: it learns that the connection did
/// not switch, and the connection goes on with HTTP.
#[tokio::test]
async fn an_offer_answered_otherwise_keeps_the_connection_http() {
    let (report, reported) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |request: Request<RequestBody>| {
        let report = report.clone();
        async move {
            let (parts, _body) = request.into_parts();
            if let Some(on_upgrade) = upgrade::OnUpgrade::take(&parts) {
                tokio::spawn(async move {
                    let _ = report.send(on_upgrade.await.map(drop).map_err(|e| e.to_string()));
                });
            }
            text(StatusCode::OK, "plain")
        }
    };
    let (mut client, _done) = connect(handler, LIMIT).await;
    client
        .write_all(
            format!(
                "GET /a HTTP/1.1\r\nHost: t\r\n{OFFER}\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let out = read_to_close(&mut client).await;
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{out}");
    let mut reported = reported;
    let result = tokio::time::timeout(LIMIT, reported.recv()).await.unwrap();
    assert_eq!(
        result,
        Some(Err("the connection did not switch protocols".to_owned()))
    );
}

/// A 101 that must not switch becomes a 502, and the connection stays HTTP: to a request
/// that offered nothing (RFC 9110 §15.2.2), or HTTP/1.0 whose Upgrade is ignored (§7.8,
/// and §15.2: no 1xx to an HTTP/1.0 client); naming a protocol not offered (§7.8); or with
/// no handler waiting to take the connection.
#[tokio::test]
async fn a_101_that_may_not_switch_is_a_502() {
    let not_taken = |_request: Request<RequestBody>| async move {
        let mut response = text(StatusCode::SWITCHING_PROTOCOLS, "");
        response.headers_mut().insert(
            http::header::UPGRADE,
            http::HeaderValue::from_static("echo"),
        );
        response
    };
    let offers_other = "Upgrade: websocket\r\nConnection: upgrade\r\n";
    let cases: [(&str, &str, bool); 4] = [
        ("HTTP/1.1", "", true),
        ("HTTP/1.0", OFFER, true),
        ("HTTP/1.1", offers_other, true),
        ("HTTP/1.1", OFFER, false),
    ];
    for (version, fields, taken) in cases {
        let request = format!(
            "GET / {version}\r\nHost: t\r\n{fields}\r\nGET /next HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        let (mut client, _done) = if taken {
            connect(echo, LIMIT).await
        } else {
            connect(not_taken, LIMIT).await
        };
        client.write_all(request.as_bytes()).await.unwrap();
        let out = read_to_close(&mut client).await;
        let case = format!("{version} {fields:?} taken: {taken}");
        assert!(
            out.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
            "{case}: {out}"
        );
        assert!(!out.contains(" 101 "), "{case}: {out}");
        if version == "HTTP/1.1" {
            // The connection went on to the next request (which this handler answers with
            // a 502 again, for want of an offer).
            assert_eq!(out.matches("HTTP/1.1 502 ").count(), 2, "{case}: {out}");
        }
    }
}

/// A client that asked to close, and sent nothing else, gets its answer and a close at once:
/// the connection does not linger waiting for the client's own close (RFC 9112 §9.6: it
/// sends no more requests), here while the client keeps its end open.
#[tokio::test]
async fn a_client_that_asked_to_close_is_closed_at_once() {
    let (mut client, done) = connect(|_| async { text(StatusCode::OK, "bye") }, LIMIT).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let out = read_to_close(&mut client).await;
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("bye"),
        "{out}"
    );
    // `linger` would wait up to 2 s for the client's close, which never comes here.
    let served = tokio::time::timeout(Duration::from_secs(1), done).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
    drop(client);
}

/// Bytes sent after a request that asked to close (a client breaking RFC 9112 §9.6) make the
/// connection linger instead: closing with them unread would reset it, and a reset destroys
/// what the client has not read yet. Here they arrive while the answer is being made, and the
/// client reads a large answer after them: it still gets all of it.
#[tokio::test]
async fn bytes_after_a_close_request_make_the_connection_linger() {
    const BIG: usize = 4 << 20;
    // The handler says when it has the request (the head was read alone), then waits until
    // the client has sent more.
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    let signals = std::sync::Mutex::new(Some((started_tx, sent_rx)));
    let handler = move |_| {
        let signals = signals.lock().unwrap().take();
        async move {
            if let Some((started, sent)) = signals {
                let _ = started.send(());
                let _ = sent.await;
            }
            Response::new(ResponseBody::full(vec![b'x'; BIG]))
        }
    };
    let (mut client, done) = connect(handler, LIMIT).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(LIMIT, started).await.unwrap().unwrap();
    client.write_all(b"GET /more HTTP/1.1\r\n").await.unwrap();
    sent_tx.send(()).unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(LIMIT, client.read_to_end(&mut out))
        .await
        .expect("the answer ends")
        .expect("no reset");
    let body_at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(out.len() - body_at, BIG);
    drop(client);
    let served = tokio::time::timeout(LIMIT, done).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
}

/// The idle limit counts from each request, not from the connection's first: the one timer
/// a connection keeps fires at the first request's deadline, finds a later request, and
/// waits again. Requests 0.6 s apart with a 1 s limit keep the connection open past 1 s;
/// idling past the limit then closes it.
#[tokio::test]
async fn the_idle_limit_counts_from_the_latest_request() {
    let (mut client, done) = connect(
        |_| async { text(StatusCode::OK, "ok") },
        Duration::from_secs(1),
    )
    .await;
    for _ in 0..3 {
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let (head, rest) = read_head(&mut client).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(read_n(&mut client, rest, 2).await, b"ok");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    // 1.8 s after the first request, 0.6 s after the last: then closed at about 2.2 s.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(LIMIT, client.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?} {rest:?}");
    let served = tokio::time::timeout(LIMIT, done).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
}

/// Connections accepted one after another and served on one runtime thread, whose express
/// lane they share (the lane's table is per thread), with the lane open; the address. The
/// head timeout is far past [`LIMIT`]: a connection left open fails [`read_to_close`].
fn serve_in_turn<H, F>(handler: H, connections: usize) -> std::net::SocketAddr
where
    H: Fn(Request<RequestBody>) -> F + Send + 'static,
    F: Future<Output = Response<ResponseBody>>,
{
    static EPOCH: AtomicU64 = AtomicU64::new(1);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    on_own_runtime(move || async move {
        for _ in 0..connections {
            let (server, _) = listener.accept().unwrap();
            server.set_nonblocking(true).unwrap();
            let (_stop_tx, stop) = watch::channel(false);
            let link = ConnLink::default();
            let server = Socket::new(server);
            let timeout = 10 * LIMIT;
            let _ = serve_with(server, timeout, stop, link, Some(&EPOCH), &handler).await;
        }
    });
    addr
}

/// A request that closes (HTTP/1.1 `Connection: close`, HTTP/1.0 without `keep-alive`) takes
/// the express lane: the handler answers the first, the lane the repeats, each connection is
/// closed after its answer (RFC 9112 §9.6), and the repeats are the first answer's bytes.
#[tokio::test]
async fn requests_that_close_are_repeated_by_the_express_lane() {
    use crate::body::prepared::{Prepared, RenderedFields};
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let handler = move |_request: Request<RequestBody>| {
        counted.fetch_add(1, Ordering::Relaxed);
        let mut fields = http::HeaderMap::new();
        fields.insert(http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let fields = Arc::new(RenderedFields::new(fields).unwrap());
        let until = std::time::Instant::now() + Duration::from_secs(60);
        let body = Prepared::wrap_until(fields, ResponseBody::full("hello"), Some(until), None);
        async move { Response::new(body) }
    };
    let requests = [
        "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /x HTTP/1.0\r\nHost: x\r\n\r\n",
    ];
    let addr = serve_in_turn(handler, 3 * requests.len());
    for (i, request) in requests.iter().enumerate() {
        let mut answers = Vec::new();
        for _ in 0..3 {
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            client.write_all(request.as_bytes()).await.unwrap();
            let answer = read_to_close(&mut client).await;
            let lines: Vec<&str> = answer.split("\r\n").collect();
            let without_date: Vec<&str> = lines
                .into_iter()
                .filter(|line| !line.starts_with("date: "))
                .collect();
            answers.push(without_date.join("\r\n"));
        }
        assert_eq!(calls.load(Ordering::Relaxed), i + 1, "{request:?}");
        assert!(
            answers[0].contains("\r\nconnection: close\r\n"),
            "{answers:?}"
        );
        assert!(answers[0].ends_with("\r\n\r\nhello"), "{answers:?}");
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    }
}

/// A streamed answer that fails after some of it went out (a program killed mid-answer):
/// what was made before the failure still reaches the client, then the connection closes
/// without the last chunk, so the answer is seen cut (RFC 9112 §7.1).
#[tokio::test]
async fn a_body_that_fails_sends_what_it_had_and_never_its_end() {
    use futures_util::StreamExt as _;
    let handler = |_request: Request<RequestBody>| async {
        let frames: Vec<Result<http_body::Frame<bytes::Bytes>, std::io::Error>> = vec![
            Ok(http_body::Frame::data(bytes::Bytes::from_static(b"first"))),
            Ok(http_body::Frame::data(bytes::Bytes::from_static(
                b"last words",
            ))),
            Err(std::io::Error::other("the program was killed")),
        ];
        // Nothing ready once after the first piece (it is sent then); the rest at once.
        let frames = futures_util::stream::iter(frames.into_iter().enumerate()).then(
            |(at, frame)| async move {
                if at == 1 {
                    tokio::task::yield_now().await;
                }
                frame
            },
        );
        let body = http_body_util::StreamBody::new(Box::pin(frames));
        Response::new(ResponseBody::stream(body))
    };
    let (mut client, _task) = connect(handler, LIMIT).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let out = read_to_close(&mut client).await;
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(out.contains("transfer-encoding: chunked\r\n"), "{out}");
    assert!(
        out.ends_with("\r\n\r\n5\r\nfirst\r\na\r\nlast words\r\n"),
        "{out:?}"
    );
}
