//! Accounts as stored.

use classboard::api::{Role, User};
use sqlx::FromRow;

use super::{
    Db, in_tx, on,
    outbox::Queued,
    rfc3339,
    rows::{Event, Reason, stored_role},
    tx::{Filter, Tx},
};

/// A stored account, hash included: never serialised as a whole.
#[derive(Clone, FromRow)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    /// Whether the hash was made from the password's NFC form.
    pub password_nfc: bool,
    pub role: String,
    pub created_at: i64,
    /// Whether the account has TOTP on or a passkey.
    pub mfa: bool,
    /// Whether it has a confirmed phone.
    pub phone: bool,
    pub email_verified: bool,
    /// Counts password changes and the deletion (see migration 0011).
    pub credentials_version: i64,
    /// An admin locked it: it cannot sign in.
    pub locked: bool,
}

impl Account {
    /// Whether signing in takes a second factor: TOTP, a passkey, or (while
    /// SMS is a second factor, `sms`) a phone.
    pub fn second_factor(&self, sms: bool) -> bool {
        self.mfa || (sms && self.phone)
    }

    pub fn role(&self) -> Role {
        stored_role(&self.role)
    }

    /// The public view of the account.
    pub fn to_api(&self) -> User {
        self.profile().to_api(&self.id, self.role())
    }

    pub fn profile(&self) -> Profile {
        Profile {
            username: self.username.clone(),
            email: self.email.clone(),
            created_at: self.created_at,
            mfa: self.mfa || self.phone,
            email_verified: self.email_verified,
        }
    }
}

/// What `GET /api/me` shows of an account besides its role. Processes keep
/// it for a moment (see `profiles::Profiles`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Profile {
    pub username: String,
    pub email: String,
    pub created_at: i64,
    /// Whether the account has a second factor: TOTP, a passkey or a
    /// phone (which signing in asks for only while SMS is a second factor).
    pub mfa: bool,
    pub email_verified: bool,
}

impl Profile {
    /// The public view of the account `id` with the given role.
    pub fn to_api(&self, id: &str, role: Role) -> User {
        User {
            id: id.to_owned(),
            username: self.username.clone(),
            email: self.email.clone(),
            role,
            created_at: rfc3339(self.created_at),
            mfa: self.mfa,
            email_verified: self.email_verified,
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The statements that read an [`Account`]. Its `mfa` column: whether the
/// account has a second factor (TOTP on, or a passkey); `phone`: whether it
/// has a confirmed phone (a second factor while SMS is one).
mod account {
    /// The columns every statement reads, `users` being the account's row.
    macro_rules! columns {
        () => {
            "id, username, email, password_hash, password_nfc, role, created_at,
             email_verified, credentials_version, (locked_at IS NOT NULL) AS locked,
             (EXISTS (SELECT 1 FROM totp_secrets t
                      WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL)
              OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)) AS mfa,
             EXISTS (SELECT 1 FROM phones ph WHERE ph.user_id = users.id) AS phone"
        };
    }

    pub const INSERT: &str = "INSERT INTO users
             (id, username, email, password_hash, password_nfc, role, created_at)
         VALUES ($1, $2, $3, $4, TRUE, 'student', $5)
         RETURNING id, username, email, password_hash, password_nfc, role, created_at,
                   email_verified, credentials_version, (locked_at IS NOT NULL) AS locked,
                   FALSE AS mfa, FALSE AS phone";
    pub const BY_ID: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM users WHERE id = $1 AND deleted_at IS NULL"
    );
    pub const BY_EMAIL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM users WHERE email = $1 AND deleted_at IS NULL"
    );
    /// SQLite: its unique index compares usernames with NOCASE.
    pub const BY_USERNAME_SQLITE: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM users WHERE username = $1 COLLATE NOCASE AND deleted_at IS NULL"
    );
    /// PostgreSQL: its unique index is on `lower(username)`.
    pub const BY_USERNAME_POSTGRES: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM users WHERE lower(username) = $1 AND deleted_at IS NULL"
    );
    pub const SET_ROLE: &str = concat!(
        "UPDATE users SET role = $1 WHERE id = $2 RETURNING ",
        columns!()
    );
}

/// Inserts a new student. A duplicate username or email fails with the
/// database's unique-constraint error (see [`super::taken_field`]).
pub async fn insert(
    db: &Db,
    id: &str,
    username: &str,
    email: &str,
    password_hash: &str,
    now: i64,
) -> Result<Account, sqlx::Error> {
    on!(db, write, |pool| sqlx::query_as(account::INSERT)
        .bind(id)
        .bind(username)
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .fetch_one(pool)
        .await)
}

/// The account `id`, if it exists.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<Account>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(account::BY_ID)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

