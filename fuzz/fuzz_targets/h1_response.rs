//! Fuzz `handlers::proxy::codec::ResponseParser` on an upstream's bytes: it never panics; the
//! outcome, errors included, does not depend on where the input was split into reads; a head
//! it returns leaves a suffix of the input in the buffer; what it accepts can be written back
//! as a head that parses to the same thing (a proxy forwards what it parsed); and the body
//! after it decodes without panicking and never yields more bytes than were there.
#![no_main]

use http::{Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use usher::handlers::proxy::codec::{
    BodyDecoder, BodyError, ResponseError, ResponseHead, ResponseParser,
};
use usher::http::chunked::Chunk;

type Parse<B> = fn(&mut ResponseParser, &mut B) -> Result<Option<ResponseHead>, ResponseError>;

/// An empty buffer of the type the parser reads from, named by inference so that this crate
/// needs no `bytes` dependency of its own.
fn empty_buffer<B: Default>(_parse: Parse<B>) -> B {
    B::default()
}

/// How parsing ended, comparable across splits.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The head's debug form and the bytes left after it.
    Head(String, Vec<u8>),
    NeedMore,
    Failed(ResponseError),
}

fn method(flags: u8) -> Method {
    match flags % 4 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::CONNECT,
        _ => Method::POST,
    }
}

fuzz_target!(|data: &[u8]| {
    // Byte 0 chooses the method and whether an upgrade was asked for; bytes 1-2 where to
    // split; the rest is the input.
    let Some((&[flags, s0, s1], input)) = data.split_first_chunk::<3>() else {
        return;
    };
    let (method, upgrade) = (method(flags), flags & 4 != 0);

    let mut parser = ResponseParser::new(&method, upgrade);
    let mut buf = empty_buffer(ResponseParser::parse);
    buf.extend_from_slice(input);
    let result = parser.parse(&mut buf);
    assert!(
        input.ends_with(&buf),
        "the buffer is not what is left of the input"
    );
    let whole = match result {
        Ok(Some(head)) => {
            assert!(buf.len() < input.len(), "a head from no bytes");
            let rest = buf.to_vec();
            check_round_trip(&method, upgrade, &head);
            check_body(&head, &mut buf, BodyDecoder::decode);
            Outcome::Head(format!("{head:?}"), rest)
        }
        Ok(None) => Outcome::NeedMore,
        Err(e) => Outcome::Failed(e),
    };

    let at = usize::from(u16::from_le_bytes([s0, s1])) % (input.len() + 1);
    let mut parser = ResponseParser::new(&method, upgrade);
    let mut buf = empty_buffer(ResponseParser::parse);
    buf.extend_from_slice(&input[..at]);
    let split = match parser.parse(&mut buf) {
        Ok(None) => {
            buf.extend_from_slice(&input[at..]);
            match parser.parse(&mut buf) {
                Ok(Some(head)) => Outcome::Head(format!("{head:?}"), buf.to_vec()),
                Ok(None) => Outcome::NeedMore,
                Err(e) => Outcome::Failed(e),
            }
        }
        Ok(Some(head)) => {
            let mut rest = buf.to_vec();
            rest.extend_from_slice(&input[at..]);
            Outcome::Head(format!("{head:?}"), rest)
        }
        Err(e) => Outcome::Failed(e),
    };
    assert_eq!(split, whole, "split at {at}");
});

/// Write the head back as a proxy would and parse it again: the same status and fields.
fn check_round_trip(method: &Method, upgrade: bool, head: &ResponseHead) {
    let status = head.parts.status;
    let mut wire = format!("HTTP/1.1 {}\r\n", status.as_u16()).into_bytes();
    for (name, value) in &head.parts.headers {
        wire.extend_from_slice(name.as_str().as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value.as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    let mut buf = empty_buffer(ResponseParser::parse);
    buf.extend_from_slice(&wire);
    let again = ResponseParser::new(method, upgrade)
        .parse(&mut buf)
        .unwrap_or_else(|e| panic!("what was accepted does not parse again: {e}"))
        .expect("a written head is complete");
    assert!(buf.is_empty());
    assert_eq!(again.parts.status, status);
    assert!(status.as_u16() >= 100 && status.as_u16() <= 599);
    assert!(!status.is_informational() || status == StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(again.parts.headers, head.parts.headers);
}

/// Decode what follows the head as its body with `decode` (`BodyDecoder::decode`, passed in
/// so the buffer type is inferred), then the end of the connection.
fn check_body<B: std::ops::Deref<Target = [u8]>>(
    head: &ResponseHead,
    buf: &mut B,
    decode: fn(&mut BodyDecoder, &mut B) -> Result<Option<Chunk>, BodyError>,
) {
    let mut decoder = BodyDecoder::new(head.framing);
    let before = buf.len();
    let mut total = 0;
    while let Ok(Some(Chunk::Data(data))) = decode(&mut decoder, buf) {
        assert!(!data.is_empty(), "empty data");
        total += data.len();
    }
    assert!(total <= before, "more body than input");
    if decoder.at_eof().is_ok() {
        assert!(decoder.is_done());
    }
}
