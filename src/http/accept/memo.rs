//! The last `Accept` verdict of each thread, so a client's repeated header is parsed once.
//!
//! A browser sends the same `Accept` value with every request for one kind of resource
//! (Firefox: `text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8` for pages,
//! `image/avif,image/webp,*/*` for images), and an API client the same value every time.
//! Parsing Firefox's page value cost about 2,700 instructions (`bench/instructions.sh`, row
//! a+), more than a tenth of answering a cached file; comparing it with the last one costs a
//! few dozen. Each [`LastVerdict`] is one entry in a fixed buffer: it neither allocates nor
//! grows, whatever clients send.

use std::cell::RefCell;

use super::{Quality, media_type_quality};

/// Longest `Accept` value remembered; longer ones are parsed every time. Browsers send
/// under 200 bytes.
const MEMO_MAX: usize = 256;

/// One question about one `Accept` value, and its answer: the last one asked on this
/// thread. Keep one in a `thread_local!` per kind of question, so they do not evict each
/// other.
pub struct LastVerdict {
    accept: [u8; MEMO_MAX],
    len: usize,
    question: &'static str,
    answer: u16,
}

impl LastVerdict {
    /// An entry that matches nothing: no header is empty (an empty one counts as absent).
    pub const fn new() -> Self {
        LastVerdict {
            accept: [0; MEMO_MAX],
            len: 0,
            question: "",
            answer: 0,
        }
    }

    /// The answer to `question` about `accept`: the remembered one when both are the last
    /// asked, else `work()`'s, remembered in their place. `work` must depend only on
    /// `accept` and `question`.
    pub fn answer(
        &mut self,
        accept: &[u8],
        question: &'static str,
        work: impl FnOnce() -> u16,
    ) -> u16 {
        if accept.len() > MEMO_MAX || accept.is_empty() {
            return work();
        }
        if self.question == question && &self.accept[..self.len] == accept {
            return self.answer;
        }
        let answer = work();
        self.accept[..accept.len()].copy_from_slice(accept);
        self.len = accept.len();
        self.question = question;
        self.answer = answer;
        answer
    }
}

impl Default for LastVerdict {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    static LAST_QUALITY: RefCell<LastVerdict> = const { RefCell::new(LastVerdict::new()) };
}

/// [`media_type_quality`] of a present `accept`, from this thread's last verdict when it was
/// for the same value and media type.
pub fn media_type_quality_memo(accept: &[u8], media_type: &'static str) -> Quality {
    LAST_QUALITY.with_borrow_mut(|last| {
        last.answer(accept, media_type, || {
            media_type_quality(Some(accept), media_type)
        })
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

    /// Work runs only when the value or the question changed.
    #[test]
    fn work_runs_only_for_a_new_value_or_question() {
        let mut last = LastVerdict::new();
        let mut runs = 0;
        let mut ask = |accept: &[u8], question: &'static str| {
            last.answer(accept, question, || {
                runs += 1;
                7
            })
        };
        ask(b"a/b", "x");
        ask(b"a/b", "x");
        ask(b"a/b", "y");
        ask(b"a/b;q=0", "y");
        ask(b"", "y");
        ask(b"", "y");
        assert_eq!(
            runs, 5,
            "the repeat is remembered; the empty value never is"
        );
    }

    /// A value that extends the remembered one is not taken for it.
    #[test]
    fn a_longer_value_with_the_same_start_is_parsed_afresh() {
        assert_eq!(media_type_quality_memo(b"text/html", "text/html"), 1000);
        assert_eq!(media_type_quality_memo(b"text/html;q=0", "text/html"), 0);
        assert_eq!(media_type_quality_memo(b"text/html", "text/html"), 1000);
    }
}
