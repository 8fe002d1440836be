//! HTTP/2 connections on which nothing moves are closed: a peer that sends half a header
//! block and waits, opens no stream, or stops its flow-control window at zero would hold its
//! connection (and a descriptor) for ever, where HTTP/1.x has its head and send timeouts.
//!
//! hyper's HTTP/2 server has no idle timeout (its keep-alive PINGs detect a dead peer, not a
//! silent one, and would themselves count as traffic), so the socket is watched instead:
//! [`Moving`] counts the reads and writes that moved bytes, and [`quiet`] resolves once a whole
//! [`QUIET_LIMIT`] passes without one. The connection then gets a GOAWAY (RFC 9113 §6.8)
//! and [`CLOSING_GRACE`] to end its streams before it is dropped. A stream that is being
//! answered moves bytes, and a client's PING is answered, so only silence in both
//! directions counts; but a connection that has asked nothing at all within HTTP/1.1's
//! header timeout is closed then, whatever it sends.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long nothing may move on an HTTP/2 connection, either way, before it is closed (60 s,
/// the time an HTTP/1.x client has to take more of an answer). Checked once per interval, so
/// a connection closes after 60 to 120 s of silence.
pub const QUIET_LIMIT: Duration = Duration::from_secs(60);

/// How long a connection told to go away (GOAWAY) may take to end its streams.
pub const CLOSING_GRACE: Duration = Duration::from_secs(10);

/// `inner`, counting in `moved` each read or write that moved bytes.
#[derive(Debug)]
pub struct Moving<S> {
    inner: S,
    moved: Arc<AtomicU64>,
}

impl<S> Moving<S> {
    /// `inner`, watched through `moved`.
    pub fn new(inner: S, moved: Arc<AtomicU64>) -> Self {
        Moving { inner, moved }
    }

    fn count(&self) {
        self.moved.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Moving<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.count();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Moving<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, bytes);
        if matches!(polled, Poll::Ready(Ok(1..))) {
            self.count();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, slices);
        if matches!(polled, Poll::Ready(Ok(1..))) {
            self.count();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Resolves once `moved` stays the same for a whole `limit`, or, when `asked` is still
/// false after `first_request` (nothing has asked anything), then: a connection that opens
/// and sends no whole request, or half a header block, is closed as soon as HTTP/1.1 closes
/// one that sends no whole head ([`super::HEADER_READ_TIMEOUT`]), however it keeps bytes
/// moving (PINGs, SETTINGS, WINDOW_UPDATEs).
pub async fn quiet(
    moved: Arc<AtomicU64>,
    asked: Arc<AtomicBool>,
    limit: Duration,
    first_request: Duration,
) {
    let silence = async {
        let mut seen = moved.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(limit).await;
            let now = moved.load(Ordering::Relaxed);
            if now == seen {
                return;
            }
            seen = now;
        }
    };
    let nothing_asked = async {
        tokio::time::sleep(first_request).await;
        if asked.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = silence => {}
        () = nothing_asked => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// Reads and writes that move bytes are counted; the quiet watch resolves only after a
    /// whole interval without one.
    #[tokio::test]
    async fn moved_bytes_keep_a_connection_from_being_quiet() {
        let (near, mut far) = tokio::io::duplex(64);
        let moved = Arc::new(AtomicU64::new(0));
        let mut watched = Moving::new(near, Arc::clone(&moved));
        watched.write_all(b"ping").await.unwrap();
        let mut got = [0; 4];
        far.read_exact(&mut got).await.unwrap();
        far.write_all(b"pong").await.unwrap();
        watched.read_exact(&mut got).await.unwrap();
        assert_eq!(moved.load(Ordering::Relaxed), 2);

        let limit = Duration::from_millis(100);
        let asked = Arc::new(AtomicBool::new(false));
        let mut watch = Box::pin(quiet(Arc::clone(&moved), asked, limit, 20 * limit));
        // Bytes every 40 ms: never quiet for a whole interval.
        for _ in 0..8 {
            tokio::select! {
                () = &mut watch => panic!("quiet while bytes moved"),
                () = tokio::time::sleep(Duration::from_millis(40)) => {}
            }
            far.write_all(b"x").await.unwrap();
            watched.read_exact(&mut got[..1]).await.unwrap();
        }
        // Then silence: quiet within two intervals.
        tokio::time::timeout(3 * limit, watch)
            .await
            .expect("quiet after a silent interval");
    }
}
