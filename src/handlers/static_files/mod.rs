//! Serve files and directories from a root.
//!
//! Pipeline, in order (steps 1–4 run on one blocking thread per request, so the runtime
//! never waits on the filesystem; step 5 runs on the runtime and step 6 streams):
//! 0. `cache`: an answer validated less than `revalidate_after` (1 s) ago (a file with its
//!    headers and, up to 128 KiB, its bytes; a listing; a 404) is answered from memory with
//!    no syscall, through step 5 alone. A changed file is served stale for at most that
//!    long; see `cache` for the bound and the bounds on memory.
//! 1. `resolve`: normalised path -> typed outcome (file, directory, redirect, variants, refusal),
//!    enforcing the sandbox (hidden names, symlinks leaving the root, special files).
//!    With `clean_urls`, a last segment `N` that names nothing is answered by `N.html` when
//!    that file exists (so `/about` is exactly `/about.html`), before variants.
//! 2. `variants`: for a path with no file, pick `name.EXT` / `name.LANG.EXT` by Accept / Accept-Language
//!    (RFC 9110 §12.1, proactive negotiation).
//! 3. `suggest`: for a path that names nothing, the nearest existing names ("did you mean").
//! 4. `listing`: directories without an index, as HTML, JSON or text by Accept.
//! 5. `reply`: outcome -> response: preconditions (RFC 9110 §13.2.2), ranges (§14), headers.
//! 6. `crate::body::file`: the file body, read off-thread in chunks growing from 64 KiB to 512 KiB,
//!    exactly Content-Length bytes.
//! 7. `spa`: a path that names nothing, asked for by a navigation, gets the configured
//!    fallback file (a single-page app's shell) with `Cache-Control: no-cache`; anything
//!    else keeps its 404. The fallback goes through steps 0-5 like any request.
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
//!   an unreadable file is 403 for both) but reads nothing and sends no body. On a cache
//!   hit both answer from the cached metadata (a 304 or 412 too, before any open).
//! - **406**: only when Accept explicitly refuses every representation (q=0 or no matching
//!   range); an absent or empty Accept, `*/*` and browser defaults never do. A plain file's
//!   200 carries no `Vary: Accept` (caches would fragment per browser for a 406 that only
//!   explicit clients get); negotiated answers and listings always do.
//! - **Everything else that fails** (EIO, ...): 500, the cause logged with `tracing::warn!`.

mod cache;
mod clockmap;
mod listing;
mod reply;
mod resolve;
mod spa;
mod suggest;
mod variants;

pub use self::suggest::Suggestable;
pub use crate::body::file::{CONNECTION_READ_AHEAD, ReadAheadBudget};

#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode, header};

use self::cache::{Answer, CACHED_FILE_MAX, Cache, Cached, HotFile, Turn};
use self::listing::Listed;
use self::reply::{FileMeta, Source};
use self::resolve::{Outcome, Reopened};
use crate::body::ResponseBody;
use crate::body::prepared::{FieldForm, SameFile};
use crate::http::encode;
use crate::http::header_list;
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
    /// How long a cached answer is served from memory before the filesystem is asked again
    /// (default 1 s): the longest a changed file is served stale.
    pub revalidate_after: Duration,
    /// Serve `/about` from `about.html` when `about` does not exist (default off).
    pub clean_urls: bool,
    /// A file, relative to the root, that answers navigations to paths that name nothing
    /// (a single-page app's `index.html`); see `spa` (default none).
    pub spa_fallback: Option<PathBuf>,
    /// Serve `name.br`, `name.zst` or `name.gz` beside a file, encoded, to a client whose
    /// `Accept-Encoding` takes it (nginx's `gzip_static`, Caddy's `precompressed`; default
    /// off: a sibling left stale by a deploy would be served in the file's place).
    pub precompressed: bool,
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
            revalidate_after: cache::REVALIDATE_AFTER,
            clean_urls: false,
            spa_fallback: None,
            precompressed: false,
        }
    }
}

/// The static file responder. Clones share one cache.
#[derive(Debug, Clone)]
pub struct ServeDir {
    opts: Arc<StaticOptions>,
    cache: Arc<Cache>,
    /// Which paths a 404 may suggest (`None`: every path found).
    suggestable: Option<Suggestable>,
}

type Answered = Result<Response<ResponseBody>, Box<Problem>>;

