//! Who may use the board: users with an argon2id password hash, a role, the phone
//! their retrieves ring and the lots they see; and the [`Principal`] a page acts for.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the board; never parks or retrieves.
    Viewer,
    /// Parks into their lots and retrieves to their own phone.
    Operator,
}

impl Role {
    /// `viewer` or `operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// One configured user.
#[derive(Clone)]
pub struct User {
    /// The login name.
    pub name: String,
    hash: String,
    /// What they may do.
    pub role: Role,
    /// Where their retrieves ring (operators).
    pub phone: Option<String>,
    /// The lots they see (`None`: every lot).
    pub lots: Option<Vec<String>>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("phone", &self.phone)
            .field("lots", &self.lots)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Checks a user as configured; on error, the field and what is wrong.
    pub fn new(
        name: String,
        password_hash: &str,
        role: Role,
        phone: Option<String>,
        lots: Option<Vec<String>>,
    ) -> Result<User, (&'static str, String)> {
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(("name", "1 to 64 characters, no control characters".into()));
        }
        check_hash(password_hash).map_err(|why| ("password_hash", why))?;
        if role == Role::Operator {
            match &phone {
                None => {
                    return Err((
                        "phone",
                        "an operator needs the phone their retrieves ring, e.g. phone = \"PJSIP/1002\""
                            .into(),
                    ))
                }
                Some(p) if !p.contains('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                    return Err(("phone", format!("{p:?} is not a channel like PJSIP/1002")))
                }
                Some(_) => {}
            }
        }
        if let Some(lots) = &lots {
            if lots.is_empty() {
                return Err(("lots", "an empty list shows nothing: omit the key for every lot".into()));
            }
        }
        Ok(User { name, hash: password_hash.to_string(), role, phone, lots })
    }
}

/// Why a hash is not one the board can check.
fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| {
        format!("not a PHC string ({e}); make one with `parkboard hash-password` (it reads the password on stdin)")
    })?;
    argon2::Algorithm::try_from(parsed.algorithm).map_err(|_| {
        format!(
            "algorithm {:?}: use an argon2id hash from `parkboard hash-password`",
            parsed.algorithm.as_str()
        )
    })?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the hash has no salt or no hash part: make it with `parkboard hash-password`".into());
    }
    Ok(())
}

/// An argon2id PHC string for `password` (what `parkboard hash-password` prints).
///
/// ```
/// let phc = parkboard::users::hash_password("correct horse").unwrap();
/// assert!(phc.starts_with("$argon2id$"));
/// ```
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Every configured user, by name.
#[derive(Debug, Clone, Default)]
pub struct Users {
    by_name: Arc<HashMap<String, User>>,
    /// A hash checked for unknown names, so they take as long as known ones.
    decoy: Arc<String>,
}

impl Users {
    /// The users given.
    pub fn new(users: Vec<User>) -> Users {
        let decoy = if users.is_empty() { String::new() } else { hash_password("decoy").unwrap_or_default() };
        Users {
            by_name: Arc::new(users.into_iter().map(|u| (u.name.clone(), u)).collect()),
            decoy: Arc::new(decoy),
        }
    }

    /// No user configured (the board runs without logins, on loopback only).
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether `name` is a configured user.
    pub fn exists(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The principal for `name` when `password` is theirs (slow on purpose: argon2;
    /// run it off the async threads). Takes argon2's working memory afresh: the
    /// board's checker keeps one ([`verify_with`](Self::verify_with)).
    pub fn verify(&self, name: &str, password: &str) -> Option<Principal> {
        self.verify_with(name, password, &mut Scratch::default())
    }

    /// [`verify`](Self::verify) with argon2's working memory (19 MiB for the default
    /// parameters) taken from `scratch` and left there for the next check: a fresh
    /// 19 MiB a check fragments the allocator's heap, which then never shrinks (32
    /// logins left the board 156 MB larger).
    pub fn verify_with(&self, name: &str, password: &str, scratch: &mut Scratch) -> Option<Principal> {
        let (hash, user) = match self.by_name.get(name) {
            Some(u) => (u.hash.as_str(), Some(u)),
            None => (self.decoy.as_str(), None),
        };
        let ok = PasswordHash::new(hash).is_ok_and(|h| matches(password.as_bytes(), &h, scratch));
        user.filter(|_| ok).map(Principal::of)
    }

    /// The principal of a configured user.
    pub fn principal(&self, name: &str) -> Option<Principal> {
        self.by_name.get(name).map(Principal::of)
    }
}

/// Argon2's working memory, kept from one password check to the next.
#[derive(Default)]
pub struct Scratch(Vec<Block>);

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({} blocks)", self.0.len())
    }
}

