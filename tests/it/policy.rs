//! Route policies through the real binary (`usher -c FILE`): basic auth, CORS with preflight,
//! header set/add/remove and rules, security-headers presets, custom error pages, clean URLs,
//! the SPA fallback, `usher explain` on a route with policies, and the README's examples.

use std::net::SocketAddr;

use crate::support::{
    Process, check, client, explain, fields_but_date, head_value, raw_exchange, readme_toml_blocks,
    split_head, start, usher, write,
};

/// Two sites: `spa.test` is a single-page app; the default site has one route per policy.
/// `{HASH}` becomes a bcrypt hash of [`PASSWORD`] for `alice`.
const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[[site]]
hosts = ["spa.test"]
root = "app"

[[site.route]]
path = "/"
files = { spa = "index.html" }
cache-control = "public, max-age=600"

[[site]]
root = "public"

[[site.route]]
path = "/private/"
files = {}
auth = { realm = "staff", users = { alice = "{HASH}" } }
security-headers = "strict"
errors = { 401 = "errors/401.html" }

[[site.route]]
path = "/api/"
files = {}
cors = { origins = ["https://app.example"], methods = ["PUT"], headers = ["Content-Type"], expose = ["ETag"], max-age = "10m" }

[[site.route]]
path = "/rpc/"
methods = ["GET", "PUT"]
redirect = { to = "/api{path}", status = 307 }
cors = { origins = ["https://app.example"], methods = ["PUT"] }

[[site.route]]
path = "/"
files = { clean-urls = true }
headers = { set = { "X-Edition" = "one" }, add = { Link = ["</a.css>; rel=preload", "</b.js>; rel=preload"] }, remove = ["Last-Modified"] }
cache-control = "public, max-age=60"
header-rules = [ { match = "*.{js,css}", cache-control = "public, max-age=31536000, immutable" } ]
security-headers = "basic"
errors = { 404 = "errors/404.html" }
"#;

/// Alice's password.
const PASSWORD: &str = "correct horse";

const SHELL: &str = "<!doctype html><title>shell</title>";
const CUSTOM_404: &str = "<!doctype html><title>custom 404</title>";
const CUSTOM_401: &str = "<!doctype html><title>custom 401</title>";

const BASIC_PERMISSIONS: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
                                 magnetometer=(), microphone=(), payment=(), usb=()";

/// A directory with `usher.toml` (`config`, `{HASH}` filled in) and the files it serves.
fn site_dir(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The lowest cost: the test checks the policy, not bcrypt.
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    write(d, "usher.toml", config.replace("{HASH}", &hash));
    write(d, "app/index.html", SHELL);
    write(d, "app/assets/app.js", "console.log('app')\n");
    write(d, "public/index.html", "home\n");
    write(
        d,
        "public/about.html",
        "<!doctype html><title>about</title>",
    );
    write(d, "public/app.js", "console.log(1)\n");
    write(d, "public/private/s.txt", "secret\n");
    write(d, "public/api/data.json", "{\"a\":1}\n");
    write(d, "public/rpc/data.json", "{\"b\":2}\n");
    write(d, "errors/404.html", CUSTOM_404);
    write(d, "errors/401.html", CUSTOM_401);
    dir
}

/// `usher -c DIR/usher.toml`, with the directory kept alive as long as the server.
fn serve(config: &str) -> (Process, tempfile::TempDir) {
    let dir = site_dir(config);
    let file = dir.path().join("usher.toml");
    let p = start(&["-c", &file.display().to_string()]);
    (p, dir)
}

fn url(p: &Process, path: &str) -> String {
    format!("http://{}{path}", p.addrs[0])
}

/// Header `name` of a response, or `None`.
fn field<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

