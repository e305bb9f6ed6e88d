//! `GET /api/v1/notices` (search, same parameters as `sebroker search`) and
//! `GET /api/v1/notices/{ocid}` (one notice in full, with its contacts).

use axum::extract::{Path, State};
use axum::Json;

use crate::body::ApiQuery;
use crate::error::{notice_not_found, ApiError};
use sebroker_engine::search::{self, SearchPage, SearchParams};
use sebroker_index::Notice;

pub async fn list(
    State(app): State<super::State>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    super::search_limit(params.limit)?;
    super::search_offset(params.offset)?;
    let page = crate::blocking::try_run(move || Ok(search::search(&app, &params)?)).await?;
    Ok(Json(page))
}

pub async fn show(
    State(app): State<super::State>,
    Path(ocid): Path<String>,
) -> Result<Json<Notice>, ApiError> {
    crate::blocking::try_run(move || match app.store.get_notice(&ocid)? {
        Some(n) => Ok(Json(n)),
        None => Err(notice_not_found(&ocid)),
    })
    .await
}
