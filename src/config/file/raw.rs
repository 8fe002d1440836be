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
    pub listen: Option<Spanned<OneOrMany>>,
    pub grace_period: Option<Spanned<String>>,
    pub workers: Option<Spanned<i64>>,
    pub access_log: Option<Spanned<String>>,
}

/// One `[[site]]`, without its routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSite {
    pub hosts: Option<Spanned<OneOrMany>>,
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
    pub headers: Option<HeaderTable>,
    pub files: Option<Spanned<RawFiles>>,
    pub redirect: Option<Spanned<RawRedirect>>,
    pub cgi: Option<Spanned<RawCgi>>,
    pub fastcgi: Option<Spanned<RawFastCgi>>,
    pub proxy: Option<Spanned<RawProxy>>,
    pub rewrite: Option<Spanned<RawRewrite>>,
    pub header_rules: Option<Vec<Spanned<RawHeaderRule>>>,
    pub cache_control: Option<Spanned<String>>,
    pub cors: Option<Spanned<RawCors>>,
    pub security_headers: Option<Spanned<SecurityHeaders>>,
    pub auth: Option<Spanned<RawAuth>>,
    pub errors: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub compress: Option<Spanned<RawCompress>>,
}

/// `compress = true`, `false`, or a list of codings (`["zstd", "gzip"]`).
#[derive(Debug)]
pub(super) enum RawCompress {
    On(bool),
    Codings(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawCompress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawCompress;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false, or a list of codings such as [\"zstd\", \"gzip\"]")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawCompress, E> {
                Ok(RawCompress::On(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawCompress, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element()? {
                    list.push(item);
                }
                Ok(RawCompress::Codings(list))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A table of header names (or `set`/`add`/`remove`) to entries.
pub(super) type HeaderTable = BTreeMap<Spanned<String>, Spanned<HeaderEntry>>;

/// One value in a `headers` table: a field value (`Name = "v"`), a table (`set = { ... }`)
/// or a list (`remove = [...]`, or several values under `add`). Which is allowed where is
/// checked when building, so the message can say what was meant.
#[derive(Debug)]
pub(super) enum HeaderEntry {
    Value(String),
    Table(BTreeMap<Spanned<String>, Spanned<HeaderEntry>>),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for HeaderEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = HeaderEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a header value (a string), a table of headers or a list of names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HeaderEntry, E> {
                Ok(HeaderEntry::Value(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<HeaderEntry, A::Error> {
                let mut table = BTreeMap::new();
                while let Some((k, v)) = map.next_entry()? {
                    table.insert(k, v);
                }
                Ok(HeaderEntry::Table(table))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<HeaderEntry, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element()? {
                    list.push(item);
                }
                Ok(HeaderEntry::List(list))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// One of `header-rules = [ { match = "*.js", ... } ]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawHeaderRule {
    #[serde(rename = "match")]
    pub pattern: Spanned<String>,
    pub set: Option<HeaderTable>,
    pub add: Option<HeaderTable>,
    pub remove: Option<Vec<Spanned<String>>>,
    pub cache_control: Option<Spanned<String>>,
}

/// `cors = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawCors {
    pub origins: Spanned<Vec<Spanned<String>>>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub headers: Option<Vec<Spanned<String>>>,
    pub expose: Option<Vec<Spanned<String>>>,
    pub credentials: Option<Spanned<bool>>,
    pub max_age: Option<Spanned<String>>,
}

/// `security-headers = "..."`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum SecurityHeaders {
    Basic,
    Strict,
}

/// `auth = { ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAuth {
    pub realm: Option<Spanned<String>>,
    pub users: Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
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
    pub clean_urls: Option<bool>,
    pub spa: Option<Spanned<String>>,
    pub precompressed: Option<bool>,
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

/// `rewrite = { to = "/index.php{?query}" }`: answer as if the request had named `to`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRewrite {
    pub to: Spanned<String>,
}

/// `cgi = { ... }`: exactly one of `program`, `dir`, or neither (the path names the file
/// under `root`, for extension routes such as `*.cgi`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawCgi {
    pub program: Option<Spanned<String>>,
    pub dir: Option<Spanned<String>>,
    pub root: Option<Spanned<String>>,
    pub interpreter: Option<Spanned<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub inherit_env: Option<Vec<String>>,
    pub pass_authorization: Option<bool>,
    pub header_timeout: Option<Spanned<String>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub max_running: Option<Spanned<i64>>,
    pub max_body: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
}

/// `fastcgi = { address = "127.0.0.1:9000", ... }`: hand requests to a FastCGI application.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawFastCgi {
    pub address: Spanned<OneOrMany>,
    pub root: Option<Spanned<String>>,
    pub index: Option<Spanned<String>>,
    pub split_path: Option<Spanned<String>>,
    pub front_controller: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub header_timeout: Option<Spanned<String>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub max_fails: Option<Spanned<i64>>,
    pub fail_window: Option<Spanned<String>>,
    pub cool_down: Option<Spanned<String>>,
    pub max_body: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<i64>>,
    pub pass_authorization: Option<bool>,
}

/// `proxy = { upstreams = ["127.0.0.1:9001"], ... }`: hand requests to HTTP services.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawProxy {
    pub upstreams: Spanned<OneOrMany>,
    pub policy: Option<Spanned<String>>,
    #[serde(alias = "strip_prefix")]
    pub strip_prefix: Option<bool>,
    pub host: Option<Spanned<String>>,
    #[serde(alias = "trusted_proxies")]
    pub trusted_proxies: Option<Vec<Spanned<String>>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub header_timeout: Option<Spanned<String>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub max_fails: Option<Spanned<i64>>,
    pub fail_window: Option<Spanned<String>>,
    pub cool_down: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<i64>>,
    pub health_check: Option<Spanned<RawHealthCheck>>,
}

/// `health-check = { path = "/healthz", interval = "5s", timeout = "2s", expect = "2xx" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawHealthCheck {
    pub path: Spanned<String>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub expect: Option<Spanned<String>>,
}

/// A string, or a list of them (`address = "a"` or `address = ["a", "b"]`): a key that
/// usually holds one value takes it without brackets.
#[derive(Debug)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl OneOrMany {
    /// Each string with the span it was written at (the whole value's, for one string).
    pub fn written(value: &Spanned<OneOrMany>) -> Vec<(&str, std::ops::Range<usize>)> {
        match value.get_ref() {
            OneOrMany::One(one) => vec![(one.as_str(), value.span())],
            OneOrMany::Many(list) => list
                .iter()
                .map(|a| (a.get_ref().as_str(), a.span()))
                .collect(),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element()? {
                    list.push(item);
                }
                Ok(OneOrMany::Many(list))
            }
        }
        d.deserialize_any(Visit)
    }
}
