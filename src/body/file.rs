//! The file body: exactly the promised bytes, read in growing chunks on the blocking pool.
//!
//! This is how HTTP/2 (hyper) sends file ranges. The HTTP/1.1 writer takes the ranges out
//! with `FileBody::into_parts` and sends them with `sendfile` instead (no copy through
//! user space; see `server::h1::zero_copy`); what follows describes the polled path.
//!
//! Each chunk is one `spawn_blocking` read, so no thread is held while a slow client drains
//! the socket; a chunk whose pages are all in memory (`crate::page_cache`) is copied at once
//! on the runtime thread instead, with no hand-off (h2load, 8 connections × 4 streams of a
//! cached 1 MiB file: 1,050–1,190 answers a second through the pool, 1,420–1,490 so). Chunks start at `FIRST_CHUNK` (16 KiB: a quick first byte, little waste on a
//! short range, and little held by a stream that never gets a window) and double up to
//! `MAX_CHUNK` (512 KiB): every chunk costs two thread
//! hand-offs, and at 64 KiB those hand-offs, not the copying, bounded a download to a fraction
//! of what the loopback carries. Memory per response is at most three chunks (1.5 MiB): the
//! one hyper is writing, one it has queued (hyper's HTTP/1 writer polls the body until about
//! 400 KiB are pending: `DEFAULT_MAX_BUFFER_SIZE`), and the one being read ahead. One read is
//! in flight at a time, so a body reads its own file handle sequentially (`seek` + `read`):
//! `read_to_end` fills the buffer's spare capacity without zeroing it first, which `pread`
//! into a `&mut [u8]` would need.
//! The body is a list of parts (file ranges and in-memory bytes), which covers a whole file,
//! one range, and `multipart/byteranges`, from the file or from cached bytes.
//!
//! A file that changes while it is sent never yields a body whose length disagrees with
//! Content-Length: only the promised ranges are read (growth is not sent), and a read that
//! meets end-of-file early ends the body with an `UnexpectedEof` error, so hyper aborts the
//! connection (HTTP/1.1) or resets the stream (HTTP/2) instead of sending a short body.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::open_file::OpenFile;

/// Bytes of file chunks one connection may hold at once, read ahead or queued in hyper: 4 MiB.
/// An HTTP/1.1 connection sends one body at a time and never reaches it (three chunks, 1.5
/// MiB); on HTTP/2 it bounds what many concurrent downloads on one connection can pin (without
/// it, 3 connections × 200 streams held about 1 GB). Streams past the budget wait for their
/// siblings' chunks to be sent; a stalled connection only stalls itself.
pub const CONNECTION_READ_AHEAD: usize = 4 * 1024 * 1024;

/// Budget permits are KiB.
const PERMIT_BYTES: u64 = 1024;

tokio::task_local! {
    static READ_AHEAD: ReadAheadBudget;
}

/// One connection's read-ahead budget ([`CONNECTION_READ_AHEAD`]); every file body created
/// inside [`ReadAheadBudget::scope`] draws on it until its chunks are sent and dropped.
#[derive(Debug, Clone)]
pub struct ReadAheadBudget(Arc<Semaphore>);

impl ReadAheadBudget {
    /// A fresh budget of [`CONNECTION_READ_AHEAD`] bytes.
    pub fn new() -> Self {
        Self::with_bytes(CONNECTION_READ_AHEAD)
    }

    /// A budget of `bytes` (at least one largest chunk, or a body could wait forever).
    pub(crate) fn with_bytes(bytes: usize) -> Self {
        let permits = bytes.max(MAX_CHUNK as usize) / PERMIT_BYTES as usize;
        ReadAheadBudget(Arc::new(Semaphore::new(permits)))
    }

    /// Run `fut` (a request's handling) so the bodies it creates draw on this budget.
    pub async fn scope<F: std::future::Future>(&self, fut: F) -> F::Output {
        READ_AHEAD.scope(self.clone(), fut).await
    }
}

