//! `Accept` and `Accept-Language` (RFC 9110 §12.5): parsing with q-values and choosing a representation.
//!
//! Parsing is lenient and bounded: an element that does not parse (bad syntax, an invalid
//! `q`) is skipped rather than failing the whole header, a header with no valid element is
//! treated as absent, and only the first [`MAX_ELEMENTS`] elements and [`MAX_PARAMS`]
//! parameters of each are looked at. Nothing here allocates; [`media_type_quality_memo`]
//! remembers each thread's last verdict in a fixed buffer.

use super::is_tchar;

pub mod encoding;
mod memo;
pub use memo::{LastVerdict, media_type_quality_memo};

/// Quality in thousandths, 0..=1000 (RFC 9110 §12.4.2 allows three decimals).
pub type Quality = u16;

/// Non-empty list elements of one header considered at most; later ones are ignored so a
/// hostile header costs bounded work. Browsers send fewer than 10.
pub const MAX_ELEMENTS: usize = 64;

/// Media-type parameters (other than `q`) of one media range considered at most.
pub const MAX_PARAMS: usize = 16;

/// How specific the media range that decided a media type's quality was (RFC 9110 §12.5.1:
/// "the most specific reference has precedence").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    /// `*/*`, or no `Accept` header at all.
    Any,
    /// `type/*`.
    Type,
    /// `type/subtype` with `params` media-type parameters (more parameters rank higher).
    Subtype {
        /// Media-type parameters the range carried, `q` excluded.
        params: u8,
    },
}

/// Choose among `available` media types (e.g. `"text/html"`) the one `accept` prefers.
///
/// `accept` is the raw header value, `None` when absent (then the first available wins).
/// Ranks by quality, then by the specificity of the matching range, then by the order of
/// `available`. Returns the index into `available`, or `None` when every one is refused (q=0
/// or unmatched). A header without a single valid element counts as absent.
///
/// Available types may carry parameters (`text/plain;format=flowed`); a range with
/// parameters matches only a type that has them all (RFC 9110 §12.5.1: `text/plain;format=flowed`
/// does not match a bare `text/plain`). One exception: a range's `charset=utf-8` is satisfied
/// by a type that names no charset, because usher labels every text type it serves UTF-8, so
/// `Accept: application/json;charset=utf-8` matches `application/json`.
pub fn choose_media_type(accept: Option<&[u8]>, available: &[&str]) -> Option<usize> {
    const AT_ONCE: usize = 8;
    if available.len() <= AT_ONCE {
        // One pass over the header for every type (see `media_type_matches`).
        let mut padded = [""; AT_ONCE];
        padded[..available.len()].copy_from_slice(available);
        let Some(matches) = media_type_matches(accept, &padded) else {
            // The header is absent or has no valid element: as if absent.
            return (!available.is_empty()).then_some(0);
        };
        return best_of(&matches[..available.len()]);
    }
    let mut matches = Vec::with_capacity(available.len());
    for name in available {
        let Some(m) = media_type_match(accept, name) else {
            return Some(0);
        };
        matches.push(m);
    }
    best_of(&matches)
}

/// The index of the best of `matches` (quality, then specificity, then order), if any has a
/// quality above 0.
pub fn best_of(matches: &[(Quality, Specificity)]) -> Option<usize> {
    let mut best: Option<(usize, Quality, Specificity)> = None;
    for (i, &(q, spec)) in matches.iter().enumerate() {
        if q == 0 {
            continue;
        }
        if best.is_none_or(|(_, bq, bs)| (q, spec) > (bq, bs)) {
            best = Some((i, q, spec));
        }
    }
    best.map(|(i, _, _)| i)
}

