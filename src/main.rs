//! The `usher` binary: parse the command line, build the config, run the server until a signal.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use futures_util::FutureExt as _;
use usher::cli::{Cli, Command};
use usher::config::Config;
use usher::server::App;

mod allocator;

/// See [`allocator`] for why mimalloc, and why called this way.
#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

fn main() {
    // Transparent huge pages off for this process (and the programs it runs): mimalloc asks
    // for them on its heap, which then grows by whole 2 MiB pages. 1000 idle keep-alive
    // connections (row g of bench/compare.sh) took 2.0 or 4.0 MiB by where the heap's last
    // page boundary fell; they hold 2.4 MiB page by page. Small heaps gain nothing from them.
    // If the kernel refuses, usher runs as before.
    let _ = nix::sys::prctl::set_thp_disable(true);
    let outcome = run();
    usher::server::server_log::flush();
    if let Err(e) = outcome {
        // One line a person can act on, not a panic or a backtrace (nor one when stderr is
        // gone: `eprintln!` would panic).
        let _ = writeln!(std::io::stderr(), "usher: {}", message(&e));
        std::process::exit(1);
    }
}

/// `e` and its causes, each cause only if the text before does not already say it (usher's
/// own errors name their cause in their message: printing the whole chain repeated it).
fn message(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "usher=info".into()),
        )
        // Through a writer thread: a stalled or closed stderr never holds back an answer.
        .with_writer(usher::server::server_log::Stderr)
        // Colours only for a person at a terminal, not in log files or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = match cli.command {
        Some(Command::Serve(args) | Command::Run(args)) => args,
        Some(Command::Check(check)) => return usher::tools::check(&check.config),
        Some(Command::Explain(explain)) => return usher::tools::explain(&explain),
        None => cli.serve,
    };
    let config = Arc::new(match &args.config {
        Some(file) => Config::from_file_args(file, &args)?,
        None => Config::from_serve_args(&args)?,
    });
    raise_open_file_limit();
    let app = Arc::new(App::new(&config)?);
    if let Some(target) = &config.access_log {
        usher::server::access_log::start(target).context("cannot open the access log")?;
    }
    // Until shutdown, SIGHUP (and with --watch a changed file) reloads the config file.
    let reloads =
        usher::server::reload::reload_on_signal(app.clone(), config.clone(), Arc::new(args));
    let grace = config.grace_period;
    let until_shutdown = async move {
        tokio::select! {
            () = shutdown_signal(grace) => {}
            () = reloads => {}
            () = usher::server::access_log::reopen_on_signal() => {}
        }
    };
    if config.workers > 1 {
        // A runtime per worker thread, each with its own SO_REUSEPORT listeners.
        let per_worker = usher::server::bind_per_worker(&config.listen, config.workers)?;
        let addrs: Vec<_> = per_worker[0]
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        let started = || announce(&config, addrs.into_iter());
        usher::server::workers::run(app, config.clone(), per_worker, started, until_shutdown)?;
        return Ok(());
    }
    // One worker: a current-thread runtime, with no work-stealing or cross-thread wakeups.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let listeners = usher::server::bind(&config.listen)?;
        // Poll once so signal handlers are installed before anyone is told we are up.
        let mut shutdown = std::pin::pin!(until_shutdown);
        let _ = shutdown.as_mut().now_or_never();
        announce(
            &config,
            listeners.iter().filter_map(|l| l.local_addr().ok()),
        );
        usher::server::run_app(app, config, listeners, shutdown).await?;
        Ok(())
    });
    // Past the grace period, connections still open are cut; blocking file readers get a
    // moment to notice their receiver is gone rather than holding the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Open files usher asks for, at most (65 536), when the soft limit is lower and the hard
/// limit allows: children (CGI programs) inherit the limit, and some close every descriptor
/// up to it one by one.
const OPEN_FILES_WANTED: u64 = 65_536;

/// Raise the soft limit on open files towards the hard one. Every connection, upstream
/// connection and file being sent takes a descriptor, and the usual soft limit (1 024 for a
/// login shell on Debian) would refuse the thousandth browser; the hard limit is the
/// administrator's word, the soft one only a default (Go programs such as Caddy raise it too).
fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let wanted = OPEN_FILES_WANTED.min(hard);
    if soft < wanted {
        match setrlimit(Resource::RLIMIT_NOFILE, wanted, hard) {
            Ok(()) => tracing::debug!(from = soft, to = wanted, "raised the open file limit"),
            Err(e) => tracing::warn!(error = %e, soft, "cannot raise the open file limit"),
        }
    }
}

/// The startup line: the root and every address, as URLs.
fn announce(config: &Config, addrs: impl Iterator<Item = std::net::SocketAddr>) {
    let addrs: Vec<String> = addrs.map(|a| format!("http://{a}")).collect();
    let what = match &config.source {
        Some(file) => format!("the sites of {}", file.display()),
        None => config.files.root.display().to_string(),
    };
    // In order with the log's lines, which go through the same queue.
    let line = format!("usher: serving {what} on {}\n", addrs.join(", "));
    usher::server::server_log::say(line.as_bytes());
}

/// Resolves on Ctrl-C or SIGTERM, having said so once. From then on a second one ends the
/// process at once, without waiting out the grace period (as nginx's fast shutdown and
/// Caddy's second interrupt do): a person at a terminal who presses Ctrl-C twice wants out.
async fn shutdown_signal(grace: std::time::Duration) {
    first_signal().await;
    // The runtime that waited for the first signal may be busy draining, or gone: a thread
    // of its own waits for the second. It is listening before the first is announced, so a
    // second one sent on seeing the announcement is never missed.
    let (listening, ready) = std::sync::mpsc::channel();
    let _ = std::thread::Builder::new()
        .name("usher-second-signal".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                let _ = listening.send(());
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                usher::server::server_log::say(b"usher: stopping at once (second signal)\n");
                // No program outlives usher, as when the grace period ends.
                usher::handlers::cgi::run::kill_all();
                usher::server::server_log::flush();
                std::process::exit(130);
            });
        });
    // A moment's wait on a thread's start, once, at shutdown.
    let _ = ready.recv_timeout(std::time::Duration::from_secs(1));
    tracing::info!(
        ?grace,
        "shutting down: finishing requests in flight (Ctrl-C again to stop at once)"
    );
}

/// Resolves on the next Ctrl-C or SIGTERM.
async fn first_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
