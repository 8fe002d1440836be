//! One proxied request: choose an upstream, send the request (head, then content as it
//! streams in), read the response head, and stream the response body back, handing the
//! connection to the pool only once the exchange ended cleanly.
//!
//! Retries: any request goes to another upstream when its connection cannot be opened
//! (refused, unreachable, or not accepted in time): no byte of it was sent, so nothing can
//! have been done (nginx's `proxy_next_upstream error timeout` does the same for a POST).
//! Once sent, only a request without content whose method is idempotent (RFC 9110 §9.2.2)
//! goes again, when a kept-alive connection turns out closed before any byte of the
//! response (the upstream closed it while idle). A request with content, or a POST, is
//! never sent twice: its failure is the client's answer.
//!
//! Every failure has an answer that names the route, never the upstream's address: 502 when
//! the upstream cannot be reached or breaks HTTP, 504 when it is too slow, 503 with
//! `Retry-After` when every upstream is marked down or at its connection limit.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, ReadHalf, WriteHalf};

use super::codec::{
    BodyDecoder, EncodeError, RequestFraming, ResponseError, ResponseFraming, ResponseHead,
    ResponseParser, encode_chunk, encode_last_chunk, encode_request_fields, encode_request_head,
};
use super::forward::{self, ForwardContext, ResponseContext, Scheme};
use super::options::Proxy;
use super::tunnel::{self, Offer};
use crate::body::ResponseBody;
use crate::handlers::balance::{Key, NoUpstream, Policy};
use crate::handlers::upstream::{Conn, Lease, Upstream};
use crate::http::chunked::Chunk;
use crate::http::encode::percent_encode_path;
use crate::http::target::{NormalPath, spells_its_normal_form};
use crate::problem::Problem;
use crate::router::path::PathPattern;
use crate::server::h1::{ConnLink, Interim};

/// Room for the first read of a response: most heads and small bodies.
const FIRST_READ: usize = 8 * 1024;

/// Most room added at once when more is needed.
const READ_CHUNK: usize = 64 * 1024;

/// Why a proxied request failed; logged, never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No connection could be opened.
    #[error("could not connect: {0}")]
    Connect(#[source] io::Error),
    /// The upstream did not accept a connection in time.
    #[error("no connection within {0:?}")]
    ConnectTimeout(Duration),
    /// Every upstream is marked down.
    #[error("every upstream is marked down")]
    AllDown(Duration),
    /// Every upstream is at its connection limit.
    #[error("every connection to the upstream is busy")]
    Busy,
    /// Reading or writing the connection failed.
    #[error("the connection failed: {0}")]
    Io(#[from] io::Error),
    /// The connection closed before the response head.
    #[error("the upstream closed the connection before answering")]
    Closed,
    /// No response head in time.
    #[error("no response head within {0:?}")]
    HeaderTimeout(Duration),
    /// The response head is not one usher forwards.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The request head could not be written (a field usher will not send).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The client's request content failed while it was sent on.
    #[error("the client's request content failed: {0}")]
    ClientBody(String),
    /// The request has passed through usher this many times already (its `Via`): most
    /// likely a route whose upstream leads back to usher.
    #[error("the request has passed through usher {0} times: a proxy loop")]
    Loop(usize),
}

impl ProxyError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::ConnectTimeout(_) | ProxyError::HeaderTimeout(_) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            ProxyError::AllDown(_) | ProxyError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Encode(_) | ProxyError::ClientBody(_) => StatusCode::BAD_REQUEST,
            ProxyError::Loop(_) => StatusCode::LOOP_DETECTED,
            ProxyError::Connect(_)
            | ProxyError::Io(_)
            | ProxyError::Closed
            | ProxyError::Response(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// The problem the client gets, naming the route `route` and tagged with `request_id`.
    pub fn problem(&self, route: &str, request_id: &str) -> Problem {
        let service = format!("The service behind the route {route}");
        let problem = match self {
            ProxyError::AllDown(back) => {
                let secs = back.as_secs().max(1);
                Problem::unavailable(format!("{service} is down."), secs)
            }
            ProxyError::Busy => Problem::unavailable(format!("{service} is busy."), 1),
            ProxyError::ConnectTimeout(_) => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Gateway Timeout",
            )
            .with_detail(format!("{service} did not accept a connection in time.")),
            ProxyError::HeaderTimeout(_) => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Gateway Timeout",
            )
            .with_detail(format!("{service} did not answer in time.")),
            ProxyError::Encode(_) => {
                Problem::bad_request("The request has a header field usher will not forward.")
            }
            ProxyError::ClientBody(reason) => Problem::unreadable_content(reason),
            ProxyError::Loop(times) => {
                Problem::new(StatusCode::LOOP_DETECTED, "proxy-loop", "Loop Detected").with_detail(
                    format!(
                        "The request has already passed through usher {times} times (its Via field \
                 says so): the route {route} most likely leads back to a server it came \
                 from. Point the route's upstreams at the service itself."
                    ),
                )
            }
            ProxyError::Connect(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream-unreachable",
                "Bad Gateway",
            )
            .with_detail(format!("{service} could not be reached.")),
            // What went wrong, so whoever runs the service knows where to look; never an
            // address, nor an I/O error's own text.
            ProxyError::Io(_) | ProxyError::Closed | ProxyError::Response(_) => {
                let fault = match self {
                    ProxyError::Response(fault) => {
                        format!("gave an answer usher will not pass on: {fault}")
                    }
                    ProxyError::Closed => "closed the connection without answering".to_owned(),
                    _ => "broke the connection before it had answered".to_owned(),
                };
                Problem::new(StatusCode::BAD_GATEWAY, "upstream-failed", "Bad Gateway")
                    .with_detail(format!("{service} {fault}."))
            }
        };
        problem.with_request_id(request_id)
    }
}

