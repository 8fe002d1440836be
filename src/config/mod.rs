//! The validated, typed configuration every layer below reads, shared as `Arc<Config>`.
//!
//! [`file`](mod@file) reads `usher.toml` (sites, routes, server settings) into the same typed values.

pub mod file;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::handlers::static_files::StaticOptions;
use crate::router::Router;

/// Where usher listens when told nothing.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    8080,
));

/// How long in-flight requests may run after a shutdown signal before connections are cut.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Everything usher needs to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on (IPv4 and IPv6).
    pub listen: Vec<SocketAddr>,
    /// The static file responder's options, including the root.
    pub files: StaticOptions,
    /// Bounded wait for in-flight requests on shutdown.
    pub grace_period: Duration,
    /// Runtime threads answering requests.
    pub workers: usize,
    /// Sites and routes from a config file; `None` serves `files` for every host and path.
    pub router: Option<Arc<Router>>,
    /// The config file, re-read on SIGHUP.
    pub source: Option<PathBuf>,
    /// File-serving flags from the command line, applied over every files route.
    pub file_flags: FileFlags,
    /// Where each answered request is logged, if anywhere (`access-log`, `--access-log`).
    pub access_log: Option<crate::server::access_log::Target>,
    /// `--compress`: routes without a `compress` of their own compress with every coding.
    pub compress: bool,
}

/// The command line's file-serving flags; each one set overrides the file's setting.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileFlags {
    /// `--show-hidden`.
    pub show_hidden: bool,
    /// `--follow-symlinks`.
    pub follow_symlinks: bool,
    /// `--lenient-accept`.
    pub lenient_accept: bool,
    /// `--no-listing`.
    pub no_listing: bool,
    /// `--precompressed`.
    pub precompressed: bool,
}

impl FileFlags {
    /// Apply the flags that are set to `opts`.
    pub fn apply(&self, opts: &mut StaticOptions) {
        opts.show_hidden |= self.show_hidden;
        opts.follow_symlinks |= self.follow_symlinks;
        opts.lenient_accept |= self.lenient_accept;
        opts.listing &= !self.no_listing;
        opts.precompressed |= self.precompressed;
    }
}

