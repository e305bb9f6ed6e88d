//! The entries of the `member_matches` tree: which notices may hold a
//! member's stored matches, so a member's matches are found without
//! reading every notice's.
//!
//! Store version 5 writes one entry per member and batch of notices
//! matched: `member \0 id` → the ocids newly matched to the member in that
//! batch, sorted and front-coded (`id`: 8 bytes from sled's id generator,
//! so a member's entries sort in write order). Front coding because ocids
//! of one publisher share most of their bytes: an entry is a third of the
//! ocids' length. One insert per member and batch
//! instead of one per (member, notice): the per-pair random inserts were a
//! fifth of a bulk ingest's CPU and most of sled's space amplification.
//! An entry of version 4 and older, `member \0 ocid` → (), still reads.
//!
//! Entries are only added: a member dropped from a notice's matches keeps
//! its entry, which reading skips (the notice's value is the truth), and
//! `sebroker compact` rebuilds the index from the stored matches
//! (`SledStore::tidy_member_matches`).

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

/// The first byte of a version 5 entry's value (a version 4 entry has an
/// empty value).
const FRONT_CODED: u8 = 1;

/// An entry's value: [`FRONT_CODED`], then the ocids in order, each as the
/// length of the prefix it shares with the one before (a byte, at most
/// 255), its remaining length (LEB128) and those bytes.
pub(crate) fn value<'a>(ocids: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = ocids.into_iter().map(str::as_bytes).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut v = vec![FRONT_CODED];
    let mut last: &[u8] = &[];
    for o in sorted {
        let shared = o
            .iter()
            .zip(last)
            .take_while(|(a, b)| a == b)
            .count()
            .min(255);
        v.push(shared as u8);
        let mut rest = o.len() - shared;
        loop {
            let byte = (rest & 0x7F) as u8;
            rest >>= 7;
            if rest == 0 {
                v.push(byte);
                break;
            }
            v.push(byte | 0x80);
        }
        v.extend_from_slice(&o[shared..]);
        last = o;
    }
    v
}

/// Adds the ocids an entry names to `out` (`prefix_len`: the length of the
/// member's [`prefix`]); a damaged value is an error naming its key.
pub(crate) fn read_entry(
    prefix_len: usize,
    key: &[u8],
    value: &[u8],
    out: &mut BTreeSet<String>,
) -> crate::Result<()> {
    let corrupt = |message: &str| crate::Error::Corrupt {
        key: format!(
            "member_matches/{}",
            String::from_utf8_lossy(key).replace('\0', "/")
        ),
        message: message.to_owned(),
    };
    let Some((&format, mut rest)) = value.split_first() else {
        // Version 4: the ocid is the rest of the key.
        if let Some(ocid) = key.get(prefix_len..) {
            out.insert(String::from_utf8_lossy(ocid).into_owned());
        }
        return Ok(());
    };
    if format != FRONT_CODED {
        return Err(corrupt("unknown entry format"));
    }
    let mut last: Vec<u8> = Vec::new();
    while let Some((&shared, tail)) = rest.split_first() {
        let (len, tail) = leb128(tail).ok_or_else(|| corrupt("a length is cut short"))?;
        let (shared, len) = (
            usize::from(shared),
            usize::try_from(len).unwrap_or(usize::MAX),
        );
        if shared > last.len() || len > tail.len() {
            return Err(corrupt("an ocid runs past the entry"));
        }
        last.truncate(shared);
        last.extend_from_slice(&tail[..len]);
        out.insert(String::from_utf8_lossy(&last).into_owned());
        rest = &tail[len..];
    }
    Ok(())
}

/// A LEB128 number at the start of `bytes` (at most 4 bytes: an ocid is
/// not that long), and the bytes after it.
fn leb128(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut n = 0u32;
    for (i, b) in bytes.iter().enumerate().take(4) {
        n |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Some((n, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_both_layouts_read_back_their_ocids() {
        let p = prefix("m1");
        let mut out = BTreeSet::new();
        let k = key("m1", 7);
        let v = value(["ocds-b5fd17-2", "ocds-b5fd17-1", "ocds-b5fd17-2", "x"]);
        read_entry(p.len(), &k, &v, &mut out).expect("reads");
        // A version 4 entry: the ocid in the key, no value.
        let mut old = p.clone();
        old.extend_from_slice(b"o-9");
        read_entry(p.len(), &old, &[], &mut out).expect("reads");
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            ["o-9", "ocds-b5fd17-1", "ocds-b5fd17-2", "x"]
        );
        assert!(k.starts_with(&p) && k.len() == p.len() + 8);
        // Front-coded: the second ocid costs its last byte and two more.
        assert_eq!(v.len(), 1 + (2 + 13) + (2 + 1) + (2 + 1));
    }

    #[test]
    fn a_damaged_entry_is_an_error_not_a_guess() {
        let p = prefix("m1");
        let k = key("m1", 7);
        let v = value(["ocds-b5fd17-1", "ocds-b5fd17-2"]);
        for bad in [
            &v[..v.len() - 1],
            &[2u8, 0, 1, b'a'][..],
            &[1u8, 0, 0x80][..],
            &[1u8, 9, 1, b'a'][..],
        ] {
            let e = read_entry(p.len(), &k, bad, &mut BTreeSet::new());
            assert!(e.is_err(), "{bad:?} read");
        }
    }

    #[test]
    fn long_ocids_and_long_shared_prefixes_round_trip() {
        let long = "o".repeat(300);
        let ocids = [format!("{long}a"), format!("{long}b"), "p".repeat(200)];
        let mut out = BTreeSet::new();
        read_entry(0, b"", &value(ocids.iter().map(String::as_str)), &mut out).expect("reads");
        assert_eq!(out.into_iter().collect::<Vec<_>>(), ocids);
    }

    #[test]
    fn keys_of_one_member_sort_in_write_order_and_apart_from_longer_ids() {
        assert!(key("m1", 1) < key("m1", 256));
        // "m1" and "m10" do not share a prefix: the NUL ends the id.
        assert!(!key("m10", 1).starts_with(&prefix("m1")));
    }
}
