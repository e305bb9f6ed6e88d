//! `[alerts]`: the alert engine's configuration, checked and completed once
//! at start (see docs/alerts.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use sebroker_model::Secret;

use crate::error::{Error, Result};

/// `[alerts]`: the alert engine (see docs/alerts.md). Every field has a
/// default; `public_url` comes from the top level, `digest` from
/// `digest_time` and `digest_weekday`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Base of links in alerts and feeds (top-level `public_url`).
    #[serde(skip)]
    pub public_url: String,
    /// Score a match needs to be alerted, unless a member sets its own.
    pub default_threshold: f64,
    /// Frequency of members who set none.
    pub default_frequency: crate::schedule::Frequency,
    /// UK local time of digests, `HH:MM`.
    pub digest_time: String,
    /// Day of weekly digests.
    pub digest_weekday: String,
    #[serde(skip)]
    pub digest: crate::schedule::DigestSchedule,
    /// New notices per alert at most (the rest follow in the next one).
    pub max_items: usize,
    /// Networks webhooks may reach despite the SSRF rules (`127.0.0.1`, `10.0.0.0/8`).
    pub webhook_allow: crate::urlsafe::Allowlist,
    pub webhook_timeout_ms: u64,
    pub webhook_connect_timeout_ms: u64,
    /// Attempts per delivery, the first included; then it is dead.
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Deliveries attempted at once.
    pub concurrency: usize,
    /// `smtp://`, `smtps://user:pass@host:465`; none: the outbox folder.
    pub smtp_url: Option<Secret>,
    pub smtp_timeout_ms: u64,
    pub email_from: String,
    /// Where `.eml` files go without SMTP [default: `<data_dir>/outbox`].
    pub outbox_dir: Option<PathBuf>,
    pub broker_email: Option<String>,
    pub broker_webhook_url: Option<String>,
    pub broker_webhook_secret: Option<Secret>,
    /// The secret of the brokers' feed `/feeds/{token}.atom`.
    pub broker_feed_token: Option<Secret>,
    /// A single match this strong needs no broker.
    pub broker_strong_match: f64,
    /// A consortium this strong is worth a broker's look.
    pub broker_strong_consortium: f64,
    /// Notices from this value (whole pounds) with few strong matches.
    pub broker_high_value_gbp: i64,
    /// "Few" strong matches: fewer than this.
    pub broker_few_matches: usize,
    /// Cases whose deadline falls within this many days.
    pub case_deadline_days: i64,
    /// false: nothing is sent (deliveries stay queued, webhook names are
    /// not resolved): for test servers that must not reach out.
    pub deliver: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            public_url: // The server's default address (`sebroker_engine::config::DEFAULT_ADDR`).
            "http://127.0.0.1:8080".to_owned(),
            default_threshold: 0.6,
            default_frequency: crate::schedule::Frequency::Daily,
            digest_time: "08:00".into(),
            digest_weekday: "monday".into(),
            digest: crate::schedule::DigestSchedule::default(),
            max_items: 25,
            webhook_allow: crate::urlsafe::Allowlist::default(),
            webhook_timeout_ms: 10_000,
            webhook_connect_timeout_ms: 5_000,
            max_attempts: 8,
            backoff_base_ms: 30_000,
            backoff_max_ms: 3_600_000,
            concurrency: 8,
            smtp_url: None,
            smtp_timeout_ms: 30_000,
            email_from: "sebroker alerts <alerts@localhost>".into(),
            outbox_dir: None,
            broker_email: None,
            broker_webhook_url: None,
            broker_webhook_secret: None,
            broker_feed_token: None,
            broker_strong_match: 0.6,
            broker_strong_consortium: 0.6,
            broker_high_value_gbp: 100_000,
            broker_few_matches: 3,
            case_deadline_days: 7,
            deliver: true,
        }
    }
}

impl AlertsConfig {
    /// Checks and completes the `[alerts]` section: `public_url` (flag or
    /// environment, else the file, else `http://<addr>`), `SEBROKER_SMTP_URL`.
    pub fn resolve(
        mut self,
        public_url: Option<String>,
        addr: &SocketAddr,
        smtp_env: Option<String>,
    ) -> Result<AlertsConfig> {
        let bad = |m: String| Err(Error::Config(m));
        self.public_url = match public_url {
            Some(u) => {
                let u = sebroker_connectors::http::check_url(&u)
                    .map_err(|m| Error::Config(format!("public_url: {m}")))?;
                u.as_str().trim_end_matches('/').to_owned()
            }
            None => format!("http://{addr}"),
        };
        self.digest = crate::schedule::DigestSchedule::parse(
            Some(&self.digest_time),
            Some(&self.digest_weekday),
        )
        .map_err(|m| Error::Config(format!("alerts.{m}")))?;
        for (k, v) in [
            ("default_threshold", self.default_threshold),
            ("broker_strong_match", self.broker_strong_match),
            ("broker_strong_consortium", self.broker_strong_consortium),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("alerts.{k}: {v} must be between 0 and 1"));
            }
        }
        if self.max_attempts == 0 || self.max_items == 0 {
            return bad("alerts.max_attempts and alerts.max_items: must be at least 1".into());
        }
        if let Some(e) = smtp_env.filter(|e| !e.trim().is_empty()) {
            self.smtp_url = Some(Secret(e));
        }
        if let Some(u) = &self.smtp_url {
            let scheme = u.0.split("://").next().unwrap_or("");
            if !matches!(scheme, "smtp" | "smtps") {
                return bad("alerts.smtp_url: must start with smtp:// or smtps://".into());
            }
        }
        if let Some(e) = &self.broker_email {
            crate::email::parse_email(e)
                .map_err(|m| Error::Config(format!("alerts.broker_email: {m}")))?;
        }
        if let Some(u) = &self.broker_webhook_url {
            crate::urlsafe::parse(u, &self.webhook_allow)
                .map_err(|m| Error::Config(format!("alerts.broker_webhook_url: {m}")))?;
            if self
                .broker_webhook_secret
                .as_ref()
                .is_none_or(|s| s.0.len() < 16)
            {
                return bad("alerts.broker_webhook_secret: needed with broker_webhook_url, at least 16 characters".into());
            }
        }
        if self
            .broker_feed_token
            .as_ref()
            .is_some_and(|s| s.0.len() < 16)
        {
            return bad("alerts.broker_feed_token: use at least 16 characters".into());
        }
        Ok(self)
    }
}
