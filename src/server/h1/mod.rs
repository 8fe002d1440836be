//! usher's own HTTP/1.x connection: read heads, run the service, write answers, repeat.
//!
//! Why not hyper here (it still serves HTTP/2): measured with `bench/compare.sh`, hyper held
//! ~17.7 KiB per idle keep-alive connection (its 8 KiB read and write buffers live as long as
//! the connection) against nginx's 0.4 KiB, it has no zero-copy path for files, and its own
//! 400/414/431 answers have empty bodies. Here buffers exist only while a request is being
//! read or answered (`io`), file ranges go out with `sendfile` (`zero_copy`), and every
//! refusal is a negotiated [`Problem`].
//!
//! Per connection, in order (RFC 9112 §9.3): parse a head ([`head`]), hand the request to the
//! service while feeding it its content on demand (`request_body`), write the answer
//! (`response`), then read the rest of any content the handler left, or close. Pipelined
//! requests are answered in order, their answers batched into one write. A 101 answer to a
//! request that offered an upgrade ends this loop: the socket, with any bytes read past the
//! request, goes to the handler waiting for it ([`upgrade`]). A request that repeats one
//! answered moments ago from the file cache gets that answer again straight from the head's
//! bytes ([`express`]).

mod closing;
pub mod express;
pub mod head;
mod io;
mod request_body;
mod response;
mod zero_copy;

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use super::socket::Socket;
use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{Method, Request, Response, StatusCode};
use tokio::net::TcpStream;
use tokio::sync::watch;

use self::closing::{Closing, close, refuse};
use self::head::{Head, Parsed};
use self::io::{Reader, Writer};
use self::request_body::{BodyFeed, FeedEvent};
use self::response::Exchange;
use super::App;
use super::in_place::boxed;
use super::service;
use super::upgrade::{self, Refused};
use crate::body::ResponseBody;
use crate::body::prepared::Repeat;
use crate::problem::Problem;
pub(crate) use closing::{LINGER_IDLE, LINGER_TOTAL};
pub use request_body::RequestBody;
pub(crate) use response::http_date;

/// The connection preface of HTTP/2 with prior knowledge (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The interim answer to a request that expects 100-continue (RFC 9110 §10.1.1).
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Content a handler did not read is read and discarded up to this much, so the connection
/// can carry the next request; past it the connection closes instead.
const DISCARD_LIMIT: u64 = 1024 * 1024;

/// Longest a handler may take before answers to earlier pipelined requests, held back to go
/// out in one write with its answer, are written without it.
const DEFERRED_ANSWER_DELAY: Duration = Duration::from_millis(1);

/// Given to each request's responder (in [`super::Conn`]): what the responder can tell the
/// connection its request came on. One per connection, reset for each request.
///
/// - **Abort on close**: a responder whose work should stop when the client goes away (a
///   program) arms it, and the connection then watches the socket while the request is
///   handled: a reset, or an end of input once armed, drops the handler. As nginx does for
///   upstreams, an end of input counts as the client leaving (HTTP/1.1 cannot tell a
///   half-close from a close); before arming, a half-closed client still gets its answer.
/// - **Interim answers**: a proxy passes on the 1xx answers its upstream sends before the
///   final one (RFC 9110 §15.2: a proxy MUST forward them), such as 103 Early Hints; the
///   connection writes them at once. Only to an HTTP/1.1 client: a server MUST NOT send
///   a 1xx to an HTTP/1.0 one.
#[derive(Debug, Clone, Default)]
pub struct ConnLink(Arc<Link>);

#[derive(Debug, Default)]
struct Link {
    armed: AtomicBool,
    /// Whether this request's client may be sent interim answers.
    interim_allowed: AtomicBool,
    /// Whether `interim` may hold any: checked before taking the lock, so a request that
    /// passes none on (nearly all) takes no lock.
    interim_queued: AtomicBool,
    interim: std::sync::Mutex<Vec<Interim>>,
    interim_sent: tokio::sync::Notify,
}

