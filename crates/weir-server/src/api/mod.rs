//! The HTTP API: Kestra's REST endpoints under `/api/v1`, so scripts written for Kestra work.
//!
//! Every action that changes state goes through `Control`; reads go to the `Store` (KV writes
//! too: they need no engine). Paths are accepted with or without Kestra's tenant segment
//! (`/api/v1/main/flows/…` is `/api/v1/flows/…`); weir has one tenant, `main`.
//!
//! The OpenAPI document is generated from the same `#[utoipa::path]` annotations that register
//! the routes (`utoipa_axum::routes!`), so the two cannot drift; it is committed at
//! `docs/openapi.json` and a test fails when that copy is stale.

mod error;
mod executions;
mod flows;
mod kv;
mod logs;
mod meta;
mod namespace_files;
mod plugins;
mod triggers;
mod warehouse;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use utoipa::OpenApi as _;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    OpenApi, RefOr, ResponseBuilder, Responses, content::ContentBuilder,
    security::SecurityRequirement,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use weir_store::Store;

pub use error::ApiError;

use crate::control::Control;

/// What every handler gets.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub control: Arc<dyn Control>,
    /// When set, every request but the health check needs `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Internal storage, for the files of executions (`kestra:///…`); none in some tests.
    pub storage: Option<Arc<weir_storage::InternalStorage>>,
    /// The configured warehouse URL (`weir server --warehouse`), shown by the UI.
    pub warehouse: Option<String>,
}

/// Paths that answer without a token.
const OPEN_PATHS: [&str; 2] = ["/health", "/api/v1/health"];

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "weir",
        description = "Kestra-compatible REST API of `weir server`. Paths are also accepted with \
                       Kestra's tenant segment: `/api/v1/main/...`."
    ),
    tags(
        (name = "Flows"), (name = "Executions"), (name = "Logs"), (name = "Triggers"),
        (name = "KV"), (name = "Namespace files"), (name = "Warehouse"), (name = "Plugins"),
        (name = "Server")
    )
)]
struct ApiDoc;

/// Every route, registered with its documentation.
fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::health))
        .routes(routes!(meta::health_v1))
        .routes(routes!(meta::metrics))
        .routes(routes!(meta::openapi_json))
        .routes(routes!(flows::create_flow))
        .routes(routes!(flows::validate_flows))
        .routes(routes!(flows::search_flows))
        .routes(routes!(flows::list_namespace))
        .routes(routes!(
            flows::get_flow,
            flows::update_flow,
            flows::delete_flow
        ))
        .routes(routes!(flows::flow_revisions))
        .routes(routes!(plugins::flow_schema))
        .routes(routes!(executions::search_executions))
        .routes(routes!(executions::list_flow_executions))
        .routes(routes!(executions::create_execution))
        .routes(routes!(executions::get_execution))
        .routes(routes!(executions::kill_execution))
        .routes(routes!(executions::restart_execution))
        .routes(routes!(executions::resume_execution))
        .routes(routes!(executions::replay_execution))
        .routes(routes!(executions::follow_execution))
        .routes(routes!(executions::download_file))
        .routes(routes!(executions::webhook))
        .routes(routes!(logs::list_logs))
        .routes(routes!(logs::follow_logs))
        .routes(routes!(triggers::search_triggers))
        .routes(routes!(triggers::update_trigger))
        .routes(routes!(triggers::set_disabled))
        .routes(routes!(triggers::pause_backfill))
        .routes(routes!(triggers::unpause_backfill))
        .routes(routes!(triggers::delete_backfill))
        .routes(routes!(triggers::list_backfills))
        .routes(routes!(kv::list_keys))
        .routes(routes!(kv::get_key, kv::put_key, kv::delete_key))
        .routes(routes!(
            namespace_files::get_file,
            namespace_files::put_file,
            namespace_files::delete_file
        ))
        .routes(routes!(namespace_files::list_directory))
        .routes(routes!(warehouse::query))
        .routes(routes!(warehouse::configured))
        .routes(routes!(warehouse::tables))
}

/// The OpenAPI 3 document of the API.
pub fn openapi() -> OpenApi {
    let (_, doc) = routes().split_for_parts();
    complete(doc)
}

