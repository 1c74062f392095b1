//! Apps (OAuth 2.1 clients): what an app may be registered as, and its
//! secret.
//!
//! - **Redirect URIs** are compared whole and exactly when an app asks for
//!   one (no wildcard, no prefix), and only these are registered: `https`;
//!   `http` on a loopback host only (`localhost`, `127.0.0.1`, `[::1]`, as
//!   RFC 8252 §7.3 allows native apps); or a private-use scheme with a dot
//!   in it, such as `com.example.app:/callback` (RFC 8252 §7.1), which rules
//!   out `javascript:`, `data:` and `file:`. None has a fragment
//!   (RFC 6749 §3.1.2) or user information.
//! - **A confidential app's secret** is 256 random bits, shown once and
//!   stored only as an HMAC-SHA256 under a key derived from the server
//!   secret: a copy of the database holds no usable secret, and checking
//!   one costs a hash, not a password hash (the secret is random, not
//!   chosen by a person).
//! - **A public app** (a single-page or native app) has no secret; every
//!   app, public or not, uses PKCE with `S256`.

use classboard::{api::EventKind, validate::Issue};
use url::{Host, Url};

use crate::store::{
    Db,
    clients::{self, ClientRow},
    now_ms,
    rows::{Event, Origin},
};

pub use super::scopes::SCOPES;

/// The grants this server offers, by their `grant_type` names.
pub const GRANTS: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_GRANT,
];

/// The device grant's `grant_type` (RFC 8628 §3.4).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The grants an app gets when it names none.
pub const DEFAULT_GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];

/// The scopes an app gets when it names none.
pub const DEFAULT_SCOPES: &str = "openid profile email";

/// The most redirect URIs of each kind an app may register.
pub const MAX_URIS: usize = 10;
/// The longest URI accepted, in bytes.
pub const MAX_URI: usize = 2000;
/// The longest name, in characters.
pub const MAX_NAME: usize = 100;

/// What an app asks to be registered as.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// No secret: a single-page or native app.
    pub public: bool,
    pub scopes: Vec<String>,
    /// Not asked for consent (the school's own apps).
    pub trusted: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub grant_types: Vec<String>,
    pub jwks_uri: Option<String>,
    /// What its ID tokens are signed with: `RS256` (the default when
    /// `None`), `EdDSA` or `ES256`.
    pub id_token_signed_response_alg: Option<String>,
    /// Its authorization requests must be pushed first (RFC 9126).
    pub require_par: bool,
}

/// Why a registration was refused: the field, its issue, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: &'static str,
    pub issue: Issue,
    pub why: String,
}

impl Refusal {
    fn new(field: &'static str, issue: Issue, why: impl Into<String>) -> Self {
        Self {
            field,
            issue,
            why: why.into(),
        }
    }
}

/// A registration as it is stored: lists normalised (no repeats, the
/// defaults filled in), space-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    pub scopes: String,
    pub grant_types: String,
    pub jwks_uri: Option<String>,
    pub id_token_signed_response_alg: String,
    pub require_par: bool,
}

/// The algorithms an app's ID tokens may be signed with.
pub const ID_TOKEN_ALGS: [&str; 3] = ["RS256", "EdDSA", "ES256"];

