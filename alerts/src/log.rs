//! The delivery log and the rest of the alerts' durable state, behind the
//! [`AlertStore`] trait: settings, stored alerts, "already alerted" marks
//! (with the snapshot that later changes are judged against), deliveries
//! with their state history, the change cursor, digest times and extra
//! (signal) matches.
//!
//! sled trees: `alert_settings` (member → JSON), `alert_feed_tokens`
//! (sha256(token) → member), `alerts` (alert id → JSON),
//! `alerts_by_recipient` (recipient \0 alert id → ()), `alerted`
//! (recipient \0 ocid → snapshot JSON), `alerted_by_notice` (ocid \0
//! recipient → ()), `deliveries` (delivery id → JSON), `delivery_queue`
//! (id of every delivery still to send → ()), `alert_state`
//! (`cursor`, `digest\0<recipient>`, `idseq`), `signal_matches`
//! (member \0 ocid → match JSON).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use time::OffsetDateTime;

use super::settings::AlertSettings;
use super::{Alert, Snapshot};
use crate::error::{Error, Result};
use sebroker_matching::Match;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Webhook,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its (first or next) attempt at `next_attempt_at`.
    Queued,
    /// An attempt is under way; found so after a crash, it is sent again.
    Sending,
    Sent,
    /// The last attempt failed; another follows at `next_attempt_at`.
    Failed,
    /// Every attempt failed, or the target refused for good: dead letter.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Queued,
            DeliveryState::Sending,
            DeliveryState::Sent,
            DeliveryState::Failed,
            DeliveryState::Dead,
        ]
        .into_iter()
        .find(|d| d.as_str() == s.trim())
    }

    /// Still to be sent.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            DeliveryState::Queued | DeliveryState::Sending | DeliveryState::Failed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub state: DeliveryState,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One alert on one channel. Its id is stable (derived from the alert and
/// the channel), sent with every attempt so receivers can drop repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub alert_id: String,
    pub recipient: String,
    pub channel: Channel,
    /// The webhook URL or the email address at queue time.
    pub target: String,
    pub state: DeliveryState,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub history: Vec<DeliveryEvent>,
}

/// The stable id of an alert's delivery on a channel.
pub fn delivery_id(alert_id: &str, channel: Channel) -> String {
    let h = Sha256::digest(format!("{alert_id}/{}", channel.as_str()).as_bytes());
    let hex: String = h.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("dl-{hex}")
}

impl Delivery {
    pub fn queued(alert: &Alert, channel: Channel, target: &str, now: OffsetDateTime) -> Delivery {
        Delivery {
            id: delivery_id(&alert.id, channel),
            alert_id: alert.id.clone(),
            recipient: alert.recipient.clone(),
            channel,
            target: target.to_owned(),
            state: DeliveryState::Queued,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            history: vec![DeliveryEvent {
                at: now,
                state: DeliveryState::Queued,
                attempt: 0,
                reason: None,
            }],
        }
    }

    /// Moves to `state`, noting it in the history.
    pub fn record(&mut self, state: DeliveryState, at: OffsetDateTime, reason: Option<String>) {
        self.state = state;
        if reason.is_some() {
            self.last_error = reason.clone();
        }
        self.history.push(DeliveryEvent {
            at,
            state,
            attempt: self.attempts,
            reason,
        });
        // Bounded: the first entry and the last 30.
        if self.history.len() > 31 {
            self.history.drain(1..self.history.len() - 30);
        }
    }
}

/// Durable state of the alerts.
pub trait AlertStore: Send + Sync {
    fn settings(&self, member_id: &str) -> Result<Option<AlertSettings>>;
    /// Stores settings (and the feed token index), durably.
    fn put_settings(&self, s: &AlertSettings) -> Result<()>;
    fn all_settings(&self) -> Result<Vec<AlertSettings>>;
    /// The member whose feed token this is.
    fn member_of_feed_token(&self, token: &str) -> Result<Option<String>>;
    /// The member whose unsubscribe token this is.
    fn member_of_unsubscribe_token(&self, token: &str) -> Result<Option<String>>;

