//! Alerts over HTTP:
//! `GET /api/v1/members/{id}/alerts`, `PUT /api/v1/members/{id}/alert-settings`,
//! `POST /api/v1/members/{id}/alert-settings/test` (a test payload to the
//! webhook, through the same SSRF-safe path as alerts),
//! `GET /api/v1/alerts/deliveries`, `POST /api/v1/alerts/run`, and outside
//! the API the secret feed `GET /feeds/{token}.atom` (its token is the
//! credential). The e-mail's unsubscribe link is a page
//! (`crate::pages::unsubscribe`).
//!
//! Who may call what is decided by the policy table (`crate::policy`)
//! before these handlers run.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::blocking;
use crate::body::ApiQuery;
use crate::error::{member_not_found, ApiError, Code};
use crate::services;
use sebroker_alerts::log::DeliveryState;
use sebroker_alerts::settings::SettingsInput;
use sebroker_alerts::{self as alerts, RunOptions, Scope};
use sebroker_engine::search::parse_when;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(deserialize_with = "super::bounded::limit")]
    pub limit: Option<usize>,
}

/// `GET /api/v1/members/{id}/alerts`: the member's settings (no secrets)
/// and its alerts, newest first.
pub async fn member_alerts(
    State(app): State<super::State>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<AlertsParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = super::bounded("limit", p.limit, 50, 500)?;
    blocking(move || {
        services::members::must_exist(&app, &id)?;
        let log = app.alert_log();
        let settings = log
            .settings(&id)?
            .map(|s| alerts::settings_view(&app.config.alerts, &s, false));
        let list = log.alerts_of(&id, limit)?;
        Ok(Json(serde_json::json!({
            "member_id": id,
            "settings": settings,
            "alerts": list,
        })))
    })
    .await
}

/// `PUT /api/v1/members/{id}/alert-settings`: changes what is given; the
/// answer holds the secrets (webhook secret, feed URL).
pub async fn put_settings(
    State(app): State<super::State>,
    Path(id): Path<String>,
    crate::body::ApiJson(input): crate::body::ApiJson<SettingsInput>,
) -> Result<Json<alerts::SettingsView>, ApiError> {
    blocking(move || {
        let now = time::OffsetDateTime::now_utc();
        let s = alerts::put_settings(app.as_ref(), &id, input, now).map_err(|e| match e {
            sebroker_alerts::Error::NotFound(_) => member_not_found(&id),
            sebroker_alerts::Error::Invalid(m) => ApiError::new(Code::InvalidAlertSettings, m),
            other => other.into(),
        })?;
        Ok(Json(alerts::settings_view(&app.config.alerts, &s, true)))
    })
    .await
}

/// What a webhook test came to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebhookTest {
    pub member_id: String,
    /// The URL the test went to.
    pub webhook_url: String,
    /// `sent`, `retry` (worth trying later: the receiver or its name did
    /// not answer) or `refused` (trying again cannot help).
    pub outcome: &'static str,
    pub delivered: bool,
    /// Why it was not delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Sends a signed test payload (`"event": "test"`) to member `id`'s
/// webhook through the alerts' own send: the URL checked against SSRF at
/// this send (names resolved once, connected to the checked address), no
/// redirects, the configured timeouts. Nothing is logged as a delivery.
pub async fn webhook_test(app: super::State, id: String) -> Result<WebhookTest, ApiError> {
    let app2 = app.clone();
    let id2 = id.clone();
    let settings = blocking(move || {
        services::members::must_exist(&app2, &id2)?;
        Ok(app2.alert_log().settings(&id2)?)
    })
    .await?;
    let (Some(url), Some(secret)) = settings
        .map(|s| (s.webhook_url, s.webhook_secret))
        .unwrap_or_default()
    else {
        return Err(ApiError::new(
            Code::InvalidAlertSettings,
            "webhook_url: no webhook is set; set one first, then test it",
        )
        .with_field("webhook_url"));
    };
    let cfg = &app.config.alerts;
    let delivery_id = format!("test-{}", alerts::settings::random_token()?);
    let now = time::OffsetDateTime::now_utc();
    let body = serde_json::to_vec(&serde_json::json!({
        "delivery_id": delivery_id,
        "event": "test",
        "member_id": id,
        "message": "A test from sebroker: your webhook receives alerts.",
        "sent_at": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    }))
    .map_err(|e| ApiError::new(Code::Internal, format!("the test payload: {e}")))?;
    let check = alerts::urlsafe::Checker {
        allow: cfg.webhook_allow.clone(),
        resolver: app.alerts_rt.resolver(),
    };
    let t = alerts::webhook::Timeouts {
        total: std::time::Duration::from_millis(cfg.webhook_timeout_ms),
        connect: std::time::Duration::from_millis(cfg.webhook_connect_timeout_ms),
    };
    let attempt = alerts::webhook::send(
        &url,
        &secret,
        &delivery_id,
        &body,
        now.unix_timestamp(),
        &check,
        t,
    )
    .await;
    use alerts::webhook::Attempt;
    let (outcome, detail) = match attempt {
        Attempt::Sent => ("sent", None),
        Attempt::Retry(why) => ("retry", Some(why)),
        Attempt::Permanent(why) => ("refused", Some(why)),
    };
    tracing::info!(member_id = %id, outcome, "webhook test");
    Ok(WebhookTest {
        member_id: id,
        webhook_url: url,
        outcome,
        delivered: outcome == "sent",
        detail,
    })
}

