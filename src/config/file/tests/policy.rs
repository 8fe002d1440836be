//! The route policy keys: each one built, and every error message with its position.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{Method, StatusCode};

use super::{SITE, diagnostics, headlines, ok};
use crate::handlers::policy::RoutePolicy;
use crate::handlers::policy::cors::{AllowedHeaders, AllowedOrigins};
use crate::handlers::policy::headers::{HeaderOps, SecurityPreset};
use crate::router::Responder;

/// A bcrypt hash of `password` at cost 4, made here rather than copied in.
fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_salt(password, 4, [3; 16])
        .expect("bcrypt hashes")
        .format_for_version(bcrypt::Version::TwoB)
}

/// An argon2id hash of `password` with tiny parameters.
fn argon2_hash(password: &str) -> String {
    use argon2::PasswordHasher;
    let params = argon2::Params::new(8, 1, 1, None).expect("valid params");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), b"saltsaltsalt")
        .expect("argon2 hashes")
        .to_string()
}

/// The first route of the first site of `source`.
fn first_route(source: &str) -> (RoutePolicy, Responder) {
    let config = ok(source);
    let site = config.router.sites().next().unwrap();
    let route = &site.routes[0];
    (route.policy.clone(), route.responder.clone())
}

fn route(body: &str) -> String {
    format!("{SITE}[[site.route]]\npath = \"/\"\nfiles = {{}}\n{body}\n")
}

