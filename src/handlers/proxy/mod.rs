//! Hand requests to HTTP/1.1 upstream servers: the `proxy` route kind, a reverse proxy (#7).
//!
//! Layout:
//! - [`forward`]: the field transformations of RFC 9110 §7.6 in both directions, the
//!   [`forward::Cidr`] ranges of trusted proxies, and the mapping of paths under a route
//!   prefix to the upstream and back. Pure functions on `http` types.

pub mod forward;
