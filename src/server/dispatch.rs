//! From a request to its responder: the router's decision, the route's policy (`before`),
//! and the responder (files, redirect, CGI, FastCGI), with CGI local redirects answered here.
//!
//! [`App`] holds the current configuration's [`Routes`] and swaps them whole on reload.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, VARY};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};

use super::in_place::boxed;
use super::service::{Conn, next_request_id};
use crate::body::ResponseBody;
use crate::body::prepared::FieldForm;
use crate::config::{Config, ConfigError, canonical_root};
use crate::handlers::cgi::run::{Answer, Peer};
use crate::handlers::cgi::{self, Cgi};
use crate::handlers::fastcgi::{self, FastCgi};
use crate::handlers::policy::{Flow, RoutePolicy};
use crate::handlers::proxy::{self, Proxy};
use crate::handlers::static_files::{self, ServeDir, StaticOptions, Suggestable};
use crate::http::OriginalTarget;
use crate::http::accept::choose_media_type;
use crate::http::target::{self, NormalPath};
use crate::problem::Problem;
use crate::router::path::PathPattern;
use crate::router::{Decision, Responder, Route, Router, Site};

/// Methods a static resource supports, as sent in `Allow` (RFC 9110 §10.2.1).
pub const STATIC_METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::OPTIONS];

const ALLOW_STATIC: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

/// Registered methods usher knows but a static resource does not allow: 405, not 501
/// (RFC 9110 §15.5.6 vs §15.6.2). From RFC 9110 §9, RFC 5789 and the WebDAV RFCs.
const KNOWN_METHODS: &[&str] = &[
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "SEARCH",
    "QUERY",
];

/// How many rewrites and CGI local redirects (RFC 3875 §6.2.2) one request may follow, so
/// two routes or programs pointing at each other cannot loop.
const MAX_LOCAL_REDIRECTS: usize = 5;

/// Everything a request needs. Its routes and responders are swapped whole on reload
/// ([`App::reload`]): each request takes the current set once, so a request in flight
/// finishes with the configuration it started with.
#[derive(Debug)]
pub struct App {
    current: ArcSwap<Routes>,
    /// Which configuration answers, unique across every `App` of the process and every
    /// reload: an answer remembered under one is never repeated under another
    /// (`h1::express`).
    epoch: AtomicU64,
}

/// The next [`App::epoch`].
static EPOCHS: AtomicU64 = AtomicU64::new(1);

fn next_epoch() -> u64 {
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

/// One configuration's router, and the responders that keep state (file caches, counts of
/// running programs), by route.
#[derive(Debug)]
pub struct Routes {
    router: Arc<Router>,
    /// Responders by the address of their route in `router`. Routes never move: the router
    /// owns them in vectors it never changes, and `Routes` holds the router. foldhash: an
    /// address needs no keyed hash, and SipHash was a measurable part of a small answer.
    files: ByRoute<ServeDir>,
    cgi: ByRoute<Cgi>,
    fastcgi: ByRoute<FastCgi>,
    proxies: ByRoute<Proxy>,
    /// `--compress`: how routes without a `compress` of their own compress.
    compress: Option<crate::handlers::policy::compress::Compress>,
}

/// Responders by route address.
type ByRoute<T> = HashMap<usize, T, foldhash::fast::RandomState>;

impl App {
    /// The application for `config`: its config file's sites, or `config.files` for every
    /// host and path. Every files root must be a directory (it becomes canonical: the sandbox
    /// boundary).
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Ok(App {
            current: ArcSwap::from_pointee(Routes::new(config)?),
            epoch: AtomicU64::new(next_epoch()),
        })
    }

    /// Serve `config` from now on, if it can be served; otherwise keep the current one.
    /// Requests already started finish with the configuration they started with.
    pub fn reload(&self, config: &Config) -> Result<(), ConfigError> {
        self.current.store(Arc::new(Routes::new(config)?));
        // After the store: a request that reads the new epoch routes with the new routes.
        self.epoch.store(next_epoch(), Ordering::Release);
        Ok(())
    }

    /// Which configuration answers now (see the field).
    pub(super) fn epoch(&self) -> &AtomicU64 {
        &self.epoch
    }

    /// The current router, for `usher explain` and `usher check`.
    pub fn router(&self) -> Arc<Router> {
        self.current.load().router.clone()
    }

    /// The current routes, for one request.
    pub(super) fn routes(&self) -> Arc<Routes> {
        self.current.load_full()
    }
}

