//! Request-target decoding: percent-decode once, normalise dot-segments, refuse what cannot name a file.
//!
//! RFC 9112 §3.2 forms: origin-form is the usual case; absolute-form (a proxy-style target) is
//! reduced to its path; asterisk-form only reaches here for `OPTIONS *` and is handled by the caller.
//!
//! The order matters for the sandbox: decode first, then split on `/`, then resolve dot-segments
//! (RFC 3986 §5.2.4, clamped at the root). Splitting after decoding makes `%2f` a separator and
//! `%2e%2e` a `..`, so no encoding can smuggle a `..` past the resolver; decoding exactly once
//! makes `%252e%252e` the literal name `%2e%2e`, which the filesystem never interprets.

use std::borrow::Cow;
use std::sync::OnceLock;

/// Why a request target cannot name anything under the root. Each maps to 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// A `%` not followed by two hex digits.
    #[error("the path has a malformed percent-encoding")]
    BadPercentEncoding,
    /// The decoded path contains a NUL byte.
    #[error("the path contains a NUL byte (%00)")]
    Nul,
    /// The decoded path is not UTF-8.
    #[error("the path is not valid UTF-8 once percent-decoded")]
    InvalidUtf8,
    /// The path does not start with `/`.
    #[error("the path does not start with '/'")]
    NotAbsolute,
}

/// A decoded, normalised request path: `/`-separated segments, none empty, `.` or `..`.
///
/// Kept as the one decoded string it renders to (the file cache's key, a problem's
/// instance); the segments are split from it the first time they are asked for, which a
/// request answered from the cache never does.
#[derive(Debug, Clone)]
pub struct NormalPath {
    /// `/a/b` or `/a/b/` (with [`trailing_slash`](Self::trailing_slash)), decoded; the root
    /// is `/`.
    decoded: String,
    /// Whether the target ended in `/` (directory form).
    trailing_slash: bool,
    /// The segments, once asked for.
    segments: OnceLock<Vec<String>>,
}

impl PartialEq for NormalPath {
    fn eq(&self, other: &Self) -> bool {
        self.decoded == other.decoded && self.trailing_slash == other.trailing_slash
    }
}

impl Eq for NormalPath {}

impl NormalPath {
    /// The path made of `segments` (each non-empty, not `.` or `..`, without `/`).
    pub fn from_segments(segments: Vec<String>, trailing_slash: bool) -> Self {
        let mut decoded =
            String::with_capacity(segments.iter().map(|s| s.len() + 1).sum::<usize>() + 1);
        for segment in &segments {
            decoded.push('/');
            decoded.push_str(segment);
        }
        if trailing_slash || segments.is_empty() {
            decoded.push('/');
        }
        NormalPath {
            decoded,
            trailing_slash,
            segments: OnceLock::from(segments),
        }
    }

    /// The path as `/a/b` or `/a/b/`, decoded (not percent-encoded); the root is `/`.
    pub fn as_str(&self) -> &str {
        &self.decoded
    }

    /// [`as_str`](Self::as_str), owned.
    pub fn to_decoded_string(&self) -> String {
        self.decoded.clone()
    }

    /// Whether the target ended in `/` (directory form). Always true for the root from
    /// [`normalise`], and true when the last segment was a dot-segment (`/a/.` and
    /// `/a/b/..` both name the directory `/a/`).
    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The decoded segments, in order. Never empty strings, `.` or `..`, and never
    /// containing `/`.
    pub fn segments(&self) -> &[String] {
        self.segments
            .get_or_init(|| self.segment_strs().map(str::to_owned).collect())
    }

    /// The segments, borrowed from the path, without keeping them.
    pub fn segment_strs(&self) -> impl DoubleEndedIterator<Item = &str> {
        let inner = self.decoded[1..]
            .strip_suffix('/')
            .unwrap_or(&self.decoded[1..]);
        // `/` is ASCII and never inside a segment: splitting gives the segments back.
        inner.split('/').filter(|s| !s.is_empty())
    }

    /// The path of the first `count` segments, `/a/b`, without a trailing `/`; `/` for none
    /// (a route's prefix, which a proxy strips). Borrowed, never split.
    pub fn prefix(&self, count: usize) -> &str {
        if count == 0 {
            return "/";
        }
        let end = (1..self.decoded.len())
            .filter(|&at| self.decoded.as_bytes()[at] == b'/')
            .nth(count - 1)
            .unwrap_or(self.decoded.len());
        match self.decoded[..end]
            .strip_suffix('/')
            .unwrap_or(&self.decoded[..end])
        {
            "" => "/",
            prefix => prefix,
        }
    }

