//! Who a client is: the tokens the bridge accepts, each with what it may do (its
//! [`Grant`]: a role, the lots it sees, where it may retrieve to). Tokens are kept
//! only as SHA-256 digests and compared digest to digest, so neither a token's bytes
//! nor its length show through timing; they are never printed.

use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The shortest token accepted at start (bytes).
pub const MIN_TOKEN_LEN: usize = 16;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// List lots and calls and watch parking events; never park or retrieve.
    Viewer,
    /// Also park and retrieve (and any action added with `--allow`).
    Operator,
}

/// What one client may do and see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Which principal it is, for the per-token rate limit (the token's index).
    pub principal: usize,
    /// Its role.
    pub role: Role,
    /// The lots it sees and acts on; `None`: every lot.
    pub lots: Option<BTreeSet<String>>,
    /// Where it may retrieve to (globs); `None`: the bridge's `--retrieve-to`.
    pub retrieve_to: Option<Vec<String>>,
    /// A token scoped to lots may park any channel into them (`park=any-channel`):
    /// off by default, since a channel name reaches any live call of the PBX (a desk
    /// of lot `vip` could pull another desk's conversation into `vip` and ring it to
    /// its own phone). A token of every lot parks any channel anyway.
    pub park_any_channel: bool,
}

impl Grant {
    /// An operator of every lot (a bare token, or `--no-auth`).
    pub fn operator(principal: usize) -> Self {
        Grant { principal, role: Role::Operator, lots: None, retrieve_to: None, park_any_channel: false }
    }

    /// Whether it sees and acts on lot `lot`.
    pub fn sees_lot(&self, lot: &str) -> bool {
        self.lots.as_ref().is_none_or(|l| l.contains(lot))
    }
}

/// Why a token file (or a token) is refused; the token itself is never shown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// A line's option is not one the bridge knows.
    #[error("token line {line}: unknown option {option:?} (known: role=viewer|operator, lots=a,b, retrieve-to=PATTERN,...)")]
    UnknownOption {
        /// 1-based line number.
        line: usize,
        /// The option as written (without the token).
        option: String,
    },
    /// A role that is neither `viewer` nor `operator`.
    #[error("token line {line}: role must be viewer or operator, not {role:?}")]
    Role {
        /// 1-based line number.
        line: usize,
        /// The role as written.
        role: String,
    },
    /// `lots=` or `retrieve-to=` with nothing in it.
    #[error("token line {line}: {option}= lists nothing")]
    Empty {
        /// 1-based line number.
        line: usize,
        /// The option.
        option: &'static str,
    },
}

/// Accepted tokens and their grants. Never printed (its `Debug` shows only how many).
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<(Digest32, Arc<Grant>)>,
    shortest: Option<usize>,
}

type Digest32 = [u8; 32];

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.entries.len())
    }
}

fn digest(token: &[u8]) -> Digest32 {
    Sha256::digest(token).into()
}

impl Tokens {
    /// Bare tokens (operators of every lot); empty ones ignored.
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Self {
        let mut t = Tokens::default();
        for token in tokens {
            let id = t.entries.len();
            t.add(&token, Grant::operator(id));
        }
        t
    }

