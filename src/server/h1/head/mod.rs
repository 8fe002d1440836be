//! Parse an HTTP/1.x request head (RFC 9112 §2–§3, §5, §6) into `http` types, together with
//! how its body is framed and whether the connection may be kept.
//!
//! Strict where leniency lets two parsers disagree about where a message ends (request
//! smuggling, RFC 9112 §11.2): `Transfer-Encoding` with `Content-Length`, two
//! `Content-Length` fields, a transfer coding other than a final `chunked`, `Transfer-Encoding`
//! in HTTP/1.0, obs-fold and whitespace before a colon are all refused before any handler
//! runs. Field values are sliced out of the received bytes, not copied.

use std::mem::MaybeUninit;

use bytes::{Buf as _, Bytes, BytesMut};
use http::header::{ACCEPT, CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING, UPGRADE};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version};

use super::express::{FileRange, Persist};
use crate::http::field_value;
use crate::http::persistence::persistent;
use crate::problem::Problem;

mod names;

/// Largest request head (request line and fields, with their line ends) accepted; one byte
/// more gets 431 (RFC 6585 §5). 64 KiB: eight times nginx's 8 KiB buffers, so heavy cookie
/// and token headers pass, while a connection cannot make the server hold more.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Largest request-target; longer gets 414 (RFC 9110 §15.5.15). 16 KiB: twice what nginx and
/// Apache accept by default, room for long query strings.
pub const MAX_TARGET_BYTES: usize = 16 * 1024;

/// Most header fields in one request; past it, 431. Keeps the parser's field array small.
pub const MAX_HEADERS: usize = 100;

/// How the request's content is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No content.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub struct Head {
    /// Method, target, version and fields, ready for a `Request`.
    pub parts: Parts,
    /// How the content that follows is delimited.
    pub framing: Framing,
    /// Whether the client allows another request on this connection (RFC 9112 §9.3).
    pub keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for an interim 100 before sending content.
    pub expect_continue: bool,
    /// The first `Accept` field, taken as the fields were read: what a problem answered in
    /// place of the handler's (a refused switch) is negotiated with.
    pub accept: Option<HeaderValue>,
    /// Whether the head has both `Upgrade` and `Connection`, without which it offers no
    /// protocol switch (RFC 9110 §7.8): most heads have neither, and need no further look.
    pub may_upgrade: bool,
    /// The request's key in the express lane, when it may take it and its answer was not
    /// there: under it the answer may be remembered (see [`super::express`]).
    pub express_key: Option<Box<[u8]>>,
}

/// What parsing a head with the express lane open gave.
#[derive(Debug)]
pub enum Parsed {
    /// A head to answer (boxed: the connection keeps it while answering).
    Head(Box<Head>),
    /// The lane had the answer: it was put after what the writer held, the head consumed;
    /// the connection then goes on as `Persist` says.
    Repeated(Persist),
    /// The lane had the answer: it was put after what the writer held up to these bytes of
    /// a file, which are to follow; the head consumed; then as `Persist` says.
    RepeatedFile(FileRange, Persist),
}

/// The express lane, open for one parse: the configuration's epoch, and where a repeated
/// answer goes.
pub struct Lane<'a> {
    /// See `App::epoch`.
    pub epoch: u64,
    /// The connection's write buffer.
    pub out: &'a mut Vec<u8>,
    /// The segment size the connection settles at, if it can be asked.
    pub mss: super::express::SegmentSize<'a>,
}

/// A head that is refused: the problem to answer with, negotiated by the request's Accept
/// when its fields could be read.
#[derive(Debug)]
pub struct Refusal {
    /// What is wrong, and its status.
    pub problem: Box<Problem>,
    /// The request's Accept field, if the head got that far.
    pub accept: Option<HeaderValue>,
}

impl From<Box<Problem>> for Refusal {
    fn from(problem: Box<Problem>) -> Self {
        Refusal {
            problem,
            accept: None,
        }
    }
}

/// Parse the head at the front of `buf`, removing it on success. `Ok(None)` when the head is
/// not complete yet (and `buf` is still within [`MAX_HEAD_BYTES`]).
pub fn parse(buf: &mut BytesMut) -> Result<Option<Head>, Refusal> {
    match parse_or_repeat(buf, None)? {
        Some(Parsed::Head(head)) => Ok(Some(*head)),
        // Only a lane repeats answers.
        Some(Parsed::Repeated(_) | Parsed::RepeatedFile(..)) | None => Ok(None),
    }
}

