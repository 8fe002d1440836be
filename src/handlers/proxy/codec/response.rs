//! Parse an upstream's response head (RFC 9112 §4, §5) as it arrives, and decide how its body
//! is delimited (§6.3) and whether the connection can carry another request (§9.3).
//!
//! The upstream is untrusted, and usher re-frames what it forwards, so everything two parsers
//! could read differently is an error (502 for the client) rather than a guess: a line not
//! ended by CRLF, obs-fold, two lengths, a length that is not one decimal number,
//! `Transfer-Encoding` with `Content-Length` or in HTTP/1.0, a transfer coding usher cannot
//! undo, a status outside 100–599, a 101 nobody asked for.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING, UPGRADE};
use http::response::Parts;
use http::{HeaderMap, HeaderName, Method, Response, StatusCode, Version};

use crate::http::field_value;
use crate::http::persistence::persistent;

/// Largest response head (status line and fields, with their line ends, and any empty lines
/// before it) accepted: 64 KiB, the same bound usher puts on request heads, so one connection
/// cannot make usher hold more for either side.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most fields in one response head, as for requests: keeps the parser's field array small.
pub const MAX_FIELDS: usize = 100;

/// Most interim (1xx) responses skipped before the final one. A few 103s are legitimate; an
/// endless stream of them would keep a request waiting while each stays within the limits.
pub const MAX_INTERIM: usize = 16;

/// How the response body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: a response to HEAD, a 204 or 304, or `Content-Length: 0`.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// The chunked transfer coding, decoded by
    /// [`ChunkedDecoder`](crate::http::chunked::ChunkedDecoder).
    Chunked,
    /// Everything until the upstream closes the connection: no length was given (§6.3 item 8)
    /// or the only transfer coding is the obsolete `identity`.
    UntilClose,
    /// No HTTP body: the connection now carries another protocol, after a 101 (Switching
    /// Protocols, RFC 9110 §15.2.2) or a 2xx to CONNECT (§6.3 item 2). Bytes after the head
    /// belong to it.
    Tunnel,
}

/// A final response head.
#[derive(Debug)]
pub struct ResponseHead {
    /// Status, version (HTTP/1.0 or HTTP/1.1) and fields. The reason phrase is dropped, as
    /// HTTP/2 has none and clients must ignore it (RFC 9112 §4).
    pub parts: Parts,
    /// How the body that follows is delimited.
    pub framing: ResponseFraming,
    /// Whether the connection may carry another request once this body has been read to its
    /// end (RFC 9112 §9.3): HTTP/1.1 without `Connection: close`, or HTTP/1.0 with
    /// `Connection: keep-alive`, and a body with a known end. The caller must also have sent
    /// no `Connection: close` itself, and must not reuse a connection on which bytes arrived
    /// after the body: they would be read as the next response.
    pub keep_alive: bool,
}

