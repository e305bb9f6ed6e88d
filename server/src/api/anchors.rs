//! `POST /api/v1/anchors/{slug}/opportunities`: an anchor's opportunity (the
//! fields of the sebroker-anchors format, as JSON), for admins (an admin
//! key, or the configured admin token), stored durably before the reply.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use sebroker_connectors::anchors::{self, Opportunity, OpportunityInput};

use crate::error::{ApiError, Code};

#[derive(serde::Serialize)]
pub struct Created {
    pub ocid: String,
    pub source: String,
    pub created: bool,
}

pub async fn create(
    State(app): State<super::State>,
    Path(slug): Path<String>,
    crate::body::ApiJson(input): crate::body::ApiJson<OpportunityInput>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    anchors::check_slug(&slug).map_err(|m| ApiError::new(Code::InvalidAnchor, m))?;
    let opp = Opportunity::parse(&input, &app.places()).map_err(|errs| {
        let msg: Vec<String> = errs.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        ApiError::new(Code::InvalidOpportunity, msg.join("; "))
    })?;
    let report = crate::blocking::try_run(move || {
        Ok(sebroker_engine::anchors::import(&app, &slug, &[(0, opp)])?)
    })
    .await?;
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