/// [`parse`], but a head the express `lane` has the answer to is answered from it.
pub fn parse_or_repeat(
    buf: &mut BytesMut,
    lane: Option<Lane<'_>>,
) -> Result<Option<Parsed>, Refusal> {
    // Left uninitialised: the parser writes only the entries it fills, where clearing all
    // of them (3 KiB) cost more than parsing a short head.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(oversized(buf));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        // 505 or 400 depends on the whole request line (`names_a_version`): wait for its
        // end, so the answer does not depend on where a read happened to stop.
        Err(httparse::Error::Version) if !buf.contains(&b'\n') && buf.len() <= MAX_HEAD_BYTES => {
            return Ok(None);
        }
        // RFC 9110 §2.5: a higher minor version of a major one implemented SHOULD be
        // processed as the highest minor implemented: HTTP/1.2 is read as HTTP/1.1.
        Err(httparse::Error::Version) => {
            if let Some(mut copy) = read_as_http_11(buf) {
                // Parsed from a copy, so that `buf` is left as received unless a head is
                // taken from it (and only the version differs, so the lengths agree).
                let before = copy.len();
                let head = parse(&mut copy)?;
                if head.is_some() {
                    buf.advance(before - copy.len());
                }
                return Ok(head.map(|head| Parsed::Head(Box::new(head))));
            }
            return Err(unparsed(
                Box::new(syntax_problem(httparse::Error::Version, buf)),
                buf,
            ));
        }
        Err(e) => return Err(unparsed(Box::new(syntax_problem(e, buf)), buf)),
    };
    if len > MAX_HEAD_BYTES {
        return Err(oversized(buf));
    }
    let express_key = match lane {
        Some(lane) => match super::express::lookup(&req, lane.epoch, lane.mss, lane.out) {
            super::express::Lookup::Put(persist) => {
                buf.advance(len);
                return Ok(Some(Parsed::Repeated(persist)));
            }
            super::express::Lookup::PutFile(range, persist) => {
                buf.advance(len);
                return Ok(Some(Parsed::RepeatedFile(range, persist)));
            }
            super::express::Lookup::Missed(key) => Some(key),
            super::express::Lookup::Refused => None,
        },
        None => None,
    };
    // Field slices point into `buf`; keep their offsets so that, once the head is split off
    // and frozen, values are cheap slices of it rather than copies.
    let base = buf.as_ptr() as usize;
    let offset = |s: &[u8]| (s.as_ptr() as usize - base, s.len());
    let method = req.method.unwrap_or_default();
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| bad("the method is not a token"))?;
    let target = offset(req.path.unwrap_or_default().as_bytes());
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut spans = Vec::with_capacity(req.headers.len());
    // Which of the fields that decide framing and persistence appear: most requests have
    // none, and then their rules need not look them up.
    let mut seen = Seen::default();
    for field in req.headers.iter() {
        let name = names::field_name(field.name.as_bytes())
            .map_err(|_| bad("a field name is not a valid token"))?;
        seen.note(&name);
        spans.push((name, offset(field.value)));
    }
    let head = buf.split_to(len).freeze();
    let slice = |(at, len): (usize, usize)| head.slice(at..at + len);

    let mut headers = HeaderMap::with_capacity(spans.len());
    let mut accept = None;
    for (name, span) in spans {
        // httparse has checked the value's bytes (see `field_value`).
        let value = field_value::parsed(slice(span));
        if seen.accept && accept.is_none() && name == ACCEPT {
            accept = Some(value.clone());
        }
        headers.append(name, value);
    }
    let refuse = |problem| Refusal {
        problem,
        accept: accept.clone(),
    };
    if target.1 > MAX_TARGET_BYTES {
        return Err(refuse(target_too_long(target.1)));
    }
    let uri = parse_target(&method, slice(target)).map_err(refuse)?;
    let framing = if seen.length {
        framing(version, &headers).map_err(refuse)?
    } else {
        Framing::None
    };
    let keep_alive = if seen.connection {
        persistent(version, &headers)
    } else {
        version == Version::HTTP_11 // RFC 9112 §9.3, without options
    };
    // RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request (and §15.2:
    // MUST NOT send an HTTP/1.0 client a 1xx); its content follows the head regardless.
    let expect_continue =
        seen.expect && expects_continue(&headers).map_err(refuse)? && version == Version::HTTP_11;

    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(Parsed::Head(Box::new(Head {
        parts,
        framing,
        keep_alive,
        expect_continue,
        accept,
        may_upgrade: seen.upgrade && seen.connection,
        express_key,
    }))))
}

