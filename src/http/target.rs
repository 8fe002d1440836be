//! Request-target decoding: percent-decode once, normalise dot-segments, refuse what cannot name a file.
//!
//! RFC 9112 §3.2 forms: origin-form is the usual case; absolute-form (a proxy-style target) is
//! reduced to its path; asterisk-form only reaches here for `OPTIONS *` and is handled by the caller.

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
    /// The decoded segments, in order. Never empty strings, `.` or `..`.
    pub segments: Vec<String>,
    /// Whether the target ended in `/` (directory form).
    pub trailing_slash: bool,
}

impl NormalPath {
    /// The path as `/a/b` or `/a/b/`, decoded (not percent-encoded).
    pub fn to_decoded_string(&self) -> String {
        todo!()
    }
}

/// Decode and normalise the path part of a request target (no query).
pub fn normalise(path: &str) -> Result<NormalPath, TargetError> {
    let _ = path;
    todo!()
}
