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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath {
    /// The decoded segments, in order. Never empty strings, `.` or `..`, and never containing `/`.
    pub segments: Vec<String>,
    /// Whether the target ended in `/` (directory form). Always true for the root, and true when
    /// the last segment was a dot-segment (`/a/.` and `/a/b/..` both name the directory `/a/`).
    pub trailing_slash: bool,
}

impl NormalPath {
    /// The path as `/a/b` or `/a/b/`, decoded (not percent-encoded); the root is `/`.
    pub fn to_decoded_string(&self) -> String {
        let len = self.segments.iter().map(|s| s.len() + 1).sum::<usize>() + 1;
        let mut out = String::with_capacity(len);
        for segment in &self.segments {
            out.push('/');
            out.push_str(segment);
        }
        if self.trailing_slash || self.segments.is_empty() {
            out.push('/');
        }
        out
    }
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

    // At most one segment per `/`. `/` is ASCII, so its positions are character boundaries;
    // a plain loop over the bytes costs less than a `str` pattern search on a short path.
    let bytes = decoded.as_bytes();
    let mut segments: Vec<String> =
        Vec::with_capacity(bytes.iter().filter(|&&b| b == b'/').count());
    let ends = (1..=bytes.len()).filter(|&at| bytes.get(at).is_none_or(|&b| b == b'/'));
    let mut start = 1;
    // The leading `/` means we start "in" the root directory.
    let mut ends_in_directory = true;
    for end in ends {
        let segment = &decoded[start..end];
        start = end + 1;
        match segment {
            // `//` and `/./` add nothing (RFC 3986 §5.2.4 rule B for `.`).
            "" | "." => ends_in_directory = true,
            // RFC 3986 §5.2.4 rule C, clamped: a `..` at the root stays at the root.
            ".." => {
                segments.pop();
                ends_in_directory = true;
            }
            name => {
                segments.push(name.to_owned());
                ends_in_directory = false;
            }
        }
    }
    Ok(NormalPath {
        segments,
        trailing_slash: ends_in_directory,
    })
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
