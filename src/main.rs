//! The `usher` binary: parse the command line, build the config, run the server until a signal.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use usher::cli::{Cli, Command};
use usher::config::Config;

fn main() {
    if let Err(e) = run() {
        // One line a person can act on, not a panic or a backtrace.
        eprintln!("usher: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "usher=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in log files or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    let config = Arc::new(Config::from_serve_args(&args)?);
    // One worker: a current-thread runtime, with no work-stealing or cross-thread wakeups.
    let mut builder = if config.workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(config.workers);
        b
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let listeners = usher::server::bind(&config.listen)?;
        let addrs: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| format!("http://{a}"))
            .collect();
        eprintln!(
            "usher: serving {} on {}",
            config.files.root.display(),
            addrs.join(", ")
        );
        usher::server::run(config, listeners, shutdown_signal()).await?;
        Ok(())
    });
    // Past the grace period, connections still open are cut; blocking file readers get a
    // moment to notice their receiver is gone rather than holding the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
