//! Listeners, connections and graceful shutdown.
//!
//! Every connection starts on usher's own HTTP/1.x path ([`h1`]); one that opens with the
//! HTTP/2 preface is handed to hyper's HTTP/2 server (h2c with prior knowledge, RFC 9113
//! §3.3). A handler may take over a connection that switches protocols ([`upgrade`]).
//! Shutdown: a watch channel tells every connection to stop; each holds a receiver, so
//! the server knows all have ended when the channel has no receivers left.

pub mod access_log;
mod dispatch;
pub mod h1;
mod in_place;
pub mod log_queue;
mod prefixed;
mod quiet;
pub mod reload;
pub mod server_log;
mod service;
pub mod socket;
mod streams;
pub mod upgrade;
pub mod workers;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::handlers::static_files::ReadAheadBudget;
pub use dispatch::{App, STATIC_METHODS};
pub use h1::head::{MAX_HEAD_BYTES, MAX_HEADERS, MAX_TARGET_BYTES};
use prefixed::Prefixed;
pub use service::Conn;
use socket::{Listener, Socket};

/// Most connections served at once; past it, accepting waits for one to close.
pub const MAX_CONNECTIONS: usize = 16_384;

/// A client must send a whole request head within this time (also the keep-alive idle limit).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Most concurrent HTTP/2 streams per connection.
pub const MAX_H2_STREAMS: u32 = 128;

/// Least time between two warnings of failing accepts.
const ACCEPT_ERROR_REPEAT: Duration = Duration::from_secs(60);

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
    addrs
        .iter()
        .map(|&addr| TcpListener::from_std(bind_one(addr, false)?).map_err(|e| bind_error(addr, e)))
        .collect()
}

/// Bind every address `copies` times with `SO_REUSEPORT`, one listener per worker runtime:
/// the kernel spreads new connections over them by a hash of the peer's address, so no
/// worker wakes for a connection another takes. Port 0 is chosen once and reused. Returns one
/// list of listeners per worker.
///
/// `SO_REUSEPORT` would also let this process share a port with another one of the same
/// user that set it (a second usher started by mistake: each would get part of the
/// connections), and let the kernel hand port 0 out again to such a socket. So each address
/// is first claimed with a plain bind, which fails if any socket holds the port and, for
/// port 0, gets one no socket holds; it is released just before the listeners bind it.
pub fn bind_per_worker(
    addrs: &[SocketAddr],
    copies: usize,
) -> Result<Vec<Vec<std::net::TcpListener>>, BindError> {
    let mut per_worker: Vec<Vec<std::net::TcpListener>> = (0..copies).map(|_| Vec::new()).collect();
    for &addr in addrs {
        let actual = claim(addr)?;
        for worker in &mut per_worker {
            worker.push(bind_one(actual, true)?);
        }
    }
    Ok(per_worker)
}

/// The address `addr` names, with its port chosen if 0, once no socket holds it: a socket
/// bound without `SO_REUSEPORT` (and not listening) conflicts with every other on the port.
fn claim(addr: SocketAddr) -> Result<SocketAddr, BindError> {
    use socket2::{Domain, Socket, Type};
    let fail = |e: io::Error| bind_error(addr, e);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(fail)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(fail)?;
    }
    // Connections in TIME_WAIT from an earlier run do not hold the port.
    socket.set_reuse_address(true).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or_else(|| fail(io::Error::other("the bound address is unknown")))
}

fn bind_error(addr: SocketAddr, e: io::Error) -> BindError {
    BindError {
        addr,
        reason: match e.kind() {
            io::ErrorKind::AddrInUse => "address already in use".to_owned(),
            io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            io::ErrorKind::AddrNotAvailable => "address not available on this machine".to_owned(),
            _ => e.to_string(),
        },
    }
}

fn bind_one(addr: SocketAddr, reuse_port: bool) -> Result<std::net::TcpListener, BindError> {
    use socket2::{Domain, Socket, Type};
    let fail = |e: io::Error| bind_error(addr, e);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(fail)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(fail)?;
    }
    socket.set_reuse_address(true).map_err(fail)?;
    if reuse_port {
        socket.set_reuse_port(true).map_err(fail)?;
    }
    // Small answers go out at once rather than waiting for Nagle's timer. Accepted sockets
    // inherit the option from the listener on Linux, which saves a syscall per connection.
    socket.set_tcp_nodelay(true).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    // The request is usually there when a connection is accepted: served at once, it never
    // waits on epoll (see `socket`).
    socket::defer_accept(&socket).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(1024).map_err(fail)?;
    Ok(socket.into())
}

