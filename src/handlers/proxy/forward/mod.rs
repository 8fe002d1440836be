//! The fields a request and its response carry across usher (RFC 9110 §7.6): what is removed
//! because it belongs to one connection, what is added to say the message passed through a
//! gateway, and how paths under a route prefix are mapped to the upstream and back.
//!
//! Both directions:
//! - hop-by-hop fields are removed (RFC 9110 §7.6.1): `Connection` and every field it names,
//!   `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade` (unless an upgrade is being
//!   tunnelled), `Proxy-Connection`, `Proxy-Authenticate`, `Proxy-Authorization`,
//!   `HTTP2-Settings`;
//! - `Via` gets `<received version> usher` (RFC 9110 §7.6.3);
//! - everything else keeps its order, and repeated fields (several `Set-Cookie`) stay apart.
//!
//! Requests only ([`request_fields`]): `Host` is the client's or a configured one;
//! `X-Forwarded-For`, `-Proto`, `-Host` and `Forwarded` (RFC 7239) say who asked, and are
//! believed from the peer only when it is a trusted proxy; `Expect` and `Proxy` are dropped;
//! `Max-Forwards` counts down on TRACE and OPTIONS (RFC 9110 §7.6.2).
//!
//! Responses only ([`response_fields`]): `Location` and `Refresh` pointing at the upstream's
//! own paths are moved back under the route prefix ([`prefix`]).
//!
//! Decisions, with their reasons:
//! - `TE: trailers` is not forwarded. TE is hop-by-hop (RFC 9110 §10.1.4: its sender must list
//!   it in `Connection`) and "trailers" speaks for the recipient, usher, promising that it will
//!   not discard trailer fields; usher's chunked decoder does discard them, so repeating the
//!   client's promise to the upstream would be false.
//! - `Proxy-Authorization` is removed. RFC 9110 §11.7.2: it is consumed by the proxy that asked
//!   for it with 407. usher, a gateway, answers as an origin server and never asks, so the
//!   credentials were meant for a proxy on the client's side; passing them on would hand a
//!   client's proxy password to the application. `Proxy-Authenticate` (§11.7.1, for "the
//!   next outbound client") is removed from responses for the same reason: an application's
//!   407 would make browsers prompt for their own proxy's credentials.
//! - `Expect` is removed: usher meets `100-continue` itself, sending 100 when the handler first
//!   reads the body (as nginx and Envoy do), so the upstream receives a body without having
//!   to ask for it. Any 100 the upstream still sends is skipped by the response parser
//!   (RFC 9110 §15.2: a user agent may ignore unexpected 1xx responses).
//! - `Proxy` is removed (httpoxy, CVE-2016-5385): an upstream that runs CGI programs would
//!   turn it into `HTTP_PROXY`, which many HTTP libraries read as their outbound proxy.
//! - A `Connection` option never removes `Host`: the upstream needs one (RFC 9112 §3.2), and
//!   RFC 9110 §7.6.1 forbids naming end-to-end fields as options in the first place.

mod cidr;
mod forwarded;
pub mod prefix;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{
    CONNECTION, EXPECT, FORWARDED, HOST, LOCATION, MAX_FORWARDS, REFRESH, UPGRADE, VIA,
};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};

use crate::http::{list_elements, parse_decimal};

pub use self::cidr::{Cidr, CidrError, any_contains};
use self::prefix::{PrefixRewrite, rewrite_location, rewrite_refresh};

/// The name usher gives itself in `Via` (a pseudonym, RFC 9110 §7.6.3: the received-by of a
/// gateway need not reveal a host name or port).
pub const VIA_NAME: &str = "usher";

/// Fields that belong to one connection and never cross usher (RFC 9110 §7.6.1, §7.8,
/// §11.7; RFC 9112 Appendix C.2.2 for `Proxy-Connection`; RFC 7540 §3.2.1 for
/// `HTTP2-Settings`). `Upgrade` is kept only while an upgrade is tunnelled.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "http2-settings",
];