/// Why an upstream's response cannot be forwarded; logged, and answered with 502.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// No end of the head within [`MAX_HEAD_BYTES`].
    #[error("the response head is larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    /// More than [`MAX_FIELDS`] fields.
    #[error("the response has more than {MAX_FIELDS} header fields")]
    TooManyFields,
    /// An LF not preceded by CR. RFC 9112 §2.2 lets a recipient accept it; usher does not,
    /// as for requests and chunked framing, so no two parsers split this stream differently.
    #[error("a line of the response head ends in a bare LF instead of CRLF (RFC 9112 §2.2)")]
    BareLf,
    /// A CR not followed by LF (RFC 9112 §2.2: a bare CR must be rejected or replaced).
    #[error("the response head holds a CR not followed by LF (RFC 9112 §2.2)")]
    BareCr,
    /// A field line starting with whitespace: obs-fold (RFC 9112 §5.2), or whitespace before
    /// the first field (§2.2).
    #[error(
        "a line of the response head starts with whitespace: obsolete line folding \
         (RFC 9112 §5.2), which usher refuses rather than rewrites"
    )]
    ObsFold,
    /// The version is not HTTP/1.0 or HTTP/1.1.
    #[error("the upstream does not answer in HTTP/1.0 or HTTP/1.1")]
    Version,
    /// A malformed status line or field.
    #[error("the response head is malformed: {0}")]
    Malformed(&'static str),
    /// A status code outside 100–599 (RFC 9110 §15: such values are invalid, and a client
    /// treats them as 5xx).
    #[error("the status code {0:03} is outside 100-599 (RFC 9110 §15)")]
    Status(u16),
    /// A 101 to a request that asked for no upgrade, or without `Upgrade` (RFC 9110 §15.2.2).
    #[error("the upstream switched protocols without being asked, or without saying to what")]
    UnexpectedSwitch,
    /// A 2xx but not 101 to an HTTP/2 extended CONNECT sent on as an upgrade: to the client
    /// a 2xx would say the tunnel is open (RFC 8441 §5, RFC 9113 §8.5), and it is not.
    #[error("the upstream answered a request to switch protocols with a 2xx, without switching")]
    NotSwitched,
    /// More than [`MAX_INTERIM`] interim responses.
    #[error("the upstream sent more than {MAX_INTERIM} interim (1xx) responses")]
    TooManyInterim,
    /// `Transfer-Encoding` in an HTTP/1.0 response (RFC 9112 §6.1: faulty framing).
    #[error("an HTTP/1.0 response has Transfer-Encoding (RFC 9112 §6.1)")]
    TransferEncodingInHttp10,
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3 item 3: "ought to be
    /// handled as an error", a sign of response splitting).
    #[error("the response has both Transfer-Encoding and Content-Length (RFC 9112 §6.3)")]
    LengthAndTransferEncoding,
    /// More than one `Content-Length`, as lines or as a list (`5, 5`: RFC 9110 §8.6 allows
    /// refusing it).
    #[error("the response has more than one Content-Length (RFC 9110 §8.6)")]
    SeveralLengths,
    /// A `Content-Length` that is not one decimal number fitting in 64 bits (RFC 9112 §6.3
    /// item 5: the proxy "MUST ... send a 502").
    #[error("the response's Content-Length is not a decimal number of bytes (RFC 9112 §6.3)")]
    InvalidLength,
    /// A transfer coding other than `chunked` (and the no-op `identity`), which usher
    /// neither asked for (RFC 9110 §10.1.4) nor can undo.
    #[error("the response uses the transfer coding {0:?}; usher decodes only chunked")]
    TransferCoding(String),
    /// An empty `Transfer-Encoding`, or `chunked` twice (RFC 9112 §6.1).
    #[error("the response's Transfer-Encoding is empty or applies chunked twice (RFC 9112 §6.1)")]
    InvalidTransferEncoding,
}

/// Parses the response to one request, skipping interim responses.
#[derive(Debug)]
pub struct ResponseParser {
    /// The request was HEAD: no response has a body (RFC 9112 §6.3 item 1).
    head_request: bool,
    /// The request was CONNECT: a 2xx starts a tunnel (§6.3 item 2).
    connect: bool,
    /// The request asked to upgrade and usher tunnels it: a 101 is allowed.
    upgrade_requested: bool,
    /// Interim responses seen so far.
    interim: usize,
    /// Interim responses to pass on to the client, not yet taken ([`Self::take_interim`]).
    to_forward: Vec<(StatusCode, HeaderMap)>,
    /// Progress through the head being received.
    scan: Scan,
}

impl ResponseParser {
    /// A parser for the response to a `method` request; `upgrade_requested` when usher sent
    /// `Upgrade` on (see [`forward::is_upgrade`](crate::handlers::proxy::forward::is_upgrade)).
    pub fn new(method: &Method, upgrade_requested: bool) -> Self {
        ResponseParser {
            head_request: method == Method::HEAD,
            connect: method == Method::CONNECT,
            upgrade_requested,
            interim: 0,
            to_forward: Vec::new(),
            scan: Scan::default(),
        }
    }

    /// The interim responses parsed since last asked, in order, to pass on to the client.
    pub fn take_interim(&mut self) -> Vec<(StatusCode, HeaderMap)> {
        std::mem::take(&mut self.to_forward)
    }

