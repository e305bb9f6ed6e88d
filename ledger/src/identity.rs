//! The ledger's identity and what the data folder remembers of it: a mark
//! in the notice store (`meta/ledger_mark`: identity, last head, last
//! backup, replacements) so that a ledger that goes missing, or is swapped
//! for another one, is refused instead of starting empty.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use sebroker_store::NoticeStore;

/// What the notice store remembers of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    pub ledger_id: String,
    /// The last head seen (a lower bound: it is updated after each append
    /// but made durable lazily).
    pub seq: u64,
    pub hash: String,
    pub brokered_total_pence: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default)]
    pub last_backup: Option<String>,
    /// Ledgers this one replaced (`ledger init --replace-missing`, restores).
    #[serde(default)]
    pub replaced: Vec<Replacement>,
}

/// A ledger that was replaced, as the folder remembered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    pub previous_ledger_id: String,
    pub previous_seq: u64,
    pub previous_hash: String,
    /// `replace-missing` or `restore <file>`.
    pub how: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A fresh ledger identity (128 random bits, hex).
pub fn new_id() -> Result<String> {
    Ok(crate::auth::hex(&crate::auth::random_bytes::<16>()?))
}

/// The store's mark; a mark that does not decode is a damaged store.
pub fn read_mark(store: &dyn NoticeStore) -> Result<Option<Mark>> {
    let Some(bytes) = store.ledger_mark()? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Error::Refused(format!(
            "the notice store's record of its ledger (meta/ledger_mark) is damaged ({e}); \
             the store cannot be trusted: restore the data folder from a copy"
        ))
    })
}

pub fn write_mark(store: &dyn NoticeStore, mark: &Mark, durable: bool) -> Result<()> {
    let bytes = serde_json::to_vec(mark).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(store.put_ledger_mark(&bytes, durable)?)
}

/// Whether the store holds anything a ledger would have been made beside
/// (notices or members): then a missing ledger is not a new folder.
pub fn store_holds_data(store: &dyn NoticeStore) -> Result<bool> {
    Ok(store.last_seq()? > 0 || !store.members()?.is_empty())
}
