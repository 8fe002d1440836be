//! Whether a file's bytes are in the page cache, so `sendfile` can run on a runtime thread.
//!
//! `sendfile` blocks while it reads pages that are not in memory, and nothing makes it fail
//! instead: `O_NONBLOCK` on the file and `SPLICE_F_NONBLOCK` are ignored for file reads, and
//! `RWF_NOWAIT` exists only for `preadv2`, which copies. `cachestat(2)` (Linux 6.5) counts the
//! cached pages of a range in one call without touching them; a range found whole is sent
//! inline, any other goes to the blocking pool, as everything did before (issue 3: sending a
//! cached 1 MiB file through the pool cost 1.6x the CPU and half the rate of sending it
//! inline, `bench/compare.sh` row n).
//!
//! No safe wrapper offers `cachestat` yet (libc has no number for it on x86_64, nix and
//! rustix no function), so this is the one module of the library allowed `unsafe`: one
//! system call with two plain structs. Where the kernel lacks the call (`ENOSYS`) or a
//! sandbox refuses it (`EPERM`), the answer is always "not cached", and the first refusal
//! is remembered so later calls skip the system call.
//!
//! Between the check and the send the kernel may evict a page under memory pressure; that
//! send then waits for one read, as nginx's and lighttpd's always may.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// `__NR_cachestat`: 451 in the table shared by every architecture since Linux 5.1, except
/// the ones that offset it (alpha, mips), where the call is not attempted.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "loongarch64"
))]
const SYS_CACHESTAT: Option<libc::c_long> = Some(451);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "loongarch64"
)))]
const SYS_CACHESTAT: Option<libc::c_long> = None;

/// `struct cachestat_range` (include/uapi/linux/mman.h): a byte range; a length of 0
/// would mean "to the end of the file".
#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

/// `struct cachestat`: page counts for the range.
#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Set once the kernel has refused the call: it will refuse it again.
static REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether every page holding bytes `offset .. offset + len` of `file` is in the page cache
/// now. `false` when it cannot be told. An empty range is cached.
pub fn is_cached(file: &File, offset: u64, len: u64) -> bool {
    if len == 0 {
        return true;
    }
    let Some(pages) = pages_spanned(offset, len, page_size()) else {
        return false;
    };
    match cached_pages(file, offset, len) {
        Some(cached) => cached >= pages,
        None => false,
    }
}

/// Whether the kernel answers `cachestat` (it has answered, or has not yet refused).
pub fn is_supported() -> bool {
    SYS_CACHESTAT.is_some() && !REFUSED.load(Ordering::Relaxed)
}

/// The pages of `offset .. offset + len` (`len` > 0) at `page` bytes each; `None` when
/// the range passes the end of the address space.
fn pages_spanned(offset: u64, len: u64, page: u64) -> Option<u64> {
    let last = offset.checked_add(len - 1)?;
    Some(last / page - offset / page + 1)
}

/// The system's page size, asked once.
fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|size| u64::try_from(size).ok())
            .filter(|&size| size > 0)
            .unwrap_or(4096)
    })
}

/// `cachestat(2)` on the range: its cached pages, or `None` if the call failed.
fn cached_pages(file: &File, offset: u64, len: u64) -> Option<u64> {
    let number = SYS_CACHESTAT?;
    if REFUSED.load(Ordering::Relaxed) {
        return None;
    }
    let range = CachestatRange { off: offset, len };
    let mut stat = Cachestat::default();
    // SAFETY: the descriptor is open for the call's duration (borrowed from `file`); the
    // kernel reads `range` and writes `stat`, both live, properly aligned `repr(C)` structs
    // of the layout it expects; `flags` must be 0. Nothing is retained after the call.
    let rc = unsafe {
        libc::syscall(
            number,
            file.as_raw_fd(),
            &range as *const CachestatRange,
            &mut stat as *mut Cachestat,
            0 as libc::c_uint,
        )
    };
    if rc == 0 {
        return Some(stat.nr_cache);
    }
    let errno = nix::errno::Errno::last();
    if matches!(errno, nix::errno::Errno::ENOSYS | nix::errno::Errno::EPERM) {
        REFUSED.store(true, Ordering::Relaxed);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn pages_spanned_counts_every_page_the_range_touches() {
        assert_eq!(pages_spanned(0, 1, 4096), Some(1));
        assert_eq!(pages_spanned(0, 4096, 4096), Some(1));
        assert_eq!(pages_spanned(0, 4097, 4096), Some(2));
        assert_eq!(pages_spanned(4095, 2, 4096), Some(2));
        assert_eq!(pages_spanned(4096, 4096, 4096), Some(1));
        assert_eq!(pages_spanned(100, 1 << 20, 4096), Some(257));
        // Ranges the kernel would refuse as overflowing are never asked about.
        assert_eq!(pages_spanned(u64::MAX, 2, 4096), None);
        assert_eq!(pages_spanned(u64::MAX - 1, 2, 4096), Some(1));
    }

    /// A file just written is in memory; once its pages are dropped it is not, and reading
    /// part of it brings back that part only. Where the kernel has no `cachestat`, every
    /// answer is "not cached", so the caller always takes the blocking path.
    #[test]
    fn tells_cached_pages_from_evicted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut file = File::create(&path).unwrap();
        file.write_all(&vec![7u8; 1 << 20]).unwrap();
        file.sync_all().unwrap();
        let file = File::open(&path).unwrap();
        let fresh = is_cached(&file, 0, 1 << 20);
        if !is_supported() {
            assert!(!fresh, "an unsupported kernel must answer not cached");
            return;
        }
        assert!(fresh, "a file just written and synced is in the page cache");
        assert!(is_cached(&file, 12345, 0));
        // Dropping the clean pages is advice; tmpfs keeps them, so only a dropped range
        // is checked further.
        nix::fcntl::posix_fadvise(
            &file,
            0,
            0,
            nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
        )
        .unwrap();
        if is_cached(&file, 0, 1 << 20) {
            return;
        }
        let mut byte = [0u8; 1];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut byte, 0).unwrap();
        assert!(is_cached(&file, 0, 1), "the page just read is cached");
        assert!(
            !is_cached(&file, (1 << 20) - 4096, 4096),
            "the last page was dropped"
        );
    }
}
