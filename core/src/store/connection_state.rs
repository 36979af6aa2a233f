//! The state of the link to Asterisk as the store shows it, and as a person reads it.

use std::fmt;

/// The state of the link to Asterisk, as the store shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not connected and not trying (initial state).
    #[default]
    Disconnected,
    /// Opening the link.
    Connecting,
    /// Link open, login in progress.
    LoggingIn,
    /// Logged in: events flow and requests can be sent.
    LoggedIn,
    /// The link dropped or login failed; the transport is waiting to try again.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// Why the last attempt failed.
        last_error: String,
    },
    /// Stopped for good (shut down, or given up).
    Stopped,
}

/// What a person reads: `connected`, `connecting`, `logging in`, `disconnected`,
/// `stopped`, or `disconnected: <why> (retry <attempt>)`.
///
/// ```
/// use ami_parking::ConnectionState;
/// assert_eq!(ConnectionState::LoggedIn.to_string(), "connected");
/// let down = ConnectionState::Reconnecting { attempt: 2, last_error: "connection refused".into() };
/// assert_eq!(down.to_string(), "disconnected: connection refused (retry 2)");
/// ```
impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionState::LoggedIn => f.write_str("connected"),
            ConnectionState::Connecting => f.write_str("connecting"),
            ConnectionState::LoggingIn => f.write_str("logging in"),
            ConnectionState::Disconnected => f.write_str("disconnected"),
            ConnectionState::Stopped => f.write_str("stopped"),
            ConnectionState::Reconnecting { attempt, last_error } => {
                write!(f, "disconnected: {last_error} (retry {attempt})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionState::*;

    #[test]
    fn every_state_reads_as_the_board_has_always_shown_it() {
        let down = Reconnecting { attempt: 3, last_error: "connection refused".into() };
        let shown: Vec<String> = [Disconnected, Connecting, LoggingIn, LoggedIn, down, Stopped]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "disconnected",
                "connecting",
                "logging in",
                "connected",
                "disconnected: connection refused (retry 3)",
                "stopped"
            ]
        );
    }
}
