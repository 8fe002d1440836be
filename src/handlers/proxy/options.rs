//! A `proxy` route's options, and the responder they make: its upstreams' pools behind a
//! [`Balancer`], and the active health checks that watch them.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::forward::{Cidr, UpstreamHost};
use crate::handlers::balance::{Balancer, HealthRule, Policy};
use crate::handlers::upstream::{Pool, Upstream};

/// Idle kept-alive connections kept per upstream, by default.
pub const DEFAULT_MAX_IDLE: usize = 32;

/// A `proxy` route's options.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The upstreams, in the order written.
    pub upstreams: Vec<Upstream>,
    /// How a request's upstream is chosen.
    pub policy: Policy,
    /// When failures mark an upstream down (passive health).
    pub health: HealthRule,
    /// The periodic request that tells whether each upstream is up (active health).
    pub check: Option<ActiveCheck>,
    /// Remove the route's prefix from the path sent upstream, and put it back into the
    /// upstream's `Location` and `Refresh`.
    pub strip_prefix: bool,
    /// The `Host` sent upstream: the client's, or a fixed one.
    pub host: UpstreamHost,
    /// Peers whose `X-Forwarded-*` and `Forwarded` fields are kept and appended to.
    pub trusted_proxies: Vec<Cidr>,
    /// Longest wait for an upstream to accept a connection: past it, the next upstream or a
    /// 504.
    pub connect_timeout: Duration,
    /// Longest wait from the request sent (its content included) to the response's head:
    /// past it, 504.
    pub header_timeout: Duration,
    /// Longest silence reading from the upstream once the response has started, or writing
    /// to it (and waiting on the client's content) while the request content is sent: past
    /// it, the exchange is cut. Once the response has started, a stalled upload ends only
    /// the upload.
    pub idle_timeout: Duration,
    /// Connections open at once per upstream, if limited: requests past it wait for one,
    /// up to `connect_timeout`, then get 503.
    pub max_connections: Option<usize>,
    /// Idle kept-alive connections kept per upstream.
    pub max_idle: usize,
}

impl ProxyOptions {
    /// Options for `upstreams` (at least one) with usher's defaults: round robin, one
    /// failure marks an upstream down for 10 s, no active check, the path as received, the
    /// client's `Host`, no trusted proxies, 5 s to connect, 60 s for the head and of
    /// silence, no connection limit, [`DEFAULT_MAX_IDLE`] idle connections.
    pub fn new(upstreams: Vec<Upstream>) -> Self {
        ProxyOptions {
            upstreams,
            policy: Policy::RoundRobin,
            health: HealthRule::default(),
            check: None,
            strip_prefix: false,
            host: UpstreamHost::Client,
            trusted_proxies: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
            max_idle: DEFAULT_MAX_IDLE,
        }
    }
}

/// An active health check: `GET path` on each upstream every `interval`; an answer within
/// `timeout` whose status is in `expect` keeps it up, anything else takes it out until a
/// check passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCheck {
    /// The path asked (`/healthz`).
    pub path: String,
    /// Time between checks of one upstream.
    pub interval: Duration,
    /// Longest wait for the check's answer.
    pub timeout: Duration,
    /// The statuses that mean healthy.
    pub expect: ExpectStatus,
}

/// The statuses an active check accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectStatus {
    /// Exactly this one (`200`).
    Exact(StatusCode),
    /// Any of this class (`2xx`: 2).
    Class(u16),
}

impl ExpectStatus {
    /// Whether `status` passes.
    pub fn accepts(self, status: StatusCode) -> bool {
        match self {
            ExpectStatus::Exact(want) => status == want,
            ExpectStatus::Class(class) => status.as_u16() / 100 == class,
        }
    }
}

impl std::str::FromStr for ExpectStatus {
    type Err = String;

    /// `200` or `2xx` (a class from 1xx to 5xx).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected a status such as 200 or a class such as 2xx, got {s:?}");
        if let Some(class) = s.strip_suffix("xx") {
            return match class.parse::<u16>() {
                Ok(c @ 1..=5) if class.len() == 1 => Ok(ExpectStatus::Class(c)),
                _ => Err(bad()),
            };
        }
        if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let code: u16 = s.parse().map_err(|_| bad())?;
        match StatusCode::from_u16(code) {
            Ok(status) if (100..600).contains(&code) => Ok(ExpectStatus::Exact(status)),
            _ => Err(bad()),
        }
    }
}

/// A route's proxy: its options and a pool per upstream, behind the balancer.
#[derive(Debug)]
pub struct Proxy {
    /// The options.
    pub opts: ProxyOptions,
    /// The upstreams' pools and health.
    pub(super) upstreams: Arc<Balancer<Arc<Pool>>>,
}

impl Proxy {
    /// The proxy for `opts`, with empty pools, every upstream up, and its active checks
    /// started (they stop when the proxy is dropped, on reload).
    pub fn new(opts: ProxyOptions) -> Self {
        let pools = opts
            .upstreams
            .iter()
            .map(|u| {
                // A limit above the idle bound raises it: connections the route may hold
                // open are worth keeping.
                let idle = opts.max_idle.max(opts.max_connections.unwrap_or(0));
                Arc::new(Pool::new(u.clone(), idle, opts.max_connections))
            })
            .collect();
        let upstreams = Arc::new(Balancer::new(pools, opts.policy.clone(), opts.health));
        if let Some(check) = &opts.check {
            super::health::start(&upstreams, check.clone());
        }
        Proxy { opts, upstreams }
    }

    /// Whether upstream `index` takes traffic now.
    pub fn is_up(&self, index: usize) -> bool {
        self.upstreams.is_up(index, std::time::Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_statuses_are_a_code_or_a_class() {
        let ok: ExpectStatus = "200".parse().unwrap();
        assert!(ok.accepts(StatusCode::OK) && !ok.accepts(StatusCode::NO_CONTENT));
        let class: ExpectStatus = "2xx".parse().unwrap();
        assert!(class.accepts(StatusCode::NO_CONTENT) && !class.accepts(StatusCode::FOUND));
        for bad in [
            "", "2", "20", "2000", "600", "099", "0xx", "6xx", "22xx", "x", "2XX", "+20",
        ] {
            assert!(bad.parse::<ExpectStatus>().is_err(), "{bad:?}");
        }
    }
}
