//! Resolve a normalised request path to what answers it, enforcing the sandbox.
//!
//! Runs on a blocking thread (one `spawn_blocking` per request, not one per syscall). The path
//! is walked one segment at a time from the canonical root with `lstat`, so every component is
//! checked before it is used:
//! - a dot-name is missing unless `show_hidden` (`.well-known` is allowed as a directory);
//! - a symlink is resolved with `canonicalize`; a target outside the root (unless
//!   `follow_symlinks`), under a hidden name, dangling or looping is missing, whatever the
//!   reason, so a probe cannot tell an existing outside target from an absent one;
//! - anything but a regular file or a directory (fifo, socket, device) is missing and is never
//!   opened (opening a fifo would block);
//! - the file is opened with `O_NONBLOCK` and the handle is checked against what the walk saw
//!   (same device and inode, still a regular file); if it was swapped in between, the walk is
//!   retried.
//!
//! Residual race: a directory in the middle of the path replaced by a symlink between its
//! `lstat` and the final `open` is followed. Exploiting it needs write access inside the root
//! (which already controls what is served); closing it needs `openat2(RESOLVE_BENEATH)`.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderValue, header};

use super::cache::{CACHED_FILE_MAX, Cache, Identity};
use super::listing::{self, Listed};
use super::suggest::Suggestable;
use super::variants::{self, Choice, Negotiated, Variants};
use super::{StaticOptions, decoded_path, directory_location, suggest, wants_body};
use crate::http::accept;
use crate::http::accept::encoding::coding_quality;
use crate::http::header_list;
use crate::http::mime;
use crate::http::target::NormalPath;
use crate::problem::Problem;

/// Longest file name Linux and the BSDs accept (`NAME_MAX`, bytes); longer names are missing.
const NAME_MAX: usize = 255;

/// How many times resolution restarts when a file is replaced between check and open.
const ATTEMPTS: usize = 3;

/// The one hidden name that is always served, as a directory (RFC 8615).
pub(super) const WELL_KNOWN: &str = ".well-known";

/// What `resolve` needs from the request, owned so it can move to a blocking thread.
pub(super) struct Job {
    pub(super) opts: Arc<StaticOptions>,
    pub(super) path: NormalPath,
    pub(super) query: Option<String>,
    pub(super) accept: Option<HeaderValue>,
    pub(super) accept_language: Option<HeaderValue>,
    pub(super) accept_encoding: Option<HeaderValue>,
    /// GET: read a file of at most [`CACHED_FILE_MAX`] bytes whole (it is then cached, and
    /// a Range or a 304 is cut from memory). HEAD reads nothing: it only opens and fstats,
    /// so HEAD and GET agree on status and metadata.
    pub(super) read_small: bool,
    /// The file the cache holds for this path: if the walk ends at it unchanged, its bytes
    /// are not read again.
    pub(super) known: Option<Identity>,
    /// The caches (directory names for suggestions and variants).
    pub(super) cache: Arc<Cache>,
    /// Which paths a 404 may suggest (`None`: every path found).
    pub(super) suggestable: Option<Suggestable>,
}

impl Job {
    /// The parts of `req` that resolution needs.
    pub(super) fn new(
        opts: Arc<StaticOptions>,
        cache: Arc<Cache>,
        req: &Parts,
        path: &NormalPath,
        known: Option<Identity>,
    ) -> Self {
        let h = &req.headers;
        Job {
            opts,
            path: path.clone(),
            query: req.uri.query().map(str::to_owned),
            accept: header_list(h, &header::ACCEPT),
            accept_language: header_list(h, &header::ACCEPT_LANGUAGE),
            accept_encoding: header_list(h, &header::ACCEPT_ENCODING),
            read_small: wants_body(&req.method),
            known,
            cache,
            suggestable: None,
        }
    }

    /// The Accept header value, `None` when absent or empty.
    pub(super) fn accept(&self) -> Option<&[u8]> {
        self.accept.as_ref().map(HeaderValue::as_bytes)
    }

