//! Pages rendered once for several screens. A viewer's page takes no input (no
//! control, and its browser's events are not read), so the open pages of one viewer
//! are one liveview page, one render, whose edits go to each of their browsers: a
//! wall of screens costs the board one virtual DOM, not one a screen (`cargo bench -p
//! parkboard --bench viewer_cost`).
//!
//! Liveview's edits build on each other (element ids, templates, cached strings), so
//! a browser that opens the page later is first sent every edit so far, then the new
//! ones. Once those add up to more than `LOG_MAX` bytes the render stops keeping
//! them and the next browser starts a new render; the old one serves its browsers
//! until they leave. A browser that falls `BEHIND_MAX` edits behind is closed (a
//! shared render does not wait for one screen, and a skipped edit would break it).

use crate::page_socket::PageSocket;
use crate::ui::{board, Props};
use crate::users::Principal;
use axum::body::Bytes;
use dioxus_liveview::LiveViewPool;
use futures_channel::mpsc;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// The most bytes of edits a render keeps for browsers that open it later.
pub(crate) const LOG_MAX: usize = 256 << 10;

/// Edits queued for one browser before it is closed as too slow.
pub(crate) const BEHIND_MAX: usize = 256;

/// Edits queued from a render's page to the board's sender.
const FROM_PAGE: usize = 64;

/// The shared renders, by user.
#[derive(Clone, Default)]
pub(crate) struct SharedPages {
    /// The render a user's next browser joins (while it takes browsers).
    renders: Arc<Mutex<HashMap<String, Weak<Render>>>>,
    /// Renders running, including those no longer taking browsers.
    running: Arc<AtomicUsize>,
}

impl std::fmt::Debug for SharedPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPages").field("renders", &self.running()).finish()
    }
}

/// One render of a page: its liveview page runs while a browser holds it.
pub(crate) struct Render {
    who: Arc<Principal>,
    edits: Arc<Mutex<Edits>>,
    /// The page's input, never written: dropping it (the last browser left) ends the page.
    _input: mpsc::Sender<Vec<u8>>,
    /// Counts this render among the running ones while it lives.
    _running: Running,
}

/// One render counted in [`SharedPages::running`] until dropped.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn count(running: &Arc<AtomicUsize>) -> Running {
        running.fetch_add(1, Ordering::Relaxed);
        Running(running.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A render's edits so far, and its browsers' queues.
struct Edits {
    so_far: Vec<Bytes>,
    bytes: usize,
    /// Whether a browser may still open it (its edits so far are all kept).
    open: bool,
    browsers: Vec<mpsc::Sender<Bytes>>,
}

/// A browser's place at a render: the edits so far, then the new ones.
pub(crate) struct Watching {
    /// Held while the browser watches.
    pub(crate) _render: Arc<Render>,
    pub(crate) so_far: Vec<Bytes>,
    /// Ends when the browser fell too far behind, or the page ended.
    pub(crate) next: mpsc::Receiver<Bytes>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SharedPages {
    /// A place at the render of `props`'s user (started now when there is none that
    /// takes browsers). Call from inside the tokio runtime.
    pub(crate) fn watch(&self, pool: &Arc<LiveViewPool>, props: Props) -> Watching {
        let mut renders = lock(&self.renders);
        renders.retain(|_, r| r.strong_count() > 0);
        let who = props.desk.who.clone();
        let running = renders.get(&who.name).and_then(Weak::upgrade);
        // The same user as configured now (a changed role or lots starts a new render).
        if let Some(w) = running.filter(|r| *r.who == *who).and_then(|r| r.join()) {
            return w;
        }
        let render = Render::start(pool, props, Running::count(&self.running));
        renders.insert(who.name.clone(), Arc::downgrade(&render));
        render.join().unwrap_or_else(|| unreachable!("a new render keeps its edits"))
    }

    /// Renders running now (each serves one viewer's open pages; a viewer whose
    /// earlier render stopped taking browsers may have two or more).
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }
}

impl Render {
    fn start(pool: &Arc<LiveViewPool>, props: Props, running: Running) -> Arc<Render> {
        let (input, from_browser) = mpsc::channel(0);
        let (to_browser, mut from_page) = mpsc::channel::<Vec<u8>>(FROM_PAGE);
        let edits =
            Arc::new(Mutex::new(Edits { so_far: Vec::new(), bytes: 0, open: true, browsers: Vec::new() }));
        let who = props.desk.who.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            let page = PageSocket { from_browser, to_browser };
            if let Err(e) = pool.launch_with_props(page, board, props).await {
                tracing::warn!(error = %e, "a shared page ended");
            }
        });
        let sent = edits.clone();
        tokio::spawn(async move {
            while let Some(frame) = from_page.next().await {
                lock(&sent).send(Bytes::from(frame));
            }
            // The page ended: its browsers' queues end.
            lock(&sent).browsers.clear();
        });
        Arc::new(Render { who, edits, _input: input, _running: running })
    }

    /// A new browser's place, when the render still takes browsers.
    fn join(self: &Arc<Self>) -> Option<Watching> {
        let mut e = lock(&self.edits);
        if !e.open {
            return None;
        }
        let (tx, next) = mpsc::channel(BEHIND_MAX);
        e.browsers.push(tx);
        Some(Watching { _render: self.clone(), so_far: e.so_far.clone(), next })
    }
}

