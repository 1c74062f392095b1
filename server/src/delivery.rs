//! The outbox's two ends, shared by mail and texts: a [`Queue`] seals a
//! message and queues it (in the transaction of the change it tells of
//! where there is one) and wakes its sender; the sender, on every instance,
//! claims a due message of its channel (`store::outbox`), hands it to a
//! [`Courier`], deletes it when delivered, and tries again with growing
//! pauses when delivery fails, so that a crash or an unreachable server
//! loses nothing.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::sync::Notify;

use crate::{
    auth::sealing::Sealer,
    store::{
        Db, now_ms,
        outbox::{self, Channel, Queued},
    },
};

/// How long a sender may take to deliver a claimed message before another
/// may claim it again: well beyond the worst SMTP exchange (each of its
/// half-dozen commands may take the 30-second timeout) or HTTP call, so
/// that a slow delivery is not sent twice.
const LEASE: Duration = Duration::from_secs(600);
/// Attempts before a message is given up (the pauses between them add up to
/// about two and a half hours).
const MAX_ATTEMPTS: i32 = 12;
/// How often a sender looks for due messages when nobody wakes it.
const POLL: Duration = Duration::from_secs(1);

/// What delivers one channel's messages.
pub trait Courier: Send + Sync + 'static {
    /// Delivers the message `id` (opened) to `recipient`; on success, says
    /// where it went (for the log).
    fn deliver(
        &self,
        id: &str,
        recipient: &str,
        message: &[u8],
    ) -> impl Future<Output = Result<String, Undelivered>> + Send;
}

/// Why a delivery failed: for the log and the outbox, so never the message
/// nor a credential.
#[derive(Debug)]
pub struct Undelivered {
    pub why: String,
    /// Trying again would fail the same way (the recipient was refused).
    pub permanent: bool,
}

impl From<String> for Undelivered {
    /// A failure that may pass: the next attempt may succeed.
    fn from(why: String) -> Self {
        Self {
            why,
            permanent: false,
        }
    }
}

/// A message sealed, ready for the outbox.
#[derive(Debug)]
pub struct Prepared {
    channel: Channel,
    id: String,
    recipient: String,
    sealed: Vec<u8>,
    now: i64,
}

impl Prepared {
    /// The outbox row to insert.
    pub fn queued(&self) -> Queued<'_> {
        Queued {
            channel: self.channel,
            id: &self.id,
            recipient: &self.recipient,
            message: &self.sealed,
            now: self.now,
        }
    }
}

/// One channel of the outbox. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    db: Db,
    channel: Channel,
    sealer: Sealer,
    wake: Arc<Notify>,
    /// Messages older than this are dropped undelivered (a texted code
    /// that has expired is worth nothing, and each attempt may be paid).
    max_age: Option<Duration>,
}

impl Queue {
    /// Messages are sealed at rest with a key derived from `server_secret`
    /// (each bound to its id): they may hold a link or a code.
    pub fn new(db: Db, channel: Channel, server_secret: &[u8]) -> Self {
        Self {
            db,
            channel,
            sealer: Sealer::derive(server_secret, b"classboard outbox encryption key"),
            wake: Arc::new(Notify::new()),
            max_age: None,
        }
    }

    /// The same queue, dropping messages older than `max_age` undelivered.
    pub fn expiring_after(self, max_age: Duration) -> Self {
        Self {
            max_age: Some(max_age),
            ..self
        }
    }

    /// Seals `message` to `recipient`.
    pub fn prepare(&self, recipient: &str, message: &[u8]) -> Prepared {
        let id = uuid::Uuid::new_v4().to_string();
        let sealed = self.sealer.seal(id.as_bytes(), message);
        Prepared {
            channel: self.channel,
            id,
            recipient: recipient.to_owned(),
            sealed,
            now: now_ms(),
        }
    }

    /// Queues one prepared message on its own (not in a change's
    /// transaction) and wakes the sender.
    pub async fn send(&self, prepared: &Prepared) -> Result<(), sqlx::Error> {
        outbox::queue(&self.db, &prepared.queued()).await?;
        self.wake();
        Ok(())
    }

    /// Tells this instance's sender that a message is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts this instance's sender of the channel: it delivers due
    /// messages through `courier` until the process ends.
    pub fn spawn_sender(&self, courier: impl Courier) {
        let queue = self.clone();
        tokio::spawn(async move {
            loop {
                while queue.deliver_one(&courier).await {}
                tokio::select! {
                    () = queue.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        });
    }

    /// Claims and delivers the oldest due message; `false` when none was
    /// due (or the outbox cannot be read).
    async fn deliver_one(&self, courier: &impl Courier) -> bool {
        let channel = self.channel.as_str();
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        match outbox::any_due(&self.db, self.channel, now_ms()).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::error!(channel, error = %e, "cannot read the outbox");
                return false;
            }
        }
        let claimed = match outbox::claim(&self.db, self.channel, now_ms(), lease).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(channel, error = %e, "cannot read the outbox");
                return false;
            }
        };
        let id = &claimed.id;
        let too_old = self
            .max_age
            .is_some_and(|max| now_ms() - claimed.created_at > crate::store::ms(max));
        if too_old {
            tracing::warn!(channel, message = %id, attempts = claimed.attempts - 1,
                "message not delivered in time; dropped");
            if let Err(e) = outbox::delete(&self.db, id).await {
                tracing::error!(channel, message = %id, error = %e, "cannot update the outbox");
            }
            return true;
        }
        let outcome = match self.sealer.open(claimed.id.as_bytes(), &claimed.message) {
            None => Err(Undelivered::from(
                "the message cannot be opened (was the server secret changed?)".to_owned(),
            )),
            Some(message) => {
                courier
                    .deliver(&claimed.id, &claimed.recipient, &message)
                    .await
            }
        };
        let result = match outcome {
            Ok(whereto) => {
                tracing::info!(channel, message = %id, to = %whereto, "message delivered");
                outbox::delete(&self.db, id).await
            }
            Err(Undelivered {
                why: error,
                permanent,
            }) if permanent || claimed.attempts >= MAX_ATTEMPTS => {
                tracing::error!(channel, message = %id, attempts = claimed.attempts, %error,
                    "message not delivered; giving up");
                outbox::delete(&self.db, id).await
            }
            Err(Undelivered { why: error, .. }) => {
                let pause = crate::outbound::pause_after(claimed.attempts);
                tracing::warn!(channel, message = %id, attempts = claimed.attempts, %error,
                    retry_in_secs = pause.as_secs(), "message not delivered; will try again");
                let at = now_ms() + i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
                outbox::retry_at(&self.db, id, at, &error).await
            }
        };
        if let Err(e) = result {
            tracing::error!(channel, message = %id, error = %e, "cannot update the outbox");
        }
        true
    }
}

/// Writes `message` as a new file `name` in `folder`, readable by the
/// server's user only (it may hold a working link or code); a file already
/// there was written by an attempt that died before it could say so, and
/// counts as delivered. Says where it went.
pub async fn into_folder(
    folder: &std::path::Path,
    name: String,
    message: &[u8],
) -> Result<String, Undelivered> {
    let path = folder.join(name);
    let (file, message) = (path.clone(), message.to_vec());
    let written =
        tokio::task::spawn_blocking(
            move || match crate::files::create_private(&file, &message) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    written
        .map(|()| path.display().to_string())
        .map_err(|e| format!("{}: {e}", path.display()).into())
}
