//! Building the application from a [`Config`] and serving it until a shutdown
//! signal. Tests use the same path with port 0 and a temporary database.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use app::{App, shell};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{AxumRouteListing, LeptosRoutes, file_and_error_handler, generate_route_list};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use crate::{
    Config,
    auth::{
        blocklist,
        dpop::Dpop,
        email_tokens::EmailTokens,
        jwt,
        keys::{FirstKey, KeyPolicy, KeyRing, RingError},
        limits::Limiter,
        mfa::SecondFactors,
        passkeys::Passkeys,
        password::{HashError, Hasher},
        proof::Prover,
        revocation::Revocations,
        sessions::{self, Policy, Sessions},
    },
    config::{JwtAlg, SiteConfig},
    mail::{Mailer, Transport},
    outbound::Outbound,
    profiles,
    provider::{
        authorization::Authorizations,
        clients::Registry,
        device::Devices,
        logout::{BackchannelSender, EndSessions},
        tokens::TokenIssuer,
    },
    secret,
    sms::Texter,
    state::{AppState, Shared},
    store, telemetry,
};

/// Why the server could not start. Each message is one line naming the cause.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("DATA_DIR: {0}")]
    DataDir(#[from] crate::files::FileError),
    #[error(transparent)]
    Database(#[from] store::DbError),
    #[error("JWT_SECRET: {0}")]
    Secret(#[from] secret::SecretError),
    #[error("JWT_ALG={alg}: {source}")]
    Key { alg: JwtAlg, source: jwt::KeyError },
    #[error("signing keys: {0}")]
    Ring(#[from] RingError),
    #[error("password hashing: {0}")]
    Hasher(#[from] HashError),
    #[error("cannot load revoked sessions: {0}")]
    Revocations(sqlx::Error),
    #[error("cannot read the database's settings: {0}")]
    Settings(sqlx::Error),
    #[error("PUBLIC_URL: cannot be a passkey relying party: {0}")]
    RelyingParty(crate::auth::passkeys::PasskeyError),
    #[error("mail: {0}")]
    Mail(crate::mail::MailError),
    #[error("texts: {0}")]
    Sms(crate::sms::SmsError),
    #[error(
        "ALLOW_LOOPBACK_CALLS=true is for a server that is itself on loopback (development, \
         tests), but the issuer is {0}"
    )]
    LoopbackCalls(String),
    #[error("METRICS_ADDR: cannot listen on {addr}: {source}")]
    BindMetrics {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("LEPTOS_SITE_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// `METRICS_ADDR`'s listener, when metrics are on.
    metrics: Option<TcpListener>,
}

impl Application {
    /// Opens (and migrates) the database, loads the signing secret and binds
    /// the listener. Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        crate::files::data_dir(&config.data_dir)?;
        let db = store::Db::connect(config.database_url.as_str()).await?;
        let secret = server_secret(&config)?;
        let ring = open_key_ring(&config, db.clone(), &secret).await?;
        let keys = ring.keys();
        Arc::new(ring).spawn();
        let hasher = Hasher::for_this_machine(config.password_hash_queue)?;
        blocklist::preload();
        let sessions = Sessions::new(
            db.clone(),
            Policy {
                idle: config.refresh_token_ttl,
                absolute: sessions::ABSOLUTE_LIFETIME,
                grace: config.refresh_reuse_grace,
                sms: config.sms_second_factor,
            },
            secret.expose_secret().as_bytes(),
        )
        .accepting_untagged_tokens()
        .await
        .map_err(StartupError::Settings)?;
        let revocations = Revocations::new(config.access_token_ttl);
        revocations
            .clone()
            .start(db.clone())
            .await
            .map_err(StartupError::Revocations)?;
        let limiter = Limiter::new(db.clone(), secret.expose_secret().as_bytes());
        let second_factors = SecondFactors::new(
            db.clone(),
            secret.expose_secret().as_bytes(),
            config.sms_second_factor,
        );
        spawn_pruning(limiter.clone(), db.clone(), &config);
        let listener = TcpListener::bind(config.site_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.site_addr,
                source,
            })?;
        let bound = listener.local_addr().unwrap_or(config.site_addr);
        let metrics = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::BindMetrics { addr, source })?,
            ),
            None => None,
        };
        let leptos_options = leptos_options(&config.site, bound);
        let public_url = config.public_url.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://localhost:{}", bound.port())).expect("a valid URL")
        });
        let passkeys = Passkeys::new(db.clone(), &public_url, secret.expose_secret().as_bytes())
            .map_err(StartupError::RelyingParty)?;
        let mailer = Mailer::new(
            db.clone(),
            secret.expose_secret().as_bytes(),
            &config,
            &public_url,
        )
        .map_err(StartupError::Mail)?;
        mailer.spawn_sender(Transport::from_config(&config).map_err(StartupError::Mail)?);
        let texter = Texter::new(db.clone(), secret.expose_secret().as_bytes(), &public_url);
        texter
            .spawn_sender(crate::sms::Transport::from_config(&config).map_err(StartupError::Sms)?);
        let email_tokens = EmailTokens::new(secret.expose_secret().as_bytes());
        let clients = Registry::new(db.clone(), secret.expose_secret().as_bytes());
        let issuer = issuer(config.issuer.as_ref().unwrap_or(&public_url));
        keys.set_app_issuer(&issuer);
        let authorizations =
            Authorizations::new(db.clone(), &issuer, config.authorization_code_ttl);
        let grants = Sessions::for_apps(
            db.clone(),
            sessions.policy(),
            secret.expose_secret().as_bytes(),
        );
        // Loopback calls let any registered app reach this machine's other
        // services: only where the server itself is a developer's.
        if config.allow_loopback_calls && !crate::outbound::is_loopback_url(&issuer) {
            return Err(StartupError::LoopbackCalls(issuer));
        }
        let outbound = Outbound::new(config.allow_loopback_calls);
        let tokens = TokenIssuer::new(
            db.clone(),
            keys.clone(),
            &issuer,
            secret.expose_secret().as_bytes(),
            (grants, config.limits.app_refreshes_per_ip),
            revocations.clone(),
            outbound.clone(),
        );
        let end_sessions =
            EndSessions::new(db.clone(), keys.clone(), secret.expose_secret().as_bytes());
        let devices = Devices::new(db.clone(), &issuer, secret.expose_secret().as_bytes());
        // A proof's `htu` is the issuer's address or the public one: what
        // apps and pages call, whatever a proxy in front says.
        let dpop = Dpop::new(
            db.clone(),
            secret.expose_secret().as_bytes(),
            &[
                &url::Url::parse(&issuer).expect("the issuer is a URL"),
                &public_url,
            ],
        );
        BackchannelSender::new(db.clone(), keys.clone(), &issuer, outbound).spawn();
        let proof = Prover::new(
            db.clone(),
            (second_factors.clone(), passkeys.clone()),
            (limiter.clone(), hasher.clone()),
            crate::auth::limits::FailureLimits::of(&config.limits),
            config.reauth_window,
        );

        let state = AppState::new(Shared {
            db,
            leptos_options,
            config: Arc::new(config),
            keys,
            hasher,
            sessions,
            revocations,
            limiter,
            profiles: profiles::Profiles::default(),
            second_factors,
            passkeys,
            proof,
            mailer,
            texter,
            email_tokens,
            clients,
            authorizations,
            tokens,
            end_sessions,
            dpop,
            devices,
        });
        Ok(Self {
            listener,
            router: router(state.clone()),
            state,
            metrics,
        })
    }

    /// The shared state, for tests that look inside.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where metrics are served, when they are (`METRICS_ADDR`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves requests until `shutdown` completes, then lets requests in
    /// flight finish. Metrics, when on, are served beside, until the
    /// process ends.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some(listener) = self.metrics {
            let metrics = crate::metrics::router(self.state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, metrics).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        let write_timeout = self.state.config.response_write_timeout;
        crate::serve::serve(self.listener, self.router, write_timeout, shutdown).await
    }
}

fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    let routes = route_list();
    let board: app::board::SharedBoard = Arc::new(crate::api::posts::DbBoard(state.db.clone()));

    let metrics_on = state.config.metrics_addr.is_some();
    let (api, _) = crate::api::router();
    let proof_base: Arc<str> = state.dpop.page_base().into();
    let fallback_base = proof_base.clone();
    let routes = api
        .route(&app::dpop::script_path(), axum::routing::get(dpop_script))
        .leptos_routes_with_context(
            &state,
            routes,
            move || leptos::prelude::provide_context(board.clone()),
            move || page_shell(leptos_options.clone(), proof_base.clone()),
        )
        .fallback(file_and_error_handler::<AppState, _>(move |options| {
            page_shell(options, fallback_base.clone())
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::api::app_requests::fresh_nonce,
        ))
        .layer(crate::headers::HeadersLayer::new(
            state.config.trust_forwarded_for,
        ));
    // Counting costs a few allocations per request: only when metrics are on.
    let routes = if metrics_on {
        routes.layer(axum::middleware::from_fn(crate::metrics::track_requests))
    } else {
        routes
    };
    let routes = match cors(&state.config.cors_allowed_origins) {
        Some(cors) => {
            let listed: Arc<[String]> = state.config.cors_allowed_origins.clone().into();
            routes
                .layer(cors)
                .layer(axum::middleware::from_fn(move |request, next| {
                    cors_for_listed_only(listed.clone(), request, next)
                }))
        }
        None => routes,
    };
    routes.layer(telemetry::trace_layer()).with_state(state)
}

