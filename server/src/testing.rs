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
    send(app, method, uri, token, &[], body.map(|b| b.to_string())).await
}

/// As [`call`], with extra headers and a body sent as given (JSON content
/// type), so tests can send malformed JSON.
pub async fn send(
    app: &std::sync::Arc<sebroker_engine::Engine>,
    method: &str,
    uri: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b)),
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