/// An interim (1xx) answer: its status and fields.
#[derive(Debug)]
pub struct Interim {
    /// A 1xx other than 101 (which only the connection's own switch may send).
    pub status: StatusCode,
    /// Its fields, already free of hop-by-hop ones.
    pub headers: http::HeaderMap,
}

impl ConnLink {
    /// Stop this request's handler if the client goes away.
    pub fn arm(&self) {
        self.0.armed.store(true, Ordering::Relaxed);
    }

    fn armed(&self) -> bool {
        self.0.armed.load(Ordering::Relaxed)
    }

    /// Pass `interim` on to the client before the final answer; `false` when its connection
    /// cannot carry one (HTTP/1.0, or not a 1xx usher may send).
    pub fn send_interim(&self, interim: Interim) -> bool {
        let sendable =
            interim.status.is_informational() && interim.status != StatusCode::SWITCHING_PROTOCOLS;
        if !sendable || !self.0.interim_allowed.load(Ordering::Relaxed) {
            return false;
        }
        let mut queued = self.0.interim.lock().unwrap_or_else(|e| e.into_inner());
        queued.push(interim);
        self.0.interim_queued.store(true, Ordering::Release);
        drop(queued);
        self.0.interim_sent.notify_one();
        true
    }

    /// The interim answers sent since last asked.
    fn take_interim(&self) -> Vec<Interim> {
        if !self.0.interim_queued.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut *self.0.interim.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Disarm and forget interim answers, for the connection's next request, whose client
    /// may be sent interim answers if `interim_allowed`.
    fn reset(&self, interim_allowed: bool) {
        self.0.armed.store(false, Ordering::Relaxed);
        self.0
            .interim_allowed
            .store(interim_allowed, Ordering::Relaxed);
        self.take_interim();
    }
}

/// How a connection ended.
pub enum Outcome {
    /// Closed (by either side, a timeout, or shutdown).
    Closed,
    /// The client opened with the HTTP/2 preface: serve HTTP/2 on the stream, starting
    /// with the bytes already read.
    H2(TcpStream, Bytes),
    /// A 101 answer switched the connection to another protocol, and a handler has it
    /// (see [`upgrade`]): this ends when the handler drops it. Until then
    /// the connection still counts among the server's, and a graceful shutdown waits for it.
    Switched(Pin<Box<dyn Future<Output = ()> + Send>>),
}

/// Serve HTTP/1.x on `stream` (from and to the addresses in `conn`) until it closes, the head
/// timeout passes, or `stop` fires.
/// `head_timeout` also bounds each wait for more request content.
pub async fn serve(
    stream: Socket,
    conn: super::Conn,
    app: Arc<App>,
    head_timeout: Duration,
    stop: watch::Receiver<bool>,
) -> std::io::Result<Outcome> {
    let link = ConnLink::default();
    let conn = super::Conn {
        link: Some(link.clone()),
        ..conn
    };
    // The service's own future, not one wrapped in another async block: each layer is one
    // more copy of the whole state when the request starts.
    let configuration = Arc::clone(&app);
    let handler = move |request| {
        service::handle(app.clone(), conn.clone(), None, request)
            .map(|answer| answer.unwrap_or_else(|never| match never {}))
    };
    let express = Some(configuration.epoch());
    serve_with(stream, head_timeout, stop, link, express, handler).await
}

/// [`serve`] with any handler: the connection logic, apart from what answers requests.
/// `link` is the one given to the handler's responders. `express`, the configuration's
/// epoch, opens the express lane (see [`express`]).
async fn serve_with<H, F>(
    stream: Socket,
    head_timeout: Duration,
    stop: watch::Receiver<bool>,
    link: ConnLink,
    express: Option<&AtomicU64>,
    handler: H,
) -> std::io::Result<Outcome>
where
    H: Fn(Request<RequestBody>) -> F,
    F: Future<Output = Response<ResponseBody>>,
{
    let mut reader = Reader::default();
    let mut writer = Writer::default();
    let mut first = true;
    // One timer and one shutdown watch for the connection's life rather than one of each per
    // wait: registering and removing them for every request was a measurable part of a
    // small answer's cost (see `read_head`).
    let idle = pin!(tokio::time::sleep(head_timeout));
    let stopping = pin!(stopping(stop.clone()));
    let mut waits = Waits { idle, stopping };
    loop {
        let head = match read_head(
            &stream,
            &mut reader,
            &mut writer,
            head_timeout,
            &stop,
            &mut waits,
            first,
            express,
        )
        .await?
        {
            HeadRead::Head(head) => head,
            HeadRead::Repeated(persist) => {
                first = false;
                if persist.closes() {
                    return close(&stream, &mut reader, &mut writer, Closing::Now).await;
                }
                continue;
            }
            HeadRead::RepeatedFile(range, persist) => {
                first = false;
                // Boxed, as in `response::write`: a file's state stays out of the connection's.
                let (file, from, len) = (&range.file, range.from, range.len);
                Box::pin(zero_copy::send_range(&stream, &mut writer, file, from, len)).await?;
                if persist.closes() {
                    return close(&stream, &mut reader, &mut writer, Closing::Now).await;
                }
                continue;
            }
            HeadRead::H2 => return Ok(Outcome::H2(stream.into_tokio()?, reader.buf.freeze())),
            HeadRead::Closed => {
                writer.flush(&stream).await?;
                return Ok(Outcome::Closed);
            }
            HeadRead::Refused(problem, accept) => {
                let response = problem.into_response(accept.as_ref(), false);
                // Refused before it was a request, so the service never logged it.
                if crate::server::access_log::enabled() {
                    if let Ok(peer) = stream.peer_addr() {
                        crate::server::access_log::record_refused(peer, &reader.buf, &response);
                    }
                }
                return Box::pin(refuse(&stream, &mut reader, &mut writer, response)).await;
            }
        };
        first = false;
        // Boxed: see `exchange`. Only a plain value outlives the match: the future keeps a
        // slot for every value held across one of its waits (the idle state's size).
        let next = boxed(|| {
            exchange(
                &stream,
                Answerer {
                    handler: &handler,
                    link: &link,
                },
                &mut reader,
                &mut writer,
                head,
                head_timeout,
                &stop,
            )
        });
        let closing = match next.await? {
            Next::Another => None,
            Next::Close(closing) => Some(closing),
            Next::Switch(handover) => {
                // What follows the request is the new protocol's: the handler reads it first.
                let read = std::mem::take(&mut reader.buf).freeze();
                let stream = stream.into_tokio()?;
                return Ok(Outcome::Switched(Box::pin(
                    handover.hand_over(stream, read),
                )));
            }
        };
        if let Some(closing) = closing {
            return close(&stream, &mut reader, &mut writer, closing).await;
        }
    }
}

/// What a connection does after an exchange.
enum Next {
    /// Read the next request.
    Another,
    /// Close (after writing what is buffered), and how.
    Close(Closing),
    /// Hand the connection over: a 101 answer was written (see [`upgrade`]).
    Switch(upgrade::Handover),
}

/// What waiting for a request head gave.
enum HeadRead {
    /// Boxed: held in the connection's own future, which an idle connection keeps.
    Head(Box<Head>),
    /// The express lane answered it; the answer waits in the writer; then as `Persist`
    /// says.
    Repeated(express::Persist),
    /// The express lane answered it; it waits in the writer up to these bytes of a file,
    /// which are to follow; then as `Persist` says.
    RepeatedFile(express::FileRange, express::Persist),
    /// The client spoke HTTP/2 with prior knowledge.
    H2,
    /// The client closed, idled past the timeout, or the server is stopping.
    Closed,
    /// The head is malformed or too large: answer (negotiated by its Accept when the fields
    /// could be read) and close.
    Refused(Box<Problem>, Option<http::HeaderValue>),
}

/// What a connection waiting for a request head also waits on; both live as long as the
/// connection.
struct Waits<I, S> {
    /// Fires at or before the head's deadline: it is moved on only when it fires early, so a
    /// busy connection does not touch the timer wheel for each request.
    idle: Pin<I>,
    /// Completes when the server starts stopping.
    stopping: Pin<S>,
}

/// Read until a whole head is buffered. Before waiting on the client, pending answers are
/// written and both buffers released, so a connection that idles holds none. With
/// `express`, a head the express lane has the answer to is answered from it.
#[allow(clippy::too_many_arguments)] // the connection's state, each borrowed as it must be
async fn read_head<I, S>(
    stream: &Socket,
    reader: &mut Reader,
    writer: &mut Writer,
    timeout: Duration,
    stop: &watch::Receiver<bool>,
    waits: &mut Waits<I, S>,
    first: bool,
    express: Option<&AtomicU64>,
) -> std::io::Result<HeadRead>
where
    I: std::ops::DerefMut<Target = tokio::time::Sleep>,
    S: std::ops::DerefMut<Target: Future<Output = ()>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    // How much of the buffer the parser has seen without finding a whole head.
    let mut seen = 0;
    loop {
        if first && H2_PREFACE.starts_with(&reader.buf[..reader.buf.len().min(H2_PREFACE.len())]) {
            if reader.buf.len() >= H2_PREFACE.len() {
                return Ok(HeadRead::H2);
            }
        } else if (seen == 0 && !reader.buf.is_empty()) || may_progress(&reader.buf, seen) {
            seen = reader.buf.len();
            // Closed while a batch of answers waits: the slow way writes it out (see
            // `response::finish`), so pipelined requests cannot pile answers up unsent.
            let batched = writer.buf.len() >= io::WRITE_BATCH;
            let mss =
                || crate::server::socket::advertised_mss(std::os::fd::AsFd::as_fd(stream)).ok();
            let lane = express
                .filter(|_| !batched && lane_open(stop))
                .map(|epoch| {
                    writer.reuse();
                    head::Lane {
                        epoch: epoch.load(Ordering::Acquire),
                        out: &mut writer.buf,
                        mss: &mss,
                    }
                });
            match head::parse_or_repeat(&mut reader.buf, lane) {
                Ok(Some(Parsed::Head(head))) => return Ok(HeadRead::Head(head)),
                // Buffered as a pipelined answer: it goes with the next, or before waiting.
                Ok(Some(Parsed::Repeated(persist))) => return Ok(HeadRead::Repeated(persist)),
                Ok(Some(Parsed::RepeatedFile(range, persist))) => {
                    return Ok(HeadRead::RepeatedFile(range, persist));
                }
                Ok(None) => {}
                Err(refusal) => return Ok(HeadRead::Refused(refusal.problem, refusal.accept)),
            }
        }
        // Cheap path for a busy connection: the next request is often already there.
        match reader.fill_now(stream)? {
            Some(0) => return Ok(HeadRead::Closed),
            Some(_) => continue,
            None => {}
        }
        writer.flush(stream).await?;
        if *stop.borrow() {
            return Ok(HeadRead::Closed);
        }
        writer.release();
        reader.release();
        let ready = loop {
            tokio::select! {
                biased;
                // Not `readable()`: that future joins and leaves the socket's list of
                // waiters (a lock each way) every time; this keeps one waker slot.
                ready = poll_fn(|cx| stream.poll_read_ready(cx)) => break Ok(ready),
                () = waits.idle.as_mut() => {
                    if tokio::time::Instant::now() < deadline {
                        waits.idle.as_mut().reset(deadline);
                        continue;
                    }
                    break Err(());
                }
                // Part of a head is no request in flight yet: the server stopping closes it,
                // as it closes an idle connection (and as the check above does once more
                // bytes come), so a client trickling a head cannot hold shutdown for the
                // grace period.
                () = waits.stopping.as_mut() => return Ok(HeadRead::Closed),
            }
        };
        match ready {
            Ok(ready) => ready?,
            Err(()) if reader.buf.is_empty() => return Ok(HeadRead::Closed),
            Err(()) => {
                let problem = Problem::new(
                    http::StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    "Request Timeout",
                )
                .with_detail(format!(
                    "The request head did not arrive whole within {} seconds.",
                    timeout.as_secs()
                ));
                return Ok(HeadRead::Refused(Box::new(problem), None));
            }
        }
    }
}

