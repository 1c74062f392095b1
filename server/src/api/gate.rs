//! What every request under `/api` passes before its route, in one layer:
//! an address with a NUL character is refused, a body is read whole (within
//! a size and a time) before the handler runs, and the answers to the lists
//! are compressed.
//!
//! One hand-written layer rather than three `from_fn` middlewares and a
//! compression layer: each of those clones the boxed service behind it and
//! boxes a future or a body on every request, which on `GET /api/me` cost
//! as much as the handler itself. A request without a body goes straight
//! to its route, and only a list goes through compression.

use std::{
    convert::Infallible,
    task::{Context, Poll},
};

use axum::{
    body::{Body, HttpBody},
    extract::Request,
    response::{IntoResponse, Response},
};
use futures::future::{BoxFuture, Either, FutureExt, Map, Ready, ready};
use tower::{Layer, Service};
use tower_http::compression::{
    CompressionBody, CompressionLayer, CompressionLevel, ResponseFuture, predicate::SizeAbove,
};

use crate::{AppError, serve::BODY_READ_TIMEOUT};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The layer that puts a [`Gate`] before every route of the API.
#[derive(Clone)]
pub struct GateLayer {
    lists: CompressionLayer<SizeAbove>,
}

impl Default for GateLayer {
    /// Lists of more than a kilobyte are compressed, for clients that
    /// accept brotli or gzip, at a level that costs little per request.
    fn default() -> Self {
        Self {
            lists: CompressionLayer::new()
                .quality(CompressionLevel::Precise(4))
                .compress_when(SizeAbove::new(1024)),
        }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            lists: self.lists.clone(),
        }
    }
}

/// See the module.
#[derive(Clone)]
pub struct Gate<S> {
    inner: S,
    lists: CompressionLayer<SizeAbove>,
}

type Answer = Result<Response, Infallible>;

/// A list's answer, compressed as it is sent.
type Compressed<F> = Map<
    ResponseFuture<F, SizeAbove>,
    fn(Result<Response<CompressionBody<Body>>, Infallible>) -> Answer,
>;

impl<S> Service<Request> for Gate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Either<S::Future, Compressed<S::Future>>,
        Either<Ready<Answer>, BoxFuture<'static, Answer>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if holds_nul(request.uri()) {
            return refused(AppError::InvalidRequest(
                "The address may not hold a NUL character (%00).".into(),
            ));
        }
        if announces_too_much(&request) {
            return refused(AppError::PayloadTooLarge);
        }
        if has_body(&request) {
            return Either::Right(Either::Right(Box::pin(read_then_call(
                self.take_ready(),
                request,
            ))));
        }
        if is_list(request.method(), request.uri().path()) {
            let plain: fn(_) -> Answer = |answer: Result<Response<CompressionBody<Body>>, _>| {
                answer.map(|response| response.map(Body::new))
            };
            let route = self.take_ready();
            let mut compressing = self.lists.layer(route);
            return Either::Left(Either::Right(compressing.call(request).map(plain)));
        }
        Either::Left(Either::Left(self.inner.call(request)))
    }
}

/// The answer to a request refused before its route.
fn refused<A, C>(error: AppError) -> Either<A, Either<Ready<Answer>, C>> {
    Either::Right(Either::Left(ready(Ok(error.into_response()))))
}

impl<S: Clone> Gate<S> {
    /// The service that was made ready, to go with the request; this gate
    /// keeps a fresh clone for the next one (tower's rule).
    fn take_ready(&mut self) -> S {
        let fresh = self.inner.clone();
        std::mem::replace(&mut self.inner, fresh)
    }
}

/// `400` for an address whose path or query holds a NUL character (`%00`):
/// PostgreSQL stores and compares no NUL in text, and no identifier or
/// search of this API has a use for one (see `extract::AppJson` for bodies).
fn holds_nul(uri: &http::Uri) -> bool {
    uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00"))
}

/// Reads the request's whole body within [`BODY_READ_TIMEOUT`] and at most
/// [`BODY_LIMIT`] bytes, then calls the route: a handler never waits on a
/// slow client. `408` when the body does not arrive in time, `413` when it
/// is too large. The body the handler gets is then bounded, so no further
/// limit (axum's `DefaultBodyLimit`) is needed.
async fn read_then_call<S>(mut route: S, request: Request) -> Answer
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_too_large(&e) => return Ok(AppError::PayloadTooLarge.into_response()),
        Ok(Err(_)) => {
            let unread = AppError::InvalidRequest("The request body could not be read.".into());
            return Ok(unread.into_response());
        }
        Err(_) => return Ok(AppError::RequestTimeout.into_response()),
    };
    route
        .call(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether a body may follow, as the body itself says (not its headers):
/// true for any length above zero, for chunks, and for a body of unknown
/// length in any protocol.
fn has_body(request: &Request) -> bool {
    !request.body().is_end_stream()
}

/// Whether the request announces a body larger than the limit: refused
/// before a byte of it is read, and before `100 Continue` is sent.
fn announces_too_much(request: &Request) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > BODY_LIMIT as u64)
}

fn is_too_large(error: &axum::Error) -> bool {
    std::error::Error::source(error).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
}

/// The lists of the API (the feed, grades, sessions, security events,
/// accounts): the only responses compressed per request. They can be long,
/// and none holds a token, a code or a secret, so compressing them cannot
/// leak one through its length (BREACH). Nothing else is: a token response
/// is never compressed, and the site's files are compressed once, when
/// they are built.
fn is_list(method: &http::Method, path: &str) -> bool {
    method == http::Method::GET
        && matches!(
            path,
            "/api/posts"
                | "/api/grades"
                | "/api/auth/sessions"
                | "/api/account/activity"
                | "/api/admin/audit"
                | "/api/admin/users"
        )
}
