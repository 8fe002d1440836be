//! Serve files and directories from a root.
//!
//! Pipeline, in order:
//! 1. `resolve`: normalised path -> typed outcome (file, directory, redirect, variants, refusal),
//!    enforcing the sandbox (hidden names, symlinks leaving the root).
//! 2. `variants`: for a path with no file, pick `name.EXT` / `name.LANG.EXT` by Accept / Accept-Language.
//! 3. `reply`: outcome -> response: preconditions, ranges, headers, streamed body.
//! 4. `listing`: directories without an index, as HTML, JSON or text by Accept.

use std::path::PathBuf;
use std::sync::Arc;

use http::Response;
use http::request::Parts;

use crate::body::ResponseBody;
use crate::http::target::NormalPath;
use crate::problem::Problem;

/// What the static responder may serve and how.
#[derive(Debug, Clone)]
pub struct StaticOptions {
    /// The document root, canonicalised (absolute, no symlinks).
    pub root: PathBuf,
    /// Serve dot-files and dot-directories (`.well-known` is always served).
    pub show_hidden: bool,
    /// Follow symbolic links whose target lies outside the root.
    pub follow_symlinks: bool,
    /// Serve the only representation even when Accept rules it out (instead of 406).
    pub lenient_accept: bool,
    /// Offer directory listings when no index file exists.
    pub listing: bool,
    /// Index file names tried in order for a directory.
    pub index_files: Vec<String>,
    /// Media types in order of preference, used to break ties between variants.
    pub variant_order: Vec<String>,
}

impl StaticOptions {
    /// Options serving `root` with usher's defaults.
    pub fn new(root: PathBuf) -> Self {
        StaticOptions {
            root,
            show_hidden: false,
            follow_symlinks: false,
            lenient_accept: false,
            listing: true,
            index_files: vec!["index.html".to_owned()],
            variant_order: vec![
                "text/html".to_owned(),
                "application/json".to_owned(),
                "text/plain".to_owned(),
            ],
        }
    }
}

/// The static file responder.
#[derive(Debug, Clone)]
pub struct ServeDir {
    opts: Arc<StaticOptions>,
}

impl ServeDir {
    /// A responder for `opts`.
    pub fn new(opts: StaticOptions) -> Self {
        ServeDir {
            opts: Arc::new(opts),
        }
    }

    /// Answer a GET or HEAD for `path` (already normalised). The caller has checked the method.
    /// For HEAD the response carries the same headers as GET and an empty body.
    pub async fn serve(
        &self,
        req: &Parts,
        path: &NormalPath,
    ) -> Result<Response<ResponseBody>, Problem> {
        let _ = (req, path, &self.opts);
        todo!()
    }
}
