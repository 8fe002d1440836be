//! A route's `compress`: answers of text-like types compressed for clients that take a
//! coding (RFC 9110 §8.4 and §12.5.3), from any responder: files, CGI, FastCGI, proxies.
//!
//! An answer is compressed when all of these hold, as nginx's `gzip` and Caddy's `encode`
//! decide:
//! - its type is text-like ([`compressible_type`]): `text/*`, JSON, XML, JavaScript, SVG,
//!   WebAssembly, and uncompressed font and icon formats; images, video and archives are
//!   compressed already;
//! - it has content: not a HEAD's (whose fields are the GET's, compressed), 204, 206 (a
//!   range is of the identity bytes) or 304, nor any other 1xx–3xx but 200–203;
//! - it is at least [`MIN_LENGTH`] bytes, when its length is known;
//! - it has no `Content-Encoding` (a precompressed file, a program's own gzip) and its
//!   `Cache-Control` has no `no-transform` (RFC 9111 §5.2.2.6);
//! - the request's `Accept-Encoding` takes one of the route's codings (the best by weight,
//!   then by the route's order).
//!
//! Every answer that would be compressed but for `Accept-Encoding` says
//! `Vary: Accept-Encoding` (RFC 9110 §12.5.5), so a cache keeps both forms apart. A
//! compressed answer has no `Content-Length` (it is sent chunked, or framed by HTTP/2) and no
//! `Accept-Ranges`, and its strong `ETag` becomes weak (RFC 9110 §8.8.1: the bytes differ,
//! the content is the same), as nginx does: `If-None-Match` still matches it (weak
//! comparison, §13.1.2), and `If-Range` never does (strong comparison), so a range request
//! after a compressed answer gets the whole identity answer rather than a wrong slice.

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH,
    CONTENT_LOCATION, CONTENT_RANGE, CONTENT_TYPE, ETAG,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body::Body as _;

use super::compressed_cache::{self, Kept};
use super::headers::add_vary;
use crate::body::ResponseBody;
use crate::body::compressed::{self, Coding, Compressed};
use crate::body::file::{FileBody, Part};
use crate::body::open_file::OpenFile;
use crate::body::prepared::SameFile;
use crate::http::target::NormalPath;
use std::sync::Arc;

/// Answers shorter than this (512 bytes, Caddy's default) are sent as they are: a compressed
/// stream's own framing eats most of what it could save.
pub const MIN_LENGTH: u64 = 512;

/// Answers compressed as they are sent at once, in the whole process, at most (64): each
/// holds its encoder's window and tables and the file's read-ahead (a stalled reader's
/// answer held 2.0 MiB with gzip, 4.6 with zstd, 5.9 with brotli: 20 stalled readers of a
/// 45 MB text file, RSS, 2026-11-28), and past the cores' worth compressing more at once
/// only waits. Past it, an answer goes uncompressed (with `Vary`), as when a client takes no
/// coding. A cached page's kept form holds no encoder and is always sent.
pub const MAX_STREAMS: usize = 64;

/// The codings a route compresses with, in its order of preference; none for a route that
/// says `compress = false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compress {
    codings: Vec<Coding>,
}

/// What to do with one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Nothing: the answer does not depend on `Accept-Encoding`.
    Leave,
    /// Add `Vary: Accept-Encoding` only: it would be compressed for another client.
    Vary,
    /// Compress it with this coding.
    Encode(Coding),
}

impl Compress {
    /// Compress with `codings`, preferred in that order (duplicates dropped); `None` when
    /// there are none.
    pub fn new(codings: impl IntoIterator<Item = Coding>) -> Option<Self> {
        let mut list = Vec::new();
        for coding in codings {
            if !list.contains(&coding) {
                list.push(coding);
            }
        }
        (!list.is_empty()).then_some(Compress { codings: list })
    }

    /// No coding: the route's answers are sent as they are.
    pub fn off() -> Self {
        Compress {
            codings: Vec::new(),
        }
    }

    /// Every coding usher has ([`Coding::ALL`]).
    pub fn all() -> Self {
        Compress {
            codings: Coding::ALL.to_vec(),
        }
    }

