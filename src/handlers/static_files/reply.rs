//! Outcome -> response: preconditions (RFC 9110 §13.2.2), ranges (§14), headers and body.
//!
//! Pure apart from the body stream it sets up: every filesystem call happened in `resolve`.
//! A file's header values are computed once into a [`FileMeta`] (the cache keeps it); a
//! response is first [`plan`]ned from it, then given its bytes from a [`Source`]: memory
//! (cached or just read; ranges are `Bytes` slices) or an open file (streamed).

use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use bytes::Bytes;

use super::listing::Rendered;
use super::resolve::FileRep;
use super::variants::Negotiated;
use super::{VARY_ACCEPT, decoded_path, wants_body};
use crate::body::ResponseBody;
use crate::body::file::{FileBody, Part};
use crate::body::open_file::OpenFile;
use crate::body::prepared::{FieldForm, Prepared, RenderedFields, SameFile};
use crate::http::conditional::{self, Precondition};
use crate::http::etag::EntityTag;
use crate::http::range::{self, ByteRange, RangeOutcome};
use crate::http::target::NormalPath;
use crate::problem::Problem;

/// Bodies above this (32 KiB) go out over HTTP/1.x from the file, with `sendfile`, though
/// the cache holds their bytes: copying them into the socket cost more. Measured on row c of
/// `bench/compare.sh` (100 KiB, 64 connections), server CPU per request over 3 s runs: from
/// memory 27.5-28.2 µs in some runs and 37-44 µs in others (the copy, `_copy_from_iter`, is
/// 40% of the time, and runs slow when the kernel's page allocator is); with `sendfile`
/// 28.9-30.3 µs in every run. At 64 KiB: memory 20-48 µs, `sendfile` 24-27. At 32 KiB memory
/// wins in every run: 12.4-13.1 µs against 17-18.6.
pub(super) const SEND_FROM_MEMORY_MAX: u64 = 32 * 1024;

/// `Accept-Ranges: bytes` (RFC 9110 §14.3).
const BYTES: HeaderValue = HeaderValue::from_static("bytes");

/// Listings load nothing and run nothing; only their inline style is allowed.
const LISTING_CSP: HeaderValue =
    HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'");

/// 301 to `location`, a directory named without its trailing slash.
pub(super) fn redirect(location: HeaderValue) -> Response<ResponseBody> {
    redirect_with(StatusCode::MOVED_PERMANENTLY, location)
}

/// `status` (a 3xx) to `location`, a directory named without its trailing slash.
pub(super) fn redirect_with(status: StatusCode, location: HeaderValue) -> Response<ResponseBody> {
    // RFC 9110 §15.4.2: the directory's URL ends in `/`, so relative links resolve.
    let mut res = Response::new(ResponseBody::Empty);
    *res.status_mut() = status;
    res.headers_mut().insert(header::LOCATION, location);
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
    res
}

/// A file's header values, computed once from its metadata.
pub(super) struct FileMeta {
    pub(super) len: u64,
    /// Last-Modified as preconditions compare it (see [`http_time`]); `None` for a file
    /// dated in the future, which has none.
    pub(super) modified: Option<SystemTime>,
    pub(super) etag: EntityTag,
    etag_value: HeaderValue,
    last_modified: Option<HeaderValue>,
    pub(super) content_type: HeaderValue,
    pub(super) negotiated: Option<Negotiated>,
    /// The fields of a 200 with the whole file, made once: an answer clones them, which
    /// costs less than inserting each field into a new map (a hash and a probe each).
    whole: HeaderMap,
    /// The same fields but `Content-Length` (which the connection writes from the body's
    /// length), rendered for an HTTP/1.x answer ([`FieldForm::Prepared`]).
    prepared: Option<Arc<RenderedFields>>,
    /// The fields of a 304 (the validators), rendered likewise: revalidating browsers ask
    /// for them again and again.
    not_modified: Option<Arc<RenderedFields>>,
}