/// `X-Forwarded-For`: the addresses the request came through (de facto; no `http::header`
/// constant for these three).
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: the scheme the client used.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the host the client asked for.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The scheme a client used to reach usher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The `Host` usher sends upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UpstreamHost {
    /// The client's: the request target's authority (HTTP/2 `:authority`, or an absolute-form
    /// target, which RFC 9112 §3.2.2 says overrides `Host`), else its `Host` field, else the
    /// address the request reached usher on (RFC 9112 §3.3), else empty.
    #[default]
    Client,
    /// This value, whatever the client sent.
    Fixed(HeaderValue),
}

/// What [`request_fields`] needs beyond the request.
#[derive(Debug, Clone)]
pub struct ForwardContext<'a> {
    /// The address of the peer that sent the request: the client, or a proxy in front.
    pub peer: SocketAddr,
    /// The address usher received the request on, written as `Forwarded: by=`; `None` leaves
    /// `by` out.
    pub local: Option<SocketAddr>,
    /// The scheme the peer used (`X-Forwarded-Proto`, `Forwarded: proto=`).
    pub scheme: Scheme,
    /// Peers whose `X-Forwarded-*` and `Forwarded` fields are kept and appended to. Any other
    /// peer's are discarded and replaced, so a client cannot claim another address.
    pub trusted_proxies: &'a [Cidr],
    /// The `Host` to send.
    pub host: UpstreamHost,
    /// Whether an upgrade request (such as a WebSocket handshake) is passed on with its
    /// `Upgrade` field, to be tunnelled if the upstream switches protocols. When false, the
    /// request goes upstream as a plain request.
    pub tunnel_upgrade: bool,
}

impl<'a> ForwardContext<'a> {
    /// A context for a request from `peer` over `scheme`: no trusted proxies, the client's
    /// `Host`, no `by`, upgrades not tunnelled.
    pub fn new(peer: SocketAddr, scheme: Scheme) -> Self {
        ForwardContext {
            peer,
            local: None,
            scheme,
            trusted_proxies: &[],
            host: UpstreamHost::Client,
            tunnel_upgrade: false,
        }
    }
}

/// What [`response_fields`] needs beyond the response.
#[derive(Debug, Clone, Default)]
pub struct ResponseContext<'a> {
    /// The version of the upstream's response, for `Via`.
    pub version: Version,
    /// The response is a 101 whose upgrade usher tunnels: keep `Upgrade` and send
    /// `Connection: upgrade` (RFC 9110 §7.8).
    pub upgrade: bool,
    /// Rewrite `Location` and `Refresh` back under the route prefix.
    pub rewrite: Option<PrefixRewrite<'a>>,
}

/// Where [`forward_fields`] puts the fields it sends upstream, in order: a map
/// ([`request_fields`]), or the request head being written (`codec::encode_request`), which
/// then needs no map built only to be written out.
pub trait FieldSink {
    /// Add a field line after the ones put so far.
    fn put(&mut self, name: &HeaderName, value: &HeaderValue);
}

impl FieldSink for HeaderMap {
    fn put(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.append(name.clone(), value.clone());
    }
}

/// The fields to send upstream for the request `parts` (the request line is the codec's).
///
/// `Host` comes first (RFC 9110 §7.2). `Content-Length` is kept as received; the codec
/// writes the framing it chose in its place. Check [`max_forwards_exhausted`] first: a
/// request it is true for must be answered by usher, not forwarded.
pub fn request_fields(parts: &Parts, cx: &ForwardContext<'_>) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(parts.headers.len() + 6);
    forward_fields(parts, cx, &mut out);
    out
}