/// Whether `password` hashes to `phc`'s hash with `phc`'s algorithm, version,
/// parameters and salt (what argon2's `verify_password` does, in `scratch`'s memory);
/// the outputs are compared in constant time.
fn matches(password: &[u8], phc: &PasswordHash<'_>, scratch: &mut Scratch) -> bool {
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else { return false };
    let Ok(version) = phc.version.map_or(Ok(Version::default()), Version::try_from) else { return false };
    let Ok(params) = Params::try_from(phc) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let blocks = params.block_count();
    if scratch.0.len() < blocks {
        scratch.0.resize(blocks, Block::default());
    }
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, &mut scratch.0[..blocks])
        .is_ok()
        && Output::new(out).is_ok_and(|o| o == expected)
}

/// Who a page acts for: checked by the server before every action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's name (`local` without logins).
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Where their retrieves ring; `None` only without logins (the page asks).
    pub phone: Option<String>,
    /// The lots they see (`None`: every lot).
    pub lots: Option<Vec<String>>,
}

impl Principal {
    fn of(u: &User) -> Principal {
        Principal { name: u.name.clone(), role: u.role, phone: u.phone.clone(), lots: u.lots.clone() }
    }

    /// The page's user on a loopback board without logins: an operator of every lot
    /// whose retrieves ring the channel typed on the page.
    pub fn local() -> Principal {
        Principal { name: "local".into(), role: Role::Operator, phone: None, lots: None }
    }

    /// Whether this user sees (and may act on) lot `name`.
    pub fn sees(&self, lot: &str) -> bool {
        self.lots.as_ref().is_none_or(|l| l.iter().any(|x| x == lot))
    }

    /// Whether this user may park and retrieve.
    pub fn acts(&self) -> bool {
        self.role == Role::Operator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_password("s3cret-pass").unwrap();
        let u = User::new("reception".into(), &phc, Role::Operator, Some("PJSIP/1002".into()), None).unwrap();
        let users = Users::new(vec![u]);
        assert_eq!(users.verify("reception", "s3cret-pass").unwrap().phone.as_deref(), Some("PJSIP/1002"));
        assert!(users.verify("reception", "wrong").is_none());
        assert!(users.verify("nobody", "s3cret-pass").is_none());
    }

    /// Hashes made elsewhere, with other algorithms, parameters and output lengths,
    /// are checked with their own (one working memory for all, grown when needed).
    #[test]
    fn hashes_of_any_argon2_parameters_verify_in_one_scratch() {
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let mut scratch = Scratch::default();
        for (alg, m, t, p, len) in [
            (Algorithm::Argon2id, 4096, 3, 1, 32),
            (Algorithm::Argon2i, 8192, 2, 2, 16),
            (Algorithm::Argon2d, 1024, 1, 1, 64),
        ] {
            let params = Params::new(m, t, p, Some(len)).unwrap();
            let phc =
                Argon2::new(alg, Version::V0x13, params).hash_password(b"pw", &salt).unwrap().to_string();
            let users = Users::new(vec![User::new("a".into(), &phc, Role::Viewer, None, None).unwrap()]);
            assert!(users.verify_with("a", "pw", &mut scratch).is_some(), "{phc}");
            assert!(users.verify_with("a", "pW", &mut scratch).is_none(), "{phc}");
            assert!(users.verify("a", "pw").is_some(), "{phc}");
        }
        assert_eq!(scratch.0.len(), 8192, "the largest memory asked for, kept");
    }

    #[test]
    fn bad_hashes_say_how_to_make_one() {
        for bad in ["", "plain", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=19456,t=2,p=1"] {
            let (field, why) = User::new("a".into(), bad, Role::Viewer, None, None).unwrap_err();
            assert_eq!(field, "password_hash");
            assert!(why.contains("parkboard hash-password"), "{bad:?}: {why}");
        }
    }

    #[test]
    fn an_operator_needs_a_phone_and_scopes_limit_lots() {
        let phc = hash_password("x").unwrap();
        assert_eq!(User::new("o".into(), &phc, Role::Operator, None, None).unwrap_err().0, "phone");
        let p = Principal {
            name: "t".into(),
            role: Role::Viewer,
            phone: None,
            lots: Some(vec!["default".into()]),
        };
        assert!(p.sees("default") && !p.sees("vip") && !p.acts());
        assert!(Principal::local().sees("vip") && Principal::local().acts());
    }
}
