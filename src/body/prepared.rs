//! An answer whose fields were rendered ahead: a cached file's 200 goes to HTTP/1.x as the
//! field lines made when the file was cached, copied into the head in one piece.
//!
//! Cloning the cached fields into the answer's map, dropping that map, and writing it field
//! by field cost about 1,160 of the 11,430 instructions usher spent on a keep-alive request
//! for a 1 KiB file (callgrind, `bench/instructions.sh` row a; and 1,120 of 12,260 on a
//! remembered 404 with a problem+json body, row j). A prepared answer's map holds
//! none of those fields: its body ([`ResponseBody::Prepared`]) carries them. So whatever may
//! read or change an answer's fields after its handler must first call [`thaw`], which puts
//! them into the map; the route's header policy does, and so does every connection but
//! HTTP/1.x (whose writer copies the rendered lines when the map is otherwise empty, and
//! thaws when it is not), and so does a custom error page. Only the static responder and
//! remembered problems make prepared answers, and only when their caller asks for them
//! ([`FieldForm`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{HeaderMap, Response};
use http_body::{Frame, SizeHint};

use super::ResponseBody;
use super::file::FileBody;
use super::open_file::OpenFile;

/// How an answer that can carry its fields rendered ahead carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldForm {
    /// In the answer's map, for any caller.
    Map,
    /// Rendered ahead, in the body: only for an HTTP/1.x connection, and only when nothing
    /// reads the fields before the connection writes them without first calling [`thaw`].
    Prepared,
}

impl FieldForm {
    /// The form for an answer to a request of `version`: prepared for HTTP/1.x, whose
    /// writer copies the lines.
    pub fn for_version(version: http::Version) -> Self {
        match version {
            http::Version::HTTP_10 | http::Version::HTTP_11 => FieldForm::Prepared,
            _ => FieldForm::Map,
        }
    }
}

/// Fields made once, kept both as a map and as the field lines HTTP/1.1 writes for them.
#[derive(Debug)]
pub struct RenderedFields {
    map: HeaderMap,
    lines: Bytes,
}

