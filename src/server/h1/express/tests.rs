//! The express lane's key and table: which requests may take it, what tells two apart, and
//! how long an answer is repeated.

use std::mem::MaybeUninit;
use std::time::Duration;

use crate::body::open_file::OpenFile;

use super::*;

/// The key of `raw` (a whole head) under `epoch`, or `None` when it may not take the lane.
fn key_of(raw: &str, epoch: u64) -> Option<Vec<u8>> {
    key_and_persist(raw, epoch).map(|(key, _)| key)
}

/// [`key_of`], and what the connection does after the answer.
fn key_and_persist(raw: &str, epoch: u64) -> Option<(Vec<u8>, Persist)> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 32];
    let mut req = httparse::Request::new(&mut []);
    let parsed = req.parse_with_uninit_headers(raw.as_bytes(), &mut fields);
    assert!(
        matches!(parsed, Ok(httparse::Status::Complete(_))),
        "{raw:?}"
    );
    let mut out = Vec::new();
    key(&req, epoch, &mut out).map(|persist| (out, persist))
}

/// `GET /a` with `fields` (each a whole line without its CRLF).
fn get(fields: &[&str]) -> String {
    let mut raw = String::from("GET /a HTTP/1.1\r\n");
    for field in fields {
        raw.push_str(field);
        raw.push_str("\r\n");
    }
    raw + "\r\n"
}

