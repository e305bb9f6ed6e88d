//! Sending due deliveries, at least once: each attempt is recorded as
//! `sending` (durably) before it starts and as `sent`, `failed` (with the
//! reason and the time of the next attempt: exponential backoff with
//! jitter) or `dead` (after the last attempt, or a permanent refusal)
//! after. A delivery found `sending` after a crash is sent again with the
//! same delivery id; nothing recorded `sent` is ever sent again.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::log::{Channel, Delivery, DeliveryState};
use super::webhook::{self, Attempt, Timeouts};
use super::{email, BROKERS};
use crate::error::Result;
use crate::host::Host;

pub use crate::runtime::AlertsRuntime;

/// Counts of one pass.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliverReport {
    pub attempted: usize,
    pub sent: usize,
    pub failed: usize,
    pub dead: usize,
    pub deliveries: Vec<DeliveryOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryOutcome {
    pub id: String,
    pub alert_id: String,
    pub recipient: String,
    pub channel: Channel,
    pub state: DeliveryState,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DeliverReport {
    /// 0 nothing failed, 3 some failed, 1 all attempts failed.
    pub fn exit_code(&self) -> u8 {
        use sebroker_model::exit;
        if self.attempted == 0 || self.failed + self.dead == 0 {
            exit::OK
        } else if self.sent == 0 {
            exit::FAILED
        } else {
            exit::PARTIAL
        }
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        return 0x9e37_79b9_7f4a_7c15;
    }
    u64::from_le_bytes(b)
}

/// The wait before attempt `attempts + 1`: base × 2^(attempts − 1), capped,
/// then a random point in its upper half (jitter).
pub fn backoff(base_ms: u64, max_ms: u64, attempts: u32) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempts.saturating_sub(1).min(30));
    let d = exp.min(max_ms).max(1);
    let half = d / 2;
    Duration::from_millis(half + random_u64() % (d - half + 1))
}

struct InFlight<'a>(&'a AlertsRuntime, String);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.1);
    }
}

/// Runs store and file work (sled scans, flushes, the outbox) on a
/// blocking thread, never on the async workers that serve requests.
async fn off<T: Send + 'static>(
    app: &Arc<dyn Host>,
    f: impl FnOnce(&dyn Host) -> Result<T> + Send + 'static,
) -> Result<T> {
    let a = app.clone();
    tokio::task::spawn_blocking(move || f(a.as_ref()))
        .await
        .map_err(|e| crate::Error::Io {
            path: app.data_dir().to_owned(),
            source: std::io::Error::other(format!("alert delivery work stopped: {e}")),
        })?
}

/// Attempts every delivery that is due now (at most `concurrency` at a
/// time); returns what happened.
pub async fn deliver_due(app: Arc<dyn Host>) -> Result<DeliverReport> {
    let now = OffsetDateTime::now_utc();
    let due: Vec<Delivery> = off(&app, |a| a.alert_log().pending_deliveries())
        .await?
        .into_iter()
        .filter(|d| d.next_attempt_at <= now)
        .collect();
    let mut report = DeliverReport::default();
    let mut set = tokio::task::JoinSet::new();
    let limit = app.config().concurrency.max(1);
    let mut results = Vec::new();
    for d in due {
        {
            let mut f = app
                .runtime()
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !f.insert(d.id.clone()) {
                continue;
            }
        }
        while set.len() >= limit {
            if let Some(r) = set.join_next().await {
                results.push(r);
            }
        }
        let app = app.clone();
        set.spawn(async move {
            let _guard = InFlight(app.runtime(), d.id.clone());
            attempt(&app, d).await
        });
    }
    while let Some(r) = set.join_next().await {
        results.push(r);
    }
    for r in results {
        let d = match r {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                tracing::error!(error = %e, "a delivery task failed");
                continue;
            }
        };
        report.attempted += 1;
        match d.state {
            DeliveryState::Sent => report.sent += 1,
            DeliveryState::Dead => report.dead += 1,
            _ => report.failed += 1,
        }
        report.deliveries.push(DeliveryOutcome {
            id: d.id,
            alert_id: d.alert_id,
            recipient: d.recipient,
            channel: d.channel,
            state: d.state,
            attempts: d.attempts,
            error: d.last_error.filter(|_| d.state != DeliveryState::Sent),
        });
    }
    Ok(report)
}

/// When the next pending delivery falls due (none: nothing pending), read
/// off the async threads.
pub async fn next_due_off(app: &Arc<dyn Host>) -> Result<Option<OffsetDateTime>> {
    off(app, next_due).await
}

/// When the next pending delivery falls due (none: nothing pending).
pub fn next_due(app: &dyn Host) -> Result<Option<OffsetDateTime>> {
    Ok(app
        .alert_log()
        .pending_deliveries()?
        .into_iter()
        .map(|d| d.next_attempt_at)
        .min())
}

/// Records `d` durably (a sled write and flush) off the async threads.
async fn put(app: &Arc<dyn Host>, d: Delivery) -> Result<Delivery> {
    off(app, move |a| {
        a.alert_log().put_delivery(&d)?;
        Ok(d)
    })
    .await
}

