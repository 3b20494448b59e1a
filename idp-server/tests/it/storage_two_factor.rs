//! The two-factor part of the storage conformance suite (`storage::conformance` runs it on
//! every backend): enrolments, single-use steps and backup codes (also under concurrency),
//! pending sign-ins with their expiry and attempt bound.

use std::sync::Arc;

use idp_server::store::{PendingSignIn, Store, StoreError, TwoFactorRecord};
use tokio::sync::Barrier;

const NOW: i64 = 1_700_000_000;
const RACERS: usize = 16;

/// Runs every two-factor check against `store`.
pub(crate) async fn two_factor(store: Arc<dyn Store>) {
    enrolments(store.as_ref()).await;
    pending_sign_ins(store.as_ref()).await;
    concurrent_uses(store).await;
}

async fn enrolments(s: &dyn Store) {
    let user = "u-2fa";
    assert!(s.get_two_factor(user).await.unwrap().is_none());
    assert!(!s.enable_two_factor(user, NOW, 1, &[]).await.unwrap());
    assert!(!s.use_totp_step(user, 1).await.unwrap());

    // Begun, not on; begun again replaces the secret.
    s.begin_two_factor(&TwoFactorRecord::new(user, vec![1, 2, 3], NOW))
        .await
        .unwrap();
    s.begin_two_factor(&TwoFactorRecord::new(user, vec![0, 4, 5, 6], NOW + 1))
        .await
        .unwrap();
    let rec = s.get_two_factor(user).await.unwrap().unwrap();
    assert_eq!(
        rec.secret_sealed,
        vec![0, 4, 5, 6],
        "binary with a NUL survives"
    );
    assert_eq!(
        (rec.enabled_at, rec.last_step, rec.created_at),
        (None, None, NOW + 1)
    );
    assert!(!rec.is_enabled());
    assert!(!s.use_totp_step(user, 5).await.unwrap(), "not on yet");

    let hashes: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
    assert!(
        s.enable_two_factor(user, NOW + 2, 100, &hashes)
            .await
            .unwrap()
    );
    assert!(
        !s.enable_two_factor(user, NOW + 3, 101, &hashes)
            .await
            .unwrap(),
        "once"
    );
    let rec = s.get_two_factor(user).await.unwrap().unwrap();
    assert_eq!((rec.enabled_at, rec.last_step), (Some(NOW + 2), Some(100)));
    assert!(matches!(
        s.begin_two_factor(&TwoFactorRecord::new(user, vec![9], NOW))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.get_two_factor(user).await.unwrap().unwrap().secret_sealed,
        vec![0, 4, 5, 6]
    );

    // Steps: only later ones, each once.
    assert!(!s.use_totp_step(user, 100).await.unwrap());
    assert!(!s.use_totp_step(user, 99).await.unwrap());
    assert!(s.use_totp_step(user, 101).await.unwrap());
    assert!(!s.use_totp_step(user, 101).await.unwrap());
    assert!(s.use_totp_step(user, 103).await.unwrap());
    assert!(!s.use_totp_step(user, 102).await.unwrap());
    assert_eq!(
        s.get_two_factor(user).await.unwrap().unwrap().last_step,
        Some(103)
    );
    assert!(!s.use_totp_step("someone-else", 200).await.unwrap());

    // Backup codes: each once, per user.
    assert_eq!(s.backup_codes_left(user).await.unwrap(), 10);
    assert!(s.use_backup_code(user, "h3", NOW).await.unwrap());
    assert!(!s.use_backup_code(user, "h3", NOW).await.unwrap());
    assert!(!s.use_backup_code(user, "nope", NOW).await.unwrap());
    assert!(!s.use_backup_code("someone-else", "h4", NOW).await.unwrap());
    assert_eq!(s.backup_codes_left(user).await.unwrap(), 9);
    assert!(!s.use_backup_code(user, "h\0", NOW).await.unwrap());

    // Deleting: both gone; a new enrolment starts clean.
    assert!(s.delete_two_factor(user).await.unwrap());
    assert!(!s.delete_two_factor(user).await.unwrap());
    assert!(s.get_two_factor(user).await.unwrap().is_none());
    assert_eq!(s.backup_codes_left(user).await.unwrap(), 0);
    assert!(!s.use_backup_code(user, "h4", NOW).await.unwrap());
    s.begin_two_factor(&TwoFactorRecord::new(user, vec![7], NOW))
        .await
        .unwrap();
    assert!(
        s.enable_two_factor(user, NOW, 1, &["x".into()])
            .await
            .unwrap()
    );
    assert_eq!(s.backup_codes_left(user).await.unwrap(), 1);
    assert!(s.delete_two_factor(user).await.unwrap());
    assert!(s.get_two_factor("u\0").await.unwrap().is_none());
}

async fn pending_sign_ins(s: &dyn Store) {
    let p = PendingSignIn::new("pending-1", "u-2fa", NOW, NOW + 300);
    s.insert_pending_sign_in(&p).await.unwrap();
    assert!(matches!(
        s.insert_pending_sign_in(&p).await,
        Err(StoreError::Conflict(_))
    ));
    for n in 1..=3 {
        let got = s
            .attempt_pending_sign_in("pending-1", NOW + 1, 3)
            .await
            .unwrap();
        assert_eq!(got.map(|p| p.attempts), Some(n));
    }
    assert!(
        s.attempt_pending_sign_in("pending-1", NOW + 1, 3)
            .await
            .unwrap()
            .is_none()
    );
    let got = s
        .attempt_pending_sign_in("pending-1", NOW + 1, 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.user_id.as_str(), got.attempts, got.expires_at),
        ("u-2fa", 4, NOW + 300)
    );
    assert!(
        s.attempt_pending_sign_in("pending-1", NOW + 300, 10)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        s.attempt_pending_sign_in("unknown", NOW, 10)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.attempt_pending_sign_in("p\0", NOW, 10)
            .await
            .unwrap()
            .is_none()
    );

    s.insert_pending_sign_in(&PendingSignIn::new("pending-2", "u", NOW, NOW + 10))
        .await
        .unwrap();
    assert!(s.delete_pending_sign_in("pending-2").await.unwrap());
    assert!(!s.delete_pending_sign_in("pending-2").await.unwrap());
    s.insert_pending_sign_in(&PendingSignIn::new("pending-3", "u", NOW, NOW + 1000))
        .await
        .unwrap();
    assert_eq!(s.purge_pending_sign_ins(NOW + 300).await.unwrap(), 1);
    assert!(
        s.attempt_pending_sign_in("pending-3", NOW + 300, 10)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.purge_pending_sign_ins(NOW + 1000).await.unwrap(), 1);
}

