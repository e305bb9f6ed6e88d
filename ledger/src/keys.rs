//! API keys as ledger events (`key_created`, `key_revoked`), so that the
//! head covers them and a lost write cannot bring a revoked key back;
//! authentication as a read-locked, I/O-free lookup, with last use noted in
//! memory and persisted lazily (it is not a ledger event).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

use super::model::{Event, Record};
use super::{Ledger, NewEvent};
use crate::auth::{self, ApiKey, Role};
use crate::error::{Error, Result};

/// A key and when it was last used (unix seconds; 0 = never), updated
/// under the read lock.
pub(super) struct KeyEntry {
    key: ApiKey,
    last_used: AtomicI64,
    /// The last use already persisted.
    persisted: AtomicI64,
}

impl KeyEntry {
    fn new(key: ApiKey, used: Option<OffsetDateTime>) -> KeyEntry {
        let t = used.map_or(0, |t| t.unix_timestamp());
        KeyEntry {
            key,
            last_used: AtomicI64::new(t),
            persisted: AtomicI64::new(t),
        }
    }

    fn view(&self) -> ApiKey {
        let mut k = self.key.clone();
        let t = self.last_used.load(Ordering::Relaxed);
        k.last_used_at = (t > 0)
            .then(|| OffsetDateTime::from_unix_timestamp(t).ok())
            .flatten();
        k
    }
}

/// The keys folded from the events, with their persisted last uses.
pub(super) fn entries(
    keys: &std::collections::BTreeMap<String, ApiKey>,
    uses: &[(String, OffsetDateTime)],
) -> HashMap<String, KeyEntry> {
    let uses: HashMap<&str, OffsetDateTime> = uses.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    keys.values()
        .map(|k| {
            let used = uses.get(k.id.as_str()).copied();
            (k.id.clone(), KeyEntry::new(k.clone(), used))
        })
        .collect()
}

impl Ledger {
    /// Creates a key (a `key_created` event); returns the key text (shown
    /// once) and its stored form.
    pub fn create_key(
        &self,
        role: Role,
        member_id: Option<String>,
        name: String,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(String, ApiKey)> {
        let (text, stored) = auth::new_key(role, member_id, name, expires_at)?;
        self.append(NewEvent {
            date: None,
            actor: "keys".into(),
            idempotency_key: format!("key:{}:created", stored.id),
            notes: None,
            event: Event::KeyCreated {
                key: stored.clone(),
            },
        })?;
        Ok((text, stored))
    }

    /// Revokes a key (a `key_revoked` event); revoking twice changes nothing.
    pub fn revoke_key(&self, id: &str) -> Result<ApiKey> {
        let current = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(KeyEntry::view)
            .ok_or_else(|| Error::NotFound(format!("no key with id {id:?}")))?;
        if current.revoked_at.is_some() {
            return Ok(current);
        }
        self.append(NewEvent {
            date: None,
            actor: "keys".into(),
            idempotency_key: format!("key:{id}:revoked"),
            notes: None,
            event: Event::KeyRevoked {
                key_id: id.to_owned(),
            },
        })?;
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(KeyEntry::view)
            .ok_or_else(|| Error::NotFound(format!("no key with id {id:?}")))
    }

    pub fn keys(&self) -> Vec<ApiKey> {
        let mut v: Vec<ApiKey> = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(KeyEntry::view)
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    }

    /// The usable key this text is, if any (constant-time hash comparison).
    /// A read lock and no I/O: the last use is noted in memory and
    /// persisted later by [`Ledger::persist`].
    pub fn authenticate(&self, text: &str) -> Option<ApiKey> {
        let id = auth::key_id(text)?;
        let now = OffsetDateTime::now_utc();
        let hash = auth::hash_secret(text);
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let k = keys.get(id)?;
        if !auth::same_hash(&hash, &k.key.hash) || !k.key.usable(now) {
            return None;
        }
        k.last_used.store(now.unix_timestamp(), Ordering::Relaxed);
        Some(k.view())
    }

    /// Folds a just-appended key event into the keys (after the state).
    pub(super) fn key_event_applied(&self, r: &Record) {
        let id = match &r.event {
            Event::KeyCreated { key } => &key.id,
            Event::KeyRevoked { key_id } => key_id,
            _ => return,
        };
        let Some(k) = self.state().keys.get(id).cloned() else {
            return;
        };
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        match keys.get_mut(id) {
            Some(e) => e.key = k,
            None => {
                keys.insert(id.clone(), KeyEntry::new(k, None));
            }
        }
    }

    /// Takes the keys' names from the state again (after an erasure).
    pub(super) fn rename_keys(&self, folded: &std::collections::BTreeMap<String, ApiKey>) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        for (id, e) in keys.iter_mut() {
            if let Some(k) = folded.get(id) {
                e.key.name.clone_from(&k.name);
            }
        }
    }

    /// Writes the last uses noted since the last call (one flush).
    pub fn persist_key_uses(&self) -> Result<()> {
        let changed: Vec<(String, OffsetDateTime, i64)> = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|e| {
                let t = e.last_used.load(Ordering::Relaxed);
                (t > e.persisted.load(Ordering::Relaxed))
                    .then(|| OffsetDateTime::from_unix_timestamp(t).ok())
                    .flatten()
                    .map(|at| (e.key.id.clone(), at, t))
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let uses: Vec<(String, OffsetDateTime)> = changed
            .iter()
            .map(|(id, at, _)| (id.clone(), *at))
            .collect();
        self.store.put_key_uses(&uses)?;
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        for (id, _, t) in changed {
            if let Some(e) = keys.get(&id) {
                e.persisted.fetch_max(t, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Keys kept outside the chain before keys were events: recorded as
    /// events once, at the first start of this version.
    pub(super) fn migrate_legacy_keys(&self, legacy: Vec<ApiKey>) -> Result<usize> {
        let mut n = 0;
        for k in legacy {
            let known = self.state().keys.get(&k.id).cloned();
            if known.is_none() {
                let mut fresh = k.clone();
                fresh.revoked_at = None;
                fresh.last_used_at = None;
                self.append(NewEvent {
                    date: None,
                    actor: "migration".into(),
                    idempotency_key: format!("key:{}:created", k.id),
                    notes: Some("key recorded before keys were ledger events".into()),
                    event: Event::KeyCreated { key: fresh },
                })?;
                n += 1;
            }
            let revoked_in_chain = self
                .state()
                .keys
                .get(&k.id)
                .is_some_and(|s| s.revoked_at.is_some());
            if k.revoked_at.is_some() && !revoked_in_chain {
                self.revoke_key(&k.id)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Err(e) = self.persist() {
            tracing::warn!(error = %e, "could not persist the ledger's last key uses and mark");
        }
    }
}

/// Every minute, off the request path: the keys' last uses and the store's
/// mark made durable. Abort the task at shutdown (dropping the ledger
/// persists them once more).
pub fn spawn_upkeep(ledger: Arc<Ledger>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            let l = ledger.clone();
            let done = tokio::task::spawn_blocking(move || l.persist()).await;
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "ledger upkeep failed");
            }
        }
    })
}
