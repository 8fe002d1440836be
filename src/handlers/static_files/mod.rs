//! Serve files and directories from a root.
//!
//! Pipeline, in order (steps 1–4 run on one blocking thread per request, so the runtime
//! never waits on the filesystem; step 5 runs on the runtime and step 6 streams):
//! 1. `resolve`: normalised path -> typed outcome (file, directory, redirect, variants, refusal),
//!    enforcing the sandbox (hidden names, symlinks leaving the root, special files).
//! 2. `variants`: for a path with no file, pick `name.EXT` / `name.LANG.EXT` by Accept / Accept-Language
//!    (RFC 9110 §12.1, proactive negotiation).
//! 3. `suggest`: for a path that names nothing, the nearest existing names ("did you mean").
//! 4. `listing`: directories without an index, as HTML, JSON or text by Accept.
//! 5. `reply`: outcome -> response: preconditions (RFC 9110 §13.2.2), ranges (§14), headers.
//! 6. `stream`: the file body, read in 64 KiB chunks off-thread, exactly Content-Length bytes.
//!
//! # Policies
//! - **Missing, hidden, escaping, special**: a dot-name (unless `show_hidden`; `.well-known` is
//!   always served as a directory), a symlink whose target leaves the root (unless
//!   `follow_symlinks`) or lies under a hidden name, a fifo, socket or device: each gets exactly
//!   the answer a missing file gets (404 with the same kind of suggestions), whether or not the
//!   target exists, so probes learn nothing. Fifos are never opened.
//! - **Permission denied**: 403 ("the file is not readable by the server"), like nginx and
//!   Caddy: the name was already visible in listings, and telling the operator that permissions
//!   are wrong is more useful than a misleading 404.
//! - **A file that changes while it is sent**: metadata comes from the opened handle (fstat);
//!   the body sends exactly the promised Content-Length bytes: if the file grows the rest is
//!   not sent, if it shrinks the body ends with an error so the connection is aborted rather
//!   than a short body passed off as complete.
//! - **HEAD** opens and fstats the file like GET (so both agree on status and metadata:
//!   an unreadable file is 403 for both) but reads nothing and sends no body.
//! - **406**: only when Accept explicitly refuses every representation (q=0 or no matching
//!   range); an absent or empty Accept, `*/*` and browser defaults never do. A plain file's
//!   200 carries no `Vary: Accept` (caches would fragment per browser for a 406 that only
//!   explicit clients get); negotiated answers and listings always do.
//! - **Everything else that fails** (EIO, ...): 500, the cause logged with `tracing::warn!`.

mod listing;
mod reply;
mod resolve;
mod stream;
mod suggest;
mod variants;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response};

use crate::body::ResponseBody;
use crate::http::encode;
use crate::http::target::NormalPath;
use crate::problem::Problem;

/// What the static responder may serve and how.
#[derive(Debug, Clone)]
pub struct StaticOptions {
    /// The document root, canonicalised (absolute, no symlinks).
    pub root: PathBuf,
    /// Serve dot-files and dot-directories (`.well-known` is always served).
    pub show_hidden: bool,
    /// Follow symbolic links whose target lies outside the root.
    pub follow_symlinks: bool,
    /// Serve the only representation even when Accept rules it out (instead of 406).
    pub lenient_accept: bool,
    /// Offer directory listings when no index file exists.
    pub listing: bool,
    /// Index file names tried in order for a directory.
    pub index_files: Vec<String>,
    /// Media types in order of preference, used to break ties between variants.
    pub variant_order: Vec<String>,
}

impl StaticOptions {
    /// Options serving `root` with usher's defaults.
    pub fn new(root: PathBuf) -> Self {
        StaticOptions {
            root,
            show_hidden: false,
            follow_symlinks: false,
            lenient_accept: false,
            listing: true,
            index_files: vec!["index.html".to_owned()],
            variant_order: vec![
                "text/html".to_owned(),
                "application/json".to_owned(),
                "text/plain".to_owned(),
            ],
        }
    }
}

/// The static file responder.
#[derive(Debug, Clone)]
pub struct ServeDir {
    opts: Arc<StaticOptions>,
}

impl ServeDir {
    /// A responder for `opts`.
    pub fn new(opts: StaticOptions) -> Self {
        ServeDir {
            opts: Arc::new(opts),
        }
    }

    /// Answer a GET or HEAD for `path` (already normalised). The caller has checked the method.
    /// For HEAD the response carries the same headers as GET and an empty body.
    pub async fn serve(
        &self,
        req: &Parts,
        path: &NormalPath,
    ) -> Result<Response<ResponseBody>, Problem> {
        let job = resolve::Job::new(Arc::clone(&self.opts), req, path);
        let outcome = tokio::task::spawn_blocking(move || resolve::resolve(&job))
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "static file resolution task failed");
                Problem::internal()
            })?;
        reply::reply(req, path, outcome).map_err(|problem| *problem)
    }
}

/// Append `segment` (a decoded name, no `/`) to `out`, percent-encoded for a URL path: every
/// byte but RFC 3986 §2.3 unreserved characters, so `%`, `#`, `?`, `:`, spaces, quotes and
/// non-ASCII can never be read as a query, fragment, scheme or markup.
fn push_encoded(out: &mut String, segment: &str) {
    out.push_str(&encode::percent_encode_path(segment));
}

/// `/a/b%20c` (or `/a/b%20c/` with `trailing_slash`), from decoded segments.
fn encoded_path<S: AsRef<str>>(segments: &[S], trailing_slash: bool) -> String {
    let mut out = String::with_capacity(segments.iter().map(|s| s.as_ref().len() + 1).sum());
    for s in segments {
        out.push('/');
        push_encoded(&mut out, s.as_ref());
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    out
}

/// `/a/b c` (or `/a/b c/`), decoded, as problem details and suggestions show paths.
fn decoded_path<S: AsRef<str>>(segments: &[S], trailing_slash: bool) -> String {
    let mut out = String::with_capacity(segments.iter().map(|s| s.as_ref().len() + 1).sum());
    for s in segments {
        out.push('/');
        out.push_str(s.as_ref());
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    out
}

/// The value of header `name`, several field lines joined by `, ` (RFC 9110 §5.3).
/// Empty or whitespace-only counts as absent: it states no preference.
fn header_list(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
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
        Some(buf) => HeaderValue::from_bytes(&buf).ok()?,
    };
    if value.as_bytes().iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(value)
    }
}

/// Whether `method` asks for a body (GET) rather than only headers (HEAD).
fn wants_body(method: &Method) -> bool {
    method != Method::HEAD
}

/// `Vary` for an answer chosen by Accept only.
const VARY_ACCEPT: HeaderValue = HeaderValue::from_static("Accept");
