//! Cross-origin resource sharing (the Fetch standard's CORS protocol): preflight answers and
//! the `Access-Control-*` fields of actual responses.
//!
//! Origins are compared byte for byte with the configured list, as browsers compare the
//! `Access-Control-Allow-Origin` they get back (Fetch §3.2.5 "CORS check"); the config is
//! normalised to what browsers send (lowercase scheme and host, no default port), so an
//! `Origin: HTTPS://APP.EXAMPLE` that no browser sends is simply not allowed. `null` (sandboxed
//! frames, `file:` pages, some redirects) can never be listed: any page can make itself `null`.
//!
//! A request from an origin that is not allowed gets no CORS fields at all (the browser then
//! blocks the page from reading the answer); a preflight that is refused is answered 403 with
//! a problem body saying what was refused, which developers see in the network panel.

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::headers::add_vary;

/// Header names one preflight may ask for, at most; a longer list is refused rather than
/// compared name by name (browsers send a handful).
pub const MAX_REQUEST_HEADERS: usize = 64;

/// Which origins may read the route's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `["*"]`: any origin, without credentials.
    Any,
    /// These serialised origins (`https://app.example`, `http://localhost:3000`).
    List(Vec<String>),
}

/// Which request header fields a cross-origin request may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHeaders {
    /// `["*"]`: any (only without credentials, Fetch §3.3.5).
    Any,
    /// These names, lowercase.
    List(Vec<HeaderName>),
}

/// A route's CORS policy, validated by the config (`origins = ["*"]` only without
/// credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Who may read.
    pub origins: AllowedOrigins,
    /// Methods beyond GET, HEAD and POST that a preflight may ask for.
    pub methods: Vec<Method>,
    /// Request fields a preflight may ask for.
    pub headers: AllowedHeaders,
    /// Response fields the page may read beyond the safelisted ones.
    pub expose: Vec<HeaderName>,
    /// Whether cookies and HTTP authentication may be sent and the answer read.
    pub credentials: bool,
    /// How long a browser may reuse a preflight answer.
    pub max_age: Option<Duration>,
}

/// Why an origin in the config is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// `null`.
    #[error(
        "`null` cannot be allowed: sandboxed frames and local files all send it, so any page could pass"
    )]
    Null,
    /// Not `http://` or `https://` and a host.
    #[error("an origin is `https://` or `http://` and a host, with an optional port")]
    Form,
    /// Has a path, query or fragment.
    #[error("an origin has no path: write it as `scheme://host[:port]`, as browsers send it")]
    Path,
}

/// Normalise an origin from the config to what a browser sends in `Origin` (RFC 6454 §6.2):
/// lowercase scheme and host, the port only when not the scheme's default.
pub fn parse_origin(text: &str) -> Result<String, OriginError> {
    if text == "null" {
        return Err(OriginError::Null);
    }
    let lower = text.to_ascii_lowercase();
    let (scheme, rest, default_port) = if let Some(rest) = lower.strip_prefix("https://") {
        ("https", rest, "443")
    } else if let Some(rest) = lower.strip_prefix("http://") {
        ("http", rest, "80")
    } else {
        return Err(OriginError::Form);
    };
    if rest.contains(['/', '?', '#']) {
        return Err(OriginError::Path);
    }
    let (host, port) = match rest.rsplit_once(':') {
        // `[::1]` alone has colons but no port.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && !host.contains('@')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    if !host_ok || !port_ok {
        return Err(OriginError::Form);
    }
    Ok(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// What a preflight request gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Preflight {
    /// Not a preflight: an actual request, handled by the route.
    No,
    /// 204 with these fields.
    Allowed(HeaderMap),
    /// 403: the reason, for the problem detail.
    Refused(String),
}

/// CORS-safelisted methods (Fetch §2.2.1): a browser never asks to use them.
const SAFELISTED_METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::POST];

