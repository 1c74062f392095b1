//! Sessions (refresh-token families) and their refresh tokens: starting,
//! rotation with reuse detection and a grace window, revocation, listing.
//! The format of the tokens themselves is in [`super::refresh_token`].

use std::time::Duration;

use classboard::api::{EventKind, Role};

pub use crate::store::{
    rows::{FactorKind, Reason},
    sessions::{Admission, Factor, SessionRow, TokenState},
};
use crate::{
    auth::{
        dpop::Proven,
        limits::{self, Exceeded},
        refresh_token::{self, Presented, TokenKeys},
    },
    config::RateLimit,
    store::{
        Db, ms, now_ms,
        rotations::Rotation,
        rows::{Event, Origin, stored_role},
        sessions::{self as stored, Decided, FactorsNow, NewSession, Started},
        settings,
        tx::Filter,
    },
};

/// The absolute lifetime of a family, whatever its use.
pub const ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
/// Longest stored `User-Agent`.
const MAX_USER_AGENT: usize = 256;

/// Lifetimes that shape refresh behaviour.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub idle: Duration,
    pub absolute: Duration,
    pub grace: Duration,
    /// Whether a confirmed phone is a second factor (`SMS_SECOND_FACTOR`).
    pub sms: bool,
}

/// A refresh token handed to a client, with the session it belongs to.
#[derive(Debug)]
pub struct Issued {
    pub session_id: String,
    pub user_id: String,
    pub refresh_token: String,
    /// How the session signed in (RFC 8176 values); every access token of
    /// it says so.
    pub amr: Vec<String>,
    /// When it signed in (ms): the tokens' `auth_time`.
    pub auth_time: i64,
    /// The DPoP key (RFC 7638 thumbprint) the session is bound to: its
    /// access tokens carry it as `cnf.jkt`, and its refresh tokens work
    /// only with a proof of it.
    pub dpop_jkt: Option<String>,
}

/// How and when a session's holder signed in: the RFC 8176 `amr` values and
/// the `auth_time` its tokens carry (fixed at sign-in, kept by every
/// refresh), and the factor it used besides (or instead of) the password,
/// which the session records so that removing that factor ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub amr: Vec<String>,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub factor: Factor,
    /// The DPoP key the browser proved it holds when it signed in: the
    /// session is bound to it (see [`Issued::dpop_jkt`]).
    pub dpop_jkt: Option<String>,
}

/// What a login's first step checked: the password, or a code sent by mail
/// instead of it (a first factor too, never a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    Password,
    EmailCode,
}

impl First {
    /// Its RFC 8176 `amr` values: `pwd`, or `otp` and `email` (outside
    /// RFC 8176's registry, which allows it).
    fn amr(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::EmailCode => &["otp", "email"],
        }
    }

    /// As a challenge of the second step stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::EmailCode => "email",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "pwd" => Some(Self::Password),
            "email" => Some(Self::EmailCode),
            _ => None,
        }
    }
}

impl SignIn {
    /// A password alone, at `at`.
    pub fn password(at: i64) -> Self {
        Self::first_alone(First::Password, at)
    }

    /// A first factor alone, at `at`: admitted only while the account has
    /// no second factor.
    pub fn first_alone(first: First, at: i64) -> Self {
        Self::of(first.amr(), Factor::Password, at)
    }

    /// A first factor and a TOTP code.
    pub fn first_and_totp(first: First, at: i64) -> Self {
        Self::after(first, &["otp"], Factor::Totp, at)
    }

    /// A first factor and a code texted to the account's phone, the one
    /// confirmed at `since`: `sms` (RFC 8176), a one-time password.
    pub fn first_and_sms(first: First, since: i64, at: i64) -> Self {
        Self::after(first, &["sms"], Factor::Sms { since }, at)
    }

    /// A first factor and a recovery code of the set made at `set`: two
    /// factors, no one-time-password device (RFC 8176 has no value of its
    /// own for a recovery code).
    pub fn first_and_recovery_code(first: First, set: i64, at: i64) -> Self {
        Self::after(first, &[], Factor::RecoveryCode { set }, at)
    }

