//! Password checks on one thread of their own, in one argon2 working memory (19 MiB)
//! kept from check to check. Each check on tokio's blocking pool took a fresh 19 MiB
//! on whichever thread was free, and the allocator never gave it back: 32 logins left
//! the board 195 MB larger for good (`cargo bench -p parkboard --bench viewer_cost`:
//! 31 MB after one login, 226 MB after 32; one thread alone still kept 156 MB).

use crate::users::{Principal, Scratch, Users};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// A check asked for: who, the password, where the answer goes, and the place it
/// holds among the checks let in (given back when the check is done or skipped).
struct Job {
    users: Users,
    name: String,
    password: String,
    answer: oneshot::Sender<Option<Principal>>,
    _place: Option<OwnedSemaphorePermit>,
}

/// The board's password checker: one thread, checks in the order asked. Its thread
/// ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Verifier {
    jobs: std::sync::mpsc::Sender<Job>,
    checked: Arc<AtomicU64>,
}

impl Verifier {
    /// Starts the checker's thread.
    pub fn start() -> std::io::Result<Verifier> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let checked = Arc::new(AtomicU64::new(0));
        let count = checked.clone();
        std::thread::Builder::new().name("parkboard-passwords".into()).spawn(move || {
            let mut scratch = Scratch::default();
            for job in rx {
                // Nobody waits for this answer any more (the client went away): the
                // check is skipped (found by a review: 1,200 logins abandoned after
                // 4 ms kept this thread busy 17.7 s, and a real login waited 12 s).
                if job.answer.is_closed() {
                    continue;
                }
                count.fetch_add(1, Ordering::Relaxed);
                let _ = job.answer.send(job.users.verify_with(&job.name, &job.password, &mut scratch));
            }
        })?;
        Ok(Verifier { jobs, checked })
    }

    /// How many checks this checker has run (a check whose asker went away before
    /// its turn is not run).
    pub fn checked(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    /// [`Verifier::verify`], holding `place` (a place among the checks let in) until
    /// the check is done or skipped: an asker that goes away does not give its place
    /// back while its check still waits to run.
    pub async fn verify_holding(
        &self,
        place: OwnedSemaphorePermit,
        users: Users,
        name: &str,
        password: &str,
    ) -> Option<Principal> {
        self.ask(users, name, password, Some(place)).await
    }

    async fn ask(
        &self,
        users: Users,
        name: &str,
        password: &str,
        place: Option<OwnedSemaphorePermit>,
    ) -> Option<Principal> {
        let (answer, rx) = oneshot::channel();
        let job = Job { users, name: name.to_owned(), password: password.to_owned(), answer, _place: place };
        self.jobs.send(job).ok()?;
        rx.await.ok().flatten()
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
        self.ask(users, name, password, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::{hash_password, Role, User};
    use futures_util::FutureExt;

    #[tokio::test]
    async fn checks_nobody_waits_for_are_skipped_and_keep_their_place_until_then() {
        let hash = hash_password("s3cret-pass").unwrap();
        let users = Users::new(vec![User::new("wall".into(), &hash, Role::Viewer, None, None).unwrap()]);
        let checker = Verifier::start().unwrap();
        let places = Arc::new(tokio::sync::Semaphore::new(20));
        // A real check first: the thread is busy with it while the others are asked
        // (an argon2 check takes far longer than asking twenty).
        let mut first = Box::pin(checker.verify(users.clone(), "wall", "s3cret-pass"));
        assert!(first.as_mut().now_or_never().is_none(), "asked, and not answered yet");
        for _ in 0..20 {
            let place = places.clone().acquire_owned().await.unwrap();
            // Asked (sent on the first poll), then abandoned.
            assert!(checker.verify_holding(place, users.clone(), "wall", "wrong").now_or_never().is_none());
        }
        assert_eq!(places.available_permits(), 0, "abandoned checks keep their places until their turn");
        assert!(first.await.is_some());
        // Given back once the thread skips them.
        drop(places.clone().acquire_many_owned(20).await.unwrap());
        let place = places.clone().acquire_owned().await.unwrap();
        assert!(checker.verify_holding(place, users, "wall", "s3cret-pass").await.is_some());
        assert_eq!(checker.checked(), 2, "the 20 abandoned checks were not run");
    }
}