    /// The codings, in order of preference.
    pub fn codings(&self) -> &[Coding] {
        &self.codings
    }

    /// One line for `usher explain`: the codings, and the one this request's
    /// `Accept-Encoding` would get for a text-like answer.
    pub fn explain(&self, req_fields: &HeaderMap) -> String {
        if self.codings.is_empty() {
            return "compress: off".to_owned();
        }
        let names = self.codings.iter().map(|c| c.name()).collect::<Vec<_>>();
        let text = HeaderMap::from_iter([(CONTENT_TYPE, HeaderValue::from_static("text/html"))]);
        let chosen = match self.plan(req_fields, StatusCode::OK, &text, None) {
            Plan::Encode(coding) => format!("this request's text answers in {}", coding.name()),
            _ => "this request's Accept-Encoding takes none of them".to_owned(),
        };
        format!(
            "compress: {} for text-like answers; {chosen}",
            names.join(", ")
        )
    }

    /// What to do with an answer of `status` and `fields`, `length` bytes long when known,
    /// to a request with `req_fields`.
    pub fn plan(
        &self,
        req_fields: &HeaderMap,
        status: StatusCode,
        fields: &HeaderMap,
        length: Option<u64>,
    ) -> Plan {
        if self.codings.is_empty() {
            return Plan::Leave;
        }
        let has_content = matches!(status.as_u16(), 200..=203 | 206 | 400..=599);
        let type_fits = fields
            .get(CONTENT_TYPE)
            .and_then(|t| t.to_str().ok())
            .is_some_and(compressible_type);
        let no_transform = fields
            .get_all(CACHE_CONTROL)
            .iter()
            .flat_map(|v| crate::http::list_elements(v.as_bytes()))
            .any(|d| d.eq_ignore_ascii_case(b"no-transform"));
        if !has_content || !type_fits || no_transform || fields.contains_key(CONTENT_ENCODING) {
            return Plan::Leave;
        }
        // A range is of the identity bytes; the whole answer would vary (RFC 9110 §15.3.7:
        // a 206 carries the `Vary` its 200 would).
        if status == StatusCode::PARTIAL_CONTENT || fields.contains_key(CONTENT_RANGE) {
            return Plan::Vary;
        }
        if length.is_some_and(|n| n < MIN_LENGTH) {
            return Plan::Leave;
        }
        let accept = crate::http::header_list(req_fields, &ACCEPT_ENCODING);
        // At most one of each coding: names on the stack, not a vector per answer.
        let mut names = [""; Coding::ALL.len()];
        for (name, coding) in names.iter_mut().zip(&self.codings) {
            *name = coding.name();
        }
        let names = &names[..self.codings.len()];
        let ranked =
            crate::http::accept::encoding::ranked(accept.as_ref().map(|a| a.as_bytes()), names);
        match ranked.first() {
            Some(&best) => Plan::Encode(self.codings[best]),
            None => Plan::Vary,
        }
    }