#[test]
fn only_a_get_in_http_1_in_origin_form_takes_the_lane() {
    let one_one = key_of("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    let one_zero = key_of("GET /a HTTP/1.0\r\nHost: x\r\n\r\n", 1);
    assert!(one_one.is_some() && one_zero.is_some());
    assert_ne!(one_one, one_zero, "the version is in the key");
    for raw in [
        "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "get /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /a HTTP/1.0\r\nHost: x\r\n\r\n",
        "GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        assert_eq!(key_of(raw, 1), None, "{raw:?}");
    }
}

/// Fields that change how the connection reads or answers keep a request out of the lane,
/// in any case; one `Connection` naming `keep-alive` or `close` alone does not change the
/// key (only what the connection does after the answer).
#[test]
fn framing_and_connection_fields_keep_a_request_out() {
    for field in [
        "Content-Length: 0",
        "content-length: 5",
        "Transfer-Encoding: chunked",
        "Expect: 100-continue",
        "Upgrade: websocket",
        "HTTP2-Settings: AAMAAABkAAQAAP__",
        "CONNECTION: Upgrade",
        "Connection: keep-alive, Upgrade",
        "Connection: close, keep-alive",
        "Connection: TE",
        "Connection: keep-alive\r\nConnection: close",
        "Connection: close\r\nConnection: close",
    ] {
        assert_eq!(key_of(&get(&["Host: x", field]), 1), None, "{field}");
    }
    let plain = key_of(&get(&["Host: x"]), 1);
    assert!(plain.is_some());
    for field in [
        "Connection: keep-alive",
        "connection: Keep-Alive",
        "Connection: close",
        "Connection: CLOSE",
    ] {
        assert_eq!(key_of(&get(&["Host: x", field]), 1), plain, "{field}");
    }
}

/// Whether the connection stays open after a repeat, and what the answer says of it, as
/// `http::persistence::persistent` and the writer decide for the slow way (RFC 9112 §9.3).
#[test]
fn the_version_and_connection_decide_what_follows_a_repeat() {
    let cases = [
        ("1.1", "", Persist::Open),
        ("1.1", "Connection: keep-alive\r\n", Persist::Open),
        ("1.1", "Connection: close\r\n", Persist::Close),
        ("1.1", "connection: Close\r\n", Persist::Close),
        ("1.0", "", Persist::Close),
        ("1.0", "Connection: Keep-Alive\r\n", Persist::OpenSaid),
        ("1.0", "Connection: close\r\n", Persist::Close),
    ];
    for (version, field, expected) in cases {
        let raw = format!("GET /a HTTP/{version}\r\nHost: x\r\n{field}\r\n");
        let (_, persist) = key_and_persist(&raw, 1).unwrap();
        assert_eq!(persist, expected, "{raw:?}");
    }
}

/// What browsers send that no part of a files route reads does not change the key; every
/// other field does, by name, value, case and order, and so does the epoch and the target.
#[test]
fn the_key_holds_every_field_a_files_route_may_read() {
    let base = key_of(&get(&["Host: x", "Accept: */*"]), 1).unwrap();
    for field in [
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Referer: http://x/other.html",
        "Cookie: session=abc",
        "Cache-Control: no-cache",
        "Pragma: no-cache",
        "DNT: 1",
        "Priority: u=2",
        "Upgrade-Insecure-Requests: 1",
        "Sec-Fetch-Site: same-origin",
        "Sec-Fetch-User: ?1",
        "Sec-Fetch-Dest: script",
        "sec-ch-ua: \"Chromium\";v=\"128\"",
        "Sec-CH-UA-Mobile: ?0",
        "sec-ch-ua-platform: \"Linux\"",
    ] {
        let with = key_of(&get(&["Host: x", field, "Accept: */*"]), 1);
        assert_eq!(with.as_deref(), Some(&base[..]), "{field}");
    }
    let differ = |fields: &[&str], epoch: u64| {
        let other = key_of(&get(fields), epoch).unwrap();
        assert_ne!(other, base, "{fields:?} under {epoch}");
    };
    differ(&["Host: x", "Accept: */*"], 2);
    differ(&["Host: y", "Accept: */*"], 1);
    differ(&["host: x", "Accept: */*"], 1);
    differ(&["Accept: */*", "Host: x"], 1);
    differ(&["Host: x", "Accept: text/html"], 1);
    differ(&["Host: x", "Accept: */*", "Accept: */*"], 1);
    differ(&["Host: x"], 1);
    for field in [
        "Range: bytes=0-1",
        "If-None-Match: \"e\"",
        "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
        "If-Range: \"e\"",
        "Authorization: Basic dTpw",
        "Origin: http://y",
        "Accept-Language: fr",
        // A route may serve a precompressed sibling by it.
        "Accept-Encoding: gzip",
        "Sec-Fetch-Mode: navigate",
        "X-Anything: 1",
        "TE: trailers",
    ] {
        differ(&["Host: x", "Accept: */*", field], 1);
    }
    let other_target = key_of("GET /b HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 1);
    assert_ne!(other_target.unwrap(), base);
    let query = key_of("GET /a?v=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 1);
    assert_ne!(query.unwrap(), base);
}

/// Heads that a naive joining of target, names and values would make alike get different
/// keys: each piece is closed by a byte it cannot hold.
#[test]
fn pieces_cannot_run_into_each_other() {
    let pairs = [
        (get(&["A: b", "C: d"]), get(&["A: bC: d"])),
        (get(&["Ab: c"]), get(&["A: bc"])),
        (get(&["A: b", "C: d"]), get(&["A: b\tC: d"])),
        (
            "GET /a:b HTTP/1.1\r\n\r\n".to_owned(),
            "GET /a HTTP/1.1\r\nb:\r\n\r\n".to_owned(),
        ),
    ];
    for (one, other) in pairs {
        let (one_key, other_key) = (key_of(&one, 1), key_of(&other, 1));
        assert!(
            one_key.is_some() && other_key.is_some(),
            "{one:?} {other:?}"
        );
        assert_ne!(one_key, other_key, "{one:?} and {other:?}");
    }
}

#[test]
fn a_key_too_long_keeps_the_request_out() {
    let fits = "x".repeat(MAX_KEY - 100);
    assert!(key_of(&get(&["Host: x", &format!("X-Big: {fits}")]), 1).is_some());
    let over = "x".repeat(MAX_KEY);
    assert_eq!(
        key_of(&get(&["Host: x", &format!("X-Big: {over}")]), 1),
        None
    );
    // Ignored fields do not count: they are left out of the key.
    assert!(key_of(&get(&["Host: x", &format!("Cookie: {over}")]), 1).is_some());
}

fn answer(body: &'static str, for_ms: u64) -> Answer {
    let fresh_until = Instant::now() + Duration::from_millis(for_ms);
    let lines = b"content-type: text/plain\r\n";
    Answer::new(
        StatusCode::OK,
        lines,
        Bytes::from_static(body.as_bytes()),
        fresh_until,
    )
}

/// The answer's bytes: head, `Date` and `Server`, empty line, body.
#[test]
fn an_answer_is_its_head_then_date_server_and_body() {
    let mut out = b"earlier".to_vec();
    assert!(matches!(
        answer("hello", 1000).put(Persist::Open, &|| None, &mut out),
        Some(None)
    ));
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "hello");
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "earlierHTTP/1.1 200 OK");
    assert_eq!(
        lines[1..3],
        ["content-type: text/plain", "content-length: 5"]
    );
    assert!(
        lines[3].starts_with("date: ") && lines[3].ends_with(" GMT"),
        "{lines:?}"
    );
    assert_eq!(lines[4..], ["server: usher"]);
}

/// A repeat that states its connection option says it where the writer would: after the
/// content's length, before `Date`.
#[test]
fn a_repeat_states_close_or_keep_alive_before_its_date() {
    for (persist, line) in [
        (Persist::Close, "connection: close"),
        (Persist::OpenSaid, "connection: keep-alive"),
    ] {
        let mut out = Vec::new();
        assert!(
            answer("hello", 1000)
                .put(persist, &|| None, &mut out)
                .is_some()
        );
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "hello");
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines[2..4], ["content-length: 5", line], "{lines:?}");
        assert!(lines[4].starts_with("date: "), "{lines:?}");
        assert_eq!(lines[5..], ["server: usher"]);
    }
}