/// Finds an account by username (any case) or, when `login` has an `@`, by
/// email. `login` is compared as given: pass a `LoginName`'s form (lower
/// case).
pub async fn by_login(db: &Db, login: &str) -> Result<Option<Account>, sqlx::Error> {
    if login.contains('@') {
        return on!(db, read, |pool| sqlx::query_as(account::BY_EMAIL)
            .bind(login)
            .fetch_optional(pool)
            .await);
    }
    // Usernames are unique regardless of case: SQLite's index compares
    // with NOCASE, PostgreSQL's indexes lower(username).
    match db {
        Db::Sqlite(db) => {
            sqlx::query_as(account::BY_USERNAME_SQLITE)
                .bind(login)
                .fetch_optional(&db.read)
                .await
        }
        Db::Postgres(db) => {
            sqlx::query_as(account::BY_USERNAME_POSTGRES)
                .bind(login)
                .fetch_optional(&db.read)
                .await
        }
    }
}

/// What `GET /api/me` shows of the account `id`, if it exists.
pub async fn profile(db: &Db, id: &str) -> Result<Option<Profile>, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_as(
        "SELECT username, email, created_at, email_verified,
                (EXISTS (SELECT 1 FROM totp_secrets t
                         WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL)
                 OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)
                 OR EXISTS (SELECT 1 FROM phones ph WHERE ph.user_id = users.id)) AS mfa
         FROM users WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)
}

/// Whether `id` is the only admin who can sign in, by a read: a check
/// before the proof of presence is taken. The change that would take the
/// last admin away decides again, under the admins' locks
/// ([`Tx::lock_for_role`]).
pub async fn is_last_admin(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    on!(db, read, |pool| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND role = 'admin'
                        AND locked_at IS NULL AND deleted_at IS NULL)
            AND (SELECT COUNT(*) FROM users
                 WHERE role = 'admin' AND locked_at IS NULL AND deleted_at IS NULL) <= 1"
    )
    .bind(id)
    .fetch_one(pool)
    .await)
}

/// What asking for a role change led to.
#[derive(Debug)]
pub enum RoleChanged {
    /// The account now has the role; its sessions, listed, were ended.
    Changed(Account, Vec<String>),
    NoSuchUser,
    /// The account is the last admin, and the change would leave none.
    LastAdmin,
}

/// Gives `id` the role `role` and ends every session of theirs, in one
/// transaction: a token that carries the old role can only come from a
/// session this revokes. The last admin keeps the role. On PostgreSQL every
/// admin's row is locked first, always in the order of their ids, so two
/// admins demoting each other at once are serialised, never deadlocked;
/// the target's row lock also waits for a login creating a session.
///
/// `event` is recorded with the change.
pub async fn change_role(
    db: &Db,
    id: &str,
    role: Role,
    event: &Event<'_>,
) -> Result<RoleChanged, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(locked) = tx.lock_for_role(id, None).await? else {
            return Ok(RoleChanged::NoSuchUser);
        };
        if locked.last_admin() && role != Role::Admin {
            return Ok(RoleChanged::LastAdmin);
        }
        let account: Account = sqlx::query_as(account::SET_ROLE)
            .bind(role.as_str())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let ended = tx
            .revoke_sessions(Filter::User(id), Reason::RoleChange)
            .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(RoleChanged::Changed(account, ended))
    })
}

/// Records that the stored hash, if it is still `hash`, is of the
/// password's NFC form.
pub async fn mark_password_nfc(db: &Db, id: &str, hash: &str) -> Result<(), sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "UPDATE users SET password_nfc = TRUE
         WHERE id = $1 AND password_hash = $2 AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(hash)
    .execute(pool)
    .await
    .map(drop))
}

/// Replaces the hash `old` by `new` (of the password's NFC form), unless the
/// password changed since `old` was read; whether it did.
pub async fn replace_password_hash(
    db: &Db,
    id: &str,
    old: &str,
    new: &str,
) -> Result<bool, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "UPDATE users SET password_hash = $3, password_nfc = TRUE
         WHERE id = $1 AND password_hash = $2 AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(old)
    .bind(new)
    .execute(pool)
    .await
    .map(|done| done.rows_affected() == 1))
}

/// Sets the password hash `new` (of the NFC form) for `id`, if its
/// credentials are still at `version` (the one the request's proof read);
/// ends every other session than `keep` (returned), what else a new
/// password ends (see `email_tokens`), and queues `notice`, in one
/// transaction. `None` when the password changed since, or the account was
/// deleted.
pub async fn change_password(
    db: &Db,
    id: &str,
    keep: &str,
    (version, new): (i64, &str),
    (notice, event): (&Queued<'_>, &Event<'_>),
) -> Result<Option<Vec<String>>, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $3, password_nfc = TRUE,
                              credentials_version = credentials_version + 1
             WHERE id = $1 AND credentials_version = $2 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(version)
        .bind(new)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        tx.end_credential_flows(id).await?;
        let ended = tx
            .revoke_sessions(
                Filter::UserExcept { user_id: id, keep },
                Reason::PasswordChange,
            )
            .await?;
        tx.queue(notice).await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    })
}

