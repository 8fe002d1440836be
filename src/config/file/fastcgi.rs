//! `fastcgi = { ... }`: the FastCGI responder's options, every bad value reported at its place.

use std::path::Path;

use toml::Spanned;

use super::address::{Speaks, addresses};
use super::build::{UpstreamKeys, resolve, size};
use super::diagnostic::Diagnostic;
use super::raw::RawFastCgi;
use crate::handlers::fastcgi::FastCgiOptions;
use crate::router::Responder;

/// Build the options of a `fastcgi` route.
pub(super) fn fastcgi_options(
    raw: Spanned<RawFastCgi>,
    site_root: Option<&Path>,
    base: &Path,
    errors: &mut Vec<Diagnostic>,
) -> Option<Responder> {
    let fcgi = raw.into_inner();
    let before = errors.len();
    let upstreams = addresses(&fcgi.address, "address", Speaks::FastCgi, base, errors);
    let root = fcgi
        .root
        .as_ref()
        .map(|r| resolve(base, r.get_ref()))
        .or_else(|| site_root.map(Path::to_path_buf))
        .unwrap_or_else(|| base.to_path_buf());
    let name = |value: &Option<Spanned<String>>, key: &str, errors: &mut Vec<Diagnostic>| {
        let value = value.as_ref()?;
        let text = value.get_ref();
        if text.is_empty() || text.contains('/') || text.starts_with('.') && key == "index" {
            errors.push(
                Diagnostic::new(
                    value.span(),
                    format!("`{key}` must be part of one file name"),
                )
                .help("such as index = \"index.php\", split-path = \".php\""),
            );
            return None;
        }
        Some(text.clone())
    };
    let index = name(&fcgi.index, "index", errors);
    let split_path = name(&fcgi.split_path, "split-path", errors);
    let front_controller = fcgi.front_controller.as_ref().and_then(|front| {
        let text = front.get_ref();
        let hidden = text.split('/').any(|s| s.starts_with('.'));
        if !text.starts_with('/') || hidden || text.ends_with('/') {
            errors.push(
                Diagnostic::new(front.span(), "`front-controller` must be a script's path")
                    .help("such as front-controller = \"/index.php\""),
            );
            return None;
        }
        Some(text.clone())
    });
    let keys = UpstreamKeys::read(
        [
            &fcgi.connect_timeout,
            &fcgi.header_timeout,
            &fcgi.idle_timeout,
            &fcgi.fail_window,
            &fcgi.cool_down,
        ],
        &fcgi.max_fails,
        &fcgi.max_connections,
        errors,
    );
    let max_body = size(&fcgi.max_body, errors);
    if errors.len() > before {
        return None;
    }
    let mut upstreams = upstreams.into_iter();
    let mut opts = FastCgiOptions::new(upstreams.next()?, root);
    opts.upstreams.extend(upstreams);
    if let Some(index) = index {
        opts.index = index;
    }
    if let Some(split_path) = split_path {
        opts.split_path = split_path;
    }
    opts.front_controller = front_controller;
    let timeouts = [
        &mut opts.connect_timeout,
        &mut opts.header_timeout,
        &mut opts.idle_timeout,
    ];
    keys.apply(timeouts, &mut opts.health);
    opts.max_connections = keys.max_connections;
    opts.max_body = max_body.unwrap_or(opts.max_body);
    opts.pass_authorization = fcgi.pass_authorization;
    Some(Responder::FastCgi(opts))
}
