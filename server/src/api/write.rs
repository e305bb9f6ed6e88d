//! The one ledger-write handler: every API write (open a case, a case
//! step, a yearly return, a referral, a void) is "principal + JSON input +
//! `Idempotency-Key` → a ledger event → appended off the async threads →
//! 201 for a new record, 200 with the same body for a replay". Each input
//! says only how it becomes an event and what the answer shows
//! ([`LedgerWrite`]).

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

use sebroker_engine::Engine;
use sebroker_ledger::{Appended, NewEvent};

use super::{blocking, write_status};
use crate::body::{ApiJson, IdempotencyKey};
use crate::error::ApiError;
use crate::principal::Principal;
use crate::services;
use crate::state::ServerState;

/// An API input that books one ledger event.
pub trait LedgerWrite: DeserializeOwned + Send + 'static {
    /// What the route's path names: `()`, or `Path<…>` (a case id, a
    /// member id, an event's seq).
    type Params: FromRequestParts<ServerState> + Send + 'static;

    /// The event this input books, for `actor` under idempotency `key`
    /// (blocking: may read the store and the ledger).
    fn into_event(
        self,
        app: &Engine,
        params: &Self::Params,
        actor: String,
        key: String,
    ) -> Result<NewEvent, ApiError>;

    /// The answer's body once the event is appended (or replayed).
    fn answer(
        app: &Engine,
        params: &Self::Params,
        done: &Appended,
    ) -> Result<serde_json::Value, ApiError>;
}

/// The handler of every ledger write. The body is parsed before the
/// idempotency key is checked (a bad body answers `invalid_body` even
/// without a key), as the writes always have.
pub async fn write<W: LedgerWrite>(
    caller: Principal,
    State(app): State<super::State>,
    params: W::Params,
    key: Result<IdempotencyKey, ApiError>,
    ApiJson(input): ApiJson<W>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let IdempotencyKey(key) = key?;
    blocking(move || {
        let e = input.into_event(&app, &params, caller.actor(), key)?;
        let done = services::cases::record(&app, e)?;
        let body = W::answer(&app, &params, &done)?;
        Ok((write_status(done.replayed), Json(body)))
    })
    .await
}

/// The answer of a write that shows the event itself.
pub fn event_answer(done: &Appended) -> serde_json::Value {
    serde_json::json!({ "event": done.record, "replayed": done.replayed })
}
