//! The entries of the `member_matches` tree: which notices may hold a
//! member's stored matches, so a member's matches are found without
//! reading every notice's.
//!
//! Store version 5 writes one entry per member and batch of notices
//! matched: `member \0 id` → the ocids newly matched to the member in that
//! batch, NUL-separated (`id`: 8 bytes from sled's id generator, so a
//! member's entries sort in write order). One insert per member and batch
//! instead of one per (member, notice): the per-pair random inserts were a
//! fifth of a bulk ingest's CPU and most of sled's space amplification.
//! An entry of version 4 and older, `member \0 ocid` → (), still reads.
//!
//! Entries are only added: a member dropped from a notice's matches keeps
//! its entry, which reading skips (the notice's value is the truth), and
//! `sebroker compact` drops ([`live_entries`]).

use std::collections::BTreeSet;

/// The key prefix of a member's entries.
pub(crate) fn prefix(member_id: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(member_id.len() + 1);
    p.extend_from_slice(member_id.as_bytes());
    p.push(0);
    p
}

/// The key of a member's entry written with `id`.
pub(crate) fn key(member_id: &str, id: u64) -> Vec<u8> {
    let mut k = prefix(member_id);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// An entry's value: the ocids, NUL-separated (an ocid never holds a NUL:
/// the store's keys rely on it). Never empty for at least one ocid, which
/// tells it from a version 4 entry.
pub(crate) fn value<'a>(ocids: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut v = Vec::new();
    for o in ocids {
        if !v.is_empty() {
            v.push(0);
        }
        v.extend_from_slice(o.as_bytes());
    }
    v
}

/// Adds the ocids an entry names to `out` (`prefix_len`: the length of the
/// member's [`prefix`]).
pub(crate) fn read_entry(prefix_len: usize, key: &[u8], value: &[u8], out: &mut BTreeSet<String>) {
    if value.is_empty() {
        // Version 4: the ocid is the rest of the key.
        if let Some(ocid) = key.get(prefix_len..) {
            out.insert(String::from_utf8_lossy(ocid).into_owned());
        }
        return;
    }
    for ocid in value.split(|b| *b == 0).filter(|o| !o.is_empty()) {
        out.insert(String::from_utf8_lossy(ocid).into_owned());
    }
}

/// The member's live entries as one value (none when no ocid is live),
/// given whether a notice's stored matches still hold the member: what
/// compaction writes in place of all of the member's entries.
pub(crate) fn live_entries(
    ocids: &BTreeSet<String>,
    mut holds: impl FnMut(&str) -> crate::Result<bool>,
) -> crate::Result<Option<Vec<u8>>> {
    let mut live = Vec::new();
    for o in ocids {
        if holds(o)? {
            live.push(o.as_str());
        }
    }
    Ok((!live.is_empty()).then(|| value(live)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_both_layouts_read_back_their_ocids() {
        let p = prefix("m1");
        let mut out = BTreeSet::new();
        let k = key("m1", 7);
        read_entry(p.len(), &k, &value(["o-2", "o-1", "o-2"]), &mut out);
        // A version 4 entry: the ocid in the key, no value.
        let mut old = p.clone();
        old.extend_from_slice(b"o-9");
        read_entry(p.len(), &old, &[], &mut out);
        assert_eq!(out.into_iter().collect::<Vec<_>>(), ["o-1", "o-2", "o-9"]);
        assert!(k.starts_with(&p) && k.len() == p.len() + 8);
        assert!(!value(["x"]).is_empty());
    }

    #[test]
    fn keys_of_one_member_sort_in_write_order_and_apart_from_longer_ids() {
        assert!(key("m1", 1) < key("m1", 256));
        // "m1" and "m10" do not share a prefix: the NUL ends the id.
        assert!(!key("m10", 1).starts_with(&prefix("m1")));
    }

    #[test]
    fn only_live_ocids_are_kept() {
        let ocids: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let kept = live_entries(&ocids, |o| Ok(o != "b")).expect("live");
        assert_eq!(kept.as_deref(), Some(&b"a\0c"[..]));
        assert_eq!(live_entries(&ocids, |_| Ok(false)).expect("none"), None);
    }
}
