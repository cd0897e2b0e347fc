//! SIGINT and SIGTERM during a run: no result is lost. The run stops starting cells, gives the cells in flight a
//! bounded time to finish ([`GRACE`]), abandons the rest (their endpoints are dropped, so temporary files go and
//! adapter processes are stopped), and the command reports every completed cell and exits 130 (SIGINT) or 143
//! (SIGTERM), as a shell would for a process the signal killed.
//!
//! Only the CLI listens ([`listen`]): a library user or the `cargo test` harness keeps the default handling.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long cells in flight may take to finish once a signal came.
pub const GRACE: Duration = Duration::from_secs(3);

static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// A signal that came before the run's runtime started listening (while the PKI is made and the scenarios load, a
/// few seconds on a loaded machine): set by [`catch_early`], read by [`requested`], so the run then starts no cell
/// and reports, instead of the process dying of the signal with nothing written.
fn early() -> &'static std::sync::Arc<std::sync::atomic::AtomicUsize> {
    static E: OnceLock<std::sync::Arc<std::sync::atomic::AtomicUsize>> = OnceLock::new();
    E.get_or_init(Default::default)
}

/// Takes over SIGINT and SIGTERM from the start of a command that will [`listen`] later.
pub fn catch_early() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for (sig, n) in [(SIGINT, 2), (SIGTERM, 15)] {
        let _ = signal_hook::flag::register_usize(sig, early().clone(), n);
    }
}

fn notify() -> &'static Notify {
    static N: OnceLock<Notify> = OnceLock::new();
    N.get_or_init(Notify::new)
}

/// Starts listening for SIGINT and SIGTERM on the current tokio runtime (call from inside it). A second signal of
/// either kind ends the process at once, for a user who does not want to wait for the grace period.
pub fn listen() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    tokio::spawn(async move {
        loop {
            let number = tokio::select! {
                _ = int.recv() => 2,
                _ = term.recv() => 15,
            };
            if SIGNAL.swap(number, Ordering::SeqCst) != 0 {
                std::process::exit(128 + number);
            }
            eprintln!(
                "tlsmatrix: {}: finishing the cells in flight (at most {} s), then reporting what completed",
                if number == 2 { "SIGINT" } else { "SIGTERM" },
                GRACE.as_secs()
            );
            notify().notify_waiters();
        }
    });
}

/// The signal that asked the run to stop, if one did (2 or 15).
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => match early().load(Ordering::SeqCst) {
            0 => None,
            n => Some(n as i32),
        },
        n => Some(n),
    }
}

/// Resolves once a stop was requested.
pub async fn stopped() {
    loop {
        let wait = notify().notified();
        if requested().is_some() {
            return;
        }
        wait.await;
    }
}

/// The exit code for a run a signal stopped: 128 + the signal's number.
pub fn exit_code() -> Option<u8> {
    requested().map(|n| 128 + n as u8)
}
