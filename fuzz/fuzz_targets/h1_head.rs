//! Fuzz `server::h1::head::parse`: it never panics; a head it returns was a prefix of the
//! input, the rest left in the buffer untouched (and all of it while incomplete); and the outcome does not depend on where
//! the input was split into reads, once the first read alone was not enough. With the express
//! lane open, a head parses the same; and once an answer is remembered under its key, the
//! same bytes are answered from the lane, consuming the same head, and the connection goes
//! on (or closes) after it as after the slow way's answer.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use usher::server::h1::express::{Answer, remember};
use usher::server::h1::head::{Head, Lane, Parsed, Refusal, parse, parse_or_repeat};

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
    express(input, &whole);

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

/// The express lane's part: parsing with the lane open gives `whole` too (the head's key
/// aside), and a head with a key is answered from the lane once an answer is remembered.
fn express(input: &[u8], whole: &Outcome) {
    // An epoch of this run's own: the lane's table outlives a run (it is the thread's), and
    // an input run again must not find what an earlier run remembered.
    static EPOCHS: AtomicU64 = AtomicU64::new(1);
    let epoch = EPOCHS.fetch_add(2, Ordering::Relaxed);
    let mut buf = empty_buffer(parse);
    buf.extend_from_slice(input);
    let mut out = Vec::new();
    let lane = Lane {
        epoch,
        out: &mut out,
        mss: &|| None,
    };
    let (laned, key, keep_alive) = match parse_or_repeat(&mut buf, Some(lane)) {
        Ok(Some(Parsed::Head(mut head))) => {
            let key = head.express_key.take();
            let keep_alive = head.keep_alive;
            (Ok(Some(*head)), key, keep_alive)
        }
        Ok(Some(Parsed::Repeated(_) | Parsed::RepeatedFile(..))) => {
            panic!("repeated with nothing remembered")
        }
        Ok(None) => (Ok(None), None, false),
        Err(refusal) => (Err(refusal), None, false),
    };
    assert!(out.is_empty(), "the lane wrote without an answer");
    let left = buf.len();
    assert_eq!(&outcome(laned, &buf), whole, "the lane changed the parse");
    let Some(key) = key else {
        return;
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    let body: &'static [u8] = b"remembered";
    remember(key, Answer::new(http::StatusCode::OK, b"", body, until));
    let mut again = empty_buffer(parse);
    again.extend_from_slice(input);
    let lane = Lane {
        epoch,
        out: &mut out,
        mss: &|| None,
    };
    let Ok(Some(Parsed::Repeated(persist))) = parse_or_repeat(&mut again, Some(lane)) else {
        panic!("not repeated once remembered");
    };
    assert_eq!(
        persist.closes(),
        !keep_alive,
        "the lane and the slow way disagree on closing"
    );
    assert_eq!(again.len(), left, "the lane took another length of head");
    assert!(out.ends_with(b"remembered"));
    // Under another epoch (a reload), it is not.
    let lane = Lane {
        epoch: epoch + 1,
        out: &mut Vec::new(),
        mss: &|| None,
    };
    let mut other = empty_buffer(parse);
    other.extend_from_slice(input);
    assert!(matches!(
        parse_or_repeat(&mut other, Some(lane)),
        Ok(Some(Parsed::Head(_)))
    ));
}