/// Who asked, and what the route knows about the request.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The route, as clients may see it (its path pattern). Written out only for an error:
    /// `to_string` on every request cost about 400 instructions.
    pub route: &'a PathPattern,
    /// The path the route was chosen by (normalised).
    pub path: &'a NormalPath,
    /// The part of the path the route's prefix matched (`/app`), for `strip-prefix`.
    pub prefix: &'a str,
    /// The peer that sent the request.
    pub peer: SocketAddr,
    /// The address it reached usher on.
    pub local: SocketAddr,
    /// Tags the log lines and any error answer.
    pub request_id: &'a str,
    /// The client's connection, which takes the interim (1xx) answers passed on; `None`
    /// where it cannot carry them (HTTP/2 here).
    pub link: Option<&'a ConnLink>,
}

/// The response to what came in the request `parts` with content `body`, from one of the
/// route's upstreams.
pub async fn respond<B>(
    proxy: &Proxy,
    origin: Origin<'_>,
    parts: &Parts,
    body: B,
) -> Result<Response<ResponseBody>, Problem>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let opts = &proxy.opts;
    let fail = |e: ProxyError| {
        tracing::warn!(
            request_id = origin.request_id,
            route = %origin.route,
            "proxy: {e}"
        );
        e.problem(&origin.route.to_string(), origin.request_id)
    };
    // RFC 9110 §7.6.3: `Via` is there to detect loops. Each pass adds an entry, so a route
    // that leads back to usher would otherwise recurse until the head outgrows 64 KiB,
    // holding a connection and a request at every level.
    let passes = forward::passes_through_usher(&parts.headers);
    if passes >= forward::MAX_PASSES {
        return Err(fail(ProxyError::Loop(passes)));
    }
    let target = upstream_target(
        parts,
        origin.path,
        opts.strip_prefix.then_some(origin.prefix),
    );
    let (offer, on_upgrade) = tunnel::offer(parts).unzip();
    let cx = ForwardContext {
        peer: origin.peer,
        local: Some(origin.local),
        scheme: Scheme::Http,
        trusted_proxies: &opts.trusted_proxies,
        host: opts.host.clone(),
        tunnel_upgrade: matches!(offer, Some(Offer::Http1)),
    };
    let method = tunnel::upstream_method(offer.as_ref(), &parts.method);
    let framing = match &offer {
        // An extended CONNECT's stream carries the tunnel, not content.
        Some(Offer::Connect(_)) => RequestFraming::None,
        _ => RequestFraming::choose(&method, body.size_hint().exact(), body.is_end_stream()),
    };
    let mut head = BytesMut::with_capacity(1024);
    let encoded = match &offer {
        // Its fields are edited as a map.
        Some(Offer::Connect(protocol)) => {
            let mut fields = forward::request_fields(parts, &cx);
            tunnel::connect_as_upgrade(protocol, &mut fields);
            encode_request_head(&method, &target, &fields, framing, &mut head)
        }
        _ => {
            // Written as the fields are decided, with no map in between (2,000 instructions
            // of a proxied request, row m). Debug builds check it against the map's head.
            let encoded = encode_request_fields(&method, &target, framing, &mut head, |w| {
                forward::forward_fields(parts, &cx, w)
            });
            #[cfg(debug_assertions)]
            {
                let mut via_map = BytesMut::new();
                let fields = forward::request_fields(parts, &cx);
                let expected =
                    encode_request_head(&method, &target, &fields, framing, &mut via_map);
                debug_assert_eq!(
                    encoded.clone().map(|()| head.clone()),
                    expected.map(|()| via_map),
                    "a request head written from its fields differs from the one written from a map"
                );
            }
            encoded
        }
    };
    encoded.map_err(|e| fail(e.into()))?;
    let head = head.freeze();
    let field = match &opts.policy {
        Policy::Header(name) => parts.headers.get(name).map(HeaderValue::as_bytes),
        _ => None,
    };
    let key = Key {
        client: origin.peer.ip(),
        field,
    };
    // Content goes out once: once sent, only a request without it may be retried. Before
    // a connection is open nothing was sent, and any request goes on to the next upstream.
    let may_retry = method.is_idempotent() && framing == RequestFraming::None;
    let mut body = Some(body);
    let mut tried = Vec::new();
    let mut last: Option<ProxyError> = None;
    let answered = loop {
        let pick = match proxy.upstreams.pick(key, &tried, Instant::now()) {
            Ok(pick) => pick,
            Err(NoUpstream::AllDown { retry_after }) if tried.is_empty() => {
                return Err(fail(ProxyError::AllDown(retry_after)));
            }
            Err(_) => return Err(fail(last.unwrap_or(ProxyError::Closed))),
        };
        let index = pick.index;
        let pool = pick.target.clone();
        let acquired = tokio::time::timeout(opts.connect_timeout, pool.acquire()).await;
        let Ok((idle, lease)) = acquired else {
            return Err(fail(ProxyError::Busy));
        };
        let reused = idle.is_some();
        let conn = match idle {
            Some(conn) => conn,
            None => match tokio::time::timeout(opts.connect_timeout, pool.connect()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    proxy.upstreams.failed(index, Instant::now());
                    let e = ProxyError::Connect(e);
                    tracing::warn!(request_id = origin.request_id, upstream = %pool.upstream(), "proxy: {e}");
                    tried.push(index);
                    last = Some(e);
                    continue;
                }
                Err(_) => {
                    proxy.upstreams.failed(index, Instant::now());
                    let e = ProxyError::ConnectTimeout(opts.connect_timeout);
                    tried.push(index);
                    last = Some(e);
                    continue;
                }
            },
        };
        let exchange = Exchange::new(conn, lease, opts.idle_timeout, opts.header_timeout);
        let asked = exchange.ask(
            &head,
            framing,
            &mut body,
            &method,
            offer.is_some(),
            origin.link,
        );
        match asked.await {
            Ok(answer) => {
                proxy.upstreams.succeeded(index);
                break (answer, pool.upstream().clone());
            }
            // A kept-alive connection the upstream closed while it was idle: not the
            // upstream's failure, and safe to ask again if nothing can have been done.
            Err(Failed { error, stale: true }) if reused && may_retry => {
                tracing::debug!(
                    request_id = origin.request_id,
                    "proxy: stale connection: {error}"
                );
                continue;
            }
            Err(Failed { error, stale }) => {
                // Only the upstream's own failures count against it. Not the client's content
                // failing or stalling: any client could take upstreams out at will. Nor a
                // kept-alive connection found closed (RFC 9112 §9.5: either side may close an
                // idle connection at any time), which a request with content just cannot be
                // sent again on.
                let client_failed = matches!(error, ProxyError::ClientBody(_));
                let closed_while_idle = stale && reused;
                if !(client_failed || closed_while_idle) {
                    proxy.upstreams.failed(index, Instant::now());
                }
                return Err(fail(error));
            }
        }
    };
    let ((mut response_head, mut rest), upstream) = answered;
    // Only a stripped prefix needs the authorities (parsed here, not on every request)...
    let rewrite_prefix = opts
        .strip_prefix
        .then_some(origin.prefix)
        .filter(|p| *p != "/" && !p.is_empty())
        // ... or a redirect, whose absolute `Location` may name the upstream's own address:
        // made origin-relative, as nginx's `proxy_redirect default` does, since clients
        // cannot reach that address and it is not theirs to learn.
        .or_else(|| {
            let head = &response_head.parts;
            let redirects = head.status.is_redirection() || head.status == StatusCode::CREATED;
            (redirects && head.headers.contains_key(http::header::LOCATION)).then_some("")
        });
    let (upstream_authority, host_authority) = match rewrite_prefix {
        Some(_) => (
            match upstream {
                Upstream::Tcp(_) | Upstream::Name { .. } => upstream.to_string().parse().ok(),
                Upstream::Unix(_) => None,
            },
            forward::upstream_host(parts, &cx)
                .to_str()
                .ok()
                .and_then(|h| h.parse().ok()),
        ),
        None => (None, None),
    };
    let rewrite = rewrite_prefix.map(|prefix| forward::prefix::PrefixRewrite {
        prefix,
        upstream: upstream_authority.as_ref(),
        host: host_authority.as_ref(),
        host_is_fixed: matches!(opts.host, forward::UpstreamHost::Fixed(_)),
    });
    let framing = response_head.framing;
    // RFC 9112 §9.3: the upstream's `Connection: close` (or an HTTP/1.0 answer without
    // keep-alive) ends the connection after this response.
    let keep_alive = response_head.keep_alive;
    let switched = framing == ResponseFraming::Tunnel;
    let rcx = ResponseContext {
        version: response_head.parts.version,
        upgrade: switched && matches!(offer, Some(Offer::Http1)),
        rewrite,
    };
    forward::response_fields(&mut response_head.parts.headers, &rcx);
    if switched {
        // The parser allows a 101 only when usher offered the switch.
        let Some(on_upgrade) = on_upgrade else {
            return Err(fail(ProxyError::Closed));
        };
        if let Some(Offer::Connect(_)) = offer {
            response_head.parts.status = StatusCode::OK; // RFC 8441 §5
            tunnel::switched_as_connect(&mut response_head.parts.headers);
        }
        let (conn, early, lease) = rest.into_tunnel().await.map_err(fail)?;
        let request_id = origin.request_id.to_owned();
        tunnel::run(
            on_upgrade,
            conn,
            early,
            lease,
            request_id,
            opts.idle_timeout,
        );
        return Ok(Response::from_parts(
            response_head.parts,
            ResponseBody::Empty,
        ));
    }
    // Not switched, the answer to an extended CONNECT must not be a 2xx: hyper would take it
    // for an open tunnel (and reset the stream when its body follows). The connection goes,
    // its answer unread.
    if matches!(offer, Some(Offer::Connect(_))) && response_head.parts.status.is_success() {
        return Err(fail(ProxyError::Response(ResponseError::NotSwitched)));
    }
    let mut response = Response::from_parts(response_head.parts, ResponseBody::Empty);
    *response.version_mut() = http::Version::HTTP_11;
    *response.body_mut() = match framing {
        ResponseFraming::None => {
            rest.keep_if(keep_alive);
            // RFC 9110 §9.3.2: a HEAD answer's fields are the GET's. Without the upstream's
            // `Content-Length` the GET's length is unknown, not 0: an empty body that says
            // so, or the client would be told `Content-Length: 0`.
            let length_unknown = method == Method::HEAD
                && !response
                    .headers()
                    .contains_key(http::header::CONTENT_LENGTH);
            if length_unknown {
                ResponseBody::stream(UpstreamBody::empty_of_unknown_length())
            } else {
                ResponseBody::Empty
            }
        }
        _ => match rest.take_whole_body(framing) {
            Some(bytes) => {
                rest.keep_if(keep_alive);
                ResponseBody::full(bytes)
            }
            None => ResponseBody::stream(rest.into_body(framing, keep_alive)),
        },
    };
    Ok(response)
}