/// The pages' DPoP script (`app/js/dpop.js`), which the server keeps in
/// memory rather than the build in `pkg/`: it is part of the app's code, so
/// every way of building and running the app serves it. Its full-line
/// comments are dropped and it is compressed once, brotli at its highest
/// level and gzip, like the site's files; `HeadersLayer` adds their cache
/// headers (its name carries its hash).
async fn dpop_script(headers: http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::header;

    struct Script {
        plain: Vec<u8>,
        brotli: Vec<u8>,
        gzip: Vec<u8>,
    }
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        let plain: String = app::dpop::SCRIPT
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .flat_map(|line| [line, "\n"])
            .collect();
        let plain = plain.into_bytes();
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            ..Default::default()
        };
        let compressed = brotli::BrotliCompress(&mut &plain[..], &mut brotli, &params);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzipped = std::io::Write::write_all(&mut gzip, &plain).and_then(|()| gzip.finish());
        // Writing to memory cannot fail; sent plain if it did.
        Script {
            brotli: compressed.map_or_else(|_| Vec::new(), |_| brotli),
            gzip: gzipped.unwrap_or_default(),
            plain,
        }
    });
    let accepts = |coding: &str| {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|offer| {
                let mut parts = offer.split(';').map(str::trim);
                // Named, and not refused with `q=0`.
                parts
                    .next()
                    .is_some_and(|name| name.eq_ignore_ascii_case(coding))
                    && parts.all(|param| match param.split_once('=') {
                        Some((q, weight)) if q.trim() == "q" => {
                            weight.trim().parse::<f32>().is_ok_and(|w| w > 0.0)
                        }
                        _ => true,
                    })
            })
    };
    let (body, coding) = if !script.brotli.is_empty() && accepts("br") {
        (&script.brotli, Some("br"))
    } else if !script.gzip.is_empty() && accepts("gzip") {
        (&script.gzip, Some("gzip"))
    } else {
        (&script.plain, None)
    };
    let mut response = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body.clone(),
    )
        .into_response();
    if let Some(coding) = coding {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            http::HeaderValue::from_static(coding),
        );
    }
    response
}

