//! FastCGI records: exact encodings, roundtrips, and hostile or oddly split input.

use bytes::{Bytes, BytesMut};

use super::record::*;

/// A raw record: any version, type, lengths and padding, with the padding filled with 0xee.
fn raw(version: u8, kind: u8, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
    let len = u16::try_from(content.len()).expect("test content fits a record");
    let mut out = vec![version, kind];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[padding, 0]);
    out.extend_from_slice(content);
    out.extend(std::iter::repeat_n(0xee, usize::from(padding)));
    out
}

/// A version-1 record.
fn rec(kind: RecordType, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
    raw(VERSION_1, kind as u8, id, content, padding)
}

/// Every record decoded after feeding `reads` in turn, and how it ended: `Ok(left)` with the
/// bytes still buffered, or the first error.
fn feed<'a>(
    mut decoder: RecordDecoder,
    reads: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Record>, Result<Vec<u8>, RecordError>) {
    let mut buf = BytesMut::new();
    let mut records = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(r)) => records.push(r),
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(decoder.decode(&mut buf), Err(e.clone()), "error not kept");
                    return (records, Err(e));
                }
            }
        }
    }
    (records, Ok(buf.to_vec()))
}

fn whole(input: &[u8]) -> (Vec<Record>, Result<Vec<u8>, RecordError>) {
    feed(RecordDecoder::from_application(), [input])
}

/// Decode `input` whole, byte by byte, and split in two at every point: all must agree.
fn assert_split_independent(decoder: RecordDecoder, input: &[u8]) {
    let expected = feed(decoder.clone(), [input]);
    let bytes = feed(decoder.clone(), input.chunks(1));
    assert_eq!(bytes, expected, "byte by byte");
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(feed(decoder.clone(), [a, b]), expected, "split at {at}");
    }
}

/// The first error of decoding `input` from an application.
fn error(input: &[u8]) -> RecordError {
    whole(input).1.expect_err("invalid")
}

/// The content of every record in `encoded` (client records), checking each is padded to 8
/// and within php-fpm's limit, and is of `kind` for request `id`.
fn contents(encoded: &[u8], kind: RecordType, id: u16) -> Vec<Bytes> {
    let mut at = 0;
    while at < encoded.len() {
        let header = Header::parse(encoded[at..].first_chunk().expect("a header")).unwrap();
        assert_eq!((header.kind, header.request_id), (kind, id));
        assert_eq!(header.record_len() % 8, 0, "record at {at} not padded to 8");
        assert!(usize::from(header.content_len) + usize::from(header.padding_len) <= 65535);
        at += header.record_len();
    }
    assert_eq!(at, encoded.len(), "the last record is cut");
    let (records, left) = feed(RecordDecoder::from_client(), [encoded]);
    assert_eq!(left, Ok(vec![]));
    records.into_iter().map(|r| r.content).collect()
}

fn pairs_of(content: Bytes) -> Vec<(Vec<u8>, Vec<u8>)> {
    Pairs::new(content)
        .map(|p| {
            p.map(|(n, v)| (n.to_vec(), v.to_vec()))
                .expect("valid pair")
        })
        .collect()
}

fn concat(contents: &[Bytes]) -> Bytes {
    contents.concat().into()
}

// Encoding.

