//! Compressed forms of the answers the file cache holds in memory, made once per coding.
//!
//! A page, stylesheet or script of up to 128 KiB is kept whole by the file cache
//! (`static_files::cache`), and every answer sends the same bytes: compressing them again for
//! each request (nginx's `gzip on` does) costs far more than sending them. So the compressed
//! form is kept here, and such an answer goes out with a `Content-Length`, not chunked.
//!
//! **The key is the bytes themselves**: where they are in memory and their length. An entry
//! holds a reference to the bytes it was made from, so while it lives no other content can
//! be at that address (`Bytes` never change); a changed file gets new bytes from the file
//! cache, at another address, and so a new entry. What the file cache stops using is
//! dropped when this cache is cleared.
//!
//! The entries share [`BUDGET`] (the bytes they hold, both forms); an entry that would pass
//! it clears the cache first, so the pages in use come back at once and the rest go.
//!
//! **A compressed form of [`FILE_FROM`] bytes or more is also written to a memory file**
//! (`memfd_create`, one for the whole cache, each form at its own offset), and sent from it
//! as a file is: over HTTP/1.1 with `sendfile`, whose pages go to the socket without being
//! copied. Sent from memory instead, a 100 KiB page (20 KB compressed) spent most of its time
//! in the kernel's copy of those bytes into the socket (`perf`: 60% in `_copy_from_iter`),
//! and answered 0.5 of lighttpd's rate, which sends its own cache's files with `sendfile`
//! (`bench/compare.sh` row o, 2026-11-28).
//!
//! **A kept form is a prepared answer again** over HTTP/1.x when the answer it replaces was
//! one (`Compress::apply`): its fields rendered, and a repeat of the request answered by the
//! express lane (`server::h1::express`) until the file cache's entry needs checking, and,
//! made from a file the cache keeps open, only while that file is unchanged. Without it each
//! compressed answer was parsed, routed and planned in full (about 10,000 instructions,
//! against 3,300 for a repeat).

use std::collections::HashMap;
use std::os::unix::fs::FileExt as _;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::body::compressed::{Coding, compress_whole};
use crate::body::open_file::OpenFile;

/// Bytes the cache may hold, originals and compressed forms together (32 MiB).
pub const BUDGET: usize = 32 * 1024 * 1024;

/// Largest original whose compressed form is kept: the file cache's own limit for files it
/// holds in memory (128 KiB), which also bounds the time one compression takes on a runtime
/// thread (about a millisecond and a half with gzip).
pub const MAX_ORIGINAL: usize = 128 * 1024;

/// Compressed forms of at least this many bytes (16 KiB, the most an HTTP/1.1 answer copies
/// next to its head) are also kept in the memory file, to be sent from it.
pub const FILE_FROM: usize = 16 * 1024;