    /// Parse from the front of `buf`, removing each head on success; the body (or the next
    /// protocol's bytes) stays in `buf`. `Ok(None)`: no final head yet; append what is read
    /// next to `buf` and call again (the parser remembers how far it has checked `buf`, so
    /// nothing else may remove bytes from it in between).
    ///
    /// Interim responses (1xx other than 101) are removed, and kept for
    /// [`Self::take_interim`] to pass on (RFC 9110 §15.2: a proxy MUST forward them), except
    /// 100 Continue: usher does not forward `Expect`, and answers it itself. A 101 is
    /// returned, as a final head with [`ResponseFraming::Tunnel`].
    ///
    /// After an error the connection must be closed; the state of `buf` is unspecified.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseHead>, ResponseError> {
        loop {
            let Some((status, version, headers)) = parse_head(&mut self.scan, buf)? else {
                return Ok(None);
            };
            self.scan = Scan::default();
            if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
                self.interim += 1;
                if self.interim > MAX_INTERIM {
                    return Err(ResponseError::TooManyInterim);
                }
                if status != StatusCode::CONTINUE {
                    self.to_forward.push((status, headers));
                }
                continue;
            }
            if status == StatusCode::SWITCHING_PROTOCOLS
                && (!self.upgrade_requested || !headers.contains_key(UPGRADE))
            {
                return Err(ResponseError::UnexpectedSwitch);
            }
            let framing = self.framing(status, version, &headers)?;
            let keep_alive = persistent(version, &headers)
                && !matches!(
                    framing,
                    ResponseFraming::UntilClose | ResponseFraming::Tunnel
                );
            let (mut parts, ()) = Response::new(()).into_parts();
            parts.status = status;
            parts.version = version;
            parts.headers = headers;
            return Ok(Some(ResponseHead {
                parts,
                framing,
                keep_alive,
            }));
        }
    }

    /// The body's framing, in the order of RFC 9112 §6.3.
    fn framing(
        &self,
        status: StatusCode,
        version: Version,
        headers: &HeaderMap,
    ) -> Result<ResponseFraming, ResponseError> {
        // The connection is the other protocol's now: a 101 (RFC 9110 §15.2.2) or a 2xx to
        // CONNECT (RFC 9112 §6.3 item 2).
        if status == StatusCode::SWITCHING_PROTOCOLS || (self.connect && status.is_success()) {
            return Ok(ResponseFraming::Tunnel);
        }
        // Content-Length is checked even where it does not frame a body: it is forwarded.
        let length = content_length(headers)?;
        // Item 1: no body, whatever the fields say.
        if self.head_request
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok(ResponseFraming::None);
        }
        if headers.contains_key(TRANSFER_ENCODING) {
            // §6.1: "MUST treat the message as if the framing is faulty".
            if version == Version::HTTP_10 {
                return Err(ResponseError::TransferEncodingInHttp10);
            }
            if length.is_some() {
                return Err(ResponseError::LengthAndTransferEncoding);
            }
            return transfer_framing(headers);
        }
        Ok(match length {
            Some(0) => ResponseFraming::None,
            Some(n) => ResponseFraming::Length(n),
            // Item 8: a response without either is delimited by the close.
            None => ResponseFraming::UntilClose,
        })
    }
}

/// Item 4 of RFC 9112 §6.3: chunked when it is the final coding; until close when no coding
/// is applied at all (only the obsolete `identity`, RFC 2616 §3.6, dropped by RFC 7230).
fn transfer_framing(headers: &HeaderMap) -> Result<ResponseFraming, ResponseError> {
    let mut chunked = 0u32;
    let mut any = false;
    for value in headers.get_all(TRANSFER_ENCODING) {
        let text = value.to_str().map_err(|_| {
            ResponseError::TransferCoding(String::from_utf8_lossy(value.as_bytes()).into_owned())
        })?;
        for coding in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            any = true;
            if coding.eq_ignore_ascii_case("chunked") {
                chunked += 1;
            } else if !coding.eq_ignore_ascii_case("identity") {
                // gzip, a parameter (`chunked;x=1`) or an unknown coding: the body would have
                // to be decoded before forwarding, and usher asked for none (it sends no TE).
                return Err(ResponseError::TransferCoding(coding.to_owned()));
            }
        }
    }
    match (any, chunked) {
        (false, _) | (true, 2..) => Err(ResponseError::InvalidTransferEncoding),
        (true, 1) => Ok(ResponseFraming::Chunked),
        (true, 0) => Ok(ResponseFraming::UntilClose),
    }
}

/// The `Content-Length`, if any: exactly one field line holding one decimal number.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ResponseError> {
    let mut lines = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if lines.next().is_some() || first.as_bytes().contains(&b',') {
        return Err(ResponseError::SeveralLengths);
    }
    crate::http::parse_decimal(first.as_bytes())
        .map(Some)
        .ok_or(ResponseError::InvalidLength)
}

