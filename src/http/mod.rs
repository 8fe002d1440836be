//! Pure protocol helpers on `http` types: no I/O, no sockets, no configuration.
//!
//! - [`target`]: request-target decoding and dot-segment normalisation (RFC 9112 §3.2, RFC 3986 §5.2.4).
//! - [`etag`]: entity tags and their strong/weak comparison (RFC 9110 §8.8.3).
//! - [`conditional`]: precondition evaluation in the order of RFC 9110 §13.2.2.
//! - [`range`]: `Range` parsing and coalescing (RFC 9110 §14).
//! - [`chunked`]: strict incremental decoding of chunked request bodies (RFC 9112 §7.1).
//! - [`accept`]: `Accept` / `Accept-Language` parsing and proactive negotiation (RFC 9110 §12).
//! - [`mime`]: Content-Type from a file extension.
//! - [`encode`]: percent-encoding of paths for links and HTML escaping.
//! - [`persistence`]: whether an HTTP/1.x connection stays open after a message (RFC 9112 §9.3).

pub mod accept;
pub mod chunked;
pub mod conditional;
pub mod encode;
pub mod etag;
pub mod mime;
pub mod persistence;
pub mod range;
pub mod target;
