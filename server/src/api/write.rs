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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use serde_json::json;

    use crate::testing::send;

    const TOKEN: &str = "test-admin-token-0123456789abcdef";

    fn app() -> (tempfile::TempDir, Arc<sebroker_engine::Engine>) {
        let (dir, mut app) = sebroker_engine::demo::open_in_tempdir().expect("demo");
        app.config.sync.admin_token = Some(sebroker_engine::config::Secret(TOKEN.into()));
        (dir, Arc::new(app))
    }

    async fn post(
        app: &Arc<sebroker_engine::Engine>,
        uri: &str,
        key: Option<&str>,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        send(app, "POST", uri, TOKEN, &headers, Some(body.to_owned())).await
    }

    /// New → 201, the same key again → 200 with the same record; the body
    /// is judged before the key; a void must name the case's own event.
    #[tokio::test]
    async fn writes_answer_new_replayed_and_refused_in_one_shape() {
        let (_dir, app) = app();
        let (st, page) = send(&app, "GET", "/api/v1/notices?limit=1", TOKEN, &[], None).await;
        assert_eq!(st, StatusCode::OK, "{page}");
        let ocid = page["hits"][0]["ocid"]
            .as_str()
            .expect("an ocid")
            .to_owned();
        let body = json!({ "ocid": ocid, "members": ["m-0001"] }).to_string();

        let (st, first) = post(&app, "/api/v1/cases", Some("w-1"), &body).await;
        assert_eq!(st, StatusCode::CREATED, "{first}");
        assert_eq!(first["replayed"], false);
        let (st, again) = post(&app, "/api/v1/cases", Some("w-1"), &body).await;
        assert_eq!(st, StatusCode::OK, "{again}");
        assert_eq!(again["replayed"], true);
        assert_eq!(again["seq"], first["seq"]);
        assert_eq!(again["case"], first["case"]);

        let (st, e) = post(&app, "/api/v1/cases", None, &body).await;
        assert_eq!(
            (st, &e["error"]["code"]),
            (StatusCode::BAD_REQUEST, &json!("missing_idempotency_key"))
        );
        let (st, e) = post(&app, "/api/v1/cases", None, "{").await;
        assert_eq!(
            (st, &e["error"]["code"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_body"))
        );

        let id = first["case"]["case_id"]
            .as_str()
            .expect("case id")
            .to_owned();
        let events = format!("/api/v1/cases/{id}/events");
        let (st, step) = post(&app, &events, Some("w-2"), r#"{"type":"introduced"}"#).await;
        assert_eq!(st, StatusCode::CREATED, "{step}");
        assert_eq!(step["case"]["status"], "introduced");
        let (st, e) = post(
            &app,
            &events,
            Some("w-3"),
            r#"{"type":"void","voids_seq":999999}"#,
        )
        .await;
        assert_eq!(
            (st, &e["error"]["code"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("invalid_void")),
            "{e}"
        );

        let seq = step["seq"].as_u64().expect("seq");
        let void = format!("/api/v1/events/{seq}/void");
        let (st, v) = post(&app, &void, Some("w-4"), r#"{"reason":"typo"}"#).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["replayed"], false);
        assert!(v["event"]["seq"].as_u64() > Some(seq), "{v}");
        let (st, e) = post(
            &app,
            "/api/v1/events/x/void",
            Some("w-5"),
            r#"{"reason":"typo"}"#,
        )
        .await;
        assert_eq!(
            (st, &e["error"]["code"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_parameter")),
            "{e}"
        );
    }
}
