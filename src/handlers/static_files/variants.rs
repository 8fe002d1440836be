//! Proactive negotiation among sibling files (RFC 9110 §12.1): `/report` answered by
//! `report.html` or `report.json`, `/about` (or `/about.html`) by `about.en.html` or
//! `about.fr.html`.
//!
//! A variant of a requested name `N` is a regular file in the same directory named
//! - `N.EXT` or `N.LANG.EXT`, or
//! - `STEM.LANG.EXT` when `N` is `STEM.EXT`,
//!
//! where `EXT` has a known media type and is not a compression suffix (`x.tar.gz` is not a
//! variant of `x.tar`), and `LANG` is a language tag with a two-letter primary subtag
//! (`en`, `pt-BR`, `zh-Hant`). The media type is chosen first, by Accept, ties broken by
//! `variant_order` then name; then the language among files of that type, by
//! Accept-Language (a regional range alone, `fr-CA`, falls back to `fr`); without a match a
//! file with no language wins, else `en`, else the first by name (RFC 9110 §12.5.4 lets a server ignore an unmatched Accept-Language rather than
//! answer 406).

use std::path::Path;

use http::HeaderValue;

use super::resolve::{Entry, Job, is_hidden, lookup};
use super::{decoded_path, encoded_path, push_encoded};
use crate::http::{accept, mime};

/// Directory entries scanned for variants, at most (10 000): a name in a bigger directory
/// may miss its variants rather than make every 404 there cost a full scan.
const MAX_SCAN: usize = 10_000;

/// Variants of one name considered, at most: the first by name. Enough for a page in every
/// language a site is likely to have, in two or three types (`about.LANG.html` for 80
/// languages, say), while a directory of thousands cannot make one request check them all.
const MAX_VARIANTS: usize = 256;

/// Compression suffixes: they name an encoding of a file, not another representation.
const ENCODINGS: &[&str] = &["gz", "br", "zst", "bz2", "xz", "lz", "lzma", "z"];

/// The headers a negotiated answer carries (also on its 304): a variant chosen by `Accept`
/// and `Accept-Language`, or a precompressed sibling chosen by `Accept-Encoding`.
pub(super) struct Negotiated {
    /// `Vary: Accept`, `Vary: Accept, Accept-Language` or `Vary: Accept-Encoding`.
    pub(super) vary: HeaderValue,
    /// The chosen variant's own URL (RFC 9110 §8.7); none for an encoding of the file,
    /// which is the same resource.
    pub(super) content_location: Option<HeaderValue>,
    /// The chosen file's language, if its name has one.
    pub(super) content_language: Option<HeaderValue>,
    /// The content coding of a precompressed sibling (`gzip`, `br`, `zstd`).
    pub(super) content_encoding: Option<HeaderValue>,
}

/// What looking for variants found.
pub(super) enum Variants {
    /// No variant exists.
    None,
    /// This one answers.
    Chosen(Box<Choice>),
    /// Variants exist but Accept refuses them all: these decoded paths.
    NotAcceptable(Vec<String>),
}

/// The chosen variant.
pub(super) struct Choice {
    pub(super) entry: Entry,
    pub(super) name: String,
    pub(super) negotiated: Negotiated,
}

struct Candidate {
    name: String,
    media_type: &'static str,
    language: Option<String>,
    entry: Entry,
}

