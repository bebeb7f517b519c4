//! The `/v1` API: incidents (list, read, resolve), the blocklist (read as
//! text or JSON, add, remove) and silences (list, add, remove), behind
//! bearer tokens with roles. Every change is written to the audit log with
//! the role that made it.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Role, Tokens};
use crate::audit::AuditKind;
use crate::incident::IncidentStatus;
use crate::respond::{Command, Filter, ResponseHandles, Silence, SilenceMatch};

/// Longest a manual resolution waits for the pipeline.
const RESOLVE_WAIT: Duration = Duration::from_secs(10);

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The response system's shared parts.
    pub response: ResponseHandles,
    /// Who may do what.
    pub tokens: Tokens,
}

/// The `/v1` routes.
pub fn routes(state: ApiState) -> axum::Router {
    axum::Router::new()
        .route("/v1/incidents", get(list_incidents))
        .route("/v1/incidents/{id}", get(get_incident))
        .route("/v1/incidents/{id}/resolve", post(resolve_incident))
        .route("/v1/blocklist", get(get_blocklist).post(add_block))
        .route("/v1/blocklist/{ip}", delete(remove_block))
        .route("/v1/silences", get(list_silences).post(add_silence))
        .route("/v1/silences/{id}", delete(remove_silence))
        .with_state(state)
}

/// A refused request: no valid token (401) or too low a role (403).
struct Denied {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        problem(self.status, &self.message)
    }
}

/// Checks the caller's token against the role an endpoint needs.
fn authorize(state: &ApiState, headers: &HeaderMap, needed: Role) -> Result<Role, Denied> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.tokens.role_of(presented) {
        None => Err(Denied {
            status: StatusCode::UNAUTHORIZED,
            message: "a valid bearer token is required".to_owned(),
        }),
        Some(role) if role < needed => Err(Denied {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "the {} role may not do this; {} is needed",
                role.as_str(),
                needed.as_str()
            ),
        }),
        Some(role) => Ok(role),
    }
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// A body that could not be read as the JSON expected: 413 when it was
/// over the size limit (sent in chunks, so only reading found out), else
/// 400.
fn bad_body(rejection: &JsonRejection) -> Response {
    let status = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    problem(status, &rejection.body_text())
}

/// A state file could not be written: logged, and a 500 for the caller.
fn storage_failed(error: &dyn std::fmt::Display, what: &'static str, message: &str) -> Response {
    tracing::error!(error = %error, what, "API change could not be stored");
    problem(StatusCode::INTERNAL_SERVER_ERROR, message)
}

fn audit(state: &ApiState, kind: AuditKind, data: &serde_json::Value) {
    if let Some(log) = &state.response.audit {
        let mut log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = log.append(kind, data) {
            tracing::error!(error = %e, "Audit log could not be written");
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    user_id: Option<String>,
    limit: Option<usize>,
}

async fn list_incidents(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers, Role::Viewer) {
        return denied.into_response();
    }
    let status = match query.status.as_deref() {
        None => None,
        Some("open") => Some(IncidentStatus::Open),
        Some("escalated") => Some(IncidentStatus::Escalated),
        Some("resolved") => Some(IncidentStatus::Resolved),
        Some(other) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("status {other:?} is not open, escalated or resolved"),
            );
        }
    };
    let filter = Filter {
        status,
        user_id: query.user_id,
        limit: query.limit.unwrap_or(100).min(1_000),
    };
    Json(state.response.board.list(&filter)).into_response()
}

async fn get_incident(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers, Role::Viewer) {
        return denied.into_response();
    }
    match state.response.board.get(&id) {
        Some(incident) => Json(incident).into_response(),
        None => problem(StatusCode::NOT_FOUND, &format!("no incident {id}")),
    }
}

async fn resolve_incident(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let role = match authorize(&state, &headers, Role::Responder) {
        Ok(role) => role,
        Err(denied) => return denied.into_response(),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let command = Command::Resolve {
        id: id.clone(),
        by: role.as_str().to_owned(),
        reply,
    };
    if state.response.commands.send(command).is_err() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "the pipeline has stopped");
    }
    match tokio::time::timeout(RESOLVE_WAIT, answer).await {
        Ok(Ok(Some(incident))) => Json(incident).into_response(),
        Ok(Ok(None)) => problem(
            StatusCode::CONFLICT,
            &format!("incident {id} is unknown or already resolved"),
        ),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the pipeline did not answer in time",
        ),
    }
}

#[derive(Debug, Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