/// [`media_type_match`] for each of `available` at once, in a single pass over the header:
/// each of its elements is parsed once rather than once per type. `None` when the header is
/// absent or has no valid element. An empty name matches nothing.
pub fn media_type_matches<const N: usize>(
    accept: Option<&[u8]>,
    available: &[&str; N],
) -> Option<[(Quality, Specificity); N]> {
    let accept = accept?;
    let targets = available.map(|name| parse_media_range(name.as_bytes()));
    let mut best: [Option<(Specificity, Quality)>; N] = [None; N];
    let mut any_valid = false;
    for element in ListElements::new(accept) {
        let Some(range) = parse_media_range(element) else {
            continue;
        };
        any_valid = true;
        for (target, best) in targets.iter().zip(best.iter_mut()) {
            let Some(target) = target else { continue };
            if let Some(spec) = range.matches(target) {
                if best.is_none_or(|b| (spec, range.q) > b) {
                    *best = Some((spec, range.q));
                }
            }
        }
    }
    any_valid.then(|| best.map(|b| b.map_or((0, Specificity::Any), |(spec, q)| (q, spec))))
}

/// The quality `accept` gives `media_type` (most specific matching range wins), 0 if none
/// matches; 1000 when the header is absent or has no valid element.
pub fn media_type_quality(accept: Option<&[u8]>, media_type: &str) -> Quality {
    media_type_match(accept, media_type).map_or(1000, |(q, _)| q)
}

/// The quality `accept` gives `media_type` and the specificity of the range that decided it.
///
/// `Some((0, Specificity::Any))` when no range matches; `None` when the header is absent or
/// has no valid element (so every type is acceptable, as with `*/*`). Among equally specific
/// matching ranges (`text/html;q=0.2, text/html;q=0.9`) the highest quality wins.
pub fn media_type_match(accept: Option<&[u8]>, media_type: &str) -> Option<(Quality, Specificity)> {
    let accept = accept?;
    let target = parse_media_range(media_type.as_bytes());
    let mut any_valid = false;
    let mut best: Option<(Specificity, Quality)> = None;
    for element in ListElements::new(accept) {
        let Some(range) = parse_media_range(element) else {
            continue;
        };
        any_valid = true;
        let Some(target) = &target else { continue };
        if let Some(spec) = range.matches(target) {
            if best.is_none_or(|b| (spec, range.q) > b) {
                best = Some((spec, range.q));
            }
        }
    }
    if !any_valid {
        return None;
    }
    Some(best.map_or((0, Specificity::Any), |(spec, q)| (q, spec)))
}

/// Choose among language tags (e.g. `"en"`, `"fr-CA"`) the one `accept_language` prefers,
/// by RFC 4647 basic filtering (a range matches a tag equal to it or prefixing it at a `-`),
/// falling back, for a tag no range matches, to the range cut back to its language as RFC
/// 4647 §3.4's lookup does (`fr-CA` → `fr`): Safari and curl users often send a regional
/// tag alone, and `fr-CA` wants French before the `en;q=0.1` it may also list.
/// Returns `None` when the header is absent or nothing matches with q > 0.
///
/// The quality of a tag is that of the longest range matching it (`*` is the shortest); a
/// tag matched only by a cut range has that range's quality, and ranks below a tag matched
/// as it is at the same quality. Comparison is case-insensitive (RFC 4647 §2); ties go to
/// the earlier tag in `available`.
pub fn choose_language(accept_language: Option<&[u8]>, available: &[&str]) -> Option<usize> {
    let header = accept_language?;
    let mut best: Option<(usize, (Quality, LanguageMatch))> = None;
    for (i, tag) in available.iter().enumerate() {
        let rank = language_quality(header, tag.as_bytes());
        if rank.0 > 0 && best.is_none_or(|(_, b)| rank > b) {
            best = Some((i, rank));
        }
    }
    best.map(|(i, _)| i)
}

/// How a language tag matched the header's ranges, least telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum LanguageMatch {
    /// Only `*`, or nothing.
    Any,
    /// A range cut back to a shorter one (`fr-CA` → `fr`).
    Cut,
    /// A range as sent.
    Exact,
}

