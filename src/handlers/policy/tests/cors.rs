//! CORS: origin parsing, preflights allowed and refused, fields of actual responses.

use std::time::Duration;

use http::{HeaderMap, HeaderName, Method, StatusCode};

use super::{parts, users};
use crate::handlers::policy::auth::BasicAuth;
use crate::handlers::policy::cors::{
    AllowedHeaders, AllowedOrigins, Cors, MAX_REQUEST_HEADERS, OriginError, Preflight, parse_origin,
};
use crate::handlers::policy::{Flow, RoutePolicy};

const APP: &str = "https://app.example";

fn cors() -> Cors {
    Cors {
        origins: AllowedOrigins::List(vec![APP.to_owned(), "http://localhost:3000".to_owned()]),
        methods: vec![Method::PUT, Method::DELETE],
        headers: AllowedHeaders::List(vec![
            HeaderName::from_static("content-type"),
            HeaderName::from_static("x-token"),
        ]),
        expose: vec![HeaderName::from_static("etag")],
        credentials: true,
        max_age: Some(Duration::from_secs(600)),
    }
}

#[test]
fn origins_are_normalised_as_browsers_send_them() {
    let ok = [
        ("https://app.example", "https://app.example"),
        ("HTTPS://App.Example:443", "https://app.example"),
        ("http://app.example:80", "http://app.example"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://app.example:80", "https://app.example:80"),
        ("https://[::1]", "https://[::1]"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ];
    for (text, want) in ok {
        assert_eq!(parse_origin(text).as_deref(), Ok(want), "{text}");
    }
    let bad = [
        ("null", OriginError::Null),
        ("https://app.example/", OriginError::Path),
        ("https://app.example/x", OriginError::Path),
        ("https://app.example?q", OriginError::Path),
        ("ftp://app.example", OriginError::Form),
        ("app.example", OriginError::Form),
        ("https://", OriginError::Form),
        ("https://app.example:", OriginError::Form),
        ("https://app.example:99999", OriginError::Form),
        ("https://user@app.example", OriginError::Form),
        ("https://app example", OriginError::Form),
        ("*", OriginError::Form),
    ];
    for (text, want) in bad {
        assert_eq!(parse_origin(text), Err(want), "{text}");
    }
}

fn preflight(c: &Cors, headers: &[(&str, &str)]) -> Preflight {
    c.preflight(&parts("OPTIONS", "/api", headers))
}

fn field<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).map_or("", |v| v.to_str().unwrap())
}

#[test]
fn allowed_preflight() {
    let Preflight::Allowed(h) = preflight(
        &cors(),
        &[
            ("origin", APP),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "Content-Type, X-TOKEN,,content-type",
            ),
        ],
    ) else {
        panic!("allowed expected");
    };
    assert_eq!(field(&h, "access-control-allow-origin"), APP);
    assert_eq!(field(&h, "access-control-allow-credentials"), "true");
    assert_eq!(field(&h, "access-control-allow-methods"), "PUT, DELETE");
    assert_eq!(
        field(&h, "access-control-allow-headers"),
        "content-type, x-token"
    );
    assert_eq!(field(&h, "access-control-max-age"), "600");
    assert_eq!(
        field(&h, "vary"),
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    );
    // A safelisted method needs no listing; no request headers, no Allow-Headers.
    let Preflight::Allowed(h) = preflight(
        &cors(),
        &[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
        ],
    ) else {
        panic!("allowed expected");
    };
    assert!(h.get("access-control-allow-headers").is_none());
    assert_eq!(
        field(&h, "access-control-allow-origin"),
        "http://localhost:3000"
    );
}

#[test]
fn refused_preflights() {
    let refused = |headers: &[(&str, &str)]| match preflight(&cors(), headers) {
        Preflight::Refused(why) => why,
        other => panic!("refused expected for {headers:?}, got {other:?}"),
    };
    let m = ("access-control-request-method", "PUT");
    let origin_refused = "the request's Origin is not among the origins this route allows";
    for origin in [
        "null",
        "HTTPS://APP.EXAMPLE",
        "https://App.example",
        "https://app.example.evil",
        "https://evil.example",
        "https://app.example:443",
        "https://app.example/",
        "",
    ] {
        assert_eq!(
            refused(&[("origin", origin), m]),
            origin_refused,
            "{origin:?}"
        );
    }
    // Two Origin fields are no origin.
    assert_eq!(
        refused(&[("origin", APP), ("origin", APP), m]),
        origin_refused
    );
    // Methods are case-sensitive: `put` is not PUT; `get` is not GET either.
    assert_eq!(
        refused(&[("origin", APP), ("access-control-request-method", "PATCH")]),
        "the method \"PATCH\" is not among the methods this route allows"
    );
    assert_eq!(
        refused(&[("origin", APP), ("access-control-request-method", "put")]),
        "the method \"put\" is not among the methods this route allows"
    );
    assert_eq!(
        refused(&[("origin", APP), ("access-control-request-method", "get")]),
        "the method \"get\" is not among the methods this route allows"
    );
    assert_eq!(
        refused(&[("origin", APP), ("access-control-request-method", "P T")]),
        "the method \"P T\" is not among the methods this route allows"
    );
    assert_eq!(
        refused(&[
            ("origin", APP),
            m,
            ("access-control-request-headers", "content-type, x-secret")
        ]),
        "the header field \"x-secret\" is not among the fields this route allows"
    );
    assert_eq!(
        refused(&[
            ("origin", APP),
            m,
            ("access-control-request-headers", "bad name")
        ]),
        "Access-Control-Request-Headers lists a name that is not a header field name"
    );
    let many: Vec<String> = (0..=MAX_REQUEST_HEADERS)
        .map(|i| format!("x-{i}"))
        .collect();
    let many = many.join(",");
    let any = Cors {
        headers: AllowedHeaders::Any,
        credentials: false,
        ..cors()
    };
    let Preflight::Refused(why) = any.preflight(&parts(
        "OPTIONS",
        "/",
        &[
            ("origin", APP),
            m,
            ("access-control-request-headers", &many),
        ],
    )) else {
        panic!("refused expected");
    };
    assert_eq!(
        why,
        "Access-Control-Request-Headers lists more than 64 fields"
    );
}

