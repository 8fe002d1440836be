//! Unit tests for the chunked decoder, many of them hostile; every input is also decoded byte by
//! byte and split at every point, and must give the same result as decoding it whole.

use super::*;

/// How decoding an input ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// `End`, with the bytes that stayed in the buffer after it (and any never fed).
    End(Vec<u8>),
    /// `Ok(None)` after the last piece.
    NeedMore,
    Failed(ChunkedError),
}

/// Feed `pieces` one after another into one buffer, decoding as far as possible after each.
fn feed<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<u8>, Outcome) {
    let mut decoder = ChunkedDecoder::new();
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut pieces = pieces.into_iter();
    while let Some(piece) = pieces.next() {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Chunk::Data(bytes))) => {
                    assert!(!bytes.is_empty(), "empty Data");
                    data.extend_from_slice(&bytes);
                }
                Ok(Some(Chunk::End)) => {
                    assert!(decoder.is_done());
                    // End is sticky and leaves the next request alone.
                    let before = buf.clone();
                    assert_eq!(decoder.decode(&mut buf), Ok(Some(Chunk::End)));
                    assert_eq!(buf, before);
                    let mut rest = buf.to_vec();
                    pieces.for_each(|p| rest.extend_from_slice(p));
                    return (data, Outcome::End(rest));
                }
                Ok(None) => {
                    assert!(buf.is_empty(), "Ok(None) left {buf:?}");
                    assert!(!decoder.is_done());
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

/// Decode `input` whole, byte by byte, and split in two at every point; all must agree.
fn decode(input: &[u8]) -> (Vec<u8>, Outcome) {
    let whole = feed([input]);
    assert!(whole.0.len() <= input.len());
    assert_eq!(feed(input.chunks(1)), whole, "byte by byte: {input:?}");
    if input.len() <= 512 {
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(feed([a, b]), whole, "split at {cut}: {input:?}");
        }
    }
    whole
}

/// The data of a body that must decode completely, with nothing after it.
fn body(input: &[u8]) -> Vec<u8> {
    match decode(input) {
        (data, Outcome::End(rest)) if rest.is_empty() => data,
        other => panic!("{input:?}: {other:?}"),
    }
}

/// The error a hostile body must fail with.
fn error(input: &[u8]) -> ChunkedError {
    match decode(input) {
        (_, Outcome::Failed(e)) => e,
        other => panic!("{input:?}: {other:?}"),
    }
}

#[test]
fn normal_bodies() {
    assert_eq!(
        body(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        b"hello world"
    );
    assert_eq!(body(b"1\r\n\n\r\n1\r\n\r\r\n0\r\n\r\n"), b"\n\r");
    assert_eq!(body(b"0\r\n\r\n"), b"");
    assert_eq!(body(b"000\r\n\r\n"), b"");
}

#[test]
fn data_is_split_off_per_chunk_and_per_read() {
    let mut decoder = ChunkedDecoder::new();
    let mut buf = BytesMut::from(&b"5\r\nhello\r\n3\r\nabc"[..]);
    let data = |s: &'static [u8]| Ok(Some(Chunk::Data(Bytes::from_static(s))));
    assert_eq!(decoder.decode(&mut buf), data(b"hello"));
    assert_eq!(decoder.decode(&mut buf), data(b"abc"));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"\r\n4\r\nde");
    assert_eq!(decoder.decode(&mut buf), data(b"de"));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"fg\r\n0\r\n\r\n");
    assert_eq!(decoder.decode(&mut buf), data(b"fg"));
    assert!(!decoder.is_done());
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Chunk::End)));
    assert!(decoder.is_done());
    assert!(buf.is_empty());
}

