//! The audit log over HTTP (admins): `GET /api/v1/audit?since=RFC3339&
//! actor=&kind=&limit=&offset=`, oldest first; CSV with `format=csv` or
//! `Accept: text/csv`. There is no route that changes or deletes entries.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::blocking;
use crate::body::ApiQuery;
use crate::error::{ApiError, Code};
use sebroker_engine::audit::AuditFilter;

/// The filters of `GET /api/v1/audit`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries at or after this instant (RFC 3339 with an offset).
    pub since: Option<String>,
    /// The actor exactly: `key:<id>`, `admin-token`, `cli:<user>`, `anonymous`.
    pub actor: Option<String>,
    /// A part of the kind: a route (`POST /api/v1/cases`) or a command (`cli keys`).
    pub kind: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "super::bounded::limit")]
    pub limit: Option<usize>,
    /// 0 to 1,000,000 (default 0).
    #[param(minimum = 0, maximum = 1000000)]
    #[serde(deserialize_with = "super::bounded::offset")]
    pub offset: Option<usize>,
}

/// `GET /api/v1/audit`: `{total, limit, offset, entries: [...]}`.
pub async fn list(
    State(app): State<super::State>,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let since = p
        .since
        .as_deref()
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(
                |_| {
                    ApiError::new(
                        Code::InvalidParameter,
                        format!("since: {s:?} is not an RFC 3339 time like 2026-12-01T09:00:00Z"),
                    )
                    .with_field("since")
                },
            )
        })
        .transpose()?;
    let filter = AuditFilter {
        since,
        actor: p.actor,
        kind: p.kind,
    };
    let page = super::Paging {
        limit: p.limit,
        offset: p.offset,
    };
    blocking(move || {
        let entries = app.audit.list(&filter)?;
        Ok(Json(page.wrap("entries", entries)))
    })
    .await
}
