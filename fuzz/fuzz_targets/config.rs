//! Fuzz `config::file::parse`: any UTF-8 text is a config or a list of errors, never a panic;
//! every error renders, and points inside the text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use usher::config::file::{ConfigFileError, parse};

fuzz_target!(|text: &str| {
    match parse(Path::new("fuzz/usher.toml"), text) {
        Ok(_) => {}
        Err(ConfigFileError::Invalid(d)) => {
            assert!(!d.list.is_empty());
            for e in &d.list {
                assert!(e.span.start <= text.len(), "{e:?}");
            }
            // Rendering slices the source by the spans: it must not panic either.
            let _ = d.to_string();
        }
        Err(e) => panic!("parse never reads a file: {e}"),
    }
});
