//! Host -> site: exact names, one-label wildcards, and the default site, looked up in hash maps.
//!
//! Matching (RFC 9110 §7.2, §4.2.3; RFC 3986 §3.2.2): the port is ignored, names compare
//! case-insensitively, a trailing dot (the absolute form of a DNS name) is ignored, and IPv6
//! literals compare by address, so `[0:0::1]:8080` is `[::1]`.
//!
//! **Wildcard depth**: `*.example.test` matches exactly one label (`a.example.test`, not
//! `a.b.example.test`, not `example.test`). That is the rule of TLS certificates
//! (RFC 6125 §6.4.3), so a site's names and its wildcard certificate cover the same hosts, and
//! it makes a wildcard lookup one more hash probe instead of a walk over a sorted list: the
//! host minus its first label is looked up in a map of wildcard suffixes. There is no
//! "most specific wildcard" to choose, since two wildcards can never match the same host.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::net::Ipv6Addr;

/// One entry of a site's `hosts` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// A name or IP literal, lowercase, without trailing dot; IPv6 as `[addr]` in canonical form.
    Exact(String),
    /// `*.suffix`: any one label followed by `.suffix` (stored without the `*.`).
    Wildcard(String),
}

/// Why a `hosts` entry is not a host pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPatternError {
    /// A `:port` after the name.
    #[error("a host pattern has no port: the port is ignored when matching, so remove `:{0}`")]
    Port(String),
    /// `*` somewhere other than as the whole first label.
    #[error("`*` may only be the whole first label, as in `*.example.test` (it matches one label)")]
    Wildcard,
    /// Not a name, IPv4 or bracketed IPv6 literal.
    #[error(
        "not a host name: use letters, digits, `-`, `_` and `.` (IDNA names in their xn-- form), an IPv4 address or [IPv6]"
    )]
    Invalid,
}

impl HostPattern {
    /// Parse a `hosts` entry: `example.test`, `*.example.test`, `192.0.2.1`, `[::1]`.
    pub fn parse(s: &str) -> Result<HostPattern, HostPatternError> {
        if let Some(inner) = s.strip_prefix('[') {
            let (addr, after) = inner.split_once(']').ok_or(HostPatternError::Invalid)?;
            if let Some(port) = after.strip_prefix(':') {
                return Err(HostPatternError::Port(port.to_owned()));
            }
            let addr: Ipv6Addr = addr.parse().map_err(|_| HostPatternError::Invalid)?;
            if !after.is_empty() {
                return Err(HostPatternError::Invalid);
            }
            return Ok(HostPattern::Exact(format!("[{addr}]")));
        }
        if let Some((_, port)) = s.rsplit_once(':') {
            return Err(
                if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
                    HostPatternError::Port(port.to_owned())
                } else {
                    HostPatternError::Invalid
                },
            );
        }
        let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        let (wildcard, rest) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, name.as_str()),
        };
        if rest.contains('*') {
            return Err(HostPatternError::Wildcard);
        }
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !rest.split('.').all(valid_label) {
            return Err(HostPatternError::Invalid);
        }
        Ok(if wildcard {
            HostPattern::Wildcard(rest.to_owned())
        } else {
            HostPattern::Exact(name)
        })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// Reduce a Host header or `:authority` to the name it matches by: no port, lowercase, no
/// trailing dot, IPv6 canonical. `None` for what cannot be a host (empty, userinfo, bad IPv6):
/// such a request gets the default site, like any unknown name.
pub fn normalise_authority(authority: &str) -> Option<Cow<'_, str>> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (addr, after) = inner.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        let addr: Ipv6Addr = addr.parse().ok()?;
        return Some(Cow::Owned(format!("[{addr}]")));
    }
    let name = match authority.rsplit_once(':') {
        Some((name, _port)) => name,
        None => authority,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    // RFC 9110 §4.2.1 (and RFC 9113 §8.3.1 for :authority): no userinfo in a request's host.
    if name.is_empty() || name.contains(['@', ':', '[', ']']) {
        return None;
    }
    Some(if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    })
}

