//! Writing a response: the head (RFC 9112 §4, §5), its framing (§6), and the body, in
//! memory, zero-copy from a file, or streamed (chunked for HTTP/1.1, close-delimited for 1.0).

use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::server::socket::Socket;
use bytes::Bytes;
use futures_util::FutureExt as _;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::response::Parts;
use http::{HeaderValue, Response, StatusCode, Version};
use http_body_util::BodyExt as _;

use super::io::{WRITE_BATCH, Writer};
use super::zero_copy;
use crate::body::ResponseBody;
use crate::body::file::Part;
use crate::body::prepared::RenderedFields;
use crate::http::persistence::names_close;
use crate::problem::Problem;

/// Bodies up to this size are copied next to their head and written with it; larger ones
/// are written from where they are, in one vectored write with the head.
pub(super) const COPY_BODY_LIMIT: usize = 16 * 1024;

/// What the request says about how to answer it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// The request's version: an HTTP/1.0 client gets no chunked coding.
    pub version: Version,
    /// HEAD: the head as for GET, no body (RFC 9110 §9.3.2).
    pub head_only: bool,
    /// Whether the connection stays open after this response; cleared when the body has no
    /// length and must be delimited by closing.
    pub keep_alive: bool,
}

/// How the body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delimit {
    /// No body (HEAD, 1xx, 204, 304).
    Nothing,
    /// Content-Length bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 with an unknown length).
    Close,
}

/// Write `response` (its head into `writer`, and the body), leaving small answers buffered
/// when `may_defer` (more pipelined requests are waiting, and their answers can go along).
/// An error means the connection must be dropped (a body that failed cannot be ended).
pub async fn write(
    stream: &Socket,
    writer: &mut Writer,
    response: Response<ResponseBody>,
    exchange: &mut Exchange,
    may_defer: bool,
) -> io::Result<()> {
    let (mut parts, prepared, body) = take_prepared(response);
    let (delimit, added) = frame(&mut parts, &body, exchange);
    // Room for a body that is copied next to its head, so the buffer is allocated once.
    let copied = match (&body, delimit) {
        (ResponseBody::Full(Some(bytes)), Delimit::Length(_)) if bytes.len() <= COPY_BODY_LIMIT => {
            bytes.len()
        }
        _ => 0,
    };
    let head_start = writer.buf.len();
    let lines = prepared.as_ref().map_or(&[][..], |fields| fields.lines());
    serialize_head(&parts, lines, added, copied, &mut writer.buf);
    if delimit == Delimit::Nothing {
        return finish(stream, writer, may_defer).await;
    }
    match body {
        ResponseBody::Empty => finish(stream, writer, may_defer).await,
        ResponseBody::Full(None) => finish(stream, writer, may_defer).await,
        ResponseBody::Full(Some(bytes)) => {
            write_bytes(stream, writer, &bytes, delimit == Delimit::Chunked).await?;
            if delimit == Delimit::Chunked {
                writer.buf.extend_from_slice(b"0\r\n\r\n");
            }
            finish(stream, writer, may_defer).await
        }
        ResponseBody::File(file_body) => match file_body.into_parts() {
            Ok((file, body_parts)) => {
                for part in body_parts {
                    match part {
                        Part::Bytes(bytes) => writer.buf.extend_from_slice(&bytes),
                        Part::File { offset, len } => {
                            let Some(file) = &file else {
                                return Err(io::Error::other("a file part without a file"));
                            };
                            // Boxed: a file's own state stays out of every answer's future.
                            let send = zero_copy::send_range(stream, writer, file, offset, len);
                            Box::pin(send).await?;
                        }
                    }
                }
                finish(stream, writer, may_defer).await
            }
            Err(polled) => {
                let body = ResponseBody::File(polled);
                Box::pin(stream_body(stream, writer, body, delimit))
                    .await
                    .map_err(|(Streamed::FailedFirst(e) | Streamed::Failed(e))| e)
            }
        },
        // Boxed, as files are: a stream's state is only needed by streamed answers. (A
        // prepared body was taken apart above; were one here, it would stream as any body.)
        body @ (ResponseBody::Stream(_) | ResponseBody::Prepared(_)) => {
            match Box::pin(stream_body(stream, writer, body, delimit)).await {
                Err(Streamed::FailedFirst(e)) => {
                    // Nothing of this answer has left: take its head back and say what
                    // happened (RFC 9110 §15.6.3: 502 for an invalid answer from upstream).
                    writer.buf.truncate(head_start);
                    let id = super::super::service::next_request_id();
                    tracing::warn!(request_id = %id, error = %e, "the answer's content failed before it started");
                    let problem = Problem::new(StatusCode::BAD_GATEWAY, "bad-gateway", "Bad Gateway")
                        .with_detail("The program or server behind this address sent an answer whose content could not be read.")
                        .with_request_id(id);
                    exchange.keep_alive = false;
                    let response = problem.into_response(None, exchange.head_only);
                    Box::pin(write(stream, writer, response, exchange, false)).await
                }
                Err(Streamed::Failed(e)) => {
                    // What the answer had before it failed still goes (a program's last
                    // words); then the connection closes without the answer's end, so the
                    // client sees it cut (RFC 9112 §8).
                    let _ = writer.flush(stream).await;
                    Err(e)
                }
                Ok(()) => Ok(()),
            }
        }
    }
}

