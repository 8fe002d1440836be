//! Basic authentication: hash formats, hostile Authorization fields, verification and its
//! memory, and the 401.

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

use super::{argon2_hash, basic, bcrypt_hash, parts, users};
use crate::handlers::policy::auth::{
    BasicAuth, Credentials, HashError, MAX_CREDENTIALS, PasswordHash, RealmError, Verdict,
    credentials,
};
use crate::handlers::policy::{Flow, RoutePolicy};

#[test]
fn accepted_hash_formats() {
    let b = bcrypt_hash("pw");
    assert!(matches!(
        PasswordHash::parse(&b),
        Ok(PasswordHash::Bcrypt(_))
    ));
    for version in ["$2a$", "$2y$"] {
        let other = b.replacen("$2b$", version, 1);
        assert!(PasswordHash::parse(&other).is_ok(), "{other}");
    }
    let a = argon2_hash("pw");
    assert!(a.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{a}");
    assert!(matches!(
        PasswordHash::parse(&a),
        Ok(PasswordHash::Argon2(_))
    ));
    // Debug never shows the hash.
    let shown = format!("{:?}", PasswordHash::parse(&a).unwrap());
    assert_eq!(shown, "Argon2(..)");
}

#[test]
fn refused_hash_formats() {
    let unsupported = |s: &str| HashError::Unsupported(s.to_owned());
    let b = bcrypt_hash("pw");
    let a = argon2_hash("pw");
    let cases: Vec<(String, HashError)> = vec![
        ("hunter2".into(), HashError::Plaintext),
        ("".into(), HashError::Plaintext),
        ("$apr1$abc$def".into(), unsupported("Apache MD5 ($apr1$)")),
        ("$1$abc$def".into(), unsupported("MD5-crypt ($1$)")),
        ("$5$abc$def".into(), unsupported("SHA-256-crypt ($5$)")),
        ("$6$abc$def".into(), unsupported("SHA-512-crypt ($6$)")),
        ("$scrypt$ln=1$x$y".into(), unsupported("scrypt")),
        ("$pbkdf2-sha256$x".into(), unsupported("PBKDF2")),
        (
            "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=".into(),
            unsupported("SHA-1 ({SHA})"),
        ),
        ("$9$whatever".into(), unsupported("unknown")),
        ("$2b$04$short".into(), HashError::Malformed("bcrypt")),
        (
            b.replacen("$04$", "$03$", 1),
            HashError::Malformed("bcrypt"),
        ),
        (
            b.replacen("$04$", "$xx$", 1),
            HashError::Malformed("bcrypt"),
        ),
        (format!("{b}x"), HashError::Malformed("bcrypt")),
        (
            b.replacen("$04$", "$17$", 1),
            HashError::TooCostly("bcrypt cost 17 (at most 16)".into()),
        ),
        (
            "$argon2id$v=19$m=8,t=1,p=1$".into(),
            HashError::Malformed("argon2"),
        ),
        (
            a.replacen("argon2id", "argon2x", 1),
            HashError::Malformed("argon2"),
        ),
        (a.replacen("p=1", "p=0", 1), HashError::Malformed("argon2")),
        (
            a.replacen("m=8", "m=300000", 1),
            HashError::TooCostly("argon2 m=300000 KiB, t=1 (at most m=262144, t=32)".into()),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(PasswordHash::parse(&text), Err(want), "{text}");
    }
}

/// What `credentials` reads from one Authorization value.
fn read(value: &[u8]) -> Credentials {
    let mut req = parts("GET", "/", &[]);
    req.headers
        .insert(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
    credentials(&req)
}

fn creds(user: &str, password: &str) -> Credentials {
    Credentials::Basic {
        user: user.to_owned(),
        password: password.to_owned(),
    }
}

#[test]
fn hostile_authorization_fields() {
    assert_eq!(credentials(&parts("GET", "/", &[])), Credentials::Missing);
    let cases: Vec<(Vec<u8>, Credentials)> = vec![
        (basic(b"alice:pw").into_bytes(), creds("alice", "pw")),
        // The scheme is case-insensitive, spaces before the token are one separator.
        (
            basic(b"a:b").replacen("Basic", "bAsIc  ", 1).into_bytes(),
            creds("a", "b"),
        ),
        // Only the first colon splits: passwords may hold colons; an empty one is a password.
        (basic(b"a:b:c").into_bytes(), creds("a", "b:c")),
        (basic(b"a:").into_bytes(), creds("a", "")),
        (basic("é:ü".as_bytes()).into_bytes(), creds("é", "ü")),
        // No colon, bad base64, not UTF-8, control characters, other schemes, no token.
        (basic(b"alice").into_bytes(), Credentials::Malformed),
        (b"Basic !!!!".to_vec(), Credentials::Malformed),
        (b"Basic YWxpY2U6cHc".to_vec(), Credentials::Malformed),
        (
            b"Basic YWxpY2U6cHc=garbage".to_vec(),
            Credentials::Malformed,
        ),
        (basic(b"\xff\xfe:pw").into_bytes(), Credentials::Malformed),
        (basic(b"alice:p\x00w").into_bytes(), Credentials::Malformed),
        (basic(b"al\x1bice:pw").into_bytes(), Credentials::Malformed),
        (b"Bearer abc".to_vec(), Credentials::Malformed),
        (b"Basic".to_vec(), Credentials::Malformed),
        (b"Basic \xff\xfe".to_vec(), Credentials::Malformed),
        (b"Basicx YTpi".to_vec(), Credentials::Malformed),
    ];
    for (value, want) in cases {
        assert_eq!(read(&value), want, "{}", String::from_utf8_lossy(&value));
    }
    // A huge field is refused before decoding.
    let long = format!("a:{}", "x".repeat(MAX_CREDENTIALS));
    assert_eq!(
        read(basic(long.as_bytes()).as_bytes()),
        Credentials::Malformed
    );
    // Two fields: which one would a proxy have checked? Neither.
    let mut req = parts("GET", "/", &[]);
    for v in [basic(b"a:b"), basic(b"c:d")] {
        req.headers.append(AUTHORIZATION, v.parse().unwrap());
    }
    assert_eq!(credentials(&req), Credentials::Malformed);
}

#[test]
fn realms_are_announced_as_written() {
    let auth = BasicAuth::new("staff area", users()).unwrap();
    assert_eq!(
        auth.challenge(),
        "Basic realm=\"staff area\", charset=\"UTF-8\""
    );
    for bad in ["a\"b", "a\\b", "caf\u{e9}", "a\nb"] {
        assert_eq!(
            BasicAuth::new(bad, users()).unwrap_err(),
            RealmError::Characters,
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn right_wrong_and_missing_credentials() {
    let auth = BasicAuth::new("staff", users()).unwrap();
    let check = |value: Option<String>| {
        let auth = auth.clone();
        async move {
            let headers: Vec<(&str, &str)> = match &value {
                Some(v) => vec![("authorization", v.as_str())],
                None => vec![],
            };
            auth.check(&parts("GET", "/", &headers)).await
        }
    };
    assert_eq!(check(None).await, Verdict::Missing);
    assert_eq!(check(Some("Basic %%%".into())).await, Verdict::Malformed);
    let alice = Some(basic(b"alice:wonderland"));
    assert_eq!(check(alice.clone()).await, Verdict::Allowed("alice".into()));
    assert_eq!(auth.remembered(), 1);
    // Remembered: the same answer, and still one entry.
    assert_eq!(check(alice).await, Verdict::Allowed("alice".into()));
    assert_eq!(auth.remembered(), 1);
    let bob = Some(basic(b"bob:builder"));
    assert_eq!(check(bob).await, Verdict::Allowed("bob".into()));
    assert_eq!(auth.remembered(), 2);
    // Wrong password, another user's password, unknown user, case of the user name.
    for wrong in [
        "alice:Wonderland",
        "alice:builder",
        "bob:wonderland",
        "carol:wonderland",
        "Alice:wonderland",
        "alice:wonderland ",
        ":",
    ] {
        assert_eq!(
            check(Some(basic(wrong.as_bytes()))).await,
            Verdict::Wrong,
            "{wrong}"
        );
    }
    // Failures are not remembered.
    assert_eq!(auth.remembered(), 2);
}

#[tokio::test]
async fn unauthorized_answers() {
    let policy = RoutePolicy {
        auth: Some(BasicAuth::new("staff", users()).unwrap()),
        ..RoutePolicy::default()
    };
    let cases = [
        (vec![], "none were sent"),
        (
            vec![("authorization", "Basic !")],
            "is not Basic credentials",
        ),
        (vec![("authorization", "Basic Ym9iOng=")], "is wrong"),
    ];
    for (headers, detail) in cases {
        let mut headers = headers.clone();
        headers.push(("accept", "application/json"));
        let Flow::Respond(res) = policy.before(&parts("GET", "/x", &headers)).await else {
            panic!("401 expected for {headers:?}");
        };
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            "Basic realm=\"staff\", charset=\"UTF-8\""
        );
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body = crate::handlers::policy::tests::route::body(*res).await;
        assert!(body.contains(detail), "{body}");
        assert!(body.contains("(realm \\\"staff\\\")"), "{body}");
    }
    // HEAD: the same headers, no body.
    let Flow::Respond(res) = policy.before(&parts("HEAD", "/x", &[])).await else {
        panic!("401 expected");
    };
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(matches!(res.body(), crate::body::ResponseBody::Empty));
    let ok = basic(b"alice:wonderland");
    let flow = policy
        .before(&parts("GET", "/x", &[("authorization", &ok)]))
        .await;
    assert!(
        matches!(flow, Flow::Continue { user: Some(ref u) } if u == "alice"),
        "{flow:?}"
    );
}
