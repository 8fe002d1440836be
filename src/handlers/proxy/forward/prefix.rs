//! Mounting an upstream under a route prefix: the request path loses the prefix on the way in
//! ([`strip_prefix`]), and links the upstream makes to its own paths get it back on the way
//! out ([`rewrite_location`], [`rewrite_refresh`]).
//!
//! Prefixes are whole segments, as the router matches them: `/app` takes `/app`, `/app/` and
//! `/app/x`, never `/application`. The prefix is given decoded, as configured (`/café`), and
//! compared with each raw segment percent-decoded, so `/caf%C3%A9/x` loses it too.
//!
//! On the way out only references the upstream made to itself move: an origin-relative path
//! (`/login`), or an absolute URL whose authority is the upstream's address or the `Host`
//! usher sent it. URLs to anywhere else, and relative paths (`login`, `../x`: they resolve
//! against the client's URL, which already holds the prefix), are left alone. A path that
//! already starts with the prefix gets it twice: usher does not tell the upstream its prefix,
//! so an upstream that adds it itself has been configured to, and should be mounted at `/`.

use http::uri::{Authority, PathAndQuery};
use percent_encoding::percent_decode_str;

use crate::http::encode::percent_encode_path;

/// How to move the upstream's links back under the route prefix.
#[derive(Debug, Clone, Copy)]
pub struct PrefixRewrite<'a> {
    /// The route's prefix, decoded, as configured (`/app` or `/app/`).
    pub prefix: &'a str,
    /// The upstream's own address, as usher connects to it (`127.0.0.1:8080`). Clients cannot
    /// reach it, so an absolute URL to it becomes an origin-relative path under the prefix.
    pub upstream: Option<&'a Authority>,
    /// The `Host` usher sent upstream. An absolute URL to it keeps its scheme and authority
    /// (an `http:` to `https:` redirect stays one) and gets the prefix in its path...
    pub host: Option<&'a Authority>,
    /// ... unless it is the route's own `host` (`app.internal`), not the client's: clients
    /// cannot reach that name either, so a URL to it goes as one to `upstream` does.
    pub host_is_fixed: bool,
}