impl Routes {
    fn new(config: &Config) -> Result<Self, ConfigError> {
        let router = match &config.router {
            Some(router) => router.clone(),
            None => Arc::new(directory_router(config.files.clone())),
        };
        let (mut files, mut cgi) = (ByRoute::default(), ByRoute::default());
        let mut fastcgi = ByRoute::default();
        let mut proxies = ByRoute::default();
        // Every route's paths are checked, and every failure reported with its route's
        // place in the file, rather than only the first.
        let mut failed = Vec::new();
        for (site_index, site) in router.sites().enumerate() {
            for route in &site.routes {
                let mut check = || -> Result<(), ConfigError> {
                    match &route.responder {
                        Responder::Files(opts) => {
                            let mut opts = opts.clone();
                            opts.root = canonical_root(&opts.root)?;
                            config.file_flags.apply(&mut opts);
                            let files_here = ServeDir::new(opts)
                                .suggesting_only(same_route(&router, site_index, route));
                            files.insert(route_key(route), files_here);
                        }
                        Responder::Cgi(opts) => {
                            check_cgi(&opts.target)?;
                            if let Some(interpreter) = &opts.interpreter {
                                check_interpreter(interpreter)?;
                            }
                            if opts.run_as.is_some() && !nix::unistd::geteuid().is_root() {
                                return Err(ConfigError::Path {
                                    what: "the cgi user switch of route",
                                    path: route.label.clone().into(),
                                    reason: "usher must run as root to run programs as another user",
                                });
                            }
                            cgi.insert(route_key(route), Cgi::new(opts.clone()));
                        }
                        Responder::FastCgi(opts) => {
                            // Scripts must have a root to be found in; the application itself
                            // may start later than usher, so it is not checked here.
                            if !opts.root.is_dir() {
                                return Err(ConfigError::Path {
                                    what: "the fastcgi root",
                                    path: opts.root.clone(),
                                    reason: "no such directory",
                                });
                            }
                            // The root's files that are not scripts are served as files.
                            let mut statics = StaticOptions::new(canonical_root(&opts.root)?);
                            statics.listing = false;
                            let files_here = ServeDir::new(statics)
                                .suggesting_only(same_route(&router, site_index, route));
                            files.insert(route_key(route), files_here);
                            fastcgi.insert(route_key(route), FastCgi::new(opts.clone()));
                        }
                        Responder::Proxy(opts) => {
                            proxies.insert(route_key(route), Proxy::new(opts.clone()));
                        }
                        Responder::Redirect(_) | Responder::Rewrite(_) => {}
                    }
                    Ok(())
                };
                let mut problems: Vec<ConfigError> = check().err().into_iter().collect();
                for (_, page) in &route.policy.error_pages {
                    if !page.is_file() {
                        problems.push(ConfigError::Path {
                            what: "the error page",
                            path: page.clone(),
                            reason: "no such file",
                        });
                    }
                }
                failed.extend(problems.into_iter().map(|e| match route.label.as_str() {
                    "" => e.to_string(),
                    label => format!("{label}: {e}"),
                }));
            }
        }
        if !failed.is_empty() {
            return Err(ConfigError::Paths(failed));
        }
        Ok(Routes {
            router,
            files,
            cgi,
            fastcgi,
            proxies,
            compress: config
                .compress
                .then(crate::handlers::policy::compress::Compress::all),
        })
    }

    /// How a route without a `compress` of its own compresses (`--compress`).
    pub(super) fn compress(&self) -> Option<&crate::handlers::policy::compress::Compress> {
        self.compress.as_ref()
    }
}

/// A CGI route's program or directory must exist when the configuration is loaded, not at
/// its first request.
fn check_cgi(target: &cgi::CgiTarget) -> Result<(), ConfigError> {
    let (what, path, ok, reason) = match target {
        cgi::CgiTarget::Program(p) => ("the cgi program", p, p.is_file(), "no such file"),
        cgi::CgiTarget::Dir(d) => ("the cgi directory", d, d.is_dir(), "no such directory"),
        cgi::CgiTarget::Files(r) => ("the cgi root", r, r.is_dir(), "no such directory"),
    };
    if ok {
        return Ok(());
    }
    Err(ConfigError::Path {
        what,
        path: path.clone(),
        reason,
    })
}

