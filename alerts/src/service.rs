//! The alert engine inside `sebroker serve`: one task selects (after each
//! ingest for instant alerts, at each digest slot for everything due), one
//! task delivers (when alerts are queued, and when retries fall due).

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::deliver::{deliver_due, next_due_off};
use super::{run, schedule, RunOptions, Scope};
use crate::host::Host;

/// The longest the delivery task sleeps without being woken.
const MAX_IDLE: Duration = Duration::from_secs(60);

fn until(t: OffsetDateTime) -> Duration {
    let d = t - OffsetDateTime::now_utc();
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

/// Starts the selection and delivery tasks.
pub fn spawn(app: Arc<dyn Host>) -> Vec<tokio::task::JoinHandle<()>> {
    let selector = {
        let app = app.clone();
        tokio::spawn(async move {
            // Catch up with what was ingested while the server was down.
            let mut scope = Scope::Changes;
            loop {
                let a = app.clone();
                let opts = RunOptions {
                    now: OffsetDateTime::now_utc(),
                    dry_run: false,
                    scope,
                };
                match tokio::task::spawn_blocking(move || run(a.as_ref(), &opts)).await {
                    Ok(Ok(r)) => {
                        if !r.alerts.is_empty() {
                            tracing::info!(
                                alerts = r.alerts.len(),
                                deliveries = r.deliveries_queued,
                                "alerts queued"
                            );
                        }
                        if r.deliveries_queued > 0 {
                            app.runtime().queued.notify_one();
                        }
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "alert run failed"),
                    Err(e) => tracing::error!(error = %e, "alert run panicked"),
                }
                let next = schedule::next_slot(&app.config().digest, OffsetDateTime::now_utc());
                scope = tokio::select! {
                    () = app.runtime().ingested.notified() => Scope::Changes,
                    () = tokio::time::sleep(until(next)) => Scope::All,
                };
            }
        })
    };
    if !app.config().deliver {
        // `[alerts] deliver = false`: alerts are selected and queued, and
        // nothing leaves the machine.
        tracing::warn!("alert deliveries are off ([alerts] deliver = false)");
        return vec![selector];
    }
    let deliverer = tokio::spawn(async move {
        loop {
            if let Err(e) = deliver_due(app.clone()).await {
                tracing::error!(error = %e, "delivering alerts failed");
            }
            let wait = match next_due_off(&app).await {
                Ok(Some(t)) => until(t).clamp(Duration::from_millis(10), MAX_IDLE),
                Ok(None) => MAX_IDLE,
                Err(e) => {
                    tracing::error!(error = %e, "reading the delivery queue failed");
                    MAX_IDLE
                }
            };
            tokio::select! {
                () = app.runtime().queued.notified() => {},
                () = tokio::time::sleep(wait) => {},
            }
        }
    });
    vec![selector, deliverer]
}