    /// The Accept-Language header value, `None` when absent or empty.
    pub(super) fn accept_language(&self) -> Option<&[u8]> {
        self.accept_language.as_ref().map(HeaderValue::as_bytes)
    }

    /// The request path, decoded, as problems show it.
    pub(super) fn decoded(&self) -> String {
        decoded_path(self.path.segments(), self.path.trailing_slash())
    }
}

/// What answers the request.
pub(super) enum Outcome {
    /// A regular file (possibly an index or a negotiated variant).
    File(Box<FileRep>),
    /// A directory listing: what was read, and its rendering for this request.
    Listing(Box<Listed>),
    /// 301 to this location (a directory named without its trailing slash).
    Redirect(HeaderValue),
    /// 404: nothing servable at the path (the same answer for a while, so it is cached).
    Missing(Box<Problem>),
    /// Any other error answer.
    Refused(Box<Problem>),
}

/// A file about to be served, with metadata from its open handle.
pub(super) struct FileRep {
    /// The open file; `None` for HEAD (closed once its metadata was taken).
    pub(super) file: Option<File>,
    /// The whole content, when small, wanted, and not already held by the cache.
    pub(super) small: Option<Bytes>,
    /// Device, inode, length, modification time and path of what was opened.
    pub(super) identity: Identity,
    /// The Content-Type.
    pub(super) content_type: HeaderValue,
    /// The media type that Accept is matched against (406).
    pub(super) media_type: &'static str,
    /// Headers from content negotiation, when the file is one of several variants.
    pub(super) negotiated: Option<Negotiated>,
}

/// A filesystem entry that passed the sandbox: a regular file or a directory.
pub(super) struct Entry {
    /// Where it is (the canonical target for a symlink).
    pub(super) path: PathBuf,
    /// Its metadata (of the target for a symlink).
    pub(super) meta: Metadata,
    /// Whether it was reached through a symlink.
    pub(super) linked: bool,
}

/// Why `lookup` found nothing to serve.
pub(super) enum Miss {
    /// Missing, hidden, escaping, special: all answered as missing.
    Absent,
    /// The server may not look (EACCES): 403.
    Denied,
    /// Anything else: 500, logged.
    Failed(io::Error),
}

/// The file was replaced between the walk and `open`: start again.
struct Raced;

/// Resolve `job` to its outcome. Blocking: call on the blocking pool.
pub(super) fn resolve(job: &Job) -> Outcome {
    for _ in 0..ATTEMPTS {
        if let Ok(outcome) = attempt(job) {
            return outcome;
        }
    }
    tracing::warn!(path = %job.decoded(), "file kept changing while it was opened");
    Outcome::Refused(Box::new(Problem::internal()))
}

fn attempt(job: &Job) -> Result<Outcome, Raced> {
    let opts = &*job.opts;
    let segments = job.path.segments();
    let entry = match walk(opts, segments) {
        Walk::Found(entry) => entry,
        Walk::Missing { at, parent } => return missing(job, at, parent),
        Walk::Denied => return Ok(forbidden(job, NOT_READABLE)),
        Walk::Failed(err, path) => return Ok(failed(job, &err, &path)),
    };
    if entry.meta.is_dir() {
        if !job.path.trailing_slash() && !segments.is_empty() {
            return Ok(redirect(job));
        }
        return directory(job, entry);
    }
    let Some(name) = segments.last() else {
        // The root is a directory; a file here means the root was replaced.
        return Ok(failed(
            job,
            &io::Error::other("root is not a directory"),
            &opts.root,
        ));
    };
    if job.path.trailing_slash() {
        // `/file.txt/`: a file is not a directory (ENOTDIR); point at the file.
        return Ok(not_found(job, vec![decoded_path(segments, false)]));
    }
    open_single(job, &entry, name)
}

/// 403 policy text for EACCES.
const NOT_READABLE: &str = "the file is not readable by the server";

