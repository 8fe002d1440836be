//! Hand requests to FastCGI applications such as php-fpm: FastCGI 1.0, responder role (#6).
//!
//! One request on a kept-alive connection goes, in order (FastCGI 1.0 §3.3, §5, §6.2):
//!
//! 1. The script: [`resolve`] splits the path at `split-path` into SCRIPT_NAME and PATH_INFO
//!    (a directory gets `index`); a missing script is a 404 and no connection is used.
//! 2. A connection from the next address's [`Pool`] of kept-alive ones, or a new one; an
//!    address that cannot be reached is marked down and the next one tried.
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
//! - [`Pool`] (shared with the proxy): connecting, and the idle kept-alive connections of one
//!   address; the route's addresses are taken in turn by a [`Balancer`], which skips one that
//!   failed for a while.
//! - `spool`: request content of unknown length, stored until complete, because the
//!   application needs its length.
//! - [`client`]: one request over one connection, and the errors it answers with.

pub mod client;
pub mod record;
pub mod resolve;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::handlers::balance::{Balancer, HealthRule, Policy};
use crate::handlers::upstream::Pool;
pub use crate::handlers::upstream::Upstream;

/// A `fastcgi` route's options.
#[derive(Debug, Clone)]
pub struct FastCgiOptions {
    /// The application's addresses, used in turn; one that fails is skipped for a while.
    pub upstreams: Vec<Upstream>,
    /// When failures mark an address down (only with several addresses).
    pub health: HealthRule,
    /// The directory scripts are found in (`DOCUMENT_ROOT`); SCRIPT_FILENAME is under it.
    /// Its other files are served as files.
    pub root: PathBuf,
    /// The script a directory path names (`index.php`).
    pub index: String,
    /// The suffix of the path segment that ends the script's name (`.php`): what follows is
    /// PATH_INFO.
    pub split_path: String,
    /// The script that answers paths naming no file (`/index.php`), with the path as
    /// PATH_INFO: a PHP framework's front controller.
    pub front_controller: Option<String>,
    /// Longest wait for a connection to be accepted: past it, the next address, or 504.
    pub connect_timeout: Duration,
    /// Longest wait, from connecting to the end of the application's header fields: past it,
    /// 504.
    pub header_timeout: Duration,
    /// Longest silence from the application once its answer has started: past it, the answer
    /// is cut and the connection discarded.
    pub idle_timeout: Duration,
    /// Connections open at once per address, if set: they are then kept alive
    /// (FCGI_KEEP_CONN) and reused, and requests past them wait for one. Unset, each request
    /// has its own connection, closed after it. A php-fpm child serves one connection at a
    /// time and waits on a kept-alive one for its next request instead of accepting another,
    /// so kept-alive connections beyond `pm.max_children` would wait for a child forever:
    /// this must not exceed it.
    pub max_connections: Option<usize>,
    /// Largest request content accepted: past it, 413. Content of unknown length is stored
    /// (in memory, then a temporary file) up to this size, because the application needs
    /// CONTENT_LENGTH.
    pub max_body: u64,
    /// Whether the `Authorization` field reaches the application as `HTTP_AUTHORIZATION`.
    /// Unset: it does unless usher checked it itself (the route's `auth`), as nginx and
    /// Caddy pass every field to php-fpm: a FastCGI application is usually the site's own
    /// code, and checks its own credentials (Bearer tokens, WordPress application
    /// passwords, WebDAV).
    pub pass_authorization: Option<bool>,
}

impl FastCgiOptions {
    /// Options for `upstream` serving scripts under `root`, with usher's defaults:
    /// `index.php`, split at `.php`, no front controller, 10 s to connect, 60 s for the head,
    /// 300 s of silence, a connection per request, 1 GiB of content.
    pub fn new(upstream: Upstream, root: PathBuf) -> Self {
        FastCgiOptions {
            upstreams: vec![upstream],
            health: HealthRule::default(),
            root,
            index: "index.php".to_owned(),
            split_path: ".php".to_owned(),
            front_controller: None,
            connect_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_connections: None,
            max_body: 1 << 30,
            pass_authorization: None,
        }
    }
}

/// A route's FastCGI responder: its options, and a pool of connections per address.
#[derive(Debug)]
pub struct FastCgi {
    /// The options.
    pub opts: FastCgiOptions,
    upstreams: Balancer<Arc<Pool>>,
}

impl FastCgi {
    /// The responder for `opts`, with empty pools.
    pub fn new(opts: FastCgiOptions) -> Self {
        let pools = opts
            .upstreams
            .iter()
            .map(|u| {
                let kept = opts.max_connections.unwrap_or(0);
                Arc::new(Pool::new(u.clone(), kept, opts.max_connections))
            })
            .collect();
        let upstreams = Balancer::new(pools, Policy::RoundRobin, opts.health);
        FastCgi { opts, upstreams }
    }

    /// Whether connections are kept alive between requests.
    pub fn keeps_connections(&self) -> bool {
        self.opts.max_connections.is_some()
    }

    /// Idle connections held now, over every address.
    pub fn idle_count(&self) -> usize {
        self.upstreams.targets().map(|p| p.idle_count()).sum()
    }
}

#[cfg(test)]
mod peer_tests;
#[cfg(test)]
mod tests;
