//! Active health checks: every `interval`, `GET path` on each upstream of a route, on a
//! fresh connection; a status the check expects keeps the upstream up, anything else (no
//! connection, a timeout, a malformed answer, another status) takes it out until a check
//! passes.
//!
//! The checks run on a thread of their own with a small runtime, so they need no runtime
//! from whoever builds the configuration (usher builds it before its runtimes start, and
//! again on reload). The thread holds the balancer weakly and ends once the route's proxy
//! is dropped.

use std::sync::{Arc, Weak};

use bytes::BytesMut;
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::codec::ResponseParser;
use super::options::ActiveCheck;
use crate::handlers::balance::Balancer;
use crate::handlers::upstream::{Pool, Upstream, connect};

/// Start checking every upstream of `upstreams` as `check` says.
pub fn start(upstreams: &Arc<Balancer<Arc<Pool>>>, check: ActiveCheck) {
    let watched = Arc::downgrade(upstreams);
    let spawned = std::thread::Builder::new()
        .name("usher-health".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(run(watched, check)),
                Err(e) => tracing::error!("health checks could not start: {e}"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!("health checks could not start: {e}");
    }
}

async fn run(watched: Weak<Balancer<Arc<Pool>>>, check: ActiveCheck) {
    let mut ticks = tokio::time::interval(check.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(upstreams) = watched.upgrade() else {
            return; // the route's configuration was replaced
        };
        let targets: Vec<Upstream> = upstreams.targets().map(|p| p.upstream().clone()).collect();
        let checks = targets.iter().map(|u| probe(u, &check));
        let results = futures_util::future::join_all(checks).await;
        for (index, (target, result)) in targets.iter().zip(results).enumerate() {
            let was_up = upstreams.is_up(index, std::time::Instant::now());
            let healthy = result.is_ok();
            upstreams.checked(index, healthy);
            match result {
                Err(why) if was_up => {
                    tracing::warn!(upstream = %target, "health check failed, upstream out: {why}");
                }
                Ok(()) if !was_up => tracing::info!(upstream = %target, "health check passed"),
                _ => {}
            }
        }
    }
}

/// One check of `upstream`: `Ok` if it answered with an expected status in time.
async fn probe(upstream: &Upstream, check: &ActiveCheck) -> Result<(), String> {
    let asked = async {
        let mut conn = connect(upstream)
            .await
            .map_err(|e| format!("no connection: {e}"))?;
        let host = match upstream {
            Upstream::Tcp(_) | Upstream::Name { .. } => upstream.to_string(),
            Upstream::Unix(_) => "localhost".to_owned(),
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: usher-health-check\r\n\
             Connection: close\r\n\r\n",
            check.path
        );
        conn.write_all(request.as_bytes())
            .await
            .map_err(|e| format!("could not send: {e}"))?;
        let mut parser = ResponseParser::new(&Method::GET, false);
        let mut buf = BytesMut::with_capacity(4096);
        loop {
            if let Some(head) = parser.parse(&mut buf).map_err(|e| e.to_string())? {
                return Ok::<StatusCode, String>(head.parts.status);
            }
            if conn.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
                return Err("closed before answering".to_owned());
            }
        }
    };
    match tokio::time::timeout(check.timeout, asked).await {
        Err(_) => Err(format!("no answer within {:?}", check.timeout)),
        Ok(Err(why)) => Err(why),
        Ok(Ok(status)) if check.expect.accepts(status) => Ok(()),
        Ok(Ok(status)) => Err(format!("answered {status}")),
    }
}