/// The request-target sent upstream: `path`, the path the route was chosen by, less the
/// route's prefix `strip` when it is stripped, and the query as received.
///
/// The path goes as the client spelled it when that spelling decodes to `path` itself
/// (keeping its encoding: `%2F` inside a segment means something to some applications).
/// Otherwise dot-segments or empty ones were resolved to choose the route, and the path
/// goes normalised and re-encoded: sent as received, `/admin/%2e%2e/public/x` would reach
/// the application as a path under `/admin/` through the `/public/` route, past the
/// policies (`auth`) of the route `/admin/` (RFC 3986 §5.2.4: a recipient may resolve the
/// dot-segments itself, or not at all). So is a prefix to strip that the client spelled
/// differently (`/api%2Fx` routed by `/api/`).
pub fn upstream_target(parts: &Parts, path: &NormalPath, strip: Option<&str>) -> String {
    let Some(pq) = parts.uri.path_and_query() else {
        return "/".to_owned();
    };
    if spells_its_normal_form(pq.path()) {
        let as_received = match strip {
            Some(prefix) => forward::prefix::strip_prefix(pq, prefix),
            None => Some(pq.clone()),
        };
        if let Some(target) = as_received {
            return target.as_str().to_owned();
        }
    }
    let decoded = path.as_str();
    let rest = match strip {
        Some(prefix) if prefix != "/" => match decoded.strip_prefix(prefix) {
            Some("") => "/",
            Some(rest) => rest,
            None => decoded,
        },
        _ => decoded,
    };
    let mut target = percent_encode_path(rest);
    if let Some(query) = pq.query() {
        target.push('?');
        target.push_str(query);
    }
    target
}