/// Which fields with rules of their own a head has.
#[derive(Debug, Default)]
struct Seen {
    /// `Transfer-Encoding` or `Content-Length`: the content's framing.
    length: bool,
    /// `Connection`: persistence options.
    connection: bool,
    /// `Expect`.
    expect: bool,
    /// `Upgrade`: with `Connection`, maybe a protocol switch.
    upgrade: bool,
    /// `Accept`: how an answer is negotiated.
    accept: bool,
}

impl Seen {
    fn note(&mut self, name: &HeaderName) {
        self.length |= name == TRANSFER_ENCODING || name == CONTENT_LENGTH;
        self.connection |= name == CONNECTION;
        self.expect |= name == EXPECT;
        self.upgrade |= name == UPGRADE;
        self.accept |= name == ACCEPT;
    }
}

/// `target` parsed with `"`, `<` and `>` in its query percent-encoded, if that makes it valid.
/// Browsers encode them there (WHATWG URL's query percent-encode set); curl and scripts send
/// them raw, as `?q="a b"`, and nginx takes them. Only a target refused as it is comes here.
fn query_encoded(target: &[u8]) -> Option<Uri> {
    let query = target.iter().position(|&b| b == b'?')?;
    let (path, rest) = target.split_at(query);
    if !rest.iter().any(|b| matches!(b, b'"' | b'<' | b'>')) {
        return None;
    }
    let mut encoded = Vec::with_capacity(target.len() + 16);
    encoded.extend_from_slice(path);
    for &b in rest {
        match b {
            b'"' => encoded.extend_from_slice(b"%22"),
            b'<' => encoded.extend_from_slice(b"%3C"),
            b'>' => encoded.extend_from_slice(b"%3E"),
            b => encoded.push(b),
        }
    }
    Uri::from_maybe_shared(Bytes::from(encoded)).ok()
}

/// The request-target in the form its method allows (RFC 9112 §3.2): `*` only for OPTIONS,
/// authority-form only for (and always for) CONNECT, otherwise origin- or absolute-form.
fn parse_target(method: &Method, target: Bytes) -> Result<Uri, Box<Problem>> {
    let asterisk = &target[..] == b"*";
    // RFC 9112 §3.2: no form of request-target has a fragment; it stays with the client.
    if target.contains(&b'#') {
        return Err(bad(
            "the request-target has a fragment (#...), which a client keeps to itself; send \
             the path and query only",
        ));
    }
    let uri = Uri::from_maybe_shared(target.clone())
        .or_else(|e| query_encoded(&target).ok_or(e))
        .map_err(|_| bad("the request-target is not a valid URI reference"))?;
    if let Some(scheme) = uri.scheme_str() {
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(bad(
                "the request-target's scheme is neither http nor https; usher serves no other",
            ));
        }
    }
    // RFC 9110 §4.2.4: userinfo in an http(s) URI is to be treated as an error; the
    // authority-form of CONNECT has none either (RFC 9112 §3.2.3).
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        // Not `bad`, which cites RFC 9112: the rule is RFC 9110's.
        return Err(Box::new(Problem::bad_request(
            "The request is malformed: the request-target has user information (user@host), \
             which it must not carry; send credentials in Authorization (RFC 9110 section 4.2.4).",
        )));
    }
    let authority_form = uri.scheme().is_none() && uri.authority().is_some();
    if *method == Method::CONNECT {
        if !authority_form {
            return Err(bad(
                "CONNECT takes a host and port as its target, such as example.com:443",
            ));
        }
    } else if authority_form {
        return Err(bad(
            "only CONNECT takes a host and port as its target; send a path such as /",
        ));
    } else if asterisk && *method != Method::OPTIONS {
        return Err(bad("only OPTIONS takes * as its target"));
    } else if !asterisk && uri.scheme().is_none() && !uri.path().starts_with('/') {
        return Err(bad("the request-target must start with /"));
    }
    Ok(uri)
}