/// Whether the express lane may answer now: not while the server stops (an answer then
/// closes the connection, which the lane's do not), nor while each request is logged (the
/// lane's are not).
fn lane_open(stop: &watch::Receiver<bool>) -> bool {
    !*stop.borrow()
        && !crate::server::access_log::enabled()
        && !tracing::enabled!(target: "usher::access", tracing::Level::DEBUG)
}

/// Completes when the server starts stopping (or is gone), as `stop.changed()` does, but
/// cheaper to poll again: the first poll registers the task with the watch, and the
/// registration stays, so a stop wakes the task; later polls just compare the watch's
/// version. An idle connection polls this once per request it waits for.
fn stopping(mut stop: watch::Receiver<bool>) -> impl Future<Output = ()> {
    let seen = stop.clone();
    async move {
        let mut changed = pin!(stop.changed());
        let mut registered = false;
        poll_fn(|cx| {
            if registered {
                // An error means the server is gone: stop as well.
                return match seen.has_changed() {
                    Ok(false) => Poll::Pending,
                    Ok(true) | Err(_) => Poll::Ready(()),
                };
            }
            registered = true;
            changed.as_mut().poll(cx).map(|_| ())
        })
        .await;
    }
}

/// Whether parsing `buf` again, after it failed to find a whole head in its first `seen`
/// bytes, can give another outcome: the bytes since end the request line (whose errors are
/// reported at once) or the head, or pass the size limit. Parsing only then keeps a head
/// trickled a byte at a time linear, where parsing after every read would cost quadratic
/// time (up to 64 KiB scanned per byte received).
fn may_progress(buf: &[u8], seen: usize) -> bool {
    if buf.len() <= seen {
        return false;
    }
    // A head ends with an empty line: LF, optional CR, LF (RFC 9112 §2.2 allows a bare LF).
    // Back up two bytes, in case the end straddles two reads.
    let new = &buf[seen.saturating_sub(2)..];
    let ends_head = new.windows(2).any(|w| w == b"\n\n") || new.windows(3).any(|w| w == b"\n\r\n");
    let ends_first_line = !buf[..seen].contains(&b'\n') && buf[seen..].contains(&b'\n');
    ends_head || ends_first_line || buf.len() > head::MAX_HEAD_BYTES
}

