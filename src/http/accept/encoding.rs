//! `Accept-Encoding` (RFC 9110 §12.5.3): which content coding a client takes, by q-value.
//!
//! Only for choosing among codings the server has ready (a file's precompressed siblings, or
//! the codecs a route compresses with); `identity` is always acceptable here, since the
//! caller falls back to it.

use super::{Cursor, ListElements, Quality, parse_weight};

/// The quality `accept_encoding` gives `coding` (`gzip`, `br`, `zstd`): that of the element
/// naming it (`x-gzip` names `gzip`, RFC 9110 §8.4.1.3), else that of `*`, else 0. Names
/// are case-insensitive; malformed elements are skipped; an absent header gives 0 (a client
/// that says nothing is sent no coding, as every server does).
pub fn coding_quality(accept_encoding: Option<&[u8]>, coding: &str) -> Quality {
    let Some(header) = accept_encoding else {
        return 0;
    };
    let mut named = None;
    let mut any = None;
    for element in ListElements::new(header) {
        let Some((name, q)) = parse_coding(element) else {
            continue;
        };
        let names_it = name.eq_ignore_ascii_case(coding.as_bytes())
            || (coding.eq_ignore_ascii_case("gzip") && name.eq_ignore_ascii_case(b"x-gzip"));
        if names_it {
            // Two elements for one coding: the better one counts, but a refusal (q=0) stands
            // (RFC 9110 leaves it open; a client that says no once is taken at its word).
            named = Some(match named {
                Some(0) => 0,
                Some(n) if q > 0 => n.max(q),
                _ => q,
            });
        } else if name == b"*" {
            any = Some(any.map_or(q, |a: Quality| a.max(q)));
        }
    }
    named.or(any).unwrap_or(0)
}

/// The positions in `codings` of those `accept_encoding` takes (quality above 0, and not
/// below that of an `identity` it names: the client would rather have the content as it
/// is), best first; among equal qualities, in the order of `codings` (the server's
/// preference).
pub fn ranked(accept_encoding: Option<&[u8]>, codings: &[&str]) -> Vec<usize> {
    let identity = named_identity(accept_encoding).unwrap_or(0);
    let mut ranked: Vec<(Quality, usize)> = codings
        .iter()
        .enumerate()
        .map(|(i, coding)| (coding_quality(accept_encoding, coding), i))
        .filter(|&(q, _)| q > 0 && q >= identity)
        .collect();
    ranked.sort_by_key(|&(q, i)| (std::cmp::Reverse(q), i));
    ranked.into_iter().map(|(_, i)| i).collect()
}

/// The quality of the element naming `identity`, if one does (the best of several); `*`
/// does not count: it speaks of codings not named, and identity is the fallback anyway.
fn named_identity(accept_encoding: Option<&[u8]>) -> Option<Quality> {
    ListElements::new(accept_encoding?)
        .filter_map(parse_coding)
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"identity"))
        .map(|(_, q)| q)
        .max()
}

/// One `codings [ weight ]` element; `None` when malformed.
fn parse_coding(element: &[u8]) -> Option<(&[u8], Quality)> {
    let mut c = Cursor::new(element);
    let name = c.token();
    if name.is_empty() {
        return None;
    }
    Some((name, parse_weight(&mut c)?))
}

#[cfg(test)]
mod tests {
    use super::{coding_quality, ranked};

    fn q(header: &str, coding: &str) -> u16 {
        coding_quality(Some(header.as_bytes()), coding)
    }

    #[test]
    fn codings_by_name_star_and_weight() {
        assert_eq!(q("gzip, deflate, br, zstd", "br"), 1000);
        assert_eq!(q("gzip;q=0.5, br;q=0.8", "gzip"), 500);
        assert_eq!(q("GZIP", "gzip"), 1000);
        assert_eq!(q("x-gzip", "gzip"), 1000);
        assert_eq!(q("deflate", "gzip"), 0);
        // `*` stands for what is not named; a named q=0 refuses even under `*`.
        assert_eq!(q("*", "zstd"), 1000);
        assert_eq!(q("*;q=0.3, br;q=0", "br"), 0);
        assert_eq!(q("*;q=0.3, br;q=0", "gzip"), 300);
        // Named twice: the better weight, unless one refuses.
        assert_eq!(q("gzip;q=0.2, gzip;q=0.7", "gzip"), 700);
        assert_eq!(q("gzip;q=0, gzip", "gzip"), 0);
        assert_eq!(q("gzip, x-gzip;q=0", "gzip"), 0);
        assert_eq!(coding_quality(None, "gzip"), 0);
        assert_eq!(q("", "gzip"), 0);
    }

    #[test]
    fn codings_ranked_by_weight_then_by_the_servers_order() {
        let ours = ["zstd", "br", "gzip"];
        let rank = |header: &str| ranked(Some(header.as_bytes()), &ours);
        assert_eq!(rank("gzip, br, zstd"), [0, 1, 2]);
        assert_eq!(rank("gzip;q=1, br;q=0.5, zstd;q=0.2"), [2, 1, 0]);
        assert_eq!(rank("gzip, deflate"), [2]);
        assert_eq!(rank("*;q=0.5, gzip"), [2, 0, 1]);
        assert_eq!(rank("identity"), [0usize; 0]);
        assert_eq!(rank("zstd;q=0, *"), [1, 2]);
        assert!(ranked(None, &ours).is_empty());
        // A coding the client weighs below the content as it is: not chosen (equal is fine).
        assert_eq!(rank("gzip;q=0.1, identity;q=0.2"), [0usize; 0]);
        assert_eq!(rank("gzip;q=0.5, br;q=0.1, Identity;q=0.2"), [2]);
        assert_eq!(rank("gzip;q=0.2, identity;q=0.2"), [2]);
        // `*` speaks of codings, not of identity; `identity;q=0` refuses it, nothing more.
        assert_eq!(rank("gzip;q=0.1, *;q=0.5"), [0, 1, 2]);
        assert_eq!(rank("identity;q=0, gzip;q=0.1"), [2]);
    }

    #[test]
    fn hostile_elements_are_skipped() {
        assert_eq!(q("gzip;q=2, br", "gzip"), 0);
        assert_eq!(q("gzip;q=2, br", "br"), 1000);
        assert_eq!(q("gzip;level=9", "gzip"), 0);
        assert_eq!(q("gz ip, ;q=1, gzip ; q=0.25 ", "gzip"), 250);
        assert_eq!(q("\"gzip\", gzip;q=0.1", "gzip"), 100);
        let long = "x,".repeat(100_000) + "gzip";
        assert_eq!(q(&long, "gzip"), 0, "past the element bound");
    }
}