impl Default for ReadAheadBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// A chunk's bytes together with the budget they hold, returned when hyper drops them.
struct Budgeted {
    buf: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

/// Bytes read by the first chunk of a body: 16 KiB, one HTTP/2 frame of the default size.
/// A client that opens streams and grants them no window still has each one's first chunk
/// read (one read per stream, measured with strace), held until the stream goes: at 64 KiB, 1,600 streams on 100 connections held 114 MB; at 16 KiB, 40 MB. Two
/// more doublings reach the large chunks a fast download needs.
pub(crate) const FIRST_CHUNK: u64 = 16 * 1024;

/// Largest chunk (512 KiB), reached after three doublings; a response holds at most three.
/// Measured on a 10 GiB download with the server on one core (fixed chunk sizes, server
/// CPU-seconds per 10 GiB, 3 rounds): 64 KiB 5.8–7.3, 256 KiB 3.6–3.8 (one outlier 7.7),
/// 512 KiB 3.3–3.4; 1 MiB gave no clear gain over 512 KiB for twice the memory.
pub(crate) const MAX_CHUNK: u64 = 512 * 1024;

/// One piece of a body.
#[derive(Debug)]
pub(crate) enum Part {
    /// Bytes already in memory (multipart headers).
    Bytes(Bytes),
    /// `len` bytes of the file from `offset`.
    File {
        /// First byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
    },
}

impl Part {
    /// Bytes this part adds to the body.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Part::Bytes(b) => b.len() as u64,
            Part::File { len, .. } => *len,
        }
    }
}

/// A chunk of `len` bytes on its way: waiting for budget, then read (on the blocking pool,
/// unless its pages are in memory).
struct Pending {
    state: Stage,
    len: u64,
}

/// Where a pending chunk is.
enum Stage {
    /// Waiting for the connection's read-ahead budget; the read starts at `at`.
    Budget {
        acquire: Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>,
        at: u64,
    },
    /// Being read on the blocking pool.
    Reading(JoinHandle<io::Result<Bytes>>),
    /// Read already, on the runtime thread: its pages were in memory (taken once).
    Read(Option<io::Result<Bytes>>),
}

/// A body that sends `parts` in order, reading file parts from `file`.
pub struct FileBody {
    /// `None` when every part is in memory.
    file: Option<Arc<OpenFile>>,
    parts: VecDeque<Part>,
    pending: Option<Pending>,
    remaining: u64,
    /// Size of the next chunk read.
    chunk: u64,
    /// The connection's budget, when the body was made inside [`ReadAheadBudget::scope`].
    budget: Option<ReadAheadBudget>,
}

impl FileBody {
    /// A body sending `parts` of `file`.
    pub(crate) fn new(file: File, parts: Vec<Part>) -> Self {
        Self::with(Some(Arc::new(OpenFile::new(file))), parts)
    }

    /// A body sending `parts` of `file`, which others may be reading too.
    pub(crate) fn shared(file: Arc<OpenFile>, parts: Vec<Part>) -> Self {
        Self::with(Some(file), parts)
    }

    /// A body sending `parts`, all [`Part::Bytes`] (a multipart answer cut from cached bytes).
    pub(crate) fn from_bytes(parts: Vec<Part>) -> Self {
        debug_assert!(parts.iter().all(|p| matches!(p, Part::Bytes(_))));
        Self::with(None, parts)
    }

    /// The file and the parts still to send, for a writer that sends file ranges itself
    /// (zero-copy, with `sendfile`); the body back if polling has already begun.
    pub(crate) fn into_parts(self) -> Result<(Option<Arc<OpenFile>>, VecDeque<Part>), Self> {
        if self.pending.is_some() {
            return Err(self);
        }
        Ok((self.file, self.parts))
    }

    /// Where its bytes start and how many there are, when this body is one range of one
    /// file, not yet polled (a whole file's answer, or a kept compressed form's).
    pub(crate) fn single_range(&self) -> Option<(u64, u64)> {
        match (
            &self.file,
            self.parts.front(),
            self.parts.len(),
            &self.pending,
        ) {
            (Some(_), Some(Part::File { offset, len }), 1, None) => Some((*offset, *len)),
            _ => None,
        }
    }

    fn with(file: Option<Arc<OpenFile>>, parts: Vec<Part>) -> Self {
        let remaining = parts.iter().map(Part::len).sum();
        FileBody {
            file,
            parts: parts.into(),
            pending: None,
            remaining,
            chunk: FIRST_CHUNK,
            budget: READ_AHEAD.try_with(ReadAheadBudget::clone).ok(),
        }
    }