/// [`request_fields`], put into `out` one by one. Each name is put in one run of lines (the
/// lines of a name are next to each other, as a map keeps them): the client's fields come
/// from a map, and what usher adds or replaces is put once.
pub fn forward_fields(parts: &Parts, cx: &ForwardContext<'_>, out: &mut impl FieldSink) {
    let headers = &parts.headers;
    let options = connection_fields(headers);
    let upgrade = cx.tunnel_upgrade && is_upgrade(parts);
    let trusted = any_contains(cx.trusted_proxies, cx.peer.ip());
    let client_host = original_host(parts);

    out.put(&HOST, &sent_host(client_host.as_ref(), cx));

    // The lists usher appends to, each combined into one field line so that an application
    // reading only the first line of a field still sees all of it.
    let via = append(headers, &VIA, via_entry(parts.version));
    let peer = forwarded::for_entry(cx.peer);
    let element = forwarded::element(cx.peer, cx.local, client_host.as_ref(), cx.scheme);
    let (xff, fwd) = if trusted {
        (
            append(headers, &X_FORWARDED_FOR, peer),
            append(headers, &FORWARDED, element),
        )
    } else {
        (own(peer), own(element))
    };
    let mut added = Added::default();
    // Whether a trusted proxy's X-Forwarded-Proto and -Host were passed on.
    let (mut kept_proto, mut kept_host) = (false, false);

    for (name, value) in headers {
        let tunnelled = upgrade && name == UPGRADE;
        let hop = is_hop_by_hop(name) || named_in(&options, name);
        if (hop && !tunnelled) || name == HOST || name == EXPECT || name.as_str() == "proxy" {
            continue;
        }
        // Underscore spellings go even from a trusted proxy: the one variable a CGI-style
        // server makes of both would hold its claim and usher's, in an order usher does not
        // choose.
        if is_forwarding_field(name) && (!trusted || name.as_str().contains('_')) {
            continue;
        }
        if name == VIA {
            added.put(out, &VIA, &via, |a| &mut a.via);
        } else if name == X_FORWARDED_FOR {
            added.put(out, &X_FORWARDED_FOR, &xff, |a| &mut a.xff);
        } else if name == FORWARDED {
            added.put(out, &FORWARDED, &fwd, |a| &mut a.forwarded);
        } else if name == MAX_FORWARDS && counts_forwards(&parts.method) {
            out.put(&MAX_FORWARDS, &decrement(value));
        } else {
            kept_proto |= name == X_FORWARDED_PROTO;
            kept_host |= name == X_FORWARDED_HOST;
            out.put(name, value);
        }
    }
    added.put(out, &VIA, &via, |a| &mut a.via);
    added.put(out, &X_FORWARDED_FOR, &xff, |a| &mut a.xff);
    added.put(out, &FORWARDED, &fwd, |a| &mut a.forwarded);
    // X-Forwarded-Proto and -Host describe the original request: a trusted proxy's value is
    // kept as the one the first proxy saw; otherwise (or when absent) usher's is set. From
    // anyone else the fields were left out above.
    if !kept_proto {
        out.put(
            &X_FORWARDED_PROTO,
            &HeaderValue::from_static(cx.scheme.as_str()),
        );
    }
    if let Some(host) = client_host.filter(|_| !kept_host) {
        out.put(&X_FORWARDED_HOST, &host);
    }
    if upgrade {
        // RFC 9110 §7.8: a sender of Upgrade also sends the "upgrade" connection option.
        // (`Connection` itself is hop-by-hop: the client's was left out above.)
        out.put(&CONNECTION, &HeaderValue::from_static("upgrade"));
    }
}

/// Turn the upstream's response fields into those sent to the client, in place.
pub fn response_fields(headers: &mut HeaderMap, cx: &ResponseContext<'_>) {
    let Some(tail) = dropped_tail(headers, cx) else {
        return rebuild_response_fields(headers, cx);
    };
    #[cfg(debug_assertions)]
    let rebuilt = {
        let mut copy = headers.clone();
        rebuild_response_fields(&mut copy, cx);
        copy
    };
    for _ in 0..tail {
        // The last name: `HeaderMap::remove` moves the last field into the removed one's
        // place, which moves nothing when it is the last.
        if let Some(last) = headers.keys().last().cloned() {
            headers.remove(last);
        }
    }
    headers.append(VIA, own(via_entry(cx.version)));
    if cx.upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
    #[cfg(debug_assertions)]
    debug_assert!(
        headers.iter().eq(rebuilt.iter()),
        "edited in place: {headers:?}, rebuilt: {rebuilt:?}"
    );
}

