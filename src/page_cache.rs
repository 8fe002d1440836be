//! Whether a file's bytes are in the page cache, so `sendfile` can run on a runtime thread.
//!
//! `sendfile` blocks while it reads pages that are not in memory, and nothing makes it fail
//! instead: `O_NONBLOCK` on the file and `SPLICE_F_NONBLOCK` are ignored for file reads, and
//! `RWF_NOWAIT` exists only for `preadv2`, which copies. Two ways to ask, neither touching the
//! pages:
//! - `cachestat(2)` (Linux 6.5): one call counts the cached pages of a range;
//! - `mincore(2)` on a mapping of the range, never read: three calls (`mmap`, `mincore`,
//!   `munmap`), on every kernel. It is asked when `cachestat` is missing (Linux before 6.5:
//!   Debian 12, Ubuntu 22.04) or finds the range not whole, because `cachestat` sees
//!   nothing cached in a file on overlayfs (a container image's files: the pages belong to
//!   the file underneath), where a mapping is of the file underneath.
//!
//! A range found whole is sent inline, any other goes to the blocking pool, as everything did
//! before (issue 3: a cached 1 MiB file sent through the pool answered half the rate of
//! lighttpd, `bench/compare.sh` row n).
//!
//! Neither answers for every file. For a file the process neither owns nor may write (a web
//! root owned by root, served as `www-data`), Linux refuses `cachestat` (`EPERM`) and makes
//! `mincore` report every page resident; so `mincore` is believed only for the file's owner
//! or root, on a local filesystem (mapping a file on NFS, SMB or FUSE may ask the server).
//! Any other file goes to the blocking pool, as before.
//!
//! No safe wrapper offers either (libc has no number for `cachestat` on x86_64, nix and
//! rustix neither function, and mapping a file is `unsafe` in every crate), so this is the one
//! module of the library allowed `unsafe`: four system calls and two plain structs. Where
//! the kernel lacks `cachestat` (`ENOSYS`) that is remembered; where neither way can tell,
//! the answer is "not cached".
//!
//! Between the check and the send the kernel may evict a page under memory pressure; that
//! send then waits for one read, as nginx's and lighttpd's always may. On NFS, `sendfile` may
//! also revalidate the file's attributes with the server first.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// `__NR_cachestat`: 451 in the table shared by every architecture since Linux 5.1, except
/// the ones that offset it (alpha, mips); the call is attempted on those listed only.
const SYS_CACHESTAT: Option<libc::c_long> = if cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "loongarch64"
)) {
    Some(451)
} else {
    None
};

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
        Some(cached) if cached >= pages => true,
        _ => {
            mincore_tells_truth(file)
                && mapped_pages_cached(file, offset, len, page_size()).unwrap_or(false)
        }
    }
}

/// Whether `mincore` on a mapping of `file` reports what is cached, and mapping it cannot
/// wait. Since Linux 5.0, for a file the process neither owns nor may write, `mincore`
/// reports **every page resident** (to close a side channel on shared libraries); and on a
/// network filesystem (NFS, SMB, FUSE) mapping a file may ask the server first.
fn mincore_tells_truth(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(fs) = nix::sys::statfs::fstatfs(file) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    let euid = nix::unistd::geteuid().as_raw();
    mincore_tells_truth_for(fs.filesystem_type(), meta.uid(), euid)
}

