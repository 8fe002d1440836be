//! The whole policy on one answer: order of the steps, rules by path, error pages, explain.

use std::path::{Path, PathBuf};

use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;

use super::{basic, parts, users};
use crate::body::ResponseBody;
use crate::handlers::policy::auth::BasicAuth;
use crate::handlers::policy::cors::{AllowedHeaders, AllowedOrigins, Cors};
use crate::handlers::policy::headers::{HeaderOps, HeaderRule, SecurityPreset, SegmentGlob};
use crate::handlers::policy::{Flow, RoutePolicy};
use crate::http::target::normalise;

/// The whole body, as text.
pub(super) async fn body(res: Response<ResponseBody>) -> String {
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
}

fn set(pairs: &[(&'static str, &'static str)]) -> HeaderOps {
    HeaderOps {
        set: pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect(),
        ..HeaderOps::default()
    }
}

fn rule(glob: &str, ops: HeaderOps) -> HeaderRule {
    HeaderRule {
        glob: SegmentGlob::parse(glob).unwrap(),
        ops,
    }
}

fn policy() -> RoutePolicy {
    let mut headers = set(&[
        ("cache-control", "public, max-age=3600"),
        ("x-frame-options", "SAMEORIGIN"),
    ]);
    headers.remove.push(HeaderName::from_static("x-powered-by"));
    RoutePolicy {
        headers,
        rules: vec![
            rule(
                "*.js",
                set(&[("cache-control", "public, max-age=31536000, immutable")]),
            ),
            rule("*.{js,css}", set(&[("x-asset", "yes")])),
            rule("index.html", set(&[("cache-control", "no-cache")])),
        ],
        cors: Some(Cors {
            origins: AllowedOrigins::List(vec!["https://app.example".to_owned()]),
            methods: vec![],
            headers: AllowedHeaders::List(vec![]),
            expose: vec![],
            credentials: false,
            max_age: None,
        }),
        security: Some(SecurityPreset::Strict),
        auth: None,
        error_pages: vec![
            (StatusCode::NOT_FOUND, PathBuf::from("/srv/errors/404.html")),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                PathBuf::from("/srv/errors/500.html"),
            ),
        ],
        compress: None,
    }
}

/// `after` on an answer with `status` (and `X-Powered-By`) for `GET path` from `origin`.
fn after(p: &RoutePolicy, status: u16, path: &str, origin: Option<&str>) -> Response<ResponseBody> {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
    let req = parts("GET", path, &headers);
    let mut res = Response::new(ResponseBody::Empty);
    *res.status_mut() = StatusCode::from_u16(status).unwrap();
    res.headers_mut()
        .insert("x-powered-by", HeaderValue::from_static("x"));
    p.after(&req, &normalise(path).unwrap(), &mut res, None);
    res
}

fn field<'a>(res: &'a Response<ResponseBody>, name: &str) -> &'a str {
    res.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