impl ServeDir {
    /// A responder for `opts`.
    pub fn new(opts: StaticOptions) -> Self {
        ServeDir {
            cache: Arc::new(Cache::new(opts.revalidate_after)),
            opts: Arc::new(opts),
            suggestable: None,
        }
    }

    /// The same, whose 404s suggest only the paths `suggestable` allows.
    pub fn suggesting_only(self, suggestable: Suggestable) -> Self {
        ServeDir {
            suggestable: Some(suggestable),
            ..self
        }
    }

    /// Answer a GET or HEAD for `path` (already normalised). The caller has checked the method.
    /// For HEAD the response carries the same headers as GET and an empty body.
    pub async fn serve(
        &self,
        req: &Parts,
        path: &NormalPath,
        form: FieldForm,
    ) -> Result<Response<ResponseBody>, Problem> {
        // `/list%2F` decodes to the directory `/list/`, but its page's relative links would
        // resolve against `/` (RFC 3986 §5.2: `%2F` is not a separator to a client): send
        // it to the form that ends in a real `/` first, as `/list` is.
        if path.trailing_slash() && !path.segments().is_empty() && !req.uri.path().ends_with('/') {
            let location = directory_location(path.segments(), req.uri.query());
            return location.map(reply::redirect).ok_or_else(Problem::internal);
        }
        let answer = self.serve_path(req, path, form).await;
        match (answer, &self.opts.spa_fallback) {
            (Err(problem), Some(fallback)) if problem.status == StatusCode::NOT_FOUND => {
                // Boxed: only a single-page app's misses come here, and its state would
                // otherwise double the size of every file request's future.
                Box::pin(self.fallback(req, path, problem, fallback)).await
            }
            (answer, _) => answer,
        }
    }

    /// A path that names nothing: the app's fallback file for a navigation, else the 404.
    /// Both vary on what told them apart (see `spa`).
    async fn fallback(
        &self,
        req: &Parts,
        path: &NormalPath,
        mut missing: Problem,
        fallback: &std::path::Path,
    ) -> Result<Response<ResponseBody>, Problem> {
        // What the answer depends on grew past the cache entry: no repeating it as it is.
        missing = missing.fresh_until(None);
        if !spa::is_navigation(&req.headers, path) {
            missing
                .headers
                .append(header::VARY, HeaderValue::from_static(spa::VARY_NAVIGATION));
            return Err(missing);
        }
        let Some(target) = spa::fallback_path(fallback) else {
            return Err(missing);
        };
        // In the map: the fields are changed below.
        match self.serve_path(req, &target, FieldForm::Map).await {
            // The fallback is a file: a directory's redirect or listing would send the
            // navigation somewhere else entirely.
            Ok(mut res) if is_file_answer(&res) => {
                let h = res.headers_mut();
                // The app's shell changes with every deploy and answers many URLs: always
                // revalidate it (the "served with Cache-Control: no-cache").
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                crate::handlers::policy::headers::add_vary(h, "Accept");
                crate::handlers::policy::headers::add_vary(h, "Sec-Fetch-Mode");
                Ok(res)
            }
            Ok(_) => {
                tracing::warn!(fallback = %fallback.display(), "the spa fallback is not a file");
                Err(missing)
            }
            Err(problem) if problem.status == StatusCode::NOT_FOUND => {
                tracing::warn!(
                    fallback = %fallback.display(),
                    "the spa fallback file is missing or not served (hidden, outside the root)"
                );
                Err(missing)
            }
            Err(problem) => Err(problem),
        }
    }