/// Cross-origin access for the pages of `origins` (`CORS_ALLOWED_ORIGINS`):
/// preflights answered, the bearer header, DPoP proofs and JSON bodies
/// allowed, the headers a client reads on refusals (`WWW-Authenticate`,
/// `Retry-After`, `DPoP-Nonce`) exposed, and credentials allowed, for a site whose pages share the
/// cookie's site. Any other origin gets no CORS header. `None` for none.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use http::{HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};

    use crate::error::DPOP_NONCE;
    const DPOP: header::HeaderName = header::HeaderName::from_static("dpop");
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, DPOP])
            .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER, DPOP_NONCE])
            .allow_credentials(true)
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Takes every CORS header off the answers to an origin that is not listed:
/// tower-http's layer names the allowed methods, headers and credentials to
/// anyone who asks, and the contract gives other origins no CORS header at
/// all.
async fn cors_for_listed_only(
    listed: Arc<[String]>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let allowed = request
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| listed.iter().any(|l| l == o));
    let mut response = next.run(request).await;
    if !allowed {
        let headers = response.headers_mut();
        let cors: Vec<_> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            headers.remove(name);
        }
    }
    response
}

/// The app's page routes, found once per process and then shared by every
/// router built in it.
///
/// Finding them renders the app once with resource loading switched off, and
/// Leptos switches it off for the whole process (a global flag in
/// `leptos_server`). A page render whose resource first runs inside that
/// window waits forever: Leptos issue 4773, still open in 0.8.23. A server
/// finds its routes before it serves, so one server alone never meets it;
/// but a process that starts a second server while the first serves (every
/// integration test does) would hang a page now and then. Once per process
/// leaves no window after the first router exists.
pub fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The app's HTML shell, plus the page's Content-Security-Policy. Leptos
/// gives each render a fresh nonce and puts it on the hydration script, so
/// that script is the only inline one the policy admits.
/// A page: the app in its document, with the page's security policy, and
/// `proof_base` (the public address the pages' DPoP proofs name).
fn page_shell(options: LeptosOptions, proof_base: Arc<str>) -> impl leptos::IntoView {
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    shell(options, proof_base.to_string())
}

/// The policy of every page: only this origin's files, the nonce'd
/// hydration script, WebAssembly compilation, and no framing.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Leptos's options with this project's defaults in code, so the release
/// binary runs from the repository root with no `LEPTOS_*` variables;
/// cargo-leptos still overrides them through the environment.
fn leptos_options(site: &SiteConfig, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(site.output_name.as_str())
        .site_root(site.site_root.as_str())
        .site_pkg_dir(site.site_pkg_dir.as_str())
        .env(if site.dev {
            leptos::config::Env::DEV
        } else {
            leptos::config::Env::PROD
        })
        .site_addr(addr)
        .reload_port(site.reload_port)
        .hash_files(site.hash_files)
        .build()
}

/// The server secret: `JWT_SECRET`, or the one generated into the data folder.
pub fn server_secret(config: &Config) -> Result<SecretString, StartupError> {
    Ok(match &config.jwt_secret {
        Some(secret) => secret.clone(),
        None => secret::load_or_create(&config.data_dir)?,
    })
}

/// The server secret as [`server_secret`] finds it, but never a new one
/// (see `secret::load`).
pub fn existing_server_secret(config: &Config) -> Result<SecretString, StartupError> {
    Ok(match &config.jwt_secret {
        Some(secret) => secret.clone(),
        None => secret::load(&config.data_dir)?,
    })
}

/// The ring of signing keys on `db`, as configured.
pub async fn open_key_ring(
    config: &Config,
    db: store::Db,
    secret: &SecretString,
) -> Result<KeyRing, StartupError> {
    Ok(KeyRing::open(
        db,
        secret.expose_secret().as_bytes(),
        KeyPolicy {
            alg: config.jwt_alg,
            lead: config.key_publish_lead,
            rotation: config.key_rotation_interval,
            access_ttl: config.access_token_ttl,
        },
        first_key(config, secret)?,
    )
    .await?)
}

