//! Handing the client's connection to a handler after a protocol switch: HTTP/1.1 `Upgrade`
//! answered with 101 (RFC 9110 §7.8, §15.2.2) and HTTP/2 extended CONNECT (RFC 8441).
//!
//! The server puts an [`OnUpgrade`] in the extensions of every request that may switch: an
//! HTTP/1.1 request with `Upgrade` and the `upgrade` connection option, or an HTTP/2 CONNECT
//! with `:protocol`. A handler that wants the connection takes it ([`OnUpgrade::take`]),
//! spawns a task that awaits it, and answers (101 for HTTP/1.1, 2xx for extended CONNECT);
//! once that answer is written the task gets the byte stream ([`Upgraded`]). Any other
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
use http::{HeaderMap, HeaderValue, Method, Request, Version};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::prefixed::Prefixed;
use crate::http::list_elements;

/// The client's connection after a protocol switch, as a byte stream.
///
/// HTTP/1.1: the socket itself, which first replays what the client sent right behind its
/// request (the new protocol's first bytes may arrive with the head). HTTP/2: the request's
/// stream, whose DATA frames carry the bytes (RFC 8441 §5).
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
    /// The answer did not switch protocols (it was not 101, or not 2xx to an extended
    /// CONNECT, or the server refused to switch), or the connection ended first.
    #[error("the connection did not switch protocols")]
    NotSwitched,
    /// hyper could not hand over the HTTP/2 stream.
    #[error("the HTTP/2 stream could not be taken over")]
    Http2(#[source] hyper::Error),
}

/// A pending protocol switch: resolves to the [`Upgraded`] stream once the handler's
/// switching answer has been written, or to an error if the request is answered otherwise.
#[derive(Debug)]
pub struct OnUpgrade(Pending);

#[derive(Debug)]
enum Pending {
    Http1(oneshot::Receiver<Upgraded>),
    Http2(hyper::upgrade::OnUpgrade),
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
            Pending::Http2(on) => Pin::new(on).poll(cx).map(|done| match done {
                Ok(upgraded) => Ok(Upgraded {
                    io: Box::new(TokioIo::new(upgraded)),
                    _held: None,
                }),
                Err(e) if e.is_canceled() => Err(UpgradeError::NotSwitched),
                Err(e) => Err(UpgradeError::Http2(e)),
            }),
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
            .flat_map(|value| list_elements(value.as_bytes()))
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

/// Put a pending switch into an HTTP/2 extended CONNECT request (RFC 8441 §4), in place of
/// hyper's own, which hyper fulfils when the answer is 2xx (RFC 8441 §5).
pub(super) fn offer_http2<B>(request: &mut Request<B>) {
    if request.method() == Method::CONNECT
        && request.extensions().get::<hyper::ext::Protocol>().is_some()
    {
        let on = hyper::upgrade::on(&mut *request);
        let pending = OnUpgrade(Pending::Http2(on));
        request
            .extensions_mut()
            .insert(Offer(Arc::new(Mutex::new(Some(pending)))));
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
            .flat_map(|value| list_elements(value.as_bytes()))
            .peekable();
        if chosen.peek().is_none() {
            return Err(Refused::NotAProtocolOffered);
        }
        // RFC 9110 §7.8: recipients SHOULD compare protocol names case-insensitively.
        let offered = |protocol: &[u8]| {
            self.offered
                .iter()
                .flat_map(|value| list_elements(value.as_bytes()))
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

    /// RFC 8441 over a real HTTP/2 connection, with the `h2` crate (what hyper uses) as the
    /// client: the server announces extended CONNECT, a handler takes the stream of a CONNECT
    /// with `:protocol` and answers 200, and DATA frames carry the tunnel's bytes both ways.
    /// A request without `:protocol` offers nothing.
    #[tokio::test]
    async fn extended_connect_hands_the_http2_stream_over() {
        use http::{Response, StatusCode};

        use crate::body::ResponseBody;

        const LIMIT: std::time::Duration = std::time::Duration::from_secs(5);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client_io = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server_io, _) = listener.accept().await.unwrap();
        let handler = |request: Request<hyper::body::Incoming>| async move {
            let (parts, _body) = request.into_parts();
            let mut response = Response::new(ResponseBody::Empty);
            match OnUpgrade::take(&parts) {
                Some(on_upgrade) => {
                    tokio::spawn(async move {
                        let Ok(upgraded) = on_upgrade.await else {
                            return;
                        };
                        let (mut from, mut to) = tokio::io::split(upgraded);
                        let _ = tokio::io::copy(&mut from, &mut to).await;
                    });
                }
                None => *response.status_mut() = StatusCode::NOT_FOUND,
            }
            Ok(response)
        };
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(super::super::serve_h2_with(
            TokioIo::new(server_io),
            stop,
            std::future::pending(),
            handler,
        ));

        let (client, connection) = h2::client::handshake(client_io).await.unwrap();
        tokio::spawn(connection);
        let mut client = tokio::time::timeout(LIMIT, client.ready())
            .await
            .unwrap()
            .unwrap();
        // The server's SETTINGS arrive after the handshake.
        tokio::time::timeout(LIMIT, async {
            while !client.is_extended_connect_protocol_enabled() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the server allows extended CONNECT (RFC 8441 §3)");

        let plain = Request::get("http://localhost/chat").body(()).unwrap();
        let (answer, _) = client.send_request(plain, true).unwrap();
        let answer = tokio::time::timeout(LIMIT, answer).await.unwrap().unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::NOT_FOUND,
            "no offer without :protocol"
        );

        let mut connect = Request::connect("http://localhost/chat").body(()).unwrap();
        connect
            .extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let (answer, mut out) = client.send_request(connect, false).unwrap();
        let answer = tokio::time::timeout(LIMIT, answer).await.unwrap().unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let mut back = answer.into_body();
        for message in [&b"ping"[..], b"pong"] {
            out.send_data(Bytes::from_static(message), false).unwrap();
            let mut got = Vec::new();
            while got.len() < message.len() {
                let data = tokio::time::timeout(LIMIT, back.data())
                    .await
                    .unwrap()
                    .expect("the stream stays open")
                    .unwrap();
                let _ = back.flow_control().release_capacity(data.len());
                got.extend_from_slice(&data);
            }
            assert_eq!(got, message);
        }
        // Ending our side ends the echo's copy, which ends the server's side.
        out.send_data(Bytes::new(), true).unwrap();
        // (its end of stream may come as an empty DATA frame.)
        let rest = tokio::time::timeout(LIMIT, async {
            let mut rest = Vec::new();
            while let Some(data) = back.data().await {
                rest.extend_from_slice(&data.unwrap());
            }
            rest
        });
        assert_eq!(rest.await.expect("the echo ends"), b"");
    }
}
