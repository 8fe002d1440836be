//! One request over one connection: send the request's records, read the application's
//! answer, stream its body, and hand the connection back to the pool only if the request
//! ended cleanly with FCGI_END_REQUEST.
//!
//! The application is untrusted. Every failure has an answer and says who failed (the
//! application, upstream of usher): it cannot be reached, or breaks the protocol, or ends
//! before its head: 502; its head does not come within `header-timeout`: 504; it is
//! overloaded: 503. Messages name the route's kind, never its address; the cause is logged
//! with the request id. A connection that saw any of these is discarded.
//!
//! The request body is written while the answer is read, so an application that answers
//! before reading all of its input cannot deadlock against usher.

use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use http::request::Parts;
use http::{Response, StatusCode};
use http_body::Body;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use super::FastCgi;
use super::pool::{Conn, Pool};
use super::record::{self, EndRequest, ProtocolStatus, Record, RecordDecoder, RecordError};
use super::record::{EncodeError, RecordType};
use crate::body::ResponseBody;
use crate::handlers::cgi::Script;
use crate::handlers::cgi::env::{EnvContext, build};
use crate::handlers::cgi::output::{self, CgiHead, OutputError};
use crate::handlers::cgi::run::{Peer, ProgramBody, Remaining};
use crate::problem::Problem;

/// The request id usher uses: one request per connection at a time, so always the same
/// (FastCGI 1.0 §3.3: ids are the web server's to choose, and only need to be unique among a
/// connection's requests in flight).
const REQUEST_ID: u16 = 1;

/// Bytes read from the connection at a time, at least: one record's worth.
const READ_CHUNK: usize = 64 * 1024;

/// How the route's kind is named to clients, instead of its address.
const ROLE: &str = "The PHP application server that answers this address";

/// Why a FastCGI request failed; logged, never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum FastCgiError {
    /// The connection could not be opened.
    #[error("could not connect: {0}")]
    Connect(#[source] io::Error),
    /// No head within the route's `header-timeout`.
    #[error("the application wrote no header fields within {0:?}")]
    HeaderTimeout(Duration),
    /// Reading or writing the connection failed.
    #[error("the connection failed: {0}")]
    Io(#[from] io::Error),
    /// The application's bytes are not FastCGI.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A record for a request usher did not make.
    #[error(
        "the application sent a {kind} record for request {id}; usher's request is {REQUEST_ID}"
    )]
    WrongRequest {
        /// The record's type.
        kind: RecordType,
        /// Its request id.
        id: u16,
    },
    /// The application's head is not a CGI response.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The connection closed in the middle of the request.
    #[error("the application closed the connection before ending the request")]
    Closed,
    /// FCGI_END_REQUEST (or the end of FCGI_STDOUT) before the head.
    #[error("the application ended the request before writing its header fields")]
    EndedBeforeHead,
    /// FCGI_END_REQUEST with a status other than complete.
    #[error("the application refused the request ({0:?})")]
    Refused(ProtocolStatus),
    /// A parameter too long for FastCGI.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The client's request body failed while it was being sent on.
    #[error("the client's request body failed: {0}")]
    ClientBody(String),
}

