//! HTTP Basic authentication (RFC 7617) against bcrypt or argon2 password hashes.
//!
//! - Only slow, salted hashes are accepted in the config (bcrypt `$2a$`/`$2b$`/`$2y$`, argon2
//!   PHC strings): a plaintext password or a fast hash (`{SHA}`, `$apr1$`, `$6$`) is a config
//!   error naming the user, so a leaked config file does not leak usable passwords.
//! - The hash verification is the comparison: bcrypt and argon2 compare their outputs in
//!   constant time. An unknown user is checked against a configured hash anyway, so the answer
//!   takes as long as for a known user with a wrong password (no user enumeration by timing).
//! - Verification costs tens of milliseconds of CPU (and argon2, megabytes of memory), so it
//!   runs on the blocking pool, at most [`MAX_CONCURRENT_CHECKS`] at a time per route, and a
//!   success is remembered ([`MAX_REMEMBERED`] entries, keyed by a random-keyed 128-bit hash
//!   of the credentials, never the password itself). Failures are not remembered: guessing
//!   stays slow.
//! - bcrypt reads at most 72 bytes of a password; longer ones are compared on those 72 bytes,
//!   as `htpasswd -B` hashed them.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use http::request::Parts;
use tokio::sync::Semaphore;

/// Longest `Authorization` value looked at (bytes): longer is refused undecoded. A user name
/// and password of a few hundred characters fit many times over.
pub const MAX_CREDENTIALS: usize = 4096;

/// Successful verifications remembered per route; when full, the memory is cleared.
pub const MAX_REMEMBERED: usize = 1024;

/// Hash verifications running at once per route: each may take tens of milliseconds and
/// (argon2) tens of MiB, so a flood of guesses queues instead of exhausting the machine.
pub const MAX_CONCURRENT_CHECKS: usize = 4;

/// Highest bcrypt cost accepted: each step doubles the time; 16 is seconds per check.
pub const MAX_BCRYPT_COST: u32 = 16;

/// Most argon2 memory accepted per check, KiB (256 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

/// Most argon2 passes accepted per check.
pub const MAX_ARGON2_PASSES: u32 = 32;

/// A password hash in one of the accepted formats.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// `$2b$12$...` (also `$2a$`, `$2y$`).
    Bcrypt(String),
    /// `$argon2id$v=19$m=...,t=...,p=...$salt$hash` (also argon2i, argon2d).
    Argon2(String),
}

impl fmt::Debug for PasswordHash {
    /// The kind only: hashes stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Bcrypt(_) => f.write_str("Bcrypt(..)"),
            PasswordHash::Argon2(_) => f.write_str("Argon2(..)"),
        }
    }
}

/// Why a configured password is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// No `$` or `{` prefix: a password written out.
    #[error("looks like a plaintext password")]
    Plaintext,
    /// A hash format we refuse.
    #[error("is a hash in the {0} format, which is not accepted")]
    Unsupported(String),
    /// A whole htpasswd line (`alice:$2y$...`), not the hash alone.
    #[error("starts with `{0}:`, as an htpasswd line does: write only the hash after the colon")]
    HtpasswdLine(String),
    /// A bcrypt or argon2 hash that does not parse.
    #[error("is not a valid {0} hash")]
    Malformed(&'static str),
    /// Valid, but too slow to check per request.
    #[error("asks for {0}, too slow to check on every request")]
    TooCostly(String),
}

