//! The redirect responder's value: a status and a `Location` template with placeholders.
//!
//! Placeholders, expanded from the request:
//! - `{path}`: the path after the route's prefix (`/old/` matching `/old/a/b` gives `/a/b`;
//!   `/old` gives nothing, `/old/` gives `/`); for exact and glob routes, the whole path.
//! - `{query}`: the query without its `?` (empty when there is none); only after a `?`.
//! - `{?query}`: `?` and the query, or nothing when there is none.
//! - `{uri}`: the whole path, then `?query` if there is one.
//!
//! A template without placeholders is used as written: `to = "/new/"` sends every matched
//! path to `/new/`; write `to = "/new{path}"` to keep the rest.
//!
//! **No open redirect.** Placeholders carry request bytes, and a `Location` starting with `//`
//! is a network-path reference (RFC 3986 §4.2) that a browser follows to another host. So:
//! - the template starts with `/` (not `//`) or with a literal `http://` / `https://`
//!   authority: no placeholder can choose the host;
//! - `{path}` comes from the normalised path, whose segments are never empty, and each segment
//!   is percent-encoded (RFC 3986 §3.3), so `/`, `\`, `?`, `#`, `%`, CR and LF from the
//!   request stay data; `//evil.com` and `/%2F%2Fevil` both normalise to `/evil`-style paths;
//! - every run of `/` in the expanded path is collapsed to one, so `/{path}` cannot become
//!   `//evil.com` either;
//! - the query keeps its own percent-encoding (`%XX` stays as sent) and any byte that is
//!   not a query character (RFC 3986 §3.4) is encoded.
//!
//! The result is visible ASCII, a valid `Location` field value (RFC 9110 §10.2.2).

use std::fmt;

use http::{HeaderValue, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::http::target::NormalPath;

/// Characters percent-encoded in a path segment: all but RFC 3986 §3.3 `pchar`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The same, for a path expanded inside the query (`?next={path}`): `&`, `=`, `+` and `;` are
/// encoded there too, so the path stays one query parameter.
const SEGMENT_IN_QUERY: &AsciiSet = &SEGMENT.add(b'&').add(b'=').add(b'+').add(b';');

/// A redirect: status and `Location` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    status: StatusCode,
    pieces: Vec<Piece>,
    /// Bytes of `scheme://host` at the start of every expansion (0 for a path).
    origin_len: usize,
    template: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Path,
    Query,
    QueryWithMark,
    Uri,
}

/// Why a redirect cannot be built; each says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Not a redirection status usher sends.
    #[error(
        "a redirect status is 301, 302, 303, 307 or 308 (RFC 9110 §15.4); 307 is temporary and keeps the method, 308 is permanent"
    )]
    Status,
    /// The template does not start with `/` or `http(s)://host`.
    #[error(
        "`to` starts with `/` (a path on this site) or `https://` / `http://` and a host; not `//`, which would leave the scheme to the client"
    )]
    Start,
    /// A placeholder inside the scheme or host.
    #[error("the host of `to` is written out: placeholders may only follow it")]
    PlaceholderInHost,
    /// An unknown or unclosed `{...}`.
    #[error("unknown placeholder {0}: use {{path}}, {{query}}, {{?query}} or {{uri}}")]
    Placeholder(String),
    /// `{query}` before any `?`.
    #[error(
        "{{query}} belongs after a `?`, as in `/new?{{query}}`; `{{?query}}` adds the `?` only when there is a query"
    )]
    QueryOutsideQuery,
    /// A byte that is not visible ASCII.
    #[error(
        "`to` may contain only visible ASCII: percent-encode spaces, non-ASCII characters and `\\` (%20, %C3%A9, %5C)"
    )]
    Character,
}

