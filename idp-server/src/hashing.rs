//! The budget for password hashing: argon2id takes ~19 MiB and tens of milliseconds of CPU
//! per computation, so at most `concurrency` run at once, each on one of `concurrency`
//! dedicated threads, and a caller that cannot get a turn within `wait` is told the server
//! is busy instead of queueing without bound.
//!
//! Dedicated threads rather than tokio's blocking pool: the allocator keeps freed memory in
//! per-thread arenas, so hashes spread over the many threads of the blocking pool leave
//! ~19 MiB behind on each (measured: 630 MiB after 128 concurrent sign-ins with two at a
//! time). On a fixed set of threads the process holds at most `concurrency × 19 MiB` for
//! hashing, and a thread that has had no work for [`RELEASE_AFTER`] gives its working
//! memory back, so that a burst of sign-ins does not hold `concurrency × 19 MiB` for good.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use subtle::ConstantTimeEq;
use tokio::sync::{Semaphore, oneshot};

use crate::Error;
use crate::store::SecretHash;

type Job = Box<dyn FnOnce() + Send>;

/// No turn came within the wait: the caller answers 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

/// At most `concurrency` hashes at once; see the module docs.
pub(crate) struct HashBudget {
    permits: Arc<Semaphore>,
    wait: Duration,
    /// Work for the hashing threads; they end when this is dropped.
    jobs: Sender<Job>,
    /// How many of the threads hold working memory now.
    holding: Arc<AtomicUsize>,
}

/// How long a hashing thread keeps its working memory with no work to do.
const RELEASE_AFTER: Duration = Duration::from_secs(10);

impl std::fmt::Debug for HashBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashBudget")
            .field("available", &self.permits.available_permits())
            .field("wait", &self.wait)
            .field("holding_memory", &self.holding.load(Ordering::Relaxed))
            .finish()
    }
}

fn worker(jobs: &Receiver<Job>, release_after: Duration, holding: &AtomicUsize) {
    loop {
        match jobs.recv_timeout(release_after) {
            Ok(job) => {
                let had = holds_memory();
                job();
                if !had && holds_memory() {
                    holding.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if release_memory() {
                    holding.fetch_sub(1, Ordering::Relaxed);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return, // the budget is gone
        }
    }
}

impl HashBudget {
    /// `concurrency` threads (at least one) and turns.
    pub(crate) fn new(concurrency: usize, wait: Duration) -> Self {
        Self::with_release(concurrency, wait, RELEASE_AFTER)
    }

    fn with_release(concurrency: usize, wait: Duration, release_after: Duration) -> Self {
        let n = concurrency.max(1);
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let holding = Arc::new(AtomicUsize::new(0));
        for i in 0..n {
            let rx = rx.clone();
            let held = Arc::clone(&holding);
            // A thread that cannot be started leaves fewer workers; the turns still bound
            // the work, and jobs wait in the channel for the others.
            if let Err(e) = std::thread::Builder::new()
                .name(format!("idp-hash-{i}"))
                .spawn(move || worker(&rx, release_after, &held))
            {
                tracing::error!(error = %e, "cannot start a password-hashing thread");
            }
        }
        Self {
            permits: Arc::new(Semaphore::new(n)),
            wait,
            jobs: tx,
            holding,
        }
    }

    /// How many hashing threads hold working memory now.
    #[cfg(test)]
    fn holding(&self) -> usize {
        self.holding.load(Ordering::Relaxed)
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
        // The permit moves into the job, so that a caller who gives up (a closed
        // connection) does not free a turn while the computation still runs.
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(hash());
            drop(permit);
        });
        self.jobs.send(job).map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }
}

/// argon2id with the OWASP parameters: 19 MiB, 2 passes, 1 lane, 32-byte output.
fn params() -> Result<Params, Error> {
    Params::new(19 * 1024, 2, 1, Some(32)).map_err(|_| Error::Crypto("argon2 parameters".into()))
}

/// The most memory a stored hash may ask for (64 MiB): a corrupt row does not get to
/// allocate gigabytes.
const MAX_M_COST: u32 = 64 * 1024;

/// The working memory of a hashing thread is allocated with room for at least this many
/// blocks (32 MiB and a bit; only what a computation uses is ever touched, so only that is
/// resident). glibc's malloc raises its mmap threshold after a large block is freed, up to
/// 32 MiB, and then serves the next 19 MiB from an arena that it never trims: an allocation
/// above the cap is always its own mapping, which freeing returns to the system.
const ALLOCATION_BLOCKS: usize = 33 * 1024;

thread_local! {
    /// The argon2 working memory of this thread, kept between computations: the allocator
    /// does not reliably reuse a freed 19 MiB block (measured: +19 MiB of RSS per sign-in).
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn holds_memory() -> bool {
    BLOCKS.with(|b| b.try_borrow().is_ok_and(|b| b.capacity() > 0))
}

/// Frees this thread's working memory; whether it held any.
fn release_memory() -> bool {
    BLOCKS.with(|b| match b.try_borrow_mut() {
        Ok(mut b) if b.capacity() > 0 => {
            *b = Vec::new();
            true
        }
        _ => false,
    })
}

/// Runs argon2id into `out` with this thread's working memory.
fn compute(argon: &Argon2<'_>, params: &Params, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    BLOCKS.with(|blocks| {
        let Ok(mut blocks) = blocks.try_borrow_mut() else {
            return false;
        };
        let count = params.block_count();
        if blocks.len() < count {
            if blocks.capacity() < count {
                *blocks = Vec::with_capacity(count.max(ALLOCATION_BLOCKS));
            }
            blocks.resize(count, Block::default());
        }
        argon
            .hash_password_into_with_memory(pwd, salt, out, &mut blocks[..count])
            .is_ok()
    })
}

