//! Fuzz `server::h1::head::parse`: it never panics; a head it returns was a prefix of the
//! input, the rest left in the buffer untouched (and all of it while incomplete); and the outcome does not depend on where
//! the input was split into reads, once the first read alone was not enough.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::server::h1::head::{Head, Refusal, parse};

/// An empty buffer of the type `parse` reads from, named by inference so that this crate
/// needs no `bytes` dependency of its own.
fn empty_buffer<B: Default>(_parse: fn(&mut B) -> Result<Option<Head>, Refusal>) -> B {
    B::default()
}

/// How parsing an input ended, comparable across splits.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A head (its debug form) and the bytes left after it.
    Head(String, Vec<u8>),
    NeedMore,
    /// The refusal's status and detail.
    Refused(String),
}

fn outcome(result: Result<Option<Head>, Refusal>, left: &[u8]) -> Outcome {
    match result {
        Ok(Some(head)) => Outcome::Head(format!("{head:?}"), left.to_vec()),
        Ok(None) => Outcome::NeedMore,
        Err(refusal) => Outcome::Refused(format!(
            "{} {:?} {:?}",
            refusal.problem.status, refusal.problem.detail, refusal.accept
        )),
    }
}

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose where to split; the rest is the input.
    let Some((split, input)) = data.split_first_chunk::<2>() else {
        return;
    };
    let mut buf = empty_buffer(parse);
    buf.extend_from_slice(input);
    let result = parse(&mut buf);
    match &result {
        Ok(Some(_)) => {
            assert!(buf.len() < input.len(), "a head from no bytes");
            assert_eq!(
                &buf[..],
                &input[input.len() - buf.len()..],
                "the rest changed"
            );
        }
        Ok(None) => assert_eq!(&buf[..], input, "bytes taken without a head"),
        // A refusal closes the connection; what is left in the buffer does not matter.
        Err(_) => {}
    }
    let whole = outcome(result, &buf);

    let at = usize::from(u16::from_le_bytes(*split)) % (input.len() + 1);
    let mut buf = empty_buffer(parse);
    buf.extend_from_slice(&input[..at]);
    if let Ok(None) = parse(&mut buf) {
        assert_eq!(&buf[..], &input[..at]);
        buf.extend_from_slice(&input[at..]);
        let result = parse(&mut buf);
        assert_eq!(outcome(result, &buf), whole, "split at {at}");
    }
});
