//! A response body compressed as it is sent (`gzip`, `br` or `zstd`, RFC 9110 §8.4.1).
//!
//! The body is read frame by frame and each frame goes through the encoder at once, so
//! nothing waits for the whole answer and memory stays at the encoder's window. What the
//! encoder gives is sent when it reaches [`EMIT_AT`] bytes, and **flushed whenever the body
//! underneath has nothing ready** (a CGI program or an upstream thinking, server-sent
//! events): a client then gets every byte the program wrote, as it would uncompressed, not
//! only what filled the encoder's block. A file's bytes come in large frames one after
//! another, so a file is flushed only at its end.
//!
//! Compressing is work on the runtime thread, as it is on nginx's: a large answer is fed to
//! the encoder [`PIECE`] at a time, and the task yields after each [`YIELD_AFTER`] bytes so
//! the thread's other connections are answered meanwhile (one brotli download of 50 MB made
//! a 3-byte file on the same thread wait 1.75 s). An encoder that has given nothing for
//! [`FLUSH_AFTER`] bytes (brotli gathers up to its whole window) is flushed: the client gets
//! bytes early, and a client that left is noticed at the next write, not after megabytes
//! compressed for nobody.
//!
//! Trailers pass through after the encoder's last bytes.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};

use super::ResponseBody;

/// Compressed bytes gathered before they are sent as one frame (16 KiB, an HTTP/2 frame's
/// default size and about eleven TCP segments over Ethernet).
const EMIT_AT: usize = 16 * 1024;

/// Bytes of the body fed to the encoder at a time (16 KiB).
const PIECE: usize = 16 * 1024;

/// Bytes compressed before the task yields to the thread's other connections (64 KiB: about
/// half a millisecond with gzip, a millisecond with brotli).
const YIELD_AFTER: usize = 64 * 1024;

/// Bytes compressed without a frame sent, before the encoder is flushed (256 KiB).
const FLUSH_AFTER: usize = 256 * 1024;

/// gzip level: 5 of 9, about the size of level 6 (zlib's default) for less time; nginx's
/// default is 1, Caddy's 5.
const GZIP_LEVEL: u32 = 5;

/// Brotli quality: 4 of 11, faster than gzip's 5 with smaller output; 11 is for files
/// compressed ahead of time (`precompressed`), not for every answer.
const BROTLI_QUALITY: u32 = 4;

/// Brotli window: 2^20 bytes (1 MiB; the encoder's default is 4 MiB). With the default, and
/// the content's length given as a size hint (which makes brotli choose larger tables), an
/// answer whose reader stalled held 12 MiB; with neither, 4.7–6 MiB, read-ahead included
/// (20 stalled readers of a 45 MB text file, RSS, 2026-11-28).
const BROTLI_WINDOW: u32 = 20;

/// zstd level: 3, the library's default and Caddy's.
const ZSTD_LEVEL: i32 = 3;

/// Window of a stream of unknown length, for brotli and zstd: 2^18 bytes (256 KiB). A
/// program's or an upstream's answer may stay open for minutes (server-sent events), and
/// repeats further back than this are rare in one answer.
const STREAM_WINDOW_LOG: u32 = 18;

/// A content coding usher can compress with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Zstandard (RFC 8878).
    Zstd,
    /// Brotli (RFC 7932).
    Br,
    /// gzip (RFC 1952).
    Gzip,
}

impl Coding {
    /// Every coding, in the order usher prefers them when a client weighs them equally:
    /// zstd is the fastest for its size, brotli the smallest, gzip the one every client has.
    pub const ALL: [Coding; 3] = [Coding::Zstd, Coding::Br, Coding::Gzip];

