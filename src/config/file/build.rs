//! Raw tables -> typed values and the [`Router`], one diagnostic per bad value.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;
use toml::Spanned;

use super::diagnostic::{Diagnostic, line_col};
use super::policy::{PolicyKeys, route_policy};
use super::raw::{OneOrMany, RawFiles, RawRoute, RawServer, Symlinks};
use super::{FileConfig, SiteTables, Tables};
use crate::cli::{parse_duration, parse_size};
use crate::handlers::balance::HealthRule;
use crate::handlers::policy::RoutePolicy;
use crate::handlers::static_files::StaticOptions;
use crate::router::host::{HostConflict, HostPattern};
use crate::router::path::PathPattern;
use crate::router::redirect::Redirect;
use crate::router::{Responder, Route, RouteConflict, Router, RouterError, Site};
use crate::server::access_log::Target as AccessLogTarget;

/// Most runtime threads `workers` may ask for (the CLI's bound too).
const MAX_WORKERS: i64 = 1024;

/// A redirect's status when the file gives none: temporary, so a mistake is not cached by
/// browsers for good (301 and 308 are cacheable by default, RFC 9110 §15.4.2, §15.4.9), and
/// method-preserving, unlike 302 (RFC 9110 §15.4.3 note, §15.4.8).
const DEFAULT_REDIRECT_STATUS: i64 = 307;

/// Where things were written, parallel to the sites and routes handed to [`Router::new`],
/// so the router's findings can point back into the file.
struct Spans {
    site: Range<usize>,
    hosts: Vec<Range<usize>>,
    routes: Vec<Range<usize>>,
    patterns: Vec<String>,
}

