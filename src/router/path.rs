//! Path patterns (exact, prefix, glob), their specificity, and the shadowing check.
//!
//! Patterns match the normalised path ([`NormalPath`]): decoded, dot-segments resolved, so a
//! route cannot be bypassed with `%2e%2e`, `//` or `%2F` (they are gone before matching).
//! The pattern text goes through the same [`normalise`], so
//! `/caf%C3%A9` and `/café` are one pattern.
//!
//! Forms:
//! - `= /x`: exactly `/x` (a trailing slash counts: `= /x/` is another path).
//! - `/old/` or `/old`: a prefix of whole segments: `/old`, `/old/` and `/old/a/b`, never
//!   `/older` (nginx's string prefixes make `/old` match `/older`; that surprise is gone).
//! - globs, with `*` (any run of characters within one segment) and `**` (a whole segment:
//!   any number of segments, zero included): `/assets/*.js`, `/docs/**/*.md`. A glob without a
//!   leading `/` (`*.php`) matches the last segment at any depth, like `/**/*.php`.
//!   `/a/**` is the prefix `/a` and is treated as one.
//!
//! **Specificity** (the most specific matching route wins; see [`Specificity`]):
//! 1. an exact route;
//! 2. then the longest literal start: the number of leading segments with no `*`
//!    (`/assets/*.js` has 1, `/assets/img/` has 2, `*.php` has 0);
//! 3. at equal length, a glob beats a prefix (it constrains more than the start);
//! 4. between globs, the one with more literal characters (`*.min.js` beats `*.js`);
//! 5. then the route written first.
//!
//! So `*.php` takes `/index.php` from `/`, but `/uploads/` keeps `/uploads/evil.php`: the
//! longer literal start says who owns that part of the site, and an upload directory is never
//! handed to a program by a suffix rule declared elsewhere (nginx's regex locations would).

use std::fmt;

use crate::http::target::{NormalPath, normalise};

/// A route's path pattern, in canonical form (two patterns that match the same paths by
/// construction compare equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// `= /x`: this path only.
    Exact(NormalPath),
    /// `/a/b/`: these leading segments (trailing slash not significant).
    Prefix(Vec<String>),
    /// Anything with `*`.
    Glob(Vec<GlobSegment>),
}

/// One `/`-separated piece of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobSegment {
    /// A segment without `*`, matched exactly.
    Literal(String),
    /// A segment with `*`, each `*` matching any run of characters within the segment.
    Star(String),
    /// `**`: any number of whole segments, zero included.
    AnyDepth,
}

/// Why a `path` is not a pattern; each says how to write it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathPatternError {
    /// Does not start with `/`, `= /` or a glob.
    #[error("a path starts with `/` (prefix), `= /` (exact) or is a glob such as `*.php`")]
    NotAbsolute,
    /// Would not survive normalisation unchanged (dot-segments, `//`, bad percent-encoding).
    #[error("write the path in normal form, {0}: requests are normalised before matching")]
    NotNormal(String),
    /// `**` inside a segment, or `*` in an exact path.
    #[error("`**` must be a whole segment (`/a/**/b`), and an exact path (`= /x`) has no `*`")]
    BadWildcard,
}

/// How specific a pattern is; the greater value wins. Field order is the rule's order, so
/// the derived `Ord` compares exactly as the module documentation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    /// An exact route beats every other kind.
    pub exact: bool,
    /// Leading segments without `*`.
    pub literal_segments: usize,
    /// A glob beats a prefix with as many literal segments.
    pub glob: bool,
    /// Characters other than `*`, across the whole glob (0 for other kinds).
    pub literal_chars: usize,
}