/// The media type of a file whose name has no known extension.
const OCTET_STREAM: &str = "application/octet-stream";

/// A directory with its trailing slash: index file, index variants, listing, or 403.
fn directory(job: &Job, dir: Entry) -> Result<Outcome, Raced> {
    let opts = &*job.opts;
    for name in &opts.index_files {
        match lookup(opts, &dir.path, name) {
            Ok(entry) if entry.meta.is_file() => return open_single(job, &entry, name),
            Ok(_) | Err(Miss::Absent) => {}
            Err(Miss::Denied) => return Ok(forbidden(job, NOT_READABLE)),
            Err(Miss::Failed(err)) => return Ok(failed(job, &err, &dir.path.join(name))),
        }
    }
    // `index.en.html`, `index.fr.html`: negotiate among them like any other variants.
    for name in &opts.index_files {
        let found = variants::find(job, &dir.path, job.path.segments(), name);
        if let Some(outcome) = negotiated(job, found) {
            return outcome;
        }
    }
    if !opts.listing {
        return Ok(forbidden(
            job,
            "directory listings are disabled and this directory has no index file",
        ));
    }
    Ok(match listing::read_and_render(job, &dir) {
        Ok(listed) => Outcome::Listing(Box::new(listed)),
        Err(problem) => Outcome::Refused(problem),
    })
}

/// The answer for variants that were looked for: the chosen one opened, a 406 listing them
/// when Accept refuses them all, or `None` when there are none.
fn negotiated(job: &Job, found: Variants) -> Option<Result<Outcome, Raced>> {
    match found {
        Variants::None => None,
        Variants::Chosen(choice) => {
            let Choice {
                entry,
                name,
                negotiated,
            } = *choice;
            Some(open(job, &entry, &name, Some(negotiated)))
        }
        Variants::NotAcceptable(available) => Some(Ok(refused(Problem::not_acceptable(
            &job.decoded(),
            available,
        )))),
    }
}

/// Nothing at segment `at`: variants of the last name, else 404 with suggestions.
fn missing(job: &Job, at: usize, parent: Option<PathBuf>) -> Result<Outcome, Raced> {
    let segments = job.path.segments();
    let Some(dir) = parent else {
        // A file where a directory was needed (`/file.txt/x`): point at the file.
        let file = decoded_path(&segments[..at], false);
        let allowed = job.suggestable.as_ref().is_none_or(|s| s.allows(&file));
        return Ok(not_found(
            job,
            if allowed { vec![file] } else { Vec::new() },
        ));
    };
    if at + 1 == segments.len() && !job.path.trailing_slash() {
        if let Some(outcome) = clean_url(job, &dir, &segments[at]) {
            return outcome;
        }
        let found = variants::find(job, &dir, &segments[..at], &segments[at]);
        if let Some(outcome) = negotiated(job, found) {
            return outcome;
        }
    }
    let suggestable = job.suggestable.as_ref();
    let suggestions = suggest::suggest(&job.opts, &job.cache, suggestable, &dir, segments, at);
    Ok(not_found(job, suggestions))
}

/// With `clean_urls`, `name` answered by the file `name.html` in `dir`, through the same
/// sandbox `lookup` (so `.secret` never reaches `.secret.html`). `None` when there is no
/// such file: variants and suggestions follow as without clean URLs.
fn clean_url(job: &Job, dir: &Path, name: &str) -> Option<Result<Outcome, Raced>> {
    if !job.opts.clean_urls || name.ends_with(".html") {
        return None;
    }
    let file = format!("{name}.html");
    match lookup(&job.opts, dir, &file) {
        Ok(entry) if entry.meta.is_file() => Some(open_single(job, &entry, &file)),
        Ok(_) | Err(Miss::Absent) => None,
        Err(Miss::Denied) => Some(Ok(forbidden(job, NOT_READABLE))),
        Err(Miss::Failed(err)) => Some(Ok(failed(job, &err, &dir.join(&file)))),
    }
}

