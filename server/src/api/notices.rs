//! `GET /api/v1/notices` (search, same parameters as `sebroker search`) and
//! `GET /api/v1/notices/{ocid}` (one notice in full, with its contacts).

use axum::extract::{Path, State};
use axum::Json;

use crate::body::ApiQuery;
use crate::error::{ApiError, Code};
use sebroker_engine::search::{self, SearchPage, SearchParams};
use sebroker_index::Notice;

pub async fn list(
    State(app): State<super::State>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    super::search_limit(params.limit)?;
    let page = crate::blocking::try_run(move || Ok(search::search(&app, &params)?)).await?;
    Ok(Json(page))
}

pub async fn show(
    State(app): State<super::State>,
    Path(ocid): Path<String>,
) -> Result<Json<Notice>, ApiError> {
    let notice =
        crate::blocking::try_run(move || Ok(app.store.get_notice(&ocid).map(|n| (n, ocid))?))
            .await?;
    match notice {
        (Some(n), _) => Ok(Json(n)),
        (None, ocid) => Err(ApiError::new(
            Code::NoticeNotFound,
            format!("no notice with ocid {ocid:?}"),
        )),
    }
}