/// Keys that share a slot, found by trying: the table must tell them apart by the whole key.
fn two_keys_in_one_slot() -> (Vec<u8>, Vec<u8>) {
    let first = b"k0".to_vec();
    let slot = slot_of(&first);
    let other = (1..100_000)
        .map(|i| format!("k{i}").into_bytes())
        .find(|k| slot_of(k) == slot)
        .expect("a key in the same slot among 100 000");
    (first, other)
}

#[test]
fn an_answer_is_put_only_for_its_whole_key_while_fresh() {
    let (one, other) = two_keys_in_one_slot();
    remember(one.clone().into_boxed_slice(), answer("one", 60_000));
    let mut out = Vec::new();
    assert!(
        put(&other, Persist::Open, &|| None, &mut out).is_none(),
        "a key sharing the slot took its answer"
    );
    assert!(out.is_empty());
    assert!(put(&one, Persist::Open, &|| None, &mut out).is_some());
    assert!(out.ends_with(b"one"));
    // The other key's answer takes the slot.
    remember(other.clone().into_boxed_slice(), answer("other", 60_000));
    assert!(put(&one, Persist::Open, &|| None, &mut Vec::new()).is_none());
    let mut out = Vec::new();
    assert!(put(&other, Persist::Open, &|| None, &mut out).is_some() && out.ends_with(b"other"));

    // Past its freshness, an answer is not put, and is dropped.
    remember(one.clone().into_boxed_slice(), answer("stale", 0));
    assert!(put(&one, Persist::Open, &|| None, &mut Vec::new()).is_none());
    let dropped = TABLE.with_borrow(|table| table[slot_of(&one)].is_none());
    assert!(dropped);
}

/// `lookup` answers a keyed request it has the answer to, gives the key of one it has not,
/// and refuses one that cannot take the lane.
#[test]
fn lookup_puts_misses_or_refuses() {
    let raw = get(&["Host: lookup.example"]);
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 4];
    let mut req = httparse::Request::new(&mut []);
    req.parse_with_uninit_headers(raw.as_bytes(), &mut fields)
        .unwrap();
    let mut out = Vec::new();
    let Lookup::Missed(key) = lookup(&req, 7, &|| None, &mut out) else {
        panic!("not a miss");
    };
    assert!(out.is_empty());
    remember(key, answer("found", 60_000));
    assert!(matches!(
        lookup(&req, 7, &|| None, &mut out),
        Lookup::Put(Persist::Open)
    ));
    assert!(out.ends_with(b"found"));
    assert!(matches!(
        lookup(&req, 8, &|| None, &mut Vec::new()),
        Lookup::Missed(_)
    ));
    req.version = Some(0);
    assert!(matches!(
        lookup(&req, 7, &|| None, &mut Vec::new()),
        Lookup::Missed(_)
    ));
    req.method = Some("HEAD");
    assert!(matches!(
        lookup(&req, 7, &|| None, &mut Vec::new()),
        Lookup::Refused
    ));
}

