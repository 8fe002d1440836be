//! Upgrades through the proxy: a WebSocket (or any HTTP/1.1 `Upgrade`) becomes a tunnel,
//! bytes copied both ways between the client's switched connection and the upstream's.
//!
//! - HTTP/1.1 client: its `Upgrade` goes upstream as it is (RFC 9110 §7.8); the upstream's
//!   101 goes back, and both connections become the tunnel.
//! - HTTP/2 client, extended CONNECT with `:protocol` (RFC 8441): the upstream speaks
//!   HTTP/1.1, so the request goes as `GET` with `Upgrade: <protocol>`; for `websocket`, a
//!   `Sec-WebSocket-Key` of usher's own is added (RFC 8441 §5: HTTP/2 has none, RFC 6455
//!   §4.1 requires one). The upstream's 101 becomes a 200 without the HTTP/1.1 handshake's
//!   fields, and the stream and the connection become the tunnel.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, UPGRADE};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::handlers::upstream::{Conn, Lease};
use crate::server::upgrade::OnUpgrade;

const SEC_WEBSOCKET_KEY: HeaderName = HeaderName::from_static("sec-websocket-key");
const SEC_WEBSOCKET_ACCEPT: HeaderName = HeaderName::from_static("sec-websocket-accept");

/// Room for one read of a tunnel, each way (tokio's `copy` uses 8 KiB).
const TUNNEL_BUFFER: usize = 16 * 1024;

/// How the client asked to switch protocols.
#[derive(Debug)]
pub enum Offer {
    /// HTTP/1.1 `Upgrade` (RFC 9110 §7.8).
    Http1,
    /// HTTP/2 extended CONNECT for this protocol (RFC 8441).
    Connect(String),
}

/// The switch the client offered and usher can tunnel, with the server's hand-over.
pub fn offer(parts: &Parts) -> Option<(Offer, OnUpgrade)> {
    let kind = if parts.version == Version::HTTP_11 && super::forward::is_upgrade(parts) {
        Offer::Http1
    } else if parts.method == Method::CONNECT {
        let protocol = parts.extensions.get::<hyper::ext::Protocol>()?;
        Offer::Connect(protocol.as_str().to_owned())
    } else {
        return None;
    };
    Some((kind, OnUpgrade::take(parts)?))
}

/// The method the upstream is asked with.
pub fn upstream_method(offer: Option<&Offer>, method: &Method) -> Method {
    match offer {
        Some(Offer::Connect(_)) => Method::GET,
        _ => method.clone(),
    }
}

/// The upgrade fields an extended CONNECT becomes for an HTTP/1.1 upstream.
pub fn connect_as_upgrade(protocol: &str, fields: &mut HeaderMap) {
    if let Ok(value) = HeaderValue::from_str(protocol) {
        fields.insert(UPGRADE, value);
    }
    fields.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    if protocol.eq_ignore_ascii_case("websocket") {
        fields.insert(SEC_WEBSOCKET_KEY, websocket_key());
    }
}

/// The upstream's 101 as the 200 an extended CONNECT expects: the HTTP/1.1 handshake's own
/// fields go (RFC 8441 §5).
pub fn switched_as_connect(fields: &mut HeaderMap) {
    for name in [UPGRADE, CONNECTION, SEC_WEBSOCKET_ACCEPT] {
        fields.remove(name);
    }
}

/// Copy both ways between the client, once its connection is handed over, and `upstream`,
/// which already sent `early` (bytes read behind its 101). The lease keeps the upstream
/// connection counted until the tunnel closes. A tunnel may idle as long as both sides keep
/// it open; once one side has closed its sending half, the other direction ends after
/// `idle` of silence.
pub fn run(
    client: OnUpgrade,
    upstream: Conn,
    early: Bytes,
    lease: Lease,
    request_id: String,
    idle: Duration,
) {
    tokio::spawn(async move {
        let _lease = lease;
        let mut client = match client.await {
            Ok(client) => client,
            Err(e) => {
                tracing::debug!(request_id, "proxy: no tunnel: {e}");
                return;
            }
        };
        if !early.is_empty() && client.write_all(&early).await.is_err() {
            return;
        }
        match relay(client, upstream, idle).await {
            Ok((up, down)) => tracing::debug!(request_id, up, down, "proxy: tunnel closed"),
            Err(e) => tracing::debug!(request_id, "proxy: tunnel ended: {e}"),
        }
    });
}

