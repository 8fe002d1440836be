//! Fuzz `handlers::fastcgi::record`: decoding never panics and gives the same records and
//! the same error however the input is split into reads (whole, byte by byte, or at
//! fuzz-chosen points); and name-value pairs encoded as FCGI_PARAMS records decode back to the
//! same pairs (FastCGI 1.0 §3.4), with records padded to 8 and within php-fpm's length limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher::handlers::fastcgi::record::{
    HEADER_LEN, MAX_ENCODED_CONTENT, Pairs, Record, RecordDecoder, RecordError, RecordType,
    encode_params,
};

/// An empty buffer of the type `decode` reads from, named by inference so that this crate needs
/// no `bytes` dependency of its own.
fn empty_buffer<B: Default>(
    _decode: fn(&mut RecordDecoder, &mut B) -> Result<Option<Record>, RecordError>,
) -> B {
    B::default()
}

/// `bytes` as the type `Pairs::new` takes, named by inference too.
fn content<B: From<Vec<u8>>>(_new: fn(B) -> Pairs, bytes: Vec<u8>) -> B {
    B::from(bytes)
}

/// Records decoded (type, id, content), and how the input ended: the bytes left buffered, or
/// the first error.
type Outcome = (
    Vec<(RecordType, u16, Vec<u8>)>,
    Result<Vec<u8>, RecordError>,
);

fn feed<'a>(decoder: &RecordDecoder, reads: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut decoder = decoder.clone();
    let mut buf = empty_buffer(RecordDecoder::decode);
    let mut records = Vec::new();
    let mut fed = 0;
    for read in reads {
        buf.extend_from_slice(read);
        fed += read.len();
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(r)) => {
                    assert!(r.content.len() <= 0xffff);
                    records.push((r.kind, r.request_id, r.content.to_vec()));
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(decoder.decode(&mut buf), Err(e.clone()), "error not kept");
                    return (records, Err(e));
                }
            }
        }
        let used: usize = records.iter().map(|r| HEADER_LEN + r.2.len()).sum();
        assert!(used + buf.len() <= fed, "decoded more than was fed");
    }
    (records, Ok(buf.to_vec()))
}

/// Cut `input` into reads whose lengths come from `sizes` (0 means one byte), cycling.
fn reads<'a>(input: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = usize::from(*sizes.next().unwrap_or(&0))
            .max(1)
            .min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

/// Pairs made from fuzz bytes: each takes a size class byte, two length bytes and a fill
/// byte, so names and values of 0 to ~200 KB come from a few input bytes.
fn make_pairs(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let len = |class: u8, n: u8| -> usize {
        match class % 4 {
            0 => usize::from(n % 128),
            1 => 120 + usize::from(n),
            2 => 65_000 + usize::from(n) * 8,
            _ => usize::from(n) * 800,
        }
    };
    data.chunks_exact(4)
        .take(24)
        .map(|c| {
            let name = vec![c[3]; len(c[0], c[1]) % 300];
            let value = vec![c[3].wrapping_add(1); len(c[0] >> 2, c[2])];
            (name, value)
        })
        .collect()
}

fn roundtrip(data: &[u8]) {
    let pairs = make_pairs(data);
    let id = u16::from_be_bytes([data.first().copied().unwrap_or(1), 1]);
    let mut buf = empty_buffer(RecordDecoder::decode);
    encode_params(&mut buf, id, pairs.iter().map(|(n, v)| (n, v))).expect("short pairs");
    let (records, left) = feed(&RecordDecoder::from_client(), [&buf[..]]);
    assert_eq!(left, Ok(vec![]), "encoded params did not decode whole");
    let mut stream = Vec::new();
    let mut at = 0;
    for (kind, rid, c) in &records {
        assert_eq!((*kind, *rid), (RecordType::Params, id));
        assert!(!c.is_empty() && c.len() <= MAX_ENCODED_CONTENT);
        let padding = usize::from(buf[at + 6]);
        assert_eq!((c.len() + padding) % 8, 0, "not padded to 8");
        assert!(c.len() + padding <= 0xffff, "over php-fpm's limit");
        at += HEADER_LEN + c.len() + padding;
        // A record holds whole pairs unless one pair is longer than a record.
        if pairs
            .iter()
            .all(|(n, v)| n.len() + v.len() + 8 <= MAX_ENCODED_CONTENT)
        {
            for pair in Pairs::new(content(Pairs::new, c.clone())) {
                pair.expect("a pair split between records");
            }
        }
        stream.extend_from_slice(c);
    }
    let got: Vec<(Vec<u8>, Vec<u8>)> = Pairs::new(content(Pairs::new, stream))
        .map(|p| {
            p.map(|(n, v)| (n.to_vec(), v.to_vec()))
                .expect("a valid pair")
        })
        .collect();
    assert_eq!(got, pairs);
}

fuzz_target!(|data: &[u8]| {
    // [mode] [n] [n read sizes] [input]
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 0x80 != 0 {
        return roundtrip(rest);
    }
    let Some((&n, rest)) = rest.split_first() else {
        return;
    };
    let (sizes, input) = rest.split_at(usize::from(n % 16).min(rest.len()));
    let decoder = if mode & 1 == 0 {
        RecordDecoder::from_application()
    } else {
        RecordDecoder::from_client()
    };
    let expected = feed(&decoder, [input]);
    assert_eq!(feed(&decoder, input.chunks(1)), expected, "byte by byte");
    assert_eq!(
        feed(&decoder, reads(input, sizes)),
        expected,
        "split at {sizes:?}"
    );
    // Pairs in any record's content end in pairs or one error, never a panic.
    for (_, _, c) in &expected.0 {
        Pairs::new(content(Pairs::new, c.clone())).for_each(drop);
    }
});
