//! Abuse limits, counted in the database so that all instances share them.
//! Counting uses fixed windows: one row per key and window.
//!
//! Two ways to count. [`Limiter::hit`] counts every event and refuses the
//! ones past the limit (requests per IP). [`Limiter::take`] is for attempts
//! that cost a password hash: it counts an attempt *before* the hash, only if
//! every budget it draws on has room, all or nothing in one transaction, so
//! two hundred guesses fired at once get exactly as many hashes as the limit
//! allows. A successful login then gives the budget back ([`Limiter::clear`]).

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

use crate::{
    config::RateLimit,
    store::{
        Db,
        counters::{self, Budget},
        now_ms,
    },
};

/// The attempt must not be processed; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub retry_after_secs: u64,
}

/// The network a requester is counted as: an IPv4 address, or the /64 an IPv6
/// address belongs to (one subscriber commonly holds a whole /64, so counting
/// single IPv6 addresses would hand out a fresh budget per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequesterNet(IpAddr);

impl RequesterNet {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self(ip),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                if let Some(v4) = v6.to_ipv4_mapped() {
                    Self(IpAddr::V4(v4))
                } else if bits >> 32 == NAT64_PREFIX >> 32 {
                    // Every client behind a NAT64 gateway shares its /64:
                    // the IPv4 address inside tells them apart.
                    Self(IpAddr::V4(Ipv4Addr::from(bits as u32)))
                } else {
                    Self(IpAddr::V6(Ipv6Addr::from(bits & !((1u128 << 64) - 1))))
                }
            }
        }
    }
}

impl fmt::Display for RequesterNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The well-known NAT64 prefix, `64:ff9b::/96` (RFC 6052).
const NAT64_PREFIX: u128 = 0x0064_ff9b_0000_0000_0000_0000_0000_0000;

/// Whose failed logins a failure counts against: the account when the name
/// given belongs to one (however it was spelled), else the name itself.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Account(&'a str),
    /// The login name as compared (normalised), matching no account.
    Name(&'a str),
}

/// A counter's identity: its kind and a digest of its parts, each hashed
/// with its length, so no typed text can collide with another key or make a
/// key long. What the database stores is an HMAC of it ([`Limiter::stored`]),
/// so that a copy of the database does not let anyone test guesses of the
/// addresses and names behind the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    kind: &'static str,
    digest: [u8; 32],
}

