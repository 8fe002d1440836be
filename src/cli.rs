//! Command-line definitions (clap). Every flag is an `Option` so "unset" differs from a default.
//!
//! `usher` alone serves the current directory on 127.0.0.1:8080; `usher serve [ROOT] --listen A`
//! (or the same flags without `serve`) chooses.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// usher: a web server that serves files, explains errors, and hands requests to programs.
#[derive(Debug, Parser)]
#[command(name = "usher", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without one, usher serves.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serve options, accepted without the `serve` word too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a directory (or the sites of a config file) over HTTP/1.x and h2c.
    Serve(ServeArgs),
    /// Serve the sites of a config file: `usher run -c usher.toml` (the same as `serve`).
    Run(ServeArgs),
    /// Check a config file (syntax, values, roots, routes) and exit 0 if it can be served.
    Check(CheckArgs),
    /// Show, without serving, how a request would be routed and answered.
    Explain(ExplainArgs),
}

/// Options of `usher check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
}

/// Options of `usher explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The config file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// A request header, as `Name: value`; repeat for several.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The method, such as GET.
    pub method: String,
    /// The URL (`http://host/path?query`) or path (`/path`, with Host from -H).
    pub url: String,
}

/// Options of `usher serve`.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// The directory to serve [default: the current directory].
    pub root: Option<PathBuf>,
    /// Serve the sites of this config file (flags given as well override it). SIGHUP
    /// reloads it.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With --config: reload the file whenever it changes, as on SIGHUP.
    #[arg(long, requires = "config")]
    pub watch: bool,
    /// Address to listen on, as IP:PORT, `[IPv6]:PORT`, HOST:PORT, a bare PORT (on 127.0.0.1)
    /// or :PORT (every interface).
    /// Repeat to listen on several [default: 127.0.0.1:8080].
    #[arg(short, long = "listen", value_name = "ADDR:PORT", value_parser = parse_listen)]
    pub listen: Vec<Vec<SocketAddr>>,
    /// Serve dot-files and dot-directories (`.well-known` is always served).
    #[arg(long)]
    pub show_hidden: bool,
    /// Follow symbolic links that point outside the root.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Serve a file even when the Accept header rules out its type, instead of 406.
    #[arg(long)]
    pub lenient_accept: bool,
    /// Answer 403 (naming the policy) for directories without an index file instead of
    /// listing them, as nginx does.
    #[arg(long)]
    pub no_listing: bool,
    /// Serve `FILE.br`, `FILE.zst` or `FILE.gz` beside a file, encoded, to clients whose
    /// Accept-Encoding takes it (nginx's gzip_static).
    #[arg(long)]
    pub precompressed: bool,
    /// Compress text-like answers (HTML, CSS, JavaScript, JSON, SVG, ...) with zstd, br or
    /// gzip for clients whose Accept-Encoding takes one, on every route without its own
    /// `compress` (nginx's gzip, Caddy's encode).
    #[arg(long)]
    pub compress: bool,
    /// Threads answering requests [default: one per core]. With 1, usher runs on a single
    /// thread with no cross-thread scheduling at all.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// How long in-flight requests may run after SIGTERM or Ctrl-C, e.g. `10s`, `500ms` [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace_period: Option<Duration>,
    /// Log every request in the combined format (as nginx and Apache do) to `-` (stdout),
    /// `stderr` or a file (appended to); `off` overrides the config file [default: off].
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<String>,
}

/// Parse a listen address: `IP:PORT`, `[IPv6]:PORT`, `HOST:PORT` (every address it resolves to),
/// a bare `PORT` (127.0.0.1) or `:PORT` (every interface).
pub fn parse_listen(s: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    if let Ok(port) = s.parse::<u16>() {
        return Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
    }
    if let Some(all) = every_interface(s) {
        return Ok(all);
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("expected IP:PORT, [IPv6]:PORT, HOST:PORT or PORT ({e})"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{s} resolves to no address"));
    }
    Ok(addrs)
}

/// `:PORT`, as Go servers (Caddy) write it: every interface, IPv4 and IPv6.
pub fn every_interface(s: &str) -> Option<Vec<SocketAddr>> {
    let port = s.strip_prefix(':')?.parse::<u16>().ok()?;
    Some(vec![
        SocketAddr::from(([0, 0, 0, 0], port)),
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
    ])
}

/// Parse a duration written as a number with a unit: `ms`, `s`, `m`, `h` (a bare number is
/// seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("expected seconds, or a number with a unit (10s, 500ms, 2m, 1h), got {s:?}")
    })?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        other => Err(format!("unknown unit {other:?}: use ms, s, m or h")),
    }
}

/// Parse a size in bytes: a number with an optional binary unit `k`, `M` or `G` (`KiB`,
/// `MiB`, `GiB` and lower case are accepted too), as nginx writes `client_max_body_size`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a number with a unit such as 100M or 512k, got {s:?}"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(format!("unknown unit {unit:?}: use k, M or G")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_and_refuse_the_rest() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        for bad in ["", "M", "-1M", "1.5M", "10T", "1MB", "99999999999999999999"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert!(parse_size("18014398509481984G").is_err(), "overflow");
    }

    #[test]
    fn listen_forms() {
        assert_eq!(
            parse_listen("8081").unwrap(),
            vec!["127.0.0.1:8081".parse().unwrap()]
        );
        assert_eq!(
            parse_listen(":8081").unwrap(),
            vec![
                "0.0.0.0:8081".parse::<SocketAddr>().unwrap(),
                "[::]:8081".parse().unwrap()
            ]
        );
        assert!(parse_listen(":x").is_err());
        assert_eq!(
            parse_listen("[::1]:0").unwrap(),
            vec!["[::1]:0".parse().unwrap()]
        );
        assert!(
            parse_listen("localhost:9")
                .unwrap()
                .iter()
                .all(|a| a.ip().is_loopback())
        );
        assert!(parse_listen("nonsense").is_err());
        assert!(parse_listen("1.2.3.4:99999").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("s").is_err());
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn serve_flags_work_with_and_without_the_subcommand() {
        let a = Cli::try_parse_from(["usher", "/srv", "--listen", "9000"]).unwrap();
        assert!(a.command.is_none());
        assert_eq!(a.serve.root, Some(PathBuf::from("/srv")));
        let b = Cli::try_parse_from(["usher", "serve", "/srv", "-l", "9000", "-l", "[::1]:9000"])
            .unwrap();
        let Some(Command::Serve(s)) = b.command else {
            panic!("expected serve");
        };
        assert_eq!(s.listen.len(), 2);
        let none = Cli::try_parse_from(["usher"]).unwrap();
        assert!(
            none.command.is_none() && none.serve.root.is_none() && none.serve.listen.is_empty()
        );
    }
}