    /// Start reading the next chunk of the front file part, if there is one.
    fn read_ahead(&mut self) {
        if self.pending.is_some() {
            return;
        }
        let Some(Part::File { offset, len }) = self.parts.front_mut() else {
            return;
        };
        if *len == 0 {
            return;
        }
        let n = (*len).min(self.chunk);
        self.chunk = (self.chunk * 2).min(MAX_CHUNK);
        let at = *offset;
        *offset += n;
        *len -= n;
        let state = match &self.budget {
            Some(budget) => {
                let permits = u32::try_from(n.div_ceil(PERMIT_BYTES)).unwrap_or(u32::MAX);
                Stage::Budget {
                    acquire: Box::pin(budget.0.clone().acquire_many_owned(permits)),
                    at,
                }
            }
            None => self.read(at, n, None),
        };
        self.pending = Some(Pending { state, len: n });
    }

    /// Read `n` bytes at `at`, holding `permit` until they are dropped: here when the kernel
    /// says every page is in memory (a copy, no wait on the disk; see `crate::page_cache`),
    /// else on the blocking pool.
    fn read(&self, at: u64, n: u64, permit: Option<OwnedSemaphorePermit>) -> Stage {
        if let Some(file) = &self.file {
            if file.is_cached(at, n) {
                return Stage::Read(Some(read_chunk(file.file(), at, n, permit)));
            }
        }
        let file = self.file.clone();
        Stage::Reading(tokio::task::spawn_blocking(move || match file {
            Some(file) => read_chunk(file.file(), at, n, permit),
            // Unreachable: `from_bytes` bodies have no file parts.
            None => Err(io::Error::other("a file part in a body without a file")),
        }))
    }
}