/// The quality `header` gives language `tag`, and how it matched: that of the longest
/// matching range; without one, of the best range that matches once cut back (or `*`'s, if
/// higher); 0 if none.
fn language_quality(header: &[u8], tag: &[u8]) -> (Quality, LanguageMatch) {
    let mut best: Option<(usize, Quality)> = None;
    let mut cut: Option<Quality> = None;
    for element in ListElements::new(header) {
        let Some((range, q)) = parse_language_range(element) else {
            continue;
        };
        let len = if range == b"*" {
            0
        } else if language_prefix_matches(range, tag) {
            range.len()
        } else {
            if q > 0 && cut.is_none_or(|c| q > c) && cut_range_matches(range, tag) {
                cut = Some(q);
            }
            continue;
        };
        if best.is_none_or(|b| (len, q) > b) {
            best = Some((len, q));
        }
    }
    match (best, cut) {
        (Some((len, q)), _) if len > 0 => (q, LanguageMatch::Exact),
        (Some((_, any)), Some(cut)) if any > cut => (any, LanguageMatch::Any),
        (_, Some(cut)) => (cut, LanguageMatch::Cut),
        (Some((_, any)), None) => (any, LanguageMatch::Any),
        (None, None) => (0, LanguageMatch::Any),
    }
}

/// Whether `range`, cut back a subtag at a time (a single-letter subtag left last goes with
/// the one after it, RFC 4647 §3.4), comes to a range that matches `tag`.
fn cut_range_matches(range: &[u8], tag: &[u8]) -> bool {
    let mut range = range;
    while let Some(dash) = range.iter().rposition(|&b| b == b'-') {
        range = &range[..dash];
        if let Some(before) = range.iter().rposition(|&b| b == b'-') {
            if range.len() - before == 2 {
                range = &range[..before];
            }
        }
        if language_prefix_matches(range, tag) {
            return true;
        }
    }
    false
}

/// RFC 4647 §3.3.1: `range` equals `tag`, or is a prefix of it followed by `-`.
fn language_prefix_matches(range: &[u8], tag: &[u8]) -> bool {
    tag.len() >= range.len()
        && tag[..range.len()].eq_ignore_ascii_case(range)
        && (tag.len() == range.len() || tag[range.len()] == b'-')
}

/// One `language-range [ weight ]` element (RFC 9110 §12.5.4); `None` when malformed.
/// `language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"` (RFC 4647 §2.1).
fn parse_language_range(element: &[u8]) -> Option<(&[u8], Quality)> {
    let mut c = Cursor::new(element);
    let range = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*');
    let valid = range == b"*"
        || range.split(|&b| b == b'-').enumerate().all(|(i, sub)| {
            (1..=8).contains(&sub.len())
                && if i == 0 {
                    sub.iter().all(u8::is_ascii_alphabetic)
                } else {
                    sub.iter().all(u8::is_ascii_alphanumeric)
                }
        });
    if !valid {
        return None;
    }
    // The only parameter Accept-Language defines is the weight.
    Some((range, parse_weight(&mut c)?))
}

/// A parsed `media-range [ weight ]` (RFC 9110 §12.5.1), borrowing the header.
///
/// Its parameters stay as text (already checked) and are read again only when a match needs
/// them: most ranges have none, and a range is parsed once per media type it is matched with,
/// where storing them would fill a table for every element of every pass.
#[derive(Debug)]
struct MediaRange<'a> {
    ty: &'a [u8],
    subtype: &'a [u8],
    /// What follows the subtype: `*( OWS ";" OWS [ parameter ] )`, well formed.
    params_text: &'a [u8],
    /// Parameters other than `q`, at most [`MAX_PARAMS`].
    n_params: usize,
    q: Quality,
}

impl<'a> MediaRange<'a> {
    /// The parameters other than `q`, the first [`MAX_PARAMS`] of them.
    fn params(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + use<'a> {
        // The text was checked when the range was parsed: every item is a parameter.
        Params(Cursor::new(self.params_text))
            .map_while(Result::ok)
            .filter(|(name, _)| !name.eq_ignore_ascii_case(b"q"))
            .take(MAX_PARAMS)
    }

