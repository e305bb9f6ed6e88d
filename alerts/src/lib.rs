//! sebroker-alerts: ranked, explained alerts and their log.
//!
//! Alerts: ranked, explained news of matching notices for members (VCSEs)
//! and of notices that need brokering for brokers, by webhook, email and
//! Atom feed; never the same notice twice to a recipient except as an
//! update on a material change; every delivery logged durably.
//!
//! One run ([`run`]):
//! 1. [`selection`] picks, per recipient whose alerts are due
//!    ([`schedule`]), the new matches above its threshold and the material
//!    changes of notices it was already alerted to; [`broker`] picks the
//!    notices brokers should look at.
//! 2. Each alert is committed in one transaction with its "already
//!    alerted" marks and one queued delivery per channel ([`log`]), then
//!    flushed: from here nothing is lost.
//! 3. [`deliver`] sends due deliveries ([`webhook`], [`email`]), recording
//!    `sending` before and `sent` / `failed` / `dead` after each attempt,
//!    so after a crash only a send under way is repeated (with the same
//!    delivery id). The Atom feed ([`atom`]) reads the stored alerts.
//!
//! Webhook URLs are checked against SSRF at subscription and at every send
//! ([`urlsafe`]).

pub mod atom;
pub mod broker;
pub mod config;
pub mod deliver;
pub mod email;
mod error;
pub mod host;
pub mod log;
pub mod runtime;
pub mod schedule;
pub mod selection;
pub mod service;
pub mod settings;
pub mod urlsafe;
pub mod webhook;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use sebroker_model::{Stage, Status};

use crate::config::AlertsConfig;

pub use error::{Error, Result};
pub use host::Host;
pub use log::{AlertStore, Delivery, DeliveryState};
pub use schedule::Frequency;
pub use settings::AlertSettings;

/// The recipient key of broker alerts (member ids never start with `@`).
pub const BROKERS: &str = "@brokers";

/// Why an alert was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Instant,
    Daily,
    Weekly,
    Broker,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Instant => "instant",
            AlertKind::Daily => "daily",
            AlertKind::Weekly => "weekly",
            AlertKind::Broker => "broker",
        }
    }
}

/// An early signal: a notice that announces work before bids open, or a
/// Provider Selection Regime intention to award with its short window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// `pipeline`, `market_engagement`, `planned_procurement`,
    /// `early_engagement`, `psr_intention_to_award`.
    pub kind: String,
    pub label: String,
    /// When the window to respond closes (PSR: 8 working days).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub window_ends: Option<OffsetDateTime>,
}

/// A material change of a notice already alerted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    DeadlineMoved {
        #[serde(with = "time::serde::rfc3339::option")]
        from: Option<OffsetDateTime>,
        #[serde(with = "time::serde::rfc3339::option")]
        to: Option<OffsetDateTime>,
    },
    ValueChanged {
        from_pence: Option<i64>,
        to_pence: Option<i64>,
    },
    Cancelled,
    Awarded,
    /// An early signal became an open competition.
    Opened,
}

impl Change {
    /// The change in words.
    pub fn describe(&self) -> String {
        use sebroker_connectors::money::format_pence;
        let day =
            |d: &Option<OffsetDateTime>| d.map(schedule::uk_day).unwrap_or_else(|| "none".into());
        let money = |p: &Option<i64>| p.map(format_pence).unwrap_or_else(|| "not given".into());
        match self {
            Change::DeadlineMoved { from, to } => {
                format!("deadline moved from {} to {}", day(from), day(to))
            }
            Change::ValueChanged {
                from_pence,
                to_pence,
            } => format!(
                "value changed from {} to {}",
                money(from_pence),
                money(to_pence)
            ),
            Change::Cancelled => "cancelled or withdrawn by the buyer".into(),
            Change::Awarded => "awarded".into(),
            Change::Opened => "now open for bids".into(),
        }
    }
}

/// What a broker alert item is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokerNote {
    /// `consortium`, `few_matches`, `closing_case`.
    pub kind: String,
    pub detail: String,
    /// The ledger case (`closing_case`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

