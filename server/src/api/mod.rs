//! The HTTP API: JSON under `/api/v1`, errors as
//! `{"error": {"code", "message"}}`, every route behind an API key and a
//! role check (admitted by [`crate::principal::admit`] against [`crate::policy`]), CSV on request (`?format=csv` or
//! `Accept: text/csv`), with body-size and time limits. See docs/api.md.

pub mod accounts;
pub mod alerts;
pub mod anchors;
pub mod audit;
pub mod cases;
pub mod interests;
pub mod keys;
pub mod market;
pub mod matches;
pub mod members;
pub mod notices;
pub mod returns;
pub mod sources;
pub mod totals;
pub mod write;

use std::sync::Arc;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Code};
use sebroker_engine::Engine;

pub type State = Arc<Engine>;

pub async fn healthz(
    axum::extract::State(app): axum::extract::State<State>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "ok",
        "notices": app.index.num_docs(),
    }))
}

/// `limit` (default 100, at most [`MAX_PAGE`]) and `offset` (at most
/// [`MAX_OFFSET`]) on lists; larger values are refused, not clamped, so a
/// client learns its page is not what it asked for.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "bounded::limit")]
    pub limit: Option<usize>,
    /// 0 to 1,000,000 (default 0).
    #[param(minimum = 0, maximum = 1000000)]
    #[serde(deserialize_with = "bounded::offset")]
    pub offset: Option<usize>,
}

/// The longest page a list answers.
pub const MAX_PAGE: usize = 1000;
/// The deepest offset a list answers (search: `offset + limit` at most
/// [`sebroker_index::query::MAX_WINDOW`]).
pub const MAX_OFFSET: usize = 1_000_000;

impl Paging {
    /// `{ "total", "limit", "offset", <name>: [the page] }`.
    pub fn wrap<T: Serialize>(&self, name: &str, items: Vec<T>) -> serde_json::Value {
        let total = items.len();
        let limit = self.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let offset = self.offset.unwrap_or(0);
        let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let mut v = serde_json::json!({ "total": total, "limit": limit, "offset": offset });
        v[name] = serde_json::to_value(page).unwrap_or_default();
        v
    }
}

/// Deserializers that refuse out-of-range sizes where they are parsed
/// (`#[serde(default, deserialize_with = "bounded::limit")]`): a query
/// string with `limit=0` or `offset=99999999999` is a 400, never a huge
/// allocation further in.
pub mod bounded {
    use serde::de::{Deserialize, Deserializer, Error};

    fn within<'de, D: Deserializer<'de>>(
        d: D,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<usize>, D::Error> {
        match Option::<usize>::deserialize(d)? {
            Some(n) if n < min || n > max => {
                Err(D::Error::custom(format!("{name}: {min} to {max}, not {n}")))
            }
            v => Ok(v),
        }
    }

    pub fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        within(d, "limit", 1, super::MAX_PAGE)
    }

    pub fn offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        within(d, "offset", 0, super::MAX_OFFSET)
    }
}

/// Checks a search's `limit` (1 to [`sebroker_index::query::MAX_LIMIT`]);
/// how deep `offset + limit` may go is the index's to refuse
/// (`IndexError::Window`, answered as 400 `offset_too_large`).
pub fn search_limit(limit: Option<usize>) -> Result<(), ApiError> {
    use sebroker_index::query::MAX_LIMIT;
    bounded("limit", limit, 10, MAX_LIMIT).map(|_| ())
}

/// The deepest search `offset` the API takes: any `limit` fits after it
/// in the index's window, so the two limits are independent (as the
/// OpenAPI document states them).
pub const MAX_SEARCH_OFFSET: usize =
    sebroker_index::query::MAX_WINDOW - sebroker_index::query::MAX_LIMIT;

/// Checks a search's `offset` (0 to [`MAX_SEARCH_OFFSET`]).
pub fn search_offset(offset: Option<usize>) -> Result<(), ApiError> {
    match offset {
        Some(o) if o > MAX_SEARCH_OFFSET => Err(ApiError::new(
            Code::OffsetTooLarge,
            format!("offset: at most {MAX_SEARCH_OFFSET}, not {o}; narrow the search instead of paging this deep"),
        )),
        _ => Ok(()),
    }
}

/// A count-like query parameter (`top`, `max_size`): 1 to `max`.
pub fn bounded(
    name: &str,
    v: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::new(
            Code::InvalidParameter,
            format!("{name}: 1 to {max}"),
        )),
    }
}

/// Runs blocking work (store, ledger) off the async threads.
pub use crate::blocking::try_run as blocking;

/// 201 for a new write, 200 for a replayed one.
pub fn write_status(replayed: bool) -> StatusCode {
    if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}
