//! What the static responder remembers between requests, and for how long.
//!
//! Three bounded maps ([`ClockMap`]: sharded read-write locks, CLOCK eviction):
//! - **answers**, by decoded request path: a regular file (not a negotiated variant) with its
//!   precomputed headers, its bytes when at most [`CACHED_FILE_MAX`], and the identity seen
//!   (device, inode, length, mtime, ctime, path); or a directory listing (the entries read,
//!   and up to [`MAX_RENDERS`] renderings by format and sort). A directory's index is cached
//!   under the directory's path (`/docs/` holds `docs/index.html`).
//! - **misses**, by decoded request path: a 404 with its suggestions, and its bodies,
//!   rendered once per format asked for (`Problem::remembered`).
//! - **names**, by directory: the names in it, for suggestions and variants, so a flood of
//!   404s in one directory reads it once.
//!
//! # Staleness bound
//! An entry validated less than [`REVALIDATE_AFTER`] (1 s; `StaticOptions::revalidate_after`)
//! ago is answered from memory with no syscall and no blocking-pool hop: preconditions and
//! ranges run on the cached headers and bytes (`Bytes` slices, no copy). So **a changed,
//! created, deleted or re-permissioned file is served stale for at most 1 s**. An older entry
//! is revalidated by the normal resolution (the full sandboxed walk, on the blocking pool,
//! with the cached identity passed in): if it ends at the same file unchanged, its bytes are
//! not read again and the entry is just marked valid; otherwise the new answer replaces it.
//! A large file's hit within the interval skips the walk but still opens the file by its
//! resolved path and checks its identity (device, inode, length, mtime, ctime) before
//! streaming it: a large file changed in place or replaced is seen at once. The open runs on
//! the runtime thread when the kernel can do it from memory (`resolve::reopen_cached`), else
//! on the blocking pool.
//!
//! A file whose bytes are cached but which goes out with `sendfile` (over 32 KiB, to an
//! HTTP/1.x client) is opened once and kept open by its entry ([`KeptFile`], at most
//! [`MAX_KEPT_FILES`] at a time). Each answer checks the open file's identity with one
//! `statx`, so a change in place is seen at once, and so is a file deleted or renamed over
//! (unlinking it moves its ctime). Only a change of what the path leads to that leaves the
//! file itself alone (a symlink or directory swapped) waits for the entry's revalidation,
//! within the bound above, as when the cached bytes are sent. Whether its pages are in
//! memory (so `sendfile` cannot wait for the disk) is asked once a second, not per answer
//! ([`OpenFile`]).
//! Opening it by its path for every answer had cost a tenth of the server's time in row c of
//! `bench/compare.sh` (`openat2` 7%, `close` 2.5%, in `perf`).
//!
//! One check at a time per entry: the first request to find an entry stale checks it (a
//! [`CheckClaim`]); requests for the same path meanwhile wait for that check's outcome
//! ([`Cache::await_check`]), up to [`CHECK_WAIT`], rather than each running the same walk
//! on a blocking thread of its own. Under 64 busy keep-alive connections to one file, every
//! second's expiry used to start up to 64 walks at once, and the blocking pool grew to about
//! 50 threads to run them. The bound above is unchanged: a waiter answers from what the check
//! found, which is no older than its own walk would have been.
//!
//! A directory's name list is revalidated by its mtime (creating, deleting or renaming an
//! entry changes it), unless the list was read within [`RACY_MARGIN`] of that mtime: a
//! change in the same timestamp tick would leave the mtime equal, so such a list is re-read.
//! Listings are not trusted on the directory mtime alone (an entry's size and time, which a
//! listing shows, change without it): after the interval they are read again, and kept with
//! their renderings when nothing differs.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use std::os::unix::fs::MetadataExt;
use tokio::sync::Notify;

use super::clockmap::ClockMap;
use super::listing::{ListingData, Rendered, View};
use super::reply::FileMeta;
use crate::body::open_file::OpenFile;
use crate::problem::Problem;

/// Longest a request waits for another's check of the entry it wants; past it, it checks
/// for itself (a filesystem that hangs must not hold every request for the path).
pub(super) const CHECK_WAIT: Duration = Duration::from_secs(1);