impl PathPattern {
    /// Parse a route's `path`.
    pub fn parse(text: &str) -> Result<PathPattern, PathPatternError> {
        if let Some(exact) = text.strip_prefix('=') {
            let exact = exact.trim_start();
            if exact.contains('*') {
                return Err(PathPatternError::BadWildcard);
            }
            return Ok(PathPattern::Exact(normal(exact)?));
        }
        // An unanchored glob (`*.php`) matches at any depth.
        let anchored = text.starts_with('/');
        let path = match (anchored, text.contains('*')) {
            (true, _) => normal(text)?,
            (false, true) => normal(&format!("/{text}"))?,
            (false, false) => return Err(PathPatternError::NotAbsolute),
        };
        let mut globs: Vec<GlobSegment> = Vec::with_capacity(path.segments().len() + 1);
        if !anchored {
            globs.push(GlobSegment::AnyDepth);
        }
        for segment in path.into_segments() {
            let glob = match segment.as_str() {
                "**" => GlobSegment::AnyDepth,
                s if s.contains("**") => return Err(PathPatternError::BadWildcard),
                s if s.contains('*') => GlobSegment::Star(segment),
                _ => GlobSegment::Literal(segment),
            };
            // `**/**` is `**`.
            if !(glob == GlobSegment::AnyDepth && globs.last() == Some(&GlobSegment::AnyDepth)) {
                globs.push(glob);
            }
        }
        // Only literals, possibly ending in one `**`: that is a prefix.
        let literal_end = globs
            .iter()
            .position(|g| !matches!(g, GlobSegment::Literal(_)));
        match literal_end {
            None => Ok(PathPattern::Prefix(literal_strings(globs))),
            Some(end) if end + 1 == globs.len() && globs[end] == GlobSegment::AnyDepth => {
                globs.pop();
                Ok(PathPattern::Prefix(literal_strings(globs)))
            }
            Some(_) => Ok(PathPattern::Glob(globs)),
        }
    }

    /// The pattern's rank; see [`Specificity`].
    pub fn specificity(&self) -> Specificity {
        match self {
            PathPattern::Exact(_) => Specificity {
                exact: true,
                literal_segments: 0,
                glob: false,
                literal_chars: 0,
            },
            PathPattern::Prefix(segments) => Specificity {
                exact: false,
                literal_segments: segments.len(),
                glob: false,
                literal_chars: 0,
            },
            PathPattern::Glob(globs) => Specificity {
                exact: false,
                literal_segments: globs
                    .iter()
                    .take_while(|g| matches!(g, GlobSegment::Literal(_)))
                    .count(),
                glob: true,
                literal_chars: globs
                    .iter()
                    .map(|g| match g {
                        GlobSegment::Literal(s) => s.len(),
                        GlobSegment::Star(s) => s.bytes().filter(|&b| b != b'*').count(),
                        GlobSegment::AnyDepth => 0,
                    })
                    .sum(),
            },
        }
    }

    /// If `path` matches, how many leading segments the pattern consumed: the prefix's length
    /// for a prefix, 0 for exact and glob patterns (they consume the whole path as a unit).
    pub fn matches(&self, path: &NormalPath) -> Option<usize> {
        match self {
            PathPattern::Exact(exact) => (exact == path).then_some(0),
            PathPattern::Prefix(prefix) => {
                // Compared as borrowed segments: a path answered from the cache is never split.
                let mut segments = path.segment_strs();
                let starts = prefix.iter().all(|p| segments.next() == Some(p.as_str()));
                starts.then_some(prefix.len())
            }
            PathPattern::Glob(globs) => {
                wildcard_match(globs, path.segments(), is_any_depth, |g, s: &String| {
                    segment_matches(g, s)
                })
                .then_some(0)
            }
        }
    }