impl FastCgiError {
    /// The status the client gets: who failed decides (the application: 502, 503 or 504).
    pub fn status(&self) -> StatusCode {
        match self {
            FastCgiError::HeaderTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            FastCgiError::Refused(ProtocolStatus::Overloaded) => StatusCode::SERVICE_UNAVAILABLE,
            FastCgiError::ClientBody(_) => StatusCode::BAD_REQUEST,
            FastCgiError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
            FastCgiError::Connect(_)
            | FastCgiError::Io(_)
            | FastCgiError::Record(_)
            | FastCgiError::WrongRequest { .. }
            | FastCgiError::Output(_)
            | FastCgiError::Closed
            | FastCgiError::EndedBeforeHead
            | FastCgiError::Refused(
                ProtocolStatus::UnknownRole
                | ProtocolStatus::CantMpxConn
                | ProtocolStatus::RequestComplete,
            ) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The problem the client gets, tagged with `request_id`; no address, no cause.
    pub fn problem(&self, request_id: &str) -> Problem {
        let problem = match self.status() {
            StatusCode::GATEWAY_TIMEOUT => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "fastcgi-timeout",
                "Gateway Timeout",
            )
            .with_detail(format!("{ROLE} did not start its answer in time.")),
            StatusCode::SERVICE_UNAVAILABLE => {
                Problem::unavailable(format!("{ROLE} is overloaded."), 1)
            }
            StatusCode::BAD_REQUEST => {
                Problem::bad_request("The request's content ended before it was complete.")
            }
            StatusCode::BAD_GATEWAY if matches!(self, FastCgiError::Connect(_)) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "fastcgi-unreachable",
                "Bad Gateway",
            )
            .with_detail(format!("{ROLE} could not be reached.")),
            StatusCode::BAD_GATEWAY => {
                Problem::new(StatusCode::BAD_GATEWAY, "fastcgi-failed", "Bad Gateway")
                    .with_detail(format!("{ROLE} failed before giving a valid answer."))
            }
            _ => Problem::internal(),
        };
        problem.with_request_id(request_id)
    }
}

