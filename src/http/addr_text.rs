//! Addresses and numbers as text, written straight into a buffer: the standard formatter
//! goes through `fmt`'s machinery (padding, a `Formatter`), which costs more than the few
//! digits it writes, and every proxied or FastCGI request writes several (`Forwarded`,
//! `X-Forwarded-For`, `REMOTE_ADDR`, `SERVER_PORT`).

use std::io::Write as _;
use std::net::IpAddr;

/// `ip` as text. IPv4 is written here, four numbers and three dots: the standard formatter
/// cost about 1,300 instructions per address, and a proxied request writes two (a tenth of
/// proxying a small answer) and a FastCGI request three. IPv6 goes through the standard formatter, for its zero
/// compression (RFC 5952).
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
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

/// `n` in decimal, digit by digit: `itoa` and a copy of its buffer cost more than the few
/// digits of an octet or a port (a proxied request writes twelve such numbers).
pub fn push_decimal(out: &mut Vec<u8>, n: u32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
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
}
