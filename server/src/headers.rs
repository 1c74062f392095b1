//! The headers the server puts on every answer, in one layer: the security
//! headers, how long a browser may keep what it got, HTTPS for ever after
//! (behind a proxy that says the request came over it), and the charset of
//! JSON.
//!
//! Hand-written rather than four `axum::middleware` functions: each of
//! those clones the boxed service behind it and boxes a future on every
//! request, the health check included, for a few header lines.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use axum::{extract::Request, response::Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tower::{Layer, Service};

/// The layer that puts [`Headers`] around the whole site.
#[derive(Clone, Copy)]
pub struct HeadersLayer {
    /// Whether `X-Forwarded-Proto` comes from a proxy of ours
    /// (`TRUST_FORWARDED_FOR`).
    trust_proxy: bool,
}

impl HeadersLayer {
    pub fn new(trust_proxy: bool) -> Self {
        Self { trust_proxy }
    }
}

impl<S> Layer<S> for HeadersLayer {
    type Service = Headers<S>;

    fn layer(&self, inner: S) -> Headers<S> {
        Headers {
            inner,
            trust_proxy: self.trust_proxy,
        }
    }
}

/// See the module.
#[derive(Clone)]
pub struct Headers<S> {
    inner: S,
    trust_proxy: bool,
}

impl<S> Service<Request> for Headers<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Finishing<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let asked = Asked {
            what: What::at(request.uri().path()),
            https: crate::extract::is_https(request.headers(), self.trust_proxy),
        };
        Finishing {
            answer: self.inner.call(request),
            asked,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer on its way, to which [`finish`] adds the headers.
    pub struct Finishing<F> {
        #[pin]
        answer: F,
        asked: Asked,
    }
}

impl<F, E> Future for Finishing<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.answer.poll(cx))?;
        finish(&mut response, *this.asked);
        Poll::Ready(Ok(response))
    }
}

/// What the request asked for, as far as its answer's headers go.
#[derive(Clone, Copy)]
struct Asked {
    what: What,
    /// It came over HTTPS, as a trusted proxy says.
    https: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    /// A file of the build under `/pkg/`; `hashed` when its name carries a
    /// hash of its content.
    File {
        hashed: bool,
    },
    Favicon,
    /// An answer of the API.
    Api,
    /// A page.
    Other,
}

impl What {
    fn at(path: &str) -> Self {
        match path.strip_prefix("/pkg/") {
            Some(file) => Self::File {
                hashed: carries_hash(file),
            },
            None if path == "/favicon.png" => Self::Favicon,
            None if path == "/api" || path.starts_with("/api/") => Self::Api,
            None => Self::Other,
        }
    }
}