/// What asking to delete an account led to.
#[derive(Debug)]
pub enum Deleted {
    /// The account is gone; its sessions, listed, were ended.
    Done(Vec<String>),
    /// Deleted already, or its password changed since the proof.
    Stale,
    /// The account is the last admin.
    LastAdmin,
}

/// Deletes the account `id`, in one transaction: its sessions end, its
/// second factors, mailed tokens and grades (as a student) go, its posts
/// and the grades it gave stay without an author, and `notice` is queued.
///
/// The row itself stays, renamed and with no usable password or address,
/// until [`prune_deleted`] removes it: the sessions' revocations live in
/// their rows, which go with the account's, and other instances must read
/// them until the last access token of the account has expired. Admins are
/// locked first ([`Tx::lock_for_role`]), so the last admin cannot go.
pub async fn delete(
    db: &Db,
    (id, version): (&str, i64),
    now: i64,
    (notice, event): (&Queued<'_>, &Event<'_>),
) -> Result<Deleted, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(locked) = tx.lock_for_role(id, Some(version)).await? else {
            return Ok(Deleted::Stale);
        };
        if locked.last_admin() {
            return Ok(Deleted::LastAdmin);
        }
        let ended = tx
            .revoke_sessions(Filter::User(id), Reason::AccountDeleted)
            .await?;
        // Challenges before the factors: a login's second step locks its
        // challenge, then the factor it uses, and so must this.
        for statement in [
            "DELETE FROM grades WHERE student_id = $1",
            "UPDATE grades SET teacher_id = NULL WHERE teacher_id = $1",
            "UPDATE posts SET author_id = NULL WHERE author_id = $1",
            "DELETE FROM mfa_challenges WHERE user_id = $1",
            "DELETE FROM totp_secrets WHERE user_id = $1",
            "DELETE FROM recovery_codes WHERE user_id = $1",
            "DELETE FROM passkeys WHERE user_id = $1",
            "DELETE FROM phones WHERE user_id = $1",
            "DELETE FROM sms_codes WHERE user_id = $1",
            "DELETE FROM webauthn_ceremonies WHERE user_id = $1",
            "DELETE FROM email_tokens WHERE user_id = $1",
            "DELETE FROM email_codes WHERE user_id = $1",
        ] {
            sqlx::query(statement).bind(id).execute(&mut *tx).await?;
        }
        // A name no signup can take (longer than a username may be) and an
        // address that is none, so both are free again at once.
        sqlx::query(
            "UPDATE users SET username = 'deleted-' || id, email = 'deleted:' || id,
                              password_hash = '', role = 'student', email_verified = FALSE,
                              credentials_version = credentials_version + 1, deleted_at = $2
             WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.queue(notice).await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(Deleted::Done(ended))
    })
}

/// Removes the rows of accounts deleted before `before` (their sessions go
/// with them).
pub async fn prune_deleted(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    on!(db, write, |pool| sqlx::query(
        "DELETE FROM users WHERE deleted_at IS NOT NULL AND deleted_at <= $1"
    )
    .bind(before)
    .execute(pool)
    .await
    .map(|done| done.rows_affected()))
}

/// What locking or unlocking an account led to.
#[derive(Debug)]
pub enum LockChanged {
    /// Done; when locking, the sessions that ended.
    Done(Vec<String>),
    /// It was so already: nothing changed, nothing recorded.
    Already,
    NoSuchUser,
    /// The account is the last admin who can sign in.
    LastAdmin,
}

/// Locks (`lock`) or unlocks the account `id`, in one transaction: a lock
/// ends every session of the account, its logins waiting for a second
/// factor and its pending links to change the address or reset the
/// password, and records `event`. A session start
/// locks the row on PostgreSQL and checks the lock, so it either
/// commits first (and ends here) or sees the lock. The admins are locked
/// first ([`Tx::lock_for_role`]): the last admin who can sign in stays unlocked,
/// even when two admins lock each other at once.
pub async fn set_locked(
    db: &Db,
    id: &str,
    lock: bool,
    event: &Event<'_>,
) -> Result<LockChanged, sqlx::Error> {
    in_tx!(db, |tx, pg| {
        let Some(target) = tx.lock_for_role(id, None).await? else {
            return Ok(LockChanged::NoSuchUser);
        };
        if target.locked == lock {
            return Ok(LockChanged::Already);
        }
        if lock && target.last_admin() {
            return Ok(LockChanged::LastAdmin);
        }
        sqlx::query("UPDATE users SET locked_at = $2 WHERE id = $1")
            .bind(id)
            .bind(lock.then_some(event.at))
            .execute(&mut *tx)
            .await?;
        let ended = if lock {
            // The mailbox holds no way around the lock: pending links to
            // change the address or reset the password end with it.
            tx.end_credential_flows(id).await?;
            tx.revoke_sessions(Filter::User(id), Reason::Locked).await?
        } else {
            Vec::new()
        };
        tx.record(event).await?;
        tx.commit().await?;
        Ok(LockChanged::Done(ended))
    })
}