/// Open the only representation there is of `entry`, named `name`: 406 if Accept refuses
/// it (RFC 9110 §12.5.1), unless `lenient_accept`. With `precompressed`, its sibling in the
/// coding the client prefers, if there is one.
fn open_single(job: &Job, entry: &Entry, name: &str) -> Result<Outcome, Raced> {
    let type_name = type_name(name, entry);
    if acceptable(job, type_name) {
        if let Some((sibling, negotiated)) = precompressed(job, entry, name) {
            return open(job, &sibling, type_name, Some(negotiated));
        }
        return open(job, entry, type_name, None);
    }
    let media_type = mime::media_type_for(type_name).unwrap_or(OCTET_STREAM);
    Ok(refused(Problem::not_acceptable(
        &job.decoded(),
        vec![media_type.to_owned()],
    )))
}

/// Content codings a sibling may have, by the suffix its name adds, in the order preferred
/// when the client weighs them alike: smallest first.
const CODINGS: [(&str, &str); 3] = [("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz")];

/// Whether the request's `Accept-Encoding` takes a coding a sibling may have: only then is
/// the disk asked for one.
pub(super) fn takes_a_coding(headers: &http::HeaderMap) -> bool {
    let value = header_list(headers, &header::ACCEPT_ENCODING);
    let value = value.as_ref().map(HeaderValue::as_bytes);
    CODINGS
        .iter()
        .any(|(coding, _)| coding_quality(value, coding) > 0)
}

/// The sibling of `entry` (named `name`) in the coding `Accept-Encoding` weighs highest
/// (`app.js.br` for `br`), as the route's `precompressed` allows, and the fields it goes out
/// with. Only a file reached without a symlink, beside it and passing the same sandbox; a
/// coding the client refuses (q=0) or does not name is never chosen (RFC 9110 §12.5.3).
fn precompressed(job: &Job, entry: &Entry, name: &str) -> Option<(Entry, Negotiated)> {
    if !job.opts.precompressed || entry.linked {
        return None;
    }
    let accept = job.accept_encoding.as_ref().map(HeaderValue::as_bytes);
    let names = CODINGS.map(|(coding, _)| coding);
    let ranked = crate::http::accept::encoding::ranked(accept, &names);
    let dir = entry.path.parent()?;
    ranked.into_iter().find_map(|i| {
        let (coding, suffix) = CODINGS[i];
        let sibling = lookup(&job.opts, dir, &format!("{name}{suffix}")).ok()?;
        sibling.meta.is_file().then(|| {
            let negotiated = Negotiated {
                vary: HeaderValue::from_static("Accept-Encoding"),
                content_location: None,
                content_language: None,
                content_encoding: Some(HeaderValue::from_static(coding)),
            };
            (sibling, negotiated)
        })
    })
}

/// Open `entry` and fstat the handle; for GET keep it (and read a small file whole unless
/// the cache holds these very bytes), for HEAD close it. Describe the file for `reply`.
fn open(
    job: &Job,
    entry: &Entry,
    type_name: &str,
    negotiated: Option<Negotiated>,
) -> Result<Outcome, Raced> {
    let content_type = mime::content_type_for(type_name);
    let media_type = mime::media_type_for(type_name).unwrap_or(OCTET_STREAM);
    let file = match open_nonblocking(&entry.path) {
        Ok(file) => file,
        Err(err) => {
            return match classify(err) {
                // Deleted since the walk: the walk will now say so, with suggestions.
                Miss::Absent => Err(Raced),
                Miss::Denied => Ok(forbidden(job, NOT_READABLE)),
                Miss::Failed(err) => Ok(failed(job, &err, &entry.path)),
            };
        }
    };
    // fstat the handle we will read: the metadata describes exactly these bytes.
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(err) => return Ok(failed(job, &err, &entry.path)),
    };
    if !meta.is_file() || meta.ino() != entry.meta.ino() || meta.dev() != entry.meta.dev() {
        return Err(Raced);
    }
    let identity = Identity::of(&meta, &entry.path);
    let known = job.known.as_ref() == Some(&identity);
    let small = if job.read_small && !known && meta.len() <= CACHED_FILE_MAX {
        match read_all(&file, meta.len()) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Err(Raced),
            Err(err) => return Ok(failed(job, &err, &entry.path)),
        }
    } else {
        None
    };
    let file = job.read_small.then_some(file);
    Ok(Outcome::File(Box::new(FileRep {
        file,
        small,
        identity,
        content_type,
        media_type,
        negotiated,
    })))
}