/// How many of the last field names are dropped, when they are all that changes besides
/// adding `Via`: no field dropped before them, no `Via` to extend, no link to rewrite. Most
/// answers: servers put `Connection` (and `Keep-Alive`) last, or send none. Then the map is
/// edited in place, where rebuilding it costs a new map and a clone of every field.
fn dropped_tail(headers: &HeaderMap, cx: &ResponseContext<'_>) -> Option<usize> {
    let options = connection_fields(headers);
    let mut dropped = 0;
    for name in headers.keys() {
        let rewritten = cx.rewrite.is_some() && (name == LOCATION || name == REFRESH);
        if name == VIA || rewritten {
            return None;
        }
        if dropped_from_answer(name, &options, cx) {
            dropped += 1;
        } else if dropped > 0 {
            return None;
        }
    }
    Some(dropped)
}

/// Whether an answer's field is not passed on: hop-by-hop, or named in its `Connection`
/// (`options`, see [`connection_fields`]); but a tunnelled 101 keeps its `Upgrade`. One rule
/// for the in-place edit and the rebuild, which must agree.
fn dropped_from_answer(name: &HeaderName, options: &[&[u8]], cx: &ResponseContext<'_>) -> bool {
    let hop = is_hop_by_hop(name) || named_in(options, name);
    hop && !(cx.upgrade && name == UPGRADE)
}

/// [`response_fields`] by building the map again, field by field.
fn rebuild_response_fields(headers: &mut HeaderMap, cx: &ResponseContext<'_>) {
    // Rebuilt rather than edited: `HeaderMap::remove` moves the last field into the removed
    // one's place, which would reorder the fields.
    let received = std::mem::take(headers);
    let options = connection_fields(&received);
    let via = append(&received, &VIA, via_entry(cx.version));
    let mut added = Added::default();
    headers.reserve(received.len() + 2);
    for (name, value) in &received {
        if dropped_from_answer(name, &options, cx) {
            continue;
        }
        if name == VIA {
            added.put(headers, &VIA, &via, |a| &mut a.via);
            continue;
        }
        let rewritten = cx.rewrite.as_ref().and_then(|rw| {
            let text = value.to_str().ok()?;
            let new = if name == LOCATION {
                rewrite_location(text, rw)?
            } else if name == REFRESH {
                rewrite_refresh(text, rw)?
            } else {
                return None;
            };
            HeaderValue::from_str(&new).ok()
        });
        headers.append(name.clone(), rewritten.unwrap_or_else(|| value.clone()));
    }
    added.put(headers, &VIA, &via, |a| &mut a.via);
    if cx.upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Whether `parts` asks to upgrade the connection (RFC 9110 §7.8): HTTP/1.1 with `Upgrade`
/// and the `upgrade` connection option. An HTTP/1.0 request's `Upgrade` is ignored, as §7.8
/// requires; HTTP/2 has no upgrade.
pub fn is_upgrade(parts: &Parts) -> bool {
    parts.version == Version::HTTP_11
        && parts.headers.contains_key(UPGRADE)
        && connection_options(&parts.headers).any(|o| o.eq_ignore_ascii_case(b"upgrade"))
        && !offers_h2c(&parts.headers)
}

/// Whether `Upgrade` offers `h2c`: never tunnelled (the request goes up without it). A
/// switch to HTTP/2 is the upstream's connection's own business (RFC 9113 §3.1 retired the
/// upgrade), and a tunnelled one would carry the client's later requests to the upstream
/// unrouted, past every route's `auth` ("h2c smuggling").
fn offers_h2c(headers: &HeaderMap) -> bool {
    headers.get_all(UPGRADE).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"h2c"))
    })
}