/// Checks `registration` against the rules above; every refusal at once.
pub fn check(registration: &Registration) -> Result<Checked, Vec<Refusal>> {
    let mut refused = Vec::new();
    check_name(registration.name.trim(), &mut refused);
    for (field, items, most) in [
        ("scopes", &registration.scopes, SCOPES.len()),
        ("grant_types", &registration.grant_types, GRANTS.len()),
    ] {
        if items.len() > most {
            refused.push(Refusal::new(
                field,
                Issue::TooLong,
                format!("At most {most}: there are no more to ask for."),
            ));
            return Err(refused);
        }
    }
    // `device_code` is the device grant's short name (the contract's).
    let named: Vec<String> = registration
        .grant_types
        .iter()
        .map(|g| match g.trim() {
            "device_code" => DEVICE_GRANT.to_owned(),
            other => other.to_owned(),
        })
        .collect();
    let grants = one_each(&named, &DEFAULT_GRANTS);
    let scopes = if registration.scopes.is_empty() {
        DEFAULT_SCOPES.split(' ').map(str::to_owned).collect()
    } else {
        one_each(&registration.scopes, &[])
    };
    check_known(
        "grant_types",
        &grants,
        &GRANTS,
        "a grant this server offers",
        &mut refused,
    );
    check_uris("redirect_uris", &registration.redirect_uris, &mut refused);
    check_uris(
        "post_logout_redirect_uris",
        &registration.post_logout_redirect_uris,
        &mut refused,
    );
    for (field, uri) in [
        (
            "backchannel_logout_uri",
            &registration.backchannel_logout_uri,
        ),
        ("jwks_uri", &registration.jwks_uri),
    ] {
        if let Some(uri) = uri
            && let Err(why) = server_uri(uri)
        {
            refused.push(Refusal::new(
                field,
                Issue::Invalid,
                format!("{uri:?}: {why}"),
            ));
        }
    }
    check_known(
        "scopes",
        &scopes,
        &SCOPES,
        "a scope of this server",
        &mut refused,
    );
    check_kind(registration, &grants, &mut refused);
    let id_token_alg = registration
        .id_token_signed_response_alg
        .as_deref()
        .unwrap_or("RS256");
    if !ID_TOKEN_ALGS.contains(&id_token_alg) {
        refused.push(Refusal::new(
            "id_token_signed_response_alg",
            Issue::Invalid,
            format!(
                "{:.40}: ID tokens are signed with RS256, EdDSA or ES256.",
                id_token_alg.escape_debug()
            ),
        ));
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    Ok(Checked {
        id_token_signed_response_alg: id_token_alg.to_owned(),
        name: registration.name.trim().to_owned(),
        redirect_uris: one_each(&registration.redirect_uris, &[]).join(" "),
        post_logout_redirect_uris: one_each(&registration.post_logout_redirect_uris, &[]).join(" "),
        backchannel_logout_uri: registration.backchannel_logout_uri.clone(),
        scopes: scopes.join(" "),
        grant_types: grants.join(" "),
        jwks_uri: registration.jwks_uri.clone(),
        require_par: registration.require_par,
    })
}

fn check_name(name: &str, refused: &mut Vec<Refusal>) {
    let (issue, why) = if name.is_empty() {
        (Issue::Required, "Give the app a name.".to_owned())
    } else if name.chars().count() > MAX_NAME {
        (
            Issue::TooLong,
            format!("The name must be at most {MAX_NAME} characters."),
        )
    } else if name.chars().any(|c| c.is_control() || invisible(c)) {
        (
            Issue::InvalidCharacters,
            "The name may not hold control, invisible or direction-changing characters.".into(),
        )
    } else {
        return;
    };
    refused.push(Refusal::new("name", issue, why));
}

/// Refuses each of `items` that `known` does not hold.
fn check_known(
    field: &'static str,
    items: &[String],
    known: &[&str],
    what: &str,
    refused: &mut Vec<Refusal>,
) {
    for item in items.iter().filter(|item| !known.contains(&item.as_str())) {
        refused.push(Refusal::new(
            field,
            Issue::Invalid,
            format!("{item:?} is not {what} ({}).", known.join(", ")),
        ));
    }
}

/// What the app's kind allows: an app that signs people in has somewhere
/// to send them back to; a public app has no secret to authenticate with,
/// so neither `client_credentials` nor keys, and no one can vouch for it.
fn check_kind(registration: &Registration, grants: &[String], refused: &mut Vec<Refusal>) {
    let uses = |grant: &str| grants.iter().any(|g| g == grant);
    if uses("authorization_code") && registration.redirect_uris.is_empty() {
        refused.push(Refusal::new(
            "redirect_uris",
            Issue::Required,
            "An app that signs people in needs at least one redirect URI.",
        ));
    }
    if registration.trusted
        && !registration.public
        && registration
            .redirect_uris
            .iter()
            .any(|uri| native_redirect(uri))
    {
        // The same for a confidential app that returns people to a device:
        // its secret would ship inside the app, and any app on the device
        // could claim the address.
        refused.push(Refusal::new(
            "trusted",
            Issue::Invalid,
            "An app that returns people to a loopback or private-use address cannot be trusted: \
             anything on the device could pose as it.",
        ));
    }
    if !registration.public {
        return;
    }
    if uses("client_credentials") {
        refused.push(Refusal::new(
            "grant_types",
            Issue::Invalid,
            "A public app has no secret, so it cannot use client_credentials.",
        ));
    }
    if registration.trusted {
        // RFC 8252 §8.6: consent is skipped only for an app whose identity
        // is assured, and any app on a device can claim a public app's
        // loopback or private-use redirect.
        refused.push(Refusal::new(
            "trusted",
            Issue::Invalid,
            "A public app cannot be trusted: anything on the device could pose as it.",
        ));
    }
    if registration.jwks_uri.is_some() {
        refused.push(Refusal::new(
            "jwks_uri",
            Issue::Invalid,
            "A public app does not authenticate, so it registers no keys.",
        ));
    }
}

/// Characters that change how the text around them is shown without being
/// seen themselves: direction overrides and isolates, zero-width
/// characters, line and paragraph separators. A name holding one could
/// read, on a consent page, as another app's.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `items` without repeats, in their order; `default` when empty.
fn one_each(items: &[String], default: &[&str]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let items: Vec<String> = if items.is_empty() {
        default.iter().map(|s| (*s).to_owned()).collect()
    } else {
        items.iter().map(|s| s.trim().to_owned()).collect()
    };
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

fn check_uris(field: &'static str, uris: &[String], refused: &mut Vec<Refusal>) {
    if uris.len() > MAX_URIS {
        refused.push(Refusal::new(
            field,
            Issue::TooLong,
            format!("At most {MAX_URIS} URIs."),
        ));
    }
    for uri in uris {
        if let Err(why) = redirect_uri(uri) {
            refused.push(Refusal::new(
                field,
                Issue::Invalid,
                format!("{uri:?}: {why}"),
            ));
        }
    }
}

/// Whether `uri` may be registered as a place to send a person back to.
pub fn redirect_uri(uri: &str) -> Result<(), String> {
    let url = parsed(uri)?;
    match url.scheme() {
        "https" => {}
        "http" if loopback(&url) => {}
        "http" => return Err("http only on localhost or a loopback address; use https".into()),
        scheme if scheme.contains('.') => {}
        _ => {
            return Err(
                "use https, http on a loopback host, or a private-use scheme with a dot \
                 (com.example.app:/callback)"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Whether `uri` may be registered as an address this server calls (a
/// back-channel logout, a key set): `https`, or `http` on a loopback host.
pub fn server_uri(uri: &str) -> Result<(), String> {
    let url = parsed(uri)?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback(&url) => Ok(()),
        _ => Err("use https (http only on a loopback host)".into()),
    }
}

fn parsed(uri: &str) -> Result<Url, String> {
    if uri.len() > MAX_URI {
        return Err(format!("longer than {MAX_URI} bytes"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URI has no spaces or control characters".into());
    }
    let url = Url::parse(uri).map_err(|_| "not an absolute URI".to_owned())?;
    // What the app registers is what it is compared against, character
    // for character: a form the parser would rewrite could never match.
    if url.as_str() != uri {
        return Err(format!("write it as {url}"));
    }
    if url.fragment().is_some() {
        return Err("a redirect URI has no fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no user or password in the URI".into());
    }
    if url.cannot_be_a_base() && url.scheme() != "https" && url.scheme() != "http" {
        return Err("a private-use scheme needs a path, such as com.example.app:/callback".into());
    }
    Ok(url)
}

/// Whether `uri` returns people to a device (a native app): `http` on a
/// loopback host, or a private-use scheme.
pub fn native_redirect(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|url| url.scheme() != "https")
}

/// Whether an app's identity is assured, so that what a person allowed it
/// before may answer a new request without asking (RFC 8252 §8.6): a
/// confidential app that returns people only to `https` addresses. Any
/// app on a device can claim a public or native app's redirect.
pub fn identity_assured(client: &ClientRow) -> bool {
    client.secret_hash.is_some() && !client.redirect_uris.split(' ').any(native_redirect)
}

fn loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The longest `client_id` looked up (ours are 22 characters).
const MAX_CLIENT_ID: usize = 128;

/// Whether `id` could name an app: 1 to 128 printable ASCII characters. Any
/// other is refused as unknown before a query (PostgreSQL refuses a NUL in
/// text, and nobody need look up 100 KB of name).
pub fn usable_id(id: &str) -> bool {
    (1..=MAX_CLIENT_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether a redirect URI `asked` in a request is the `registered` one:
/// character for character, except that a native app's loopback address
/// (`http` on an IP literal 127.0.0.1 or `[::1]`) may name any port, since
/// the app listens on whatever port the system gives it (RFC 8252 §7.3).
/// The rest of it (scheme, host, path, query) must still be the same.
pub fn redirect_matches(registered: &str, asked: &str) -> bool {
    if registered == asked {
        return true;
    }
    let (Ok(registered), Ok(asked)) = (Url::parse(registered), Url::parse(asked)) else {
        return false;
    };
    let loopback_ip = |url: &Url| {
        url.scheme() == "http"
            && match url.host() {
                Some(Host::Ipv4(ip)) => ip.is_loopback(),
                Some(Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            }
    };
    if !loopback_ip(&registered) || !loopback_ip(&asked) || asked.as_str().len() > MAX_URI {
        return false;
    }
    let mut asked_any_port = asked.clone();
    let mut registered_any_port = registered.clone();
    asked_any_port.set_port(None).is_ok()
        && registered_any_port.set_port(None).is_ok()
        && asked_any_port == registered_any_port
        && asked.fragment().is_none()
}

/// Mints and hashes app secrets.
#[derive(Clone)]
pub struct Secrets {
    key: [u8; 32],
}

impl Secrets {
    pub fn new(server_secret: &[u8]) -> Self {
        Self::labelled(server_secret, b"classboard client secret hash key")
    }

    /// Hashes under a key of their own, named by `label`.
    fn labelled(server_secret: &[u8], label: &[u8]) -> Self {
        Self {
            key: crate::auth::derive_key(server_secret, label),
        }
    }

    /// A new secret, and the hash to store.
    pub fn mint(&self) -> (String, [u8; 32]) {
        let secret = crate::auth::random_url_safe::<32>();
        let hash = self.hash(&secret);
        (secret, hash)
    }

    /// The stored form of a presented secret.
    pub fn hash(&self, secret: &str) -> [u8; 32] {
        crate::auth::hmac_sha256(&self.key, secret.as_bytes())
    }

    /// Whether `secret` is the one whose hash is `stored`, in constant time.
    pub fn matches(&self, secret: &str, stored: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        self.hash(secret).ct_eq(stored).into()
    }
}

/// The registry of apps: registering, listing, replacing a secret, removing.
#[derive(Clone)]
pub struct Registry {
    db: Db,
    secrets: Secrets,
    /// Initial access tokens (dynamic registration) hash under a key of
    /// their own: one is never an app's secret.
    initial_tokens: Secrets,
}

/// Why an app could not be registered or changed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registration is refused:{}", .0.iter().map(|r| format!("\n  {}: {}", r.field, r.why)).collect::<String>())]
    Refused(Vec<Refusal>),
    #[error("no app has the client_id {0:?}")]
    Unknown(String),
    #[error("the app {0:?} is public: it has no secret")]
    Public(String),
    #[error("the app {0:?} authenticates with the keys of its JWKS: it has no secret")]
    KeysOnly(String),
    #[error("the secret of the app {0:?} was replaced meanwhile; ask again")]
    ChangedMeanwhile(String),
    /// The initial access token was spent, or expired, meanwhile.
    #[error("the initial access token is not live")]
    TokenNotLive,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A registered app, and its secret when it was just made (shown this once).
pub struct Registered {
    pub client: ClientRow,
    pub secret: Option<String>,
    /// For an app that registered itself: the token with which it reads or
    /// removes its registration (RFC 7592), shown this once.
    pub registration_access_token: Option<String>,
}

impl std::fmt::Debug for Registered {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("client", &self.client.id)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(db: Db, server_secret: &[u8]) -> Self {
        Self {
            db,
            secrets: Secrets::new(server_secret),
            initial_tokens: Secrets::labelled(
                server_secret,
                b"classboard initial access token key",
            ),
        }
    }

    /// A new initial access token for dynamic registration (RFC 7591
    /// §3): it registers one app, once, within `lifetime`. The token, shown
    /// this once (only its keyed hash is kept), and when it expires (ms).
    pub async fn mint_initial_token(
        &self,
        lifetime: std::time::Duration,
    ) -> Result<(String, i64), RegistryError> {
        let (token, hash) = self.initial_tokens.mint();
        let now = now_ms();
        let expires_at = now + crate::store::ms(lifetime);
        clients::insert_registration_token(&self.db, &hash, now, expires_at).await?;
        Ok((token, expires_at))
    }

    /// The hash of `token` when it is a live, unused initial access token.
    pub async fn live_initial_token(&self, token: &str) -> Result<Option<[u8; 32]>, RegistryError> {
        let hash = self.initial_tokens.hash(token);
        let live = clients::registration_token_live(&self.db, &hash, now_ms()).await?;
        Ok(live.then_some(hash))
    }

    /// Registers an app, recording who did it (`by`: an admin's id; `None`
    /// from the shell).
    pub async fn register(
        &self,
        registration: &Registration,
        origin: &Origin,
        by: Option<&str>,
    ) -> Result<Registered, RegistryError> {
        self.register_as(registration, origin, by, None).await
    }

    /// An app registers itself (RFC 7591) with the initial access token
    /// whose hash is `initial`: spent with the registration, in one
    /// transaction, so that of many registrations with one token one is
    /// made. The app gets a registration access token of its own.
    pub async fn register_itself(
        &self,
        registration: &Registration,
        origin: &Origin,
        initial: &[u8],
    ) -> Result<Registered, RegistryError> {
        self.register_as(registration, origin, None, Some(initial))
            .await
    }

    async fn register_as(
        &self,
        registration: &Registration,
        origin: &Origin,
        by: Option<&str>,
        initial: Option<&[u8]>,
    ) -> Result<Registered, RegistryError> {
        let checked = check(registration).map_err(RegistryError::Refused)?;
        let (registration_access_token, registration_access_hash) = match initial {
            Some(_) => {
                let (token, hash) = self.secrets.mint();
                (Some(token), Some(hash.to_vec()))
            }
            None => (None, None),
        };
        let (secret, hash) = if registration.public {
            (None, None)
        } else {
            let (secret, hash) = self.secrets.mint();
            // An app with a JWKS authenticates with its keys alone: its
            // secret is made (it is what makes the app confidential, and
            // numbers the tokens it gets for itself) but shown to nobody.
            let secret = Some(secret).filter(|_| checked.jwks_uri.is_none());
            (secret, Some(hash.to_vec()))
        };
        let client = ClientRow {
            // The client_id: 128 random bits.
            id: crate::auth::random_url_safe::<16>(),
            name: checked.name,
            secret_hash: hash,
            redirect_uris: checked.redirect_uris,
            post_logout_redirect_uris: checked.post_logout_redirect_uris,
            backchannel_logout_uri: checked.backchannel_logout_uri,
            scopes: checked.scopes,
            grant_types: checked.grant_types,
            trusted: registration.trusted,
            jwks_uri: checked.jwks_uri,
            created_at: now_ms(),
            secret_rotated_at: None,
            id_token_signed_response_alg: checked.id_token_signed_response_alg,
            require_par: checked.require_par,
            registration_access_hash,
        };
        let detail = format!(
            "{id} {name:?}: {kind}{trusted}{par}{dynamic}; scopes {scopes}; grants {grants}; redirect {uris}",
            id = client.id,
            name = client.name,
            kind = if registration.public {
                "public"
            } else {
                "confidential"
            },
            trusted = if client.trusted { ", trusted" } else { "" },
            par = if client.require_par { ", PAR only" } else { "" },
            dynamic = if initial.is_some() {
                ", registered itself"
            } else {
                ""
            },
            scopes = client.scopes,
            grants = client.grant_types,
            uris = if client.redirect_uris.is_empty() {
                "-"
            } else {
                &client.redirect_uris
            },
        );
        let event = about_app(EventKind::ClientAdded, origin, by, &detail);
        let now = now_ms();
        if !clients::insert(&self.db, &client, &event, initial.map(|hash| (hash, now))).await? {
            return Err(RegistryError::TokenNotLive);
        }
        tracing::info!(client_id = %client.id, by = ?by, public = registration.public, dynamic = initial.is_some(), "app registered");
        Ok(Registered {
            client,
            secret,
            registration_access_token,
        })
    }

    /// The app `id` whose registration access token is `token` (compared
    /// in constant time), if it registered itself.
    pub async fn registered_itself(
        &self,
        id: &str,
        token: &str,
    ) -> Result<Option<ClientRow>, RegistryError> {
        let Some(client) = clients::by_id(&self.db, id).await? else {
            return Ok(None);
        };
        let matches = client
            .registration_access_hash
            .as_deref()
            .is_some_and(|stored| self.secrets.matches(token, stored));
        Ok(matches.then_some(client))
    }

    /// A page of apps by `client_id`, after `after`, and whether there are more.
    pub async fn page(
        &self,
        limit: i64,
        after: Option<&str>,
    ) -> Result<(Vec<ClientRow>, bool), RegistryError> {
        Ok(clients::page(&self.db, limit, after).await?)
    }

    /// Replaces a confidential app's secret: the old one stops working at
    /// once. The new one is shown this once.
    pub async fn rotate_secret(
        &self,
        id: &str,
        origin: &Origin,
        by: Option<&str>,
    ) -> Result<String, RegistryError> {
        let Some(client) = clients::by_id(&self.db, id).await? else {
            return Err(RegistryError::Unknown(id.to_owned()));
        };
        let Some(old) = client.secret_hash.clone() else {
            return Err(RegistryError::Public(id.to_owned()));
        };
        if client.jwks_uri.is_some() {
            return Err(RegistryError::KeysOnly(id.to_owned()));
        }
        let (secret, hash) = self.secrets.mint();
        let event = about_app(EventKind::ClientSecretRotated, origin, by, id);
        // Only over the secret read above: of two replacements at once,
        // one wins and the other is told, rather than both being shown a
        // secret of which only the last works.
        let old_sid = super::scopes::own_sid(&client);
        if !clients::set_secret(&self.db, id, (&old, &hash), &old_sid, &event).await? {
            return Err(match clients::by_id(&self.db, id).await? {
                None => RegistryError::Unknown(id.to_owned()),
                Some(_) => RegistryError::ChangedMeanwhile(id.to_owned()),
            });
        }
        tracing::info!(client_id = %id, by = ?by, "app secret replaced");
        Ok(secret)
    }

    /// Removes an app: every grant it holds ends, and the tokens it got
    /// for itself (a replaced secret's ended with it). Returns the `sid`s
    /// that ended (for this instance's
    /// revocation set; the others learn of them by their poll).
    pub async fn remove(
        &self,
        id: &str,
        origin: &Origin,
        by: Option<&str>,
    ) -> Result<Vec<String>, RegistryError> {
        let Some(client) = clients::by_id(&self.db, id).await? else {
            return Err(RegistryError::Unknown(id.to_owned()));
        };
        let detail = format!("{id} {:?}; redirect {}", client.name, client.redirect_uris);
        let event = about_app(EventKind::ClientRemoved, origin, by, &detail);
        let own_sid = super::scopes::own_sid(&client);
        let Some(mut ended) = clients::remove(&self.db, id, &own_sid, &event).await? else {
            return Err(RegistryError::Unknown(id.to_owned()));
        };
        tracing::info!(client_id = %id, by = ?by, "app removed");
        ended.push(own_sid);
        Ok(ended)
    }
}

/// An event about an app, by admin `by` (or the shell).
fn about_app<'a>(
    kind: EventKind,
    origin: &'a Origin,
    by: Option<&'a str>,
    detail: &'a str,
) -> Event<'a> {
    Event {
        kind,
        at: now_ms(),
        user_id: None,
        actor_id: by,
        session_id: None,
        detail: Some(detail),
        origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_matches_exactly_but_for_a_loopback_ip_port() {
        let cb = "https://library.example/cb";
        assert!(redirect_matches(cb, cb));
        for other in [
            "https://library.example/cb/",
            "https://library.example/cb?x",
            "https://library.example/CB",
            "https://library.example:443/cb",
            "https://library.example:8443/cb",
        ] {
            assert!(!redirect_matches(cb, other), "{other}");
        }
        let native = "http://127.0.0.1/cb";
        assert!(redirect_matches(native, "http://127.0.0.1:51004/cb"));
        assert!(redirect_matches(
            "http://[::1]:8080/cb",
            "http://[::1]:9/cb"
        ));
        assert!(
            !redirect_matches(native, "http://127.0.0.2:51004/cb"),
            "another host"
        );
        assert!(!redirect_matches(native, "http://127.0.0.1:51004/cb/x"));
        assert!(!redirect_matches(native, "http://127.0.0.1:51004/cb#f"));
        assert!(
            !redirect_matches("http://localhost/cb", "http://localhost:51004/cb"),
            "a name, not an address"
        );
    }

    fn app(redirect_uris: &[&str]) -> Registration {
        Registration {
            name: "Library".into(),
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            ..Registration::default()
        }
    }

    #[test]
    fn id_tokens_are_signed_in_rs256_unless_the_app_asks_for_eddsa_or_es256() {
        let checked = check(&app(&["https://library.example/cb"])).unwrap();
        assert_eq!(checked.id_token_signed_response_alg, "RS256");
        for alg in ["EdDSA", "ES256", "RS256"] {
            let asked = Registration {
                id_token_signed_response_alg: Some(alg.into()),
                ..app(&["https://library.example/cb"])
            };
            assert_eq!(check(&asked).unwrap().id_token_signed_response_alg, alg);
        }
        for alg in ["HS256", "none", "rs256", ""] {
            let asked = Registration {
                id_token_signed_response_alg: Some(alg.into()),
                ..app(&["https://library.example/cb"])
            };
            let refused = check(&asked).unwrap_err();
            assert!(
                refused
                    .iter()
                    .any(|r| r.field == "id_token_signed_response_alg"),
                "{alg}: {refused:?}"
            );
        }
    }

    #[test]
    fn redirect_uris_are_https_loopback_http_or_a_private_use_scheme() {
        for good in [
            "https://library.example/callback",
            "https://library.example/callback?from=board",
            "http://localhost:8080/cb",
            "http://127.0.0.1:9000/cb",
            "http://[::1]/cb",
            "com.example.library:/callback",
        ] {
            assert_eq!(redirect_uri(good), Ok(()), "{good}");
        }
        for bad in [
            "http://library.example/callback",
            "https://library.example/callback#top",
            "https://user:pw@library.example/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "library/callback",
            "https://library.example/a b",
            "https://library.example/\u{0}",
            "HTTPS://Library.Example/cb",
            "https://library.example",
            "com.example.library:callback",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad} was accepted");
        }
        let long = format!("https://library.example/{}", "a".repeat(MAX_URI));
        assert!(redirect_uri(&long).is_err());
    }

    #[test]
    fn a_registration_is_refused_with_every_reason_at_once() {
        let refused = check(&Registration {
            name: " ".into(),
            redirect_uris: vec!["http://library.example/cb".into()],
            scopes: vec!["openid".into(), "admin".into()],
            grant_types: vec!["password".into()],
            public: true,
            jwks_uri: Some("https://library.example/jwks".into()),
            ..Registration::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = refused.iter().map(|r| r.field).collect();
        for field in ["name", "redirect_uris", "scopes", "grant_types", "jwks_uri"] {
            assert!(fields.contains(&field), "{field} not refused: {refused:#?}");
        }
    }

    #[test]
    fn a_public_app_is_not_trusted_and_a_name_hides_nothing() {
        let phone = Registration {
            public: true,
            trusted: true,
            ..app(&["com.example.board:/cb"])
        };
        assert_eq!(check(&phone).unwrap_err()[0].field, "trusted");
        for name in [
            "Library\u{202E}yrarbil",
            "Lib\u{200B}rary",
            "Lib\u{2028}rary",
            "\u{FEFF}Library",
        ] {
            let named = Registration {
                name: name.into(),
                ..app(&["https://a.example/cb"])
            };
            assert_eq!(
                check(&named).unwrap_err()[0].issue,
                Issue::InvalidCharacters,
                "{name:?}"
            );
        }
        let many = Registration {
            scopes: vec!["openid".into(); 1000],
            ..app(&["https://a.example/cb"])
        };
        let refused = check(&many).unwrap_err();
        assert_eq!((refused.len(), refused[0].issue), (1, Issue::TooLong));
    }

    #[test]
    fn defaults_fill_in_and_repeats_go() {
        let checked = check(&app(&["https://a.example/cb", "https://a.example/cb"])).unwrap();
        assert_eq!(checked.redirect_uris, "https://a.example/cb");
        assert_eq!(checked.scopes, DEFAULT_SCOPES);
        assert_eq!(checked.grant_types, "authorization_code refresh_token");
    }

    #[test]
    fn an_app_that_signs_people_in_needs_a_redirect_uri_and_a_public_one_no_secret_grant() {
        assert!(check(&app(&[])).is_err());
        let service = Registration {
            name: "Timetable sync".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["grades:read".into()],
            ..Registration::default()
        };
        assert!(check(&service).is_ok(), "a service needs no redirect URI");
        let public = Registration {
            public: true,
            ..service
        };
        assert!(check(&public).is_err());
    }

    #[test]
    fn a_secret_matches_only_itself_and_is_not_stored_readable() {
        let secrets = Secrets::new(b"server secret");
        let (secret, hash) = secrets.mint();
        assert_eq!(secret.len(), 43);
        assert!(secrets.matches(&secret, &hash));
        assert!(!secrets.matches(&format!("{secret}x"), &hash));
        assert!(!secrets.matches("", &hash));
        assert_ne!(hash.as_slice(), secret.as_bytes());
        let other = Secrets::new(b"another server secret");
        assert!(!other.matches(&secret, &hash));
    }
}
