//! Building the application from a [`Config`] and serving it until a shutdown
//! signal. Tests use the same path with port 0 and a temporary database.

use std::{future::Future, net::SocketAddr};

use app::{App, shell};
use axum::{Router, extract::FromRef, routing::get};
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, file_and_error_handler, generate_route_list};
use secrecy::SecretString;
use sqlx::SqlitePool;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{Config, config::SiteConfig, db, health, secret, telemetry};

/// Why the server could not start. Each message is one line naming the cause.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error("JWT_SECRET: {0}")]
    Secret(#[from] secret::SecretError),
    #[error("LEPTOS_SITE_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Shared, cheaply cloned state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub leptos_options: LeptosOptions,
    pub jwt_secret: SecretString,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for SqlitePool {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Opens (and migrates) the database, loads the signing secret and binds
    /// the listener. Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = db::connect(&config.database_url).await?;
        let jwt_secret = match config.jwt_secret {
            Some(secret) => secret,
            None => secret::load_or_create(&config.data_dir)?,
        };
        let listener = TcpListener::bind(config.site_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.site_addr,
                source,
            })?;
        let leptos_options = leptos_options(
            &config.site,
            listener.local_addr().unwrap_or(config.site_addr),
        );

        let state = AppState {
            db,
            leptos_options,
            jwt_secret,
        };
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves requests until `shutdown` completes, then lets requests in
    /// flight finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list(App);

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .leptos_routes(&state, routes, move || shell(leptos_options.clone()))
        .fallback(file_and_error_handler::<AppState, _>(shell))
        .layer(security_headers())
        .layer(telemetry::trace_layer())
        .with_state(state)
}

/// Headers every response carries. The page-specific Content-Security-Policy
/// comes with the pages themselves.
fn security_headers() -> tower::layer::util::Stack<
    SetResponseHeaderLayer<http::HeaderValue>,
    SetResponseHeaderLayer<http::HeaderValue>,
> {
    use http::{HeaderValue, header};
    tower::layer::util::Stack::new(
        SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
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

/// Completes on Ctrl-C or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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
