//! Plugins: the flow JSON Schema of the task types this server runs, at Kestra's address; the
//! web UI's editor completes task types and their properties from it.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::ApiState;

#[utoipa::path(get, path = "/api/v1/plugins/schemas/flow", tag = "Plugins",
    responses((status = 200, description = "The flow JSON Schema (draft 2020-12): one `oneOf` \
        variant of `$defs.task` per task type, with its properties and their descriptions",
        body = Object)))]
pub async fn flow_schema(State(st): State<ApiState>) -> Json<Value> {
    Json(st.control.flow_schema())
}