    /// The coding's name in `Accept-Encoding` and `Content-Encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Zstd => "zstd",
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The coding named `name` (case-blind), if usher has it.
    pub fn from_name(name: &str) -> Option<Coding> {
        Coding::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// `bytes` compressed whole with `coding`, at the same settings as a streamed answer.
pub fn compress_whole(coding: Coding, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = Encoder::new(coding, Some(bytes.len() as u64))?;
    encoder.write(bytes)?;
    encoder.finish()
}

/// An encoder writing into a buffer the body empties as it goes.
enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    // Boxed: brotli's state is some kilobytes, the others are a pointer or two.
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// An encoder for `length` bytes when known, else for a stream of any length.
    ///
    /// Each coding's state is sized to the content. At the libraries' defaults an answer held
    /// open mid-stream cost 320 KiB (gzip), 390 KiB to 2.4 MiB (brotli) and 830 KiB to
    /// 1.8 MiB (zstd) for 6 KB to 1 MB of text (RSS over 100 such answers, 2026-11-28). A
    /// known length shrinks brotli's window and zstd's tables to it; an answer of unknown
    /// length (a program's, an upstream's) gets windows of [`STREAM_WINDOW_LOG`], which took
    /// zstd to 310–750 KiB; brotli's stayed at 0.4–1.9 MiB, its tables not following the
    /// window.
    fn new(coding: Coding, length: Option<u64>) -> std::io::Result<Encoder> {
        // Bits of a window that holds the whole content (at least 1 KiB).
        let fits = |len: u64| (64 - len.saturating_sub(1).leading_zeros()).max(10);
        Ok(match coding {
            Coding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(GZIP_LEVEL),
            )),
            Coding::Br => {
                let lgwin = length.map_or(STREAM_WINDOW_LOG, |len| fits(len).min(BROTLI_WINDOW));
                let params = brotli::enc::BrotliEncoderParams {
                    quality: BROTLI_QUALITY as i32,
                    lgwin: lgwin as i32,
                    // No size hint: see `BROTLI_WINDOW`.
                    size_hint: 0,
                    ..Default::default()
                };
                Encoder::Br(Box::new(brotli::CompressorWriter::with_params(
                    Vec::new(),
                    4096,
                    &params,
                )))
            }
            Coding::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
                match length {
                    // zstd sizes its window and tables to the content it is promised.
                    Some(len) => encoder.set_pledged_src_size(Some(len))?,
                    None => {
                        use zstd::zstd_safe::CParameter;
                        encoder.window_log(STREAM_WINDOW_LOG)?;
                        encoder.set_parameter(CParameter::HashLog(STREAM_WINDOW_LOG - 3))?;
                        encoder.set_parameter(CParameter::ChainLog(STREAM_WINDOW_LOG - 3))?;
                    }
                }
                Encoder::Zstd(encoder)
            }
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(bytes),
            Encoder::Br(e) => e.write_all(bytes),
            Encoder::Zstd(e) => e.write_all(bytes),
        }
    }

    /// Push out everything written so far, decodable without what follows.
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Br(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }

    /// The compressed bytes made so far, taken out of the buffer.
    fn take(&mut self) -> Vec<u8> {
        let buffer = match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Br(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        };
        std::mem::take(buffer)
    }

    /// End the stream: the last compressed bytes.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            // `into_inner` writes brotli's last block (and checks nothing can fail later).
            Encoder::Br(e) => Ok(e.into_inner()),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

/// `inner`, compressed with one coding as it is polled.
pub struct Compressed {
    inner: ResponseBody,
    /// `None` once the stream is ended.
    encoder: Option<Encoder>,
    /// Bytes written to the encoder since it last flushed.
    unflushed: bool,
    /// What is left of the body's last frame, fed to the encoder [`PIECE`] at a time.
    held: Bytes,
    /// Bytes compressed since the task last yielded, and since the encoder last gave any.
    since_yield: usize,
    since_output: usize,
    /// The body's trailers, held until the compressed bytes are all sent.
    trailers: Option<HeaderMap>,
}

/// Encoders alive in the process (streams being compressed).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Streams being compressed now, in the whole process.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