/// Answer the request `parts` with content `body` by running `script` on the route's
/// application. `request_id` tags its log lines and any error answer.
pub async fn respond<B>(
    fcgi: &FastCgi,
    script: &Script,
    parts: &Parts,
    body: B,
    peer: Peer<'_>,
    request_id: &str,
) -> Result<Response<ResponseBody>, Problem>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let opts = &fcgi.opts;
    let cx = EnvContext {
        peer: peer.remote,
        local: peer.local,
        document_root: &opts.root,
        pass_authorization: false,
        extra: &[],
        inherit: &[],
        user: peer.user,
    };
    let params = build(parts, script, &cx);
    let mut head = BytesMut::with_capacity(4096);
    head.extend_from_slice(&record::begin_request(REQUEST_ID, true));
    let pairs = params.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
    let fail = |e: FastCgiError| {
        tracing::warn!(request_id, upstream = %fcgi.pool.upstream(), "fastcgi request failed: {e}");
        e.problem(request_id)
    };
    record::encode_params(&mut head, REQUEST_ID, pairs).map_err(|e| fail(e.into()))?;
    head.extend_from_slice(&record::params_end(REQUEST_ID));
    let started = tokio::time::timeout(
        opts.header_timeout,
        start(&fcgi.pool, head.freeze(), body, request_id),
    )
    .await;
    let (exchange, head, rest) = match started {
        Err(_) => Err(FastCgiError::HeaderTimeout(opts.header_timeout)),
        Ok(r) => r,
    }
    .map_err(fail)?;
    let CgiHead {
        status,
        headers,
        length,
        ..
    } = head;
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(pump(
        exchange,
        rest,
        tx,
        opts.idle_timeout,
        length,
        fcgi.pool.clone(),
        request_id.to_owned(),
    ));
    let mut response = Response::new(ResponseBody::stream(ProgramBody::new(rx, length)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Open (or reuse) a connection, send `head` (BEGIN_REQUEST and PARAMS), start streaming the
/// body, and read until the answer's head is complete: the exchange, the head, and the body
/// bytes that came with it.
async fn start<B>(
    pool: &Pool,
    head: Bytes,
    body: B,
    request_id: &str,
) -> Result<(Exchange, CgiHead, Bytes), FastCgiError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let conn = match pool.take_idle() {
        Some(conn) => conn,
        None => pool.connect().await.map_err(FastCgiError::Connect)?,
    };
    let (rd, mut wr) = tokio::io::split(conn);
    let mut exchange = Exchange::new(rd);
    wr.write_all(&head).await?;
    exchange.writer = Some(Box::pin(send_body(wr, body)));
    let mut out = BytesMut::new();
    loop {
        let record = exchange.next_record().await?;
        match record.kind {
            RecordType::Stdout if record.content.is_empty() => {
                return Err(FastCgiError::EndedBeforeHead);
            }
            RecordType::Stdout => {
                out.extend_from_slice(&record.content);
                if let Some((head, consumed)) = output::parse(&out)? {
                    let rest = out.split_off(consumed).freeze();
                    return Ok((exchange, head, rest));
                }
            }
            RecordType::Stderr => log_stderr(&record, request_id),
            RecordType::EndRequest => {
                let end = EndRequest::parse(&record.content)?;
                exchange.done = true; // the request is over: nothing to abort
                return Err(match end.protocol_status {
                    ProtocolStatus::RequestComplete => FastCgiError::EndedBeforeHead,
                    status => FastCgiError::Refused(status),
                });
            }
            kind => {
                return Err(FastCgiError::WrongRequest {
                    kind,
                    id: record.request_id,
                });
            }
        }
    }
}

/// Move the answer's body to the client until the application ends the request, then pool
/// the connection. A client that goes away aborts the request (FCGI_ABORT_REQUEST, §5.4).
async fn pump(
    mut exchange: Exchange,
    first: Bytes,
    tx: mpsc::Sender<io::Result<Bytes>>,
    idle: Duration,
    length: Option<u64>,
    pool: Arc<Pool>,
    request_id: String,
) {
    let mut left = Remaining(length);
    // The empty FCGI_STDOUT record ends the stream (§3.3); FCGI_STDERR may follow it.
    let mut stdout_ended = false;
    if !first.is_empty() && tx.send(Ok(left.cut(first))).await.is_err() {
        exchange.abort().await;
        return;
    }
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(idle, exchange.next_record()) => next,
            () = tx.closed() => {
                exchange.abort().await;
                return;
            }
        };
        let record = match next {
            Ok(Ok(record)) => record,
            Ok(Err(e)) => {
                tracing::warn!(request_id, "fastcgi answer cut: {e}");
                let _ = tx
                    .send(Err(io::Error::other("the application failed")))
                    .await;
                return;
            }
            Err(_) => {
                tracing::warn!(request_id, timeout = ?idle, "fastcgi answer cut: the application went silent");
                let e = io::Error::new(io::ErrorKind::TimedOut, "the application went silent");
                let _ = tx.send(Err(e)).await;
                exchange.abort().await;
                return;
            }
        };
        match record.kind {
            RecordType::Stdout if stdout_ended => {
                // Not part of the answer, which has ended: the application broke the protocol.
                tracing::warn!(request_id, "fastcgi answer cut: FCGI_STDOUT after its end");
                let _ = tx
                    .send(Err(io::Error::other("the application failed")))
                    .await;
                return;
            }
            RecordType::Stdout if record.content.is_empty() => stdout_ended = true,
            RecordType::Stdout if left.is_done() => {}
            RecordType::Stdout => {
                if tx.send(Ok(left.cut(record.content))).await.is_err() {
                    exchange.abort().await;
                    return;
                }
            }
            RecordType::Stderr => log_stderr(&record, &request_id),
            RecordType::EndRequest => {
                let end = EndRequest::parse(&record.content);
                exchange.done = true;
                if left.is_short() {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the application's output ended before its Content-Length",
                    );
                    let _ = tx.send(Err(e)).await;
                }
                if end.is_ok_and(|e| e.protocol_status == ProtocolStatus::RequestComplete) {
                    if let Some(conn) = exchange.into_conn() {
                        pool.put(conn);
                    }
                }
                return;
            }
            kind => {
                tracing::warn!(request_id, "fastcgi answer cut: unexpected {kind} record");
                let _ = tx
                    .send(Err(io::Error::other("the application failed")))
                    .await;
                return;
            }
        }
    }
}

/// Log what the application wrote to FCGI_STDERR, tagged with the request.
fn log_stderr(record: &Record, request_id: &str) {
    let text = String::from_utf8_lossy(&record.content);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        tracing::warn!(request_id, "application stderr: {line}");
    }
}

