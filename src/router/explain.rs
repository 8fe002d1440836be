//! The recorded decision of [`Router::explain`](super::Router::explain): which site and why,
//! every route whose pattern matched, in the order the router tried them, and what each
//! became. `usher explain` prints its `Display`; tests read its fields.

use std::fmt;

use http::Method;

use super::host::SiteChoice;
use super::path::Specificity;
use super::{Route, Site};
use crate::http::target::NormalPath;

/// What happened to a route whose pattern matched the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It takes the request.
    Chosen,
    /// The most specific pattern, but not for this method.
    MethodNotAllowed,
    /// It matches too, but a more specific route (or an earlier one as specific) decided.
    Outranked,
}

/// One route the router considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Considered {
    /// Its index in the site's routes.
    pub index: usize,
    /// Where it was defined.
    pub label: String,
    /// Its pattern, canonical.
    pub pattern: String,
    /// Its rank.
    pub specificity: Specificity,
    /// What it became.
    pub verdict: Verdict,
}

/// Every step of one decision.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The Host as received.
    pub host: Option<String>,
    /// The method.
    pub method: Method,
    /// The normalised path, decoded.
    pub path: String,
    /// How the site was chosen.
    pub choice: SiteChoice,
    /// The chosen site's label, unless misdirected.
    pub site: Option<String>,
    /// The pattern that matched the host (an exact name or `*.suffix`).
    pub host_pattern: Option<String>,
    /// Routes whose pattern matched, most specific first.
    pub routes: Vec<Considered>,
    /// What the chosen route's policy does with this request, one line each (see
    /// [`Explanation::add_policy`]); empty until then.
    pub policy: Vec<String>,
}

/// What the router reports as it decides. `()` records nothing and stops at the first match.
pub(crate) trait Trace {
    /// Whether to keep trying routes after the decision, to record them all.
    const WANTS_ALL: bool;
    /// The site was chosen.
    fn site(&mut self, choice: SiteChoice, site: Option<&Site>);
    /// A route whose pattern matched.
    fn route(&mut self, index: usize, route: &Route, verdict: Verdict);
}

impl Trace for () {
    const WANTS_ALL: bool = false;
    fn site(&mut self, _: SiteChoice, _: Option<&Site>) {}
    fn route(&mut self, _: usize, _: &Route, _: Verdict) {}
}

impl Explanation {
    pub(crate) fn new(host: Option<&str>, method: &Method, path: &NormalPath) -> Self {
        Explanation {
            host: host.map(str::to_owned),
            method: method.clone(),
            path: path.to_decoded_string(),
            choice: SiteChoice::Misdirected,
            site: None,
            host_pattern: None,
            routes: Vec::new(),
            policy: Vec::new(),
        }
    }

    /// Describe what `route`'s policy does with `req` (its headers: credentials given or
    /// not, the CORS decision, header rules that match `path`). The router decides from the
    /// host, method and path alone; the caller, who has the request, adds this.
    pub fn add_policy(&mut self, route: &Route, req: &http::request::Parts, path: &NormalPath) {
        self.policy = route.policy.explain(req, path);
    }
}

impl Trace for Explanation {
    const WANTS_ALL: bool = true;

    fn site(&mut self, choice: SiteChoice, site: Option<&Site>) {
        self.choice = choice;
        self.site = site.map(|s| s.label.clone());
        let host = self
            .host
            .as_deref()
            .and_then(super::host::normalise_authority);
        self.host_pattern = match (choice, host) {
            (SiteChoice::Exact(_), Some(h)) => Some(h.into_owned()),
            (SiteChoice::Wildcard(_), Some(h)) => h.split_once('.').map(|(_, s)| format!("*.{s}")),
            _ => None,
        };
    }

    fn route(&mut self, index: usize, route: &Route, verdict: Verdict) {
        self.routes.push(Considered {
            index,
            label: route.label.clone(),
            pattern: route.pattern.to_string(),
            specificity: route.pattern.specificity(),
            verdict,
        });
    }
}

impl fmt::Display for Explanation {
    /// One line per step:
    /// ```text
    /// host "www.example.test": site usher.toml:4, by wildcard *.example.test
    /// route /old/ (usher.toml:9): prefix of 1 segment: chosen
    /// route / (usher.toml:12): prefix of 0 segments: matches too, less specific or written later
    /// auth: realm "staff", no credentials given: 401
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            Some(h) => format!("host {h:?}"),
            None => "no host".to_owned(),
        };
        let site = self.site.as_deref().unwrap_or("");
        match self.choice {
            SiteChoice::Exact(_) | SiteChoice::Wildcard(_) => {
                let how = if matches!(self.choice, SiteChoice::Exact(_)) {
                    "name"
                } else {
                    "wildcard"
                };
                let pattern = self.host_pattern.as_deref().unwrap_or("");
                writeln!(f, "{host}: site {site}, by {how} {pattern}")?;
            }
            SiteChoice::Default(_) => {
                writeln!(f, "{host}: no site names it: the default site {site}")?
            }
            SiteChoice::Misdirected => {
                return writeln!(
                    f,
                    "{host}: no site names it and there is no default site: 421 Misdirected Request"
                );
            }
        }
        if self.routes.is_empty() {
            return writeln!(f, "no route matches {}: 404", self.path);
        }
        for r in &self.routes {
            let s = r.specificity;
            let segments = plural(s.literal_segments, "segment");
            let kind = if s.exact {
                "exact".to_owned()
            } else if s.glob {
                let chars = plural(s.literal_chars, "character");
                format!("glob with {segments} literal, {chars} literal")
            } else {
                format!("prefix of {segments}")
            };
            let verdict = match r.verdict {
                Verdict::Chosen => "chosen".to_owned(),
                Verdict::MethodNotAllowed => format!("does not take {}", self.method),
                Verdict::Outranked => "matches too, less specific or written later".to_owned(),
            };
            writeln!(f, "route {} ({}): {kind}: {verdict}", r.pattern, r.label)?;
        }
        if !self.routes.iter().any(|r| r.verdict == Verdict::Chosen) {
            writeln!(f, "{} is not allowed here: 405", self.method)?;
        }
        for line in &self.policy {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// `1 segment`, `2 segments`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