/// Hashes a password or client secret with argon2id into a PHC string.
pub(crate) fn hash_secret(secret: &str) -> Result<SecretHash, Error> {
    let failed = |what: &str| Error::Crypto(format!("password hashing: {what}"));
    let params = params()?;
    let mut salt_bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt_bytes).map_err(|_| failed("random salt"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; 32];
    if !compute(&argon, &params, secret.as_bytes(), &salt_bytes, &mut out) {
        return Err(failed("argon2"));
    }
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| failed("salt"))?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|_| failed("parameters"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|_| failed("output"))?),
    };
    Ok(SecretHash::new(phc.to_string()))
}

/// Verifies a secret against an argon2id PHC hash (constant-time comparison).
pub(crate) fn verify_secret(secret: &str, hash: &SecretHash) -> bool {
    let Ok(parsed) = PasswordHash::new(hash.as_str()) else {
        return false;
    };
    if parsed.algorithm != ARGON2ID_IDENT {
        return false;
    }
    let (Ok(params), Some(salt), Some(expected)) =
        (Params::try_from(&parsed), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let Ok(version) = version else {
        return false;
    };
    if params.m_cost() > MAX_M_COST {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let expected = expected.as_bytes();
    let argon = Argon2::new(Algorithm::Argon2id, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    compute(&argon, &params, secret.as_bytes(), salt, &mut out) && bool::from(out.ct_eq(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_verifies() {
        let h = hash_secret("s3cret").unwrap();
        assert!(
            h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{h:?}"
        );
        assert!(verify_secret("s3cret", &h));
        assert!(!verify_secret("s3creT", &h));
        assert!(!verify_secret("s3cret", &SecretHash::new("garbage")));
    }

    #[test]
    fn hashes_from_the_argon2_crate_verify_and_ours_verify_there() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify_secret("pw", &SecretHash::new(theirs.clone())));
        assert!(!verify_secret("pW", &SecretHash::new(theirs)));
        let ours = hash_secret("pw").unwrap();
        let parsed = PasswordHash::new(ours.as_str()).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
    }

    #[test]
    fn a_hash_asking_for_too_much_memory_is_refused() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let big = format!(
            "$argon2id$v=19$m={},t=1,p=1${}$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            MAX_M_COST + 1,
            salt.as_str()
        );
        assert!(!verify_secret("pw", &SecretHash::new(big)));
    }

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

    #[tokio::test]
    async fn idle_threads_give_their_memory_back() {
        let budget =
            HashBudget::with_release(2, Duration::from_secs(1), Duration::from_millis(300));
        let h = hash_secret("pw").unwrap();
        // Two at once: both threads compute, both hold their 19 MiB.
        let (a, b) = tokio::join!(
            budget.run({
                let h = h.clone();
                move || verify_secret("pw", &h)
            }),
            budget.run({
                let h = h.clone();
                move || verify_secret("pw", &h)
            }),
        );
        assert_eq!((a, b), (Ok(true), Ok(true)));
        // The count follows the job's answer by a moment; polled, up to 10 s.
        let settle = |want: fn(usize) -> bool| {
            let budget = &budget;
            async move {
                for _ in 0..200 {
                    if want(budget.holding()) {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                false
            }
        };
        assert!(settle(|n| n >= 1).await, "{:?}", budget);
        assert!(settle(|n| n == 0).await, "{:?}", budget);
        // And they compute again afterwards.
        assert_eq!(budget.run(move || verify_secret("pw", &h)).await, Ok(true));
        assert!(settle(|n| n == 1).await, "{:?}", budget);
    }
}
