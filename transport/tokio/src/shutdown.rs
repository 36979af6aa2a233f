//! Waiting for the request to stop: SIGTERM or SIGINT (ctrl-c) on Unix, ctrl-c
//! elsewhere. The apps race their work against [`shutdown_signal`], then log off and
//! close their sockets.

use std::future::Future;

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownSignal {
    /// SIGINT: ctrl-c in a terminal.
    Interrupt,
    /// SIGTERM: a service manager, `kill`, a container runtime.
    Terminate,
}

impl ShutdownSignal {
    /// The exit status a shell reports for a process this signal ended (128 + the
    /// signal's number: 130 for SIGINT, 143 for SIGTERM), for work it interrupted.
    pub fn exit_code(self) -> u8 {
        match self {
            ShutdownSignal::Interrupt => 130,
            ShutdownSignal::Terminate => 143,
        }
    }
}

impl std::fmt::Display for ShutdownSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShutdownSignal::Interrupt => "SIGINT",
            ShutdownSignal::Terminate => "SIGTERM",
        })
    }
}

/// Resolves at the first SIGTERM or SIGINT (ctrl-c) from now on.
///
/// The handlers are installed by this call, not at the first poll: a signal that
/// arrives before the future is awaited is not lost, and from this call on those
/// signals no longer end the process by themselves (the caller decides when to
/// exit). If a handler cannot be installed, that signal keeps its default action.
///
/// # Panics
/// Outside a tokio runtime (the handlers belong to its driver).
///
/// ```no_run
/// # async fn demo() {
/// let stop = ami_parking_transport::shutdown_signal();
/// tokio::select! {
///     _ = std::future::pending::<()>() => {}
///     s = stop => eprintln!("{s}: stopping"),
/// }
/// # }
/// ```
pub fn shutdown_signal() -> impl Future<Output = ShutdownSignal> + Send + 'static {
    imp::install()
}

#[cfg(unix)]
mod imp {
    use super::ShutdownSignal;
    use std::future::Future;
    use tokio::signal::unix::{signal, Signal, SignalKind};

    pub(super) fn install() -> impl Future<Output = ShutdownSignal> + Send + 'static {
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            tokio::select! {
                _ = next(term) => ShutdownSignal::Terminate,
                _ = next(int) => ShutdownSignal::Interrupt,
            }
        }
    }

    /// The next delivery of an installed handler; never, for one that is not.
    async fn next(handler: std::io::Result<Signal>) {
        match handler {
            Ok(mut s) => {
                if s.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            }
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::ShutdownSignal;
    use std::future::Future;

    pub(super) fn install() -> impl Future<Output = ShutdownSignal> + Send + 'static {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            ShutdownSignal::Interrupt
        }
    }
}
