//! The head of a CGI program's output (RFC 3875 §6): header fields up to a blank line, turned
//! into a status and response fields, or the reason the output is not a CGI response.
//!
//! The program is untrusted. Lines may end in LF or CRLF (scripts print `\n`; §6.2 allows
//! either); anything else malformed is an error the caller answers with 502: a field without
//! a colon, a name that is not a token, a control character in a value, a bad `Status`, no
//! `Content-Type` or `Location`, or a head larger than [`MAX_HEAD`]. Fields that frame the
//! message or the connection (`Connection`, `Transfer-Encoding`, ...) are the server's, not
//! the program's, and are dropped (RFC 9110 §7.6.1).

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// Largest head a program may write before its first blank line.
pub const MAX_HEAD: usize = 64 * 1024;

/// What kind of response the program gave (RFC 3875 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A document (or a client redirect with a document): send status, fields and body.
    Document,
    /// `Location: /path` alone: the server answers the request for that path itself (§6.2.2).
    LocalRedirect(String),
}

/// A parsed head.
#[derive(Debug, Clone)]
pub struct CgiHead {
    /// `Status`, or 302 for a client redirect, else 200.
    pub status: StatusCode,
    /// The fields to send, with the CGI-only `Status` removed.
    pub headers: HeaderMap,
    /// Document or local redirect.
    pub kind: Kind,
    /// `Content-Length`, if the program gave a valid one: the body must be exactly this long.
    pub length: Option<u64>,
}

/// Why the output is not a CGI response; shown in the log, never to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// No blank line within [`MAX_HEAD`] bytes.
    #[error("the program wrote more than {MAX_HEAD} bytes without ending its header fields")]
    HeadTooLarge,
    /// A line that is not `name: value`.
    #[error("line {0} of the program's header is not a `Name: value` field")]
    NotAField(usize),
    /// A field name that is not a token.
    #[error("line {0} of the program's header has an invalid field name")]
    BadName(usize),
    /// A control character (other than tab) in a value, or a bare CR.
    #[error("line {0} of the program's header has a control character in its value")]
    BadValue(usize),
    /// `Status` is not `NNN reason` with NNN from 200 to 599.
    #[error("the program's Status field is not a final status code such as `404 Not Found`")]
    BadStatus,
    /// An NPH program's first line is not `HTTP/1.1 NNN reason`.
    #[error(
        "the non-parsed-header program's first line is not a status line such as `HTTP/1.1 200 OK`"
    )]
    BadStatusLine,
    /// Two `Status` fields.
    #[error("the program sent Status twice")]
    TwoStatuses,
    /// A field that has one value (RFC 9110 §5.3: Content-Type, Location) sent twice: which
    /// one the program meant is a guess, and a wrong one can make a browser read the body
    /// as another type.
    #[error("the program sent {0} twice")]
    Repeated(&'static str),
    /// `Content-Length` is not one decimal number.
    #[error("the program's Content-Length is not a number of bytes")]
    BadLength,
    /// The header ended with no field at all (the first line was blank).
    #[error("the program's output starts with a blank line: it sent no header fields")]
    Empty,
}

/// Fields the program may not set: they belong to the connection or the framing.
const SERVER_ONLY: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

/// Parse the head at the start of `out`. `Ok(None)`: no blank line yet (read more). On
/// success, the head and the number of bytes it took (the body follows).
pub fn parse(out: &[u8]) -> Result<Option<(CgiHead, usize)>, OutputError> {
    let Some((lines, consumed)) = split_head(out)? else {
        return Ok(None);
    };
    if lines.is_empty() {
        return Err(OutputError::Empty);
    }
    let (headers, status, length) = fields(&lines, 1)?;
    let location = headers.get(LOCATION).map(|l| l.as_bytes().to_vec());
    let kind = match (&location, status) {
        // §6.2.2: a local redirect is a path alone; §6.2.3: a client redirect is a URI.
        (Some(loc), None | Some(StatusCode::OK))
            if loc.starts_with(b"/") && !loc.starts_with(b"//") =>
        {
            Kind::LocalRedirect(String::from_utf8_lossy(loc).into_owned())
        }
        _ => Kind::Document,
    };
    // A head of other fields alone (`X-Foo: 1`) is no CGI response by §6.2's grammar, but
    // Apache and nginx take it as a 200 document, and §6.3.1 has the server send a body
    // without a Content-Type rather than guess one: taken as such.
    let status = match (status, &location) {
        (Some(s), _) => s,
        (None, Some(_)) => StatusCode::FOUND,
        (None, None) => StatusCode::OK,
    };
    Ok(Some((
        CgiHead {
            status,
            headers,
            kind,
            length,
        },
        consumed,
    )))
}

/// A head's lines and its length including the blank line.
type HeadLines<'a> = (Vec<&'a [u8]>, usize);

