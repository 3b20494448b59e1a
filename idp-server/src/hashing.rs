//! The budget for password hashing: argon2id takes ~19 MiB and tens of milliseconds of CPU
//! per computation, so at most `concurrency` run at once (the process never holds more than
//! `concurrency × 19 MiB` for hashing), on the blocking pool, and a caller that cannot get a
//! turn within `wait` is told the server is busy instead of queueing without bound.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// No turn came within the wait: the caller answers 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

/// At most `concurrency` hashes at once; see the module docs.
#[derive(Debug)]
pub(crate) struct HashBudget {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl HashBudget {
    pub(crate) fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// Runs `hash` on the blocking pool once a turn is free.
    pub(crate) async fn run<T, F>(&self, hash: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| Busy)?
            // The semaphore is never closed.
            .map_err(|_| Busy)?;
        // The permit moves into the task, so that a caller who gives up (a closed
        // connection) does not free a turn while the computation still runs.
        tokio::task::spawn_blocking(move || {
            let out = hash();
            drop(permit);
            out
        })
        .await
        .map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_budget_says_busy_and_frees_up_after() {
        let budget = Arc::new(HashBudget::new(1, Duration::from_millis(20)));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let b = Arc::clone(&budget);
        let first = tokio::spawn(async move {
            b.run(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                1
            })
            .await
        });
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        assert_eq!(budget.run(|| 2).await, Err(Busy));
        release_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(1));
        assert_eq!(budget.run(|| 3).await, Ok(3));
    }
}
