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

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use crate::body::compressed::{Coding, compress_whole};

/// Bytes the cache may hold, originals and compressed forms together (32 MiB).
pub const BUDGET: usize = 32 * 1024 * 1024;

/// Largest original whose compressed form is kept: the file cache's own limit for files it
/// holds in memory (128 KiB), which also bounds the time one compression takes on a runtime
/// thread (about a millisecond and a half with gzip).
pub const MAX_ORIGINAL: usize = 128 * 1024;

struct Entry {
    /// The bytes the entry was made from, held so that the key's address stays theirs.
    _original: Bytes,
    compressed: Bytes,
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
}

/// The process's cache, shared by every route and worker.
static SHARED: CompressedCache = CompressedCache::new(BUDGET);

/// `original` compressed with `coding`: kept from an earlier call with the same bytes, or
/// made now and kept; `None` if they are too long to keep or the encoder failed.
pub fn compressed(original: &Bytes, coding: Coding) -> Option<Bytes> {
    SHARED.compressed(original, coding)
}

impl CompressedCache {
    const fn new(budget: usize) -> Self {
        CompressedCache {
            inner: Mutex::new(None),
            budget,
        }
    }

    fn compressed(&self, original: &Bytes, coding: Coding) -> Option<Bytes> {
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
        let compressed = Bytes::from(compress_whole(coding, original).ok()?);
        let weight = original.len() + compressed.len();
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = guard.get_or_insert_with(Inner::default);
        if inner.held + weight > self.budget {
            inner.entries.clear();
            inner.held = 0;
        }
        let entry = Entry {
            _original: original.clone(),
            compressed: compressed.clone(),
        };
        if let Some(replaced) = inner.entries.insert(key, entry) {
            inner.held -= original.len() + replaced.compressed.len();
        }
        inner.held += weight;
        Some(compressed)
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

    /// The same bytes (a clone shares them) get the form made the first time; equal bytes
    /// elsewhere in memory, another coding, or bytes too long get their own.
    #[test]
    fn the_same_bytes_are_compressed_once_per_coding() {
        let cache = CompressedCache::new(BUDGET);
        let original = page(0);
        let first = cache.compressed(&original, Coding::Gzip).unwrap();
        let again = cache.compressed(&original.clone(), Coding::Gzip).unwrap();
        assert_eq!(first.as_ptr(), again.as_ptr(), "made once");
        let copy = Bytes::copy_from_slice(&original);
        let elsewhere = cache.compressed(&copy, Coding::Gzip).unwrap();
        assert_ne!(elsewhere.as_ptr(), first.as_ptr(), "made again");
        assert_eq!(elsewhere, first, "the same bytes compress the same");
        let zstd = cache.compressed(&original, Coding::Zstd).unwrap();
        assert_ne!(zstd, first);
        let long = Bytes::from(vec![b'a'; MAX_ORIGINAL + 1]);
        assert_eq!(cache.compressed(&long, Coding::Gzip), None);
        assert_eq!(
            cache.held(),
            2 * original.len() + 2 * first.len() + original.len() + zstd.len()
        );
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
            assert!(held >= p.len() + made.len(), "the last one is kept");
        }
    }
}