/// Write the head of a 101 (Switching Protocols) answer and flush, with any answers held
/// back before it: the new protocol starts right after its empty line (RFC 9110 §15.2.2).
/// A 1xx has no content, so no framing fields (RFC 9110 §8.6, RFC 9112 §6.1), and as
/// `Upgrade` is a connection-specific field it is listed in `Connection` (RFC 9110 §7.6.1).
pub async fn write_switch(
    stream: &Socket,
    writer: &mut Writer,
    mut parts: Parts,
) -> io::Result<()> {
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(TRANSFER_ENCODING);
    parts.headers.remove(SERVER);
    parts
        .headers
        .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    let added = Added {
        date: !parts.headers.contains_key(DATE),
        server: true,
        ..Added::default()
    };
    serialize_head(&parts, &[], added, 0, &mut writer.buf);
    writer.flush(stream).await
}

/// Buffer an interim (1xx) answer: its status line and fields, and no framing (RFC 9110
/// §15.2: a 1xx ends at its empty line).
pub fn write_interim(writer: &mut Writer, interim: super::Interim) {
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = interim.status;
    parts.headers = interim.headers;
    for framing in [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION] {
        parts.headers.remove(framing);
    }
    serialize_head(&parts, &[], Added::default(), 0, &mut writer.buf);
}

/// Fields the connection adds after the handler's own. They are written straight into the
/// head rather than stored in the map first: an insert hashes and may grow the map, and a
/// number or a date stored as a field value needs an allocation of its own.
#[derive(Debug, Clone, Copy, Default)]
struct Added {
    /// `Content-Length`: the body's length, or for HEAD the length a GET would have had.
    length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    chunked: bool,
    /// `Connection`, with this option: `close`, or `keep-alive` for HTTP/1.0.
    connection: Option<&'static str>,
    /// `Date` (RFC 9110 §6.6.1: an origin server with a clock MUST send it), unless the
    /// handler passed one on (a proxied answer's own).
    date: bool,
    /// `Server: usher` (RFC 9110 §10.2.4). It replaces a handler's (a proxied answer's), as
    /// nginx does: the software behind usher is not announced.
    server: bool,
}

/// What the handler's own fields say about framing and the connection, found in one pass
/// over them. Most answers then need no field removed from the map: four lookups by name
/// (each a hash and a probe) cost more than the pass.
#[derive(Debug, Default)]
struct Stated {
    /// `Content-Length` field lines.
    lengths: usize,
    /// The first `Content-Length`, when it is a plain decimal number (no sign, no leading
    /// zero: the form usher would write itself).
    length: Option<u64>,
    transfer_encoding: bool,
    /// Any `Connection` field line, and whether one names the `close` option.
    connection: bool,
    close: bool,
    date: bool,
    server: bool,
}