    /// `first`'s values, then `second`'s that it has not named, then `mfa`.
    fn after(first: First, second: &[&str], factor: Factor, at: i64) -> Self {
        let mut amr: Vec<&str> = first.amr().to_vec();
        amr.extend(second.iter().filter(|m| !first.amr().contains(m)));
        amr.push("mfa");
        Self::of(&amr, factor, at)
    }

    /// The passkey `id` alone: its key (`hwk` or `swk`), and the person's
    /// verification by the authenticator (`user`); two factors.
    pub fn passkey(key: &str, id: &str, at: i64) -> Self {
        let factor = Factor::Passkey { id: id.to_owned() };
        Self::of(&[key, "user", "mfa"], factor, at)
    }

    /// A first factor, then the passkey `id` as the second.
    pub fn first_and_passkey(first: First, key: &str, id: &str, at: i64) -> Self {
        let factor = Factor::Passkey { id: id.to_owned() };
        Self::after(first, &[key], factor, at)
    }

    fn of(amr: &[&str], factor: Factor, at: i64) -> Self {
        Self {
            amr: amr.iter().map(|&m| m.to_owned()).collect(),
            at,
            factor,
            dpop_jkt: None,
        }
    }

    /// The same sign-in, by a browser that proved it holds the DPoP key
    /// `proven` (when it sent a proof): its session is bound to that key.
    pub fn bound_to(self, proven: Option<Proven>) -> Self {
        Self {
            dpop_jkt: proven.map(|proven| proven.jkt),
            ..self
        }
    }

    /// As the sessions table stores it.
    fn stored(&self) -> String {
        self.amr.join(" ")
    }

    /// Whether this sign-in may start a session, given the account's second
    /// factors as they are when it starts: a password alone only while the
    /// account has none, another factor only while the account still has it.
    /// A phone counts only while SMS is a second factor (`sms`).
    fn admitted(&self, now: &FactorsNow, sms: bool) -> Admission {
        let phone = sms && now.phone;
        let holds = match self.factor {
            Factor::Password => {
                if now.totp || now.any_passkey || phone {
                    return Admission::SecondFactorNeeded;
                }
                true
            }
            Factor::Totp => now.totp,
            Factor::RecoveryCode { .. } => now.recovery_set,
            Factor::Passkey { .. } => now.passkey,
            // Only while no stronger factor makes texted codes void, and
            // the phone is still the one the code went to.
            Factor::Sms { .. } => sms && now.phone_of_sign_in && !now.totp && !now.any_passkey,
        };
        if holds {
            Admission::Admit
        } else {
            Admission::FactorGone
        }
    }
}

/// The `amr` values a session stores, as a list.
fn amr_of(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_owned).collect()
}

/// What starting a session led to.
#[derive(Debug)]
pub enum Start {
    /// Started: its first refresh token, and the user's role as stored now.
    Started(Issued, Role),
    /// The account no longer exists, is locked, or its credentials moved on
    /// from the version the sign-in checked.
    Refused,
    /// See [`Admission`]: a second factor is needed by now, or the one the
    /// sign-in used was removed meanwhile.
    Not(Admission),
}

impl Start {
    /// The session, when one started.
    pub fn started(self) -> Option<(Issued, Role)> {
        match self {
            Self::Started(issued, role) => Some((issued, role)),
            Self::Refused | Self::Not(_) => None,
        }
    }
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Refresh {
    /// The token was live and is now spent; here is its successor, and the
    /// user's role as stored now.
    Rotated(Issued, Role),
    /// The token was rotated moments ago (within the grace window) and its
    /// successor is still live: the same successor again.
    Replayed(Issued, Role),
    /// A spent token came back outside the grace window: the family is now
    /// revoked. Carries the revoked session's id and its user's.
    Reused { session_id: String, user_id: String },
    /// A token of a session that reuse detection ended earlier.
    EndedByReuse,
    /// Unknown, expired, or belonging to an ended session.
    Invalid,
    /// Over the per-IP limit: not looked at.
    Limited(Exceeded),
}

/// Where a page of sessions starts: after this session, in the list's order
/// (most recently used first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    pub last_used_at: i64,
    pub id: String,
}

