//! Hand requests to HTTP/1.1 upstream servers: the `proxy` route kind, a reverse proxy (#7).
//!
//! One request goes, in order (RFC 9110 §7.6, RFC 9112):
//!
//! 1. The upstream target: the route prefix is stripped from the path
//!    ([`forward::prefix::strip_prefix`]).
//! 2. The request fields: hop-by-hop fields removed, `Via`, `X-Forwarded-*` and `Forwarded`
//!    added, `Host` kept or replaced ([`forward::request_fields`]).
//! 3. The request head and body framing on the wire ([`codec::encode_request_head`], with
//!    `Content-Length`, chunked or no body as [`codec::RequestFraming::choose`] decides).
//! 4. The upstream's response head, parsed strictly as it arrives, interim 1xx responses
//!    (103 Early Hints) passed on to an HTTP/1.1 client as they come
//!    ([`codec::ResponseParser`]); its body delimited by [`codec::BodyDecoder`].
//! 5. The response fields for the client: hop-by-hop fields removed, `Via` added, `Location`
//!    and `Refresh` moved back under the route prefix ([`forward::response_fields`]).
//! 6. The connection goes back to the pool only if the response allows it
//!    ([`codec::ResponseHead::keep_alive`]) and its body was read to the end.
//!
//! Layout:
//! - [`forward`]: the field transformations of steps 1, 2 and 5, with the [`forward::Cidr`]
//!   ranges of trusted proxies. Pure functions on `http` types.
//! - [`codec`]: HTTP/1.1 client-side framing, steps 3 and 4: bytes in, bytes out, no I/O.
//!   The upstream is untrusted input: a malformed or ambiguous response is an error, which
//!   the client sees as 502.
//!
//! - [`options`]: the route's options, and the [`Proxy`] they make: a pool of kept-alive
//!   connections per upstream ([`crate::handlers::upstream::Pool`]) behind a
//!   [`Balancer`](crate::handlers::balance::Balancer) that marks failing upstreams down.
//! - [`client`]: the I/O: choosing the upstream, retries, timeouts, streaming both bodies.
//! - [`health`]: active health checks, on a thread of their own.
//! - [`tunnel`]: WebSocket and other upgrades, HTTP/1.1 or HTTP/2 extended CONNECT from the
//!   client, as a tunnel to an HTTP/1.1 upstream.

pub mod client;
pub mod codec;
pub mod forward;
pub mod health;
pub mod options;
pub mod tunnel;

pub use self::options::{ActiveCheck, ExpectStatus, Proxy, ProxyOptions};