impl FileMeta {
    /// The header values for `rep`; its negotiation headers are taken.
    pub(super) fn new(rep: &mut FileRep) -> Self {
        let id = &rep.identity;
        let modified = http_time(id.modified);
        let etag = EntityTag::for_file(id.len, id.modified);
        let mut meta = FileMeta {
            len: id.len,
            modified,
            etag_value: etag.to_header_value(),
            etag,
            last_modified: modified.map(http_date),
            content_type: rep.content_type.clone(),
            negotiated: rep.negotiated.take(),
            whole: HeaderMap::new(),
            prepared: None,
            not_modified: None,
        };
        let mut whole = meta.validators();
        whole.insert(header::ACCEPT_RANGES, BYTES);
        if let Some(language) = meta
            .negotiated
            .as_ref()
            .and_then(|n| n.content_language.clone())
        {
            whole.insert(header::CONTENT_LANGUAGE, language);
        }
        whole.insert(header::CONTENT_TYPE, meta.content_type.clone());
        if let Some(coding) = meta
            .negotiated
            .as_ref()
            .and_then(|n| n.content_encoding.clone())
        {
            whole.insert(header::CONTENT_ENCODING, coding);
        }
        meta.prepared = RenderedFields::new(whole.clone()).map(Arc::new);
        meta.not_modified = RenderedFields::new(meta.validators()).map(Arc::new);
        whole.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len));
        meta.whole = whole;
        meta
    }

    /// What the 200 fields kept here take in memory, about: each is an entry of the map
    /// (name, value, hash, links) and a slot of its index; the values' bytes are shared.
    pub(super) fn fields_weight(&self) -> usize {
        let lines =
            |fields: &Option<Arc<RenderedFields>>| fields.as_ref().map_or(0, |f| f.lines().len());
        self.whole.len() * 128 * 2 + lines(&self.prepared) + lines(&self.not_modified)
    }

    /// The fields a 304 repeats (RFC 9110 §15.4.5): the validators, and for a negotiated
    /// variant its `Vary` and `Content-Location`.
    fn validators(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(10);
        headers.insert(header::ETAG, self.etag_value.clone());
        if let Some(last_modified) = &self.last_modified {
            headers.insert(header::LAST_MODIFIED, last_modified.clone());
        }
        if let Some(n) = &self.negotiated {
            headers.insert(header::VARY, n.vary.clone());
            if let Some(location) = &n.content_location {
                headers.insert(header::CONTENT_LOCATION, location.clone());
            }
        }
        headers
    }
}

/// Where a response's bytes come from.
pub(super) enum Source {
    /// The whole file, in memory.
    Memory(Bytes),
    /// The open file.
    File(File),
    /// The open file, kept by the cache for other answers too.
    Shared(Arc<OpenFile>),
    /// Nothing (enough for HEAD, 304 and errors).
    Nothing,
}

/// A response before its body: status, headers, and the parts of the file to send.
pub(super) struct Planned {
    status: StatusCode,
    headers: HeaderMap,
    /// Fields rendered ahead, which `headers` then leaves out (see [`FieldForm`]).
    prepared: Option<Arc<RenderedFields>>,
    /// Empty when no body is sent (HEAD, 304).
    parts: Vec<Part>,
}

