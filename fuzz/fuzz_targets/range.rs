//! Fuzz `http::range::parse`: satisfiable ranges are sorted, disjoint, non-adjacent, within the
//! representation, and never add up to more than it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::http::range::{MAX_RANGES, RangeOutcome, parse};

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes choose the length, so small and huge representations are both covered.
    let (len, value) = match data.split_first_chunk::<8>() {
        Some((len, value)) => (u64::from_le_bytes(*len), value),
        None => (0, data),
    };
    // Bias towards small lengths, where clamping and coalescing actually happen.
    let len = if len & 1 == 0 { (len >> 1) % 4096 } else { len };
    let RangeOutcome::Satisfiable(ranges) = parse(value, len) else {
        return;
    };
    assert!(!ranges.is_empty());
    assert!(ranges.len() <= MAX_RANGES);
    let mut total: u64 = 0;
    for range in &ranges {
        assert!(range.start <= range.end, "{ranges:?}");
        assert!(range.end < len, "{ranges:?} len {len}");
        total = total.checked_add(range.len()).expect("total overflowed");
    }
    assert!(total <= len, "{ranges:?} total {total} > len {len}");
    // In the order asked, each pair apart by a gap of at least one byte (overlapping and
    // adjacent ranges must have been merged).
    for (at, a) in ranges.iter().enumerate() {
        for b in &ranges[at + 1..] {
            assert!(a.end + 1 < b.start || b.end + 1 < a.start, "{ranges:?}");
        }
    }
});
