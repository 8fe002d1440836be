//! The express lane: a request that repeats one answered moments ago from the file cache, in
//! everything that can change its answer, gets that answer's bytes again, without being built
//! into a request, routed, or looked up in the cache.
//!
//! Why: of the ~10,300 instructions usher spent on a keep-alive GET of a cached 1 KiB file
//! (callgrind, `bench/instructions.sh` row a), parsing the head into the `http` crate's types,
//! routing, the cache lookup, planning the answer and writing it took about two thirds; the
//! bytes sent were the same each time but for `Date`. Browsers repeat requests as much as
//! benchmarks do: every page view asks again for the same stylesheets, scripts and icons.
//!
//! What makes it safe:
//! - **The key** is the request's target and every field line that could change the answer,
//!   byte for byte, plus the configuration's epoch ([`key`]). A field is left out of it only
//!   when no part of a files route reads it (`User-Agent`, `Cookie`, `Referer`, ...:
//!   [`IGNORED`]); any field that changes how the connection reads or answers
//!   (`Content-Length`, `Transfer-Encoding`, `Expect`, `Upgrade`, a `Connection` other than
//!   one `keep-alive` or one `close`) keeps the request out of the lane. Only `GET` in
//!   origin-form, in HTTP/1.1 or 1.0 (the version is in the key).
//! - **An answer is remembered** only when the request was keyed, the answer kept its fields
//!   rendered (no policy changed them), came from a files route without credentials to check,
//!   has its body in memory (up to 16 KiB) or is a whole file the cache keeps open, and says
//!   until when its cache entry is fresh (`Prepared::repeatable`, set by the file cache only).
//!   A compressed form of such an answer (`handlers::policy::compress`), made once and kept,
//!   is remembered too, in memory or as its range of the forms' memory file, with the same
//!   freshness and the same check of the file it was made from.
//! - **It is repeated** only until then: the cache's own staleness bound (1 s by default), so
//!   a changed file is seen exactly as late as without the lane; a file sent from disk is
//!   also checked unchanged (one `statx`) before each repeat, as the cache checks it before
//!   each answer, so a change in place is seen at once. A reload changes the epoch.
//! - What is sent is the remembered head up to its `Content-Length` line, then the same
//!   `Connection`, `Date` and `Server` lines the connection's writer puts there
//!   (`response::put_tail`), then the body: copied after the head, or, for a file sent with
//!   `sendfile`, head and bytes together from an image of the whole answer made once a
//!   second ([`image`]: one `sendfile` and whole segments, where the writer needs a write and
//!   a `sendfile`). The two ways give the same bytes.
//! - **A request that closes** (`Connection: close`, or HTTP/1.0 without `keep-alive`: RFC
//!   9112 §9.3) takes the lane too, and the connection closes after its answer as after the
//!   slow way's ([`Persist`]). Without it every request of a client that opens a connection
//!   per request (`ab` without `-k`, health checks, scripts) went the slow way: 14,500
//!   instructions in user space against 3,200 for a repeat (`bench/instructions.sh` rows e
//!   and a).
//!
//! Each runtime thread has its own table of [`SLOTS`] answers (no locks), a slot chosen by
//! the key's hash and holding the whole key, compared in full.

use std::cell::RefCell;
use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;

use crate::body::open_file::OpenFile;
use crate::body::prepared::SameFile;
use image::Image;

mod image;

/// Answers remembered per thread (256).
pub const SLOTS: usize = 256;

/// Longest key remembered (4 KiB): target and fields; a request with more goes the slow way.
pub const MAX_KEY: usize = 4096;

/// Field names no part of a files route reads, left out of the key (matched ignoring case):
/// what browsers send that differs between pages or visits without changing a file's answer.
/// (`Accept`, `Accept-Language`, `Accept-Encoding` (a route may serve precompressed
/// siblings), `Sec-Fetch-Mode`, `Range`, `If-*`, `Host` and any field not listed stay in the
/// key.)
pub const IGNORED: [&str; 14] = [
    "user-agent",
    "referer",
    "cookie",
    "cache-control",
    "pragma",
    "dnt",
    "priority",
    "upgrade-insecure-requests",
    "sec-fetch-site",
    "sec-fetch-user",
    "sec-fetch-dest",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
];

/// Fields that change how the connection reads the request or answers it: a request with
/// one goes the slow way (but for one `Connection` naming only `keep-alive` or `close`).
const REFUSED: [&str; 6] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "expect",
    "upgrade",
    "http2-settings",
];

