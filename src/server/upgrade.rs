//! Handing the client's connection to a handler after a protocol switch: HTTP/1.1 `Upgrade`
//! answered with 101 (RFC 9110 §7.8, §15.2.2).
//!
//! The server puts an [`OnUpgrade`] in the extensions of every request that may switch: an
//! HTTP/1.1 request with `Upgrade` and the `upgrade` connection option. A handler that wants
//! the connection takes it ([`OnUpgrade::take`]), spawns a task that awaits it, and answers
//! 101; once that answer is written the task gets the byte stream ([`Upgraded`]). Any other
//! answer leaves the connection to HTTP, and the task gets [`UpgradeError::NotSwitched`].
//!
//! A switched connection still counts as one: against the server's connection limit until
//! the stream is dropped, and a graceful shutdown waits for it as for an HTTP/2 stream (up
//! to the grace period; after it the server stops waiting, and the stream lives as long as
//! the task holding it, or its runtime).
//!
//! ```no_run
//! # async fn handler(parts: &http::request::Parts) -> http::Response<usher::body::ResponseBody> {
//! use tokio::io::AsyncWriteExt as _;
//! use usher::server::upgrade::OnUpgrade;
//!
//! let Some(on_upgrade) = OnUpgrade::take(parts) else {
//!     return http::Response::new(usher::body::ResponseBody::Empty); // nothing offered
//! };
//! tokio::spawn(async move {
//!     if let Ok(mut stream) = on_upgrade.await {
//!         let _ = stream.write_all(b"hello in the new protocol").await;
//!     }
//! });
//! let mut response = http::Response::new(usher::body::ResponseBody::Empty);
//! *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
//! response.headers_mut().insert(http::header::UPGRADE, "websocket".parse().unwrap());
//! response
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONNECTION, UPGRADE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Version};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::prefixed::Prefixed;

/// The client's connection after a protocol switch, as a byte stream.
///
/// The socket itself, which first replays what the client sent right behind its request
/// (the new protocol's first bytes may arrive with the head).
pub struct Upgraded {
    io: Box<dyn Io>,
    /// HTTP/1.1: the connection's task waits for this to drop, so a tunnel keeps its place
    /// among the server's connections and a graceful shutdown waits for it.
    _held: Option<oneshot::Sender<Infallible>>,
}

/// What an [`Upgraded`] can wrap.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded").finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Why an [`OnUpgrade`] gave no stream.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The answer did not switch protocols (it was not 101, or the server refused to
    /// switch), or the connection ended first.
    #[error("the connection did not switch protocols")]
    NotSwitched,
}

/// A pending protocol switch: resolves to the [`Upgraded`] stream once the handler's
/// switching answer has been written, or to an error if the request is answered otherwise.
#[derive(Debug)]
pub struct OnUpgrade(Pending);

#[derive(Debug)]
enum Pending {
    Http1(oneshot::Receiver<Upgraded>),
}

/// The request extension holding the pending switch until a handler takes it. Shared, so
/// that copies of the request's parts (an internal redirect) still hold the one switch.
#[derive(Debug, Clone)]
struct Offer(Arc<Mutex<Option<OnUpgrade>>>);

impl OnUpgrade {
    /// Take the request's pending switch, if it offered one (see the module docs) and no one
    /// took it before. Keep it alive until the switching answer is written: the server does
    /// not switch to a protocol whose taker has gone (it answers 502 instead).
    pub fn take(parts: &Parts) -> Option<OnUpgrade> {
        let offer = parts.extensions.get::<Offer>()?;
        offer.0.lock().ok()?.take()
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, UpgradeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Pending::Http1(rx) => Pin::new(rx).poll(cx).map_err(|_| UpgradeError::NotSwitched),
        }
    }
}

/// Whether an HTTP/1.x request offers to switch protocols: RFC 9110 §7.8, a server MUST
/// ignore `Upgrade` in an HTTP/1.0 request, and a sender of `Upgrade` MUST also send the
/// `upgrade` connection option (without it, the field may have been forwarded by an
/// intermediary that did not understand it: §7.6.1).
pub(super) fn offered(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && headers.contains_key(UPGRADE)
        && headers
            .get_all(CONNECTION)
            .iter()
            .flat_map(|value| list(value.as_bytes()))
            .any(|option| option.eq_ignore_ascii_case(b"upgrade"))
}

