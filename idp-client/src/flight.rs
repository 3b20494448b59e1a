//! Single flight: concurrent callers that need the same fetch share one request and all see
//! its outcome, success or error. Nothing here caches results; a finished flight is
//! forgotten.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::Error;

type Flight<V> = Shared<BoxFuture<'static, Result<V, Error>>>;

/// The fetches in flight, by key. The mutex guards only the map (insert, clone, remove),
/// never an `.await`, and no cache read takes it.
pub(crate) struct SingleFlight<K, V> {
    inflight: Mutex<HashMap<K, Flight<V>>>,
}

impl<K, V> fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("SingleFlight")
            .field("in_flight", &n)
            .finish()
    }
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            inflight: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone + Send + Sync + 'static,
{
    /// Joins the flight for `key` if one is running. Otherwise calls `start`, which decides
    /// (while no other caller can start one) whether to begin a fetch: `None` means no
    /// fetch, and then `run` returns `None` too.
    pub(crate) async fn run<F, Fut>(&self, key: &K, start: F) -> Option<Result<V, Error>>
    where
        F: FnOnce() -> Option<Fut>,
        Fut: Future<Output = Result<V, Error>> + Send + 'static,
    {
        let flight = {
            let mut map = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match map.get(key) {
                Some(f) => f.clone(),
                None => {
                    let f = start()?.boxed().shared();
                    map.insert(key.clone(), f.clone());
                    f
                }
            }
        };
        let out = flight.clone().await;
        let mut map = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(key).is_some_and(|f| f.ptr_eq(&flight)) {
            map.remove(key);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_its_error() {
        let sf: Arc<SingleFlight<u8, u32>> = Arc::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (sf, calls, rx) = (sf.clone(), calls.clone(), rx.clone());
            tasks.push(tokio::spawn(async move {
                sf.run(&1, || {
                    Some(async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let mut rx = rx;
                        let _ = rx.wait_for(|go| *go).await;
                        Err::<u32, _>(Error::Config("boom"))
                    })
                })
                .await
            }));
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        tx.send(true).unwrap();
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Some(Err(Error::Config("boom")))));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The failed flight is forgotten: the next caller starts a new one.
        let v = sf.run(&1, || Some(async { Ok(7) })).await;
        assert!(matches!(v, Some(Ok(7))));
        let none = sf.run(
            &1,
            || None::<futures_util::future::Ready<Result<u32, Error>>>,
        );
        assert!(none.await.is_none());
    }
}
