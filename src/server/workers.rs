//! `--workers N` with N > 1: one single-threaded runtime per worker thread, each accepting
//! from its own `SO_REUSEPORT` listeners, sharing one [`App`] (and so one file cache).
//!
//! A connection stays on the thread that accepted it: no work-stealing, no cross-thread
//! wakeups, and each runtime's timers and I/O driver serve only its own connections.

use std::future::Future;
use std::io;
use std::sync::Arc;

use futures_util::FutureExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{App, run_app};
use crate::config::Config;

/// Blocking-pool threads (file opens, reads, sendfile) shared out among the workers: tokio's
/// default for one runtime, so N workers do not allow N times as many.
const BLOCKING_THREADS: usize = 512;

/// Serve `per_worker[i]` on worker thread `i` until `shutdown` resolves (it is awaited on
/// the calling thread), then shut every worker down as [`super::run`] does. `started` runs
/// once every worker has its runtime and its listeners.
pub fn run(
    app: Arc<App>,
    config: Arc<Config>,
    per_worker: Vec<Vec<std::net::TcpListener>>,
    started: impl FnOnce(),
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let blocking = (BLOCKING_THREADS / per_worker.len().max(1)).max(16);
    let workers = per_worker.len();
    let (up_tx, up_rx) = std::sync::mpsc::channel::<()>();
    let mut threads = Vec::with_capacity(workers);
    for (i, listeners) in per_worker.into_iter().enumerate() {
        let (app, config, mut stop) = (app.clone(), config.clone(), stop_rx.clone());
        let up = up_tx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("usher-worker-{i}"))
            .spawn(move || -> io::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .max_blocking_threads(blocking)
                    .build()?;
                let result = runtime.block_on(async move {
                    let listeners = listeners
                        .into_iter()
                        .map(TcpListener::from_std)
                        .collect::<io::Result<Vec<_>>>()?;
                    let _ = up.send(());
                    drop(up);
                    let stopped = async move {
                        let _ = stop.wait_for(|stop| *stop).await;
                    };
                    run_app(app, config, listeners, stopped).await
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(1));
                result
            })?;
        threads.push(thread);
    }
    drop((stop_rx, up_tx));
    // Every worker has its runtime and listeners (or has failed and dropped its sender).
    let up = up_rx.iter().take(workers).count();
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    signals.block_on(async {
        // Poll once so signal handlers are installed before anyone is told we are up.
        let mut shutdown = std::pin::pin!(shutdown);
        if up < workers {
            return; // a worker failed to start: stop the others, report below
        }
        if shutdown.as_mut().now_or_never().is_none() {
            started();
            shutdown.await;
        }
    });
    let _ = stop_tx.send(true);
    let mut outcome = Ok(());
    for thread in threads {
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => outcome = Err(e),
            Err(_) => outcome = Err(io::Error::other("a worker thread panicked")),
        }
    }
    outcome
}