impl Key {
    fn new(kind: &'static str, parts: &[&str]) -> Self {
        let mut digest = Sha256::new();
        for part in parts {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        Self {
            kind,
            digest: digest.finalize().into(),
        }
    }

    /// Login and refresh requests from one network.
    pub fn auth_requests(net: RequesterNet) -> Self {
        Self::new("auth", &[&net.to_string()])
    }

    /// Signups from one network.
    pub fn signups(net: RequesterNet) -> Self {
        Self::new("signup", &[&net.to_string()])
    }

    /// Failed logins of one account (or name) from anywhere.
    pub fn login_failures(subject: Subject<'_>) -> Self {
        match subject {
            Subject::Account(id) => Self::new("fail", &["account", id]),
            Subject::Name(name) => Self::new("fail", &["name", name]),
        }
    }

    /// Failed logins of one account (or name) from one network.
    pub fn login_failures_from(subject: Subject<'_>, net: RequesterNet) -> Self {
        let net = net.to_string();
        match subject {
            Subject::Account(id) => Self::new("fail_ip", &["account", id, &net]),
            Subject::Name(name) => Self::new("fail_ip", &["name", name, &net]),
        }
    }

    /// Wrong second-factor codes of one account, from anywhere.
    pub fn code_failures(subject: Subject<'_>) -> Self {
        match subject {
            Subject::Account(id) => Self::new("fail_code", &["account", id]),
            Subject::Name(name) => Self::new("fail_code", &["name", name]),
        }
    }

    /// Failed authentications of one app (by the `client_id` given) from
    /// one network, at the provider's endpoints.
    pub fn client_failures_from(client_id: &str, net: RequesterNet) -> Self {
        Self::new("fail_client", &[client_id, &net.to_string()])
    }

    /// Failed app authentications from one network, whichever app.
    pub fn client_failures(net: RequesterNet) -> Self {
        Self::new("fail_client_ip", &[&net.to_string()])
    }

    /// User codes of the device grant one person typed that named nothing
    /// waiting.
    pub fn user_code_failures(user_id: &str) -> Self {
        Self::new("user_code_fail", &[user_id])
    }

    /// User codes typed from one network that named nothing waiting.
    pub fn user_code_failures_from(net: RequesterNet) -> Self {
        Self::new("user_code_fail_ip", &[&net.to_string()])
    }

    /// DPoP proofs a public app's requests carried to the token endpoint
    /// from one network (anyone can name a public app).
    pub fn public_app_proofs(client_id: &str, net: RequesterNet) -> Self {
        Self::new("app_proof", &[client_id, &net.to_string()])
    }

    /// One app's refreshes from one network.
    pub fn app_refreshes(client_id: &str, net: RequesterNet) -> Self {
        Self::new("app_refresh", &[client_id, &net.to_string()])
    }

    /// Codes one app presented from one network that were not codes (or
    /// no longer): each cost a write transaction.
    pub fn app_code_failures(client_id: &str, net: RequesterNet) -> Self {
        Self::new("app_code_fail", &[client_id, &net.to_string()])
    }

    /// Password-reset requests for one address (lower-cased).
    pub fn password_resets(email: &str) -> Self {
        Self::new("reset", &[email])
    }

    /// Password-reset requests from one network.
    pub fn password_resets_from(net: RequesterNet) -> Self {
        Self::new("reset_ip", &[&net.to_string()])
    }

    /// Sign-in codes asked for one address (whether it has an account or
    /// not).
    pub fn email_codes(email: &str) -> Self {
        Self::new("email_code", &[email])
    }

    /// Texts sent to one number (E.164): its owner's codes (`None`), or
    /// the codes one account asked for to confirm it as theirs, which
    /// another account cannot spend its owner's budget with.
    pub fn texts_to(number: &str, confirming_for: Option<&str>) -> Self {
        match confirming_for {
            None => Self::new("sms_number", &[number]),
            Some(account) => Self::new("sms_number", &[number, account]),
        }
    }

    /// Texts sent to one number within the last burst window (30 s), as
    /// [`Key::texts_to`] counts them.
    pub fn text_bursts(number: &str, confirming_for: Option<&str>) -> Self {
        match confirming_for {
            None => Self::new("sms_burst", &[number]),
            Some(account) => Self::new("sms_burst", &[number, account]),
        }
    }

    /// Texts one account asked for.
    pub fn texts_of(user_id: &str) -> Self {
        Self::new("sms_account", &[user_id])
    }

    /// Texts asked for from one network.
    pub fn texts_from(net: RequesterNet) -> Self {
        Self::new("sms_ip", &[&net.to_string()])
    }

    /// Verification mails one account asked for.
    pub fn verification_mails(user_id: &str) -> Self {
        Self::new("verify_mail", &[user_id])
    }

    /// Posts published by one user.
    pub fn posts(user_id: &str) -> Self {
        Self::new("posts", &[user_id])
    }

    /// Passkey registrations one user started (each needs a proof).
    pub fn factor_changes(user_id: &str) -> Self {
        Self::new("factor_changes", &["user", user_id])
    }

    /// TOTP enrolments and re-authentication ceremonies one session started
    /// (each needs only its access token: counted per session, a stolen
    /// token spends its own budget, never its owner's).
    pub fn factor_changes_of_session(session_id: &str) -> Self {
        Self::new("factor_changes", &["session", session_id])
    }
}

/// The two failure budgets of sign-in attempts (`LOGIN_FAILURES_PER_ACCOUNT_IP`,
/// `LOGIN_FAILURES_PER_ACCOUNT`).
#[derive(Debug, Clone, Copy)]
pub struct FailureLimits {
    pub per_account_ip: RateLimit,
    pub per_account: RateLimit,
    /// Second-factor codes only (`SECOND_FACTOR_FAILURES_PER_ACCOUNT`).
    pub codes_per_account: RateLimit,
}

impl FailureLimits {
    /// The budgets every sign-in attempt counts against, as configured.
    pub fn of(limits: &crate::config::Limits) -> Self {
        Self {
            per_account_ip: limits.login_failures_per_account_ip,
            per_account: limits.login_failures_per_account,
            codes_per_account: limits.second_factor_failures_per_account,
        }
    }
}

/// A sign-in attempt counted by [`Limiter::attempt`]: a failure unless
/// [`Limiter::succeeded`] says otherwise.
#[derive(Debug)]
pub struct Attempt {
    keys: Vec<Key>,
    taken: Taken,
}

/// Budgets counted by [`Limiter::take`]: their stored keys and the windows
/// they were counted in, so that [`Limiter::give_back`] returns the attempt
/// to the same windows.
#[derive(Debug)]
pub struct Taken(Vec<Budget>);

/// Most refusals remembered by one process.
const REFUSALS_KEPT: usize = 100_000;

#[derive(Clone)]
pub struct Limiter {
    db: Db,
    /// Key of the HMAC that names counters in the database.
    key: Arc<[u8; 32]>,
    /// Counters known to be over their limit, by stored key, with the window
    /// (start, end; ms) they are full in. A count only grows within its
    /// window, so until that window ends the answer is known without asking
    /// the database: a client that keeps going over a limit costs no write.
    /// (Not for failure budgets, which a successful login empties.)
    refused: Arc<Mutex<HashMap<String, (i64, i64)>>>,
}

impl Limiter {
    /// `secret` is the server's secret material; counters' names are keyed by it.
    pub fn new(db: Db, secret: &[u8]) -> Self {
        Self {
            db,
            key: Arc::new(counter_key(secret)),
            refused: Arc::default(),
        }
    }