/// A kept compressed form.
#[derive(Clone)]
pub enum Kept {
    /// In memory.
    Memory(Bytes),
    /// `len` bytes at `offset` of a memory file.
    File {
        /// The cache's memory file.
        file: Arc<OpenFile>,
        /// Where the form starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
}

impl Kept {
    /// The bytes, wherever they are kept.
    pub fn len(&self) -> u64 {
        match self {
            Kept::Memory(bytes) => bytes.len() as u64,
            Kept::File { len, .. } => *len,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Entry {
    /// The bytes the entry was made from, held so that the key's address stays theirs.
    _original: Bytes,
    compressed: Kept,
}

/// Compressed forms by the address and length of their original, and coding.
struct CompressedCache {
    inner: Mutex<Option<Inner>>,
    budget: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(usize, usize, Coding), Entry, foldhash::fast::RandomState>,
    held: usize,
    /// The memory file and how much of it is written; made with the first form that goes
    /// there, and replaced when the cache is cleared (answers still sending from the old
    /// one keep it open).
    arena: Option<(Arc<OpenFile>, u64)>,
}

impl Inner {
    /// `bytes` written at the end of the memory file; `None` if it cannot be made or
    /// written (then the form is kept in memory only).
    fn append(&mut self, bytes: &[u8]) -> Option<Kept> {
        if self.arena.is_none() {
            use nix::sys::memfd::{MFdFlags, memfd_create};
            let fd = memfd_create(c"usher-compressed", MFdFlags::MFD_CLOEXEC).ok()?;
            let file = std::fs::File::from(fd);
            self.arena = Some((Arc::new(OpenFile::in_memory(file)), 0));
        }
        let (file, end) = self.arena.as_mut()?;
        file.file().write_all_at(bytes, *end).ok()?;
        let kept = Kept::File {
            file: Arc::clone(file),
            offset: *end,
            len: bytes.len() as u64,
        };
        *end += bytes.len() as u64;
        Some(kept)
    }
}

/// The process's cache, shared by every route and worker.
static SHARED: CompressedCache = CompressedCache::new(BUDGET);

/// `original` compressed with `coding`: kept from an earlier call with the same bytes, or
/// made now and kept; `None` if they are too long to keep or the encoder failed.
pub fn compressed(original: &Bytes, coding: Coding) -> Option<Kept> {
    SHARED.compressed(original, coding)
}

impl CompressedCache {
    const fn new(budget: usize) -> Self {
        CompressedCache {
            inner: Mutex::new(None),
            budget,
        }
    }

    fn compressed(&self, original: &Bytes, coding: Coding) -> Option<Kept> {
        if original.len() > MAX_ORIGINAL {
            return None;
        }
        let key = (original.as_ptr() as usize, original.len(), coding);
        {
            let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = inner.as_ref().and_then(|c| c.entries.get(&key)) {
                return Some(entry.compressed.clone());
            }
        }
        // Made without the lock: another thread may make the same entry meanwhile, and the
        // later one replaces it (the same bytes either way).
        let compressed = compress_whole(coding, original).ok()?;
        let weight = original.len() + compressed.len();
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = guard.get_or_insert_with(Inner::default);
        // The memory file counts too: a form made twice at once leaves one copy there that
        // no entry holds.
        let written = inner.arena.as_ref().map_or(0, |(_, end)| *end as usize);
        if inner.held + weight > self.budget || written + weight > self.budget {
            inner.entries.clear();
            inner.held = 0;
            inner.arena = None;
        }
        let kept = if compressed.len() >= FILE_FROM {
            inner.append(&compressed)
        } else {
            None
        };
        let kept = kept.unwrap_or_else(|| Kept::Memory(Bytes::from(compressed)));
        let entry = Entry {
            _original: original.clone(),
            compressed: kept.clone(),
        };
        if let Some(replaced) = inner.entries.insert(key, entry) {
            inner.held -= original.len() + replaced.compressed.len() as usize;
        }
        inner.held += weight;
        Some(kept)
    }

    /// The bytes held.
    #[cfg(test)]
    fn held(&self) -> usize {
        let inner = self.inner.lock().unwrap();
        inner.as_ref().map_or(0, |i| i.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(fill: u8) -> Bytes {
        Bytes::from(
            b"<p>kept compressed</p>"
                .iter()
                .map(|b| b ^ fill)
                .cycle()
                .take(40_000)
                .collect::<Vec<u8>>(),
        )
    }

    /// The bytes of a kept form, wherever they are.
    fn bytes_of(kept: &Kept) -> Vec<u8> {
        match kept {
            Kept::Memory(bytes) => bytes.to_vec(),
            Kept::File { file, offset, len } => {
                let mut out = vec![0; *len as usize];
                file.file().read_exact_at(&mut out, *offset).unwrap();
                out
            }
        }
    }

    /// Where a kept form is: its address in memory, or its offset in the memory file.
    fn place(kept: &Kept) -> (bool, usize) {
        match kept {
            Kept::Memory(bytes) => (false, bytes.as_ptr() as usize),
            Kept::File { offset, .. } => (true, *offset as usize),
        }
    }

    /// The same bytes (a clone shares them) get the form made the first time; equal bytes
    /// elsewhere in memory, another coding, or bytes too long get their own.
    #[test]
    fn the_same_bytes_are_compressed_once_per_coding() {
        let cache = CompressedCache::new(BUDGET);
        let original = page(0);
        let first = cache.compressed(&original, Coding::Gzip).unwrap();
        let again = cache.compressed(&original.clone(), Coding::Gzip).unwrap();
        assert_eq!(place(&first), place(&again), "made once");
        let copy = Bytes::copy_from_slice(&original);
        let elsewhere = cache.compressed(&copy, Coding::Gzip).unwrap();
        assert_ne!(place(&elsewhere), place(&first), "made again");
        assert_eq!(
            bytes_of(&elsewhere),
            bytes_of(&first),
            "the same bytes compress the same"
        );
        let zstd = cache.compressed(&original, Coding::Zstd).unwrap();
        assert_ne!(bytes_of(&zstd), bytes_of(&first));
        let long = Bytes::from(vec![b'a'; MAX_ORIGINAL + 1]);
        assert!(cache.compressed(&long, Coding::Gzip).is_none());
        let held = 3 * original.len() as u64 + 2 * first.len() + zstd.len();
        assert_eq!(cache.held() as u64, held);
    }

    /// A form of [`FILE_FROM`] bytes or more is kept in the memory file too, and reads back
    /// as made; a smaller one stays in memory.
    #[test]
    fn large_forms_are_kept_in_the_memory_file() {
        let cache = CompressedCache::new(BUDGET);
        // Bytes that do not compress: their form is as long as they are.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..60_000)
            .map(|_| {
                // xorshift64: bytes no coding shrinks.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let noise = Bytes::from(noise);
        let kept = cache.compressed(&noise, Coding::Gzip).unwrap();
        assert!(matches!(kept, Kept::File { .. }), "{} bytes", kept.len());
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&bytes_of(&kept)[..]),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(decoded, noise);
        let small = cache.compressed(&page(1), Coding::Gzip).unwrap();
        assert!(matches!(small, Kept::Memory(_)), "{} bytes", small.len());
    }

    /// Filling the budget clears the cache: the held bytes never pass it, and what is asked
    /// for after is kept again.
    #[test]
    fn the_budget_bounds_what_is_held() {
        let cache = CompressedCache::new(200_000);
        for i in 0..20 {
            let p = page(i);
            let made = cache.compressed(&p, Coding::Zstd).unwrap();
            let held = cache.held();
            assert!(held <= 200_000, "{held} bytes held");
            assert!(
                held as u64 >= p.len() as u64 + made.len(),
                "the last one is kept"
            );
        }
    }
}
