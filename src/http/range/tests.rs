//! Unit tests for `Range` parsing, many of them hostile.

use super::*;

fn r(start: u64, end: u64) -> ByteRange {
    ByteRange { start, end }
}

fn sat(ranges: &[(u64, u64)]) -> RangeOutcome {
    RangeOutcome::Satisfiable(ranges.iter().map(|&(s, e)| r(s, e)).collect())
}

fn p(value: &str, len: u64) -> RangeOutcome {
    parse(value.as_bytes(), len)
}

/// The invariants the multipart writer relies on.
fn assert_well_formed(outcome: &RangeOutcome, len: u64) {
    if let RangeOutcome::Satisfiable(ranges) = outcome {
        assert!(!ranges.is_empty());
        assert!(ranges.len() <= MAX_RANGES);
        let mut total = 0u64;
        // Disjoint and not adjacent, in whatever order they were asked.
        for (at, a) in ranges.iter().enumerate() {
            for b in &ranges[at + 1..] {
                assert!(a.end + 1 < b.start || b.end + 1 < a.start, "{ranges:?}");
            }
        }
        for range in ranges {
            assert!(range.start <= range.end && range.end < len, "{ranges:?}");
            total += range.len();
        }
        assert!(total <= len);
    }
}

#[test]
fn single_ranges() {
    assert_eq!(p("bytes=0-0", 10), sat(&[(0, 0)]));
    assert_eq!(p("bytes=0-9", 10), sat(&[(0, 9)]));
    assert_eq!(p("bytes=2-5", 10), sat(&[(2, 5)]));
    assert_eq!(p("bytes=5-", 10), sat(&[(5, 9)]));
    assert_eq!(p("bytes=-3", 10), sat(&[(7, 9)]));
    assert_eq!(p("bytes=9-9", 10), sat(&[(9, 9)]));
    assert_eq!(r(2, 5).len(), 4);
}

#[test]
fn end_is_clamped() {
    assert_eq!(p("bytes=5-100", 10), sat(&[(5, 9)]));
    assert_eq!(p("bytes=0-18446744073709551615", 10), sat(&[(0, 9)]));
    // A suffix longer than the file is the whole file (§14.1.2).
    assert_eq!(p("bytes=-100", 10), sat(&[(0, 9)]));
    assert_eq!(p("bytes=-18446744073709551615", 10), sat(&[(0, 9)]));
}

#[test]
fn unit_is_case_insensitive_and_alone() {
    assert_eq!(p("Bytes=0-1", 10), sat(&[(0, 1)]));
    assert_eq!(p("BYTES=0-1", 10), sat(&[(0, 1)]));
    assert_eq!(p("items=0-1", 10), RangeOutcome::Ignore);
    assert_eq!(p("bytes 0-1", 10), RangeOutcome::Ignore);
    assert_eq!(p("bytes =0-1", 10), RangeOutcome::Ignore);
    assert_eq!(p("byte=0-1", 10), RangeOutcome::Ignore);
    assert_eq!(p("=0-1", 10), RangeOutcome::Ignore);
    assert_eq!(p("0-1", 10), RangeOutcome::Ignore);
    assert_eq!(p("", 10), RangeOutcome::Ignore);
}

#[test]
fn whitespace_around_commas() {
    assert_eq!(p("bytes=0-1, 4-5", 10), sat(&[(0, 1), (4, 5)]));
    assert_eq!(p("bytes=0-1 ,\t4-5 ", 10), sat(&[(0, 1), (4, 5)]));
    assert_eq!(p("bytes= 0-1", 10), sat(&[(0, 1)]));
    // No whitespace inside a spec.
    assert_eq!(p("bytes=0 -1", 10), RangeOutcome::Ignore);
    assert_eq!(p("bytes=0- 1", 10), RangeOutcome::Ignore);
}

#[test]
fn invalid_syntax_ignores_the_whole_header() {
    for bad in [
        "bytes=5-2",
        "bytes=0-1,5-2",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=-",
        "bytes=a-b",
        "bytes=1",
        "bytes=0x1-2",
        "bytes=+1-2",
        "bytes=1-+2",
        "bytes=-+2",
        "bytes=-1-",
        "bytes=0-1;q=1",
        "bytes=0-1,garbage",
        "bytes=0-\u{661}",
        "bytes==0-1",
    ] {
        assert_eq!(p(bad, 10), RangeOutcome::Ignore, "{bad}");
    }
}