/// One notice in an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertItem {
    pub ocid: String,
    /// `new`, or `update` (a material change of a notice alerted before).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    pub title: String,
    pub buyer: Option<String>,
    pub value_pence: Option<i64>,
    /// The value in words (`£780,000.00`, `not given`).
    pub value: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    pub days_left: Option<i64>,
    pub status: Status,
    pub score: Option<f64>,
    /// Why it fits: the match components in words.
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<BrokerNote>,
    /// The notice on this server (`public_url`).
    pub link: String,
    /// The notice where it was published.
    pub source_url: Option<String>,
}

/// One alert: what one recipient hears at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    /// A member id, or `@brokers`.
    pub recipient: String,
    pub kind: AlertKind,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub items: Vec<AlertItem>,
}

/// What was alerted of a notice, to judge later changes against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub alert_id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    pub value_pence: Option<i64>,
    pub stage: Stage,
    pub score: Option<f64>,
}

/// Which recipients a run considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Instant recipients, for the notices changed since the last run
    /// (after an ingest).
    Changes,
    /// Everything due: instant recipients over all their matches, digests
    /// whose time has come, broker checks over all open notices.
    All,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub now: OffsetDateTime,
    pub dry_run: bool,
    pub scope: Scope,
}

/// What a run selected (and, unless a dry run, queued).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub dry_run: bool,
    pub recipients_considered: usize,
    pub digests_due: usize,
    pub alerts: Vec<AlertSummary>,
    pub items_new: usize,
    pub items_updates: usize,
    pub deliveries_queued: usize,
    /// Full alerts (with a dry run: what would be sent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preview: Vec<Alert>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertSummary {
    pub id: String,
    pub recipient: String,
    pub kind: AlertKind,
    pub items: usize,
    pub channels: Vec<String>,
}

/// The key under which an item is remembered as alerted: the notice, or
/// for a closing case the case.
pub fn mark_key(item: &AlertItem) -> String {
    match item.broker.as_ref().and_then(|b| b.case_id.as_ref()) {
        Some(c) => format!("case:{c}"),
        None => item.ocid.clone(),
    }
}

/// The link of a notice on this server.
pub fn notice_link(cfg: &AlertsConfig, ocid: &str) -> String {
    format!(
        "{}/api/v1/notices/{}",
        cfg.public_url.trim_end_matches('/'),
        url::form_urlencoded::byte_serialize(ocid.as_bytes()).collect::<String>()
    )
}

