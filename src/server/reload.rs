//! Live reload: SIGHUP (and, with `--watch`, a change to the config file) re-reads the config
//! file. A file that cannot be served is logged and the running configuration stays; one that
//! can replaces it for new requests, while requests in flight finish on the old one.
//!
//! Listen addresses, workers, the grace period and the access log are fixed at start: a change to them is
//! logged as needing a restart, and the rest of the file still applies.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::App;
use crate::cli::ServeArgs;
use crate::config::Config;

/// How often `--watch` looks at the config file.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Re-read `running.source` with the command line's `args` and serve it if it can be
/// served. Returns whether the new configuration is now in use.
pub fn reload(app: &App, running: &Config, args: &ServeArgs) -> bool {
    let Some(path) = &running.source else {
        return false;
    };
    let next = match Config::from_file_args(path, args) {
        Ok(next) => next,
        Err(e) => {
            tracing::error!(
                "reload of {} refused, still serving the previous configuration:\n{e}",
                path.display()
            );
            return false;
        }
    };
    if let Err(e) = app.reload(&next) {
        tracing::error!(
            "reload of {} refused, still serving the previous configuration: {e}",
            path.display()
        );
        return false;
    }
    if next.listen != running.listen
        || next.workers != running.workers
        || next.grace_period != running.grace_period
        || next.access_log != running.access_log
    {
        tracing::warn!(
            "reloaded {}; its listen addresses, workers, grace period or access log changed, which takes a restart",
            path.display()
        );
    } else {
        tracing::info!("reloaded {}", path.display());
    }
    true
}

/// Reload on every SIGHUP and, if `args.watch`, when the file's modification time or size
/// changes. Runs until dropped.
pub async fn reload_on_signal(app: Arc<App>, running: Arc<Config>, args: Arc<ServeArgs>) {
    let Some(path) = running.source.clone() else {
        return nothing_to_reload().await;
    };
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload by restarting");
            return std::future::pending().await;
        }
    };
    let mut seen = stamp(&path);
    // A change is read once it has held for a whole interval: a file written in pieces (a
    // save that is not a rename, a copy over the network) is not loaded half-written.
    let mut settling = None;
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = hangup.recv() => {}
            _ = tick.tick(), if args.watch => {
                let now = stamp(&path);
                if now == seen {
                    settling = None;
                    continue;
                }
                if settling.as_ref() != Some(&now) {
                    settling = Some(now);
                    continue;
                }
                settling = None;
                seen = now;
            }
        }
        let config = running.clone();
        let (app, args) = (app.clone(), args.clone());
        // Reading and checking the file touches the disk: keep it off the runtime.
        let _ = tokio::task::spawn_blocking(move || reload(&app, &config, &args)).await;
    }
}

/// Without a config file SIGHUP reloads nothing, and says so; left to its default action it
/// would end the process (a terminal closing, or a habit from nginx).
async fn nothing_to_reload() {
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        return std::future::pending().await;
    };
    while hangup.recv().await.is_some() {
        tracing::info!("SIGHUP: nothing to reload (usher serves a directory, not a config file)");
    }
    std::future::pending().await
}

/// What `--watch` compares: the file's modification time and size, and its inode and
/// status-change time, which a file replaced by another (a deploy tool keeping the
/// modification time, a symlink swapped to a new directory as Kubernetes does) changes
/// even when the first two stay.
fn stamp(path: &Path) -> Option<(SystemTime, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.modified().ok()?,
        meta.len(),
        meta.ino(),
        meta.ctime(),
        meta.ctime_nsec(),
    ))
}
