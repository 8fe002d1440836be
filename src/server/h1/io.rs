//! The connection's read and write buffers, and socket I/O with the send timeout.
//!
//! Both buffers are released whenever the connection waits for a client that has nothing
//! more to say, so an idle keep-alive connection holds no buffer at all (its socket and its
//! task remain): that is where hyper held about 16 KiB per idle connection.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::time::Duration;

use crate::server::socket::Socket;
use bytes::BytesMut;
use tokio::io::Interest;

/// Bytes requested from the allocator for a read: one page-sized chunk for a request head,
/// grown as a larger head or content needs.
const READ_CHUNK: usize = 8 * 1024;

/// Responses gathered before they are written: pipelined answers go out together, up to this.
pub const WRITE_BATCH: usize = 64 * 1024;

/// Released buffers of each kind kept per thread, at most: a thread answers one request at a
/// time, so a few cover the connections it switches between.
const SPARE_BUFFERS: usize = 4;

/// A released buffer larger than this (a large head, or content read in bulk) is freed, not
/// kept as a spare.
const SPARE_MAX: usize = 2 * WRITE_BATCH;

thread_local! {
    /// This thread's spare read and write buffers, each empty.
    static SPARES: RefCell<(Vec<BytesMut>, Vec<Vec<u8>>)> = const {
        RefCell::new((Vec::new(), Vec::new()))
    };
}

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
    pub async fn fill(&mut self, stream: &Socket) -> io::Result<usize> {
        loop {
            match self.fill_now(stream)? {
                Some(n) => return Ok(n),
                None => std::future::poll_fn(|cx| stream.poll_read_ready(cx)).await?,
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
    pub fn fill_now(&mut self, stream: &Socket) -> io::Result<Option<usize>> {
        self.reuse();
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let room = self.buf.capacity() - self.buf.len();
        let mut drained = None;
        let read = stream.try_io(Interest::READABLE, || {
            let n = stream.read_buf(&mut self.buf)?;
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

    /// Take a spare buffer from this thread's, if this one has none: before reading into it.
    fn reuse(&mut self) {
        if self.buf.capacity() == 0 {
            if let Some(spare) = SPARES.with_borrow_mut(|(reads, _)| reads.pop()) {
                self.buf = spare;
            }
        }
    }

    /// Give the buffer's memory back if it holds nothing (the connection is about to idle):
    /// to this thread's spares when nothing else still points into it (a head split off it
    /// may still be held), else to the allocator.
    pub fn release(&mut self) {
        if !self.buf.is_empty() || self.buf.capacity() == 0 {
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        // With nothing else pointing into it, its whole allocation becomes free room again.
        if buf.try_reclaim(READ_CHUNK) && buf.capacity() <= SPARE_MAX {
            SPARES.with_borrow_mut(|(reads, _)| {
                if reads.len() < SPARE_BUFFERS {
                    reads.push(buf);
                }
            });
        }
    }
}

/// Response bytes not yet written.
#[derive(Debug, Default)]
pub struct Writer {
    /// Serialized heads and small bodies, in order.
    pub buf: Vec<u8>,
    /// Bytes per `sendfile` call on this connection (see `zero_copy`), found with its first
    /// answer from a file: asking the kernel for the MSS with every answer was one more
    /// system call each. An MSS that changes later only costs a short segment per call.
    pub sendfile_call: Option<u64>,
}

impl Writer {
    /// Write everything buffered.
    pub async fn flush(&mut self, stream: &Socket) -> io::Result<()> {
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

    /// Write everything buffered with `MSG_MORE`: the kernel holds back a last partial
    /// segment for what is sent next on the socket (a file's bytes, with `sendfile`), as
    /// `TCP_CORK` would, without the two system calls that set and clear a cork.
    pub async fn flush_more(&mut self, stream: &Socket) -> io::Result<()> {
        let mut written = 0;
        while written < self.buf.len() {
            let rest = &self.buf[written..];
            let sent = stream.try_io(Interest::WRITABLE, || {
                socket2::SockRef::from(stream).send_with_flags(rest, libc::MSG_MORE)
            });
            match sent {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(stream).await?,
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        Ok(())
    }

    /// Write everything buffered, then `tail`, with as few system calls as the socket allows.
    pub async fn flush_with(&mut self, stream: &Socket, tail: &[u8]) -> io::Result<()> {
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

    /// Take a spare buffer from this thread's, if this one has none: before an answer is
    /// written into it.
    pub fn reuse(&mut self) {
        if self.buf.capacity() == 0 {
            if let Some(spare) = SPARES.with_borrow_mut(|(_, writes)| writes.pop()) {
                self.buf = spare;
            }
        }
    }

    /// Give the buffer's memory back (the connection is about to idle): to this thread's
    /// spares, unless they are full or it grew large.
    pub fn release(&mut self) {
        debug_assert!(self.buf.is_empty());
        let buf = std::mem::take(&mut self.buf);
        if buf.capacity() == 0 || buf.capacity() > SPARE_MAX {
            return;
        }
        SPARES.with_borrow_mut(|(_, writes)| {
            if writes.len() < SPARE_BUFFERS {
                writes.push(buf);
            }
        });
    }
}

/// Write what the socket takes of `bytes` now; how much that was.
fn write_now(stream: &Socket, bytes: &[u8]) -> io::Result<usize> {
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
pub async fn write_all(stream: &Socket, mut bytes: &[u8]) -> io::Result<()> {
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

async fn write_vectored(stream: &Socket, slices: &[IoSlice<'_>]) -> io::Result<usize> {
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
pub async fn writable(stream: &Socket) -> io::Result<()> {
    match tokio::time::timeout(SEND_TIMEOUT, stream.writable()).await {
        Ok(ready) => ready,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading the response",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write buffer a connection releases when it idles is the one the next answer on
    /// the thread is written into: no allocation per request.
    #[test]
    fn a_released_write_buffer_serves_the_next_answer() {
        let mut idle = Writer::default();
        idle.buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
        let at = idle.buf.as_ptr();
        idle.buf.clear();
        idle.release();
        assert_eq!(idle.buf.capacity(), 0, "an idle connection holds no buffer");
        let mut next = Writer::default();
        next.reuse();
        assert_eq!(next.buf.as_ptr(), at);
    }

    /// A write buffer grown past [`SPARE_MAX`] is freed rather than kept for the thread.
    #[test]
    fn a_large_write_buffer_is_not_kept() {
        let mut idle = Writer {
            buf: Vec::with_capacity(SPARE_MAX + 1),
            sendfile_call: None,
        };
        idle.release();
        let mut next = Writer::default();
        next.reuse();
        assert_eq!(next.buf.capacity(), 0);
    }

    /// A read buffer goes to the next connection only once nothing points into it: a head
    /// split off it and still held keeps it from being written over.
    #[test]
    fn a_read_buffer_is_handed_on_only_when_nothing_points_into_it() {
        let head_bytes = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        let mut held = Reader::default();
        held.buf.reserve(READ_CHUNK);
        held.buf.extend_from_slice(head_bytes);
        let head = held.buf.split_to(head_bytes.len()).freeze();
        held.release();
        assert_eq!(held.buf.capacity(), 0, "an idle connection holds no buffer");
        let mut next = Reader::default();
        next.reuse();
        assert_eq!(
            next.buf.capacity(),
            0,
            "a buffer still pointed into was handed on"
        );
        assert_eq!(&head[..], head_bytes);

        let mut done = Reader::default();
        done.buf.reserve(READ_CHUNK);
        done.buf.extend_from_slice(head_bytes);
        let head = done.buf.split_to(head_bytes.len()).freeze();
        let start = head.as_ptr();
        drop(head);
        done.release();
        let mut next = Reader::default();
        next.reuse();
        assert_eq!(
            next.buf.as_ptr(),
            start,
            "the whole allocation, from its start"
        );
        assert!(next.buf.capacity() >= READ_CHUNK);
    }
}