/// One head (interim or final) from the front of `buf`, removed on success.
///
/// httparse only sees a complete head; until then [`Scan::head_end`] checks the bytes in
/// order, so the outcome never depends on how the head was split into reads. A head that
/// arrives whole in the first read, in the strict form every server sends (CRLF line ends,
/// no obs-fold), is taken by httparse alone ([`whole_strict_head`]): the byte-by-byte
/// checks cost more than the parse.
fn parse_head(
    scan: &mut Scan,
    buf: &mut BytesMut,
) -> Result<Option<(StatusCode, Version, HeaderMap)>, ResponseError> {
    if scan.pos == 0 {
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
        let mut res = httparse::Response::new(&mut []);
        if let Some(len) = whole_strict_head(&mut res, buf, &mut fields) {
            let (status, version, spans) = read_parsed(&res, buf.as_ptr() as usize)?;
            return Ok(Some((status, version, take_head(buf, len, spans))));
        }
    }
    let Some(end) = scan.head_end(buf)? else {
        if buf.len() > MAX_HEAD_BYTES {
            return Err(ResponseError::HeadTooLarge);
        }
        return Ok(None);
    };
    // RFC 9110 §2.5: a later minor version of HTTP/1 is read as the highest one usher
    // implements, 1.1: the head is parsed from a copy that says so (the buffer itself is
    // left as received). Only the version differs, so the fields lie at the same offsets.
    let later_minor = scan.status_start.map(|start| start + 7).filter(|&minor| {
        buf[..minor].ends_with(b"HTTP/1.")
            && matches!(buf.get(minor), Some(b'2'..=b'9'))
            && buf.get(minor + 1) == Some(&b' ')
    });
    let read_as_11 = later_minor.map(|minor| {
        let mut copy = buf[..end].to_vec();
        copy[minor] = b'1';
        copy
    });
    let text = read_as_11.as_deref().unwrap_or(&buf[..end]);
    // Left uninitialised, as for requests: clearing all entries cost more than the parse.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut res,
        text,
        &mut fields,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err(ResponseError::Malformed(
                "the head does not end where it should",
            ));
        }
        Err(e) => return Err(syntax_error(e)),
    };
    let (status, version, spans) = read_parsed(&res, text.as_ptr() as usize)?;
    Ok(Some((status, version, take_head(buf, len, spans))))
}

/// The length of the head at the front of `buf`, if httparse finds it complete there and it
/// passes the one check of [`Scan::head_end`] httparse does not make: every LF follows a CR
/// (httparse takes a bare LF as a line end, and refuses a bare CR and obs-fold itself). Also
/// within [`MAX_HEAD_BYTES`]. `None` sends the head the careful way, which also names what
/// is wrong with it.
fn whole_strict_head<'h, 'b>(
    res: &mut httparse::Response<'h, 'b>,
    buf: &'b [u8],
    fields: &'h mut [MaybeUninit<httparse::Header<'b>>],
) -> Option<usize> {
    let parsed =
        httparse::ParserConfig::default().parse_response_with_uninit_headers(res, buf, fields);
    let Ok(httparse::Status::Complete(len)) = parsed else {
        return None;
    };
    let head = buf.get(..len).filter(|_| len <= MAX_HEAD_BYTES)?;
    memchr::memchr_iter(b'\n', head)
        .all(|lf| lf > 0 && head[lf - 1] == b'\r')
        .then_some(len)
}

/// Each field's name, and where its value lies in the head: offset and length.
type Spans = Vec<(HeaderName, usize, usize)>;

/// Status, version and where each field's value lies (from `base`, the parsed text's start)
/// in a head httparse parsed.
fn read_parsed(
    res: &httparse::Response<'_, '_>,
    base: usize,
) -> Result<(StatusCode, Version, Spans), ResponseError> {
    let code = res.code.unwrap_or_default();
    // RFC 9110 §15: "Values outside the range 100..599 are invalid."
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|_| (100..=599).contains(&code))
        .ok_or(ResponseError::Status(code))?;
    let version = match res.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ResponseError::Version),
    };
    let mut spans = Vec::with_capacity(res.headers.len());
    for field in res.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| ResponseError::Malformed("a field name is not a token"))?;
        spans.push((
            name,
            field.value.as_ptr() as usize - base,
            field.value.len(),
        ));
    }
    Ok((status, version, spans))
}

