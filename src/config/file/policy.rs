//! A route's policy keys -> [`RoutePolicy`], one diagnostic per bad value:
//!
//! ```toml
//! headers = { set = { "X-Frame-Options" = "DENY" }, add = { Link = ["</a.css>; rel=preload"] }, remove = ["X-Powered-By"] }
//! headers = { "X-Frame-Options" = "DENY" }           # the short form: every name is a `set`
//! header-rules = [ { match = "*.{js,css}", cache-control = "public, max-age=31536000, immutable" } ]
//! cache-control = "public, max-age=3600"              # the same as setting Cache-Control
//! cors = { origins = ["https://app.example"], methods = ["PUT"], headers = ["Content-Type"], expose = ["ETag"], credentials = false, max-age = "10m" }
//! security-headers = "basic"                          # or "strict"
//! auth = { realm = "staff", users = { alice = "$2b$12$...", bob = "$argon2id$v=19$..." } }
//! errors = { 404 = "errors/404.html", 500 = "errors/500.html" }
//! compress = true                                     # or ["zstd", "br", "gzip"], or false
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use http::header::CACHE_CONTROL;
use http::{HeaderName, HeaderValue, StatusCode};
use toml::Spanned;

use super::build::{methods, resolve};
use super::diagnostic::Diagnostic;
use super::raw::{
    HeaderEntry, HeaderTable, RawAuth, RawCompress, RawCors, RawHeaderRule, SecurityHeaders,
};
use crate::body::compressed::Coding;
use crate::cli::parse_duration;
use crate::handlers::policy::RoutePolicy;
use crate::handlers::policy::auth::{BasicAuth, PasswordHash};
use crate::handlers::policy::compress::Compress;
use crate::handlers::policy::cors::{AllowedHeaders, AllowedOrigins, Cors, parse_origin};
use crate::handlers::policy::headers::{
    HeaderOps, HeaderRule, SecurityPreset, SegmentGlob, is_framing,
};

/// The realm announced when the config names none.
const DEFAULT_REALM: &str = "restricted";

/// The policy keys of one route, as written.
pub(super) struct PolicyKeys {
    pub headers: Option<HeaderTable>,
    pub header_rules: Option<Vec<Spanned<RawHeaderRule>>>,
    pub cache_control: Option<Spanned<String>>,
    pub cors: Option<Spanned<RawCors>>,
    pub security_headers: Option<Spanned<SecurityHeaders>>,
    pub auth: Option<Spanned<RawAuth>>,
    pub errors: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub compress: Option<Spanned<RawCompress>>,
}

pub(super) fn route_policy(
    keys: PolicyKeys,
    base: &Path,
    errors: &mut Vec<Diagnostic>,
) -> RoutePolicy {
    let mut policy = RoutePolicy::default();
    if let Some(table) = keys.headers {
        policy.headers = header_table(table, errors);
    }
    if let Some(cc) = keys.cache_control {
        if let Some(value) = cache_control(&cc, errors) {
            if policy.headers.set.iter().any(|(n, _)| *n == CACHE_CONTROL) {
                errors.push(
                    Diagnostic::new(
                        cc.span(),
                        "Cache-Control is set twice: here and in `headers`",
                    )
                    .help("keep one of the two"),
                );
            } else {
                policy.headers.set.push((CACHE_CONTROL, value));
            }
        }
    }
    for rule in keys.header_rules.unwrap_or_default() {
        if let Some(rule) = header_rule(rule, errors) {
            policy.rules.push(rule);
        }
    }
    policy.cors = keys.cors.and_then(|c| cors(c, errors));
    policy.security = keys.security_headers.map(|s| match s.into_inner() {
        SecurityHeaders::Basic => SecurityPreset::Basic,
        SecurityHeaders::Strict => SecurityPreset::Strict,
    });
    policy.auth = keys.auth.and_then(|a| auth(a, errors));
    policy.compress = keys.compress.and_then(|c| compress(c, errors));
    for (status, page) in keys.errors.unwrap_or_default() {
        let code = status
            .get_ref()
            .parse::<u16>()
            .ok()
            .filter(|c| (400..=599).contains(c))
            .and_then(|c| StatusCode::from_u16(c).ok());
        let Some(code) = code else {
            errors.push(
                Diagnostic::new(
                    status.span(),
                    format!("{:?} is not an error status", status.get_ref()),
                )
                .help("custom pages are for statuses 400 to 599, such as 404"),
            );
            continue;
        };
        if page.get_ref().is_empty() {
            errors.push(
                Diagnostic::new(page.span(), "an empty path names no page")
                    .help("name an HTML file, relative to this file's directory"),
            );
            continue;
        }
        policy
            .error_pages
            .push((code, resolve(base, page.get_ref())));
    }
    policy
}

