//! Configuration, read once from the environment at start-up. Every variable
//! has a working default, so the server starts with none set; a value that is
//! set but wrong stops start-up with one line naming the variable.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;

/// Shortest accepted HMAC secret, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Everything the server needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://…` (the file and its folder are created) or
    /// `postgres://…` (a database several instances share).
    pub database_url: DatabaseUrl,
    /// `DATA_DIR`: where generated secrets are kept.
    pub data_dir: PathBuf,
    /// `JWT_SECRET`: when unset, one is generated and kept in `data_dir/jwt_secret`.
    pub jwt_secret: Option<SecretString>,
    /// `JWT_ALG`
    pub jwt_alg: JwtAlg,
    /// `JWT_PRIVATE_KEY_FILE`: the PEM RSA private key for `RS256`.
    pub jwt_private_key_file: Option<PathBuf>,
    /// `ACCESS_TOKEN_TTL`
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL`: idle lifetime of a refresh token.
    pub refresh_token_ttl: Duration,
    /// `REFRESH_REUSE_GRACE`
    pub refresh_reuse_grace: Duration,
    /// `TRUST_FORWARDED_FOR`: take the client IP from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// The abuse limits of the contract.
    pub limits: Limits,
    /// `KEY_PUBLISH_LEAD`: how long a new asymmetric signing key is in JWKS
    /// before it signs.
    pub key_publish_lead: Duration,
    /// `KEY_ROTATION_INTERVAL`: rotate signing keys automatically this often
    /// (off when unset).
    pub key_rotation_interval: Option<Duration>,
    /// `AUDIT_RETENTION`: security events older than this are deleted.
    pub audit_retention: Duration,
    /// `REAUTH_WINDOW`: how long a session that proved presence counts as
    /// proven (admin actions, and account changes without a proof).
    pub reauth_window: Duration,
    /// `RESPONSE_WRITE_TIMEOUT`: a response not written by then ends its
    /// connection (a client that stops reading cannot hold a slot).
    pub response_write_timeout: Duration,
    /// `PASSWORD_HASH_QUEUE`: how many password hashes may wait for a hashing
    /// thread; beyond that, requests that need one get `503`.
    pub password_hash_queue: usize,
    /// `LEPTOS_SITE_ADDR`: the listen address.
    pub site_addr: SocketAddr,
    /// `PUBLIC_URL`: the site's address as browsers see it; the passkeys'
    /// relying party (its host is the relying party id, the whole origin is
    /// what browsers sign). Unset: `http://localhost:<port listened on>`
    /// (browsers refuse an IP address as a relying party id).
    pub public_url: Option<url::Url>,
    /// `ISSUER`: the OpenID issuer the apps' tokens name. Unset: the public
    /// URL without its trailing slash.
    pub issuer: Option<url::Url>,
    /// `AUTHORIZATION_CODE_TTL`: how long an authorization code may be
    /// exchanged.
    pub authorization_code_ttl: Duration,
    /// `ALLOW_LOOPBACK_CALLS`: whether the server may call an app's
    /// back-channel logout address or JWKS on this machine's loopback
    /// (development and tests); private and reserved addresses never.
    pub allow_loopback_calls: bool,
    /// `DYNAMIC_REGISTRATION`: `off` (the default), or `token`: apps may
    /// register themselves (RFC 7591) with an initial access token from
    /// `server clients registration-token`.
    pub dynamic_registration: bool,
    /// `FIRST_PARTY_DPOP`: `preferred` (the default): the board's own pages
    /// bind their sessions to a DPoP key when the browser can keep one, and
    /// fall back to bearer tokens when it cannot; `required`: a sign-in or
    /// refresh of the board without a DPoP proof is refused.
    pub first_party_dpop_required: bool,
    /// `SMTP_URL`: where mail goes (`smtp://host:port` plain, `?tls=required`
    /// for STARTTLS, `smtps://` for implicit TLS; user and password in the
    /// URL). Unset: each message is written into `data_dir/outbox/`.
    pub smtp_url: Option<SecretString>,
    /// `SMS_URL`: `twilio://SID:TOKEN@HOST?from=NUMBER`, a Twilio-compatible
    /// Messages API that texts go through. Unset: each text is written into
    /// `data_dir/sms/`.
    pub sms_url: Option<SmsUrl>,
    /// `SMS_ALLOWED_COUNTRIES`: the calling codes (`33,44,49`) whose numbers
    /// may be added. Unset: every country while texts go to the folder, none
    /// once `SMS_URL` is set (SMS toll fraud is paid by the sender).
    pub sms_allowed_countries: Option<Vec<u16>>,
    /// `SMS_SECOND_FACTOR`: `on` (the default) or `off`: no phone may be
    /// added, and a confirmed one is no second factor.
    pub sms_second_factor: bool,
    /// `CORS_ALLOWED_ORIGINS`: origins (`https://app.example.org`, comma
    /// separated) whose pages may call the API, and whose cookie-carrying
    /// requests pass the origin check. Empty: none.
    pub cors_allowed_origins: Vec<String>,
    /// `METRICS_ADDR`: where Prometheus metrics are served (`/metrics`),
    /// never on the public port. Unset: no metrics.
    pub metrics_addr: Option<SocketAddr>,
    /// `LOG_FORMAT`: `text` (default) or `json`, one object per line. The
    /// logger reads it before the rest (see `telemetry::init`); it is here
    /// so that a wrong value stops start-up like any other.
    pub log_format: LogFormat,
    /// `MAIL_FROM`: the sender of every mail. Unset:
    /// `classboard <no-reply@PUBLIC_URL's host>`.
    pub mail_from: Option<String>,
    /// The remaining `LEPTOS_*` settings, normally set only by cargo-leptos.
    pub site: SiteConfig,
}

