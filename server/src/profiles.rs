//! What each process remembers about accounts.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use axum::body::Bytes;
use classboard::api::{Role, UserResponse};

use crate::store::{
    Db,
    users::{self, Profile},
};

/// Most profiles remembered by one process (about 150 bytes each).
const PROFILES_KEPT: usize = 10_000;
/// How long a remembered profile is used before it is read again: a change
/// made through another instance (a second factor turned on) shows within
/// this; one made through this instance shows at once.
pub const PROFILE_FRESH_FOR: Duration = Duration::from_secs(2);

/// Profiles by user id, remembered by this process for a moment, so that a
/// busy client's `GET /api/me` and refreshes need no read for them: a read
/// costs a round trip to a database thread, several times the rest of such a
/// request. Roles are not kept here: they come from the database (login,
/// refresh) or from the verified access token (`me`), whose session a role
/// change revokes.
#[derive(Clone, Default)]
pub struct Profiles {
    kept: Arc<RwLock<HashMap<String, Kept>>>,
}

struct Kept {
    profile: Profile,
    read_at: Instant,
    /// `GET /api/me`'s answer for this profile as last written, and for
    /// which role: a busy client asks again and again, and writing the
    /// answer out costs more than the rest of that request.
    shown: Option<(Role, Bytes)>,
}

impl Profiles {
    /// The profile of `id`, from memory if read recently, else from the
    /// database.
    pub async fn get(&self, db: &Db, id: &str) -> Result<Option<Profile>, sqlx::Error> {
        if let Some(kept) = self.fresh(id, |kept| kept.profile.clone()) {
            return Ok(Some(kept));
        }
        // Boxed: the read's future is large, and unboxed it would make the
        // future of every request that asks here as large, found or not.
        let profile = Box::pin(users::profile(db, id)).await?;
        if let Some(profile) = &profile {
            self.remember(id, profile.clone());
        }
        Ok(profile)
    }

    /// `GET /api/me`'s answer (a `UserResponse`, as JSON) for account `id`
    /// with `role`; `None` when the account is gone.
    pub async fn shown(&self, db: &Db, id: &str, role: Role) -> Result<Option<Bytes>, sqlx::Error> {
        let kept = self.fresh(id, |kept| {
            kept.shown
                .as_ref()
                .filter(|(shown_as, _)| *shown_as == role)
                .map(|(_, body)| body.clone())
        });
        if let Some(body) = kept.flatten() {
            return Ok(Some(body));
        }
        let Some(profile) = self.get(db, id).await? else {
            return Ok(None);
        };
        let answer = UserResponse {
            user: profile.to_api(id, role),
        };
        let body = Bytes::from(serde_json::to_vec(&answer).expect("a user serializes"));
        // Kept only with the very profile it was written from: another
        // request may have read a newer one meanwhile.
        if let Some(kept) = self
            .kept
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(id)
            && kept.profile == profile
        {
            kept.shown = Some((role, body.clone()));
        }
        Ok(Some(body))
    }

    /// `look` at `id`'s kept profile, if it was read recently.
    fn fresh<T>(&self, id: &str, look: impl FnOnce(&Kept) -> T) -> Option<T> {
        let kept = self.kept.read().unwrap_or_else(|e| e.into_inner());
        kept.get(id)
            .filter(|kept| kept.read_at.elapsed() < PROFILE_FRESH_FOR)
            .map(look)
    }

    /// Keeps `profile`; when full, one arbitrary profile makes room.
    pub fn remember(&self, id: &str, profile: Profile) {
        let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= PROFILES_KEPT && !kept.contains_key(id) {
            let evicted = kept.keys().next().cloned();
            if let Some(evicted) = evicted {
                kept.remove(&evicted);
            }
        }
        let kept_now = Kept {
            profile,
            read_at: Instant::now(),
            shown: None,
        };
        kept.insert(id.to_owned(), kept_now);
    }

    /// Forgets `id`'s profile: it changed.
    pub fn forget(&self, id: &str) {
        self.kept
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(n: usize) -> Profile {
        Profile {
            username: format!("user{n}"),
            email: format!("user{n}@example.com"),
            created_at: 0,
            mfa: false,
            email_verified: false,
        }
    }

    #[test]
    fn profiles_stay_within_their_bound_and_keep_the_newest() {
        let profiles = Profiles::default();
        for n in 0..PROFILES_KEPT + 50 {
            profiles.remember(&n.to_string(), profile(n));
        }
        let kept = profiles.kept.read().unwrap();
        assert_eq!(kept.len(), PROFILES_KEPT);
        let newest = (PROFILES_KEPT + 49).to_string();
        assert_eq!(kept[&newest].profile.username, format!("user{newest}"));
    }
}
