//! Hand requests to FastCGI applications such as php-fpm: FastCGI 1.0, responder role (#6).
//!
//! One request on a kept-alive connection goes, in order (FastCGI 1.0 §3.3, §5, §6.2):
//!
//! 1. FCGI_BEGIN_REQUEST, role responder, with FCGI_KEEP_CONN so the connection is pooled.
//! 2. FCGI_PARAMS: the CGI meta-variables, built by [`cgi::env`](super::cgi::env), then the
//!    empty FCGI_PARAMS record.
//! 3. FCGI_STDIN: the request body as it streams in, then the empty FCGI_STDIN record.
//! 4. FCGI_STDOUT: a CGI response; its head is parsed by [`cgi::output`](super::cgi::output)
//!    and the rest streams to the client. FCGI_STDERR goes to the log.
//! 5. FCGI_END_REQUEST: the request is over, or was refused (overloaded, unknown role).
//!
//! If the client goes away first, FCGI_ABORT_REQUEST asks the application to stop.
//!
//! - [`record`]: the records' bytes, encoded and decoded with no I/O (untrusted input).

pub mod record;

#[cfg(test)]
mod tests;
