//! The response body every handler produces: empty, bytes in memory, file ranges, or a stream.
//!
//! One enum instead of a boxed trait object for the common cases, so that small
//! answers (errors, listings, small files) cost no allocation beyond their bytes, and so the
//! HTTP/1.1 writer can see file ranges and send them zero-copy (`sendfile`) instead of
//! reading them into memory; HTTP/2 polls the same ranges as frames.

pub mod compressed;
pub mod file;
pub mod open_file;
pub mod prepared;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// A boxed stream of body frames, for files and multipart answers.
pub type BoxStream =
    Pin<Box<dyn http_body::Body<Data = Bytes, Error = std::io::Error> + Send + 'static>>;

/// The body of every response usher sends.
pub enum ResponseBody {
    /// No body (HEAD, 304, 204).
    Empty,
    /// A body held in memory; `None` once sent.
    Full(Option<Bytes>),
    /// Ranges of an open file and bytes in memory, in order.
    File(file::FileBody),
    /// A body produced as it is sent.
    Stream(BoxStream),
    /// A cached file's bytes or ranges, with the answer's fields rendered ahead: they are
    /// not in the answer's map until [`prepared::thaw`] puts them there.
    Prepared(prepared::Prepared),
}

impl ResponseBody {
    /// A body that holds `bytes`.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        ResponseBody::Full(Some(bytes.into()))
    }

    /// A body streamed from `body`.
    pub fn stream<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes, Error = std::io::Error> + Send + 'static,
    {
        ResponseBody::Stream(Box::pin(body))
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResponseBody::Empty => f.write_str("Empty"),
            ResponseBody::Full(b) => write!(f, "Full({:?} bytes)", b.as_ref().map(Bytes::len)),
            ResponseBody::File(b) => {
                write!(f, "File({} bytes)", http_body::Body::size_hint(b).lower())
            }
            ResponseBody::Stream(_) => f.write_str("Stream"),
            ResponseBody::Prepared(p) => write!(f, "Prepared({} bytes)", p.size_hint().lower()),
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::File(b) => Pin::new(b).poll_frame(cx),
            ResponseBody::Stream(s) => s.as_mut().poll_frame(cx),
            ResponseBody::Prepared(p) => p.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Empty => true,
            ResponseBody::Full(b) => b.is_none(),
            ResponseBody::File(b) => b.is_end_stream(),
            ResponseBody::Stream(s) => s.is_end_stream(),
            ResponseBody::Prepared(p) => p.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::File(b) => b.size_hint(),
            ResponseBody::Stream(s) => s.size_hint(),
            ResponseBody::Prepared(p) => p.size_hint(),
        }
    }
}
