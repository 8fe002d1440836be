//! Host -> site, path and method -> route: pure, no I/O. Powers `usher explain`.
//!
//! The server builds one [`Router`] from the configuration ([`Router::new`] checks that every
//! host and route is reachable) and asks it, per request, [`Router::decide`] with the Host
//! (or `:authority`), the method and the normalised path. [`Router::explain`] runs the very
//! same code with a recorder that keeps every step, for `usher explain`.
//!
//! - [`host`]: site selection (exact, one-label wildcard, default, else 421).
//! - [`path`]: route patterns and the specificity rule.
//! - [`redirect`]: the redirect responder's `Location` template.
//! - [`explain`]: the recorded decision.
//!
//! The configuration shape these types come from (see `config::file`):
//! ```toml
//! [[site]]
//! hosts = ["example.test", "*.example.test"]   # none: the default site
//! root = "public"
//! [[site.route]]
//! path = "/old/"                               # prefix; "= /x" exact; "*.php" glob
//! redirect = { to = "/new{path}", status = 308 }
//! [[site.route]]
//! path = "/"
//! methods = ["GET"]                            # GET allows HEAD too
//! files = { listing = true }
//! ```
//! Per-route headers, CORS, authentication and error pages are the route's
//! [`RoutePolicy`]; [`Explanation::add_policy`] describes them for a request.

pub mod explain;
pub mod host;
pub mod path;
pub mod redirect;

#[cfg(test)]
mod tests;

use http::Method;

use self::explain::{Explanation, Trace, Verdict};
use self::host::{HostConflict, HostPattern, HostTable};
use self::path::PathPattern;
use self::redirect::Redirect;
use crate::handlers::policy::RoutePolicy;
use crate::handlers::static_files::StaticOptions;
use crate::http::target::NormalPath;

/// A virtual host: the names it answers and its routes.
#[derive(Debug, Clone)]
pub struct Site {
    /// Where it was defined (`usher.toml:4`), for explanations.
    pub label: String,
    /// The names it answers; empty for the default site.
    pub hosts: Vec<HostPattern>,
    /// Its routes, in the order written (the order only breaks specificity ties).
    pub routes: Vec<Route>,
}

/// A path pattern, an optional method restriction, response headers and a responder.
#[derive(Debug, Clone)]
pub struct Route {
    /// Where it was defined (`usher.toml:12`), for explanations.
    pub label: String,
    /// Which paths it takes.
    pub pattern: PathPattern,
    /// The methods it takes; `None` leaves the methods to the responder. `GET` implies `HEAD`
    /// (RFC 9110 §9.3.2: HEAD is GET without the content).
    pub methods: Option<Vec<Method>>,
    /// What happens around the responder: headers, CORS, authentication, error pages.
    pub policy: RoutePolicy,
    /// What answers.
    pub responder: Responder,
}

/// The kinds of responder a route can have.
#[derive(Debug, Clone)]
pub enum Responder {
    /// Serve files from a root.
    Files(StaticOptions),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer as if the request had named another path on the site (its `Location`
    /// template's result), method and content unchanged.
    Rewrite(Redirect),
    /// Run a program (CGI/1.1).
    Cgi(crate::handlers::cgi::CgiOptions),
    /// Hand the request to a FastCGI application, such as php-fpm.
    FastCgi(crate::handlers::fastcgi::FastCgiOptions),
    /// Hand the request to HTTP services (a reverse proxy).
    Proxy(crate::handlers::proxy::ProxyOptions),
}

impl Route {
    /// Whether the route takes `method`.
    pub fn allows(&self, method: &Method) -> bool {
        match &self.methods {
            None => true,
            Some(list) => {
                list.contains(method) || (*method == Method::HEAD && list.contains(&Method::GET))
            }
        }
    }

    /// Its methods with HEAD added where GET implies it; `None` for unrestricted.
    fn effective_methods(&self) -> Option<Vec<Method>> {
        let mut list = self.methods.clone()?;
        if list.contains(&Method::GET) && !list.contains(&Method::HEAD) {
            list.push(Method::HEAD);
        }
        Some(list)
    }
}

/// A route that can never be chosen, found when the router is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteConflict {
    /// Same pattern as `other`, and neither restricts methods, or both take `method`.
    SamePattern {
        /// The later route.
        route: usize,
        /// The earlier route with the same pattern.
        other: usize,
        /// A method both take (`None`: both take every method).
        method: Option<Method>,
    },
    /// Every path it matches is matched by `by`, which ranks before it.
    Shadowed {
        /// The unreachable route.
        route: usize,
        /// The route that takes its paths.
        by: usize,
    },
}