/// `SMS_URL`, read: where the Messages API is, the account and token it
/// is called with, and the sender number. Its `Debug` leaves out the token.
#[derive(Clone)]
pub struct SmsUrl {
    /// `https://HOST` (`http` on loopback only, for tests), no trailing
    /// slash.
    pub base: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The sender: an E.164 number, or a messaging service's id.
    pub from: String,
}

impl fmt::Debug for SmsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SmsUrl({} as {} from {})",
            self.base, self.account_sid, self.from
        )
    }
}

/// `twilio://SID:TOKEN@HOST[:PORT]?from=NUMBER`.
fn parse_sms_url(s: &str) -> Option<SmsUrl> {
    let url = url::Url::parse(s).ok()?;
    if url.scheme() != "twilio" || !url.path().trim_matches('/').is_empty() {
        return None;
    }
    let host = url.host()?;
    // `twilio:` is no special scheme: its host is read as text.
    let loopback = match &host {
        url::Host::Domain(name) => {
            *name == "localhost"
                || name
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .ok()
            .map(|decoded| decoded.into_owned())
            .filter(|decoded| !decoded.is_empty())
    };
    let account_sid = decode(url.username())?;
    let auth_token = decode(url.password()?)?;
    let from = url
        .query_pairs()
        .find(|(name, _)| name == "from")
        .map(|(_, value)| value.into_owned())
        .filter(|from| !from.is_empty())?;
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    let scheme = if loopback { "http" } else { "https" };
    Some(SmsUrl {
        base: format!("{scheme}://{host}{port}"),
        account_sid,
        auth_token: SecretString::from(auth_token),
        from,
    })
}

/// `SMS_ALLOWED_COUNTRIES`: calling codes, comma separated (`+` allowed);
/// empty: none.
fn parse_calling_codes(s: &str) -> Option<Vec<u16>> {
    s.split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(|code| {
            let code = code.strip_prefix('+').unwrap_or(code);
            (code.len() <= 3 && code.bytes().all(|b| b.is_ascii_digit()))
                .then(|| code.parse().ok())
                .flatten()
                .filter(|code| *code > 0)
        })
        .collect()
}

/// `DATABASE_URL`. Its `Debug` leaves out a password it may hold.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // scheme://user:password@host/… → scheme://user:…@host/…
        match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((user, host)) => {
                    let user = user.split_once(':').map_or(user, |(name, _)| name);
                    write!(f, "\"{scheme}://{user}:…@{host}\"")
                }
                None => write!(f, "{:?}", self.0),
            },
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// Where the compiled site lives and how Leptos should describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteConfig {
    /// `LEPTOS_OUTPUT_NAME`: stem of the generated `.js`, `.wasm` and `.css`.
    pub output_name: String,
    /// `LEPTOS_SITE_ROOT`
    pub site_root: String,
    /// `LEPTOS_SITE_PKG_DIR`
    pub site_pkg_dir: String,
    /// `LEPTOS_ENV`: `DEV` adds development helpers; default `PROD`.
    pub dev: bool,
    /// `LEPTOS_RELOAD_PORT`: used by `cargo leptos watch` only.
    pub reload_port: u32,
    /// `LEPTOS_HASH_FILES`: whether the build put content hashes in file names.
    pub hash_files: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Signing algorithm of access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlg {
    HS256,
    EdDSA,
    RS256,
    /// Only for the ID tokens of apps that register it; never `JWT_ALG`.
    ES256,
}