/// The body framing (RFC 9112 §6.1, §6.3), refusing every ambiguous combination.
fn framing(version: Version, headers: &HeaderMap) -> Result<Framing, Box<Problem>> {
    let mut te = headers.get_all(TRANSFER_ENCODING).iter().peekable();
    if te.peek().is_some() {
        if version == Version::HTTP_10 {
            // §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            return Err(bad("Transfer-Encoding is not defined for HTTP/1.0"));
        }
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(bad(
                "the request has both Transfer-Encoding and Content-Length; send one",
            ));
        }
        let mut codings = Vec::new();
        for value in te {
            let value = value
                .to_str()
                .map_err(|_| bad("Transfer-Encoding is not ASCII"))?;
            codings.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_ascii_lowercase),
            );
        }
        return match codings.as_slice() {
            [only] if only == "chunked" => Ok(Framing::Chunked),
            [] => Err(bad("Transfer-Encoding is empty")),
            // RFC 9112 §7.1: chunked has no parameters; one given SHOULD be an error.
            [.., last]
                if last.starts_with("chunked") && last[7..].trim_start().starts_with(';') =>
            {
                Err(bad(
                    "the chunked transfer coding takes no parameters; send it alone",
                ))
            }
            // §6.3 item 4: chunked not last leaves the length unknown: 400, then close.
            [.., last] if last != "chunked" => Err(bad(
                "chunked is not the last transfer coding, so where the content ends is unknown",
            )),
            _ if codings.iter().any(|c| c != "chunked") => {
                let unknown = codings.iter().find(|c| *c != "chunked").cloned();
                Err(Box::new(
                    Problem::new(
                        StatusCode::NOT_IMPLEMENTED,
                        "transfer-coding-not-implemented",
                        "Transfer Coding Not Implemented",
                    )
                    .with_detail(format!(
                        "usher decodes only the chunked transfer coding, not {:?} (RFC 9112 §6.1). Send the content with Content-Length or chunked alone.",
                        unknown.unwrap_or_default()
                    )),
                ))
            }
            _ => Err(bad("chunked is applied more than once")),
        };
    }
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = lengths.next() else {
        return Ok(Framing::None);
    };
    if lengths.next().is_some() {
        return Err(bad("the request has more than one Content-Length field"));
    }
    let n = crate::http::parse_decimal(first.as_bytes()).ok_or_else(|| {
        bad("Content-Length is not a decimal number of bytes that fits in 64 bits")
    })?;
    Ok(if n == 0 {
        Framing::None
    } else {
        Framing::Length(n)
    })
}

/// `Expect: 100-continue` (RFC 9110 §10.1.1); any other expectation gets 417.
fn expects_continue(headers: &HeaderMap) -> Result<bool, Box<Problem>> {
    let mut expects = false;
    for value in headers.get_all(EXPECT) {
        if value.as_bytes().eq_ignore_ascii_case(b"100-continue") {
            expects = true;
        } else {
            return Err(Box::new(
                Problem::new(
                    StatusCode::EXPECTATION_FAILED,
                    "expectation-failed",
                    "Expectation Failed",
                )
                .with_detail("usher meets only the expectation 100-continue."),
            ));
        }
    }
    Ok(expects)
}

/// 414 (RFC 9110 §15.5.15) for a target of at least `len` bytes.
pub(crate) fn target_too_long(len: usize) -> Box<Problem> {
    Box::new(
        Problem::new(StatusCode::URI_TOO_LONG, "uri-too-long", "URI Too Long").with_detail(
            format!(
                "The request-target is at least {len} bytes; the limit is {MAX_TARGET_BYTES}. Move long data into the request content."
            ),
        ),
    )
}