    /// Whether every path `later` matches is also matched by `self` (sound, not complete: a
    /// `true` is always right). Used to reject a route that an earlier, at-least-as-specific
    /// glob makes unreachable; the two must already be known to rank in that order.
    pub fn covers(&self, later: &PathPattern) -> bool {
        if self == later {
            return true;
        }
        let (PathPattern::Glob(mine), PathPattern::Glob(theirs)) = (self, later) else {
            // After canonicalisation a prefix or exact pattern covers nothing it does not equal
            // among the patterns that rank below it; see the module docs.
            return false;
        };
        // Match their pattern as if it were a path: their `*` can only be consumed by our `*`
        // (our literals never contain `*`), their `**` only by our `**`.
        wildcard_match(mine, theirs, is_any_depth, |g, t| match (g, t) {
            (_, GlobSegment::AnyDepth) => false,
            (g, GlobSegment::Literal(s) | GlobSegment::Star(s)) => segment_matches(g, s),
        })
    }
}

impl fmt::Display for PathPattern {
    /// The canonical spelling (decoded), as `usher explain` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathPattern::Exact(path) => write!(f, "= {}", path.to_decoded_string()),
            PathPattern::Prefix(segments) => {
                for s in segments {
                    write!(f, "/{s}")?;
                }
                f.write_str("/")
            }
            PathPattern::Glob(globs) => {
                for g in globs {
                    match g {
                        GlobSegment::Literal(s) | GlobSegment::Star(s) => write!(f, "/{s}")?,
                        GlobSegment::AnyDepth => f.write_str("/**")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// The pattern text normalised like a request path, refused if normalising changed it.
fn normal(text: &str) -> Result<NormalPath, PathPatternError> {
    let path = normalise(text)
        .map_err(|e| PathPatternError::NotNormal(format!("as {text:?} is not: {e}")))?;
    // `normalise` succeeded, so `text` starts with `/`. Only the last segment may be empty
    // (a trailing slash); none may be a dot-segment.
    let raw: Vec<&str> = text[1..].split('/').collect();
    let (last, inner) = raw.split_last().expect("split yields at least one item");
    if inner.iter().any(|s| matches!(*s, "" | "." | "..")) || matches!(*last, "." | "..") {
        return Err(PathPatternError::NotNormal(format!(
            "such as {:?}",
            path.to_decoded_string()
        )));
    }
    Ok(path)
}

fn literal_strings(globs: Vec<GlobSegment>) -> Vec<String> {
    globs
        .into_iter()
        .filter_map(|g| match g {
            GlobSegment::Literal(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn is_any_depth(g: &GlobSegment) -> bool {
    *g == GlobSegment::AnyDepth
}

/// One glob segment against one path segment.
fn segment_matches(glob: &GlobSegment, segment: &str) -> bool {
    match glob {
        GlobSegment::Literal(literal) => literal == segment,
        // Letters in either case: `*.php` takes `INFO.PHP`, which would otherwise fall
        // through to a files route and go out as source. Extensions are read so everywhere
        // (the MIME table too); a literal segment stays exact.
        GlobSegment::Star(pattern) => wildcard_match(
            pattern.as_bytes(),
            segment.as_bytes(),
            |&b| b == b'*',
            |p, t| p.eq_ignore_ascii_case(t),
        ),
        GlobSegment::AnyDepth => false,
    }
}

/// Wildcard matching over any items: `is_star(p)` matches any run of items (zero included),
/// every other `p` matches one item `t` when `one(p, t)`. The classic single-backtrack
/// algorithm: O(pattern × text) at worst, no allocation, no recursion (so no pattern or path
/// can blow the stack or take exponential time).
pub(crate) fn wildcard_match<P, T>(
    pattern: &[P],
    text: &[T],
    is_star: impl Fn(&P) -> bool,
    one: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last star: (pattern index after it, text index it stopped at).
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && is_star(&pattern[p]) {
            p += 1;
            resume = Some((p, t));
        } else if p < pattern.len() && one(&pattern[p], &text[t]) {
            p += 1;
            t += 1;
        } else if let Some((after_star, from)) = resume {
            // Let the last star eat one more item and retry from there.
            p = after_star;
            t = from + 1;
            resume = Some((after_star, from + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(is_star)
}
