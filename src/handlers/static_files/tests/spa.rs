//! Clean URLs and the single-page-app fallback: navigations vs assets, and the sandbox.

use std::fs;
use std::os::unix::fs::symlink;

use http::StatusCode;

use super::{Site, body, get, header, problem, request};

/// What Firefox, Chrome and Safari send as Accept on a navigation.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn clean_site() -> Site {
    let mut site = Site::new();
    fs::write(site.path(".secret.html"), b"secret").unwrap();
    fs::create_dir(site.path("dir.html")).unwrap();
    fs::create_dir(site.path("both")).unwrap();
    fs::write(site.path("both.html"), b"both file").unwrap();
    symlink(site.outside.join("secret.txt"), site.path("leak.html")).unwrap();
    site.opts.clean_urls = true;
    site
}

#[tokio::test]
async fn clean_urls_serve_the_html_file() {
    let site = clean_site();
    let serve = site.serve_dir();
    for (path, content) in [
        ("/page", "<p>page</p>"),
        ("/page.html", "<p>page</p>"),
        ("/docs/intro", "<h1>intro</h1>"),
    ] {
        let res = get(&serve, path, &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
        // One file, not a negotiated variant: nothing varies, and it is cached as such.
        assert_eq!(header(&res, "vary"), "", "{path}");
        assert_eq!(header(&res, "content-location"), "", "{path}");
        assert_eq!(body(res).await, content.as_bytes(), "{path}");
    }
    // A second request is answered from the cache, the same way.
    let res = get(&serve, "/page", &[]).await;
    assert_eq!(body(res).await, &b"<p>page</p>"[..]);
    // HEAD agrees.
    let res = request(&serve, "HEAD", "/page", None, &[]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-length"), "11");
}

#[tokio::test]
async fn clean_urls_keep_directories_variants_and_the_sandbox() {
    let site = clean_site();
    let serve = site.serve_dir();
    // An existing directory wins: `/docs` still redirects to `/docs/`, `/both` too.
    for (path, location) in [("/docs", "/docs/"), ("/both", "/both/")] {
        let res = get(&serve, path, &[]).await;
        assert_eq!(res.status(), StatusCode::MOVED_PERMANENTLY, "{path}");
        assert_eq!(header(&res, "location"), location);
    }
    // Hidden names, a symlink leaving the root, a directory named `x.html`, the directory
    // form, and a name already ending in `.html`: all missing, as without clean URLs.
    for path in [
        "/.secret",
        "/.secret.html",
        "/leak",
        "/dir",
        "/page/",
        "/page.html.html",
        "/nope",
    ] {
        let p = problem(&serve, path, &[]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Without `about.html`, `/about` is negotiated among `about.LANG.html` as before.
    let res = get(&serve, "/about", &[("accept-language", "fr")]).await;
    assert_eq!(header(&res, "content-location"), "/about.fr.html");
    // Off: `/page` is found by negotiation, which says so.
    let mut site = Site::new();
    site.opts.clean_urls = false;
    let res = get(&site.serve_dir(), "/page", &[]).await;
    assert_eq!(header(&res, "content-location"), "/page.html");
}

fn spa_site(fallback: &str) -> Site {
    let mut site = Site::new();
    fs::write(site.path("app.html"), b"<app>").unwrap();
    site.opts.spa_fallback = Some(fallback.into());
    site
}

#[tokio::test]
async fn navigations_get_the_app() {
    let site = spa_site("app.html");
    let serve = site.serve_dir();
    let navigations: &[(&str, &[(&str, &str)])] = &[
        ("/settings/profile", &[("sec-fetch-mode", "navigate")]),
        // A browser navigation is trusted whatever the path looks like.
        ("/users/john.doe", &[("sec-fetch-mode", "navigate")]),
        ("/settings", &[("accept", BROWSER_ACCEPT)]),
        ("/settings/", &[("accept", BROWSER_ACCEPT)]),
        ("/a/b/c", &[("accept", "text/html")]),
        ("/a", &[("accept", "text/*, */*;q=0.1")]),
        // Names that do not exist because the sandbox hides them are missing like any other.
        ("/.git/config", &[("sec-fetch-mode", "navigate")]),
    ];
    for (path, headers) in navigations {
        let res = get(&serve, path, headers).await;
        assert_eq!(res.status(), StatusCode::OK, "{path} {headers:?}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{path}");
        assert_eq!(header(&res, "vary"), "Accept, Sec-Fetch-Mode", "{path}");
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(body(res).await, &b"<app>"[..], "{path}");
    }
    // HEAD: the same headers, no body.
    let nav = [("sec-fetch-mode", "navigate")];
    let res = request(&serve, "HEAD", "/x", None, &nav).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "cache-control"), "no-cache");
    assert_eq!(header(&res, "content-length"), "5");
    // Revalidation works: the app's ETag answers 304, still no-cache.
    let etag = header(&get(&serve, "/x", &nav).await, "etag").to_owned();
    let cond = [
        ("sec-fetch-mode", "navigate"),
        ("if-none-match", etag.as_str()),
    ];
    let res = get(&serve, "/other", &cond).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&res, "cache-control"), "no-cache");
    // Files that exist are served as they are.
    let res = get(&serve, "/page.html", &nav).await;
    assert_eq!(header(&res, "cache-control"), "");
    assert_eq!(body(res).await, &b"<p>page</p>"[..]);
}