fn syntax_problem(e: httparse::Error, buf: &[u8]) -> Problem {
    match e {
        httparse::Error::TooManyHeaders => *too_many_fields(),
        httparse::Error::Version if names_a_version(buf) => Problem::new(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "version-not-supported",
            "HTTP Version Not Supported",
        )
        .with_detail("usher speaks HTTP/1.0, HTTP/1.1 and HTTP/2 (h2c with prior knowledge)."),
        // RFC 9112 §5.2: obs-fold gets 400, "preferably with a representation explaining
        // that obsolete line folding is unacceptable".
        httparse::Error::HeaderName if folds_a_line(buf) => *bad(
            "a field value is continued on a line starting with a space or tab (obsolete line \
             folding); send each field on one line",
        ),
        httparse::Error::HeaderName => {
            *bad("a field name is not a token, or has whitespace before its colon")
        }
        httparse::Error::HeaderValue => *bad("a field value holds a control character"),
        // httparse names the first byte it could not take; what that means depends on where
        // in the request line it stopped, so the line itself is read for the explanation.
        httparse::Error::NewLine | httparse::Error::Token | httparse::Error::Version => {
            *bad(request_line_fault(buf).unwrap_or(match e {
                httparse::Error::NewLine => "a line is not ended by CRLF",
                _ => "the request line is not METHOD TARGET HTTP/1.1",
            }))
        }
        _ => *bad("the request line is not METHOD TARGET HTTP/1.1"),
    }
}

/// What is wrong with the request line (the first line that is not empty, RFC 9112 §2.2), in
/// words, against RFC 9112 §3: `method SP request-target SP HTTP-version`, one space each, a
/// method that is a token, a target of visible characters. `None` if it looks well formed
/// (the fault is in a later line).
fn request_line_fault(buf: &[u8]) -> Option<&'static str> {
    let mut rest = buf;
    let (line, ended) = loop {
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) if rest[..end] == *b"" || rest[..end] == *b"\r" => rest = &rest[end + 1..],
            Some(end) => break (&rest[..end], true),
            None => break (rest, false),
        }
    };
    let line = if ended {
        line.strip_suffix(b"\r").unwrap_or(line)
    } else {
        line
    };
    if line.contains(&b'\r') {
        return Some("a carriage return (CR) stands alone in the request line");
    }
    if line.first().is_some_and(|b| b.is_ascii_whitespace()) {
        return Some("the request line starts with whitespace; it starts with the method");
    }
    let Some(first) = line.iter().position(|&b| b == b' ') else {
        return Some(if line.iter().all(|&b| crate::http::is_tchar(b)) {
            "the request line has no target and no HTTP version; send METHOD TARGET HTTP/1.1"
        } else {
            "the method is not a token"
        });
    };
    if !line[..first].iter().all(|&b| crate::http::is_tchar(b)) {
        return Some("the method is not a token");
    }
    let after = &line[first + 1..];
    if after.first() == Some(&b' ') {
        return Some("more than one space separates the method and the target; send one");
    }
    let target_end = after.iter().position(|&b| b == b' ').unwrap_or(after.len());
    let target = &after[..target_end];
    if target.iter().any(|&b| b < 0x21 || b == 0x7f) {
        return Some(
            "the request-target holds a control character or whitespace; percent-encode it",
        );
    }
    if target_end == after.len() {
        // No version (yet): HTTP/0.9's `GET /path`, unless the line has not all arrived.
        return ended.then_some(
            "the request line has no HTTP version (HTTP/0.9 is not served); send METHOD TARGET HTTP/1.1",
        );
    }
    let version = &after[target_end + 1..];
    if version.is_empty() || version.first() == Some(&b' ') {
        return Some("more than one space separates the target and the HTTP version; send one");
    }
    if version.contains(&b' ') {
        return Some("something follows the HTTP version on the request line (a trailing space?)");
    }
    let well_formed = version.len() == 8
        && version.starts_with(b"HTTP/")
        && version[5].is_ascii_digit()
        && version[6] == b'.'
        && version[7].is_ascii_digit();
    (!well_formed).then_some("the HTTP version is not written as HTTP/1.1 (or HTTP/1.0)")
}

/// If the request line is `METHOD TARGET HTTP/1.d` with `d` above 1, a copy of `buf` that
/// says `HTTP/1.1` instead.
fn read_as_http_11(buf: &BytesMut) -> Option<BytesMut> {
    if !names_a_version(buf) {
        return None;
    }
    // The first line that is not empty (RFC 9112 §2.2: empty lines before it are ignored).
    let mut start = 0;
    while let Some(end) = buf[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|n| start + n)
    {
        let line = &buf[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            start = end + 1;
            continue;
        }
        let minor = start + line.len() - 1;
        if !line[..line.len() - 1].ends_with(b" HTTP/1.") || matches!(buf[minor], b'0' | b'1') {
            return None;
        }
        let mut copy = buf.clone();
        copy[minor] = b'1';
        return Some(copy);
    }
    None
}

