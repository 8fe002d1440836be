//! The file as written: serde structs mirroring the TOML, every key kebab-case, unknown keys
//! refused, values kept with their spans so later checks can point at them.
//!
//! `[[site]]` and `[[site.route]]` arrays are taken out of their tables and deserialised one
//! element at a time (see `super::parse`), so one bad route does not hide the errors of the
//! next. The `site` and `route` fields below are never filled; they are declared so that an
//! unknown key's message lists them among the expected keys.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;

/// The top level.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawTop {
    pub server: Option<RawServer>,
    #[allow(
        dead_code,
        reason = "listed in unknown-key messages; taken out before serde"
    )]
    pub site: Option<IgnoredAny>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawServer {
    pub listen: Option<Vec<Spanned<String>>>,
    pub grace_period: Option<Spanned<String>>,
    pub workers: Option<Spanned<i64>>,
}

/// One `[[site]]`, without its routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSite {
    pub hosts: Option<Vec<Spanned<String>>>,
    pub root: Option<Spanned<String>>,
    #[allow(
        dead_code,
        reason = "listed in unknown-key messages; taken out before serde"
    )]
    pub route: Option<IgnoredAny>,
}

/// One `[[site.route]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRoute {
    pub path: Spanned<String>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub headers: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub files: Option<Spanned<RawFiles>>,
    pub redirect: Option<Spanned<RawRedirect>>,
}

/// `files = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawFiles {
    pub root: Option<Spanned<String>>,
    pub listing: Option<bool>,
    pub hidden: Option<bool>,
    pub symlinks: Option<Symlinks>,
    pub index: Option<Vec<String>>,
}

/// `files.symlinks`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Symlinks {
    /// Follow a link only if its target stays inside the root (the default).
    WithinRoot,
    /// Follow links wherever they point.
    Follow,
}

/// `redirect = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRedirect {
    pub to: Spanned<String>,
    pub status: Option<Spanned<i64>>,
}