/// `(name, value)` pairs of header changes, as text.
fn pairs(list: &[(http::HeaderName, http::HeaderValue)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect()
}

fn strings(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn every_policy_key() {
    let alice = bcrypt_hash("a");
    let bob = argon2_hash("b");
    let source = format!(
        r#"{SITE}[[site.route]]
path = "/"
files = {{ clean-urls = true, spa = "app/index.html" }}
headers = {{ set = {{ "X-Frame-Options" = "DENY" }}, add = {{ Link = ["</a.css>", "</b.js>"], X-One = "1" }}, remove = ["Server"], X-Short = "s" }}
header-rules = [
  {{ match = "*.{{js,css}}", cache-control = "public, max-age=31536000, immutable" }},
  {{ match = "index.html", set = {{ X-Index = "1" }}, add = {{ X-More = "m" }}, remove = ["Link"] }},
]
cache-control = "public, max-age=3600"
cors = {{ origins = ["HTTPS://App.Example:443", "http://localhost:3000"], methods = ["PUT"], headers = ["Content-Type"], expose = ["ETag"], credentials = true, max-age = "10m" }}
security-headers = "strict"
auth = {{ realm = "staff", users = {{ alice = "{alice}", bob = "{bob}" }} }}
errors = {{ 404 = "errors/404.html", 503 = "/srv/503.html" }}
"#
    );
    let (policy, responder) = first_route(&source);
    let Responder::Files(files) = responder else {
        panic!("files expected");
    };
    assert!(files.clean_urls);
    assert_eq!(files.spa_fallback, Some(PathBuf::from("app/index.html")));
    assert_eq!(
        pairs(&policy.headers.set),
        strings(&[
            ("x-short", "s"),
            ("x-frame-options", "DENY"),
            ("cache-control", "public, max-age=3600"),
        ])
    );
    assert_eq!(
        pairs(&policy.headers.add),
        strings(&[("link", "</a.css>"), ("link", "</b.js>"), ("x-one", "1")])
    );
    assert_eq!(policy.headers.remove, ["server"]);
    assert_eq!(policy.rules.len(), 2);
    assert_eq!(policy.rules[0].glob.as_str(), "*.{js,css}");
    assert_eq!(
        pairs(&policy.rules[0].ops.set),
        strings(&[("cache-control", "public, max-age=31536000, immutable")])
    );
    assert_eq!(policy.rules[1].ops.remove, ["link"]);
    assert_eq!(pairs(&policy.rules[1].ops.add), strings(&[("x-more", "m")]));
    let cors = policy.cors.as_ref().unwrap();
    assert_eq!(
        cors.origins,
        AllowedOrigins::List(vec![
            "https://app.example".into(),
            "http://localhost:3000".into()
        ])
    );
    assert_eq!(cors.methods, [Method::PUT]);
    assert_eq!(
        cors.headers,
        AllowedHeaders::List(vec!["content-type".parse().unwrap()])
    );
    assert_eq!(cors.expose, ["etag"]);
    assert!(cors.credentials);
    assert_eq!(cors.max_age, Some(Duration::from_secs(600)));
    assert_eq!(policy.security, Some(SecurityPreset::Strict));
    let auth = policy.auth.as_ref().unwrap();
    assert_eq!(auth.realm(), "staff");
    assert_eq!(
        format!("{auth:?}"),
        "BasicAuth { realm: \"staff\", users: [\"alice\", \"bob\"], .. }"
    );
    assert_eq!(
        policy.error_page(StatusCode::NOT_FOUND),
        Some(
            &*std::env::current_dir()
                .unwrap()
                .join("conf/errors/404.html")
        )
    );
    assert_eq!(
        policy.error_page(StatusCode::SERVICE_UNAVAILABLE),
        Some(Path::new("/srv/503.html"))
    );
}

#[test]
fn short_forms_and_defaults() {
    // The short `headers` form sets each field; nothing else is on by default.
    let (policy, responder) = first_route(&route("headers = { \"Cache-Control\" = \"no-cache\" }"));
    assert_eq!(
        pairs(&policy.headers.set),
        strings(&[("cache-control", "no-cache")])
    );
    assert!(policy.rules.is_empty() && policy.cors.is_none() && policy.auth.is_none());
    let Responder::Files(files) = responder else {
        panic!("files expected");
    };
    assert!(!files.clean_urls && files.spa_fallback.is_none());
    let (policy, _) = first_route(&route(""));
    assert!(policy.is_empty());
    assert_eq!(policy.headers, HeaderOps::default());
    // `*` without credentials; the default realm; basic preset; spa under a shown hidden dir.
    let alice = bcrypt_hash("a");
    let (policy, _) = first_route(&route(&format!(
        "cors = {{ origins = [\"*\"], headers = [\"*\"] }}\nauth = {{ users = {{ alice = \"{alice}\" }} }}\nsecurity-headers = \"basic\""
    )));
    let cors = policy.cors.unwrap();
    assert_eq!(
        (cors.origins, cors.headers),
        (AllowedOrigins::Any, AllowedHeaders::Any)
    );
    assert!(!cors.credentials && cors.max_age.is_none());
    assert_eq!(policy.auth.unwrap().realm(), "restricted");
    assert_eq!(policy.security, Some(SecurityPreset::Basic));
    let (_, responder) = first_route(&format!(
        "{SITE}[[site.route]]\npath = \"/\"\nfiles = {{ hidden = true, spa = \".app/index.html\" }}\n"
    ));
    let Responder::Files(files) = responder else {
        panic!("files expected");
    };
    assert_eq!(files.spa_fallback, Some(PathBuf::from(".app/index.html")));
}

/// Every message, with its position. Routes start on line 4: `path` 4, `files` 5, the key 6.
#[test]
fn every_policy_error() {
    let b = bcrypt_hash("a");
    let costly = b.replacen("$04$", "$20$", 1);
    let cases: Vec<(String, Vec<&str>)> = vec![
        // headers
        (
            route("headers = { \"Bad Name\" = \"x\", Content-Length = \"1\", X = \"a\\nb\" }"),
            vec![
                "6:13: \"Bad Name\" is not a header name",
                "6:31: `Content-Length` is set by the server",
                "6:57: not a header value",
            ],
        ),
        (
            route("headers = { set = \"x\", add = [\"y\"], remove = \"Server\" }"),
            vec![
                "6:19: `set` takes a table of headers",
                "6:30: `add` takes a table of headers",
                "6:46: `remove` takes a list of header names",
            ],
        ),
        (
            route("headers = { X-A = [\"1\"], X-B = { c = \"d\" }, X-C = 5 }"),
            vec![
                "6:51: invalid type: integer `5`, expected a header value (a string), a table of headers or a list of names",
            ],
        ),
        (
            route("headers = { X-A = [\"1\"], X-B = { c = \"d\" } }"),
            vec![
                "6:19: a header value is a string",
                "6:32: a header value is a string",
            ],
        ),
        (
            route("headers = { set = { X-A = [\"1\"], \"x-b\" = \"1\", \"X-B\" = \"2\" } }"),
            vec![
                "6:27: a header value is a string",
                "6:34: `x-b` is set twice",
            ],
        ),
        (
            route(
                "headers = { add = { X-A = { b = \"c\" }, Transfer-Encoding = \"chunked\" }, remove = [\"Connection\", \"a b\"] }",
            ),
            vec![
                "6:27: a header value is a string",
                "6:40: `Transfer-Encoding` is set by the server",
                "6:83: `Connection` is set by the server",
                "6:97: \"a b\" is not a header name",
            ],
        ),
        // cache-control
        (
            route("cache-control = \"public, max age=1\""),
            vec!["6:17: \"max age=1\" is not a Cache-Control directive"],
        ),
        (
            route("cache-control = \"public,\""),
            vec!["6:17: \"\" is not a Cache-Control directive"],
        ),
        (
            route("headers = { Date = \"x\", Server = \"nginx\" }"),
            vec![
                "6:13: `Date` is set by the server",
                "6:25: `Server` is set by the server",
            ],
        ),
        (
            route(
                "headers = { set = { ETag = \"\\\"x\\\"\", Vary = \"User-Agent\" }, add = { Last-Modified = \"x\", Vary = \"Origin\" }, remove = [\"Vary\", \"ETag\"] }",
            ),
            vec![
                "6:21: `ETag` is set by the server",
                "6:37: `set` would drop the Vary usher sends",
                "6:68: `Last-Modified` is set by the server",
                "6:118: `remove` would drop the Vary usher sends",
            ],
        ),
        (
            route("cache-control = \"max-age=abc\""),
            vec!["6:17: \"max-age=abc\" is not a Cache-Control directive"],
        ),
        (
            route("cache-control = \"max-age=-5, no-store\""),
            vec!["6:17: \"max-age=-5\" is not a Cache-Control directive"],
        ),
        (
            route("cache-control = \"public, s-maxage\""),
            vec!["6:17: \"s-maxage\" is not a Cache-Control directive"],
        ),
        (
            route("headers = { Cache-Control = \"no-store\" }\ncache-control = \"public\""),
            vec!["7:17: Cache-Control is set twice: here and in `headers`"],
        ),
        // header-rules
        (
            route(
                "header-rules = [ { match = \"/a/*.js\", set = { X = \"1\" } }, { match = \"*.css\" }, { match = \"{a\", cache-control = \"x y\" } ]",
            ),
            vec![
                "6:28: a header rule matches the last segment of the path, so it has no `/`: write `*.js`, and use a route for a directory",
                "6:60: this header rule changes nothing",
                "6:91: unbalanced braces: write alternatives as `{js,css}`, not nested",
                "6:113: \"x y\" is not a Cache-Control directive",
            ],
        ),
        (
            route(
                "header-rules = [ { match = \"*.js\", set = { Cache-Control = \"a\" }, cache-control = \"b\" } ]",
            ),
            vec!["6:83: Cache-Control is set twice: here and in `set`"],
        ),
        (
            route("header-rules = [ { glob = \"*.js\" } ]"),
            vec![
                "6:20: unknown field `glob`, expected one of `match`, `set`, `add`, `remove`, `cache-control`",
            ],
        ),
        // cors
        (
            route("cors = { origins = [] }"),
            vec!["6:20: an empty `origins` list allows no origin"],
        ),
        (
            route("cors = { origins = [\"null\", \"https://a.test/\", \"ftp://a\", \"*\"] }"),
            vec!["6:59: `*` allows every origin, so it stands alone"],
        ),
        (
            route("cors = { origins = [\"null\", \"https://a.test/\", \"ftp://a\"] }"),
            vec![
                "6:21: `null` cannot be allowed: sandboxed frames and local files all send it, so any page could pass",
                "6:29: an origin has no path: write it as `scheme://host[:port]`, as browsers send it",
                "6:48: an origin is `https://` or `http://` and a host, with an optional port",
            ],
        ),
        (
            route("cors = { origins = [\"*\"], credentials = true }"),
            vec!["6:21: `*` cannot go with `credentials = true`"],
        ),
        (
            route(
                "cors = { origins = [\"https://a.test\"], headers = [\"*\"], credentials = true }",
            ),
            vec!["6:51: `*` cannot go with `credentials = true`"],
        ),
        (
            route(
                "cors = { origins = [\"https://a.test\"], methods = [\"put\"], headers = [\"a b\"], expose = [\"Content-Length\"], max-age = \"1d\" }",
            ),
            vec![
                "6:51: `put` is not `PUT`",
                "6:70: \"a b\" is not a header name",
                "6:88: `Content-Length` is set by the server",
                "6:117: bad max-age: unknown unit \"d\": use ms, s, m or h",
            ],
        ),
        (
            route("cors = { origin = [\"https://a.test\"] }"),
            vec![
                "6:10: unknown field `origin`, expected one of `origins`, `methods`, `headers`, `expose`, `credentials`, `max-age`",
            ],
        ),
        // security-headers
        (
            route("security-headers = \"paranoid\""),
            vec!["6:20: unknown variant `paranoid`, expected `basic` or `strict`"],
        ),
        // auth
        (
            route(&format!(
                "auth = {{ realm = \"a\\\"b\", users = {{ alice = \"{b}\" }} }}"
            )),
            vec![
                "6:18: a realm is printable ASCII without `\"` or `\\`, so browsers show it as written (RFC 7235 §2.2)",
            ],
        ),
        (
            route("auth = { users = {} }"),
            vec!["6:18: no user can sign in: `users` is empty"],
        ),
        (
            route(&format!(
                "auth = {{ users = {{ \"a:b\" = \"{b}\", \"\" = \"{b}\" }} }}"
            )),
            vec![
                "6:20: \"a:b\" cannot be a user name",
                "6:92: \"\" cannot be a user name",
            ],
        ),
        (
            route(&format!(
                "auth = {{ users = {{ alice = \"hunter2\", bob = \"{{SHA}}x\", carol = \"$2b$04$x\", dave = \"{costly}\", eve = \"eve:$2y$05$x\" }} }}"
            )),
            vec![
                "6:28: the password of `alice` looks like a plaintext password",
                "6:45: the password of `bob` is a hash in the SHA-1 ({SHA}) format, which is not accepted",
                "6:63: the password of `carol` is not a valid bcrypt hash",
                "6:82: the password of `dave` asks for bcrypt cost 20 (at most 16), too slow to check on every request",
                "6:152: the password of `eve` starts with `eve:`, as an htpasswd line does: write only the hash after the colon",
            ],
        ),
        (
            route("auth = { realm = \"x\" }"),
            vec!["6:8: missing field `users`"],
        ),
        // errors
        (
            route("errors = { 404 = \"e/404.html\", 302 = \"x\", abc = \"y\", 500 = \"\" }"),
            vec![
                "6:32: \"302\" is not an error status",
                "6:43: \"abc\" is not an error status",
                "6:60: an empty path names no page",
            ],
        ),
        // files: spa and clean-urls
        (
            format!("{SITE}[[site.route]]\npath = \"/\"\nfiles = {{ spa = \"../index.html\" }}\n"),
            vec!["5:17: `spa` names a file inside the root"],
        ),
        (
            format!("{SITE}[[site.route]]\npath = \"/\"\nfiles = {{ spa = \"/index.html\" }}\n"),
            vec!["5:17: `spa` names a file inside the root"],
        ),
        (
            format!("{SITE}[[site.route]]\npath = \"/\"\nfiles = {{ spa = \"app/\" }}\n"),
            vec!["5:17: `spa` names a file inside the root"],
        ),
        (
            format!("{SITE}[[site.route]]\npath = \"/\"\nfiles = {{ spa = \"\" }}\n"),
            vec!["5:17: `spa` names a file inside the root"],
        ),
        (
            format!(
                "{SITE}[[site.route]]\npath = \"/\"\nfiles = {{ spa = \".app/index.html\" }}\n"
            ),
            vec!["5:17: `spa` names a hidden file, which this root does not serve"],
        ),
        (
            format!("{SITE}[[site.route]]\npath = \"/\"\nfiles = {{ clean-urls = \"yes\" }}\n"),
            vec!["5:24: invalid type: string \"yes\", expected a boolean"],
        ),
    ];
    // Every mismatch at once: one message's position often explains the next.
    let wrong: Vec<String> = cases
        .into_iter()
        .filter_map(|(source, want)| {
            let got = headlines(&source);
            (got != want).then(|| format!("in:\n{source}\n got: {got:?}\nwant: {want:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn policy_errors_have_help() {
    let d = diagnostics(&route("auth = { users = { alice = \"pw\" } }"));
    assert_eq!(
        d.list[0].help.as_deref(),
        Some("store a bcrypt hash (`htpasswd -nBC 10 USER`) or an argon2id hash (`argon2` tool)")
    );
    let d = diagnostics(&route("cors = { origins = [\"*\"], credentials = true }"));
    assert!(
        d.to_string().contains("browsers refuse `*` with them"),
        "{d}"
    );
}