    /// How specifically this range matches `target`, or `None` when it does not.
    fn matches(&self, target: &MediaRange<'_>) -> Option<Specificity> {
        let spec = if self.ty == b"*" {
            Specificity::Any
        } else if !self.ty.eq_ignore_ascii_case(target.ty) {
            return None;
        } else if self.subtype == b"*" {
            Specificity::Type
        } else if !self.subtype.eq_ignore_ascii_case(target.subtype) {
            return None;
        } else {
            // n_params <= MAX_PARAMS = 16, so the cast cannot truncate.
            Specificity::Subtype {
                params: self.n_params as u8,
            }
        };
        if self.n_params == 0 {
            return Some(spec);
        }
        let all_present = self.params().all(|(name, value)| {
            match target.params().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some((_, v)) => param_values_equal(value, v),
                // usher serves text as UTF-8 (see `choose_media_type`).
                None => {
                    name.eq_ignore_ascii_case(b"charset") && param_values_equal(value, b"utf-8")
                }
            }
        });
        all_present.then_some(spec)
    }
}

/// The parameters of `*( OWS ";" OWS [ parameter ] )`, `q` included; an `Err` (and then
/// nothing more) where the text is malformed.
struct Params<'a>(Cursor<'a>);

/// Parameter text that does not follow the grammar.
struct Malformed;

impl<'a> Iterator for Params<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        let c = &mut self.0;
        loop {
            c.skip_ows();
            if c.at_end() {
                return None;
            }
            let parameter = c.expect(b';').and_then(|()| {
                c.skip_ows();
                // `[ parameter ]` is optional.
                if c.at_end() || c.peek() == Some(b';') {
                    Some(None)
                } else {
                    c.parameter().map(Some)
                }
            });
            match parameter {
                Some(None) => continue,
                Some(Some(pair)) => return Some(Ok(pair)),
                None => {
                    c.i = c.s.len();
                    return Some(Err(Malformed));
                }
            }
        }
    }
}

/// One media range element; `None` when malformed (the caller skips it).
/// `media-range = ( "*/*" / ( type "/" "*" ) / ( type "/" subtype ) ) parameters`,
/// `parameters = *( OWS ";" OWS [ parameter ] )`; a parameter named `q` (any case) is the
/// weight wherever it appears (RFC 9110 §12.5.1 "Recipients SHOULD process any parameter
/// named "q" as weight, regardless of parameter ordering").
fn parse_media_range(element: &[u8]) -> Option<MediaRange<'_>> {
    let mut c = Cursor::new(element);
    let ty = c.token();
    c.expect(b'/')?;
    let subtype = c.token();
    if ty.is_empty() || subtype.is_empty() || (ty == b"*" && subtype != b"*") {
        return None;
    }
    let mut range = MediaRange {
        ty,
        subtype,
        params_text: &element[c.i..],
        n_params: 0,
        q: 1000,
    };
    // Check the parameters whole (a malformed one makes the element malformed), and read
    // the weight.
    for parameter in Params(c) {
        let (name, value) = parameter.ok()?;
        if name.eq_ignore_ascii_case(b"q") {
            range.q = parse_qvalue(value)?;
        } else if range.n_params < MAX_PARAMS {
            range.n_params += 1;
        }
    }
    Some(range)
}

/// What may follow a value in `Accept-Language` and `Accept-Encoding`, to the element's
/// end: nothing (quality 1) or `OWS ";" OWS "q=" qvalue OWS` (RFC 9110 §12.4.2); `None` for
/// anything else.
fn parse_weight(c: &mut Cursor<'_>) -> Option<Quality> {
    c.skip_ows();
    if c.at_end() {
        return Some(1000);
    }
    c.expect(b';')?;
    c.skip_ows();
    let (name, value) = c.parameter()?;
    if !name.eq_ignore_ascii_case(b"q") {
        return None;
    }
    let q = parse_qvalue(value)?;
    c.skip_ows();
    c.at_end().then_some(q)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2).
