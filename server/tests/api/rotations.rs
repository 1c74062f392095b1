//! Rotations that queue while the writing connection is busy run as one
//! query (`auth::rotations`): each must come out exactly as if it had run
//! alone. Each test holds the server's one writing connection while its
//! refreshes queue, so that they meet in a batch.

use std::time::Duration;

use server::{
    auth::{
        limits::Key,
        sessions::{Issued, Refresh},
    },
    config::RateLimit,
};
use sqlx::AssertSqlSafe;
use tokio::task::JoinSet;

use crate::helpers::TestApp;

/// Starts `count` sessions of one user and returns their first tokens.
async fn families(app: &TestApp, count: usize) -> Vec<Issued> {
    let ada = app.signup("ada").await;
    let mut issued = Vec::new();
    for _ in 0..count {
        let (first, _) = app
            .state
            .sessions
            .start(
                &ada.id,
                None,
                &server::store::rows::Origin::default(),
                server::auth::sessions::SignIn::password(0),
                &[],
            )
            .await
            .unwrap()
            .started()
            .unwrap();
        issued.push(first);
    }
    issued
}

use crate::helpers::client_key as client;

/// Refreshes the token of every family in `issued` (`key_of(i)` names its
/// rate-limit key) while the writing connection is held, then lets them run,
/// and returns each outcome in the families' order.
async fn refresh_queued(
    app: &TestApp,
    issued: &[Issued],
    key_of: impl Fn(usize) -> Key,
    limit: RateLimit,
) -> Vec<Result<Refresh, sqlx::Error>> {
    let writer = app.sqlite().write.acquire().await.unwrap();
    let mut running = JoinSet::new();
    for (i, family) in issued.iter().enumerate() {
        let sessions = app.state.sessions.clone();
        let (token, key) = (
            family.refresh_token.clone(),
            app.state.limiter.stored(&key_of(i)),
        );
        running.spawn(async move { (i, sessions.refresh(&token, &key, limit).await) });
    }
    // Time for every refresh to reach the queue (if one is late, it makes a
    // later batch, and every assertion below still holds).
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(writer);
    let mut outcomes: Vec<_> = running.join_all().await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

#[tokio::test]
async fn rotations_queued_together_each_rotate_their_own_token() {
    let app = TestApp::spawn().await;
    // More than one batch holds, so a full batch and a remainder both run.
    let issued = families(&app, 40).await;
    let limit = app.state.config.limits.auth_requests_per_ip;
    let outcomes = refresh_queued(&app, &issued, client, limit).await;

    for (first, outcome) in issued.iter().zip(outcomes) {
        let Ok(Refresh::Rotated(next, role)) = outcome else {
            panic!("every live token rotates: {outcome:?}");
        };
        assert_eq!(next.session_id, first.session_id);
        assert_eq!(next.user_id, first.user_id);
        assert_eq!(role, classboard::api::Role::Student);
        // The successor is stored and live: it rotates in turn.
        let again = app.state.limiter.stored(&client(1000));
        let again = app
            .state
            .sessions
            .refresh(&next.refresh_token, &again, limit);
        assert!(matches!(again.await.unwrap(), Refresh::Rotated(..)));
    }
}

#[tokio::test]
async fn a_batch_counts_its_attempts_in_order_and_leaves_refused_tokens_live() {
    let app = TestApp::spawn().await;
    let issued = families(&app, 25).await;
    let limit = RateLimit {
        max: 10,
        window: Duration::from_secs(3600),
    };
    let outcomes = refresh_queued(&app, &issued, |_| client(2000), limit).await;

    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Refresh::Rotated(..))))
        .count();
    let limited = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Refresh::Limited(_))))
        .count();
    assert_eq!((rotated, limited), (10, 15), "{outcomes:?}");
    let counted: i64 = sqlx::query_scalar("SELECT count FROM rate_counters WHERE key = ?")
        .bind(app.state.limiter.stored(&client(2000)))
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(counted, 25, "every attempt counted once");

    // A refused token was not spent: under another key it rotates.
    let wide = app.state.config.limits.auth_requests_per_ip;
    for (family, outcome) in issued.iter().zip(&outcomes) {
        if matches!(outcome, Ok(Refresh::Limited(_))) {
            let elsewhere = app.state.limiter.stored(&client(3000));
            let later = app
                .state
                .sessions
                .refresh(&family.refresh_token, &elsewhere, wide);
            assert!(matches!(later.await.unwrap(), Refresh::Rotated(..)));
        }
    }
}

#[tokio::test]
async fn a_statement_that_fails_fails_only_its_own_rotation() {
    let app = TestApp::spawn().await;
    let issued = families(&app, 12).await;
    // Spending the sixth family's token raises an error inside the UPDATE.
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TRIGGER poisoned BEFORE UPDATE OF spent_at ON refresh_tokens
         WHEN OLD.session_id = '{}' BEGIN SELECT RAISE(ABORT, 'poisoned token'); END",
        issued[5].session_id
    )))
    .execute(&app.db().await)
    .await
    .unwrap();

    let limit = app.state.config.limits.auth_requests_per_ip;
    let outcomes = refresh_queued(&app, &issued, client, limit).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 5 {
            let Err(e) = outcome else {
                panic!("the poisoned rotation fails: {outcome:?}")
            };
            assert!(e.to_string().contains("poisoned token"), "{e}");
        } else {
            assert!(
                matches!(outcome, Ok(Refresh::Rotated(..))),
                "rotation {i}: {outcome:?}"
            );
        }
    }
}
