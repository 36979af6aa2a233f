//! Typed errors. Messages say what failed and what to do; secrets never appear.

use crate::model::display::duration;
use crate::model::ServerId;
use crate::wire::ami_codec::{DecodeError, EncodeError};
use std::time::Duration;

/// Why a request (list, park, retrieve, any action) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParkingError {
    /// Asterisk answered `Response: Error`; `message` is Asterisk's own text.
    #[error("Asterisk refused {action}: {message}")]
    Asterisk {
        /// The action that was refused.
        action: String,
        /// Asterisk's `Message`, trailing line break removed.
        message: String,
        /// The server that answered.
        server_id: ServerId,
    },
    /// Asterisk refused the action for want of a right (`Permission denied`).
    #[error("Asterisk refused {action} on server {server_id}: the AMI user lacks {right}; add it in manager.conf (the user needs read=call,system and write=call,originate)")]
    PermissionDenied {
        /// The action.
        action: String,
        /// The right it needs, as manager.conf writes it.
        right: String,
        /// The server.
        server_id: ServerId,
    },
    /// The link to Asterisk (or amiws) dropped before the answer came.
    #[error("{action} failed: the connection to Asterisk was lost before it was answered")]
    Disconnected {
        /// The action that was pending.
        action: String,
    },
    /// No answer within the request's deadline.
    #[error("{action} got no answer from Asterisk within {}", duration(*.after))]
    Timeout {
        /// The action that timed out.
        action: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// Park was accepted, but no `ParkedCall` event for the channel came in time.
    #[error("Asterisk accepted Park for {channel} but sent no ParkedCall event for it within {}; check that the AMI user has read=call", duration(*.after))]
    NoParkedCallEvent {
        /// The channel that was to be parked.
        channel: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The Originate that was to retrieve a call failed.
    #[error("retrieving {lot},{space} failed: Asterisk could not originate to {channel} ({reason})")]
    OriginateFailed {
        /// The lot.
        lot: String,
        /// The space.
        space: u32,
        /// The channel the call was to go to.
        channel: String,
        /// Asterisk's `Reason` code or message.
        reason: String,
    },
    /// Refused without sending anything: the store knows the space is empty (a retrieve
    /// or a move of a call that is not there).
    #[error("nothing is parked in space {space} of lot {lot}{}", on_server(*server_id))]
    SpaceEmpty {
        /// The lot.
        lot: String,
        /// The space.
        space: u32,
        /// The server.
        server_id: Option<ServerId>,
    },
    /// The lot has no free space (told from the store's count of the lot, before or
    /// after Asterisk's `Park action failed`).
    #[error("lot {lot} is full: all {spaces} of its spaces are taken{}", on_server(Some(*server_id)))]
    LotFull {
        /// The lot.
        lot: String,
        /// How many spaces it has.
        spaces: u32,
        /// The server.
        server_id: ServerId,
    },
    /// The lot does not exist on the server (told from the server's `Parkinglots`,
    /// before or after Asterisk's `Park action failed`).
    #[error("there is no parking lot {lot}{}; its lots are: {}", on_server(Some(*server_id)), known.join(", "))]
    UnknownLot {
        /// The lot asked for.
        lot: String,
        /// The server.
        server_id: ServerId,
        /// The lots the server has.
        known: Vec<String>,
    },
    /// The action could not be encoded (header injection, too long, too many lines).
    #[error("the action cannot be sent: {0}")]
    Encode(#[from] EncodeError),
    /// The connection is not logged in, so the action was not sent.
    #[error("{action} was not sent: not logged in to Asterisk yet")]
    NotLoggedIn {
        /// The action.
        action: String,
    },
    /// Several servers could take the action and none was named.
    #[error("{action} is ambiguous: servers {} could take it; name one", server_list(.servers))]
    AmbiguousServer {
        /// The action.
        action: String,
        /// The candidates.
        servers: Vec<ServerId>,
    },
    /// The request named a server the client does not have.
    #[error(
        "{action} names server {server_id}, which this client does not have; its servers are {}", server_list(.servers)
    )]
    UnknownServer {
        /// The action.
        action: String,
        /// The server named.
        server_id: ServerId,
        /// The servers the client has.
        servers: Vec<ServerId>,
    },
    /// Behind amiws no Asterisk server has been heard from yet, so there is none to
    /// pick for an action that needs exactly one.
    #[error("{action} needs one Asterisk server, and none has been heard from behind amiws yet; name one (AMIServerID) or wait for its first frames")]
    NoServerYet {
        /// The action.
        action: String,
    },
    /// The store is at one of its caps
    /// ([`ParkingOptions::max_calls`](crate::ParkingOptions::max_calls) or
    /// [`max_lots`](crate::ParkingOptions::max_lots)): what would have added one more
    /// was dropped.
    #[error("server {server_id} announced more {what} than the store holds ({limit}); the rest is not shown (raise ParkingOptions::max_{what} if this PBX is that big)")]
    StoreFull {
        /// `calls` or `lots`.
        what: &'static str,
        /// The server whose message was dropped.
        server_id: ServerId,
        /// The cap.
        limit: usize,
    },
    /// A list answer went past [`ConnectionConfig::max_list_items`](crate::ConnectionConfig::max_list_items).
    #[error("{action} on server {server_id} answered more than {limit} items; the rest was dropped (raise max_list_items if this PBX is that big)")]
    ListTooLong {
        /// The action.
        action: String,
        /// The server.
        server_id: ServerId,
        /// The cap.
        limit: usize,
    },
    /// The client that was to send the request has been shut down (or its task
    /// ended); start a new one.
    #[error("{action} was not sent: the AMI client has been shut down")]
    Stopped {
        /// The action.
        action: String,
    },
    /// The client could not log in (its first failed attempt; it keeps retrying in
    /// the background): the server could not be reached, or the link failed before
    /// the login was answered. A refused login is `ParkingError::LoginRefused`.
    #[error("cannot log in to {endpoint}: {reason}")]
    LoginFailed {
        /// Where (the endpoint, without its secret).
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// The server refused the login: Asterisk a wrong AMI user or secret (or none
    /// given), or a WebSocket bridge the token at the upgrade. Retrying at once will
    /// not help (the client retries slowly in the background); fix the credentials.
    /// `reason` says which. Every other first failure (no route, a closed port, a
    /// TLS error) is [`ParkingError::LoginFailed`]. (Feature `raw-ami`: the tokio
    /// transport, which tells refusals apart, always has it.)
    #[cfg(feature = "raw-ami")]
    #[error("cannot log in to {endpoint}: {reason}")]
    LoginRefused {
        /// Where (the endpoint, without its secret).
        endpoint: String,
        /// The refusal, as the server gave it.
        reason: String,
    },
    /// No login within the time the caller waited.
    #[error("no login to {endpoint} within {} (state: {state}); check the address, and that Asterisk's manager.conf enables AMI there", duration(*.after))]
    LoginTimeout {
        /// Where (the endpoint, without its secret).
        endpoint: String,
        /// How long the caller waited.
        after: Duration,
        /// The connection's state then.
        state: String,
    },
    /// An answer of another shape than the request asked for (a bug: please report
    /// it with this text).
    #[error("unexpected answer from the connection: {reply}")]
    UnexpectedReply {
        /// What the answer was, in one line (the reply's `Display`).
        reply: String,
    },
    /// A [`Request::Forward`](crate::Request::Forward) on an amiws link: forwarding is
    /// for raw AMI links only (a WebSocket bridge in front of Asterisk).
    #[error("{action} was not forwarded: forwarding needs a raw AMI link (tcp:// or tls://); behind amiws send it as Request::Action or Request::List")]
    ForwardNeedsRawAmi {
        /// The action.
        action: String,
    },
    /// The client's queue of requests waiting to be sent is full (the server is slow
    /// or stopped reading); nothing was queued.
    #[error(
        "{action} was not sent: {limit} requests are already waiting for this connection; try again shortly"
    )]
    QueueFull {
        /// The action.
        action: String,
        /// How many requests may wait.
        limit: usize,
    },
    /// Park the caller of `phone`: no channel of that phone is on the server (its
    /// `Status` lists none named `phone-...`).
    #[error("phone {phone} has no call{}: Asterisk lists no channel named {phone}-...; check the phone's name (e.g. PJSIP/1001) and that its call is still up", on_server(Some(*server_id)))]
    PhoneHasNoCall {
        /// The phone, as given (`PJSIP/1001`).
        phone: String,
        /// The server.
        server_id: ServerId,
    },
    /// Park the caller of `phone`: the phone has a channel, but it is in no bridge
    /// with a caller (it rings, or it is on hold alone).
    #[error(
        "phone {phone}'s call is not connected to a caller ({}); answer the call first, then park it",
        describe_channels(channels)
    )]
    PhoneCallNotBridged {
        /// The phone.
        phone: String,
        /// Its channels, each with its state (`PJSIP/1001-0000000a: Ringing`).
        channels: Vec<String>,
        /// The server.
        server_id: ServerId,
    },
    /// Park the caller of `phone`: the phone is in several bridged calls, so which
    /// caller to park is not clear.
    #[error("phone {phone} has {} connected calls ({}); park one of them by its channel instead", calls.len(), describe_channels(calls))]
    PhoneHasSeveralCalls {
        /// The phone.
        phone: String,
        /// Each call: the phone's channel and who is on the other side
        /// (`PJSIP/1001-0000000a with PJSIP/trunk-00000009 (5551001)`).
        calls: Vec<String>,
        /// The server.
        server_id: ServerId,
    },
    /// Park the caller of `phone`: the phone's bridge holds several other channels (a
    /// conference), so which one is "the caller" is not clear.
    #[error(
        "phone {phone}'s call {channel} is a conference with {}; park one of them by its channel instead",
        describe_channels(others)
    )]
    CallerUnclear {
        /// The phone.
        phone: String,
        /// The phone's channel.
        channel: String,
        /// The other channels in its bridge.
        others: Vec<String>,
        /// The server.
        server_id: ServerId,
    },
    /// Park the caller of `phone`: the caller hung up (or was moved away) between the
    /// channel list and the Park.
    #[error("the caller on phone {phone} ({channel}) hung up before it could be parked; nothing was parked")]
    CallerHungUp {
        /// The phone.
        phone: String,
        /// The caller's channel.
        channel: String,
        /// The server.
        server_id: ServerId,
    },
    /// An invalid argument (e.g. a timeout too large to send).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Why the connection as a whole failed (the transport reconnects after these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The byte stream could not be framed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Asterisk rejected the login.
    #[error("Asterisk rejected the login for user `{username}`: {message}; check the user and secret in manager.conf")]
    LoginRejected {
        /// The AMI user.
        username: String,
        /// Asterisk's message.
        message: String,
    },
    /// The login could not be encoded (a user name or events filter with a line
    /// break, or too long); nothing was sent.
    #[error("the login cannot be sent: {0}; check the AMI user name and events filter")]
    LoginNotSent(EncodeError),
    /// No answer to the keep-alive Ping or the login in time.
    #[error("the server stopped answering ({0} without a reply)")]
    Unresponsive(String),
    /// The server's first line is neither the AMI banner (`Asterisk Call Manager/...`)
    /// nor a header (a server without a banner, as a proxy may be, starts with its
    /// first message): whatever listens there is not Asterisk's manager interface, so
    /// nothing was sent to it, the secret least of all. `first_line`: its first 80
    /// characters. (Feature `raw-ami`: an amiws link has no banner.)
    #[cfg(feature = "raw-ami")]
    #[error("the server is not Asterisk's manager interface: it greeted with {} (AMI greets with \"Asterisk Call Manager/...\"); nothing was sent, the secret included; check the host and port", Quoted(.first_line))]
    NotAmi {
        /// What the server wrote first (its first 80 characters).
        first_line: String,
    },
}