/// Serve on `listeners` until `shutdown` resolves, then stop accepting and give in-flight
/// requests up to `config.grace_period` to finish. Connections still open then are cut when
/// the runtime shuts down, which the caller does next (connection tasks are not tracked one
/// by one: see [`accept_loop`]).
pub async fn run(
    config: Arc<Config>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let app = Arc::new(App::new(&config).map_err(io::Error::other)?);
    run_app(app, config, listeners, shutdown).await
}

/// [`run`] with an `app` built already (and shared by every worker runtime, see [`workers`]).
pub async fn run_app(
    app: Arc<App>,
    config: Arc<Config>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        let listener = Listener::new(listener)?;
        let (app, limit) = (app.clone(), limit.clone());
        let stop = stop_rx.clone();
        accept_loops.spawn(async move { accept_loop(listener, app, limit, stop).await });
    }
    drop(stop_rx);

    shutdown.await;
    let _ = stop_tx.send(true);
    while accept_loops.join_next().await.is_some() {}
    // Each open connection holds one permit (a connection holds several receivers of
    // `stop`, so their count overstated it).
    // `main` said it once for the process; this is per worker.
    tracing::debug!(
        connections = MAX_CONNECTIONS - limit.available_permits(),
        "no longer accepting"
    );
    // Every connection holds a receiver until it ends.
    if tokio::time::timeout(config.grace_period, stop_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?config.grace_period, "grace period over; closing remaining connections");
    }
    Ok(())
}

/// Accept until `stop` fires, each connection in a task of its own.
///
/// The tasks are spawned and forgotten: a connection still open after the grace period ends
/// when its runtime shuts down, which follows [`run`] returning (as in `main`). Keeping
/// their handles instead (a `JoinSet`, to abort them from here) cost about 600 instructions
/// per connection (insert, reap, the handle's drop): 3% of a request on a new connection
/// (callgrind, row e of `bench/compare.sh`).
async fn accept_loop(
    listener: Listener,
    app: Arc<App>,
    limit: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) {
    // A listener on one address accepts connections on that address: no need to ask the
    // kernel for each one's (a `getsockname` per connection). On 0.0.0.0 or [::], ask.
    let local = listener
        .local_addr()
        .ok()
        .filter(|addr| !addr.ip().is_unspecified());
    // One shutdown watch for the loop's life, not one registered for every accept.
    let mut stop_watch = stop.clone();
    let mut stopping = pin!(async move {
        let _ = stop_watch.changed().await;
    });
    let (mut last_told, mut failures) = (None::<std::time::Instant>, 0u64);
    loop {
        let permit = tokio::select! {
            biased;
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            () = stopping.as_mut() => return,
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = stopping.as_mut() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, accept fails 20 times a second until some close:
                    // said once, then once a minute with how many since.
                    failures += 1;
                    if last_told.is_none_or(|t| t.elapsed() >= ACCEPT_ERROR_REPEAT) {
                        tracing::warn!(error = %e, failures, "accept failed; backing off");
                        last_told = Some(std::time::Instant::now());
                        failures = 0;
                    }
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
        };
        let (app, stop) = (app.clone(), stop.clone());
        // Boxed where it is made (see `in_place`): the connection's future (about 1.5 KiB) is
        // not copied again into the spawn call and the task (measured: ~800 fewer
        // instructions per connection in row e).
        tokio::spawn(in_place::boxed(move || async move {
            serve_connection(stream, peer, local, app, stop).await;
            drop(permit);
        }));
    }
}