/// A CGI route's interpreter must be a program usher can run: a missing one would otherwise
/// surface only as every request's 502.
fn check_interpreter(interpreter: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt as _;
    let reason = match std::fs::metadata(interpreter) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => return Ok(()),
        Ok(meta) if meta.is_file() => "not executable",
        Ok(_) => "not a file",
        Err(_) => "no such file",
    };
    Err(ConfigError::Path {
        what: "the cgi interpreter",
        path: interpreter.to_path_buf(),
        reason,
    })
}

fn route_key(route: &Route) -> usize {
    std::ptr::from_ref(route) as usize
}

/// The paths a GET sends to `route` (of the site at `site`): all that its 404s may suggest.
fn same_route(router: &Arc<Router>, site: usize, route: &Route) -> Suggestable {
    let (router, key) = (Arc::clone(router), route_key(route));
    Suggestable::new(move |path| {
        router
            .route_on(site, &Method::GET, path)
            .is_some_and(|taker| route_key(taker) == key)
    })
}

/// One default site with one route serving `files` at `/`: `usher serve ROOT`.
fn directory_router(files: StaticOptions) -> Router {
    let route = Route {
        label: "the command line".to_owned(),
        pattern: PathPattern::parse("/").expect("/ is a pattern"),
        methods: None,
        policy: RoutePolicy::default(),
        responder: Responder::Files(files),
    };
    let site = Site {
        label: "the command line".to_owned(),
        hosts: Vec::new(),
        routes: vec![route],
    };
    Router::new(vec![site]).expect("one site with one route has no conflicts")
}

/// Marks an answer the route's policy made (a 401, a refused preflight): usher's own, so the
/// route's custom error pages apply to it.
#[derive(Debug, Clone, Copy)]
pub(super) struct PolicyAnswer;

/// The route a request was given to, so that its policy can finish the answer.
pub(super) struct Routed<'a> {
    /// The route.
    pub route: &'a Route,
    /// The request's normalised path.
    pub path: NormalPath,
}

/// Route and answer a request whose head passed the Host checks. Sets `routed` once a route
/// takes the request.
pub(super) async fn dispatch<'a, B>(
    app: &'a Routes,
    parts: &Parts,
    body: B,
    conn: Conn,
    routed: &mut Option<Routed<'a>>,
) -> Result<Response<ResponseBody>, Problem>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    dispatch_at(app, parts, body, conn, routed, 0).await
}

