//! Triggers: search, enable/disable, and backfills (start, pause, resume, cancel).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::Value;
use weir_store::BackfillState;

use super::wire::{
    self, AbstractTrigger, Backfill, BulkResponse, ErrorBody, PagedTriggers, SetDisabledRequest,
    Trigger, TriggerItem, TriggerRef, TriggerUpdate,
};
use super::{ApiError, ApiState, Params, blocking, paginate};
use crate::control::TriggerView;

fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

fn find(st: &ApiState, ns: &str, flow: &str, trigger: &str) -> Result<TriggerView, ApiError> {
    st.control
        .triggers()?
        .into_iter()
        .find(|t| t.namespace == ns && t.flow_id == flow && t.trigger_id == trigger)
        .ok_or_else(|| ApiError::not_found(format!("trigger `{ns}.{flow}.{trigger}` not found")))
}

#[utoipa::path(get, path = "/api/v1/triggers/search", tag = "Triggers",
    params(("namespace" = Option<String>, Query, description = "A namespace and the namespaces under it"),
           ("flowId" = Option<String>, Query, description = "The flow id"),
           ("q" = Option<String>, Query, description = "Text the trigger's, flow's or namespace's id contains"),
           ("page" = Option<u64>, Query, minimum = 1, description = "The page, from 1 (default 1)"),
           ("size" = Option<u64>, Query, minimum = 1, description = "The page size (default 10)")),
    responses((status = 200, description = "The triggers of deployed flows", body = PagedTriggers)))]
pub async fn search_triggers(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<PagedTriggers>, ApiError> {
    let p = Params::parse(q.as_deref());
    let (offset, size) = p.page()?;
    let namespace = p.get("namespace").map(str::to_string);
    let flow = p.get("flowId").map(str::to_string);
    let text = p.get("q").map(str::to_lowercase);
    blocking(move || {
        let all: Vec<TriggerView> = st
            .control
            .triggers()?
            .into_iter()
            .filter(|t| {
                namespace.as_deref().is_none_or(|n| {
                    t.namespace == n
                        || t.namespace
                            .strip_prefix(n)
                            .is_some_and(|r| r.starts_with('.'))
                })
            })
            .filter(|t| flow.as_deref().is_none_or(|f| t.flow_id == f))
            .filter(|t| {
                text.as_deref().is_none_or(|q| {
                    [&t.trigger_id, &t.flow_id, &t.namespace]
                        .iter()
                        .any(|s| s.to_lowercase().contains(q))
                })
            })
            .collect();
        let (page, total) = paginate(all, offset, size);
        let results = page
            .iter()
            .map(|t| TriggerItem {
                abstract_trigger: AbstractTrigger {
                    id: t.trigger_id.clone(),
                    kind: t.kind.clone(),
                    disabled: t.disabled,
                },
                trigger_context: wire::trigger(t),
            })
            .collect();
        Ok(Json(PagedTriggers { results, total }))
    })
    .await
}

fn text_inputs(inputs: Option<serde_json::Map<String, Value>>) -> Vec<(String, String)> {
    inputs
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

#[utoipa::path(put, path = "/api/v1/triggers", tag = "Triggers",
    request_body(content = TriggerUpdate, description = "With `backfill`, starts a backfill; otherwise sets `disabled`"),
    responses(
        (status = 200, description = "The trigger as it is now", body = Trigger),
        (status = 404, description = "No such trigger", body = ErrorBody),
        (status = 422, description = "Invalid body, or a backfill that cannot start", body = ErrorBody),
    ))]