/// `compress = ...`: every coding, none (which `--compress` does not override), or those
/// listed, preferred in that order.
fn compress(raw: Spanned<RawCompress>, errors: &mut Vec<Diagnostic>) -> Option<Compress> {
    let span = raw.span();
    match raw.into_inner() {
        RawCompress::On(true) => Some(Compress::all()),
        RawCompress::On(false) => Some(Compress::off()),
        RawCompress::Codings(names) if names.is_empty() => {
            errors.push(
                Diagnostic::new(span, "an empty list compresses nothing").help(
                    "list codings, such as [\"zstd\", \"gzip\"], or write `compress = false`",
                ),
            );
            None
        }
        RawCompress::Codings(names) => {
            let before = errors.len();
            let codings: Vec<Coding> = names
                .into_iter()
                .filter_map(|name| {
                    let coding = Coding::from_name(name.get_ref());
                    if coding.is_none() {
                        errors.push(
                            Diagnostic::new(
                                name.span(),
                                format!("usher cannot compress with {:?}", name.get_ref()),
                            )
                            .help("the codings are \"zstd\", \"br\" and \"gzip\""),
                        );
                    }
                    coding
                })
                .collect();
            (errors.len() == before).then(|| Compress::new(codings))?
        }
    }
}

/// `headers = { ... }`: `set`, `add` and `remove`, and any other key a field to set.
fn header_table(table: HeaderTable, errors: &mut Vec<Diagnostic>) -> HeaderOps {
    let mut ops = HeaderOps::default();
    for (key, entry) in table {
        let span = entry.span();
        match (key.get_ref().as_str(), entry.into_inner()) {
            ("set", HeaderEntry::Table(t)) => set_fields(t, &mut ops, errors),
            ("add", HeaderEntry::Table(t)) => add_fields(t, &mut ops, errors),
            ("remove", HeaderEntry::List(names)) => remove_fields(names, &mut ops, errors),
            ("set" | "add", _) => errors.push(
                Diagnostic::new(
                    span,
                    format!("`{}` takes a table of headers", key.get_ref()),
                )
                .help(format!(
                    "write `{} = {{ Name = \"value\" }}`",
                    key.get_ref()
                )),
            ),
            ("remove", _) => errors.push(
                Diagnostic::new(span, "`remove` takes a list of header names")
                    .help("write `remove = [\"Name\"]`"),
            ),
            (_, HeaderEntry::Value(v)) => {
                set_one(key, Spanned::new(span, v), &mut ops, errors);
            }
            (_, _) => errors.push(
                Diagnostic::new(span, "a header value is a string")
                    .help("to send several field lines, use `add = { Name = [\"a\", \"b\"] }`"),
            ),
        }
    }
    ops
}

fn set_fields(
    table: BTreeMap<Spanned<String>, Spanned<HeaderEntry>>,
    ops: &mut HeaderOps,
    errors: &mut Vec<Diagnostic>,
) {
    for (name, entry) in table {
        let span = entry.span();
        match entry.into_inner() {
            HeaderEntry::Value(v) => set_one(name, Spanned::new(span, v), ops, errors),
            _ => errors.push(Diagnostic::new(span, "a header value is a string").help(
                "`set` sends one field line; use `add = { Name = [\"a\", \"b\"] }` for several",
            )),
        }
    }
}

