//! A route's policy: what happens around its responder, the same for every kind of responder.
//!
//! Pipeline, in order:
//! 1. [`RoutePolicy::before`], ahead of the responder:
//!    1. `cors`: a CORS preflight (`OPTIONS` with `Origin` and
//!       `Access-Control-Request-Method`) is answered here, 204 or 403. It comes before
//!       authentication because browsers never send credentials on a preflight (Fetch §3.2.2).
//!    2. `auth`: Basic authentication; missing or wrong credentials get 401 with
//!       `WWW-Authenticate` and a problem body.
//! 2. the responder.
//! 3. [`RoutePolicy::after`], on whatever answer was produced (the responder's, a problem's,
//!    or `before`'s):
//!    1. the security-headers preset fills in the fields not already there;
//!    2. the route's `headers` (set, add, remove), then each matching header rule's, so a
//!       rule for `*.js` overrides the route; `Cache-Control` only below 400 and when the
//!       responder set none (see `headers`);
//!    3. the CORS fields of an actual response;
//!    4. `compress`: a text-like answer compressed for a client that takes a coding (see
//!       `compress`), last, so that the fields it reads (`Cache-Control: no-transform`)
//!       and changes (`ETag`, `Vary`) are the answer's final ones.
//!
//! [`RoutePolicy::error_page`] names the custom page for an error status; the server serves
//! it to clients that prefer HTML. [`RoutePolicy::explain`] describes all of this for
//! `usher explain`, without checking a password.

pub mod auth;
pub mod compress;
pub mod compressed_cache;
pub mod cors;
pub mod headers;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use http::header::{ACCEPT, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{Method, Response, StatusCode};

use self::auth::{BasicAuth, Verdict};
use self::compress::Compress;
use self::cors::{Cors, Preflight};
use self::headers::{HeaderOps, HeaderRule, SecurityPreset, add_vary, config_caching};
use crate::body::ResponseBody;
use crate::http::target::NormalPath;
use crate::problem::Problem;

/// Everything a route does around its responder. `Default` does nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Header changes for every answer (`headers`, and `cache-control` as a set).
    pub headers: HeaderOps,
    /// Header changes by a glob on the path's last segment, applied after `headers`, in order.
    pub rules: Vec<HeaderRule>,
    /// Cross-origin access.
    pub cors: Option<Cors>,
    /// Security header fields filled in.
    pub security: Option<SecurityPreset>,
    /// Basic authentication.
    pub auth: Option<BasicAuth>,
    /// Custom error pages by status, resolved paths.
    pub error_pages: Vec<(StatusCode, PathBuf)>,
    /// Answers compressed on the way out.
    pub compress: Option<Compress>,
}

/// What [`RoutePolicy::before`] decided.
#[derive(Debug)]
pub enum Flow {
    /// Go on to the responder.
    Continue {
        /// The authenticated user, when the route asks for one (CGI's `REMOTE_USER`).
        user: Option<String>,
    },
    /// Answer with this instead (a preflight's 204 or 403, a 401).
    Respond(Box<Response<ResponseBody>>),
}