    /// The last segment, if any.
    pub fn last_segment(&self) -> Option<&str> {
        self.segment_strs().next_back()
    }

    /// The segments, owned.
    pub fn into_segments(mut self) -> Vec<String> {
        self.segments();
        self.segments.take().unwrap_or_default()
    }
}

/// Whether `raw`, a path as received, decodes once to its own normal form (no `.`, `..` or
/// empty segment, literal or encoded): nothing was resolved away to route it, so whoever
/// decodes `raw` reads the segments [`normalise`] gives. No allocation unless `raw` has a `%`.
pub fn spells_its_normal_form(raw: &str) -> bool {
    raw.starts_with('/') && percent_decode(raw.as_bytes()).is_ok_and(|decoded| is_normal(&decoded))
}

/// Decode and normalise the path part of a request target (no query).
///
/// Percent-decodes exactly once, rejects NUL and non-UTF-8, splits on `/` after decoding, drops
/// empty and `.` segments and lets `..` remove the previous segment, never going above the root.
pub fn normalise(path: &str) -> Result<NormalPath, TargetError> {
    // RFC 9112 §3.2.1: origin-form is an absolute-path; hyper reduces absolute-form to it too.
    if !path.starts_with('/') {
        return Err(TargetError::NotAbsolute);
    }
    let decoded = percent_decode(path.as_bytes())?;
    // A NUL would truncate the name at the OS boundary (or make std refuse it later): refuse here.
    if decoded.contains(&0) {
        return Err(TargetError::Nul);
    }
    // `from_utf8` rejects overlong forms such as `%c0%ae` (an overlong `.`), so they cannot
    // become dot-segments through a lenient decoder downstream. A path with nothing decoded
    // is the `str` it came from.
    let decoded = match &decoded {
        Cow::Borrowed(_) => path,
        Cow::Owned(bytes) => std::str::from_utf8(bytes).map_err(|_| TargetError::InvalidUtf8)?,
    };

    // Most paths are already normal: they are their own normal form, copied once.
    if is_normal(decoded.as_bytes()) {
        return Ok(NormalPath {
            decoded: decoded.to_owned(),
            trailing_slash: decoded.ends_with('/'),
            segments: OnceLock::new(),
        });
    }
    // The result is never longer than the input.
    let mut out = String::with_capacity(decoded.len());
    // The leading `/` means we start "in" the root directory.
    let mut ends_in_directory = true;
    for segment in decoded[1..].split('/') {
        match segment {
            // `//` and `/./` add nothing (RFC 3986 §5.2.4 rule B for `.`).
            "" | "." => ends_in_directory = true,
            // RFC 3986 §5.2.4 rule C, clamped: a `..` at the root stays at the root.
            ".." => {
                out.truncate(out.rfind('/').unwrap_or(0));
                ends_in_directory = true;
            }
            name => {
                out.push('/');
                out.push_str(name);
                ends_in_directory = false;
            }
        }
    }
    if ends_in_directory || out.is_empty() {
        out.push('/');
    }
    Ok(NormalPath {
        decoded: out,
        trailing_slash: ends_in_directory,
        segments: OnceLock::new(),
    })
}

/// Whether `path` (starting with `/`) has no empty segment but a last one (the trailing `/`)
/// and no `.` or `..` segment: its normal form is itself. A byte loop: a `str` pattern search
/// costs more on segments this short.
fn is_normal(path: &[u8]) -> bool {
    let mut start = 1;
    for at in 1..=path.len() {
        if at < path.len() && path[at] != b'/' {
            continue;
        }
        match &path[start..at] {
            b"" if at < path.len() => return false,
            b"." | b".." => return false,
            _ => {}
        }
        start = at + 1;
    }
    true
}

/// Decode every `%XX` once (RFC 3986 §2.1); a `%` without two hex digits after it is an error.
/// Borrows when there is nothing to decode, which is the common case.
fn percent_decode(raw: &[u8]) -> Result<Cow<'_, [u8]>, TargetError> {
    let Some(first) = raw.iter().position(|&b| b == b'%') else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let [hi, lo, after @ ..] = tail else {
                return Err(TargetError::BadPercentEncoding);
            };
            let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) else {
                return Err(TargetError::BadPercentEncoding);
            };
            out.push(hi << 4 | lo);
            rest = after;
        } else {
            out.push(byte);
            rest = tail;
        }
    }
    Ok(Cow::Owned(out))
}

/// The value of one hex digit, either case (RFC 3986 §2.1: "uppercase and lowercase are equivalent").
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