/// Whether the connection stays open after a repeated answer, from the request's version
/// and `Connection` (RFC 9112 §9.3), and what the answer says of it, as the writer would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// Open, nothing said: HTTP/1.1's default.
    Open = 0,
    /// Open, `connection: keep-alive` said: HTTP/1.0 that asked for it.
    OpenSaid,
    /// Closed after the answer, `connection: close` said (RFC 9112 §9.6): HTTP/1.1 that
    /// asked for it, or HTTP/1.0 that did not ask for `keep-alive`.
    Close,
}

impl Persist {
    /// The `Connection` option the answer states, if any.
    fn option(self) -> Option<&'static str> {
        match self {
            Persist::Open => None,
            Persist::OpenSaid => Some("keep-alive"),
            Persist::Close => Some("close"),
        }
    }

    /// Whether the connection closes after the answer.
    pub fn closes(self) -> bool {
        self == Persist::Close
    }
}

/// An answer to repeat.
pub struct Answer {
    /// The head up to and with its `Content-Length` line.
    head: Bytes,
    /// The content.
    body: Body,
    /// Repeated until then.
    fresh_until: Instant,
}

/// What an answer sends after its head.
enum Body {
    /// These bytes, copied next to the head; made from a file's (a compressed form), once
    /// that file is checked unchanged.
    Memory(Bytes, Option<Arc<dyn SameFile>>),
    /// A range of a file kept open, sent with `sendfile` once checked unchanged.
    File(FileBody),
}

/// `len` bytes from `from` of a file kept open (the whole of a file, or a compressed form in
/// a memory file), and the images of the answer sending it.
struct FileBody {
    same: Arc<dyn SameFile>,
    from: u64,
    len: u64,
    /// An image of the whole answer ([`image`]) for each way it may say the connection goes
    /// on, once a repeat has made it.
    images: [Option<Image>; 3],
    /// Whether making an image failed: this answer then goes out as head and file.
    no_image: bool,
}