/// Find and choose the variants of `requested` in `dir`, whose decoded segments are `parent`.
pub(super) fn find(job: &Job, dir: &Path, parent: &[String], requested: &str) -> Variants {
    let opts = &*job.opts;
    if is_hidden(opts, requested) {
        return Variants::None;
    }
    // Names from the cache, current by the directory's mtime (see `cache`).
    let Some(listed) = job.cache.dir_names(dir) else {
        return Variants::None;
    };
    // Names first (no system call), in order, so that past the limit the same variants are
    // always the ones considered, whatever order the directory lists them in.
    let mut named: Vec<(&str, &'static str, Option<&str>)> = listed
        .names
        .iter()
        .take(MAX_SCAN)
        .filter_map(|name| parse(requested, name).map(|(t, l)| (name.as_ref(), t, l)))
        .collect();
    named.sort_unstable_by_key(|&(name, ..)| name);
    let mut candidates = Vec::new();
    for (name, media_type, language) in named {
        let Ok(entry) = lookup(opts, dir, name) else {
            continue;
        };
        if !entry.meta.is_file() {
            continue;
        }
        candidates.push(Candidate {
            name: name.to_owned(),
            media_type,
            language: language.map(str::to_owned),
            entry,
        });
        if candidates.len() == MAX_VARIANTS {
            break;
        }
    }
    if candidates.is_empty() {
        return Variants::None;
    }
    let rank = |media_type: &str| {
        opts.variant_order
            .iter()
            .position(|t| t.eq_ignore_ascii_case(media_type))
            .unwrap_or(usize::MAX)
    };
    candidates.sort_by(|a, b| (rank(a.media_type), &a.name).cmp(&(rank(b.media_type), &b.name)));
    let mut types: Vec<&str> = Vec::with_capacity(candidates.len());
    for c in &candidates {
        if !types.contains(&c.media_type) {
            types.push(c.media_type);
        }
    }
    let chosen_type = match accept::choose_media_type(job.accept(), &types) {
        Some(i) => types[i],
        None if opts.lenient_accept => types[0],
        None => {
            let available = candidates
                .iter()
                .map(|c| {
                    let mut path = decoded_path(parent, true);
                    path.push_str(&c.name);
                    path
                })
                .collect();
            return Variants::NotAcceptable(available);
        }
    };
    let any_language = candidates.iter().any(|c| c.language.is_some());
    let index = choose_language(job, &candidates, chosen_type);
    let chosen = candidates.swap_remove(index);

    let mut location = encoded_path(parent, true);
    push_encoded(&mut location, &chosen.name);
    let negotiated = Negotiated {
        vary: HeaderValue::from_static(if any_language {
            "Accept, Accept-Language"
        } else {
            "Accept"
        }),
        content_location: Some(
            HeaderValue::try_from(location).unwrap_or_else(|_| HeaderValue::from_static("/")),
        ),
        content_encoding: None,
        content_language: chosen
            .language
            .as_deref()
            .and_then(|l| HeaderValue::from_str(l).ok()),
    };
    Variants::Chosen(Box::new(Choice {
        entry: chosen.entry,
        name: chosen.name,
        negotiated,
    }))
}

/// Among the candidates of `media_type` (sorted by name), the index of the one to serve.
fn choose_language(job: &Job, candidates: &[Candidate], media_type: &str) -> usize {
    let same: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].media_type == media_type)
        .collect();
    let tagged: Vec<usize> = same
        .iter()
        .copied()
        .filter(|&i| candidates[i].language.is_some())
        .collect();
    if !tagged.is_empty() {
        let tags: Vec<&str> = tagged
            .iter()
            .map(|&i| candidates[i].language.as_deref().unwrap_or_default())
            .collect();
        if let Some(j) = accept::choose_language(job.accept_language(), &tags) {
            return tagged[j];
        }
    }
    let untagged = same
        .iter()
        .copied()
        .find(|&i| candidates[i].language.is_none());
    let english = || {
        tagged.iter().copied().find(|&i| {
            let tag = candidates[i].language.as_deref().unwrap_or_default();
            tag.eq_ignore_ascii_case("en")
                || tag.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("en-"))
        })
    };
    // `same` is never empty: `media_type` was taken from the candidates.
    untagged.or_else(english).unwrap_or(same[0])
}

/// If `name` is a variant of `requested`: its media type and language tag.
fn parse<'a>(requested: &str, name: &'a str) -> Option<(&'static str, Option<&'a str>)> {
    if name.len() <= requested.len() + 1 {
        return None;
    }
    // `N.EXT` or `N.LANG.EXT`.
    if let Some(tail) = name
        .strip_prefix(requested)
        .and_then(|t| t.strip_prefix('.'))
    {
        let (language, ext) = match tail.split_once('.') {
            None => (None, tail),
            Some((language, ext)) if !ext.contains('.') && is_language(language) => {
                (Some(language), ext)
            }
            Some(_) => return None,
        };
        return media_type(name, ext).map(|m| (m, language));
    }
    // `STEM.LANG.EXT` for `STEM.EXT`.
    let (stem, ext) = requested.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    let middle = name
        .strip_prefix(stem)?
        .strip_prefix('.')?
        .strip_suffix(ext)?
        .strip_suffix('.')?;
    if !is_language(middle) {
        return None;
    }
    media_type(name, ext).map(|m| (m, Some(middle)))
}

/// The media type of `name` if its extension `ext` names a representation.
fn media_type(name: &str, ext: &str) -> Option<&'static str> {
    if ext.is_empty() || ENCODINGS.iter().any(|e| e.eq_ignore_ascii_case(ext)) {
        return None;
    }
    mime::media_type_for(name)
}

/// `en`, `pt-BR`, `zh-Hant`, `de-CH-1996`: a two-letter primary subtag (ISO 639-1) and
/// alphanumeric subtags of 1–8 characters (RFC 5646 §2.1, simplified). Three-letter primary
/// subtags are left out because they collide with extensions (`app.min.js`, `x.tar.gz`).
fn is_language(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let primary_ok = subtags
        .next()
        .is_some_and(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::is_language;

    #[test]
    fn language_tags() {
        for ok in ["en", "fr", "pt-BR", "zh-Hant", "de-CH-1996", "EN"] {
            assert!(is_language(ok), "{ok}");
        }
        for bad in [
            "",
            "e",
            "eng",
            "min",
            "tar",
            "en-",
            "en--x",
            "1a",
            "en-toolongsubtag",
        ] {
            assert!(!is_language(bad), "{bad}");
        }
    }
}
