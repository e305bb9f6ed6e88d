//! Erasure of a member's personal data everywhere it is kept: the member
//! record (kept as a tombstone), the member index and stored matches (by
//! re-matching the tombstone), alert settings, the delivery log, the
//! e-mail outbox, the ledger (crypto-shredding: `sebroker_ledger::seal`)
//! and with it the names of the member's keys.
//!
//! What stays: the member's id, cluster, legal form, identifiers (registry
//! numbers of an organisation), services, places, sizes and track record
//! (public contracts): the facts totals, KPIs and award links count. What
//! goes: its name (now `erased member <id>`), description, keywords, web
//! site and contact, and every note and person's name in the ledger.

use serde::Serialize;

use sebroker_alerts::log::DeliveryState;
use sebroker_model::Member;

use crate::error::Result;
use crate::Engine;

/// What an erasure removed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Erased {
    pub member_id: String,
    /// Ledger subjects (the member, its cases) whose keys were deleted.
    pub ledger_subjects: usize,
    /// Ledger records whose personal data now reads `[erased]`.
    pub ledger_records: usize,
    /// Alert settings cleared of e-mail, webhook and feed.
    pub alert_settings: bool,
    /// Deliveries whose target (e-mail address, webhook URL) was removed.
    pub deliveries: usize,
    /// `.eml` files removed from the outbox.
    pub outbox_files: usize,
    pub rematched_notices: usize,
    /// People's accounts bound to the member: disabled, e-mail and name removed.
    pub accounts: usize,
}

/// The tombstone an erased member leaves.
pub fn tombstone(m: &Member) -> Member {
    Member {
        name: format!("erased member {}", m.id),
        description: String::new(),
        keywords: Vec::new(),
        website: None,
        contact: None,
        ..m.clone()
    }
}

/// Erases member `id`'s personal data (see the module). `None` when there
/// is no such member. Each store is flushed before this returns.
pub fn erase_member(engine: &Engine, id: &str) -> Result<Option<Erased>> {
    let Some(member) = engine.store.get_member(id)? else {
        return Ok(None);
    };
    engine.store.put_member(&tombstone(&member))?;
    engine.store.flush()?;
    let alert_settings = clear_alert_settings(engine, id)?;
    let (deliveries, outbox_files) = scrub_deliveries(engine, id)?;
    let (ledger_subjects, ledger_records) = engine.ledger.erase_member(id)?;
    let accounts = engine.accounts.erase_member(id)?;
    let rematched_notices = engine.rematch_all()?;
    Ok(Some(Erased {
        member_id: id.to_owned(),
        ledger_subjects,
        ledger_records,
        alert_settings,
        deliveries,
        outbox_files,
        rematched_notices,
        accounts,
    }))
}

/// Alerts stop: no e-mail, webhook (nor its secret) or feed is kept.
fn clear_alert_settings(engine: &Engine, id: &str) -> Result<bool> {
    let log = engine.alert_log();
    let Some(mut s) = log.settings(id)? else {
        return Ok(false);
    };
    s.email = None;
    s.webhook_url = None;
    s.webhook_secret = None;
    s.feed_token = None;
    s.updated_at = time::OffsetDateTime::now_utc();
    log.put_settings(&s)?;
    Ok(true)
}

/// Every delivery to the member loses its target and error texts (which
/// may quote the address); pending ones are given up. Their `.eml` files
/// (named by delivery id) leave the outbox.
fn scrub_deliveries(engine: &Engine, id: &str) -> Result<(usize, usize)> {
    let log = engine.alert_log();
    let outbox = engine
        .config
        .alerts
        .outbox_dir
        .clone()
        .unwrap_or_else(|| engine.data_dir().join("outbox"));
    let now = time::OffsetDateTime::now_utc();
    let (mut n, mut files) = (0, 0);
    for mut d in log.deliveries()?.into_iter().filter(|d| d.recipient == id) {
        d.target = sebroker_ledger::seal::ERASED.into();
        d.last_error = None;
        for h in &mut d.history {
            h.reason = None;
        }
        if d.state.is_pending() {
            d.record(DeliveryState::Dead, now, Some("member erased".into()));
        }
        log.put_delivery(&d)?;
        n += 1;
        match std::fs::remove_file(outbox.join(format!("{}.eml", d.id))) {
            Ok(()) => files += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(crate::error::Error::Invalid(format!(
                    "erasing {}: cannot remove {}.eml from {}: {e}",
                    id,
                    d.id,
                    outbox.display()
                )))
            }
        }
    }
    Ok((n, files))
}

pub use sebroker_store::compact::Compacted;

/// Tidies the member index, then rewrites the notice store into a fresh
/// folder swapped in for the old one, so no superseded value (an erased contact, old alert settings, the
/// page versions a bulk load leaves) stays in sled's segment files.
/// Offline: it takes the data-folder lock. An interrupted compaction is
/// finished or undone when the store is next opened.
pub fn compact_store(data_dir: &std::path::Path) -> Result<Compacted> {
    let _lock = sebroker_store::DirLock::acquire(data_dir)?;
    let dir = data_dir.join("store");
    // The member index only grows while matching; its stale entries go
    // before the copy (which must equal the store it copies).
    let store = sebroker_store::SledStore::open(&dir)?;
    let dropped = store.tidy_member_matches()?;
    sebroker_store::NoticeStore::flush(&store)?;
    drop(store);
    tracing::info!(dropped, "member index tidied");
    Ok(sebroker_store::compact::compact(&dir)?)
}