fn set_one(
    name: Spanned<String>,
    value: Spanned<String>,
    ops: &mut HeaderOps,
    errors: &mut Vec<Diagnostic>,
) {
    let n = header_name(&name, errors)
        .and_then(|n| settable(&name, n, errors))
        .and_then(|n| kept_vary(&name, n, "set", errors));
    let (Some(n), Some(v)) = (n, header_value(&value, errors)) else {
        return;
    };
    // Names are case-insensitive: `X-A` and `x-a` are one field.
    if ops.set.iter().any(|(other, _)| *other == n) {
        errors.push(
            Diagnostic::new(name.span(), format!("`{}` is set twice", name.get_ref()))
                .help("header names are case-insensitive: keep one"),
        );
        return;
    }
    ops.set.push((n, v));
}

fn add_fields(
    table: BTreeMap<Spanned<String>, Spanned<HeaderEntry>>,
    ops: &mut HeaderOps,
    errors: &mut Vec<Diagnostic>,
) {
    for (name, entry) in table {
        let span = entry.span();
        let values = match entry.into_inner() {
            HeaderEntry::Value(v) => vec![Spanned::new(span, v)],
            HeaderEntry::List(list) => list,
            HeaderEntry::Table(_) => {
                errors.push(
                    Diagnostic::new(span, "a header value is a string")
                        .help("give `add` a string, or a list of strings for several field lines"),
                );
                continue;
            }
        };
        let Some(n) = header_name(&name, errors).and_then(|n| settable(&name, n, errors)) else {
            continue;
        };
        for value in values {
            if let Some(v) = header_value(&value, errors) {
                ops.add.push((n.clone(), v));
            }
        }
    }
}

fn remove_fields(names: Vec<Spanned<String>>, ops: &mut HeaderOps, errors: &mut Vec<Diagnostic>) {
    for name in names {
        let n = header_name(&name, errors).and_then(|n| kept_vary(&name, n, "remove", errors));
        if let Some(n) = n {
            ops.remove.push(n);
        }
    }
}