/// Every field line named `name`, in order.
fn fields(r: &reqwest::Response, name: &str) -> Vec<String> {
    r.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A GET with `headers`.
async fn get(p: &Process, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    send(p, reqwest::Method::GET, path, headers).await
}

async fn send(
    p: &Process,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client().request(method, url(p, path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("a response")
}

/// The origin the `cors` routes allow.
const APP: &str = "https://app.example";

/// What a 401 from the `auth` route asks for.
const CHALLENGE: &str = "Basic realm=\"staff\", charset=\"UTF-8\"";

/// A browser's navigation `Accept`.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn basic_auth_takes_right_credentials_and_challenges_wrong_or_missing_ones() {
    let (p, _dir) = serve(CONFIG);

    let r = client()
        .get(url(&p, "/private/s.txt"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(field(&r, "www-authenticate"), None);
    assert_eq!(r.text().await.unwrap(), "secret\n");

    for (user, password) in [("alice", "wrong"), ("mallory", PASSWORD), ("", "")] {
        let r = client()
            .get(url(&p, "/private/s.txt"))
            .basic_auth(user, Some(password))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{user}:{password}");
        assert_eq!(field(&r, "www-authenticate"), Some(CHALLENGE));
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["status"], 401);
        assert_eq!(
            v["detail"],
            "The user name or password is wrong. (realm \"staff\")"
        );
    }

    let r = get(&p, "/private/s.txt", &[("Accept", "application/json")]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(field(&r, "www-authenticate"), Some(CHALLENGE));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["detail"],
        "This page needs a user name and password, and none were sent. (realm \"staff\")"
    );

    // Not Basic credentials at all.
    let r = get(&p, "/private/s.txt", &[("Authorization", "Bearer abc")]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(field(&r, "www-authenticate"), Some(CHALLENGE));

    // Another route is not behind the password.
    assert_eq!(get(&p, "/about", &[]).await.status(), 200);
}

#[tokio::test]
async fn a_401_is_problem_json_for_api_clients_and_text_for_curl() {
    let (p, _dir) = serve(CONFIG);

    let r = get(&p, "/private/s.txt", &[("Accept", "application/json")]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(field(&r, "content-type"), Some("application/problem+json"));
    assert_eq!(field(&r, "vary"), Some("Accept"));
    // The route's policy runs on its own 401 too: the strict preset.
    assert_eq!(field(&r, "x-frame-options"), Some("DENY"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["type"], "urn:usher:problem:unauthorized");
    assert_eq!(v["title"], "Unauthorized");
    assert_eq!(v["status"], 401);

    // curl's `*/*` gets plain text (browsers get the route's custom 401 page: see
    // `a_custom_401_page_is_served_to_browsers`).
    let r = get(&p, "/private/s.txt", &[("Accept", "*/*")]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(field(&r, "content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(field(&r, "www-authenticate"), Some(CHALLENGE));
    let text = r.text().await.unwrap();
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(text.contains("realm \"staff\""), "{text}");
}

/// `errors = { 401 = ... }` on an `auth` route: a browser should get the custom page, with
/// the 401 status and the challenge.
#[tokio::test]
async fn a_custom_401_page_is_served_to_browsers() {
    let (p, _dir) = serve(CONFIG);
    let r = get(&p, "/private/s.txt", &[("Accept", BROWSER_ACCEPT)]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(field(&r, "www-authenticate"), Some(CHALLENGE));
    assert_eq!(field(&r, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.text().await.unwrap(), CUSTOM_401);
}

#[tokio::test]
async fn cors_preflight_is_answered_when_allowed_and_refused_otherwise() {
    let (p, _dir) = serve(CONFIG);
    let preflight = |origin: &'static str, method: &'static str, headers: &'static str| {
        let p = &p;
        async move {
            let mut h = vec![
                ("Origin", origin),
                ("Access-Control-Request-Method", method),
                ("Accept", "application/json"),
            ];
            if !headers.is_empty() {
                h.push(("Access-Control-Request-Headers", headers));
            }
            send(p, reqwest::Method::OPTIONS, "/api/data.json", &h).await
        }
    };

    let r = preflight(APP, "PUT", "Content-Type").await;
    assert_eq!(r.status(), 204);
    assert_eq!(field(&r, "access-control-allow-origin"), Some(APP));
    assert_eq!(field(&r, "access-control-allow-methods"), Some("PUT"));
    assert_eq!(
        field(&r, "access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(field(&r, "access-control-max-age"), Some("600"));
    assert_eq!(field(&r, "access-control-allow-credentials"), None);
    assert_eq!(
        field(&r, "vary"),
        Some("Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
    );
    assert_eq!(field(&r, "content-length"), None);

    // A safelisted method needs no listing.
    let r = preflight(APP, "GET", "").await;
    assert_eq!(r.status(), 204);
    assert_eq!(field(&r, "access-control-allow-origin"), Some(APP));

    for (origin, method, headers, why) in [
        (
            "https://evil.example",
            "PUT",
            "",
            "the request's Origin is not among the origins this route allows",
        ),
        (
            APP,
            "DELETE",
            "",
            "the method \"DELETE\" is not among the methods this route allows",
        ),
        (
            APP,
            "PUT",
            "X-Secret",
            "the header field \"x-secret\" is not among the fields this route allows",
        ),
    ] {
        let r = preflight(origin, method, headers).await;
        assert_eq!(r.status(), 403, "{origin} {method} {headers}");
        // An allowed origin's answers all name it (a browser still fails the preflight on
        // the status); another origin's never do.
        let named = (origin == APP).then_some(origin);
        assert_eq!(field(&r, "access-control-allow-origin"), named);
        assert_eq!(field(&r, "access-control-allow-methods"), None);
        assert_eq!(field(&r, "content-type"), Some("application/problem+json"));
        assert_eq!(field(&r, "vary"), Some("Accept, Origin"));
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["type"], "urn:usher:problem:cors-refused");
        assert_eq!(
            v["detail"],
            format!(
                "This cross-origin request is not allowed: {why}. The route's `cors` settings \
                 list what is."
            )
        );
    }

    // OPTIONS without Access-Control-Request-Method is no preflight: the files' 204 + Allow.
    let r = send(
        &p,
        reqwest::Method::OPTIONS,
        "/api/data.json",
        &[("Origin", APP)],
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(field(&r, "allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(field(&r, "access-control-allow-methods"), None);
}

#[tokio::test]
async fn cors_fields_and_vary_origin_on_a_simple_get() {
    let (p, _dir) = serve(CONFIG);

    let r = get(&p, "/api/data.json", &[("Origin", APP)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(field(&r, "access-control-allow-origin"), Some(APP));
    assert_eq!(field(&r, "access-control-expose-headers"), Some("etag"));
    assert_eq!(field(&r, "access-control-allow-credentials"), None);
    assert_eq!(fields(&r, "vary"), ["Origin"]);
    assert_eq!(r.text().await.unwrap(), "{\"a\":1}\n");

    // Another origin, or none: no CORS fields, but the answer still varies on Origin.
    for origin in [Some("https://evil.example"), None] {
        let h: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        let r = get(&p, "/api/data.json", &h).await;
        assert_eq!(r.status(), 200);
        assert_eq!(field(&r, "access-control-allow-origin"), None, "{origin:?}");
        assert_eq!(field(&r, "access-control-expose-headers"), None);
        assert_eq!(fields(&r, "vary"), ["Origin"], "{origin:?}");
    }

    // Problems carry the fields too: a browser's script can read the 404.
    let r = get(
        &p,
        "/api/missing.json",
        &[("Origin", APP), ("Accept", "application/json")],
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(field(&r, "access-control-allow-origin"), Some(APP));
    assert_eq!(fields(&r, "vary"), ["Accept, Origin"]);
}

/// A route restricted to some methods (`methods = ["GET", "PUT"]`) with `cors`: the browser's
/// preflight for PUT must get the CORS fields, or the PUT is never sent.
#[tokio::test]
async fn cors_preflight_on_a_method_restricted_route() {
    let (p, _dir) = serve(CONFIG);
    let r = send(
        &p,
        reqwest::Method::OPTIONS,
        "/rpc/data.json",
        &[("Origin", APP), ("Access-Control-Request-Method", "PUT")],
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(field(&r, "access-control-allow-origin"), Some(APP));
    assert_eq!(field(&r, "access-control-allow-methods"), Some("PUT"));
}

#[tokio::test]
async fn headers_are_set_added_removed_and_ruled_by_glob() {
    let (p, _dir) = serve(CONFIG);

    // The first answer reads the file; the second comes from the cache, whose fields were
    // rendered ahead for HTTP/1.1 and must still pass through the policy.
    for answer in ["from the disk", "from the cache"] {
        let r = get(&p, "/about.html", &[]).await;
        assert_eq!(r.status(), 200, "{answer}");
        assert_eq!(field(&r, "x-edition"), Some("one"), "{answer}");
        assert_eq!(
            fields(&r, "link"),
            ["</a.css>; rel=preload", "</b.js>; rel=preload"],
            "{answer}"
        );
        assert_eq!(field(&r, "last-modified"), None, "removed, {answer}");
        assert!(
            field(&r, "etag").is_some(),
            "only what was named is removed, {answer}"
        );
        assert_eq!(
            field(&r, "cache-control"),
            Some("public, max-age=60"),
            "{answer}"
        );
        assert_eq!(fields(&r, "content-type").len(), 1, "{answer}");

        // `*.{js,css}` overrides the route's Cache-Control.
        let r = get(&p, "/app.js", &[]).await;
        assert_eq!(r.status(), 200, "{answer}");
        assert_eq!(
            field(&r, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{answer}"
        );
        assert_eq!(field(&r, "x-edition"), Some("one"), "{answer}");
        assert_eq!(r.text().await.unwrap(), "console.log(1)\n", "{answer}");
    }

    // A 404 for a missing .js is never made cacheable, let alone immutable; the other
    // fields still apply.
    let r = get(&p, "/missing.js", &[("Accept", "application/json")]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(field(&r, "cache-control"), None);
    assert_eq!(field(&r, "x-edition"), Some("one"));
    assert_eq!(fields(&r, "link").len(), 2);
}

#[tokio::test]
async fn security_header_presets_are_sent() {
    let (p, _dir) = serve(CONFIG);

    let r = get(&p, "/about", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(field(&r, "x-content-type-options"), Some("nosniff"));
    assert_eq!(field(&r, "x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(
        field(&r, "referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(field(&r, "permissions-policy"), Some(BASIC_PERMISSIONS));
    assert_eq!(
        field(&r, "content-security-policy"),
        None,
        "basic has no CSP"
    );

    let r = client()
        .get(url(&p, "/private/s.txt"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(field(&r, "x-content-type-options"), Some("nosniff"));
    assert_eq!(field(&r, "x-frame-options"), Some("DENY"));
    assert_eq!(field(&r, "referrer-policy"), Some("no-referrer"));
    assert_eq!(field(&r, "permissions-policy"), Some(BASIC_PERMISSIONS));
    assert_eq!(
        field(&r, "content-security-policy"),
        Some(
            "default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'"
        )
    );
    assert_eq!(field(&r, "cross-origin-opener-policy"), Some("same-origin"));
}

#[tokio::test]
async fn a_custom_404_page_for_browsers_and_problem_json_for_api_clients() {
    let (p, _dir) = serve(CONFIG);

    // The second 404 for the path comes from the cache, its fields rendered ahead: the page
    // keeps them as it keeps the first's.
    let mut seen = Vec::new();
    for answer in ["first", "from the cache"] {
        let r = get(&p, "/no/such/page", &[("Accept", BROWSER_ACCEPT)]).await;
        seen.push(fields_but_date(&r));
        assert_eq!(r.status(), 404, "{answer}");
        assert_eq!(
            field(&r, "content-type"),
            Some("text/html; charset=utf-8"),
            "{answer}"
        );
        assert_eq!(field(&r, "vary"), Some("Accept"), "{answer}");
        assert_eq!(
            field(&r, "x-content-type-options"),
            Some("nosniff"),
            "{answer}"
        );
        assert_eq!(
            field(&r, "x-edition"),
            Some("one"),
            "the route's policy applies, {answer}"
        );
        assert_eq!(
            field(&r, "content-length"),
            Some(CUSTOM_404.len().to_string().as_str()),
            "{answer}"
        );
        // The problem page's own policy would block the site's page from loading anything.
        assert_eq!(field(&r, "content-security-policy"), None, "{answer}");
        assert_eq!(r.text().await.unwrap(), CUSTOM_404, "{answer}");
    }
    assert_eq!(seen[0], seen[1]);

    // HEAD: the same fields, no body.
    let r = send(
        &p,
        reqwest::Method::HEAD,
        "/no/such/page",
        &[("Accept", BROWSER_ACCEPT)],
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(field(&r, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.bytes().await.unwrap().len(), 0);

    let r = get(&p, "/no/such/page", &[("Accept", "application/json")]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(field(&r, "content-type"), Some("application/problem+json"));
    assert_eq!(field(&r, "vary"), Some("Accept"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["type"], "urn:usher:problem:not-found");
    assert_eq!(v["status"], 404);
    assert_eq!(v["instance"], "/no/such/page");
}

/// `Accept: */*` (curl, `fetch()`, a script tag) or no Accept at all does not prefer HTML,
/// so it should get the negotiated problem (text/plain, as on a route without `errors`),
/// not the custom HTML page.
#[tokio::test]
async fn the_custom_404_page_is_only_for_clients_that_prefer_html() {
    let (p, _dir) = serve(CONFIG);
    for accept in [Some("*/*"), None] {
        let h: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
        let r = get(&p, "/missing.js", &h).await;
        assert_eq!(r.status(), 404);
        assert_eq!(
            field(&r, "content-type"),
            Some("text/plain; charset=utf-8"),
            "{accept:?}"
        );
        assert_ne!(r.text().await.unwrap(), CUSTOM_404);
    }
}

/// The "did you mean" paths of a 404 as problem JSON.
async fn suggested(p: &Process, path: &str, user: Option<(&str, &str)>) -> Vec<String> {
    let mut req = client()
        .get(url(p, path))
        .header("Accept", "application/problem+json");
    if let Some((name, password)) = user {
        req = req.basic_auth(name, Some(password));
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 404, "{path}");
    let v: serde_json::Value = r.json().await.unwrap();
    v["suggestions"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// A 404 suggests only paths its own route answers: never, name by name, what another
/// route keeps behind a password.
#[tokio::test]
async fn a_404_never_suggests_what_another_route_guards() {
    let (p, _dir) = serve(CONFIG);
    // Typos the `/` route answers, of names under `/private/` (an `auth` route).
    for typo in ["/privat/s.txt", "/Private/s.txt", "/privte/"] {
        let found = suggested(&p, typo, None).await;
        assert!(
            found.iter().all(|s| !s.starts_with("/private")),
            "{typo}: {found:?}"
        );
    }
    // The same route's own names are still suggested.
    assert_eq!(suggested(&p, "/abuot.html", None).await, ["/about.html"]);
    // Inside the guarded route, to a client that passed its check, its names are.
    let inside = suggested(&p, "/private/sx.txt", Some(("alice", PASSWORD))).await;
    assert_eq!(inside, ["/private/s.txt"]);
}

#[tokio::test]
async fn clean_urls_serve_the_html_file() {
    let (p, _dir) = serve(CONFIG);
    for path in ["/about", "/about.html"] {
        let r = get(&p, path, &[]).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(field(&r, "content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(
            r.text().await.unwrap(),
            "<!doctype html><title>about</title>"
        );
    }
    let r = get(&p, "/abou", &[("Accept", "application/json")]).await;
    assert_eq!(r.status(), 404);
}

/// One HTTP/1.1 GET to `spa.test` over raw TCP: (head, body).
fn spa_get(addr: SocketAddr, path: &str, fields: &[&str]) -> (String, Vec<u8>) {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: spa.test\r\nConnection: close\r\n");
    for f in fields {
        request.push_str(f);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let raw = raw_exchange(addr, request.as_bytes());
    let (head, body) = split_head(&raw);
    (head, body.to_vec())
}

#[test]
fn spa_fallback_serves_the_shell_to_navigations_only() {
    let (p, _dir) = serve(CONFIG);
    let addr = p.addrs[0];
    let browser = format!("Accept: {BROWSER_ACCEPT}");

    let navigations: [&[&str]; 3] = [
        &["Sec-Fetch-Mode: navigate", "Accept: */*"],
        &["Sec-Fetch-Mode: navigate", &browser],
        // No Sec-Fetch-Mode: an Accept preferring HTML on a path without an extension.
        &[&browser],
    ];
    for fields in navigations {
        let (head, body) = spa_get(addr, "/settings/profile", fields);
        assert!(head.starts_with("HTTP/1.1 200 "), "{fields:?}: {head}");
        assert_eq!(
            head_value(&head, "cache-control"),
            Some("no-cache"),
            "{head}"
        );
        assert_eq!(
            head_value(&head, "vary"),
            Some("Accept, Sec-Fetch-Mode"),
            "{head}"
        );
        assert_eq!(
            head_value(&head, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(body, SHELL.as_bytes());
    }

    // A script asking for a missing asset, with or without Fetch Metadata: a real 404.
    let assets: [&[&str]; 3] = [
        &[
            "Sec-Fetch-Mode: no-cors",
            "Sec-Fetch-Dest: script",
            "Accept: */*",
        ],
        &["Accept: */*"],
        &[&browser],
    ];
    for fields in assets {
        let (head, body) = spa_get(addr, "/assets/app.3f2a.js", fields);
        assert!(head.starts_with("HTTP/1.1 404 "), "{fields:?}: {head}");
        assert_ne!(body, SHELL.as_bytes());
        assert_eq!(head_value(&head, "vary"), Some("Accept, Sec-Fetch-Mode"));
        assert_eq!(head_value(&head, "cache-control"), None, "{head}");
    }

    // `fetch('/api/user')`: `Accept: */*`, `Sec-Fetch-Mode: cors`: no shell either.
    let (head, _) = spa_get(
        addr,
        "/api/user",
        &["Sec-Fetch-Mode: cors", "Accept: application/json"],
    );
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    assert_eq!(
        head_value(&head, "content-type"),
        Some("application/problem+json")
    );

    // An asset that exists is served, with the route's Cache-Control; so is the shell itself.
    let (head, body) = spa_get(addr, "/assets/app.js", &["Sec-Fetch-Mode: no-cors"]);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(
        head_value(&head, "cache-control"),
        Some("public, max-age=600")
    );
    assert_eq!(body, b"console.log('app')\n");
    let (head, _) = spa_get(addr, "/index.html", &[]);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
}

/// An SPA route with a custom 404 page: the 404 a non-navigation gets depends on
/// Sec-Fetch-Mode (a navigation to the same URL gets the shell), so it must say so in Vary.
#[test]
fn a_custom_404_page_on_an_spa_route_keeps_vary_sec_fetch_mode() {
    let config = CONFIG.replace(
        "files = { spa = \"index.html\" }",
        "files = { spa = \"index.html\" }\nerrors = { 404 = \"errors/404.html\" }",
    );
    let (p, _dir) = serve(&config);
    let (head, body) = spa_get(
        p.addrs[0],
        "/assets/app.3f2a.js",
        &[&format!("Accept: {BROWSER_ACCEPT}")],
    );
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    assert_eq!(body, CUSTOM_404.as_bytes());
    assert_eq!(head_value(&head, "vary"), Some("Accept, Sec-Fetch-Mode"));
}

/// The answer `usher explain` prints is the server's own: the policies' effects show in it.
#[test]
fn explain_shows_the_answer_the_policies_make() {
    let dir = site_dir(CONFIG);
    let out = explain(dir.path(), &["GET", "/private/s.txt"]);
    assert!(
        out.contains("route /private/ (") && out.contains("chosen"),
        "{out}"
    );
    assert!(out.contains("answer: 401 Unauthorized"), "{out}");
    assert!(
        out.contains("  www-authenticate: Basic realm=\"staff\", charset=\"UTF-8\"\n"),
        "{out}"
    );
    assert!(out.contains("  x-frame-options: DENY\n"), "{out}");

    let out = explain(
        dir.path(),
        &["-H", "Origin: https://app.example", "GET", "/api/data.json"],
    );
    assert!(out.contains("answer: 200 OK"), "{out}");
    assert!(
        out.contains("  access-control-allow-origin: https://app.example\n"),
        "{out}"
    );
    assert!(out.contains("  vary: Origin\n"), "{out}");

    let out = explain(dir.path(), &["GET", "/app.js"]);
    assert!(
        out.contains("  cache-control: public, max-age=31536000, immutable\n"),
        "{out}"
    );
    assert!(out.contains("  x-edition: one\n"), "{out}");
}

/// `usher explain` should list what the chosen route's policy does (the lines of
/// `RoutePolicy::explain`), as its docs and the issue say.
#[test]
fn explain_lists_the_route_policies() {
    let dir = site_dir(CONFIG);
    let out = explain(dir.path(), &["GET", "/private/s.txt"]);
    assert!(
        out.contains("auth: realm \"staff\", no credentials given: 401\n"),
        "{out}"
    );
    assert!(out.contains("security headers: strict\n"), "{out}");

    let out = explain(
        dir.path(),
        &["-H", "Origin: https://app.example", "GET", "/api/data.json"],
    );
    assert!(
        out.contains("cors: origin \"https://app.example\" allowed\n"),
        "{out}"
    );

    let out = explain(dir.path(), &["GET", "/app.js"]);
    assert!(out.contains("security headers: basic\n"), "{out}");
    assert!(
        out.contains("header rule \"*.{js,css}\" matches \"app.js\"\n"),
        "{out}"
    );
}

/// `usher check` validates that paths exist (issue 4); a custom error page that is not
/// there should be reported, not found out when a browser gets the default page instead.
#[test]
fn check_refuses_a_missing_error_page() {
    let config = CONFIG.replace("errors/404.html", "errors/nope.html");
    let dir = site_dir(&config);
    let out = usher()
        .args([
            "check",
            "-c",
            &dir.path().join("usher.toml").display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("errors/nope.html"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `toml` blocks of the README's "Route policies" section, each a `[[site.route]]` for a
/// site serving `public`: `usher check` accepts them.
#[test]
fn the_readme_route_policies_examples_are_valid() {
    let blocks = readme_toml_blocks("Route policies");
    assert!(blocks.len() >= 5, "{} toml blocks", blocks.len());
    for block in blocks {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "public/index.html", "home");
        write(dir.path(), "public/app/index.html", SHELL);
        write(dir.path(), "errors/404.html", CUSTOM_404);
        let config = format!("[[site]]\nroot = \"public\"\n\n{block}");
        write(dir.path(), "usher.toml", &config);
        let checked = check(&dir.path().join("usher.toml"));
        assert!(checked.is_ok(), "{config}\n{checked:?}");
    }
}