/// Write the request body as FCGI_STDIN records, then the empty one; the write half back.
async fn send_body<B>(mut wr: WriteHalf<Conn>, body: B) -> Result<WriteHalf<Conn>, FastCgiError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let mut frames = http_body_util::BodyStream::new(body);
    let mut out = BytesMut::new();
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|e| FastCgiError::ClientBody(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            out.clear();
            record::encode_stdin(&mut out, REQUEST_ID, &data);
            wr.write_all(&out).await?;
        }
    }
    wr.write_all(&record::stdin_end(REQUEST_ID)).await?;
    wr.flush().await?;
    Ok(wr)
}

type Writer = Pin<Box<dyn Future<Output = Result<WriteHalf<Conn>, FastCgiError>> + Send>>;

/// One request in flight on a connection. Dropped before the request ended (the client went
/// away while usher waited for the head), it aborts the request and discards the connection.
struct Exchange {
    rd: Option<ReadHalf<Conn>>,
    /// The write half, once the body is sent.
    wr: Option<WriteHalf<Conn>>,
    /// The body being sent, which owns the write half until it is done.
    writer: Option<Writer>,
    buf: BytesMut,
    decoder: RecordDecoder,
    /// The request ended (or was aborted): nothing left to abort.
    done: bool,
}

impl Exchange {
    fn new(rd: ReadHalf<Conn>) -> Self {
        Exchange {
            rd: Some(rd),
            wr: None,
            writer: None,
            buf: BytesMut::with_capacity(READ_CHUNK),
            decoder: RecordDecoder::from_application(),
            done: false,
        }
    }

    /// The next record of usher's request, while the body keeps being sent.
    async fn next_record(&mut self) -> Result<Record, FastCgiError> {
        loop {
            if let Some(record) = self.decoder.decode(&mut self.buf)? {
                // Management records (request id 0) are the connection's, not the request's
                // (FastCGI 1.0 §3.3, §4). usher sends none, so an application's
                // FCGI_GET_VALUES_RESULT or FCGI_UNKNOWN_TYPE answers nothing of usher's and
                // changes nothing: skip it, and keep the connection.
                if record.kind.is_management() {
                    continue;
                }
                if record.request_id != REQUEST_ID {
                    return Err(FastCgiError::WrongRequest {
                        kind: record.kind,
                        id: record.request_id,
                    });
                }
                return Ok(record);
            }
            let Exchange {
                rd, buf, writer, ..
            } = self;
            let rd = rd.as_mut().ok_or(FastCgiError::Closed)?;
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let read = rd.read_buf(buf);
            let n = match writer {
                Some(w) => tokio::select! {
                    n = read => n?,
                    sent = w => {
                        self.writer = None;
                        self.wr = Some(sent?);
                        continue;
                    }
                },
                None => read.await?,
            };
            if n == 0 {
                self.decoder.finish(&self.buf)?;
                return Err(FastCgiError::Closed);
            }
        }
    }

    /// Ask the application to stop the request, and close the connection.
    async fn abort(mut self) {
        self.done = true;
        if let Some(wr) = &mut self.wr {
            let _ = wr.write_all(&record::abort_request(REQUEST_ID)).await;
        }
    }