#[test]
fn steps_apply_in_order() {
    let p = policy();
    let res = after(&p, 200, "/assets/app.3f2a.js", Some("https://app.example"));
    // The rule overrides the route, the route overrides the preset.
    assert_eq!(
        field(&res, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(field(&res, "x-frame-options"), "SAMEORIGIN");
    assert_eq!(field(&res, "x-asset"), "yes");
    assert_eq!(field(&res, "referrer-policy"), "no-referrer");
    assert_eq!(field(&res, "x-powered-by"), "");
    assert_eq!(
        field(&res, "access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(field(&res, "vary"), "Origin");

    let res = after(&p, 200, "/about", None);
    assert_eq!(field(&res, "cache-control"), "public, max-age=3600");
    assert_eq!(field(&res, "x-asset"), "");
    assert_eq!(field(&res, "access-control-allow-origin"), "");
    assert_eq!(field(&res, "vary"), "Origin");
    // Rules look at the decoded last segment only.
    let res = after(&p, 200, "/a%2Fb/x.css", None);
    assert_eq!(field(&res, "x-asset"), "yes");
    let res = after(&p, 200, "/app.js/", None);
    assert_eq!(field(&res, "x-asset"), "yes");
    let res = after(&p, 200, "/", None);
    assert_eq!(field(&res, "x-asset"), "");
    let res = after(&p, 200, "/index.html", None);
    assert_eq!(field(&res, "cache-control"), "no-cache");
}

#[test]
fn errors_keep_their_caching_but_get_the_rest() {
    let p = policy();
    // The case: a missing hashed asset must not become an immutable 404.
    let res = after(&p, 404, "/assets/app.3f2a.js", Some("https://app.example"));
    assert_eq!(field(&res, "cache-control"), "");
    assert_eq!(field(&res, "x-asset"), "yes");
    assert_eq!(field(&res, "x-frame-options"), "SAMEORIGIN");
    assert_eq!(
        field(&res, "access-control-allow-origin"),
        "https://app.example"
    );
    let res = after(&p, 304, "/assets/app.3f2a.js", None);
    assert_eq!(
        field(&res, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    // A responder's own Cache-Control (the SPA shell's no-cache) stays.
    let req = parts("GET", "/settings", &[]);
    let mut res = Response::new(ResponseBody::Empty);
    res.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    p.after(&req, &normalise("/settings").unwrap(), &mut res, None);
    assert_eq!(field(&res, "cache-control"), "no-cache");
}

#[test]
fn error_pages() {
    let p = policy();
    assert_eq!(
        p.error_page(StatusCode::NOT_FOUND),
        Some(Path::new("/srv/errors/404.html"))
    );
    assert_eq!(
        p.error_page(StatusCode::INTERNAL_SERVER_ERROR),
        Some(Path::new("/srv/errors/500.html"))
    );
    assert_eq!(p.error_page(StatusCode::FORBIDDEN), None);
    assert_eq!(
        RoutePolicy::default().error_page(StatusCode::NOT_FOUND),
        None
    );
}

#[tokio::test]
async fn the_default_policy_does_nothing() {
    let p = RoutePolicy::default();
    assert!(p.is_empty() && !policy().is_empty());
    let req = parts(
        "OPTIONS",
        "/",
        &[
            ("origin", "https://x"),
            ("access-control-request-method", "PUT"),
        ],
    );
    assert!(matches!(
        p.before(&req).await,
        Flow::Continue { user: None }
    ));
    let res = after(&p, 200, "/a.js", Some("https://x"));
    assert_eq!(res.headers().len(), 1);
    assert!(p.explain(&req, &normalise("/").unwrap()).is_empty());
}

#[test]
fn explain_lines() {
    let mut p = policy();
    p.auth = Some(BasicAuth::new("staff", users()).unwrap());
    let path = normalise("/assets/app.js").unwrap();
    let lines =
        |headers: &[(&str, &str)]| p.explain(&parts("GET", "/assets/app.js", headers), &path);
    assert_eq!(
        lines(&[]),
        [
            "cors: no Origin, not a cross-origin request",
            "auth: realm \"staff\", no credentials given: 401",
            "security headers: strict",
            "header rule \"*.js\" matches \"app.js\"",
            "header rule \"*.{js,css}\" matches \"app.js\"",
        ]
    );
    let alice = basic(b"alice:whatever");
    let l = lines(&[("authorization", &alice), ("origin", "https://app.example")]);
    assert_eq!(l[0], "cors: origin \"https://app.example\" allowed");
    assert_eq!(
        l[1],
        "auth: realm \"staff\", credentials given for user \"alice\", checked when served"
    );
    let l = lines(&[("authorization", "Basic x"), ("origin", "null")]);
    assert_eq!(l[0], "cors: origin \"null\" not allowed: no CORS fields");
    assert_eq!(l[1], "auth: realm \"staff\", unreadable credentials: 401");
    let pre = p.explain(
        &parts(
            "OPTIONS",
            "/",
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "PUT"),
            ],
        ),
        &path,
    );
    assert_eq!(
        pre[0],
        "cors: preflight refused, the request's Origin is not among the origins this route allows: 403"
    );
}