impl Planned {
    /// Whether the body needs the file's bytes.
    pub(super) fn needs_bytes(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::File { .. }))
    }

    /// Whether the file's bytes held in memory are the better source for `req`'s body: over
    /// HTTP/2 always (it has no zero-copy path), over HTTP/1.x when the body is at most
    /// [`SEND_FROM_MEMORY_MAX`]; a larger one goes out from the file with `sendfile`.
    pub(super) fn sends_from_memory(&self, req: &Parts) -> bool {
        let len: u64 = self
            .parts
            .iter()
            .map(|p| match p {
                Part::File { len, .. } => *len,
                Part::Bytes(_) => 0,
            })
            .sum();
        req.version == http::Version::HTTP_2 || len <= SEND_FROM_MEMORY_MAX
    }

    /// The response, with its body from `source`; a prepared one answers the same request
    /// alike until `fresh_until` (its cache entry's revalidation), sent from a file while
    /// `same_file` finds it unchanged (see `Prepared::wrap_until`).
    pub(super) fn respond(
        self,
        path: &NormalPath,
        source: Source,
        fresh_until: Option<Instant>,
        same_file: Option<Arc<dyn SameFile>>,
    ) -> Result<Response<ResponseBody>, Box<Problem>> {
        let Planned {
            status,
            headers,
            prepared,
            parts,
        } = self;
        let body = if parts.is_empty() {
            ResponseBody::Empty
        } else {
            match source {
                Source::File(file) => ResponseBody::File(FileBody::new(file, parts)),
                Source::Shared(file) => ResponseBody::File(FileBody::shared(file, parts)),
                Source::Memory(bytes) => match in_memory(&bytes, parts) {
                    Some(body) => body,
                    None => {
                        tracing::warn!(path = %decoded(path), "file part outside the bytes held");
                        return Err(Box::new(Problem::internal()));
                    }
                },
                Source::Nothing => {
                    tracing::warn!(path = %decoded(path), "GET resolved without an open file");
                    return Err(Box::new(Problem::internal()));
                }
            }
        };
        let body = match prepared {
            Some(fields) => Prepared::wrap_until(fields, body, fresh_until, same_file),
            None => body,
        };
        Ok(respond(status, headers, body))
    }
}

/// The body for `parts` cut from `bytes`: one slice as a plain body, several (multipart) as a
/// stream of slices. `None` if a part lies outside `bytes`.
fn in_memory(bytes: &Bytes, parts: Vec<Part>) -> Option<ResponseBody> {
    let cut = |part: Part| match part {
        Part::Bytes(b) => Some(b),
        Part::File { offset, len } => {
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            bytes.get(start..end).map(|_| bytes.slice(start..end))
        }
    };
    // The common case, a whole file or one range: no list of slices to build.
    if parts.len() == 1 {
        return parts
            .into_iter()
            .next()
            .and_then(cut)
            .map(ResponseBody::full);
    }
    let slices = parts
        .into_iter()
        .map(|part| cut(part).map(Part::Bytes))
        .collect::<Option<Vec<_>>>()?;
    Some(ResponseBody::stream(FileBody::from_bytes(slices)))
}

/// Plan the answer to `req` for the file described by `meta`: preconditions, Range, headers.
pub(super) fn plan(
    req: &Parts,
    path: &NormalPath,
    meta: &FileMeta,
    form: FieldForm,
) -> Result<Planned, Box<Problem>> {
    let etag = &meta.etag;
    let modified = meta.modified;
    match conditional::evaluate(&req.method, &req.headers, etag, modified) {
        Precondition::Proceed => {}
        // RFC 9110 §15.4.5: a 304 repeats ETag, Vary and Content-Location, sends no body.
        Precondition::NotModified => {
            let (headers, prepared) = match (form, &meta.not_modified) {
                (FieldForm::Prepared, Some(fields)) => (HeaderMap::new(), Some(Arc::clone(fields))),
                _ => (meta.validators(), None),
            };
            return Ok(Planned {
                status: StatusCode::NOT_MODIFIED,
                headers,
                prepared,
                parts: Vec::new(),
            });
        }
        Precondition::Failed => {
            let problem = Problem::precondition_failed(&decoded(path));
            return Err(Box::new(negotiated_problem(problem, meta)));
        }
    }

    // RFC 9110 §14.2: Range only applies to GET, and If-Range may veto it.
    if req.method == Method::GET {
        match requested_ranges(req, etag, modified, meta.len) {
            Ranges::Whole => {}
            Ranges::Unsatisfiable => {
                let mut problem = Problem::range_not_satisfiable(&decoded(path), meta.len);
                problem
                    .headers
                    .insert(header::ETAG, meta.etag_value.clone());
                if let Some(last_modified) = &meta.last_modified {
                    problem
                        .headers
                        .insert(header::LAST_MODIFIED, last_modified.clone());
                }
                return Err(Box::new(negotiated_problem(problem, meta)));
            }
            Ranges::Parts(ranges) => {
                // `partial` replaces the whole file's length and type.
                return Ok(partial(
                    meta.len,
                    meta.content_type.clone(),
                    meta.whole.clone(),
                    &ranges,
                ));
            }
        }
    }

    if !wants_body(&req.method) {
        // HEAD: the length stays in the map, as there is no body to take it from.
        return Ok(Planned {
            status: StatusCode::OK,
            headers: meta.whole.clone(),
            prepared: None,
            parts: Vec::new(),
        });
    }
    let (headers, prepared) = match (form, &meta.prepared) {
        (FieldForm::Prepared, Some(fields)) => (HeaderMap::new(), Some(Arc::clone(fields))),
        _ => (meta.whole.clone(), None),
    };
    Ok(Planned {
        status: StatusCode::OK,
        headers,
        prepared,
        parts: vec![Part::File {
            offset: 0,
            len: meta.len,
        }],
    })
}