/// One connection, from accept to close. `local` is the address it arrived at, when the
/// listener's tells it.
///
/// Until its first byte a connection costs only its socket and this task (HTTP/1.x keeps no
/// buffer while it waits): browsers open speculative connections that often never send. It
/// gets the same time to start a request as to finish its head.
async fn serve_connection(
    stream: Socket,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    app: Arc<App>,
    stop: watch::Receiver<bool>,
) {
    let local = local.unwrap_or_else(|| stream.local_addr().unwrap_or(peer));
    let addresses = Conn {
        peer,
        local,
        link: None,
    };
    match h1::serve(
        stream,
        addresses,
        app.clone(),
        HEADER_READ_TIMEOUT,
        stop.clone(),
    )
    .await
    {
        Ok(h1::Outcome::Closed) => {}
        Ok(h1::Outcome::H2(stream, preface)) => {
            Box::pin(serve_h2(stream, preface, peer, app, stop)).await;
        }
        Ok(h1::Outcome::Switched(tunnel)) => tunnel.await,
        Err(e) => tracing::debug!(%peer, error = %e, "connection ended with an error"),
    }
}

/// The answer `app` would give `request`, as if it came from 127.0.0.1 over a connection of
/// its own: `usher explain` runs the server's own service dry.
pub async fn answer(
    app: Arc<App>,
    request: http::Request<http_body_util::Empty<Bytes>>,
) -> http::Response<crate::body::ResponseBody> {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let conn = Conn {
        peer: local,
        local,
        link: None,
    };
    match service::handle(app, conn, None, request).await {
        Ok(response) => service::with_server(response),
        Err(never) => match never {},
    }
}

/// HTTP/2 on `stream`, replaying the `preface` bytes already read; on stop, a GOAWAY lets
/// open streams finish (RFC 9113 §6.8).
async fn serve_h2(
    stream: TcpStream,
    preface: Bytes,
    peer: SocketAddr,
    app: Arc<App>,
    stop: watch::Receiver<bool>,
) {
    // One read-ahead budget per connection: its streams share it (see CONNECTION_READ_AHEAD).
    let budget = ReadAheadBudget::new();
    let conn = Conn {
        peer,
        local: stream.local_addr().unwrap_or(peer),
        link: None,
    };
    // Set by the first request's head: see `quiet::quiet`.
    let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asked_here = Arc::clone(&asked);
    let handler = move |req: http::Request<hyper::body::Incoming>| {
        asked_here.store(true, std::sync::atomic::Ordering::Relaxed);
        // A place in the process-wide budget of streams in flight (see `streams`), taken
        // before anything is opened.
        let work = match streams::admit() {
            Some(place) => Ok((
                place,
                service::handle(app.clone(), conn.clone(), Some(budget.clone()), req),
            )),
            None => Err(streams::refused(&req)),
        };
        async move {
            match work {
                Ok((place, handled)) => {
                    let response = handled.await?;
                    Ok(service::with_server(
                        response.map(|body| streams::hold(body, place)),
                    ))
                }
                Err(refused) => Ok(service::with_server(refused)),
            }
        }
    };
    // A second descriptor for the socket, so that it outlives hyper's: see `linger_h2`. And
    // a receiver of `stop` held until then: shutdown waits for every receiver to go.
    let kept = socket2::SockRef::from(&stream).try_clone().ok();
    let _until_closed = stop.clone();
    let moved = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(quiet::Moving::new(
        Prefixed::new(preface, stream),
        Arc::clone(&moved),
    ));
    let silence = quiet::quiet(moved, asked, quiet::QUIET_LIMIT, HEADER_READ_TIMEOUT);
    if let Err(e) = serve_h2_with(io, stop, silence, handler).await {
        tracing::debug!(%peer, error = %e, "HTTP/2 connection ended with an error");
    }
    if let Some(kept) = kept {
        Box::pin(linger_h2(kept)).await;
    }
}

/// Close an HTTP/2 connection hyper has finished with, gracefully: its last frames (the end
/// of a download that ran through a graceful shutdown, a GOAWAY) may still wait in the
/// kernel, and the client keeps sending WINDOW_UPDATE and PING frames. Closing with those
/// unread would make the kernel reset the connection and throw the unsent answer away
/// (RFC 9113 §6.8 asks a server to let streams finish; RFC 9112 §9.6 describes the reset).
/// So: stop sending (a FIN after the data), then read and drop what comes until the client
/// closes, as HTTP/1.1's closing does.
async fn linger_h2(socket: socket2::Socket) {
    if socket.shutdown(std::net::Shutdown::Write).is_err() {
        return; // the client is gone already
    }
    let stream: std::net::TcpStream = socket.into();
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(stream) = TcpStream::from_std(stream) else {
        return;
    };
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(h1::LINGER_TOTAL, async {
        loop {
            match tokio::time::timeout(h1::LINGER_IDLE, stream.readable()).await {
                Ok(Ok(())) => match stream.try_read(&mut buf) {
                    Ok(1..) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    _ => return,
                },
                _ => return,
            }
        }
    })
    .await;
}