impl FileBody {
    /// The whole answer, `head` then the file's bytes, as an image to send: the one made
    /// for `persist` if it begins with `head`, else a new one (replacing it); `None` when
    /// none can be made.
    fn image(&mut self, persist: Persist, head: &[u8], mss: SegmentSize<'_>) -> Option<FileRange> {
        let made = &mut self.images[persist as usize];
        if let Some(image) = made.as_ref().filter(|image| image.begins_with(head)) {
            return Some(image.to_send());
        }
        // Dropped first, so its bytes leave the budget before the new one's are counted.
        *made = None;
        // The bytes an image is made of are a whole file's.
        if self.no_image || self.from != 0 {
            return None;
        }
        let bytes = self.same.bytes().filter(|b| b.len() as u64 == self.len)?;
        match Image::make(head, bytes, mss()) {
            Ok(image) => Some(made.insert(image).to_send()),
            Err(_) => {
                self.no_image = true;
                None
            }
        }
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("head", &self.head)
            .field("fresh_until", &self.fresh_until)
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// The answer a prepared response with `status`, rendered field `lines` and `body` is
    /// written as, repeated until `fresh_until`.
    pub fn new(
        status: StatusCode,
        lines: &[u8],
        body: impl Into<Bytes>,
        fresh_until: Instant,
    ) -> Self {
        let body = body.into();
        let length = Some(body.len() as u64);
        Self::with(status, lines, length, Body::Memory(body, None), fresh_until)
    }

    /// [`Answer::new`] for bytes made from a file's (its compressed form): each repeat first
    /// asks `same` whether that file is unchanged.
    pub fn made_from_file(
        status: StatusCode,
        lines: &[u8],
        body: Bytes,
        same: Arc<dyn SameFile>,
        fresh_until: Instant,
    ) -> Self {
        let length = Some(body.len() as u64);
        let body = Body::Memory(body, Some(same));
        Self::with(status, lines, length, body, fresh_until)
    }

    /// The answer a prepared 304 with rendered field `lines` is written as: its head alone,
    /// with no `Content-Length` (RFC 9110 §15.4.5 leaves it out; usher's writer does),
    /// repeated until `fresh_until`.
    pub fn not_modified(lines: &[u8], fresh_until: Instant) -> Self {
        let nothing = Body::Memory(Bytes::new(), None);
        Self::with(StatusCode::NOT_MODIFIED, lines, None, nothing, fresh_until)
    }

    /// The answer a prepared response with `status` and rendered field `lines` is written
    /// as when its body is `len` bytes from `from` of the file `same` keeps open: repeated
    /// until `fresh_until`, each time once `same` finds the file unchanged.
    pub fn from_file(
        status: StatusCode,
        lines: &[u8],
        same: Arc<dyn SameFile>,
        (from, len): (u64, u64),
        fresh_until: Instant,
    ) -> Self {
        let body = Body::File(FileBody {
            same,
            from,
            len,
            images: [None, None, None],
            no_image: false,
        });
        Self::with(status, lines, Some(len), body, fresh_until)
    }

    fn with(
        status: StatusCode,
        lines: &[u8],
        length: Option<u64>,
        body: Body,
        until: Instant,
    ) -> Self {
        let mut head = Vec::with_capacity(32 + lines.len() + 40);
        super::response::put_head_start(status, lines, length, &mut head);
        Answer {
            head: Bytes::from(head),
            body,
            fresh_until: until,
        }
    }

    /// Put the answer, saying `persist` and with this moment's `Date`, at the end of `out`:
    /// the whole of it, or for a file what to send after what was put (its image, with
    /// nothing put, or the file after its head); `None` (nothing put) when the file has
    /// changed.
    pub(in crate::server::h1) fn put(
        &mut self,
        persist: Persist,
        mss: SegmentSize<'_>,
        out: &mut Vec<u8>,
    ) -> Option<Option<FileRange>> {
        let (file, copied) = match &self.body {
            Body::Memory(bytes, same) => {
                if let Some(same) = same {
                    same.if_unchanged()?;
                }
                (None, &bytes[..])
            }
            Body::File(body) => {
                let file = Arc::clone(body.same.if_unchanged()?);
                let range = FileRange {
                    file,
                    from: body.from,
                    len: body.len,
                };
                (Some(range), &[][..])
            }
        };
        let at = out.len();
        out.reserve(self.head.len() + 64 + copied.len());
        out.extend_from_slice(&self.head);
        super::response::put_tail(persist.option(), out);
        out.extend_from_slice(copied);
        if let Body::File(body) = &mut self.body {
            // The head just put, and the file after it, go out as one image if they can.
            if let Some(image) = body.image(persist, &out[at..], mss) {
                out.truncate(at);
                return Some(Some(image));
            }
        }
        Some(file)
    }
}

/// Bytes of an open file to send after what the write buffer holds.
#[derive(Debug, Clone)]
pub struct FileRange {
    /// The file.
    pub file: Arc<OpenFile>,
    /// Where the bytes start in it.
    pub from: u64,
    /// How many bytes.
    pub len: u64,
}

/// What the lane did with a request.
#[derive(Debug)]
pub enum Lookup {
    /// Its answer was remembered, and is now at the end of the write buffer; the connection
    /// then goes on as `Persist` says.
    Put(Persist),
    /// Its answer was remembered, and is now at the end of the write buffer up to these
    /// bytes of a file, which are to follow; then as `Persist` says.
    PutFile(FileRange, Persist),
    /// It may take the lane, but no answer is remembered for it: its key, to remember the
    /// answer under.
    Missed(Box<[u8]>),
    /// It cannot take the lane.
    Refused,
}

/// The segment size the connection settles at (the MSS it advertised), asked only when an
/// image is made ([`image`]).
pub type SegmentSize<'a> = &'a dyn Fn() -> Option<u32>;

/// Answer `req` from this thread's table into `out` if it can be; else say why not.
pub fn lookup(
    req: &httparse::Request<'_, '_>,
    epoch: u64,
    mss: SegmentSize<'_>,
    out: &mut Vec<u8>,
) -> Lookup {
    thread_local! {
        /// Where keys are made: most are looked up and found, and need no allocation.
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let Some(persist) = key(req, epoch, scratch) else {
            return Lookup::Refused;
        };
        match put(scratch, persist, mss, out) {
            Some(None) => Lookup::Put(persist),
            Some(Some(range)) => Lookup::PutFile(range, persist),
            None => Lookup::Missed(scratch.as_slice().into()),
        }
    })
}