/// The key the ring of signing keys begins with when it is empty: the one
/// this server signed with before the ring existed (the secret for HS256,
/// the kept Ed25519 key, `JWT_PRIVATE_KEY_FILE`), so tokens it signed keep
/// verifying; or a new one.
fn first_key(config: &Config, secret: &SecretString) -> Result<FirstKey, StartupError> {
    let key_error = |source| StartupError::Key {
        alg: config.jwt_alg,
        source,
    };
    Ok(match config.jwt_alg {
        JwtAlg::HS256 => FirstKey::Secret(secret.expose_secret().as_bytes().to_vec()),
        JwtAlg::EdDSA => {
            let kept = config.data_dir.join("jwt_ed25519.pem");
            match jwt::kept_ed25519(&kept).map_err(key_error)? {
                Some(pem) => FirstKey::Pem(JwtAlg::EdDSA, pem),
                None => FirstKey::New(JwtAlg::EdDSA),
            }
        }
        JwtAlg::RS256 => match &config.jwt_private_key_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|source| {
                    key_error(jwt::KeyError::Io {
                        path: path.display().to_string(),
                        source,
                    })
                })?;
                FirstKey::Pem(JwtAlg::RS256, pem)
            }
            None => FirstKey::New(JwtAlg::RS256),
        },
        // `JWT_ALG` never names it (it is for apps' ID tokens only).
        JwtAlg::ES256 => FirstKey::New(JwtAlg::ES256),
    })
}

/// Once a minute, deletes rate-limit counters of windows that have ended,
/// sessions that ended more than an hour after the last of their access
/// tokens could expire (revocation no longer needs them; their spent refresh
/// tokens go too), and security events older than `AUDIT_RETENTION`.
/// The issuer as apps compare it: the address without a trailing slash.
fn issuer(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

fn spawn_pruning(limiter: Limiter, db: store::Db, config: &Config) {
    let longest = config.limits.longest_window();
    let sessions_kept = config.access_token_ttl
        + std::time::Duration::from_secs(jwt::LEEWAY_SECS)
        + std::time::Duration::from_secs(3600);
    let sessions_kept_ms = i64::try_from(sessions_kept.as_millis()).unwrap_or(i64::MAX);
    let audit_kept_ms = store::ms(config.audit_retention);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = limiter.prune(longest).await {
                tracing::error!(error = %e, "cannot prune rate-limit counters");
            }
            let ended_before = store::now_ms().saturating_sub(sessions_kept_ms);
            match store::sessions::prune_ended(&db, ended_before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "pruned ended sessions"),
                Err(e) => tracing::error!(error = %e, "cannot prune ended sessions"),
            }
            if let Err(e) = store::mfa::prune(&db, store::now_ms()).await {
                tracing::error!(error = %e, "cannot prune expired second-factor challenges");
            }
            if let Err(e) = store::passkeys::prune(&db, store::now_ms()).await {
                tracing::error!(error = %e, "cannot prune expired passkey ceremonies");
            }
            if let Err(e) = store::email_tokens::prune(&db, store::now_ms()).await {
                tracing::error!(error = %e, "cannot prune expired mailed tokens");
            }
            if let Err(e) = store::phones::prune(&db, store::now_ms()).await {
                tracing::error!(error = %e, "cannot prune texted codes");
            }
            if let Err(e) = store::email_codes::prune(&db, store::now_ms()).await {
                tracing::error!(error = %e, "cannot prune expired sign-in codes");
            }
            // A code is kept as long as an ended session, so that a late
            // second use is still caught as one.
            if let Err(e) = store::grants::prune(&db, store::now_ms(), ended_before).await {
                tracing::error!(error = %e, "cannot prune authorization requests and codes");
            }
            if let Err(e) = store::devices::prune(&db, store::now_ms()).await {
                tracing::error!(error = %e, "cannot prune expired device requests");
            }
            if let Err(e) = store::clients::prune_removed(&db, ended_before).await {
                tracing::error!(error = %e, "cannot prune removed apps");
            }
            // A deleted account's row goes when its sessions would.
            if let Err(e) = store::users::prune_deleted(&db, ended_before).await {
                tracing::error!(error = %e, "cannot prune deleted accounts");
            }
            let recorded_before = store::now_ms().saturating_sub(audit_kept_ms);
            match store::audit::prune(&db, recorded_before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "pruned security events past AUDIT_RETENTION"),
                Err(e) => tracing::error!(error = %e, "cannot prune security events"),
            }
        }
    });
}

/// Completes on Ctrl-C or SIGTERM, whichever comes first.
///
/// SIGTERM is caught from the moment this is called, not from when the
/// future is first polled: a process that says it is listening must already
/// stop gracefully when told to.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();

        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