/// Read exactly `n` bytes at `offset`; `UnexpectedEof` if the file ended first (it shrank).
/// By position (`pread`), never the handle's own offset: a kept file is shared by every
/// answer sending it, on every worker (and the compressed forms' memory file by all of
/// theirs), and a seek then a read raced with another answer's, which then read another
/// part of the file, or past its end ("the file shrank", over HTTP/2; found by review).
fn read_chunk(
    file: &File,
    offset: u64,
    n: u64,
    permit: Option<OwnedSemaphorePermit>,
) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt as _;
    // `n` is at most MAX_CHUNK, so it fits in usize.
    let mut buf = vec![0u8; n as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                ));
            }
            Ok(read) => filled += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(match permit {
        Some(permit) => Bytes::from_owner(Budgeted {
            buf,
            _permit: permit,
        }),
        None => Bytes::from(buf),
    })
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(pending) = &mut this.pending {
                if let Stage::Budget { acquire, at } = &mut pending.state {
                    let permit = match ready!(acquire.as_mut().poll(cx)) {
                        Ok(permit) => permit,
                        // Unreachable: the budget's semaphore is never closed.
                        Err(err) => return fail(this, io::Error::other(err)),
                    };
                    let (at, len) = (*at, pending.len);
                    let stage = this.read(at, len, Some(permit));
                    if let Some(pending) = &mut this.pending {
                        pending.state = stage;
                    }
                    continue;
                }
                let joined = match &mut pending.state {
                    Stage::Reading(task) => ready!(Pin::new(task).poll(cx)),
                    Stage::Read(read) => Ok(read
                        .take()
                        .unwrap_or_else(|| Err(io::Error::other("a chunk taken twice")))),
                    Stage::Budget { .. } => unreachable!("the budget stage was handled above"),
                };
                let len = pending.len;
                this.pending = None;
                let chunk = match joined {
                    Ok(Ok(chunk)) => chunk,
                    Ok(Err(err)) => return fail(this, err),
                    Err(err) => return fail(this, io::Error::other(err)),
                };
                debug_assert_eq!(chunk.len() as u64, len);
                this.remaining -= len;
                if matches!(this.parts.front(), Some(Part::File { len: 0, .. })) {
                    this.parts.pop_front();
                }
                // Read the next chunk while hyper writes this one.
                this.read_ahead();
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            match this.parts.front() {
                None => return Poll::Ready(None),
                Some(Part::Bytes(_)) => {
                    let Some(Part::Bytes(b)) = this.parts.pop_front() else {
                        unreachable!("front was Bytes");
                    };
                    this.remaining -= b.len() as u64;
                    this.read_ahead();
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Some(Part::File { len: 0, .. }) => {
                    this.parts.pop_front();
                }
                Some(Part::File { .. }) => this.read_ahead(),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// End the body with `err`, and send nothing after it.
fn fail(body: &mut FileBody, err: io::Error) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
    tracing::warn!(error = %err, "file body ended early");
    body.parts.clear();
    body.remaining = 0;
    Poll::Ready(Some(Err(err)))
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;
    use http_body_util::BodyExt as _;

    use super::*;

    /// Reads of one shared handle from several threads at once each get their own part of
    /// the file: reads are by position, not by the handle's offset (a kept file is shared by
    /// every answer sending it).
    #[test]
    fn concurrent_reads_of_a_shared_handle_get_their_own_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        // Each 4-byte word holds its own offset.
        let words: Vec<u8> = (0u32..65_536).flat_map(u32::to_le_bytes).collect();
        std::fs::write(&path, &words).unwrap();
        let file = std::sync::Arc::new(File::open(&path).unwrap());
        let readers: Vec<_> = (0..4u64)
            .map(|t| {
                let file = std::sync::Arc::clone(&file);
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        let word = (t * 7919 + i * 104_729) % 65_000;
                        let chunk = read_chunk(&file, word * 4, 64, None).unwrap();
                        let first = u32::from_le_bytes(chunk[..4].try_into().unwrap());
                        assert_eq!(u64::from(first), word, "read from another offset");
                    }
                })
            })
            .collect();
        for reader in readers {
            reader.join().unwrap();
        }
    }

    /// Bodies made in one connection's scope wait for each other's chunks to be dropped once
    /// the budget is spent, and go on when they are.
    #[tokio::test]
    async fn bodies_on_one_connection_share_the_read_ahead_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let len = MAX_CHUNK; // 64 + 128 + 256 + 64 KiB chunks: the whole budget below
        std::fs::write(&path, vec![7u8; len as usize]).unwrap();
        let whole = || vec![Part::File { offset: 0, len }];
        let budget = ReadAheadBudget::with_bytes(MAX_CHUNK as usize);
        let (mut a, mut b) = budget
            .scope(async {
                let open = || File::open(&path).unwrap();
                (
                    FileBody::new(open(), whole()),
                    FileBody::new(open(), whole()),
                )
            })
            .await;
        let mut held = Vec::new();
        while let Some(frame) = a.frame().await {
            held.push(frame.unwrap().into_data().unwrap());
        }
        assert_eq!(held.iter().map(Bytes::len).sum::<usize>(), len as usize);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        assert!(b.frame().now_or_never().is_none(), "the budget is spent");
        drop(held);
        let first = b.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first.len() as u64, FIRST_CHUNK);
    }

    /// Outside any connection's scope (unit tests, tools) bodies read without a budget.
    #[tokio::test]
    async fn bodies_outside_a_scope_have_no_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let body = FileBody::new(
            File::open(&path).unwrap(),
            vec![Part::File { offset: 0, len: 3 }],
        );
        assert!(body.budget.is_none());
        assert_eq!(body.collect().await.unwrap().to_bytes(), &b"abc"[..]);
    }

    /// Chunks whose pages are in memory are read at once, the others on the blocking pool:
    /// a body over a file whose second half was dropped from the page cache yields exactly
    /// its parts, in order, and a file that shrank since is still an error, not a short body.
    #[tokio::test]
    async fn cached_and_dropped_chunks_make_the_same_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 249) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        let dropped = nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED;
        nix::fcntl::posix_fadvise(&file, 3 * 512 * 1024, 0, dropped).unwrap();
        let parts = vec![
            Part::File {
                offset: 10,
                len: 2 * 1024 * 1024,
            },
            Part::Bytes(Bytes::from_static(b"--between--")),
            Part::File {
                offset: 5,
                len: 3 * 1024 * 1024 - 5,
            },
        ];
        let got = FileBody::new(file, parts)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        let mut want = data[10..10 + 2 * 1024 * 1024].to_vec();
        want.extend_from_slice(b"--between--");
        want.extend_from_slice(&data[5..]);
        assert!(got == want, "{} bytes, {} wanted", got.len(), want.len());
        std::fs::write(&path, &data[..1000]).unwrap();
        let short = vec![Part::File {
            offset: 0,
            len: 5000,
        }];
        let err = FileBody::new(File::open(&path).unwrap(), short)
            .collect()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
