//! Hand requests to FastCGI applications such as php-fpm: FastCGI 1.0, responder role (#6).
//!
//! One request on a kept-alive connection goes, in order (FastCGI 1.0 §3.3, §5, §6.2):
//!
//! 1. The script: [`resolve`] splits the path at `split-path` into SCRIPT_NAME and PATH_INFO
//!    (a directory gets `index`); a missing script is a 404 and no connection is used.
//! 2. A connection from the route's [`pool`] of kept-alive ones, or a new one.
//! 3. FCGI_BEGIN_REQUEST, role responder, with FCGI_KEEP_CONN so the connection is pooled.
//! 4. FCGI_PARAMS: the CGI meta-variables, built by [`cgi::env`](super::cgi::env), then the
//!    empty FCGI_PARAMS record.
//! 5. FCGI_STDIN: the request body as it streams in, then the empty FCGI_STDIN record.
//! 6. FCGI_STDOUT: a CGI response; its head is parsed by [`cgi::output`](super::cgi::output)
//!    and the rest streams to the client. FCGI_STDERR goes to the log.
//! 7. FCGI_END_REQUEST: the request is over, or was refused (overloaded, unknown role). Only a
//!    connection whose request ended this way goes back to the pool.
//!
//! If the client goes away first, FCGI_ABORT_REQUEST asks the application to stop, and the
//! connection is discarded.
//!
//! - [`record`]: the records' bytes, encoded and decoded with no I/O (untrusted input).
//! - [`resolve`]: the script a path names.
//! - [`pool`]: connecting, and the idle kept-alive connections of one upstream.
//! - [`client`]: one request over one connection, and the errors it answers with.

pub mod client;
pub mod pool;
pub mod record;
pub mod resolve;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Idle kept-alive connections kept per upstream, by default.
pub const DEFAULT_MAX_IDLE: usize = 16;

/// Where the application listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A TCP address (`127.0.0.1:9000`).
    Tcp(SocketAddr),
    /// A Unix socket (`unix:/run/php/php-fpm.sock`).
    Unix(PathBuf),
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Tcp(addr) => write!(f, "{addr}"),
            Upstream::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A `fastcgi` route's options.
#[derive(Debug, Clone)]
pub struct FastCgiOptions {
    /// The application's address.
    pub upstream: Upstream,
    /// The directory scripts are found in (`DOCUMENT_ROOT`); SCRIPT_FILENAME is under it.
    pub root: PathBuf,
    /// The script a directory path names (`index.php`).
    pub index: String,
    /// The suffix of the path segment that ends the script's name (`.php`): what follows is
    /// PATH_INFO.
    pub split_path: String,
    /// Longest wait, from connecting to the end of the application's header fields: past it,
    /// 504.
    pub header_timeout: Duration,
    /// Longest silence from the application once its answer has started: past it, the answer
    /// is cut and the connection discarded.
    pub idle_timeout: Duration,
    /// Idle kept-alive connections kept for reuse; more are closed.
    pub max_idle: usize,
}

impl FastCgiOptions {
    /// Options for `upstream` serving scripts under `root`, with usher's defaults:
    /// `index.php`, split at `.php`, 60 s for the head, 300 s of silence,
    /// [`DEFAULT_MAX_IDLE`] idle connections.
    pub fn new(upstream: Upstream, root: PathBuf) -> Self {
        FastCgiOptions {
            upstream,
            root,
            index: "index.php".to_owned(),
            split_path: ".php".to_owned(),
            header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_idle: DEFAULT_MAX_IDLE,
        }
    }
}

/// A route's FastCGI responder: its options and its pool of connections.
#[derive(Debug)]
pub struct FastCgi {
    /// The options.
    pub opts: FastCgiOptions,
    pool: Arc<pool::Pool>,
}

impl FastCgi {
    /// The responder for `opts`, with an empty pool.
    pub fn new(opts: FastCgiOptions) -> Self {
        let pool = Arc::new(pool::Pool::new(opts.upstream.clone(), opts.max_idle));
        FastCgi { opts, pool }
    }
}

#[cfg(test)]
mod peer_tests;
#[cfg(test)]
mod tests;
