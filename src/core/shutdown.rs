//! What a shutdown waits for: a count of running tasks (HTTP connections,
//! sockets) that can be awaited down to zero, and the signal that tells
//! sockets a shutdown has begun.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

/// Counts tasks; `idle` resolves when none is left. Each task holds a
/// `TaskGuard` for as long as it runs.
#[derive(Clone, Default)]
pub struct Tracker {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    running: AtomicUsize,
    none_left: Notify,
}

/// One running task; dropping it counts the task as finished.
pub struct TaskGuard {
    inner: Arc<Inner>,
}

impl Tracker {
    /// Count a task until the guard is dropped.
    pub fn track(&self) -> TaskGuard {
        self.inner.running.fetch_add(1, Ordering::AcqRel);
        TaskGuard {
            inner: self.inner.clone(),
        }
    }

    /// Tasks running now.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Acquire)
    }

    /// Resolves once no task is running.
    pub async fn idle(&self) {
        loop {
            let none_left = self.inner.none_left.notified();
            let mut none_left = std::pin::pin!(none_left);
            // Registered before the count is read, so a task that finishes
            // in between still wakes us.
            none_left.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            none_left.await;
        }
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.inner.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.none_left.notify_waiters();
        }
    }
}

/// Tells sockets that a shutdown has begun: from then on they read no new
/// frames from their clients (what they read is not stored, so it needs no
/// acknowledgement), finish what they had read, and wait for the hub to
/// close them.
#[derive(Clone)]
pub struct Draining {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Draining {
    fn default() -> Self {
        Draining {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl Draining {
    pub fn begin(&self) {
        self.tx.send_replace(true);
    }

    /// Has a shutdown begun?
    pub fn is_set(&self) -> bool {
        *self.tx.borrow()
    }

    /// A receiver whose value turns true when a shutdown begins.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn idle_waits_for_the_last_guard() {
        let tracker = Tracker::default();
        tokio::time::timeout(Duration::from_millis(100), tracker.idle())
            .await
            .expect("nothing running: idle at once");
        let a = tracker.track();
        let b = tracker.track();
        let waiting = tokio::spawn({
            let tracker = tracker.clone();
            async move { tracker.idle().await }
        });
        drop(a);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "one task still runs");
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("idle after the last guard")
            .unwrap();
    }
}
