//! The single-page-app fallback, which must not lie: only a navigation to a path that names
//! nothing gets the app's shell; a script, image or `fetch()` asking for a missing
//! `/assets/app.3f2a.js` keeps its real 404, so a broken deploy shows as errors, not as HTML
//! parsed as JavaScript.
//!
//! A request is a navigation when
//! - `Sec-Fetch-Mode: navigate` (Fetch Metadata; every current browser sends it), or
//! - without `Sec-Fetch-Mode` (older browsers, some clients), when `Accept` prefers
//!   `text/html` to `*/*` (browsers' navigation Accept does; `*/*`, curl and `fetch()`
//!   defaults do not) and the last path segment has no extension (`/settings`, not `/app.js`).
//!
//! Both answers depend on those fields, so both carry `Vary: Accept, Sec-Fetch-Mode`.

use std::path::{Component, Path};

use http::HeaderMap;
use http::header::ACCEPT;

use crate::http::accept::{Specificity, media_type_match, media_type_quality};
use crate::http::target::NormalPath;

/// The request field that names a navigation.
const SEC_FETCH_MODE: &str = "sec-fetch-mode";

/// What the fallback and the 404 of a fallback route vary on, beyond `Accept`.
pub(super) const VARY_NAVIGATION: &str = "Sec-Fetch-Mode";

/// A media type no `Accept` range names but `*/*`: its quality is that of `*/*`.
const ONLY_ANY: &str = "x-usher/x-any";

/// Whether the request for `path` is a navigation (see the module docs).
pub(super) fn is_navigation(headers: &HeaderMap, path: &NormalPath) -> bool {
    let mut modes = headers.get_all(SEC_FETCH_MODE).iter();
    if let Some(mode) = modes.next() {
        // One field, exactly `navigate` (a structured-field token, lowercase).
        return modes.next().is_none() && mode.as_bytes() == b"navigate";
    }
    let last = path.last_segment().unwrap_or("");
    let has_extension = last.rfind('.').is_some_and(|i| i > 0);
    !has_extension && prefers_html(headers)
}

/// Whether `Accept` names `text/html` (or `text/*`) with a higher quality than `*/*`.
fn prefers_html(headers: &HeaderMap) -> bool {
    // Several Accept lines are one list; browsers send one, so the first decides.
    let accept = headers.get(ACCEPT).map(|v| v.as_bytes());
    let Some((q, specificity)) = media_type_match(accept, "text/html") else {
        return false;
    };
    specificity != Specificity::Any && q > media_type_quality(accept, ONLY_ANY)
}

/// The fallback file as a request path, or `None` if it is not a plain relative path (the
/// config refuses those; this keeps a hand-built option inside the root too).
pub(super) fn fallback_path(file: &Path) -> Option<NormalPath> {
    let mut segments = Vec::new();
    for c in file.components() {
        match c {
            Component::Normal(name) => segments.push(name.to_str()?.to_owned()),
            _ => return None,
        }
    }
    (!segments.is_empty()).then(|| NormalPath::from_segments(segments, false))
}
