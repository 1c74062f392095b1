//! Revoked sessions, held in memory so that checking an access token needs no
//! database read. Each process fills the set from the database at start and
//! then polls it several times a second for revocations numbered above the
//! last it saw (see `store::tx::Tx::revoke_sessions` for why the
//! numbers cannot skip a late commit). On PostgreSQL every revocation also
//! sends a notification, and each instance listening polls at once: a
//! revocation reaches every instance in milliseconds, and within a poll
//! interval when notifications are lost (a dropped connection, a restart
//! of the database).
//!
//! An entry is kept, in this process's own monotonic time, for an access
//! token's lifetime plus leeway plus a margin for clocks that disagree,
//! counted from the moment this process learned of the revocation: every
//! token minted before the revocation committed has expired by then.
//!
//! A poll that keeps failing must not leave the process accepting revoked
//! tokens unnoticed: after [`STALE_AFTER`] without a successful poll the set
//! is *stale*, the process says so in its log, and `GET /readyz` answers
//! `503` so that a load balancer stops sending it requests.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::postgres::PgListener;
use tokio::sync::Notify;

use crate::store::{Db, revocations as stored};

/// How often the database is polled for new revocations.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long without a successful poll makes the set stale.
pub const STALE_AFTER: Duration = Duration::from_secs(3);
/// How far apart the clocks of the instances may be: a token minted by an
/// instance whose clock runs ahead expires later by that much.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(30);
/// The channel PostgreSQL revocations are announced on.
const CHANNEL: &str = "classboard_revocations";

#[derive(Clone)]
pub struct Revocations {
    /// Session id → when this process may forget it.
    revoked: Arc<RwLock<HashMap<String, Instant>>>,
    /// How long an access token of a revoked session may still be unexpired.
    keep_for: Duration,
    sync: Arc<Mutex<SyncState>>,
    /// When the set last matched the database, in milliseconds after
    /// `started`: read on every bearer request, so without a lock.
    synced_ms: Arc<AtomicU64>,
    started: Instant,
}

#[derive(Debug)]
struct SyncState {
    /// How far the polls have read: every revocation numbered below
    /// `seen.0` and, of those numbered `seen.0`, every session up to
    /// `seen.1` (all of them when `None`). One revocation can end more
    /// sessions than a poll reads at once (logout-all of a busy account):
    /// the rest are read by the next poll, never skipped.
    seen: (i64, Option<String>),
    /// Whether the staleness has been logged (once per outage).
    reported: bool,
}

impl Revocations {
    pub fn new(access_ttl: Duration) -> Self {
        Self {
            revoked: Arc::default(),
            keep_for: access_ttl + Duration::from_secs(super::jwt::LEEWAY_SECS) + CLOCK_SKEW_MARGIN,
            sync: Arc::new(Mutex::new(SyncState {
                seen: (0, None),
                reported: false,
            })),
            synced_ms: Arc::default(),
            started: Instant::now(),
        }
    }

    /// Records that the set matches the database as of now.
    fn mark_synced(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.synced_ms.store(ms, Ordering::Release);
    }

    /// How long since the set last matched the database.
    fn stale_for(&self) -> Duration {
        let synced = Duration::from_millis(self.synced_ms.load(Ordering::Acquire));
        self.started.elapsed().saturating_sub(synced)
    }

    /// Whether access tokens of `session_id` must be refused.
    pub fn is_revoked(&self, session_id: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(session_id)
    }

    /// How many revoked sessions are held.
    pub fn len(&self) -> usize {
        self.revoked.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set has matched the database within [`STALE_AFTER`].
    pub fn is_fresh(&self) -> bool {
        self.stale_for() <= STALE_AFTER
    }

    /// Records revocations made by this process at once, without waiting for the poll.
    pub fn insert<'a>(&self, session_ids: impl IntoIterator<Item = &'a String>) {
        let forget_at = Instant::now() + self.keep_for;
        let mut set = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        for id in session_ids {
            set.insert(id.clone(), forget_at);
        }
    }

