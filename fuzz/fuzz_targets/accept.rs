//! Fuzz `Accept` and `Accept-Language` negotiation: any header value must not panic, a
//! chosen index must point into the offered list, and choosing in one pass over the header
//! must agree with matching each offered type on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
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
});
