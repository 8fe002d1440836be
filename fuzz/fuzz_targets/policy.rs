//! Fuzz the route policy's parsers of untrusted request fields: `Authorization` (Basic
//! credentials), `Origin` with `Access-Control-Request-Method`/`-Headers` (CORS preflight),
//! and the header-rule glob on a path segment. None may panic; credentials read back must be
//! the RFC 7617 shape (no `:` in the user id, no control characters).
#![no_main]

use http::header::{
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, ORIGIN,
};
use http::{HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;
use usher::handlers::policy::auth::{Credentials, credentials};
use usher::handlers::policy::cors::{AllowedHeaders, AllowedOrigins, Cors, Preflight};
use usher::handlers::policy::headers::SegmentGlob;

fuzz_target!(|data: &[u8]| {
    // Four fields from one input, split at 0xff (never in a header value worth having).
    let mut parts = data.splitn(4, |&b| b == 0xff);
    let mut field = || parts.next().and_then(|b| HeaderValue::from_bytes(b).ok());
    let (auth, origin, method, headers) = (field(), field(), field(), field());
    let mut req = Request::options("/")
        .body(())
        .expect("request")
        .into_parts()
        .0;
    for (name, value) in [
        (AUTHORIZATION, auth),
        (ORIGIN, origin),
        (ACCESS_CONTROL_REQUEST_METHOD, method),
        (ACCESS_CONTROL_REQUEST_HEADERS, headers),
    ] {
        if let Some(v) = value {
            req.headers.insert(name, v);
        }
    }
    if let Credentials::Basic { user, password } = credentials(&req) {
        assert!(!user.contains(':'));
        assert!(!user.chars().chain(password.chars()).any(char::is_control));
    }
    let cors = Cors {
        origins: AllowedOrigins::List(vec!["https://app.example".to_owned()]),
        methods: vec![Method::PUT],
        headers: AllowedHeaders::List(vec![http::header::CONTENT_TYPE]),
        expose: vec![],
        credentials: true,
        max_age: None,
    };
    if let Preflight::Allowed(fields) = cors.preflight(&req) {
        assert_eq!(fields["access-control-allow-origin"], "https://app.example");
    }
    if let (Ok(text), Some(segment)) = (std::str::from_utf8(data), data.split(|&b| b == 0).nth(1)) {
        let glob = text.split('\0').next().unwrap_or_default();
        if let (Ok(glob), Ok(segment)) = (SegmentGlob::parse(glob), std::str::from_utf8(segment)) {
            glob.matches(segment);
        }
    }
});