/// Remove the head's `len` bytes from `buf`, its field values sliced out of them rather
/// than copied.
fn take_head(buf: &mut BytesMut, len: usize, spans: Spans) -> HeaderMap {
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(spans.len());
    for (name, at, len) in spans {
        // httparse has checked the value's bytes (see `field_value`).
        headers.append(name, field_value::parsed(head.slice(at..at + len)));
    }
    headers
}

/// How far the bytes of the head being received have been checked, so each byte is looked
/// at once however the head arrives (re-scanning from the start on every read would cost
/// quadratic time for a head trickled in byte by byte).
#[derive(Debug, Default)]
struct Scan {
    /// The next byte to look at.
    pos: usize,
    /// Where the current line starts.
    line_start: usize,
    /// Where the status line starts, once the empty lines before it are past.
    status_start: Option<usize>,
    /// Past the status line: a line starting with whitespace is obs-fold.
    in_fields: bool,
}

impl Scan {
    /// Where the head ends (after its empty line), checking the bytes in order on the way:
    /// the status line starts with `HTTP/` (so a peer that does not speak HTTP fails at
    /// once), every LF follows a CR, every CR precedes an LF, and no field line starts with
    /// whitespace. Looks at no more than [`MAX_HEAD_BYTES`]. Empty lines (CRLF) before the
    /// status line are part of the head and skipped, as httparse does: a stray CRLF after an
    /// earlier body is harmless.
    fn head_end(&mut self, buf: &[u8]) -> Result<Option<usize>, ResponseError> {
        let bytes = &buf[..buf.len().min(MAX_HEAD_BYTES)];
        while self.pos < bytes.len() {
            let i = self.pos;
            // Inside a line, past the status line's `HTTP/` and not after a CR, only the next
            // CR or LF matters: skip to it (memchr looks at 32 bytes at a time, where the
            // checks below cost about 25 instructions per byte).
            let in_prefix = self.status_start.is_none_or(|start| i - start < 5);
            if !in_prefix && i != self.line_start && bytes[i - 1] != b'\r' {
                match memchr::memchr2(b'\r', b'\n', &bytes[i..]) {
                    Some(0) => {}
                    Some(k) => {
                        self.pos = i + k;
                        continue;
                    }
                    None => {
                        self.pos = bytes.len();
                        break;
                    }
                }
            }
            self.pos += 1;
            let b = bytes[i];
            let after_cr = i > 0 && bytes[i - 1] == b'\r';
            if after_cr && b != b'\n' {
                return Err(ResponseError::BareCr);
            }
            if b == b'\n' && !after_cr {
                return Err(ResponseError::BareLf);
            }
            let status_start = match self.status_start {
                Some(start) => start,
                // An empty line before the status line.
                None if b == b'\r' || b == b'\n' => continue,
                None => *self.status_start.insert(i),
            };
            // RFC 9112 §2.3: HTTP-name is "HTTP", case-sensitive.
            if b"HTTP/"
                .get(i - status_start)
                .is_some_and(|&want| b != want)
            {
                return Err(ResponseError::Version);
            }
            match b {
                b'\n' if self.in_fields && i - 1 == self.line_start => return Ok(Some(i + 1)),
                b'\n' => {
                    self.line_start = i + 1;
                    self.in_fields = true;
                }
                b' ' | b'\t' if self.in_fields && i == self.line_start => {
                    return Err(ResponseError::ObsFold);
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

fn syntax_error(e: httparse::Error) -> ResponseError {
    match e {
        httparse::Error::TooManyHeaders => ResponseError::TooManyFields,
        httparse::Error::Version => ResponseError::Version,
        httparse::Error::Status => {
            ResponseError::Malformed("the status line is not HTTP/1.1, a 3-digit code and a reason")
        }
        httparse::Error::HeaderName => ResponseError::Malformed(
            "a field name is not a token, or has whitespace before its colon (RFC 9112 §5.1)",
        ),
        httparse::Error::HeaderValue => {
            ResponseError::Malformed("a field value holds a control character")
        }
        httparse::Error::NewLine => ResponseError::Malformed("a line is not ended by CRLF"),
        httparse::Error::Token => ResponseError::Malformed("unexpected token"),
    }
}