impl Edits {
    /// One frame of the page's to every browser (kept for later ones while they fit).
    fn send(&mut self, frame: Bytes) {
        if self.open {
            if self.bytes + frame.len() > LOG_MAX {
                self.open = false;
                self.so_far = Vec::new();
            } else {
                self.bytes += frame.len();
                self.so_far.push(frame.clone());
            }
        }
        // A full queue: that browser is too far behind; a closed one: it left.
        self.browsers.retain_mut(|b| b.try_send(frame.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edits() -> Edits {
        Edits { so_far: Vec::new(), bytes: 0, open: true, browsers: Vec::new() }
    }

    #[test]
    fn a_browser_that_falls_behind_is_dropped_and_the_others_get_every_frame() {
        let mut e = edits();
        let (fast, mut fast_rx) = mpsc::channel(BEHIND_MAX);
        let (slow, slow_rx) = mpsc::channel(1);
        e.browsers.extend([fast, slow]);
        for i in 0..10u8 {
            e.send(Bytes::from(vec![i]));
        }
        assert_eq!(e.browsers.len(), 1, "the slow browser is dropped");
        drop(slow_rx);
        let got: Vec<u8> = std::iter::from_fn(|| fast_rx.try_recv().ok()).map(|b| b[0]).collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn edits_past_the_cap_close_the_render_to_new_browsers_and_free_the_log() {
        let mut e = edits();
        e.send(Bytes::from(vec![0; LOG_MAX - 10]));
        assert!(e.open);
        assert_eq!(e.so_far.len(), 1);
        e.send(Bytes::from(vec![0; 11]));
        assert!(!e.open, "past the cap: a new browser starts a new render");
        assert!(e.so_far.is_empty() && e.so_far.capacity() == 0, "the log is freed");
    }

    fn viewer_props() -> Props {
        use crate::desk::Desk;
        use ami_parking_transport::{Client, ClientOptions};
        // No server behind it: the page renders an empty board.
        let url = "tcp://user:secret@127.0.0.1:9".parse().unwrap();
        let client = Client::connect_all(vec![ClientOptions::new(url)], Default::default()).unwrap();
        let who =
            Principal { name: "wall".into(), role: crate::users::Role::Viewer, phone: None, lots: None };
        let desk =
            Desk::new(client, who, None, crate::audit::Audit::to_log(), crate::metrics::Metrics::new());
        Props { desk, retrieve_to: String::new() }
    }

    #[tokio::test]
    async fn renders_are_counted_while_a_browser_holds_one_even_past_the_log() {
        let pages = SharedPages::default();
        let pool = Arc::new(LiveViewPool::new());
        let first = pages.watch(&pool, viewer_props());
        let second = pages.watch(&pool, viewer_props());
        assert_eq!(pages.running(), 1, "one viewer's screens share a render");
        // Past its log the render takes no new browser: the next one starts another.
        lock(&first._render.edits).open = false;
        let third = pages.watch(&pool, viewer_props());
        assert_eq!(pages.running(), 2, "the full render still serves its two screens");
        drop(first);
        drop(second);
        assert_eq!(pages.running(), 1, "the full render stopped with its last screen");
        drop(third);
        assert_eq!(pages.running(), 0);
    }
}
