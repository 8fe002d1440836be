//! Request content of unknown length (chunked HTTP/1.1, HTTP/2 without Content-Length),
//! stored whole before a program gets it: RFC 3875 §4.1.2 says CONTENT_LENGTH MUST be set
//! when there is content, and PHP reads only CONTENT_LENGTH bytes of its input (FastCGI's
//! FCGI_STDIN, or a CGI program's standard input), so the length must be known first (nginx
//! buffers for the same reason). Up to [`IN_MEMORY`] stays in memory; more goes to an
//! anonymous temporary file, which the kernel removes when it is closed, so nothing is left
//! behind whatever way the request ends.

use std::io;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::StatusCode;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use crate::problem::Problem;

/// Content kept in memory; past this it goes to a temporary file.
pub const IN_MEMORY: usize = 64 * 1024;

/// Bytes read back from the temporary file at a time.
const READ_BACK: usize = 64 * 1024;

/// Why the content could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// It is longer than the route accepts.
    #[error("the request content is longer than {0} bytes")]
    TooLarge(u64),
    /// The client's content failed (cut, or malformed chunks).
    #[error("the client's request content failed: {0}")]
    Client(String),
    /// The temporary file could not be made or written.
    #[error("the request content could not be stored: {0}")]
    Io(#[from] io::Error),
}

/// The request content handed to a program, boxed once so that what carries it is not
/// generic over it.
pub type ClientBody = UnsyncBoxBody<Bytes, io::Error>;

/// The request's content as a program will read it, and its length when it had to be
/// stored to be known: content without a declared length is stored whole first. Content
/// declared longer than `max_body`, or found longer while stored, gets 413.
pub async fn content<B>(
    parts: &Parts,
    body: B,
    max_body: u64,
) -> Result<(Option<u64>, ClientBody), Problem>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "content-too-large",
            "Content Too Large",
        )
        .with_detail(format!(
            "This address accepts request content of at most {max_body} bytes."
        ))
    };
    let declared = parts.headers.get(CONTENT_LENGTH);
    if declared.is_some() || body.is_end_stream() {
        let length = declared
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|n| n > max_body) {
            return Err(too_large());
        }
        let body = body.map_err(|e| io::Error::other(e.to_string()));
        return Ok((None, body.boxed_unsync()));
    }
    match spool(body, max_body).await {
        Ok((length, body)) => Ok((Some(length), body)),
        Err(SpoolError::TooLarge(_)) => Err(too_large()),
        Err(SpoolError::Client(e)) => {
            tracing::debug!("request content failed while stored: {e}");
            Err(Problem::unreadable_content(&e))
        }
        Err(SpoolError::Io(e)) => {
            tracing::warn!("request content could not be stored: {e}");
            Err(Problem::internal())
        }
    }
}

/// Stored content: its length, and a body that reads it back.
pub type Spooled = (u64, ClientBody);

/// Read `body` to its end, refusing more than `limit` bytes.
pub async fn spool<B>(body: B, limit: u64) -> Result<Spooled, SpoolError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let mut frames = http_body_util::BodyStream::new(body);
    let mut memory: Vec<Bytes> = Vec::new();
    let mut file: Option<tokio::fs::File> = None;
    let mut length: u64 = 0;
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|e| SpoolError::Client(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers: CGI has no place for them
        };
        length += data.len() as u64;
        if length > limit {
            return Err(SpoolError::TooLarge(limit));
        }
        match &mut file {
            Some(file) => file.write_all(&data).await?,
            None if length as usize <= IN_MEMORY => memory.push(data),
            None => {
                let mut spill = new_temp_file().await?;
                for chunk in memory.drain(..) {
                    spill.write_all(&chunk).await?;
                }
                spill.write_all(&data).await?;
                file = Some(spill);
            }
        }
    }
    let body = match file {
        None => {
            let frames = memory.into_iter().map(|d| Ok(Frame::data(d)));
            http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
        }
        Some(mut file) => {
            file.flush().await?;
            file.rewind().await?;
            read_back(file).boxed_unsync()
        }
    };
    Ok((length, body))
}

/// An anonymous file in the temporary directory (`TMPDIR`), opened off the runtime's threads.
async fn new_temp_file() -> io::Result<tokio::fs::File> {
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(io::Error::other)??;
    Ok(tokio::fs::File::from_std(file))
}

/// The file's bytes as a body, a chunk at a time.
fn read_back(
    file: tokio::fs::File,
) -> http_body_util::StreamBody<impl futures_util::Stream<Item = io::Result<Frame<Bytes>>>> {
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; READ_BACK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    http_body_util::StreamBody::new(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    fn chunks(sizes: &[usize]) -> (Vec<u8>, impl Body<Data = Bytes, Error = io::Error> + Unpin) {
        let mut all = Vec::new();
        let mut parts = Vec::new();
        for (n, &size) in sizes.iter().enumerate() {
            let part: Vec<u8> = (0..size).map(|i| (i * 7 + n) as u8).collect();
            all.extend_from_slice(&part);
            parts.push(Ok(Frame::data(Bytes::from(part))));
        }
        (all, StreamBody::new(futures_util::stream::iter(parts)))
    }

    async fn back(body: UnsyncBoxBody<Bytes, io::Error>) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn small_content_is_read_back_whole_from_memory() {
        let (all, body) = chunks(&[10, 0, 300]);
        let (length, stored) = spool(body, 1 << 20).await.unwrap();
        assert_eq!(length, 310);
        assert_eq!(back(stored).await, all);
    }

    #[tokio::test]
    async fn content_past_the_memory_bound_goes_through_a_file_unchanged() {
        let (all, body) = chunks(&[IN_MEMORY - 1, 1, 1, 200_000, 3]);
        let (length, stored) = spool(body, 1 << 20).await.unwrap();
        assert_eq!(length, all.len() as u64);
        assert_eq!(back(stored).await, all);
    }

    #[tokio::test]
    async fn content_longer_than_the_limit_is_refused_and_at_the_limit_accepted() {
        let (_, body) = chunks(&[600, 401]);
        assert!(matches!(
            spool(body, 1000).await,
            Err(SpoolError::TooLarge(1000))
        ));
        let (all, body) = chunks(&[600, 400]);
        let (length, stored) = spool(body, 1000).await.unwrap();
        assert_eq!((length, back(stored).await), (1000, all));
    }

    #[tokio::test]
    async fn a_failing_client_body_is_a_client_error() {
        let parts: Vec<Result<Frame<Bytes>, io::Error>> = vec![
            Ok(Frame::data(Bytes::from_static(b"abc"))),
            Err(io::Error::other("cut")),
        ];
        let body = StreamBody::new(futures_util::stream::iter(parts));
        assert!(matches!(spool(body, 100).await, Err(SpoolError::Client(_))));
    }
}