/// A site or route that can never be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterError {
    /// Two sites claim a host, or two sites have no hosts.
    Host(HostConflict),
    /// A route of `site` is unreachable.
    Route {
        /// The site's index.
        site: usize,
        /// Which route and why.
        conflict: RouteConflict,
    },
}

/// What the router decided for a request.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'r> {
    /// A route takes the request.
    Route(RouteMatch<'r>),
    /// The path has a route, but not for this method: 405 with `Allow: allowed`
    /// (RFC 9110 §15.5.6).
    MethodNotAllowed {
        /// The site.
        site: &'r Site,
        /// The most specific pattern's routes' methods, as `Allow` lists them.
        allowed: &'r [Method],
    },
    /// The site has no route for the path: 404.
    NoRoute {
        /// The site.
        site: &'r Site,
    },
    /// No site for this host and no default site: 421 (RFC 9110 §15.5.20).
    Misdirected,
}

/// The route chosen for a request.
#[derive(Debug, Clone, Copy)]
pub struct RouteMatch<'r> {
    /// The site.
    pub site: &'r Site,
    /// The route.
    pub route: &'r Route,
    /// Leading path segments the route's prefix matched (0 for exact and glob routes):
    /// the responder's path is what follows, as in a redirect's `{path}`.
    pub consumed: usize,
}

/// Routes sharing one pattern (their methods are disjoint), and what they allow together.
#[derive(Debug)]
struct Location {
    routes: Vec<usize>,
    allowed: Vec<Method>,
}

#[derive(Debug)]
struct CompiledSite {
    site: Site,
    /// Most specific first; equal specificity in written order.
    locations: Vec<Location>,
}

/// Sites and routes compiled for lookup.
#[derive(Debug)]
pub struct Router {
    sites: Vec<CompiledSite>,
    hosts: HostTable,
}

impl Router {
    /// Compile `sites`, reporting every unreachable site or route.
    pub fn new(sites: Vec<Site>) -> Result<Router, Vec<RouterError>> {
        let mut errors: Vec<RouterError> = Vec::new();
        let hosts = HostTable::build(sites.iter().map(|s| s.hosts.as_slice()))
            .map_err(|conflicts| errors.extend(conflicts.into_iter().map(RouterError::Host)))
            .unwrap_or_default();
        let mut compiled = Vec::with_capacity(sites.len());
        for (index, site) in sites.into_iter().enumerate() {
            let (locations, conflicts) = locations(&site.routes);
            errors.extend(conflicts.into_iter().map(|conflict| RouterError::Route {
                site: index,
                conflict,
            }));
            compiled.push(CompiledSite { site, locations });
        }
        if errors.is_empty() {
            Ok(Router {
                sites: compiled,
                hosts,
            })
        } else {
            Err(errors)
        }
    }

    /// The sites, in configuration order.
    pub fn sites(&self) -> impl Iterator<Item = &Site> {
        self.sites.iter().map(|c| &c.site)
    }

    /// Whether [`decide`](Self::decide) looks at the host: only when some site has names
    /// (`hosts`). When not, a caller may pass `None` and skip finding it.
    pub fn reads_host(&self) -> bool {
        self.hosts.named()
    }