/// What answers a connection's requests: the handler, and the [`ConnLink`] its
/// responders are given.
struct Answerer<'a, H> {
    handler: &'a H,
    link: &'a ConnLink,
}

/// Answer one request, and say what the connection does next.
///
/// The caller boxes this future: a connection's future is as large as its largest state and
/// lives as long as the connection, so the states of a request (handler, body feed, writer:
/// kilobytes) are allocated per request, and an idle connection's future stays small.
async fn exchange<H, F>(
    stream: &Socket,
    answerer: Answerer<'_, H>,
    reader: &mut Reader,
    writer: &mut Writer,
    head: Box<Head>,
    timeout: Duration,
    stop: &watch::Receiver<bool>,
) -> std::io::Result<Next>
where
    H: Fn(Request<RequestBody>) -> F,
    F: Future<Output = Response<ResponseBody>>,
{
    let Head {
        mut parts,
        framing,
        keep_alive,
        expect_continue,
        accept,
        may_upgrade,
        express_key,
    } = *head;
    writer.reuse();
    let mut exchange = Exchange {
        version: parts.version,
        head_only: parts.method == Method::HEAD,
        keep_alive,
    };
    let (body, mut feed) = request_body::channel(framing, expect_continue, timeout);
    let mut handover = (may_upgrade && upgrade::offered(parts.version, &parts.headers))
        .then(|| upgrade::offer_http1(&mut parts));
    let Answerer { handler, link } = answerer;
    // RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client."
    let interim_allowed = exchange.version == http::Version::HTTP_11;
    link.reset(interim_allowed);
    let request = Request::from_parts(parts, body);
    let mut watching = true;
    let mut probe = [0u8; 1];
    let mut continue_sent = false;
    // Answers to earlier pipelined requests wait in `writer` to go out with this one; a
    // handler slower than this must not hold them back.
    let flush_deferred_at =
        (!writer.buf.is_empty()).then(|| tokio::time::Instant::now() + DEFERRED_ANSWER_DELAY);
    // In a block of its own, so the handler's state is gone before the answer is written:
    // the two then share their space in this (boxed, per-request) future.
    let mut response = {
        let mut handling = pin!(handler(request));
        loop {
            let feeding = feed.as_ref().is_some_and(BodyFeed::is_active);
            tokio::select! {
                // The handler first: most answer at once, and then nothing else need be polled.
                biased;
                response = &mut handling => break response,
                event = run_feed(&mut feed, stream, reader), if feeding => match event {
                    Ok(FeedEvent::WantsContinue) => {
                        writer.buf.extend_from_slice(CONTINUE);
                        writer.flush(stream).await?;
                        continue_sent = true;
                    }
                    Ok(FeedEvent::Done | FeedEvent::Abandoned) => {}
                    // The handler got the error through its body; the framing is lost.
                    Err(_) => exchange.keep_alive = false,
                },
                () = sleep_until(flush_deferred_at), if !writer.buf.is_empty() => {
                    writer.flush(stream).await?;
                }
                () = link.0.interim_sent.notified(), if interim_allowed => {
                    for interim in link.take_interim() {
                        response::write_interim(writer, interim);
                    }
                    writer.flush(stream).await?;
                }
                // Returning drops `handling`: a program it runs is killed with its group.
                seen = stream.peek(&mut probe), if watching && !feeding => match seen {
                    // The client has gone: there is no one to linger for.
                    Ok(0) if link.armed() => return Ok(Next::Close(Closing::Now)),
                    Err(e) => return Err(e),
                    // The next request, or a half-close before a program was started. (Peeking
                    // leaves the bytes in place: they may be the first of a switched protocol.)
                    Ok(_) => watching = false,
                },
            }
        }
    };
    // Interim answers the handler passed on just before its final one: they go first.
    if interim_allowed {
        for interim in link.take_interim() {
            response::write_interim(writer, interim);
        }
    }
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let checked = match handover.take() {
            Some(handover) => handover.check(response.headers()).map(|()| handover),
            None => Err(Refused::NotOffered),
        };
        match checked {
            Ok(handover) => {
                let (feed, owes_continue) = (feed.take(), expect_continue && !continue_sent);
                // Boxed, here and below: rare steps keep their state out of every exchange.
                let finishing =
                    finish_before_switch(stream, writer, reader, feed, owes_continue, timeout);
                if Box::pin(finishing).await {
                    let parts = response.into_parts().0;
                    Box::pin(response::write_switch(stream, writer, parts)).await?;
                    return Ok(Next::Switch(handover));
                }
                // Where the content ends, and so where the new protocol would start, is lost.
                response = Problem::bad_request(
                    "The request content could not be read to its end, so the connection \
                     cannot switch protocols after it (RFC 9110 section 7.8).",
                )
                .into_response(accept.as_ref(), exchange.head_only);
                exchange.keep_alive = false;
            }
            Err(refused) => {
                response = refuse_switch(refused, accept.as_ref(), exchange.head_only);
            }
        }
    }
    // No switch from here on: a handler waiting for one learns it now.
    drop(handover);
    if *stop.borrow() {
        exchange.keep_alive = false;
    }
    if let Some(feed) = &feed {
        // A client still waiting for 100 Continue may or may not send its content: the
        // next request's start cannot be found, so close (RFC 9110 §10.1.1).
        if feed.awaits_continue() && !continue_sent {
            exchange.keep_alive = false;
        }
        // Content the handler left that is too long to read through means this answer is
        // the connection's last, so it says `close` (RFC 9112 §9.6) rather than leave the
        // client to find the connection gone.
        if feed.passes_discard_limit(DISCARD_LIMIT) {
            exchange.keep_alive = false;
        }
    }
    // Also when the connection closes after this answer (the client asked, or the server is
    // stopping): the answer is the same, and only the lane's `Persist` tells what follows.
    if let Some(key) = express_key.filter(|_| feed.is_none()) {
        if let Some(answer) = repeatable(&response) {
            express::remember(key, answer);
        }
    }
    // Only when no content is left can what is buffered be the next request, whose answer
    // this one may wait for; otherwise the client may be waiting for this answer.
    let may_defer = !reader.buf.is_empty() && feed.as_ref().is_none_or(BodyFeed::is_done);
    {
        let mut writing = pin!(response::write(
            stream,
            writer,
            response,
            &mut exchange,
            may_defer
        ));
        // Keep feeding a body that is still read while the answer streams (full duplex),
        // also when the response body itself is what first asks for it.
        let armed = link.armed();
        loop {
            let feeding = feed.as_ref().is_some_and(BodyFeed::is_active);
            tokio::select! {
                written = &mut writing => { written?; break; }
                event = run_feed(&mut feed, stream, reader), if feeding => match event {
                    // Too late for an interim answer once the final one is going out (and
                    // the connection closes after it, see `awaits_continue` above): the
                    // client sends after its own wait, or the read times out.
                    Ok(_) => {}
                    Err(_) => return Err(std::io::Error::other("request content failed")),
                },
                // A program's answer may go quiet for minutes (a long poll, a slow report):
                // a client that leaves meanwhile is noticed here, not at the next write, and
                // returning drops the answer and the program with it (nginx watches the
                // client for the whole upstream exchange too).
                seen = stream.peek(&mut probe), if armed && watching && !feeding => match seen {
                    Ok(0) => return Ok(Next::Close(Closing::Now)),
                    Err(e) => return Err(e),
                    // The next pipelined request: left in place for its turn.
                    Ok(_) => watching = false,
                },
            }
        }
    }
    let done = feed.as_ref().is_none_or(BodyFeed::is_done);
    if !exchange.keep_alive {
        let closing = if done && !keep_alive {
            Closing::Now
        } else {
            Closing::Linger
        };
        return Ok(Next::Close(closing));
    }
    Ok(
        if done || Box::pin(finish_content(stream, reader, feed, timeout)).await {
            Next::Another
        } else {
            Next::Close(Closing::Linger)
        },
    )
}