    /// [`serve`](Self::serve) without the fallback.
    async fn serve_path(
        &self,
        req: &Parts,
        path: &NormalPath,
        form: FieldForm,
    ) -> Result<Response<ResponseBody>, Problem> {
        // A client that takes a coding the route may have ready gets the answer kept for its
        // `Accept-Encoding` (which sibling that is, if any, is the check's to find again).
        let coding_key;
        let key = if self.opts.precompressed && resolve::takes_a_coding(&req.headers) {
            coding_key = key_by_coding(path.as_str(), &req.headers);
            match &coding_key {
                Some(made) => made.as_str(),
                // A field too long to key by: looked for on disk, as each time.
                None => {
                    let now = self.cache.now();
                    let answered = self.resolve(req, path, path.as_str(), None, now, form);
                    return answered.await.map_err(|problem| *problem);
                }
            }
        } else {
            path.as_str()
        };
        // Looked up again after waiting for another request's check of a stale entry: its
        // outcome is then in the cache.
        let mut waited = false;
        loop {
            let now = self.cache.now();
            let answer = self.cache.answer(key);
            let miss = match &answer {
                Some(_) => None,
                None => self.cache.miss(key),
            };
            let turn = match (&answer, &miss) {
                (Some(cached), _) if self.cache.is_fresh(cached, now) => {
                    if let Some(answered) = self.answer_cached(req, path, cached, form).await {
                        return answered.map_err(|problem| *problem);
                    }
                    Turn::Check(None) // the entry no longer describes the file
                }
                (Some(cached), _) => self.cache.turn(cached, &mut waited).await,
                (None, Some(miss)) if self.cache.is_fresh(miss, now) => {
                    let fresh_until = match form {
                        FieldForm::Prepared => self.cache.fresh_until(miss),
                        FieldForm::Map => None,
                    };
                    return Err(miss.value.clone().fresh_until(fresh_until));
                }
                (None, Some(miss)) => self.cache.turn(miss, &mut waited).await,
                (None, None) => Turn::Check(None),
            };
            let Turn::Check(_claim) = turn else {
                continue;
            };
            // A stale answer goes along: a check that finds the file unchanged keeps it.
            let known = answer
                .as_ref()
                .filter(|cached| !self.cache.is_fresh(cached, now))
                .map(Arc::clone);
            return self
                .resolve(req, path, key, known, now, form)
                .await
                .map_err(|problem| *problem);
        }
    }

    /// Answer from a fresh cache entry, without touching the filesystem (but to open a large
    /// file). `None` when the entry no longer describes the file: resolve instead.
    async fn answer_cached(
        &self,
        req: &Parts,
        path: &NormalPath,
        cached: &Arc<Cached<Answer>>,
        form: FieldForm,
    ) -> Option<Answered> {
        let accept = header_list(&req.headers, &header::ACCEPT);
        let accept = accept.as_ref().map(HeaderValue::as_bytes);
        match &cached.value {
            Answer::File(file) => {
                if !resolve::accepts(&self.opts, accept, file.media_type) {
                    return Some(Err(Box::new(Problem::not_acceptable(
                        path.as_str(),
                        vec![file.media_type.to_owned()],
                    ))));
                }
                let planned = match reply::plan(req, path, &file.meta, form) {
                    Ok(planned) => planned,
                    Err(problem) => return Some(Err(problem)),
                };
                let source = if !planned.needs_bytes() {
                    Source::Nothing
                } else if let Some(body) = file
                    .body
                    .as_ref()
                    .filter(|_| planned.sends_from_memory(req))
                {
                    Source::Memory(body.clone())
                } else if let Some(kept) = file.kept.get() {
                    if !resolve::is_unchanged(kept.file.file(), &file.identity) {
                        return None;
                    }
                    Source::Shared(Arc::clone(&kept.file))
                } else {
                    match resolve::reopen_cached(&file.identity) {
                        // Its bytes are cached: within the interval it may be kept open.
                        Reopened::Same(opened) if file.body.is_some() => {
                            Source::Shared(self.cache.keep_open(file, opened))
                        }
                        Reopened::Same(opened) => Source::File(opened),
                        Reopened::Changed => return None,
                        Reopened::WouldWait => {
                            let identity = file.identity.clone();
                            let opened =
                                tokio::task::spawn_blocking(move || resolve::reopen(&identity));
                            let opened = opened.await.ok()??;
                            // Kept as well: where the kernel cannot tell without waiting (no
                            // `RESOLVE_CACHED` before Linux 5.12, or a sandbox refusing
                            // `openat2`), every answer would otherwise hop to the pool.
                            if file.body.is_some() {
                                Source::Shared(self.cache.keep_open(file, opened))
                            } else {
                                Source::File(opened)
                            }
                        }
                    }
                };
                // The answer is the same for the same request while the entry is fresh (and,
                // sent from the kept file, while that is unchanged): the connection may repeat
                // it.
                let (fresh_until, same_file) = match (&source, form) {
                    // Bytes in memory, or none at all (a 304: GET, as HEAD takes no lane).
                    (Source::Memory(_) | Source::Nothing, FieldForm::Prepared) => {
                        (self.cache.fresh_until(cached), None)
                    }
                    (Source::Shared(_), FieldForm::Prepared) => {
                        let same: Arc<dyn SameFile> = Arc::clone(cached) as _;
                        (self.cache.fresh_until(cached), Some(same))
                    }
                    _ => (None, None),
                };
                Some(planned.respond(path, source, fresh_until, same_file))
            }
            Answer::Listing(hot) => {
                let lenient = self.opts.lenient_accept;
                let view = match listing::view(accept, lenient, req.uri.query(), || {
                    path.as_str().into()
                }) {
                    Ok(view) => view,
                    Err(problem) => return Some(Err(problem)),
                };
                let rendered = match hot.rendered(view) {
                    Some(rendered) => rendered,
                    None => {
                        // Rendering is pure but proportional to the entries: off the runtime.
                        let data = Arc::clone(&hot.data);
                        let segments = path.segments().to_vec();
                        let rendered = tokio::task::spawn_blocking(move || {
                            listing::render(&data, &segments, view)
                        })
                        .await
                        .ok()?;
                        hot.keep(view, &rendered);
                        rendered
                    }
                };
                Some(reply::listing(req, path, rendered))
            }
        }
    }