/// Runs the alert engine once: select, then commit each alert with its
/// queued deliveries. Sending is [`deliver::deliver_due`]'s job.
pub fn run(app: &dyn Host, opts: &RunOptions) -> Result<RunReport> {
    // Two runs at once could both pick the same notice for a member.
    let _one = app
        .runtime()
        .run_lock
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let cfg = app.config();
    let log = app.alert_log();
    let mut report = RunReport {
        dry_run: opts.dry_run,
        ..RunReport::default()
    };
    // The notices changed since the last run (instant alerts, PSR signals).
    // Never past the matches follower: a notice is alerted once matched.
    let cursor = log.cursor()?;
    let (changed, last_seq) = app.store().changes_between(cursor, app.matched_upto()?)?;
    let changed: BTreeSet<String> = changed.into_iter().collect();
    selection::note_signals(app, &changed, opts.now, opts.dry_run)?;

    let affected = match opts.scope {
        Scope::Changes => Some(selection::affected_members(app, &changed)?),
        Scope::All => None,
    };
    let mut settings = log.all_settings()?;
    settings.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    let set = app.members();
    for s in &settings {
        if !set.members.contains_key(&s.member_id) || !s.has_channel() {
            continue;
        }
        let (kind, only) = match (s.frequency, opts.scope) {
            (Frequency::Off, _) => continue,
            (Frequency::Instant, Scope::Changes) => {
                if affected.as_ref().is_some_and(|a| !a.contains(&s.member_id))
                    && log.signal_matches_of(&s.member_id)?.is_empty()
                {
                    continue;
                }
                (AlertKind::Instant, Some(&changed))
            }
            (Frequency::Instant, Scope::All) => (AlertKind::Instant, None),
            (Frequency::Daily | Frequency::Weekly, _) => {
                let last = log.last_digest(&s.member_id)?;
                if !schedule::due(s.frequency, &cfg.digest, last, opts.now) {
                    continue;
                }
                report.digests_due += 1;
                let kind = if s.frequency == Frequency::Daily {
                    AlertKind::Daily
                } else {
                    AlertKind::Weekly
                };
                (kind, None)
            }
        };
        if only.is_some_and(|o| o.is_empty()) {
            continue;
        }
        report.recipients_considered += 1;
        let picked = selection::select_member(app, s, opts.now, only)?;
        if !picked.is_empty() {
            commit(
                app,
                s.member_id.as_str(),
                kind,
                picked,
                Some(s),
                opts,
                &mut report,
            )?;
        }
        if matches!(kind, AlertKind::Daily | AlertKind::Weekly) && !opts.dry_run {
            // Done only once its alert is committed (a digest with nothing
            // in it counts as done too). An error or a crash before this
            // line leaves the digest due; the next run selects again, and
            // the "already alerted" marks committed with the alert keep it
            // from sending anything twice.
            log.set_last_digest(&s.member_id, opts.now)?;
        }
    }
    drop(set);

    // Broker alerts.
    if broker::enabled(cfg) {
        let only = match opts.scope {
            Scope::Changes => Some(&changed),
            Scope::All => None,
        };
        if only.is_none_or(|o| !o.is_empty()) {
            report.recipients_considered += 1;
            let picked = broker::select(app, opts.now, only, app.cases())?;
            if !picked.is_empty() {
                commit(
                    app,
                    BROKERS,
                    AlertKind::Broker,
                    picked,
                    None,
                    opts,
                    &mut report,
                )?;
            }
        }
    }
    if !opts.dry_run {
        log.set_cursor(last_seq)?;
        app.store().flush()?;
    }
    Ok(report)
}

fn commit(
    app: &dyn Host,
    recipient: &str,
    kind: AlertKind,
    picked: Vec<(AlertItem, Snapshot)>,
    settings: Option<&AlertSettings>,
    opts: &RunOptions,
    report: &mut RunReport,
) -> Result<()> {
    let log = app.alert_log();
    let id = log.new_alert_id(opts.now)?;
    let mut items = Vec::with_capacity(picked.len());
    let mut marks = Vec::with_capacity(picked.len());
    for (item, mut snap) in picked {
        snap.alert_id = id.clone();
        marks.push((mark_key(&item), snap));
        items.push(item);
    }
    report.items_new += items.iter().filter(|i| i.kind == "new").count();
    report.items_updates += items.iter().filter(|i| i.kind == "update").count();
    let alert = Alert {
        id,
        recipient: recipient.to_owned(),
        kind,
        created_at: opts.now,
        items,
    };
    let mut deliveries = Vec::new();
    let cfg = app.config();
    let (email, webhook) = match settings {
        Some(s) => (s.email.clone(), s.webhook_url.clone()),
        None => (cfg.broker_email.clone(), cfg.broker_webhook_url.clone()),
    };
    // Deliveries run on the real clock, whatever `now` selection judged at.
    let queued_at = OffsetDateTime::now_utc();
    if let Some(url) = webhook {
        deliveries.push(Delivery::queued(
            &alert,
            log::Channel::Webhook,
            &url,
            queued_at,
        ));
    }
    if let Some(to) = email {
        deliveries.push(Delivery::queued(
            &alert,
            log::Channel::Email,
            &to,
            queued_at,
        ));
    }
    let mut channels: Vec<String> = deliveries
        .iter()
        .map(|d| d.channel.as_str().to_owned())
        .collect();
    let has_feed = match settings {
        Some(s) => s.feed_token.is_some(),
        None => cfg.broker_feed_token.is_some(),
    };
    if has_feed {
        channels.push("feed".into());
    }
    report.deliveries_queued += deliveries.len();
    report.alerts.push(AlertSummary {
        id: alert.id.clone(),
        recipient: alert.recipient.clone(),
        kind,
        items: alert.items.len(),
        channels,
    });
    if opts.dry_run {
        report.preview.push(alert);
        return Ok(());
    }
    if app
        .runtime()
        .fail_next_commit
        .swap(false, std::sync::atomic::Ordering::SeqCst)
    {
        return Err(crate::Error::Invalid(format!(
            "alert {} for {recipient}: injected failure before its commit",
            alert.id
        )));
    }
    log.commit_alert(&alert, &marks, &deliveries)?;
    tracing::info!(alert_id = %alert.id, recipient = %alert.recipient, items = alert.items.len(), deliveries = deliveries.len(), "alert queued");
    Ok(())
}

