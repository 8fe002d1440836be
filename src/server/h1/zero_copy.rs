//! File ranges sent with `sendfile(2)`: the kernel moves page-cache pages to the socket, and
//! the bytes never pass through user space.
//!
//! `sendfile` reads the file synchronously: on a cold page cache it waits for the disk, and
//! no runtime worker may wait on file I/O (issue 3). So each turn first asks the kernel
//! whether its next [`CALLS_PER_TURN`] calls' bytes are all in memory ([`crate::page_cache`];
//! for a file the static cache keeps open, a check of the whole file is trusted for a second,
//! [`crate::body::open_file`]):
//! - **cached**: `sendfile` runs right here, on the non-blocking socket, [`CALL`] bytes at a
//!   time, until the turn is sent or the socket is full (then tokio waits for room);
//! - **not cached** (or the kernel cannot tell): one blocking-pool call sends until the
//!   socket is full again (or [`MAX_PER_CALL`] is sent), reading the pages in on the way.
//!   No thread is held while a slow client drains its window, and a 100 MiB download costs
//!   a few dozen hand-offs, not the 200 reads and copies of 512 KiB chunks.
//!
//! Measured with wrk on 64 connections fetching a cached 1 MiB file (`bench/compare.sh`
//! row n; a script of my own, server CPU from `/proc/PID/task/*/schedstat`, 2026-11-26):
//! - through the pool: 2,200 answers a second at 160 µs of CPU each; every hand-off is two
//!   thread wake-ups and a dozen futex calls;
//! - inline: 1,900 a second at 115 µs: cheaper, but no faster;
//! - inline, **the head corked with the first call** (`TCP_CORK`, released after that
//!   call), as lighttpd does: 4,000–4,600 a second at 95–100 µs; lighttpd 3,800–4,500 at
//!   95–105 µs. Uncorked, with `TCP_NODELAY`, the head leaves alone in a small segment and the
//!   client pays a wake-up and a read for it. Held for a whole 1 MiB turn instead, the cork
//!   made some runs fall back to 2,500 a second, every request then waiting about 20 ms for
//!   its ACK (`ss -ti` on the client's sockets);
//! - calls of 256 KiB, lighttpd's size, beat one call for the whole range (4,300 a second
//!   against 2,600–3,500, corked);
//! - calls of whole segments (256 KiB rounded down to the MSS, [`call_size`]): a 100 MiB
//!   download (curl, from tmpfs) went from 306–322 µs of CPU per MiB to 280–309, and from
//!   36 to 34 segments per MiB (`nstat`); lighttpd took 286–372 µs and 33 segments in the
//!   same runs. 1 MiB answers stayed at 4,750 a second and 90 µs each;
//! - the head held back with `MSG_MORE` on its own write instead of a cork set before it
//!   and cleared after the first call, and the call size asked for once per connection: 3
//!   system calls fewer per answer (9 to 6 for a cached 100 KiB file, `strace -c`), the same
//!   segments on the wire for one client. Under load it is not airtight: `MSG_MORE` holds the
//!   head only against this write's own push, and an ACK processed between the write and the
//!   first `sendfile` pushes what is queued by the socket's own rule (`TCP_NODELAY`: at
//!   once). With wrk on 64 connections over loopback (row c, 2026-11-27, `tcpdump`), 40% of
//!   the heads left alone: 2.5 segments per 100 KiB answer, against 2.03 with the cork (and
//!   lighttpd's 2.04). CPU did not move: 8 interleaved runs each, server plus wrk 63–66 µs
//!   per answer either way in the quiet runs (lighttpd's the same); so no cork. Over a real
//!   network the window is the same microsecond, but an ACK arrives in it far more rarely.
//!   A repeat the express lane answers has no such window: it sends head and file as one
//!   image, laid out for whole segments (`express::image`).
//!
//! Readiness on the pool path: the blocking call sees the socket full, but tokio does not
//! (its readiness is cached and edge-triggered). So the runtime side asks the kernel
//! directly (`poll` with a zero timeout) inside `try_io`: a full socket clears tokio's
//! cached readiness, and an edge arriving meanwhile is kept (tokio clears only the readiness
//! it observed). The inline path sends inside `try_io`, so a full socket clears it there.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use crate::server::socket::Socket;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use socket2::SockRef;
use tokio::io::Interest;

use super::io::{Writer, writable};
use crate::body::open_file::OpenFile;

/// Most bytes one blocking call sends before handing back (it also returns when the socket
/// is full): bounds how long a blocking thread serves one response at a time.
pub const MAX_PER_CALL: u64 = 8 * 1024 * 1024;

/// `sendfile` calls checked for residency and then made inline in one turn, at most (about
/// 1 MiB): the connection then yields, so one fast reader does not hold its runtime thread.
const CALLS_PER_TURN: u64 = 4;

/// Bytes per `sendfile` call, at most (256 KiB; see the module notes), rounded down to whole
/// segments (see [`call_size`]).
const CALL: u64 = 256 * 1024;

