//! Fuzz `handlers::cgi::output::parse`, the parser of a CGI program's head (untrusted): it
//! never panics; a head it returns took at most the input, and bytes written after it (the
//! body) change neither the head nor where it ended; and "read more" comes only for input
//! within `MAX_HEAD` that has no blank line yet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::handlers::cgi::output::{CgiHead, MAX_HEAD, parse};

/// A head, comparable: `CgiHead` has no `PartialEq` (its `HeaderMap` order is its own).
fn shape(head: &CgiHead) -> String {
    format!(
        "{} {:?} {:?} {:?}",
        head.status, head.headers, head.kind, head.length
    )
}

/// Whether `input` has an empty line (`\n\n` or `\n\r\n`, or one at the very start).
fn has_blank_line(input: &[u8]) -> bool {
    input.starts_with(b"\n")
        || input.starts_with(b"\r\n")
        || input.windows(2).any(|w| w == b"\n\n")
        || input.windows(3).any(|w| w == b"\n\r\n")
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses what is appended: a body that starts with a line end and
    // another blank line is the hardest case for "the head ends where it ended".
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    match parse(input) {
        Ok(Some((head, consumed))) => {
            assert!(
                consumed <= input.len(),
                "consumed {consumed} of {}",
                input.len()
            );
            assert!(consumed <= MAX_HEAD, "a head of {consumed} bytes");
            let tail: &[u8] = match pick % 4 {
                0 => b"body",
                1 => b"\r\n\r\nStatus: 500 x\r\n\r\n",
                2 => b"\n",
                _ => &data[..],
            };
            let mut longer = input.to_vec();
            longer.extend_from_slice(tail);
            match parse(&longer) {
                Ok(Some((again, at))) => {
                    assert_eq!(at, consumed, "the head's end moved");
                    assert_eq!(shape(&again), shape(&head), "the head changed");
                }
                other => panic!("a head, then {other:?} with more bytes"),
            }
        }
        Ok(None) => {
            assert!(input.len() <= MAX_HEAD, "read more past MAX_HEAD");
            assert!(!has_blank_line(input), "read more with a blank line");
        }
        Err(_) => {}
    }
});