impl Stated {
    fn of(headers: &http::HeaderMap) -> Self {
        let mut stated = Stated::default();
        for (name, value) in headers {
            if name == CONTENT_LENGTH {
                stated.lengths += 1;
                if stated.lengths == 1 {
                    stated.length = plain_decimal(value.as_bytes());
                }
            } else if name == TRANSFER_ENCODING {
                stated.transfer_encoding = true;
            } else if name == CONNECTION {
                stated.connection = true;
                stated.close |= names_close(value.as_bytes());
            } else if name == DATE {
                stated.date = true;
            } else if name == SERVER {
                stated.server = true;
            }
        }
        stated
    }
}

/// `digits` as a number, if written as usher would write it: ASCII digits, no leading zero.
fn plain_decimal(digits: &[u8]) -> Option<u64> {
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    crate::http::parse_decimal(digits)
}

/// The answer's parts, the field lines of a prepared one, and its body as a plain one. The
/// lines are copied whole when the map holds nothing else; a field set there since may
/// replace one of them, so then they are put into the map instead.
fn take_prepared(
    response: Response<ResponseBody>,
) -> (Parts, Option<Arc<RenderedFields>>, ResponseBody) {
    let (parts, body) = response.into_parts();
    match body {
        ResponseBody::Prepared(prepared) if parts.headers.is_empty() => {
            let (fields, body) = prepared.into_parts();
            (parts, Some(fields), body)
        }
        body @ ResponseBody::Prepared(_) => {
            let mut response = Response::from_parts(parts, body);
            crate::body::prepared::thaw(&mut response);
            let (parts, body) = response.into_parts();
            (parts, None, body)
        }
        body => (parts, None, body),
    }
}

/// Choose the delimitation, make the handler's fields agree with it and with whether the
/// connection stays open (RFC 9112 §6.1–§6.3, §9.6), and say what the connection writes
/// after them (see [`Added`]).
fn frame(parts: &mut Parts, body: &ResponseBody, exchange: &mut Exchange) -> (Delimit, Added) {
    let stated = Stated::of(&parts.headers);
    let (delimit, length) = delimit(parts, body, exchange, &stated);
    // RFC 9112 §9.6: a server that sends `close` MUST close after that response, so a
    // handler's own `Connection: close` ends the connection too.
    if stated.close {
        exchange.keep_alive = false;
    }
    let connection = if !exchange.keep_alive {
        Some("close")
    } else if exchange.version == Version::HTTP_10 {
        Some("keep-alive")
    } else {
        None
    };
    // The connection's own option replaces the handler's (unless it already says close).
    let connection = connection.filter(|_| !stated.close);
    if connection.is_some() && stated.connection {
        parts.headers.remove(CONNECTION);
    }
    if stated.server {
        parts.headers.remove(SERVER);
    }
    let added = Added {
        length,
        chunked: delimit == Delimit::Chunked,
        connection,
        date: !stated.date,
        server: true,
    };
    (delimit, added)
}

/// Choose the delimitation and remove the framing fields that disagree with it (RFC 9112
/// §6.1–§6.3); the `Content-Length` to write, if the connection writes it.
fn delimit(
    parts: &mut Parts,
    body: &ResponseBody,
    exchange: &mut Exchange,
    stated: &Stated,
) -> (Delimit, Option<u64>) {
    let status = parts.status;
    let exact = http_body::Body::size_hint(body).exact();
    if stated.transfer_encoding {
        // Only the connection chooses the transfer coding.
        parts.headers.remove(TRANSFER_ENCODING);
    }
    let mut drop_lengths = || {
        if stated.lengths > 0 {
            parts.headers.remove(CONTENT_LENGTH);
        }
    };
    if never_has_content(status) {
        // 304 may keep the selected representation's length.
        if status != StatusCode::NOT_MODIFIED {
            drop_lengths();
        }
        return (Delimit::Nothing, None);
    }
    if exchange.head_only {
        // The length a GET would have had, when the handler did not state it itself.
        return (Delimit::Nothing, exact.filter(|_| stated.lengths == 0));
    }
    match exact {
        // The body's own length wins over any the handler stated; one that agrees (a
        // file's, known before its body) is kept where it is.
        Some(n) if stated.lengths == 1 && stated.length == Some(n) => (Delimit::Length(n), None),
        Some(n) => {
            drop_lengths();
            (Delimit::Length(n), Some(n))
        }
        None if exchange.version == Version::HTTP_11 => {
            drop_lengths();
            (Delimit::Chunked, None)
        }
        None => {
            drop_lengths();
            exchange.keep_alive = false;
            (Delimit::Close, None)
        }
    }
}

