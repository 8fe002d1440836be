//! The values usher adds to say who the request came from: an element of `Forwarded`
//! (RFC 7239 §4) and an entry of the de-facto `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use http::HeaderValue;

use super::Scheme;
use crate::http::addr_text::{push_decimal, push_ip};
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

/// The address as `X-Forwarded-For` lists it: no port, IPv6 without brackets, an
/// IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4 peer) as IPv4.
pub(super) fn for_entry(peer: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(15);
    push_ip(&mut out, canonical(peer.ip()));
    out
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