/// Write what `writer` holds (the head, and any answers before it), then `len` bytes of
/// `file` from `offset`. A file that ends early (it shrank) is an `UnexpectedEof` error: the
/// caller must abort the connection, not end the response.
pub async fn send_range(
    stream: &Socket,
    writer: &mut Writer,
    file: &Arc<OpenFile>,
    offset: u64,
    len: u64,
) -> io::Result<()> {
    let call = *writer
        .sendfile_call
        .get_or_insert_with(|| call_size(stream));
    // The head and the first call fill whole segments too: the head goes with `MSG_MORE`,
    // held back until the first call's bytes join it.
    let mut held = len > 0 && !writer.buf.is_empty();
    let head = writer.buf.len() as u64 % call;
    if held {
        writer.flush_more(stream).await?;
    } else {
        writer.flush(stream).await?;
    }
    let (mut at, end) = (offset, offset + len);
    // The pool needs a handle it owns (made the first time the pool is used).
    let mut socket: Option<Arc<OwnedFd>> = None;
    while at < end {
        // The head is held only until the first call, which sends it with its first bytes.
        let turn = (end - at).min(if held {
            call - head
        } else {
            call * CALLS_PER_TURN
        });
        // Asked once the socket has room, so the answer is fresh when the bytes go.
        writable(stream).await?;
        if file.is_cached(at, turn) {
            let sent = stream.try_io(Interest::WRITABLE, || {
                send_inline(stream, file.file(), &mut at, turn, call)
            });
            match sent {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                // Sent the whole turn: let other connections of this thread run.
                Ok(()) if at < end => tokio::task::yield_now().await,
                _ => {}
            }
        } else {
            let socket = match &socket {
                Some(socket) => Arc::clone(socket),
                None => Arc::clone(socket.insert(Arc::new(stream.as_fd().try_clone_to_owned()?))),
            };
            wait_for_room(stream).await?;
            // Held, only the first call's worth: the head must not wait longer (above).
            let count = if held {
                turn
            } else {
                (end - at).min(MAX_PER_CALL)
            };
            let (file, from) = (Arc::clone(file), at);
            let send = move || send_until_full(&socket, file.file(), from, count, call);
            at += tokio::task::spawn_blocking(send)
                .await
                .map_err(io::Error::other)??;
        }
        // A call without `MORE` (`sendfile`'s last) sent what the head held back.
        held = false;
    }
    Ok(())
}

/// The bytes of one `sendfile` call: [`CALL`] rounded down to whole segments of the
/// connection's current MSS. With `TCP_NODELAY` each call's last, partial segment leaves at
/// once: 256 KiB over loopback (MSS 65,483) left a 212-byte segment behind every call, one
/// more packet to send, deliver and acknowledge (`nstat`: 36 segments per MiB against
/// lighttpd's 33).
fn call_size(stream: &Socket) -> u64 {
    match SockRef::from(stream).tcp_mss() {
        Ok(mss @ 1..) if u64::from(mss) <= CALL => CALL / u64::from(mss) * u64::from(mss),
        _ => CALL,
    }
}

/// Send `turn` bytes from `*at` (cached pages) on the non-blocking socket, `call` at a time,
/// advancing `*at`. `WouldBlock` when the socket filled first (part may have gone).
fn send_inline(stream: &Socket, file: &File, at: &mut u64, turn: u64, call: u64) -> io::Result<()> {
    let end = *at + turn;
    while *at < end {
        let want = (end - *at).min(call);
        *at += sendfile(stream.as_fd(), file, *at, want)?;
    }
    Ok(())
}

/// One `sendfile` of up to `count` bytes from `offset`: the bytes sent, never 0 (a file that
/// ends first is `UnexpectedEof`); `WouldBlock` when the socket is full.
fn sendfile(socket: impl AsFd, file: &File, offset: u64, count: u64) -> io::Result<u64> {
    let mut at = i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let want = usize::try_from(count).unwrap_or(usize::MAX);
    loop {
        match nix::sys::sendfile::sendfile64(&socket, file, Some(&mut at), want) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                ));
            }
            Ok(n) => return Ok(n as u64),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Wait until the kernel says the socket has room (see the module notes on readiness).