impl PasswordHash {
    /// Check `text` is a bcrypt or argon2 hash that can be verified in reasonable time.
    pub fn parse(text: &str) -> Result<PasswordHash, HashError> {
        if text.starts_with("$2") {
            let parts: bcrypt::HashParts =
                text.parse().map_err(|_| HashError::Malformed("bcrypt"))?;
            let cost = parts.get_cost();
            if !(4..=31).contains(&cost) {
                return Err(HashError::Malformed("bcrypt"));
            }
            if cost > MAX_BCRYPT_COST {
                return Err(HashError::TooCostly(format!(
                    "bcrypt cost {cost} (at most {MAX_BCRYPT_COST})"
                )));
            }
            return Ok(PasswordHash::Bcrypt(text.to_owned()));
        }
        if text.starts_with("$argon2") {
            let hash =
                argon2::PasswordHash::new(text).map_err(|_| HashError::Malformed("argon2"))?;
            if argon2::Algorithm::try_from(hash.algorithm.as_str()).is_err() {
                return Err(HashError::Malformed("argon2"));
            }
            let params =
                argon2::Params::try_from(&hash).map_err(|_| HashError::Malformed("argon2"))?;
            if hash.salt.is_none() || hash.hash.is_none() {
                return Err(HashError::Malformed("argon2"));
            }
            if params.m_cost() > MAX_ARGON2_MEMORY_KIB || params.t_cost() > MAX_ARGON2_PASSES {
                return Err(HashError::TooCostly(format!(
                    "argon2 m={} KiB, t={} (at most m={MAX_ARGON2_MEMORY_KIB}, t={MAX_ARGON2_PASSES})",
                    params.m_cost(),
                    params.t_cost()
                )));
            }
            return Ok(PasswordHash::Argon2(text.to_owned()));
        }
        let kind = match text {
            t if t.starts_with("$apr1$") => "Apache MD5 ($apr1$)",
            t if t.starts_with("$1$") => "MD5-crypt ($1$)",
            t if t.starts_with("$5$") => "SHA-256-crypt ($5$)",
            t if t.starts_with("$6$") => "SHA-512-crypt ($6$)",
            t if t.starts_with("$scrypt$") || t.starts_with("$7$") => "scrypt",
            t if t.starts_with("$pbkdf2") => "PBKDF2",
            t if t.starts_with("{SHA}") || t.starts_with("{SSHA}") => "SHA-1 ({SHA})",
            t if t.starts_with('$') || t.starts_with('{') => "unknown",
            t => {
                return Err(match t.split_once(':') {
                    Some((user, hash)) if hash.starts_with('$') && !user.contains('$') => {
                        HashError::HtpasswdLine(user.to_owned())
                    }
                    _ => HashError::Plaintext,
                });
            }
        };
        Err(HashError::Unsupported(kind.to_owned()))
    }

    /// Whether `password` matches. Blocking: tens of milliseconds.
    fn verify(&self, password: &[u8]) -> bool {
        match self {
            PasswordHash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            PasswordHash::Argon2(h) => {
                use argon2::PasswordVerifier;
                argon2::Argon2::default()
                    .verify_password(password, h.as_str())
                    .is_ok()
            }
        }
    }
}

/// What the `Authorization` field of a request holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    /// No `Authorization` field.
    Missing,
    /// Not Basic credentials we can read: another scheme, bad base64, no colon, not UTF-8,
    /// control characters, too long, or several fields.
    Malformed,
    /// A user id and a password (RFC 7617 §2: the user id is everything before the first
    /// colon).
    Basic {
        /// The user id.
        user: String,
        /// The password.
        password: String,
    },
}

/// Read the Basic credentials of a request (RFC 7617 §2, `charset="UTF-8"` as announced,
/// §2.1).
pub fn credentials(req: &Parts) -> Credentials {
    let mut all = req.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Credentials::Missing;
    };
    if all.next().is_some() {
        return Credentials::Malformed;
    }
    parse_basic(value).unwrap_or(Credentials::Malformed)
}

