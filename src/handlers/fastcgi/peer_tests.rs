//! The FastCGI client against a scripted fake application on a temp Unix socket (#6): answers
//! split at every byte, padding, records of other requests and management records, lengths that
//! lie, the request as the application receives it, and a client that goes away. Every wait is
//! bounded by [`WAIT`], so a bug fails its test instead of hanging it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt as _, stream};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt as _, Empty, StreamBody};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, mpsc};
use tokio::time::Duration;

use super::client::respond;
use super::record::{self, BeginRequest, Header, Pairs, Record, RecordDecoder, RecordType};
use super::{FastCgi, FastCgiOptions, Upstream};
use crate::body::ResponseBody;
use crate::handlers::cgi::Script;
use crate::handlers::cgi::run::Peer;
use crate::problem::Problem;

/// The longest wait for either side: generous, so that only a hang reaches it.
const WAIT: Duration = Duration::from_secs(10);

/// The request id usher uses.
const ID: u16 = 1;

/// The CGI output most tests send: a status, two fields and a body.
const OUTPUT: &[u8] =
    b"Status: 201 Created\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\nhello, world";

/// `f`'s output, or a panic naming `what` once [`WAIT`] has passed.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("no {what} within {WAIT:?}"),
    }
}

// Records as an application writes them.

/// A record with `padding` bytes of padding, filled with 0xee so that a reader that takes them
/// for content shows it.
fn rec(kind: RecordType, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
    let header = Header {
        kind,
        request_id: id,
        content_len: u16::try_from(content.len()).expect("test content fits a record"),
        padding_len: padding,
    };
    let mut out = header.encode().to_vec();
    out.extend_from_slice(content);
    out.extend(std::iter::repeat_n(0xee, usize::from(padding)));
    out
}

/// One FCGI_STDOUT record; empty `content` ends the stream.
fn stdout(content: &[u8]) -> Vec<u8> {
    rec(RecordType::Stdout, ID, content, 0)
}

/// FCGI_END_REQUEST's content: appStatus 0, FCGI_REQUEST_COMPLETE (§5.5).
const COMPLETE: [u8; 8] = [0; 8];

/// FCGI_END_REQUEST, complete.
fn end() -> Vec<u8> {
    rec(RecordType::EndRequest, ID, &COMPLETE, 0)
}

/// The CGI output of a `text/plain` answer of `body`.
fn text(body: &[u8]) -> Vec<u8> {
    [&b"Content-Type: text/plain\r\n\r\n"[..], body].concat()
}

/// `output` as a whole, clean answer: one FCGI_STDOUT record, its end, FCGI_END_REQUEST.
fn answer(output: &[u8]) -> Vec<u8> {
    [stdout(output), stdout(b""), end()].concat()
}

/// [`OUTPUT`] in three FCGI_STDOUT records of several paddings with FCGI_STDERR between them.
fn layered() -> Vec<u8> {
    [
        rec(RecordType::Stdout, ID, &OUTPUT[..30], 2),
        rec(RecordType::Stderr, ID, b"a warning\n", 6),
        rec(RecordType::Stdout, ID, &OUTPUT[30..60], 0),
        rec(RecordType::Stdout, ID, &OUTPUT[60..], 7),
        stdout(b""),
        end(),
    ]
    .concat()
}

// The application's side of a connection.

/// One connection usher opened, as the application sees it.
struct AppConn {
    io: UnixStream,
    buf: BytesMut,
    decoder: RecordDecoder,
}

/// One request as usher sent it.
#[derive(Debug)]
struct Sent {
    begin: BeginRequest,
    params: HashMap<String, String>,
    /// Every record's type and content length, in order.
    records: Vec<(RecordType, usize)>,
    /// The FCGI_STDIN stream's bytes.
    stdin: Vec<u8>,
}

