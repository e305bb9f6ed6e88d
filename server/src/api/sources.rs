//! `GET /api/v1/sources`: each live source's last run, counts, errors and
//! next run.

use axum::extract::State;
use axum::Json;

use crate::error::ApiError;
use sebroker_engine::sources::{self, SourceStatus};

#[derive(serde::Serialize)]
pub struct SourcesPage {
    pub sources: Vec<SourceStatus>,
}

pub async fn list(State(app): State<super::State>) -> Result<Json<SourcesPage>, ApiError> {
    let sources = crate::blocking::try_run(move || Ok(sources::statuses(&app)?)).await?;
    Ok(Json(SourcesPage { sources }))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use axum::http::StatusCode;

    use sebroker_engine::Engine;
    use sebroker_store::failing::FailingStore;

    const TOKEN: &str = "test-admin-token-0123456789abcdef";

    async fn get(app: &Arc<Engine>, uri: &str) -> (StatusCode, serde_json::Value) {
        crate::testing::call(app, "GET", uri, TOKEN, None).await
    }

    /// Stats and sources answer 500 `internal` when the store fails, never
    /// an empty list or zero counts; search, which reads the index, answers.
    #[tokio::test]
    async fn store_errors_are_500_internal_not_empty_answers() {
        let (_dir, mut app) = sebroker_engine::demo::open_in_tempdir().expect("demo");
        app.config.sync.admin_token = Some(sebroker_engine::config::Secret(TOKEN.into()));
        let failing = Arc::new(FailingStore::new(app.store.clone()));
        app.store = failing.clone();
        let app = Arc::new(app);
        let uris = ["/api/v1/notices?q=", "/api/v1/stats", "/api/v1/sources"];
        for uri in uris {
            let (status, v) = get(&app, uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {v}");
        }
        failing.fail.store(true, Ordering::SeqCst);
        // Search answers from the index alone (each hit's listing is
        // stored there): it still finds, never an empty page.
        let (status, v) = get(&app, uris[0]).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert!(
            v["total"].as_u64().unwrap_or(0) > 0 && v["hits"][0]["title"].is_string(),
            "{v}"
        );
        for uri in &uris[1..] {
            let (status, v) = get(&app, uri).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}: {v}");
            assert_eq!(v["error"]["code"], "internal", "{uri}");
        }
    }
}