/// How an attempt failed; `stale` when nothing came back on a reused connection (it was
/// closed while idle), so an idempotent request without content may go again.
struct Failed {
    error: ProxyError,
    stale: bool,
}

type Writer = Pin<Box<dyn Future<Output = Result<WriteHalf<Conn>, ProxyError>> + Send>>;

/// One request on one connection.
struct Exchange {
    rd: ReadHalf<Conn>,
    wr: Option<WriteHalf<Conn>>,
    /// The request content being sent; it owns the write half until it is done.
    writer: Option<Writer>,
    buf: BytesMut,
    lease: Option<Lease>,
    idle: Duration,
    /// Longest wait for the response head once the request is sent whole.
    header: Duration,
    /// The final response head has arrived.
    answered: bool,
}

/// What one step of reading gave.
enum Step {
    /// This many bytes were read; 0 at the end of input.
    Read(usize),
    /// The request content is sent whole.
    Sent,
}

impl Exchange {
    fn new(conn: Conn, lease: Lease, idle: Duration, header: Duration) -> Self {
        let (rd, wr) = tokio::io::split(conn);
        Exchange {
            rd,
            wr: Some(wr),
            writer: None,
            buf: BytesMut::with_capacity(FIRST_READ),
            lease: Some(lease),
            idle,
            header,
            answered: false,
        }
    }

