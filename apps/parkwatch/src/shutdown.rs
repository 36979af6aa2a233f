//! Stopping on SIGTERM or ctrl-c: the work is dropped, every server logged off
//! (bounded, so a stuck server cannot hold the exit), and the exit status says
//! whether the command was cut short.

use crate::Failure;
use ami_parking_transport::{Client, ShutdownSignal};
use std::future::Future;
use std::time::Duration;

/// How long the Logoff to every server may take, all together.
const LOG_OFF_WITHIN: Duration = Duration::from_secs(1);

/// Runs `work` until it ends or `stop` resolves. Stopping ends `watch` (`long_running`)
/// with success; a one-shot command it cut short fails with 128 + the signal.
pub(crate) async fn until_stopped(
    work: impl Future<Output = Result<(), Failure>>,
    stop: impl Future<Output = ShutdownSignal>,
    long_running: bool,
) -> Result<(), Failure> {
    tokio::select! {
        r = work => r,
        s = stop => if long_running {
            Ok(())
        } else {
            Err(Failure(format!("interrupted by {s}"), s.exit_code()))
        },
    }
}

/// Logs off every server and closes the links, within [`LOG_OFF_WITHIN`].
pub(crate) async fn log_off(client: &Client) {
    if !client.shutdown_within(LOG_OFF_WITHIN).await {
        eprintln!("parkwatch: a server did not take the Logoff within {LOG_OFF_WITHIN:?}");
    }
}
