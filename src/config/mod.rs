//! The validated, typed configuration every layer below reads, shared as `Arc<Config>`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::handlers::static_files::StaticOptions;

/// Where usher listens when told nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How long in-flight requests may run after a shutdown signal before connections are cut.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Everything usher needs to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on (IPv4 and IPv6).
    pub listen: Vec<SocketAddr>,
    /// The static file responder's options, including the root.
    pub files: StaticOptions,
    /// Bounded wait for in-flight requests on shutdown.
    pub grace_period: Duration,
}