impl Sent {
    fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

impl AppConn {
    /// The next record usher sent, or `None` once it closed the connection.
    async fn record(&mut self) -> Option<Record> {
        loop {
            let decoded = self.decoder.decode(&mut self.buf);
            if let Some(record) = decoded.expect("usher sends valid records") {
                return Some(record);
            }
            match within("bytes from usher", self.io.read_buf(&mut self.buf)).await {
                Ok(0) => {
                    assert!(self.buf.is_empty(), "usher closed inside a record");
                    return None;
                }
                Ok(_) => {}
                // Closing with our bytes unread resets a Unix socket: closed all the same.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading from usher: {e}"),
            }
        }
    }

    /// The next request, through its empty FCGI_STDIN; `None` if usher closed first.
    async fn request(&mut self) -> Option<Sent> {
        let first = self.record().await?;
        assert_eq!(
            (first.kind, first.request_id),
            (RecordType::BeginRequest, ID)
        );
        let begin = BeginRequest::parse(&first.content).unwrap();
        let mut records = vec![(first.kind, first.content.len())];
        let (mut params, mut stdin) = (BytesMut::new(), Vec::new());
        loop {
            let r = self.record().await.expect("usher closed mid-request");
            assert_eq!(r.request_id, ID, "{r:?}");
            records.push((r.kind, r.content.len()));
            match r.kind {
                RecordType::Params => params.extend_from_slice(&r.content),
                RecordType::Stdin if r.content.is_empty() => break,
                RecordType::Stdin => stdin.extend_from_slice(&r.content),
                other => panic!("usher sent {other} inside a request"),
            }
        }
        let text = |b: Bytes| String::from_utf8_lossy(&b).into_owned();
        let params = Pairs::new(params.freeze())
            .map(|p| p.map(|(n, v)| (text(n), text(v))).expect("valid pairs"))
            .collect();
        Some(Sent {
            begin,
            params,
            records,
            stdin,
        })
    }

    /// Write `chunks` one after another, flushed, letting usher run between them so each can
    /// arrive in a read of its own. Whether usher was still there to take them.
    async fn send(&mut self, chunks: &[Vec<u8>]) -> bool {
        for chunk in chunks {
            let written = within("room to write", async {
                self.io.write_all(chunk).await?;
                self.io.flush().await
            })
            .await;
            if written.is_err() {
                return false;
            }
            tokio::task::yield_now().await;
        }
        true
    }

    /// Once usher stops a request: the records it sends until it closes the connection.
    async fn until_closed(&mut self) -> Vec<Record> {
        let mut records = Vec::new();
        while let Some(r) = self.record().await {
            records.push(r);
        }
        records
    }
}

/// A fake application: `script` runs on every connection usher opens, given its number from
/// 0. The temp dir holds the socket.
fn app<F, Fut>(script: F) -> (tempfile::TempDir, FastCgi)
where
    F: Fn(usize, AppConn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("app.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((io, _)) = listener.accept().await else {
                return;
            };
            let conn = AppConn {
                io,
                buf: BytesMut::new(),
                decoder: RecordDecoder::from_client(),
            };
            tokio::spawn(script(n, conn));
        }
    });
    let mut opts = FastCgiOptions::new(Upstream::Unix(sock), dir.path().to_path_buf());
    opts.max_connections = Some(4); // connections kept alive, as the pooling tests need
    (dir, FastCgi::new(opts))
}

/// Requests seen by an application: each with the number of its connection.
type Seen = mpsc::UnboundedReceiver<(usize, Sent)>;

/// An application that answers every request by writing the chunks `answer` makes of it, and
/// keeps its connections if `keep`, else closes each after its first answer.
fn serving<F>(keep: bool, answer: F) -> (tempfile::TempDir, FastCgi, Seen)
where
    F: Fn(&Sent) -> Vec<Vec<u8>> + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    let (tx, rx) = mpsc::unbounded_channel();
    let (dir, fcgi) = app(move |n, mut conn| {
        let (answer, tx) = (answer.clone(), tx.clone());
        async move {
            while let Some(sent) = conn.request().await {
                let chunks = answer(&sent);
                let _ = tx.send((n, sent));
                if !conn.send(&chunks).await || !keep {
                    return;
                }
            }
        }
    });
    (dir, fcgi, rx)
}

// usher's side.

/// A GET of `target`.
fn get(target: &str) -> Parts {
    http::Request::get(target).body(()).unwrap().into_parts().0
}

