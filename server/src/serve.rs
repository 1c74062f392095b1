//! The HTTP listener: accepts connections, serves each with hyper, and shuts
//! down gracefully. It exists (instead of `axum::serve`) for the limits a
//! server facing the Internet needs: a client that opens a connection and
//! then sends its request headers, or its body, a byte at a time must not
//! hold the connection (and its memory) for ever, and connections are
//! capped.
//!
//! It speaks HTTP/1.1 only. Browsers speak HTTP/2 only over TLS, which a
//! proxy in front terminates; serving HTTP/2 in clear text (h2c) here would
//! add a second protocol, with its own idle and header limits to get right,
//! for clients that do not exist.

use std::{future::Future, pin::pin, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Request},
    middleware::Next,
    response::{IntoResponse, Response},
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

use crate::AppError;

/// Longest wait for a request's headers, counted from the first byte of a
/// request (and for an idle kept-alive connection, from the last response).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a whole request body, however it trickles in.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections open at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 4096;

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and waits for the connections in flight to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = open.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers go out at once rather than waiting to fill a packet.
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Reads a request's whole body within [`BODY_READ_TIMEOUT`] and at most
/// `limit` bytes before the handler runs, so that a handler never waits on
/// a slow client: `408` when the body does not arrive in time, `413` when
/// it is too large.
pub async fn read_body_in_time(limit: usize, request: Request, next: Next) -> Response {
    if !has_body(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes =
        match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) if is_too_large(&e) => return AppError::PayloadTooLarge.into_response(),
            Ok(Err(_)) => {
                return AppError::InvalidRequest("The request body could not be read.".into())
                    .into_response();
            }
            Err(_) => return AppError::RequestTimeout.into_response(),
        };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether the request says a body follows (a length above zero, or chunks).
fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}

fn is_too_large(error: &axum::Error) -> bool {
    std::error::Error::source(error).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
}
