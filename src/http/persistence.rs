//! Whether an HTTP/1.x connection stays open after a message: by its version and its
//! `Connection` options (RFC 9112 §9.3, Appendix C.2.2). Requests and responses read alike.

use http::header::CONNECTION;
use http::{HeaderMap, Version};

use super::list_elements;

/// HTTP/1.1 unless `close` is among the options; HTTP/1.0 only with `keep-alive`.
pub fn persistent(version: Version, headers: &HeaderMap) -> bool {
    let mut close = false;
    let mut keep = false;
    for value in headers.get_all(CONNECTION) {
        close |= names_close(value.as_bytes());
        // Only HTTP/1.0 needs `keep-alive` to persist.
        keep |= version != Version::HTTP_11
            && list_elements(value.as_bytes()).any(|o| o.eq_ignore_ascii_case(b"keep-alive"));
    }
    !close && (version == Version::HTTP_11 || keep)
}

/// Whether one `Connection` value names the `close` option (RFC 9112 §9.6).
pub fn names_close(value: &[u8]) -> bool {
    list_elements(value).any(|option| option.eq_ignore_ascii_case(b"close"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(options: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for o in options {
            headers.append(CONNECTION, o.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_version_decides_unless_an_option_says_otherwise() {
        assert!(persistent(Version::HTTP_11, &with(&[])));
        assert!(!persistent(Version::HTTP_10, &with(&[])));
        assert!(persistent(Version::HTTP_10, &with(&["Keep-Alive"])));
        assert!(!persistent(Version::HTTP_11, &with(&["upgrade, CLOSE"])));
        assert!(!persistent(
            Version::HTTP_10,
            &with(&["keep-alive", "close"])
        ));
    }
}