/// At most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

/// The abuse limits of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub login_failures_per_account_ip: RateLimit,
    pub login_failures_per_account: RateLimit,
    pub auth_requests_per_ip: RateLimit,
    pub signups_per_ip: RateLimit,
    pub posts_per_user: RateLimit,
    /// Wrong second-factor codes of one account, from anywhere; a right
    /// password does not give them back.
    pub second_factor_failures_per_account: RateLimit,
    /// Password-reset requests for one address (whether it has an account
    /// or not).
    pub password_resets_per_email: RateLimit,
    /// Password-reset requests from one network.
    pub password_resets_per_ip: RateLimit,
    /// Verification mails one account asks for (resend, address change).
    pub verification_mails_per_account: RateLimit,
    /// Sign-in codes asked for one address (whether it has an account or
    /// not).
    pub email_codes_per_address: RateLimit,
    /// Texts sent to one phone number, whichever account asked.
    pub sms_per_number: RateLimit,
    /// Texts sent to one phone number in a short burst (by default once per
    /// 30 seconds).
    pub sms_burst_per_number: RateLimit,
    /// Texts one account asked for.
    pub sms_per_account: RateLimit,
    /// Texts asked for from one network.
    pub sms_per_ip: RateLimit,
    /// Factor changes one account starts: TOTP enrolments, passkey
    /// registrations, re-authentication ceremonies (each writes a row).
    pub factor_changes_per_user: RateLimit,
    /// Refreshes of one app's grants from one network (an app's backend
    /// refreshes for every person who uses it).
    pub app_refreshes_per_ip: RateLimit,
}

impl Limits {
    /// The longest window of any limit: how long a counter must be kept.
    pub fn longest_window(&self) -> Duration {
        [
            self.login_failures_per_account_ip,
            self.login_failures_per_account,
            self.auth_requests_per_ip,
            self.signups_per_ip,
            self.posts_per_user,
            self.second_factor_failures_per_account,
            self.password_resets_per_email,
            self.password_resets_per_ip,
            self.verification_mails_per_account,
            self.email_codes_per_address,
            self.sms_per_number,
            self.sms_burst_per_number,
            self.sms_per_account,
            self.sms_per_ip,
            self.factor_changes_per_user,
            self.app_refreshes_per_ip,
        ]
        .iter()
        .map(|r| r.window)
        .max()
        .unwrap_or_default()
    }
}