fn parse_qvalue(v: &[u8]) -> Option<Quality> {
    let (int, frac) = match v {
        [d] => (*d, &[][..]),
        [d, b'.', frac @ ..] if frac.len() <= 3 => (*d, frac),
        _ => return None,
    };
    match int {
        b'0' if frac.iter().all(u8::is_ascii_digit) => {
            let mut q: Quality = 0;
            for i in 0..3 {
                q = q * 10 + frac.get(i).map_or(0, |d| Quality::from(d - b'0'));
            }
            Some(q)
        }
        b'1' if frac.iter().all(|&d| d == b'0') => Some(1000),
        _ => None,
    }
}

/// Compare two parameter values, token or quoted-string, after unquoting; case-insensitive
/// because the values clients send in Accept (`charset`, `format`, `level`) are.
fn param_values_equal(a: &[u8], b: &[u8]) -> bool {
    let mut a = unquoted(a);
    let mut b = unquoted(b);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => {}
            _ => return false,
        }
    }
}

/// The bytes of a parameter value with its quotes and `\` escapes removed (RFC 9110 §5.6.4).
fn unquoted(v: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let inner = match v {
        [b'"', inner @ .., b'"'] => Some(inner),
        _ => None,
    };
    let quoted = inner.is_some();
    let mut bytes = inner.unwrap_or(v).iter().copied();
    std::iter::from_fn(move || {
        let b = bytes.next()?;
        if quoted && b == b'\\' {
            bytes.next()
        } else {
            Some(b)
        }
    })
}

/// The non-empty elements of a `#rule` list (RFC 9110 §5.6.1), split at commas outside
/// quoted strings, trimmed of OWS, at most [`MAX_ELEMENTS`] of them. Empty elements are
/// skipped as §5.6.1.2 requires and do not count toward the limit.
struct ListElements<'a> {
    rest: &'a [u8],
    yielded: usize,
}

impl<'a> ListElements<'a> {
    fn new(header: &'a [u8]) -> Self {
        ListElements {
            rest: header,
            yielded: 0,
        }
    }
}

impl<'a> Iterator for ListElements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() && self.yielded < MAX_ELEMENTS {
            // Most elements hold no quoted string: their end is the first comma. Only an
            // element with a quote needs the walk that skips commas inside quotes.
            let end = match self.rest.iter().position(|&b| b == b',' || b == b'"') {
                Some(i) if self.rest[i] == b'"' => quote_aware_end(self.rest),
                Some(i) => i,
                None => self.rest.len(),
            };
            let element = trim_ows(&self.rest[..end]);
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if !element.is_empty() {
                self.yielded += 1;
                return Some(element);
            }
        }
        None
    }
}

/// Where the first element of `list` ends: its first comma outside a quoted string (with
/// its backslash escapes), or the end of `list`.
fn quote_aware_end(list: &[u8]) -> usize {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, &b) in list.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if in_quote {
            match b {
                b'\\' => escaped = true,
                b'"' => in_quote = false,
                _ => {}
            }
        } else if b == b'"' {
            in_quote = true;
        } else if b == b',' {
            return i;
        }
    }
    list.len()
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// A byte cursor over one list element.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cursor { s, i: 0 }
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.i += 1)
    }

    fn skip_ows(&mut self) {
        self.take_while(is_ows);
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn token(&mut self) -> &'a [u8] {
        self.take_while(is_tchar)
    }

    /// `parameter-name "=" parameter-value`, the value a token or a quoted-string kept with
    /// its quotes (RFC 9110 §5.6.6).
    fn parameter(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let name = self.token();
        if name.is_empty() {
            return None;
        }
        self.expect(b'=')?;
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.token()
        };
        if value.is_empty() {
            return None;
        }
        Some((name, value))
    }

    /// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE` (RFC 9110 §5.6.4).
    fn quoted_string(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        self.expect(b'"')?;
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(&self.s[start..self.i]);
                }
                b'\\' => {
                    self.i += 1;
                    let b = self.peek()?;
                    if !(b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80) {
                        return None;
                    }
                    self.i += 1;
                }
                b if b == b'\t' || b == b' ' || b == 0x21 || (0x23..=0x7e).contains(&b) => {
                    self.i += 1;
                }
                b if b >= 0x80 => self.i += 1, // obs-text
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests;
