//! Changing the members: an import stores them, records in the ledger the
//! clusters that changed (from the day they take effect, so wins count for
//! the cluster of their day) and re-matches every notice; a broker's
//! decision on an award link is stored and re-matches too. The command
//! line and the API call these, so both do the same.

use serde::Serialize;
use time::Date;

use sebroker_model::{AwardLink, LinkStatus, Member};

use crate::error::Result;
use crate::Engine;

/// What an import did.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Imported {
    pub imported: usize,
    pub rematched_notices: usize,
}

/// Stores `members` (replacing by id), records their cluster changes
/// effective `effective` as `actor`, and re-matches every notice.
pub fn import(
    engine: &Engine,
    members: &[Member],
    effective: Date,
    actor: &str,
) -> Result<Imported> {
    for m in members {
        engine.store.put_member(m)?;
    }
    engine.store.flush()?;
    crate::views::record_clusters(engine, members, effective, actor)?;
    let rematched_notices = if members.is_empty() {
        0
    } else {
        engine.rematch_all()?
    };
    Ok(Imported {
        imported: members.len(),
        rematched_notices,
    })
}

/// Records a broker's decision on the link of `member` to `award` of
/// `ocid`, then re-matches (a confirmed link is track record, a rejected
/// one is not). `None` when there is no such link.
pub fn decide_link(
    engine: &Engine,
    member: &str,
    ocid: &str,
    award: &str,
    status: LinkStatus,
) -> Result<Option<AwardLink>> {
    let Some(mut link) = engine
        .store
        .links()?
        .into_iter()
        .find(|l| l.member_id == member && l.ocid == ocid && l.award_id == award)
    else {
        return Ok(None);
    };
    link.status = status;
    engine.store.put_link(&link, true)?;
    engine.store.flush()?;
    engine.rematch_all()?;
    Ok(Some(link))
}