#[test]
fn not_preflights() {
    let c = cors();
    let m = ("access-control-request-method", "PUT");
    assert_eq!(
        c.preflight(&parts("OPTIONS", "/", &[("origin", APP)])),
        Preflight::No
    );
    assert_eq!(c.preflight(&parts("OPTIONS", "/", &[m])), Preflight::No);
    assert_eq!(
        c.preflight(&parts("PUT", "/", &[("origin", APP), m])),
        Preflight::No
    );
}

#[test]
fn any_origin_without_credentials() {
    let any = Cors {
        origins: AllowedOrigins::Any,
        headers: AllowedHeaders::Any,
        credentials: false,
        ..cors()
    };
    let Preflight::Allowed(h) = any.preflight(&parts(
        "OPTIONS",
        "/",
        &[
            ("origin", "null"),
            ("access-control-request-method", "DELETE"),
            ("access-control-request-headers", "x-anything"),
        ],
    )) else {
        panic!("allowed expected");
    };
    assert_eq!(field(&h, "access-control-allow-origin"), "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    assert_eq!(field(&h, "access-control-allow-headers"), "x-anything");
    assert_eq!(
        field(&h, "vary"),
        "Access-Control-Request-Method, Access-Control-Request-Headers"
    );
    // Actual responses: `*` for anyone, and nothing varies on Origin.
    let mut out = HeaderMap::new();
    any.decorate(
        &parts("GET", "/", &[("origin", "https://x.test")]).headers,
        &mut out,
    );
    assert_eq!(field(&out, "access-control-allow-origin"), "*");
    assert!(out.get("vary").is_none());
    let mut out = HeaderMap::new();
    any.decorate(&HeaderMap::new(), &mut out);
    assert!(out.is_empty());
}

#[test]
fn actual_response_fields() {
    let c = cors();
    let decorated = |headers: &[(&str, &str)], existing: &[(&str, &str)]| {
        let mut out = HeaderMap::new();
        for (n, v) in existing {
            out.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        c.decorate(&parts("GET", "/", headers).headers, &mut out);
        out
    };
    let h = decorated(&[("origin", APP)], &[("vary", "Accept")]);
    assert_eq!(field(&h, "access-control-allow-origin"), APP);
    assert_eq!(field(&h, "access-control-allow-credentials"), "true");
    assert_eq!(field(&h, "access-control-expose-headers"), "etag");
    assert_eq!(field(&h, "vary"), "Accept, Origin");
    // Not allowed, or no Origin: no CORS fields, but the answer still varies on Origin.
    for origin in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![],
    ] {
        let h = decorated(&origin, &[("vary", "accept")]);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(field(&h, "vary"), "accept, Origin");
        let h = decorated(&origin, &[("vary", "accept, ORIGIN")]);
        assert_eq!(field(&h, "vary"), "accept, ORIGIN");
    }
    let h = decorated(&[("origin", "https://evil.example")], &[("vary", "*")]);
    assert_eq!(field(&h, "vary"), "*");
}

#[tokio::test]
async fn preflight_comes_before_auth() {
    let policy = RoutePolicy {
        cors: Some(cors()),
        auth: Some(BasicAuth::new("staff", users()).unwrap()),
        ..RoutePolicy::default()
    };
    let m = ("access-control-request-method", "PUT");
    let Flow::Respond(res) = policy
        .before(&parts("OPTIONS", "/", &[("origin", APP), m]))
        .await
    else {
        panic!("204 expected");
    };
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(field(res.headers(), "access-control-allow-origin"), APP);
    assert!(res.headers().get("content-length").is_none());
    // Refused: 403, a problem, and no CORS field.
    let req = parts(
        "OPTIONS",
        "/",
        &[
            ("origin", "https://evil.example"),
            m,
            ("accept", "application/json"),
        ],
    );
    let Flow::Respond(res) = policy.before(&req).await else {
        panic!("403 expected");
    };
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_eq!(field(res.headers(), "vary"), "Accept, Origin");
    let body = super::route::body(*res).await;
    assert!(
        body.contains("\"type\":\"urn:usher:problem:cors-refused\""),
        "{body}"
    );
    // An actual cross-origin request still needs credentials.
    let Flow::Respond(res) = policy.before(&parts("PUT", "/", &[("origin", APP)])).await else {
        panic!("401 expected");
    };
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