    /// A token file: one token a line, `TOKEN [role=viewer|operator] [lots=a,b]
    /// [retrieve-to=PATTERN,...] [park=any-channel]`; blank lines and `#` lines skipped. A bare token is
    /// an operator of every lot.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let mut t = Tokens::default();
        t.extend_from(text)?;
        Ok(t)
    }

    /// Adds the tokens of a token file (see [`parse`](Self::parse)).
    pub fn extend_from(&mut self, text: &str) -> Result<(), TokenError> {
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            // A word starting with `#` starts a comment, also after the options.
            let mut words = line.split_whitespace().take_while(|w| !w.starts_with('#'));
            let Some(token) = words.next() else { continue };
            let mut grant = Grant::operator(self.entries.len());
            for w in words {
                let list = |v: &str, option: &'static str| -> Result<Vec<String>, TokenError> {
                    let items: Vec<String> =
                        v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                    if items.is_empty() {
                        return Err(TokenError::Empty { line: line_no, option });
                    }
                    Ok(items)
                };
                match w.split_once('=') {
                    Some(("role", "viewer")) => grant.role = Role::Viewer,
                    Some(("role", "operator")) => grant.role = Role::Operator,
                    Some(("role", other)) => {
                        return Err(TokenError::Role { line: line_no, role: other.to_owned() })
                    }
                    Some(("lots", v)) => grant.lots = Some(list(v, "lots")?.into_iter().collect()),
                    Some(("retrieve-to", v)) => grant.retrieve_to = Some(list(v, "retrieve-to")?),
                    Some(("park", "any-channel")) => grant.park_any_channel = true,
                    _ => return Err(TokenError::UnknownOption { line: line_no, option: w.to_owned() }),
                }
            }
            self.add(token, grant);
        }
        Ok(())
    }

    fn add(&mut self, token: &str, grant: Grant) {
        if token.is_empty() {
            return;
        }
        self.shortest = Some(self.shortest.map_or(token.len(), |s| s.min(token.len())));
        self.entries.push((digest(token.as_bytes()), Arc::new(grant)));
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when none is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The length of the shortest token (bytes), if any.
    pub fn shortest(&self) -> Option<usize> {
        self.shortest
    }

    /// The grant of `given`, if it is one of the tokens. Digests are compared, every
    /// one of them, without stopping at a difference.
    pub fn grant(&self, given: &str) -> Option<Arc<Grant>> {
        let g = digest(given.as_bytes());
        let mut found = None;
        for (d, grant) in &self.entries {
            let same = d.iter().zip(g.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if same && found.is_none() {
                found = Some(grant.clone());
            }
        }
        found
    }

    /// Whether `given` is one of them.
    pub fn accepts(&self, given: &str) -> bool {
        self.grant(given).is_some()
    }
}

/// The token a WebSocket upgrade carries: `Authorization: Bearer T` (the scheme in
/// any case), else `?token=T`.
pub fn token_of(authorization: Option<&str>, query: Option<&str>) -> Option<String> {
    if let Some(a) = authorization {
        let a = a.trim_start();
        if a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ") {
            return Some(a[7..].trim().to_owned());
        }
    }
    query?.split('&').find_map(|kv| kv.strip_prefix("token=")).map(ami_parking_transport::percent_decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_header_in_any_case_or_the_query_and_are_never_printed() {
        assert_eq!(token_of(Some("Bearer s3cr3t"), None).as_deref(), Some("s3cr3t"));
        assert_eq!(token_of(Some("bearer s3cr3t"), None).as_deref(), Some("s3cr3t"));
        assert_eq!(token_of(Some("BEARER s3cr3t"), None).as_deref(), Some("s3cr3t"));
        assert_eq!(token_of(None, Some("a=1&token=s%2B3")).as_deref(), Some("s+3"));
        assert_eq!(token_of(None, Some("a=1")), None);
        let t = Tokens::new(["s3cr3t".to_string(), "other".into()]);
        assert!(t.accepts("s3cr3t") && t.accepts("other") && !t.accepts("s3cr3") && !t.accepts(""));
        assert_eq!(format!("{t:?}"), "Tokens(2 configured)");
        assert_eq!(t.shortest(), Some(5));
    }

    #[test]
    fn a_token_file_scopes_each_token() {
        let t = Tokens::parse(
            "# comment\n\nview-token-0123456789 role=viewer lots=vip,default\n\
             op-token-0123456789 retrieve-to=PJSIP/1??? # the front desk\nbare-token-0123456789\n",
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        let v = t.grant("view-token-0123456789").unwrap();
        assert_eq!(v.role, Role::Viewer);
        assert!(v.sees_lot("vip") && !v.sees_lot("other"));
        let o = t.grant("op-token-0123456789").unwrap();
        assert_eq!((o.role, o.retrieve_to.clone()), (Role::Operator, Some(vec!["PJSIP/1???".to_string()])));
        let b = t.grant("bare-token-0123456789").unwrap();
        assert_eq!(*b, Grant::operator(2));
        assert_eq!(
            Tokens::parse("x role=admin").unwrap_err().to_string(),
            "token line 1: role must be viewer or operator, not \"admin\""
        );
        let e = Tokens::parse("secret-token lots=").unwrap_err().to_string();
        assert!(!e.contains("secret-token"), "{e}");
        let e = Tokens::parse("secret-token colour=red").unwrap_err().to_string();
        assert!(!e.contains("secret-token") && e.contains("colour=red"), "{e}");
    }
}