    /// What was alerted to `recipient` about `ocid`.
    fn alerted(&self, recipient: &str, ocid: &str) -> Result<Option<Snapshot>>;
    /// Every (ocid, snapshot) alerted to `recipient`.
    fn alerted_of(&self, recipient: &str) -> Result<Vec<(String, Snapshot)>>;
    /// The recipients alerted about `ocid`.
    fn alerted_on(&self, ocid: &str) -> Result<Vec<String>>;

    /// A fresh alert id, ordered by time.
    fn new_alert_id(&self, now: OffsetDateTime) -> Result<String>;
    /// Stores an alert, its marks and its queued deliveries in one
    /// transaction, then flushes.
    fn commit_alert(
        &self,
        alert: &Alert,
        marks: &[(String, Snapshot)],
        deliveries: &[Delivery],
    ) -> Result<()>;
    fn alert(&self, id: &str) -> Result<Option<Alert>>;
    /// A recipient's alerts, newest first, at most `limit`.
    fn alerts_of(&self, recipient: &str, limit: usize) -> Result<Vec<Alert>>;

    /// Stores a delivery's new state, durably.
    fn put_delivery(&self, d: &Delivery) -> Result<()>;
    fn delivery(&self, id: &str) -> Result<Option<Delivery>>;
    /// Every delivery, oldest alert first.
    fn deliveries(&self) -> Result<Vec<Delivery>>;
    /// The deliveries still to send (queued, sending, failed).
    fn pending_deliveries(&self) -> Result<Vec<Delivery>>;

    /// The store change sequence alerts have seen.
    fn cursor(&self) -> Result<u64>;
    fn set_cursor(&self, seq: u64) -> Result<()>;
    fn last_digest(&self, recipient: &str) -> Result<Option<OffsetDateTime>>;
    fn set_last_digest(&self, recipient: &str, at: OffsetDateTime) -> Result<()>;

    /// Matches made for signals outside the stored matches (PSR notices).
    fn put_signal_matches(&self, ocid: &str, matches: &[Match]) -> Result<()>;
    fn signal_matches_of(&self, member_id: &str) -> Result<Vec<(String, Match)>>;
}

pub struct SledAlertStore {
    db: sled::Db,
    settings: sled::Tree,
    feed_tokens: sled::Tree,
    alerts: sled::Tree,
    by_recipient: sled::Tree,
    alerted: sled::Tree,
    alerted_by_notice: sled::Tree,
    deliveries: sled::Tree,
    queue: sled::Tree,
    state: sled::Tree,
    signal_matches: sled::Tree,
}

fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

fn prefix(a: &str) -> Vec<u8> {
    let mut k = a.as_bytes().to_vec();
    k.push(0);
    k
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    })
}