fn parse_basic(value: &HeaderValue) -> Option<Credentials> {
    let raw = value.as_bytes();
    if raw.len() > MAX_CREDENTIALS {
        return None;
    }
    // RFC 9110 §11.1: the scheme is case-insensitive; one or more spaces before the token68.
    let (scheme, token) = raw.split_at(raw.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = STANDARD.decode(token.trim_ascii()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    // RFC 7617 §2: neither may contain control characters.
    if user.chars().chain(password.chars()).any(char::is_control) {
        return None;
    }
    Some(Credentials::Basic {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

/// The outcome of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The user may pass.
    Allowed(String),
    /// No credentials.
    Missing,
    /// Unreadable credentials.
    Malformed,
    /// Wrong user or password.
    Wrong,
}

/// A route's Basic authentication: a realm and its users.
#[derive(Clone)]
pub struct BasicAuth {
    realm: String,
    challenge: HeaderValue,
    /// Sorted by name.
    users: Vec<(String, PasswordHash)>,
    shared: Arc<Shared>,
}

/// What clones of one `BasicAuth` share.
struct Shared {
    keys: (RandomState, RandomState),
    remembered: Mutex<HashSet<u128>>,
    checks: Semaphore,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("BasicAuth")
            .field("realm", &self.realm)
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

impl PartialEq for BasicAuth {
    fn eq(&self, other: &Self) -> bool {
        self.realm == other.realm && self.users == other.users
    }
}

impl Eq for BasicAuth {}

/// Why a realm cannot be announced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealmError {
    /// Outside printable ASCII, or `"` / `\`.
    #[error(
        "a realm is printable ASCII without `\"` or `\\`, so browsers show it as written (RFC 7235 §2.2)"
    )]
    Characters,
}

impl BasicAuth {
    /// Authentication for `realm` with `users` (at least one; names without `:`).
    pub fn new(
        realm: &str,
        mut users: Vec<(String, PasswordHash)>,
    ) -> Result<BasicAuth, RealmError> {
        if !realm
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            return Err(RealmError::Characters);
        }
        let challenge = format!("Basic realm=\"{realm}\", charset=\"UTF-8\"");
        let challenge = HeaderValue::try_from(challenge).map_err(|_| RealmError::Characters)?;
        users.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(BasicAuth {
            realm: realm.to_owned(),
            challenge,
            users,
            shared: Arc::new(Shared {
                keys: (RandomState::new(), RandomState::new()),
                remembered: Mutex::new(HashSet::new()),
                checks: Semaphore::new(MAX_CONCURRENT_CHECKS),
            }),
        })
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// `WWW-Authenticate: Basic realm="...", charset="UTF-8"` (RFC 7617 §2, §2.1).
    pub fn challenge(&self) -> &HeaderValue {
        &self.challenge
    }

    /// Check the credentials of `req`, off the runtime for the hash.
    pub async fn check(&self, req: &Parts) -> Verdict {
        let (user, password) = match credentials(req) {
            Credentials::Missing => return Verdict::Missing,
            Credentials::Malformed => return Verdict::Malformed,
            Credentials::Basic { user, password } => (user, password),
        };
        let key = self.key(&user, &password);
        if self.remembers(key) {
            return Verdict::Allowed(user);
        }
        let known = self.users.binary_search_by(|(u, _)| u.as_str().cmp(&user));
        // An unknown user costs a check too (see the module docs).
        let hash = match known {
            Ok(i) => self.users[i].1.clone(),
            Err(_) => match self.users.first() {
                Some((_, h)) => h.clone(),
                None => return Verdict::Wrong,
            },
        };
        let Ok(_permit) = self.shared.checks.acquire().await else {
            return Verdict::Wrong;
        };
        let matched = tokio::task::spawn_blocking(move || hash.verify(password.as_bytes()))
            .await
            .unwrap_or(false);
        if matched && known.is_ok() {
            self.remember(key);
            Verdict::Allowed(user)
        } else {
            Verdict::Wrong
        }
    }

    /// A random-keyed 128-bit digest of the credentials: what is remembered.
    fn key(&self, user: &str, password: &str) -> u128 {
        let digest = |state: &RandomState| {
            let mut h = state.build_hasher();
            h.write(user.as_bytes());
            h.write_u8(0xff);
            h.write(password.as_bytes());
            h.finish()
        };
        let (a, b) = &self.shared.keys;
        u128::from(digest(a)) << 64 | u128::from(digest(b))
    }

    fn remembers(&self, key: u128) -> bool {
        self.shared
            .remembered
            .lock()
            .is_ok_and(|set| set.contains(&key))
    }

    fn remember(&self, key: u128) {
        if let Ok(mut set) = self.shared.remembered.lock() {
            if set.len() >= MAX_REMEMBERED {
                set.clear();
            }
            set.insert(key);
        }
    }

    /// How many successes are remembered (for tests).
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.shared.remembered.lock().map_or(0, |s| s.len())
    }
}