    /// The name under which the database counts `key`.
    pub fn stored(&self, key: &Key) -> String {
        stored_name(&*self.key, key)
    }

    /// Whether `stored` is known to be over `limit` in the current window.
    pub fn known_refused(&self, stored: &str, limit: RateLimit) -> Option<Exceeded> {
        let (start, retry_after_secs) = window(limit.window);
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        (refused.get(stored).map(|(at, _)| *at) == Some(start))
            .then_some(Exceeded { retry_after_secs })
    }

    /// Remembers that `stored` is over `limit` until its window ends.
    pub fn remember_refused(&self, stored: &str, limit: RateLimit) {
        let (start, _) = window(limit.window);
        let end = start + i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX);
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if refused.len() >= REFUSALS_KEPT {
            let now = now_ms();
            refused.retain(|_, (_, until)| *until > now);
            if refused.len() >= REFUSALS_KEPT {
                // Still full of current refusals: forget them all rather
                // than grow; the database still has every count.
                refused.clear();
            }
        }
        refused.insert(stored.to_owned(), (start, end));
    }

    /// Counts one event under `key` and refuses it if that exceeds `limit`.
    pub async fn hit(
        &self,
        key: &Key,
        limit: RateLimit,
    ) -> Result<Result<(), Exceeded>, sqlx::Error> {
        let stored = self.stored(key);
        if let Some(exceeded) = self.known_refused(&stored, limit) {
            return Ok(Err(exceeded));
        }
        let (start, retry) = window(limit.window);
        let count = counters::count(&self.db, &stored, start).await?;
        let verdict = verdict(count, limit.max, retry);
        if verdict.is_err() {
            self.remember_refused(&stored, limit);
        }
        Ok(verdict)
    }

