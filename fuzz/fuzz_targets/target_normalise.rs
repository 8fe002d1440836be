//! Fuzz `http::target::normalise`: no input may leave a `..`, `.` or empty segment, and a
//! normalised path renders to a string that normalises back to itself, and its segments read
//! back the same in every way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::http::target::normalise;

fuzz_target!(|data: &[u8]| {
    // hyper hands us a `&str`; non-UTF-8 bytes never reach `normalise` as such.
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(normal) = normalise(path) else {
        return;
    };
    for segment in normal.segments() {
        assert!(!segment.is_empty(), "empty segment from {path:?}");
        assert!(
            segment != "." && segment != "..",
            "dot segment from {path:?}"
        );
        assert!(!segment.contains('/'), "slash in a segment from {path:?}");
        assert!(!segment.contains('\0'), "NUL in a segment from {path:?}");
    }
    // The segments are split from the kept string: every reading agrees, and building the
    // path from them gives it back.
    let borrowed: Vec<&str> = normal.segment_strs().collect();
    assert_eq!(normal.segments(), borrowed, "{path:?}");
    assert_eq!(normal.last_segment(), borrowed.last().copied());
    let built = usher::http::target::NormalPath::from_segments(
        normal.segments().to_vec(),
        normal.trailing_slash(),
    );
    assert_eq!(built, normal, "{path:?}");
    let rendered = normal.to_decoded_string();
    assert!(rendered.starts_with('/'));
    // With a `%` left, normalising again would decode a second time: not a round trip.
    if !rendered.contains('%') {
        assert_eq!(
            normalise(&rendered).as_ref(),
            Ok(&normal),
            "{path:?} -> {rendered:?}"
        );
    }
});