/// Whether usher must answer a TRACE or OPTIONS request itself because its `Max-Forwards` is
/// 0 (RFC 9110 §7.6.2: the intermediary "MUST respond as the final recipient").
pub fn max_forwards_exhausted(parts: &Parts) -> bool {
    counts_forwards(&parts.method)
        && parts
            .headers
            .get(MAX_FORWARDS)
            .is_some_and(|v| parse_decimal(v.as_bytes()) == Some(0))
}

/// Times a request may have passed through usher already (`Via` entries received by
/// `usher`) before a proxy route refuses it as a loop (508): more than any real chain of
/// proxies has, few enough that a loop stops early.
pub const MAX_PASSES: usize = 8;

/// How many `Via` entries name usher as their recipient (RFC 9110 §7.6.3:
/// `received-protocol RWS received-by [ RWS comment ]`).
pub fn passes_through_usher(headers: &HeaderMap) -> usize {
    headers
        .get_all(VIA)
        .iter()
        .flat_map(|value| list_elements(value.as_bytes()))
        .filter(|entry| {
            entry
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|w| !w.is_empty())
                .nth(1)
                == Some(VIA_NAME.as_bytes())
        })
        .count()
}

/// `Via`'s entry for a version: the received-protocol and usher's name (RFC 9110 §7.6.3: the
/// protocol name is omitted for HTTP; HTTP/2 and HTTP/3 are `2` and `3`).
fn via_entry(version: Version) -> &'static str {
    // Written out rather than formatted: one fewer allocation on every request.
    const _: () = assert!(matches!(VIA_NAME.as_bytes(), b"usher"));
    match version {
        Version::HTTP_09 => "0.9 usher",
        Version::HTTP_10 => "1.0 usher",
        Version::HTTP_2 => "2 usher",
        Version::HTTP_3 => "3 usher",
        _ => "1.1 usher",
    }
}

/// The `Host` sent upstream for `parts`.
pub fn upstream_host(parts: &Parts, cx: &ForwardContext<'_>) -> HeaderValue {
    sent_host(original_host(parts).as_ref(), cx)
}

/// The `Host` sent upstream, given the client's.
fn sent_host(client_host: Option<&HeaderValue>, cx: &ForwardContext<'_>) -> HeaderValue {
    match &cx.host {
        // No authority at all (an HTTP/1.0 request without `Host`): the target URI's
        // authority is then the local address of the connection (RFC 9112 §3.3), which an
        // application can build links from, where an empty `Host` breaks most of them.
        UpstreamHost::Client => client_host.cloned().unwrap_or_else(|| {
            cx.local
                .and_then(|local| HeaderValue::from_str(&local.to_string()).ok())
                .unwrap_or_else(|| HeaderValue::from_static(""))
        }),
        UpstreamHost::Fixed(value) => value.clone(),
    }
}

/// The client's host: the target's authority, else its `Host` (RFC 9112 §3.2.2).
fn original_host(parts: &Parts) -> Option<HeaderValue> {
    if let Some(authority) = parts.uri.authority() {
        return HeaderValue::from_str(authority.as_str()).ok();
    }
    parts.headers.get(HOST).cloned()
}

/// The options listed in `Connection` (RFC 9110 §7.6.1: a comma-separated list of tokens),
/// read as bytes: checking each value as text first cost several hundred instructions for
/// the one `keep-alive` of nearly every answer.
fn connection_options(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|value| list_elements(value.as_bytes()))
}

/// The `Connection` options that name fields to remove besides the ones always removed
/// ([`HOP_BY_HOP`]): those, such as `keep-alive` in nearly every answer, would only repeat
/// what [`is_hop_by_hop`] says, and leaving them out leaves most lists empty, with nothing
/// to allocate.
fn connection_fields(headers: &HeaderMap) -> Vec<&[u8]> {
    connection_options(headers)
        .filter(|option| {
            !HOP_BY_HOP
                .iter()
                .any(|name| name.as_bytes().eq_ignore_ascii_case(option))
        })
        .collect()
}

