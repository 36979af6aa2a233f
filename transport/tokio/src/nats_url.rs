//! What a `nats://` URL says after its host: `/TENANT/SERVER`, then `also=`, `tls=`
//! and `password_file=`. Read where the URL is parsed (the endpoint, so a bad one is
//! refused at once) and where it is used (the `nats` link). A leaf: it uses nothing
//! else of the crate, so the endpoint and the `nats` module both may use it.

use std::path::PathBuf;

/// A `nats://` URL's path and query, read.
pub(crate) struct NatsUrl {
    /// Whose parking state: the tenant...
    pub(crate) tenant: String,
    /// ...and the server (one Asterisk).
    pub(crate) server: String,
    /// More NATS servers of the cluster (`host:port`).
    pub(crate) also: Vec<String>,
    /// TLS required.
    pub(crate) tls: bool,
    /// A file whose first line is the password.
    pub(crate) password_file: Option<PathBuf>,
}

/// Whether `name` may be a tenant's or a server's name (one subject token): letters,
/// digits, `-` and `_`, at most 64 bytes.
pub(crate) fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads `path` (with its `?query`) of the URL `shown` (for messages); `decode`
/// percent-decodes a query value.
pub(crate) fn read(path: &str, shown: &str, decode: impl Fn(&str) -> String) -> Result<NatsUrl, String> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut names = path.trim_matches('/').split('/');
    let (Some(tenant), Some(server), None) = (names.next(), names.next(), names.next()) else {
        return Err(format!(
            "{shown} names no TENANT/SERVER: use nats://HOST:PORT/TENANT/SERVER (e.g. nats://127.0.0.1:4222/acme/pbx1)"
        ));
    };
    for name in [tenant, server] {
        if !name_ok(name) {
            let name: String = name.chars().take(80).collect();
            return Err(format!(
                "{shown}: `{name}` cannot be a tenant or server name in a NATS subject: letters, digits, - and _ only (at most 64)"
            ));
        }
    }
    let mut url = NatsUrl {
        tenant: tenant.into(),
        server: server.into(),
        also: Vec::new(),
        tls: false,
        password_file: None,
    };
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = decode(v);
        match k {
            "also" => url.also.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
            "tls" => url.tls = matches!(v.as_str(), "1" | "true" | "yes" | ""),
            "password_file" => url.password_file = Some(v.into()),
            other => {
                return Err(format!("{shown}: unknown parameter `{other}` (known: also, tls, password_file)"))
            }
        }
    }
    Ok(url)
}
