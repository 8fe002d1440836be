//! A request as bytes for an HTTP/1.1 upstream: the head (RFC 9112 §3, §5) and the framing
//! of its body (§6): `Content-Length` when the length is known, else chunked (§7.1).

use bytes::{BufMut, BytesMut};
use http::header::{CONTENT_LENGTH, COOKIE, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::handlers::proxy::forward::FieldSink;
use crate::http::is_tchar;

/// How the request body goes upstream (RFC 9112 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFraming {
    /// No body, and no framing field.
    None,
    /// `Content-Length: n`, then exactly `n` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`: each piece with [`encode_chunk`], then
    /// [`encode_last_chunk`].
    Chunked,
}

impl RequestFraming {
    /// The framing for what is known of the client's body: its exact length if known
    /// (`http_body::Body::size_hint().exact()`), and whether it is certainly empty
    /// (`is_end_stream()`). A body of unknown length is chunked: the upstream speaks HTTP/1.1,
    /// which every HTTP/1.1 server must decode (RFC 9112 §7.1).
    ///
    /// An empty body has no framing field, except on methods that define a meaning for
    /// content (POST, PUT, PATCH and unknown methods), which get `Content-Length: 0`
    /// (RFC 9110 §8.6: "a user agent normally sends Content-Length in a POST request even
    /// when the value is 0").
    pub fn choose(method: &Method, exact_len: Option<u64>, is_end_stream: bool) -> Self {
        let len = if is_end_stream { Some(0) } else { exact_len };
        match len {
            Some(0) if !content_expected(method) => RequestFraming::None,
            Some(n) => RequestFraming::Length(n),
            None => RequestFraming::Chunked,
        }
    }
}

/// Methods whose requests are expected to carry content (RFC 9110 §9.3): not GET, HEAD,
/// DELETE, CONNECT, OPTIONS or TRACE, whose content has no generally defined semantics.
fn content_expected(method: &Method) -> bool {
    ![
        Method::GET,
        Method::HEAD,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(method)
}

/// Why a request head could not be written; a bug or a hostile field, never sent upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The method is not a token (RFC 9110 §9.1).
    #[error("the method is not a token")]
    Method,
    /// The target is neither origin-form (`/path?query`) nor `*` for OPTIONS, or holds a
    /// control character, space or DEL (RFC 9112 §3.2).
    #[error("the request-target is not an origin-form path, or holds a control character")]
    Target,
    /// No `Host` field (RFC 9112 §3.2: "A client MUST send a Host header field in all
    /// HTTP/1.1 request messages").
    #[error("the request has no Host field")]
    MissingHost,
    /// More than one `Host` field line (RFC 9112 §3.2: a server answers that with 400).
    #[error("the request has more than one Host field")]
    DuplicateHost,
    /// `Host` put after other fields (a bug in the caller: RFC 9110 §7.2 wants it first).
    #[error("the Host field does not come first")]
    HostNotFirst,
    /// A field value holding CR, LF or NUL, which would end or split the head (RFC 9110 §5.5).
    #[error("the value of the field {0} holds CR, LF or NUL")]
    FieldValue(String),
}

/// Write the request head: `METHOD target HTTP/1.1`, `Host` first (RFC 9110 §7.2), the other
/// fields in order, the framing field for `framing`, and the empty line.
///
/// `target` is the upstream's origin-form path and query (or `*` for OPTIONS). Any
/// `Content-Length` or `Transfer-Encoding` in `headers` is replaced by `framing`'s, so the
/// head can never announce two lengths (RFC 9112 §6.1, §6.3). Nothing is written on error.
pub fn encode_request_head(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    framing: RequestFraming,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    check_request_line(method, target)?;
    let mut hosts = headers.get_all(HOST).iter();
    let host = hosts.next().ok_or(EncodeError::MissingHost)?;
    if hosts.next().is_some() {
        return Err(EncodeError::DuplicateHost);
    }
    for (name, value) in headers {
        check_field(name, value)?;
    }

    let fields: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    dst.reserve(method.as_str().len() + target.len() + fields + 64);
    put_request_line(dst, method, target);
    put_field(dst, "host", host.as_bytes());
    let mut cookies_written = false;
    for (name, value) in headers {
        if name == HOST || name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        if name == COOKIE {
            // HTTP/2 splits Cookie into one field per cookie; RFC 9113 §8.2.3: they MUST be
            // joined with "; " before going to HTTP/1.1, where RFC 6265 §5.4 allows one line.
            if !cookies_written {
                cookies_written = true;
                put_cookies(dst, headers);
            }
            continue;
        }
        put_field(dst, name.as_str(), value.as_bytes());
    }
    put_framing(dst, framing);
    Ok(())
}