/// `POST /api/v1/members/{id}/alert-settings/test`: 200 with the outcome
/// (delivered or not, and why); 422 when the member has no webhook.
pub async fn test_settings(
    State(app): State<super::State>,
    Path(id): Path<String>,
) -> Result<Json<WebhookTest>, ApiError> {
    Ok(Json(webhook_test(app, id).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesParams {
    /// queued, sending, sent, failed or dead.
    pub state: Option<String>,
    /// A member id: only its deliveries.
    pub member: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "super::bounded::limit")]
    pub limit: Option<usize>,
}

/// `GET /api/v1/alerts/deliveries?state=dead&member=m-0001`: the delivery
/// log, newest alert first.
pub async fn deliveries(
    State(app): State<super::State>,
    ApiQuery(p): ApiQuery<DeliveriesParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let state = match p.state.as_deref() {
        Some(s) => Some(DeliveryState::parse(s).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter,
                format!("state: {s:?} is not one of queued, sending, sent, failed, dead"),
            )
        })?),
        None => None,
    };
    blocking(move || {
        let mut list: Vec<_> = app
            .alert_log()
            .deliveries()?
            .into_iter()
            .filter(|d| state.is_none_or(|s| d.state == s))
            .filter(|d| p.member.as_ref().is_none_or(|m| &d.recipient == m))
            .collect();
        list.reverse();
        list.truncate(p.limit.unwrap_or(100).min(1000));
        Ok(Json(serde_json::json!({ "deliveries": list })))
    })
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RunInput {
    pub dry_run: bool,
    /// RFC 3339 or YYYY-MM-DD: judge deadlines and digest times then.
    pub now: Option<String>,
}

/// `POST /api/v1/alerts/run`: selects and queues what is due; deliveries
/// follow in the background (see `GET /api/v1/alerts/deliveries`).
pub async fn run(
    State(app): State<super::State>,
    crate::body::OptionalApiJson(body): crate::body::OptionalApiJson<RunInput>,
) -> Result<Json<alerts::RunReport>, ApiError> {
    let input = body.unwrap_or_default();
    let now = match &input.now {
        Some(s) => parse_when("now", s, false)?,
        None => time::OffsetDateTime::now_utc(),
    };
    let app2 = app.clone();
    let report = blocking(move || {
        Ok(alerts::run(
            app2.as_ref(),
            &RunOptions {
                now,
                dry_run: input.dry_run,
                scope: Scope::All,
            },
        )?)
    })
    .await?;
    if report.deliveries_queued > 0 {
        app.alerts_rt.queued.notify_one();
    }
    Ok(Json(report))
}

/// `GET /feeds/{token}.atom`: the feed; 404 for unknown or revoked tokens.
pub async fn feed(State(app): State<super::State>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".atom").map(str::to_owned) else {
        return crate::error::not_found().await.into_response();
    };
    let result = blocking(move || {
        Ok(alerts::feed_for_token(
            app.as_ref(),
            &token,
            time::OffsetDateTime::now_utc(),
        )?)
    })
    .await;
    match result {
        Ok(Some(xml)) => (
            [
                (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
                (header::CACHE_CONTROL, "private, max-age=60"),
            ],
            xml,
        )
            .into_response(),
        Ok(None) => ApiError::of(Code::FeedNotFound).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;

    use axum::http::StatusCode;

    use sebroker_alerts::urlsafe::StaticResolver;
    use sebroker_engine::Engine;

    const TOKEN: &str = "test-admin-token-0123456789abcdef";

    async fn put(app: &Arc<Engine>, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
        let uri = "/api/v1/members/m-0013/alert-settings";
        crate::testing::call(app, "PUT", uri, TOKEN, Some(body)).await
    }

    #[tokio::test]
    async fn webhook_names_resolving_inside_are_refused_when_set() {
        let (_dir, mut app) = sebroker_engine::demo::open_in_tempdir().expect("demo");
        app.config.sync.admin_token = Some(sebroker_engine::config::Secret(TOKEN.into()));
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        app.alerts_rt.set_resolver(Arc::new(
            StaticResolver::default()
                .with("hosts-file-name.example", &[ip("127.0.0.1")])
                .with("six.example", &[ip("::1")])
                .with("mapped.example", &[ip("::ffff:127.0.0.1")])
                .with("meta.example", &[ip("169.254.169.254")])
                .with("office.example", &[ip("10.0.0.1")])
                .with("split.example", &[ip("93.184.215.14"), ip("127.0.0.1")])
                .with("hooks.example", &[ip("93.184.215.14")]),
        ));
        let app = Arc::new(app);
        for url in [
            "https://hosts-file-name.example/h",
            "https://six.example/h",
            "https://mapped.example/h",
            "https://meta.example/h",
            "https://office.example/h",
            "https://split.example/h",
            "https://no-such-name.invalid/h",
            "http://localhost/h",
            "http://127.0.0.1/h",
            "http://[::1]/h",
            "http://[::ffff:127.0.0.1]/h",
            "http://169.254.169.254/h",
            "http://10.0.0.1/h",
        ] {
            let (status, v) = put(&app, serde_json::json!({ "webhook_url": url })).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
            assert_eq!(v["error"]["code"], "invalid_alert_settings", "{url}");
        }
        let (status, v) = put(
            &app,
            serde_json::json!({ "webhook_url": "https://hooks.example/h" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["webhook_url"], "https://hooks.example/h");
    }
}
