//! Whole answers in memory files: a repeat of an answer whose body goes out with `sendfile`
//! is sent by one `sendfile` of a file holding its head and its body together.
//!
//! Why: such an answer (a cached file of 32–128 KiB) went out as its head, written with
//! `MSG_MORE`, then the file with `sendfile`: two calls, and under load the head often left
//! alone in a segment of its own (an ACK processed between the two calls pushes it; 40% of
//! the answers in row c of `bench/compare.sh`, `tcpdump`), one more packet for both ends to
//! handle. lighttpd corks instead, which costs two `setsockopt` calls per answer. An image,
//! made once, sends head and body in one call and in whole segments every time: per answer,
//! the read of the request, the `statx` that checks the file unchanged (kept, so a change in
//! place is still seen at once), and one `sendfile` (lighttpd: read, two `setsockopt`,
//! `writev`, `sendfile`; `strace -c`).
//!
//! An image is a `memfd` (an unnamed file in memory, never mapped, closed on exec) written
//! once with the bytes the connection's writer would send, so the two ways give the same
//! bytes. Its head carries that second's `Date`, so it is made again when the `Date` (or the
//! `Connection` line) differs, at most once a second for each answer and way of closing. It
//! is never written again once made: `sendfile` hands its pages to the socket by reference,
//! and a page changed under them would change bytes already sent; a new image is a new file,
//! and the old one's pages live until the socket has sent them.
//!
//! **Whole segments.** `sendfile` moves a file through a pipe of 16 pages, 64 KiB, at a
//! time, each step sent with `MSG_MORE` but the last. With `TCP_NODELAY`, an ACK processed
//! between two steps pushes the first step's last, partial segment out alone: over loopback
//! (MSS 65,483), 53 bytes of every 100 KiB answer left in a segment of their own in 40% of
//! the answers (`tcpdump`, row c). So the answer starts [`lead`] bytes into its image, enough
//! that the first step ends on a whole number of the connection's segments: over loopback,
//! 2.06 segments per answer (lighttpd's 2.04), against 2.4 without. Another MSS than the
//! one the image was made for just sends as before.
//!
//! The images of a runtime thread hold at most [`BUDGET`] bytes; past it (or where the kernel
//! refuses `memfd_create`: before Linux 3.17, or under a filter), an answer goes out as
//! before.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Seek as _, Write as _};
use std::sync::Arc;

use nix::sys::memfd::{MFdFlags, memfd_create};

use super::FileRange;
use crate::body::open_file::OpenFile;

/// Bytes the images of one runtime thread hold at once, at most (8 MiB: 64 answers of the
/// largest size the file cache keeps, 128 KiB).
pub const BUDGET: usize = 8 * 1024 * 1024;

thread_local! {
    /// Bytes held by this thread's images.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// An answer's bytes, whole, in a file of its own.
pub struct Image {
    /// The head it begins with.
    head: Box<[u8]>,
    file: Arc<OpenFile>,
    /// Where the answer starts in the file (see [`lead`]).
    from: u64,
    /// The whole answer's length.
    len: u64,
}

/// Bytes `sendfile` moves per step: its pipe's 16 pages.
fn step() -> u64 {
    16 * crate::page_cache::page_size()
}

/// Where in its image an answer starts for `sendfile`'s first step to end on a whole number
/// of `mss`-byte segments: the step's bytes from there (to the end of its 16th page) are a
/// multiple of `mss`. 0 when the MSS is unknown or no place in the first page does it.
pub fn lead(mss: Option<u32>) -> u64 {
    let Some(mss) = mss.filter(|&mss| mss > 0) else {
        return 0;
    };
    let lead = step() % u64::from(mss);
    if lead < crate::page_cache::page_size() {
        lead
    } else {
        0
    }
}

impl Image {
    /// An image of `head` then `body`, laid out for segments of `mss` bytes, if this
    /// thread's budget has room for it and the kernel makes one.
    pub fn make(head: &[u8], body: &[u8], mss: Option<u32>) -> io::Result<Image> {
        let len = head.len() + body.len();
        if HELD.get().saturating_add(len) > BUDGET {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut file = File::from(memfd_create(c"usher-answer", MFdFlags::MFD_CLOEXEC)?);
        // The bytes before the answer (zeros) are never sent.
        let from = lead(mss);
        file.seek(io::SeekFrom::Start(from))?;
        file.write_all(head)?;
        file.write_all(body)?;
        HELD.set(HELD.get() + len);
        Ok(Image {
            head: head.into(),
            file: Arc::new(OpenFile::in_memory(file)),
            from,
            len: len as u64,
        })
    }

    /// Whether the image begins with exactly `head`.
    pub fn begins_with(&self, head: &[u8]) -> bool {
        *self.head == *head
    }

    /// The bytes to send: the whole answer.
    pub fn to_send(&self) -> FileRange {
        FileRange {
            file: Arc::clone(&self.file),
            from: self.from,
            len: self.len,
        }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // An image dropped as the thread ends (its table going) has nothing left to count.
        let _ = HELD.try_with(|held| held.set(held.get().saturating_sub(self.len as usize)));
    }
}

/// Bytes this thread's images hold now.
#[cfg(test)]
pub fn held() -> usize {
    HELD.get()
}
