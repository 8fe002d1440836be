//! A field value httparse accepted (a request's, or an upstream's response's), made a
//! `HeaderValue` without checking its bytes a second time.
//!
//! httparse accepts in a field value exactly the bytes `HeaderValue` allows: HTAB, SP to `~`
//! and obs-text (0x80 to 0xFF; RFC 9110 §5.5). `HeaderValue::from_maybe_shared` checks them
//! again, a byte at a time: about 1,200 instructions for the eleven fields a browser sends
//! (row a+ of `bench/instructions.sh`). The unchecked constructor is an `unsafe fn` of the
//! `http` crate, hence this module; the tests below pin the two byte sets to each other, in
//! requests and in responses, and debug builds (the tests, the fuzz targets) still check
//! every value.
#![allow(unsafe_code)]

use bytes::Bytes;
use http::HeaderValue;

/// `bytes`, a field value as httparse returned it (from a request, or from a response parsed
/// with the default `ParserConfig`), as a `HeaderValue`.
pub fn parsed(bytes: Bytes) -> HeaderValue {
    // SAFETY: `HeaderValue`'s invariant is that its bytes are valid field-value bytes, and
    // httparse returned a value only after checking each of its bytes against the same set
    // (`value_bytes_are_what_header_value_allows`). Nothing in `http` relies on the
    // invariant for memory safety: `to_str` checks the bytes again before it borrows them as
    // text. Debug builds check here too (the `http` crate panics on invalid bytes).
    unsafe { HeaderValue::from_maybe_shared_unchecked(bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each byte is either accepted by both httparse (inside a field value) and
    /// `HeaderValue`, or refused by both: in a short value, and in a long one that httparse
    /// scans 32 bytes at a time where the CPU allows.
    #[test]
    fn value_bytes_are_what_header_value_allows() {
        for around in [1, 40] {
            for byte in 0..=255u8 {
                // CR and LF end the line rather than sit in the value.
                if byte == b'\r' || byte == b'\n' {
                    continue;
                }
                let mut value = vec![b'a'; around];
                value.push(byte);
                value.extend(std::iter::repeat_n(b'b', around));
                let by_http = HeaderValue::from_bytes(&value).is_ok();
                for start in [&b"GET / HTTP/1.1\r\n"[..], b"HTTP/1.1 200 OK\r\n"] {
                    let mut head = start.to_vec();
                    head.extend_from_slice(b"X: ");
                    head.extend_from_slice(&value);
                    head.extend_from_slice(b"\r\n\r\n");
                    let mut fields = [httparse::EMPTY_HEADER; 4];
                    let outcome = if start.starts_with(b"GET") {
                        httparse::Request::new(&mut fields).parse(&head)
                    } else {
                        httparse::Response::new(&mut fields).parse(&head)
                    };
                    let by_httparse = matches!(outcome, Ok(httparse::Status::Complete(_)));
                    assert_eq!(by_httparse, by_http, "byte {byte:#04x} among {around}");
                    if by_httparse {
                        assert_eq!(fields[0].value, value);
                        let made = parsed(Bytes::copy_from_slice(fields[0].value));
                        assert_eq!(made.as_bytes(), value);
                    }
                }
            }
        }
    }
}
