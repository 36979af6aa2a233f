//! Password checks on one thread of their own, in one argon2 working memory (19 MiB)
//! kept from check to check. Each check on tokio's blocking pool took a fresh 19 MiB
//! on whichever thread was free, and the allocator never gave it back: 32 logins left
//! the board 195 MB larger for good (`cargo bench -p parkboard --bench viewer_cost`:
//! 31 MB after one login, 226 MB after 32; one thread alone still kept 156 MB).

use crate::users::{Principal, Scratch, Users};
use tokio::sync::oneshot;

type Job = (Users, String, String, oneshot::Sender<Option<Principal>>);

/// The board's password checker: one thread, checks in the order asked. Its thread
/// ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Verifier {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Verifier {
    /// Starts the checker's thread.
    pub fn start() -> std::io::Result<Verifier> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new().name("parkboard-passwords".into()).spawn(move || {
            let mut scratch = Scratch::default();
            for (users, name, password, answer) in rx {
                let _ = answer.send(users.verify_with(&name, &password, &mut scratch));
            }
        })?;
        Ok(Verifier { jobs })
    }

    /// The principal for `name` when `password` is theirs (see [`Users::verify`]);
    /// `None` for a wrong one, or if the checker is gone.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use parkboard::users::{hash_password, Role, User, Users};
    /// let hash = hash_password("s3cret-pass").unwrap();
    /// let users = Users::new(vec![User::new("wall".into(), &hash, Role::Viewer, None, None).unwrap()]);
    /// let checker = parkboard::verifier::Verifier::start().unwrap();
    /// assert!(checker.verify(users.clone(), "wall", "s3cret-pass").await.is_some());
    /// assert!(checker.verify(users, "wall", "wrong").await.is_none());
    /// # }
    /// ```
    pub async fn verify(&self, users: Users, name: &str, password: &str) -> Option<Principal> {
        let (answer, rx) = oneshot::channel();
        self.jobs.send((users, name.to_owned(), password.to_owned(), answer)).ok()?;
        rx.await.ok().flatten()
    }
}
