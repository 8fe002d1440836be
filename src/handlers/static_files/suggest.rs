//! "Did you mean": the nearest existing names for a path that names nothing.
//!
//! Candidates are the names in the deepest existing directory on the path, that pass the
//! same sandbox rules as the walk (no hidden names, no symlinks out of the root, no special
//! files), ranked by case-insensitive optimal-string-alignment distance (Levenshtein plus
//! transpositions). A name within `len / 3` edits (1 to 4) is close enough; after those come
//! names with the same stem (`/report.pdf` -> `/report.html`, `/readme` -> `/README.md`), then
//! names whose stem extends or shortens the wanted one by at least three characters
//! (`/intro.html` -> `/introduction.html`), the same extension first. When a middle segment is wrong (`/dcos/intro.html`), the suggestion keeps the rest of the path if
//! it exists under the corrected directory (`/docs/intro.html`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::StaticOptions;
use super::cache::Cache;
use super::decoded_path;
use super::resolve::{is_hidden, lookup};
use crate::http::target::NormalPath;

/// Which paths a 404 may suggest. The server allows only the paths its router sends to the
/// same route as the request: the names come from this route's root, and a path another route
/// takes may be guarded there (`auth`), answered by something else (a proxy, a program), or
/// not exist under that route's root at all. A 404 must not list, name by name, what a 401
/// protects.
#[derive(Clone)]
pub struct Suggestable(Arc<dyn Fn(&NormalPath) -> bool + Send + Sync>);

impl Suggestable {
    /// Paths for which `allows` says yes.
    pub fn new(allows: impl Fn(&NormalPath) -> bool + Send + Sync + 'static) -> Self {
        Suggestable(Arc::new(allows))
    }

    /// Whether `decoded`, an absolute path as suggestions show it (`/docs/`, `/a b.txt`),
    /// may be suggested.
    pub(super) fn allows(&self, decoded: &str) -> bool {
        let trailing_slash = decoded.ends_with('/');
        let segments = decoded
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        (self.0)(&NormalPath::from_segments(segments, trailing_slash))
    }
}

impl fmt::Debug for Suggestable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Suggestable(..)")
    }
}

/// Suggestions offered, at most.
const MAX_SUGGESTIONS: usize = 3;

/// Directories with more entries than this (10 000) get no suggestions: a 404 must stay cheap.
const MAX_SCAN: usize = 10_000;

/// Names longer than this (in characters) are compared by stem only, bounding the distance
/// computation to 64 x 64 cells per candidate.
const MAX_DISTANCE_CHARS: usize = 64;

/// Stems shorter than this (in characters) never match by prefix: `a` prefixes too much.
const MIN_PREFIX_STEM: usize = 3;

/// Ranked candidates kept before the sandbox check removes some.
const KEEP: usize = 8;