    /// Choose the site and route for a request. `host` is the Host field value or
    /// `:authority` (`None` if the request had neither); `path` is already normalised.
    pub fn decide(&self, host: Option<&str>, method: &Method, path: &NormalPath) -> Decision<'_> {
        self.run(host, method, path, &mut ())
    }

    /// [`decide`](Self::decide), also recording each step of the decision.
    pub fn explain(
        &self,
        host: Option<&str>,
        method: &Method,
        path: &NormalPath,
    ) -> (Decision<'_>, Explanation) {
        let mut explanation = Explanation::new(host, method, path);
        let decision = self.run(host, method, path, &mut explanation);
        (decision, explanation)
    }

    /// The one implementation behind `decide` and `explain`.
    fn run<T: Trace>(
        &self,
        host: Option<&str>,
        method: &Method,
        path: &NormalPath,
        trace: &mut T,
    ) -> Decision<'_> {
        let choice = self.hosts.select(host);
        let Some(compiled) = choice.site().map(|i| &self.sites[i]) else {
            trace.site(choice, None);
            return Decision::Misdirected;
        };
        trace.site(choice, Some(&compiled.site));
        Self::choose(compiled, method, path, trace)
    }

    /// The route that takes `method` for `path` on the site at `site` (its index in
    /// configuration order), if one does: what a request for it would be answered by.
    pub fn route_on(&self, site: usize, method: &Method, path: &NormalPath) -> Option<&Route> {
        match Self::choose(self.sites.get(site)?, method, path, &mut ()) {
            Decision::Route(matched) => Some(matched.route),
            _ => None,
        }
    }

    /// Route and method, once the site is chosen.
    fn choose<'r, T: Trace>(
        compiled: &'r CompiledSite,
        method: &Method,
        path: &NormalPath,
        trace: &mut T,
    ) -> Decision<'r> {
        let site = &compiled.site;
        let mut decision = None;
        for location in &compiled.locations {
            let first = &site.routes[location.routes[0]];
            let Some(consumed) = first.pattern.matches(path) else {
                continue;
            };
            for &index in &location.routes {
                let route = &site.routes[index];
                let verdict = match decision {
                    Some(_) => Verdict::Outranked,
                    None if route.allows(method) => {
                        decision = Some(Decision::Route(RouteMatch {
                            site,
                            route,
                            consumed,
                        }));
                        Verdict::Chosen
                    }
                    None => Verdict::MethodNotAllowed,
                };
                trace.route(index, route, verdict);
            }
            if decision.is_none() {
                decision = Some(Decision::MethodNotAllowed {
                    site,
                    allowed: &location.allowed,
                });
            }
            if !T::WANTS_ALL {
                break;
            }
        }
        decision.unwrap_or(Decision::NoRoute { site })
    }
}

/// Group routes by pattern, order the groups by specificity, and find the unreachable ones.
fn locations(routes: &[Route]) -> (Vec<Location>, Vec<RouteConflict>) {
    let mut conflicts = Vec::new();
    let mut groups: Vec<Location> = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        let Some(group) = groups
            .iter_mut()
            .find(|g| routes[g.routes[0]].pattern == route.pattern)
        else {
            groups.push(Location {
                routes: vec![index],
                allowed: route.effective_methods().unwrap_or_default(),
            });
            continue;
        };
        let clash = group.routes.iter().find_map(|&other| {
            let common = match (route.effective_methods(), routes[other].effective_methods()) {
                (Some(mine), Some(theirs)) => Some(mine.into_iter().find(|m| theirs.contains(m))?),
                (Some(mine), None) | (None, Some(mine)) => mine.into_iter().next(),
                (None, None) => None,
            };
            let both_unrestricted = route.methods.is_none() && routes[other].methods.is_none();
            (common.is_some() || both_unrestricted).then_some((other, common))
        });
        match clash {
            Some((other, method)) => conflicts.push(RouteConflict::SamePattern {
                route: index,
                other,
                method,
            }),
            None => {
                group.routes.push(index);
                group
                    .allowed
                    .extend(route.effective_methods().unwrap_or_default());
            }
        }
    }
    // Stable: equal specificity keeps the written order.
    groups.sort_by_key(|g| std::cmp::Reverse(routes[g.routes[0]].pattern.specificity()));
    for (rank, group) in groups.iter().enumerate() {
        let pattern = &routes[group.routes[0]].pattern;
        if let Some(by) = groups[..rank]
            .iter()
            .find(|earlier| routes[earlier.routes[0]].pattern.covers(pattern))
        {
            conflicts.extend(group.routes.iter().map(|&route| RouteConflict::Shadowed {
                route,
                by: by.routes[0],
            }));
        }
    }
    conflicts.sort_by_key(|c| match c {
        RouteConflict::SamePattern { route, .. } | RouteConflict::Shadowed { route, .. } => *route,
    });
    (groups, conflicts)
}