pub(super) fn build(
    tables: Tables,
    file: &Path,
    source: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<FileConfig> {
    let base = file.parent().unwrap_or(Path::new(""));
    let at = |span: &Range<usize>| format!("{}:{}", file.display(), line_col(source, span.start).0);
    let server = tables.top.and_then(|t| t.server);
    let access_log = server
        .as_ref()
        .and_then(|s| s.access_log.as_ref())
        .and_then(|log| access_log_target(log, base, errors));
    let (listen, grace_period, workers) =
        server.map(|s| server_values(s, errors)).unwrap_or_default();
    if tables.no_site {
        errors.push(
            Diagnostic::new(0..0, "the file defines no site")
                .help("add a `[[site]]` table with a `root` to serve"),
        );
    }
    let mut sites = Vec::new();
    let mut spans = Vec::new();
    for SiteTables { span, raw, routes } in tables.sites {
        // A site whose table did not deserialise has its error already; left out, it cannot
        // pass for a second default site.
        let Some(raw) = raw else { continue };
        let written = !routes.is_empty();
        if let Some(list) = raw
            .hosts
            .as_ref()
            .filter(|l| OneOrMany::written(l).is_empty())
        {
            errors.push(
                Diagnostic::new(list.span(), "`hosts` lists no name").help(
                    "list the names this site answers, or remove the key for the default site",
                ),
            );
        }
        let (hosts, host_spans) = match raw.hosts.as_ref() {
            Some(list) => OneOrMany::written(list)
                .into_iter()
                .filter_map(|(host, span)| {
                    let pattern = HostPattern::parse(host)
                        .map_err(|e| errors.push(Diagnostic::new(span.clone(), e.to_string())))
                        .ok()?;
                    Some((pattern, span))
                })
                .unzip(),
            None => (Vec::new(), Vec::new()),
        };
        let root = raw.root.map(|r| resolve(base, r.get_ref()));
        let mut built = Vec::new();
        let mut route_spans = Vec::new();
        let mut patterns = Vec::new();
        for (route_span, route) in routes {
            let path_span = route.path.span();
            let path_text = route.path.get_ref().clone();
            if let Some(r) = build_route(route, root.as_deref(), base, &route_span, errors) {
                built.push(Route {
                    label: at(&route_span),
                    ..r
                });
                route_spans.push(path_span);
                patterns.push(path_text);
            }
        }
        if !written {
            match &root {
                Some(root) => {
                    built.push(Route {
                        label: at(&span),
                        pattern: PathPattern::Prefix(Vec::new()),
                        methods: None,
                        policy: RoutePolicy::default(),
                        responder: Responder::Files(StaticOptions::new(root.clone())),
                    });
                    route_spans.push(span.clone());
                    patterns.push("/".to_owned());
                }
                None => errors.push(
                    Diagnostic::new(span.clone(), "this site has nothing to serve")
                        .help("give it a `root`, or `[[site.route]]` tables"),
                ),
            }
        }
        sites.push(Site {
            label: at(&span),
            hosts,
            routes: built,
        });
        spans.push(Spans {
            site: span,
            hosts: host_spans,
            routes: route_spans,
            patterns,
        });
    }
    match Router::new(sites) {
        Ok(router) => Some(FileConfig {
            listen,
            grace_period,
            workers,
            access_log,
            router,
        }),
        Err(found) => {
            errors.extend(found.iter().map(|e| router_error(e, &spans, source)));
            None
        }
    }
}

fn server_values(
    server: RawServer,
    errors: &mut Vec<Diagnostic>,
) -> (Vec<SocketAddr>, Option<Duration>, Option<usize>) {
    if let Some(listen) = &server.listen {
        if OneOrMany::written(listen).is_empty() {
            errors.push(
                Diagnostic::new(listen.span(), "`listen` lists no address")
                    .help("write at least one, such as \"127.0.0.1:8080\", or remove the key for the default"),
            );
        }
    }
    let written = server.listen.as_ref().map(OneOrMany::written);
    // The forms the command line takes, names included (resolved once, at load).
    let listen = written.into_iter().flatten().flat_map(|(text, span)| {
        crate::cli::parse_listen(text).unwrap_or_else(|why| {
            errors.push(
                Diagnostic::new(span, format!("{text:?} is not an address to listen on: {why}"))
                    .help("write IP:PORT, [IPv6]:PORT, HOST:PORT, a bare PORT for 127.0.0.1, or :PORT for every interface"),
            );
            Vec::new()
        })
    });
    // One address written twice (`8080` and `127.0.0.1:8080`) is one listener: binding it
    // twice would fail at start.
    let mut listen: Vec<SocketAddr> = listen.collect();
    let mut seen = std::collections::HashSet::new();
    listen.retain(|addr| seen.insert(*addr));
    let grace = server.grace_period.and_then(|g| {
        parse_duration(g.get_ref())
            .map_err(|e| errors.push(Diagnostic::new(g.span(), format!("bad grace-period: {e}"))))
            .ok()
    });
    let workers = server.workers.and_then(|w| match *w.get_ref() {
        n @ 1..=MAX_WORKERS => usize::try_from(n).ok(),
        n => {
            errors.push(
                Diagnostic::new(w.span(), format!("workers = {n} is out of range")).help(format!(
                    "use 1 to {MAX_WORKERS}, or remove it for one per core"
                )),
            );
            None
        }
    });
    (listen, grace, workers)
}

/// `access-log`: `stdout` (or `-`), `stderr`, `off`, or a file's path, relative to the
/// config file's directory.
fn access_log_target(
    written: &Spanned<String>,
    base: &Path,
    errors: &mut Vec<Diagnostic>,
) -> Option<AccessLogTarget> {
    if written.get_ref().is_empty() {
        errors.push(
            Diagnostic::new(written.span(), "`access-log` is empty").help(
                "write \"off\" to log no requests, or where to: \"stdout\", \"stderr\" or a file",
            ),
        );
        return None;
    }
    match AccessLogTarget::parse(written.get_ref())? {
        AccessLogTarget::File(path)
            if path.as_os_str().is_empty() || written.get_ref().ends_with('/') =>
        {
            errors.push(
                Diagnostic::new(written.span(), "`access-log` names no file")
                    .help("write \"stdout\", \"stderr\", \"off\" or a file such as \"/var/log/usher/access.log\""),
            );
            None
        }
        AccessLogTarget::File(path) => Some(AccessLogTarget::File(resolve(
            base,
            &path.to_string_lossy(),
        ))),
        other => Some(other),
    }
}

/// One route, or `None` after recording why not (the other routes are still checked).
fn build_route(
    raw: RawRoute,
    site_root: Option<&Path>,
    base: &Path,
    span: &Range<usize>,
    errors: &mut Vec<Diagnostic>,
) -> Option<Route> {
    let before = errors.len();
    let pattern = PathPattern::parse(raw.path.get_ref())
        .map_err(|e| errors.push(Diagnostic::new(raw.path.span(), e.to_string())))
        .ok();
    let methods_span = raw.methods.as_ref().map(Spanned::span);
    let methods = raw.methods.and_then(|m| methods(m, errors));
    let cors_span = raw.cors.as_ref().map(Spanned::span);
    let keys = PolicyKeys {
        headers: raw.headers,
        header_rules: raw.header_rules,
        cache_control: raw.cache_control,
        cors: raw.cors,
        security_headers: raw.security_headers,
        auth: raw.auth,
        errors: raw.errors,
        compress: raw.compress,
    };
    let policy = route_policy(keys, base, errors);
    // A preflight for a method the route does not take finds no route to answer it: a
    // browser would be told the method is allowed, then get 405 for it.
    if let (Some(cors), Some(list), Some(span)) = (policy.cors.as_ref(), &methods, cors_span) {
        let taken =
            |m: &Method| list.contains(m) || (*m == Method::HEAD && list.contains(&Method::GET));
        if let Some(missing) = cors.methods.iter().find(|m| !taken(m)) {
            errors.push(
                Diagnostic::new(
                    span,
                    format!("cors allows {missing}, which this route does not take"),
                )
                .help("add it to the route's `methods`, or remove it from `cors.methods`"),
            );
        }
    }
    // Only a prefix has a part to strip: on an exact or glob route it would do nothing.
    if let (Some(proxy), Some(pattern)) = (&raw.proxy, &pattern)
        && proxy.get_ref().strip_prefix == Some(true)
        && !matches!(pattern, PathPattern::Prefix(_))
    {
        errors.push(
            Diagnostic::new(proxy.span(), "`strip-prefix` needs a prefix route")
                .help("a path such as \"/api/\" has a prefix to strip; an exact path (`= /x`) or a glob has none: remove `strip-prefix`, or use `rewrite` to change the path"),
        );
    }
    let kinds = [
        raw.files.as_ref().map(Spanned::span),
        raw.redirect.as_ref().map(Spanned::span),
        raw.cgi.as_ref().map(Spanned::span),
        raw.fastcgi.as_ref().map(Spanned::span),
        raw.proxy.as_ref().map(Spanned::span),
        raw.rewrite.as_ref().map(Spanned::span),
    ];
    let responder = if kinds.iter().flatten().count() > 1 {
        let second = kinds
            .iter()
            .flatten()
            .nth(1)
            .cloned()
            .unwrap_or(span.clone());
        errors.push(
            Diagnostic::new(second, "a route has one responder, this one has two")
                .help("keep one of `files`, `redirect`, `cgi`, `fastcgi`, `proxy` and `rewrite`, and move the others to routes of their own"),
        );
        None
    } else if let Some(files) = raw.files {
        files_options(files, site_root, base, errors)
    } else if let Some(cgi) = raw.cgi {
        super::cgi::cgi_options(cgi, site_root, base, errors)
    } else if let Some(fastcgi) = raw.fastcgi {
        super::fastcgi::fastcgi_options(fastcgi, site_root, base, errors)
    } else if let Some(proxy) = raw.proxy {
        super::proxy::proxy_options(proxy, base, errors)
    } else if let Some(rewrite) = raw.rewrite {
        let to = rewrite.into_inner().to;
        if !to.get_ref().starts_with('/') || to.get_ref().starts_with("//") {
            errors.push(
                Diagnostic::new(to.span(), "a rewrite's `to` is a path on this site")
                    .help("start it with `/`, such as \"/index.php{?query}\"; to send the client elsewhere, use `redirect`"),
            );
            None
        } else {
            // The redirect's template engine, with its checks; the status is not used.
            match Redirect::new(to.get_ref(), 307) {
                Ok(template) => Some(Responder::Rewrite(template)),
                Err(e) => {
                    errors.push(Diagnostic::new(to.span(), e.to_string()));
                    None
                }
            }
        }
    } else if let Some(redirect) = raw.redirect {
        let r = redirect.into_inner();
        let status = r
            .status
            .as_ref()
            .map_or(DEFAULT_REDIRECT_STATUS, |s| *s.get_ref());
        let status_span = r.status.as_ref().map_or(r.to.span(), Spanned::span);
        match u16::try_from(status).map(|s| Redirect::new(r.to.get_ref(), s)) {
            Ok(Ok(redirect)) => Some(Responder::Redirect(redirect)),
            Ok(Err(e)) => {
                let is_status = e == crate::router::redirect::RedirectError::Status;
                let span = if is_status { status_span } else { r.to.span() };
                errors.push(Diagnostic::new(span, e.to_string()));
                None
            }
            Err(_) => {
                let e = crate::router::redirect::RedirectError::Status;
                errors.push(Diagnostic::new(status_span, e.to_string()));
                None
            }
        }
    } else {
        errors.push(
            Diagnostic::new(span.clone(), "this route has no responder")
                .help("add `files = { ... }`, `redirect = { to = \"...\" }`, `rewrite = { to = \"...\" }`, `cgi = { ... }`, `fastcgi = { ... }` or `proxy = { ... }`"),
        );
        None
    };
    // A files route answers GET and HEAD (and OPTIONS): a method it cannot answer would pass
    // the route only to get 405, with an `Allow` naming the route's methods (RFC 9110
    // §10.2.1: `Allow` lists what the resource supports).
    if let (Some(Responder::Files(_)), Some(list), Some(span)) =
        (&responder, &methods, methods_span)
    {
        let answered = crate::server::STATIC_METHODS;
        if let Some(other) = list.iter().find(|m| !answered.contains(m)) {
            errors.push(
                Diagnostic::new(span, format!("a `files` route cannot answer {other}"))
                    .help("files answer GET, HEAD and OPTIONS; route other methods to `cgi`, `fastcgi` or `proxy` with a route of the same path"),
            );
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Route {
        label: String::new(),
        pattern: pattern?,
        methods,
        policy,
        responder: responder?,
    })
}

pub(super) fn methods(
    raw: Spanned<Vec<Spanned<String>>>,
    errors: &mut Vec<Diagnostic>,
) -> Option<Vec<Method>> {
    if raw.get_ref().is_empty() {
        errors.push(
            Diagnostic::new(raw.span(), "an empty `methods` list takes no request")
                .help("list the methods, or remove `methods` to take every one"),
        );
        return None;
    }
    let mut list = Vec::new();
    for m in raw.get_ref() {
        let text = m.get_ref();
        let upper = text.to_ascii_uppercase();
        // RFC 9110 §9.1: method names are case-sensitive; the standard ones are uppercase.
        let known = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ];
        if *text != upper && known.contains(&upper.as_str()) {
            errors.push(
                Diagnostic::new(m.span(), format!("`{text}` is not `{upper}`")).help(format!(
                    "method names are case-sensitive (RFC 9110 §9.1): write {upper}"
                )),
            );
            continue;
        }
        match Method::from_bytes(text.as_bytes()) {
            Ok(method) if !text.is_empty() => list.push(method),
            _ => errors.push(
                Diagnostic::new(m.span(), format!("{text:?} is not a method name"))
                    .help("a method is a token such as GET or PROPFIND (RFC 9110 §9.1)"),
            ),
        }
    }
    Some(list)
}

fn files_options(
    raw: Spanned<RawFiles>,
    site_root: Option<&Path>,
    base: &Path,
    errors: &mut Vec<Diagnostic>,
) -> Option<Responder> {
    let span = raw.span();
    let files = raw.into_inner();
    let root = match (files.root, site_root) {
        (Some(root), _) => resolve(base, root.get_ref()),
        (None, Some(root)) => root.to_path_buf(),
        (None, None) => {
            errors.push(
                Diagnostic::new(span, "these files have no root")
                    .help("set `root` here, or in the `[[site]]`"),
            );
            return None;
        }
    };
    let mut opts = StaticOptions::new(root);
    opts.listing = files.listing.unwrap_or(opts.listing);
    opts.show_hidden = files.hidden.unwrap_or(opts.show_hidden);
    opts.follow_symlinks = matches!(files.symlinks, Some(Symlinks::Follow));
    if let Some(index) = files.index {
        opts.index_files = index;
    }
    opts.clean_urls = files.clean_urls.unwrap_or(opts.clean_urls);
    opts.precompressed = files.precompressed.unwrap_or(opts.precompressed);
    if let Some(spa) = files.spa {
        opts.spa_fallback = Some(spa_path(&spa, opts.show_hidden, errors)?);
    }
    Some(Responder::Files(opts))
}

/// `spa`: a file inside the root, named relative to it, that the root would serve.
fn spa_path(
    spa: &Spanned<String>,
    show_hidden: bool,
    errors: &mut Vec<Diagnostic>,
) -> Option<PathBuf> {
    let text = spa.get_ref();
    let path = Path::new(text);
    let inside = !text.is_empty()
        && !text.ends_with('/')
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        errors.push(
            Diagnostic::new(spa.span(), "`spa` names a file inside the root")
                .help("write it relative to the root, without `..`, such as \"index.html\""),
        );
        return None;
    }
    let hidden = path
        .components()
        .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."));
    if hidden && !show_hidden {
        errors.push(
            Diagnostic::new(
                spa.span(),
                "`spa` names a hidden file, which this root does not serve",
            )
            .help("rename it, or set `hidden = true`"),
        );
        return None;
    }
    Some(path.to_path_buf())
}