async fn wait_for_room(stream: &Socket) -> io::Result<()> {
    loop {
        writable(stream).await?;
        let has_room = || {
            let mut fds = [PollFd::new(stream.as_fd(), PollFlags::POLLOUT)];
            nix::poll::poll(&mut fds, PollTimeout::ZERO)?;
            // An error or hang-up counts as room: the next sendfile reports it.
            if fds[0].any().unwrap_or(true) {
                Ok(())
            } else {
                Err(io::Error::from(io::ErrorKind::WouldBlock))
            }
        };
        match stream.try_io(Interest::WRITABLE, has_room) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Send up to `count` bytes from `offset`, `call` at a time, until the socket is full. Runs
/// on the blocking pool. Returns the bytes sent (0 if the socket filled up before any went).
fn send_until_full(
    socket: &OwnedFd,
    file: &File,
    offset: u64,
    count: u64,
    call: u64,
) -> io::Result<u64> {
    let mut sent = 0;
    while sent < count {
        match sendfile(socket, file, offset + sent, (count - sent).min(call)) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// A call is as many whole segments as fit in [`CALL`].
    #[tokio::test]
    async fn a_call_is_whole_segments() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        // An MSS that divides nothing round: the kernel honours it on loopback.
        client.set_tcp_mss(1000).unwrap();
        client.connect(&addr.into()).unwrap();
        let server = Socket::from_tokio(listener.accept().await.unwrap().0).unwrap();
        let mss = u64::from(SockRef::from(&server).tcp_mss().unwrap());
        assert!(mss <= 1000, "the peer's MSS bounds ours: {mss}");
        let call = call_size(&server);
        assert_eq!(call % mss, 0, "{call} is not whole segments of {mss}");
        assert!(
            call <= CALL && call > CALL - mss,
            "{call} is not the most that fits"
        );
    }

    /// A range larger than the socket buffers arrives whole and exact, through a reader
    /// slower than the sender (so the socket fills and the sender waits for room).
    #[tokio::test]
    async fn a_range_bigger_than_the_socket_buffer_arrives_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = Arc::new(OpenFile::new(File::open(&path).unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let mut got = Vec::new();
            let mut buf = [0; 64 * 1024];
            while let Ok(n @ 1..) = client.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
                if got.len() < 1024 * 1024 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
            got
        });
        let server = Socket::from_tokio(listener.accept().await.unwrap().0).unwrap();
        send_range(
            &server,
            &mut Writer::default(),
            &file,
            1000,
            5 * 1024 * 1024,
        )
        .await
        .unwrap();
        drop(server);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), 5 * 1024 * 1024);
        assert!(got == data[1000..1000 + 5 * 1024 * 1024]);
    }

    /// The head and a range of which only the first half is in memory arrive whole and in
    /// order (the second half goes through the blocking pool, where the kernel lets its
    /// pages be dropped).
    #[tokio::test]
    async fn the_head_and_a_partly_cached_range_arrive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = Arc::new(OpenFile::new(File::open(&path).unwrap()));
        file.file().sync_all().unwrap();
        let half = 3 * 512 * 1024;
        nix::fcntl::posix_fadvise(
            file.file().as_fd(),
            half,
            0,
            nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let server = Socket::from_tokio(listener.accept().await.unwrap().0).unwrap();
        let mut writer = Writer::default();
        writer.buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
        let (from, to) = (1000, data.len() - 1000);
        send_range(&server, &mut writer, &file, from as u64, (to - from) as u64)
            .await
            .unwrap();
        assert!(writer.buf.is_empty());
        drop(server);
        let got = reader.join().unwrap();
        let head = b"HTTP/1.1 200 OK\r\n\r\n".len();
        assert_eq!(&got[..head], b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(got.len() - head, to - from);
        assert!(got[head..] == data[from..to]);
    }

    /// Nothing is held back once `send_range` returns: the head (written with `MSG_MORE`)
    /// and a short range reach the client while the connection stays open, as they must for
    /// a keep-alive client waiting for its answer.
    #[tokio::test]
    async fn nothing_is_held_back_after_a_short_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = Arc::new(OpenFile::new(File::open(&path).unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let head = b"HTTP/1.1 206 Partial Content\r\n\r\n";
        let (got_tx, got_rx) = tokio::sync::oneshot::channel();
        let reader = std::thread::spawn(move || {
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            client
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut got = vec![0u8; head.len() + 4];
            let read = client.read_exact(&mut got).map(|()| got);
            let _ = got_tx.send(read);
            client
        });
        let server = Socket::from_tokio(listener.accept().await.unwrap().0).unwrap();
        SockRef::from(&server).set_tcp_nodelay(true).unwrap();
        let mut writer = Writer::default();
        writer.buf.extend_from_slice(head);
        send_range(&server, &mut writer, &file, 3, 4).await.unwrap();
        let got = got_rx
            .await
            .unwrap()
            .expect("the answer arrives with the socket open");
        assert_eq!(&got[..head.len()], head);
        assert_eq!(&got[head.len()..], b"3456");
        drop(server);
        drop(reader.join().unwrap());
    }

    /// Asking for more than the file holds is an UnexpectedEof error, never a short success.
    #[tokio::test]
    async fn a_file_shorter_than_the_range_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"short").unwrap();
        let file = Arc::new(OpenFile::new(File::open(&path).unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let server = Socket::from_tokio(listener.accept().await.unwrap().0).unwrap();
        let err = send_range(&server, &mut Writer::default(), &file, 0, 100)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        drop(client);
    }
}
