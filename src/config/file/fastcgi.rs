//! `fastcgi = { ... }`: the FastCGI responder's options, every bad value reported at its place.

use std::net::SocketAddr;
use std::path::Path;

use toml::Spanned;

use super::build::{duration, resolve};
use super::diagnostic::Diagnostic;
use super::raw::RawFastCgi;
use crate::handlers::fastcgi::{FastCgiOptions, Upstream};
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
    let address = fcgi.address.get_ref();
    let upstream = match address.strip_prefix("unix:") {
        Some(path) if !path.is_empty() => Some(Upstream::Unix(resolve(base, path))),
        _ => match address.parse::<SocketAddr>() {
            Ok(addr) => Some(Upstream::Tcp(addr)),
            Err(_) => {
                errors.push(
                    Diagnostic::new(
                        fcgi.address.span(),
                        "`address` is neither an IP address with a port nor a Unix socket",
                    )
                    .help("write \"127.0.0.1:9000\" or \"unix:/run/php/php-fpm.sock\""),
                );
                None
            }
        },
    };
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
    let header_timeout = duration(&fcgi.header_timeout, errors);
    let idle_timeout = duration(&fcgi.idle_timeout, errors);
    if errors.len() > before {
        return None;
    }
    let mut opts = FastCgiOptions::new(upstream?, root);
    if let Some(index) = index {
        opts.index = index;
    }
    if let Some(split_path) = split_path {
        opts.split_path = split_path;
    }
    if let Some(t) = header_timeout {
        opts.header_timeout = t;
    }
    if let Some(t) = idle_timeout {
        opts.idle_timeout = t;
    }
    Some(Responder::FastCgi(opts))
}