impl Cors {
    /// The single `Origin` of `req` if this policy allows it. Two `Origin` fields are no
    /// origin: a browser sends one.
    fn allowed_origin<'r>(&self, headers: &'r HeaderMap) -> Option<&'r HeaderValue> {
        let mut all = headers.get_all(ORIGIN).iter();
        let origin = all.next()?;
        if all.next().is_some() {
            return None;
        }
        match &self.origins {
            AllowedOrigins::Any => Some(origin),
            AllowedOrigins::List(list) => list
                .iter()
                .any(|o| o.as_bytes() == origin.as_bytes())
                .then_some(origin),
        }
    }

    /// Answer a preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`
    /// (Fetch §3.2.2). Anything else is [`Preflight::No`].
    pub fn preflight(&self, req: &Parts) -> Preflight {
        let h = &req.headers;
        let Some(requested) = h.get(ACCESS_CONTROL_REQUEST_METHOD) else {
            return Preflight::No;
        };
        if req.method != Method::OPTIONS || !h.contains_key(ORIGIN) {
            return Preflight::No;
        }
        let Some(origin) = self.allowed_origin(h) else {
            return Preflight::Refused(
                "the request's Origin is not among the origins this route allows".to_owned(),
            );
        };
        // RFC 9110 §9.1: methods are case-sensitive tokens; `Method` parses tokens only.
        let method = Method::from_bytes(requested.as_bytes()).ok();
        let allowed = method
            .as_ref()
            .is_some_and(|m| SAFELISTED_METHODS.contains(m) || self.methods.contains(m));
        if !allowed {
            let shown = String::from_utf8_lossy(requested.as_bytes()).into_owned();
            return Preflight::Refused(format!(
                "the method {shown:?} is not among the methods this route allows"
            ));
        }
        let names = match requested_headers(h) {
            Ok(names) => names,
            Err(reason) => return Preflight::Refused(reason),
        };
        if let AllowedHeaders::List(list) = &self.headers {
            if let Some(name) = names
                .iter()
                .find(|n| !list.iter().any(|l| l.as_str() == n.as_str()))
            {
                return Preflight::Refused(format!(
                    "the header field {name:?} is not among the fields this route allows"
                ));
            }
        }
        let mut out = HeaderMap::new();
        self.allow_origin(origin, &mut out);
        if !self.methods.is_empty() {
            let list: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
            if let Ok(v) = HeaderValue::try_from(list.join(", ")) {
                out.insert(ACCESS_CONTROL_ALLOW_METHODS, v);
            }
        }
        if !names.is_empty() {
            if let Ok(v) = HeaderValue::try_from(names.join(", ")) {
                out.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
        }
        if let Some(age) = self.max_age {
            out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age.as_secs()));
        }
        // The answer depends on all three: a cache must not reuse it for another.
        add_vary(&mut out, "Access-Control-Request-Method");
        add_vary(&mut out, "Access-Control-Request-Headers");
        Preflight::Allowed(out)
    }

    /// Add the fields of an actual response to `headers`: `Vary: Origin` whenever the answer
    /// depends on the origin, and for an allowed origin, who may read it, with credentials
    /// or not, and which fields.
    pub fn decorate(&self, req_headers: &HeaderMap, headers: &mut HeaderMap) {
        if let Some(origin) = self.allowed_origin(req_headers) {
            self.allow_origin(origin, headers);
            if !self.expose.is_empty() {
                let list: Vec<&str> = self.expose.iter().map(HeaderName::as_str).collect();
                if let Ok(v) = HeaderValue::try_from(list.join(", ")) {
                    headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v);
                }
            }
        } else if self.origins != AllowedOrigins::Any {
            add_vary(headers, "Origin");
        }
    }

    fn allow_origin(&self, origin: &HeaderValue, out: &mut HeaderMap) {
        match self.origins {
            // `*` without credentials: the same answer for every origin, so no Vary.
            AllowedOrigins::Any => {
                out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            }
            AllowedOrigins::List(_) => {
                out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                add_vary(out, "Origin");
            }
        }
        if self.credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// One line for `usher explain`: what this policy decides for `req`.
    pub fn explain(&self, req: &Parts) -> String {
        let origin = req.headers.get(ORIGIN);
        match (self.preflight(req), origin) {
            (Preflight::Allowed(_), _) => "cors: preflight allowed: 204".to_owned(),
            (Preflight::Refused(why), _) => format!("cors: preflight refused, {why}: 403"),
            (Preflight::No, None) => "cors: no Origin, not a cross-origin request".to_owned(),
            (Preflight::No, Some(o)) => {
                let shown = String::from_utf8_lossy(o.as_bytes());
                if self.allowed_origin(&req.headers).is_some() {
                    format!("cors: origin {shown:?} allowed")
                } else {
                    format!("cors: origin {shown:?} not allowed: no CORS fields")
                }
            }
        }
    }
}

/// The names of `Access-Control-Request-Headers`, lowercase, in order, each once.
fn requested_headers(h: &HeaderMap) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for value in h.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
        for raw in value.as_bytes().split(|&b| b == b',') {
            let raw = raw.trim_ascii();
            if raw.is_empty() {
                continue;
            }
            let Ok(name) = HeaderName::from_bytes(raw) else {
                return Err(
                    "Access-Control-Request-Headers lists a name that is not a header field name"
                        .to_owned(),
                );
            };
            if !names.iter().any(|n| n == name.as_str()) {
                if names.len() == MAX_REQUEST_HEADERS {
                    return Err(format!(
                        "Access-Control-Request-Headers lists more than {MAX_REQUEST_HEADERS} fields"
                    ));
                }
                names.push(name.as_str().to_owned());
            }
        }
    }
    Ok(names)
}