/// A path from the file, relative to the file's directory unless absolute; made absolute
/// and free of `.` and `..` here, whatever directory usher was started from. A relative path
/// would change meaning where it is used: a CGI program runs in its own directory, and
/// php-fpm resolves `SCRIPT_FILENAME` from its own (php-cgi refuses a name with `..`).
/// `..` is removed from the text, not by following links: a program reached through a link
/// keeps its name (git-http-backend is often a link to git, which reads its own name).
pub(super) fn resolve(base: &Path, path: &str) -> PathBuf {
    let joined = base.join(path);
    let absolute = std::path::absolute(&joined).unwrap_or(joined);
    lexically_normal(&absolute)
}

/// `path` with `.` dropped and each `..` removing the component before it (never above the
/// root).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !matches!(
                    out.components().next_back(),
                    Some(Component::RootDir) | None
                ) {
                    out.pop();
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn router_error(error: &RouterError, spans: &[Spans], source: &str) -> Diagnostic {
    let line = |span: &Range<usize>| line_col(source, span.start).0;
    match error {
        RouterError::Host(HostConflict::Duplicate {
            site,
            host,
            other_site,
            other_host,
        }) => {
            let first = &spans[*other_site].hosts[*other_host];
            Diagnostic::new(
                spans[*site].hosts[*host].clone(),
                format!("this host is already claimed on line {}", line(first)),
            )
            .help("a host belongs to one site: remove one of the two")
        }
        RouterError::Host(HostConflict::SecondDefault { site, other_site }) => Diagnostic::new(
            spans[*site].site.clone(),
            format!(
                "a second default site: the site on line {} has no `hosts` either",
                line(&spans[*other_site].site)
            ),
        )
        .help("give one of them `hosts = [...]`; only one site takes unknown hosts"),
        RouterError::Route { site, conflict } => {
            let s = &spans[*site];
            match conflict {
                RouteConflict::SamePattern {
                    route,
                    other,
                    method,
                } => {
                    let both = match method {
                        Some(m) => format!(", and both take {m}"),
                        None => String::new(),
                    };
                    Diagnostic::new(
                        s.routes[*route].clone(),
                        format!(
                            "route {:?} matches the same paths as the route on line {}{both}",
                            s.patterns[*route],
                            line(&s.routes[*other])
                        ),
                    )
                    .help("merge the two, or give them `methods` lists that share no method")
                }
                RouteConflict::Shadowed { route, by } => Diagnostic::new(
                    s.routes[*route].clone(),
                    format!(
                        "route {:?} can never be chosen: every path it matches goes to {:?} on line {}",
                        s.patterns[*route],
                        s.patterns[*by],
                        line(&s.routes[*by])
                    ),
                )
                .help("remove it, or make it more specific (see `usher explain`)"),
            }
        }
    }
}

/// A duration setting (`"30s"`, `"500ms"`), or its error at its place.
pub(super) fn duration(
    value: &Option<Spanned<String>>,
    errors: &mut Vec<Diagnostic>,
) -> Option<std::time::Duration> {
    let value = value.as_ref()?;
    // Every duration here is a timeout, an interval or a window: none of them can be nothing
    // (a zero header timeout fails every request; a zero health interval spins).
    let parsed = parse_duration(value.get_ref()).and_then(|d| {
        if d.is_zero() {
            Err(format!("{:?} is no time at all", value.get_ref()))
        } else {
            Ok(d)
        }
    });
    parsed
        .map_err(|e| {
            errors.push(Diagnostic::new(value.span(), e).help("write a duration such as 30s"))
        })
        .ok()
}

/// A size such as `100M`, or an error at its place.
pub(super) fn size(value: &Option<Spanned<String>>, errors: &mut Vec<Diagnostic>) -> Option<u64> {
    let value = value.as_ref()?;
    parse_size(value.get_ref())
        .map_err(|e| {
            errors.push(Diagnostic::new(value.span(), e).help("write a size such as 100M"))
        })
        .ok()
}

/// A whole number from 1 (`max-fails = 3`), or an error at its place.
pub(super) fn count(
    value: &Option<Spanned<i64>>,
    key: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<u32> {
    let value = value.as_ref()?;
    match u32::try_from(*value.get_ref()) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            errors.push(
                Diagnostic::new(
                    value.span(),
                    format!("`{key}` must be a whole number from 1"),
                )
                .help(format!("such as {key} = 4")),
            );
            None
        }
    }
}

