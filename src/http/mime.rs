//! Content-Type from a file name: a complete table, with `charset=utf-8` on text types.
//!
//! Our own table comes first: it fixes types where `mime_guess` disagrees with the
//! registrations browsers follow (`.mjs`, `.xml`, `.map`, `.md`, `.woff`, `.otf`) and holds
//! the common web types as complete, static header values, so the hot path neither
//! allocates nor formats. Anything else falls back to `mime_guess`.
//!
//! Charset policy: usher labels text as UTF-8 (`text/*` and JavaScript), because that is
//! what the web writes and a missing charset makes browsers guess (WHATWG Encoding). JSON
//! types get none: RFC 8259 §11 defines no charset parameter (JSON is UTF-8 by §8.1).
//! XML types (`application/xml`, `image/svg+xml`, `*+xml`, `text/xml`) get no charset: XML
//! declares its own encoding, and a `charset` parameter would override that declaration
//! (RFC 7303 §3.2), breaking any non-UTF-8 document while adding nothing to UTF-8 ones.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use http::HeaderValue;

/// The type for unknown or missing extensions (RFC 9110 §8.3: a sender that does not know
/// the type may use `application/octet-stream`).
const OCTET_STREAM: &str = "application/octet-stream";

/// Extensions longer than this are not looked up (the longest `mime_guess` knows is 22).
const MAX_EXTENSION_LEN: usize = 32;

/// The Content-Type for a file named `name`; `application/octet-stream` when unknown.
///
/// The extension is matched case-insensitively; `name` may be a bare name or a path, and a
/// leading dot names a hidden file, not an extension (`.htaccess` has none).
pub fn content_type_for(name: &str) -> HeaderValue {
    let mut buf = [0; MAX_EXTENSION_LEN];
    let Some(ext) = lowercase_extension(name, &mut buf) else {
        return HeaderValue::from_static(OCTET_STREAM);
    };
    if let Some(full) = overridden(ext) {
        return HeaderValue::from_static(full);
    }
    match mime_guess::from_ext(ext).first_raw() {
        Some(media_type) if needs_charset(media_type) => with_charset(media_type),
        Some(media_type) if is_header_safe(media_type) => HeaderValue::from_static(media_type),
        _ => HeaderValue::from_static(OCTET_STREAM),
    }
}

/// The bare media type (no parameters) for a file named `name`, if its extension is known.
pub fn media_type_for(name: &str) -> Option<&'static str> {
    let mut buf = [0; MAX_EXTENSION_LEN];
    let ext = lowercase_extension(name, &mut buf)?;
    match overridden(ext) {
        Some(full) => Some(full.split_once(';').map_or(full, |(bare, _)| bare)),
        None => mime_guess::from_ext(ext).first_raw(),
    }
}

/// The extension of the last path segment of `name`, ASCII-lowercased into `buf`.
fn lowercase_extension<'b>(name: &str, buf: &'b mut [u8; MAX_EXTENSION_LEN]) -> Option<&'b str> {
    let file = name.rsplit('/').next().unwrap_or(name);
    let (stem, ext) = file.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() || ext.len() > MAX_EXTENSION_LEN {
        return None;
    }
    let out = &mut buf[..ext.len()];
    out.copy_from_slice(ext.as_bytes());
    out.make_ascii_lowercase();
    // ASCII lowercasing keeps UTF-8 valid, so this never fails.
    std::str::from_utf8(out).ok()
}

/// Our table: extension (lowercase) -> complete Content-Type.
fn overridden(ext: &str) -> Option<&'static str> {
    Some(match ext {
        // Documents and code.
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        // RFC 9239 §3 makes text/javascript the one type for JavaScript, modules included.
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        // Source maps are JSON (the Source Map spec); mime_guess says text/plain.
        "map" => "application/json",
        "jsonld" => "application/ld+json",
        "geojson" => "application/geo+json",
        "webmanifest" => "application/manifest+json",
        "txt" | "text" => "text/plain; charset=utf-8",
        // RFC 7763 §2 makes charset required for text/markdown.
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "tsv" => "text/tab-separated-values; charset=utf-8",
        "ics" => "text/calendar; charset=utf-8",
        "vcf" | "vcard" => "text/vcard; charset=utf-8",
        "vtt" => "text/vtt; charset=utf-8",
        // RFC 7303 §4.1 prefers application/xml to text/xml; no charset (see module docs).
        "xml" => "application/xml",
        "xsl" | "xslt" => "application/xslt+xml",
        "xhtml" => "application/xhtml+xml",
        "atom" => "application/atom+xml",
        "rss" => "application/rss+xml",
        "svg" => "image/svg+xml",
        // RFC 9512.
        "yaml" | "yml" => "application/yaml",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        // Images.
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "jxl" => "image/jxl",
        "apng" => "image/apng",
        "bmp" => "image/bmp",
        // What browsers and nginx use; the registered image/vnd.microsoft.icon is less supported.
        "ico" => "image/x-icon",
        // Fonts: RFC 8081 registered font/*; mime_guess still says application/font-* for some.
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        // Audio and video.
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "ogv" => "video/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        // `.ts` on a web server is far more often an MPEG transport stream of an HLS playlist
        // than TypeScript source; nginx says video/mp2t too.
        "ts" => "video/mp2t",
        "m3u8" => "application/vnd.apple.mpegurl",
        // Archives.
        "gz" | "tgz" => "application/gzip",
        "zip" => "application/zip",
        "zst" => "application/zstd",
        "tar" => "application/x-tar",
        "xz" => "application/x-xz",
        "bz2" => "application/x-bzip2",
        "7z" => "application/x-7z-compressed",
        // nginx's and Debian's type; mime_guess says a RealAudio plug-in.
        "rpm" => "application/x-redhat-package-manager",
        "deb" => "application/vnd.debian.binary-package",
        // Source code and plain configuration, shown as text rather than downloaded (C and
        // Rust already are; mime_guess knows none of these, or names types browsers download).
        "go" | "java" | "kt" | "swift" | "jsx" | "tsx" | "toml" | "ini" | "conf" | "log" => {
            "text/plain; charset=utf-8"
        }
        _ => return None,
    })
}

