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
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body::Body;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use super::FastCgi;
use super::record::{self, EndRequest, ProtocolStatus, Record, RecordDecoder, RecordError};
use super::record::{EncodeError, RecordType};
use crate::body::ResponseBody;
use crate::handlers::balance::{Key, NoUpstream};
use crate::handlers::cgi::Script;
use crate::handlers::cgi::env::{EnvContext, build, with_length};
use crate::handlers::cgi::output::{self, CgiHead, OutputError};
use crate::handlers::cgi::run::{Peer, ProgramBody, Remaining};
use crate::handlers::spool::{self, ClientBody};
use crate::handlers::stderr_log::StderrLog;
use crate::handlers::upstream::{Conn, Lease};
use crate::problem::Problem;

/// The request id usher uses: one request per connection at a time, so always the same
/// (FastCGI 1.0 §3.3: ids are the web server's to choose, and only need to be unique among a
/// connection's requests in flight).
const REQUEST_ID: u16 = 1;

/// Room for the first read: most answers' head and a small page fit.
const FIRST_READ: usize = 8 * 1024;

/// Longest wait to write FCGI_ABORT_REQUEST before the connection is simply closed.
const ABORT_WRITE_LIMIT: Duration = Duration::from_secs(5);

/// Most room added at once when more is needed: a whole record's worth.
const READ_CHUNK: usize = 64 * 1024;

/// How the route's kind is named to clients, instead of its address.
const ROLE: &str = "The PHP application server that answers this address";

