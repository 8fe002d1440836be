//! Listeners, connections (HTTP/1.x and h2c from one listener) and graceful shutdown.
//!
//! Framing belongs to hyper; this module only binds sockets, sets builder options and limits,
//! and tracks connections so a shutdown can let in-flight requests finish within a grace period.

mod service;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::handlers::static_files::ReadAheadBudget;
pub use service::App;

/// Most connections served at once; past it, accepting waits for one to close.
pub const MAX_CONNECTIONS: usize = 16_384;

/// A client must send a whole request head within this time (also the keep-alive idle limit).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Request-head size (request line and headers) at which hyper stops buffering and answers 431:
/// hyper's default read-buffer limit, 8 KiB + 100 × 4 KiB (the HTTP/1 auto builder offers no
/// strict head limit). The limit is soft: hyper 1.12 checks it only between reads, and one read
/// may fill the buffer's whole spare capacity, so a head of up to (never reaching) twice this
/// can still be accepted; anything from twice this on gets 431.
pub const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// Most header fields in one request; past it hyper answers 431. hyper's default, which keeps
/// the parser's header array on the stack (a custom value costs a heap allocation per request).
pub const MAX_HEADERS: usize = 100;

/// Most concurrent HTTP/2 streams per connection.
pub const MAX_H2_STREAMS: u32 = 256;

/// Pause after an accept error (such as too many open files) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// A listen address that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {reason}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// Why, in words (address in use, permission denied, ...).
    pub reason: String,
}

/// Bind every address. IPv6 sockets are IPv6-only so `[::]:P` and `0.0.0.0:P` can coexist.
pub fn bind(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, BindError> {
    addrs.iter().map(|&addr| bind_one(addr)).collect()
}

fn bind_one(addr: SocketAddr) -> Result<TcpListener, BindError> {
    use socket2::{Domain, Socket, Type};
    let fail = |e: io::Error| BindError {
        addr,
        reason: match e.kind() {
            io::ErrorKind::AddrInUse => "address already in use".to_owned(),
            io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            io::ErrorKind::AddrNotAvailable => "address not available on this machine".to_owned(),
            _ => e.to_string(),
        },
    };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(fail)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(fail)?;
    }
    socket.set_reuse_address(true).map_err(fail)?;
    // Small answers go out at once rather than waiting for Nagle's timer. Accepted sockets
    // inherit the option from the listener on Linux, which saves a syscall per connection.
    socket.set_tcp_nodelay(true).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(1024).map_err(fail)?;
    TcpListener::from_std(socket.into()).map_err(fail)
}

/// Serve on `listeners` until `shutdown` resolves, then stop accepting and give in-flight
/// requests up to `config.grace_period` to finish.
pub async fn run(
    config: Arc<Config>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let app = Arc::new(App::new(&config));
    let builder = Arc::new(connection_builder());
    let graceful = Arc::new(GracefulShutdown::new());
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        let (app, builder, graceful, limit) = (
            app.clone(),
            builder.clone(),
            graceful.clone(),
            limit.clone(),
        );
        let mut stop = stop_rx.clone();
        accept_loops.spawn(async move {
            tokio::select! {
                () = accept_loop(listener, app, builder, graceful, limit, stop.clone()) => {}
                _ = stop.changed() => {}
            }
        });
    }

    shutdown.await;
    let _ = stop_tx.send(true);
    while accept_loops.join_next().await.is_some() {}
    tracing::info!(
        connections = graceful.count(),
        "shutting down: no longer accepting"
    );
    // Every accept loop has ended, so this is the last reference and no new watcher can appear.
    let graceful = Arc::try_unwrap(graceful).unwrap_or_default();
    if tokio::time::timeout(config.grace_period, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?config.grace_period, "grace period over; closing remaining connections");
    }
    Ok(())
}

fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        // No `pipeline_flush(true)`: with it hyper 1.12 skips flushing while its read buffer is
        // not empty, and after a bad request head (431, 414, 400) the rejected bytes stay there,
        // so hyper buffers its error answer and then closes the connection without sending it.
        // A client that half-closes after sending (`printf ... | nc`) still gets its answers.
        .half_close(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    builder
}

async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    graceful: Arc<GracefulShutdown>,
    limit: Arc<Semaphore>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; backing off");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let (app, builder, watcher, mut stop) = (
            app.clone(),
            builder.clone(),
            graceful.watcher(),
            stop.clone(),
        );
        tokio::spawn(async move {
            // Until its first byte a connection costs only its socket and this task, not
            // hyper's buffers: browsers open speculative connections that often never send.
            // It gets the same time to start a request as to finish its head.
            tokio::select! {
                ready = tokio::time::timeout(HEADER_READ_TIMEOUT, stream.readable()) => {
                    if !matches!(ready, Ok(Ok(()))) {
                        return;
                    }
                }
                _ = stop.changed() => return,
            }
            if let Err(e) = watcher.watch(serve(stream, peer, &app, &builder)).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
}

fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: &Arc<App>,
    builder: &auto::Builder<TokioExecutor>,
) -> impl hyper_util::server::graceful::GracefulConnection<
    Error = Box<dyn std::error::Error + Send + Sync>,
> + 'static {
    let app = app.clone();
    // One read-ahead budget per connection: HTTP/2 streams share it (see CONNECTION_READ_AHEAD).
    let budget = ReadAheadBudget::new();
    let svc = hyper::service::service_fn(move |req| {
        service::handle(app.clone(), peer, budget.clone(), req)
    });
    builder
        .serve_connection(TokioIo::new(stream), svc)
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepted sockets get TCP_NODELAY from the listener (so `serve` need not set it).
    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay() {
        let listener = bind(&["127.0.0.1:0".parse().unwrap()]).unwrap().remove(0);
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn a_taken_port_is_a_bind_error_naming_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = bind(&[addr]).unwrap_err();
        assert_eq!(e.addr, addr);
        assert_eq!(e.reason, "address already in use");
    }
}