#[test]
fn begin_request_is_the_responder_role_with_or_without_keep_conn() {
    assert_eq!(
        begin_request(0x0102, true),
        [1, 1, 1, 2, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        begin_request(1, false),
        [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    );
    let (records, _) = feed(RecordDecoder::from_client(), [&begin_request(9, true)[..]]);
    let begin = BeginRequest::parse(&records[0].content).unwrap();
    assert_eq!((begin.role, begin.keep_conn), (ROLE_RESPONDER, true));
}

#[test]
fn abort_and_stream_terminators_are_bare_headers() {
    assert_eq!(abort_request(0xabcd), [1, 2, 0xab, 0xcd, 0, 0, 0, 0]);
    assert_eq!(params_end(1), [1, 4, 0, 1, 0, 0, 0, 0]);
    assert_eq!(stdin_end(65535), [1, 5, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(stream_end(RecordType::Stdout, 3), [1, 6, 0, 3, 0, 0, 0, 0]);
}

#[test]
fn stdin_is_padded_to_8_and_split_below_php_fpms_limit() {
    let mut buf = BytesMut::new();
    encode_stdin(&mut buf, 7, b"hello");
    assert_eq!(buf.len(), 16);
    assert_eq!(&buf[..13], &rec(RecordType::Stdin, 7, b"hello", 3)[..13]);
    assert_eq!(&buf[13..], [0, 0, 0], "padding is zeros");

    for (len, records) in [
        (0, 0),
        (1, 1),
        (MAX_ENCODED_CONTENT, 1),
        (MAX_ENCODED_CONTENT + 1, 2),
        (65535, 2),
        (200_000, 4),
    ] {
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut buf = BytesMut::new();
        encode_stdin(&mut buf, 7, &body);
        let got = contents(&buf, RecordType::Stdin, 7);
        assert_eq!(got.len(), records, "{len} bytes");
        assert!(
            got.iter()
                .all(|c| !c.is_empty() && c.len() <= MAX_ENCODED_CONTENT)
        );
        assert_eq!(concat(&got), body, "{len} bytes");
    }
}

#[test]
fn stdin_appends_after_what_is_buffered() {
    let mut buf = BytesMut::from(&params_end(1)[..]);
    encode_stdin(&mut buf, 1, &Bytes::from_static(b"a=1"));
    buf.extend_from_slice(&stdin_end(1));
    let (records, left) = feed(RecordDecoder::from_client(), [&buf[..]]);
    assert_eq!(left, Ok(vec![]));
    let kinds: Vec<_> = records.iter().map(|r| (r.kind, r.content.len())).collect();
    assert_eq!(
        kinds,
        [
            (RecordType::Params, 0),
            (RecordType::Stdin, 3),
            (RecordType::Stdin, 0)
        ]
    );
}

#[test]
fn pair_lengths_take_one_byte_below_128_and_four_bytes_above() {
    let mut buf = BytesMut::new();
    let value = vec![b'v'; 128];
    encode_params(&mut buf, 1, [(&b"A"[..], &b"xy"[..]), (b"B", &value)]).unwrap();
    let content = &contents(&buf, RecordType::Params, 1)[0];
    assert_eq!(&content[..5], [1, 2, b'A', b'x', b'y']);
    assert_eq!(&content[5..10], [1, 0x80, 0, 0, 128]);
    assert_eq!(content.len(), 5 + 5 + 1 + 128);
}

#[test]
fn params_roundtrip_with_long_names_and_values() {
    let long = |n: usize| -> Vec<u8> { (0..n).map(|i| b'a' + (i % 26) as u8).collect() };
    let pairs = vec![
        (b"SCRIPT_FILENAME".to_vec(), b"/srv/www/index.php".to_vec()),
        (b"EMPTY".to_vec(), vec![]),
        (vec![], b"no name".to_vec()),
        (long(127), long(127)),
        (long(128), long(128)),
        (b"HTTP_COOKIE".to_vec(), long(65535)),
        (b"HTTP_X_BIG".to_vec(), long(70_000)),
        (long(200_000), b"after".to_vec()),
    ];
    let mut buf = BytesMut::new();
    encode_params(&mut buf, 42, pairs.iter().map(|(n, v)| (n, v))).unwrap();
    let got = pairs_of(concat(&contents(&buf, RecordType::Params, 42)));
    assert_eq!(got, pairs);
}

#[test]
fn a_pair_that_fits_a_record_is_never_split_between_two() {
    // php-fpm parses each PARAMS record alone: every record must hold whole pairs.
    let pairs: Vec<(String, String)> = (0..40)
        .map(|i| (format!("HTTP_X_{i}"), "v".repeat(5000 + i)))
        .collect();
    let mut buf = BytesMut::new();
    encode_params(&mut buf, 1, pairs.iter().map(|(n, v)| (n, v))).unwrap();
    let records = contents(&buf, RecordType::Params, 1);
    assert!(records.len() > 3, "{} records", records.len());
    let mut got = Vec::new();
    for content in records {
        got.extend(pairs_of(content));
    }
    let expected: Vec<_> = pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_pair_of_exactly_one_record_fills_it_without_padding() {
    // 1 + 4 + 1 name byte + value = 65528.
    let value = vec![b'x'; MAX_ENCODED_CONTENT - 6];
    let mut buf = BytesMut::new();
    encode_params(&mut buf, 1, [(b"a".as_slice(), value.as_slice())]).unwrap();
    assert_eq!(buf.len(), HEADER_LEN + MAX_ENCODED_CONTENT);
    assert_eq!(buf[6], 0, "padding");
    let records = contents(&buf, RecordType::Params, 1);
    assert_eq!(pairs_of(records[0].clone()).len(), 1);
}

#[test]
fn no_pairs_write_nothing() {
    let mut buf = BytesMut::new();
    encode_params(&mut buf, 1, Vec::<(&[u8], &[u8])>::new()).unwrap();
    assert!(buf.is_empty());
}

#[test]
fn a_value_over_31_bits_is_refused_and_nothing_is_written() {
    // calloc'd and never touched: the length is checked before any byte is copied.
    let huge = vec![0u8; MAX_PAIR_LEN + 1];
    let mut buf = BytesMut::from(&b"kept"[..]);
    let result = encode_params(&mut buf, 1, [(&b"A"[..], &b"1"[..]), (b"B", &huge)]);
    assert_eq!(result, Err(EncodeError::PairTooLong(MAX_PAIR_LEN + 1)));
    assert_eq!(&buf[..], b"kept");
}

// Decoding.

#[test]
fn a_response_decodes_into_records_whatever_the_split() {
    let mut input = rec(
        RecordType::Stdout,
        1,
        b"Content-Type: text/plain\r\n\r\nhi",
        2,
    );
    input.extend(rec(RecordType::Stderr, 1, b"PHP Notice: x", 0));
    input.extend(rec(RecordType::Stdout, 1, b"", 0));
    input.extend(rec(RecordType::EndRequest, 1, &[0, 0, 1, 2, 0, 0, 0, 0], 0));
    input.extend(rec(
        RecordType::GetValuesResult,
        0,
        b"\x0e\x02FCGI_MAX_CONNS10",
        6,
    ));
    let (records, left) = whole(&input);
    assert_eq!(left, Ok(vec![]));
    let shape: Vec<_> = records.iter().map(|r| (r.kind, r.request_id)).collect();
    use RecordType as T;
    assert_eq!(
        shape,
        [
            (T::Stdout, 1),
            (T::Stderr, 1),
            (T::Stdout, 1),
            (T::EndRequest, 1),
            (T::GetValuesResult, 0)
        ]
    );
    assert_eq!(
        records[0].content,
        &b"Content-Type: text/plain\r\n\r\nhi"[..]
    );
    assert!(records[2].content.is_empty(), "the stream's end");
    let end = EndRequest::parse(&records[3].content).unwrap();
    assert_eq!(end.app_status, 0x0102);
    assert_eq!(end.protocol_status, ProtocolStatus::RequestComplete);
    let values: Vec<_> = records[4].pairs().collect::<Result<_, _>>().unwrap();
    assert_eq!(values, [(Bytes::from("FCGI_MAX_CONNS"), Bytes::from("10"))]);
    assert_split_independent(RecordDecoder::from_application(), &input);
}

#[test]
fn a_partial_record_is_left_buffered_and_what_follows_stays() {
    let first = rec(RecordType::Stdout, 1, b"abc", 5);
    let mut input = first.clone();
    input.extend(&rec(RecordType::Stdout, 1, b"defgh", 3)[..9]);
    let (records, left) = whole(&input);
    assert_eq!(records.len(), 1);
    assert_eq!(left, Ok(input[first.len()..].to_vec()));
}

#[test]
fn content_is_split_off_the_buffer_without_copying() {
    let mut buf = BytesMut::from(&rec(RecordType::Stdout, 1, b"zero copy", 7)[..]);
    let start = buf.as_ptr() as usize;
    let record = RecordDecoder::from_application()
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(record.content.as_ptr() as usize, start + HEADER_LEN);
    assert!(buf.is_empty(), "padding consumed");
}

#[test]
fn once_the_header_is_in_room_is_reserved_for_the_rest() {
    let input = rec(RecordType::Stdout, 1, &[b'x'; 40_000], 255);
    let mut buf = BytesMut::from(&input[..HEADER_LEN]);
    let mut decoder = RecordDecoder::from_application();
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(buf.capacity() >= input.len());
    assert_eq!(buf.len(), HEADER_LEN, "nothing consumed");
}

#[test]
fn truncated_headers_and_content_need_more_then_fail_at_the_end() {
    let input = rec(RecordType::Stdout, 1, b"hello", 3);
    for cut in 1..input.len() {
        let mut buf = BytesMut::from(&input[..cut]);
        let mut decoder = RecordDecoder::from_application();
        assert_eq!(decoder.decode(&mut buf), Ok(None), "cut at {cut}");
        assert_eq!(buf.len(), cut);
        let need = if cut < HEADER_LEN { 8 } else { 16 };
        let e = decoder.finish(&buf).expect_err("cut");
        assert_eq!(e, RecordError::Truncated { have: cut, need });
        assert!(e.to_string().contains("ended"), "{e}");
    }
    let decoder = RecordDecoder::from_application();
    assert_eq!(decoder.finish(&BytesMut::new()), Ok(()));
}

#[test]
fn a_length_lying_past_the_end_waits_and_is_cut_at_the_end() {
    let mut input = raw(1, 6, 1, b"only this", 0);
    input[4..6].copy_from_slice(&65535u16.to_be_bytes());
    let mut buf = BytesMut::from(&input[..]);
    let mut decoder = RecordDecoder::from_application();
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(
        decoder.finish(&buf),
        Err(RecordError::Truncated {
            have: input.len(),
            need: 8 + 65535
        })
    );
}

#[test]
fn the_longest_record_with_the_most_padding_decodes() {
    let content: Vec<u8> = (0..MAX_CONTENT).map(|i| i as u8).collect();
    let mut input = rec(RecordType::Stdout, 1, &content, 255);
    input.extend(rec(RecordType::Stdout, 1, b"next", 4));
    let (records, left) = whole(&input);
    assert_eq!(left, Ok(vec![]));
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].content, content);
    assert_eq!(records[1].content, &b"next"[..]);
    // Padding can be any length; 255 is the most, and it is skipped, not read as a header.
    let (records, _) = whole(&rec(RecordType::Stdout, 1, b"", 255));
    assert_eq!(records[0].content.len(), 0);
}

#[test]
fn records_for_other_request_ids_are_returned_as_they_are() {
    let mut input = Vec::new();
    for id in [1, 2, 65535, 1, 300] {
        input.extend(rec(RecordType::Stdout, id, &id.to_be_bytes(), 0));
    }
    let (records, _) = whole(&input);
    let ids: Vec<_> = records.iter().map(|r| r.request_id).collect();
    assert_eq!(ids, [1, 2, 65535, 1, 300]);
    assert!(
        records
            .iter()
            .all(|r| r.content == r.request_id.to_be_bytes()[..])
    );
}

#[test]
fn versions_other_than_1_are_refused_and_nothing_is_consumed() {
    for version in [0, 2, 255] {
        let input = raw(version, 6, 1, b"x", 0);
        let mut buf = BytesMut::from(&input[..]);
        let mut decoder = RecordDecoder::from_application();
        let e = decoder.decode(&mut buf).expect_err("bad version");
        assert_eq!(e, RecordError::WrongVersion(version));
        assert_eq!(buf.len(), input.len());
        assert!(e.to_string().contains("§3.3"), "{e}");
        // Even when the content never arrives: the header alone decides.
        assert_eq!(error(&input[..HEADER_LEN]), e);
        assert_eq!(decoder.finish(&buf), Err(e));
    }
}

#[test]
fn types_outside_fastcgi_1_are_unknown() {
    for kind in [0, 12, 200, 255] {
        let e = error(&raw(1, kind, 1, b"", 0));
        assert_eq!(e, RecordError::UnknownType(kind));
        assert!(e.to_string().contains("FCGI_UNKNOWN_TYPE"), "{e}");
    }
}

#[test]
fn an_application_may_not_send_what_only_a_web_server_sends() {
    use RecordType as T;
    for kind in [
        T::BeginRequest,
        T::AbortRequest,
        T::Params,
        T::Stdin,
        T::Data,
        T::GetValues,
    ] {
        let id = if kind == T::GetValues { 0 } else { 1 };
        let e = error(&rec(kind, id, &[0; 8], 0));
        assert_eq!(
            e,
            RecordError::UnexpectedType {
                kind,
                from: Sender::Application
            }
        );
        assert!(e.to_string().contains(&kind.to_string()), "{e}");
    }
    let (_, end) = feed(
        RecordDecoder::from_client(),
        [&rec(T::Stdout, 1, b"", 0)[..]],
    );
    let e = end.expect_err("stdout from a client");
    assert_eq!(
        e.to_string(),
        "FastCGI FCGI_STDOUT record from the web server: only the application sends it (§4, §5)"
    );
}

#[test]
fn request_id_0_is_for_management_records_only() {
    assert_eq!(
        error(&rec(RecordType::Stdout, 0, b"x", 0)),
        RecordError::MissingRequestId(RecordType::Stdout)
    );
    assert_eq!(
        error(&rec(RecordType::GetValuesResult, 5, b"", 0)),
        RecordError::ManagementRequestId {
            kind: RecordType::GetValuesResult,
            id: 5
        }
    );
    let (records, _) = whole(&rec(
        RecordType::UnknownType,
        0,
        &[42, 0, 0, 0, 0, 0, 0, 0],
        0,
    ));
    assert_eq!(unknown_type(&records[0].content), Ok(42));
}

#[test]
fn an_end_request_shorter_than_8_bytes_is_refused_from_its_header() {
    for len in 0..8 {
        let input = rec(RecordType::EndRequest, 1, &vec![0; len], 0);
        let e = error(&input[..HEADER_LEN]);
        assert_eq!(
            e,
            RecordError::BodyTooShort {
                kind: RecordType::EndRequest,
                len,
                need: 8
            }
        );
        assert!(e.to_string().contains("§5.5"), "{e}");
        assert_eq!(EndRequest::parse(&vec![0; len]), Err(e));
    }
    let e = error(&rec(RecordType::UnknownType, 0, &[1], 7));
    assert!(matches!(e, RecordError::BodyTooShort { len: 1, .. }), "{e}");
    // Longer bodies carry nothing more in 1.0; the first 8 bytes are read.
    let (records, _) = whole(&rec(
        RecordType::EndRequest,
        1,
        &[0, 0, 0, 0, 2, 0, 0, 0, 9],
        7,
    ));
    let end = EndRequest::parse(&records[0].content).unwrap();
    assert_eq!(end.protocol_status, ProtocolStatus::Overloaded);
}

#[test]
fn end_request_statuses_roundtrip_and_unknown_ones_are_refused() {
    use ProtocolStatus as S;
    for status in [
        S::RequestComplete,
        S::CantMpxConn,
        S::Overloaded,
        S::UnknownRole,
    ] {
        let end = EndRequest {
            app_status: 0xdead_beef,
            protocol_status: status,
        };
        let (records, left) = whole(&end.encode(77));
        assert_eq!(left, Ok(vec![]));
        assert_eq!(records[0].request_id, 77);
        assert_eq!(EndRequest::parse(&records[0].content), Ok(end));
    }
    assert_eq!(
        EndRequest::parse(&[0, 0, 0, 0, 4, 0, 0, 0]),
        Err(RecordError::UnknownProtocolStatus(4))
    );
}

// Name-value pairs (§3.4).

#[test]
fn a_four_byte_length_of_zero_is_a_length() {
    // 0x80000000 is the 4-byte form of 0: odd but well-formed.
    let content = Bytes::from_static(b"\x80\x00\x00\x00\x01v");
    assert_eq!(pairs_of(content), [(vec![], b"v".to_vec())]);
    let content = Bytes::from_static(b"\x80\x00\x00\x02\x80\x00\x00\x00ab");
    assert_eq!(pairs_of(content), [(b"ab".to_vec(), vec![])]);
}

#[test]
fn huge_declared_pair_lengths_are_refused_without_allocating() {
    let mut pairs = Pairs::new(Bytes::from_static(b"\xff\xff\xff\xff\x01abc"));
    assert_eq!(
        pairs.next(),
        Some(Err(RecordError::PairPastEnd {
            need: 0x7fff_ffff + 1,
            left: 3
        }))
    );
    assert_eq!(pairs.next(), None, "stops after an error");
    let e = Pairs::new(Bytes::from_static(b"\x01\xff\xff\xff\xffa"))
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e,
        RecordError::PairPastEnd {
            need: 0x8000_0000,
            left: 1
        }
    );
    assert!(e.to_string().contains("§3.4"), "{e}");
}

#[test]
fn lengths_cut_by_the_end_of_the_content_are_refused() {
    for content in [
        &b"\x80"[..],
        b"\x80\x00\x00",
        b"\x01",
        b"\x01\x80\x00",
        b"\x02\x01ab",
        b"\x01\x01a",
    ] {
        let got = Pairs::new(Bytes::copy_from_slice(content)).last();
        assert!(matches!(got, Some(Err(_))), "{content:?}: {got:?}");
    }
    assert_eq!(
        Pairs::new(Bytes::from_static(b"\x01\x01ab\x80")).nth(1),
        Some(Err(RecordError::PairLengthTruncated))
    );
}

#[test]
fn pairs_share_the_contents_memory() {
    let content = Bytes::from_static(b"\x03\x02keyvv");
    let (name, value) = Pairs::new(content.clone()).next().unwrap().unwrap();
    assert_eq!(name.as_ptr(), content[2..].as_ptr());
    assert_eq!(value.as_ptr(), content[5..].as_ptr());
}

#[test]
fn hostile_streams_give_the_same_error_whatever_the_split() {
    let mut input = rec(RecordType::Stdout, 1, b"fine", 4);
    input.extend(rec(RecordType::Stderr, 2, b"", 255));
    input.extend(raw(1, 4, 1, b"params from an application", 1));
    assert_split_independent(RecordDecoder::from_application(), &input);
    let mut input = rec(RecordType::Stdout, 1, &[7; 300], 0);
    input.extend(rec(RecordType::EndRequest, 1, b"short", 3));
    assert_split_independent(RecordDecoder::from_application(), &input);
    input.extend(raw(2, 6, 1, b"", 0));
    assert_split_independent(RecordDecoder::from_client(), &input);
}
