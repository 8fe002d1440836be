//! Fuzz `Accept`, `Accept-Language` and `Accept-Encoding` negotiation: any header value must
//! not panic, a chosen index must point into the offered list, choosing in one pass over the
//! header must agree with matching each offered type on its own, and a coding's quality is
//! a qvalue (0 to 1000), the same in any letter case of the coding's name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::http::accept::encoding::coding_quality;
use usher::http::accept::{best_of, choose_language, choose_media_type, media_type_match};

const MEDIA_TYPES: &[&str] = &["text/html", "application/json", "text/plain"];
const LANGUAGES: &[&str] = &["en", "fr", "de-CH"];

fuzz_target!(|data: &[u8]| {
    let chosen = choose_media_type(Some(data), MEDIA_TYPES);
    if let Some(i) = chosen {
        assert!(i < MEDIA_TYPES.len());
    }
    let singly: Option<Vec<_>> = MEDIA_TYPES
        .iter()
        .map(|t| media_type_match(Some(data), t))
        .collect();
    let expected = match singly {
        None => Some(0),
        Some(matches) => best_of(&matches),
    };
    assert_eq!(chosen, expected);
    if let Some(i) = choose_language(Some(data), LANGUAGES) {
        assert!(i < LANGUAGES.len());
    }
    for coding in ["gzip", "br", "zstd"] {
        let q = coding_quality(Some(data), coding);
        assert!(q <= 1000, "{coding}: {q}");
        let upper = coding.to_ascii_uppercase();
        assert_eq!(q, coding_quality(Some(data), &upper), "{coding}");
    }
});