/// [`serve_h2`] with any handler: hyper's HTTP/2 server with usher's settings, and extended
/// CONNECT (RFC 8441) handed to handlers through [`upgrade`]. When `silence` resolves
/// (nothing moved for too long, see [`quiet`]), the connection is told to go away and
/// dropped after [`quiet::CLOSING_GRACE`].
async fn serve_h2_with<I, H, F>(
    io: I,
    mut stop: watch::Receiver<bool>,
    silence: impl Future<Output = ()>,
    handler: H,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    H: Fn(http::Request<hyper::body::Incoming>) -> F + Send + 'static,
    F: Future<Output = Result<http::Response<crate::body::ResponseBody>, std::convert::Infallible>>
        + Send
        + 'static,
{
    let svc = hyper::service::service_fn(move |mut req| {
        upgrade::offer_http2(&mut req);
        handler(req)
    });
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        // Twice the head usher takes: between the two, `http2_problem` answers a 431 that
        // says why, where hyper's own is bare.
        .max_header_list_size(2 * MAX_HEAD_BYTES as u32)
        // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3), so clients may tunnel WebSocket.
        .enable_connect_protocol();
    let mut conn = pin!(builder.serve_connection(io, svc));
    tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = silence => {
            conn.as_mut().graceful_shutdown();
            // A stream stalled at a zero window would keep a graceful end waiting for ever.
            match tokio::time::timeout(quiet::CLOSING_GRACE, conn).await {
                Ok(ended) => ended,
                Err(_) => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepted sockets get TCP_NODELAY from the listener (so `serve` need not set it).
    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay() {
        let listener = bind(&["127.0.0.1:0".parse().unwrap()]).unwrap().remove(0);
        let listener = Listener::new(listener).unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // Accepted once it has spoken (the listener defers accepting until then).
        std::io::Write::write_all(&mut client, b"GET").unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(socket2::SockRef::from(&accepted).tcp_nodelay().unwrap());
    }

    /// A connection's future lives as long as the connection, idle or not, and is as large
    /// as its largest state; request handling is boxed per request so that this stays small
    /// (it was 5.7 KiB with the handler inline: most of an idle connection's memory). The
    /// connection's own idle timer and shutdown watch (about 256 bytes) stay: setting them up
    /// for each request cost about 800 instructions per request (callgrind, row a).
    #[tokio::test]
    async fn an_idle_connection_future_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let root = tempfile::tempdir().unwrap();
        let config = Config::for_root(root.path(), vec![]).unwrap();
        let app = Arc::new(App::new(&config).unwrap());
        let (_stop_tx, stop) = watch::channel(false);
        let peer = "127.0.0.1:1".parse().unwrap();
        let stream = Socket::from_tokio(stream).unwrap();
        let connection = serve_connection(stream, peer, None, app, stop);
        let size = std::mem::size_of_val(&connection);
        assert!(size <= 1792, "the connection future takes {size} bytes");
    }

    /// After the grace period, `run` returns, and a connection still open (here, in the
    /// middle of a request head) is cut when its runtime shuts down, as `main` does next,
    /// rather than left running.
    #[test]
    fn connections_still_open_after_the_grace_period_are_cut() {
        use std::io::{Read as _, Write as _};
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "a").unwrap();
        let listen = vec!["127.0.0.1:0".parse().unwrap()];
        let mut config = Config::for_root(root.path(), listen).unwrap();
        config.grace_period = Duration::from_millis(100);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listeners = runtime.block_on(async { bind(&config.listen).unwrap() });
        let addr = listeners[0].local_addr().unwrap();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let ran = runtime.block_on(run(Arc::new(config), listeners, async move {
                let _ = tokio::task::spawn_blocking(move || stopped.recv()).await;
            }));
            runtime.shutdown_timeout(Duration::from_secs(1));
            ran
        });
        let limit = Duration::from_secs(5);
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.set_read_timeout(Some(limit)).unwrap();
        // Content that stops arriving: the answer comes at once, and then the connection
        // waits for the rest of the content (to read the next request after it) past any
        // shutdown.
        client
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = vec![0u8; 4096];
        while !answer.ends_with(b"\r\n\r\na") {
            let n = client.read(&mut buf).unwrap();
            assert!(n > 0, "closed before the answer: {answer:?}");
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200"));
        let started = std::time::Instant::now();
        stop.send(()).unwrap();
        let ran = server.join().unwrap();
        assert!(ran.is_ok(), "run returns after the grace period: {ran:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "it waited for the grace period"
        );
        let read = client.read(&mut buf);
        assert!(
            matches!(read, Ok(0))
                || read
                    .as_ref()
                    .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock),
            "the connection is cut: {read:?}"
        );
    }

    #[test]
    fn a_taken_port_is_a_bind_error_naming_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = bind(&[addr]).unwrap_err();
        assert_eq!(e.addr, addr);
        assert_eq!(e.reason, "address already in use");
    }

    /// An HTTP/2 connection on which nothing moves is told to go away and ends; one whose
    /// client keeps asking stays open past the same time.
    #[tokio::test]
    async fn a_silent_http2_connection_ends() {
        let serve_for = |limit: Duration, first_request: Duration| {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let moved = Arc::new(AtomicU64::new(0));
            let io = TokioIo::new(quiet::Moving::new(server_io, Arc::clone(&moved)));
            let (stop_tx, stop) = watch::channel(false);
            let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let asked_here = Arc::clone(&asked);
            let handler = move |_req| {
                asked_here.store(true, std::sync::atomic::Ordering::Relaxed);
                async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(
                        crate::body::ResponseBody::Empty,
                    ))
                }
            };
            let silence = quiet::quiet(moved, asked, limit, first_request);
            let server = tokio::spawn(serve_h2_with(io, stop, silence, handler));
            (client_io, server, stop_tx)
        };
        let limit = Duration::from_millis(100);
        let serve = |limit| serve_for(limit, Duration::from_secs(3600));

        // PINGs keep bytes moving, but a connection that asks nothing is closed once the
        // first-request limit passes.
        let (client_io, server, _stop) = serve_for(Duration::from_secs(3600), limit);
        let (_client, mut connection) = h2::client::handshake(client_io).await.unwrap();
        let mut pings = connection.ping_pong().unwrap();
        let client_side = tokio::spawn(connection);
        let pinging = tokio::spawn(async move {
            while pings.ping(h2::Ping::opaque()).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        tokio::time::timeout(20 * limit, server)
            .await
            .expect("a connection asking nothing ends")
            .unwrap()
            .ok();
        pinging.abort();
        let _ = tokio::time::timeout(20 * limit, client_side).await;

        // Silent after the handshake: ended within a few intervals.
        let (client_io, server, _stop) = serve(limit);
        let (_client, connection) = h2::client::handshake(client_io).await.unwrap();
        let client_side = tokio::spawn(connection);
        // Ended, cleanly or with the client gone once told (a broken pipe).
        tokio::time::timeout(10 * limit, server)
            .await
            .expect("a silent connection ends")
            .unwrap()
            .ok();
        // The client was told, and its connection ended too.
        tokio::time::timeout(10 * limit, client_side)
            .await
            .expect("the client's side ends")
            .unwrap()
            .ok();

        // A request every 40 ms: still open after 5 intervals.
        let (client_io, server, _stop) = serve(limit);
        let (client, connection) = h2::client::handshake(client_io).await.unwrap();
        tokio::spawn(connection);
        let mut client = client.ready().await.unwrap();
        for _ in 0..12 {
            let request = http::Request::get("http://t/").body(()).unwrap();
            let (answer, _) = client.send_request(request, true).unwrap();
            assert_eq!(answer.await.unwrap().status(), 200);
            client = client.ready().await.unwrap();
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        assert!(!server.is_finished(), "a busy connection was closed");
    }
}