/// `O_NONBLOCK`: a fifo swapped in after the walk's `lstat` then opens at once (and fails the
/// fstat check) instead of blocking a thread until a writer comes. Regular files ignore it.
const O_NONBLOCK: i32 = libc::O_NONBLOCK;

/// Open `path` read-only without ever blocking on a fifo.
pub(super) fn open_nonblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
}

/// What [`reopen_cached`] found.
pub(super) enum Reopened {
    /// The same file, unchanged, opened without waiting.
    Same(File),
    /// The file changed, moved or went away: resolve again.
    Changed,
    /// Telling would mean waiting (a name not in the kernel's lookup cache, or a kernel
    /// without the means to ask): [`reopen`] on the blocking pool.
    WouldWait,
}

#[cfg(test)]
thread_local! {
    /// Tests: [`reopen_cached`] answers as on a kernel without `RESOLVE_CACHED` (before
    /// Linux 5.12, or under a sandbox or valgrind refusing `openat2`), on this thread.
    pub(super) static WITHOUT_RESOLVE_CACHED: std::cell::Cell<bool> =
        const { std::cell::Cell::new(false) };
}

/// [`reopen`] on a runtime thread, when it cannot wait on I/O: `openat2` with
/// `RESOLVE_CACHED` (Linux 5.12) fails with `EAGAIN` instead of looking a name up on disk,
/// and the identity is read with `AT_STATX_DONT_SYNC`, the attributes the kernel holds (a
/// network filesystem is not asked). A cached 1 MiB file's hit then costs three system calls
/// instead of two hand-offs to the blocking pool.
///
/// A filesystem's own `open` may still wait (FUSE asks its daemon), as it may for io_uring,
/// which uses the same flag for the same purpose.
pub(super) fn reopen_cached(identity: &Identity) -> Reopened {
    use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    #[cfg(test)]
    if WITHOUT_RESOLVE_CACHED.get() {
        return Reopened::WouldWait;
    }
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let opened = rustix::fs::openat2(
        CWD,
        &identity.path,
        flags,
        Mode::empty(),
        ResolveFlags::CACHED,
    );
    let fd = match opened {
        Ok(fd) => fd,
        // Not cached; no openat2 (before 5.6) or no RESOLVE_CACHED (before 5.12); refused
        // by a sandbox.
        Err(Errno::AGAIN | Errno::NOSYS | Errno::INVAL | Errno::PERM | Errno::NOTSUP) => {
            return Reopened::WouldWait;
        }
        Err(_) => return Reopened::Changed,
    };
    match stat_open(&fd) {
        Ok(stat) if identity.matches(&stat) => Reopened::Same(File::from(fd)),
        Ok(_) => Reopened::Changed,
        Err(_) => Reopened::WouldWait,
    }
}

/// Whether the open `file` is still exactly the one `identity` describes (see
/// [`Identity::matches`]): one `statx` on the descriptor, no path walk. A file deleted or
/// renamed over is seen too (unlinking it moves its ctime); a symlink or directory swapped
/// on the way to it is not.
pub(super) fn is_unchanged(file: &File, identity: &Identity) -> bool {
    stat_open(file).is_ok_and(|stat| identity.matches(&stat))
}