/// Of concurrent uses of one step, one backup code, or the last attempt, exactly one wins.
async fn concurrent_uses(store: Arc<dyn Store>) {
    let user = "u-2fa-race";
    store
        .begin_two_factor(&TwoFactorRecord::new(user, vec![1], NOW))
        .await
        .unwrap();
    assert!(
        store
            .enable_two_factor(user, NOW, 10, &["b".into()])
            .await
            .unwrap()
    );
    store
        .insert_pending_sign_in(&PendingSignIn::new("pending-race", user, NOW, NOW + 300))
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let b = barrier.clone();
            tokio::spawn(async move {
                b.wait().await;
                let step = s.use_totp_step(user, 11).await.unwrap();
                let code = s.use_backup_code(user, "b", NOW).await.unwrap();
                let attempt = s
                    .attempt_pending_sign_in("pending-race", NOW, 1)
                    .await
                    .unwrap()
                    .is_some();
                (step, code, attempt)
            })
        })
        .collect();
    let mut wins = (0, 0, 0);
    for t in tasks {
        let (a, b, c) = t.await.unwrap();
        wins.0 += usize::from(a);
        wins.1 += usize::from(b);
        wins.2 += usize::from(c);
    }
    assert_eq!(wins, (1, 1, 1));
    assert!(store.delete_two_factor(user).await.unwrap());
    assert!(store.delete_pending_sign_in("pending-race").await.unwrap());
}