/// `header`, unless it is `Vary` given to `verb` (`set` or `remove`): the `Vary` an answer
/// carries says what it was chosen by (`Accept` for a negotiated file, a listing, an error
/// body); replaced or removed, a shared cache would hand one client's variant to every
/// other (RFC 9110 §12.5.5). `add` appends to it, which is what a route means.
fn kept_vary(
    name: &Spanned<String>,
    header: HeaderName,
    verb: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<HeaderName> {
    if header == http::header::VARY {
        errors.push(
            Diagnostic::new(
                name.span(),
                format!("`{verb}` would drop the Vary usher sends"),
            )
            .help(
                "use add = { Vary = \"...\" }: usher's own Vary says what an answer was chosen by \
                 (Accept, Accept-Language), and a cache needs it (RFC 9110 §12.5.5)",
            ),
        );
        return None;
    }
    Some(header)
}

/// A header name the config may change: a token, and not a framing field.
fn header_name(name: &Spanned<String>, errors: &mut Vec<Diagnostic>) -> Option<HeaderName> {
    let Ok(header) = HeaderName::from_bytes(name.get_ref().as_bytes()) else {
        errors.push(
            Diagnostic::new(
                name.span(),
                format!("{:?} is not a header name", name.get_ref()),
            )
            .help("a header name is a token: letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 §5.1)"),
        );
        return None;
    };
    if is_framing(&header) {
        errors.push(server_owned(
            name,
            "remove it: framing and connection headers follow the connection (RFC 9110 §7.6.1)",
        ));
        return None;
    }
    Some(header)
}

/// "`Name` is set by the server", and why in `help`.
fn server_owned(name: &Spanned<String>, help: &str) -> Diagnostic {
    Diagnostic::new(
        name.span(),
        format!("`{}` is set by the server", name.get_ref()),
    )
    .help(help)
}

/// `header` as a field to set or add, unless the connection writes it for every answer: a
/// value set here would be replaced (`Server`) or wrong (`Date` MUST be the time the
/// answer was made, RFC 9110 §6.6.1), or it is a validator (`ETag`, `Last-Modified`).
fn settable(
    name: &Spanned<String>,
    header: HeaderName,
    errors: &mut Vec<Diagnostic>,
) -> Option<HeaderName> {
    if header == http::header::DATE || header == http::header::SERVER {
        errors.push(server_owned(
            name,
            "remove it: usher writes Date (the time of each answer) and Server itself",
        ));
        return None;
    }
    // The validators preconditions compare: another value sent would never validate, while
    // the one not sent would (RFC 9110 §13.1). `remove` may still drop them.
    if header == http::header::ETAG || header == http::header::LAST_MODIFIED {
        errors.push(server_owned(
            name,
            "remove it: usher compares If-None-Match, If-Range and the date preconditions \
             with its own validators, so another value would never match (RFC 9110 §13.1)",
        ));
        return None;
    }
    Some(header)
}

fn header_value(value: &Spanned<String>, errors: &mut Vec<Diagnostic>) -> Option<HeaderValue> {
    HeaderValue::from_str(value.get_ref())
        .map_err(|_| {
            errors.push(
                Diagnostic::new(value.span(), "not a header value")
                    .help("use visible ASCII and spaces, no line breaks (RFC 9110 §5.5)"),
            );
        })
        .ok()
}

/// A `Cache-Control` value: comma-separated directives, each a token with an optional
/// `=token` or `="quoted"` argument (RFC 9111 §5.2); the ones that take a number of seconds
/// have one (`delta-seconds = 1*DIGIT`, §1.2.2).
fn cache_control(value: &Spanned<String>, errors: &mut Vec<Diagnostic>) -> Option<HeaderValue> {
    const SECONDS: [&str; 5] = [
        "max-age",
        "s-maxage",
        "stale-while-revalidate",
        "stale-if-error",
        "min-fresh",
    ];
    let text = value.get_ref();
    let bad = text.split(',').map(str::trim).find(|d| {
        let (name, argument) = d.split_once('=').map_or((*d, None), |(n, a)| (n, Some(a)));
        let seconds = SECONDS.iter().any(|s| name.trim().eq_ignore_ascii_case(s));
        let digits = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit());
        HeaderName::from_bytes(name.as_bytes()).is_err()
            || (seconds && !argument.map(str::trim).is_some_and(digits))
    });
    if let Some(bad) = bad {
        errors.push(
            Diagnostic::new(
                value.span(),
                format!("{bad:?} is not a Cache-Control directive"),
            )
            .help("write directives such as `public` or `max-age=3600` (seconds as digits), separated by commas (RFC 9111 §5.2)"),
        );
        return None;
    }
    header_value(value, errors)
}

fn header_rule(rule: Spanned<RawHeaderRule>, errors: &mut Vec<Diagnostic>) -> Option<HeaderRule> {
    let span = rule.span();
    let rule = rule.into_inner();
    let before = errors.len();
    let glob = SegmentGlob::parse(rule.pattern.get_ref())
        .map_err(|e| errors.push(Diagnostic::new(rule.pattern.span(), e.to_string())))
        .ok();
    let mut ops = HeaderOps::default();
    if let Some(set) = rule.set {
        set_fields(set, &mut ops, errors);
    }
    if let Some(add) = rule.add {
        add_fields(add, &mut ops, errors);
    }
    if let Some(remove) = rule.remove {
        remove_fields(remove, &mut ops, errors);
    }
    if let Some(cc) = rule.cache_control {
        if let Some(value) = cache_control(&cc, errors) {
            if ops.set.iter().any(|(n, _)| *n == CACHE_CONTROL) {
                errors.push(
                    Diagnostic::new(cc.span(), "Cache-Control is set twice: here and in `set`")
                        .help("keep one of the two"),
                );
            } else {
                ops.set.push((CACHE_CONTROL, value));
            }
        }
    }
    if errors.len() == before && ops.is_empty() {
        errors.push(
            Diagnostic::new(span, "this header rule changes nothing")
                .help("add `set`, `add`, `remove` or `cache-control`"),
        );
    }
    Some(HeaderRule { glob: glob?, ops })
}