fn dispatch_at<'a, 'r, B>(
    app: &'a Routes,
    parts: &'r Parts,
    body: B,
    conn: Conn,
    routed: &'r mut Option<Routed<'a>>,
    redirects: usize,
) -> Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Problem>> + Send + 'r>>
where
    'a: 'r,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    // Boxed where it is made (see `in_place`): a request passes here once, or once more per
    // internal redirect.
    boxed(move || async move {
        // Over HTTP/2 the asterisk is `:path` beside a scheme and authority (RFC 9113 §8.3.1).
        if parts.method == Method::OPTIONS && (parts.uri == "*" || parts.uri.path() == "*") {
            return Ok(options(ALLOW_STATIC)); // the server as a whole (RFC 9110 §9.3.7)
        }
        if parts.uri.path().is_empty() {
            // Authority-form (`CONNECT host:port`) has no path to route.
            return Err(Problem::method_not_allowed(&parts.method, &STATIC_METHODS));
        }
        let path = target::normalise(parts.uri.path()).map_err(|e| {
            Problem::bad_request(format!(
                "The request cannot be routed: {e}. Send a path made of percent-encoded UTF-8, such as /docs/caf%C3%A9.html."
            ))
        })?;
        // The Host field is looked up only when a site has names to choose by.
        let host = if app.router.reads_host() {
            authority(parts)
        } else {
            None
        };
        let matched = match app.router.decide(host, &parts.method, &path) {
            Decision::Misdirected => {
                return Err(Problem::misdirected(authority(parts).unwrap_or("")));
            }
            Decision::NoRoute { .. } => {
                return Err(Problem::no_route(path.as_str()));
            }
            Decision::MethodNotAllowed { allowed, .. } if parts.method == Method::OPTIONS => {
                // A CORS preflight asks about the method it names: the route that would
                // take that method answers it with its policy.
                let asked = parts
                    .headers
                    .get("access-control-request-method")
                    .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
                if let Some(asked) = asked {
                    if let Decision::Route(target) = app.router.decide(host, &asked, &path) {
                        *routed = Some(Routed {
                            route: target.route,
                            path: path.clone(),
                        });
                        if let Flow::Respond(response) = target.route.policy.before(parts).await {
                            return Ok(*response);
                        }
                    }
                }
                return Ok(options(allow_value(allowed)));
            }
            Decision::MethodNotAllowed { allowed, .. } => {
                let mut allowed = allowed.to_vec();
                if !allowed.contains(&Method::OPTIONS) {
                    allowed.push(Method::OPTIONS); // always answered, with Allow
                }
                return Err(Problem::method_not_allowed_on(
                    path.as_str(),
                    &parts.method,
                    &allowed,
                ));
            }
            Decision::Route(matched) => matched,
        };
        let route = matched.route;
        // The route keeps the path (its policy finishes the answer with it); this request
        // borrows it from there rather than from a copy.
        let path = &routed.insert(Routed { route, path }).path;
        let user = match route.policy.before(parts).await {
            Flow::Respond(mut response) => {
                response.extensions_mut().insert(PolicyAnswer);
                return Ok(*response);
            }
            Flow::Continue { user } => user,
        };
        match &route.responder {
            Responder::Files(_) => {
                let Some(files) = app.files.get(&route_key(route)) else {
                    tracing::warn!(route = %route.label, "files route without a file server");
                    return Err(Problem::internal());
                };
                serve_files(files, parts, path).await
            }
            Responder::Redirect(redirect) => {
                let location = redirect.location(path, matched.consumed, parts.uri.query());
                let mut response = Response::new(ResponseBody::Empty);
                *response.status_mut() = redirect.status();
                response.headers_mut().insert(LOCATION, location);
                Ok(response)
            }
            Responder::Rewrite(template) => {
                let to = template.location(path, matched.consumed, parts.uri.query());
                // The cause is logged here, with the id the 500 shows.
                let failed = |why: &str| {
                    let request_id = next_request_id();
                    tracing::warn!(request_id, route = %route.label, "{why}");
                    Problem::internal().with_request_id(&request_id)
                };
                if redirects >= MAX_LOCAL_REDIRECTS {
                    return Err(failed("too many rewrites"));
                }
                let uri = to.to_str().ok().and_then(|t| t.parse().ok());
                let Some(uri) = uri else {
                    return Err(failed("a rewrite made no valid path"));
                };
                let next = reparts(parts, parts.method.clone(), uri);
                Box::pin(redispatch(app, next, body, conn, routed, redirects)).await
            }
            Responder::FastCgi(_) => {
                let Some(fcgi) = app.fastcgi.get(&route_key(route)) else {
                    tracing::warn!(route = %route.label, "fastcgi route without a client");
                    return Err(Problem::internal());
                };
                let script = match fastcgi::resolve::resolve(&fcgi.opts, path) {
                    Ok(fastcgi::resolve::Target::Script(script)) => script,
                    Ok(fastcgi::resolve::Target::File) => {
                        let Some(files) = app.files.get(&route_key(route)) else {
                            tracing::warn!(route = %route.label, "fastcgi route without files");
                            return Err(Problem::internal());
                        };
                        return serve_files(files, parts, path).await;
                    }
                    Ok(fastcgi::resolve::Target::AddSlash) => {
                        let query = parts.uri.query();
                        let redirect = StatusCode::PERMANENT_REDIRECT;
                        return static_files::add_slash(path, query, redirect)
                            .ok_or_else(Problem::internal);
                    }
                    Err(fastcgi::resolve::NoScript::NotFound) => {
                        return Err(Problem::not_found(path.as_str(), Vec::new()));
                    }
                };
                if trace_refused(parts, route) {
                    return answer_as_final_recipient(parts, route, path).map_err(|p| *p);
                }
                let peer = Peer {
                    remote: conn.peer,
                    local: conn.local,
                    user: user.as_deref(),
                };
                if let Some(link) = &conn.link {
                    link.arm(); // a client gone aborts the application's request
                }
                let request_id = next_request_id();
                // Boxed, as proxies and programs are: each has large state of its own, which
                // would otherwise make every request's future, files too, that large.
                let responding =
                    fastcgi::client::respond(fcgi, &script, parts, body, peer, &request_id);
                Box::pin(responding).await
            }
            Responder::Proxy(_) => {
                let Some(proxy) = app.proxies.get(&route_key(route)) else {
                    tracing::warn!(route = %route.label, "proxy route without a client");
                    return Err(Problem::internal());
                };
                if trace_refused(parts, route) || proxy::forward::max_forwards_exhausted(parts) {
                    return answer_as_final_recipient(parts, route, path).map_err(|p| *p);
                }
                if let Some(link) = &conn.link {
                    link.arm(); // a client gone frees the upstream's connection
                }
                let request_id = next_request_id();
                let origin = proxy::client::Origin {
                    route: &route.pattern,
                    path,
                    prefix: path.prefix(matched.consumed),
                    peer: conn.peer,
                    local: conn.local,
                    request_id: &request_id,
                    link: conn.link.as_ref(),
                };
                Box::pin(proxy::client::respond(proxy, origin, parts, body)).await
            }
            Responder::Cgi(_) => {
                let Some(runner) = app.cgi.get(&route_key(route)) else {
                    tracing::warn!(route = %route.label, "cgi route without a runner");
                    return Err(Problem::internal());
                };
                let script =
                    cgi::resolve(&runner.opts.target, &route.pattern, path, matched.consumed)
                        .map_err(|p| *p)?;
                if trace_refused(parts, route) {
                    return answer_as_final_recipient(parts, route, path).map_err(|p| *p);
                }
                let peer = Peer {
                    remote: conn.peer,
                    local: conn.local,
                    user: user.as_deref(),
                };
                if let Some(link) = &conn.link {
                    link.arm(); // a program must not outlive its client
                }
                let request_id = next_request_id();
                let running = cgi::run::run(runner, &script, parts, body, peer, &request_id);
                match Box::pin(running).await? {
                    Answer::Response(response) => Ok(response),
                    Answer::LocalRedirect(_) if redirects >= MAX_LOCAL_REDIRECTS => {
                        tracing::warn!(request_id, "too many CGI local redirects");
                        let mut problem = Problem::internal();
                        problem.request_id = Some(request_id);
                        Err(problem)
                    }
                    Answer::LocalRedirect(location) => {
                        // §6.2.2: answer as if the client had asked for `location` (a GET).
                        let uri = location.parse().map_err(|_| {
                            let mut problem = Problem::internal();
                            problem.request_id = Some(request_id.clone());
                            problem
                        })?;
                        let mut next = reparts(parts, Method::GET, uri);
                        next.headers.remove(CONTENT_LENGTH);
                        next.headers.remove(CONTENT_TYPE);
                        let empty = http_body_util::Empty::<Bytes>::new();
                        Box::pin(redispatch(app, next, empty, conn, routed, redirects)).await
                    }
                }
            }
        }
    })
}

