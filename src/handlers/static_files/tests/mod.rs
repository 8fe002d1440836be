//! Tests for the static responder, driving `ServeDir::serve` directly on temp dirs full of
//! hostile names: spaces, unicode, `<`, `"`, `%`, `#`, `?`, symlinks in and out of the root,
//! dot-files, `.well-known`, a fifo.

mod cache;
mod files;
mod listing;
mod negotiation;
mod ranges;
mod sandbox;
mod spa;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use percent_encoding::percent_decode_str;
use tempfile::TempDir;

use super::{ServeDir, StaticOptions};
use crate::body::ResponseBody;
use crate::body::prepared::FieldForm;
use crate::http::target::NormalPath;
use crate::problem::Problem;

/// Names that break naive servers: each is created as a file whose content is its name.
pub(super) const HOSTILE: &[&str] = &[
    "a b.txt",
    "ünï cödé.txt",
    "<tag>.txt",
    "quote\"d.txt",
    "single'quote.txt",
    "100%.txt",
    "%41.txt",
    "hash#frag.txt",
    "what?q=1.txt",
    "a:b.txt",
    "amp&amp.txt",
    "plus+sign.txt",
    "日本語.txt",
];

/// A temp site and a temp "outside" directory, kept alive with the responder.
pub(super) struct Site {
    pub(super) root: PathBuf,
    pub(super) outside: PathBuf,
    pub(super) opts: StaticOptions,
    _dirs: (TempDir, TempDir),
}

impl Site {
    /// The fixture with default options.
    pub(super) fn new() -> Self {
        let root_dir = tempfile::tempdir().expect("temp dir");
        let outside_dir = tempfile::tempdir().expect("temp dir");
        let root = fs::canonicalize(root_dir.path()).expect("canonical root");
        let outside = fs::canonicalize(outside_dir.path()).expect("canonical outside");
        let w = |rel: &str, content: &[u8]| {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, content).expect("write");
        };
        w("hello.txt", b"hello world\n");
        w("empty.txt", b"");
        w("page.html", b"<p>page</p>");
        w("image.png", b"\x89PNG fake");
        w("docs/intro.html", b"<h1>intro</h1>");
        w("docs/index.html", b"<h1>docs</h1>");
        w("docs/guide.txt", b"guide");
        w("report.html", b"<p>report</p>");
        w("report.json", b"{\"report\":true}");
        w("about.en.html", b"<p>about</p>");
        w("about.fr.html", b"<p>\xc3\xa0 propos</p>");
        w("about.de.html", b"<p>\xc3\xbcber</p>");
        w("intl/index.en.html", b"english index");
        w("intl/index.fr.html", b"index fran\xc3\xa7ais");
        w("plain/readme.txt", b"no index here");
        w(".hidden", b"secret");
        w(".git/config", b"[core]");
        w(".well-known/x", b"well known");
        w("sp ace/inner.txt", b"inner");
        for name in HOSTILE {
            w(name, name.as_bytes());
        }
        fs::write(outside.join("secret.txt"), b"outside secret").expect("write");
        fs::create_dir(outside.join("sub")).expect("mkdir");
        fs::write(outside.join("sub/file.txt"), b"outside sub").expect("write");

        symlink("hello.txt", root.join("inside-link")).expect("symlink");
        symlink("docs", root.join("dir-link")).expect("symlink");
        symlink(".hidden", root.join("to-hidden")).expect("symlink");
        symlink(outside.join("secret.txt"), root.join("out-file")).expect("symlink");
        symlink(outside.join("missing.txt"), root.join("out-missing")).expect("symlink");
        symlink(&outside, root.join("out-dir")).expect("symlink");
        symlink(outside.join("nope"), root.join("out-dir-missing")).expect("symlink");
        symlink("/etc", root.join("etc-link")).expect("symlink");
        symlink("loop-a", root.join("loop-b")).expect("symlink");
        symlink("loop-b", root.join("loop-a")).expect("symlink");
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .expect("mkfifo runs");
        assert!(fifo.success());

