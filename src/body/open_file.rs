//! An open file that many answers send, and what a check last found of its pages.
//!
//! Before a file's bytes are sent on a runtime thread (`sendfile`, or a copy of a chunk),
//! the kernel is asked whether they are all in memory ([`crate::page_cache`]), since a read
//! from the disk would hold the thread. For a file the static cache keeps open and sends
//! again and again (32–128 KiB, to HTTP/1.x clients), that question was asked for every
//! answer: `cachestat` walks the file's pages in the kernel, 3.4% of the server's time in row c
//! of `bench/compare.sh` (100 KiB, 64 connections; `perf record -g`, `__x64_sys_cachestat`),
//! and the one system call of an answer that lighttpd and nginx do not make.
//!
//! So a check that finds the **whole file** in memory is trusted for [`TRUSTED_FOR`] (1 s,
//! the static cache's own revalidation interval) for any range of it; a range the last
//! whole check does not cover, or a check older than that, is asked again. A page evicted
//! within that second (under memory pressure) is read by `sendfile` on the runtime thread:
//! one read of at most 128 KiB, the wait nginx and lighttpd always accept, and the one
//! this module's callers otherwise accept between their check and their send.

use std::fs::File;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a check that found a whole file in memory is trusted.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// An open file, shared by the answers that send it.
#[derive(Debug)]
pub struct OpenFile {
    file: File,
    pages: Residency,
    /// A memory file's (`memfd_create`): its pages are memory, never read from a disk.
    in_memory: bool,
}

impl OpenFile {
    /// `file`, whose pages are checked for every range sent (no memo: nothing shares it).
    pub fn new(file: File) -> Self {
        Self::with_len(file, 0)
    }

    /// `file`, `len` bytes long when opened and kept for many answers: a check that finds
    /// all `len` bytes in memory is remembered (see the module notes).
    pub fn kept(file: File, len: u64) -> Self {
        Self::with_len(file, len)
    }

    /// A memory file (`memfd_create`): no check is asked, its pages being memory as much as
    /// the heap's are (swapped out, they wait as any memory would).
    pub fn in_memory(file: File) -> Self {
        OpenFile {
            in_memory: true,
            ..Self::new(file)
        }
    }

    fn with_len(file: File, len: u64) -> Self {
        OpenFile {
            file,
            pages: Residency {
                len,
                whole_at: AtomicU64::new(NEVER),
            },
            in_memory: false,
        }
    }

    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Whether bytes `offset .. offset + len` are in memory now, as far as the kernel or a
    /// recent check of the whole file can tell (see the module notes).
    pub fn is_cached(&self, offset: u64, len: u64) -> bool {
        if self.in_memory {
            return true;
        }
        self.pages.is_cached(offset, len, now(), |offset, len| {
            crate::page_cache::is_cached(&self.file, offset, len)
        })
    }
}

/// `whole_at` before any check found the whole file in memory.
const NEVER: u64 = u64::MAX;

/// What the last check of a whole file found.
#[derive(Debug)]
struct Residency {
    /// The file's length when kept; 0 remembers nothing.
    len: u64,
    /// When a check last found bytes `0 .. len` in memory (nanoseconds since [`now`]'s
    /// epoch), or [`NEVER`].
    whole_at: AtomicU64,
}

impl Residency {
    /// Whether `offset .. offset + len` is in memory at `now`: from a whole check less than
    /// [`TRUSTED_FOR`] old, else by `check`, which is asked about the whole file when the
    /// range lies within it (so one check serves every range after it).
    fn is_cached(
        &self,
        offset: u64,
        len: u64,
        now: u64,
        check: impl FnOnce(u64, u64) -> bool,
    ) -> bool {
        let within = offset.checked_add(len).is_some_and(|end| end <= self.len);
        if !within {
            return check(offset, len);
        }
        let at = self.whole_at.load(Ordering::Relaxed);
        if at != NEVER && now.saturating_sub(at) < TRUSTED_FOR.as_nanos() as u64 {
            return true;
        }
        let cached = check(0, self.len);
        if cached {
            self.whole_at.store(now, Ordering::Relaxed);
        }
        cached
    }
}