    /// Compress `res`, the answer to `req`, if [`Compress::plan`] says so, and set its fields.
    /// `cached`: the bytes it sends, when they are the file cache's (the same for every
    /// answer), whose compressed form is kept ([`super::compressed_cache`]).
    ///
    /// A 304 gets the `Vary` and the weak `ETag` its 200 would (RFC 9110 §15.4.5), its type
    /// told by the name it answers for (`path`, or its `Content-Location`): a 304 has no
    /// `Content-Type`. Its length is not known, so a text file under [`MIN_LENGTH`] gets them
    /// too, where its 200 does not: a `Vary` too many, and a weak tag that still matches.
    pub fn apply(
        &self,
        req: &Parts,
        path: &NormalPath,
        res: &mut Response<ResponseBody>,
        cached: Option<Bytes>,
    ) {
        if req.method == Method::CONNECT {
            return;
        }
        if res.status() == StatusCode::NOT_MODIFIED {
            self.not_modified(req, path, res);
            return;
        }
        let is_head = req.method == Method::HEAD;
        // A prepared answer (a cached file's) keeps its fields rendered, and so its place in
        // the express lane, unless they change: read them where they are.
        let body_length = (!is_head).then(|| res.body().size_hint().exact()).flatten();
        let mut repeatable = None;
        let plan = match res.body() {
            ResponseBody::Prepared(prepared) if res.headers().is_empty() => {
                repeatable = prepared.freshness();
                let fields = prepared.fields();
                let length = declared_length(fields).or(body_length);
                self.plan(&req.headers, res.status(), fields, length)
            }
            _ => {
                crate::body::prepared::thaw(res);
                let length = declared_length(res.headers()).or(body_length);
                self.plan(&req.headers, res.status(), res.headers(), length)
            }
        };
        if plan != Plan::Leave {
            crate::body::prepared::thaw(res);
        }
        let coding = match plan {
            Plan::Leave => return,
            Plan::Vary => {
                add_vary(res.headers_mut(), "Accept-Encoding");
                return;
            }
            Plan::Encode(coding) => coding,
        };
        // A kept form is repeated as the answer it replaces would have been, with the same
        // check of the file it was made from.
        let mut repeat = None;
        let body = if is_head {
            // The fields a GET would get, no content, and no length: a GET's is unknown.
            ResponseBody::stream(Compressed::nothing())
        } else if let Some(kept) = cached
            .filter(|bytes| Some(bytes.len() as u64) == body_length)
            .and_then(|bytes| compressed_cache::compressed(&bytes, coding))
        {
            // Whole, so with a length.
            match kept {
                Kept::Memory(bytes) => {
                    repeat = repeatable;
                    ResponseBody::full(bytes)
                }
                Kept::File { file, offset, len } => {
                    repeat = repeatable.map(|(until, original)| {
                        let form = Arc::clone(&file);
                        let same: Arc<dyn SameFile> = Arc::new(FormOf { original, form });
                        (until, Some(same))
                    });
                    ResponseBody::File(FileBody::shared(file, vec![Part::File { offset, len }]))
                }
            }
        } else if compressed::live() >= MAX_STREAMS {
            // Busy: this one goes as it is, and says it could have been compressed.
            add_vary(res.headers_mut(), "Accept-Encoding");
            return;
        } else {
            let body = std::mem::replace(res.body_mut(), ResponseBody::Empty);
            match Compressed::new(body, coding) {
                Ok(compressed) => ResponseBody::stream(compressed),
                Err((body, e)) => {
                    // The encoder could not start (zstd's context allocation): send as is.
                    *res.body_mut() = body;
                    tracing::warn!("could not start a {} encoder: {e}", coding.name());
                    return;
                }
            }
        };
        *res.body_mut() = body;
        let fields = res.headers_mut();
        fields.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.name()));
        fields.remove(CONTENT_LENGTH);
        fields.remove(ACCEPT_RANGES);
        add_vary(fields, "Accept-Encoding");
        weaken_etag(fields);
        if let Some((until, same_file)) = repeat {
            crate::body::prepared::freeze(res, until, same_file);
        }
    }
}

/// A compressed form kept in the cache's memory file, sent from it while the file it was
/// made from (if it was sent from one) is unchanged.
struct FormOf {
    original: Option<Arc<dyn SameFile>>,
    form: Arc<OpenFile>,
}

impl SameFile for FormOf {
    fn if_unchanged(&self) -> Option<&Arc<OpenFile>> {
        match &self.original {
            Some(original) => original.if_unchanged().map(|_| &self.form),
            None => Some(&self.form),
        }
    }

    fn bytes(&self) -> Option<&Bytes> {
        None
    }
}

