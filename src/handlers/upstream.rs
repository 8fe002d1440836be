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
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// Where an upstream listens.
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

/// A connection's byte stream: TCP or a Unix socket.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

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
        Upstream::Unix(path) => Box::new(UnixStream::connect(path).await?),
    })
}

/// The idle connections of one upstream.
#[derive(Debug)]
pub struct Pool {
    upstream: Upstream,
    max_idle: usize,
    idle: Mutex<Vec<Idle>>,
}

/// An idle connection (a newtype so `Pool` can be `Debug`).
struct Idle(Conn);

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Idle")
    }
}

impl Pool {
    /// An empty pool for `upstream` keeping at most `max_idle` idle connections.
    pub fn new(upstream: Upstream, max_idle: usize) -> Self {
        Pool {
            upstream,
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The upstream's address.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// An idle connection that is still open, if any; whether it was reused.
    pub fn take_idle(&self) -> Option<Conn> {
        loop {
            let mut conn = self.idle.lock().expect("pool lock").pop()?.0;
            if still_open(&mut conn) {
                return Some(conn);
            }
        }
    }

    /// A new connection.
    pub async fn connect(&self) -> io::Result<Conn> {
        connect(&self.upstream).await
    }

    /// Keep `conn`, whose last request ended cleanly, for the next request, unless the pool
    /// is full.
    pub fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < self.max_idle {
            idle.push(Idle(conn));
        }
    }

    /// Idle connections held now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().expect("pool lock").len()
    }
}

/// Whether an idle connection is still open: between requests the application sends nothing,
/// so anything readable (end of input, an error, or stray bytes) means it must not be reused.
fn still_open(conn: &mut Conn) -> bool {
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    matches!(Pin::new(conn).poll_read(&mut cx, &mut buf), Poll::Pending)
}