/// The HTTP/1.1 connection's end of an offered switch.
#[derive(Debug)]
pub(super) struct Handover {
    tx: oneshot::Sender<Upgraded>,
    /// The protocols the request offered.
    offered: Vec<HeaderValue>,
}

/// Put a pending switch into an HTTP/1.1 request that [`offered`] one.
pub(super) fn offer_http1(parts: &mut Parts) -> Handover {
    let (tx, rx) = oneshot::channel();
    let pending = OnUpgrade(Pending::Http1(rx));
    parts
        .extensions
        .insert(Offer(Arc::new(Mutex::new(Some(pending)))));
    Handover {
        tx,
        offered: parts.headers.get_all(UPGRADE).iter().cloned().collect(),
    }
}

/// Why a 101 answer is not sent as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// The request offered no switch (RFC 9110 §15.2.2; an HTTP/1.0 request never does, and
    /// §15.2 forbids sending it a 1xx).
    NotOffered,
    /// The answer names no protocol, or one the request did not offer (RFC 9110 §7.8).
    NotAProtocolOffered,
    /// No handler is waiting to take the connection.
    NoTaker,
}

impl Handover {
    /// Whether a 101 answer with `answer`'s fields may switch the connection.
    pub(super) fn check(&self, answer: &HeaderMap) -> Result<(), Refused> {
        let mut chosen = answer
            .get_all(UPGRADE)
            .iter()
            .flat_map(|value| list(value.as_bytes()))
            .peekable();
        if chosen.peek().is_none() {
            return Err(Refused::NotAProtocolOffered);
        }
        // RFC 9110 §7.8: recipients SHOULD compare protocol names case-insensitively.
        let offered = |protocol: &[u8]| {
            self.offered
                .iter()
                .flat_map(|value| list(value.as_bytes()))
                .any(|o| o.eq_ignore_ascii_case(protocol))
        };
        if !chosen.all(offered) {
            return Err(Refused::NotAProtocolOffered);
        }
        if self.tx.is_closed() {
            return Err(Refused::NoTaker);
        }
        Ok(())
    }

    /// Give the switched connection to the handler waiting for it: `stream`, reading first
    /// `read` (bytes the client sent behind the request); then wait until the handler drops
    /// it.
    pub(super) async fn hand_over(self, stream: TcpStream, read: Bytes) {
        let (held, released) = oneshot::channel::<Infallible>();
        let upgraded = Upgraded {
            io: Box::new(Prefixed::new(read, stream)),
            _held: Some(held),
        };
        // No taker after all: the stream is dropped, and the connection closed.
        if self.tx.send(upgraded).is_ok() {
            let _ = released.await;
        }
    }
}

/// The elements of a comma-separated field value (RFC 9110 §5.6.1), trimmed, empty ones
/// skipped.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|element| !element.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        fields
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn an_offer_needs_http11_upgrade_and_the_connection_option() {
        let both = headers(&[
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
        ]);
        assert!(offered(Version::HTTP_11, &both));
        assert!(!offered(Version::HTTP_10, &both));
        assert!(!offered(
            Version::HTTP_11,
            &headers(&[("upgrade", "websocket")])
        ));
        assert!(!offered(
            Version::HTTP_11,
            &headers(&[("connection", "upgrade")])
        ));
    }

    #[test]
    fn a_101_must_name_offered_protocols_and_have_a_taker() {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.headers = headers(&[("upgrade", "h2c, WebSocket/13"), ("connection", "upgrade")]);
        let handover = offer_http1(&mut parts);
        let check = |fields| handover.check(&headers(fields));
        assert_eq!(check(&[("upgrade", "websocket/13")]), Ok(()));
        assert_eq!(check(&[("upgrade", "h2c , websocket/13")]), Ok(()));
        assert_eq!(check(&[]), Err(Refused::NotAProtocolOffered));
        assert_eq!(
            check(&[("upgrade", "websocket")]),
            Err(Refused::NotAProtocolOffered)
        );
        assert_eq!(
            check(&[("upgrade", "h2c, irc")]),
            Err(Refused::NotAProtocolOffered)
        );
        let taken = OnUpgrade::take(&parts).expect("offered");
        assert!(OnUpgrade::take(&parts).is_none(), "taken once");
        drop(taken);
        assert_eq!(check(&[("upgrade", "h2c")]), Err(Refused::NoTaker));
    }
}
