//! Members' interest in notices ("ask the brokerage about this"): a sled
//! tree `interests` in the notice store's database, keyed
//! `ocid \0 member id`, flushed before it is acknowledged. An interest
//! opens nothing in the ledger and counts as no introduction; brokers read
//! it beside the notice and the pipeline.
//!
//! An interest holds no personal data: the member's id, the notice, when,
//! and the key id that asked (as the audit log keeps it), never a name or
//! a note. Names are looked up when shown, so an erased member shows as
//! its tombstone.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// One member's interest in one notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interest {
    pub ocid: String,
    pub member_id: String,
    /// When it was first asked (asking again keeps the first time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The key id (or `admin-token`) that asked.
    pub by: String,
}

/// The `interests` tree.
pub struct InterestLog {
    tree: sled::Tree,
}

fn key(ocid: &str, member_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(ocid.len() + member_id.len() + 1);
    k.extend_from_slice(ocid.as_bytes());
    k.push(0);
    k.extend_from_slice(member_id.as_bytes());
    k
}

fn decode(k: &[u8], v: &[u8]) -> Result<Interest> {
    serde_json::from_slice(v).map_err(|e| {
        Error::Invalid(format!(
            "store/interests/{}: {e}",
            String::from_utf8_lossy(k).replace('\0', "/")
        ))
    })
}

impl InterestLog {
    /// Opens the `interests` tree of the store's database.
    pub fn open(db: &sled::Db) -> Result<InterestLog> {
        let tree = db
            .open_tree("interests")
            .map_err(sebroker_store::Error::from)?;
        Ok(InterestLog { tree })
    }

    /// Records the interest (durably) unless the member already asked;
    /// returns it and whether it is new.
    pub fn record(&self, i: Interest) -> Result<(Interest, bool)> {
        let k = key(&i.ocid, &i.member_id);
        let bytes = serde_json::to_vec(&i).map_err(|e| Error::Invalid(e.to_string()))?;
        let put = self
            .tree
            .compare_and_swap(&k, None::<&[u8]>, Some(bytes))
            .map_err(sebroker_store::Error::from)?;
        let out = match put {
            Ok(()) => (i, true),
            Err(cas) => match cas.current {
                Some(v) => (decode(&k, &v)?, false),
                None => (i, true),
            },
        };
        self.tree.flush().map_err(sebroker_store::Error::from)?;
        Ok(out)
    }

    /// The interests in a notice, oldest first.
    pub fn for_notice(&self, ocid: &str) -> Result<Vec<Interest>> {
        let mut prefix = ocid.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(&prefix) {
            let (k, v) = kv.map_err(sebroker_store::Error::from)?;
            out.push(decode(&k, &v)?);
        }
        out.sort_by_key(|i| i.at);
        Ok(out)
    }

    /// Every interest, newest first (the pipeline; a full scan of a small
    /// tree: one row per member and notice asked about).
    pub fn all(&self) -> Result<Vec<Interest>> {
        let mut out = Vec::new();
        for kv in self.tree.iter() {
            let (k, v) = kv.map_err(sebroker_store::Error::from)?;
            out.push(decode(&k, &v)?);
        }
        out.sort_by_key(|i| std::cmp::Reverse(i.at));
        Ok(out)
    }

    /// A member's interests, newest first.
    pub fn for_member(&self, member_id: &str) -> Result<Vec<Interest>> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|i| i.member_id == member_id)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interest_is_kept_once_and_found_by_notice_and_member() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::open(dir.path()).expect("sled");
        let log = InterestLog::open(&db).expect("open");
        let at = OffsetDateTime::UNIX_EPOCH;
        let i = |ocid: &str, m: &str, secs: i64| Interest {
            ocid: ocid.into(),
            member_id: m.into(),
            at: at + time::Duration::seconds(secs),
            by: "k1".into(),
        };
        assert!(log.record(i("o-1", "m-1", 1)).expect("put").1);
        // Asking again keeps the first time.
        let (again, new) = log.record(i("o-1", "m-1", 9)).expect("put");
        assert!(!new);
        assert_eq!(again.at, at + time::Duration::seconds(1));
        assert!(log.record(i("o-1", "m-2", 2)).expect("put").1);
        // "o-1" is a prefix of "o-10": the separator keeps them apart.
        assert!(log.record(i("o-10", "m-1", 3)).expect("put").1);
        let on = log.for_notice("o-1").expect("read");
        assert_eq!(on.len(), 2);
        assert_eq!(on[0].member_id, "m-1");
        let mine = log.for_member("m-1").expect("read");
        assert_eq!(
            mine.iter().map(|i| i.ocid.as_str()).collect::<Vec<_>>(),
            ["o-10", "o-1"]
        );
    }
}