/// Whether an answer of `status` never has content (RFC 9112 §6.3: 1xx, 204, 304): its
/// head ends it.
pub(super) fn never_has_content(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// The status line, the field lines rendered ahead (`lines`, a prepared answer's), the
/// fields in the order the handler set them, then the connection's own. The buffer grows
/// once, by what the head takes plus `then` bytes (a body copied after it), not step by step
/// as it is written.
fn serialize_head(parts: &Parts, lines: &[u8], added: Added, then: usize, out: &mut Vec<u8>) {
    let reason = reason_phrase(parts.status);
    let fields: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    // "HTTP/1.1 200 " CRLF, the fields, "content-length: " u64 CRLF, "transfer-encoding:
    // chunked" CRLF, "connection: keep-alive" CRLF, "date: " date CRLF, "server: usher"
    // CRLF, CRLF.
    let added_len = 16 + 20 + 2 + 28 + 24 + 6 + HTTP_DATE_LEN + 2 + 15;
    out.reserve(13 + reason.len() + 2 + lines.len() + fields + added_len + 2 + then);
    put_status_line(parts.status, out);
    out.extend_from_slice(lines);
    crate::http::put_field_lines(&parts.headers, out);
    if let Some(length) = added.length {
        put_content_length(length, out);
    }
    if added.chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if let Some(option) = added.connection {
        put_connection(option, out);
    }
    if added.date {
        put_date(out);
    }
    if added.server {
        out.extend_from_slice(SERVER_LINE);
    }
    out.extend_from_slice(b"\r\n");
}

/// The head [`serialize_head`] writes for a prepared answer of `length` bytes (`None`: a
/// 304's, which states none), up to its `Connection` or `Date`: status
/// line, `lines`, `Content-Length`. [`put_tail`] ends it. (The express lane repeats answers
/// this way.)
pub(super) fn put_head_start(
    status: StatusCode,
    lines: &[u8],
    length: Option<u64>,
    out: &mut Vec<u8>,
) {
    put_status_line(status, out);
    out.extend_from_slice(lines);
    if let Some(length) = length {
        put_content_length(length, out);
    }
}

/// What [`serialize_head`] ends the head of [`put_head_start`] with: the `Connection`
/// option the connection states (`close`, or `keep-alive` to HTTP/1.0), `Date`, `Server`,
/// and the empty line.
pub(super) fn put_tail(connection: Option<&str>, out: &mut Vec<u8>) {
    if let Some(option) = connection {
        put_connection(option, out);
    }
    put_date(out);
    out.extend_from_slice(SERVER_LINE);
    out.extend_from_slice(b"\r\n");
}

/// `Server: usher` (RFC 9110 §10.2.4).
const SERVER_LINE: &[u8] = b"server: usher\r\n";

fn put_status_line(status: StatusCode, out: &mut Vec<u8>) {
    // RFC 9110 §6.2: answer with our highest version at or below the request's major: 1.1.
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn put_connection(option: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"connection: ");
    out.extend_from_slice(option.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn put_content_length(length: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn put_date(out: &mut Vec<u8>) {
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(&http_date());
    out.extend_from_slice(b"\r\n");
}

/// The reason phrase for `status`: RFC 9110's where the `http` crate still has an older
/// name (§15.3.4, §15.5.14, §15.5.21), else the crate's, else "Unknown" (a client must
/// ignore it, RFC 9112 §4).
fn reason_phrase(status: StatusCode) -> &'static str {
    match status.as_u16() {
        203 => "Non-Authoritative Information",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        _ => status.canonical_reason().unwrap_or("Unknown"),
    }
}

/// Buffer or write one piece of body, in a chunk of its own when `chunked`.
async fn write_bytes(
    stream: &Socket,
    writer: &mut Writer,
    bytes: &Bytes,
    chunked: bool,
) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    if chunked {
        writer
            .buf
            .extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
    }
    if bytes.len() <= COPY_BODY_LIMIT {
        writer.buf.extend_from_slice(bytes);
    } else {
        writer.flush_with(stream, bytes).await?;
    }
    if chunked {
        writer.buf.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// How a streamed body failed.
#[derive(Debug)]
enum Streamed {
    /// Before any of the answer was written: its head is still in the buffer.
    FailedFirst(io::Error),
    /// Once it had started: the connection must be dropped.
    Failed(io::Error),
}

impl From<io::Error> for Streamed {
    fn from(e: io::Error) -> Self {
        Streamed::Failed(e)
    }
}

/// Send a body polled frame by frame. The buffer is flushed whenever the body has nothing
/// ready, so a slow producer's output reaches the client as it is made.
async fn stream_body(
    stream: &Socket,
    writer: &mut Writer,
    mut body: ResponseBody,
    delimit: Delimit,
) -> Result<(), Streamed> {
    let chunked = delimit == Delimit::Chunked;
    let mut left = match delimit {
        Delimit::Length(n) => Some(n),
        _ => None,
    };
    // Whether any of the answer has been written to the socket: until then, it can still be
    // taken back and replaced.
    let mut started = false;
    loop {
        let frame = match body.frame().now_or_never() {
            Some(frame) => frame,
            None => {
                started = true;
                writer.flush(stream).await?;
                // Through the scheduler before the body is asked again: a body that waits on
                // nothing but its own share of the thread (a compressed one yielding between
                // blocks) has woken itself, and asked at once it would go on without ever
                // letting the thread's other connections run.
                tokio::task::yield_now().await;
                body.frame().await
            }
        };
        let Some(frame) = frame else { break };
        // A body that fails cannot be ended cleanly: the caller drops the connection, so the
        // client sees a short (or unterminated chunked) body, never a complete-looking one.
        // Unless nothing has been written yet: then the answer can still be replaced.
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) if !started => return Err(Streamed::FailedFirst(e)),
            Err(e) => return Err(Streamed::Failed(e)),
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers: not sent (no client asked for them with TE: trailers)
        };
        if let Some(left) = &mut left {
            *left = left
                .checked_sub(data.len() as u64)
                .ok_or_else(|| io::Error::other("the body is longer than its length"))?;
        }
        // Larger pieces are written at once, not buffered (see `write_bytes`).
        started |= data.len() > COPY_BODY_LIMIT;
        write_bytes(stream, writer, &data, chunked).await?;
        if writer.buf.len() >= WRITE_BATCH {
            started = true;
            writer.flush(stream).await?;
        }
    }
    if left.is_some_and(|left| left > 0) {
        let short = io::Error::other("the body is shorter than its length");
        return Err(if started {
            Streamed::Failed(short)
        } else {
            Streamed::FailedFirst(short)
        });
    }
    if chunked {
        writer.buf.extend_from_slice(b"0\r\n\r\n");
    }
    Ok(writer.flush(stream).await?)
}

/// Write what is buffered, unless answers may wait for the next pipelined one.
async fn finish(stream: &Socket, writer: &mut Writer, may_defer: bool) -> io::Result<()> {
    if may_defer && writer.buf.len() < WRITE_BATCH {
        return Ok(());
    }
    writer.flush(stream).await
}

/// Length of an IMF-fixdate, such as `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
const HTTP_DATE_LEN: usize = 29;

/// The current `Date` value (RFC 9110 §6.6.1), formatted once per second per thread (the
/// access log's time comes from it too).
pub(crate) fn http_date() -> [u8; HTTP_DATE_LEN] {
    thread_local! {
        static CACHED: Cell<(u64, [u8; HTTP_DATE_LEN])> =
            const { Cell::new((u64::MAX, [0; HTTP_DATE_LEN])) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with(|cached| {
        let (at, date) = cached.get();
        if at == second {
            return date;
        }
        let mut date = [0; HTTP_DATE_LEN];
        date.copy_from_slice(httpdate::fmt_http_date(now).as_bytes());
        cached.set((second, date));
        date
    })
}

#[cfg(test)]
mod tests;
