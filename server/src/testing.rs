//! Calls the whole router in-process, as a client would (unit tests).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

/// `method uri` with `Authorization: Bearer token` and an optional JSON
/// body; the status and the JSON answer.
pub async fn call(
    app: &std::sync::Arc<sebroker_engine::Engine>,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = crate::router::local(app.clone())
        .oneshot(req)
        .await
        .expect("response");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).expect("json"))
}