/// One worker per core the process may run on.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A configuration that cannot be served; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or has errors (rendered with file, line and column).
    #[error("{0}")]
    File(#[from] file::ConfigFileError),
    /// A ROOT argument and a config file were both given.
    #[error("give either a directory to serve or --config, not both (the file names its roots)")]
    RootWithConfig,
    /// A path the configuration names (a program, a directory of programs, an error page)
    /// cannot be used.
    #[error("cannot use {what} {}: {reason}", path.display())]
    Path {
        /// What the path is for.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Paths the routes name that cannot be used, each with its route's place in the file
    /// (`usher.toml:12: cannot serve ...`), one per line.
    #[error("{}", .0.join("\n"))]
    Paths(Vec<String>),
    /// The root does not exist or is not a directory.
    #[error("cannot serve {path}: {reason}")]
    Root {
        /// The root as given.
        path: PathBuf,
        /// Why it cannot be served.
        reason: &'static str,
    },
}

impl Config {
    /// The configuration for `root` with every default, listening on `listen`.
    pub fn for_root(root: &Path, listen: Vec<SocketAddr>) -> Result<Config, ConfigError> {
        Ok(Config {
            listen,
            files: StaticOptions::new(canonical_root(root)?),
            grace_period: DEFAULT_GRACE_PERIOD,
            workers: default_workers(),
            router: None,
            source: None,
            file_flags: FileFlags::default(),
            access_log: None,
            compress: false,
        })
    }

    /// The configuration from `args.config`, with command-line flags overriding the file
    /// (CLI > file > default): `--listen`, `--workers`, `--grace-period`, and the file flags
    /// (`--show-hidden`, `--follow-symlinks`, `--lenient-accept`, `--no-listing`,
    /// `--precompressed`) for every files route, and `--compress` for every route without
    /// its own `compress`.
    pub fn from_file_args(path: &Path, args: &ServeArgs) -> Result<Config, ConfigError> {
        if args.root.is_some() {
            return Err(ConfigError::RootWithConfig);
        }
        let file = file::load(path)?;
        let mut config = Config {
            listen: if file.listen.is_empty() {
                vec![DEFAULT_LISTEN]
            } else {
                file.listen
            },
            files: StaticOptions::new(PathBuf::from(".")),
            grace_period: file.grace_period.unwrap_or(DEFAULT_GRACE_PERIOD),
            workers: file.workers.unwrap_or_else(default_workers),
            router: Some(Arc::new(file.router)),
            source: Some(path.to_path_buf()),
            file_flags: FileFlags::default(),
            access_log: file.access_log,
            compress: false,
        };
        config.apply_flags(args);
        Ok(config)
    }

    /// Validate `usher serve` arguments into a configuration.
    pub fn from_serve_args(args: &ServeArgs) -> Result<Config, ConfigError> {
        let root = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
        let mut config = Config::for_root(&root, vec![DEFAULT_LISTEN])?;
        config.apply_flags(args);
        Ok(config)
    }

    /// Let the flags given override what the file or the defaults set.
    fn apply_flags(&mut self, args: &ServeArgs) {
        if !args.listen.is_empty() {
            let mut all: Vec<SocketAddr> = args.listen.iter().flatten().copied().collect();
            all.dedup();
            self.listen = all;
        }
        self.file_flags = FileFlags {
            show_hidden: args.show_hidden,
            follow_symlinks: args.follow_symlinks,
            lenient_accept: args.lenient_accept,
            no_listing: args.no_listing,
            precompressed: args.precompressed,
        };
        self.file_flags.apply(&mut self.files);
        self.compress |= args.compress;
        if let Some(grace) = args.grace_period {
            self.grace_period = grace;
        }
        if let Some(workers) = args.workers {
            self.workers = usize::from(workers);
        }
        if let Some(log) = &args.access_log {
            self.access_log = crate::server::access_log::Target::parse(log);
        }
    }
}

/// The absolute, symlink-free form of `root`, which must be a directory: the sandbox boundary.
pub fn canonical_root(root: &Path) -> Result<PathBuf, ConfigError> {
    let error = |reason| ConfigError::Root {
        path: root.to_path_buf(),
        reason,
    };
    let canonical = root.canonicalize().map_err(|e| {
        error(match e.kind() {
            std::io::ErrorKind::NotFound => "no such directory",
            std::io::ErrorKind::PermissionDenied => "permission denied",
            _ => "the path cannot be resolved",
        })
    })?;
    if !canonical.is_dir() {
        return Err(error("not a directory"));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let args = ServeArgs {
            root: Some(dir.path().to_path_buf()),
            show_hidden: true,
            no_listing: true,
            grace_period: Some(Duration::from_millis(5)),
            workers: Some(3),
            ..ServeArgs::default()
        };
        let c = Config::from_serve_args(&args).unwrap();
        assert_eq!(c.listen, vec![DEFAULT_LISTEN]);
        assert_eq!(c.files.root, dir.path().canonicalize().unwrap());
        assert!(c.files.show_hidden && !c.files.listing && !c.files.follow_symlinks);
        assert_eq!(c.grace_period, Duration::from_millis(5));
        assert_eq!(c.workers, 3);
        let defaults = Config::from_serve_args(&ServeArgs::default()).unwrap();
        assert_eq!(defaults.workers, default_workers());
    }

    #[test]
    fn missing_or_file_root_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = Config::for_root(&missing, vec![]).unwrap_err().to_string();
        assert!(e.ends_with("no such directory"), "{e}");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let e = Config::for_root(&file, vec![]).unwrap_err().to_string();
        assert!(e.ends_with("not a directory"), "{e}");
    }
}