impl Redirect {
    /// A redirect answering `status` with a `Location` built from `to`.
    pub fn new(to: &str, status: u16) -> Result<Redirect, RedirectError> {
        // RFC 9110 §15.4: 300 and 304 are not redirects to a Location, 305/306 are obsolete.
        let status = match status {
            301 | 302 | 303 | 307 | 308 => {
                StatusCode::from_u16(status).map_err(|_| RedirectError::Status)?
            }
            _ => return Err(RedirectError::Status),
        };
        if !to.bytes().all(|b| b.is_ascii_graphic()) || to.contains('\\') {
            return Err(RedirectError::Character);
        }
        let origin_len = match to.strip_prefix("https://").or(to.strip_prefix("http://")) {
            Some(rest) => {
                let host_end = rest.find(['/', '?', '#', '{']).unwrap_or(rest.len());
                let host = &rest[..host_end];
                let host_char = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b);
                if host.is_empty() || !host.bytes().all(host_char) {
                    return Err(RedirectError::Start);
                }
                to.len() - rest.len() + host_end
            }
            None if to.starts_with('/') && !to.starts_with("//") => 0,
            None if to.starts_with('{') => return Err(RedirectError::PlaceholderInHost),
            None => return Err(RedirectError::Start),
        };
        let (origin, after_origin) = to.split_at(origin_len);
        let mut pieces = vec![Piece::Literal(origin.to_owned())];
        let mut in_query = false;
        let mut rest = after_origin;
        while !rest.is_empty() {
            let Some(open) = rest.find('{') else {
                pieces.push(Piece::Literal(rest.to_owned()));
                break;
            };
            let literal = &rest[..open];
            in_query |= literal.contains('?');
            pieces.push(Piece::Literal(literal.to_owned()));
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| RedirectError::Placeholder(rest[open..].to_owned()))?;
            let name = &rest[open..=open + close];
            pieces.push(match name {
                "{path}" => Piece::Path,
                "{query}" if in_query => Piece::Query,
                "{query}" => return Err(RedirectError::QueryOutsideQuery),
                "{?query}" => Piece::QueryWithMark,
                "{uri}" => Piece::Uri,
                other => return Err(RedirectError::Placeholder(other.to_owned())),
            });
            in_query |= matches!(pieces.last(), Some(Piece::QueryWithMark | Piece::Uri));
            rest = &rest[open + close + 1..];
        }
        pieces.retain(|p| *p != Piece::Literal(String::new()));
        Ok(Redirect {
            status,
            pieces,
            origin_len,
            template: to.to_owned(),
        })
    }

    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Location` for a request to `path` (with `consumed` leading segments matched by the
    /// route's prefix, as [`RouteMatch::consumed`](super::RouteMatch)) and raw `query`.
    pub fn location(&self, path: &NormalPath, consumed: usize, query: Option<&str>) -> HeaderValue {
        let mut out = String::with_capacity(self.template.len() + 64);
        let mut in_query = false;
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => {
                    out.push_str(text);
                    in_query |= text.contains(['?', '#']);
                }
                Piece::Path => push_path(&mut out, path, consumed, in_query),
                Piece::Query => push_query(&mut out, query.unwrap_or("")),
                Piece::QueryWithMark => {
                    if let Some(q) = query {
                        out.push('?');
                        push_query(&mut out, q);
                        in_query = true;
                    }
                }
                Piece::Uri => {
                    push_path(&mut out, path, 0, in_query);
                    if let Some(q) = query {
                        out.push('?');
                        push_query(&mut out, q);
                        in_query = true;
                    }
                }
            }
        }
        let out = collapse_slashes(&out, self.origin_len);
        HeaderValue::from_str(&out).expect("every byte is visible ASCII by construction")
    }
}

impl fmt::Display for Redirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.status.as_u16(), self.template)
    }
}

/// The path after `consumed` segments; see the module docs for its shape.
fn push_path(out: &mut String, path: &NormalPath, consumed: usize, in_query: bool) {
    let set = if in_query { SEGMENT_IN_QUERY } else { SEGMENT };
    let rest = path.segments().get(consumed..).unwrap_or_default();
    for segment in rest {
        out.push('/');
        out.extend(utf8_percent_encode(segment, set));
    }
    // The root (`/`, no segments) is all slash; otherwise the slash the request ended with.
    if path.trailing_slash() || (consumed == 0 && rest.is_empty()) {
        out.push('/');
    }
}

/// The raw query, keeping `%XX` as sent and encoding anything RFC 3986 §3.4 does not allow.
fn push_query(out: &mut String, query: &str) {
    let bytes = query.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        let escape_ok = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if allowed || escape_ok {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Collapse every run of `/` in the path part (after the first `origin_len` bytes, before the
/// first `?` or `#`): the result can never start with `//`.
fn collapse_slashes(location: &str, origin_len: usize) -> String {
    let (origin, rest) = location.split_at(origin_len);
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, tail) = rest.split_at(path_end);
    let mut out = String::with_capacity(location.len());
    out.push_str(origin);
    for c in path.chars() {
        if !(c == '/' && out.len() > origin.len() && out.ends_with('/')) {
            out.push(c);
        }
    }
    out.push_str(tail);
    out
}