    /// Send the head and start the content, then read until the response head: within the
    /// header timeout from when the content is sent whole (a slow upload to an upstream that
    /// answers once it has it all is no timeout; each write and each wait for the client's
    /// content is bounded by the idle timeout instead).
    async fn ask<B>(
        mut self,
        head: &Bytes,
        framing: RequestFraming,
        body: &mut Option<B>,
        method: &Method,
        upgrade_offered: bool,
        link: Option<&ConnLink>,
    ) -> Result<(ResponseHead, Exchange), Failed>
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display + Send,
    {
        let failed = |error: ProxyError, stale: bool| Failed { error, stale };
        let mut wr = self.wr.take().expect("write half");
        if let Err(e) = timed(self.idle, wr.write_all(head)).await {
            return Err(failed(e, true));
        }
        match (framing, body.take()) {
            (RequestFraming::None, _) | (_, None) => self.wr = Some(wr),
            (framing, Some(body)) => {
                self.writer = Some(Box::pin(send_body(wr, body, framing, self.idle)));
            }
        }
        let mut parser = ResponseParser::new(method, upgrade_offered);
        let mut deadline = None;
        loop {
            let parsed = parser.parse(&mut self.buf);
            for (status, mut headers) in parser.take_interim() {
                let Some(link) = link else { break };
                let rcx = ResponseContext {
                    version: http::Version::HTTP_11,
                    upgrade: false,
                    rewrite: None,
                };
                forward::response_fields(&mut headers, &rcx);
                link.send_interim(Interim { status, headers });
            }
            match parsed {
                Ok(Some(head)) => {
                    self.answered = true;
                    return Ok((head, self));
                }
                Ok(None) => {}
                Err(e) => return Err(failed(e.into(), false)),
            }
            if deadline.is_none() && self.writer.is_none() {
                deadline = Some(tokio::time::Instant::now() + self.header);
            }
            let before = self.buf.len();
            let step = match deadline {
                Some(at) => match tokio::time::timeout_at(at, self.step()).await {
                    Ok(step) => step,
                    Err(_) => return Err(failed(ProxyError::HeaderTimeout(self.header), false)),
                },
                None => self.step().await,
            };
            match step {
                Ok(Step::Read(0)) => return Err(failed(ProxyError::Closed, before == 0)),
                Ok(Step::Read(_) | Step::Sent) => {}
                Err(e) => return Err(failed(e, before == 0)),
            }
        }
    }