#[tokio::test]
async fn assets_and_api_calls_keep_their_404() {
    let site = spa_site("app.html");
    let serve = site.serve_dir();
    let not_navigations: &[(&str, &[(&str, &str)])] = &[
        // The case: a script or a style asking for a missing hashed asset.
        (
            "/assets/app.3f2a.js",
            &[("sec-fetch-mode", "no-cors"), ("accept", "*/*")],
        ),
        ("/assets/app.3f2a.js", &[("accept", BROWSER_ACCEPT)]),
        ("/assets/app.css", &[("accept", "text/css,*/*;q=0.1")]),
        // fetch() and XHR, curl, scripts.
        (
            "/api/users",
            &[("sec-fetch-mode", "cors"), ("accept", "text/html")],
        ),
        ("/api/users", &[("sec-fetch-mode", "same-origin")]),
        ("/api/users", &[("accept", "application/json")]),
        ("/settings", &[("accept", "*/*")]),
        ("/settings", &[]),
        // Not preferred over */*, refused, or unreadable.
        ("/settings", &[("accept", "text/html, */*")]),
        ("/settings", &[("accept", "text/html;q=0, */*")]),
        ("/settings", &[("accept", ";;;")]),
        // Sec-Fetch-Mode is a lowercase token, sent once.
        (
            "/settings",
            &[("sec-fetch-mode", "Navigate"), ("accept", BROWSER_ACCEPT)],
        ),
        (
            "/settings",
            &[
                ("sec-fetch-mode", "navigate"),
                ("sec-fetch-mode", "navigate"),
            ],
        ),
        ("/settings", &[("sec-fetch-mode", "navigate, cors")]),
    ];
    for (path, headers) in not_navigations {
        let p = problem(&serve, path, headers).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path} {headers:?}");
        let res = p.into_response(None, false);
        assert_eq!(
            header(&res, "vary"),
            "Accept, Sec-Fetch-Mode",
            "{path} {headers:?}"
        );
    }
    // A 404 remembered for an asset does not stop a navigation to the same path.
    let nav = [("sec-fetch-mode", "navigate")];
    assert_eq!(
        problem(&serve, "/later", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&serve, "/later", &nav).await.status(), StatusCode::OK);
    // Other errors are not hidden by the app: a directory without index or listing is 403.
    let mut site = spa_site("app.html");
    site.opts.listing = false;
    let p = problem(&site.serve_dir(), "/plain/", &nav).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_fallback_obeys_the_sandbox() {
    // Hidden, escaping, missing, a directory, or not a relative path: the real 404 stays.
    for fallback in [
        ".hidden",
        "out-file",
        "nope.html",
        "docs",
        "../outside",
        "/etc/passwd",
        "",
    ] {
        let site = spa_site(fallback);
        let p = problem(&site.serve_dir(), "/x", &[("sec-fetch-mode", "navigate")]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{fallback:?}");
        assert_eq!(p.instance.as_deref(), Some("/x"), "{fallback:?}");
    }
    // A fallback in a subdirectory is fine.
    let site = spa_site("docs/intro.html");
    let res = get(&site.serve_dir(), "/x", &[("sec-fetch-mode", "navigate")]).await;
    assert_eq!(body(res).await, &b"<h1>intro</h1>"[..]);
}