/// An account as the admin console lists it.
#[derive(Debug, Clone, FromRow)]
pub struct Listed {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
    pub email_verified: bool,
    pub mfa: bool,
    pub locked: bool,
    pub last_login_at: Option<i64>,
}

/// The admins' search of accounts, by username then page. PostgreSQL
/// compares by bytes too (`COLLATE "C"`), as SQLite does, whatever the
/// database's locale: the order, and so the pages, are the same on both.
mod search {
    pub const SQLITE: &str = "SELECT id, username, email, role, created_at, email_verified,
            (locked_at IS NOT NULL) AS locked, last_login_at,
            (EXISTS (SELECT 1 FROM totp_secrets t
                     WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL)
             OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)
             OR EXISTS (SELECT 1 FROM phones ph WHERE ph.user_id = users.id)) AS mfa
     FROM users
     WHERE deleted_at IS NULL
       AND (lower(username) LIKE $1 ESCAPE '\\' OR email LIKE $1 ESCAPE '\\')
       AND ($2 IS NULL OR lower(username) > $2)
     ORDER BY lower(username)
     LIMIT $3";
    pub const POSTGRES: &str = "SELECT id, username, email, role, created_at, email_verified,
            (locked_at IS NOT NULL) AS locked, last_login_at,
            (EXISTS (SELECT 1 FROM totp_secrets t
                     WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL)
             OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)
             OR EXISTS (SELECT 1 FROM phones ph WHERE ph.user_id = users.id)) AS mfa
     FROM users
     WHERE deleted_at IS NULL
       AND (lower(username) LIKE $1 ESCAPE '\\' OR email LIKE $1 ESCAPE '\\')
       AND ($2 IS NULL OR lower(username) COLLATE \"C\" > $2)
     ORDER BY lower(username) COLLATE \"C\"
     LIMIT $3";
}

/// Up to `limit` accounts whose username or email starts with `prefix`
/// (any case; `%` and `_` match only themselves), in the order of their
/// lower-cased usernames after `after`, and whether there are more.
/// Deleted accounts are not listed.
pub async fn search(
    db: &Db,
    prefix: &str,
    limit: i64,
    after: Option<&str>,
) -> Result<(Vec<Listed>, bool), sqlx::Error> {
    let pattern = format!(
        "{}%",
        prefix
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let sql = match db {
        Db::Sqlite(_) => search::SQLITE,
        Db::Postgres(_) => search::POSTGRES,
    };
    let rows: Vec<Listed> = on!(db, read, |pool| sqlx::query_as(sql)
        .bind(&pattern)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(pool)
        .await)?;
    Ok(super::one_page(rows, limit))
}

#[cfg(test)]
mod statements {
    use super::account;

    /// The statements that read an account, written out whole, read the
    /// same columns, second factor included, whichever way they find it.
    #[test]
    fn every_account_statement_reads_the_same_columns() {
        let words = |statement: &str| statement.split_whitespace().collect::<Vec<_>>().join(" ");
        let columns = |statement: &str| {
            let statement = words(statement);
            let start = statement.find("id, username").expect("the columns");
            let end = statement[start..]
                .find(" FROM ")
                .map_or(statement.len(), |e| start + e);
            statement[start..end].to_owned()
        };
        let reads = [
            account::BY_ID,
            account::BY_EMAIL,
            account::BY_USERNAME_SQLITE,
            account::BY_USERNAME_POSTGRES,
            account::SET_ROLE,
        ];
        for statement in reads {
            assert_eq!(columns(statement), columns(account::BY_ID), "{statement}");
        }
        assert!(
            words(account::INSERT)
                .ends_with("(locked_at IS NOT NULL) AS locked, FALSE AS mfa, FALSE AS phone")
        );
    }

    /// PostgreSQL's search is SQLite's with its comparisons by bytes.
    #[test]
    fn the_two_searches_differ_only_in_collation() {
        let words = |statement: &str| statement.split_whitespace().collect::<Vec<_>>().join(" ");
        let by_bytes = words(super::search::SQLITE)
            .replace("lower(username) >", "lower(username) COLLATE \"C\" >")
            .replace(
                "ORDER BY lower(username)",
                "ORDER BY lower(username) COLLATE \"C\"",
            );
        assert_eq!(words(super::search::POSTGRES), by_bytes);
    }
}