/// The answer to repeat to the same request, if `response` may be repeated (see
/// [`express`]): prepared, with its freshness, and nothing set since in its map or
/// extensions; a 304, or its body in memory and copied next to its head, or a whole file that
/// can be checked.
fn repeatable(response: &Response<ResponseBody>) -> Option<express::Answer> {
    let ResponseBody::Prepared(prepared) = response.body() else {
        return None;
    };
    let (fields, body, until) = prepared.repeatable()?;
    let status = response.status();
    if !response.headers().is_empty() || !response.extensions().is_empty() {
        return None;
    }
    let lines = fields.lines();
    let framed = !response::never_has_content(status);
    match body {
        Repeat::Nothing if status == StatusCode::NOT_MODIFIED => {
            Some(express::Answer::not_modified(lines, until))
        }
        Repeat::Memory(bytes, same) if framed && bytes.len() <= response::COPY_BODY_LIMIT => {
            Some(match same {
                None => express::Answer::new(status, lines, bytes.clone(), until),
                Some(same) => {
                    let same = Arc::clone(same);
                    express::Answer::made_from_file(status, lines, bytes.clone(), same, until)
                }
            })
        }
        Repeat::File { same, from, len } if framed => Some(express::Answer::from_file(
            status,
            lines,
            Arc::clone(same),
            (from, len),
            until,
        )),
        _ => None,
    }
}

