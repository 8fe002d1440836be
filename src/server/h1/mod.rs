//! usher's own HTTP/1.x connection: read heads, run the service, write answers, repeat.
//!
//! Why not hyper here (it still serves HTTP/2): measured with `bench/compare.sh`, hyper held
//! ~17.7 KiB per idle keep-alive connection (its 8 KiB read and write buffers live as long as
//! the connection) against nginx's 0.4 KiB, it has no zero-copy path for files, and its own
//! 400/414/431 answers have empty bodies. Here buffers exist only while a request is being
//! read or answered ([`io`]), file ranges go out with `sendfile` ([`zero_copy`]), and every
//! refusal is a negotiated [`Problem`].
//!
//! Per connection, in order (RFC 9112 §9.3): parse a head ([`head`]), hand the request to the
//! service while feeding it its content on demand ([`request_body`]), write the answer
//! ([`response`]), then read the rest of any content the handler left, or close. Pipelined
//! requests are answered in order, their answers batched into one write.

pub mod head;
mod io;
mod request_body;
mod response;
mod zero_copy;

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use tokio::net::TcpStream;
use tokio::sync::watch;

use self::head::Head;
use self::io::{Reader, Writer};
use self::request_body::{BodyFeed, FeedEvent};
use self::response::Exchange;
use super::App;
use super::service;
use crate::problem::Problem;
pub use request_body::RequestBody;

/// The connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Content a handler did not read is read and discarded up to this much, so the connection
/// can carry the next request; past it the connection closes instead.
const DISCARD_LIMIT: u64 = 1024 * 1024;

/// How a connection ended.
pub enum Outcome {
    /// Closed (by either side, a timeout, or shutdown).
    Closed,
    /// The client opened with the HTTP/2 preface: serve HTTP/2 on the stream, starting
    /// with the bytes already read.
    H2(TcpStream, Bytes),
}

/// Serve HTTP/1.x on `stream` until it closes, the head timeout passes, or `stop` fires.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    head_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<Outcome> {
    let mut reader = Reader::default();
    let mut writer = Writer::default();
    let mut first = true;
    loop {
        let head = match read_head(
            &stream,
            &mut reader,
            &mut writer,
            head_timeout,
            &mut stop,
            first,
        )
        .await?
        {
            HeadRead::Head(head) => head,
            HeadRead::H2 => return Ok(Outcome::H2(stream, reader.buf.freeze())),
            HeadRead::Closed => {
                writer.flush(&stream).await?;
                return Ok(Outcome::Closed);
            }
            HeadRead::Refused(problem, accept) => {
                let response = problem.into_response(accept.as_ref(), false);
                return Box::pin(refuse(&stream, &mut reader, &mut writer, response)).await;
            }
        };
        first = false;
        // Boxed: see `exchange`.
        let keep = Box::pin(exchange(
            &stream,
            peer,
            &app,
            &mut reader,
            &mut writer,
            head,
            &stop,
        ))
        .await?;
        if !keep {
            writer.flush(&stream).await?;
            linger(&stream, &mut reader).await;
            return Ok(Outcome::Closed);
        }
    }
}

/// What waiting for a request head gave.
enum HeadRead {
    Head(Box<Head>),
    /// The client spoke HTTP/2 with prior knowledge.
    H2,
    /// The client closed, idled past the timeout, or the server is stopping.
    Closed,
    /// The head is malformed or too large: answer (negotiated by its Accept when the fields
    /// could be read) and close.
    Refused(Box<Problem>, Option<http::HeaderValue>),
}

/// Read until a whole head is buffered. Before waiting on the client, pending answers are
/// written and both buffers released, so a connection that idles holds none.
async fn read_head(
    stream: &TcpStream,
    reader: &mut Reader,
    writer: &mut Writer,
    timeout: Duration,
    stop: &mut watch::Receiver<bool>,
    first: bool,
) -> std::io::Result<HeadRead> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if first && H2_PREFACE.starts_with(&reader.buf[..reader.buf.len().min(H2_PREFACE.len())]) {
            if reader.buf.len() >= H2_PREFACE.len() {
                return Ok(HeadRead::H2);
            }
        } else if !reader.buf.is_empty() {
            match head::parse(&mut reader.buf) {
                Ok(Some(head)) => return Ok(HeadRead::Head(Box::new(head))),
                Ok(None) => {}
                Err(refusal) => return Ok(HeadRead::Refused(refusal.problem, refusal.accept)),
            }
        }
        // Cheap path for a busy connection: the next request is often already there.
        match reader.fill_now(stream)? {
            Some(0) => return Ok(HeadRead::Closed),
            Some(_) => continue,
            None => {}
        }
        writer.flush(stream).await?;
        if *stop.borrow() {
            return Ok(HeadRead::Closed);
        }
        writer.release();
        reader.release();
        let ready = tokio::select! {
            ready = tokio::time::timeout_at(deadline, stream.readable()) => ready,
            _ = stop.changed(), if reader.buf.is_empty() => return Ok(HeadRead::Closed),
        };
        match ready {
            Ok(ready) => ready?,
            Err(_) if reader.buf.is_empty() => return Ok(HeadRead::Closed),
            Err(_) => {
                let problem = Problem::new(
                    http::StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    "Request timeout",
                )
                .with_detail(format!(
                    "The request head did not arrive whole within {} seconds.",
                    timeout.as_secs()
                ));
                return Ok(HeadRead::Refused(Box::new(problem), None));
            }
        }
    }
}