    /// Counts one attempt against every budget in `budgets`, if every one
    /// of them has room; otherwise counts nothing and refuses. All or
    /// nothing, in one transaction, so concurrent attempts can never take
    /// more than a budget holds. A budget already full is seen by a read
    /// first, which takes no lock.
    pub async fn take(
        &self,
        budgets: &[(&Key, RateLimit)],
    ) -> Result<Result<Taken, Exceeded>, sqlx::Error> {
        let mut counted = Vec::with_capacity(budgets.len());
        let mut retries = Vec::with_capacity(budgets.len());
        for (key, limit) in budgets {
            let (window_start, retry_after_secs) = window(limit.window);
            counted.push(Budget {
                key: self.stored(key),
                window_start,
                max: i64::from(limit.max),
            });
            retries.push(retry_after_secs);
        }
        for (budget, retry_after_secs) in counted.iter().zip(&retries) {
            if counters::current(&self.db, &budget.key, budget.window_start).await? >= budget.max {
                return Ok(Err(Exceeded {
                    retry_after_secs: *retry_after_secs,
                }));
            }
        }
        Ok(match counters::take(&self.db, &counted).await? {
            Ok(()) => Ok(Taken(counted)),
            Err(full) => Err(Exceeded {
                retry_after_secs: retries[full],
            }),
        })
    }

    /// Returns an attempt counted by [`Limiter::take`] to its budgets, in
    /// the windows it was counted in.
    pub async fn give_back(&self, taken: &Taken) -> Result<(), sqlx::Error> {
        counters::give_back(&self.db, &taken.0).await
    }

    /// Forgets every count under the given keys (a successful login gives its
    /// account's failure budgets back).
    pub async fn clear(&self, keys: &[&Key]) -> Result<(), sqlx::Error> {
        let stored: Vec<String> = keys.iter().map(|key| self.stored(key)).collect();
        counters::clear(&self.db, &stored).await
    }

    /// Counts a sign-in attempt (a password, a re-authentication) against
    /// `subject`'s two failure budgets before it is checked; refused when
    /// either is full.
    pub async fn attempt(
        &self,
        subject: Subject<'_>,
        net: RequesterNet,
        limits: FailureLimits,
    ) -> Result<Result<Attempt, Exceeded>, sqlx::Error> {
        self.attempt_with(subject, net, limits, false).await
    }

    /// [`Self::attempt`] for an attempt that presents a second-factor code:
    /// it also counts against the account's smaller budget of code
    /// failures, which only a right code gives back. Someone who knows the
    /// password can thus guess codes no faster than that budget, from
    /// however many networks.
    pub async fn attempt_code(
        &self,
        user_id: &str,
        net: RequesterNet,
        limits: FailureLimits,
    ) -> Result<Result<Attempt, Exceeded>, sqlx::Error> {
        self.attempt_with(Subject::Account(user_id), net, limits, true)
            .await
    }

    async fn attempt_with(
        &self,
        subject: Subject<'_>,
        net: RequesterNet,
        limits: FailureLimits,
        code: bool,
    ) -> Result<Result<Attempt, Exceeded>, sqlx::Error> {
        let mut budgets = vec![
            (
                Key::login_failures_from(subject, net),
                limits.per_account_ip,
            ),
            (Key::login_failures(subject), limits.per_account),
        ];
        if code {
            budgets.push((Key::code_failures(subject), limits.codes_per_account));
        }
        let refs: Vec<(&Key, RateLimit)> = budgets.iter().map(|(k, l)| (k, *l)).collect();
        let taken = self.take(&refs).await?;
        Ok(taken.map(|taken| Attempt {
            keys: budgets.into_iter().map(|(key, _)| key).collect(),
            taken,
        }))
    }