/// `problem` about a negotiated variant, with the variant's `Vary` (merged with the
/// problem's own `Accept`) and `Content-Location`: the answer depended on `Accept-Language`
/// too, and its validators describe that variant (RFC 9110 §12.5.5, §8.7).
fn negotiated_problem(mut problem: Problem, meta: &FileMeta) -> Problem {
    match &meta.negotiated {
        // An encoding: the problem's own `Vary: Accept` stays, and the coding joins it.
        Some(n) if n.content_encoding.is_some() => {
            crate::handlers::policy::headers::add_vary(&mut problem.headers, "Accept-Encoding");
        }
        Some(n) => {
            problem.headers.insert(header::VARY, n.vary.clone());
            if let Some(location) = &n.content_location {
                problem
                    .headers
                    .insert(header::CONTENT_LOCATION, location.clone());
            }
        }
        None => {}
    }
    problem
}

/// What part of a GET's representation to send.
enum Ranges {
    /// 200 with everything.
    Whole,
    /// 416.
    Unsatisfiable,
    /// 206 with these ranges, sorted and coalesced.
    Parts(Vec<ByteRange>),
}

/// Whole when there is no (single) Range field, If-Range says the client's copy is stale,
/// the header is to be ignored (RFC 9110 §14.2), or its ranges do not fit the file (a
/// defence against a parser bug: never send wrong bytes).
fn requested_ranges(
    req: &Parts,
    etag: &EntityTag,
    modified: Option<SystemTime>,
    len: u64,
) -> Ranges {
    let mut fields = req.headers.get_all(header::RANGE).iter();
    let Some(value) = fields.next() else {
        return Ranges::Whole;
    };
    if fields.next().is_some() || !conditional::if_range_allows(&req.headers, etag, modified) {
        return Ranges::Whole;
    }
    match range::parse(value.as_bytes(), len) {
        RangeOutcome::Ignore => Ranges::Whole,
        RangeOutcome::Unsatisfiable => Ranges::Unsatisfiable,
        RangeOutcome::Satisfiable(ranges)
            if ranges.is_empty() || ranges.iter().any(|r| r.start > r.end || r.end >= len) =>
        {
            tracing::warn!(
                ?ranges,
                len,
                "range parser returned ranges outside the file"
            );
            Ranges::Whole
        }
        RangeOutcome::Satisfiable(ranges) => Ranges::Parts(ranges),
    }
}