/// The basic stats of an open file, without asking a network filesystem's server.
fn stat_open(fd: impl std::os::fd::AsFd) -> rustix::io::Result<rustix::fs::Statx> {
    use rustix::fs::{AtFlags, StatxFlags};
    let stat_flags = AtFlags::EMPTY_PATH | AtFlags::STATX_DONT_SYNC;
    rustix::fs::statx(fd, "", stat_flags, StatxFlags::BASIC_STATS)
}

/// Read exactly `len` bytes from the start of `file` (`UnexpectedEof` if it shrank).
fn read_all(file: &File, len: u64) -> io::Result<Bytes> {
    let len = usize::try_from(len).map_err(io::Error::other)?;
    let mut buf = BytesMut::zeroed(len);
    file.read_exact_at(&mut buf, 0)?;
    Ok(buf.freeze())
}

/// Open the file at `identity.path` and check it is still exactly that file (same device,
/// inode, length and modification time, still regular): the cache's fast path for a large
/// file it described less than a revalidation interval ago. `None` when anything differs or
/// fails: the caller then resolves from scratch, which reports errors properly.
pub(super) fn reopen(identity: &Identity) -> Option<File> {
    let file = open_nonblocking(&identity.path).ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && Identity::of(&meta, &identity.path) == *identity).then_some(file)
}

/// The name whose extension gives the media type: the requested name, or for a symlink
/// like `latest -> v2.tar.gz` whose own name says nothing, the target's name.
fn type_name<'a>(requested: &'a str, entry: &'a Entry) -> &'a str {
    if entry.linked && mime::media_type_for(requested).is_none() {
        if let Some(target) = entry.path.file_name().and_then(|n| n.to_str()) {
            return target;
        }
    }
    requested
}

/// Whether Accept allows the only representation of a file named `type_name` (RFC 9110
/// §12.5.1). An absent header, `*/*` and browser defaults always do; only an explicit q=0 or
/// a list with no matching range refuses, unless `lenient_accept`.
fn acceptable(job: &Job, type_name: &str) -> bool {
    let media_type = mime::media_type_for(type_name).unwrap_or(OCTET_STREAM);
    accepts(&job.opts, job.accept(), media_type)
}

/// Whether `accept` (absent when empty) allows the only representation, of `media_type`.
pub(super) fn accepts(
    opts: &StaticOptions,
    accept: Option<&[u8]>,
    media_type: &'static str,
) -> bool {
    match accept {
        _ if opts.lenient_accept => true,
        None => true,
        Some(accept) => accept::media_type_quality_memo(accept, media_type) > 0,
    }
}

/// How the walk ended.
enum Walk {
    Found(Entry),
    /// Segment `at` names nothing servable; `parent` is the directory it was looked up in,
    /// `None` when segment `at - 1` is a file.
    Missing {
        at: usize,
        parent: Option<PathBuf>,
    },
    Denied,
    Failed(io::Error, PathBuf),
}

/// Walk `segments` from the root, checking each component (see the module docs).
fn walk(opts: &StaticOptions, segments: &[String]) -> Walk {
    let mut current: Option<Entry> = None;
    for (at, segment) in segments.iter().enumerate() {
        let dir = match &current {
            None => &opts.root,
            Some(entry) if entry.meta.is_dir() => &entry.path,
            Some(_) => return Walk::Missing { at, parent: None },
        };
        match lookup(opts, dir, segment) {
            Ok(entry) => current = Some(entry),
            Err(Miss::Absent) => {
                let parent = current.map_or_else(|| opts.root.clone(), |e| e.path);
                return Walk::Missing {
                    at,
                    parent: Some(parent),
                };
            }
            Err(Miss::Denied) => return Walk::Denied,
            Err(Miss::Failed(err)) => return Walk::Failed(err, dir.join(segment)),
        }
    }
    match current {
        Some(entry) => Walk::Found(entry),
        None => match fs::metadata(&opts.root) {
            Ok(meta) => Walk::Found(Entry {
                path: opts.root.clone(),
                meta,
                linked: false,
            }),
            Err(err) => Walk::Failed(err, opts.root.clone()),
        },
    }
}