/// `target` with the route prefix `prefix` removed: the upstream's request target. The query
/// is kept; `/app` gives `/`, `/app/x?y` gives `/x?y`. `None` when the path does not begin
/// with the prefix's whole segments, compared after percent-decoding each raw segment (the
/// router matched a normalised path; a raw target with dot-segments or empty segments before
/// the prefix's end, such as `/./app/x` or `//app/x`, spells it differently). A prefix of `/`
/// keeps the target as is.
pub fn strip_prefix(target: &PathAndQuery, prefix: &str) -> Option<PathAndQuery> {
    let mut segments = prefix.split('/').filter(|s| !s.is_empty()).peekable();
    if segments.peek().is_none() {
        return Some(target.clone());
    }
    let mut rest = target.path();
    for segment in segments {
        let tail = rest.strip_prefix('/')?;
        let end = tail.find('/').unwrap_or(tail.len());
        if !percent_decode_str(&tail[..end]).eq(segment.bytes()) {
            return None;
        }
        rest = &tail[end..];
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let stripped = match target.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    PathAndQuery::try_from(stripped).ok()
}

/// The `Location` (RFC 9110 §10.2.2) to send instead of `location`, or `None` to keep it: it
/// does not point into the upstream, or there is no prefix.
pub fn rewrite_location(location: &str, rw: &PrefixRewrite<'_>) -> Option<String> {
    // No prefix (`/`, or a route that strips none): only the upstream's address goes.
    let prefix = encoded_prefix(rw.prefix).unwrap_or_default();
    // An origin-relative reference ("/x", not the network-path reference "//host/x").
    if location.starts_with('/') && !location.starts_with("//") {
        return (!prefix.is_empty()).then(|| format!("{prefix}{location}"));
    }
    let (scheme, after) = split_scheme(location)?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    // Userinfo (`user@host`) names a different resource than the bare host; leave it.
    if authority.contains('@') {
        return None;
    }
    let authority = Authority::try_from(authority).ok()?;
    let slash = if rest.starts_with('/') { "" } else { "/" };
    let names =
        |own: Option<&Authority>| own.is_some_and(|own| same_authority(own, &authority, scheme));
    if names(rw.upstream) || (rw.host_is_fixed && names(rw.host)) {
        // `http://upstream//evil.example/x` is a path on the upstream, but the bare path
        // `//evil.example/x` would name another host: `/.` keeps it a path on this site
        // (RFC 3986 §5.2.4 removes the dot segment once the reference is resolved).
        let dot = if prefix.is_empty() && names_a_host(rest) {
            "/."
        } else {
            ""
        };
        return Some(format!("{prefix}{dot}{slash}{rest}"));
    }
    if !prefix.is_empty() && names(rw.host) {
        let origin = &location[..location.len() - after.len() + end];
        return Some(format!("{origin}{prefix}{slash}{rest}"));
    }
    None
}

/// Whether `path`, sent as a reference on its own, would be read as a network-path
/// reference (`//host/x`): browsers also read `\` as `/` and drop tabs and line breaks
/// (WHATWG URL).
fn names_a_host(path: &str) -> bool {
    let leading: Vec<u8> = path
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .take(2)
        .collect();
    leading.len() == 2 && leading.iter().all(|&b| b == b'/' || b == b'\\')
}

/// The `Refresh` value to send instead of `refresh` (`5; url=/x`), its URL rewritten as by
/// [`rewrite_location`]; `None` to keep it. The value is read as browsers do (HTML's shared
/// declarative refresh steps): a delay, then `;` or `,`, then `url=` (optional, any case),
/// then the URL, possibly quoted. Everything but the URL is kept byte for byte.
pub fn rewrite_refresh(refresh: &str, rw: &PrefixRewrite<'_>) -> Option<String> {
    let (start, end) = refresh_url(refresh)?;
    let url = rewrite_location(&refresh[start..end], rw)?;
    Some(format!("{}{url}{}", &refresh[..start], &refresh[end..]))
}

/// Where the URL is in a `Refresh` value, as byte offsets.
fn refresh_url(value: &str) -> Option<(usize, usize)> {
    let bytes = value.as_bytes();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r');
    let skip = |mut i: usize, f: &dyn Fn(u8) -> bool| {
        while i < bytes.len() && f(bytes[i]) {
            i += 1;
        }
        i
    };
    let start = skip(0, &is_space);
    let i = skip(start, &|b| b.is_ascii_digit());
    if i == start && bytes.get(i) != Some(&b'.') {
        return None;
    }
    let mut i = skip(i, &|b| b.is_ascii_digit() || b == b'.');
    match bytes.get(i) {
        None => return None,
        Some(b';' | b',') => i += 1,
        Some(&b) if is_space(b) => {}
        Some(_) => return None,
    }
    i = skip(i, &is_space);
    if matches!(bytes.get(i), Some(b';' | b',')) {
        i = skip(i + 1, &is_space);
    }
    if bytes.len() >= i + 3 && bytes[i..i + 3].eq_ignore_ascii_case(b"url") {
        let j = skip(i + 3, &is_space);
        if bytes.get(j) == Some(&b'=') {
            i = skip(j + 1, &is_space);
        }
    }
    let mut end = bytes.len();
    if let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) {
        i += 1;
        end = value[i..].find(char::from(quote)).map_or(end, |q| i + q);
    }
    (i < end).then_some((i, end))
}

/// The prefix as a percent-encoded path without a trailing slash (`/app`); `None` for `/`.
fn encoded_prefix(prefix: &str) -> Option<String> {
    let trimmed = prefix.trim_end_matches('/');
    (!trimmed.is_empty()).then(|| percent_encode_path(trimmed))
}

/// The scheme (`Some(true)` for https, `Some(false)` for http, `None` for a network-path
/// reference `//host`) and what follows `://` or `//`. Other schemes are not the upstream's.
fn split_scheme(location: &str) -> Option<(Option<bool>, &str)> {
    let lower = |n: usize| location.get(..n).map(str::to_ascii_lowercase);
    if lower(7).as_deref() == Some("http://") {
        Some((Some(false), &location[7..]))
    } else if lower(8).as_deref() == Some("https://") {
        Some((Some(true), &location[8..]))
    } else {
        location.strip_prefix("//").map(|rest| (None, rest))
    }
}