pub async fn update_trigger(
    State(st): State<ApiState>,
    body: Bytes,
) -> Result<Json<Trigger>, ApiError> {
    let u: TriggerUpdate = json_body(&body)?;
    blocking(move || {
        find(&st, &u.namespace, &u.flow_id, &u.trigger_id)?;
        let mut started = None;
        if let Some(b) = u.backfill {
            let end = b.end.unwrap_or_else(Utc::now);
            if end < b.start {
                return Err(ApiError::invalid(
                    "the backfill's `end` is before its `start`",
                ));
            }
            let labels = b
                .labels
                .unwrap_or_default()
                .into_iter()
                .map(|l| (l.key, l.value))
                .collect();
            started = Some(st.control.start_backfill(
                &u.namespace,
                &u.flow_id,
                &u.trigger_id,
                b.start,
                end,
                text_inputs(b.inputs),
                labels,
            )?);
        } else if let Some(disabled) = u.disabled {
            st.control
                .set_trigger_disabled(&u.namespace, &u.flow_id, &u.trigger_id, disabled)?;
        } else {
            return Err(ApiError::invalid(
                "nothing to change: give `disabled` or `backfill`",
            ));
        }
        let mut view = find(&st, &u.namespace, &u.flow_id, &u.trigger_id)?;
        // The backfill just started, even when it made all its executions at once (and so is
        // no longer the trigger's running one).
        if started.is_some() {
            view.backfill = started;
        }
        Ok(Json(wire::trigger(&view)))
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/triggers/set-disabled/by-triggers", tag = "Triggers",
    request_body = SetDisabledRequest,
    responses(
        (status = 200, description = "How many triggers were set", body = BulkResponse),
        (status = 404, description = "One of the triggers does not exist", body = ErrorBody),
    ))]
pub async fn set_disabled(
    State(st): State<ApiState>,
    body: Bytes,
) -> Result<Json<BulkResponse>, ApiError> {
    let r: SetDisabledRequest = json_body(&body)?;
    blocking(move || {
        for t in &r.triggers {
            find(&st, &t.namespace, &t.flow_id, &t.trigger_id)?;
        }
        for t in &r.triggers {
            st.control
                .set_trigger_disabled(&t.namespace, &t.flow_id, &t.trigger_id, r.disabled)?;
        }
        Ok(Json(BulkResponse {
            count: r.triggers.len() as u64,
        }))
    })
    .await
}

async fn backfill_action(
    st: ApiState,
    body: Bytes,
    state: BackfillState,
) -> Result<Json<Trigger>, ApiError> {
    let t: TriggerRef = json_body(&body)?;
    blocking(move || {
        let view = find(&st, &t.namespace, &t.flow_id, &t.trigger_id)?;
        let Some(b) = view.backfill else {
            return Err(ApiError::invalid(format!(
                "trigger `{}.{}.{}` has no backfill",
                t.namespace, t.flow_id, t.trigger_id
            )));
        };
        st.control.set_backfill_state(&b.id, state)?;
        Ok(Json(wire::trigger(&find(
            &st,
            &t.namespace,
            &t.flow_id,
            &t.trigger_id,
        )?)))
    })
    .await
}

#[utoipa::path(put, path = "/api/v1/triggers/backfill/pause", tag = "Triggers",
    request_body(content = TriggerRef, description = "The trigger whose backfill to pause"),
    responses(
        (status = 200, description = "The trigger as it is now", body = Trigger),
        (status = 404, description = "No such trigger", body = ErrorBody),
        (status = 422, description = "The trigger has no backfill", body = ErrorBody),
    ))]
pub async fn pause_backfill(
    State(st): State<ApiState>,
    body: Bytes,
) -> Result<Json<Trigger>, ApiError> {
    backfill_action(st, body, BackfillState::Paused).await
}

#[utoipa::path(put, path = "/api/v1/triggers/backfill/unpause", tag = "Triggers",
    request_body(content = TriggerRef, description = "The trigger whose backfill to resume"),
    responses(
        (status = 200, description = "The trigger as it is now", body = Trigger),
        (status = 404, description = "No such trigger", body = ErrorBody),
        (status = 422, description = "The trigger has no backfill", body = ErrorBody),
    ))]
pub async fn unpause_backfill(
    State(st): State<ApiState>,
    body: Bytes,
) -> Result<Json<Trigger>, ApiError> {
    backfill_action(st, body, BackfillState::Running).await
}

#[utoipa::path(post, path = "/api/v1/triggers/backfill/delete", tag = "Triggers",
    request_body(content = TriggerRef, description = "The trigger whose backfill to cancel"),
    responses(
        (status = 200, description = "The trigger as it is now", body = Trigger),
        (status = 404, description = "No such trigger", body = ErrorBody),
        (status = 422, description = "The trigger has no backfill", body = ErrorBody),
    ))]
pub async fn delete_backfill(
    State(st): State<ApiState>,
    body: Bytes,
) -> Result<Json<Trigger>, ApiError> {
    backfill_action(st, body, BackfillState::Cancelled).await
}

#[utoipa::path(get, path = "/api/v1/triggers/backfills", tag = "Triggers",
    responses((status = 200, description = "Every backfill (weir's own endpoint), newest first", body = Vec<Backfill>)))]
pub async fn list_backfills(State(st): State<ApiState>) -> Result<Json<Vec<Backfill>>, ApiError> {
    blocking(move || {
        Ok(Json(
            st.store
                .list_backfills()?
                .iter()
                .map(wire::backfill)
                .collect(),
        ))
    })
    .await
}