    /// Resolve on the blocking pool, answer, and remember the answer. `known` is the stale
    /// cache entry for `key`, if any: kept (with its bytes) when the file is unchanged.
    async fn resolve(
        &self,
        req: &Parts,
        path: &NormalPath,
        key: &str,
        known: Option<Arc<Cached<Answer>>>,
        now: u64,
        form: FieldForm,
    ) -> Answered {
        let known_file = known.as_ref().and_then(|c| match &c.value {
            Answer::File(f) => Some(f.identity.clone()),
            Answer::Listing(_) => None,
        });
        self.cache.count_walk();
        let cache = Arc::clone(&self.cache);
        let mut job = resolve::Job::new(Arc::clone(&self.opts), cache, req, path, known_file);
        job.suggestable = self.suggestable.clone();
        let outcome = tokio::task::spawn_blocking(move || resolve::resolve(&job))
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "static file resolution task failed");
                Box::new(Problem::internal())
            })?;
        match outcome {
            Outcome::File(mut rep) => {
                let file = rep.file.take();
                if let Some(negotiated) = &rep.negotiated {
                    // An encoding of the file, under the key of the `Accept-Encoding` that
                    // chose it, is kept like the file (the same field chooses it again).
                    let kept = is_key_by_coding(key) && negotiated.content_location.is_none();
                    if !kept {
                        // Chosen by Accept: not cached (the choice differs per request). An
                        // encoding leaves the path's plain answer where it is.
                        if negotiated.content_encoding.is_none() {
                            self.cache.forget(key);
                        }
                        let meta = FileMeta::new(&mut rep);
                        return reply_file(req, path, &meta, rep.small.take(), file);
                    }
                }
                if let Some(cached) = known {
                    if let Answer::File(hot) = &cached.value {
                        // Dated in the future when cached, it had no `Last-Modified` (RFC
                        // 9110 §8.8.2.1); once that date has come, its entry is made again
                        // with one, from the bytes it holds.
                        let dated_since = hot.meta.modified.is_none()
                            && rep.identity.modified <= std::time::SystemTime::now();
                        if hot.identity != rep.identity {
                            // Changed: a new entry, below.
                        } else if dated_since {
                            rep.small = rep.small.take().or_else(|| hot.body.clone());
                        } else {
                            self.cache.validated(&cached, now);
                            // As from the entry: the same answer as the next request's (the
                            // cached bytes, which a compressed form is kept for, the kept
                            // file), not one sent from the file the walk opened.
                            if let Some(answered) =
                                self.answer_cached(req, path, &cached, form).await
                            {
                                return answered;
                            }
                            return reply_file(req, path, &hot.meta, hot.body.clone(), file);
                        }
                    }
                }
                let body = rep.small.take();
                if body.is_none() && rep.identity.len <= CACHED_FILE_MAX {
                    // HEAD read nothing: answer without caching.
                    let meta = FileMeta::new(&mut rep);
                    return reply_file(req, path, &meta, None, file);
                }
                let hot = HotFile {
                    meta: FileMeta::new(&mut rep),
                    identity: rep.identity,
                    media_type: rep.media_type,
                    body,
                    kept: OnceLock::new(),
                };
                let cached = self.cache.put_file(key, hot, now);
                let Answer::File(hot) = &cached.value else {
                    unreachable!("put_file stores a file");
                };
                reply_file(req, path, &hot.meta, hot.body.clone(), file)
            }
            Outcome::Listing(listed) => {
                let Listed {
                    data,
                    view,
                    rendered,
                } = *listed;
                match known.as_deref().map(|c| (c, &c.value)) {
                    Some((cached, Answer::Listing(hot))) if hot.data == data => {
                        self.cache.validated(cached, now);
                        hot.keep(view, &rendered);
                    }
                    _ => {
                        self.cache.put_listing(key, data, view, &rendered, now);
                    }
                }
                reply::listing(req, path, rendered)
            }
            Outcome::Missing(problem) => {
                self.cache.put_miss(key, &problem, now);
                Err(problem)
            }
            Outcome::Redirect(location) => {
                self.cache.forget(key);
                Ok(reply::redirect(location))
            }
            // 403, 406, 500: about this request, or rare; the entry (stale) stays as it is.
            Outcome::Refused(problem) => Err(problem),
        }
    }
}