fn on_server(server_id: Option<ServerId>) -> String {
    server_id.map(|s| format!(" on server {s}")).unwrap_or_default()
}

fn describe_channels(list: &[String]) -> String {
    list.join("; ")
}

/// Servers as a list a person reads: `1, 2`.
fn server_list(servers: &[ServerId]) -> String {
    servers.iter().map(ServerId::to_string).collect::<Vec<_>>().join(", ")
}

/// Text from outside (a name a person typed, or a server sent) inside an error
/// message: in double quotes, with quotes, backslashes, control characters, line and
/// paragraph separators, the bidirectional controls and the invisible joiners escaped
/// (`\n`, `\u{1b}`, `\u{2028}`, `\u{202e}`, `\u{feff}`), so it can neither end the
/// quote, break a log line, write to a terminal, reorder the text around it nor hide
/// in it. (`{:?}` of a `str` escapes more, with Unicode tables a browser build would
/// carry.)
pub(crate) struct Quoted<'a>(pub &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() || is_unseen(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// Characters a reader does not see but that change the text around them: the zero
/// width space and joiners, the byte order mark, the line and paragraph separators,
/// and the marks, embeddings, overrides and isolates of the bidirectional algorithm.
fn is_unseen(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_cannot_end_its_quote_or_reach_a_terminal() {
        let shown =
            Quoted("a\"b\\c\r\nd\u{1b}[2Je\u{85}é\u{202e}f\u{2069}g\u{2028}h\u{200b}i\u{feff}").to_string();
        assert_eq!(shown, r#""a\"b\\c\r\nd\u{1b}[2Je\u{85}é\u{202e}f\u{2069}g\u{2028}h\u{200b}i\u{feff}""#);
    }

    #[test]
    fn servers_and_durations_read_as_a_person_writes_them() {
        let e = ParkingError::AmbiguousServer { action: "Park".into(), servers: vec![1, 2] };
        assert_eq!(e.to_string(), "Park is ambiguous: servers 1, 2 could take it; name one");
        let e = ParkingError::Timeout { action: "ParkedCalls".into(), after: Duration::from_millis(1_500) };
        assert_eq!(e.to_string(), "ParkedCalls got no answer from Asterisk within 1.5s");
    }
}