/// Every listed name is classed as listed, in any case; the lowercasing buffer holds the
/// longest.
#[test]
fn names_are_classed_ignoring_case() {
    for name in IGNORED {
        assert_eq!(class(name.as_bytes()), Class::Ignored, "{name}");
        assert_eq!(class(name.to_ascii_uppercase().as_bytes()), Class::Ignored);
    }
    for name in REFUSED.iter().filter(|n| **n != "connection") {
        assert_eq!(class(name.as_bytes()), Class::Refused, "{name}");
        assert_eq!(class(name.to_ascii_uppercase().as_bytes()), Class::Refused);
    }
    assert_eq!(class(b"Connection"), Class::Connection);
    for name in [
        "accept",
        "host",
        "user-agentx",
        "x-user-agent",
        "",
        &"a".repeat(40),
    ] {
        assert_eq!(class(name.as_bytes()), Class::Keyed, "{name}");
    }
}

/// A file the cache keeps open and holds the bytes of, as a test sees it: unchanged until
/// told otherwise, its bytes held unless told otherwise.
pub(in crate::server::h1) struct Kept {
    open: Arc<OpenFile>,
    bytes: Option<Bytes>,
    changed: std::sync::atomic::AtomicBool,
    _dir: tempfile::TempDir,
}

impl Kept {
    /// A kept file of `bytes`, its bytes held.
    pub(in crate::server::h1) fn new(bytes: &[u8]) -> Arc<Kept> {
        Arc::new(Self::with(bytes, true))
    }

    fn with(bytes: &[u8], held: bool) -> Kept {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        Kept {
            open: Arc::new(OpenFile::kept(file, bytes.len() as u64)),
            bytes: held.then(|| Bytes::copy_from_slice(bytes)),
            changed: std::sync::atomic::AtomicBool::new(false),
            _dir: dir,
        }
    }
}

impl SameFile for Kept {
    fn if_unchanged(&self) -> Option<&Arc<OpenFile>> {
        (!self.changed.load(std::sync::atomic::Ordering::Relaxed)).then_some(&self.open)
    }

    fn bytes(&self) -> Option<&Bytes> {
        self.bytes.as_ref()
    }
}

/// What a repeat of `answer` saying `persist` sends: the image's bytes read back, and the
/// length to send; it must put nothing in the write buffer.
pub(in crate::server::h1) fn image_of(answer: &mut Answer, persist: Persist) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let Some(Some(range)) = answer.put(persist, &|| None, &mut out) else {
        panic!("no file to send");
    };
    assert!(out.is_empty(), "an image's head went to the buffer too");
    (sent(&range), range.len)
}

/// The bytes of `range`, read by offset as `sendfile` reads them.
fn sent(range: &FileRange) -> Vec<u8> {
    let mut bytes = vec![0; range.len as usize];
    std::os::unix::fs::FileExt::read_exact_at(range.file.file(), &mut bytes, range.from).unwrap();
    bytes
}

fn file_answer(kept: Arc<Kept>, len: u64) -> Answer {
    let until = Instant::now() + Duration::from_secs(60);
    let lines = b"content-type: application/octet-stream\r\n";
    Answer::from_file(StatusCode::OK, lines, kept, (0, len), until)
}

fn body_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