impl Compress {
    /// [`Compress::apply`] on a 304.
    fn not_modified(&self, req: &Parts, path: &NormalPath, res: &mut Response<ResponseBody>) {
        crate::body::prepared::thaw(res);
        let name = res
            .headers()
            .get(CONTENT_LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.rsplit('/').next())
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                let last = path.last_segment().filter(|_| !path.trailing_slash());
                // A directory's 304 is its index page's (or its listing's).
                Some(last.unwrap_or("index.html").to_owned())
            });
        let media_type = name.as_deref().and_then(crate::http::mime::media_type_for);
        let Some(media_type) = media_type else {
            return;
        };
        let mut as_200 = HeaderMap::new();
        as_200.insert(CONTENT_TYPE, HeaderValue::from_static(media_type));
        if let Some(cc) = res.headers().get(CACHE_CONTROL) {
            as_200.insert(CACHE_CONTROL, cc.clone());
        }
        match self.plan(&req.headers, StatusCode::OK, &as_200, None) {
            Plan::Leave => {}
            Plan::Vary => add_vary(res.headers_mut(), "Accept-Encoding"),
            Plan::Encode(_) => {
                add_vary(res.headers_mut(), "Accept-Encoding");
                weaken_etag(res.headers_mut());
            }
        }
    }
}

/// Make a strong `ETag` in `fields` weak (RFC 9110 §8.8.1: the bytes differ, the content is
/// the same).
fn weaken_etag(fields: &mut HeaderMap) {
    if let Some(etag) = fields.get(ETAG)
        && !etag.as_bytes().starts_with(b"W/")
    {
        let mut weak = b"W/".to_vec();
        weak.extend_from_slice(etag.as_bytes());
        if let Ok(weak) = HeaderValue::from_bytes(&weak) {
            fields.insert(ETAG, weak);
        }
    }
}

/// The length `fields` state (`Content-Length`: a HEAD's, a program's). Otherwise the
/// caller asks the body, unless it answers a HEAD (its body may be empty or the GET's).
fn declared_length(fields: &HeaderMap) -> Option<u64> {
    fields
        .get(CONTENT_LENGTH)
        .and_then(|v| crate::http::parse_decimal(v.as_bytes()))
}

