//! Run programs that answer requests: CGI/1.1 (RFC 3875).
//!
//! - [`output`]: the program's header fields, parsed and checked (untrusted input).

pub mod output;