#[test]
fn empty_lists_are_ignored() {
    for empty in ["bytes=", "bytes= , ,", "bytes=,", "bytes=\t", "bytes= , , "] {
        assert_eq!(p(empty, 10), RangeOutcome::Ignore, "{empty:?}");
    }
    let commas = format!("bytes={}", ",".repeat(10_000));
    assert_eq!(p(&commas, 10), RangeOutcome::Ignore);
    // Empty elements around a real one are fine.
    let padded = format!("bytes={}0-1{}", ", ".repeat(5_000), ",".repeat(5_000));
    assert_eq!(p(&padded, 10), sat(&[(0, 1)]));
}

/// Positions past 64 bits are numbers still (§14.1.2 bounds none): a first-pos that large is
/// past the end, a last-pos that large runs to the end, a suffix that long is the whole.
#[test]
fn positions_past_64_bits_are_read_as_huge() {
    assert_eq!(
        p("bytes=18446744073709551616-", 10),
        RangeOutcome::Unsatisfiable
    );
    assert_eq!(p("bytes=0-18446744073709551616", 10), sat(&[(0, 9)]));
    assert_eq!(p("bytes=-18446744073709551616", 10), sat(&[(0, 9)]));
    let huge = format!("bytes=0-{}", "9".repeat(10_000));
    assert_eq!(p(&huge, 10), sat(&[(0, 9)]));
    let far = format!("bytes={}-", "9".repeat(10_000));
    assert_eq!(p(&far, 10), RangeOutcome::Unsatisfiable);
    // A last-pos before its first-pos is invalid however large the first: ignored.
    assert_eq!(p("bytes=99999999999999999999-5", 10), RangeOutcome::Ignore);
    // Still digits only.
    assert_eq!(p("bytes=0-99999999999999999999x", 10), RangeOutcome::Ignore);
    // Leading zeros are digits, not overflow.
    let zeros = format!("bytes={}1-{}3", "0".repeat(1_000), "0".repeat(1_000));
    assert_eq!(p(&zeros, 10), sat(&[(1, 3)]));
    // The largest u64 positions are valid, just unsatisfiable.
    assert_eq!(
        p("bytes=18446744073709551615-18446744073709551615", 10),
        RangeOutcome::Unsatisfiable
    );
    assert_eq!(
        p("bytes=18446744073709551614-", u64::MAX),
        sat(&[(u64::MAX - 1, u64::MAX - 1)])
    );
}

#[test]
fn unsatisfiable() {
    assert_eq!(p("bytes=10-", 10), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=10-20", 10), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=-0", 10), RangeOutcome::Unsatisfiable);
    assert_eq!(p("bytes=-0,20-30", 10), RangeOutcome::Unsatisfiable);
    // Unsatisfiable specs are dropped when another one is satisfiable.
    assert_eq!(p("bytes=20-30,0-1,-0", 10), sat(&[(0, 1)]));
}

/// RFC 9110 §14.1.3: for an empty representation only a suffix-range with a non-zero
/// length is satisfiable, and as no 206 can express it, the header is ignored (200).
#[test]
fn empty_representation_is_unsatisfiable_but_for_a_suffix() {
    for value in ["bytes=0-", "bytes=0-0", "bytes=-0", "bytes=5-9"] {
        assert_eq!(p(value, 0), RangeOutcome::Unsatisfiable, "{value}");
    }
    for value in ["bytes=5-1", "bytes=-1", "bytes=-5", "bytes=0-0,-1"] {
        assert_eq!(p(value, 0), RangeOutcome::Ignore, "{value}");
    }
}