/// Files up to this size (128 KiB) are kept in memory whole: the typical page, script,
/// stylesheet and icon; larger files are streamed, and only their metadata is cached.
pub const CACHED_FILE_MAX: u64 = 128 * 1024;

/// How long an answer is served from memory before the filesystem is asked again (1 s): a
/// change on disk is seen at most this late. `StaticOptions::revalidate_after` overrides it.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// Bytes held by the answers map, at most (64 MiB): cached bodies, headers and listings.
pub const MAX_CACHED_BYTES: usize = 64 * 1024 * 1024;

/// Files kept open by cache entries at once, at most: each holds a descriptor, and the
/// process's limit is shared with connections. Beyond it, answers open the file each time.
pub(super) const MAX_KEPT_FILES: usize = 1024;

/// Paths in the answers map, at most (16 384).
const MAX_ANSWERS: usize = 16 * 1024;

/// Cached 404s, at most (4 096), and their bytes with their rendered bodies (12 MiB): a
/// flood of random paths only churns this map, it cannot grow memory.
const MAX_MISSES: usize = 4096;
const MAX_MISS_BYTES: usize = 12 * 1024 * 1024;

/// Directory name lists, at most (1 024), and their bytes (8 MiB).
const MAX_NAME_LISTS: usize = 1024;
const MAX_NAME_BYTES: usize = 8 * 1024 * 1024;

/// Names kept per directory (10 001): one more than suggestions and variants scan, so they
/// can tell a directory too big to scan from one that fits.
pub(super) const MAX_NAMES: usize = 10_001;

/// A name list read less than this (1 s) after its directory's mtime is re-read next time:
/// another change within the same timestamp tick would not move the mtime.
const RACY_MARGIN: Duration = Duration::from_secs(1);

/// Renderings kept per cached listing (4): a page is mostly fetched in one format and order.
pub(super) const MAX_RENDERS: usize = 4;

/// Fixed cost counted per entry, besides its bytes: key, headers, bookkeeping.
const ENTRY_OVERHEAD: usize = 512;

/// What a file was when it was cached: any difference means it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    pub(super) dev: u64,
    pub(super) ino: u64,
    pub(super) len: u64,
    /// Modification time, full precision (the entity tag and Last-Modified come from it).
    pub(super) modified: SystemTime,
    /// Status change time (seconds, nanoseconds): moves on every write, even when a tool
    /// puts the mtime back (`touch -d`, `cp -p`), and cannot be set by users.
    pub(super) changed: (i64, i64),
    /// The resolved path (the target, for a symlink).
    pub(super) path: PathBuf,
}

impl Identity {
    /// The identity of the file at `path` whose metadata is `meta`.
    pub(super) fn of(meta: &Metadata, path: &Path) -> Self {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            changed: (meta.ctime(), meta.ctime_nsec()),
            path: path.to_path_buf(),
        }
    }

    /// Whether `stat` (of an open file, from `statx`) describes this same file, unchanged
    /// and still regular: the check of [`Identity::of`], from `statx`'s own fields.
    pub(super) fn matches(&self, stat: &rustix::fs::Statx) -> bool {
        let regular = rustix::fs::FileType::from_raw_mode(stat.stx_mode.into())
            == rustix::fs::FileType::RegularFile;
        let modified = system_time(stat.stx_mtime.tv_sec, stat.stx_mtime.tv_nsec);
        regular
            && rustix::fs::makedev(stat.stx_dev_major, stat.stx_dev_minor) == self.dev
            && stat.stx_ino == self.ino
            && stat.stx_size == self.len
            && modified == Some(self.modified)
            && (stat.stx_ctime.tv_sec, i64::from(stat.stx_ctime.tv_nsec)) == self.changed
    }
}

/// The time `seconds` and `nanos` after the Unix epoch (seconds may be negative), as
/// `std` builds it from the same fields; `None` if it does not fit.
fn system_time(seconds: i64, nanos: u32) -> Option<SystemTime> {
    let whole = Duration::from_secs(seconds.unsigned_abs());
    let base = if seconds >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(whole)?
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(whole)?
    };
    base.checked_add(Duration::from_nanos(nanos.into()))
}

