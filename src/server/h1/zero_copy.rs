//! File ranges sent with `sendfile(2)`: the kernel moves page-cache pages to the socket, and
//! the bytes never pass through user space.
//!
//! `sendfile` reads the file synchronously: on a cold page cache it waits for the disk. So
//! it never runs on a runtime worker (issue 3: no file I/O blocks the runtime). The runtime
//! waits until the socket has room; then one blocking-pool call sends until the socket is
//! full again (or [`MAX_PER_CALL`] is sent), and returns. No thread is held while a slow
//! client drains its window, and a 100 MiB download costs a few dozen hand-offs, not the 200
//! reads and copies of 512 KiB chunks.
//!
//! Readiness: the blocking call sees the socket full, but tokio does not (its readiness is
//! cached and edge-triggered). So the runtime side asks the kernel directly (`poll` with a
//! zero timeout) inside `try_io`: a full socket clears tokio's cached readiness, and an
//! edge arriving meanwhile is kept (tokio clears only the readiness it observed).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::io::writable;

/// Most bytes one blocking call sends before handing back (it also returns when the socket
/// is full): bounds how long a blocking thread serves one response at a time.
pub const MAX_PER_CALL: u64 = 8 * 1024 * 1024;

/// Send `len` bytes of `file` from `offset` to `stream`. A file that ends early (it shrank)
/// is an `UnexpectedEof` error: the caller must abort the connection, not end the response.
pub async fn send_range(
    stream: &TcpStream,
    file: &Arc<File>,
    offset: u64,
    len: u64,
) -> io::Result<()> {
    // The blocking pool needs a handle it owns; the duplicate shares the socket.
    let socket = Arc::new(stream.as_fd().try_clone_to_owned()?);
    let (mut offset, end) = (offset, offset + len);
    while offset < end {
        wait_for_room(stream).await?;
        let (file, socket) = (file.clone(), socket.clone());
        let count = (end - offset).min(MAX_PER_CALL);
        let sent =
            tokio::task::spawn_blocking(move || send_until_full(&socket, &file, offset, count))
                .await
                .map_err(io::Error::other)??;
        offset += sent;
    }
    Ok(())
}

/// Wait until the kernel says the socket has room (see the module notes on readiness).
async fn wait_for_room(stream: &TcpStream) -> io::Result<()> {
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

/// Send up to `count` bytes from `offset` until the socket is full. Runs on the blocking
/// pool. Returns the bytes sent (0 if the socket filled up before any went).
fn send_until_full(socket: &OwnedFd, file: &File, offset: u64, count: u64) -> io::Result<u64> {
    let mut at = i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut sent = 0;
    while sent < count {
        let want = usize::try_from(count - sent).unwrap_or(usize::MAX);
        match nix::sys::sendfile::sendfile64(socket, file, Some(&mut at), want) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                ));
            }
            Ok(n) => sent += n as u64,
            Err(Errno::EAGAIN) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// A range larger than the socket buffers arrives whole and exact, through a reader
    /// slower than the sender (so the socket fills and the sender waits for room).
    #[tokio::test]
    async fn a_range_bigger_than_the_socket_buffer_arrives_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
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
        let (server, _) = listener.accept().await.unwrap();
        send_range(&server, &file, 1000, 5 * 1024 * 1024)
            .await
            .unwrap();
        drop(server);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), 5 * 1024 * 1024);
        assert!(got == data[1000..1000 + 5 * 1024 * 1024]);
    }

    /// Asking for more than the file holds is an UnexpectedEof error, never a short success.
    #[tokio::test]
    async fn a_file_shorter_than_the_range_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"short").unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let err = send_range(&server, &file, 0, 100).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        drop(client);
    }
}