    /// The connection, if it is fit for another request: the body was all sent and nothing
    /// is left unread.
    fn into_conn(mut self) -> Option<Conn> {
        self.done = true;
        if !self.buf.is_empty() {
            return None;
        }
        let (rd, wr) = (self.rd.take()?, self.wr.take()?);
        Some(rd.unsplit(wr))
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Abandoned mid-request: abort it in the background; the connection closes after.
        // With the body still being sent, dropping the writer closes the connection, which
        // php-fpm also takes as an abort.
        let (Some(rd), Some(mut wr)) = (self.rd.take(), self.wr.take()) else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = wr.write_all(&record::abort_request(REQUEST_ID)).await;
                drop(rd);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use tokio::net::UnixListener;

    use super::*;
    use crate::handlers::fastcgi::{FastCgiOptions, Upstream};

    /// A fake application on a temp Unix socket: for one connection, reads the request up to
    /// the end of FCGI_STDIN, then writes `answer` and keeps the connection open.
    async fn fake(answer: Vec<u8>) -> (tempfile::TempDir, FastCgi) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("app.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut decoder = RecordDecoder::from_client();
            let mut buf = BytesMut::new();
            loop {
                match decoder.decode(&mut buf).unwrap() {
                    Some(r) if r.kind == RecordType::Stdin && r.content.is_empty() => break,
                    Some(_) => continue,
                    None => assert!(conn.read_buf(&mut buf).await.unwrap() > 0),
                }
            }
            conn.write_all(&answer).await.unwrap();
            let _ = conn.read_buf(&mut buf).await; // hold the connection until usher closes it
        });
        let mut opts = FastCgiOptions::new(Upstream::Unix(sock), dir.path().to_path_buf());
        opts.header_timeout = Duration::from_millis(300);
        (dir, FastCgi::new(opts))
    }

    async fn ask(fcgi: &FastCgi) -> Result<Response<ResponseBody>, Problem> {
        let (parts, ()) = http::Request::get("/a.php").body(()).unwrap().into_parts();
        let script = Script {
            file: "/a.php".into(),
            name: "/a.php".into(),
            path_info: String::new(),
        };
        let peer = Peer {
            remote: "127.0.0.1:1".parse().unwrap(),
            local: "127.0.0.1:2".parse().unwrap(),
            user: None,
        };
        let body = http_body_util::Empty::<Bytes>::new();
        respond(fcgi, &script, &parts, body, peer, "t1").await
    }

    fn stdout(data: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        record::encode_stream(&mut out, RecordType::Stdout, REQUEST_ID, data);
        out.to_vec()
    }

    fn end(status: ProtocolStatus) -> Vec<u8> {
        let end = EndRequest {
            app_status: 0,
            protocol_status: status,
        };
        end.encode(REQUEST_ID).to_vec()
    }

    #[tokio::test]
    async fn a_clean_answer_streams_and_pools_the_connection() {
        let mut answer = stdout(b"Content-Type: text/plain\r\n\r\nhel");
        answer.extend(stdout(b"lo"));
        answer.extend(record::stream_end(RecordType::Stdout, REQUEST_ID));
        answer.extend(end(ProtocolStatus::RequestComplete));
        let (_dir, fcgi) = fake(answer).await;
        let response = ask(&fcgi).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello");
        // The pump pools it once END_REQUEST is read, just after the body's end.
        for _ in 0..200 {
            if fcgi.pool.idle_count() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(fcgi.pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn overloaded_is_503_and_unknown_role_502() {
        for (status, code) in [
            (ProtocolStatus::Overloaded, 503),
            (ProtocolStatus::UnknownRole, 502),
        ] {
            let (_dir, fcgi) = fake(end(status)).await;
            assert_eq!(ask(&fcgi).await.unwrap_err().status.as_u16(), code);
            assert_eq!(fcgi.pool.idle_count(), 0);
        }
    }

    #[tokio::test]
    async fn malformed_records_are_502_and_silence_504() {
        let (_dir, fcgi) = fake(vec![9; 16]).await;
        assert_eq!(
            ask(&fcgi).await.unwrap_err().status,
            StatusCode::BAD_GATEWAY
        );
        let (_dir, fcgi) = fake(Vec::new()).await;
        let e = ask(&fcgi).await.unwrap_err();
        assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(fcgi.pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn refused_connections_are_502_without_the_address() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("nobody.sock");
        let fcgi = FastCgi::new(FastCgiOptions::new(
            Upstream::Unix(sock.clone()),
            dir.path().to_path_buf(),
        ));
        let e = ask(&fcgi).await.unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
        assert!(!format!("{e:?}").contains("nobody.sock"));
    }
}
