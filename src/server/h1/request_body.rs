//! The request content as a handler sees it ([`RequestBody`]), and the connection's side that
//! decodes it off the socket ([`BodyFeed`]).
//!
//! The connection reads content only once the handler asks for it (its first poll), so a
//! handler that never reads it (a static file) costs no reads, and `Expect: 100-continue`
//! gets its interim answer exactly when content is wanted (RFC 9110 §10.1.1). A channel of
//! one chunk between the two bounds memory per request to one read, whatever the upload size.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::server::socket::Socket;
use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use tokio::sync::{mpsc, oneshot};

use super::head::Framing;
use super::io::Reader;
use crate::http::chunked::{Chunk, ChunkedDecoder};

/// The content of a request received over HTTP/1.x.
#[derive(Debug)]
pub struct RequestBody {
    /// Sent (dropped) on the first poll: the connection starts reading content then.
    want: Option<oneshot::Sender<()>>,
    rx: Option<mpsc::Receiver<io::Result<Bytes>>>,
    /// Exact length, when the request declared one.
    length: Option<u64>,
}

impl RequestBody {
    /// A request without content.
    pub fn empty() -> Self {
        RequestBody {
            want: None,
            rx: None,
            length: Some(0),
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(want) = self.want.take() {
            let _ = want.send(());
        }
        let Some(rx) = &mut self.rx else {
            return Poll::Ready(None);
        };
        match ready!(rx.poll_recv(cx)) {
            Some(Ok(data)) => {
                if let Some(length) = &mut self.length {
                    *length -= data.len() as u64;
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Some(Err(e)) => {
                self.rx = None;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                self.rx = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rx.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// What [`BodyFeed::run`] stopped for.
#[derive(Debug)]
pub enum FeedEvent {
    /// The handler asked for content of a request that expects `100 Continue`: send it, then
    /// run the feed again.
    WantsContinue,
    /// The content was read to its end.
    Done,
    /// The handler dropped the body without reading it all; the rest is unread.
    Abandoned,
}

/// How far the content has been decoded.
#[derive(Debug)]
enum Decoding {
    Length(u64),
    Chunked(ChunkedDecoder),
    Done,
}

/// The connection's end of a request's content: decodes it from the socket into the body.
#[derive(Debug)]
pub struct BodyFeed {
    want: Option<oneshot::Receiver<()>>,
    /// The handler asked for the content (not merely dropped its body unread).
    wanted: bool,
    tx: Option<mpsc::Sender<io::Result<Bytes>>>,
    decoding: Decoding,
    expect_continue: bool,
    /// Longest wait for the client to send more content; past it the content fails.
    read_timeout: Duration,
    /// Bytes read and thrown away after the handler abandoned the content.
    discarded: u64,
}

/// A request body and the feed that fills it, for content framed by `framing`. The client
/// gets `read_timeout` between two reads of content (slowloris on content).
pub fn channel(
    framing: Framing,
    expect_continue: bool,
    read_timeout: Duration,
) -> (RequestBody, Option<BodyFeed>) {
    let decoding = match framing {
        Framing::None => return (RequestBody::empty(), None),
        Framing::Length(n) => Decoding::Length(n),
        Framing::Chunked => Decoding::Chunked(ChunkedDecoder::new()),
    };
    let (want_tx, want_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel(1);
    let body = RequestBody {
        want: Some(want_tx),
        rx: Some(rx),
        length: match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        },
    };
    let feed = BodyFeed {
        want: Some(want_rx),
        wanted: false,
        tx: Some(tx),
        decoding,
        expect_continue,
        read_timeout,
        discarded: 0,
    };
    (body, Some(feed))
}

impl BodyFeed {
    /// Whether all the content has been read off the connection.
    pub fn is_done(&self) -> bool {
        matches!(self.decoding, Decoding::Done)
    }

    /// Whether [`BodyFeed::run`] has anything to do: the content is not all read and its body
    /// still exists. Once the body is dropped or has failed, `run` would return at once, again
    /// and again: a caller looping on it would spin.
    pub fn is_active(&self) -> bool {
        !self.is_done() && (self.want.is_some() || self.tx.is_some())
    }

    /// Whether the handler ever asked for the content.
    pub fn was_wanted(&self) -> bool {
        self.wanted
    }

    /// Whether the client is still waiting for a `100 Continue` it was never sent, so it may
    /// or may not send the content: the connection's framing is unknown.
    pub fn awaits_continue(&self) -> bool {
        self.expect_continue && !self.was_wanted()
    }

    /// Whether the handler is done with the content (it dropped its body, or the body has
    /// ended) though more of it is still to come, more than `limit` bytes with what was
    /// thrown away already: reading it through to the next request would pass the limit of
    /// [`discard`](Self::discard), so the connection will close after its answer. Known only
    /// for content with a `Content-Length`.
    pub fn passes_discard_limit(&self, limit: u64) -> bool {
        let Decoding::Length(remaining) = self.decoding else {
            return false;
        };
        let handler_done = self.tx.as_ref().is_none_or(mpsc::Sender::is_closed);
        handler_done && remaining.saturating_add(self.discarded) > limit
    }

    /// Move content from the connection into the body until an event. Cancel-safe: content
    /// is taken from the read buffer only when it can be handed over at once.
    pub async fn run(&mut self, stream: &Socket, reader: &mut Reader) -> io::Result<FeedEvent> {
        if let Some(want) = &mut self.want {
            if want.await.is_err() {
                // Dropped unpolled: the handler never wanted the content.
                self.want = None;
                self.tx = None;
                return Ok(FeedEvent::Abandoned);
            }
            self.want = None;
            self.wanted = true;
            if self.expect_continue {
                return Ok(FeedEvent::WantsContinue);
            }
        }
        loop {
            let Some(tx) = &self.tx else {
                return Ok(FeedEvent::Abandoned);
            };
            let Ok(permit) = tx.reserve().await else {
                self.tx = None;
                return Ok(FeedEvent::Abandoned);
            };
            match next_chunk(&mut self.decoding, stream, reader, self.read_timeout).await {
                Ok(Some(data)) => permit.send(Ok(data)),
                Ok(None) => {
                    drop(permit);
                    self.tx = None;
                    return Ok(FeedEvent::Done);
                }
                Err(e) => {
                    permit.send(Err(io::Error::new(e.kind(), e.to_string())));
                    self.tx = None;
                    return Err(e);
                }
            }
        }
    }

    /// Read and throw away the rest of the content, up to `limit` bytes in all.
    /// `Ok(false)` when the limit was reached first (the connection must close).
    pub async fn discard(
        &mut self,
        stream: &Socket,
        reader: &mut Reader,
        limit: u64,
    ) -> io::Result<bool> {
        self.tx = None;
        while let Some(data) =
            next_chunk(&mut self.decoding, stream, reader, self.read_timeout).await?
        {
            self.discarded += data.len() as u64;
            if self.discarded > limit {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The next piece of content, reading the socket when the buffer holds none; `None` at
/// the end. Cancel-safe: bytes leave the buffer only in the final, synchronous step.
async fn next_chunk(
    decoding: &mut Decoding,
    stream: &Socket,
    reader: &mut Reader,
    read_timeout: Duration,
) -> io::Result<Option<Bytes>> {
    loop {
        if let Some(outcome) = decode(decoding, &mut reader.buf)? {
            return Ok(outcome);
        }
        // `fill` is cancel-safe (it waits only for readiness), so the timeout loses nothing.
        let filled = tokio::time::timeout(read_timeout, reader.fill(stream))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped sending the request content",
                )
            })?;
        if filled? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed the connection before the request content ended",
            ));
        }
    }
}

/// Decode from `buf`: `Some(Some(data))`, `Some(None)` at the end, `None` for more input.
fn decode(decoding: &mut Decoding, buf: &mut BytesMut) -> io::Result<Option<Option<Bytes>>> {
    match decoding {
        Decoding::Done => Ok(Some(None)),
        Decoding::Length(remaining) => {
            if buf.is_empty() {
                return Ok(None);
            }
            let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
            *remaining -= n as u64;
            if *remaining == 0 {
                *decoding = Decoding::Done;
            }
            Ok(Some(Some(buf.split_to(n).freeze())))
        }
        Decoding::Chunked(decoder) => match decoder.decode(buf) {
            Ok(Some(Chunk::Data(data))) => Ok(Some(Some(data))),
            Ok(Some(Chunk::End)) => {
                *decoding = Decoding::Done;
                Ok(Some(None))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        },
    }
}
