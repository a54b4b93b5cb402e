//! The web UI: static files compiled into the binary and served under `/ui/`; every address
//! under `/ui/` that is not an asset is the single page, which routes itself. The UI talks only
//! to the public API. `WEIR_UI_DIR` serves the files from a folder instead (for working on
//! them without rebuilding).

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Every file of `ui/`, by its path there. A test checks that none is missing.
macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!("../ui/", $path)) as &[u8])),*]
    };
}

pub(crate) static ASSETS: &[(&str, &[u8])] = assets!(
    "index.html",
    "app.js",
    "api.js",
    "dom.js",
    "style.css",
    "editor.js",
    "editor.css",
    "diff.js",
    "pages.css",
    "pages/flows.js",
    "pages/flow.js",
    "pages/executions.js",
    "pages/execution.js",
    "pages/exec-common.js",
    "gantt.js",
    "executions.css",
    "pages/kv.js",
    "pages/warehouse.js",
);

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn file(path: &str) -> Option<Vec<u8>> {
    if let Some(dir) = std::env::var_os("WEIR_UI_DIR") {
        if path.split('/').any(|p| p == ".." || p.is_empty()) {
            return None;
        }
        return std::fs::read(std::path::Path::new(&dir).join(path)).ok();
    }
    ASSETS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| b.to_vec())
}

fn serve(path: &str) -> Response {
    match file(path) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, mime(path)),
                // Small files, changed with the binary: always revalidated.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            Body::from(bytes),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

async fn page() -> Response {
    serve("index.html")
}

/// `/` → `/ui/`, `/ui/assets/…` the files, any other `/ui/…` the page.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/ui/") }))
        .route("/ui", get(page))
        .route("/ui/", get(page))
        .route("/ui/assets/{*path}", get(asset))
        .route("/ui/{*rest}", get(page))
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    /// A file added to `ui/` but not to `ASSETS` would work with `WEIR_UI_DIR` and be missing
    /// from the binary.
    #[test]
    fn every_ui_file_is_compiled_in() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("ui folder") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    let rel = p.strip_prefix(&root).expect("under ui");
                    found.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed, "list every file of ui/ in ui.rs's ASSETS");
    }
}