/// Adds what every operation shares: the bearer scheme and its 401, and the 422 that any bad
/// parameter or body gets.
fn complete(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    let error_ref = RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody"));
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(error_ref.clone()))
                    .build(),
            )
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = OPEN_PATHS.contains(&path.as_str());
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let takes_input =
                op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses: &mut Responses = &mut op.responses;
            if !open {
                responses
                    .responses
                    .entry("401".into())
                    .or_insert_with(|| RefOr::T(error("Missing or wrong bearer token")));
                op.security = Some(vec![SecurityRequirement::new::<_, _, &str>("bearer", [])]);
            }
            if takes_input {
                responses
                    .responses
                    .entry("422".into())
                    .or_insert_with(|| RefOr::T(error("Invalid parameters or body")));
            }
        }
    }
    doc
}

/// The API as an axum router.
pub fn router(state: ApiState) -> Router {
    let (inner, _) = routes().split_for_parts();
    let inner = inner.fallback(no_route).with_state(state.clone());
    let service = tower::ServiceBuilder::new()
        .map_request(strip_tenant)
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(state, auth))
        .service(inner);
    Router::new().fallback_service(service)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for `{}`", uri.path()))
}

/// `/api/v1/main/x` → `/api/v1/x`: Kestra's tenant segment, accepted for its one value here.
fn strip_tenant(mut req: Request) -> Request {
    let uri = req.uri();
    if let Some(rest) = uri.path().strip_prefix("/api/v1/main/") {
        let mut s = format!("/api/v1/{rest}");
        if let Some(q) = uri.query() {
            s.push('?');
            s.push_str(q);
        }
        if let Ok(new) = s.parse::<Uri>() {
            *req.uri_mut() = new;
        }
    }
    req
}

async fn auth(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(token) = state.token.as_deref() else {
        return next.run(req).await;
    };
    if OPEN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if constant_time_eq(g.trim().as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

/// Compares without stopping at the first difference, so the time taken tells nothing about
/// how much of a guessed token was right (the length may leak; tokens are long and random).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// axum's own refusals (a malformed path segment, an unknown method) are plain text: they get
/// the API's JSON shape, and 400/415 become 422 like every other bad input.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let status = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        s => s,
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_string()
    } else {
        text
    };
    let body = serde_json::to_vec(&wire::ErrorBody {
        message,
        errors: None,
    })
    .unwrap_or_default();
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// Runs store and control calls (synchronous, may wait on SQLite's lock) off the async
/// workers. A panic in `f` — a bug — is a 500, not a dropped connection.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("a request handler failed (a bug in weir): {e}")))?
}

/// Query parameters as Kestra sends them: repeatable (`state=A&state=B`).
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<&str>) -> Self {
        Params(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    /// The last value given, if any and not empty.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
    /// Every value given, comma-separated lists split.
    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }
    fn int(&self, key: &str, default: u64, min: u64) -> Result<u64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(ApiError::invalid(format!(
                    "`{key}` must be a whole number of at least {min}, not `{v}`"
                ))),
            },
        }
    }
    fn opt_i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::invalid(format!("`{key}` must be a number, not `{v}`")))
            })
            .transpose()
    }
    fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::invalid(format!(
                "`{key}` must be `true` or `false`, not `{v}`"
            ))),
        }
    }
    fn date(&self, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(key)
            .map(|v| {
                parse_date(v).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "`{key}` must be an ISO 8601 date-time such as `2024-01-31T12:00:00Z`, not `{v}`"
                    ))
                })
            })
            .transpose()
    }
    /// `key:value` labels.
    fn labels(&self, key: &str) -> Result<Vec<(String, String)>, ApiError> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| parse_label(v))
            .collect()
    }
    /// Page (1-based) and size as an offset and a limit.
    fn page(&self) -> Result<(usize, usize), ApiError> {
        let page = self.int("page", 1, 1)?;
        let size = self.int("size", 10, 1)?;
        let offset = (page - 1)
            .checked_mul(size)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(|| ApiError::invalid("`page` × `size` is too large"))?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        Ok((offset, size))
    }
}

fn parse_label(v: &str) -> Result<(String, String), ApiError> {
    match v.split_once(':') {
        Some((k, val)) if !k.is_empty() => Ok((k.to_string(), val.to_string())),
        _ => Err(ApiError::invalid(format!(
            "a label must be written `key:value`, not `{v}`"
        ))),
    }
}

/// RFC 3339, or Kestra's `yyyy-MM-dd'T'HH:mm[:ss][.SSS]` without a zone (taken as UTC).
fn parse_date(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .map(|n| n.and_utc())
}

/// A page of a list that is already in memory.
fn paginate<T>(items: Vec<T>, offset: usize, size: usize) -> (Vec<T>, u64) {
    let total = items.len() as u64;
    (items.into_iter().skip(offset).take(size).collect(), total)
}