/// Whether a line of the head after the request line starts with a space or tab: a folded
/// field value (obs-fold, RFC 9112 §5.2).
fn folds_a_line(buf: &[u8]) -> bool {
    let head = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf, |end| &buf[..end]);
    let mut lines = head.split(|&b| b == b'\n').skip(1);
    lines.any(|line| matches!(line.first(), Some(b' ' | b'\t')))
}

/// Whether the request line is well formed apart from its version, `METHOD TARGET HTTP/d.d`:
/// only then is the answer 505 rather than 400 (RFC 9110 §15.6.6).
fn names_a_version(buf: &[u8]) -> bool {
    let line = buf
        .split(|&b| b == b'\n')
        .find(|l| !l.is_empty() && *l != b"\r");
    let line = line.map_or(&[][..], |l| l.strip_suffix(b"\r").unwrap_or(l));
    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    matches!(words.as_slice(), [_, _, v] if v.len() == 8
        && v.starts_with(b"HTTP/")
        && v[5].is_ascii_digit() && v[6] == b'.' && v[7].is_ascii_digit())
}

/// A refusal of a head whose fields could not be parsed (too large, or malformed), still
/// negotiated by its `Accept` when a whole line of it arrived before the fault: the answer
/// is then in the format the client asked for, as every other error's is.
fn unparsed(problem: Box<Problem>, buf: &[u8]) -> Refusal {
    Refusal {
        problem,
        accept: raw_accept(buf),
    }
}

/// The value of the first whole `Accept` line among the field lines of a raw head (after
/// the request line, within [`MAX_HEAD_BYTES`], up to the empty line), if it is a valid
/// field value. Only what a parser would read as the field: a name exactly `accept` (any
/// case), a colon, optional whitespace around the value, a line ended by LF.
fn raw_accept(buf: &[u8]) -> Option<HeaderValue> {
    let head = &buf[..buf.len().min(MAX_HEAD_BYTES)];
    let mut lines = head.split_inclusive(|&b| b == b'\n');
    lines.next()?; // the request line
    for line in lines {
        let Some(line) = line.strip_suffix(b"\n") else {
            return None; // cut off: not a whole line
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None; // the end of the head
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(b"accept") {
            return HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok();
        }
    }
    None
}

fn bad(why: &str) -> Box<Problem> {
    Box::new(Problem::bad_request(format!(
        "The request is malformed: {why} (RFC 9112)."
    )))
}

/// A head past [`MAX_HEAD_BYTES`], whole or not: 414 when its request line alone is longer
/// than a target may be (RFC 9112 §3: the target is what is long, whether or not the line's
/// end has arrived yet), else 431.
fn oversized(buf: &[u8]) -> Refusal {
    let ended = buf.iter().position(|&b| b == b'\n');
    let line = &buf[..ended.unwrap_or(buf.len())];
    // The target runs from after the method to the version's space, or to what has arrived.
    let start = line.iter().position(|&b| b == b' ').map_or(0, |at| at + 1);
    let end = match ended {
        Some(_) => line
            .iter()
            .rposition(|&b| b == b' ')
            .filter(|&at| at >= start),
        None => None,
    };
    let target = end.unwrap_or(line.len()) - start;
    let problem = if target > MAX_TARGET_BYTES {
        target_too_long(target)
    } else {
        too_large()
    };
    unparsed(problem, buf)
}

pub(crate) fn too_large() -> Box<Problem> {
    fields_too_large(format!(
        "The request line and header fields exceed {MAX_HEAD_BYTES} bytes. Send fewer or shorter fields, such as smaller cookies."
    ))
}

pub(crate) fn too_many_fields() -> Box<Problem> {
    fields_too_large(format!(
        "The request has more than {MAX_HEADERS} header fields. Send fewer fields."
    ))
}

/// 431 (RFC 6585 §5) with `detail`.
fn fields_too_large(detail: String) -> Box<Problem> {
    Box::new(
        Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header-fields-too-large",
            "Request Header Fields Too Large",
        )
        .with_detail(detail),
    )
}

#[cfg(test)]
mod tests;