impl Drop for Compressed {
    fn drop(&mut self) {
        if self.encoder.is_some() {
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Compressed {
    /// `inner`, compressed with `coding`; `inner` back if the encoder cannot start.
    pub fn new(
        inner: ResponseBody,
        coding: Coding,
    ) -> Result<Self, (ResponseBody, std::io::Error)> {
        let length = http_body::Body::size_hint(&inner).exact();
        let encoder = match Encoder::new(coding, length) {
            Ok(encoder) => encoder,
            Err(e) => return Err((inner, e)),
        };
        LIVE.fetch_add(1, Ordering::Relaxed);
        Ok(Compressed {
            inner,
            encoder: Some(encoder),
            unflushed: false,
            held: Bytes::new(),
            since_yield: 0,
            since_output: 0,
            trailers: None,
        })
    }

    /// No content, of a length not known: a HEAD's body, whose GET would be compressed
    /// (so no `Content-Length` is made up for it).
    pub fn nothing() -> Self {
        Compressed {
            inner: ResponseBody::Empty,
            encoder: None,
            unflushed: false,
            held: Bytes::new(),
            since_yield: 0,
            since_output: 0,
            trailers: None,
        }
    }

    /// The encoder's bytes as a frame, if it made any.
    fn frame(bytes: Vec<u8>) -> Option<Frame<Bytes>> {
        (!bytes.is_empty()).then(|| Frame::data(Bytes::from(bytes)))
    }
}

impl http_body::Body for Compressed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            };
            if this.since_yield >= YIELD_AFTER {
                // Let the thread's other connections run (see the module notes).
                this.since_yield = 0;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !this.held.is_empty() {
                let piece = this.held.split_to(this.held.len().min(PIECE));
                encoder.write(&piece)?;
                this.unflushed = true;
                this.since_yield += piece.len();
                this.since_output += piece.len();
                if this.since_output >= FLUSH_AFTER {
                    // An encoder that has sent nothing for this long (brotli gathers a whole
                    // block; text that compresses well fills no frame) is made to: the
                    // client gets bytes, and a client gone is noticed.
                    encoder.flush()?;
                    this.unflushed = false;
                }
                if encoder_len(encoder) >= EMIT_AT || !this.unflushed {
                    this.since_output = 0;
                    if let Some(frame) = Self::frame(encoder.take()) {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                }
                continue;
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.held = data,
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            this.trailers = Some(trailers);
                        }
                    }
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    let encoder = this.encoder.take().expect("checked above");
                    LIVE.fetch_sub(1, Ordering::Relaxed);
                    let last = encoder.finish()?;
                    match Self::frame(last) {
                        Some(frame) => return Poll::Ready(Some(Ok(frame))),
                        None => continue,
                    }
                }
                Poll::Pending => {
                    // Nothing more yet: what was written goes out now, not when the block
                    // fills (see the module notes).
                    if this.unflushed {
                        encoder.flush()?;
                        this.unflushed = false;
                    }
                    this.since_output = 0;
                    return match Self::frame(encoder.take()) {
                        Some(frame) => Poll::Ready(Some(Ok(frame))),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // The compressed length is known only at the end.
        SizeHint::default()
    }
}

/// How many compressed bytes `encoder` holds, unsent.
fn encoder_len(encoder: &Encoder) -> usize {
    match encoder {
        Encoder::Gzip(e) => e.get_ref().len(),
        Encoder::Br(e) => e.get_ref().len(),
        Encoder::Zstd(e) => e.get_ref().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt as _;
    use std::io::Read as _;

    /// `bytes` decoded from `coding`.
    fn decode(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => {
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Br => {
                brotli::Decompressor::new(bytes, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Zstd => {
                out = zstd::stream::decode_all(bytes).unwrap();
            }
        }
        out
    }

    /// Text that compresses, `len` bytes of it.
    fn text(len: usize) -> Vec<u8> {
        b"<p>usher serves this line again and again.</p>\n"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    /// Every coding gives back the body it was given, smaller, in frames of about
    /// [`EMIT_AT`] bytes, for bodies empty, small and large.
    #[tokio::test]
    async fn every_coding_round_trips_and_shrinks_text() {
        for coding in Coding::ALL {
            for len in [0, 1, 700, 300_000] {
                let original = text(len);
                let body = ResponseBody::full(original.clone());
                let mut compressed = Compressed::new(body, coding).unwrap();
                let mut sent = Vec::new();
                while let Some(frame) = compressed.frame().await {
                    let data = frame.unwrap().into_data().unwrap();
                    assert!(!data.is_empty(), "{coding:?}: no empty frames");
                    sent.extend_from_slice(&data);
                }
                assert!(compressed.is_end_stream());
                assert_eq!(decode(coding, &sent), original, "{coding:?}, {len} bytes");
                if len >= 700 {
                    assert!(sent.len() < len / 4, "{coding:?}: {} of {len}", sent.len());
                }
            }
        }
    }

    /// A body whose bytes come slowly (a program writing a line, then thinking): each part
    /// is decodable as soon as it is sent, not held until the encoder's block fills.
    #[tokio::test]
    async fn what_was_written_is_flushed_when_the_body_waits() {
        for coding in Coding::ALL {
            let (mut tx, rx) = futures_channel();
            let body = ResponseBody::stream(rx);
            let mut compressed = Compressed::new(body, coding).unwrap();
            let mut sent = Vec::new();
            for line in ["data: one\n\n", "data: two\n\n"] {
                tx.send(Bytes::from(line)).await;
                let mut got = Vec::new();
                // Frames until the body waits: then everything so far must decode.
                while let Some(Some(frame)) = compressed.frame().now_or_never() {
                    got.extend_from_slice(&frame.unwrap().into_data().unwrap());
                }
                sent.extend_from_slice(&got);
                let so_far = decode_prefix(coding, &sent);
                assert!(
                    so_far.ends_with(line.as_bytes()),
                    "{coding:?}: {line:?} not decodable yet: {so_far:?}"
                );
            }
            drop(tx);
            while let Some(frame) = compressed.frame().await {
                sent.extend_from_slice(&frame.unwrap().into_data().unwrap());
            }
            assert_eq!(decode(coding, &sent), b"data: one\n\ndata: two\n\n");
        }
    }

    /// Trailers of the body come after the last compressed bytes.
    #[tokio::test]
    async fn trailers_follow_the_compressed_bytes() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", "abc".parse().unwrap());
        let frames = vec![
            Ok(Frame::data(Bytes::from(text(2000)))),
            Ok(Frame::trailers(trailers.clone())),
        ];
        let inner = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
        let mut compressed = Compressed::new(ResponseBody::stream(inner), Coding::Gzip).unwrap();
        let mut sent = Vec::new();
        let mut last = None;
        while let Some(frame) = compressed.frame().await {
            match frame.unwrap().into_data() {
                Ok(data) => {
                    assert!(last.is_none(), "data after the trailers");
                    sent.extend_from_slice(&data);
                }
                Err(frame) => last = frame.into_trailers().ok(),
            }
        }
        assert_eq!(decode(Coding::Gzip, &sent), text(2000));
        assert_eq!(last, Some(trailers));
    }

    /// A body of `frames` frames of `size` bytes of text, all ready, counting in `pulled`
    /// the bytes taken from it.
    fn counted(frames: usize, size: usize, pulled: &std::sync::Arc<AtomicUsize>) -> ResponseBody {
        let pulled = std::sync::Arc::clone(pulled);
        let stream = futures_util::stream::iter(0..frames).map(move |_| {
            pulled.fetch_add(size, Ordering::Relaxed);
            Ok::<_, std::io::Error>(Frame::data(Bytes::from(text(size))))
        });
        ResponseBody::stream(http_body_util::StreamBody::new(stream))
    }

    /// One poll does a bounded amount of work, however much of the body is ready: it
    /// compresses at most [`YIELD_AFTER`] bytes (and one frame) before it yields, waking
    /// itself; and brotli, which gathers a whole window, gives its first bytes after at most
    /// [`FLUSH_AFTER`] bytes, not the whole 4 MiB.
    #[test]
    fn work_per_poll_is_bounded() {
        use futures_util::task::noop_waker_ref;
        for coding in Coding::ALL {
            let pulled = std::sync::Arc::new(AtomicUsize::new(0));
            let frame = 64 * 1024;
            let body = counted(64, frame, &pulled);
            let mut compressed = Compressed::new(body, coding).unwrap();
            let mut cx = Context::from_waker(noop_waker_ref());
            let mut sent = Vec::new();
            let mut first_output_at = None;
            loop {
                let before = pulled.load(Ordering::Relaxed);
                let polled = Pin::new(&mut compressed).poll_frame(&mut cx);
                let took = pulled.load(Ordering::Relaxed) - before;
                assert!(
                    took <= YIELD_AFTER + frame,
                    "{coding:?}: {took} bytes in one poll"
                );
                match polled {
                    Poll::Ready(Some(frame)) => {
                        first_output_at.get_or_insert(pulled.load(Ordering::Relaxed));
                        sent.extend_from_slice(&frame.unwrap().into_data().unwrap());
                    }
                    Poll::Ready(None) => break,
                    Poll::Pending => {}
                }
            }
            let first = first_output_at.unwrap();
            assert!(
                first <= FLUSH_AFTER + frame,
                "{coding:?}: first bytes after {first}"
            );
            assert!(
                decode(coding, &sent) == text(frame).repeat(64),
                "{coding:?}"
            );
        }
    }

    /// A whole body compressed at once decodes to itself, in every coding.
    #[test]
    fn whole_bodies_round_trip() {
        for coding in Coding::ALL {
            for len in [0, 5, 70_000] {
                let original = text(len);
                let compressed = compress_whole(coding, &original).unwrap();
                assert_eq!(decode(coding, &compressed), original, "{coding:?} {len}");
            }
        }
    }

    /// Names are matched case-blind, and only usher's codings are known.
    #[test]
    fn codings_by_name() {
        assert_eq!(Coding::from_name("GZIP"), Some(Coding::Gzip));
        assert_eq!(Coding::from_name("br"), Some(Coding::Br));
        assert_eq!(Coding::from_name("zstd"), Some(Coding::Zstd));
        assert_eq!(Coding::from_name("deflate"), None);
        assert_eq!(Coding::from_name("x-gzip"), None);
    }

    /// What a decoder makes of a stream cut where it is (flushed, not finished).
    fn decode_prefix(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let mut read = |r: &mut dyn std::io::Read| {
            while let Ok(n @ 1..) = r.read(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
        };
        match coding {
            Coding::Gzip => read(&mut flate2::read::GzDecoder::new(bytes)),
            Coding::Br => read(&mut brotli::Decompressor::new(bytes, 4096)),
            Coding::Zstd => read(&mut zstd::stream::read::Decoder::new(bytes).unwrap()),
        }
        out
    }

    /// A sender of body frames and the body receiving them, one at a time.
    fn futures_channel() -> (
        Sender,
        impl http_body::Body<Data = Bytes, Error = std::io::Error>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
        });
        (Sender(tx), http_body_util::StreamBody::new(stream))
    }

    struct Sender(tokio::sync::mpsc::Sender<Bytes>);

    impl Sender {
        async fn send(&mut self, bytes: Bytes) {
            self.0.send(bytes).await.unwrap();
        }
    }

    use futures_util::FutureExt as _;
    use futures_util::StreamExt as _;
}