/// Nanoseconds since the first call in this process.
fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const SECOND: u64 = 1_000_000_000;

    fn memo(len: u64) -> Residency {
        Residency {
            len,
            whole_at: AtomicU64::new(NEVER),
        }
    }

    /// Asks `memo` about `offset .. offset + len` at `now`, the check answering `answer`;
    /// returns the result and the ranges the check was asked about.
    fn ask(
        memo: &Residency,
        offset: u64,
        len: u64,
        now: u64,
        answer: bool,
    ) -> (bool, Vec<(u64, u64)>) {
        let asked = RefCell::new(Vec::new());
        let cached = memo.is_cached(offset, len, now, |o, l| {
            asked.borrow_mut().push((o, l));
            answer
        });
        (cached, asked.into_inner())
    }

    #[test]
    fn a_whole_check_is_trusted_for_a_second_for_every_range_within() {
        let m = memo(100_000);
        assert_eq!(ask(&m, 0, 100_000, 5, true), (true, vec![(0, 100_000)]));
        // Later ranges within the file, inside the second: no check, whatever it would say.
        assert_eq!(ask(&m, 0, 100_000, 5 + SECOND - 1, false), (true, vec![]));
        assert_eq!(ask(&m, 4096, 10, 7, false), (true, vec![]));
        assert_eq!(ask(&m, 99_999, 1, 7, false), (true, vec![]));
    }

    #[test]
    fn a_check_a_second_old_is_asked_again() {
        let m = memo(100_000);
        assert!(ask(&m, 0, 100_000, 5, true).0);
        assert_eq!(
            ask(&m, 10, 10, 5 + SECOND, false),
            (false, vec![(0, 100_000)])
        );
        // Not cached: nothing is remembered, the next answer asks too.
        assert_eq!(
            ask(&m, 10, 10, 5 + SECOND, true),
            (true, vec![(0, 100_000)])
        );
    }

    #[test]
    fn a_range_within_the_file_is_checked_as_the_whole_file() {
        let m = memo(100_000);
        assert_eq!(ask(&m, 500, 20, 1, false), (false, vec![(0, 100_000)]));
        assert_eq!(ask(&m, 500, 20, 2, false), (false, vec![(0, 100_000)]));
    }

    #[test]
    fn ranges_past_the_kept_length_are_always_checked_themselves() {
        // The file grew since it was kept: its new bytes were never checked.
        let m = memo(100_000);
        assert!(ask(&m, 0, 100_000, 1, true).0);
        assert_eq!(
            ask(&m, 99_000, 2_000, 2, false),
            (false, vec![(99_000, 2_000)])
        );
        assert_eq!(ask(&m, 100_000, 1, 2, false), (false, vec![(100_000, 1)]));
        assert_eq!(ask(&m, u64::MAX, 2, 2, false), (false, vec![(u64::MAX, 2)]));
        // And a range's check, even a true one, is not a whole check.
        assert_eq!(ask(&m, 100_000, 10, 2, true), (true, vec![(100_000, 10)]));
        assert_eq!(ask(&m, 100_000, 10, 3, true), (true, vec![(100_000, 10)]));
    }

    #[test]
    fn a_file_not_kept_remembers_nothing() {
        let m = memo(0);
        assert_eq!(ask(&m, 0, 10, 1, true), (true, vec![(0, 10)]));
        assert_eq!(ask(&m, 0, 10, 2, true), (true, vec![(0, 10)]));
        assert_eq!(ask(&m, 0, 0, 2, true), (true, vec![(0, 0)]));
    }

    #[test]
    fn an_open_file_answers_for_its_own_pages() {
        use std::io::Write as _;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[7; 8192]).unwrap();
        file.sync_all().unwrap();
        // Just written: in memory on every filesystem the tests run on, or the kernel cannot
        // tell (then `false`, and the memo stays empty).
        let open = OpenFile::kept(file, 8192);
        let first = open.is_cached(0, 8192);
        assert_eq!(open.pages.whole_at.load(Ordering::Relaxed) != NEVER, first);
        assert_eq!(open.file().metadata().unwrap().len(), 8192);
    }

    /// A memory file is never asked about (its pages are memory); a file is.
    #[test]
    fn a_memory_file_is_always_in_memory() {
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let memfd = || File::from(memfd_create(c"test", MFdFlags::MFD_CLOEXEC).unwrap());
        // Nothing written: a check of the kernel finds no pages there.
        assert!(OpenFile::in_memory(memfd()).is_cached(0, 1 << 20));
        assert!(!OpenFile::new(memfd()).is_cached(0, 1 << 20));
    }
}