/// A variable that is set but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads configuration through `lookup`, which returns a variable's value
    /// if set. Tests pass a map instead of touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let data_dir = PathBuf::from(env.get("DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = env
            .get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("app.db").display()));
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme))
        {
            return Err(ConfigError {
                var: "DATABASE_URL",
                reason: "expected sqlite://… or postgres://…".into(),
            });
        }

        let jwt_secret = match env.get("JWT_SECRET") {
            None => None,
            Some(s) if s.len() < MIN_SECRET_BYTES => {
                return Err(ConfigError {
                    var: "JWT_SECRET",
                    reason: format!("must be at least {MIN_SECRET_BYTES} bytes long"),
                });
            }
            Some(s) => Some(SecretString::from(s)),
        };

        let site = SiteConfig {
            output_name: env
                .get("LEPTOS_OUTPUT_NAME")
                .unwrap_or_else(|| "classboard".into()),
            site_root: env
                .get("LEPTOS_SITE_ROOT")
                .unwrap_or_else(|| "target/site".into()),
            site_pkg_dir: env
                .get("LEPTOS_SITE_PKG_DIR")
                .unwrap_or_else(|| "pkg".into()),
            dev: env.parse(
                "LEPTOS_ENV",
                false,
                |s| match s.to_ascii_lowercase().as_str() {
                    "dev" | "development" => Some(true),
                    "prod" | "production" => Some(false),
                    _ => None,
                },
                "DEV or PROD",
            )?,
            reload_port: env.parse(
                "LEPTOS_RELOAD_PORT",
                3001,
                |s| s.parse().ok(),
                "a port number",
            )?,
            hash_files: env.parse(
                "LEPTOS_HASH_FILES",
                hash_file_beside_binary(),
                parse_bool,
                "true or false",
            )?,
        };

        let site_addr = env.parse(
            "LEPTOS_SITE_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 3000)),
            |s| s.parse().ok(),
            "an address such as 127.0.0.1:3000",
        )?;
        Ok(Self {
            database_url: DatabaseUrl(database_url),
            data_dir,
            jwt_secret,
            jwt_alg: env.parse(
                "JWT_ALG",
                JwtAlg::HS256,
                |s| match s {
                    "HS256" => Some(JwtAlg::HS256),
                    "EdDSA" => Some(JwtAlg::EdDSA),
                    "RS256" => Some(JwtAlg::RS256),
                    _ => None,
                },
                "HS256, EdDSA or RS256",
            )?,
            jwt_private_key_file: env.get("JWT_PRIVATE_KEY_FILE").map(PathBuf::from),
            access_token_ttl: env.duration("ACCESS_TOKEN_TTL", "15m")?,
            refresh_token_ttl: env.duration("REFRESH_TOKEN_TTL", "7d")?,
            refresh_reuse_grace: env.duration("REFRESH_REUSE_GRACE", "10s")?,
            trust_forwarded_for: env.parse(
                "TRUST_FORWARDED_FOR",
                false,
                parse_bool,
                "true or false",
            )?,
            limits: Limits {
                login_failures_per_account_ip: env
                    .rate_limit("LOGIN_FAILURES_PER_ACCOUNT_IP", "5/15m")?,
                login_failures_per_account: env
                    .rate_limit("LOGIN_FAILURES_PER_ACCOUNT", "100/1h")?,
                auth_requests_per_ip: env.rate_limit("AUTH_REQUESTS_PER_IP", "150/5m")?,
                signups_per_ip: env.rate_limit("SIGNUPS_PER_IP", "30/5m")?,
                posts_per_user: env.rate_limit("POSTS_PER_USER", "30/10m")?,
                second_factor_failures_per_account: env
                    .rate_limit("SECOND_FACTOR_FAILURES_PER_ACCOUNT", "10/1h")?,
                password_resets_per_email: env.rate_limit("PASSWORD_RESETS_PER_EMAIL", "3/1h")?,
                password_resets_per_ip: env.rate_limit("PASSWORD_RESETS_PER_IP", "20/1h")?,
                verification_mails_per_account: env
                    .rate_limit("VERIFICATION_MAILS_PER_ACCOUNT", "5/1h")?,
                email_codes_per_address: env.rate_limit("EMAIL_CODES_PER_ADDRESS", "5/1h")?,
                sms_per_number: env.rate_limit("SMS_PER_NUMBER", "3/1h")?,
                sms_burst_per_number: env.rate_limit("SMS_BURST_PER_NUMBER", "1/30s")?,
                sms_per_account: env.rate_limit("SMS_PER_ACCOUNT", "10/1d")?,
                sms_per_ip: env.rate_limit("SMS_PER_IP", "20/1h")?,
                factor_changes_per_user: env.rate_limit("FACTOR_CHANGES_PER_USER", "20/1h")?,
                app_refreshes_per_ip: env.rate_limit("APP_REFRESHES_PER_IP", "6000/5m")?,
            },
            reauth_window: env.duration("REAUTH_WINDOW", "10m")?,
            response_write_timeout: env.duration("RESPONSE_WRITE_TIMEOUT", "30s")?,
            audit_retention: env.duration("AUDIT_RETENTION", "90d")?,
            key_publish_lead: env.parse(
                "KEY_PUBLISH_LEAD",
                Duration::from_secs(300),
                |s| humantime::parse_duration(s).ok(),
                "a duration such as 5m (0s to sign at once)",
            )?,
            key_rotation_interval: match env.get("KEY_ROTATION_INTERVAL") {
                None => None,
                Some(raw) if raw.trim().eq_ignore_ascii_case("off") => None,
                Some(_) => Some(env.duration("KEY_ROTATION_INTERVAL", "30d")?),
            },
            password_hash_queue: env.parse(
                "PASSWORD_HASH_QUEUE",
                32,
                |s| s.parse().ok(),
                "a whole number (hashes that may wait)",
            )?,
            public_url: env.parse(
                "PUBLIC_URL",
                None,
                |s| parse_public_url(s).map(Some),
                "an http(s) address with a host name, such as https://board.example",
            )?,
            issuer: env.parse(
                "ISSUER",
                None,
                |s| parse_issuer(s).map(Some),
                "an https address (http only on localhost) without query or fragment",
            )?,
            authorization_code_ttl: env.duration("AUTHORIZATION_CODE_TTL", "60s")?,
            allow_loopback_calls: env.parse(
                "ALLOW_LOOPBACK_CALLS",
                false,
                parse_bool,
                "true or false",
            )?,
            dynamic_registration: env.parse(
                "DYNAMIC_REGISTRATION",
                false,
                |s| match s {
                    "off" => Some(false),
                    "token" => Some(true),
                    _ => None,
                },
                "off or token",
            )?,
            first_party_dpop_required: env.parse(
                "FIRST_PARTY_DPOP",
                false,
                |s| match s {
                    "preferred" => Some(false),
                    "required" => Some(true),
                    _ => None,
                },
                "preferred or required",
            )?,
            smtp_url: env.get("SMTP_URL").map(SecretString::from),
            sms_url: match env.get("SMS_URL") {
                None => None,
                // Never echoed: it holds the provider's token.
                Some(raw) => Some(parse_sms_url(raw.trim()).ok_or_else(|| ConfigError {
                    var: "SMS_URL",
                    reason: "is not valid; expected twilio://ACCOUNT_SID:AUTH_TOKEN@HOST?from=NUMBER"
                        .into(),
                })?),
            },
            sms_allowed_countries: env.parse(
                "SMS_ALLOWED_COUNTRIES",
                None,
                |s| parse_calling_codes(s).map(Some),
                "calling codes such as 33,44,49, comma separated",
            )?,
            sms_second_factor: env.parse(
                "SMS_SECOND_FACTOR",
                true,
                |s| match s {
                    "on" => Some(true),
                    "off" => Some(false),
                    _ => None,
                },
                "on or off",
            )?,
            cors_allowed_origins: env.parse(
                "CORS_ALLOWED_ORIGINS",
                Vec::new(),
                parse_origins,
                "origins such as https://app.example.org, comma separated",
            )?,
            metrics_addr: env.parse(
                "METRICS_ADDR",
                None,
                |s| s.parse().ok().map(Some),
                "an address such as 127.0.0.1:9100",
            )?,
            log_format: env.parse(
                "LOG_FORMAT",
                LogFormat::Text,
                LogFormat::parse,
                "text or json",
            )?,
            mail_from: env.get("MAIL_FROM"),
            site_addr,
            site,
        })
    }
}