/// A cached regular file.
pub(super) struct HotFile {
    pub(super) identity: Identity,
    /// Headers, computed once.
    pub(super) meta: FileMeta,
    /// The media type Accept is matched against (406).
    pub(super) media_type: &'static str,
    /// The whole content, for files of at most [`CACHED_FILE_MAX`].
    pub(super) body: Option<Bytes>,
    /// The file, open, once an answer has sent it from the file (see the module notes).
    pub(super) kept: OnceLock<KeptFile>,
}

/// An open file kept by a cache entry, counted against [`MAX_KEPT_FILES`] while it lives.
pub(super) struct KeptFile {
    pub(super) file: Arc<OpenFile>,
    count: Arc<AtomicUsize>,
}

impl Drop for KeptFile {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A cached file's entry can tell whether the file it keeps open is still the one it
/// describes: the check each answer sent from it makes (see the module notes), made again
/// by each repeat of such an answer (`Prepared::wrap_until`).
impl crate::body::prepared::SameFile for Cached<Answer> {
    fn if_unchanged(&self) -> Option<&Arc<OpenFile>> {
        let Answer::File(file) = &self.value else {
            return None;
        };
        let kept = file.kept.get()?;
        super::resolve::is_unchanged(kept.file.file(), &file.identity).then_some(&kept.file)
    }

    fn bytes(&self) -> Option<&Bytes> {
        match &self.value {
            Answer::File(file) => file.body.as_ref(),
            _ => None,
        }
    }
}

/// A cached listing: the entries read, and renderings by view.
pub(super) struct HotListing {
    pub(super) data: Arc<ListingData>,
    renders: Mutex<Vec<(View, Rendered)>>,
    /// Largest rendering kept, in bytes (its share of the entry's weight).
    render_budget: usize,
}

impl HotListing {
    /// The rendering for `view`, if kept.
    pub(super) fn rendered(&self, view: View) -> Option<Rendered> {
        let renders = self.renders.lock().unwrap_or_else(PoisonError::into_inner);
        renders
            .iter()
            .find(|(v, _)| *v == view)
            .map(|(_, r)| r.clone())
    }

    /// Keep `rendered` for `view`, dropping the oldest beyond [`MAX_RENDERS`]; a rendering
    /// over the budget counted for this entry is not kept.
    pub(super) fn keep(&self, view: View, rendered: &Rendered) {
        if rendered.body.len() > self.render_budget {
            return;
        }
        let mut renders = self.renders.lock().unwrap_or_else(PoisonError::into_inner);
        if renders.iter().any(|(v, _)| *v == view) {
            return;
        }
        if renders.len() == MAX_RENDERS {
            renders.remove(0);
        }
        renders.push((view, rendered.clone()));
    }
}

/// A cached answer for a request path.
pub(super) enum Answer {
    /// Boxed: a file's headers and identity are ten times a listing's handle.
    File(Box<HotFile>),
    Listing(HotListing),
}

/// A cached value and when it was last known to match the filesystem.
pub(super) struct Cached<T> {
    pub(super) value: T,
    /// [`Cache::now`] at the last validation.
    validated: AtomicU64,
    /// Whether a request is checking this entry against the filesystem (see [`CheckClaim`]).
    checking: AtomicBool,
}

impl<T> Cached<T> {
    fn new(value: T, now: u64) -> Arc<Self> {
        Arc::new(Cached {
            value,
            validated: AtomicU64::new(now),
            checking: AtomicBool::new(false),
        })
    }
}

/// The right to check a stale entry against the filesystem, held by one request at a time.
/// Dropping it, once the outcome is in the cache (or the request gave up), wakes the requests
/// waiting in [`Cache::await_check`].
pub(super) struct CheckClaim<'a> {
    cache: &'a Cache,
    checking: &'a AtomicBool,
}

impl Drop for CheckClaim<'_> {
    fn drop(&mut self) {
        self.checking.store(false, Ordering::Release);
        self.cache.checked.notify_waiters();
    }
}

/// What a request that found an entry stale does next (see [`Cache::turn`]).
pub(super) enum Turn<'a> {
    /// Check the entry against the filesystem: holding the claim, or without it once the
    /// request has waited its turn (another check again, or one that overran the wait).
    Check(Option<CheckClaim<'a>>),
    /// Another request's check ended (or the wait did): look the entry up again.
    LookAgain,
}