    /// The attempt proved who it claimed: its budgets are given back whole.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), sqlx::Error> {
        let keys: Vec<&Key> = attempt.keys.iter().collect();
        self.clear(&keys).await
    }

    /// The attempt was never checked (load): it stops counting.
    pub async fn abandoned(&self, attempt: Attempt) -> Result<(), sqlx::Error> {
        self.give_back(&attempt.taken).await
    }

    /// Deletes counters of windows that have ended (run periodically).
    pub async fn prune(&self, longest_window: Duration) -> Result<u64, sqlx::Error> {
        counters::prune(&self.db, longest_window).await
    }
}

/// The key of the HMAC that names counters, derived from `secret`.
fn counter_key(secret: &[u8]) -> [u8; 32] {
    super::derive_key(secret, b"classboard rate-counter key")
}

/// `key`'s name in the database: its kind, then an HMAC of its digest.
fn stored_name(counter_key: &[u8; 32], key: &Key) -> String {
    let mut mac = HmacSha256::new_from_slice(counter_key).expect("HMAC takes any key length");
    mac.update(&key.digest);
    format!(
        "{}:{}",
        key.kind,
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18])
    )
}

/// Whether the event that made `count` stays within `max`.
pub(crate) fn verdict(count: i64, max: u32, retry_after_secs: u64) -> Result<(), Exceeded> {
    if count > i64::from(max) {
        Err(Exceeded { retry_after_secs })
    } else {
        Ok(())
    }
}

/// The current window's start (ms) and the seconds until it ends (≥ 1).
pub(crate) fn window(length: Duration) -> (i64, u64) {
    let len = i64::try_from(length.as_millis()).unwrap_or(i64::MAX).max(1);
    let now = now_ms();
    let start = now - now.rem_euclid(len);
    let remaining_ms = start + len - now;
    (
        start,
        u64::try_from((remaining_ms + 999) / 1000)
            .unwrap_or(1)
            .max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> String {
        RequesterNet::of(s.parse().unwrap()).to_string()
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_ipv4_per_address() {
        assert_eq!(net("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(net("2001:db8:1:2::ffff"), "2001:db8:1:2::/64");
        assert_ne!(net("2001:db8:1:3::1"), net("2001:db8:1:2::1"));
        assert_eq!(net("10.1.2.3"), "10.1.2.3");
        assert_ne!(net("10.1.2.3"), net("10.1.2.4"));
        // An IPv4 client reached over an IPv6 socket is still that IPv4 address.
        assert_eq!(net("::ffff:10.1.2.3"), "10.1.2.3");
        // So is one behind a NAT64 gateway (all of whose clients share a /64).
        assert_eq!(net("64:ff9b::10.1.2.3"), "10.1.2.3");
        assert_ne!(net("64:ff9b::10.1.2.3"), net("64:ff9b::10.1.2.4"));
    }

    #[test]
    fn keys_are_short_whatever_is_typed_and_never_collide_across_parts() {
        let long = "a".repeat(10_000);
        let ours = counter_key(b"a secret of thirty-two bytes or longer");
        assert!(stored_name(&ours, &Key::login_failures(Subject::Name(&long))).len() < 40);
        // Keyed: another server secret names the same counter otherwise.
        let theirs = counter_key(b"another secret of thirty-two bytes!");
        let key = Key::auth_requests(RequesterNet::of("10.0.0.1".parse().unwrap()));
        assert_ne!(stored_name(&ours, &key), stored_name(&theirs, &key));
        assert!(stored_name(&ours, &key).starts_with("auth:"));
        let ip: RequesterNet = RequesterNet::of("127.0.0.1".parse().unwrap());
        // A name that spells another key's parts is another key.
        assert_ne!(
            Key::login_failures(Subject::Name("ada:127.0.0.1")),
            Key::login_failures_from(Subject::Name("ada"), ip)
        );
        assert_ne!(
            Key::login_failures(Subject::Name("ada")),
            Key::login_failures(Subject::Account("ada"))
        );
        assert_ne!(Key::new("k", &["ab", "c"]), Key::new("k", &["a", "bc"]));
    }
}