async fn attempt(app: &Arc<dyn Host>, mut d: Delivery) -> Result<Delivery> {
    let cfg = app.config();
    d.attempts += 1;
    d.record(DeliveryState::Sending, OffsetDateTime::now_utc(), None);
    // Durable before the send: after a crash this one is sent again.
    let mut d = put(app, d).await?;
    let outcome = send(app, &mut d).await?;
    let now = OffsetDateTime::now_utc();
    match outcome {
        Attempt::Sent => {
            tracing::info!(delivery_id = %d.id, recipient = %d.recipient, channel = d.channel.as_str(), attempt = d.attempts, "alert delivered");
            d.last_error = None;
            d.record(DeliveryState::Sent, now, None);
        }
        Attempt::Retry(why) if d.attempts < cfg.max_attempts => {
            let wait = backoff(cfg.backoff_base_ms, cfg.backoff_max_ms, d.attempts);
            d.next_attempt_at = now + wait;
            tracing::warn!(delivery_id = %d.id, recipient = %d.recipient, attempt = d.attempts, wait_ms = wait.as_millis() as u64, "delivery failed, will retry: {why}");
            d.record(DeliveryState::Failed, now, Some(why));
        }
        Attempt::Retry(why) | Attempt::Permanent(why) => {
            tracing::error!(delivery_id = %d.id, recipient = %d.recipient, attempt = d.attempts, "delivery dead: {why}");
            d.record(DeliveryState::Dead, now, Some(why));
        }
    }
    put(app, d).await
}

async fn send(app: &Arc<dyn Host>, d: &mut Delivery) -> Result<Attempt> {
    let cfg = app.config();
    let (alert_id, recipient) = (d.alert_id.clone(), d.recipient.clone());
    let (alert, settings) = off(app, move |a| {
        let log = a.alert_log();
        let settings = if recipient == BROKERS {
            None
        } else {
            log.settings(&recipient)?
        };
        Ok((log.alert(&alert_id)?, settings))
    })
    .await?;
    let Some(alert) = alert else {
        return Ok(Attempt::Permanent(format!(
            "alert {} is missing",
            d.alert_id
        )));
    };
    Ok(match d.channel {
        Channel::Webhook => {
            let (url, secret) = match &settings {
                Some(s) => (s.webhook_url.clone(), s.webhook_secret.clone()),
                None if d.recipient == BROKERS => (
                    cfg.broker_webhook_url.clone(),
                    cfg.broker_webhook_secret.as_ref().map(|s| s.0.clone()),
                ),
                None => (None, None),
            };
            let (Some(url), Some(secret)) = (url, secret) else {
                return Ok(Attempt::Permanent(
                    "the recipient no longer has a webhook".into(),
                ));
            };
            d.target = url.clone();
            let body = webhook::body(&alert, &d.id);
            let t = Timeouts {
                total: Duration::from_millis(cfg.webhook_timeout_ms),
                connect: Duration::from_millis(cfg.webhook_connect_timeout_ms),
            };
            let ts = OffsetDateTime::now_utc().unix_timestamp();
            let check = super::urlsafe::Checker {
                allow: cfg.webhook_allow.clone(),
                resolver: app.runtime().resolver(),
            };
            webhook::send(&url, &secret, &d.id, &body, ts, &check, t).await
        }
        Channel::Email => {
            let (to, unsubscribe) = match &settings {
                Some(s) => (
                    s.email.clone(),
                    Some(format!(
                        "{}/unsubscribe/{}",
                        cfg.public_url.trim_end_matches('/'),
                        s.unsubscribe_token
                    )),
                ),
                None => (cfg.broker_email.clone(), None),
            };
            let Some(to) = to else {
                return Ok(Attempt::Permanent(
                    "the recipient unsubscribed from email".into(),
                ));
            };
            d.target = to.clone();
            let r = email::render(&alert, unsubscribe.as_deref());
            let msg = match email::message(&cfg.email_from, &to, &r, &d.id, unsubscribe.as_deref())
            {
                Ok(m) => m,
                Err(e) => return Ok(Attempt::Permanent(e)),
            };
            match &cfg.smtp_url {
                Some(url) => {
                    email::send_smtp(&url.0, Duration::from_millis(cfg.smtp_timeout_ms), msg).await
                }
                None => {
                    let outbox = cfg
                        .outbox_dir
                        .clone()
                        .unwrap_or_else(|| app.data_dir().join("outbox"));
                    let id = d.id.clone();
                    // Writes and renames a file: a blocking thread's work.
                    off(app, move |_| Ok(email::write_outbox(&outbox, &id, &msg))).await?
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for attempts in 1..10 {
            let d = backoff(1000, 60_000, attempts).as_millis() as u64;
            let full = (1000u64 << (attempts - 1)).min(60_000);
            assert!(d >= full / 2 && d <= full, "{attempts}: {d}");
        }
        assert!(backoff(1000, 60_000, 40).as_millis() as u64 <= 60_000);
    }
}