    /// Read into the buffer while the content keeps being sent; 0 at the end of input.
    async fn read_more(&mut self) -> Result<usize, ProxyError> {
        loop {
            if let Step::Read(n) = self.step().await? {
                return Ok(n);
            }
        }
    }

    /// Read into the buffer, or send more of the content, whichever ends first.
    async fn step(&mut self) -> Result<Step, ProxyError> {
        if self.buf.capacity() - self.buf.len() < FIRST_READ / 4 {
            self.buf
                .reserve(self.buf.len().clamp(FIRST_READ, READ_CHUNK));
        }
        let Exchange {
            rd, buf, writer, ..
        } = self;
        let read = rd.read_buf(buf);
        let Some(w) = writer else {
            return Ok(Step::Read(read.await?));
        };
        tokio::select! {
            n = read => Ok(Step::Read(n?)),
            sent = w => {
                self.writer = None;
                match sent {
                    Ok(wr) => self.wr = Some(wr),
                    // Once the upstream has answered, the answer is what counts: an upload
                    // it stopped reading (RFC 9112 §9.5 lets it answer early), or that the
                    // client broke off or let stall, ends the upload, not the answer. With
                    // no write half left, the connection is not reused.
                    Err(e) if self.answered => {
                        tracing::debug!("proxy: the upload ended early: {e}");
                    }
                    Err(e) => return Err(e),
                }
                Ok(Step::Sent)
            }
        }
    }

    /// The connection, what came behind the 101, and its lease: for a tunnel. Content the
    /// request still had to send goes first, as the other protocol starts after the whole
    /// request (RFC 9110 §7.8): an upstream may switch before it has read it.
    async fn into_tunnel(mut self) -> Result<(Conn, Bytes, Lease), ProxyError> {
        if let Some(writer) = self.writer.take() {
            self.wr = Some(writer.await?);
        }
        let (Some(wr), Some(lease)) = (self.wr.take(), self.lease.take()) else {
            return Err(ProxyError::Closed); // the content could not all be sent
        };
        let early = self.buf.split().freeze();
        Ok((self.rd.unsplit(wr), early, lease))
    }

    /// Put the connection back, if the response allowed it (`keep_alive`), the content was
    /// all sent, and nothing more came.
    fn keep_if(mut self, keep_alive: bool) {
        if !keep_alive || self.writer.is_some() || !self.buf.is_empty() {
            return;
        }
        if let (Some(wr), Some(lease)) = (self.wr.take(), self.lease.take()) {
            lease.keep(self.rd.unsplit(wr));
        }
    }

    /// The whole body, when it came with the head, as a small answer's does: exactly the
    /// stated length is buffered, and the request's content is all sent. One piece needs no
    /// stream (about 1,100 instructions of polling and decoding for a 1 KiB answer), and the
    /// connection goes back at once, as it would at the end of the stream.
    fn take_whole_body(&mut self, framing: ResponseFraming) -> Option<Bytes> {
        let ResponseFraming::Length(length) = framing else {
            return None;
        };
        let whole = self.writer.is_none() && self.buf.len() as u64 == length;
        whole.then(|| self.buf.split().freeze())
    }