/// A file's answer goes out as one image: its head (with this second's `Date`) and the bytes,
/// made once and sent again while the head is the same; each way of closing has its own.
#[test]
fn a_file_answer_is_sent_as_one_image_made_once() {
    let body = body_of(100 * 1024);
    let mut answer = file_answer(Kept::new(&body), body.len() as u64);
    let (image, len) = image_of(&mut answer, Persist::Open);
    assert_eq!(image.len() as u64, len);
    let (head, rest) = image.split_at(image.len() - body.len());
    assert_eq!(rest, body);
    let head = String::from_utf8(head.to_vec()).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\ncontent-length: 102400\r\ndate: "),
        "{head}"
    );
    assert!(head.ends_with("\r\nserver: usher\r\n\r\n"), "{head}");
    let date = |head: &str| head.split("\r\ndate: ").nth(1).unwrap()[..29].to_string();

    // Sent again: the same file, unless the second (so the `Date`) has changed meanwhile.
    let same = |answer: &mut Answer, persist| {
        let mut out = Vec::new();
        let Some(Some(range)) = answer.put(persist, &|| None, &mut out) else {
            panic!("no file");
        };
        range.file
    };
    let first = same(&mut answer, Persist::Open);
    let mut again = same(&mut answer, Persist::Open);
    if !Arc::ptr_eq(&first, &again) {
        // The second turned between the two: now it holds for a while.
        again = same(&mut answer, Persist::Open);
        assert!(Arc::ptr_eq(&again, &same(&mut answer, Persist::Open)));
    }
    assert!(Arc::ptr_eq(&again, &same(&mut answer, Persist::Open)));

    // Closing, it says so, from an image of its own; the kept-open one stays.
    let (closing, _) = image_of(&mut answer, Persist::Close);
    let closing = String::from_utf8_lossy(&closing[..closing.len() - body.len()]).into_owned();
    assert!(
        closing.contains("\r\nconnection: close\r\ndate: "),
        "{closing}"
    );
    assert!(Arc::ptr_eq(&again, &same(&mut answer, Persist::Open)));
    let (open, _) = image_of(&mut answer, Persist::Open);
    let open = String::from_utf8_lossy(&open[..open.len() - body.len()]).into_owned();
    assert!(!open.contains("connection:"), "{open}");
    assert_eq!(date(&open).len(), 29);
}

/// An image is never written again: a new `Date` makes a new image, and the old one's bytes
/// stay as they were for a socket still sending them.
#[test]
fn a_new_date_makes_a_new_image_and_leaves_the_old_one_alone() {
    let body = body_of(40 * 1024);
    let len = body.len() as u64;
    let mut answer = file_answer(Kept::new(&body), len);
    let mut out = Vec::new();
    let Some(Some(old)) = answer.put(Persist::Open, &|| None, &mut out) else {
        panic!("no image");
    };
    let before = sent(&old);
    // Another head for the same way of closing, as the next second's `Date` gives.
    let Body::File(file) = &mut answer.body else {
        panic!("not a file's answer");
    };
    let other = [&before[..before.len() - body.len() - 4], b"x\r\n\r\n"].concat();
    let new = file
        .image(Persist::Open, &other, &|| None)
        .expect("an image");
    assert!(!Arc::ptr_eq(&old.file, &new.file));
    assert_eq!(sent(&new), [&other[..], &body[..]].concat());
    assert_eq!(sent(&old), before, "the old image was written over");
}

/// A file changed since (its `statx` differs) is not repeated, image or not; without the
/// bytes held, or past the thread's budget, the answer goes out as head and file, as before.
#[test]
fn without_an_image_the_answer_goes_out_as_head_and_file() {
    let body = body_of(100 * 1024);
    let len = body.len() as u64;
    let kept = Kept::new(&body);
    let mut answer = file_answer(Arc::clone(&kept), len);
    assert!(
        answer
            .put(Persist::Open, &|| None, &mut Vec::new())
            .is_some()
    );
    kept.changed
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let mut out = Vec::new();
    assert!(
        answer.put(Persist::Open, &|| None, &mut out).is_none(),
        "changed"
    );
    assert!(out.is_empty());

    let head_and_file = |answer: &mut Answer| {
        let mut out = Vec::new();
        let Some(Some(range)) = answer.put(Persist::Open, &|| None, &mut out) else {
            panic!("nothing to send");
        };
        assert_eq!(
            (range.from, range.len),
            (0, len),
            "the file alone follows the head"
        );
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n") && out.ends_with(b"\r\n\r\n"));
        range.file
    };
    let unheld = Arc::new(Kept::with(&body, false));
    let file = head_and_file(&mut file_answer(Arc::clone(&unheld) as _, len));
    assert!(Arc::ptr_eq(&file, &unheld.open));

    // This thread's images fill the budget; the answer after them goes out as before, and
    // dropping them gives their bytes back.
    let before = image::held();
    let answers: Vec<Answer> = (0..=image::BUDGET / body.len())
        .map(|_| {
            let mut answer = file_answer(Kept::new(&body), len);
            answer
                .put(Persist::Open, &|| None, &mut Vec::new())
                .unwrap();
            answer
        })
        .collect();
    assert!(image::held() <= image::BUDGET);
    assert!(image::held() > image::BUDGET - 2 * body.len());
    let kept = Kept::new(&body);
    let file = head_and_file(&mut file_answer(Arc::clone(&kept), len));
    assert!(Arc::ptr_eq(&file, &kept.open));
    drop(answers);
    assert_eq!(image::held(), before);
}

