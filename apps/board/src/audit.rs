//! The audit trail: every park, retrieve and move a user asks for, as one structured
//! `tracing` line (target `parkboard::audit`) and, with `--audit-log FILE`, one JSON
//! line appended to the file.

use crate::users::Principal;
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One action a user asked for, and what came of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditRecord {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The user (`local` on a board without logins).
    pub user: String,
    /// Their role.
    pub role: &'static str,
    /// `park`, `retrieve` or `move`.
    pub action: &'static str,
    /// The server, when known.
    pub server: Option<u32>,
    /// The lot.
    pub lot: String,
    /// The space (the parked call's, or where a park went).
    pub space: Option<u32>,
    /// The channel acted on (the parked call's, or the one parked).
    pub channel: String,
    /// Where a retrieve rang, or where a move went.
    pub destination: Option<String>,
    /// `ok`, `refused: why` (by the board) or `failed: why` (by Asterisk or the link).
    pub result: String,
}

/// The longest text field a record keeps (bytes): a page may send any string as a
/// lot or a destination (up to its 64 KiB frame), and a record must not grow with it.
pub const MAX_FIELD: usize = 256;

/// `s` cut to at most [`MAX_FIELD`] bytes, at a character boundary, marked when cut.
fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

impl AuditRecord {
    /// This record with each text field at most [`MAX_FIELD`] bytes.
    ///
    /// ```
    /// # use parkboard::audit::{AuditRecord, MAX_FIELD};
    /// # use parkboard::users::{Principal, Role};
    /// let who = Principal { name: "reception".into(), role: Role::Operator, phone: None, lots: None };
    /// let mut r = AuditRecord::new(&who, "move");
    /// r.destination = Some("x".repeat(60_000));
    /// let d = r.clipped().destination.unwrap();
    /// assert!(d.len() < MAX_FIELD + 32 && d.ends_with("(60000 bytes)"), "{d}");
    /// ```
    pub fn clipped(&self) -> AuditRecord {
        AuditRecord {
            user: clip(&self.user),
            lot: clip(&self.lot),
            channel: clip(&self.channel),
            destination: self.destination.as_deref().map(clip),
            result: clip(&self.result),
            ..self.clone()
        }
    }

    /// A record of `action` by `who`, stamped now; the rest filled by the caller.
    pub fn new(who: &Principal, action: &'static str) -> AuditRecord {
        AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            user: who.name.clone(),
            role: who.role.as_str(),
            action,
            server: None,
            lot: String::new(),
            space: None,
            channel: String::new(),
            destination: None,
            result: String::new(),
        }
    }
}

/// Where audit records go.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    file: Option<Arc<Mutex<File>>>,
}

impl Audit {
    /// Records to `tracing` only.
    pub fn to_log() -> Audit {
        Audit::default()
    }

    /// Records to `tracing` and appends JSON lines to `path` (created if missing).
    pub fn to_file(path: &Path) -> std::io::Result<Audit> {
        // Names and numbers of callers: readable by the board's user only (0600 when
        // it makes the file; an existing file keeps its mode).
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        Ok(Audit { file: Some(Arc::new(Mutex::new(f))) })
    }

    /// Writes one record (text fields quoted and escaped in the log line, so a
    /// channel name cannot forge lines).
    pub fn record(&self, r: &AuditRecord) {
        let r = &r.clipped();
        tracing::info!(
            target: "parkboard::audit",
            user = ?r.user,
            role = r.role,
            action = r.action,
            server = ?r.server,
            lot = ?r.lot,
            space = ?r.space,
            channel = ?r.channel,
            destination = ?r.destination,
            result = ?r.result,
            "audit"
        );
        if let Some(f) = &self.file {
            let mut line = serde_json::to_vec(r).unwrap_or_default();
            line.push(b'\n');
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = f.write_all(&line) {
                tracing::error!("cannot append to the audit log: {e}");
            }
        }
    }
}