fn encode<T: Serialize>(key: &str, v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Corrupt {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

fn token_key(kind: &str, token: &str) -> Vec<u8> {
    let mut k = kind.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&Sha256::digest(token.as_bytes()));
    k
}

fn u64_of(v: Option<sled::IVec>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

impl SledAlertStore {
    pub fn open(db: &sled::Db) -> Result<SledAlertStore> {
        Ok(SledAlertStore {
            db: db.clone(),
            settings: db.open_tree("alert_settings")?,
            feed_tokens: db.open_tree("alert_feed_tokens")?,
            alerts: db.open_tree("alerts")?,
            by_recipient: db.open_tree("alerts_by_recipient")?,
            alerted: db.open_tree("alerted")?,
            alerted_by_notice: db.open_tree("alerted_by_notice")?,
            deliveries: db.open_tree("deliveries")?,
            queue: db.open_tree("delivery_queue")?,
            state: db.open_tree("alert_state")?,
            signal_matches: db.open_tree("signal_matches")?,
        })
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

impl AlertStore for SledAlertStore {
    fn settings(&self, member_id: &str) -> Result<Option<AlertSettings>> {
        self.settings
            .get(member_id)?
            .map(|v| decode(member_id.as_bytes(), &v))
            .transpose()
    }

    fn put_settings(&self, s: &AlertSettings) -> Result<()> {
        let old = self.settings(&s.member_id)?;
        let value = encode(&s.member_id, s)?;
        let member = s.member_id.as_bytes();
        let mut remove = Vec::new();
        let mut add = Vec::new();
        if let Some(o) = &old {
            if let Some(t) = &o.feed_token {
                remove.push(token_key("feed", t));
            }
            remove.push(token_key("unsubscribe", &o.unsubscribe_token));
        }
        if let Some(t) = &s.feed_token {
            add.push(token_key("feed", t));
        }
        add.push(token_key("unsubscribe", &s.unsubscribe_token));
        (&self.settings, &self.feed_tokens)
            .transaction(|(settings, tokens)| {
                for k in &remove {
                    tokens.remove(k.as_slice())?;
                }
                for k in &add {
                    tokens.insert(k.as_slice(), member)?;
                }
                settings.insert(member, value.as_slice())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        self.flush()
    }

    fn all_settings(&self) -> Result<Vec<AlertSettings>> {
        self.settings
            .iter()
            .map(|kv| kv.map_err(Error::from).and_then(|(k, v)| decode(&k, &v)))
            .collect()
    }

    fn member_of_feed_token(&self, token: &str) -> Result<Option<String>> {
        Ok(self
            .feed_tokens
            .get(token_key("feed", token))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn member_of_unsubscribe_token(&self, token: &str) -> Result<Option<String>> {
        Ok(self
            .feed_tokens
            .get(token_key("unsubscribe", token))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn alerted(&self, recipient: &str, ocid: &str) -> Result<Option<Snapshot>> {
        let k = key2(recipient, ocid);
        self.alerted.get(&k)?.map(|v| decode(&k, &v)).transpose()
    }

    fn alerted_of(&self, recipient: &str) -> Result<Vec<(String, Snapshot)>> {
        let p = prefix(recipient);
        let mut out = Vec::new();
        for kv in self.alerted.scan_prefix(&p) {
            let (k, v) = kv?;
            let ocid = String::from_utf8_lossy(&k[p.len()..]).into_owned();
            out.push((ocid, decode(&k, &v)?));
        }
        Ok(out)
    }

    fn alerted_on(&self, ocid: &str) -> Result<Vec<String>> {
        let p = prefix(ocid);
        let mut out = Vec::new();
        for k in self.alerted_by_notice.scan_prefix(&p).keys() {
            let k = k?;
            out.push(String::from_utf8_lossy(&k[p.len()..]).into_owned());
        }
        Ok(out)
    }

    fn new_alert_id(&self, now: OffsetDateTime) -> Result<String> {
        let seq = self.db.generate_id()?;
        let ms = (now.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        Ok(format!("al-{ms:013x}-{seq:08x}"))
    }

    fn commit_alert(
        &self,
        alert: &Alert,
        marks: &[(String, Snapshot)],
        deliveries: &[Delivery],
    ) -> Result<()> {
        let alert_value = encode(&alert.id, alert)?;
        let mut mark_values = Vec::with_capacity(marks.len());
        for (ocid, snap) in marks {
            mark_values.push((
                key2(&alert.recipient, ocid),
                key2(ocid, &alert.recipient),
                encode(ocid, snap)?,
            ));
        }
        let mut delivery_values = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            delivery_values.push((d.id.as_bytes().to_vec(), encode(&d.id, d)?));
        }
        let by_recipient_key = key2(&alert.recipient, &alert.id);
        (
            &self.alerts,
            &self.by_recipient,
            &self.alerted,
            &self.alerted_by_notice,
            &self.deliveries,
            &self.queue,
        )
            .transaction(|(alerts, by_recipient, alerted, by_notice, dels, queue)| {
                alerts.insert(alert.id.as_bytes(), alert_value.as_slice())?;
                by_recipient.insert(by_recipient_key.as_slice(), &[])?;
                for (k, k2, v) in &mark_values {
                    alerted.insert(k.as_slice(), v.as_slice())?;
                    by_notice.insert(k2.as_slice(), &[])?;
                }
                for (k, v) in &delivery_values {
                    dels.insert(k.as_slice(), v.as_slice())?;
                    queue.insert(k.as_slice(), &[])?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        self.flush()
    }

    fn alert(&self, id: &str) -> Result<Option<Alert>> {
        self.alerts
            .get(id)?
            .map(|v| decode(id.as_bytes(), &v))
            .transpose()
    }

    fn alerts_of(&self, recipient: &str, limit: usize) -> Result<Vec<Alert>> {
        let p = prefix(recipient);
        let mut out = Vec::new();
        for k in self.by_recipient.scan_prefix(&p).keys().rev() {
            if out.len() >= limit {
                break;
            }
            let k = k?;
            let id = String::from_utf8_lossy(&k[p.len()..]).into_owned();
            if let Some(a) = self.alert(&id)? {
                out.push(a);
            }
        }
        Ok(out)
    }

    fn put_delivery(&self, d: &Delivery) -> Result<()> {
        let value = encode(&d.id, d)?;
        let pending = d.state.is_pending();
        (&self.deliveries, &self.queue)
            .transaction(|(dels, queue)| {
                dels.insert(d.id.as_bytes(), value.as_slice())?;
                if pending {
                    queue.insert(d.id.as_bytes(), &[])?;
                } else {
                    queue.remove(d.id.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        self.flush()
    }

    fn pending_deliveries(&self) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for k in self.queue.iter().keys() {
            let k = k?;
            if let Some(v) = self.deliveries.get(&k)? {
                out.push(decode::<Delivery>(&k, &v)?);
            }
        }
        out.sort_by(|a, b| a.alert_id.cmp(&b.alert_id).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn delivery(&self, id: &str) -> Result<Option<Delivery>> {
        self.deliveries
            .get(id)?
            .map(|v| decode(id.as_bytes(), &v))
            .transpose()
    }

    fn deliveries(&self) -> Result<Vec<Delivery>> {
        let mut out: Vec<Delivery> = self
            .deliveries
            .iter()
            .map(|kv| kv.map_err(Error::from).and_then(|(k, v)| decode(&k, &v)))
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| a.alert_id.cmp(&b.alert_id).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn cursor(&self) -> Result<u64> {
        Ok(u64_of(self.state.get("cursor")?))
    }

    fn set_cursor(&self, seq: u64) -> Result<()> {
        self.state.insert("cursor", &seq.to_be_bytes())?;
        Ok(())
    }

    fn last_digest(&self, recipient: &str) -> Result<Option<OffsetDateTime>> {
        let v = self.state.get(key2("digest", recipient))?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .and_then(|b| OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(b)).ok()))
    }

    fn set_last_digest(&self, recipient: &str, at: OffsetDateTime) -> Result<()> {
        self.state.insert(
            key2("digest", recipient),
            &at.unix_timestamp().to_be_bytes(),
        )?;
        Ok(())
    }

    fn put_signal_matches(&self, ocid: &str, matches: &[Match]) -> Result<()> {
        // Keyed by member first (read per member); old ones of this ocid go.
        for kv in self.signal_matches.iter() {
            let (k, _) = kv?;
            if k.ends_with(&prefix_tail(ocid)) {
                self.signal_matches.remove(k)?;
            }
        }
        for m in matches {
            self.signal_matches
                .insert(key2(&m.member_id, ocid), encode(ocid, m)?)?;
        }
        Ok(())
    }

    fn signal_matches_of(&self, member_id: &str) -> Result<Vec<(String, Match)>> {
        let p = prefix(member_id);
        let mut out = Vec::new();
        for kv in self.signal_matches.scan_prefix(&p) {
            let (k, v) = kv?;
            let ocid = String::from_utf8_lossy(&k[p.len()..]).into_owned();
            out.push((ocid, decode(&k, &v)?));
        }
        Ok(out)
    }
}

fn prefix_tail(ocid: &str) -> Vec<u8> {
    let mut k = vec![0u8];
    k.extend_from_slice(ocid.as_bytes());
    k
}

fn tx_error(e: TransactionError<()>) -> Error {
    match e {
        TransactionError::Storage(s) => Error::Store(s),
        TransactionError::Abort(()) => Error::Invalid("alert transaction aborted".into()),
    }
}