/// Whether content of `content_type` (a `Content-Type` value) is worth compressing: text and
/// the structured formats written as text, and the uncompressed binary formats fonts and
/// icons come in.
pub fn compressible_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let (kind, subtype) = (kind.to_ascii_lowercase(), subtype.to_ascii_lowercase());
    if kind == "text" {
        return true;
    }
    // RFC 6839: `+json` and `+xml` name a JSON or XML text whatever it describes.
    if subtype.ends_with("+json") || subtype.ends_with("+xml") {
        return true;
    }
    matches!(
        (kind.as_str(), subtype.as_str()),
        (
            "application",
            "json"
                | "javascript"
                | "x-javascript"
                | "ecmascript"
                | "xml"
                | "wasm"
                | "x-ndjson"
                | "yaml"
                | "x-yaml"
                | "toml"
                | "graphql"
                | "x-sh"
                | "x-tex"
                | "rtf"
                | "postscript"
                | "vnd.ms-fontobject"
                | "x-font-ttf"
                | "x-font-otf"
        ) | ("font", "ttf" | "otf" | "collection")
            | (
                "image",
                "bmp" | "x-icon" | "vnd.microsoft.icon" | "x-ms-bmp"
            )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn plan(accept: &str, status: u16, answer: &[(&str, &str)], length: Option<u64>) -> Plan {
        let req = fields(&[("accept-encoding", accept)]);
        let status = StatusCode::from_u16(status).unwrap();
        Compress::all().plan(&req, status, &fields(answer), length)
    }

    const HTML: [(&str, &str); 1] = [("content-type", "text/html; charset=utf-8")];

    #[test]
    fn text_for_a_client_that_takes_a_coding_is_compressed_with_the_best() {
        assert_eq!(
            plan("gzip", 200, &HTML, Some(4096)),
            Plan::Encode(Coding::Gzip)
        );
        assert_eq!(
            plan("gzip, br, zstd", 200, &HTML, None),
            Plan::Encode(Coding::Zstd)
        );
        assert_eq!(
            plan("gzip, br;q=0.9", 200, &HTML, None),
            Plan::Encode(Coding::Gzip)
        );
        assert_eq!(plan("*", 404, &HTML, None), Plan::Encode(Coding::Zstd));
        // A route's own order decides among equals.
        let gzip_first = Compress::new([Coding::Gzip, Coding::Br]).unwrap();
        let req = fields(&[("accept-encoding", "br, gzip, zstd")]);
        let planned = gzip_first.plan(&req, StatusCode::OK, &fields(&HTML), None);
        assert_eq!(planned, Plan::Encode(Coding::Gzip));
    }

    #[test]
    fn a_client_taking_none_of_the_codings_gets_vary_only() {
        assert_eq!(plan("identity", 200, &HTML, Some(4096)), Plan::Vary);
        assert_eq!(plan("deflate", 200, &HTML, Some(4096)), Plan::Vary);
        assert_eq!(plan("gzip;q=0, *;q=0", 200, &HTML, Some(4096)), Plan::Vary);
        let req = HeaderMap::new();
        let planned = Compress::all().plan(&req, StatusCode::OK, &fields(&HTML), None);
        assert_eq!(planned, Plan::Vary, "no Accept-Encoding at all");
    }

    #[test]
    fn answers_without_content_or_already_coded_are_left() {
        for status in [204, 301, 304, 101] {
            assert_eq!(plan("gzip", status, &HTML, None), Plan::Leave, "{status}");
        }
        // A range is sent as it is, and says the whole answer varies.
        assert_eq!(plan("gzip", 206, &HTML, None), Plan::Vary);
        assert_eq!(
            plan("gzip", 200, &HTML, Some(511)),
            Plan::Leave,
            "too short"
        );
        assert_eq!(
            plan("gzip", 200, &HTML, Some(512)),
            Plan::Encode(Coding::Gzip)
        );
        let coded = [HTML[0], ("content-encoding", "gzip")];
        assert_eq!(plan("gzip", 200, &coded, None), Plan::Leave);
        let ranged = [HTML[0], ("content-range", "bytes 0-9/100")];
        assert_eq!(plan("gzip", 200, &ranged, None), Plan::Vary);
        let kept = [HTML[0], ("cache-control", "public, No-Transform")];
        assert_eq!(plan("gzip", 200, &kept, None), Plan::Leave);
        let untyped: [(&str, &str); 0] = [];
        assert_eq!(plan("gzip", 200, &untyped, None), Plan::Leave);
    }

    /// Past [`MAX_STREAMS`] encoders alive, answers go uncompressed, with `Vary`; once they
    /// end, answers are compressed again.
    #[test]
    fn busy_answers_go_uncompressed() {
        let req = http::Request::get("/")
            .header("accept-encoding", "gzip")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let answer = || {
            let body = http_body_util::BodyExt::map_err(
                http_body_util::Full::new(Bytes::from(vec![b'a'; 4096])),
                |never| match never {},
            );
            let mut res = Response::new(ResponseBody::stream(body));
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            let path = crate::http::target::normalise("/").unwrap();
            Compress::all().apply(&req, &path, &mut res, None);
            res
        };
        let held: Vec<_> = (0..MAX_STREAMS).map(|_| answer()).collect();
        let busy = answer();
        assert_eq!(busy.headers().get(CONTENT_ENCODING), None);
        assert_eq!(busy.headers()[http::header::VARY], "Accept-Encoding");
        drop(held);
        let again = answer();
        assert_eq!(again.headers()[CONTENT_ENCODING], "gzip");
    }

    #[test]
    fn text_like_types_only() {
        for t in [
            "text/html",
            "TEXT/CSS",
            "text/plain; charset=utf-8",
            "application/json",
            "application/problem+json",
            "application/javascript",
            "image/svg+xml",
            "application/wasm",
            "application/atom+xml; charset=utf-8",
            "font/ttf",
            "image/x-icon",
        ] {
            assert!(compressible_type(t), "{t}");
        }
        for t in [
            "image/png",
            "image/jpeg",
            "video/mp4",
            "application/zip",
            "application/gzip",
            "font/woff2",
            "application/octet-stream",
            "text",
            "",
            "/",
            ";text/html",
            "application/json-seq-not",
        ] {
            assert!(!compressible_type(t), "{t}");
        }
    }
}
