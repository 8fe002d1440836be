//! Listening and connected TCP sockets, registered with the runtime's event loop only once
//! they have to wait.
//!
//! A connection whose request is already there when it is accepted, and whose answer fits in
//! the socket's buffer, is read, answered and closed without ever waiting. Registering it
//! with epoll at accept (as tokio's `TcpListener::accept` does) and removing it before the
//! close cost two system calls, a wake-up the kernel runs for each of its packets, and the
//! runtime's bookkeeping, all for nothing: row e of `bench/compare.sh` (a new connection per
//! request) is made of such connections, and lighttpd registers none of them either. So a
//! [`Socket`] is tried directly first, and registered the first time an operation would
//! block; from then on it behaves as tokio's `TcpStream` does.
//!
//! Listeners also defer accepting a connection until its request arrives
//! ([`defer_accept`]).
//!
//! Four things here need `unsafe`, and nothing else in the server does: tokio registers a
//! descriptor only through an `unsafe` call, whose contract is that the descriptor stays
//! open for as long as the registration lives; reading into a buffer's uninitialised room
//! takes one `unsafe` line (the standard library's `Read::read_buf` is unstable; tokio's
//! `try_read_buf` does the same inside tokio); and neither the standard library, `socket2`,
//! `nix` nor `rustix` sets `TCP_DEFER_ACCEPT` or reads `TCP_INFO`, so they go through
//! `libc::setsockopt` and `libc::getsockopt`.
#![allow(unsafe_code)]