/// [`encode_request_head`] for fields put one by one into a [`HeadWriter`] by `fields`
/// (`forward::forward_fields`), written as they come: no map is built only to be written
/// out. The same rules: `Host` first and once, every name a token and no value with CR, LF
/// or NUL, `Cookie` lines in one run joined into one, `Content-Length` and
/// `Transfer-Encoding` replaced by `framing`'s. Nothing is left in `dst` on error.
pub fn encode_request_fields(
    method: &Method,
    target: &str,
    framing: RequestFraming,
    dst: &mut BytesMut,
    fields: impl FnOnce(&mut HeadWriter<'_>),
) -> Result<(), EncodeError> {
    check_request_line(method, target)?;
    let start = dst.len();
    dst.reserve(method.as_str().len() + target.len() + 512);
    put_request_line(dst, method, target);
    let mut writer = HeadWriter {
        dst,
        hosts: 0,
        in_cookie: false,
        fields: 0,
        error: None,
    };
    fields(&mut writer);
    let outcome = match (writer.error.take(), writer.hosts) {
        (Some(e), _) => Err(e),
        (None, 0) => Err(EncodeError::MissingHost),
        (None, _) => Ok(()),
    };
    match outcome {
        Ok(()) => put_framing(writer.dst, framing),
        Err(_) => writer.dst.truncate(start),
    }
    outcome
}

/// The fields of a request head being written (see [`encode_request_fields`]).
pub struct HeadWriter<'a> {
    dst: &'a mut BytesMut,
    /// `Host` lines put.
    hosts: usize,
    /// The last line written is a `Cookie` line, still open for the next cookie.
    in_cookie: bool,
    /// Lines put, `Host` among them.
    fields: usize,
    /// The first fault: the head is dropped.
    error: Option<EncodeError>,
}

impl FieldSink for HeadWriter<'_> {
    fn put(&mut self, name: &HeaderName, value: &HeaderValue) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = check_field(name, value) {
            self.error = Some(e);
            return;
        }
        let first = self.fields == 0;
        self.fields += 1;
        let was_cookie = std::mem::replace(&mut self.in_cookie, false);
        if *name == HOST {
            self.hosts += 1;
            // RFC 9112 §3.2: once; RFC 9110 §7.2: first.
            if self.hosts > 1 {
                self.error = Some(EncodeError::DuplicateHost);
                return;
            }
            if !first {
                self.error = Some(EncodeError::HostNotFirst);
                return;
            }
        } else if *name == CONTENT_LENGTH || *name == TRANSFER_ENCODING {
            return;
        } else if *name == COOKIE {
            // Joined as in `encode_request_head` (RFC 9113 §8.2.3): the line stays open.
            self.in_cookie = true;
            if was_cookie {
                self.dst.truncate(self.dst.len() - 2);
                self.dst.put_slice(b"; ");
                self.dst.put_slice(value.as_bytes());
                self.dst.put_slice(b"\r\n");
                return;
            }
        }
        put_field(self.dst, name.as_str(), value.as_bytes());
    }
}

/// The method is a token, and the target origin-form or `*` for OPTIONS, with no control
/// character, space or DEL. `http` types already hold these invariants; checked again
/// because a broken one would let a value end the head early and smuggle a second request
/// (RFC 9112 §11.2).
fn check_request_line(method: &Method, target: &str) -> Result<(), EncodeError> {
    let method = method.as_str();
    if method.is_empty() || !is_token(method.as_bytes()) {
        return Err(EncodeError::Method);
    }
    let origin_form = target.starts_with('/');
    let asterisk = target == "*" && method == "OPTIONS";
    if !(origin_form || asterisk) || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(EncodeError::Target);
    }
    Ok(())
}