/// Get the request's content off the connection before it switches protocols: the new
/// protocol starts after the whole request message. Content a handler still reads is fed to
/// it; the rest is discarded. `false` if the content cannot be read to its end in time.
async fn finish_before_switch(
    stream: &Socket,
    writer: &mut Writer,
    reader: &mut Reader,
    feed: Option<BodyFeed>,
    owes_continue: bool,
    timeout: Duration,
) -> bool {
    let finished = tokio::time::timeout(timeout, async {
        // RFC 9110 §7.8: with Upgrade and 100-continue, the 100 MUST come before the 101.
        if owes_continue {
            writer.buf.extend_from_slice(CONTINUE);
            writer.flush(stream).await?;
        }
        let Some(mut feed) = feed else {
            return Ok(true);
        };
        // The 100 is sent: a `WantsContinue` from here on asks for nothing.
        while feed.is_active() {
            feed.run(stream, reader).await?;
        }
        feed.discard(stream, reader, DISCARD_LIMIT).await
    })
    .await;
    matches!(finished, Ok(Ok(true)))
}

/// The answer in place of a 101 that must not switch the connection: the handler's answer
/// is wrong (it relays a program or an upstream), so 502, and the connection stays HTTP.
fn refuse_switch(
    refused: Refused,
    accept: Option<&http::HeaderValue>,
    is_head: bool,
) -> Response<ResponseBody> {
    let why = match refused {
        Refused::NotOffered => {
            "the request did not offer one (an HTTP/1.1 request offers one with an Upgrade \
             field and the upgrade option in Connection)"
        }
        Refused::NotAProtocolOffered => "the answer names no protocol the request offered",
        Refused::NoTaker => "nothing was ready to take over the connection",
    };
    let id = service::next_request_id();
    tracing::warn!(request_id = %id, ?refused, "a 101 answer was not sent: no protocol switch");
    let problem = Problem::new(StatusCode::BAD_GATEWAY, "switch-refused", "Bad Gateway")
        .with_detail(format!(
            "The answer was to switch protocols, but {why}, so the connection was not \
             switched (RFC 9110 sections 7.8 and 15.2.2)."
        ))
        .with_request_id(id);
    problem.into_response(accept, is_head)
}

/// Sleep until `at`, or forever without one (`select!` builds a disabled branch's future too:
/// without a deadline, no timer is made).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Run the feed, if any (`select!` builds a disabled branch's future too, so this must not
/// assume the feed exists until polled).
async fn run_feed(
    feed: &mut Option<BodyFeed>,
    stream: &Socket,
    reader: &mut Reader,
) -> std::io::Result<FeedEvent> {
    match feed {
        Some(feed) => feed.run(stream, reader).await,
        None => std::future::pending().await,
    }
}

/// Read past content the handler left unread, so the next request can be found; `false` if
/// the connection must close instead (too much of it, or it failed).
async fn finish_content(
    stream: &Socket,
    reader: &mut Reader,
    feed: Option<BodyFeed>,
    timeout: Duration,
) -> bool {
    let Some(mut feed) = feed else {
        return true;
    };
    if feed.is_done() {
        return true;
    }
    matches!(
        tokio::time::timeout(timeout, feed.discard(stream, reader, DISCARD_LIMIT)).await,
        Ok(Ok(true))
    )
}

#[cfg(test)]
mod tests;
