//! Policy tests: authentication, CORS, header changes, and the whole `before`/`after` order,
//! with hostile inputs. Password hashes are made here, at the lowest cost, not copied in.

mod auth;
mod cors;
mod headers;
mod route;

use http::Request;
use http::request::Parts;

use super::auth::PasswordHash;

/// A request `method uri` with `headers`.
fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("valid request").into_parts().0
}

/// A bcrypt hash of `password` at cost 4 (the lowest), with a fixed salt.
fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_salt(password, 4, [7; 16])
        .expect("bcrypt hashes")
        .format_for_version(bcrypt::Version::TwoB)
}

/// An argon2id hash of `password` with tiny parameters (8 KiB, 1 pass), a fixed salt.
fn argon2_hash(password: &str) -> String {
    use argon2::PasswordHasher;
    let params = argon2::Params::new(8, 1, 1, None).expect("valid params");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), b"saltsaltsalt")
        .expect("argon2 hashes")
        .to_string()
}

/// `Basic base64(text)`.
fn basic(text: &[u8]) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// Users alice (bcrypt, "wonderland") and bob (argon2id, "builder").
fn users() -> Vec<(String, PasswordHash)> {
    vec![
        (
            "alice".to_owned(),
            PasswordHash::parse(&bcrypt_hash("wonderland")).expect("bcrypt parses"),
        ),
        (
            "bob".to_owned(),
            PasswordHash::parse(&argon2_hash("builder")).expect("argon2 parses"),
        ),
    ]
}
