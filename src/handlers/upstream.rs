//! Connections to one upstream (a FastCGI application, an HTTP service): its address, opened
//! on demand, and those whose last request ended cleanly kept for the next request, up to a
//! bound.
//!
//! An idle connection the upstream closed (php-fpm restarted, a service's keep-alive timeout
//! passed) reads as end of input; it is checked without waiting when taken out, and
//! discarded.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Notify;

/// Where an upstream listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// A TCP address (`127.0.0.1:9000`).
    Tcp(SocketAddr),
    /// A host name and port (`localhost:3000`, `app:8080`), resolved each time a connection
    /// is opened, so an application that moves (a container started again) is found.
    Name {
        /// The name, lowercase.
        host: Box<str>,
        /// The port.
        port: u16,
    },
    /// A Unix socket (`unix:/run/php/php-fpm.sock`).
    Unix(PathBuf),
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Tcp(addr) => write!(f, "{addr}"),
            Upstream::Name { host, port } => write!(f, "{host}:{port}"),
            Upstream::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A connection's byte stream: TCP or a Unix socket.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    /// Whether the peer closed the connection or sent something, asked of the kernel now:
    /// the runtime's readiness for the socket may not have seen a close that just arrived.
    fn peer_spoke(&self) -> bool;
}

impl Io for TcpStream {
    fn peer_spoke(&self) -> bool {
        peek_now(socket2::SockRef::from(self))
    }
}

impl Io for UnixStream {
    fn peer_spoke(&self) -> bool {
        peek_now(socket2::SockRef::from(self))
    }
}

/// A non-blocking peek: anything readable (a byte, the end, an error) means the peer spoke.
fn peek_now(socket: socket2::SockRef<'_>) -> bool {
    peek(socket) != Peeked::Nothing
}

/// What a socket has to read now, asked of the kernel (not the runtime's readiness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peeked {
    /// Nothing yet.
    Nothing,
    /// Bytes.
    Data,
    /// The end of input: the peer closed its side.
    End,
    /// An error, such as a reset.
    Error,
}

/// A non-blocking peek at `socket`.
pub fn peek(socket: socket2::SockRef<'_>) -> Peeked {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket.recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT) {
        Ok(0) => Peeked::End,
        Ok(_) => Peeked::Data,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Peeked::Nothing,
        Err(_) => Peeked::Error,
    }
}

/// One open connection to an upstream.
pub type Conn = Box<dyn Io>;

/// Open a connection to `upstream`; TCP without Nagle's delay, since requests and answers
/// are written whole.
pub async fn connect(upstream: &Upstream) -> io::Result<Conn> {
    Ok(match upstream {
        Upstream::Tcp(addr) => {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
        Upstream::Name { host, port } => {
            let stream = connect_name(host, *port).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
        Upstream::Unix(path) => Box::new(UnixStream::connect(path).await?),
    })
}

/// Resolve `host` (the system's resolver: `/etc/hosts`, then DNS) and connect to its
/// addresses in the order given until one accepts: `localhost` may name `::1` and
/// `127.0.0.1`, and an application may listen on only one of them.
async fn connect_name(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} did not resolve: {e}"),
        )
    })?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolved to no address"),
        )
    }))
}

/// The connections of one upstream: how many are open, and the idle ones.
#[derive(Debug)]
pub struct Pool {
    upstream: Upstream,
    max_idle: usize,
    max_open: Option<usize>,
    state: Mutex<State>,
    /// A connection went back to the pool or closed: a request waiting for one may go on.
    freed: Notify,
}

#[derive(Debug, Default)]
struct State {
    idle: Vec<Idle>,
    /// Connections open, idle or in use (each has a [`Lease`]).
    open: usize,
}

/// An idle connection (a newtype so `Pool` can be `Debug`).
struct Idle(Conn);

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Idle")
    }
}

/// One connection's place among an upstream's open connections: dropped, the connection
/// counts as closed; [`Pool::put`] keeps it as idle instead.
#[derive(Debug)]
pub struct Lease {
    /// `None` once the connection is idle in the pool (still open).
    pool: Option<Arc<Pool>>,
}

impl Lease {
    /// Keep `conn`, whose last request ended cleanly, in its pool for the next request
    /// ([`Pool::put`]).
    pub fn keep(self, conn: Conn) {
        if let Some(pool) = self.pool.clone() {
            pool.put(conn, self);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.state.lock().expect("pool lock").open -= 1;
            pool.freed.notify_one();
        }
    }
}

impl Pool {
    /// An empty pool for `upstream` keeping at most `max_idle` idle connections, and at
    /// most `max_open` open in all, if given: past it, requests wait for one.
    pub fn new(upstream: Upstream, max_idle: usize, max_open: Option<usize>) -> Self {
        Pool {
            upstream,
            max_idle,
            max_open,
            state: Mutex::new(State::default()),
            freed: Notify::new(),
        }
    }