/// `parts` with another method and target: a request answered internally (RFC 3875 §6.2.2
/// local redirects, rewrites). The first target is kept ([`OriginalTarget`]).
fn reparts(parts: &Parts, method: Method, uri: http::Uri) -> Parts {
    let mut next = Request::new(());
    *next.method_mut() = method;
    *next.uri_mut() = uri;
    *next.version_mut() = parts.version;
    *next.headers_mut() = parts.headers.clone();
    *next.extensions_mut() = parts.extensions.clone();
    if parts.extensions.get::<OriginalTarget>().is_none() {
        next.extensions_mut()
            .insert(OriginalTarget(parts.uri.clone()));
    }
    next.into_parts().0
}

/// Answer `next` as a request of its own, one step further along a chain of internal
/// redirects; the route that answers it becomes the request's route.
async fn redispatch<'a, B>(
    app: &'a Routes,
    next: Parts,
    body: B,
    conn: Conn,
    routed: &mut Option<Routed<'a>>,
    redirects: usize,
) -> Result<Response<ResponseBody>, Problem>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let mut next_routed = None;
    let answer = dispatch_at(app, &next, body, conn, &mut next_routed, redirects + 1).await;
    if let Some(next_routed) = next_routed {
        *routed = Some(next_routed);
    }
    answer
}