/// A `Content-Encoding` value without its `identity` members, the rest joined by ", ".
fn without_identity(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for coding in crate::http::list_elements(value) {
        if coding.eq_ignore_ascii_case(b"identity") {
            continue;
        }
        if !out.is_empty() {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(coding);
    }
    out
}

/// The header fields of `lines` (numbered from `first` in errors): the fields to send, the
/// `Status` field's code, and a valid `Content-Length`.
fn fields(
    lines: &[&[u8]],
    first: usize,
) -> Result<(HeaderMap, Option<StatusCode>, Option<u64>), OutputError> {
    let mut headers = HeaderMap::with_capacity(lines.len());
    let mut status = None;
    let mut named = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let number = index + first;
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(OutputError::NotAField(number))?;
        let name =
            HeaderName::from_bytes(&line[..colon]).map_err(|_| OutputError::BadName(number))?;
        let value = trim(&line[colon + 1..]);
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(OutputError::BadValue(number));
        }
        if name.as_str() == "status" {
            if status.is_some() {
                return Err(OutputError::TwoStatuses);
            }
            status = Some(parse_status(value)?);
            continue;
        }
        if name == http::header::CONNECTION {
            // The fields it names are for the connection it came by, not the client's (RFC
            // 9110 §7.6.1: removed, as the proxy removes an upstream's).
            let options = crate::http::list_elements(value);
            named.extend(options.filter_map(|o| HeaderName::from_bytes(o).ok()));
        }
        if SERVER_ONLY.contains(&name.as_str()) || name.as_str().starts_with("proxy-") {
            continue;
        }
        // "identity" names no coding; RFC 9110 §8.4.1 keeps it out of Content-Encoding (a
        // client would look for a decoder it has no need of).
        let codings;
        let value = if name == http::header::CONTENT_ENCODING {
            codings = without_identity(value);
            if codings.is_empty() {
                continue;
            }
            &codings[..]
        } else {
            value
        };
        let value = HeaderValue::from_bytes(value).map_err(|_| OutputError::BadValue(number))?;
        headers.append(name, value);
    }
    for name in named {
        headers.remove(name);
    }
    for (name, shown) in [(CONTENT_TYPE, "Content-Type"), (LOCATION, "Location")] {
        if headers.get_all(&name).iter().nth(1).is_some() {
            return Err(OutputError::Repeated(shown));
        }
    }
    let length = match headers.get(CONTENT_LENGTH) {
        None => None,
        Some(v) => {
            let digits = v.as_bytes();
            let n = (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(digits).ok()?.parse::<u64>().ok())
                .flatten()
                .ok_or(OutputError::BadLength)?;
            if headers.get_all(CONTENT_LENGTH).iter().count() > 1 {
                return Err(OutputError::BadLength);
            }
            Some(n)
        }
    };
    Ok((headers, status, length))
}

/// The head of a non-parsed-header program (`nph-*`, RFC 3875 §5): a status line
/// (`HTTP/1.1 200 OK`) and fields. usher still checks and frames it (it may be sent over
/// HTTP/2, and a program's framing fields are never trusted), but sends the program's status
/// and fields as they are: no `Status` field, no local redirects.
pub fn parse_nph(out: &[u8]) -> Result<Option<(CgiHead, usize)>, OutputError> {
    let Some((lines, consumed)) = split_head(out)? else {
        return Ok(None);
    };
    let Some((line, rest)) = lines.split_first() else {
        return Err(OutputError::Empty);
    };
    let status = match line
        .strip_prefix(b"HTTP/1.1 ")
        .or(line.strip_prefix(b"HTTP/1.0 "))
    {
        Some(status) => parse_status(status).map_err(|_| OutputError::BadStatusLine)?,
        None => return Err(OutputError::BadStatusLine),
    };
    let (headers, _, length) = fields(rest, 2)?;
    Ok(Some((
        CgiHead {
            status,
            headers,
            kind: Kind::Document,
            length,
        },
        consumed,
    )))
}

/// The head's lines (without their ends) and its length with the blank line, once a blank
/// line has arrived. A bare CR inside a line is an error (a line ends in LF or CRLF only).
fn split_head(out: &[u8]) -> Result<Option<HeadLines<'_>>, OutputError> {
    let mut lines = Vec::new();
    let mut at = 0;
    loop {
        let Some(lf) = out[at..].iter().position(|&b| b == b'\n') else {
            if out.len() > MAX_HEAD {
                return Err(OutputError::HeadTooLarge);
            }
            return Ok(None);
        };
        let end = at + lf;
        let line = &out[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at = end + 1;
        if at > MAX_HEAD {
            return Err(OutputError::HeadTooLarge);
        }
        if line.is_empty() {
            return Ok(Some((lines, at)));
        }
        if line.contains(&b'\r') {
            return Err(OutputError::BadValue(lines.len() + 1));
        }
        lines.push(line);
    }
}

/// `Status: NNN reason-phrase` (§6.3.3), a final status (200-599).
fn parse_status(value: &[u8]) -> Result<StatusCode, OutputError> {
    let code = value.get(..3).ok_or(OutputError::BadStatus)?;
    let rest = &value[3..];
    if !rest.is_empty() && rest[0] != b' ' {
        return Err(OutputError::BadStatus);
    }
    let status = StatusCode::from_bytes(code).map_err(|_| OutputError::BadStatus)?;
    if !(200..600).contains(&status.as_u16()) {
        return Err(OutputError::BadStatus);
    }
    Ok(status)
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests;