impl SessionCursor {
    /// The cursor as clients see it (opaque to them).
    pub fn encode(&self) -> String {
        format!("{}.{}", self.last_used_at, self.id)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let (at, id) = raw.split_once('.')?;
        Some(Self {
            last_used_at: at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// What a presentation of a token that the fast path could not spend means.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Invalid,
    EndedByReuse,
    /// Live and unspent: the count in the rotation refused it.
    Limited,
    /// Rotated within the grace window, successor still live.
    Replay,
    /// Spent, and not a replay: theft.
    Reuse,
}

/// Decides what presenting a token in `state` at `now` means; pure, so that
/// every case is tested without a database.
fn classify(state: &TokenState, now: i64, grace: Duration, successor_hash: &[u8]) -> Verdict {
    if state.revoked_at.is_some() {
        return if state.revoked_reason.as_deref() == Some(Reason::Reuse.as_str()) {
            Verdict::EndedByReuse
        } else {
            Verdict::Invalid
        };
    }
    let Some(spent_at) = state.spent_at else {
        // Unspent: live means the count refused it; expired proves nothing.
        return if state.expires_at > now && state.session_end > now {
            Verdict::Limited
        } else {
            Verdict::Invalid
        };
    };
    if state.session_end <= now {
        return Verdict::Invalid;
    }
    if now - spent_at <= ms(grace)
        && state.successor_live == Some(true)
        && state.successor.as_deref() == Some(successor_hash)
    {
        return Verdict::Replay;
    }
    Verdict::Reuse
}

/// Starts, rotates, revokes and lists sessions.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    policy: Policy,
    tokens: TokenKeys,
    /// Until when (ms) untagged tokens of earlier versions are looked up;
    /// after it, every family they could belong to has ended.
    untagged_until: i64,
}

impl Sessions {
    pub fn new(db: Db, policy: Policy, secret: &[u8]) -> Self {
        Self {
            db,
            policy,
            tokens: TokenKeys::derive(secret),
            untagged_until: 0,
        }
    }

    /// The apps' grants (see `provider::tokens`): the same rotation, reuse
    /// detection and grace, under refresh-token keys of their own, and no
    /// untagged tokens (apps never had any).
    pub fn for_apps(db: Db, policy: Policy, secret: &[u8]) -> Self {
        Self {
            db,
            policy,
            tokens: TokenKeys::derive_for_apps(secret),
            untagged_until: 0,
        }
    }

    /// The state of `presented` if it is a live token of a live session
    /// (for introspection): unspent, unexpired, not revoked.
    pub async fn live_token(&self, presented: &str) -> Result<Option<TokenState>, sqlx::Error> {
        if !self.may_exist(presented) {
            return Ok(None);
        }
        let now = now_ms();
        Ok(
            stored::token_state(&self.db, &refresh_token::hash(presented), now)
                .await?
                .filter(|t| {
                    t.spent_at.is_none()
                        && t.revoked_at.is_none()
                        && t.expires_at > now
                        && t.session_end > now
                }),
        )
    }

    /// A new refresh token (for a grant that starts elsewhere).
    pub fn mint_token(&self) -> String {
        self.tokens.mint()
    }

    /// Accepts untagged tokens of earlier versions for as long as a family
    /// started before this database minted tagged ones can live (read from
    /// the database, where a migration recorded that moment).
    pub async fn accepting_untagged_tokens(mut self) -> Result<Self, sqlx::Error> {
        let since = settings::tagged_refresh_tokens_since(&self.db).await?;
        self.untagged_until = since.saturating_add(ms(self.policy.absolute));
        Ok(self)
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// What `presented` is, without any I/O.
    pub fn check(&self, presented: &str) -> Presented {
        self.tokens.check(presented)
    }

    /// Whether `presented` may be looked up at all: minted by this server,
    /// or an untagged token of an earlier version while those may live.
    fn may_exist(&self, presented: &str) -> bool {
        match self.tokens.check(presented) {
            Presented::Minted => true,
            Presented::Legacy => now_ms() < self.untagged_until,
            Presented::Junk => false,
        }
    }

    /// Starts a new family for `user_id` (a login or a signup), and reads the
    /// user's role in the same transaction (see `store::sessions::start`),
    /// if the account's credentials are still at `version` (the one the
    /// sign-in checked, when given) and the account's second factors still
    /// admit `sign_in` ([`SignIn::admitted`]).
    ///
    /// `events` are recorded in the same transaction, as of the new session,
    /// each with its detail.
    pub async fn start(
        &self,
        user_id: &str,
        version: Option<i64>,
        origin: &Origin,
        sign_in: SignIn,
        events: &[(EventKind, Option<&str>)],
    ) -> Result<Start, sqlx::Error> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let token = self.tokens.mint();
        let user_agent = origin
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());
        let now = now_ms();
        let events: Vec<Event> = events
            .iter()
            .map(|&(kind, detail)| Event {
                at: now,
                detail,
                ..Event::new(kind, user_id, origin).session(&session_id)
            })
            .collect();
        let ends_at = now + ms(self.policy.absolute);
        let started = stored::start(
            &self.db,
            &NewSession {
                id: &session_id,
                user_id,
                user_agent: user_agent.as_deref(),
                ip: origin.ip.as_deref(),
                events: &events,
                token_hash: &refresh_token::hash(&token),
                now,
                ends_at,
                token_expires_at: (now + ms(self.policy.idle)).min(ends_at),
                amr: &sign_in.stored(),
                auth_time: sign_in.at,
                credentials_version: version,
                factor: &sign_in.factor,
                dpop_jkt: sign_in.dpop_jkt.as_deref(),
            },
            |factors| sign_in.admitted(factors, self.policy.sms),
        )
        .await?;
        Ok(match started {
            Started::Yes(role) => Start::Started(
                Issued {
                    session_id,
                    user_id: user_id.to_owned(),
                    refresh_token: token,
                    amr: sign_in.amr,
                    auth_time: sign_in.at,
                    dpop_jkt: sign_in.dpop_jkt,
                },
                stored_role(&role),
            ),
            Started::Refused => Start::Refused,
            Started::Not(admission) => Start::Not(admission),
        })
    }

    /// Counts the attempt under the counter named `counter` (see
    /// `Limiter::stored`) against `limit` and, unless that goes over it,
    /// rotates `presented`. Spending a live token is one conditional step,
    /// so of many concurrent presentations exactly one rotates; the others
    /// find it spent within the grace window and get the same successor. A
    /// token this server cannot have minted is refused before any query, and
    /// counts nothing.
    pub async fn refresh(
        &self,
        presented: &str,
        counter: &str,
        limit: RateLimit,
    ) -> Result<Refresh, sqlx::Error> {
        let presented_hash = refresh_token::hash(presented);
        if !self.may_exist(presented) {
            return Ok(Refresh::Invalid);
        }
        if self.tokens.check(presented) == Presented::Legacy
            && !stored::exists(&self.db, &presented_hash).await?
        {
            return Ok(Refresh::Invalid);
        }
        let now = now_ms();
        let (window_start, retry_after_secs) = limits::window(limit.window);
        let successor = self.tokens.successor(presented);
        let successor_hash = refresh_token::hash(&successor);

        // Counted and, unless that goes over the limit, spent, in one trip.
        let spent = stored::rotate(
            &self.db,
            Rotation {
                key: counter.to_owned(),
                window_start,
                max: i64::from(limit.max),
                now,
                presented_hash: presented_hash.clone(),
                successor_hash: successor_hash.clone(),
                idle_ms: ms(self.policy.idle),
            },
        )
        .await?;
        if let Err(exceeded) = limits::verdict(spent.count, limit.max, retry_after_secs) {
            return Ok(Refresh::Limited(exceeded));
        }
        if let Some(rotated) = spent.rotated {
            return Ok(Refresh::Rotated(
                Issued {
                    amr: amr_of(&rotated.amr),
                    auth_time: rotated.auth_time,
                    dpop_jkt: rotated.dpop_jkt,
                    session_id: rotated.session_id,
                    user_id: rotated.user_id,
                    refresh_token: successor,
                },
                stored_role(&rotated.role),
            ));
        }

        // Not live: find out why, first without any lock. Only a reuse
        // writes (it revokes the family), and it decides again under a
        // lock, on the state as it is then.
        let Some(state) = stored::token_state(&self.db, &presented_hash, now).await? else {
            return Ok(Refresh::Invalid);
        };
        let grace = self.policy.grace;
        let verdict = match classify(&state, now, grace, &successor_hash) {
            Verdict::Reuse => {
                let decided =
                    stored::revoke_if(&self.db, &presented_hash, now, Reason::Reuse, |state| {
                        classify(state, now, grace, &successor_hash) == Verdict::Reuse
                    })
                    .await?;
                match decided {
                    Decided::Gone => return Ok(Refresh::Invalid),
                    Decided::Revoked(state) => {
                        tracing::warn!(session = %state.session_id, "refresh token reuse detected; session revoked");
                        return Ok(Refresh::Reused {
                            session_id: state.session_id,
                            user_id: state.user_id,
                        });
                    }
                    Decided::Kept(state) => classify(&state, now, grace, &successor_hash),
                }
            }
            verdict => verdict,
        };
        Ok(match verdict {
            Verdict::Invalid | Verdict::Reuse => Refresh::Invalid,
            Verdict::EndedByReuse => Refresh::EndedByReuse,
            Verdict::Limited => Refresh::Limited(Exceeded { retry_after_secs }),
            Verdict::Replay => Refresh::Replayed(
                Issued {
                    amr: amr_of(&state.amr),
                    auth_time: state.auth_time,
                    dpop_jkt: state.dpop_jkt,
                    session_id: state.session_id,
                    user_id: state.user_id,
                    refresh_token: successor,
                },
                stored_role(&state.role),
            ),
        })
    }

    /// The session a (live or spent) refresh token belongs to, and its
    /// user, if that
    /// session has not ended yet; found by a read, without any lock. A token
    /// this server cannot have minted belongs to none.
    pub async fn unrevoked_session_of(
        &self,
        presented: &str,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        if !self.may_exist(presented) {
            return Ok(None);
        }
        stored::unrevoked_session_of(&self.db, &refresh_token::hash(presented)).await
    }

    /// Whether `presented` is a live refresh token of a session bound to a
    /// DPoP key, found by a read: a refresh without a proof is refused by it
    /// before the token is spent. (A spent one goes on to the rotation, which
    /// finds the reuse it is.)
    pub async fn needs_proof(&self, presented: &str) -> Result<bool, sqlx::Error> {
        if !self.may_exist(presented) {
            return Ok(false);
        }
        let now = now_ms();
        let state = stored::token_state(&self.db, &refresh_token::hash(presented), now).await?;
        Ok(state.is_some_and(|state| {
            state.dpop_jkt.is_some() && state.spent_at.is_none() && state.expires_at > now
        }))
    }

    /// Whether the client that just refreshed `issued`'s session holds the
    /// session's DPoP key. A bound session needs a proof of its key; an
    /// unbound one is bound by its first refresh with a proof (it started
    /// before the browser had a key), and `issued` then carries the key. A
    /// `false` means the refresh token left the browser it was issued to:
    /// the caller ends the session.
    pub async fn holds_key(
        &self,
        issued: &mut Issued,
        proven: Option<&Proven>,
    ) -> Result<bool, sqlx::Error> {
        match (&issued.dpop_jkt, proven) {
            (Some(bound), proven) => Ok(proven.is_some_and(|proven| proven.jkt == *bound)),
            (None, Some(proven)) => {
                let bound = stored::bind_key(&self.db, &issued.session_id, &proven.jkt).await?;
                if bound {
                    issued.dpop_jkt = Some(proven.jkt.clone());
                }
                Ok(bound)
            }
            (None, None) => Ok(true),
        }
    }

    /// Ends one session, recording `event` if it was live. Returns the
    /// sessions ended: it and the apps' grants it signed in (none when it
    /// had ended already).
    pub async fn revoke(
        &self,
        session_id: &str,
        reason: Reason,
        event: &Event<'_>,
    ) -> Result<Vec<String>, sqlx::Error> {
        stored::revoke(&self.db, Filter::One(session_id), reason, Some(event)).await
    }

    /// Ends one of `user_id`'s sessions, recording `event`; returns the
    /// sessions ended as [`Self::revoke`] does, none if no such live
    /// session is theirs. An id that names none is answered by a
    /// read, without a lock.
    pub async fn revoke_own(
        &self,
        user_id: &str,
        session_id: &str,
        event: &Event<'_>,
    ) -> Result<Vec<String>, sqlx::Error> {
        if !stored::is_live_and_owned(&self.db, user_id, session_id, now_ms()).await? {
            return Ok(Vec::new());
        }
        stored::revoke(
            &self.db,
            Filter::Owned {
                user_id,
                session_id,
            },
            Reason::Revoked,
            Some(event),
        )
        .await
    }

    /// Ends every live session of `user_id`, recording `event` if any
    /// ended; returns their ids.
    pub async fn revoke_all(
        &self,
        user_id: &str,
        reason: Reason,
        event: &Event<'_>,
    ) -> Result<Vec<String>, sqlx::Error> {
        stored::revoke(&self.db, Filter::User(user_id), reason, Some(event)).await
    }

    /// A page of `user_id`'s live sessions, most recently used first, and
    /// where the next page starts if there is one.
    pub async fn list(
        &self,
        user_id: &str,
        limit: i64,
        after: Option<&SessionCursor>,
    ) -> Result<(Vec<SessionRow>, Option<SessionCursor>), sqlx::Error> {
        let rows = stored::list(
            &self.db,
            user_id,
            now_ms(),
            limit + 1,
            after.map(|c| (c.last_used_at, c.id.as_str())),
        )
        .await?;
        let (rows, more) = crate::store::one_page(rows, limit);
        let next = more
            .then(|| rows.last())
            .flatten()
            .map(|last| SessionCursor {
                last_used_at: last.last_used_at,
                id: last.id.clone(),
            });
        Ok((rows, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(10);
    const NOW: i64 = 1_000_000_000;

    fn live() -> TokenState {
        TokenState {
            session_id: "s".into(),
            user_id: "u".into(),
            role: "student".into(),
            amr: "pwd".into(),
            auth_time: NOW,
            dpop_jkt: None,
            spent_at: None,
            expires_at: NOW + 1000,
            successor: None,
            successor_live: None,
            session_end: NOW + 10_000,
            revoked_at: None,
            revoked_reason: None,
        }
    }

    fn rotated(ago: i64, successor_live: bool) -> TokenState {
        TokenState {
            spent_at: Some(NOW - ago),
            successor: Some(b"next".to_vec()),
            successor_live: Some(successor_live),
            ..live()
        }
    }

    #[test]
    fn a_live_token_the_fast_path_did_not_spend_was_refused_by_its_count() {
        assert_eq!(classify(&live(), NOW, GRACE, b"next"), Verdict::Limited);
        let expired = TokenState {
            expires_at: NOW - 1,
            ..live()
        };
        assert_eq!(classify(&expired, NOW, GRACE, b"next"), Verdict::Invalid);
    }

    #[test]
    fn the_last_rotated_token_within_grace_is_a_replay_and_otherwise_reuse() {
        assert_eq!(
            classify(&rotated(1_000, true), NOW, GRACE, b"next"),
            Verdict::Replay
        );
        assert_eq!(
            classify(&rotated(10_001, true), NOW, GRACE, b"next"),
            Verdict::Reuse
        );
        // Its successor was rotated too: this token is no longer the last.
        assert_eq!(
            classify(&rotated(1_000, false), NOW, GRACE, b"next"),
            Verdict::Reuse
        );
        // Recorded with another successor (another secret): not a replay.
        assert_eq!(
            classify(&rotated(1_000, true), NOW, GRACE, b"other"),
            Verdict::Reuse
        );
    }

    #[test]
    fn ended_sessions_explain_themselves_and_punish_nothing_more() {
        let reused = TokenState {
            revoked_at: Some(NOW - 5),
            revoked_reason: Some("reuse".into()),
            ..rotated(60_000, false)
        };
        assert_eq!(
            classify(&reused, NOW, GRACE, b"next"),
            Verdict::EndedByReuse
        );
        let logged_out = TokenState {
            revoked_reason: Some("logout".into()),
            ..reused
        };
        assert_eq!(classify(&logged_out, NOW, GRACE, b"next"), Verdict::Invalid);
        let past_end = TokenState {
            session_end: NOW,
            ..rotated(60_000, false)
        };
        assert_eq!(classify(&past_end, NOW, GRACE, b"next"), Verdict::Invalid);
    }

    #[test]
    fn a_sign_in_holds_only_while_the_account_still_has_what_it_used() {
        let none = FactorsNow::default();
        let with_totp = FactorsNow { totp: true, ..none };
        let with_passkey = FactorsNow {
            any_passkey: true,
            ..none
        };
        // A password alone, once the account has any second factor, is a
        // second step to come, not a session.
        let password = SignIn::password(NOW);
        assert_eq!(password.admitted(&none, true), Admission::Admit);
        assert_eq!(
            password.admitted(&with_totp, true),
            Admission::SecondFactorNeeded
        );
        assert_eq!(
            password.admitted(&with_passkey, true),
            Admission::SecondFactorNeeded
        );
        // A second factor removed while the second step ran leaves nothing.
        let totp = SignIn::first_and_totp(First::Password, NOW);
        assert_eq!(totp.admitted(&with_totp, true), Admission::Admit);
        assert_eq!(totp.admitted(&with_passkey, true), Admission::FactorGone);
        let passkey = SignIn::passkey("swk", "p1", NOW);
        assert_eq!(passkey.admitted(&with_passkey, true), Admission::FactorGone);
        let own_passkey = FactorsNow {
            passkey: true,
            ..with_passkey
        };
        assert_eq!(passkey.admitted(&own_passkey, true), Admission::Admit);
        let recovery = SignIn::first_and_recovery_code(First::Password, 7, NOW);
        assert_eq!(recovery.admitted(&with_totp, true), Admission::FactorGone);
        let same_set = FactorsNow {
            recovery_set: true,
            ..with_totp
        };
        assert_eq!(recovery.admitted(&same_set, true), Admission::Admit);
    }

    #[test]
    fn a_phone_is_a_second_factor_only_while_sms_is_on() {
        let none = FactorsNow::default();
        let with_phone = FactorsNow {
            phone: true,
            phone_of_sign_in: true,
            ..none
        };
        let password = SignIn::password(NOW);
        assert_eq!(
            password.admitted(&with_phone, true),
            Admission::SecondFactorNeeded
        );
        assert_eq!(password.admitted(&with_phone, false), Admission::Admit);
        let sms = SignIn::first_and_sms(First::Password, 7, NOW);
        assert_eq!(sms.amr.join(" "), "pwd sms mfa");
        assert_eq!(sms.admitted(&with_phone, true), Admission::Admit);
        assert_eq!(sms.admitted(&with_phone, false), Admission::FactorGone);
        assert_eq!(sms.admitted(&none, true), Admission::FactorGone);
        let phone_and_totp = FactorsNow {
            totp: true,
            ..with_phone
        };
        assert_eq!(sms.admitted(&phone_and_totp, true), Admission::FactorGone);
        let another_phone = FactorsNow {
            phone_of_sign_in: false,
            ..with_phone
        };
        assert_eq!(sms.admitted(&another_phone, true), Admission::FactorGone);
    }

    #[test]
    fn a_code_by_mail_is_a_first_factor_and_the_amr_names_each_factor_once() {
        let amr = |sign_in: SignIn| sign_in.amr.join(" ");
        assert_eq!(amr(SignIn::password(NOW)), "pwd");
        assert_eq!(amr(SignIn::first_alone(First::EmailCode, NOW)), "otp email");
        assert_eq!(
            amr(SignIn::first_and_totp(First::Password, NOW)),
            "pwd otp mfa"
        );
        assert_eq!(
            amr(SignIn::first_and_totp(First::EmailCode, NOW)),
            "otp email mfa"
        );
        assert_eq!(
            amr(SignIn::first_and_recovery_code(First::EmailCode, 7, NOW)),
            "otp email mfa"
        );
        assert_eq!(
            amr(SignIn::first_and_passkey(First::Password, "swk", "p1", NOW)),
            "pwd swk mfa"
        );
        // A code alone never stands in for the second factor.
        let with_totp = FactorsNow {
            totp: true,
            ..FactorsNow::default()
        };
        assert_eq!(
            SignIn::first_alone(First::EmailCode, NOW).admitted(&with_totp, true),
            Admission::SecondFactorNeeded
        );
        for first in [First::Password, First::EmailCode] {
            assert_eq!(First::parse(first.as_str()), Some(first));
        }
    }

    #[test]
    fn session_cursors_round_trip_and_refuse_garbage() {
        let cursor = SessionCursor {
            last_used_at: 1_700_000_000_123,
            id: "2b1c0f4e-9a6c-4a8e-9d3f-0c8b7a6e5d4c".into(),
        };
        assert_eq!(SessionCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "abc", "12", ".id", "x.id"] {
            assert_eq!(SessionCursor::decode(bad), None, "{bad:?}");
        }
    }
}
