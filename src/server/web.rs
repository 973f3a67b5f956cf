//! The browser app, served by the server itself on the gRPC port.
//!
//! The bundle built in `web/` (`npm run build` → `web/dist/`) is committed
//! and embedded in the binary here, so `cargo run -- serve` needs no Node
//! and no files beside the binary. A layer in front of the gRPC router
//! answers plain browser requests (`GET`/`HEAD` of anything that is not a
//! gRPC or gRPC-web call) from the embedded table, with a strict
//! Content-Security-Policy: the app loads nothing but its own files and
//! talks to nothing but this server. Every other request goes on to
//! tonic-web's translation and the gRPC services (and so through the
//! members-only gate exactly as a gRPC call does). With the app turned off
//! (`serve --no-web`) the same requests get `404`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;

/// The policy every page is served with: only this origin's files, no
/// inline script or style, no framing, calls only back to this server.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// One embedded file of the bundle: its URL path, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The bundle, by URL path. The build writes fixed names (no content
/// hashes) so the committed bundle is the same on every machine; the
/// pages are served `no-cache` instead, so a new binary is seen at once.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../web/dist/index.html"),
    },
    Asset {
        path: "/index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../web/dist/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/dist/app.js"),
    },
    Asset {
        path: "/app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../web/dist/app.css"),
    },
];

/// The layer that serves the app (`enabled`) or answers `404` for it.
#[derive(Clone, Copy, Debug)]
pub struct WebLayer {
    /// Whether the app is served (`serve --no-web` turns it off).
    pub enabled: bool,
}

impl<S> tower::Layer<S> for WebLayer {
    type Service = WebApp<S>;

    fn layer(&self, inner: S) -> WebApp<S> {
        WebApp {
            inner,
            enabled: self.enabled,
        }
    }
}

/// The service [`WebLayer`] makes: browser requests answered here, the rest
/// passed to `inner`.
#[derive(Clone, Debug)]
pub struct WebApp<S> {
    inner: S,
    enabled: bool,
}

/// Whether a request is a gRPC or gRPC-web call (by its content type), which
/// goes to the services whatever its path.
fn is_rpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/grpc"))
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for WebApp<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let method = request.method();
        let browser = (method == http::Method::GET || method == http::Method::HEAD)
            && !is_rpc(request.headers());
        if !browser {
            return Box::pin(self.inner.call(request));
        }
        let head = method == http::Method::HEAD;
        let response = page(request.uri().path(), self.enabled, head);
        Box::pin(async move { Ok(response) })
    }
}

/// The answer to a browser's request for `path`.
fn page(path: &str, enabled: bool, head: bool) -> http::Response<Body> {
    let asset = enabled
        .then(|| ASSETS.iter().find(|a| a.path == path))
        .flatten();
    let (status, content_type, bytes): (_, _, &'static [u8]) = match asset {
        Some(a) => (http::StatusCode::OK, a.content_type, a.bytes),
        None if enabled => (
            http::StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            b"not found\n",
        ),
        None => (
            http::StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            b"the web app is turned off on this server (serve --no-web)\n",
        ),
    };
    let body = if head {
        Body::empty()
    } else {
        Body::new(http_body_util::Full::new(
            tonic::codegen::Bytes::from_static(bytes),
        ))
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let fixed = [
        (http::header::CONTENT_TYPE, content_type),
        (
            http::header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ),
        (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (http::header::X_FRAME_OPTIONS, "DENY"),
        (http::header::REFERRER_POLICY, "no-referrer"),
        (http::header::CACHE_CONTROL, "no-cache"),
    ];
    for (name, value) in fixed {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(bytes.len()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_policy_and_unknown_paths_are_404() {
        let ok = page("/", true, false);
        assert_eq!(ok.status(), http::StatusCode::OK);
        assert_eq!(
            ok.headers()[http::header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(page("/nope", true, false).status(), 404);
        assert_eq!(page("/", false, false).status(), 404);
        assert_eq!(
            page("/app.js", true, true).headers()[http::header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
    }
}