        let opts = StaticOptions::new(root.clone());
        Site {
            root,
            outside,
            opts,
            _dirs: (root_dir, outside_dir),
        }
    }

    pub(super) fn serve_dir(&self) -> ServeDir {
        ServeDir::new(self.opts.clone())
    }

    pub(super) fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// Age every cached answer of `serve` past its revalidation interval (as if that much time
/// had passed): the next request looks at the filesystem again.
pub(super) fn expire(serve: &ServeDir) {
    serve.cache.advance(serve.opts.revalidate_after);
}

/// A request target from a decoded path: `/a b/` -> segments `["a b"]`, trailing slash.
pub(super) fn normal(decoded: &str) -> NormalPath {
    let segments = decoded
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    NormalPath::from_segments(segments, decoded.ends_with('/'))
}

/// A request for the decoded `path` with an optional `query` and headers.
pub(super) fn parts(
    method: &str,
    path: &NormalPath,
    query: Option<&str>,
    headers: &[(&str, &str)],
) -> http::request::Parts {
    let mut uri = super::encoded_path(path.segments(), path.trailing_slash());
    if let Some(q) = query {
        uri.push('?');
        uri.push_str(q);
    }
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("valid request").into_parts().0
}

/// Serve `method path?query` with `headers`.
pub(super) async fn request(
    serve: &ServeDir,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Response<ResponseBody>, Problem> {
    let path = normal(path);
    let req = parts(method, &path, query, headers);
    serve.serve(&req, &path, FieldForm::Map).await
}

/// GET `path` with `headers`, expecting a response (not a problem).
pub(super) async fn get(
    serve: &ServeDir,
    path: &str,
    headers: &[(&str, &str)],
) -> Response<ResponseBody> {
    match request(serve, "GET", path, None, headers).await {
        Ok(res) => res,
        Err(p) => panic!("GET {path}: expected a response, got {} {p:?}", p.status),
    }
}

/// GET `path` with `headers`, expecting a problem.
pub(super) async fn problem(serve: &ServeDir, path: &str, headers: &[(&str, &str)]) -> Problem {
    match request(serve, "GET", path, None, headers).await {
        Ok(res) => panic!("GET {path}: expected a problem, got {}", res.status()),
        Err(p) => p,
    }
}

/// The whole body.
pub(super) async fn body(res: Response<ResponseBody>) -> Bytes {
    res.into_body()
        .collect()
        .await
        .expect("body completes")
        .to_bytes()
}

/// A header as a string ("" when absent).
pub(super) fn header<'a>(res: &'a Response<ResponseBody>, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .map_or("", |v| v.to_str().expect("ASCII header"))
}

/// Resolve `href` (relative or absolute, percent-encoded) against the directory `base`
/// (decoded, ending in `/`) and return the decoded path it names.
pub(super) fn resolve_href(base: &str, href: &str) -> String {
    let href = href.split(['?', '#']).next().unwrap_or_default();
    let mut segments: Vec<String> = if href.starts_with('/') {
        Vec::new()
    } else {
        base.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let trailing = href.ends_with('/');
    for raw in href.split('/').filter(|s| !s.is_empty()) {
        match raw {
            "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(
                percent_decode_str(raw)
                    .decode_utf8()
                    .expect("UTF-8 href")
                    .into_owned(),
            ),
        }
    }
    let mut out = String::from("/");
    out.push_str(&segments.join("/"));
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

#[test]
fn href_resolution() {
    assert_eq!(resolve_href("/a/", "b%20c.txt"), "/a/b c.txt");
    assert_eq!(resolve_href("/a/", "../"), "/");
    assert_eq!(resolve_href("/a/b/", "../c/"), "/a/c/");
    assert_eq!(resolve_href("/", "%3F.txt"), "/?.txt");
    assert_eq!(resolve_href("/x/", "/abs%23"), "/abs#");
}