/// Copy both ways until both directions have ended, or either fails; the bytes sent up and
/// down. An end of input is passed on as a half-close (RFC 9293 §3.6: each side closes its
/// own sending half); after one, the other direction is given up after `idle` of silence, as
/// a peer that never closes its side (or that left without a word) would otherwise hold the
/// tunnel, and its upstream connection, forever.
async fn relay<C, U>(client: C, upstream: U, idle: Duration) -> io::Result<(u64, u64)>
where
    C: AsyncRead + AsyncWrite,
    U: AsyncRead + AsyncWrite,
{
    let (client_rd, client_wr) = tokio::io::split(client);
    let (upstream_rd, upstream_wr) = tokio::io::split(upstream);
    let (up_ended, down_ended) = (AtomicBool::new(false), AtomicBool::new(false));
    tokio::try_join!(
        pass(client_rd, upstream_wr, &up_ended, &down_ended, idle),
        pass(upstream_rd, client_wr, &down_ended, &up_ended, idle),
    )
}

/// Copy `from` to `to` until `from` ends, then shut `to` down and set `ended`. Reads wait in
/// slices of `idle`: a silent one is given up once `other` has ended.
async fn pass<R, W>(
    mut from: R,
    mut to: W,
    ended: &AtomicBool,
    other: &AtomicBool,
    idle: Duration,
) -> io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; TUNNEL_BUFFER];
    let mut total = 0u64;
    loop {
        // Reading is cancel-safe: a read cut by the timeout loses nothing.
        let n = match tokio::time::timeout(idle, from.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_) if other.load(Ordering::Acquire) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "half-closed, then silent",
                ));
            }
            Err(_) => continue, // both sides open: a tunnel may be quiet
        };
        if n == 0 {
            to.shutdown().await?;
            ended.store(true, Ordering::Release);
            return Ok(total);
        }
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
        total += n as u64;
    }
}

/// A fresh `Sec-WebSocket-Key`: 16 bytes, base64 (RFC 6455 §4.1). It is a nonce that keeps
/// caches from answering the handshake, not a secret: hashing with the standard library's
/// per-process random keys is enough.
fn websocket_key() -> HeaderValue {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut bytes = [0u8; 16];
    for (i, half) in bytes.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(i);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        half.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    HeaderValue::from_str(&key).expect("base64 is a valid field value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_quiet_tunnel_stays_open_until_a_side_closes_then_idles_out() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (client, mut client_peer) = tokio::io::duplex(64);
        let (upstream, mut upstream_peer) = tokio::io::duplex(64);
        let relaying = tokio::spawn(relay(client, upstream, Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!relaying.is_finished(), "both sides open: silence is fine");
        client_peer.write_all(b"hi").await.unwrap();
        let mut got = [0u8; 2];
        upstream_peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
        client_peer.shutdown().await.unwrap();
        assert_eq!(
            upstream_peer.read(&mut got).await.unwrap(),
            0,
            "half-close passed on"
        );
        // The upstream never closes its side, nor says anything more.
        let ended = tokio::time::timeout(Duration::from_secs(3), relaying)
            .await
            .expect("given up within twice the idle time")
            .unwrap();
        assert!(ended.is_err());
        drop(upstream_peer);
    }

    #[test]
    fn a_websocket_key_is_16_bytes_of_base64_and_differs_each_time() {
        use base64::Engine as _;
        let a = websocket_key();
        let b = websocket_key();
        assert_ne!(a, b);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(a.as_bytes())
            .unwrap();
        assert_eq!(decoded.len(), 16);
    }

    #[test]
    fn an_extended_connect_becomes_an_upgrade_and_its_answer_a_200s_fields() {
        let mut fields = HeaderMap::new();
        connect_as_upgrade("websocket", &mut fields);
        assert_eq!(fields[UPGRADE], "websocket");
        assert_eq!(fields[CONNECTION], "upgrade");
        assert!(fields.contains_key(SEC_WEBSOCKET_KEY));
        let mut answer = HeaderMap::new();
        answer.insert(UPGRADE, HeaderValue::from_static("websocket"));
        answer.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        answer.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_static("x"));
        answer.insert("sec-websocket-protocol", HeaderValue::from_static("chat"));
        switched_as_connect(&mut answer);
        assert_eq!(answer.len(), 1);
        assert_eq!(answer["sec-websocket-protocol"], "chat");
    }
}