/// Ask `fcgi` to answer `parts` with content `body`, as a route does for the script `/a.php`.
async fn ask_with<B>(
    fcgi: &FastCgi,
    parts: &Parts,
    body: B,
) -> Result<Response<ResponseBody>, Problem>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let path_info = parts.uri.path().strip_prefix("/a.php").unwrap_or("");
    let script = Script {
        file: "/srv/www/a.php".into(),
        name: "/a.php".into(),
        path_info: path_info.to_owned(),
    };
    let peer = Peer {
        remote: "192.0.2.1:4000".parse().unwrap(),
        local: "192.0.2.2:80".parse().unwrap(),
        user: None,
    };
    respond(fcgi, &script, parts, body, peer, "t1").await
}

/// Ask for `target` with no content; bounded.
async fn ask(fcgi: &FastCgi, target: &str) -> Result<Response<ResponseBody>, Problem> {
    within(
        "answer",
        ask_with(fcgi, &get(target), Empty::<Bytes>::new()),
    )
    .await
}

/// What the client got: status, fields, body, and whether the body ended in an error.
#[derive(Debug, PartialEq)]
struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    cut: bool,
}

/// Read `answer`'s body to its end: then the pump that fed it has finished, and the pool holds
/// the connection if it ever will.
async fn got(answer: Result<Response<ResponseBody>, Problem>) -> Got {
    let (parts, mut body) = answer
        .unwrap_or_else(|p| panic!("{} instead of an answer", p.status))
        .into_parts();
    let (mut data, mut cut) = (Vec::new(), false);
    while let Some(frame) = within("body frame", body.frame()).await {
        match frame {
            Ok(frame) => data.extend_from_slice(&frame.into_data().unwrap_or_default()),
            Err(_) => cut = true,
        }
    }
    Got {
        status: parts.status,
        headers: parts.headers,
        body: data,
        cut,
    }
}

/// A clean answer of `body` with status 200 and `Content-Type: text/plain`.
fn plain(body: &[u8]) -> Got {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Got {
        status: StatusCode::OK,
        headers,
        body: body.to_vec(),
        cut: false,
    }
}

/// What [`OUTPUT`] reads as.
fn output() -> Got {
    let mut got = plain(b"hello, world");
    got.status = StatusCode::CREATED;
    got.headers.insert("x-a", HeaderValue::from_static("1"));
    got
}

/// `got`, cut: its body ended in an error after these bytes.
fn cut(mut got: Got) -> Got {
    got.cut = true;
    got
}

/// What the client gets for `target`, read to its end.
async fn fetch(fcgi: &FastCgi, target: &str) -> Got {
    got(ask(fcgi, target).await).await
}

/// The status of a request for `target` that fails before its head.
async fn failed(fcgi: &FastCgi, target: &str) -> StatusCode {
    match ask(fcgi, target).await {
        Ok(r) => panic!("an answer ({}) instead of an error", r.status()),
        Err(p) => p.status,
    }
}

// (a), (b): however the answer is split, it reads the same.

#[tokio::test]
async fn an_answer_split_at_every_byte_reads_the_same() {
    let whole = layered();
    let len = whole.len();
    let (_dir, fcgi, mut seen) = serving(true, move |sent| match sent.param("QUERY_STRING") {
        "bytes" => whole.iter().map(|b| vec![*b]).collect(),
        at => {
            let (a, b) = whole.split_at(at.parse().unwrap());
            vec![a.to_vec(), b.to_vec()]
        }
    });
    let targets = std::iter::once("/a.php?bytes".to_owned())
        .chain((0..=len).map(|at| format!("/a.php?{at}")));
    for target in targets {
        assert_eq!(fetch(&fcgi, &target).await, output(), "{target}");
        let (conn, _) = within("request", seen.recv()).await.unwrap();
        assert_eq!(conn, 0, "{target}: the kept-alive connection is reused");
        assert_eq!(fcgi.idle_count(), 1, "{target}");
    }
}

