//! Fuzz `http::chunked::ChunkedDecoder`: the result must not depend on how the input is split
//! into reads, data is never empty and never adds up to more than the input, and `Ok(None)`
//! comes only once every buffered byte was consumed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::http::chunked::{Chunk, ChunkedDecoder, ChunkedError};

/// How decoding an input ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// `End`, with the bytes left in the buffer after it and those never fed.
    End(Vec<u8>),
    /// `Ok(None)` after the last read.
    NeedMore,
    Failed(ChunkedError),
}

/// An empty buffer of the type `decode` reads from. It is named by inference so that this crate
/// needs no `bytes` dependency of its own.
fn empty_buffer<B: Default>(
    _decode: fn(&mut ChunkedDecoder, &mut B) -> Result<Option<Chunk>, ChunkedError>,
) -> B {
    B::default()
}

/// Feed `reads` into one buffer in turn, decoding as far as possible after each.
fn feed<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> (Vec<u8>, Outcome) {
    let mut decoder = ChunkedDecoder::new();
    let mut buf = empty_buffer(ChunkedDecoder::decode);
    let mut data = Vec::new();
    let mut reads = reads.into_iter();
    while let Some(read) = reads.next() {
        buf.extend_from_slice(read);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Chunk::Data(bytes))) => {
                    assert!(!bytes.is_empty(), "empty Data");
                    data.extend_from_slice(&bytes);
                }
                Ok(Some(Chunk::End)) => {
                    assert!(decoder.is_done());
                    let left = buf.to_vec();
                    assert_eq!(decoder.decode(&mut buf), Ok(Some(Chunk::End)));
                    assert_eq!(buf.to_vec(), left, "End consumed bytes twice");
                    let mut rest = left;
                    reads.for_each(|r| rest.extend_from_slice(r));
                    return (data, Outcome::End(rest));
                }
                Ok(None) => {
                    assert!(
                        buf.is_empty(),
                        "Ok(None) with {} bytes unconsumed",
                        buf.len()
                    );
                    break;
                }
                Err(e) => {
                    assert!(!decoder.is_done());
                    assert_eq!(decoder.decode(&mut buf), Err(e.clone()), "error not sticky");
                    return (data, Outcome::Failed(e));
                }
            }
        }
    }
    (data, Outcome::NeedMore)
}

/// Split `input` into reads of the given sizes, cycled (0 is an empty read), then the rest.
fn reads<'a>(input: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut reads = Vec::new();
    let mut rest = input;
    if sizes.iter().any(|&s| s > 0) {
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (read, after) = rest.split_at(usize::from(size).min(rest.len()));
            reads.push(read);
            rest = after;
        }
    }
    reads.push(rest);
    reads
}

fuzz_target!(|data: &[u8]| {
    // The first byte says how many of the next bytes are read sizes; the rest is the input.
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let (sizes, input) = rest.split_at(usize::from(count % 16).min(rest.len()));
    let whole = feed([input]);
    assert!(whole.0.len() <= input.len(), "more data than input");
    if let Outcome::End(rest) = &whole.1 {
        assert!(input.ends_with(rest));
        assert!(
            whole.0.len() + rest.len() < input.len(),
            "End without framing"
        );
    }
    assert_eq!(feed(reads(input, sizes)), whole, "split by {sizes:?}");
    assert_eq!(feed(input.chunks(1)), whole, "byte by byte");
});
