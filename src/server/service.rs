//! The per-request service: method policy, request-target normalisation, dispatch to the
//! responder, and turning a [`Problem`] into its negotiated answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{ACCEPT, ALLOW, CONTENT_LENGTH, SERVER};
use http::{HeaderValue, Method, Request, Response, StatusCode};

use crate::body::ResponseBody;
use crate::config::Config;
use crate::handlers::static_files::ServeDir;
use crate::http::target;
use crate::problem::Problem;

/// Methods a static resource supports, as sent in `Allow` (RFC 9110 §10.2.1).
pub const STATIC_METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::OPTIONS];

const ALLOW_STATIC: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");
const SERVER_NAME: HeaderValue = HeaderValue::from_static("usher");

/// Registered methods usher knows but a static resource does not allow: 405, not 501
/// (RFC 9110 §15.5.6 vs §15.6.2). From RFC 9110 §9, RFC 5789 and the WebDAV RFCs.
const KNOWN_METHODS: &[&str] = &[
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "SEARCH",
    "QUERY",
];

/// Everything a request needs, built once from the [`Config`].
#[derive(Debug)]
pub struct App {
    files: ServeDir,
}

impl App {
    /// The application for `config`.
    pub fn new(config: &Config) -> Self {
        App {
            files: ServeDir::new(config.files.clone()),
        }
    }
}

/// A process-unique request id, carried in problem bodies and log lines.
fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Answer one request. Never fails: every error becomes a negotiated [`Problem`] answer.
pub async fn handle<B>(
    app: Arc<App>,
    peer: SocketAddr,
    req: Request<B>,
) -> Result<Response<ResponseBody>, Infallible> {
    // The body is never read by a static resource; hyper discards what the client sends.
    let (parts, _body) = req.into_parts();
    let is_head = parts.method == Method::HEAD;
    let result = match parts.method {
        Method::GET | Method::HEAD => match target::normalise(parts.uri.path()) {
            Ok(path) => app.files.serve(&parts, &path).await,
            Err(e) => Err(Problem::bad_request(format!(
                "{e}. Send a path made of percent-encoded UTF-8, such as /docs/caf%C3%A9.html."
            ))),
        },
        Method::OPTIONS => Ok(options()),
        ref m if KNOWN_METHODS.contains(&m.as_str()) => {
            let shown = target::normalise(parts.uri.path())
                .map(|p| p.to_decoded_string())
                .unwrap_or_else(|_| parts.uri.path().to_owned());
            Err(Problem::method_not_allowed_on(&shown, m, &STATIC_METHODS).with_instance(shown))
        }
        ref m => Err(Problem::not_implemented(m)),
    };
    let mut response = match result {
        Ok(response) => response,
        Err(mut problem) => {
            // Only a server error has a logged cause for an id to point at; a 4xx body is
            // complete in itself (and stays identical across requests, so it can be cached).
            if problem.status.is_server_error() {
                let id = next_request_id();
                tracing::warn!(request_id = %id, status = problem.status.as_u16(), method = %parts.method, uri = %parts.uri, "answered with a server error");
                problem.request_id = Some(id);
            }
            problem.into_response(parts.headers.get(ACCEPT), is_head)
        }
    };
    response.headers_mut().insert(SERVER, SERVER_NAME);
    tracing::debug!(target: "usher::access", %peer, method = %parts.method, uri = %parts.uri, version = ?parts.version, status = response.status().as_u16());
    Ok(response)
}

/// `OPTIONS` on any resource, or on the server as a whole (`OPTIONS *`, RFC 9110 §9.3.7).
fn options() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response.headers_mut().insert(ALLOW, ALLOW_STATIC);
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}
