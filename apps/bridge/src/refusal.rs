//! Why the bridge refuses a client's frame: each reason says which header and why,
//! as the client reads it in the error frame's `Message`.

/// A refused frame: why, and what to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The client's ActionID, when the frame could be read that far.
    pub action_id: Option<String>,
    /// The server it named, when that is one of the bridge's.
    pub server: Option<u32>,
    /// Why.
    pub why: Refused,
}

/// Why an action frame is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a JSON object (where: line and column of the client's own frame).
    #[error("unreadable action frame: {0}")]
    Unreadable(String),
    /// No `Action` header.
    #[error("a frame without an Action header is not an action")]
    NoAction,
    /// More headers than any action may carry.
    #[error("the frame has {count} headers; an action may carry at most {max}")]
    TooMany {
        /// How many.
        count: usize,
        /// The most.
        max: usize,
    },
    /// A header given twice (in any case).
    #[error("header {key} is given twice: each header may appear once")]
    Repeated {
        /// The header.
        key: String,
    },
    /// An array, object, null or fraction as a value.
    #[error("header {key} must be a string (arrays, objects, null and fractions are refused)")]
    NotAString {
        /// The header.
        key: String,
    },
    /// A key outside `[A-Za-z0-9-_.]`, or too long.
    #[error("header name {key:?} is not allowed: letters, digits, '-', '_' and '.' only, at most 64")]
    BadKey {
        /// The header name (control characters escaped).
        key: String,
    },
    /// A header whose AMI line would be longer than Asterisk accepts.
    #[error("header {key} makes an AMI line of {len} bytes; Asterisk accepts at most {max}")]
    TooLong {
        /// The header.
        key: String,
        /// The line's length.
        len: usize,
        /// The longest line.
        max: usize,
    },
    /// A control character (C0, DEL) in a value.
    #[error("header {key} holds a control character (NUL, CR, LF, DEL and the like are refused)")]
    Control {
        /// The header.
        key: String,
    },
    /// `AMIServerID` that is not one of the servers.
    #[error("AMIServerID {given:?} is not a server of this bridge: give a number from 1 to {servers}")]
    BadServer {
        /// The value as given.
        given: String,
        /// How many servers there are.
        servers: u32,
    },
    /// An action the bridge does not pass.
    #[error("action {action} is not allowed by this bridge (allowed: {allowed})")]
    NotAllowed {
        /// The action.
        action: String,
        /// The allowed actions, comma-separated.
        allowed: String,
    },
    /// An action this token's role does not allow.
    #[error("action {action} is not allowed for this token (role {role}: {allowed})")]
    NotForRole {
        /// The action.
        action: String,
        /// The role's name.
        role: &'static str,
        /// What the role may do.
        allowed: &'static str,
    },
    /// An Originate that is not a retrieve.
    #[error("Originate is allowed only as a retrieve (Application: ParkedCall)")]
    NotARetrieve,
    /// A header the action may not carry.
    #[error("{action} may not carry {key}; allowed: {allowed}")]
    HeaderNotAllowed {
        /// The action.
        action: String,
        /// The header.
        key: String,
        /// The headers it may carry.
        allowed: String,
    },
    /// A header the action needs.
    #[error("{action} needs {key}")]
    Missing {
        /// The action.
        action: String,
        /// The header.
        key: &'static str,
    },
    /// A value of the wrong shape.
    #[error("{action}: {key} {why}")]
    BadValue {
        /// The action.
        action: String,
        /// The header.
        key: String,
        /// What it must be.
        why: String,
    },
    /// A Park by a token scoped to lots whose line does not say `park=any-channel`.
    #[error(
        "Park by channel: a token scoped to lots cannot park a channel (a channel name reaches any live \
         call of the PBX); the token file's `park=any-channel` allows it"
    )]
    ScopedPark,
    /// A lot this token may not use.
    #[error("lot {lot:?} is not one this token may use")]
    LotNotGranted {
        /// The lot.
        lot: String,
    },
    /// A retrieve to a channel outside the destination allowlist.
    #[error("a retrieve may not ring {channel:?}: it is not an allowed destination ({allowed})")]
    Destination {
        /// The channel.
        channel: String,
        /// The rule.
        allowed: String,
    },
}