    /// The response body, delimited as `framing` says.
    fn into_body(self, framing: ResponseFraming, keep_alive: bool) -> UpstreamBody {
        let length = match framing {
            ResponseFraming::Length(n) => Some(n),
            _ => None,
        };
        UpstreamBody {
            state: Some(body_chunks(self, BodyDecoder::new(framing), keep_alive)),
            remaining: length,
        }
    }
}

/// Bound one I/O step by the route's idle timeout.
async fn timed<T>(
    idle: Duration,
    step: impl Future<Output = io::Result<T>>,
) -> Result<T, ProxyError> {
    match tokio::time::timeout(idle, step).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ProxyError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "the upstream went silent",
        ))),
    }
}

/// Write the request content as `framing` says, then give the write half back.
async fn send_body<B>(
    mut wr: WriteHalf<Conn>,
    body: B,
    framing: RequestFraming,
    idle: Duration,
) -> Result<WriteHalf<Conn>, ProxyError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let mut frames = http_body_util::BodyStream::new(body);
    let mut out = BytesMut::new();
    // A client that stops sending would hold the upstream's connection: its silence is
    // bounded as the upstream's is.
    let stalled = || ProxyError::ClientBody(format!("nothing came for {idle:?}"));
    while let Some(frame) = tokio::time::timeout(idle, frames.next())
        .await
        .map_err(|_| stalled())?
    {
        let frame = frame.map_err(|e| ProxyError::ClientBody(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers are not forwarded: usher sent no TE: trailers either way
        };
        match framing {
            RequestFraming::Chunked => {
                out.clear();
                encode_chunk(&data, &mut out);
                timed(idle, wr.write_all(&out)).await?;
            }
            _ => timed(idle, wr.write_all(&data)).await?,
        }
    }
    if framing == RequestFraming::Chunked {
        out.clear();
        encode_last_chunk(&mut out);
        timed(idle, wr.write_all(&out)).await?;
    }
    timed(idle, wr.flush()).await?;
    Ok(wr)
}

type Chunks = Pin<Box<dyn futures_util::Stream<Item = io::Result<Bytes>> + Send>>;

/// The body bytes as they arrive; the connection goes back to the pool at the body's end.
fn body_chunks(exchange: Exchange, decoder: BodyDecoder, keep_alive: bool) -> Chunks {
    let state = Some((exchange, decoder));
    let chunks = futures_util::stream::unfold(state, move |state| async move {
        let (mut exchange, mut decoder) = state?;
        loop {
            match decoder.decode(&mut exchange.buf) {
                Ok(Some(Chunk::Data(data))) => return Some((Ok(data), Some((exchange, decoder)))),
                Ok(Some(Chunk::End)) => {
                    exchange.keep_if(keep_alive);
                    return None;
                }
                Ok(None) => {}
                Err(e) => return Some((Err(io::Error::other(e)), None)),
            }
            let idle = exchange.idle;
            match tokio::time::timeout(idle, exchange.read_more()).await {
                Ok(Ok(0)) => {
                    return match decoder.at_eof() {
                        Ok(()) => None,
                        Err(e) => Some((Err(io::Error::other(e)), None)),
                    };
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Some((Err(io::Error::other(e)), None)),
                Err(_) => {
                    let e = io::Error::new(io::ErrorKind::TimedOut, "the upstream went silent");
                    return Some((Err(e), None));
                }
            }
        }
    });
    Box::pin(chunks)
}

/// The response body from the upstream, with its length when the upstream gave one.
pub struct UpstreamBody {
    state: Option<Chunks>,
    remaining: Option<u64>,
}

impl UpstreamBody {
    /// No bytes, and no length stated: the answer to a HEAD whose GET length is unknown.
    fn empty_of_unknown_length() -> Self {
        UpstreamBody {
            state: None,
            remaining: None,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let Some(chunks) = self.state.as_mut() else {
            return Poll::Ready(None);
        };
        match chunks.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(data))) => {
                if let Some(left) = &mut self.remaining {
                    *left = left.saturating_sub(data.len() as u64);
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(e))) => {
                self.state = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.state = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
