//! What each process remembers about accounts.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use crate::store::{
    Db,
    users::{self, Profile},
};

/// Most profiles remembered by one process (about 150 bytes each).
const PROFILES_KEPT: usize = 10_000;

/// Profiles by user id, remembered by this process so that `GET /api/me` and
/// a refresh need no read for them: a read costs a round trip to a database
/// thread, several times the rest of such a request. Roles are not kept here,
/// because a role changes: it comes from the database (login, refresh) or from
/// the verified access token (`me`), whose session a role change revokes.
#[derive(Clone, Default)]
pub struct Profiles {
    kept: Arc<RwLock<HashMap<String, Profile>>>,
}

impl Profiles {
    /// The profile of `id`, from memory or else from the database.
    pub async fn get(&self, db: &Db, id: &str) -> Result<Option<Profile>, sqlx::Error> {
        if let Some(profile) = self.kept.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(Some(profile.clone()));
        }
        let profile = users::profile(db, id).await?;
        if let Some(profile) = &profile {
            self.remember(id, profile.clone());
        }
        Ok(profile)
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
        kept.insert(id.to_owned(), profile);
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
        assert_eq!(kept[&newest].username, format!("user{newest}"));
    }
}
