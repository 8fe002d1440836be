//! Fuzz `Accept` and `Accept-Language` negotiation: any header value must not panic, and a
//! chosen index must point into the offered list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::http::accept::{choose_language, choose_media_type};

const MEDIA_TYPES: &[&str] = &["text/html", "application/json", "text/plain"];
const LANGUAGES: &[&str] = &["en", "fr", "de-CH"];

fuzz_target!(|data: &[u8]| {
    if let Some(i) = choose_media_type(Some(data), MEDIA_TYPES) {
        assert!(i < MEDIA_TYPES.len());
    }
    if let Some(i) = choose_language(Some(data), LANGUAGES) {
        assert!(i < LANGUAGES.len());
    }
});