impl RoutePolicy {
    /// Whether the policy changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == RoutePolicy::default()
    }

    /// Run ahead of the responder: answer a CORS preflight, then check credentials.
    pub async fn before(&self, req: &Parts) -> Flow {
        if let Some(cors) = &self.cors {
            match cors.preflight(req) {
                Preflight::No => {}
                Preflight::Allowed(fields) => {
                    let mut res = Response::new(ResponseBody::Empty);
                    *res.status_mut() = StatusCode::NO_CONTENT;
                    *res.headers_mut() = fields;
                    return Flow::Respond(Box::new(res));
                }
                Preflight::Refused(why) => {
                    let mut problem =
                        Problem::new(StatusCode::FORBIDDEN, "cors-refused", "CORS Refused")
                            .with_detail(format!(
                                "This cross-origin request is not allowed: {why}. The route's \
                                 `cors` settings list what is."
                            ));
                    let mut vary = http::HeaderMap::new();
                    add_vary(&mut vary, "Origin");
                    problem.headers.extend(vary);
                    let res = problem.into_response(req.headers.get(ACCEPT), false);
                    return Flow::Respond(Box::new(res));
                }
            }
        }
        let Some(auth) = &self.auth else {
            return Flow::Continue { user: None };
        };
        let detail = match auth.check(req).await {
            Verdict::Allowed(user) => return Flow::Continue { user: Some(user) },
            Verdict::Missing => "This page needs a user name and password, and none were sent.",
            Verdict::Malformed => {
                "The Authorization header is not Basic credentials this server can read: \
                 `Basic` and the base64 of `user:password` in UTF-8."
            }
            Verdict::Wrong => "The user name or password is wrong.",
        };
        let mut problem = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            .with_detail(format!("{detail} (realm \"{}\")", auth.realm()));
        // RFC 9110 §15.5.2: a 401 MUST carry a challenge.
        problem
            .headers
            .insert(WWW_AUTHENTICATE, auth.challenge().clone());
        let res = problem.into_response(req.headers.get(ACCEPT), req.method == Method::HEAD);
        Flow::Respond(Box::new(res))
    }

    /// Run on the answer to `req` for `path` (normalised), whoever produced it; `compress`
    /// is the server's (`--compress`), for a route that says nothing of its own.
    pub fn after(
        &self,
        req: &Parts,
        path: &NormalPath,
        res: &mut Response<ResponseBody>,
        compress: Option<&Compress>,
    ) {
        let Some(compress) = self.compress.as_ref().or(compress) else {
            self.change_fields(req, path, res);
            return;
        };
        // Before the fields change (which makes a prepared answer a plain one): the bytes of
        // a file cache's answer stay the same from answer to answer.
        let cached = match res.body() {
            ResponseBody::Prepared(prepared) => prepared.cached_bytes(),
            // The file cache's bytes over HTTP/2, a listing's kept rendering, an error page.
            ResponseBody::Full(Some(bytes)) => Some(bytes.clone()),
            _ => None,
        };
        self.change_fields(req, path, res);
        compress.apply(req, path, res, cached);
    }

    /// Steps 1 to 3 of [`RoutePolicy::after`].
    fn change_fields(&self, req: &Parts, path: &NormalPath, res: &mut Response<ResponseBody>) {
        if self.security.is_none()
            && self.headers.is_empty()
            && self.rules.is_empty()
            && self.cors.is_none()
        {
            return;
        }
        // What follows reads and changes the answer's fields: all of them in the map.
        crate::body::prepared::thaw(res);
        // Only header changes of the config ask whether the config's caching applies.
        let changes = !self.headers.is_empty() || !self.rules.is_empty();
        let caching = changes && config_caching(res.status(), res.headers());
        let headers = res.headers_mut();
        if let Some(preset) = self.security {
            preset.apply(headers);
        }
        self.headers.apply(headers, caching);
        if !self.rules.is_empty() {
            let last = path.last_segment().unwrap_or("");
            for rule in self.rules.iter().filter(|r| r.glob.matches(last)) {
                rule.ops.apply(headers, caching);
            }
        }
        if let Some(cors) = &self.cors {
            cors.decorate(&req.headers, headers);
        }
    }

    /// The custom page configured for `status`, if any.
    pub fn error_page(&self, status: StatusCode) -> Option<&Path> {
        self.error_pages
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, p)| p.as_path())
    }

    /// One line per part of the policy that applies to `req` for `path`, for `usher explain`.
    /// Credentials are reported as given or not, never checked.
    pub fn explain(&self, req: &Parts, path: &NormalPath) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(cors) = &self.cors {
            lines.push(cors.explain(req));
        }
        if let Some(auth) = &self.auth {
            let given = match auth::credentials(req) {
                auth::Credentials::Missing => "no credentials given: 401".to_owned(),
                auth::Credentials::Malformed => "unreadable credentials: 401".to_owned(),
                auth::Credentials::Basic { user, .. } => {
                    format!("credentials given for user {user:?}, checked when served")
                }
            };
            lines.push(format!("auth: realm {:?}, {given}", auth.realm()));
        }
        if let Some(preset) = self.security {
            lines.push(format!("security headers: {}", preset.name()));
        }
        let last = path.last_segment().unwrap_or("");
        for rule in self.rules.iter().filter(|r| r.glob.matches(last)) {
            lines.push(format!(
                "header rule {:?} matches {last:?}",
                rule.glob.as_str()
            ));
        }
        if let Some(compress) = &self.compress {
            lines.push(compress.explain(&req.headers));
        }
        lines
    }
}
