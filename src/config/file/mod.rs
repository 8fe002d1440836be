//! `usher.toml`: parse, check everything, and build the [`Router`]; or explain, with file,
//! line and column, every error found and how to fix it.
//!
//! ```toml
//! [server]
//! listen = ["127.0.0.1:8080", "[::1]:8080"]   # IP:PORT, [IPv6]:PORT, HOST:PORT, PORT or :PORT
//! grace-period = "10s"                         # ms, s, m or h
//! workers = 4
//!
//! [[site]]
//! hosts = ["example.test", "*.example.test"]   # none: the default site
//! root = "public"                              # relative to this file's directory
//!
//! [[site.route]]
//! path = "/old/"                               # prefix; "= /x" exact; "*.php" glob
//! redirect = { to = "/new{path}{?query}", status = 308 }   # status defaults to 307
//!
//! [[site.route]]
//! path = "/"
//! methods = ["GET"]                            # default: the responder decides
//! files = { root = "public", listing = true, hidden = false, symlinks = "within-root",
//!           clean-urls = true, spa = "index.html" }   # /about -> about.html; app fallback
//! headers = { "Cache-Control" = "public, max-age=3600" }
//! ```
//!
//! A route's headers, header rules, `cache-control`, `cors`, `security-headers`, `auth` and
//! `errors` are its [`RoutePolicy`](crate::handlers::policy::RoutePolicy): see `policy.rs`.
//!
//! A site without routes serves its `root` at `/`. A `files` route without `root` serves its
//! site's. Paths are resolved against the file's directory but not opened: whether they exist
//! is `usher check`'s question, asked when the server starts. Matching rules are the router's
//! ([`crate::router`]); this module only turns text into its types and spans into messages.
//!
//! Errors are collected, not stopped at: TOML syntax errors (all of them), then each
//! `[server]`, `[[site]]` and `[[site.route]]` table on its own (every faulty key of each, as
//! the key at fault is taken out and the table read again), then every value check, then the
//! router's reachability checks.

mod address;
mod build;
mod cgi;
mod diagnostic;
mod fastcgi;
mod policy;
mod proxy;
mod raw;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub use self::diagnostic::{Diagnostic, Diagnostics, line_col};
use self::raw::{RawRoute, RawSite, RawTop};
use crate::router::Router;

/// What a config file sets. `None` and empty mean "not set here", so command-line flags and
/// defaults can be merged over it (CLI > file > default).
#[derive(Debug)]
pub struct FileConfig {
    /// `server.listen`.
    pub listen: Vec<SocketAddr>,
    /// `server.grace-period`.
    pub grace_period: Option<Duration>,
    /// `server.workers`.
    pub workers: Option<usize>,
    /// `server.access-log`, a file's path made absolute against the file's directory.
    pub access_log: Option<crate::server::access_log::Target>,
    /// The sites and their routes, compiled.
    pub router: Router,
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file has errors; its `Display` renders them all.
    #[error("{0}")]
    Invalid(Box<Diagnostics>),
}

/// Read and [`parse`] the file at `path`.
pub fn load(path: &Path) -> Result<FileConfig, ConfigFileError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &source)
}

/// Parse `source`, the text of the file at `path` (used in messages and to resolve relative
/// paths; never opened).
pub fn parse(path: &Path, source: &str) -> Result<FileConfig, ConfigFileError> {
    let mut errors = Vec::new();
    let built = read_tables(source, &mut errors)
        .and_then(|tables| build::build(tables, path, source, &mut errors));
    match built {
        Some(config) if errors.is_empty() => Ok(config),
        _ => {
            errors.sort_by_key(|d| (d.span.start, d.span.end));
            Err(ConfigFileError::Invalid(Box::new(Diagnostics {
                file: path.display().to_string(),
                source: source.to_owned(),
                list: errors,
            })))
        }
    }
}

/// The deserialised tables, each with the span of its table, before any value is checked.
struct Tables {
    top: Option<RawTop>,
    sites: Vec<SiteTables>,
    /// Whether the file has no `site` key at all.
    no_site: bool,
}

/// One `[[site]]` and its routes, each with its span.
struct SiteTables {
    span: Range<usize>,
    /// `None` if the site's own table failed to deserialise (its routes are still checked).
    raw: Option<RawSite>,
    routes: Vec<(Range<usize>, RawRoute)>,
}

/// Parse the TOML and deserialise each table on its own. `None` if the syntax is wrong.
fn read_tables(source: &str, errors: &mut Vec<Diagnostic>) -> Option<Tables> {
    let (root, syntax) = DeTable::parse_recoverable(source);
    if !syntax.is_empty() {
        errors.extend(syntax.iter().map(|e| {
            Diagnostic::new(e.span().unwrap_or(0..0), flatten(e.message()))
                .help("fix the TOML syntax (https://toml.io)")
        }));
        return None;
    }
    let root_span = root.span();
    let mut root = root.into_inner();
    let site_value = root.remove("site");
    let top = deserialize::<RawTop>(Spanned::new(root_span, DeValue::Table(root)), errors);
    let mut tables = Tables {
        top,
        sites: Vec::new(),
        no_site: site_value.is_none(),
    };
    let Some(site_value) = site_value else {
        return Some(tables);
    };
    for (span, mut table) in array_of_tables(site_value, "site", "[[site]]", errors) {
        let routes = match table.remove("route") {
            Some(routes) => array_of_tables(routes, "site.route", "[[site.route]]", errors)
                .into_iter()
                .filter_map(|(span, route)| {
                    let route = Spanned::new(span.clone(), DeValue::Table(route));
                    let route = deserialize::<RawRoute>(route, errors)?;
                    Some((span, route))
                })
                .collect(),
            None => Vec::new(),
        };
        let raw = deserialize::<RawSite>(Spanned::new(span.clone(), DeValue::Table(table)), errors);
        tables.sites.push(SiteTables { span, raw, routes });
    }
    Some(tables)
}

