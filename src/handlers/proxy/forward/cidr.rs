//! An IP address range in CIDR notation (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6):
//! `10.0.0.0/8`, `2001:db8::/32`, or a bare address meaning just that address.
//!
//! Strict, because it decides whose `X-Forwarded-For` is believed: a prefix length is plain
//! decimal digits within the family's width, and the address may not have bits set past the
//! prefix (`10.0.0.1/8` is refused with the range that was probably meant), so a typo cannot
//! silently trust more or fewer peers than written. An IPv4-mapped IPv6 peer
//! (`::ffff:10.1.2.3`, what a dual-stack listener reports) is matched as the IPv4 address.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A range of IP addresses: an address and how many leading bits of it are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The first address of the range (no bits set past `len`).
    addr: IpAddr,
    /// Leading bits fixed: 0..=32 for IPv4, 0..=128 for IPv6.
    len: u8,
}

/// Why a text is not a CIDR range; each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("{0:?} is not an IP address; write a range such as 10.0.0.0/8 or 2001:db8::/32")]
    Address(String),
    /// The part after `/` is not a decimal number within the family's width.
    #[error("{len:?} is not a prefix length for this address; use 0 to {max}")]
    Length {
        /// The text after `/`.
        len: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// The address has bits set after the prefix.
    #[error("{text} has bits set after the first {len}; did you mean {suggestion}?")]
    HostBits {
        /// The range as written.
        text: String,
        /// Its prefix length.
        len: u8,
        /// The range with those bits cleared.
        suggestion: Cidr,
    },
}

impl Cidr {
    /// The range of `len` leading bits of `addr`; `None` if `len` is too long for the family
    /// or `addr` has bits set after it.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        let cidr = Cidr { addr, len };
        (len <= width(addr) && cidr.network() == addr).then_some(cidr)
    }

    /// The first address of the range.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length: how many leading bits are fixed.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether the range holds `ip`. IPv4-mapped IPv6 addresses count as IPv4 (RFC 4291
    /// §2.5.5.2), so `10.0.0.0/8` holds `::ffff:10.1.2.3`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask32(self.len) & u32::from(ip) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(self.len) & u128::from(ip) == u128::from(net)
            }
            _ => false,
        }
    }

    /// `addr` with the bits past `len` cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(self.len)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(self.len)).into()),
        }
    }
}

/// Whether any range in `ranges` holds `ip`.
pub fn any_contains(ranges: &[Cidr], ip: IpAddr) -> bool {
    ranges.iter().any(|range| range.contains(ip))
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        // std's parser takes no zone ids (`fe80::1%eth0`), spaces or brackets: all refused.
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| CidrError::Address(addr_text.to_owned()))?;
        let max = width(addr);
        let len = match len_text {
            None => max,
            Some(digits) => parse_len(digits, max).ok_or_else(|| CidrError::Length {
                len: digits.to_owned(),
                max,
            })?,
        };
        let cidr = Cidr { addr, len };
        let network = cidr.network();
        if network != addr {
            return Err(CidrError::HostBits {
                text: text.to_owned(),
                len,
                suggestion: Cidr { addr: network, len },
            });
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// A prefix length: 1 to 3 decimal digits, no sign or leading zero, at most `max`.
fn parse_len(digits: &str, max: u8) -> Option<u8> {
    let plain = matches!(digits.len(), 1..=3)
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    let len: u8 = plain.then(|| digits.parse().ok()).flatten()?;
    (len <= max).then_some(len)
}

fn width(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// The top `len` bits of 32 set; `len` is at most 32.
fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// The top `len` bits of 128 set; `len` is at most 128.
fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_hold_their_addresses_and_no_others() {
        let private = cidr("10.0.0.0/8");
        assert!(private.contains(ip("10.0.0.0")));
        assert!(private.contains(ip("10.255.255.255")));
        assert!(!private.contains(ip("11.0.0.0")));
        assert!(!private.contains(ip("9.255.255.255")));
        let doc = cidr("2001:db8::/32");
        assert!(doc.contains(ip("2001:db8:ffff::1")));
        assert!(!doc.contains(ip("2001:db9::")));
        let odd = cidr("192.168.1.128/25");
        assert!(odd.contains(ip("192.168.1.200")));
        assert!(!odd.contains(ip("192.168.1.127")));
    }

    #[test]
    fn a_bare_address_is_a_range_of_one() {
        assert_eq!(cidr("127.0.0.1"), cidr("127.0.0.1/32"));
        assert_eq!(cidr("::1"), cidr("::1/128"));
        assert!(cidr("::1").contains(ip("::1")));
        assert!(!cidr("::1").contains(ip("::2")));
        assert!(!cidr("127.0.0.1").contains(ip("127.0.0.2")));
    }

    #[test]
    fn zero_length_holds_its_whole_family_only() {
        let all4 = cidr("0.0.0.0/0");
        assert!(all4.contains(ip("255.255.255.255")));
        assert!(!all4.contains(ip("::1")));
        let all6 = cidr("::/0");
        assert!(all6.contains(ip("ffff::1")));
        assert!(!all6.contains(ip("1.2.3.4")));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        assert!(cidr("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(!cidr("10.0.0.0/8").contains(ip("::ffff:11.1.2.3")));
        // A mapped address is not an IPv6 address for an IPv6 range.
        assert!(!cidr("::/0").contains(ip("::ffff:10.1.2.3")));
    }

    #[test]
    fn host_bits_are_refused_with_the_range_meant() {
        let err = "10.0.0.1/8".parse::<Cidr>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "10.0.0.1/8 has bits set after the first 8; did you mean 10.0.0.0/8?"
        );
        assert!("2001:db8::1/32".parse::<Cidr>().is_err());
        assert!("::1/0".parse::<Cidr>().is_err());
    }

    #[test]
    fn hostile_texts_are_refused() {
        for text in [
            "",
            "/",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/08",
            "10.0.0.0/8/8",
            "10.0.0.0/ 8",
            "10.0.0.0 /8",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
            "10.0.0.0/0x8",
            "10.0.0.0/255",
            "10.0.0.0/256",
            "10.0.0.0/99999999999999999999",
            "::/129",
            "::/1000",
            "10.0.0",
            "10.0.0.0.0/8",
            "010.0.0.0/8",
            "256.0.0.0/8",
            "[::1]/128",
            "fe80::1%eth0/128",
            "localhost",
            "10.0.0.0/8\0",
            "١٠.0.0.0/8",
            "10.0.0.0/８",
        ] {
            assert!(text.parse::<Cidr>().is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["10.0.0.0/8", "::1/128", "2001:db8::/32", "0.0.0.0/0"] {
            assert_eq!(cidr(text).to_string(), text);
            assert_eq!(cidr(&cidr(text).to_string()), cidr(text));
        }
        assert_eq!(cidr("192.0.2.7").to_string(), "192.0.2.7/32");
    }

    #[test]
    fn new_checks_like_parsing() {
        assert_eq!(Cidr::new(ip("10.0.0.0"), 8), Some(cidr("10.0.0.0/8")));
        assert_eq!(Cidr::new(ip("10.0.0.1"), 8), None);
        assert_eq!(Cidr::new(ip("10.0.0.0"), 33), None);
        assert_eq!(Cidr::new(ip("::"), 128), Some(cidr("::/128")));
        assert_eq!(Cidr::new(ip("::"), 129), None);
    }
}