/// The key of a request (see the module notes) into `out`, and whether the connection
/// stays open after its answer; `None` when the request cannot take the lane.
pub fn key(req: &httparse::Request<'_, '_>, epoch: u64, out: &mut Vec<u8>) -> Option<Persist> {
    let (Some("GET"), Some(minor @ (0 | 1)), Some(target)) = (req.method, req.version, req.path)
    else {
        return None;
    };
    if !target.starts_with('/') {
        return None;
    }
    out.clear();
    out.extend_from_slice(&epoch.to_le_bytes());
    out.push(minor);
    out.extend_from_slice(target.as_bytes());
    // A target has no space, a name no colon, and no value a line end: the key reads back
    // one way only.
    out.push(b' ');
    // The one `Connection` option, if any (`Some(true)` for `close`): a list, or a second
    // line, goes the slow way.
    let mut closes: Option<bool> = None;
    for field in req.headers.iter() {
        let name = field.name.as_bytes();
        match class(name) {
            Class::Ignored => continue,
            Class::Connection if closes.is_none() => {
                let value = field.value;
                closes = if value.eq_ignore_ascii_case(b"close") {
                    Some(true)
                } else if value.eq_ignore_ascii_case(b"keep-alive") {
                    Some(false)
                } else {
                    return None;
                };
                continue;
            }
            Class::Connection | Class::Refused => return None,
            Class::Keyed => {}
        }
        out.extend_from_slice(name);
        out.push(b':');
        out.extend_from_slice(field.value);
        out.push(b'\n');
        if out.len() > MAX_KEY {
            return None;
        }
    }
    // As `http::persistence::persistent` reads the same field (RFC 9112 §9.3).
    Some(match (minor, closes) {
        (1, Some(true)) => Persist::Close,
        (1, _) => Persist::Open,
        (_, Some(false)) => Persist::OpenSaid,
        _ => Persist::Close,
    })
}

/// What the lane makes of a field, by its name.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    /// One of [`IGNORED`].
    Ignored,
    /// `Connection`: keep-alive is ignored, any other option refused.
    Connection,
    /// One of [`REFUSED`] but `Connection`.
    Refused,
    /// Any other: in the key.
    Keyed,
}

/// The class of the field named `name`, ignoring case. The name is lowercased once, then
/// compared whole: comparing it to each listed name ignoring case was a fifth of a browser
/// request's cost in the lane (callgrind, `bench/instructions.sh` row a+).
fn class(name: &[u8]) -> Class {
    let mut lower = [0u8; 32];
    // Every listed name is shorter.
    let Some(lower) = lower.get_mut(..name.len()) else {
        return Class::Keyed;
    };
    for (to, from) in lower.iter_mut().zip(name) {
        *to = from.to_ascii_lowercase();
    }
    let lower = &*lower;
    if IGNORED.iter().any(|n| n.as_bytes() == lower) {
        Class::Ignored
    } else if lower == b"connection" {
        Class::Connection
    } else if REFUSED.iter().any(|n| n.as_bytes() == lower) {
        Class::Refused
    } else {
        Class::Keyed
    }
}

/// One remembered answer and its key.
struct Slot {
    key: Box<[u8]>,
    answer: Answer,
}

thread_local! {
    /// This thread's remembered answers, by the key's hash.
    static TABLE: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// The slot for `key`.
fn slot_of(key: &[u8]) -> usize {
    // A fixed seed: the table is per thread and its keys are compared whole, so a chosen
    // collision only costs its sender the slow way.
    let hash = foldhash::fast::FixedState::with_seed(0x5eed).hash_one(key);
    (hash as usize) % SLOTS
}

/// Put the answer remembered for `key` at the end of `out`, saying `persist`, if there is
/// one and it still holds (see [`Answer::put`]); `None` when nothing was put.
pub fn put(
    key: &[u8],
    persist: Persist,
    mss: SegmentSize<'_>,
    out: &mut Vec<u8>,
) -> Option<Option<FileRange>> {
    let at = slot_of(key);
    TABLE.with_borrow_mut(|table| {
        let slot = table.get_mut(at)?;
        let found = slot.as_mut().filter(|s| *s.key == *key)?;
        let put = if found.answer.fresh_until > Instant::now() {
            found.answer.put(persist, mss, out)
        } else {
            None
        };
        if put.is_none() {
            // Stale or changed: the slow way checks the entry and may remember it anew.
            *slot = None;
        }
        put
    })
}

/// Remember `answer` for `key`, in place of what its slot held.
pub fn remember(key: Box<[u8]>, answer: Answer) {
    let at = slot_of(&key);
    TABLE.with_borrow_mut(|table| {
        if table.is_empty() {
            table.resize_with(SLOTS, || None);
        }
        table[at] = Some(Slot { key, answer });
    });
}

#[cfg(test)]
pub(in crate::server::h1) mod tests;