/// Why a FastCGI request failed; logged, never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum FastCgiError {
    /// The connection could not be opened.
    #[error("could not connect: {0}")]
    Connect(#[source] io::Error),
    /// The connection was not accepted within the route's `connect-timeout`.
    #[error("the application did not accept a connection within {0:?}")]
    ConnectTimeout(Duration),
    /// Every address is marked down after failing.
    #[error("every address of the application failed recently")]
    AllDown,
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
    /// The request ended before the length its head declared.
    #[error("the application's output ended before its Content-Length")]
    ShortBody,
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
            FastCgiError::HeaderTimeout(_) | FastCgiError::ConnectTimeout(_) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            FastCgiError::Refused(ProtocolStatus::Overloaded) => StatusCode::SERVICE_UNAVAILABLE,
            FastCgiError::ClientBody(_) => StatusCode::BAD_REQUEST,
            FastCgiError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
            FastCgiError::Connect(_)
            | FastCgiError::AllDown
            | FastCgiError::Io(_)
            | FastCgiError::Record(_)
            | FastCgiError::WrongRequest { .. }
            | FastCgiError::Output(_)
            | FastCgiError::Closed
            | FastCgiError::ShortBody
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
            StatusCode::GATEWAY_TIMEOUT => {
                let what = match self {
                    FastCgiError::ConnectTimeout(_) => "did not accept a connection in time.",
                    _ => "did not start its answer in time.",
                };
                Problem::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "fastcgi-timeout",
                    "Gateway Timeout",
                )
                .with_detail(format!("{ROLE} {what}"))
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                Problem::unavailable(format!("{ROLE} is overloaded."), 1)
            }
            StatusCode::BAD_REQUEST => match self {
                FastCgiError::ClientBody(reason) => Problem::unreadable_content(reason),
                _ => Problem::bad_request("The request could not be passed on."),
            },
            StatusCode::BAD_GATEWAY
                if matches!(self, FastCgiError::Connect(_) | FastCgiError::AllDown) =>
            {
                Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "fastcgi-unreachable",
                    "Bad Gateway",
                )
                .with_detail(format!("{ROLE} could not be reached."))
            }
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
    let (length, body) = spool::content(parts, body, opts.max_body)
        .await
        .map_err(|p| p.with_request_id(request_id))?;
    let cx = EnvContext {
        peer: peer.remote,
        local: peer.local,
        document_root: &opts.root,
        pass_authorization: opts.pass_authorization.unwrap_or(peer.user.is_none()),
        extra: &[],
        inherit: &[],
        user: peer.user,
    };
    // Stored content: its length is known only now (RFC 3875 §4.1.2).
    let params = with_length(build(parts, script, &cx), length);
    let mut head = BytesMut::with_capacity(4096);
    head.extend_from_slice(&record::begin_request(REQUEST_ID, fcgi.keeps_connections()));
    let pairs = params.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
    let fail = |e: FastCgiError| {
        tracing::warn!(request_id, "fastcgi request failed: {e}");
        e.problem(request_id)
    };
    record::encode_params(&mut head, REQUEST_ID, pairs).map_err(|e| fail(e.into()))?;
    head.extend_from_slice(&record::params_end(REQUEST_ID));
    let empty = body.is_end_stream();
    if empty {
        // No content: the empty FCGI_STDIN goes in the same write as the parameters.
        head.extend_from_slice(&record::stdin_end(REQUEST_ID));
    }
    let key = Key {
        client: peer.remote.ip(),
        field: None,
    };
    let started = tokio::time::timeout(
        opts.header_timeout,
        start(
            fcgi,
            key,
            head.freeze(),
            (!empty).then_some(body),
            parts.method.is_idempotent(),
            request_id,
        ),
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
    let (exchange, rest) = match exchange.whole_answer(rest, request_id).map_err(fail)? {
        // The whole answer came with its head (a small page): no task, no channel, and
        // the head and body go out in one write.
        Buffered::Whole(exchange, mut body) => {
            // The records were whole: the connection is sound whatever the answer says.
            if let Some((conn, lease)) = exchange.into_conn() {
                lease.keep(conn);
            }
            let body = if parts.method == Method::HEAD {
                // No content came, and the length a GET would have had is only known if the
                // program said it: an empty body would be announced as `Content-Length: 0`
                // (RFC 9110 §8.6: a HEAD answer's length is the GET's).
                let (_, none) = mpsc::channel(1);
                ResponseBody::stream(ProgramBody::new(none, length))
            } else {
                if let Some(n) = length {
                    if (body.len() as u64) < n {
                        return Err(fail(FastCgiError::ShortBody));
                    }
                    body.truncate(n as usize); // RFC 3875 §6.3.2: the rest is not the answer
                }
                ResponseBody::Full(Some(body))
            };
            let mut response = Response::new(body);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            return Ok(response);
        }
        Buffered::Part(exchange, body) => (exchange, body),
    };
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(pump(
        exchange,
        rest,
        tx,
        opts.idle_timeout,
        length,
        request_id.to_owned(),
    ));
    let mut response = Response::new(ResponseBody::stream(ProgramBody::new(rx, length)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Open (or reuse) a connection to one of the route's addresses, send `head` (BEGIN_REQUEST
/// and PARAMS), start streaming the body, and read until the answer's head is complete: the
/// exchange, the head, the body bytes that came with it, and the pool the connection goes
/// back to.
async fn start(
    fcgi: &FastCgi,
    key: Key<'_>,
    head: Bytes,
    mut body: Option<ClientBody>,
    idempotent: bool,
    request_id: &str,
) -> Result<(Exchange, CgiHead, Bytes), FastCgiError> {
    // A request without content, on a kept-alive connection that turns out closed before
    // any record came back (php-fpm recycled the child after its last request): nothing of
    // it was read, so an idempotent one goes again on another connection.
    let may_retry = body.is_none() && idempotent;
    loop {
        let (conn, lease, picked, reused) = connect(fcgi, key, &head, request_id).await?;
        let answer = read_head(conn, lease, body.take(), request_id).await;
        match &answer {
            Ok(_) => fcgi.upstreams.succeeded(picked),
            Err((FastCgiError::Io(_) | FastCgiError::Closed, false)) if reused && may_retry => {
                tracing::debug!(
                    request_id,
                    "fastcgi: a kept-alive connection was closed; again"
                );
                continue;
            }
            // A broken peer counts against its address; a slow or refusing script does not.
            Err((FastCgiError::Io(_) | FastCgiError::Record(_) | FastCgiError::Closed, _)) => {
                fcgi.upstreams.failed(picked, Instant::now());
            }
            Err(_) => {}
        }
        return answer.map_err(|(e, _)| e);
    }
}

/// A connection that took `head`: an idle one of the next address, or a new one (waiting
/// while the address has `max-connections` open). An address that cannot be reached is
/// marked and the next one tried (nothing was sent, so any request may go elsewhere); a
/// pooled connection found closed is replaced.
async fn connect(
    fcgi: &FastCgi,
    key: Key<'_>,
    head: &[u8],
    request_id: &str,
) -> Result<(Conn, Lease, usize, bool), FastCgiError> {
    let mut tried = Vec::new();
    let mut last = None;
    loop {
        let pick = match fcgi.upstreams.pick(key, &tried, Instant::now()) {
            Ok(pick) => pick,
            Err(NoUpstream::Exhausted) => return Err(last.unwrap_or(FastCgiError::AllDown)),
            Err(NoUpstream::AllDown { .. }) => return Err(last.unwrap_or(FastCgiError::AllDown)),
        };
        let pool = pick.target;
        let lease = match pool.acquire().await {
            (Some(mut conn), lease) => {
                if conn.write_all(head).await.is_ok() {
                    return Ok((conn, lease, pick.index, true));
                }
                continue; // closed while idle: the next one, or a new connection
            }
            (None, lease) => lease,
        };
        let connected = tokio::time::timeout(fcgi.opts.connect_timeout, pool.connect()).await;
        let error = match connected {
            Ok(Ok(mut conn)) => match conn.write_all(head).await {
                Ok(()) => return Ok((conn, lease, pick.index, false)),
                Err(e) => FastCgiError::Io(e),
            },
            Ok(Err(e)) => FastCgiError::Connect(e),
            Err(_) => FastCgiError::ConnectTimeout(fcgi.opts.connect_timeout),
        };
        tracing::warn!(request_id, upstream = %pool.upstream(), "fastcgi address failed: {error}");
        fcgi.upstreams.failed(pick.index, Instant::now());
        tried.push(pick.index);
        last = Some(error);
    }
}

/// Stream `body`, if any, on `conn` while reading the answer up to the end of its head.
/// On failure, the error and whether any record had come back.
async fn read_head(
    conn: Conn,
    lease: Lease,
    body: Option<ClientBody>,
    request_id: &str,
) -> Result<(Exchange, CgiHead, Bytes), (FastCgiError, bool)> {
    let (rd, wr) = tokio::io::split(conn);
    let mut exchange = Exchange::new(rd, lease);
    match body {
        Some(body) => exchange.writer = Some(Box::pin(send_body(wr, body))),
        None => exchange.wr = Some(wr),
    }
    let mut out = BytesMut::new();
    let mut received = false;
    loop {
        let record = exchange.next_record().await.map_err(|e| (e, received))?;
        received = true;
        let fail = |e: FastCgiError| Err((e, true));
        match record.kind {
            RecordType::Stdout if record.content.is_empty() => {
                return fail(FastCgiError::EndedBeforeHead);
            }
            RecordType::Stdout => {
                out.extend_from_slice(&record.content);
                match output::parse(&out) {
                    Ok(Some((head, consumed))) => {
                        let rest = out.split_off(consumed).freeze();
                        return Ok((exchange, head, rest));
                    }
                    Ok(None) => {}
                    Err(e) => return fail(e.into()),
                }
            }
            RecordType::Stderr => log_stderr(&record, request_id),
            RecordType::EndRequest => {
                exchange.done = true; // the request is over: nothing to abort
                return fail(match EndRequest::parse(&record.content) {
                    Err(e) => e.into(),
                    Ok(end) if end.protocol_status == ProtocolStatus::RequestComplete => {
                        FastCgiError::EndedBeforeHead
                    }
                    Ok(end) => FastCgiError::Refused(end.protocol_status),
                });
            }
            kind => {
                return fail(FastCgiError::WrongRequest {
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
    request_id: String,
) {
    let mut left = Remaining(length);
    // The empty FCGI_STDOUT record ends the stream (§3.3); FCGI_STDERR may follow it.
    let mut stdout_ended = exchange.stdout_ended;
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
                let complete =
                    end.is_ok_and(|e| e.protocol_status == ProtocolStatus::RequestComplete);
                if !complete {
                    // §5.5: the request did not complete (overloaded, refused, or an END
                    // that is not FastCGI): what was sent is not the whole answer.
                    tracing::warn!(
                        request_id,
                        "fastcgi answer cut: the request did not complete"
                    );
                    let e = io::Error::other("the application did not complete the request");
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                if let Some((conn, lease)) = exchange.into_conn() {
                    lease.keep(conn);
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

/// Log what the application wrote to FCGI_STDERR, tagged with the request. Each record is
/// taken on its own (a record is at most 64 KiB), its lines cut as [`StderrLog`] cuts them.
fn log_stderr(record: &Record, request_id: &str) {
    let mut log = StderrLog::default();
    let mut emit = |line: &str| tracing::warn!(request_id, "application stderr: {line}");
    log.feed(&record.content, &mut emit);
    log.finish(&mut emit);
}

/// Write the request body as FCGI_STDIN records, then the empty one; the write half back.
async fn send_body(
    mut wr: WriteHalf<Conn>,
    body: ClientBody,
) -> Result<WriteHalf<Conn>, FastCgiError> {
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

/// What came with the answer's head.
enum Buffered {
    /// The whole body, and the request ended: the exchange is done.
    Whole(Exchange, Bytes),
    /// The body so far; the rest is still to be read.
    Part(Exchange, Bytes),
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
    /// The connection's place in its pool: dropped with the exchange, it counts as closed.
    lease: Option<Lease>,
    /// The request ended (or was aborted): nothing left to abort.
    done: bool,
    /// The empty FCGI_STDOUT record was read: more STDOUT breaks the protocol (§3.3).
    stdout_ended: bool,
}

impl Exchange {
    fn new(rd: ReadHalf<Conn>, lease: Lease) -> Self {
        Exchange {
            rd: Some(rd),
            wr: None,
            writer: None,
            buf: BytesMut::with_capacity(FIRST_READ),
            lease: Some(lease),
            stdout_ended: false,
            decoder: RecordDecoder::from_application(),
            done: false,
        }
    }

    /// The next record of usher's request already buffered, if any.
    fn buffered_record(&mut self) -> Result<Option<Record>, FastCgiError> {
        while let Some(record) = self.decoder.decode(&mut self.buf)? {
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
            return Ok(Some(record));
        }
        Ok(None)
    }

    /// The next record of usher's request, while the body keeps being sent.
    async fn next_record(&mut self) -> Result<Record, FastCgiError> {
        loop {
            if let Some(record) = self.buffered_record()? {
                return Ok(record);
            }
            let Exchange {
                rd, buf, writer, ..
            } = self;
            let rd = rd.as_mut().ok_or(FastCgiError::Closed)?;
            if buf.capacity() - buf.len() < FIRST_READ / 4 {
                buf.reserve(buf.len().clamp(FIRST_READ, READ_CHUNK));
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

    /// The answer's body so far, `first` and whatever records are already buffered, decoded
    /// without waiting; `Whole` if they include the request's successful end.
    fn whole_answer(mut self, first: Bytes, request_id: &str) -> Result<Buffered, FastCgiError> {
        let mut body = BytesMut::from(first);
        let mut stdout_ended = false;
        while let Some(record) = self.buffered_record()? {
            match record.kind {
                RecordType::Stdout if stdout_ended => return Err(FastCgiError::Closed),
                RecordType::Stdout if record.content.is_empty() => stdout_ended = true,
                RecordType::Stdout => body.extend_from_slice(&record.content),
                RecordType::Stderr => log_stderr(&record, request_id),
                RecordType::EndRequest => {
                    let end = EndRequest::parse(&record.content)?;
                    self.done = true;
                    return match end.protocol_status {
                        ProtocolStatus::RequestComplete => Ok(Buffered::Whole(self, body.freeze())),
                        status => Err(FastCgiError::Refused(status)),
                    };
                }
                kind => {
                    return Err(FastCgiError::WrongRequest {
                        kind,
                        id: record.request_id,
                    });
                }
            }
        }
        // The pump goes on from here, knowing whether STDOUT has ended.
        self.stdout_ended = stdout_ended;
        Ok(Buffered::Part(self, body.freeze()))
    }

    /// Ask the application to stop the request, and close the connection.
    async fn abort(mut self) {
        self.done = true;
        if let Some(wr) = &mut self.wr {
            let record = record::abort_request(REQUEST_ID);
            let abort = wr.write_all(&record);
            // An application that reads no more must not hold this task and its connection.
            let _ = tokio::time::timeout(ABORT_WRITE_LIMIT, abort).await;
        }
    }

    /// The connection, if it is fit for another request: the body was all sent and nothing
    /// is left unread.
    fn into_conn(mut self) -> Option<(Conn, Lease)> {
        self.done = true;
        if !self.buf.is_empty() {
            return None;
        }
        let (rd, wr, lease) = (self.rd.take()?, self.wr.take()?, self.lease.take()?);
        Some((rd.unsplit(wr), lease))
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
                let record = record::abort_request(REQUEST_ID);
                let abort = wr.write_all(&record);
                let _ = tokio::time::timeout(ABORT_WRITE_LIMIT, abort).await;
                drop(rd);
            });
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
