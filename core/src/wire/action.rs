//! Actions a client sends: an ordered header list starting with `Action:`.

use crate::wire::message::Message;
use std::fmt;

/// An AMI action: `Action: Name` followed by headers in order (repeats allowed).
///
/// The connection adds the `ActionID` (and `AMIServerID` behind amiws) when it sends it.
/// Debug output never shows `Secret` or `Key` values.
///
/// ```
/// use ami_parking::Action;
/// let a = Action::new("Originate").header("Channel", "PJSIP/1002").header("Variable", "A=1").header("Variable", "B=2");
/// assert_eq!(a.name(), "Originate");
/// assert_eq!(a.as_message().get_all("variable").count(), 2);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Action {
    msg: Message,
    name: String,
}

impl Action {
    /// A new action named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        let mut msg = Message::new();
        msg.push(b"Action", name.as_bytes());
        Self { msg, name }
    }

    /// Appends a header (builder style).
    pub fn header(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.msg.push(key.as_ref().as_bytes(), value.as_ref().as_bytes());
        self
    }

    /// Appends a header only when `value` is `Some`.
    pub fn header_opt(self, key: impl AsRef<str>, value: Option<impl AsRef<str>>) -> Self {
        match value {
            Some(v) => self.header(key, v),
            None => self,
        }
    }

    /// Appends a header in place.
    pub fn push(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) {
        self.msg.push(key.as_ref().as_bytes(), value.as_ref().as_bytes());
    }

    /// The action's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The headers, `Action` first.
    pub fn as_message(&self) -> &Message {
        &self.msg
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.msg, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_keeps_its_name_and_its_headers_in_order_pushed_or_built() {
        let mut a = Action::new("Park").header("Channel", "PJSIP/100-1");
        a.push("Timeout", "45000");
        assert_eq!(a.name(), "Park");
        let headers: Vec<(&[u8], &[u8])> = a.as_message().iter().collect();
        assert_eq!(
            headers,
            [
                (&b"Action"[..], &b"Park"[..]),
                (&b"Channel"[..], &b"PJSIP/100-1"[..]),
                (&b"Timeout"[..], &b"45000"[..])
            ]
        );
    }

    #[test]
    fn an_action_shows_its_headers_but_never_a_secret() {
        let a = Action::new("Login").header("Username", "amiuser").header("Secret", "s3cr3t-value");
        assert_eq!(format!("{a:?}"), "[Action: Login, Username: amiuser, Secret: <redacted>]");
    }
}