/// Whether `other`, in a URL with scheme `https` (`None`: unknown), names `own`: hosts equal
/// ignoring case, ports equal once a missing port is the scheme's default (RFC 9110 §4.2).
/// [`crate::http::same_authority`], with the default port of the scheme (`None` for a
/// network-path reference, which has no default).
fn same_authority(own: &Authority, other: &Authority, https: Option<bool>) -> bool {
    let default = https.map(|https| if https { 443 } else { 80 });
    crate::http::same_authority(own, other, default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(target: &str, prefix: &str) -> Option<String> {
        strip_prefix(&PathAndQuery::try_from(target).unwrap(), prefix).map(|p| p.to_string())
    }

    #[test]
    fn prefixes_are_stripped_by_whole_segments_keeping_the_query() {
        assert_eq!(strip("/app", "/app").as_deref(), Some("/"));
        assert_eq!(strip("/app/", "/app").as_deref(), Some("/"));
        assert_eq!(strip("/app/x/y", "/app").as_deref(), Some("/x/y"));
        assert_eq!(strip("/app?a=1", "/app").as_deref(), Some("/?a=1"));
        assert_eq!(
            strip("/app/x?a=/app", "/app/").as_deref(),
            Some("/x?a=/app")
        );
        assert_eq!(strip("/a/b/c", "/a/b").as_deref(), Some("/c"));
        assert_eq!(strip("/app//x", "/app").as_deref(), Some("//x"));
        assert_eq!(strip("/application", "/app"), None);
        assert_eq!(strip("/ap", "/app"), None);
        assert_eq!(strip("/a", "/a/b"), None);
        assert_eq!(strip("/a/", "/a/b"), None);
        assert_eq!(strip("/", "/app"), None);
        assert_eq!(strip("*", "/app"), None);
    }

    #[test]
    fn raw_segments_are_compared_decoded() {
        assert_eq!(strip("/%61pp/x", "/app").as_deref(), Some("/x"));
        assert_eq!(strip("/caf%C3%A9/x", "/café").as_deref(), Some("/x"));
        // The rest is forwarded as received, encodings included.
        assert_eq!(strip("/app/a%2Fb", "/app").as_deref(), Some("/a%2Fb"));
        // An encoded slash is not a separator: `a%2Fb` is one segment, not `a` then `b`.
        assert_eq!(strip("/a%2Fb/x", "/a/b"), None);
        assert_eq!(strip("//app/x", "/app"), None);
        assert_eq!(strip("/./app/x", "/app"), None);
    }

    #[test]
    fn a_root_prefix_keeps_the_target() {
        assert_eq!(strip("/x?y", "/").as_deref(), Some("/x?y"));
        assert_eq!(strip("/x", "").as_deref(), Some("/x"));
        assert_eq!(strip("*", "/").as_deref(), Some("*"));
    }

    fn rw<'a>(upstream: &'a Authority, host: &'a Authority) -> PrefixRewrite<'a> {
        PrefixRewrite {
            prefix: "/app/",
            upstream: Some(upstream),
            host: Some(host),
            host_is_fixed: false,
        }
    }

    #[test]
    fn locations_into_the_upstream_move_under_the_prefix() {
        let upstream = Authority::from_static("127.0.0.1:8080");
        let host = Authority::from_static("example.com");
        let rw = rw(&upstream, &host);
        let moved = |l: &str| rewrite_location(l, &rw);
        assert_eq!(
            moved("/login?next=/x").as_deref(),
            Some("/app/login?next=/x")
        );
        assert_eq!(moved("/").as_deref(), Some("/app/"));
        assert_eq!(
            moved("http://127.0.0.1:8080/x#f").as_deref(),
            Some("/app/x#f")
        );
        assert_eq!(moved("HTTP://127.0.0.1:8080").as_deref(), Some("/app/"));
        assert_eq!(moved("http://127.0.0.1:8080?q").as_deref(), Some("/app/?q"));
        assert_eq!(moved("//127.0.0.1:8080/x").as_deref(), Some("/app/x"));
        // The public host keeps its scheme and authority.
        assert_eq!(
            moved("https://example.com/x").as_deref(),
            Some("https://example.com/app/x")
        );
        assert_eq!(
            moved("http://EXAMPLE.com:80/x").as_deref(),
            Some("http://EXAMPLE.com:80/app/x")
        );
        assert_eq!(
            moved("https://example.com:443").as_deref(),
            Some("https://example.com:443/app/")
        );
    }

    #[test]
    fn foreign_and_relative_locations_are_left_alone() {
        let upstream = Authority::from_static("127.0.0.1:8080");
        let host = Authority::from_static("example.com");
        let rw = rw(&upstream, &host);
        for location in [
            "https://elsewhere.example/x",
            "http://127.0.0.1:8081/x",
            "http://127.0.0.1/x",
            "https://example.com:8443/x",
            "http://example.com.evil/x",
            "http://user@example.com/x",
            "http://example.com@evil.example/x",
            "//evil.example/x",
            "ftp://example.com/x",
            "mailto:someone@example.com",
            "login",
            "../x",
            "?q=1",
            "#top",
            "",
            "http://",
            "http://[::1/x",
        ] {
            assert_eq!(rewrite_location(location, &rw), None, "{location:?}");
        }
    }

    #[test]
    fn prefixes_are_percent_encoded_and_root_rewrites_nothing() {
        let root = PrefixRewrite {
            prefix: "/",
            upstream: None,
            host: None,
            host_is_fixed: false,
        };
        assert_eq!(rewrite_location("/x", &root), None);
        // At the root only the upstream's own address goes.
        let upstream: Authority = "127.0.0.1:9000".parse().unwrap();
        let host: Authority = "site.test".parse().unwrap();
        let unprefixed = PrefixRewrite {
            prefix: "",
            upstream: Some(&upstream),
            host: Some(&host),
            host_is_fixed: false,
        };
        for (location, rewritten) in [
            ("http://127.0.0.1:9000/secret/x?y", Some("/secret/x?y")),
            ("http://127.0.0.1:9000", Some("/")),
            // Never a reference to another host (an open redirect).
            (
                "http://127.0.0.1:9000//evil.test/a",
                Some("/.//evil.test/a"),
            ),
            (
                "http://127.0.0.1:9000/\\evil.test/a",
                Some("/./\\evil.test/a"),
            ),
            (
                "http://127.0.0.1:9000/\t/evil.test/a",
                Some("/./\t/evil.test/a"),
            ),
            ("http://127.0.0.1:9000/x//y", Some("/x//y")),
            ("http://site.test/x", None),
            ("/x", None),
            ("https://other.test/x", None),
        ] {
            assert_eq!(
                rewrite_location(location, &unprefixed).as_deref(),
                rewritten,
                "{location}"
            );
        }
        // The route's own `host` is no client's to reach: a URL to it goes as one to the
        // upstream's address does, with the prefix when there is one.
        let fixed = PrefixRewrite {
            host_is_fixed: true,
            ..unprefixed
        };
        assert_eq!(
            rewrite_location("http://site.test/x?y", &fixed).as_deref(),
            Some("/x?y")
        );
        let fixed = PrefixRewrite {
            prefix: "/app/",
            ..fixed
        };
        assert_eq!(
            rewrite_location("https://site.test/x", &fixed).as_deref(),
            Some("/app/x")
        );
        assert_eq!(rewrite_location("http://other.test/x", &fixed), None);
        let cafe = PrefixRewrite {
            prefix: "/café au lait",
            ..root
        };
        assert_eq!(
            rewrite_location("/x", &cafe).as_deref(),
            Some("/caf%C3%A9%20au%20lait/x")
        );
    }

    #[test]
    fn refresh_urls_are_rewritten_keeping_the_rest() {
        let upstream = Authority::from_static("127.0.0.1:8080");
        let host = Authority::from_static("example.com");
        let rw = rw(&upstream, &host);
        let moved = |r: &str| rewrite_refresh(r, &rw);
        assert_eq!(moved("5; url=/x").as_deref(), Some("5; url=/app/x"));
        assert_eq!(
            moved("0;URL='/x?a=1'").as_deref(),
            Some("0;URL='/app/x?a=1'")
        );
        assert_eq!(
            moved("3, url = \"/x\" ").as_deref(),
            Some("3, url = \"/app/x\" ")
        );
        assert_eq!(moved("1.5 /x").as_deref(), Some("1.5 /app/x"));
        assert_eq!(moved(".5;/x").as_deref(), Some(".5;/app/x"));
        assert_eq!(
            moved("2; url=http://127.0.0.1:8080/x").as_deref(),
            Some("2; url=/app/x")
        );
        for keep in [
            "5",
            "5;",
            "5; url=",
            "5; url=''",
            "5; url=https://elsewhere.example/",
            "5; url=x",
            "x; url=/x",
            "5x; url=/x",
            "",
            "; url=/x",
        ] {
            assert_eq!(moved(keep), None, "{keep:?}");
        }
    }
}
