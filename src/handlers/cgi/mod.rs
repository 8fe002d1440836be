//! Run programs that answer requests: CGI/1.1 (RFC 3875).
//!
//! A `cgi` route names either one program for its whole prefix (`program`: git-http-backend,
//! a framework's entry point), or a directory whose executables are named by the first path
//! segment after the prefix (`dir`: the classic `/cgi-bin/`), or, for an extension route
//! (`*.cgi`), the file the path names under a root. The rest of the path is PATH_INFO.
//!
//! - [`output`]: the program's header fields, parsed and checked (untrusted input).
//! - [`env`](mod@env): the meta-variables, built from scratch.
//! - [`run`]: the process: its input, output, errors, limits, and its end.

pub mod env;
pub mod output;
pub mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::http::target::NormalPath;
use crate::problem::Problem;
use crate::router::path::PathPattern;

/// Which program answers.
#[derive(Debug, Clone)]
pub enum CgiTarget {
    /// This program, for every path under the route.
    Program(PathBuf),
    /// The executable named by the first segment after the route's prefix, in this directory.
    Dir(PathBuf),
    /// The file the whole path names under this root (routes such as `*.cgi`).
    Files(PathBuf),
}

/// A `cgi` route's options.
#[derive(Debug, Clone)]
pub struct CgiOptions {
    /// Which program answers.
    pub target: CgiTarget,
    /// Run the script with this interpreter (`/usr/bin/python3 SCRIPT`) instead of directly.
    pub interpreter: Option<PathBuf>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Names of usher's own environment variables passed on (by default none; `PATH` is a
    /// fixed safe default unless listed).
    pub inherit_env: Vec<String>,
    /// Pass the `Authorization` field as `HTTP_AUTHORIZATION` (off: credentials are the
    /// server's).
    pub pass_authorization: bool,
    /// `DOCUMENT_ROOT` (and `PATH_TRANSLATED`'s base).
    pub document_root: PathBuf,
    /// Longest wait for the program's header fields: past it, 504.
    pub header_timeout: Duration,
    /// Longest silence from the program once its answer has started: past it, the answer is
    /// cut and the program killed.
    pub idle_timeout: Duration,
    /// Programs of this route running at once; past it, 503 with Retry-After.
    pub max_running: usize,
    /// The largest request content, declared or stored (content without a declared length
    /// is stored before the program starts, see [`crate::handlers::spool`]); past it, 413.
    pub max_body: u64,
    /// Run programs as this user id and group id (usher must run as root).
    pub run_as: Option<(u32, u32)>,
}

impl CgiOptions {
    /// Options for `target` with usher's defaults.
    pub fn new(target: CgiTarget, document_root: PathBuf) -> Self {
        CgiOptions {
            target,
            interpreter: None,
            env: Vec::new(),
            inherit_env: Vec::new(),
            pass_authorization: false,
            document_root,
            header_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_running: 64,
            max_body: 1 << 30,
            run_as: None,
        }
    }
}

/// A route's CGI responder: its options and its count of running programs.
#[derive(Debug)]
pub struct Cgi {
    /// The options.
    pub opts: CgiOptions,
    running: Arc<Semaphore>,
}

impl Cgi {
    /// The responder for `opts`.
    pub fn new(opts: CgiOptions) -> Self {
        let running = Arc::new(Semaphore::new(opts.max_running));
        Cgi { opts, running }
    }
}

/// The program chosen for one request, and how the path splits around it (RFC 3875 §4.1.5,
/// §4.1.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The file to run (or to give the interpreter).
    pub file: PathBuf,
    /// The URL path that names it (`SCRIPT_NAME`).
    pub name: String,
    /// The rest of the path (`PATH_INFO`), empty or starting with `/`.
    pub path_info: String,
}

impl Script {
    /// A non-parsed-header program (RFC 3875 §5): its name starts with `nph-`.
    pub fn is_nph(&self) -> bool {
        self.file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("nph-"))
    }
}

