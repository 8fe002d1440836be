//! Pure protocol helpers on `http` types: no I/O, no sockets, no configuration.
//!
//! - [`target`]: request-target decoding and dot-segment normalisation (RFC 9112 §3.2, RFC 3986 §5.2.4).
//! - [`etag`]: entity tags and their strong/weak comparison (RFC 9110 §8.8.3).
//! - [`conditional`]: precondition evaluation in the order of RFC 9110 §13.2.2.
//! - [`range`]: `Range` parsing and coalescing (RFC 9110 §14).
//! - [`chunked`]: strict incremental decoding of chunked request bodies (RFC 9112 §7.1).
//! - [`accept`]: `Accept` / `Accept-Language` parsing and proactive negotiation (RFC 9110 §12).
//! - [`mime`]: Content-Type from a file extension.
//! - [`encode`]: percent-encoding of paths for links and HTML escaping.
//! - [`persistence`]: whether an HTTP/1.x connection stays open after a message (RFC 9112 §9.3).
//! - [`addr_text`]: addresses and numbers as text, without the formatter's machinery.

pub mod accept;
pub mod addr_text;
pub mod chunked;
pub mod conditional;
pub mod encode;
pub mod etag;
pub mod field_value;
pub mod mime;
pub mod persistence;
pub mod range;
pub mod target;

/// The target a request arrived with, kept in its extensions once a rewrite or a program's
/// local redirect (RFC 3875 §6.2.2) gives it another: programs get it as `REQUEST_URI`, as
/// nginx's `$request_uri` and Apache's are, so a front controller reached through
/// `rewrite = { to = "/index.php{?query}" }` still routes on the address the client asked for.
#[derive(Debug, Clone)]
pub struct OriginalTarget(pub http::Uri);

/// Whether two authorities name the same server: the host compared without case, and a
/// missing port read as `default_port` (RFC 9110 §4.2.3: `example.com` and `example.com:80`
/// are one `http` origin); with no default, ports compare as written.
pub fn same_authority(
    a: &http::uri::Authority,
    b: &http::uri::Authority,
    default_port: Option<u16>,
) -> bool {
    let port = |x: &http::uri::Authority| x.port_u16().or(default_port);
    a.host().eq_ignore_ascii_case(b.host()) && port(a) == port(b)
}

/// RFC 9110 §5.6.2: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
/// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`, the bytes of a token. A table: tokens are
/// read on every request (methods, field names, media types, codings).
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// The elements of a comma-separated field value (RFC 9110 §5.6.1), trimmed, empty ones
/// skipped. For lists of tokens (`Connection`, `Upgrade`); lists with quoted strings need a
/// quote-aware split.
pub fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|element| !element.is_empty())
}

/// The field lines of `fields` as HTTP/1.1 writes them (RFC 9112 §5): `name: value` CRLF
/// each, in the map's order. Names are lowercase, as the map holds them.
pub fn put_field_lines(fields: &http::HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in fields {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// `1*DIGIT` as a number (Content-Length, byte positions, status digits): `None` when empty,
/// not all ASCII digits, or too large for 64 bits. Leading zeros are allowed, as the grammar
/// allows them.
pub fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

const TCHAR: [bool; 256] = alphanumeric_and(b"!#$%&'*+-.^_`|~");

/// A table of the bytes that are ASCII letters, digits, or in `extra`: the shape of most
/// character classes in the RFCs (tokens, host names), looked up in one step.
pub const fn alphanumeric_and(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// The value of header `name`, several field lines joined by `, ` (RFC 9110 §5.3).
/// Empty or whitespace-only counts as absent: it states no preference.
pub fn header_list(
    headers: &http::HeaderMap,
    name: &http::HeaderName,
) -> Option<http::HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut joined: Option<Vec<u8>> = None;
    for v in values {
        let buf = joined.get_or_insert_with(|| first.as_bytes().to_vec());
        buf.extend_from_slice(b", ");
        buf.extend_from_slice(v.as_bytes());
    }
    let value = match joined {
        None => first.clone(),
        Some(buf) => http::HeaderValue::from_bytes(&buf).ok()?,
    };
    if value.as_bytes().iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    /// `1*DIGIT`: digits only, at least one, leading zeros allowed, nothing past `u64::MAX`.
    #[test]
    fn decimals_are_digits_only_and_fit() {
        assert_eq!(super::parse_decimal(b"0"), Some(0));
        assert_eq!(super::parse_decimal(b"007"), Some(7));
        assert_eq!(
            super::parse_decimal(b"18446744073709551615"),
            Some(u64::MAX)
        );
        for odd in [
            &b""[..],
            b"18446744073709551616",
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1,1",
            b"0x1",
            b"\xd9\xa1",
        ] {
            assert_eq!(super::parse_decimal(odd), None, "{odd:?}");
        }
    }

    /// The table holds exactly the bytes RFC 9110 §5.6.2 lists.
    #[test]
    fn tchar_is_the_rfc_set() {
        let listed =
            b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for b in 0..=255u8 {
            assert_eq!(super::is_tchar(b), listed.contains(&b), "byte {b:#04x}");
        }
    }
}