/// Up to three decoded absolute paths near `segments`, whose segment `at` names nothing in
/// `dir` (the directory of segments `..at`), each one `suggestable` allows.
pub(super) fn suggest(
    opts: &StaticOptions,
    cache: &Cache,
    suggestable: Option<&Suggestable>,
    dir: &Path,
    segments: &[String],
    at: usize,
) -> Vec<String> {
    let Some(wanted) = segments.get(at) else {
        return Vec::new();
    };
    // The names come from the cache (re-read when the directory's mtime moves): a flood of
    // 404s in one directory reads it once.
    let Some(listed) = cache.dir_names(dir) else {
        return Vec::new();
    };
    if listed.more || listed.names.len() > MAX_SCAN {
        return Vec::new();
    }
    let wanted_lower = Lowered::new(wanted);
    let threshold = (wanted_lower.chars.len() / 3).clamp(1, 4);
    let mut scratch = Scratch::default();
    let mut ranked: Vec<(usize, String)> = Vec::with_capacity(KEEP + 1);
    for name in &listed.names {
        let name = name.as_str();
        if name == wanted || is_hidden(opts, name) {
            continue;
        }
        let Some(score) = score(&wanted_lower, name, threshold, &mut scratch) else {
            continue;
        };
        let worst = ranked.last().map(|(s, n)| (*s, n.as_str()));
        if ranked.len() == KEEP && worst.is_some_and(|w| (score, name) >= w) {
            continue;
        }
        let pos = ranked.partition_point(|(s, n)| (*s, n.as_str()) < (score, name));
        ranked.insert(pos, (score, name.to_owned()));
        ranked.truncate(KEEP);
    }

    let rest = &segments[at + 1..];
    let mut out = Vec::with_capacity(MAX_SUGGESTIONS);
    for (_, name) in ranked {
        let Ok(entry) = lookup(opts, dir, &name) else {
            continue;
        };
        let is_dir = entry.meta.is_dir();
        let mut path = decoded_path(&segments[..at], true);
        path.push_str(&name);
        if rest.is_empty() {
            if is_dir {
                path.push('/');
            }
        } else {
            // Only a directory can fix a middle segment.
            if !is_dir {
                continue;
            }
            path.push('/');
            if rest_exists(opts, &entry.path, rest) {
                path.push_str(&decoded_path(rest, false)[1..]);
            }
        }
        if suggestable.is_some_and(|s| !s.allows(&path)) {
            continue;
        }
        out.push(path);
        if out.len() == MAX_SUGGESTIONS {
            break;
        }
    }
    out
}

/// Whether `rest` names something servable under `dir`.
fn rest_exists(opts: &StaticOptions, dir: &Path, rest: &[String]) -> bool {
    let mut current = dir.to_path_buf();
    for segment in rest {
        match lookup(opts, &current, segment) {
            Ok(entry) => current = entry.path,
            Err(_) => return false,
        }
    }
    true
}

/// A name lower-cased into chars, with its stem (before the first `.` after position 0).
struct Lowered {
    chars: Vec<char>,
    stem: usize,
}

impl Lowered {
    fn new(name: &str) -> Self {
        let mut l = Lowered {
            chars: Vec::new(),
            stem: 0,
        };
        l.set(name);
        l
    }

    fn set(&mut self, name: &str) {
        self.chars.clear();
        self.chars.extend(name.chars().flat_map(char::to_lowercase));
        self.stem = self
            .chars
            .iter()
            .skip(1)
            .position(|&c| c == '.')
            .map_or(self.chars.len(), |p| p + 1);
    }

    fn stem(&self) -> &[char] {
        &self.chars[..self.stem]
    }
}

/// Reused buffers for scoring many candidates.
#[derive(Default)]
struct Scratch {
    candidate: Option<Lowered>,
    rows: [Vec<usize>; 3],
}

/// How far `name` is from `wanted` (lower is nearer); `None` when too far. Edit distances
/// score up to `threshold`; the same stem scores `threshold`; a stem prefix scores
/// `threshold + 1` with the same extension and `threshold + 2` without.
fn score(wanted: &Lowered, name: &str, threshold: usize, scratch: &mut Scratch) -> Option<usize> {
    let candidate = scratch.candidate.get_or_insert_with(|| Lowered::new(""));
    candidate.set(name);
    let (a, b) = (&wanted.chars, &candidate.chars);
    let close_enough = a.len().abs_diff(b.len()) <= threshold
        && a.len() <= MAX_DISTANCE_CHARS
        && b.len() <= MAX_DISTANCE_CHARS;
    if close_enough {
        let [r0, r1, r2] = &mut scratch.rows;
        let d = osa_distance(a, b, r0, r1, r2);
        if d <= threshold {
            return Some(d);
        }
    }
    let (ws, cs) = (wanted.stem(), candidate.stem());
    if ws == cs {
        return Some(threshold);
    }
    let (short, long) = if ws.len() < cs.len() {
        (ws, cs)
    } else {
        (cs, ws)
    };
    if short.len() >= MIN_PREFIX_STEM && long.starts_with(short) {
        let same_extension = a[wanted.stem..] == b[candidate.stem..];
        return Some(threshold + if same_extension { 1 } else { 2 });
    }
    None
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions, each costing 1. Three reused rows, O(len(a) * len(b)).
fn osa_distance(
    a: &[char],
    b: &[char],
    two_back: &mut Vec<usize>,
    prev: &mut Vec<usize>,
    cur: &mut Vec<usize>,
) -> usize {
    let n = b.len();
    for row in [&mut *two_back, &mut *prev, &mut *cur] {
        row.clear();
        row.resize(n + 1, 0);
    }
    for (j, cell) in prev.iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(two_back, prev);
        std::mem::swap(prev, cur);
    }
    prev[n]
}