fn finish(response: &mut Response, asked: Asked) {
    let ok = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    json_charset(headers);
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if let What::File { .. } = asked.what {
        // A Referrer-Policy governs the requests a document makes; a file
        // makes none. A page loads some thirty files, and each header line
        // is paid thirty times on its first visit.
        headers.remove(header::REFERRER_POLICY);
    } else {
        headers
            .entry(header::REFERRER_POLICY)
            .or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        cache_control(headers, asked.what, ok);
    }
    // An encoded answer depends on Accept-Encoding wherever it comes from:
    // the file server also answers `//pkg/…` or `/%70kg/…`, which are not
    // recognised as files above.
    if headers.contains_key(header::CONTENT_ENCODING) && !varies_by_encoding(headers) {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    // Browsers then refuse plain HTTP to this site for two years. Never
    // over plain HTTP, where it would be ignored and could be forged.
    if asked.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
}

fn varies_by_encoding(headers: &HeaderMap) -> bool {
    headers.get_all(header::VARY).iter().any(|vary| {
        vary.to_str().is_ok_and(|names| {
            names.split(',').any(|name| {
                name.trim().eq_ignore_ascii_case("accept-encoding") || name.trim() == "*"
            })
        })
    })
}

/// The contract promises `application/json; charset=utf-8`; axum's `Json`
/// names no charset.
fn json_charset(headers: &mut HeaderMap) {
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/json")
    {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
}

/// Cache headers of the site's files and pages. A file under `/pkg/`
/// carries a hash of its content in its name (the build's `hash-files`), so
/// a browser may keep it for a year without asking again; a page names the
/// files of the build that served it, so it is asked for again every time
/// (`no-cache`: kept, but revalidated). Files that exist compressed say that
/// their answer depends on `Accept-Encoding`.
fn cache_control(headers: &mut HeaderMap, what: What, ok: bool) {
    let policy = match what {
        What::File { hashed } => {
            headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
            if ok && hashed {
                // Never asked for again: nothing to revalidate against or resume.
                headers.remove(header::LAST_MODIFIED);
                headers.remove(header::ACCEPT_RANGES);
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            }
        }
        What::Favicon if ok => "public, max-age=86400",
        // Answers to a bearer are private to it; the public feed changes
        // with every post and deletion. A route that may be kept says so
        // itself (none under /api today).
        What::Api => "no-store",
        _ if headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/html")) =>
        {
            "no-cache"
        }
        _ => return,
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
}

/// Whether a file name carries a content hash as the build writes it: a
/// part of URL-safe base64 characters between dots, 22 of them as
/// cargo-leptos writes it (`classboard.DdT0_tkbgqWft8hsX2oL9g.wasm`), or 10
/// as the build names a split point's bundle (`bundle_account.7c6YrH913Y.bundle`;
/// `scripts/setup`) and the server its DPoP script (`dpop.8f3a09c2d1.js`).
fn carries_hash(file: &str) -> bool {
    let parts: Vec<&str> = file.split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1].iter().any(|part| {
            (part.len() == 22 || part.len() == 10)
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                // The placeholder a build without hashes leaves.
                && part.bytes().any(|b| b != b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_told_from_plain_ones() {
        assert!(carries_hash("classboard.DdT0_tkbgqWft8hsX2oL9g.wasm"));
        assert!(carries_hash("chunk_11.bGjuETBWPj0YlceFITkeDw.wasm"));
        assert!(carries_hash("chunk_11.bGjuETBWPj.wasm"));
        assert!(carries_hash("bundle_account.7c6YrH913Y.bundle"));
        assert!(carries_hash("dpop.8f3a09c2d1.js"));
        assert!(!carries_hash("bundle_account.bundle"));
        assert!(!carries_hash("chunk_11.bGjuETB.wasm"));
        assert!(carries_hash("__wasm_split.t3xwngJh9ZFf1ujPyUTDGw.js"));
        assert!(!carries_hash("classboard.wasm"));
        assert!(!carries_hash("classboard.css"));
        assert!(!carries_hash("__wasm_split.______________________.js"));
        assert!(!carries_hash("chunk_11.wasm"));
    }

    fn answered(status: StatusCode, content_type: &str, asked: Asked) -> HeaderMap {
        let mut response = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::LAST_MODIFIED, "Sun, 06 Dec 2026 00:00:00 GMT")
            .body(axum::body::Body::empty())
            .unwrap();
        finish(&mut response, asked);
        response.headers().clone()
    }

    #[test]
    fn every_answer_gets_its_headers() {
        let plain = |path| Asked {
            what: What::at(path),
            https: false,
        };
        let hashed = answered(
            StatusCode::OK,
            "application/wasm",
            plain("/pkg/classboard.DdT0_tkbgqWft8hsX2oL9g.wasm"),
        );
        assert_eq!(
            hashed[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(hashed[header::VARY], "accept-encoding");
        assert!(!hashed.contains_key(header::LAST_MODIFIED));
        assert!(!hashed.contains_key(header::REFERRER_POLICY));
        assert_eq!(hashed[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let missing = answered(
            StatusCode::NOT_FOUND,
            "text/plain",
            plain("/pkg/classboard.DdT0_tkbgqWft8hsX2oL9g.wasm"),
        );
        assert_eq!(
            missing[header::CACHE_CONTROL],
            "no-cache",
            "a miss is not kept"
        );

        let page = answered(StatusCode::OK, "text/html; charset=utf-8", plain("/login"));
        assert_eq!(page[header::CACHE_CONTROL], "no-cache");
        assert_eq!(
            page[header::REFERRER_POLICY],
            "strict-origin-when-cross-origin"
        );
        assert!(!page.contains_key(header::STRICT_TRANSPORT_SECURITY));

        let api = answered(StatusCode::OK, "application/json", plain("/api/me"));
        assert_eq!(api[header::CONTENT_TYPE], "application/json; charset=utf-8");
        assert_eq!(api[header::CACHE_CONTROL], "no-store", "kept by no cache");

        // The file server also answers odd spellings of a file's path; an
        // encoded answer says what it depends on, whatever the path.
        let mut odd = Response::builder()
            .header(header::CONTENT_ENCODING, "br")
            .body(axum::body::Body::empty())
            .unwrap();
        finish(
            &mut odd,
            plain("//pkg/classboard.DdT0_tkbgqWft8hsX2oL9g.wasm"),
        );
        assert_eq!(odd.headers()[header::VARY], "accept-encoding");

        let icon = answered(StatusCode::OK, "image/png", plain("/favicon.png"));
        assert_eq!(icon[header::CACHE_CONTROL], "public, max-age=86400");

        let secure = answered(
            StatusCode::OK,
            "application/json",
            Asked {
                what: What::Other,
                https: true,
            },
        );
        assert_eq!(
            secure[header::STRICT_TRANSPORT_SECURITY],
            "max-age=63072000; includeSubDomains"
        );
    }
}