/// A value that cannot end the line (RFC 9110 §5.5). The name needs no check: a
/// `HeaderName` is a non-empty token by construction (the `http` crate has no unchecked
/// constructor), and checking it again byte by byte cost about 400 of the 27,400
/// instructions of a proxied request (row m of `bench/instructions.sh`). Values are checked:
/// some are made without the crate's check, from bytes httparse accepted
/// (`http::field_value::parsed`).
fn check_field(name: &HeaderName, value: &HeaderValue) -> Result<(), EncodeError> {
    if breaks_line(value.as_bytes()) {
        return Err(EncodeError::FieldValue(name.as_str().to_owned()));
    }
    Ok(())
}

/// Whether every byte is a `tchar`, in one pass without an early exit (a method is
/// a token by construction, so the pass always runs to its end; stopping early only added a
/// branch per byte).
fn is_token(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |token, &b| token & is_tchar(b))
}

fn put_request_line(dst: &mut BytesMut, method: &Method, target: &str) {
    dst.put_slice(method.as_str().as_bytes());
    dst.put_u8(b' ');
    dst.put_slice(target.as_bytes());
    dst.put_slice(b" HTTP/1.1\r\n");
}

/// The framing field for `framing`, and the empty line that ends the head.
fn put_framing(dst: &mut BytesMut, framing: RequestFraming) {
    match framing {
        RequestFraming::None => {}
        RequestFraming::Length(n) => {
            put_field(
                dst,
                "content-length",
                itoa::Buffer::new().format(n).as_bytes(),
            );
        }
        RequestFraming::Chunked => put_field(dst, "transfer-encoding", b"chunked"),
    }
    dst.put_slice(b"\r\n");
}

/// One chunk of a chunked body (RFC 9112 §7.1): size in hex, CRLF, the data, CRLF. Writes
/// nothing for empty `data`, since a zero-size chunk would end the body.
pub fn encode_chunk(data: &[u8], dst: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    let size = format!("{:X}\r\n", data.len());
    dst.reserve(size.len() + data.len() + 2);
    dst.put_slice(size.as_bytes());
    dst.put_slice(data);
    dst.put_slice(b"\r\n");
}

/// The end of a chunked body: the last chunk and an empty trailer section (RFC 9112 §7.1).
pub fn encode_last_chunk(dst: &mut BytesMut) {
    dst.put_slice(b"0\r\n\r\n");
}

/// Every `Cookie` field of `headers` as one line, joined with "; ".
fn put_cookies(dst: &mut BytesMut, headers: &HeaderMap) {
    dst.put_slice(b"cookie: ");
    for (at, value) in headers.get_all(COOKIE).iter().enumerate() {
        if at > 0 {
            dst.put_slice(b"; ");
        }
        dst.put_slice(value.as_bytes());
    }
    dst.put_slice(b"\r\n");
}

/// Whether `value` holds CR, LF or NUL. One pass without an early exit, which the compiler
/// turns into vector compares: memchr3's set-up for each call cost more than the few dozen
/// bytes of a field value (about 900 instructions for a proxied request's eight fields).
fn breaks_line(value: &[u8]) -> bool {
    value.iter().fold(0u8, |found, &b| {
        found | u8::from(b == b'\r') | u8::from(b == b'\n') | u8::from(b == 0)
    }) != 0
}

fn put_field(dst: &mut BytesMut, name: &str, value: &[u8]) {
    dst.put_slice(name.as_bytes());
    dst.put_slice(b": ");
    dst.put_slice(value);
    dst.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::breaks_line;

    /// Every position in values of every length up to past two vector widths, so that both
    /// the vector part of the pass and its tail are checked.
    #[test]
    fn a_line_break_or_nul_is_found_anywhere() {
        for len in 1..80 {
            let clean = vec![b'a'; len];
            assert!(!breaks_line(&clean));
            for at in 0..len {
                for bad in [b'\r', b'\n', 0] {
                    let mut value = clean.clone();
                    value[at] = bad;
                    assert!(breaks_line(&value), "{bad} at {at} of {len}");
                }
                let mut fine = clean.clone();
                fine[at] = b'\t';
                fine[at.saturating_sub(1)] = 0xff;
                assert!(!breaks_line(&fine));
            }
        }
        assert!(!breaks_line(b""));
    }
}