#[cfg(test)]
mod tests {
    use super::{Lowered, Scratch, Suggestable, score};
    use crate::http::target::{NormalPath, normalise};
    use std::sync::{Arc, Mutex};

    /// A suggestion is judged as the path a request for it would have, decoded.
    #[test]
    fn a_suggestion_is_judged_as_its_request_path() {
        let seen: Arc<Mutex<Vec<NormalPath>>> = Arc::default();
        let record = Arc::clone(&seen);
        let suggestable = Suggestable::new(move |path: &NormalPath| {
            record.lock().unwrap().push(path.clone());
            path.segments().first().is_none_or(|s| s != "private")
        });
        let cases = [
            ("/", "/", true),
            ("/docs/", "/docs/", true),
            ("/docs/intro.html", "/docs/intro.html", true),
            ("/a b/é.txt", "/a%20b/%C3%A9.txt", true),
            ("/private/", "/private/", false),
            ("/private/s.txt", "/private/s.txt", false),
        ];
        for (decoded, encoded, allowed) in cases {
            assert_eq!(suggestable.allows(decoded), allowed, "{decoded}");
            let judged = seen.lock().unwrap().pop().unwrap();
            let asked = normalise(encoded).unwrap();
            assert_eq!(judged.segments(), asked.segments(), "{decoded}");
            assert_eq!(judged.trailing_slash(), asked.trailing_slash(), "{decoded}");
        }
    }

    fn dist(a: &str, b: &str) -> Option<usize> {
        let wanted = Lowered::new(a);
        let threshold = (wanted.chars.len() / 3).clamp(1, 4);
        score(&wanted, b, threshold, &mut Scratch::default())
    }

    #[test]
    fn near_names() {
        assert_eq!(dist("intro.htm", "intro.html"), Some(1));
        assert_eq!(dist("indxe.html", "index.html"), Some(1), "transposition");
        assert_eq!(dist("INDEX.HTML", "index.html"), Some(0), "case only");
        assert_eq!(dist("readme", "README.md"), Some(2), "same stem");
        assert_eq!(dist("report.pdf", "report.html"), Some(3), "same stem");
        assert_eq!(dist("zzz", "index.html"), None);
        assert_eq!(dist("a", "b"), Some(1));
        assert_eq!(
            dist("intro.html", "introduction.html"),
            Some(4),
            "stem prefix"
        );
        assert_eq!(
            dist("intro.html", "intro-video.mp4"),
            Some(5),
            "other extension"
        );
        assert_eq!(dist("intro.html", "installation.html"), None);
        assert_eq!(dist("indx.html", "index.html"), Some(1), "close by edits");
        assert_eq!(dist("ab.html", "abc.html"), Some(1));
        assert_eq!(
            dist("ab", "abcdefgh.txt"),
            None,
            "stems under 3 never prefix"
        );
        assert_eq!(dist("über.txt", "Uber.txt"), Some(1));
    }

    #[test]
    fn long_names_are_bounded() {
        let long = "x".repeat(200);
        assert_eq!(dist(&long, &"y".repeat(200)), None);
        assert!(dist(&format!("{long}.a"), &format!("{long}.b")).is_some());
    }
}
