//! The connection's read and write buffers, and socket I/O with the send timeout.
//!
//! Both buffers are released whenever the connection waits for a client that has nothing
//! more to say, so an idle keep-alive connection holds no buffer at all (its socket and its
//! task remain): that is where hyper held about 16 KiB per idle connection.

use std::io::{self, IoSlice};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes requested from the allocator for a read: one page-sized chunk for a request head,
/// grown as a larger head or content needs.
const READ_CHUNK: usize = 8 * 1024;

/// Responses gathered before they are written: pipelined answers go out together, up to this.
pub const WRITE_BATCH: usize = 64 * 1024;

/// Longest wait for a client to accept more of a response (its receive window stays full);
/// past it the connection is closed. nginx's `send_timeout` is 60 s.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes read from the client and not yet parsed.
#[derive(Debug, Default)]
pub struct Reader {
    /// Unparsed input, at its front the next head or content.
    pub buf: BytesMut,
}

impl Reader {
    /// Read what the socket has into the buffer, waiting until it has something. `Ok(0)`
    /// when the client has closed its side.
    pub async fn fill(&mut self, stream: &TcpStream) -> io::Result<usize> {
        loop {
            match self.fill_now(stream)? {
                Some(n) => return Ok(n),
                None => stream.readable().await?,
            }
        }
    }

    /// Read what the socket already has, without waiting. `Ok(None)` when it has nothing.
    ///
    /// A read that leaves part of the buffer unfilled has drained the socket, so its read
    /// readiness is cleared then, as tokio's own `poll_read` does (tokio issue 5866): epoll is
    /// edge-triggered, so data arriving later raises a new event. That saves, per request, the
    /// read that would only have answered EAGAIN before the connection waits again, and the
    /// peek that watches the client while a handler works.
    pub fn fill_now(&mut self, stream: &TcpStream) -> io::Result<Option<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let room = self.buf.capacity() - self.buf.len();
        let mut drained = None;
        let read = stream.try_io(Interest::READABLE, || {
            let n = stream.try_read_buf(&mut self.buf)?;
            if n > 0 && n < room {
                drained = Some(n);
                // Not an error: the way to have tokio clear the readiness it saw.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match (read, drained) {
            (_, Some(n)) => Ok(Some(n)),
            (Ok(n), None) => Ok(Some(n)),
            (Err(e), None) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            (Err(e), None) => Err(e),
        }
    }

    /// Give the buffer's memory back if it holds nothing (the connection is about to idle).
    pub fn release(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }
}

/// Response bytes not yet written.
#[derive(Debug, Default)]
pub struct Writer {
    /// Serialized heads and small bodies, in order.
    pub buf: Vec<u8>,
}

impl Writer {
    /// Write everything buffered.
    pub async fn flush(&mut self, stream: &TcpStream) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let written = write_now(stream, &self.buf)?;
        if written < self.buf.len() {
            // Boxed: only a full socket waits, and the wait's state (a timer) would
            // otherwise take room in the future of every caller, answered at once or not.
            Box::pin(write_all(stream, &self.buf[written..])).await?;
        }
        self.buf.clear();
        Ok(())
    }

    /// Write everything buffered, then `tail`, with as few system calls as the socket allows.
    pub async fn flush_with(&mut self, stream: &TcpStream, tail: &[u8]) -> io::Result<()> {
        // Boxed, as in `flush`: this is for large bodies only.
        Box::pin(async {
            let (mut head_at, mut tail_at) = (0, 0);
            while head_at < self.buf.len() {
                let slices = [IoSlice::new(&self.buf[head_at..]), IoSlice::new(tail)];
                let n = write_vectored(stream, &slices).await?;
                let from_head = n.min(self.buf.len() - head_at);
                head_at += from_head;
                tail_at += n - from_head;
            }
            self.buf.clear();
            write_all(stream, &tail[tail_at..]).await
        })
        .await
    }

    /// Give the buffer's memory back (the connection is about to idle).
    pub fn release(&mut self) {
        debug_assert!(self.buf.is_empty());
        self.buf = Vec::new();
    }
}

/// Write what the socket takes of `bytes` now; how much that was.
fn write_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.try_write(&bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Write all of `bytes`, waiting at most [`SEND_TIMEOUT`] each time the socket is full.
pub async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn write_vectored(stream: &TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    loop {
        match stream.try_write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream).await?,
            Err(e) => return Err(e),
        }
    }
}

/// Wait until the socket takes more bytes, or fail after [`SEND_TIMEOUT`].
pub async fn writable(stream: &TcpStream) -> io::Result<()> {
    match tokio::time::timeout(SEND_TIMEOUT, stream.writable()).await {
        Ok(ready) => ready,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading the response",
        )),
    }
}
