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

/// What `sebroker compact` copied.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Compacted {
    pub trees: usize,
    pub entries: u64,
}

/// Rewrites the notice store into a fresh folder swapped in for the old
/// one, so no superseded value (an erased contact, old alert settings)
/// stays in sled's segment files. Offline: it takes the data-folder lock.
/// Rerun it if it was interrupted: a missing `store/` with a
/// `store.pre-compaction/` beside it is put back first.
pub fn compact_store(data_dir: &std::path::Path) -> Result<Compacted> {
    let _lock = sebroker_store::DirLock::acquire(data_dir)?;
    let live = data_dir.join("store");
    let next = data_dir.join("store.compacting");
    let old = data_dir.join("store.pre-compaction");
    let io = |p: &std::path::Path| {
        let p = p.to_owned();
        move |source| crate::error::Error::Io { path: p, source }
    };
    if !live.exists() && old.exists() {
        std::fs::rename(&old, &live).map_err(io(&old))?;
    }
    for stale in [&next, &old] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(io(stale))?;
        }
    }
    let done = copy_db(&live, &next)?;
    std::fs::rename(&live, &old).map_err(io(&live))?;
    std::fs::rename(&next, &live).map_err(io(&next))?;
    std::fs::remove_dir_all(&old).map_err(io(&old))?;
    if let Ok(d) = std::fs::File::open(data_dir) {
        let _ = d.sync_all();
    }
    Ok(done)
}

/// Copies every tree of the sled database `from` into a new one at `to`.
fn copy_db(from: &std::path::Path, to: &std::path::Path) -> Result<Compacted> {
    let st = |e: sled::Error| crate::error::Error::from(sebroker_store::Error::from(e));
    let src = sled::Config::new().path(from).open().map_err(st)?;
    let dst = sled::Config::new().path(to).open().map_err(st)?;
    let mut done = Compacted {
        trees: 0,
        entries: 0,
    };
    for name in src.tree_names() {
        let (a, b) = (
            src.open_tree(&name).map_err(st)?,
            dst.open_tree(&name).map_err(st)?,
        );
        for kv in a.iter() {
            let (k, v) = kv.map_err(st)?;
            b.insert(k, v).map_err(st)?;
            done.entries += 1;
        }
        done.trees += 1;
    }
    dst.flush().map_err(st)?;
    Ok(done)
}