    /// The upstream's address.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// A connection for one request: an idle one that is still open, or else the right to
    /// open one (`None`, then [`connect`]), waiting while `max_open` are open.
    pub async fn acquire(self: &Arc<Self>) -> (Option<Conn>, Lease) {
        loop {
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable(); // a connection freed from now on wakes this waiter
            {
                let mut state = self.state.lock().expect("pool lock");
                while let Some(Idle(mut conn)) = state.idle.pop() {
                    if still_open(&mut conn) {
                        return (
                            Some(conn),
                            Lease {
                                pool: Some(self.clone()),
                            },
                        );
                    }
                    state.open -= 1;
                }
                if self.max_open.is_none_or(|max| state.open < max) {
                    state.open += 1;
                    return (
                        None,
                        Lease {
                            pool: Some(self.clone()),
                        },
                    );
                }
            }
            freed.await;
        }
    }

    /// Open a new connection (after [`Pool::acquire`] gave no idle one).
    pub async fn connect(&self) -> io::Result<Conn> {
        connect(&self.upstream).await
    }

    /// Keep `conn`, whose last request ended cleanly, for the next request, unless enough
    /// are idle already (then it closes).
    pub fn put(&self, conn: Conn, mut lease: Lease) {
        let mut state = self.state.lock().expect("pool lock");
        if state.idle.len() < self.max_idle {
            state.idle.push(Idle(conn));
            drop(state);
            lease.pool = None; // still open, now idle: it stays counted
            self.freed.notify_one();
        }
    }

    /// Idle connections held now.
    pub fn idle_count(&self) -> usize {
        self.state.lock().expect("pool lock").idle.len()
    }

    /// Connections open now, idle or in use.
    pub fn open_count(&self) -> usize {
        self.state.lock().expect("pool lock").open
    }
}

/// Whether an idle connection is still open: between requests the upstream sends nothing,
/// so anything readable (end of input, an error, or stray bytes) means it must not be reused.
fn still_open(conn: &mut Conn) -> bool {
    !conn.peer_spoke()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A pool over a Unix socket that accepts (and holds) every connection.
    fn listening(max_idle: usize, max_open: Option<usize>) -> (tempfile::TempDir, Arc<Pool>) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("up.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let pool = Arc::new(Pool::new(Upstream::Unix(sock), max_idle, max_open));
        (dir, pool)
    }

    async fn open(pool: &Arc<Pool>) -> (Conn, Lease) {
        match pool.acquire().await {
            (Some(conn), lease) => (conn, lease),
            (None, lease) => (pool.connect().await.unwrap(), lease),
        }
    }

    #[tokio::test]
    async fn a_returned_connection_is_reused_and_counted_once() {
        let (_dir, pool) = listening(4, None);
        let (conn, lease) = open(&pool).await;
        assert_eq!(pool.open_count(), 1);
        pool.put(conn, lease);
        assert_eq!((pool.idle_count(), pool.open_count()), (1, 1));
        let (reused, lease) = pool.acquire().await;
        assert!(reused.is_some());
        assert_eq!((pool.idle_count(), pool.open_count()), (0, 1));
        drop((reused, lease));
        assert_eq!(pool.open_count(), 0, "dropped: closed");
    }

    #[tokio::test]
    async fn past_max_idle_a_returned_connection_closes() {
        let (_dir, pool) = listening(1, None);
        let (a, la) = open(&pool).await;
        let (b, lb) = open(&pool).await;
        pool.put(a, la);
        pool.put(b, lb);
        assert_eq!((pool.idle_count(), pool.open_count()), (1, 1));
    }

    #[tokio::test]
    async fn past_max_open_a_request_waits_for_a_connection_to_come_back() {
        let (_dir, pool) = listening(2, Some(2));
        let (a, la) = open(&pool).await;
        let (_b, _lb) = open(&pool).await;
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire().await.0.is_some() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "two are open: the third waits");
        pool.put(a, la);
        let reused = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken when one came back")
            .unwrap();
        assert!(reused, "it takes the returned connection");
        assert_eq!(
            pool.open_count(),
            1,
            "the waiter's ended with its task; b's is open"
        );
    }

    #[tokio::test]
    async fn a_closed_connection_frees_its_place_for_a_waiter() {
        let (_dir, pool) = listening(2, Some(1));
        let (a, la) = open(&pool).await;
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire().await.0.is_none() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop((a, la));
        let may_open = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken when one closed")
            .unwrap();
        assert!(may_open, "it may open a new one");
    }

    #[tokio::test]
    async fn an_idle_connection_the_upstream_closed_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("up.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        let pool = Arc::new(Pool::new(Upstream::Unix(sock), 4, None));
        let (conn, lease) = open(&pool).await;
        let (server_side, _) = listener.accept().await.unwrap();
        pool.put(conn, lease);
        drop(server_side);
        // Found closed at once, without the runtime having polled the socket since.
        let (taken, lease) = pool.acquire().await;
        assert!(taken.is_none(), "the closed one is not handed out");
        drop(lease);
        assert_eq!(pool.open_count(), 0);
    }
}