/// Ranges are merged when they overlap or touch, and otherwise keep the order they were
/// asked in (RFC 9110 §15.3.7.2), a merged one taking the place of its first part.
#[test]
fn coalesced_in_the_order_asked() {
    assert_eq!(p("bytes=5-6,0-1", 10), sat(&[(5, 6), (0, 1)]));
    assert_eq!(p("bytes=8-9,0-1,7-7", 10), sat(&[(7, 9), (0, 1)]));
    assert_eq!(p("bytes=0-1,8-9,2-2", 10), sat(&[(0, 2), (8, 9)]));
    // Overlapping.
    assert_eq!(p("bytes=0-5,3-8", 10), sat(&[(0, 8)]));
    // Adjacent.
    assert_eq!(p("bytes=0-4,5-9", 10), sat(&[(0, 9)]));
    // Contained.
    assert_eq!(p("bytes=0-9,2-3", 10), sat(&[(0, 9)]));
    // Suffix overlapping an int-range.
    assert_eq!(p("bytes=0-7,-3", 10), sat(&[(0, 9)]));
    assert_eq!(p("bytes=-3,0-1", 10), sat(&[(7, 9), (0, 1)]));
    // One-byte gaps stay separate.
    assert_eq!(p("bytes=0-0,2-2,4-4", 10), sat(&[(0, 0), (2, 2), (4, 4)]));
}

#[test]
fn repeated_ranges_cannot_amplify() {
    let list = |n: usize| format!("bytes={}", vec!["0-0"; n].join(","));
    assert_eq!(p(&list(MAX_RANGES), 10), sat(&[(0, 0)]));
    assert_eq!(p(&list(MAX_RANGES + 1), 10), RangeOutcome::Ignore);
    assert_eq!(p(&list(10_000), 10), RangeOutcome::Ignore);
    // The Apache killer shape (CVE-2011-3192): many overlapping ranges. Within the limit they
    // coalesce to one range, beyond it the header is ignored.
    let killer = |n: usize| {
        let specs: Vec<String> = (1..n).map(|i| format!("5-{}", 5 + i)).collect();
        format!("bytes=0-,{}", specs.join(","))
    };
    assert_eq!(p(&killer(MAX_RANGES), 1_000), sat(&[(0, 999)]));
    assert_eq!(p(&killer(MAX_RANGES + 1), 1_000), RangeOutcome::Ignore);
    assert_eq!(p(&killer(1_300), 1_000), RangeOutcome::Ignore);
    let overlapping = format!(
        "bytes={}",
        (0..MAX_RANGES as u64)
            .map(|i| format!("{i}-{}", i + 100))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(p(&overlapping, 1_000), sat(&[(0, 131)]));
}

#[test]
fn many_small_ranges_are_capped() {
    let small = |n: u64| {
        let specs: Vec<String> = (0..n).map(|i| format!("{0}-{0}", i * 2)).collect();
        format!("bytes={}", specs.join(","))
    };
    let at_limit = p(&small(MAX_RANGES as u64), 1_000);
    assert!(matches!(&at_limit, RangeOutcome::Satisfiable(v) if v.len() == MAX_RANGES));
    assert_well_formed(&at_limit, 1_000);
    assert_eq!(
        p(&small(MAX_RANGES as u64 + 1), 1_000),
        RangeOutcome::Ignore
    );
}

#[test]
fn non_utf8_bytes_are_invalid() {
    assert_eq!(parse(b"bytes=0-1,\xff", 10), RangeOutcome::Ignore);
    assert_eq!(parse(b"bytes\xff=0-1", 10), RangeOutcome::Ignore);
}

#[test]
fn exhaustive_small_inputs_are_well_formed() {
    let specs = [
        "0-0", "0-", "-1", "-0", "3-", "2-4", "5-9", "9-", "10-", "4-5", "-20",
    ];
    for len in [0, 1, 5, 10, 11] {
        for a in specs {
            for b in specs {
                for c in specs {
                    let value = format!("bytes={a},{b},{c}");
                    let outcome = p(&value, len);
                    let suffix = |s: &str| s.starts_with('-') && s != "-0";
                    let ignored = len == 0 && [a, b, c].into_iter().any(suffix);
                    assert_eq!(outcome == RangeOutcome::Ignore, ignored, "{value}");
                    assert_well_formed(&outcome, len);
                }
            }
        }
    }
}
