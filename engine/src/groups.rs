//! One opportunity, several notices: each new or changed notice is compared
//! with the notices sharing its deadline (or, without one, its value), and
//! probable duplicates from other sources are linked into one group in the
//! store. Search shows a group once, listing every source.

use sebroker_connectors::dedupe;
use sebroker_model::Notice;

use crate::error::Result;
use sebroker_store::NoticeStore;

/// Files a notice's candidate keys and links it to its probable duplicates.
/// Returns how many links it made.
pub fn file_notice(store: &dyn NoticeStore, n: &Notice) -> Result<usize> {
    let keys = dedupe::candidate_keys(n);
    if keys.is_empty() {
        return Ok(0);
    }
    let mut linked = 0;
    for other in store.put_candidate_keys(&n.ocid, &n.source, &keys)? {
        let Some(o) = store.get_notice(&other)? else {
            continue;
        };
        if dedupe::probable_duplicate(n, &o) && store.link_group(&n.ocid, &o.ocid)? {
            tracing::info!(ocid = %n.ocid, other = %o.ocid, source = %n.source, other_source = %o.source, "linked probable duplicates into one opportunity group");
            linked += 1;
        }
    }
    Ok(linked)
}

/// The member of a group shown first: Find a Tender's, then Contracts
/// Finder's, then others; ties by ocid.
pub fn representative(members: &[(String, String)]) -> Option<&(String, String)> {
    members
        .iter()
        .min_by(|a, b| (dedupe::source_rank(&a.1), &a.0).cmp(&(dedupe::source_rank(&b.1), &b.0)))
}
