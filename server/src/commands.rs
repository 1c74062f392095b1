//! Commands an operator runs from the shell, such as making the first admin.

use classboard::api::{EventKind, Role};
use secrecy::ExposeSecret;

use crate::{
    Config,
    auth::{
        keys::{KeyRing, Revoked, RingError},
        normalize::LoginName,
    },
    provider::clients::{Registration, Registry, RegistryError},
    store::{
        Db, DbError,
        clients::ClientRow,
        rows::{Event, Origin},
        users::{self, LockChanged, RoleChanged},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Startup(#[from] crate::startup::StartupError),
    #[error(transparent)]
    Ring(#[from] RingError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("{0:?} is not a role; use student, teacher or admin")]
    UnknownRole(String),
    #[error("no user has the username or email {0:?}")]
    UnknownUser(String),
    #[error("{0} is the last admin; make another admin first")]
    LastAdmin(String),
    #[error(transparent)]
    Apps(#[from] RegistryError),
}

/// Sets the role of the user with username or email `login`, and ends their
/// sessions so that the new role applies from their next login, in one
/// transaction. Running servers see the ended sessions at their next
/// revocation poll.
pub async fn set_role(
    config: &Config,
    login: &str,
    role: &str,
) -> Result<users::Account, AdminError> {
    let role = Role::parse(role).ok_or_else(|| AdminError::UnknownRole(role.to_owned()))?;
    let (db, account) = account_by_login(config, login).await?;
    let origin = from_the_shell("server set-role");
    let event = Event::new(EventKind::RoleChanged, &account.id, &origin).detail(role.as_str());
    let changed = users::change_role(&db, &account.id, role, &event).await;
    db.close().await;
    match changed? {
        RoleChanged::Changed(account, _) => Ok(account),
        RoleChanged::NoSuchUser => Err(AdminError::UnknownUser(login.to_owned())),
        RoleChanged::LastAdmin => Err(AdminError::LastAdmin(account.username)),
    }
}

/// Unlocks the account with username or email `login`: the way back in
/// when the admins are locked out (an admin can lock every admin but the
/// last one who can sign in, who may then lose their password).
pub async fn unlock(config: &Config, login: &str) -> Result<users::Account, AdminError> {
    let (db, account) = account_by_login(config, login).await?;
    let origin = from_the_shell("server unlock");
    let event = Event::new(EventKind::AccountUnlocked, &account.id, &origin);
    let unlocked = users::set_locked(&db, &account.id, false, &event).await;
    db.close().await;
    match unlocked? {
        LockChanged::Done(_) | LockChanged::Already => Ok(account),
        LockChanged::NoSuchUser | LockChanged::LastAdmin => {
            Err(AdminError::UnknownUser(login.to_owned()))
        }
    }
}

/// The database, and the account with username or email `login` in it.
async fn account_by_login(
    config: &Config,
    login: &str,
) -> Result<(Db, users::Account), AdminError> {
    let unknown = || AdminError::UnknownUser(login.to_owned());
    let name = LoginName::parse(login).map_err(|_| unknown())?;
    let db = Db::connect(config.database_url.as_str()).await?;
    let account = users::by_login(&db, name.as_str()).await?;
    match account {
        Some(account) => Ok((db, account)),
        None => {
            db.close().await;
            Err(unknown())
        }
    }
}

/// Where a command run from the shell acts from, as its events record it:
/// no address, and no admin account acting; the command names itself.
fn from_the_shell(command: &str) -> Origin {
    Origin {
        ip: None,
        user_agent: Some(command.into()),
    }
}

/// The ring of signing keys, opened as the server opens it.
async fn key_ring(config: &Config) -> Result<(Db, KeyRing), AdminError> {
    let db = Db::connect(config.database_url.as_str()).await?;
    let secret = crate::startup::server_secret(config)?;
    let ring = crate::startup::open_key_ring(config, db.clone(), &secret).await?;
    Ok((db, ring))
}

/// `server keys list`: every key, newest first, one line each.
pub async fn keys_list(config: &Config) -> Result<Vec<String>, AdminError> {
    let (db, ring) = key_ring(config).await?;
    let rows = ring.list().await;
    db.close().await;
    Ok(rows?
        .into_iter()
        .map(|row| {
            let when = |ms: Option<i64>| ms.map_or_else(|| "-".to_owned(), crate::store::rfc3339);
            format!(
                "{kid}  {alg:<5}  {purpose:<8}  {state:<9}  created {created}  signs from {from}  ended {ended}",
                kid = row.kid,
                alg = row.alg,
                purpose = row.purpose,
                state = row.state,
                created = when(Some(row.created_at)),
                from = when(Some(row.activates_at)),
                ended = when(row.ended_at),
            )
        })
        .collect())
}

/// `server keys rotate`: publishes a new key; the answer says when it signs.
pub async fn keys_rotate(config: &Config) -> Result<String, AdminError> {
    let (db, ring) = key_ring(config).await?;
    let kid = ring.rotate().await;
    db.close().await;
    let kid = kid?;
    let lead = match config.jwt_alg {
        crate::config::JwtAlg::HS256 => "now".to_owned(),
        _ => format!(
            "in {} (KEY_PUBLISH_LEAD)",
            humantime::format_duration(config.key_publish_lead)
        ),
    };
    Ok(format!(
        "published {kid} ({}); it signs {lead}",
        config.jwt_alg
    ))
}

/// `server keys revoke KID`: the key stops signing and verifying at once.
pub async fn keys_revoke(config: &Config, kid: &str) -> Result<String, AdminError> {
    let (db, ring) = key_ring(config).await?;
    let outcome = ring.revoke(kid).await;
    db.close().await;
    Ok(match outcome? {
        Revoked::Key => format!("revoked {kid}: its tokens are refused within seconds"),
        Revoked::Replaced(new) => format!(
            "revoked {kid}, the active key: {new} signs from now on; tokens of {kid} are refused within seconds"
        ),
        Revoked::Already => format!("{kid} was revoked already"),
    })
}

/// The registry of apps, opened as the server opens it, with the server's
/// own secret (an app's secret is hashed under a key derived from it).
async fn registry(config: &Config) -> Result<(Db, Registry), AdminError> {
    let secret = crate::startup::existing_server_secret(config)?;
    let db = Db::connect(config.database_url.as_str()).await?;
    let registry = Registry::new(db.clone(), secret.expose_secret().as_bytes());
    Ok((db, registry))
}

/// `server clients add NAME …`: the lines to print, the secret (of a
/// confidential app) among them, shown this once.
pub async fn clients_add(
    config: &Config,
    registration: &Registration,
) -> Result<Vec<String>, AdminError> {
    let (db, registry) = registry(config).await?;
    let origin = from_the_shell("server clients add");
    let registered = registry.register(registration, &origin, None).await;
    db.close().await;
    let registered = registered?;
    let mut lines = vec![format!("client_id: {}", registered.client.id)];
    if let Some(secret) = registered.secret {
        lines.push(format!("client_secret: {secret}"));
        lines.push("(the secret is shown this once; the server keeps only its hash)".into());
    }
    Ok(lines)
}

/// `server clients registration-token`: a new initial access token for
/// dynamic registration (it registers one app, within `lifetime`), and
/// when it expires.
pub async fn clients_registration_token(
    config: &Config,
    lifetime: std::time::Duration,
) -> Result<Vec<String>, AdminError> {
    let (db, registry) = registry(config).await?;
    let minted = registry.mint_initial_token(lifetime).await;
    db.close().await;
    let (token, expires_at) = minted?;
    let mut lines = vec![
        format!("registration_token: {token}"),
        format!(
            "(it registers one app, until {}; shown this once, the server keeps only its hash)",
            crate::store::rfc3339(expires_at)
        ),
    ];
    if !config.dynamic_registration {
        lines.push("(DYNAMIC_REGISTRATION is off: the server takes it once it is `token`)".into());
    }
    Ok(lines)
}

/// `server clients list`: every app, one line each.
pub async fn clients_list(config: &Config) -> Result<Vec<String>, AdminError> {
    const PAGE: i64 = 100;
    let (db, registry) = registry(config).await?;
    let mut lines = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = registry.page(PAGE, after.as_deref()).await;
        let (rows, more) = match page {
            Ok(page) => page,
            Err(e) => {
                db.close().await;
                return Err(e.into());
            }
        };
        after = rows.last().map(|row| row.id.clone());
        lines.extend(rows.iter().map(client_line));
        if !more {
            break;
        }
    }
    db.close().await;
    Ok(lines)
}

fn client_line(row: &ClientRow) -> String {
    format!(
        "{id}  {kind:<12}  {name:?}  scopes: {scopes}  grants: {grants}{trusted}{par}  redirect: {uris}",
        id = row.id,
        kind = if row.secret_hash.is_some() {
            "confidential"
        } else {
            "public"
        },
        name = row.name,
        scopes = row.scopes,
        grants = row.grant_types,
        trusted = if row.trusted { "  trusted" } else { "" },
        par = if row.require_par { "  PAR only" } else { "" },
        uris = if row.redirect_uris.is_empty() {
            "-"
        } else {
            &row.redirect_uris
        },
    )
}

/// `server clients remove ID`.
pub async fn clients_remove(config: &Config, id: &str) -> Result<String, AdminError> {
    let (db, registry) = registry(config).await?;
    let removed = registry
        .remove(id, &from_the_shell("server clients remove"), None)
        .await;
    db.close().await;
    removed?;
    Ok(format!("removed the app {id}"))
}

/// `server clients rotate-secret ID`: the new secret, shown this once.
pub async fn clients_rotate_secret(config: &Config, id: &str) -> Result<String, AdminError> {
    let (db, registry) = registry(config).await?;
    let secret = registry
        .rotate_secret(id, &from_the_shell("server clients rotate-secret"), None)
        .await;
    db.close().await;
    Ok(format!(
        "client_secret: {}\n(the old secret no longer works; this one is shown this once)",
        secret?
    ))
}
