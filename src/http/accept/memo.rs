//! The last `Accept` verdict of each thread, so a browser's repeated header is parsed once.
//!
//! A browser sends the same `Accept` value with every request for one kind of resource
//! (Firefox: `text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8` for pages,
//! `image/avif,image/webp,*/*` for images). Parsing Firefox's page value cost about 2,700
//! instructions (`bench/instructions.sh`, row a+), more than a tenth of answering a cached
//! file; comparing it with the last one costs a few dozen. The memo is one entry per thread,
//! in a fixed buffer: it neither allocates nor grows, whatever clients send.

use std::cell::RefCell;

use super::{Quality, media_type_quality};

/// Longest `Accept` value remembered; longer ones are parsed every time. Browsers send
/// under 200 bytes.
const MEMO_MAX: usize = 256;

struct Memo {
    accept: [u8; MEMO_MAX],
    len: usize,
    media_type: &'static str,
    quality: Quality,
}

thread_local! {
    static LAST: RefCell<Memo> = const {
        RefCell::new(Memo {
            accept: [0; MEMO_MAX],
            len: 0,
            // No header is empty (an empty one counts as absent), so this entry never matches.
            media_type: "",
            quality: 0,
        })
    };
}

/// [`media_type_quality`] of a present `accept`, from this thread's last verdict when it was
/// for the same value and media type.
pub fn media_type_quality_memo(accept: &[u8], media_type: &'static str) -> Quality {
    if accept.len() > MEMO_MAX || accept.is_empty() {
        return media_type_quality(Some(accept), media_type);
    }
    LAST.with_borrow_mut(|last| {
        if last.media_type == media_type && &last.accept[..last.len] == accept {
            return last.quality;
        }
        let quality = media_type_quality(Some(accept), media_type);
        last.accept[..accept.len()].copy_from_slice(accept);
        last.len = accept.len();
        last.media_type = media_type;
        last.quality = quality;
        quality
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo answers exactly as parsing does, whatever the order of questions: repeats,
    /// alternations, values that share a prefix, the same value for another type, and values
    /// too long to remember.
    #[test]
    fn the_memo_agrees_with_parsing() {
        let long = format!("text/plain;q=0, {}*/*", "x/y;q=0.5, ".repeat(30));
        assert!(long.len() > MEMO_MAX);
        let accepts = [
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "text/html",
            "text/html;q=0",
            "text/html;q=0,*/*",
            "image/*",
            "*/*;q=0",
            "application/json, text/plain;q=0",
            long.as_str(),
        ];
        let types = ["text/html", "text/plain", "image/png", "application/json"];
        let mut asked = 0;
        for round in 0..3 {
            for (i, accept) in accepts.iter().enumerate() {
                for j in 0..types.len() {
                    // A different order each round: each verdict is hit, then replaced.
                    let media_type = types[(i + j + round) % types.len()];
                    let expected = media_type_quality(Some(accept.as_bytes()), media_type);
                    assert_eq!(
                        media_type_quality_memo(accept.as_bytes(), media_type),
                        expected,
                        "{accept:?} for {media_type}"
                    );
                    // Asked again at once: the remembered verdict.
                    assert_eq!(
                        media_type_quality_memo(accept.as_bytes(), media_type),
                        expected
                    );
                    asked += 1;
                }
            }
        }
        assert_eq!(asked, 3 * accepts.len() * types.len());
    }

    /// A value that extends the remembered one is not taken for it.
    #[test]
    fn a_longer_value_with_the_same_start_is_parsed_afresh() {
        assert_eq!(media_type_quality_memo(b"text/html", "text/html"), 1000);
        assert_eq!(media_type_quality_memo(b"text/html;q=0", "text/html"), 0);
        assert_eq!(media_type_quality_memo(b"text/html", "text/html"), 1000);
    }
}