fn cors(raw: Spanned<RawCors>, errors: &mut Vec<Diagnostic>) -> Option<Cors> {
    let raw = raw.into_inner();
    let before = errors.len();
    let credentials = raw.credentials.as_ref().is_some_and(|c| *c.get_ref());
    let list = raw.origins.get_ref();
    let origins = if list.is_empty() {
        errors.push(
            Diagnostic::new(
                raw.origins.span(),
                "an empty `origins` list allows no origin",
            )
            .help("list origins such as \"https://app.example\", or remove `cors`"),
        );
        AllowedOrigins::List(Vec::new())
    } else if let Some(star) = list.iter().find(|o| o.get_ref() == "*") {
        if list.len() > 1 {
            errors.push(
                Diagnostic::new(star.span(), "`*` allows every origin, so it stands alone")
                    .help("write `origins = [\"*\"]`, or list the origins without `*`"),
            );
        } else if credentials {
            errors.push(
                Diagnostic::new(star.span(), "`*` cannot go with `credentials = true`")
                    .help("list the origins that may send credentials: browsers refuse `*` with them (Fetch standard, CORS protocol)"),
            );
        }
        AllowedOrigins::Any
    } else {
        let mut parsed = Vec::new();
        for o in list {
            match parse_origin(o.get_ref()) {
                Ok(origin) => parsed.push(origin),
                Err(e) => errors.push(Diagnostic::new(o.span(), e.to_string())),
            }
        }
        AllowedOrigins::List(parsed)
    };
    let methods = raw
        .methods
        .and_then(|m| methods(m, errors))
        .unwrap_or_default();
    let headers = match raw.headers {
        None => AllowedHeaders::List(Vec::new()),
        Some(list) => match list.iter().find(|h| h.get_ref() == "*") {
            Some(star) if credentials => {
                errors.push(
                    Diagnostic::new(star.span(), "`*` cannot go with `credentials = true`").help(
                        "list the request headers: with credentials, browsers read `*` as a name",
                    ),
                );
                AllowedHeaders::Any
            }
            Some(_) => AllowedHeaders::Any,
            None => {
                AllowedHeaders::List(list.iter().filter_map(|h| header_name(h, errors)).collect())
            }
        },
    };
    let expose = raw
        .expose
        .unwrap_or_default()
        .iter()
        .filter_map(|h| header_name(h, errors))
        .collect();
    let max_age = raw.max_age.and_then(|m| {
        parse_duration(m.get_ref())
            .map_err(|e| errors.push(Diagnostic::new(m.span(), format!("bad max-age: {e}"))))
            .ok()
    });
    (errors.len() == before).then_some(Cors {
        origins,
        methods,
        headers,
        expose,
        credentials,
        max_age,
    })
}

fn auth(raw: Spanned<RawAuth>, errors: &mut Vec<Diagnostic>) -> Option<BasicAuth> {
    let raw = raw.into_inner();
    let before = errors.len();
    let users_span: Range<usize> = raw.users.span();
    let table = raw.users.into_inner();
    if table.is_empty() {
        errors.push(
            Diagnostic::new(users_span, "no user can sign in: `users` is empty")
                .help("add `name = \"<bcrypt or argon2 hash>\"`, or remove `auth`"),
        );
    }
    let mut users = Vec::new();
    for (user, hash) in table {
        let name = user.get_ref();
        if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
            errors.push(
                Diagnostic::new(user.span(), format!("{name:?} cannot be a user name"))
                    .help("a user name is not empty and has no `:` and no control characters (RFC 7617 §2)"),
            );
            continue;
        }
        match PasswordHash::parse(hash.get_ref()) {
            Ok(h) => users.push((name.clone(), h)),
            Err(e) => errors.push(
                Diagnostic::new(hash.span(), format!("the password of `{name}` {e}"))
                    .help("store a bcrypt hash (`htpasswd -nBC 10 USER`) or an argon2id hash (`argon2` tool)"),
            ),
        }
    }
    let realm = raw
        .realm
        .unwrap_or_else(|| Spanned::new(0..0, DEFAULT_REALM.to_owned()));
    let auth = BasicAuth::new(realm.get_ref(), users)
        .map_err(|e| errors.push(Diagnostic::new(realm.span(), e.to_string())))
        .ok()?;
    (errors.len() == before).then_some(auth)
}