/// Whether `Connection` names `name` (field names are case-insensitive, RFC 9110 §5.1).
fn named_in(options: &[&[u8]], name: &HeaderName) -> bool {
    options
        .iter()
        .any(|o| o.eq_ignore_ascii_case(name.as_str().as_bytes()))
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// Fields that claim who sent the request, or what it first asked for: `Forwarded`, every
/// `X-Forwarded-*` (`-For`, `-Proto`, `-Host`, `-Port`, `-Prefix`, ...), nginx's `X-Real-IP`,
/// the client addresses CDNs and load balancers set ([`CLAIMS`]: `True-Client-IP`,
/// `CF-Connecting-IP`, ...), and the original target that rewriting proxies pass
/// (`X-Original-URL`, `X-Rewrite-URL`). Applications trust them for addresses, schemes,
/// links and routing (Go chi's `RealIP` reads `True-Client-IP` first; Symfony took
/// `X-Original-URL` for the path, CVE-2018-14773), so only a trusted proxy's are passed on.
/// Spelled with underscores too (`X_Forwarded_For`): CGI-style servers (WSGI, Rack, PHP)
/// turn both spellings into one variable, `HTTP_X_FORWARDED_FOR`, where the client's would
/// come first.
fn is_forwarding_field(name: &HeaderName) -> bool {
    let name = name.as_str();
    let claims = |name: &str| {
        name == "forwarded" || name.starts_with("x-forwarded-") || CLAIMS.contains(&name)
    };
    claims(name) || (name.contains('_') && claims(&name.replace('_', "-")))
}

/// The other fields [`is_forwarding_field`] names, lowercase.
const CLAIMS: [&str; 13] = [
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
    "x-original-forwarded-for",
    "x-original-url",
    "x-rewrite-url",
    "x-original-host",
    "x-host",
    "x-forwarded",
];

/// RFC 9110 §7.6.2: `Max-Forwards` applies to TRACE and OPTIONS only.
fn counts_forwards(method: &Method) -> bool {
    *method == Method::TRACE || *method == Method::OPTIONS
}

/// `Max-Forwards` one lower; a value that is not a number, or already 0, is kept as is.
fn decrement(value: &HeaderValue) -> HeaderValue {
    let digits = value.as_bytes();
    match parse_decimal(digits) {
        Some(n) if n > 0 => HeaderValue::from(n - 1),
        // §7.6.2: "the lesser of the received value decremented by one or the largest
        // value that the recipient supports": a number past 64 bits, less one, is still
        // past them.
        None if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            HeaderValue::from(u64::MAX)
        }
        _ => value.clone(),
    }
}

/// The lines of `name` in `headers`, joined with `, ` (RFC 9110 §5.3), then `entry`; just
/// `entry`, not copied, when there are none.
fn append(
    headers: &HeaderMap,
    name: &HeaderName,
    entry: impl Into<Bytes> + AsRef<[u8]>,
) -> HeaderValue {
    let mut lines = headers
        .get_all(name)
        .iter()
        .map(|value| value.as_bytes().trim_ascii())
        .filter(|value| !value.is_empty())
        .peekable();
    if lines.peek().is_none() {
        return own(entry);
    }
    let mut out = Vec::new();
    for value in lines {
        out.extend_from_slice(value);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(entry.as_ref());
    own(out)
}

/// `bytes` as a field value, without a copy.
fn own(bytes: impl Into<Bytes>) -> HeaderValue {
    // Received values and usher's own entries hold no CR, LF or NUL, so this cannot fail;
    // if it ever did, an empty value is still a valid field.
    HeaderValue::from_maybe_shared(bytes.into()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Which combined list fields were already written, so each is written once: where the
/// field first appeared, or at the end.
#[derive(Default)]
struct Added {
    via: bool,
    xff: bool,
    forwarded: bool,
}

impl Added {
    fn put(
        &mut self,
        out: &mut impl FieldSink,
        name: &HeaderName,
        value: &HeaderValue,
        flag: fn(&mut Added) -> &mut bool,
    ) {
        let done = flag(self);
        if !*done {
            *done = true;
            out.put(name, value);
        }
    }
}