/// 206 for one range (`Content-Range`), or several (`multipart/byteranges`, RFC 9110 §14.6).
fn partial(
    len: u64,
    content_type: HeaderValue,
    mut headers: HeaderMap,
    ranges: &[ByteRange],
) -> Planned {
    if let [r] = ranges {
        headers.insert(header::CONTENT_RANGE, content_range(r, len));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(r.len()));
        headers.insert(header::CONTENT_TYPE, content_type);
        return Planned {
            status: StatusCode::PARTIAL_CONTENT,
            headers,
            prepared: None,
            parts: vec![Part::File {
                offset: r.start,
                len: r.len(),
            }],
        };
    }
    let boundary = boundary();
    let content_type = content_type.to_str().unwrap_or("application/octet-stream");
    let mut parts = Vec::with_capacity(ranges.len() * 2 + 1);
    for (i, r) in ranges.iter().enumerate() {
        // The first delimiter needs no leading CRLF (RFC 2046 §5.1.1); the others do.
        let head = format!(
            "{}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
            if i == 0 { "" } else { "\r\n" },
            r.start,
            r.end,
            len
        );
        parts.push(Part::Bytes(head.into()));
        parts.push(Part::File {
            offset: r.start,
            len: r.len(),
        });
    }
    parts.push(Part::Bytes(format!("\r\n--{boundary}--\r\n").into()));
    let total: u64 = parts.iter().map(Part::len).sum();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    let multipart = format!("multipart/byteranges; boundary={boundary}");
    if let Ok(value) = HeaderValue::try_from(multipart) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    Planned {
        status: StatusCode::PARTIAL_CONTENT,
        headers,
        prepared: None,
        parts,
    }
}

/// The answer to `req` for a rendered listing.
pub(super) fn listing(
    req: &Parts,
    path: &NormalPath,
    rendered: Rendered,
) -> Result<Response<ResponseBody>, Box<Problem>> {
    let modified = http_time(rendered.last_modified);
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(header::ETAG, rendered.etag.to_header_value());
    if let Some(modified) = modified {
        headers.insert(header::LAST_MODIFIED, http_date(modified));
    }
    headers.insert(header::VARY, VARY_ACCEPT);
    match conditional::evaluate(&req.method, &req.headers, &rendered.etag, modified) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            return Ok(respond(
                StatusCode::NOT_MODIFIED,
                headers,
                ResponseBody::Empty,
            ));
        }
        Precondition::Failed => {
            return Err(Box::new(Problem::precondition_failed(&decoded(path))));
        }
    }
    headers.insert(header::CONTENT_TYPE, rendered.content_type);
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(rendered.body.len() as u64),
    );
    if rendered.html {
        headers.insert(header::CONTENT_SECURITY_POLICY, LISTING_CSP);
    }
    let body = if wants_body(&req.method) {
        ResponseBody::full(rendered.body)
    } else {
        ResponseBody::Empty
    };
    Ok(respond(StatusCode::OK, headers, body))
}

fn respond(status: StatusCode, headers: HeaderMap, body: ResponseBody) -> Response<ResponseBody> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

fn decoded(path: &NormalPath) -> String {
    decoded_path(path.segments(), path.trailing_slash())
}

/// `bytes a-b/len` (RFC 9110 §14.4).
fn content_range(r: &ByteRange, len: u64) -> HeaderValue {
    let value = format!("bytes {}-{}/{len}", r.start, r.end);
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("bytes */0"))
}

/// The time Last-Modified states and preconditions compare: whole seconds (an HTTP-date has
/// no more). `None` for a time in the future: RFC 9110 §8.8.2.1 forbids stating it, and
/// stating the present instead (as it allows) would make the date move with the clock on
/// every answer, so a client's own `If-Unmodified-Since` would fail a second later and its
/// `If-Modified-Since` never match. Such a file has no Last-Modified (§8.8.2: "SHOULD send"
/// only when it "can be reasonably and consistently determined"); its ETag validates it.
///
/// `None` too for a time before 1970, which `Last-Modified` could state (an HTTP-date has a
/// four-digit year) but the date formatter cannot: stating 1970 instead would be false.
fn http_time(t: SystemTime) -> Option<SystemTime> {
    if t > SystemTime::now() {
        return None;
    }
    let seconds = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

fn http_date(t: SystemTime) -> HeaderValue {
    HeaderValue::try_from(httpdate::fmt_http_date(t))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

/// A multipart boundary no file is likely to contain: 128 bits from the standard library's
/// randomly keyed hasher and a counter (RFC 2046 §5.1.1: at most 70 characters).
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let a = RandomState::new().hash_one((n, SystemTime::now()));
    let b = RandomState::new().hash_one((a, n));
    format!("usher-{a:016x}{b:016x}")
}