/// Choose the program for `path`, whose first `consumed` segments the route's `pattern`
/// matched. The names come from the normalised path (no `..`, no NUL) and hidden names are
/// refused, so a request cannot name a file outside the directory or root.
///
/// Under a glob route (`*.py`) the program's own path must match the glob: the pattern says
/// which files are programs. `/uploads/evil.jpg/x.py` would otherwise run an uploaded image
/// with the interpreter, `x.py` being only its PATH_INFO (the hole PHP's `cgi.fix_pathinfo`
/// opened, which php-fpm's `security.limit_extensions` closes).
pub fn resolve(
    target: &CgiTarget,
    pattern: &PathPattern,
    path: &NormalPath,
    consumed: usize,
) -> Result<Script, Box<Problem>> {
    let segments = &path.segments();
    let consumed = consumed.min(segments.len());
    let not_found = || Box::new(Problem::not_found(path.as_str(), Vec::new()));
    let joined = |segs: &[String]| segs.iter().map(|s| format!("/{s}")).collect::<String>();
    // PATH_INFO: the segments after the script, keeping a trailing slash.
    let info = |rest: &[String]| {
        let mut info = joined(rest);
        if path.trailing_slash() && (!rest.is_empty() || consumed > 0) {
            info.push('/');
        }
        info
    };
    match target {
        CgiTarget::Program(program) => Ok(Script {
            file: program.clone(),
            name: joined(&segments[..consumed]),
            path_info: info(&segments[consumed..]),
        }),
        CgiTarget::Dir(dir) => {
            let Some(segment) = segments.get(consumed) else {
                return Err(not_found());
            };
            if segment.starts_with('.') || !is_program(&dir.join(segment)) {
                return Err(not_found());
            }
            Ok(Script {
                file: dir.join(segment),
                name: joined(&segments[..=consumed]),
                path_info: info(&segments[consumed + 1..]),
            })
        }
        CgiTarget::Files(root) => {
            // The shortest leading run of segments that names a file is the script.
            let mut file = root.clone();
            for (i, segment) in segments.iter().enumerate() {
                if segment.starts_with('.') {
                    break;
                }
                file.push(segment);
                if is_program(&file) {
                    let name = NormalPath::from_segments(segments[..=i].to_vec(), false);
                    if matches!(pattern, PathPattern::Glob(_)) && pattern.matches(&name).is_none() {
                        break;
                    }
                    // A root of files (the site's own, uploads and all) keeps the files
                    // route's sandbox: a link leading out of it runs nothing, as it serves
                    // nothing there. (A `dir` of programs is the operator's: Debian's
                    // /usr/lib/cgi-bin holds links to installed programs.)
                    if !stays_within(&file, root) {
                        break;
                    }
                    // The script took a segment, so a trailing slash is PATH_INFO's:
                    // `/app.py/` gives `/` (RFC 3875 §4.1.5), as in a `dir`.
                    let mut path_info = joined(&segments[i + 1..]);
                    if path.trailing_slash() {
                        path_info.push('/');
                    }
                    return Ok(Script {
                        file,
                        name: joined(&segments[..=i]),
                        path_info,
                    });
                }
                if !file.is_dir() {
                    break;
                }
            }
            Err(not_found())
        }
    }
}

/// Whether `file`, its links resolved, is inside `root`, its links resolved.
fn stays_within(file: &Path, root: &Path) -> bool {
    match (std::fs::canonicalize(file), std::fs::canonicalize(root)) {
        (Ok(file), Ok(root)) => file.starts_with(root),
        _ => false,
    }
}

/// A regular file (not a directory, device or fifo); whether it may run is the OS's answer.
fn is_program(file: &Path) -> bool {
    std::fs::metadata(file).is_ok_and(|m| m.is_file())
}

#[cfg(test)]
mod tests;