#[test]
fn hex_is_case_insensitive() {
    let ten = b"0123456789";
    let mut input = Vec::new();
    for size in ["a", "A", "0A", "0a"] {
        input.extend_from_slice(format!("{size}\r\n").as_bytes());
        input.extend_from_slice(ten);
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(body(&input), ten.repeat(4));
    let big = vec![b'x'; 0xff];
    let input = [&b"fF\r\n"[..], &big, b"\r\n0\r\n\r\n"].concat();
    assert_eq!(body(&input), big);
}

#[test]
fn leading_zeros_are_bounded_by_the_line_limit() {
    assert_eq!(body(b"0005\r\nhello\r\n0\r\n\r\n"), b"hello");
    // 17 digits, but only one significant.
    assert_eq!(body(b"00000000000000001\r\nx\r\n0\r\n\r\n"), b"x");
    // A line of exactly MAX_SIZE_LINE bytes, CRLF included, is accepted; one more is not.
    let line = |zeros: usize| [&"0".repeat(zeros)[..], "1\r\nx\r\n0\r\n\r\n"].concat();
    assert_eq!(body(line(MAX_SIZE_LINE - 3).as_bytes()), b"x");
    assert_eq!(
        error(line(MAX_SIZE_LINE - 2).as_bytes()),
        ChunkedError::SizeLineTooLong
    );
    assert_eq!(
        error("0".repeat(100_000).as_bytes()),
        ChunkedError::SizeLineTooLong
    );
}

#[test]
fn size_overflow() {
    // u64::MAX itself is a valid size: the data just never ends here.
    assert_eq!(
        decode(b"ffffffffffffffff\r\nab"),
        (b"ab".to_vec(), Outcome::NeedMore)
    );
    assert_eq!(error(b"10000000000000000\r\n"), ChunkedError::SizeOverflow);
    assert_eq!(error(b"fffffffffffffffff\r\n"), ChunkedError::SizeOverflow);
    assert_eq!(
        error("f".repeat(1_000).as_bytes()),
        ChunkedError::SizeOverflow
    );
    // The 2^64 wrap that turns a huge size into 0 in a careless parser.
    assert_eq!(
        error(b"10000000000000000\r\n\r\n"),
        ChunkedError::SizeOverflow
    );
}

#[test]
fn sizes_are_bare_hex() {
    let invalid = |byte| ChunkedError::InvalidChunkSize(byte);
    assert_eq!(error(b"-5\r\nhello\r\n"), invalid(b'-'));
    assert_eq!(error(b"+5\r\nhello\r\n"), invalid(b'+'));
    assert_eq!(error(b"0x5\r\nhello\r\n"), invalid(b'x'));
    assert_eq!(error(b"0X5\r\nhello\r\n"), invalid(b'X'));
    assert_eq!(error(b"5h\r\n"), invalid(b'h'));
    assert_eq!(error(b"5.0\r\n"), invalid(b'.'));
    assert_eq!(error(b"g\r\n"), invalid(b'g'));
    assert_eq!(error(b" 5\r\nhello\r\n"), invalid(b' '));
    assert_eq!(error(b"\t5\r\nhello\r\n"), invalid(b'\t'));
    assert_eq!(error(b"\x005\r\n"), invalid(0));
    assert_eq!(error("５\r\n".as_bytes()), invalid(0xef));
    // Whitespace after the size is BWS only before an extension's `;`.
    assert_eq!(
        error(b"5 \r\nhello\r\n"),
        ChunkedError::UnexpectedWhitespace
    );
    assert_eq!(
        error(b"5\t\r\nhello\r\n"),
        ChunkedError::UnexpectedWhitespace
    );
    assert_eq!(error(b"5 5\r\n"), ChunkedError::UnexpectedWhitespace);
    assert_eq!(error(b"0 \r\n\r\n"), ChunkedError::UnexpectedWhitespace);
}

#[test]
fn missing_size() {
    assert_eq!(error(b"\r\n"), ChunkedError::MissingChunkSize);
    assert_eq!(error(b";a=b\r\n"), ChunkedError::MissingChunkSize);
    // No last-chunk: an empty line follows the data.
    assert_eq!(error(b"5\r\nhello\r\n\r\n"), ChunkedError::MissingChunkSize);
    assert_eq!(decode(b""), (Vec::new(), Outcome::NeedMore));
}

#[test]
fn extensions_are_parsed_and_ignored() {
    for line in [
        "5;name",
        "5;name=value",
        "5;a=1;b;c=2",
        "5 ;a",
        "5\t; a = b ;c\t=\td",
        "5;a=\"quoted; = \\\" \\\\ value\"",
        "5;a=\"\"",
        "5;a=\"x\" ;b",
        "5;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~",
    ] {
        let input = format!("{line}\r\nhello\r\n0;last\r\n\r\n");
        assert_eq!(body(input.as_bytes()), b"hello", "{line}");
    }
    assert_eq!(body(b"5;a=\"\xff\\\xfe\"\r\nhello\r\n0\r\n\r\n"), b"hello");
}

#[test]
fn malformed_extensions() {
    let invalid = |byte| ChunkedError::InvalidExtension(byte);
    for (line, expected) in [
        (&b"5;\r\n"[..], invalid(b'\r')),
        (b"5; \r\n", invalid(b'\r')),
        (b"5;=x\r\n", invalid(b'=')),
        (b"5;a=\r\n", invalid(b'\r')),
        (b"5;a==b\r\n", invalid(b'=')),
        (b"5;a@b\r\n", invalid(b'@')),
        (b"5;a=b\"\r\n", invalid(b'"')),
        (b"5;a=\"x\"y\r\n", invalid(b'y')),
        (b"5;a=\"x\x01\"\r\n", invalid(0x01)),
        (b"5;a=\"x\x7f\"\r\n", invalid(0x7f)),
        (b"5;a=\"unterminated\r\n", invalid(b'\r')),
        (b"5;a=\"x\\\x00\"\r\n", invalid(0)),
        (b"5;a b\r\n", ChunkedError::UnexpectedWhitespace),
        (b"5;a \r\n", ChunkedError::UnexpectedWhitespace),
        (b"5;a=b \r\n", ChunkedError::UnexpectedWhitespace),
        (b"5;a=\"b\" \r\n", ChunkedError::UnexpectedWhitespace),
        (b"5 =a\r\n", ChunkedError::UnexpectedWhitespace),
    ] {
        assert_eq!(error(line), expected, "{line:?}");
    }
}

#[test]
fn over_long_extension_lines() {
    // Size, `;`, name, CRLF: exactly MAX_SIZE_LINE bytes is accepted.
    let line = |name: usize| format!("5;{}\r\nhello\r\n0\r\n\r\n", "a".repeat(name));
    assert_eq!(body(line(MAX_SIZE_LINE - 4).as_bytes()), b"hello");
    assert_eq!(
        error(line(MAX_SIZE_LINE - 3).as_bytes()),
        ChunkedError::SizeLineTooLong
    );
    let quoted = format!("1;a=\"{}", " ".repeat(10_000));
    assert_eq!(error(quoted.as_bytes()), ChunkedError::SizeLineTooLong);
}

#[test]
fn extensions_are_bounded_per_body() {
    // Every extension byte counts, from `;` to the CR: here 1 + 1023 per chunk.
    let chunks = |n: usize| {
        let chunk = format!("1;{}\r\nx\r\n", "a".repeat(1023));
        format!("{}0\r\n\r\n", chunk.repeat(n))
    };
    let n = MAX_EXTENSIONS / 1024;
    assert_eq!(body(chunks(n).as_bytes()), b"x".repeat(n));
    let (data, outcome) = decode(chunks(n + 1).as_bytes());
    assert_eq!(data, b"x".repeat(n));
    assert_eq!(outcome, Outcome::Failed(ChunkedError::ExtensionsTooLong));
}

#[test]
fn bare_lf_is_rejected_everywhere() {
    use Section::*;
    for (input, section) in [
        (&b"5\nhello\r\n0\r\n\r\n"[..], SizeLine),
        (b"\n", SizeLine),
        (b"0\n\r\n", SizeLine),
        (b"5;a\nhello\r\n", SizeLine),
        (b"5;a=b\nhello\r\n", SizeLine),
        (b"5;a=\"b\n\"\r\n", SizeLine),
        (b"5 \n", SizeLine),
        (b"5\r\nhello\n0\r\n\r\n", AfterData),
        (b"0\r\n\n", Trailers),
        (b"0\r\nA: b\n\r\n", Trailers),
        (b"0\r\nA\n", Trailers),
        (b"0\r\nA: b\r\n\n", Trailers),
    ] {
        assert_eq!(error(input), ChunkedError::BareLf(section), "{input:?}");
    }
}

#[test]
fn bare_cr_is_rejected_everywhere() {
    use Section::*;
    for (input, section) in [
        (&b"5\rhello\r\n"[..], SizeLine),
        (b"5\r\r\n", SizeLine),
        (b"5;a\r \n", SizeLine),
        (b"5\r\nhello\rX0\r\n\r\n", AfterData),
        (b"5\r\nhello\r\r\n", AfterData),
        (b"0\r\nA: b\rc\r\n\r\n", Trailers),
        (b"0\r\n\rX", Trailers),
        (b"0\r\n\r\r\n", Trailers),
    ] {
        assert_eq!(error(input), ChunkedError::BareCr(section), "{input:?}");
    }
}

#[test]
fn data_must_end_in_crlf() {
    let not_crlf = |byte| ChunkedError::DataNotFollowedByCrlf(byte);
    assert_eq!(error(b"5\r\nhelloX\r\n0\r\n\r\n"), not_crlf(b'X'));
    assert_eq!(error(b"5\r\nhello0\r\n\r\n"), not_crlf(b'0'));
    // Data longer than declared: only the declared bytes are ever returned as data.
    assert_eq!(
        decode(b"3\r\nhello\r\n0\r\n\r\n"),
        (b"hel".to_vec(), Outcome::Failed(not_crlf(b'l')))
    );
    // Data shorter than declared swallows the framing after it, which then cannot parse.
    assert_eq!(
        decode(b"5\r\nhi\r\n0\r\n\r\n"),
        (
            b"hi\r\n0".to_vec(),
            Outcome::Failed(ChunkedError::MissingChunkSize)
        )
    );
    // The classic smuggling shape: a second request hidden after an understated size.
    let smuggle = b"1\r\nxGET /admin HTTP/1.1\r\n\r\n0\r\n\r\n";
    assert_eq!(
        decode(smuggle),
        (b"x".to_vec(), Outcome::Failed(not_crlf(b'G')))
    );
}

#[test]
fn trailers_are_parsed_and_discarded() {
    assert_eq!(
        body(b"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum:abc\r\n\r\n"),
        b"hello"
    );
    assert_eq!(body(b"0\r\nA:\r\n\r\n"), b"");
    assert_eq!(body(b"0\r\nA: \t\xff\x01b c \t\r\n\r\n"), b"");
    assert_eq!(body(b"0\r\n!#$%&'*+-.^_`|~09AZaz: x\r\n\r\n"), b"");
}

#[test]
fn the_next_request_stays_in_the_buffer() {
    let next = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for framing in [
        &b"5\r\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhello\r\n0\r\nA: b\r\n\r\n",
    ] {
        let input = [framing, next].concat();
        assert_eq!(
            decode(&input),
            (b"hello".to_vec(), Outcome::End(next.to_vec()))
        );
    }
    // Even when the next bytes look like more framing.
    assert_eq!(
        decode(b"0\r\n\r\n\r\n0\r\n\r\n"),
        (Vec::new(), Outcome::End(b"\r\n0\r\n\r\n".to_vec()))
    );
}

#[test]
fn over_long_trailers() {
    // One field line filling the section exactly: "X: " + value + CRLF, then the final CRLF.
    let one = |value: usize| format!("0\r\nX: {}\r\n\r\n", "a".repeat(value));
    assert_eq!(body(one(MAX_TRAILER_SECTION - 7).as_bytes()), b"");
    assert_eq!(
        error(one(MAX_TRAILER_SECTION - 6).as_bytes()),
        ChunkedError::TrailersTooLong
    );
    let many = format!("0\r\n{}", "A: b\r\n".repeat(10_000));
    assert_eq!(error(many.as_bytes()), ChunkedError::TrailersTooLong);
    let name = format!("0\r\n{}", "a".repeat(100_000));
    assert_eq!(error(name.as_bytes()), ChunkedError::TrailersTooLong);
}

#[test]
fn obs_fold_in_trailers() {
    assert_eq!(error(b"0\r\nA: b\r\n c\r\n\r\n"), ChunkedError::ObsFold);
    assert_eq!(error(b"0\r\nA: b\r\n\tc\r\n\r\n"), ChunkedError::ObsFold);
    // Whitespace before the first field folds nothing; it is just not a name.
    assert_eq!(
        error(b"0\r\n A: b\r\n\r\n"),
        ChunkedError::InvalidTrailerName(b' ')
    );
}

#[test]
fn nul_in_trailer_values() {
    assert_eq!(
        error(b"0\r\nA: b\0c\r\n\r\n"),
        ChunkedError::NulInTrailerValue
    );
}

#[test]
fn invalid_trailer_names() {
    let invalid = |byte| ChunkedError::InvalidTrailerName(byte);
    for (input, expected) in [
        (&b"0\r\n: v\r\n\r\n"[..], invalid(b':')),
        (b"0\r\nA(b): c\r\n\r\n", invalid(b'(')),
        (b"0\r\nA\"b: c\r\n\r\n", invalid(b'"')),
        (b"0\r\nA\0: c\r\n\r\n", invalid(0)),
        ("0\r\nÄ: c\r\n\r\n".as_bytes(), invalid(0xc3)),
        (b"0\r\nA : c\r\n\r\n", ChunkedError::WhitespaceBeforeColon),
        (b"0\r\nA\t: c\r\n\r\n", ChunkedError::WhitespaceBeforeColon),
        (b"0\r\nA B: c\r\n\r\n", ChunkedError::WhitespaceBeforeColon),
        (b"0\r\nnocolon\r\n\r\n", ChunkedError::MissingColon),
    ] {
        assert_eq!(error(input), expected, "{input:?}");
    }
}

#[test]
fn large_chunks_stream_in_reads() {
    let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let input = [
        format!("{:x}\r\n", data.len()).as_bytes(),
        &data,
        b"\r\n0\r\n\r\n",
    ]
    .concat();
    for read in [1, 7, 4096, 65_536, input.len()] {
        assert_eq!(
            feed(input.chunks(read)),
            (data.clone(), Outcome::End(Vec::new()))
        );
    }
}

#[test]
fn messages_say_what_to_fix() {
    assert_eq!(
        ChunkedError::BareLf(Section::AfterData).to_string(),
        "bare LF in the line ending after chunk data: chunked framing lines must end in CRLF \
         (RFC 9112 §7.1)"
    );
    assert_eq!(
        ChunkedError::InvalidChunkSize(b'x').to_string(),
        "invalid byte 'x' in a chunk size: sizes are bare hex digits, with no sign, `0x` prefix \
         or spaces (RFC 9112 §7.1)"
    );
    assert_eq!(
        ChunkedError::InvalidTrailerName(0).to_string(),
        "invalid byte 0x00 in a trailer field name: names are tokens (RFC 9110 §5.1)"
    );
    assert!(ChunkedError::SizeLineTooLong.to_string().contains("4096"));
}

#[test]
fn every_three_way_split_gives_the_same_result() {
    let input = b"3;a=\"x;y\"\r\nabc\r\n00A ; b\r\n0123456789\r\n0\r\nX-T: v\r\n\r\nNEXT";
    let whole = (b"abc0123456789".to_vec(), Outcome::End(b"NEXT".to_vec()));
    assert_eq!(decode(input), whole);
    for i in 0..=input.len() {
        for j in i..=input.len() {
            let pieces = [&input[..i], &input[i..j], &input[j..]];
            assert_eq!(feed(pieces), whole, "split at {i}, {j}");
        }
    }
}