/// [`mincore_tells_truth`] for a file on a filesystem of type `fs`, owned by `owner`, asked
/// by a process of effective user `euid`: the owner, or root (`CAP_FOWNER`), on a local
/// filesystem. Write permission through a group would do too; not checked, so such a file
/// goes to the blocking pool.
fn mincore_tells_truth_for(fs: nix::sys::statfs::FsType, owner: u32, euid: u32) -> bool {
    use nix::sys::statfs::{FUSE_SUPER_MAGIC, NFS_SUPER_MAGIC};
    // SMB (cifs, smb3); nix names neither.
    const CIFS_MAGIC: i64 = 0xFF53_4D42;
    const SMB2_MAGIC: i64 = 0xFE53_4D42;
    // `fs_type_t` is i64 here, i32 on some 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let magic = i64::from(fs.0);
    let remote = fs == NFS_SUPER_MAGIC
        || fs == FUSE_SUPER_MAGIC
        || magic == CIFS_MAGIC
        || magic == SMB2_MAGIC;
    !remote && (owner == euid || euid == 0)
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
pub fn page_size() -> u64 {
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
    // Only a missing call is remembered: EPERM is per file (Linux refuses `cachestat` on a
    // file the process neither owns nor may write), or a sandbox's, which costs one call.
    if nix::errno::Errno::last() == nix::errno::Errno::ENOSYS {
        REFUSED.store(true, Ordering::Relaxed);
    }
    None
}

/// `mincore(2)` over a read-only mapping of the pages holding `offset .. offset + len`, a
/// range of at least one byte: whether each is in memory; `None` if it cannot be mapped. The mapping is
/// never read, so no page is brought in, and it is gone before this returns.
fn mapped_pages_cached(file: &File, offset: u64, len: u64, page: u64) -> Option<bool> {
    let start = offset / page * page;
    let span = usize::try_from(offset.checked_add(len)?.checked_sub(start)?).ok()?;
    let pages = span.div_ceil(usize::try_from(page).ok()?);
    let at = libc::off_t::try_from(start).ok()?;
    let mut resident = vec![0u8; pages];
    // SAFETY: a new private read-only mapping chosen by the kernel (address null), which
    // overlaps nothing of ours; it is never dereferenced, only described by `mincore`, which
    // writes one byte per page of it into `resident` (exactly `pages` long), and unmapped
    // with the length it was made with. A file shorter than the range is fine: pages past its
    // end are mapped but not touched, and `mincore` reports them.
    unsafe {
        let mapped = libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            at,
        );
        if mapped == libc::MAP_FAILED {
            return None;
        }
        let rc = libc::mincore(mapped, span, resident.as_mut_ptr());
        libc::munmap(mapped, span);
        if rc != 0 {
            return None;
        }
    }
    // Bit 0 of each byte: the page is resident (the other bits are reserved).
    Some(resident.iter().all(|byte| byte & 1 == 1))
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

    /// A 1 MiB file, written and synced, open for reading (in `dir`).
    fn synced_file(dir: &tempfile::TempDir) -> File {
        let path = dir.path().join("f");
        let mut file = File::create(&path).unwrap();
        file.write_all(&vec![7u8; 1 << 20]).unwrap();
        file.sync_all().unwrap();
        File::open(&path).unwrap()
    }

    /// Ask the kernel to drop the file's clean pages; `false` where it keeps them (tmpfs),
    /// and only a dropped file can be checked further.
    fn dropped(file: &File) -> bool {
        let drop_pages = nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED;
        nix::fcntl::posix_fadvise(file, 0, 0, drop_pages).unwrap();
        mapped_pages_cached(file, 0, 1 << 20, page_size()) == Some(false)
    }

    /// A file just written is in memory; once its pages are dropped it is not, and reading
    /// part of it brings back that part only: whichever way the kernel answers. Where it
    /// has `cachestat`, that count agrees.
    #[test]
    fn tells_cached_pages_from_evicted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = synced_file(&dir);
        assert!(
            is_cached(&file, 0, 1 << 20),
            "a file just written is cached"
        );
        assert!(is_cached(&file, 12345, 0));
        if is_supported() {
            assert_eq!(
                cached_pages(&file, 0, 1 << 20),
                Some((1 << 20) / page_size())
            );
        }
        if !dropped(&file) {
            return;
        }
        assert!(!is_cached(&file, 0, 1 << 20));
        let mut byte = [0u8; 1];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut byte, 0).unwrap();
        assert!(is_cached(&file, 0, 1), "the page just read is cached");
        let last = (1 << 20) - page_size();
        assert!(!is_cached(&file, last, 4096), "the last page was dropped");
        if is_supported() {
            assert_eq!(cached_pages(&file, last, 4096), Some(0));
        }
    }

    /// `mincore` is believed for the owner and for root, on a local filesystem only: for
    /// anyone else Linux reports every page of the file resident, and mapping a file on a
    /// network filesystem may wait for the server.
    #[test]
    fn mincore_is_believed_only_where_it_tells_the_truth() {
        use nix::sys::statfs::{EXT4_SUPER_MAGIC, FUSE_SUPER_MAGIC, NFS_SUPER_MAGIC};
        use nix::sys::statfs::{FsType, TMPFS_MAGIC, XFS_SUPER_MAGIC};
        for local in [EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC, TMPFS_MAGIC] {
            assert!(mincore_tells_truth_for(local, 1000, 1000), "the owner");
            assert!(mincore_tells_truth_for(local, 0, 0), "root's own file");
            assert!(mincore_tells_truth_for(local, 1000, 0), "root");
            assert!(
                !mincore_tells_truth_for(local, 0, 33),
                "www-data serving root's file"
            );
            assert!(
                !mincore_tells_truth_for(local, 1000, 1001),
                "another user's file"
            );
        }
        let smb = [FsType(0xFF53_4D42), FsType(0xFE53_4D42)];
        for remote in [NFS_SUPER_MAGIC, FUSE_SUPER_MAGIC].into_iter().chain(smb) {
            assert!(!mincore_tells_truth_for(remote, 1000, 1000));
            assert!(!mincore_tells_truth_for(remote, 0, 0));
        }
        // This test's own file, on a local disk.
        let dir = tempfile::tempdir().unwrap();
        let file = synced_file(&dir);
        let fs = nix::sys::statfs::fstatfs(&file).unwrap().filesystem_type();
        if !smb.contains(&fs) && fs != NFS_SUPER_MAGIC && fs != FUSE_SUPER_MAGIC {
            assert!(mincore_tells_truth(&file));
        }
    }

    /// The `mincore` way alone (the one old kernels and overlayfs get) tells the same: a
    /// range not starting on a page boundary covers every page it touches, pages past the
    /// end are not resident, and asking brings no page in.
    #[test]
    fn a_mapping_tells_cached_pages_from_evicted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = synced_file(&dir);
        let page = page_size();
        assert_eq!(mapped_pages_cached(&file, 0, 1 << 20, page), Some(true));
        assert_eq!(mapped_pages_cached(&file, 100, 5000, page), Some(true));
        // Past the end of the file: mapped, never touched, not resident.
        assert_eq!(mapped_pages_cached(&file, 1 << 20, 8192, page), Some(false));
        if !dropped(&file) {
            return;
        }
        let mut byte = [0u8; 1];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut byte, 0).unwrap();
        assert_eq!(mapped_pages_cached(&file, 0, 1, page), Some(true));
        let last = (1 << 20) - page;
        assert_eq!(mapped_pages_cached(&file, last - 1, 2, page), Some(false));
        // Asking did not bring the pages in.
        assert_eq!(mapped_pages_cached(&file, last, page, page), Some(false));
    }
}
