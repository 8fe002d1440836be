//! Response header changes a route's configuration asks for: set, add and remove, rules by a
//! glob on the path's last segment, and the security-headers presets.
//!
//! Two guards, both because a config line must never be able to break HTTP:
//! - framing and connection fields ([`FRAMING_HEADERS`]) are refused when the config is read:
//!   they describe the connection and the body, which the server owns (RFC 9110 §7.6.1,
//!   RFC 9112 §6.1, §9.6);
//! - `Cache-Control` from the config is applied only to answers below 400 that do not set
//!   their own: a rule `*.js -> immutable for a year` must not make the 404 of a mistyped
//!   asset immutable for a year, a 5xx keeps its `no-store` (see `crate::problem`), and a
//!   single-page app's shell keeps its `no-cache` under a route-wide `max-age`.

use http::header::CACHE_CONTROL;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::router::path::wildcard_match;

/// Header fields a route may not set, add or remove: framing and connection management
/// belong to the server (RFC 9110 §7.6.1, RFC 9112 §6.1, §9.6).
pub const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` (lowercase, as [`HeaderName`] keeps it) is a framing or connection field.
pub fn is_framing(name: &HeaderName) -> bool {
    FRAMING_HEADERS.contains(&name.as_str())
}

/// Changes to a response's header fields, applied in the order set, add, remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOps {
    /// Fields that replace any field of the same name.
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Field lines appended to those already there.
    pub add: Vec<(HeaderName, HeaderValue)>,
    /// Fields removed.
    pub remove: Vec<HeaderName>,
}

impl HeaderOps {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }

    /// Apply to the headers of an answer; `Cache-Control` only when `caching` (see
    /// [`config_caching`] and the module docs).
    pub fn apply(&self, headers: &mut HeaderMap, caching: bool) {
        for (name, value) in &self.set {
            if caching || *name != CACHE_CONTROL {
                headers.insert(name.clone(), value.clone());
            }
        }
        for (name, value) in &self.add {
            if caching || *name != CACHE_CONTROL {
                headers.append(name.clone(), value.clone());
            }
        }
        for name in &self.remove {
            headers.remove(name);
        }
    }
}

/// Whether the config's `Cache-Control` applies to an answer with `status` and `headers`
/// as the responder made them: below 400, and not set by the responder itself.
pub fn config_caching(status: StatusCode, headers: &HeaderMap) -> bool {
    status.as_u16() < 400 && !headers.contains_key(CACHE_CONTROL)
}

/// Alternatives one glob may expand to (`{a,b}{c,d}` is 4); more is a config error.
pub const MAX_GLOB_ALTERNATIVES: usize = 64;

/// A glob on one path segment: `*` is any run of characters, `{a,b}` either text; matching
/// is case-sensitive, like the file names it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentGlob {
    text: String,
    /// The braces expanded: the segment matches if any matches.
    alternatives: Vec<String>,
}

/// Why a `match` text is not a segment glob; each says how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// Empty.
    #[error("an empty glob matches nothing: write one such as `*.js`")]
    Empty,
    /// Has a `/`.
    #[error(
        "a header rule matches the last segment of the path, so it has no `/`: write `*.js`, and use a route for a directory"
    )]
    Slash,
    /// `{` without `}`, `}` without `{`, or braces inside braces.
    #[error("unbalanced braces: write alternatives as `{{js,css}}`, not nested")]
    Braces,
    /// Too many alternatives.
    #[error("the braces expand to more than 64 alternatives: split it into several rules")]
    TooMany,
}

impl SegmentGlob {
    /// Parse `text`.
    pub fn parse(text: &str) -> Result<SegmentGlob, GlobError> {
        if text.is_empty() {
            return Err(GlobError::Empty);
        }
        if text.contains('/') {
            return Err(GlobError::Slash);
        }
        let mut alternatives = vec![String::new()];
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(GlobError::Braces);
            }
            let literal = &rest[..open];
            alternatives.iter_mut().for_each(|a| a.push_str(literal));
            let after = &rest[open + 1..];
            let close = after.find(['{', '}']).ok_or(GlobError::Braces)?;
            if after.as_bytes()[close] == b'{' {
                return Err(GlobError::Braces);
            }
            let choices: Vec<&str> = after[..close].split(',').collect();
            if alternatives.len() * choices.len() > MAX_GLOB_ALTERNATIVES {
                return Err(GlobError::TooMany);
            }
            alternatives = alternatives
                .iter()
                .flat_map(|a| choices.iter().map(move |c| format!("{a}{c}")))
                .collect();
            rest = &after[close + 1..];
        }
        alternatives.iter_mut().for_each(|a| a.push_str(rest));
        Ok(SegmentGlob {
            text: text.to_owned(),
            alternatives,
        })
    }

    /// Whether `segment` (decoded) matches. Allocates nothing.
    pub fn matches(&self, segment: &str) -> bool {
        self.alternatives.iter().any(|a| {
            wildcard_match(
                a.as_bytes(),
                segment.as_bytes(),
                |&b| b == b'*',
                |p, t| p == t,
            )
        })
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Header changes for paths whose last segment matches a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRule {
    /// Which paths.
    pub glob: SegmentGlob,
    /// What changes.
    pub ops: HeaderOps,
}

/// A documented set of security header fields. Each fills a field only when the answer does
/// not carry it already, so a handler's stricter choice (a problem page's CSP) and the route's
/// own `headers` win.
///
/// `Strict-Transport-Security` belongs in both once usher serves HTTPS: sent over plain
/// HTTP it is ignored (RFC 6797 §8.1), and on a server reached by both it must come from the
/// TLS side only, so it is left to the TLS issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityPreset {
    /// Safe for any site: no MIME sniffing, framing only by the same origin, the referrer
    /// trimmed to the origin across sites, powerful features off.
    Basic,
    /// For sites that load nothing from elsewhere: also no framing at all, no referrer, a
    /// same-origin Content-Security-Policy, and a separate browsing context group.
    Strict,
}

/// Powerful features no static site needs (W3C Permissions Policy).
const PERMISSIONS: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
                           magnetometer=(), microphone=(), payment=(), usb=()";

const BASIC: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "SAMEORIGIN"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("permissions-policy", PERMISSIONS),
];

const STRICT: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", PERMISSIONS),
    (
        "content-security-policy",
        "default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    ("cross-origin-opener-policy", "same-origin"),
];

impl SecurityPreset {
    /// Its name in the config file.
    pub fn name(self) -> &'static str {
        match self {
            SecurityPreset::Basic => "basic",
            SecurityPreset::Strict => "strict",
        }
    }

    /// The fields and values it sets, lowercase names.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            SecurityPreset::Basic => BASIC,
            SecurityPreset::Strict => STRICT,
        }
    }

    /// Add each field the headers do not carry yet.
    pub fn apply(self, headers: &mut HeaderMap) {
        for (name, value) in self.fields() {
            if !headers.contains_key(*name) {
                headers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
        }
    }
}

/// Add `name` to the response's `Vary`, once (field names are case-insensitive), keeping a
/// `Vary: *`, and leaving one field line (RFC 9110 §12.5.5).
pub fn add_vary(headers: &mut HeaderMap, name: &str) {
    let mut names: Vec<String> = Vec::new();
    for value in headers.get_all(http::header::VARY) {
        let Ok(value) = value.to_str() else { continue };
        for n in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if n == "*" || n.eq_ignore_ascii_case(name) {
                return;
            }
            names.push(n.to_owned());
        }
    }
    names.push(name.to_owned());
    if let Ok(value) = HeaderValue::try_from(names.join(", ")) {
        headers.insert(http::header::VARY, value);
    }
}