impl RenderedFields {
    /// `map` and its field lines; `None` if it holds a field the connection decides itself
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`, `Date`, `Server`): the writer
    /// adds those after the lines without looking into them.
    pub fn new(map: HeaderMap) -> Option<Self> {
        if !Self::can_hold(&map) {
            return None;
        }
        let mut lines = Vec::new();
        crate::http::put_field_lines(&map, &mut lines);
        Some(RenderedFields {
            map,
            lines: Bytes::from(lines),
        })
    }

    /// Whether `map` holds no field the connection decides itself (see [`RenderedFields::new`]).
    pub fn can_hold(map: &HeaderMap) -> bool {
        let managed = [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION, DATE, SERVER];
        !managed.iter().any(|name| map.contains_key(name))
    }

    /// The fields as a map.
    pub fn map(&self) -> &HeaderMap {
        &self.map
    }

    /// `name: value` CRLF for each field, in the map's order.
    pub fn lines(&self) -> &[u8] {
        &self.lines
    }
}

/// The body of a prepared answer, and its fields (see the module notes).
pub struct Prepared {
    fields: Arc<RenderedFields>,
    content: Content,
    /// Until when the same request would get this same answer: set by the file cache for an
    /// answer from an entry it validated (the entry's revalidation time), and kept only while
    /// nothing but the request decides the answer. The HTTP/1.1 connection may then answer a
    /// repeat of the request with it (`server::h1::express`).
    fresh_until: Option<Instant>,
    /// For an answer sent from an open file, what can tell whether the file still is the
    /// one the answer was made from: a repeat must ask it first.
    same_file: Option<Arc<dyn SameFile>>,
}

/// An open file a cached answer is sent from, which can tell whether it still is the file
/// the answer describes (its identity: device, inode, length, times).
pub trait SameFile: Send + Sync {
    /// The open file, if it is unchanged (one `statx`).
    fn if_unchanged(&self) -> Option<&Arc<OpenFile>>;

    /// The file's bytes as the cache read them with its identity, if it holds them.
    fn bytes(&self) -> Option<&Bytes>;
}

/// What a repeat of a prepared answer's request would be sent.
pub enum Repeat<'a> {
    /// Nothing (a 304).
    Nothing,
    /// These bytes; made from a file's, once that file is checked unchanged.
    Memory(&'a Bytes, Option<&'a Arc<dyn SameFile>>),
    /// `len` bytes from `from` of the file the check gives, once it gives one (the file is
    /// unchanged).
    File {
        /// The check, which gives the file.
        same: &'a Arc<dyn SameFile>,
        /// Where the bytes start.
        from: u64,
        /// How many.
        len: u64,
    },
}

/// What a prepared answer sends: nothing (a 304), bytes in memory (`None` once sent), or a
/// file's ranges (boxed: inline, they would make every `ResponseBody` larger).
enum Content {
    Empty,
    Memory(Option<Bytes>),
    File(Box<FileBody>),
}

impl Prepared {
    /// `body` with `fields`; `body` itself back when it is a stream or prepared already (a
    /// cached answer has none but empty, in-memory and file bodies).
    pub fn new(fields: Arc<RenderedFields>, body: ResponseBody) -> Result<Self, ResponseBody> {
        let content = match body {
            ResponseBody::Empty => Content::Empty,
            ResponseBody::Full(bytes) => Content::Memory(bytes),
            ResponseBody::File(file) => Content::File(Box::new(file)),
            other => return Err(other),
        };
        Ok(Prepared {
            fields,
            content,
            fresh_until: None,
            same_file: None,
        })
    }

    /// `body` carrying `fields` when it can ([`new`](Self::new)), else `body` as it is (its
    /// fields then belong in the map).
    pub fn wrap(fields: Arc<RenderedFields>, body: ResponseBody) -> ResponseBody {
        Self::new(fields, body).map_or_else(|body| body, ResponseBody::Prepared)
    }

    /// `body` carrying `fields`, as [`wrap`](Self::wrap), answering the same request alike
    /// until `fresh_until`, and, made from a file or sent from one, while `same_file` says it
    /// is unchanged (a file body is then sent from the file `same_file` gives).
    pub fn wrap_until(
        fields: Arc<RenderedFields>,
        body: ResponseBody,
        fresh_until: Option<Instant>,
        same_file: Option<Arc<dyn SameFile>>,
    ) -> ResponseBody {
        match Self::new(fields, body) {
            Ok(prepared) => ResponseBody::Prepared(Prepared {
                fresh_until,
                same_file,
                ..prepared
            }),
            Err(body) => body,
        }
    }

    /// What a repeat of the request would get, while it would get it: the fields, the body
    /// (in memory, or a whole file that can be checked), and until when.
    pub fn repeatable(&self) -> Option<(&RenderedFields, Repeat<'_>, Instant)> {
        let until = self.fresh_until?;
        let body = match (&self.content, &self.same_file) {
            (Content::Empty, None) => Repeat::Nothing,
            (Content::Memory(Some(bytes)), same) => Repeat::Memory(bytes, same.as_ref()),
            (Content::File(file), Some(same)) => {
                let (from, len) = file.single_range()?;
                Repeat::File { same, from, len }
            }
            _ => return None,
        };
        Some((&self.fields, body, until))
    }

    /// Until when a repeat of the request would get this answer, and what checks the file
    /// it is made from or sent from; `None` when it would not.
    pub fn freshness(&self) -> Option<(Instant, Option<Arc<dyn SameFile>>)> {
        Some((self.fresh_until?, self.same_file.clone()))
    }

    /// Forget until when the answer holds: something besides the request decided it.
    pub fn forget_freshness(&mut self) {
        self.fresh_until = None;
        self.same_file = None;
    }

    /// The fields rendered ahead, as a map.
    pub fn fields(&self) -> &HeaderMap {
        self.fields.map()
    }

    /// What the answer sends, as bytes the file cache holds (the same bytes for every answer
    /// while its entry lives), when it sends them whole: from memory, or from the open file
    /// whose bytes the cache also holds.
    pub fn cached_bytes(&self) -> Option<Bytes> {
        let bytes = match &self.content {
            Content::Memory(bytes) => bytes.clone()?,
            Content::File(_) => self.same_file.as_ref()?.bytes()?.clone(),
            Content::Empty => return None,
        };
        (self.size_hint().exact() == Some(bytes.len() as u64)).then_some(bytes)
    }

    /// The fields, and the body as a plain one.
    pub fn into_parts(self) -> (Arc<RenderedFields>, ResponseBody) {
        let body = match self.content {
            Content::Empty => ResponseBody::Empty,
            Content::Memory(bytes) => ResponseBody::Full(bytes),
            Content::File(file) => ResponseBody::File(*file),
        };
        (self.fields, body)
    }

    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match &mut self.content {
            Content::Empty => Poll::Ready(None),
            Content::Memory(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Content::File(file) => http_body::Body::poll_frame(Pin::new(&mut **file), cx),
        }
    }

    pub(super) fn is_end_stream(&self) -> bool {
        match &self.content {
            Content::Empty => true,
            Content::Memory(bytes) => bytes.is_none(),
            Content::File(file) => http_body::Body::is_end_stream(&**file),
        }
    }

    pub(super) fn size_hint(&self) -> SizeHint {
        match &self.content {
            Content::Empty => SizeHint::with_exact(0),
            Content::Memory(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Content::File(file) => http_body::Body::size_hint(&**file),
        }
    }
}

/// Forget until when a prepared answer holds, if `response` is one (see
/// [`Prepared::forget_freshness`]).
pub fn forget_freshness(response: &mut Response<ResponseBody>) {
    if let ResponseBody::Prepared(prepared) = response.body_mut() {
        prepared.forget_freshness();
    }
}

/// Make `response` a prepared answer again after its fields changed ([`thaw`]): its map's
/// fields rendered, its body carrying them, repeated alike until `fresh_until` (and while
/// `same_file` says it is unchanged, as [`Prepared::wrap_until`]). Left as it is when its map
/// holds a field the connection decides, or its body cannot carry fields.
pub fn freeze(
    response: &mut Response<ResponseBody>,
    fresh_until: Instant,
    same_file: Option<Arc<dyn SameFile>>,
) {
    let body = response.body();
    let carries = matches!(
        body,
        ResponseBody::Empty | ResponseBody::Full(_) | ResponseBody::File(_)
    );
    if !carries || !RenderedFields::can_hold(response.headers()) {
        return;
    }
    let Some(fields) = RenderedFields::new(std::mem::take(response.headers_mut())) else {
        return;
    };
    let body = std::mem::replace(response.body_mut(), ResponseBody::Empty);
    *response.body_mut() =
        Prepared::wrap_until(Arc::new(fields), body, Some(fresh_until), same_file);
}

/// Put a prepared answer's fields into its map, ahead of any set there since (a field of
/// the same name set since replaces the prepared one, as `insert` would have), and make its
/// body a plain one. Any other answer is left as it is.
pub fn thaw(response: &mut Response<ResponseBody>) {
    if !matches!(response.body(), ResponseBody::Prepared(_)) {
        return;
    }
    let ResponseBody::Prepared(prepared) =
        std::mem::replace(response.body_mut(), ResponseBody::Empty)
    else {
        return;
    };
    let (fields, body) = prepared.into_parts();
    let mut map = fields.map().clone();
    map.extend(std::mem::take(response.headers_mut()));
    *response.headers_mut() = map;
    *response.body_mut() = body;
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, VARY};
    use http::{HeaderValue, StatusCode};
    use http_body_util::BodyExt as _;

    fn fields() -> Arc<RenderedFields> {
        let mut map = HeaderMap::new();
        map.insert(ETAG, HeaderValue::from_static("\"x\""));
        map.append(VARY, HeaderValue::from_static("Accept-Language"));
        map.append(VARY, HeaderValue::from_static("Accept-Encoding"));
        map.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        Arc::new(RenderedFields::new(map).unwrap())
    }

    #[test]
    fn lines_are_the_maps_fields_in_order() {
        assert_eq!(
            fields().lines(),
            b"etag: \"x\"\r\nvary: Accept-Language\r\nvary: Accept-Encoding\r\n\
              content-type: text/plain\r\n"
        );
        assert!(
            RenderedFields::new(HeaderMap::new())
                .unwrap()
                .lines()
                .is_empty()
        );
    }

    #[test]
    fn fields_the_connection_writes_are_never_rendered_ahead() {
        for name in [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION, DATE, SERVER] {
            let mut map = HeaderMap::new();
            map.insert(ETAG, HeaderValue::from_static("\"x\""));
            map.insert(name.clone(), HeaderValue::from_static("1"));
            assert!(RenderedFields::new(map).is_none(), "{name}");
        }
    }

    #[tokio::test]
    async fn thaw_puts_the_fields_first_and_keeps_the_body() {
        let body = Prepared::new(fields(), ResponseBody::full("hello")).unwrap();
        let mut response = Response::new(ResponseBody::Prepared(body));
        *response.status_mut() = StatusCode::OK;
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        thaw(&mut response);
        let names: Vec<_> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("etag", "\"x\""),
                ("vary", "Accept-Language"),
                ("vary", "Accept-Encoding"),
                // Set since: replaces the prepared type, as `insert` does.
                ("content-type", "text/html"),
                ("cache-control", "no-cache"),
            ]
        );
        assert!(matches!(response.body(), ResponseBody::Full(Some(_))));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
    }

    #[test]
    fn thaw_leaves_other_answers_alone() {
        let mut response = Response::new(ResponseBody::full("x"));
        response
            .headers_mut()
            .insert(ETAG, HeaderValue::from_static("\"y\""));
        thaw(&mut response);
        assert_eq!(response.headers().len(), 1);
        assert!(matches!(response.body(), ResponseBody::Full(Some(_))));
    }

    #[tokio::test]
    async fn a_prepared_body_reads_as_its_content() {
        let mut body =
            ResponseBody::Prepared(Prepared::new(fields(), ResponseBody::full("abc")).unwrap());
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(3));
        assert!(!http_body::Body::is_end_stream(&body));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "abc");
        assert!(http_body::Body::is_end_stream(&body));
        let empty = ResponseBody::Prepared(Prepared::new(fields(), ResponseBody::Empty).unwrap());
        assert_eq!(http_body::Body::size_hint(&empty).exact(), Some(0));
        assert!(http_body::Body::is_end_stream(&empty));
        let stream =
            ResponseBody::stream(http_body_util::Empty::<Bytes>::new().map_err(|e| match e {}));
        assert!(Prepared::new(fields(), stream).is_err());
    }
}