/// Reads one variable at a time and turns failures into [`ConfigError`]s.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var)
    }

    fn parse<T>(
        &self,
        var: &'static str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => parse(raw.trim()).ok_or_else(|| ConfigError {
                var,
                reason: format!("{raw:?} is not valid; expected {expected}"),
            }),
        }
    }

    fn duration(&self, var: &'static str, default: &str) -> Result<Duration, ConfigError> {
        let default = parse_duration(default).expect("built-in default durations parse");
        self.parse(
            var,
            default,
            parse_duration,
            "a positive duration such as 30s, 15m or 7d",
        )
    }

    fn rate_limit(&self, var: &'static str, default: &str) -> Result<RateLimit, ConfigError> {
        let default = parse_rate_limit(default).expect("built-in default limits parse");
        self.parse(
            var,
            default,
            parse_rate_limit,
            "a limit such as 5/15m (count/duration)",
        )
    }
}

/// Whether the build that made this binary hashed the site's file names:
/// cargo-leptos then writes `hash.txt` beside the binary, which is where
/// Leptos looks for the names.
fn hash_file_beside_binary() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")))
        .is_some_and(|file| file.is_file())
}

/// `CORS_ALLOWED_ORIGINS`: each entry an origin exactly as browsers send it
/// (scheme, host and port when not the default; no path, no trailing slash).
fn parse_origins(s: &str) -> Option<Vec<String>> {
    s.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let url = url::Url::parse(entry).ok()?;
            let origin = url.origin().ascii_serialization();
            (matches!(url.scheme(), "http" | "https") && origin == entry).then_some(origin)
        })
        .collect()
}

