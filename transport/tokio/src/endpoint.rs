//! Where to connect: `tcp://`, `tls://`, `ws://`, `wss://` URLs, and `nats://` (a
//! collector's state over NATS, with the `nats` feature).

use ami_parking::Secret;
use std::fmt;
use std::str::FromStr;

/// The kind of link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Raw AMI over TCP (default port 5038).
    Tcp,
    /// Raw AMI over TLS (default port 5039).
    Tls,
    /// amiws over WebSocket.
    Ws,
    /// amiws over secure WebSocket.
    Wss,
    /// A collector's state over NATS: `nats://[user[:password]@]host[:4222]/TENANT/SERVER`
    /// (the transport's `nats` feature).
    Nats,
}

impl Scheme {
    /// True for the amiws schemes.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
    /// True when TLS wraps the link.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss)
    }
    /// True for `nats://`.
    pub fn is_nats(self) -> bool {
        matches!(self, Scheme::Nats)
    }
    /// True for raw AMI (`tcp://`, `tls://`): the schemes that log in with a user and
    /// secret.
    pub fn is_raw_ami(self) -> bool {
        matches!(self, Scheme::Tcp | Scheme::Tls)
    }
}

/// Why a URL was refused. Never quotes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not a URL: the URL (its secret hidden) and what is wrong with it (`invalid
    /// port number`, `empty host`, ...).
    #[error(
        "`{url}` is not a URL ({why}); expected e.g. tcp://amiuser@127.0.0.1:5038 or ws://127.0.0.1:8000"
    )]
    Invalid {
        /// The URL, its secret hidden.
        url: String,
        /// What the URL parser found wrong.
        why: String,
    },
    /// A scheme other than tcp, tls, ws, wss.
    #[error("unsupported scheme `{0}`: use tcp:// or tls:// for AMI, ws:// or wss:// for amiws")]
    Scheme(String),
    /// No host.
    #[error("the URL names no host")]
    NoHost,
    /// A `nats://` URL without `/TENANT/SERVER`, or with names that cannot be subject
    /// tokens, or a `nats://` URL in a build without the `nats` feature.
    #[error("{0}")]
    Nats(String),
    /// Raw AMI without a user.
    #[error(
        "{0}:// needs an AMI user: {0}://USER[:SECRET]@HOST[:PORT] (the secret may come from AMI_SECRET)"
    )]
    NoUser(String),
}

/// A parsed endpoint. `Debug` and `Display` never show the secret.
///
/// ```
/// use ami_parking_transport::{Endpoint, Scheme};
/// let e: Endpoint = "tcp://amiuser:s3cret@127.0.0.1".parse().unwrap();
/// assert_eq!((e.scheme, e.host.as_str(), e.port, e.username.as_str()), (Scheme::Tcp, "127.0.0.1", 5038, "amiuser"));
/// assert_eq!(e.secret.as_ref().unwrap().expose(), "s3cret");
/// assert!(!format!("{e:?} {e}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The link kind.
    pub scheme: Scheme,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// AMI user (raw AMI).
    pub username: String,
    /// Secret from the URL, if it had one.
    pub secret: Option<Secret>,
    /// Path and query (WebSocket).
    pub path: String,
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let redacted = redact(s);
        let u =
            url::Url::parse(s).map_err(|e| EndpointError::Invalid { url: redacted, why: e.to_string() })?;
        let scheme = match u.scheme() {
            "tcp" | "ami" => Scheme::Tcp,
            "tls" | "amis" => Scheme::Tls,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            "nats" => Scheme::Nats,
            other => return Err(EndpointError::Scheme(other.into())),
        };
        let host = u.host_str().ok_or(EndpointError::NoHost)?.trim_matches(['[', ']']).to_string();
        let port = u.port().unwrap_or(match scheme {
            Scheme::Tcp => 5038,
            Scheme::Tls => 5039,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
            Scheme::Nats => 4222,
        });
        // Percent-decoding only (RFC 3986 userinfo): `+` stays a plus and `&` stays in
        // the secret (a form decoding turned `+` into a space and cut at `&`).
        let decode = |v: &str| percent_decode(v);
        let username = decode(u.username());
        if username.is_empty() && !scheme.is_websocket() && !scheme.is_nats() {
            return Err(EndpointError::NoUser(u.scheme().into()));
        }
        let secret = u.password().map(|p| Secret::new(decode(p)));
        let mut path = u.path().to_string();
        if let Some(q) = u.query() {
            path.push('?');
            path.push_str(q);
        }
        let e = Self { scheme, host, port, username, secret, path };
        if scheme.is_nats() {
            #[cfg(feature = "nats")]
            crate::nats_url::read(&e.path, &e.to_string(), percent_decode).map_err(EndpointError::Nats)?;
            #[cfg(not(feature = "nats"))]
            return Err(EndpointError::Nats(
                "nats:// needs ami-parking-transport's `nats` feature (this build has none)".into(),
            ));
        }
        Ok(e)
    }
}

