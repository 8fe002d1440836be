//! How an HTTP/1.x connection ends after its last answer: at once, or lingering so that
//! what the client still sends does not make the kernel reset the connection before the
//! answer is read (RFC 9112 §9.6).

use std::time::Duration;

use http::Response;

use super::Outcome;
use super::io::{Reader, Writer};
use super::response::{self, Exchange};
use crate::body::ResponseBody;
use crate::handlers::upstream::{Peeked, peek};
use crate::server::socket::Socket;

/// How a connection closes after its last answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closing {
    /// Stop sending, then read what the client still sends for a moment, so its data does not
    /// make the kernel reset the connection before the answer is read (see [`linger`]).
    Linger,
    /// Close at once: the client asked to close and everything it sent has been read, so
    /// it sends nothing more (RFC 9112 §9.6: a client that sends `close` MUST NOT send
    /// further requests). nginx closes such connections at once too.
    Now,
}

/// Close after the last answer: write what is buffered, then linger if `closing` says so or
/// the client still sends.
pub(super) async fn close(
    stream: &Socket,
    reader: &mut Reader,
    writer: &mut Writer,
    closing: Closing,
) -> std::io::Result<Outcome> {
    writer.flush(stream).await?;
    // Bytes past the request, read or waiting in the kernel, mean a client that still
    // sends: closing with them unread would reset the connection. Ask the kernel itself (the
    // runtime's readiness may not have seen them yet). A client that has closed already
    // needs no lingering.
    let sent_more = || {
        let waiting = || peek(socket2::SockRef::from(stream)) == Peeked::Data;
        !reader.buf.is_empty() || waiting()
    };
    if closing == Closing::Linger || sent_more() {
        // Boxed: rare, and its timers would otherwise enlarge every idle connection.
        Box::pin(linger(stream, reader)).await;
    }
    Ok(Outcome::Closed)
}

/// Answer a request that cannot be read and close.
pub(super) async fn refuse(
    stream: &Socket,
    reader: &mut Reader,
    writer: &mut Writer,
    response: Response<ResponseBody>,
) -> std::io::Result<Outcome> {
    let mut exchange = Exchange {
        version: http::Version::HTTP_11,
        head_only: false,
        keep_alive: false,
    };
    response::write(stream, writer, response, &mut exchange, false).await?;
    Box::pin(linger(stream, reader)).await;
    Ok(Outcome::Closed)
}

/// Close gracefully after an answer: stop sending, then read (and drop) what the client
/// still sends, so the kernel does not reset the connection and destroy the answer before
/// the client has read it (RFC 9112 §9.6). A client uploading when its answer came (an early
/// 413, an upstream that answered before reading) may send for a while before it reads the
/// answer and stops: draining goes on while it sends, up to [`LINGER_TOTAL`], and ends after
/// [`LINGER_IDLE`] of silence (nginx's `lingering_time` and `lingering_timeout` are 30 s and
/// 5 s). Only bytes are held meanwhile: the read buffer, reused.
async fn linger(stream: &Socket, reader: &mut Reader) {
    let fd = socket2::SockRef::from(stream);
    if fd.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER_TOTAL, async {
        loop {
            reader.buf.clear();
            match tokio::time::timeout(LINGER_IDLE, reader.fill(stream)).await {
                Ok(Ok(1..)) => {}
                _ => return,
            }
        }
    })
    .await;
}

/// Longest a closing connection drains what its client still sends.
pub(crate) const LINGER_TOTAL: Duration = Duration::from_secs(30);
/// Longest a closing connection waits for its client's next bytes (or its close).
pub(crate) const LINGER_IDLE: Duration = Duration::from_secs(2);