/// Answer one request; `Ok(true)` if the connection may carry another.
///
/// The caller boxes this future: a connection's future is as large as its largest state and
/// lives as long as the connection, so the states of a request (handler, body feed, writer:
/// kilobytes) are allocated per request, and an idle connection's future stays small.
async fn exchange(
    stream: &TcpStream,
    peer: SocketAddr,
    app: &Arc<App>,
    reader: &mut Reader,
    writer: &mut Writer,
    head: Box<Head>,
    stop: &watch::Receiver<bool>,
) -> std::io::Result<bool> {
    let Head {
        parts,
        framing,
        keep_alive,
        expect_continue,
    } = *head;
    let mut exchange = Exchange {
        version: parts.version,
        head_only: parts.method == Method::HEAD,
        keep_alive,
    };
    let (body, mut feed) = request_body::channel(framing, expect_continue);
    let request = Request::from_parts(parts, body);
    let conn = super::Conn {
        peer,
        local: stream.local_addr().unwrap_or(peer),
    };
    let mut handling = pin!(service::handle(app.clone(), conn, None, request));
    let mut continue_sent = false;
    let response: Response<_> = loop {
        let Some(active) = feed.as_mut().filter(|f| !f.is_done()) else {
            break handling.await.unwrap_or_else(|never| match never {});
        };
        tokio::select! {
            response = &mut handling => break response.unwrap_or_else(|never| match never {}),
            event = active.run(stream, reader) => match event {
                Ok(FeedEvent::WantsContinue) => {
                    writer.buf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    writer.flush(stream).await?;
                    continue_sent = true;
                }
                Ok(FeedEvent::Done | FeedEvent::Abandoned) => {}
                // The handler got the error through its body; the framing is lost.
                Err(_) => exchange.keep_alive = false,
            },
        }
    };
    if *stop.borrow() {
        exchange.keep_alive = false;
    }
    if let Some(feed) = &feed {
        // A client still waiting for 100 Continue may or may not send its content: the
        // next request's start cannot be found, so close (RFC 9110 §10.1.1).
        if feed.awaits_continue() && !continue_sent {
            exchange.keep_alive = false;
        }
    }
    // Keep feeding a handler that reads content while its answer streams (full duplex).
    let may_defer = !reader.buf.is_empty();
    {
        let mut writing = pin!(response::write(
            stream,
            writer,
            response,
            &mut exchange,
            may_defer,
        ));
        loop {
            let Some(active) = feed.as_mut().filter(|f| !f.is_done() && f.was_wanted()) else {
                writing.await?;
                break;
            };
            tokio::select! {
                written = &mut writing => { written?; break; }
                event = active.run(stream, reader) => {
                    if event.is_err() {
                        return Err(std::io::Error::other("request content failed"));
                    }
                }
            }
        }
    }
    if !exchange.keep_alive {
        return Ok(false);
    }
    Ok(finish_content(stream, reader, feed).await)
}

/// Read past content the handler left unread, so the next request can be found; `false` if
/// the connection must close instead (too much of it, or it failed).
async fn finish_content(stream: &TcpStream, reader: &mut Reader, feed: Option<BodyFeed>) -> bool {
    let Some(mut feed) = feed else {
        return true;
    };
    if feed.is_done() {
        return true;
    }
    matches!(
        tokio::time::timeout(
            super::HEADER_READ_TIMEOUT,
            feed.discard(stream, reader, DISCARD_LIMIT)
        )
        .await,
        Ok(Ok(true))
    )
}

/// Answer a request that cannot be read and close.
async fn refuse(
    stream: &TcpStream,
    reader: &mut Reader,
    writer: &mut Writer,
    response: Response<crate::body::ResponseBody>,
) -> std::io::Result<Outcome> {
    let mut exchange = Exchange {
        version: http::Version::HTTP_11,
        head_only: false,
        keep_alive: false,
    };
    let mut response = response;
    response
        .headers_mut()
        .insert(http::header::SERVER, service::SERVER_NAME);
    response::write(stream, writer, response, &mut exchange, false).await?;
    linger(stream, reader).await;
    Ok(Outcome::Closed)
}

/// Close gracefully after an answer: stop sending, then read (and drop) what the client
/// still sends for a moment, so the kernel does not reset the connection and destroy the
/// answer before the client has read it (RFC 9112 §9.6).
async fn linger(stream: &TcpStream, reader: &mut Reader) {
    const LINGER: Duration = Duration::from_secs(2);
    const LINGER_BYTES: usize = 64 * 1024;
    let fd = socket2::SockRef::from(stream);
    if fd.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut drained = 0;
        loop {
            reader.buf.clear();
            match reader.fill(stream).await {
                Ok(n @ 1..) if drained + n <= LINGER_BYTES => drained += n,
                _ => return,
            }
        }
    })
    .await;
}
