//! `POST /api/v1/anchors/{slug}/opportunities`: an anchor's opportunity (the
//! fields of the sebroker-anchors format, as JSON), admitted with the admin
//! token (`Authorization: Bearer ...`), stored durably before the reply.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use sha2::{Digest, Sha256};

use sebroker_connectors::anchors::{self, Opportunity, OpportunityInput};

use super::error::ApiError;

/// An admitted administrator: the extractor refuses the request otherwise.
pub struct Admin;

/// Compares secrets in constant time (over their SHA-256, so lengths leak nothing).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Admits the bearer of the admin token; `what` names what is refused
/// when the server has none.
pub fn check_admin(
    app: &crate::App,
    headers: &axum::http::HeaderMap,
    what: &str,
    disabled_code: &'static str,
) -> Result<Admin, ApiError> {
    let Some(expected) = app.admin_token.as_ref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            disabled_code,
            format!("this server has no admin_token configured (SEBROKER_ADMIN_TOKEN), so it accepts no {what}"),
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if same_secret(t, &expected.0) => Ok(Admin),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the bearer token is not valid",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "send the admin token as `Authorization: Bearer <token>`",
        )),
    }
}

impl FromRequestParts<super::State> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &super::State) -> Result<Self, ApiError> {
        check_admin(app, &parts.headers, "uploads", "uploads_disabled")
    }
}

#[derive(serde::Serialize)]
pub struct Created {
    pub ocid: String,
    pub source: String,
    pub created: bool,
}

pub async fn create(
    _admin: Admin,
    State(app): State<super::State>,
    Path(slug): Path<String>,
    body: Result<Json<OpportunityInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    anchors::check_slug(&slug)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid_anchor", m))?;
    let Json(input) =
        body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text()))?;
    let opp = Opportunity::parse(&input, &app.places()).map_err(|errs| {
        let msg: Vec<String> = errs.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_opportunity",
            msg.join("; "),
        )
    })?;
    let report =
        tokio::task::spawn_blocking(move || crate::anchors::import(&app, &slug, &[(0, opp)]))
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })??;
    let ocid = report.ocids.first().cloned().unwrap_or_default();
    let created = report.notices_created > 0;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Created {
            ocid,
            source: format!("anchor:{}", report.anchor),
            created,
        }),
    ))
}
