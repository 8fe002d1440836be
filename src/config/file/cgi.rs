//! `cgi = { ... }`: the CGI responder's options, every bad value reported at its place.

use std::ops::Range;
use std::path::Path;

use nix::unistd::{Group, User};
use toml::Spanned;

use super::build::{duration, resolve, size};
use super::diagnostic::Diagnostic;
use super::raw::RawCgi;
use crate::handlers::cgi::{CgiOptions, CgiTarget};
use crate::router::Responder;

/// Most programs a route may run at once, as a sanity bound on the setting.
const MAX_RUNNING: i64 = 4096;

/// Build the options of a `cgi` route.
pub(super) fn cgi_options(
    raw: Spanned<RawCgi>,
    site_root: Option<&Path>,
    base: &Path,
    errors: &mut Vec<Diagnostic>,
) -> Option<Responder> {
    let span: Range<usize> = raw.span();
    let cgi = raw.into_inner();
    let before = errors.len();
    let root = cgi
        .root
        .as_ref()
        .map(|r| resolve(base, r.get_ref()))
        .or_else(|| site_root.map(Path::to_path_buf));
    let target = match (&cgi.program, &cgi.dir) {
        (Some(program), None) => Some(CgiTarget::Program(resolve(base, program.get_ref()))),
        (None, Some(dir)) => Some(CgiTarget::Dir(resolve(base, dir.get_ref()))),
        (None, None) => match &root {
            Some(root) => Some(CgiTarget::Files(root.clone())),
            None => {
                errors.push(
                    Diagnostic::new(span.clone(), "this cgi route names no program")
                        .help("set `program` (one program), `dir` (a directory of programs), or a `root` whose files the path names"),
                );
                None
            }
        },
        (Some(_), Some(dir)) => {
            errors.push(
                Diagnostic::new(dir.span(), "`program` and `dir` cannot both be set")
                    .help("use `program` for one program, `dir` for a directory of them"),
            );
            None
        }
    };
    let header_timeout = duration(&cgi.header_timeout, errors);
    let idle_timeout = duration(&cgi.idle_timeout, errors);
    let max_running = match &cgi.max_running {
        Some(n) if !(1..=MAX_RUNNING).contains(n.get_ref()) => {
            errors.push(
                Diagnostic::new(
                    n.span(),
                    format!("max-running must be from 1 to {MAX_RUNNING}"),
                )
                .help("how many programs of this route may run at once"),
            );
            None
        }
        Some(n) => usize::try_from(*n.get_ref()).ok(),
        None => None,
    };
    let max_body = size(&cgi.max_body, errors);
    let run_as = run_as(cgi.user.as_ref(), cgi.group.as_ref(), errors);
    if errors.len() > before {
        return None;
    }
    let document_root = root.unwrap_or_else(|| resolve(base, "."));
    let mut opts = CgiOptions::new(target?, document_root);
    opts.interpreter = cgi.interpreter.map(|i| resolve(base, i.get_ref()));
    opts.env = cgi.env.unwrap_or_default().into_iter().collect();
    opts.inherit_env = cgi.inherit_env.unwrap_or_default();
    opts.pass_authorization = cgi.pass_authorization.unwrap_or(false);
    if let Some(t) = header_timeout {
        opts.header_timeout = t;
    }
    if let Some(t) = idle_timeout {
        opts.idle_timeout = t;
    }
    if let Some(n) = max_running {
        opts.max_running = n;
    }
    opts.max_body = max_body.unwrap_or(opts.max_body);
    opts.run_as = run_as;
    Some(Responder::Cgi(opts))
}

/// `user` (and `group`, else the user's own group): the ids programs run as.
fn run_as(
    user: Option<&Spanned<String>>,
    group: Option<&Spanned<String>>,
    errors: &mut Vec<Diagnostic>,
) -> Option<(u32, u32)> {
    let Some(user) = user else {
        if let Some(group) = group {
            errors.push(
                Diagnostic::new(group.span(), "`group` without `user`")
                    .help("name the user programs run as; its group is used unless `group` says otherwise"),
            );
        }
        return None;
    };
    let Ok(Some(found)) = User::from_name(user.get_ref()) else {
        errors.push(
            Diagnostic::new(
                user.span(),
                format!("no user named {:?} on this machine", user.get_ref()),
            )
            .help("name an existing user, such as www-data or nobody"),
        );
        return None;
    };
    let gid = match group {
        None => found.gid.as_raw(),
        Some(group) => match Group::from_name(group.get_ref()) {
            Ok(Some(g)) => g.gid.as_raw(),
            _ => {
                errors.push(
                    Diagnostic::new(
                        group.span(),
                        format!("no group named {:?} on this machine", group.get_ref()),
                    )
                    .help("name an existing group, such as www-data or nogroup"),
                );
                return None;
            }
        },
    };
    Some((found.uid.as_raw(), gid))
}