/// The host a request names: the target's authority (absolute-form, RFC 9112 §3.2.2, or
/// HTTP/2's `:authority`), else the Host field.
fn authority(parts: &Parts) -> Option<&str> {
    parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
}

/// Method policy of a files route: GET and HEAD serve, OPTIONS lists them, known methods get
/// 405 (RFC 9110 §15.5.6), unknown ones 501 (§15.6.2).
async fn serve_files(
    files: &ServeDir,
    parts: &Parts,
    path: &NormalPath,
) -> Result<Response<ResponseBody>, Problem> {
    match parts.method {
        Method::GET | Method::HEAD => {
            // An HTTP/1.x connection writes a cached file's fields rendered ahead; the route's
            // policy puts them into the map first if it changes fields (`RoutePolicy::after`).
            let form = FieldForm::for_version(parts.version);
            files.serve(parts, path, form).await
        }
        Method::OPTIONS => Ok(options(ALLOW_STATIC)),
        ref m if KNOWN_METHODS.contains(&m.as_str()) => {
            // RFC 9110 §15.5.6: 405 says the target resource exists and does not take the
            // method; a path that names nothing gets the 404 a GET would (with its
            // suggestions). Asked as a HEAD: the same lookup, nothing read.
            let probe = reparts(parts, Method::HEAD, parts.uri.clone());
            let form = FieldForm::for_version(parts.version);
            if let Err(missing) = files.serve(&probe, path, form).await
                && missing.status == StatusCode::NOT_FOUND
            {
                return Err(missing);
            }
            let shown = path.to_decoded_string();
            Err(Problem::method_not_allowed_on(&shown, m, &STATIC_METHODS).with_instance(shown))
        }
        ref m => Err(Problem::not_implemented(m)),
    }
}

/// TRACE echoes the request, credentials and cookies included, to whoever can run script in
/// a page (RFC 9110 §9.3.8: cross-site tracing): an upstream or a program never sees one, as
/// nginx refuses it, unless the route's `methods` names it.
/// Any spelling of the name counts: methods are case-sensitive (RFC 9110 §9.1), but programs
/// and frameworks that upper-case them (Werkzeug, PHP apps) would take `trace` as TRACE.
fn trace_refused(parts: &Parts, route: &Route) -> bool {
    parts.method.as_str().eq_ignore_ascii_case("TRACE") && route.methods.is_none()
}

/// A TRACE or OPTIONS request whose `Max-Forwards` is 0 on a proxy route: RFC 9110 §7.6.2
/// says the intermediary "MUST NOT forward the request; instead, the intermediary MUST
/// respond as the final recipient". OPTIONS gets 204 with `Allow`; TRACE gets 405 with the
/// same `Allow` less TRACE: usher does not echo a request itself, as it would reflect the
/// client's credentials (§9.3.8). `Allow` lists the route's methods, or when it names none,
/// what usher passes on ([`PASSED_ON`]): the upstream's own methods are its to say.
fn answer_as_final_recipient(
    parts: &Parts,
    route: &Route,
    path: &NormalPath,
) -> Result<Response<ResponseBody>, Box<Problem>> {
    let named = route.methods.as_deref().unwrap_or(&PASSED_ON);
    // What usher itself answers here: OPTIONS, and no TRACE (it is never echoed). The same
    // list whether asked by OPTIONS or told by a 405.
    let mut allowed: Vec<Method> = named.to_vec();
    allowed.retain(|m| m != Method::TRACE);
    if !allowed.contains(&Method::OPTIONS) {
        allowed.push(Method::OPTIONS);
    }
    if parts.method == Method::OPTIONS {
        return Ok(options(allow_value(&allowed)));
    }
    let shown = path.to_decoded_string();
    Err(Box::new(Problem::method_not_allowed_on(
        &shown,
        &parts.method,
        &allowed,
    )))
}

