//! The values usher adds to say who the request came from: an element of `Forwarded`
//! (RFC 7239 §4) and an entry of the de-facto `X-Forwarded-For`.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use http::HeaderValue;

use super::Scheme;
use crate::http::is_tchar;

/// One `forwarded-element` (RFC 7239 §4): `for=`, then `by=` and `host=` when known, then
/// `proto=`, e.g. `for="[2001:db8::1]:4711";host=example.com;proto=https`.
pub(super) fn element(
    peer: SocketAddr,
    by: Option<SocketAddr>,
    host: Option<&HeaderValue>,
    scheme: Scheme,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"for=");
    node(&mut out, peer);
    if let Some(by) = by {
        out.extend_from_slice(b";by=");
        node(&mut out, by);
    }
    if let Some(host) = host {
        out.extend_from_slice(b";host=");
        value(&mut out, host.as_bytes());
    }
    out.extend_from_slice(b";proto=");
    out.extend_from_slice(scheme.as_str().as_bytes());
    out
}

/// A node with its port (RFC 7239 §6): `"192.0.2.43:4711"`, `"[2001:db8::1]:4711"`. Always
/// quoted, as `:`, `[` and `]` are not token characters (§4: "the value ... MUST be quoted").
fn node(out: &mut Vec<u8>, addr: SocketAddr) {
    out.push(b'"');
    match canonical(addr.ip()) {
        ip @ IpAddr::V4(_) => push_ip(out, ip),
        // §6.1: an IPv6 address is enclosed in square brackets.
        ip @ IpAddr::V6(_) => {
            out.push(b'[');
            push_ip(out, ip);
            out.push(b']');
        }
    }
    out.push(b':');
    push_decimal(out, u32::from(addr.port()));
    out.push(b'"');
}

/// `n` in decimal, digit by digit: `itoa` and a copy of its buffer cost more than the few
/// digits of an octet or a port (a proxied request writes twelve such numbers).
fn push_decimal(out: &mut Vec<u8>, n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The address as `X-Forwarded-For` lists it: no port, IPv6 without brackets, an
/// IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4 peer) as IPv4.
pub(super) fn for_entry(peer: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(15);
    push_ip(&mut out, canonical(peer.ip()));
    out
}

/// `ip` as text. IPv4 is written here, four numbers and three dots: the standard formatter
/// cost about 1,300 instructions per address, and a proxied request writes two (a tenth of
/// proxying a small answer). IPv6 goes through the standard formatter, for its zero
/// compression (RFC 5952).
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(ip) => {
            // Built in place and copied once: a push per piece cost a capacity check each.
            let mut text = [0u8; 15];
            let mut len = 0;
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    text[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    text[len] = b'0' + octet / 10 % 10;
                    len += 1;
                }
                text[len] = b'0' + octet % 10;
                len += 1;
            }
            out.extend_from_slice(&text[..len]);
        }
        // Writing to a Vec cannot fail.
        IpAddr::V6(ip) => {
            let _ = write!(out, "{ip}");
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// A `value` (RFC 7239 §4: `token / quoted-string`): as is when it is a token, else quoted,
/// with `"` and `\` escaped (RFC 9110 §5.6.4).
fn value(out: &mut Vec<u8>, text: &[u8]) {
    if !text.is_empty() && text.iter().all(|&b| is_tchar(b)) {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    if !text.iter().any(|&b| b == b'"' || b == b'\\') {
        // A host with a port (`:` is no token character): nothing to escape, one copy.
        out.extend_from_slice(text);
    } else {
        for &b in text {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn nodes_are_quoted_with_ports_and_ipv6_in_brackets() {
        let v4: SocketAddr = "192.0.2.43:47011".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:4711".parse().unwrap();
        assert_eq!(
            text(element(v4, None, None, Scheme::Http)),
            r#"for="192.0.2.43:47011";proto=http"#
        );
        assert_eq!(
            text(element(v6, Some(v4), None, Scheme::Https)),
            r#"for="[2001:db8::1]:4711";by="192.0.2.43:47011";proto=https"#
        );
    }

    /// The hand-written IPv4 text is the standard one, for addresses with one-, two- and
    /// three-digit parts in every position; IPv6 is the standard text.
    #[test]
    fn addresses_are_written_as_the_standard_formatter_writes_them() {
        let parts = [0u8, 1, 9, 10, 42, 99, 100, 127, 199, 200, 249, 250, 255];
        for &a in &parts {
            for &b in &parts {
                for (c, d) in [(0, 1), (255, 255), (7, 120), (64, 3)] {
                    let ip = IpAddr::from([a, b, c, d]);
                    let mut out = Vec::new();
                    push_ip(&mut out, ip);
                    assert_eq!(text(out), ip.to_string());
                }
            }
        }
        for text_form in ["::1", "2001:db8::1", "fe80::1:2:3:4", "::"] {
            let ip: IpAddr = text_form.parse().unwrap();
            let mut out = Vec::new();
            push_ip(&mut out, ip);
            assert_eq!(text(out), text_form);
        }
    }

    #[test]
    fn numbers_are_written_as_the_standard_formatter_writes_them() {
        for n in (0..=1_100).chain([9_999, 10_000, 65_535, 65_536, u32::MAX - 1, u32::MAX]) {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(text(out), format!("x{n}"));
        }
    }

    #[test]
    fn mapped_ipv4_peers_are_written_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:80".parse().unwrap();
        assert_eq!(text(for_entry(mapped)), "192.0.2.1");
        assert!(
            text(element(mapped, None, None, Scheme::Http)).starts_with("for=\"192.0.2.1:80\"")
        );
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!(text(for_entry(v6)), "2001:db8::1");
    }

    #[test]
    fn hosts_are_tokens_or_escaped_quoted_strings() {
        let peer: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let with = |host: &'static str| {
            text(element(
                peer,
                None,
                Some(&HeaderValue::from_static(host)),
                Scheme::Http,
            ))
        };
        assert!(with("example.com").contains(";host=example.com;"));
        assert!(with("example.com:8080").contains(r#";host="example.com:8080";"#));
        assert!(with("[::1]:8080").contains(r#";host="[::1]:8080";"#));
        assert!(with(r#"a"b\c"#).contains(r#";host="a\"b\\c";"#));
        assert!(with("").contains(r#";host="";"#));
    }
}