/// Creates or changes a member's settings (the member must exist; the
/// webhook URL must pass the SSRF check, its name resolved now through the
/// runtime's resolver, which blocks: call this off the async threads).
/// Durable on return.
pub fn put_settings(
    app: &dyn Host,
    member_id: &str,
    input: settings::SettingsInput,
    now: OffsetDateTime,
) -> Result<AlertSettings> {
    if app.store().get_member(member_id)?.is_none() {
        return Err(crate::Error::NotFound(format!(
            "no member with id {member_id:?}"
        )));
    }
    let log = app.alert_log();
    let current = match log.settings(member_id)? {
        Some(s) => s,
        None => AlertSettings::new(member_id, app.config(), now)?,
    };
    let resolver = app.runtime().resolver();
    let s = current.apply(input, &app.config().webhook_allow, resolver.as_ref(), now)?;
    log.put_settings(&s)?;
    Ok(s)
}

/// Settings as the API and CLI show them: secrets only when `secrets`.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    pub member_id: String,
    pub frequency: Frequency,
    pub threshold: f64,
    pub early_signals: bool,
    pub email: Option<String>,
    pub webhook_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub feed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

pub fn feed_url(cfg: &AlertsConfig, token: &str) -> String {
    format!(
        "{}/feeds/{token}.atom",
        cfg.public_url.trim_end_matches('/')
    )
}

pub fn settings_view(cfg: &AlertsConfig, s: &AlertSettings, secrets: bool) -> SettingsView {
    SettingsView {
        member_id: s.member_id.clone(),
        frequency: s.frequency,
        threshold: s.threshold,
        early_signals: s.early_signals,
        email: s.email.clone(),
        webhook_url: s.webhook_url.clone(),
        webhook_secret: s.webhook_secret.clone().filter(|_| secrets),
        feed: s.feed_token.is_some(),
        feed_url: s
            .feed_token
            .as_deref()
            .filter(|_| secrets)
            .map(|t| feed_url(cfg, t)),
        updated_at: s.updated_at,
    }
}

/// The Atom feed behind a feed token: a member's, or the brokers' (the
/// configured `broker_feed_token`); `None` for an unknown or revoked token.
pub fn feed_for_token(app: &dyn Host, token: &str, now: OffsetDateTime) -> Result<Option<String>> {
    let cfg = app.config();
    let (recipient, title) = match &cfg.broker_feed_token {
        Some(t) if sebroker_model::same_secret(&t.0, token) => (
            BROKERS.to_owned(),
            "sebroker: notices that need brokering".to_owned(),
        ),
        _ => match app.alert_log().member_of_feed_token(token)? {
            Some(m) => {
                let name = app
                    .store()
                    .get_member(&m)?
                    .map_or_else(|| m.clone(), |x| x.name);
                (m, format!("sebroker alerts for {name}"))
            }
            None => return Ok(None),
        },
    };
    let alerts = app.alert_log().alerts_of(&recipient, atom::FEED_ENTRIES)?;
    Ok(Some(atom::render(
        &recipient,
        &title,
        &feed_url(cfg, token),
        &alerts,
        now,
    )))
}