/// Percent-decoding as URLs carry credentials and tokens: `%XX` to its byte, anything
/// else (`+` included) as it is; the result read as UTF-8 (lossily).
///
/// ```
/// assert_eq!(ami_parking_transport::percent_decode("a+b%26c%3D"), "a+b&c=");
/// ```
pub fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' {
            if let (Some(h), Some(l)) =
                (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c)))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn redact(s: &str) -> String {
    // ?token=T -> ?token=*** (before the user:secret@ part, which it may hold)
    let s = &match s.find('?') {
        Some(q) => format!("{}{}", &s[..q], shown_path(&s[q..])),
        None => s.to_owned(),
    };
    // user:secret@ -> user:***@
    match (s.find("://"), s.rfind('@')) {
        (Some(a), Some(b)) if b > a => {
            let creds = &s[a + 3..b];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &s[..a + 3], &creds[..c], &s[b..]),
                None => s.to_string(),
            }
        }
        _ => s.to_string(),
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Nats => "nats",
        };
        let path = shown_path(&self.path);
        if self.username.is_empty() {
            write!(f, "{scheme}://{}:{}{path}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}@{}:{}{path}", self.username, self.host, self.port)
        }
    }
}

/// The path as errors and logs show it: the values of query parameters that carry
/// credentials (`token`, `secret`, `password`, `key`) are hidden.
fn shown_path(path: &str) -> String {
    let Some((p, query)) = path.split_once('?') else { return path.to_owned() };
    let hidden: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _))
                if ["token", "secret", "password", "key", "password_file"]
                    .iter()
                    .any(|s| k.eq_ignore_ascii_case(s)) =>
            {
                format!("{k}=***")
            }
            _ => kv.to_owned(),
        })
        .collect();
    format!("{p}?{}", hidden.join("&"))
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_unparsable_url_is_shown_without_its_token_or_secret() {
        for url in [
            "ws://127.0.0.1:99999/?token=TOPSECRET5",
            "tcp://u:TOPSECRET5@h:99999",
            "wss://h:1x/?a=1&secret=TOPSECRET5",
        ] {
            let err = url.parse::<Endpoint>().unwrap_err().to_string();
            assert!(!err.contains("TOPSECRET5"), "{err}");
            assert!(err.contains("***"), "{err}");
        }
    }

    use super::*;

    #[cfg(not(feature = "nats"))]
    #[test]
    fn a_nats_url_without_the_feature_names_the_feature() {
        let err = "nats://127.0.0.1:4222/acme/pbx1".parse::<Endpoint>().unwrap_err().to_string();
        assert!(err.contains("`nats` feature"), "{err}");
    }

    #[test]
    fn credentials_are_percent_decoded_not_form_decoded() {
        let e: Endpoint = "tcp://ami%20user:a+b%26c%3Dd@127.0.0.1".parse().unwrap();
        assert_eq!(e.username, "ami user");
        assert_eq!(e.secret.as_ref().unwrap().expose(), "a+b&c=d");
        let e: Endpoint = "tcp://u:100%@127.0.0.1".parse().unwrap();
        assert_eq!(e.secret.as_ref().unwrap().expose(), "100%");
    }

    #[test]
    fn a_token_in_the_query_is_never_shown() {
        let e: Endpoint = "ws://127.0.0.1:8088/ami?token=s3cret&x=1".parse().unwrap();
        assert_eq!(e.to_string(), "ws://127.0.0.1:8088/ami?token=***&x=1");
        assert!(!format!("{e:?}").contains("s3cret"));
        assert!(e.path.contains("s3cret"), "the request still carries it");
    }

    #[test]
    fn a_bad_port_is_named_as_such() {
        let e = "tcp://amiuser:s3cret@127.0.0.1:99999".parse::<Endpoint>().unwrap_err().to_string();
        assert!(e.contains("invalid port number") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn parses_every_scheme_with_default_ports() {
        let e: Endpoint = "tls://u@pbx.example".parse().unwrap();
        assert_eq!((e.scheme, e.port), (Scheme::Tls, 5039));
        let e: Endpoint = "ws://127.0.0.1:8000/ami".parse().unwrap();
        assert_eq!((e.scheme, e.port, e.path.as_str(), e.username.as_str()), (Scheme::Ws, 8000, "/ami", ""));
        let e: Endpoint = "wss://h".parse().unwrap();
        assert_eq!(e.port, 443);
        let e: Endpoint = "tcp://a%40b:p%3Aw@h:1".parse().unwrap();
        assert_eq!((e.username.as_str(), e.secret.unwrap().expose()), ("a@b", "p:w"));
    }

    #[test]
    fn errors_are_clear_and_never_show_the_secret() {
        let e = "http://u:topsecret@h".parse::<Endpoint>().unwrap_err();
        assert!(e.to_string().contains("unsupported scheme"));
        let e = "tcp://h".parse::<Endpoint>().unwrap_err();
        assert!(matches!(e, EndpointError::NoUser(_)));
        let e = "tcp://u:topsecret@".parse::<Endpoint>().unwrap_err();
        assert!(!e.to_string().contains("topsecret"), "{e}");
    }
}
