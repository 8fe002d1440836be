//! Outcome -> response: preconditions (RFC 9110 §13.2.2), ranges (§14), headers and body.
//!
//! Pure apart from the body stream it sets up: every filesystem call happened in `resolve`.

use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};

use super::listing::Rendered;
use super::resolve::{FileRep, Outcome};
use super::stream::{FileBody, Part};
use super::{VARY_ACCEPT, decoded_path, wants_body};
use crate::body::ResponseBody;
use crate::http::conditional::{self, Precondition};
use crate::http::etag::EntityTag;
use crate::http::range::{self, ByteRange, RangeOutcome};
use crate::http::target::NormalPath;
use crate::problem::Problem;

/// `Accept-Ranges: bytes` (RFC 9110 §14.3).
const BYTES: HeaderValue = HeaderValue::from_static("bytes");

/// Listings load nothing and run nothing; only their inline style is allowed.
const LISTING_CSP: HeaderValue =
    HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'");

/// Build the response for `outcome`.
pub(super) fn reply(
    req: &Parts,
    path: &NormalPath,
    outcome: Outcome,
) -> Result<Response<ResponseBody>, Box<Problem>> {
    match outcome {
        Outcome::File(rep) => file(req, path, *rep),
        Outcome::Listing(rendered) => listing(req, path, *rendered),
        Outcome::Redirect(location) => {
            // RFC 9110 §15.4.2: the directory's URL ends in `/`, so relative links resolve.
            let mut res = Response::new(ResponseBody::Empty);
            *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
            res.headers_mut().insert(header::LOCATION, location);
            res.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
            Ok(res)
        }
        Outcome::Refused(problem) => Err(problem),
    }
}

fn file(
    req: &Parts,
    path: &NormalPath,
    rep: FileRep,
) -> Result<Response<ResponseBody>, Box<Problem>> {
    let modified = http_time(rep.modified);
    let etag = EntityTag::for_file(rep.len, rep.modified, rep.inode);
    let mut headers = HeaderMap::with_capacity(10);
    headers.insert(header::ETAG, etag.to_header_value());
    headers.insert(header::LAST_MODIFIED, http_date(modified));
    if let Some(n) = &rep.negotiated {
        headers.insert(header::VARY, n.vary.clone());
        headers.insert(header::CONTENT_LOCATION, n.content_location.clone());
    }
    match conditional::evaluate(&req.method, &req.headers, &etag, modified) {
        Precondition::Proceed => {}
        // RFC 9110 §15.4.5: a 304 repeats ETag, Vary and Content-Location, sends no body.
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
    headers.insert(header::ACCEPT_RANGES, BYTES);
    if let Some(language) = rep
        .negotiated
        .as_ref()
        .and_then(|n| n.content_language.clone())
    {
        headers.insert(header::CONTENT_LANGUAGE, language);
    }

    // RFC 9110 §14.2: Range only applies to GET, and If-Range may veto it.
    if req.method == Method::GET {
        match requested_ranges(req, &etag, modified, rep.len) {
            Ranges::Whole => {}
            Ranges::Unsatisfiable => {
                let mut problem = Problem::range_not_satisfiable(&decoded(path), rep.len);
                problem.headers.insert(header::ETAG, etag.to_header_value());
                problem
                    .headers
                    .insert(header::LAST_MODIFIED, http_date(modified));
                return Err(Box::new(problem));
            }
            Ranges::Parts(ranges) => {
                let Some(file) = rep.file else {
                    tracing::warn!(path = %decoded(path), "GET resolved without an open file");
                    return Err(Box::new(Problem::internal()));
                };
                let content_type = rep.content_type;
                return Ok(partial(file, rep.len, content_type, headers, &ranges));
            }
        }
    }

    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(rep.len));
    headers.insert(header::CONTENT_TYPE, rep.content_type);
    let body = if !wants_body(&req.method) {
        ResponseBody::Empty
    } else if let Some(bytes) = rep.small {
        ResponseBody::full(bytes)
    } else if let Some(file) = rep.file {
        ResponseBody::stream(FileBody::new(
            file,
            vec![Part::File {
                offset: 0,
                len: rep.len,
            }],
        ))
    } else {
        tracing::warn!(path = %decoded(path), "GET resolved without an open file");
        return Err(Box::new(Problem::internal()));
    };
    Ok(respond(StatusCode::OK, headers, body))
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
fn requested_ranges(req: &Parts, etag: &EntityTag, modified: SystemTime, len: u64) -> Ranges {
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
    file: File,
    len: u64,
    content_type: HeaderValue,
    mut headers: HeaderMap,
    ranges: &[ByteRange],
) -> Response<ResponseBody> {
    if let [r] = ranges {
        headers.insert(header::CONTENT_RANGE, content_range(r, len));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(r.len()));
        headers.insert(header::CONTENT_TYPE, content_type);
        let body = FileBody::new(
            file,
            vec![Part::File {
                offset: r.start,
                len: r.len(),
            }],
        );
        return respond(
            StatusCode::PARTIAL_CONTENT,
            headers,
            ResponseBody::stream(body),
        );
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
    let body = FileBody::new(file, parts);
    let total = http_body::Body::size_hint(&body)
        .exact()
        .unwrap_or_default();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    let multipart = format!("multipart/byteranges; boundary={boundary}");
    if let Ok(value) = HeaderValue::try_from(multipart) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    respond(
        StatusCode::PARTIAL_CONTENT,
        headers,
        ResponseBody::stream(body),
    )
}

fn listing(
    req: &Parts,
    path: &NormalPath,
    rendered: Rendered,
) -> Result<Response<ResponseBody>, Box<Problem>> {
    let modified = http_time(rendered.last_modified);
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(header::ETAG, rendered.etag.to_header_value());
    headers.insert(header::LAST_MODIFIED, http_date(modified));
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
    decoded_path(&path.segments, path.trailing_slash)
}

/// `bytes a-b/len` (RFC 9110 §14.4).
fn content_range(r: &ByteRange, len: u64) -> HeaderValue {
    let value = format!("bytes {}-{}/{len}", r.start, r.end);
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("bytes */0"))
}

/// The time Last-Modified states and preconditions compare: whole seconds (an HTTP-date has
/// no more), and never later than now (RFC 9110 §8.8.2.1).
fn http_time(t: SystemTime) -> SystemTime {
    let t = t.min(SystemTime::now());
    UNIX_EPOCH + Duration::from_secs(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
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