use std::io::{self, IoSlice, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A listening socket whose accepted connections are not registered with the event loop.
#[derive(Debug)]
pub struct Listener {
    listener: AsyncFd<std::net::TcpListener>,
}

impl Listener {
    /// Take `listener` (from tokio) over. Must be called inside the runtime.
    pub fn new(listener: tokio::net::TcpListener) -> io::Result<Self> {
        let listener = listener.into_std()?;
        // SAFETY: the `AsyncFd` owns the listener, so its descriptor stays open, and is the
        // same one, for as long as the registration lives.
        let listener = unsafe { AsyncFd::register(listener) }.map_err(io::Error::from)?;
        Ok(Listener { listener })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.get_ref().local_addr()
    }

    /// The next connection, non-blocking and not registered, and its peer's address.
    pub async fn accept(&self) -> io::Result<(Socket, SocketAddr)> {
        self.listener
            .async_io(Interest::READABLE, |listener| {
                // One call: non-blocking and close-on-exec set as the socket is made.
                let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
                let (socket, peer) = socket2::SockRef::from(listener).accept4(flags)?;
                let peer = peer
                    .as_socket()
                    .ok_or_else(|| io::Error::other("a TCP peer without an IP address"))?;
                Ok((Socket::new(socket.into()), peer))
            })
            .await
    }
}

/// A connected, non-blocking TCP socket.
#[derive(Debug)]
pub struct Socket {
    /// The socket's registration, once made. Declared before `stream`, so it is dropped
    /// first: the descriptor leaves epoll before it closes.
    waiter: OnceLock<AsyncFd<Descriptor>>,
    stream: std::net::TcpStream,
}

/// The socket's descriptor number, for the registration: the socket itself stays with
/// [`Socket`], which closes it.
#[derive(Debug)]
struct Descriptor(RawFd);

impl AsRawFd for Descriptor {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl Socket {
    /// `stream` must be in non-blocking mode (as [`Listener::accept`] makes it).
    pub fn new(stream: std::net::TcpStream) -> Self {
        Socket {
            waiter: OnceLock::new(),
            stream,
        }
    }

    /// Take a stream from tokio over (its registration is dropped; a new one is made when
    /// needed).
    pub fn from_tokio(stream: tokio::net::TcpStream) -> io::Result<Self> {
        Ok(Socket::new(stream.into_std()?))
    }

    /// The registration, made now if it was not yet. Registered edge-triggered for both
    /// directions; epoll reports the socket's present state when it is added, so readiness
    /// that came before is not lost.
    fn waiter(&self) -> io::Result<&AsyncFd<Descriptor>> {
        if let Some(waiter) = self.waiter.get() {
            return Ok(waiter);
        }
        // SAFETY: `stream` owns the descriptor and is only dropped after the registration
        // (field order; `into_tokio` drops the registration first), and never replaced.
        let made = unsafe { AsyncFd::register(Descriptor(self.stream.as_raw_fd())) }
            .map_err(io::Error::from)?;
        // Only the connection's own task uses its socket, one poll at a time: nothing can
        // have registered it since the check above.
        Ok(self.waiter.get_or_init(|| made))
    }

    /// Run the non-blocking operation `f` if the socket may be ready for `interest`. A
    /// `WouldBlock` from `f` clears the readiness seen, so the next wait waits for the kernel
    /// (as tokio's `TcpStream::try_io`). Before registration the operation is simply tried.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        match self.waiter.get() {
            None => f(),
            Some(waiter) => waiter.try_io(interest, |_| f()),
        }
    }

    /// Read into the free room of `buf` what the socket has now: for use inside
    /// [`try_io`](Self::try_io). `Ok(0)`: the peer has closed its side.
    pub fn read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        let filled = buf.len();
        let n = socket2::SockRef::from(&self.stream).recv(buf.spare_capacity_mut())?;
        // SAFETY: `recv` initialised the first `n` bytes of the room it was given, which
        // starts at `filled`, and `n` is at most that room's length.
        unsafe { buf.set_len(filled + n) };
        Ok(n)
    }

    /// Write what the socket takes of `bytes` now.
    pub fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, || (&self.stream).write(bytes))
    }

    /// Write what the socket takes of `slices` now, in order.
    pub fn try_write_vectored(&self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        self.try_io(Interest::WRITABLE, || (&self.stream).write_vectored(slices))
    }

    /// Ready when the socket may have bytes to read (or the peer closed).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.waiter()?.poll_read_ready(cx).map_ok(drop)
    }

    /// Wait until the socket may take more bytes.
    pub async fn writable(&self) -> io::Result<()> {
        self.waiter()?.writable().await.map(drop)
    }

    /// Copy what the socket has to read into `buf` without consuming it, waiting until it
    /// has something; `Ok(0)` when the peer has closed.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            loop {
                match self.try_io(Interest::READABLE, || self.stream.peek(buf)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    done => return Poll::Ready(done),
                }
                std::task::ready!(self.poll_read_ready(cx))?;
            }
        })
        .await
    }

    /// The address the connection arrived at.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// The client's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Whether the socket is registered with the event loop (it had to wait).
    #[cfg(test)]
    pub fn registered(&self) -> bool {
        self.waiter.get().is_some()
    }

    /// The connection as tokio's stream, for code that reads and writes through tokio's
    /// traits (HTTP/2, and protocols switched to).
    pub fn into_tokio(self) -> io::Result<tokio::net::TcpStream> {
        let Socket { waiter, stream } = self;
        drop(waiter);
        tokio::net::TcpStream::from_std(stream)
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

/// Have the kernel hand `listener`'s connections to `accept` only once their first bytes
/// have arrived (`TCP_DEFER_ACCEPT`), or after about a second of silence.
///
/// HTTP clients speak first. Accepted with its request already waiting, a connection is read,
/// answered and closed without registering with epoll (see [`Socket`]); accepted before it,
/// it must register and wait, and the listener is woken once for the handshake and its task
/// again for the request. Measured on row e of `bench/compare.sh` (a new connection per
/// request), server CPU per connection, alternating runs: 31.3 µs with late registration
/// alone, 22.8 µs with this too (nginx 28.5); in a busier run 31.2 µs with this alone, 26.6
/// with both (nginx 34.7). Late registration alone changed nothing measurable (README,
/// "New connections").
///
/// A client that connects and sends nothing is accepted after the first SYN-ACK
/// retransmission, about a second later, and then treated as before (the head timeout). The
/// one visible difference: such a client still silent when the server stops is not closed by
/// it; its next send is refused.
pub fn defer_accept(listener: &socket2::Socket) -> io::Result<()> {
    /// Seconds of silence after which a connection is accepted anyway; Linux rounds it to a
    /// number of SYN-ACK retransmissions (one, the first at one second).
    const SILENCE_SECONDS: libc::c_int = 1;
    // SAFETY: the option's value is a live `c_int`, and its size is passed with it.
    let done = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&SILENCE_SECONDS as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The segment size this end advertised on `socket`'s connection (`tcpi_advmss`: its route's
/// MTU less the IP and TCP headers and options): the size its segments settle at when the
/// path is the same both ways (loopback, a LAN). `TCP_MAXSEG` says less while the peer's
/// window is small: 32,768 on a new loopback connection, 65,483 after a few megabytes.
pub fn advertised_mss(socket: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: `tcp_info` is plain integers, for which all zeroes is a value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into the live `info`, and says how many.
    let done = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    // A kernel whose `tcp_info` is shorter than libc's fills only the start of it.
    let filled = std::mem::offset_of!(libc::tcp_info, tcpi_advmss) + 4;
    if (len as usize) < filled || info.tcpi_advmss == 0 {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    Ok(info.tcpi_advmss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::time::Duration;

    /// Bytes read land after those the buffer already holds.
    #[test]
    fn bytes_read_land_after_those_already_held() {
        let (mut client, server) = pair();
        let mut buf = BytesMut::with_capacity(16);
        buf.extend_from_slice(b"GET ");
        client.write_all(b"/ HTTP/1.1").unwrap();
        let n = server.read_buf(&mut buf).unwrap();
        assert_eq!(n, 10);
        assert_eq!(&buf[..], b"GET / HTTP/1.1");
    }

    /// A read takes no more than the buffer's free room, however much is waiting.
    #[test]
    fn a_read_never_passes_the_room_left() {
        let (mut client, server) = pair();
        let mut buf = BytesMut::with_capacity(4);
        let room = buf.capacity();
        client.write_all(b"0123456789").unwrap();
        let n = server.read_buf(&mut buf).unwrap();
        assert!(n <= room && n == buf.len(), "read {n} into {room}");
        assert_eq!(&buf[..], &b"0123456789"[..n]);
    }

    #[test]
    fn a_closed_peer_reads_as_zero() {
        let (client, server) = pair();
        drop(client);
        let mut buf = BytesMut::with_capacity(8);
        assert_eq!(server.read_buf(&mut buf).unwrap(), 0);
        assert!(buf.is_empty());
    }

    /// A request that is there when the connection is accepted is read, and the answer
    /// written, without the socket ever joining epoll.
    #[tokio::test]
    async fn a_connection_that_never_waits_is_never_registered() {
        let (mut client, server) = pair();
        client.write_all(b"ping").unwrap();
        let mut buf = BytesMut::with_capacity(64);
        let n = server.try_io(Interest::READABLE, || server.read_buf(&mut buf));
        assert_eq!(n.unwrap(), 4);
        assert_eq!(server.try_write(b"pong").unwrap(), 4);
        assert!(!server.registered());
        let mut answer = [0; 4];
        client.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"pong");
    }

    /// Bytes that arrive between a read that found nothing and the registration that follows
    /// it still wake the wait: epoll reports a socket's present state when it is added.
    #[tokio::test]
    async fn bytes_that_came_before_the_registration_still_wake_it() {
        let (mut client, server) = pair();
        let mut buf = BytesMut::with_capacity(64);
        let nothing = server.try_io(Interest::READABLE, || server.read_buf(&mut buf));
        assert_eq!(nothing.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        client.write_all(b"late").unwrap();
        let ready = std::future::poll_fn(|cx| server.poll_read_ready(cx));
        tokio::time::timeout(Duration::from_secs(5), ready)
            .await
            .expect("the wait was not woken")
            .unwrap();
        assert!(server.registered());
        let n = server.try_io(Interest::READABLE, || server.read_buf(&mut buf));
        assert_eq!(n.unwrap(), 4);
        assert_eq!(&buf[..], b"late");
    }

    /// A socket filled while unregistered waits, registered, until the peer reads.
    #[tokio::test]
    async fn a_full_socket_waits_until_the_peer_reads() {
        let (mut client, server) = pair();
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0;
        loop {
            match server.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(!server.registered());
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; sent];
            client.read_exact(&mut got).unwrap();
            client
        });
        tokio::time::timeout(Duration::from_secs(5), server.writable())
            .await
            .expect("never writable again")
            .unwrap();
        assert!(server.registered());
        drop(reader.join().unwrap());
    }

    /// The listener hands out a connection that has spoken before one that has not,
    /// whichever connected first: the silent one waits in the kernel.
    #[tokio::test]
    async fn a_connection_is_accepted_once_its_request_arrives() {
        let bound = crate::server::bind(&["127.0.0.1:0".parse().unwrap()]).unwrap();
        let listener = Listener::new(bound.into_iter().next().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = std::net::TcpStream::connect(addr).unwrap();
        let mut speaking = std::net::TcpStream::connect(addr).unwrap();
        speaking.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let accept = tokio::time::timeout(Duration::from_secs(5), listener.accept());
        let (_, first_peer) = accept.await.expect("nothing accepted").unwrap();
        assert_eq!(first_peer, speaking.local_addr().unwrap());
        // After about a second of silence it is accepted all the same.
        let accept = tokio::time::timeout(Duration::from_secs(10), listener.accept());
        let (_, second_peer) = accept
            .await
            .expect("the silent one was never accepted")
            .unwrap();
        assert_eq!(second_peer, silent.local_addr().unwrap());
    }

    /// A connected pair on loopback; the server's end is a non-blocking [`Socket`].
    /// Over loopback, the segment size a connection settles at once its peer's window has
    /// grown is the one advertised from its start.
    #[test]
    fn segments_settle_at_the_advertised_size() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let advertised = advertised_mss(server.as_fd()).unwrap();
        let now = |server: &std::net::TcpStream| socket2::SockRef::from(server).tcp_mss().unwrap();
        let young = now(&server);
        assert!(young <= advertised, "{young} > {advertised}");
        let reader = std::thread::spawn(move || {
            let mut sink = [0; 64 * 1024];
            while let Ok(1..) = client.read(&mut sink) {}
        });
        let chunk = vec![0u8; 1024 * 1024];
        for _ in 0..16 {
            server.write_all(&chunk).unwrap();
        }
        assert_eq!(now(&server), advertised);
        assert_eq!(advertised_mss(server.as_fd()).unwrap(), advertised);
        drop(server);
        reader.join().unwrap();
    }

    fn pair() -> (std::net::TcpStream, Socket) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (client, Socket::new(server))
    }
}