#[tokio::test]
async fn padding_of_any_length_and_records_split_anywhere_read_the_same() {
    let (_dir, fcgi, _seen) = serving(true, |sent| {
        let q = sent.param("QUERY_STRING");
        let answer = match q.split_once('=') {
            Some(("pad", n)) => {
                let pad: u8 = n.parse().unwrap();
                [
                    rec(RecordType::Stdout, ID, &OUTPUT[..10], pad),
                    rec(RecordType::Stderr, ID, b"warn", pad),
                    rec(RecordType::Stdout, ID, &OUTPUT[10..], pad),
                    rec(RecordType::Stderr, ID, b"", pad),
                    rec(RecordType::Stdout, ID, b"", pad),
                    rec(RecordType::EndRequest, ID, &COMPLETE, pad),
                ]
                .concat()
            }
            Some(("cut", n)) => {
                let (a, b) = OUTPUT.split_at(n.parse().unwrap());
                [stdout(a), stdout(b), stdout(b""), end()].concat()
            }
            _ => panic!("unexpected query {q}"),
        };
        vec![answer]
    });
    for pad in 0..=255 {
        let got = fetch(&fcgi, &format!("/a.php?pad={pad}")).await;
        assert_eq!(got, output(), "padding {pad}");
    }
    // The head and the body split between two records at every byte (never an empty one,
    // which would end the stream).
    for at in 1..OUTPUT.len() {
        let got = fetch(&fcgi, &format!("/a.php?cut={at}")).await;
        assert_eq!(got, output(), "cut at {at}");
    }
    assert_eq!(fcgi.idle_count(), 1);
}

/// FastCGI 1.0 §3.3: a stream is non-empty records "followed by an empty record": the empty
/// FCGI_STDOUT ends the answer, so FCGI_STDOUT after it breaks the protocol. FCGI_STDERR may
/// go on until FCGI_END_REQUEST.
#[tokio::test]
async fn an_empty_stdout_record_ends_the_stream() {
    let (_dir, fcgi, _seen) = serving(true, |sent| {
        let answer = match sent.param("QUERY_STRING") {
            "stderr-after" => [
                stdout(&text(b"abc")),
                stdout(b""),
                rec(RecordType::Stderr, ID, b"still running", 0),
                rec(RecordType::Stderr, ID, b"", 0),
                end(),
            ]
            .concat(),
            "in-body" => [
                stdout(&text(b"abc")),
                stdout(b""),
                stdout(b"def"),
                stdout(b""),
                end(),
            ]
            .concat(),
            "in-head" => [
                stdout(b"Content-Type: text/pl"),
                stdout(b""),
                stdout(b"ain\r\n\r\nabc"),
                stdout(b""),
                end(),
            ]
            .concat(),
            q => panic!("unexpected query {q}"),
        };
        vec![answer]
    });
    assert_eq!(fetch(&fcgi, "/a.php?stderr-after").await, plain(b"abc"));
    assert_eq!(fcgi.idle_count(), 1);
    // The whole answer came with its head, so the broken one is refused before anything is
    // sent (an answer that arrives in parts is cut instead: see the split tests).
    let status = failed(&fcgi, "/a.php?in-body").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    // The connection broke the protocol: not kept.
    assert_eq!(fcgi.idle_count(), 0);
    let status = failed(&fcgi, "/a.php?in-head").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(fcgi.idle_count(), 0);
}

// (c): one request per connection; management records are the connection's.