/// The keys `fastcgi` and `proxy` routes share: timeouts, failure marking and the connection
/// limit, each checked at its place.
#[derive(Debug, Default)]
pub(super) struct UpstreamKeys {
    pub connect_timeout: Option<Duration>,
    pub header_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub fail_window: Option<Duration>,
    pub cool_down: Option<Duration>,
    pub max_fails: Option<u32>,
    pub max_connections: Option<usize>,
}

impl UpstreamKeys {
    /// Read the written values: the three timeouts, the failure window and cool-down, then
    /// `max-fails` and `max-connections`.
    pub(super) fn read(
        durations: [&Option<Spanned<String>>; 5],
        max_fails: &Option<Spanned<i64>>,
        max_connections: &Option<Spanned<i64>>,
        errors: &mut Vec<Diagnostic>,
    ) -> Self {
        let [connect, header, idle, window, cool] = durations.map(|d| duration(d, errors));
        UpstreamKeys {
            connect_timeout: connect,
            header_timeout: header,
            idle_timeout: idle,
            fail_window: window,
            cool_down: cool,
            max_fails: count(max_fails, "max-fails", errors),
            max_connections: count(max_connections, "max-connections", errors).map(|n| n as usize),
        }
    }

    /// Put the written values over the defaults in `timeouts` (connect, header, idle) and
    /// `health`.
    pub(super) fn apply(&self, timeouts: [&mut Duration; 3], health: &mut HealthRule) {
        let written = [self.connect_timeout, self.header_timeout, self.idle_timeout];
        for (slot, value) in timeouts.into_iter().zip(written) {
            *slot = value.unwrap_or(*slot);
        }
        health.fail_window = self.fail_window.unwrap_or(health.fail_window);
        health.cool_down = self.cool_down.unwrap_or(health.cool_down);
        health.max_fails = self.max_fails.unwrap_or(health.max_fails);
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    /// Paths come out absolute and without `.` or `..`, whichever directory the file was
    /// named from; `..` never climbs above the root.
    #[test]
    fn paths_are_absolute_and_lexically_normal() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(resolve(Path::new(""), "public"), cwd.join("public"));
        assert_eq!(resolve(Path::new("rel"), "../site"), cwd.join("site"));
        assert_eq!(
            resolve(Path::new("rel"), "./a/./b/../c"),
            cwd.join("rel/a/c")
        );
        assert_eq!(
            resolve(Path::new("/etc/usher"), "/srv/www"),
            Path::new("/srv/www")
        );
        assert_eq!(resolve(Path::new("/etc"), "../../../x"), Path::new("/x"));
        assert_eq!(resolve(Path::new("/a"), "b/.."), Path::new("/a"));
    }
}
