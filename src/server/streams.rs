//! A bound on the HTTP/2 streams whose answers are in flight, across every connection.
//!
//! A stream's answer from a file holds the file open until its last byte is sent, and a
//! client that opens a connection's 128 streams and grants no flow-control window (RFC 9113
//! §6.9) keeps every one of them open for as long as it likes. A black-box review held 20,000
//! descriptors with 80 such connections: `accept` then failed (EMFILE), and every other
//! client's request got a 500 because no file could be opened (the pattern of
//! CVE-2019-9517). RFC 9113 §10.5 asks a server to bound what a peer can make it hold.
//!
//! So the streams whose answer holds a file or a stream (a program, an upstream) draw on one
//! process-wide budget of half the descriptors usher may open: past it, a new stream is
//! answered 503 with `Retry-After` at once, holding nothing, while HTTP/1.1 connections,
//! `accept` and the streams already admitted keep their descriptors. A stream answered from
//! memory gives its place back as soon as its answer is made.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::body::ResponseBody;
use crate::problem::Problem;

/// Streams admitted at once when the open file limit cannot be read.
const FALLBACK: usize = 4096;

/// The budget: half the soft limit on open files (read once, after `main` raised it).
fn budget() -> &'static Arc<Semaphore> {
    static BUDGET: OnceLock<Arc<Semaphore>> = OnceLock::new();
    BUDGET.get_or_init(|| {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(FALLBACK, |(soft, _)| {
                usize::try_from(soft / 2).unwrap_or(FALLBACK)
            });
        // Never more than half, even of a small limit (`ulimit -n 256`): the other half is
        // for connections, `accept` and HTTP/1.1's files.
        Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS)))
    })
}

/// A place for one stream's answer, if the budget has one.
pub fn admit() -> Option<OwnedSemaphorePermit> {
    Arc::clone(budget()).try_acquire_owned().ok()
}

/// The answer to a stream past the budget: 503, come back in a second.
pub fn refused<B>(req: &http::Request<B>) -> http::Response<ResponseBody> {
    Problem::unavailable(
        "This server has too many HTTP/2 answers in flight at once (its share of open files).",
        1,
    )
    .into_response(
        req.headers().get(http::header::ACCEPT),
        req.method() == http::Method::HEAD,
    )
}

/// `body` holding `place` until it is dropped, if it holds a file or a stream; otherwise
/// `body` as it is, and the place goes back now.
pub fn hold(body: ResponseBody, place: OwnedSemaphorePermit) -> ResponseBody {
    match body {
        ResponseBody::File(_) | ResponseBody::Stream(_) => ResponseBody::stream(Held {
            body,
            _place: place,
        }),
        body => body,
    }
}

/// A body and the place its stream holds in the budget.
struct Held {
    body: ResponseBody,
    _place: OwnedSemaphorePermit,
}

impl Body for Held {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn a_held_body_keeps_its_place_until_dropped_and_others_give_it_back() {
        let free = || budget().available_permits();
        let before = free();
        let held = hold(
            ResponseBody::stream(
                http_body_util::Full::new(Bytes::from("x")).map_err(|never| match never {}),
            ),
            admit().unwrap(),
        );
        assert_eq!(free(), before - 1);
        assert_eq!(
            held.size_hint().exact(),
            Some(1),
            "the body's length shows through"
        );
        drop(held);
        assert_eq!(free(), before);
        let memory = hold(ResponseBody::full("x"), admit().unwrap());
        assert_eq!(free(), before, "an answer from memory holds no place");
        drop(memory);
    }
}
