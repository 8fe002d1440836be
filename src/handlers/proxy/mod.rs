//! Hand requests to HTTP/1.1 upstream servers: the `proxy` route kind, a reverse proxy (#7).
//!
//! Layout:
//! - [`forward`]: what crosses usher between client and upstream; so far the
//!   [`forward::Cidr`] ranges of trusted proxies.

pub mod forward;
