//! The web dashboard, served by the control plane's HTTP API (15014) and
//! embedded in the binary: plain ES modules and CSS, no build step, no
//! vendored framework. Every view polls the JSON API (`/api/v1/stat`,
//! `/api/v1/check`, `/api/v1/config`, `/api/v1/proxies`).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX: &str = include_str!("dashboard/index.html");
const APP: &str = include_str!("dashboard/app.js");
const TAP: &str = include_str!("dashboard/tap.js");
const STYLE: &str = include_str!("dashboard/style.css");

/// `/` and `/ui/*`, added to the API's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { page("text/javascript; charset=utf-8", APP) }),
        )
        .route(
            "/ui/tap.js",
            get(|| async { page("text/javascript; charset=utf-8", TAP) }),
        )
        .route(
            "/ui/style.css",
            get(|| async { page("text/css; charset=utf-8", STYLE) }),
        )
}

fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // A new control plane build serves new files.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