#[tokio::test]
async fn records_of_another_request_are_502_before_the_head_and_cut_the_body_after() {
    let (_dir, fcgi, _seen) = serving(true, |sent| {
        let answer = match sent.param("QUERY_STRING") {
            "stdout" => [
                rec(RecordType::Stdout, 2, &text(b"x"), 0),
                answer(&text(b"abc")),
            ]
            .concat(),
            "end" => [
                rec(RecordType::EndRequest, 2, &COMPLETE, 0),
                answer(&text(b"abc")),
            ]
            .concat(),
            "in-body" => [
                stdout(&text(b"abc")),
                rec(RecordType::Stdout, 0x0101, b"def", 0),
                stdout(b"ghi"),
                stdout(b""),
                end(),
            ]
            .concat(),
            "ok" => answer(&text(b"abc")),
            q => panic!("unexpected query {q}"),
        };
        vec![answer]
    });
    for q in ["stdout", "end"] {
        // A pooled connection first, so that keeping the bad one would show.
        assert_eq!(fetch(&fcgi, "/a.php?ok").await, plain(b"abc"));
        assert_eq!(fcgi.idle_count(), 1);
        let status = failed(&fcgi, &format!("/a.php?{q}")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{q}");
        assert_eq!(fcgi.idle_count(), 0, "{q}");
    }
    // All of it came with the head: refused before anything is sent.
    let status = failed(&fcgi, "/a.php?in-body").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(fcgi.idle_count(), 0);
}

/// Management records (request id 0) concern the connection, not a request (FastCGI 1.0 §3.3,
/// §4). An application sends FCGI_GET_VALUES_RESULT and FCGI_UNKNOWN_TYPE only in reply to
/// the web server's management records (§4.1, §4.2), which usher never sends; one that comes
/// anyway says nothing about usher's request, so it is skipped and the connection kept.
#[tokio::test]
async fn management_records_are_skipped() {
    let (_dir, fcgi, mut seen) = serving(true, |_| {
        let unknown = rec(RecordType::UnknownType, 0, &[99, 0, 0, 0, 0, 0, 0, 0], 0);
        // One name-value pair (§3.4): FCGI_MPXS_CONNS = 0.
        let content = [&[15, 1][..], b"FCGI_MPXS_CONNS", b"0"].concat();
        let values = rec(RecordType::GetValuesResult, 0, &content, 3);
        vec![
            [
                unknown.clone(),
                rec(RecordType::Stdout, ID, &OUTPUT[..20], 0),
                values.clone(),
                rec(RecordType::Stdout, ID, &OUTPUT[20..60], 0),
                unknown.clone(),
                rec(RecordType::Stdout, ID, &OUTPUT[60..], 0),
                values,
                stdout(b""),
                unknown,
                end(),
            ]
            .concat(),
        ]
    });
    for _ in 0..2 {
        assert_eq!(fetch(&fcgi, "/a.php").await, output());
        assert_eq!(fcgi.idle_count(), 1);
        assert_eq!(within("request", seen.recv()).await.unwrap().0, 0, "reused");
    }
}

// (d): lengths that lie.

/// An FCGI_STDOUT record's header declaring `len` content bytes, without them.
fn claims(len: u16) -> Vec<u8> {
    let mut header = stdout(b"");
    header[4..6].copy_from_slice(&len.to_be_bytes());
    header
}

#[tokio::test]
async fn a_record_cut_off_by_the_close_is_502_before_the_head_and_cuts_the_body_after() {
    // Each written whole, then the connection closed.
    let (_dir, fcgi, _seen) = serving(false, |sent| {
        vec![match sent.param("QUERY_STRING") {
            "in-head" => [claims(100), b"Content-Ty".to_vec()].concat(),
            "in-header" => stdout(&text(b""))[..3].to_vec(),
            "in-body" => [stdout(&text(b"abc")), claims(100), b"defgh".to_vec()].concat(),
            "header-in-body" => [stdout(&text(b"abc")), stdout(b"def")[..5].to_vec()].concat(),
            q => panic!("unexpected query {q}"),
        }]
    });
    for q in ["in-head", "in-header"] {
        let status = failed(&fcgi, &format!("/a.php?{q}")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{q}");
    }
    for q in ["in-body", "header-in-body"] {
        let got = fetch(&fcgi, &format!("/a.php?{q}")).await;
        assert_eq!(got, cut(plain(b"abc")), "{q}");
    }
    assert_eq!(fcgi.idle_count(), 0);
}

#[tokio::test]
async fn a_content_length_longer_than_the_output_cuts_the_body() {
    let (_dir, fcgi, _seen) = serving(true, |_| {
        let short = b"Content-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc";
        vec![answer(short)]
    });
    // All of it came with the head, short of its length: refused before anything is sent.
    assert_eq!(failed(&fcgi, "/a.php").await, StatusCode::BAD_GATEWAY);
    // The CGI answer was short, but its FastCGI records were whole: the connection is sound.
    assert_eq!(fcgi.idle_count(), 1);
}

#[tokio::test]
async fn a_connection_closed_after_end_request_is_not_reused() {
    let (_dir, fcgi, mut seen) = serving(false, |_| vec![answer(&text(b"abc"))]);
    for n in 0..3 {
        assert_eq!(fetch(&fcgi, "/a.php").await, plain(b"abc"), "{n}");
        assert_eq!(within("request", seen.recv()).await.unwrap().0, n);
    }
}

/// FCGI_STDOUT after FCGI_END_REQUEST is not the next request's answer: the connection it
/// arrives on is not used again, whether it came with the end or after it.
#[tokio::test]
async fn stdout_after_end_request_is_never_the_next_answer() {
    let (go, written) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let stray = stdout(&text(b"stray"));
    let (tx, mut seen) = mpsc::unbounded_channel();
    let (_dir, fcgi) = {
        let (go, written) = (go.clone(), written.clone());
        app(move |n, mut conn| {
            let (go, written, stray, tx) = (go.clone(), written.clone(), stray.clone(), tx.clone());
            async move {
                while let Some(sent) = conn.request().await {
                    let q = sent.param("QUERY_STRING").to_owned();
                    let _ = tx.send((n, sent));
                    let ok = answer(&text(b"ok"));
                    match q.as_str() {
                        "with-end" => conn.send(&[[ok, stray.clone()].concat()]).await,
                        "after-end" => {
                            conn.send(&[ok]).await;
                            // Once usher has pooled the connection.
                            within("go", go.notified()).await;
                            conn.send(std::slice::from_ref(&stray)).await;
                            written.notify_one();
                            true
                        }
                        _ => conn.send(&[ok]).await,
                    };
                }
            }
        })
    };
    assert_eq!(fetch(&fcgi, "/a.php?with-end").await, plain(b"ok"));
    // Bytes after the end were left unread: not kept.
    assert_eq!(fcgi.idle_count(), 0);
    assert_eq!(fetch(&fcgi, "/a.php").await, plain(b"ok"));
    assert_eq!(fetch(&fcgi, "/a.php?after-end").await, plain(b"ok"));
    assert_eq!(fcgi.idle_count(), 1);
    go.notify_one();
    within("stray written", written.notified()).await;
    assert_eq!(fetch(&fcgi, "/a.php").await, plain(b"ok"));
    let conns: Vec<usize> = std::iter::from_fn(|| seen.try_recv().ok().map(|(n, _)| n)).collect();
    // The connection with stray bytes was not used again.
    assert_eq!(conns, [0, 1, 1, 2]);
}

// (e): the request as the application receives it.

#[tokio::test]
async fn the_application_receives_the_params_and_the_body_as_streams() {
    let (_dir, fcgi, mut seen) = serving(true, |_| vec![answer(&text(b"ok"))]);
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = content
        .chunks(30_000)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let mut parts = get("/a.php/extra?x=1&y=%20");
    parts.method = http::Method::POST;
    for (name, value) in [
        ("content-length", "100000"),
        ("content-type", "application/octet-stream"),
        ("proxy", "http://evil.test:8080"),
        ("x-custom", "yes"),
    ] {
        parts.headers.insert(name, HeaderValue::from_static(value));
    }
    let body = StreamBody::new(stream::iter(frames));
    let answer = within("answer", ask_with(&fcgi, &parts, body)).await;
    assert_eq!(got(answer).await, plain(b"ok"));
    let (_, sent) = within("request", seen.recv()).await.unwrap();
    assert_eq!(sent.begin.role, record::ROLE_RESPONDER);
    // FCGI_KEEP_CONN (the route has max-connections), so that the connection can be pooled.
    assert!(sent.begin.keep_conn);
    for (name, value) in [
        ("SCRIPT_FILENAME", "/srv/www/a.php"),
        ("SCRIPT_NAME", "/a.php"),
        ("PATH_INFO", "/extra"),
        ("REQUEST_URI", "/a.php/extra?x=1&y=%20"),
        ("QUERY_STRING", "x=1&y=%20"),
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_LENGTH", "100000"),
        ("CONTENT_TYPE", "application/octet-stream"),
        ("HTTP_X_CUSTOM", "yes"),
    ] {
        assert_eq!(sent.param(name), value, "{name}");
    }
    // httpoxy: a client's `Proxy:` must not become the application's proxy setting.
    assert!(!sent.params.contains_key("HTTP_PROXY"), "{:?}", sent.params);
    assert_eq!(sent.stdin, content);
    // BEGIN_REQUEST; PARAMS and their empty end; STDIN, a record per frame, and its empty
    // end (lower case: an empty record); nothing else.
    let shape: String = sent
        .records
        .iter()
        .map(|&(kind, len)| {
            let c = match kind {
                RecordType::BeginRequest => 'B',
                RecordType::Params => 'P',
                RecordType::Stdin => 'S',
                other => panic!("{other} in a request"),
            };
            if len == 0 { c.to_ascii_lowercase() } else { c }
        })
        .collect();
    assert_eq!(shape, "BPpSSSSs");
}

// (f): the client goes away.

/// The application's view once usher gave up on the request: nothing but FCGI_ABORT_REQUEST
/// for request 1 (if anything) before the connection closed.
fn assert_aborted(records: &[Record]) {
    let abort = |r: &Record| (r.kind, r.request_id) == (RecordType::AbortRequest, ID);
    assert!(records.iter().all(abort), "{records:?}");
}

#[tokio::test]
async fn a_body_dropped_mid_answer_aborts_the_request() {
    let (tx, mut after) = mpsc::unbounded_channel();
    let (_dir, fcgi) = app(move |_, mut conn| {
        let tx = tx.clone();
        async move {
            conn.request().await.expect("a request");
            conn.send(&[stdout(&text(b"first"))]).await;
            // The rest of the answer would follow; the application waits to hear from usher.
            let _ = tx.send(conn.until_closed().await);
        }
    });
    let (_, mut body) = ask(&fcgi, "/a.php").await.unwrap().into_parts();
    let first = within("first frame", body.frame()).await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    drop(body);
    let records = within("the connection's end", after.recv()).await.unwrap();
    assert_aborted(&records);
    assert_eq!(fcgi.idle_count(), 0);
}

#[tokio::test]
async fn a_request_dropped_before_the_head_aborts_it() {
    // `sending`: the request's body is still being sent when usher gives up.
    for sending in [false, true] {
        let (tx, mut after) = mpsc::unbounded_channel();
        let received = Arc::new(Notify::new());
        let (_dir, fcgi) = {
            let received = received.clone();
            app(move |_, mut conn| {
                let (tx, received) = (tx.clone(), received.clone());
                async move {
                    if sending {
                        // BEGIN_REQUEST, PARAMS and their end, and the first STDIN record.
                        while conn.record().await.expect("a request").kind != RecordType::Stdin {}
                    } else {
                        conn.request().await.expect("a request");
                    }
                    received.notify_one();
                    let _ = tx.send(conn.until_closed().await);
                }
            })
        };
        let first = Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"part")));
        let endless = StreamBody::new(stream::iter([first]).chain(stream::pending()));
        let mut parts = get("/a.php");
        if sending {
            // A declared length: content of unknown length would be stored before sending.
            parts
                .headers
                .insert("content-length", HeaderValue::from_static("1000"));
        }
        let asked = async {
            if sending {
                ask_with(&fcgi, &parts, endless.boxed_unsync()).await
            } else {
                ask_with(&fcgi, &parts, Empty::<Bytes>::new().boxed_unsync()).await
            }
        };
        tokio::select! {
            answer = asked => panic!("answered: {:?}", answer.map(|r| r.status())),
            () = within("the request", received.notified()) => {}
        }
        // `asked` is dropped: usher is waiting for the head no more.
        let records = within("the connection's end", after.recv()).await.unwrap();
        assert_aborted(&records);
        if !sending {
            // Once the request is all sent, FCGI_ABORT_REQUEST says why it closes.
            assert!(!records.is_empty());
        }
        assert_eq!(fcgi.idle_count(), 0);
    }
}