/// The names in a directory, and what the directory was when they were read.
pub(super) struct DirNames {
    /// UTF-8 names, in directory order; at most [`MAX_NAMES`] entries were read.
    pub(super) names: Vec<String>,
    /// Whether the directory had more than [`MAX_NAMES`] entries.
    pub(super) more: bool,
    dev: u64,
    ino: u64,
    modified: SystemTime,
    read_at: SystemTime,
}

/// The static responder's caches; see the module docs.
pub(super) struct Cache {
    epoch: Instant,
    interval: Duration,
    /// Added to the clock: lets tests age entries without sleeping.
    skew: AtomicU64,
    answers: ClockMap<Arc<Cached<Answer>>>,
    misses: ClockMap<Arc<Cached<Problem>>>,
    names: ClockMap<Arc<DirNames>>,
    /// Woken whenever a check ends (see [`CheckClaim`]).
    checked: Notify,
    /// Resolutions run (cache misses and checks), for tests to count.
    walks: AtomicU64,
    /// Files kept open by entries (see [`KeptFile`]).
    kept: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("interval", &self.interval)
            .field("answers", &self.answers.len())
            .field("misses", &self.misses.len())
            .field("names", &self.names.len())
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// `file`, opened for an answer from `hot`, shared with `hot` for its later answers
    /// unless [`MAX_KEPT_FILES`] are kept already (or another answer kept its own first).
    pub(super) fn keep_open(&self, hot: &HotFile, file: fs::File) -> Arc<OpenFile> {
        let file = Arc::new(OpenFile::kept(file, hot.meta.len));
        if self.kept.fetch_add(1, Ordering::Relaxed) >= MAX_KEPT_FILES {
            self.kept.fetch_sub(1, Ordering::Relaxed);
            return file;
        }
        // Counted from here: dropped (if another answer was first), it is uncounted.
        let kept = KeptFile {
            file: Arc::clone(&file),
            count: Arc::clone(&self.kept),
        };
        let _ = hot.kept.set(kept);
        file
    }

    /// Files kept open by entries now.
    #[cfg(test)]
    pub(super) fn kept_files(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }

    /// Empty caches whose entries are trusted for `interval` after each validation.
    pub(super) fn new(interval: Duration) -> Self {
        Cache {
            epoch: Instant::now(),
            interval,
            skew: AtomicU64::new(0),
            answers: ClockMap::new(MAX_CACHED_BYTES, MAX_ANSWERS),
            misses: ClockMap::new(MAX_MISS_BYTES, MAX_MISSES),
            names: ClockMap::new(MAX_NAME_BYTES, MAX_NAME_LISTS),
            checked: Notify::new(),
            walks: AtomicU64::new(0),
            kept: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Nanoseconds on a monotonic clock (`Instant`, read through the vDSO: no syscall).
    pub(super) fn now(&self) -> u64 {
        let elapsed = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        elapsed.saturating_add(self.skew.load(Ordering::Relaxed))
    }

    /// Move the clock forward by `by` (tests: age every entry without sleeping).
    #[cfg(test)]
    pub(super) fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.skew.fetch_add(by, Ordering::Relaxed);
    }

    /// Whether `cached` was validated less than the interval before `now`.
    pub(super) fn is_fresh<T>(&self, cached: &Cached<T>, now: u64) -> bool {
        let age = now.saturating_sub(cached.validated.load(Ordering::Relaxed));
        u128::from(age) < self.interval.as_nanos()
    }

    /// Until when `cached` stays fresh unless validated again: the instant its answers may be
    /// repeated until (see `Prepared::wrap_until`); `None` with no interval. From the clock's
    /// own terms ([`now`](Self::now) is `epoch.elapsed()` plus the skew), without reading it.
    pub(super) fn fresh_until<T>(&self, cached: &Cached<T>) -> Option<Instant> {
        if self.interval.is_zero() {
            return None;
        }
        let interval = u64::try_from(self.interval.as_nanos()).ok()?;
        let until = cached
            .validated
            .load(Ordering::Relaxed)
            .checked_add(interval)?;
        let since_epoch = until.checked_sub(self.skew.load(Ordering::Relaxed))?;
        self.epoch.checked_add(Duration::from_nanos(since_epoch))
    }

    /// Count one resolution (a walk of the filesystem for a request).
    pub(super) fn count_walk(&self) {
        self.walks.fetch_add(1, Ordering::Relaxed);
    }

    /// Resolutions run so far.
    #[cfg(test)]
    pub(super) fn walks(&self) -> u64 {
        self.walks.load(Ordering::Relaxed)
    }

    /// Whether this request checks the stale `cached` or waits for another's check, once:
    /// `waited` is set after that wait, and a request that has waited checks.
    pub(super) async fn turn<'a, T>(
        &'a self,
        cached: &'a Cached<T>,
        waited: &mut bool,
    ) -> Turn<'a> {
        if let Some(claim) = self.claim_check(cached) {
            return Turn::Check(Some(claim));
        }
        if *waited {
            return Turn::Check(None);
        }
        *waited = true;
        self.await_check(cached).await;
        Turn::LookAgain
    }

    /// The right to check the stale `cached`, unless another request holds it.
    fn claim_check<'a, T>(&'a self, cached: &'a Cached<T>) -> Option<CheckClaim<'a>> {
        let checking = &cached.checking;
        checking
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(CheckClaim {
            cache: self,
            checking,
        })
    }

    /// Wait until no request is checking `cached`, or [`CHECK_WAIT`] has passed.
    async fn await_check<T>(&self, cached: &Cached<T>) {
        let deadline = tokio::time::Instant::now() + CHECK_WAIT;
        loop {
            // Listening before looking: a check that ends in between still wakes this.
            let mut ended = pin!(self.checked.notified());
            ended.as_mut().enable();
            if !cached.checking.load(Ordering::Acquire) {
                return;
            }
            // Any check's end wakes every waiter: look again.
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return;
            }
        }
    }

    /// Mark `cached` as matching the filesystem at `now`.
    pub(super) fn validated<T>(&self, cached: &Cached<T>, now: u64) {
        cached.validated.fetch_max(now, Ordering::Relaxed);
    }

    /// The cached answer for `key`, fresh or not.
    pub(super) fn answer(&self, key: &str) -> Option<Arc<Cached<Answer>>> {
        self.answers.get(key)
    }

    /// The cached 404 for `key`, fresh or not.
    pub(super) fn miss(&self, key: &str) -> Option<Arc<Cached<Problem>>> {
        self.misses.get(key)
    }

    /// Cache `file` as the answer for `key`, validated at `now`.
    pub(super) fn put_file(&self, key: &str, file: HotFile, now: u64) -> Arc<Cached<Answer>> {
        let weight = ENTRY_OVERHEAD
            + key.len()
            + file.meta.fields_weight()
            + file.body.as_ref().map_or(0, Bytes::len);
        self.put_answer(key, Answer::File(Box::new(file)), weight, now)
    }

    /// Cache `data` (rendered as `view` for this request) as the answer for `key`.
    pub(super) fn put_listing(
        &self,
        key: &str,
        data: Arc<ListingData>,
        view: View,
        rendered: &Rendered,
        now: u64,
    ) -> Arc<Cached<Answer>> {
        let render_budget = data.render_estimate().max(rendered.body.len());
        let weight = ENTRY_OVERHEAD + key.len() + data.weight() + MAX_RENDERS * render_budget;
        let listing = HotListing {
            data,
            renders: Mutex::new(Vec::with_capacity(MAX_RENDERS)),
            render_budget,
        };
        listing.keep(view, rendered);
        self.put_answer(key, Answer::Listing(listing), weight, now)
    }

    fn put_answer(
        &self,
        key: &str,
        answer: Answer,
        weight: usize,
        now: u64,
    ) -> Arc<Cached<Answer>> {
        let cached = Cached::new(answer, now);
        self.misses.remove(key);
        self.answers
            .insert(key.to_owned(), Arc::clone(&cached), weight);
        cached
    }

    /// Cache the 404 `problem` for `key`.
    pub(super) fn put_miss(&self, key: &str, problem: &Problem, now: u64) {
        // Its bodies are rendered once per format asked for and kept (`remembered`): the
        // HTML page is about 1.6 KiB, the others a few hundred bytes, with the fields.
        let fields =
            problem.detail.len() + problem.suggestions.iter().map(String::len).sum::<usize>();
        let weight = ENTRY_OVERHEAD + key.len() + 2 * 1024 + 4 * fields;
        self.answers.remove(key);
        self.misses.insert(
            key.to_owned(),
            Cached::new(problem.clone().remembered(), now),
            weight,
        );
    }

    /// Drop whatever is cached for `key` (its answer is not cacheable now).
    pub(super) fn forget(&self, key: &str) {
        self.answers.remove(key);
        self.misses.remove(key);
    }

    /// The names in `dir`, from the cache when its mtime says they are current. Blocking.
    /// `None` when the directory cannot be read.
    pub(super) fn dir_names(&self, dir: &Path) -> Option<Arc<DirNames>> {
        let meta = fs::metadata(dir).ok()?;
        let modified = meta.modified().ok()?;
        // Lossy for a non-UTF-8 path: two such directories may share a key, but a list is
        // only used when the device and inode match too, so they just evict each other.
        let key = dir.to_string_lossy();
        if let Some(names) = self.names.get(&key) {
            let current = names.dev == meta.dev()
                && names.ino == meta.ino()
                && names.modified == modified
                && names
                    .read_at
                    .duration_since(modified)
                    .is_ok_and(|d| d >= RACY_MARGIN);
            if current {
                return Some(names);
            }
        }
        let read_at = SystemTime::now();
        let mut names = Vec::new();
        let mut more = false;
        for (seen, dirent) in fs::read_dir(dir).ok()?.enumerate() {
            if seen == MAX_NAMES {
                more = true;
                break;
            }
            let Ok(dirent) = dirent else { continue };
            if let Ok(name) = dirent.file_name().into_string() {
                names.push(name);
            }
        }
        let weight = ENTRY_OVERHEAD + key.len() + names.iter().map(|n| n.len() + 32).sum::<usize>();
        let names = Arc::new(DirNames {
            names,
            more,
            dev: meta.dev(),
            ino: meta.ino(),
            modified,
            read_at,
        });
        self.names
            .insert(key.into_owned(), Arc::clone(&names), weight);
        Some(names)
    }

    /// Bytes held by the answers map (tests).
    #[cfg(test)]
    pub(super) fn answer_bytes(&self) -> usize {
        self.answers.bytes()
    }

    /// Entries in the misses map (tests).
    #[cfg(test)]
    pub(super) fn miss_count(&self) -> usize {
        self.misses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{AtFlags, StatxFlags};

    fn statx(file: &fs::File) -> rustix::fs::Statx {
        rustix::fs::statx(file, "", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS).unwrap()
    }

    /// The identity read from `statx` (the runtime's reopen) equals the one `std` reads (the
    /// walk), for modification times after, at and before the epoch, with nanoseconds.
    #[test]
    fn statx_and_std_agree_on_an_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        let epoch = SystemTime::UNIX_EPOCH;
        let times = [
            None,
            Some(epoch),
            Some(epoch + Duration::new(0, 250_000_000)),
            Some(epoch - Duration::new(1, 500_000_000)),
            Some(epoch + Duration::new(1_700_000_000, 123_456_789)),
        ];
        for time in times {
            let file = fs::File::options().write(true).open(&path).unwrap();
            if let Some(time) = time {
                file.set_modified(time).unwrap();
            }
            let identity = Identity::of(&file.metadata().unwrap(), &path);
            assert!(identity.matches(&statx(&file)), "{time:?}");
        }
    }

    /// Any change of length, modification time or status change time is a different file.
    #[test]
    fn a_changed_file_no_longer_matches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        let identity = Identity::of(&file.metadata().unwrap(), &path);
        let other = Identity {
            len: identity.len + 1,
            ..identity.clone()
        };
        assert!(!other.matches(&statx(&file)));
        let other = Identity {
            changed: (identity.changed.0, identity.changed.1 + 1),
            ..identity.clone()
        };
        assert!(!other.matches(&statx(&file)));
        let other = Identity {
            ino: identity.ino + 1,
            ..identity.clone()
        };
        assert!(!other.matches(&statx(&file)));
        file.set_modified(identity.modified + Duration::from_nanos(1))
            .unwrap();
        assert!(!identity.matches(&statx(&file)));
    }
}