/// The cache key of `path`'s answer to requests with this `Accept-Encoding`: the path, a NUL
/// (which no decoded path holds) and the field's value; `None` past [`MAX_CODING_KEY`] bytes.
fn key_by_coding(path: &str, fields: &http::HeaderMap) -> Option<String> {
    let accept = header_list(fields, &header::ACCEPT_ENCODING);
    let accept = accept.as_ref().map_or(&b""[..], HeaderValue::as_bytes);
    let accept = std::str::from_utf8(accept).ok()?;
    (accept.len() <= MAX_CODING_KEY).then(|| format!("{path}\0{accept}"))
}

/// Whether `key` is one [`key_by_coding`] made.
fn is_key_by_coding(key: &str) -> bool {
    key.contains('\0')
}

/// Longest `Accept-Encoding` a request's answer is kept under (256 bytes; a browser's is
/// under 40).
const MAX_CODING_KEY: usize = 256;

/// The answer to `req` for the file `meta` describes, its bytes from `body` or `file`.
fn reply_file(
    req: &Parts,
    path: &NormalPath,
    meta: &FileMeta,
    body: Option<Bytes>,
    file: Option<File>,
) -> Answered {
    // In the map: answers made on a miss are rare enough not to need the prepared form.
    let planned = reply::plan(req, path, meta, FieldForm::Map)?;
    let source = match (planned.needs_bytes(), body, file) {
        (false, _, _) => Source::Nothing,
        (true, Some(_), Some(file)) if !planned.sends_from_memory(req) => Source::File(file),
        (true, Some(bytes), _) => Source::Memory(bytes),
        (true, None, Some(file)) => Source::File(file),
        (true, None, None) => Source::Nothing,
    };
    planned.respond(path, source, None, None)
}

/// Whether `res` serves a file (200, 206 or 304). The fallback path never ends in `/`, so a
/// directory answers 301, never a listing.
fn is_file_answer(res: &Response<ResponseBody>) -> bool {
    res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED
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

/// `status` to the directory form of `path` (with `query`): the answer to a directory named
/// without its trailing slash by a route that is not a files route (a FastCGI route's
/// directory with an index script: 308, so a form posted to it stays a POST, as Caddy's
/// `php_fastcgi` answers). `None` is unreachable, as for [`directory_location`].
pub fn add_slash(
    path: &NormalPath,
    query: Option<&str>,
    status: StatusCode,
) -> Option<Response<ResponseBody>> {
    let location = directory_location(path.segments(), query)?;
    Some(reply::redirect_with(status, location))
}

/// The directory form of `segments` (`/a/b%20c/`), with `query`: where a directory's page
/// lives. `None` is unreachable (the path is percent-encoded, the query came from a URI).
fn directory_location(segments: &[String], query: Option<&str>) -> Option<HeaderValue> {
    let mut location = encoded_path(segments, true);
    if let Some(query) = query {
        location.push('?');
        location.push_str(query);
    }
    HeaderValue::try_from(location).ok()
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

/// Whether `method` asks for a body (GET) rather than only headers (HEAD).
fn wants_body(method: &Method) -> bool {
    method != Method::HEAD
}

/// `Vary` for an answer chosen by Accept only.
const VARY_ACCEPT: HeaderValue = HeaderValue::from_static("Accept");