/// Look up `name` in `dir` (a directory inside the sandbox) and apply the sandbox rules.
/// Used by the walk, index files, variants, suggestions and listings alike, so they agree.
pub(super) fn lookup(opts: &StaticOptions, dir: &Path, name: &str) -> Result<Entry, Miss> {
    if is_hidden(opts, name) || name.len() > NAME_MAX {
        return Err(Miss::Absent);
    }
    let path = dir.join(name);
    let meta = fs::symlink_metadata(&path).map_err(classify)?;
    let (path, meta, linked) = if meta.file_type().is_symlink() {
        // Every failure to resolve a link (dangling, loop, EACCES outside the root) is
        // "missing": the answer must not depend on what lies outside.
        let target = fs::canonicalize(&path).map_err(|_| Miss::Absent)?;
        match target.strip_prefix(&opts.root) {
            Ok(inside) if hides(opts, inside) => return Err(Miss::Absent),
            Ok(_) => {}
            Err(_) if !opts.follow_symlinks => return Err(Miss::Absent),
            Err(_) => {}
        }
        let meta = fs::metadata(&target).map_err(|_| Miss::Absent)?;
        (target, meta, true)
    } else {
        (path, meta, false)
    };
    let servable = meta.is_dir() || (meta.is_file() && (opts.show_hidden || name != WELL_KNOWN));
    if servable {
        Ok(Entry { path, meta, linked })
    } else {
        // Fifos, sockets, devices: never opened, answered as missing.
        Err(Miss::Absent)
    }
}

/// Whether `name` is hidden by policy.
pub(super) fn is_hidden(opts: &StaticOptions, name: &str) -> bool {
    !opts.show_hidden && name.starts_with('.') && name != WELL_KNOWN
}

/// Whether a path relative to the root passes through a hidden name.
fn hides(opts: &StaticOptions, relative: &Path) -> bool {
    !opts.show_hidden
        && relative.components().any(|c| match c {
            Component::Normal(name) => {
                name.as_encoded_bytes().first() == Some(&b'.') && name != WELL_KNOWN
            }
            _ => false,
        })
}

/// Map an I/O error to the policy in the module docs of `static_files`.
pub(super) fn classify(err: io::Error) -> Miss {
    match err.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Miss::Absent,
        io::ErrorKind::PermissionDenied => Miss::Denied,
        _ => Miss::Failed(err),
    }
}

/// 301 to the directory form, keeping the query (RFC 9110 §15.4.2).
fn redirect(job: &Job) -> Outcome {
    match directory_location(job.path.segments(), job.query.as_deref()) {
        Some(value) => Outcome::Redirect(value),
        None => Outcome::Refused(Box::new(Problem::internal())),
    }
}

fn refused(problem: Problem) -> Outcome {
    Outcome::Refused(Box::new(problem))
}

fn not_found(job: &Job, suggestions: Vec<String>) -> Outcome {
    Outcome::Missing(Box::new(Problem::not_found(&job.decoded(), suggestions)))
}

fn forbidden(job: &Job, policy: &str) -> Outcome {
    refused(Problem::forbidden(&job.decoded(), policy))
}

/// 500; the cause (with the filesystem path) is logged, not sent. Out of descriptors (EMFILE,
/// ENFILE: a passing load, not a fault of the site) is a 503 with `Retry-After` instead, as
/// for other passing overloads.
fn failed(job: &Job, err: &io::Error, path: &Path) -> Outcome {
    if let Some(problem) = Problem::out_of_descriptors(err) {
        return refused(problem);
    }
    tracing::warn!(
        request_path = %job.decoded(),
        fs_path = %path.display(),
        error = %err,
        "cannot serve static file"
    );
    refused(Problem::internal())
}
