//! Logging: one line per request with method, matched route, status and
//! latency. Only the path is logged, never query strings or headers, so no
//! token or password can reach a log line through here.

use axum::{extract::MatchedPath, http::Request};
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::{Level, Span};
use tracing_subscriber::{EnvFilter, fmt};

/// Where log lines go: the server logs to standard output; a command run
/// from the shell logs to standard error, so that what it prints on
/// standard output is only its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    Stdout,
    Stderr,
}

/// Installs the global subscriber; `RUST_LOG` overrides the default level,
/// and `LOG_FORMAT=json` writes one JSON object per line. The logger starts
/// before the configuration is read (so that reading it can log); a
/// `LOG_FORMAT` that is neither is written as text until `Config` refuses it.
pub fn init(to: LogTo) {
    // PostgreSQL's NOTICEs ("relation … already exists, skipping" from every
    // start's migration check) are not news.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let json = std::env::var("LOG_FORMAT")
        .ok()
        .and_then(|f| crate::config::LogFormat::parse(&f))
        == Some(crate::config::LogFormat::Json);
    if json {
        let builder = builder.json().flatten_event(true).with_current_span(true);
        return match to {
            LogTo::Stdout => builder.init(),
            LogTo::Stderr => builder.with_writer(std::io::stderr).init(),
        };
    }
    match to {
        LogTo::Stdout => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
        LogTo::Stderr => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init(),
    }
}

type MakeSpan = fn(&Request<axum::body::Body>) -> Span;

/// The per-request tracing layer.
pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeSpan> {
    TraceLayer::new_for_http()
        .make_span_with(request_span as MakeSpan)
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(tower_http::LatencyUnit::Micros),
        )
}

fn request_span(request: &Request<axum::body::Body>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), MatchedPath::as_str);
    tracing::info_span!("request", method = %request.method(), route = %route)
}