async fn get_blocklist(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(query): Query<FormatQuery>,
) -> Response {
    if let Err(denied) = authorize(&state, &headers, Role::Viewer) {
        return denied.into_response();
    }
    let now = Utc::now();
    let wants_json = query.format.as_deref() == Some("json")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        Json(state.response.blocklist.active(now)).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            state.response.blocklist.render_text(now),
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBlock {
    ip: IpAddr,
    ttl_secs: Option<u64>,
    reason: Option<String>,
}

async fn add_block(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<NewBlock>, JsonRejection>,
) -> Response {
    let role = match authorize(&state, &headers, Role::Admin) {
        Ok(role) => role,
        Err(denied) => return denied.into_response(),
    };
    let Json(new) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(&rejection),
    };
    let reason = new.reason.unwrap_or_else(|| "blocked by hand".to_owned());
    match state
        .response
        .blocklist
        .block_for(new.ip, &reason, Utc::now(), new.ttl_secs)
    {
        Ok(block) => {
            audit(
                &state,
                AuditKind::BlocklistChanged,
                &json!({"change": "block", "ip": new.ip, "until": block.until, "by": role.as_str()}),
            );
            (StatusCode::CREATED, Json(block)).into_response()
        }
        Err(crate::respond::BlockError::Allowlisted(ip)) => problem(
            StatusCode::CONFLICT,
            &format!("{ip} is allowlisted and is never blocked"),
        ),
        Err(e) => storage_failed(&e, "blocklist", "the blocklist could not be written"),
    }
}

async fn remove_block(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(ip): Path<String>,
) -> Response {
    let role = match authorize(&state, &headers, Role::Responder) {
        Ok(role) => role,
        Err(denied) => return denied.into_response(),
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return problem(
            StatusCode::BAD_REQUEST,
            &format!("{ip:?} is not an address"),
        );
    };
    match state.response.blocklist.unblock(ip, Utc::now()) {
        Ok(true) => {
            audit(
                &state,
                AuditKind::BlocklistChanged,
                &json!({"change": "unblock", "ip": ip, "by": role.as_str()}),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => problem(StatusCode::NOT_FOUND, &format!("{ip} is not blocked")),
        Err(e) => storage_failed(&e, "blocklist", "the blocklist could not be written"),
    }
}

async fn list_silences(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Err(denied) = authorize(&state, &headers, Role::Viewer) {
        return denied.into_response();
    }
    Json(state.response.silences.active(Utc::now())).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSilence {
    #[serde(rename = "match")]
    matcher: SilenceMatch,
    duration_secs: u64,
    reason: String,
}

async fn add_silence(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Json<NewSilence>, JsonRejection>,
) -> Response {
    let role = match authorize(&state, &headers, Role::Responder) {
        Ok(role) => role,
        Err(denied) => return denied.into_response(),
    };
    let Json(new) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(&rejection),
    };
    if let Some(why) = new.matcher.problem() {
        return problem(StatusCode::BAD_REQUEST, why);
    }
    if new.duration_secs == 0 || new.duration_secs > 90 * 24 * 3_600 {
        return problem(
            StatusCode::BAD_REQUEST,
            "duration_secs must be between 1 and 7776000 (90 days)",
        );
    }
    let now = Utc::now();
    let seconds = i64::try_from(new.duration_secs).unwrap_or(i64::MAX);
    let silence = Silence {
        id: format!("SIL-{}", now.timestamp_nanos_opt().unwrap_or_default()),
        matcher: new.matcher,
        expires_at: now + chrono::Duration::seconds(seconds),
        created_at: now,
        created_by: role.as_str().to_owned(),
        reason: new.reason,
    };
    match state.response.silences.add(silence.clone()) {
        Ok(()) => {
            audit(
                &state,
                AuditKind::SilenceChanged,
                &json!({"change": "add", "silence": silence}),
            );
            (StatusCode::CREATED, Json(silence)).into_response()
        }
        Err(e) => storage_failed(&e, "silences", "the silence could not be stored"),
    }
}

async fn remove_silence(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let role = match authorize(&state, &headers, Role::Responder) {
        Ok(role) => role,
        Err(denied) => return denied.into_response(),
    };
    match state.response.silences.remove(&id) {
        Ok(true) => {
            audit(
                &state,
                AuditKind::SilenceChanged,
                &json!({"change": "remove", "id": id, "by": role.as_str()}),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => problem(StatusCode::NOT_FOUND, &format!("no silence {id}")),
        Err(e) => storage_failed(&e, "silences", "the silence could not be removed"),
    }
}