/// How a host found its site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteChoice {
    /// The host is one of the site's names.
    Exact(usize),
    /// The host matched one of the site's `*.` patterns.
    Wildcard(usize),
    /// No site names the host; this is the site without `hosts`.
    Default(usize),
    /// No site names the host and there is no default site: answer 421 Misdirected Request
    /// (RFC 9110 §15.5.20), "not able to produce a response" for this authority.
    Misdirected,
}

impl SiteChoice {
    /// The chosen site's index, unless misdirected.
    pub fn site(self) -> Option<usize> {
        match self {
            SiteChoice::Exact(i) | SiteChoice::Wildcard(i) | SiteChoice::Default(i) => Some(i),
            SiteChoice::Misdirected => None,
        }
    }
}

/// Two sites claiming the same host, or a second default site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostConflict {
    /// `hosts[host]` of `site` was already claimed by `hosts[other_host]` of `other_site`
    /// (possibly the same site).
    Duplicate {
        /// The site whose entry repeats a name.
        site: usize,
        /// The repeating entry's index in that site's `hosts`.
        host: usize,
        /// The site that claimed the name first.
        other_site: usize,
        /// The first claim's index in that site's `hosts`.
        other_host: usize,
    },
    /// `site` has no hosts, but `other_site` is already the default.
    SecondDefault {
        /// The later site without hosts.
        site: usize,
        /// The earlier one.
        other_site: usize,
    },
}

/// Host -> site index, built once from every site's `hosts`.
#[derive(Debug, Clone, Default)]
pub struct HostTable {
    exact: HashMap<String, (usize, usize)>,
    wildcard: HashMap<String, (usize, usize)>,
    default: Option<usize>,
}

impl HostTable {
    /// Index each site's patterns (`sites[i]` is site `i`'s `hosts`; empty means default).
    /// Every repeated name and every extra default site is reported, not just the first.
    pub fn build<'a>(
        sites: impl IntoIterator<Item = &'a [HostPattern]>,
    ) -> Result<HostTable, Vec<HostConflict>> {
        let mut table = HostTable::default();
        let mut conflicts = Vec::new();
        for (site, hosts) in sites.into_iter().enumerate() {
            if hosts.is_empty() {
                match table.default {
                    Some(other_site) => {
                        conflicts.push(HostConflict::SecondDefault { site, other_site })
                    }
                    None => table.default = Some(site),
                }
            }
            for (host, pattern) in hosts.iter().enumerate() {
                let (map, key) = match pattern {
                    HostPattern::Exact(name) => (&mut table.exact, name),
                    HostPattern::Wildcard(suffix) => (&mut table.wildcard, suffix),
                };
                match map.entry(key.clone()) {
                    Entry::Occupied(first) => {
                        let (other_site, other_host) = *first.get();
                        conflicts.push(HostConflict::Duplicate {
                            site,
                            host,
                            other_site,
                            other_host,
                        });
                    }
                    Entry::Vacant(slot) => {
                        slot.insert((site, host));
                    }
                }
            }
        }
        if conflicts.is_empty() {
            Ok(table)
        } else {
            Err(conflicts)
        }
    }

    /// Whether any site has names to tell apart. Without (one site, `usher serve`), the
    /// choice cannot depend on the host, and the host need not be read.
    pub fn named(&self) -> bool {
        !(self.exact.is_empty() && self.wildcard.is_empty())
    }

    /// The site for a request's Host (or `:authority`); `None` when the request has none.
    /// Exact names first, then wildcards, then the default site.
    pub fn select(&self, authority: Option<&str>) -> SiteChoice {
        if let Some(host) = authority
            .filter(|_| self.named())
            .and_then(normalise_authority)
        {
            if let Some(&(site, _)) = self.exact.get(host.as_ref()) {
                return SiteChoice::Exact(site);
            }
            // One label only: the suffix after the first dot must be a wildcard's suffix.
            if let Some((label, suffix)) = host.split_once('.') {
                if let (false, Some(&(site, _))) = (label.is_empty(), self.wildcard.get(suffix)) {
                    return SiteChoice::Wildcard(site);
                }
            }
        }
        match self.default {
            Some(site) => SiteChoice::Default(site),
            None => SiteChoice::Misdirected,
        }
    }
}