/// `PUBLIC_URL`: http or https, a host name (not an IP address, which
/// browsers refuse as a relying party), nothing after the origin.
fn parse_public_url(raw: &str) -> Option<url::Url> {
    let url = url::Url::parse(raw).ok()?;
    let named = matches!(url.host(), Some(url::Host::Domain(_)));
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    (matches!(url.scheme(), "http" | "https") && named && bare).then_some(url)
}

/// `ISSUER`: https, or http on a loopback or `localhost` host (OpenID
/// Connect Discovery §3 asks for https), without query or fragment; a
/// trailing slash is dropped, as issuers are compared character for
/// character.
fn parse_issuer(raw: &str) -> Option<url::Url> {
    let url = url::Url::parse(raw.trim_end_matches('/')).ok()?;
    let local = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let scheme = url.scheme() == "https" || url.scheme() == "http" && local;
    let bare = url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    (scheme && bare).then_some(url)
}

/// Parses a positive duration written with a unit: `30s`, `15m`, `1h`, `7d`,
/// or combinations such as `1h 30m`. A bare number is rejected: `15` could
/// mean seconds or minutes, and guessing wrong would be a security bug.
pub fn parse_duration(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim())
        .ok()
        .filter(|d| !d.is_zero())
}

/// Parses `N/duration`, e.g. `5/15m`, with `N` ≥ 1.
pub fn parse_rate_limit(s: &str) -> Option<RateLimit> {
    let (max, window) = s.trim().split_once('/')?;
    let max = max.trim().parse::<u32>().ok().filter(|&n| n > 0)?;
    Some(RateLimit {
        max,
        window: parse_duration(window)?,
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

impl fmt::Display for JwtAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HS256 => "HS256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use secrecy::ExposeSecret;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn every_variable_has_a_working_default() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url.as_str(), "sqlite://data/app.db");
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert!(c.jwt_secret.is_none());
        assert_eq!(c.jwt_alg, JwtAlg::HS256);
        assert_eq!(c.access_token_ttl, Duration::from_secs(15 * 60));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(c.refresh_reuse_grace, Duration::from_secs(10));
        assert!(!c.trust_forwarded_for);
        assert_eq!(
            c.limits.login_failures_per_account_ip,
            RateLimit {
                max: 5,
                window: Duration::from_secs(900)
            }
        );
        assert_eq!(
            c.limits.login_failures_per_account,
            RateLimit {
                max: 100,
                window: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            c.limits.auth_requests_per_ip,
            RateLimit {
                max: 150,
                window: Duration::from_secs(300)
            }
        );
        assert_eq!(
            c.limits.signups_per_ip,
            RateLimit {
                max: 30,
                window: Duration::from_secs(300)
            }
        );
        assert_eq!(
            c.limits.password_resets_per_email,
            RateLimit {
                max: 3,
                window: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            c.limits.posts_per_user,
            RateLimit {
                max: 30,
                window: Duration::from_secs(600)
            }
        );
        assert_eq!(c.password_hash_queue, 32);
        assert_eq!(c.key_publish_lead, Duration::from_secs(300));
        assert_eq!(c.key_rotation_interval, None);
        assert_eq!(c.site_addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(c.public_url, None);
        assert_eq!(c.site.output_name, "classboard");
        assert_eq!(c.site.site_root, "target/site");
        assert!(!c.site.dev);
    }

    #[test]
    fn cors_origins_are_origins_exactly_as_browsers_send_them() {
        assert_eq!(
            parse_origins("https://app.example.org, http://localhost:5173"),
            Some(vec![
                "https://app.example.org".into(),
                "http://localhost:5173".into()
            ])
        );
        assert_eq!(parse_origins(""), Some(vec![]));
        for bad in [
            "https://app.example.org/",
            "https://app.example.org/path",
            "https://app.example.org:443",
            "app.example.org",
            "*",
            "ftp://files.example.org",
        ] {
            assert_eq!(parse_origins(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_accept_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration(" 1h 30m "), Some(Duration::from_secs(5400)));
    }

    #[test]
    fn durations_without_unit_zero_or_garbage_are_rejected() {
        for bad in [
            "",
            "15",
            "0s",
            "-5m",
            "m",
            "15 minutes ago",
            "1.5.2h",
            "abc",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn a_bad_duration_names_its_variable() {
        let err = config(&[("ACCESS_TOKEN_TTL", "fifteen")]).unwrap_err();
        assert_eq!(err.var, "ACCESS_TOKEN_TTL");
        assert!(
            err.to_string()
                .starts_with("ACCESS_TOKEN_TTL: \"fifteen\" is not valid")
        );
    }

    #[test]
    fn configured_durations_override_defaults() {
        let c = config(&[
            ("ACCESS_TOKEN_TTL", "3s"),
            ("REFRESH_TOKEN_TTL", "30d"),
            ("REFRESH_REUSE_GRACE", "2s"),
        ])
        .unwrap();
        assert_eq!(c.access_token_ttl, Duration::from_secs(3));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.refresh_reuse_grace, Duration::from_secs(2));
    }

    #[test]
    fn a_wrong_sms_url_is_refused_without_its_token() {
        let error = Config::from_lookup(|k| {
            (k == "SMS_URL").then(|| "twilio://AC01:hunter2-token@api.twilio.com".to_owned())
        })
        .unwrap_err();
        assert_eq!(error.var, "SMS_URL");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn sms_urls_name_a_messages_api_and_hide_its_token() {
        let url =
            parse_sms_url("twilio://AC01:to%2Fken@api.twilio.com?from=%2B15005550006").unwrap();
        assert_eq!(url.base, "https://api.twilio.com");
        assert_eq!(url.account_sid, "AC01");
        assert_eq!(url.auth_token.expose_secret(), "to/ken");
        assert_eq!(url.from, "+15005550006");
        assert!(!format!("{url:?}").contains("to/ken"));
        for loopback in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"] {
            let url = parse_sms_url(&format!("twilio://AC01:t@{loopback}?from=MG01")).unwrap();
            assert_eq!(url.base, format!("http://{loopback}"), "{loopback}");
        }
        for bad in [
            "https://AC01:t@api.twilio.com?from=%2B1500",
            "twilio://AC01@api.twilio.com?from=%2B1500",
            "twilio://AC01:t@api.twilio.com",
            "twilio://AC01:t@api.twilio.com/path?from=%2B1500",
            "twilio://:t@api.twilio.com?from=%2B1500",
        ] {
            assert!(parse_sms_url(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_calling_codes("33, +44,49"), Some(vec![33, 44, 49]));
        assert_eq!(parse_calling_codes(""), Some(vec![]));
        for bad in ["33;44", "4444", "0", "x"] {
            assert_eq!(parse_calling_codes(bad), None, "{bad}");
        }
    }

    #[test]
    fn rate_limits_parse_count_and_window() {
        assert_eq!(
            parse_rate_limit("5/15m"),
            Some(RateLimit {
                max: 5,
                window: Duration::from_secs(900)
            })
        );
        for bad in [
            "5", "/15m", "0/15m", "-1/1m", "5/", "5/15", "five/1m", "5/0s",
        ] {
            assert_eq!(parse_rate_limit(bad), None, "{bad:?} should be rejected");
        }
        assert_eq!(
            config(&[("SIGNUPS_PER_IP", "10")]).unwrap_err().var,
            "SIGNUPS_PER_IP"
        );
    }

    #[test]
    fn a_short_jwt_secret_is_refused_without_echoing_it() {
        let err = config(&[("JWT_SECRET", "too-short-secret")]).unwrap_err();
        assert_eq!(err.var, "JWT_SECRET");
        assert!(!err.to_string().contains("too-short-secret"));
        let ok = config(&[("JWT_SECRET", &"k".repeat(32))]).unwrap();
        assert_eq!(ok.jwt_secret.as_ref().unwrap().expose_secret().len(), 32);
    }

    #[test]
    fn a_database_password_never_appears_in_debug_output() {
        let c = config(&[(
            "DATABASE_URL",
            "postgres://app:hunter2hunter2@db.internal:5432/board",
        )])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://app:…@db.internal:5432/board"),
            "{shown}"
        );
    }

    #[test]
    fn the_secret_never_appears_in_debug_output() {
        let secret = "s3cr3t-value-that-must-not-leak-0123456789";
        let c = config(&[("JWT_SECRET", secret)]).unwrap();
        assert!(!format!("{c:?}").contains(secret));
    }

    #[test]
    fn other_bad_values_name_their_variable() {
        for (var, value) in [
            ("JWT_ALG", "none"),
            ("JWT_ALG", "HS512"),
            ("LEPTOS_SITE_ADDR", "localhost"),
            ("TRUST_FORWARDED_FOR", "maybe"),
            ("LEPTOS_ENV", "staging"),
            ("DATABASE_URL", "mysql://db/app"),
            ("PUBLIC_URL", "http://127.0.0.1:3000"),
            ("PUBLIC_URL", "ftp://board.example"),
            ("PUBLIC_URL", "https://board.example/app"),
            ("PUBLIC_URL", "board.example"),
        ] {
            assert_eq!(config(&[(var, value)]).unwrap_err().var, var);
        }
    }

    #[test]
    fn public_url_is_an_origin_with_a_host_name() {
        let c = config(&[("PUBLIC_URL", "https://board.example")]).unwrap();
        assert_eq!(c.public_url.unwrap().host_str(), Some("board.example"));
        let c = config(&[("PUBLIC_URL", "http://localhost:8123/")]).unwrap();
        assert_eq!(c.public_url.unwrap().port(), Some(8123));
    }

    #[test]
    fn database_url_defaults_inside_data_dir() {
        let c = config(&[("DATA_DIR", "/tmp/x")]).unwrap();
        assert_eq!(c.database_url.as_str(), "sqlite:///tmp/x/app.db");
    }

    proptest! {
        #[test]
        fn any_positive_count_of_any_unit_parses_exactly(n in 1u64..100_000, unit in 0usize..4) {
            let (suffix, secs) = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)][unit];
            prop_assert_eq!(parse_duration(&format!("{n}{suffix}")), Some(Duration::from_secs(n * secs)));
        }

        #[test]
        fn bare_numbers_never_parse(n in any::<u64>()) {
            prop_assert_eq!(parse_duration(&n.to_string()), None);
        }

        #[test]
        fn duration_parser_never_panics(s in ".*") {
            let _ = parse_duration(&s);
            let _ = parse_rate_limit(&s);
        }

        #[test]
        fn rate_limit_round_trips(max in 1u32..1_000_000, mins in 1u64..10_000) {
            prop_assert_eq!(
                parse_rate_limit(&format!("{max}/{mins}m")),
                Some(RateLimit { max, window: Duration::from_secs(mins * 60) })
            );
        }
    }
}