    /// Fills the set from the database, then keeps polling it until the
    /// process ends: every [`POLL_INTERVAL`], and on PostgreSQL also the
    /// moment a revocation is announced. The first fill happens before this
    /// returns.
    pub async fn start(self, db: Db) -> Result<(), sqlx::Error> {
        self.fill(&db).await?;
        let announced = Arc::new(Notify::new());
        if let Db::Postgres(pg) = &db {
            // One connection of the main pool, kept for listening.
            let listener = PgListener::connect_with(&pg.write).await?;
            tokio::spawn(listen(listener, announced.clone()));
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = announced.notified() => {}
                }
                let polled = self.poll(&db).await;
                self.after_poll(polled);
            }
        });
        Ok(())
    }

    /// Loads every revoked session the database still holds. The clock is
    /// read first: whatever commits after that has a higher number and is
    /// found by the polls.
    async fn fill(&self, db: &Db) -> Result<(), sqlx::Error> {
        let seq = stored::clock(db).await?;
        let ids = stored::all_revoked(db).await?;
        self.insert(&ids);
        self.sync.lock().unwrap_or_else(|e| e.into_inner()).seen = (seq, None);
        self.mark_synced();
        Ok(())
    }

    /// Loads the revocations numbered above the last one seen, and forgets
    /// entries whose tokens have all expired. Returns how many were loaded.
    pub async fn poll(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let (seq, after) = self
            .sync
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .clone();
        let rows = stored::revoked_after(db, seq, after.as_deref()).await?;
        let now = Instant::now();
        {
            let mut set = self.revoked.write().unwrap_or_else(|e| e.into_inner());
            set.retain(|_, forget_at| *forget_at > now);
            for row in &rows {
                set.insert(row.id.clone(), now + self.keep_for);
            }
        }
        let full = rows.len() >= usize::try_from(stored::POLL_BATCH).unwrap_or(usize::MAX);
        let mut sync = self.sync.lock().unwrap_or_else(|e| e.into_inner());
        // Rows come in (number, id) order, and only this task writes `seen`.
        if let Some(last) = rows.last() {
            sync.seen = if full {
                // More of this number may follow: resume after this session.
                (last.revoked_seq, Some(last.id.clone()))
            } else {
                (last.revoked_seq, None)
            };
        }
        drop(sync);
        // A full batch may leave more behind: not in sync until read.
        if !full {
            self.mark_synced();
        }
        Ok(rows.len())
    }

    /// Logs the moment the set goes stale, and the moment it recovers.
    fn after_poll(&self, polled: Result<usize, sqlx::Error>) {
        let stale_for = self.stale_for();
        let mut sync = self.sync.lock().unwrap_or_else(|e| e.into_inner());
        match polled {
            Err(e) if stale_for > STALE_AFTER && !sync.reported => {
                sync.reported = true;
                tracing::error!(
                    error = %e,
                    stale_for_ms = stale_for.as_millis() as u64,
                    "revoked sessions cannot be polled: the revocation set is stale and readyz answers 503"
                );
            }
            Err(e) if !sync.reported => {
                tracing::warn!(error = %e, "cannot poll revoked sessions; retrying");
            }
            Err(_) => {}
            Ok(_) if sync.reported && stale_for <= STALE_AFTER => {
                sync.reported = false;
                tracing::info!("revoked sessions polled again: the revocation set is current");
            }
            Ok(_) => {}
        }
    }
}

/// Wakes the poll whenever PostgreSQL announces a revocation, and also when
/// the listening connection was lost and comes back (announcements made
/// meanwhile are gone; the poll finds their revocations by number).
async fn listen(mut listener: PgListener, announced: Arc<Notify>) {
    if let Err(e) = listener.listen(CHANNEL).await {
        tracing::error!(error = %e, "cannot listen for revocations; polling only");
        return;
    }
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) | Ok(None) => announced.notify_one(),
            Err(e) => {
                tracing::warn!(error = %e, "lost the revocation announcements; reconnecting");
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}