/// The tables of `value`, which must be an array of tables written `[[header]]`.
fn array_of_tables<'i>(
    value: Spanned<DeValue<'i>>,
    key: &str,
    header: &str,
    errors: &mut Vec<Diagnostic>,
) -> Vec<(Range<usize>, DeTable<'i>)> {
    let span = value.span();
    let DeValue::Array(items) = value.into_inner() else {
        errors.push(
            Diagnostic::new(span, format!("`{key}` must be an array of tables"))
                .help(format!("write each one as a `{header}` table")),
        );
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let span = item.span();
            match item.into_inner() {
                DeValue::Table(table) => Some((span, table)),
                _ => {
                    errors.push(
                        Diagnostic::new(span, format!("each `{key}` must be a table"))
                            .help(format!("write each one as a `{header}` table")),
                    );
                    None
                }
            }
        })
        .collect()
}

/// Tries at most per table: each takes one faulty key out.
const MAX_TRIES: usize = 32;

/// Deserialise one table, turning serde's errors into diagnostics with advice. serde stops at
/// a table's first error; so that a table's every mistake is reported at once, the key at
/// fault is taken out after each and the table read again. `None` if there was any error.
fn deserialize<'de, T: Deserialize<'de>>(
    mut value: Spanned<DeValue<'de>>,
    errors: &mut Vec<Diagnostic>,
) -> Option<T> {
    let span = value.span();
    let mut taken_out: Vec<String> = Vec::new();
    let mut misspelled = false;
    for _ in 0..MAX_TRIES {
        let e = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(read) => return taken_out.is_empty().then_some(read),
            Err(e) => e,
        };
        let message = plain_types(&flatten(e.message()));
        // A key taken out for its value's fault is not missing as well; nor, after a
        // misspelled key, is the key it most likely meant (the message lists the keys).
        let already = message.starts_with("missing field")
            && (misspelled
                || taken_out
                    .iter()
                    .any(|key| message == format!("missing field `{key}`")));
        misspelled |= message.starts_with("unknown field");
        if !already {
            errors.push(
                Diagnostic::new(e.span().unwrap_or(span.clone()), message.clone())
                    .help(advice(&message)),
            );
        }
        match e.span().and_then(|at| take_out(&mut value, &at)) {
            Some(key) => taken_out.push(key),
            None => return None,
        }
    }
    None
}

/// What to do about a deserialisation error: for a misspelled key or value, the listed one
/// it most likely meant.
fn advice(message: &str) -> String {
    if let Some(meant) = meant(message) {
        return format!("did you mean `{meant}`?");
    }
    if message.starts_with("unknown field") {
        "remove it, or use one of the keys listed (keys are kebab-case)"
    } else if message.starts_with("missing field") {
        "add it"
    } else if message.starts_with("unknown variant") {
        "use one of the values listed"
    } else {
        "write the value with the type expected"
    }
    .to_owned()
}

/// In serde's ``unknown field `acess-log`, expected one of `listen`, `access-log` ``, the
/// listed name closest to the one written, if it is close: at most two edits, or the same
/// but for `_` and `-`.
fn meant(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (written, listed) = rest.split_once('`')?;
    listed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|name| (edits(&written.replace('_', "-"), name), name))
        .filter(|&(distance, _)| distance <= 2)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, name)| name)
}

/// The Levenshtein distance between `a` and `b` (names of a few dozen bytes).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// serde's names for types in TOML's words (`i64` is a whole number, a sequence an array).
fn plain_types(message: &str) -> String {
    let mut plain = message.to_owned();
    for (rust, toml) in [
        ("expected i64", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("invalid type: sequence", "invalid type: array"),
        ("invalid type: map", "invalid type: table"),
    ] {
        plain = plain.replace(rust, toml);
    }
    if let Some(at) = plain.find("expected struct ") {
        plain.replace_range(at.., "expected a table");
    }
    plain
}

/// Take the key at `at` out of `value`'s tables (the one whose key or value holds it, in the
/// deepest table); its name, or `None` if no key holds it.
fn take_out(value: &mut Spanned<DeValue<'_>>, at: &Range<usize>) -> Option<String> {
    let within = |outer: &Range<usize>| outer.start <= at.start && at.end <= outer.end;
    let DeValue::Table(table) = value.get_mut() else {
        return None;
    };
    // A `[header]` table's span may not cover its keys: every table is searched.
    for (_, inner) in table.iter_mut() {
        if let Some(key) = take_out(inner, at) {
            return Some(key);
        }
    }
    let key = table
        .iter()
        .find(|(key, inner)| within(&key.span()) || within(&inner.span()))
        .map(|(key, _)| key.clone())?;
    table.remove(&key);
    Some(key.get_ref().to_string())
}

/// One line: toml's messages may span several.
fn flatten(message: &str) -> String {
    message.trim().lines().collect::<Vec<_>>().join("; ")
}