/// Whether a type from `mime_guess` gets `charset=utf-8` (see the module docs).
fn needs_charset(media_type: &str) -> bool {
    let (ty, subtype) = media_type.split_once('/').unwrap_or((media_type, ""));
    // XML declares its own encoding (RFC 7303 §3.2) and JSON has no charset parameter at all:
    // it is UTF-8 by definition (RFC 8259 §8.1, §11).
    let xml = subtype == "xml" || subtype.ends_with("+xml");
    !xml && (ty == "text" || subtype == "javascript")
}

/// `HeaderValue::from_static` panics on bytes a header cannot carry; check first so an odd
/// entry in a dependency's table can never take a worker down.
fn is_header_safe(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// `media_type; charset=utf-8`, formatted once per type for the life of the process: the
/// types reaching here are the rare text types of `mime_guess` not in our table.
fn with_charset(media_type: &'static str) -> HeaderValue {
    static CACHE: OnceLock<RwLock<HashMap<&'static str, HeaderValue>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked mid-insert of a plain value.
    if let Some(v) = cache
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(media_type)
    {
        return v.clone();
    }
    let value = HeaderValue::try_from(format!("{media_type}; charset=utf-8"))
        .unwrap_or_else(|_| HeaderValue::from_static(OCTET_STREAM));
    cache
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(media_type)
        .or_insert(value)
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(name: &str) -> String {
        content_type_for(name).to_str().unwrap().to_owned()
    }

    #[test]
    fn common_web_types() {
        for (name, want) in [
            ("index.html", "text/html; charset=utf-8"),
            ("a.htm", "text/html; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("mod.mjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json"),
            ("app.js.map", "application/json"),
            ("site.webmanifest", "application/manifest+json"),
            ("README.md", "text/markdown; charset=utf-8"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("t.csv", "text/csv; charset=utf-8"),
            ("cal.ics", "text/calendar; charset=utf-8"),
            ("feed.xml", "application/xml"),
            ("logo.svg", "image/svg+xml"),
            ("x.wasm", "application/wasm"),
            ("p.avif", "image/avif"),
            ("p.webp", "image/webp"),
            ("f.woff2", "font/woff2"),
            ("f.woff", "font/woff"),
            ("seg.ts", "video/mp2t"),
            ("a.tar.gz", "application/gzip"),
            ("doc.pdf", "application/pdf"),
            ("c.yaml", "application/yaml"),
            ("pkg.rpm", "application/x-redhat-package-manager"),
            ("main.go", "text/plain; charset=utf-8"),
            ("App.java", "text/plain; charset=utf-8"),
            ("view.tsx", "text/plain; charset=utf-8"),
        ] {
            assert_eq!(ct(name), want, "{name}");
        }
    }

    #[test]
    fn extension_is_case_insensitive_and_taken_from_the_last_segment() {
        assert_eq!(ct("INDEX.HTML"), "text/html; charset=utf-8");
        assert_eq!(ct("Photo.JpG"), "image/jpeg");
        assert_eq!(ct("dir.json/file"), OCTET_STREAM);
        assert_eq!(ct("/a/b.d/c.CSS"), "text/css; charset=utf-8");
        assert_eq!(media_type_for("X.SVG"), Some("image/svg+xml"));
    }

    #[test]
    fn unknown_or_missing_extensions_are_octet_stream() {
        for name in [
            "",
            "Makefile",
            ".htaccess",
            "file.",
            "a.unknownext",
            "x.\u{e9}\u{e9}",
            "a/.js",
            &"a.".repeat(100),
            &format!("a.{}", "x".repeat(40)),
            ".",
            "..",
        ] {
            assert_eq!(ct(name), OCTET_STREAM, "{name:?}");
            assert_eq!(media_type_for(name), None, "{name:?}");
        }
    }

    #[test]
    fn fallback_types_get_charset_by_policy() {
        // From mime_guess, not our table.
        assert_eq!(ct("main.rs"), "text/x-rust; charset=utf-8");
        assert_eq!(ct("main.rs"), "text/x-rust; charset=utf-8", "cached value");
        assert_eq!(ct("a.png"), "image/png");
        assert!(!ct("a.xsd").contains("charset"), "{}", ct("a.xsd"));
        assert_eq!(media_type_for("main.rs"), Some("text/x-rust"));
    }

    #[test]
    fn media_type_is_bare() {
        assert_eq!(media_type_for("a.html"), Some("text/html"));
        assert_eq!(media_type_for("a.json"), Some("application/json"));
        assert_eq!(media_type_for("a.png"), Some("image/png"));
        assert_eq!(media_type_for("a.xml"), Some("application/xml"));
    }

    #[test]
    fn charset_policy() {
        assert!(needs_charset("text/plain"));
        assert!(!needs_charset("application/vnd.api+json"));
        assert!(!needs_charset("application/json"));
        assert!(needs_charset("application/javascript"));
        assert!(!needs_charset("text/xml"));
        assert!(!needs_charset("image/svg+xml"));
        assert!(!needs_charset("image/png"));
    }
}