/// The methods a proxy route that names none passes on, as `Allow` states them when usher
/// answers for the upstream: those of RFC 9110 and RFC 5789 (PATCH) but CONNECT, which
/// opens a tunnel only in its HTTP/2 extended form, and TRACE.
const PASSED_ON: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
    Method::PATCH,
];

/// `Allow` for a route's methods, with OPTIONS (always answered).
fn allow_value(allowed: &[Method]) -> HeaderValue {
    let mut names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    if !names.contains(&"OPTIONS") {
        names.push("OPTIONS");
    }
    HeaderValue::from_str(&names.join(", ")).unwrap_or(ALLOW_STATIC)
}

/// `OPTIONS` on any resource, or on the server as a whole (`OPTIONS *`, RFC 9110 §9.3.7):
/// 204 with `Allow`, and no `Content-Length` (RFC 9110 §8.6: a server MUST NOT send one in a
/// 204; the status itself says there is no content).
fn options(allow: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response.headers_mut().insert(ALLOW, allow);
    response
}

/// `fallback` (an error answer) with the route's custom page as its body, for a client that
/// prefers HTML; `fallback` itself for every other client (API clients keep
/// `application/problem+json`, `*/*` gets plain text) and when the page cannot be read. The
/// answer keeps the fallback's status and fields (`Vary`, `WWW-Authenticate`, `Allow` ...).
pub(super) async fn custom_page(
    page: &Path,
    mut fallback: Response<ResponseBody>,
    parts: &Parts,
    is_head: bool,
) -> Response<ResponseBody> {
    // The fields are changed below, and the body replaced.
    crate::body::prepared::thaw(&mut fallback);
    let accept = parts.headers.get(http::header::ACCEPT);
    // HTML last: it wins only where the client prefers it, not on a tie such as `*/*`.
    let offered = [
        "text/plain",
        "application/problem+json",
        "application/json",
        "text/html",
    ];
    let wants_html = choose_media_type(accept.map(HeaderValue::as_bytes), &offered) == Some(3);
    if !wants_html {
        return fallback;
    }
    let Ok(html) = tokio::fs::read(page).await else {
        tracing::warn!(page = %page.display(), "custom error page cannot be read");
        return fallback;
    };
    let length = html.len();
    *fallback.body_mut() = if is_head {
        ResponseBody::Empty
    } else {
        ResponseBody::full(html)
    };
    let headers = fallback.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The problem page's policy allows its inline style and nothing else; the site's own
    // page may load its stylesheets and images (a route's own policy is added after this).
    headers.remove(http::header::CONTENT_SECURITY_POLICY);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    if !headers.get_all(VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("accept"))
    }) {
        headers.append(VARY, HeaderValue::from_static("Accept"));
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::prepared::FieldForm;

    /// A custom page for a 404 whose fields were rendered ahead keeps them, and states its
    /// own type and length.
    #[tokio::test]
    async fn a_custom_page_keeps_the_fields_of_a_prepared_problem() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("404.html");
        std::fs::write(&page, "<p>gone</p>").unwrap();
        let problem = Problem::not_found("/x", Vec::new()).remembered();
        let html = HeaderValue::from_static("text/html");
        let prepared = problem
            .clone()
            .into_response_as(Some(&html), false, FieldForm::Prepared);
        assert!(matches!(prepared.body(), ResponseBody::Prepared(_)));
        let parts = Request::get("/x")
            .header(http::header::ACCEPT, "text/html")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let r = custom_page(&page, prepared, &parts, false).await;
        let h = r.headers();
        assert_eq!(h[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[CONTENT_LENGTH], "11");
        assert_eq!(h[VARY], "Accept");
        assert_eq!(h[http::header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        // The problem page's own policy, for its own markup, is not the site page's.
        assert!(!h.contains_key(http::header::CONTENT_SECURITY_POLICY));
        assert!(matches!(r.body(), ResponseBody::Full(Some(_))));
    }

    #[test]
    fn options_is_204_with_allow_and_no_content_length() {
        let r = options(ALLOW_STATIC);
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(r.headers()[ALLOW], "GET, HEAD, OPTIONS");
        // RFC 9110 §8.6: never a Content-Length on a 204.
        assert!(r.headers().get(http::header::CONTENT_LENGTH).is_none());
    }
}