/// An image made for a connection's MSS starts where `sendfile`'s first step of 16 pages
/// ends on a whole number of segments, and still sends exactly the answer.
#[test]
fn an_image_is_laid_out_for_whole_segments() {
    let page = crate::page_cache::page_size();
    // Loopback's MSS, Ethernet's with timestamps, and one that divides the step.
    for (mss, step_rest) in [(65_483, 53), (1448, 376), (4096, 0)] {
        let lead = image::lead(Some(mss));
        assert!(lead < page);
        assert_eq!((16 * page - lead) % u64::from(mss), 0, "{mss}");
        if page == 4096 {
            assert_eq!(lead, step_rest, "{mss}");
        }
    }
    assert_eq!(image::lead(None), 0);
    assert_eq!(image::lead(Some(0)), 0);
    // No place in the first page makes the first step whole segments of 40,000 bytes.
    assert_eq!(image::lead(Some(40_000)), 0);

    let body = body_of(100 * 1024);
    let len = body.len() as u64;
    let mut answer = file_answer(Kept::new(&body), len);
    let mut out = Vec::new();
    let Some(Some(range)) = answer.put(Persist::Open, &|| Some(65_483), &mut out) else {
        panic!("no image");
    };
    assert!(out.is_empty());
    assert_eq!(range.from, image::lead(Some(65_483)));
    let bytes = sent(&range);
    assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(bytes.ends_with(&body));
}

/// A compressed form's answers: bytes made from a file are put only while that file is
/// unchanged; a range of a file (a form in the memory file) is sent from its offset, and
/// never as an image of the whole file's bytes.
#[test]
fn forms_made_from_a_file_are_repeated_only_while_it_is_unchanged() {
    let body = body_of(64 * 1024);
    let kept = Kept::new(&body);
    let until = Instant::now() + Duration::from_secs(60);
    let lines = b"content-encoding: gzip\r\n";
    let form = Bytes::from_static(b"compressed");
    let mut memory =
        Answer::made_from_file(StatusCode::OK, lines, form, Arc::clone(&kept) as _, until);
    let mut out = Vec::new();
    assert!(matches!(
        memory.put(Persist::Open, &|| None, &mut out),
        Some(None)
    ));
    assert!(out.ends_with(b"\r\n\r\ncompressed"), "{out:?}");

    let mut range = Answer::from_file(StatusCode::OK, lines, kept.clone() as _, (100, 200), until);
    let mut out = Vec::new();
    let Some(Some(sent)) = range.put(Persist::Open, &|| Some(65_483), &mut out) else {
        panic!("nothing to send");
    };
    assert_eq!((sent.from, sent.len), (100, 200));
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n") && out.ends_with(b"\r\n\r\n"));
    assert!(head_value(&out, "content-length") == Some("200"));

    kept.changed
        .store(true, std::sync::atomic::Ordering::Relaxed);
    for answer in [&mut memory, &mut range] {
        let mut out = Vec::new();
        assert!(answer.put(Persist::Open, &|| None, &mut out).is_none());
        assert!(out.is_empty());
    }
}

/// The value of field `name` in the head `out`.
fn head_value<'a>(out: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(out)
        .ok()?
        .split("\r\n")
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}
