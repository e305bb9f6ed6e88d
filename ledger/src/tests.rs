//! Unit tests of the ledger: state machine, idempotency, corrections,
//! cluster history, durability checks, backups.

use time::macros::date;

use super::model::{CaseStatus, Event, Programme, Share};
use super::totals::{totals, By};
use super::*;
use std::sync::Arc;

fn ev(key: &str, date: Option<Date>, event: Event) -> NewEvent {
    NewEvent {
        date,
        actor: "test".into(),
        idempotency_key: key.into(),
        notes: None,
        event,
    }
}

fn open_case(l: &Ledger, key: &str, members: &[&str], lead: &str) -> String {
    let r = l
        .append(ev(
            key,
            Some(date!(2025 - 05 - 01)),
            Event::CaseOpened {
                case_id: String::new(),
                ocid: format!("ocds-{key}"),
                group: vec![],
                members: members.iter().map(|m| (*m).to_owned()).collect(),
                lead: lead.into(),
                title: "t".into(),
                source: "fts".into(),
                buyer: Some("Walsall Council".into()),
                cpv_division: Some("85".into()),
            },
        ))
        .expect("opens");
    r.record.event.case_id().expect("case").to_owned()
}

fn status(l: &Ledger, key: &str, case: &str, s: CaseStatus) -> Result<Appended> {
    l.append(ev(
        key,
        None,
        Event::StatusChanged {
            case_id: case.into(),
            status: s,
        },
    ))
}

fn won(
    l: &Ledger,
    key: &str,
    case: &str,
    value: i64,
    shares: Vec<Share>,
    d: Date,
) -> Result<Appended> {
    l.append(ev(
        key,
        Some(d),
        Event::Won {
            case_id: case.into(),
            value_pence: value,
            shares,
        },
    ))
}

fn share(m: &str, bp: u32) -> Share {
    Share {
        member_id: m.into(),
        basis_points: bp,
    }
}

fn clusters() -> Vec<String> {
    ["walsall", "smethwick", "ward-end", "wolverhampton", "other"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn cases(l: &Ledger) -> Vec<state::Case> {
    l.state().all_cases(&|_| "other".to_owned())
}

#[test]
fn a_consortium_win_splits_by_shares_with_the_remainder_to_the_lead() {
    let l = Ledger::in_memory(LedgerSettings::default());
    for (m, c) in [("a", "walsall"), ("b", "smethwick")] {
        l.append(ev(
            &format!("cl-{m}"),
            Some(date!(2025 - 01 - 01)),
            Event::ClusterChanged {
                member_id: m.into(),
                cluster: c.into(),
            },
        ))
        .expect("cluster");
    }
    let case = open_case(&l, "k1", &["a", "b"], "b");
    status(&l, "k2", &case, CaseStatus::Introduced).expect("introduced");
    status(&l, "k3", &case, CaseStatus::BidSubmitted).expect("bid");
    assert!(
        status(&l, "k3b", &case, CaseStatus::Interested).is_err(),
        "no going back"
    );
    let e = won(
        &l,
        "k4",
        &case,
        100_001,
        vec![share("a", 6000)],
        date!(2025 - 06 - 01),
    )
    .expect_err("shares must sum to 100%");
    assert!(e.to_string().contains("10000"), "{e}");
    won(
        &l,
        "k4",
        &case,
        100_001,
        vec![share("a", 3333), share("b", 6667)],
        date!(2025 - 06 - 01),
    )
    .expect("won");
    let t = totals(&cases(&l), By::Cluster, &l.settings, &clusters());
    assert_eq!(t.total_pence, 100_001);
    let get = |k: &str| t.rows.iter().find(|r| r.key == k).map(|r| r.value_pence);
    assert_eq!(get("walsall"), Some(33_330));
    assert_eq!(get("smethwick"), Some(66_671));
    assert_eq!(get("ward-end"), Some(0));
    assert_eq!(l.state().brokered_total(), 100_001);
}

#[test]
fn retries_book_once_and_reused_keys_are_refused() {
    let l = Ledger::in_memory(LedgerSettings::default());
    let case = open_case(&l, "open-1", &["a"], "a");
    let again = l
        .append(ev(
            "open-1",
            Some(date!(2025 - 05 - 01)),
            Event::CaseOpened {
                case_id: String::new(),
                ocid: "ocds-open-1".into(),
                group: vec![],
                members: vec!["a".into()],
                lead: "a".into(),
                title: "t".into(),
                source: "fts".into(),
                buyer: Some("Walsall Council".into()),
                cpv_division: Some("85".into()),
            },
        ))
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(again.record.event.case_id(), Some(case.as_str()));
    status(&l, "s1", &case, CaseStatus::Introduced).expect("introduced");
    won(&l, "w1", &case, 500, vec![], date!(2025 - 07 - 01))
        .expect_err("single member needs a share");
    won(
        &l,
        "w1",
        &case,
        500,
        vec![share("a", 10_000)],
        date!(2025 - 07 - 01),
    )
    .expect("won");
    let r = won(
        &l,
        "w1",
        &case,
        500,
        vec![share("a", 10_000)],
        date!(2025 - 07 - 01),
    )
    .expect("retry");
    assert!(r.replayed);
    let e = won(
        &l,
        "w1",
        &case,
        900,
        vec![share("a", 10_000)],
        date!(2025 - 07 - 01),
    )
    .expect_err("same key, other request");
    assert!(
        matches!(
            e,
            Error::Conflict {
                code: "idempotency_key_reused",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(l.state().last_seq(), 3);
    assert_eq!(l.state().brokered_total(), 500);
}

#[test]
fn a_correction_voids_and_rebooks_without_editing() {
    let l = Ledger::in_memory(LedgerSettings::default());
    let case = open_case(&l, "o", &["a"], "a");
    status(&l, "i", &case, CaseStatus::Introduced).expect("introduced");
    let w = won(
        &l,
        "w",
        &case,
        1_000,
        vec![share("a", 10_000)],
        date!(2025 - 07 - 01),
    )
    .expect("won");
    assert!(status(&l, "x", &case, CaseStatus::Lost).is_err(), "closed");
    // Voiding the introduction while the win stands is refused: later first.
    let intro_seq = 2;
    assert!(l
        .append(ev(
            "v0",
            None,
            Event::Voided {
                voids_seq: intro_seq,
                reason: "typo".into()
            }
        ))
        .is_err());
    l.append(ev(
        "v1",
        None,
        Event::Voided {
            voids_seq: w.record.seq,
            reason: "value was 10.00, not 1000 pence? no: 100000".into(),
        },
    ))
    .expect("void");
    assert_eq!(l.state().brokered_total(), 0);
    let c = &cases(&l)[0];
    assert_eq!(c.status, CaseStatus::Introduced);
    won(
        &l,
        "w2",
        &case,
        100_000,
        vec![share("a", 10_000)],
        date!(2025 - 07 - 01),
    )
    .expect("rebooked");
    assert_eq!(l.state().brokered_total(), 100_000);
    assert_eq!(l.state().last_seq(), 5, "every step is an event");
}

#[test]
fn a_win_without_an_introduction_is_not_counted() {
    let l = Ledger::in_memory(LedgerSettings::default());
    let case = open_case(&l, "o", &["a"], "a");
    won(
        &l,
        "w",
        &case,
        1_000,
        vec![share("a", 10_000)],
        date!(2025 - 07 - 01),
    )
    .expect("won");
    assert_eq!(l.state().brokered_total(), 0);
    assert!(cases(&l)[0].win.as_ref().is_some_and(|w| !w.counted));
}

#[test]
fn wins_count_for_the_cluster_of_the_day() {
    let l = Ledger::in_memory(LedgerSettings::default());
    let cl = |key: &str, c: &str, d: Date| {
        l.append(ev(
            key,
            Some(d),
            Event::ClusterChanged {
                member_id: "a".into(),
                cluster: c.into(),
            },
        ))
        .expect("cluster");
    };
    cl("c1", "walsall", date!(2025 - 01 - 01));
    cl("c2", "smethwick", date!(2025 - 09 - 01));
    for (i, d) in [date!(2025 - 06 - 01), date!(2025 - 10 - 01)]
        .into_iter()
        .enumerate()
    {
        let case = open_case(&l, &format!("o{i}"), &["a"], "a");
        status(&l, &format!("i{i}"), &case, CaseStatus::Introduced).expect("intro");
        won(
            &l,
            &format!("w{i}"),
            &case,
            1_000 * (i as i64 + 1),
            vec![share("a", 10_000)],
            d,
        )
        .expect("won");
    }
    let t = totals(&cases(&l), By::Cluster, &l.settings, &clusters());
    let get = |k: &str| t.rows.iter().find(|r| r.key == k).map(|r| r.value_pence);
    assert_eq!(get("walsall"), Some(1_000));
    assert_eq!(get("smethwick"), Some(2_000));
    let t = totals(&cases(&l), By::Month, &l.settings, &clusters());
    assert_eq!(
        t.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        ["2025-06", "2025-10"]
    );
    l.append(ev(
        "r1",
        None,
        Event::Referral {
            member_id: "a".into(),
            programme: Programme::Sega,
        },
    ))
    .expect("referral");
    assert_eq!(l.state().referrals(&|_| "x".into())[0].cluster, "smethwick");
}

fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sebroker-ledger-")
        .tempdir()
        .expect("tempdir")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

#[test]
fn an_older_store_is_refused_and_a_backup_restores_it() {
    let dir = data_dir();
    let d = dir.path();
    let settings = LedgerSettings::default();
    let old = d.join("old-ledger");
    let backup_file = d.join("b.jsonl");
    {
        let l = Ledger::open(d, settings).expect("opens");
        let case = open_case(&l, "o", &["a"], "a");
        status(&l, "i", &case, CaseStatus::Introduced).expect("intro");
        backup::backup(&l, &[], &backup_file).expect("backup");
        copy_dir(&ledger_dir(d), &old);
        won(
            &l,
            "w",
            &case,
            7_00,
            vec![share("a", 10_000)],
            date!(2025 - 07 - 01),
        )
        .expect("won");
    }
    // Reopens fine as it is.
    assert_eq!(
        Ledger::open(d, settings)
            .expect("reopens")
            .state()
            .last_seq(),
        3
    );
    // sled "loses" the last write.
    std::fs::remove_dir_all(ledger_dir(d)).expect("rm");
    copy_dir(&old, &ledger_dir(d));
    let e = Ledger::open(d, settings).err().expect("refused");
    let msg = e.to_string();
    assert!(matches!(e, Error::Refused(_)), "{msg}");
    assert!(
        msg.contains("sled holds 2 events but the head file records 3"),
        "{msg}"
    );
    assert!(msg.contains("b.jsonl"), "names the last good backup: {msg}");
    assert!(!backup::verify(d, settings, None).expect("verify").ok);
    // Empty, as after sled lost its snapshot.
    std::fs::remove_dir_all(ledger_dir(d)).expect("rm");
    assert!(Ledger::open(d, settings).is_err());
    let r =
        backup::restore(d, &backup_file, false, settings, None, &mut |_| Ok(())).expect("restores");
    assert_eq!(r.events, 2);
    let l = Ledger::open(d, settings).expect("opens after restore");
    assert_eq!(l.state().last_seq(), 2);
}

#[test]
fn a_damaged_backup_is_refused() {
    let dir = data_dir();
    let d = dir.path();
    let l = Ledger::open(d, LedgerSettings::default()).expect("opens");
    let case = open_case(&l, "o", &["a"], "a");
    status(&l, "i", &case, CaseStatus::Introduced).expect("intro");
    let f = d.join("b.jsonl");
    backup::backup(&l, &[], &f).expect("backup");
    let text = std::fs::read_to_string(&f).expect("read");
    let cut: Vec<&str> = text.lines().collect();
    std::fs::write(&f, cut[..cut.len() - 1].join("\n")).expect("write");
    assert!(backup::read(&f).is_err(), "truncated");
    std::fs::write(&f, text.replace("\"introduced\"", "\"interested\"")).expect("write");
    assert!(backup::read(&f).is_err(), "tampered");
}

fn member_case(l: &Ledger, key: &str) -> String {
    let case = open_case(l, key, &["a"], "a");
    status(l, &format!("{key}-i"), &case, CaseStatus::Introduced).expect("intro");
    case
}

#[test]
fn money_above_the_bound_or_negative_is_refused_and_totals_never_wrap() {
    let l = Ledger::in_memory(LedgerSettings::default());
    let case = member_case(&l, "c");
    let d = date!(2025 - 06 - 01);
    for v in [i64::MAX, model::DEFAULT_MAX_VALUE_PENCE + 1, -1, 0] {
        let e =
            won(&l, &format!("w{v}"), &case, v, vec![share("a", 10_000)], d).expect_err("refused");
        assert!(
            matches!(
                e,
                Error::Unprocessable {
                    code: "invalid_value",
                    ..
                }
            ),
            "{v}: {e}"
        );
    }
    won(
        &l,
        "ok",
        &case,
        model::DEFAULT_MAX_VALUE_PENCE,
        vec![share("a", 10_000)],
        d,
    )
    .expect("£1bn is accepted");
    assert_eq!(l.state().brokered_total(), model::DEFAULT_MAX_VALUE_PENCE);
    let ret = |key: &str, t: i64| {
        l.append(ev(
            key,
            None,
            Event::ReturnFiled {
                member_id: "a".into(),
                figures: model::ReturnFigures {
                    year: 2026,
                    turnover_pence: Some(t),
                    ..Default::default()
                },
            },
        ))
    };
    assert!(ret("r1", -5).is_err());
    assert!(ret("r2", i64::MAX).is_err());
    assert!(ret("r3", 1_000).is_ok());
    // A lower configured bound.
    let small = Ledger::in_memory(LedgerSettings {
        max_value_pence: 500,
        ..LedgerSettings::default()
    });
    let c = member_case(&small, "s");
    assert!(won(&small, "w", &c, 501, vec![share("a", 10_000)], d).is_err());
    assert!(won(&small, "w2", &c, 500, vec![share("a", 10_000)], d).is_ok());
}

/// A chain that could only be hand-made: wins of i64::MAX and 1 penny.
fn impossible_chain(d: &Path) {
    let l = Ledger::open(d, LedgerSettings::default()).expect("opens");
    let c1 = member_case(&l, "c1");
    let c2 = member_case(&l, "c2");
    drop(l);
    let db = store::SledLedgerStore::open(&ledger_dir(d)).expect("sled");
    let mut records = db.records().expect("records");
    let mut prev = records.last().map(|r| r.hash.clone()).expect("some");
    for (i, (case, v)) in [(c1, i64::MAX), (c2, 1)].into_iter().enumerate() {
        let mut r = records.last().cloned().expect("some");
        r.seq += 1;
        r.idempotency_key = format!("hand-{i}");
        r.event = Event::Won {
            case_id: case,
            value_pence: v,
            shares: vec![share("a", 10_000)],
        };
        r.prev_hash = prev.clone();
        r.hash = r.compute_hash();
        prev = r.hash.clone();
        db.append(&r).expect("append");
        records.push(r);
    }
    drop(db);
    std::fs::remove_file(store::head_path(d)).expect("rm head");
    let mut state = State::default();
    for r in records {
        state.apply(r);
    }
    store::write_head(
        &store::head_path(d),
        &Head {
            seq: state.last_seq(),
            brokered_total_pence: state.brokered_total(),
            hash: state.last_hash().to_owned(),
            written_at: OffsetDateTime::now_utc(),
            last_backup: None,
            ledger_id: None,
        },
    )
    .expect("head");
}

#[test]
fn an_impossible_total_fails_verify_and_open() {
    let dir = data_dir();
    let d = dir.path();
    impossible_chain(d);
    let v = backup::verify(d, LedgerSettings::default(), None).expect("verify");
    assert!(!v.ok);
    let p = v.problem.expect("a problem");
    assert!(p.contains("impossible total") && p.contains("wrap"), "{p}");
    assert!(Ledger::open(d, LedgerSettings::default()).is_err());
}

#[test]
fn a_failed_flush_is_taken_back_and_the_ledger_goes_on() {
    let dir = data_dir();
    let d = dir.path();
    let settings = LedgerSettings::default();
    let db = store::SledLedgerStore::open(&ledger_dir(d)).expect("sled");
    let r = |seq: u64, prev: &str| {
        let mut r = model::Record {
            seq,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            date: date!(2026 - 01 - 01),
            actor: "t".into(),
            idempotency_key: format!("k{seq}"),
            notes: None,
            event: Event::Referral {
                member_id: "a".into(),
                programme: Programme::Sega,
            },
            sealed: None,
            prev_hash: prev.to_owned(),
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        r
    };
    let first = r(1, GENESIS);
    db.fail_flushes
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let f = db.append(&first).expect_err("fails");
    assert_eq!(f.stored, Stored::No, "{}", f.cause);
    // Not wedged: the same sequence number is free again.
    db.append(&first).expect("the retry is stored");
    db.fail_flushes
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let second = r(2, &first.hash);
    let f = db.append(&second).expect_err("fails");
    assert_eq!(f.stored, Stored::Unknown, "the undo failed too");
    drop(db);
    let _ = settings;
}

#[test]
fn a_failed_append_says_so_and_the_next_one_books() {
    let dir = data_dir();
    let d = dir.path();
    let l = Ledger::open(d, LedgerSettings::default()).expect("opens");
    let refer = |key: &str| {
        l.append(ev(
            key,
            None,
            Event::Referral {
                member_id: "a".into(),
                programme: Programme::Sedf,
            },
        ))
    };
    refer("r1").expect("books");
    l.fail_next_flushes(1);
    let e = refer("r2").expect_err("fails");
    assert!(
        matches!(&e, Error::Unavailable { code: "ledger_write_failed", message } if message.contains("not stored")),
        "{e}"
    );
    assert_eq!(refer("r2").expect("the retry books").record.seq, 2);
    assert_eq!(refer("r3").expect("and the next").record.seq, 3);
    l.fail_next_flushes(2);
    let e = refer("r4").expect_err("fails");
    assert!(
        matches!(&e, Error::Unavailable { code: "ledger_write_uncertain", message } if message.contains("may or may not")),
        "{e}"
    );
    assert!(
        matches!(
            refer("r5"),
            Err(Error::Unavailable {
                code: "ledger_unavailable",
                ..
            })
        ),
        "refuses writes until restart"
    );
    drop(l);
    let l = Ledger::open(d, LedgerSettings::default()).expect("reopens from disk");
    let n = l.state().last_seq();
    assert!(n == 3 || n == 4, "{n}");
    let again = l
        .append(ev(
            "r4",
            None,
            Event::Referral {
                member_id: "a".into(),
                programme: Programme::Sedf,
            },
        ))
        .expect("retry after restart");
    assert_eq!(again.record.seq, 4, "booked at most once");
}

#[test]
fn keys_are_events_and_a_lost_revocation_is_noticed() {
    let dir = data_dir();
    let d = dir.path();
    let old = d.join("old-ledger");
    let (text, id) = {
        let l = Ledger::open(d, LedgerSettings::default()).expect("opens");
        let (text, k) = l
            .create_key(crate::auth::Role::Broker, None, "b".into(), None)
            .expect("key");
        assert!(l.authenticate(&text).is_some());
        assert!(l.keys()[0].last_used_at.is_some(), "noted in memory");
        copy_dir(&ledger_dir(d), &old);
        l.revoke_key(&k.id).expect("revoked");
        assert!(l.authenticate(&text).is_none());
        (text, k.id)
    };
    let l = Ledger::open(d, LedgerSettings::default()).expect("reopens");
    assert!(l.authenticate(&text).is_none(), "still revoked");
    assert!(l
        .keys()
        .iter()
        .any(|k| k.id == id && k.revoked_at.is_some()));
    assert!(l.keys()[0].last_used_at.is_some(), "persisted lazily");
    drop(l);
    // sled loses the revocation: the head notices.
    std::fs::remove_dir_all(ledger_dir(d)).expect("rm");
    copy_dir(&old, &ledger_dir(d));
    assert!(matches!(
        Ledger::open(d, LedgerSettings::default()),
        Err(Error::Refused(_))
    ));
}

fn memory(d: &Path) -> Arc<dyn sebroker_store::NoticeStore> {
    Arc::new(sebroker_store::SledStore::open(&d.join("store")).expect("store"))
}

#[test]
fn a_missing_or_replaced_ledger_is_refused_and_can_be_replaced_on_purpose() {
    let dir = data_dir();
    let d = dir.path();
    let settings = LedgerSettings::default();
    let store = memory(d);
    let first_id = {
        let l = Ledger::open_with(d, settings, Some(store.clone())).expect("new folder");
        member_case(&l, "c");
        l.id().to_owned()
    };
    // Ledger and head both gone: the store remembers.
    std::fs::remove_dir_all(ledger_dir(d)).expect("rm");
    std::fs::remove_file(store::head_path(d)).expect("rm");
    let e = refused(Ledger::open_with(d, settings, Some(store.clone())));
    let m = e.to_string();
    assert!(
        m.contains(&first_id) && m.contains("--replace-missing"),
        "{m}"
    );
    // Another folder's ledger put in its place: replaced.
    let other = data_dir();
    {
        let l = Ledger::open(other.path(), settings).expect("other");
        member_case(&l, "x");
    }
    copy_dir(&ledger_dir(other.path()), &ledger_dir(d));
    std::fs::copy(store::head_path(other.path()), store::head_path(d)).expect("cp");
    let e = refused(Ledger::open_with(d, settings, Some(store.clone())));
    assert!(e.to_string().contains("replaced by another one"), "{e}");
    std::fs::remove_dir_all(ledger_dir(d)).expect("rm");
    std::fs::remove_file(store::head_path(d)).expect("rm");
    // On purpose: a new ledger whose first event says what it replaced.
    let l = Ledger::init_replacing_missing(d, settings, store.clone(), "cli:test").expect("init");
    assert_ne!(l.id(), first_id);
    let st = l.state();
    assert!(matches!(
        &st.records[0].event,
        Event::LedgerReplaced { previous_ledger_id, .. } if *previous_ledger_id == first_id
    ));
    drop(st);
    drop(l);
    let l = Ledger::open_with(d, settings, Some(store.clone())).expect("opens after init");
    assert_eq!(l.state().last_seq(), 1);
}

#[test]
fn a_store_with_data_but_no_ledger_is_not_a_new_folder() {
    let dir = data_dir();
    let d = dir.path();
    let store = memory(d);
    store
        .put_member(&sebroker_model::Member {
            id: "m".into(),
            name: "M".into(),
            cluster: "walsall".into(),
            legal_form: None,
            description: String::new(),
            cpv: vec![],
            keywords: vec![],
            service_areas: vec![],
            postcode: None,
            nuts: vec![],
            turnover_pence: None,
            employees: None,
            min_contract_pence: None,
            max_contract_pence: None,
            identifiers: Default::default(),
            track_record: vec![],
            vcse: true,
            sme: true,
            website: None,
            contact: None,
        })
        .expect("member");
    let e = refused(Ledger::open_with(d, LedgerSettings::default(), Some(store)));
    assert!(e.to_string().contains("notices or members"), "{e}");
}

fn refused(r: Result<Ledger>) -> Error {
    match r {
        Ok(_) => panic!("the ledger opened; it should have been refused"),
        Err(e) => e,
    }
}

#[test]
fn a_folder_from_before_identities_is_adopted_and_its_keys_become_events() {
    let dir = data_dir();
    let d = dir.path();
    let store = memory(d);
    // As an older sebroker left it: events, a key in the keys tree, a head
    // without identity, no mark in the notice store.
    let (text, _) = {
        let db = store::SledLedgerStore::open(&ledger_dir(d)).expect("sled");
        let mut r = model::Record {
            seq: 1,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            date: date!(2026 - 01 - 01),
            actor: "t".into(),
            idempotency_key: "k1".into(),
            notes: None,
            event: Event::Referral {
                member_id: "a".into(),
                programme: Programme::Sega,
            },
            sealed: None,
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        db.append(&r).expect("append");
        let (text, mut k) =
            crate::auth::new_key(crate::auth::Role::Broker, None, "old".into(), None).expect("k");
        let (_, mut gone) =
            crate::auth::new_key(crate::auth::Role::Funder, None, "gone".into(), None).expect("k");
        gone.revoked_at = Some(OffsetDateTime::now_utc());
        k.last_used_at = None;
        db.put_key(&k).expect("key");
        db.put_key(&gone).expect("key");
        store::write_head(
            &store::head_path(d),
            &Head {
                seq: 1,
                brokered_total_pence: 0,
                hash: r.hash.clone(),
                written_at: OffsetDateTime::now_utc(),
                last_backup: None,
                ledger_id: None,
            },
        )
        .expect("head");
        (text, k)
    };
    let id = {
        let l =
            Ledger::open_with(d, LedgerSettings::default(), Some(store.clone())).expect("adopted");
        assert!(l.authenticate(&text).is_some(), "the old key still works");
        let mut kinds: Vec<&str> = l.state().records.iter().map(|r| r.event.kind()).collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            ["key_created", "key_created", "key_revoked", "referral"]
        );
        assert_eq!(
            l.keys().iter().filter(|k| k.revoked_at.is_some()).count(),
            1
        );
        l.id().to_owned()
    };
    let head = store::read_head(&store::head_path(d))
        .expect("h")
        .expect("head");
    assert_eq!(head.ledger_id.as_deref(), Some(id.as_str()));
    let mark = identity::read_mark(store.as_ref())
        .expect("m")
        .expect("mark");
    assert_eq!((mark.ledger_id.as_str(), mark.seq), (id.as_str(), 4));
    let l = Ledger::open_with(d, LedgerSettings::default(), Some(store)).expect("reopens");
    assert_eq!(
        (l.id(), l.state().last_seq()),
        (id.as_str(), 4),
        "migrated once"
    );
}

/// Records written the way sebroker wrote them before sealing: plaintext
/// notes, names in the actor and in a void's reason.
fn legacy_records() -> Vec<model::Record> {
    let case = "case-1".to_owned();
    let events = [
        (
            Some("Spoke to Jane Doe on 07700 900123"),
            Event::CaseOpened {
                case_id: case.clone(),
                ocid: "ocds-1".into(),
                group: vec![],
                members: vec!["a".into(), "b".into()],
                lead: "a".into(),
                title: "t".into(),
                source: "fts".into(),
                buyer: Some("Walsall Council".into()),
                cpv_division: Some("85".into()),
            },
        ),
        (
            None,
            Event::StatusChanged {
                case_id: case.clone(),
                status: CaseStatus::Introduced,
            },
        ),
        (
            Some("Jane Doe signed"),
            Event::Won {
                case_id: case.clone(),
                value_pence: 500_000,
                shares: vec![
                    Share {
                        member_id: "a".into(),
                        basis_points: 6000,
                    },
                    Share {
                        member_id: "b".into(),
                        basis_points: 4000,
                    },
                ],
            },
        ),
        (
            Some("referred by Jane Doe"),
            Event::Referral {
                member_id: "a".into(),
                programme: Programme::Sega,
            },
        ),
        (
            None,
            Event::Referral {
                member_id: "b".into(),
                programme: Programme::Sedf,
            },
        ),
        (
            None,
            Event::Voided {
                voids_seq: 5,
                reason: "Jane Doe asked to withdraw".into(),
            },
        ),
    ];
    let mut prev = model::GENESIS.to_owned();
    let mut out = Vec::new();
    for (i, (notes, event)) in events.into_iter().enumerate() {
        let seq = i as u64 + 1;
        let mut r = model::Record {
            seq,
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            date: date!(2025 - 06 - 01),
            actor: "key:k1 (Jane Broker)".into(),
            idempotency_key: format!("legacy-{seq}"),
            notes: notes.map(str::to_owned),
            event,
            sealed: None,
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        r.hash = r.compute_hash();
        prev.clone_from(&r.hash);
        out.push(r);
    }
    out
}

/// Totals by cluster and by member, and the KPIs, as JSON.
fn figures(state: &state::State) -> serde_json::Value {
    let settings = LedgerSettings::default();
    let cluster_of = |m: &str| {
        if m == "a" {
            "walsall".to_owned()
        } else {
            "ward-end".to_owned()
        }
    };
    let cases = state.all_cases(&cluster_of);
    let clusters = vec!["walsall".to_owned(), "ward-end".to_owned()];
    let members = vec![
        ("a".to_owned(), "walsall".to_owned()),
        ("b".to_owned(), "ward-end".to_owned()),
    ];
    serde_json::json!({
        "total": state.brokered_total(),
        "by_cluster": serde_json::to_value(totals(&cases, By::Cluster, &settings, &clusters)).expect("json"),
        "by_member": serde_json::to_value(totals(&cases, By::Member, &settings, &clusters)).expect("json"),
        "kpis": serde_json::to_value(totals::kpis(state, &cases, &members, &cluster_of, &settings, &clusters, date!(2026 - 01 - 01))).expect("json"),
    })
}

#[test]
fn a_legacy_ledger_is_migrated_once_then_erasure_shreds_its_personal_data() {
    let dir = data_dir();
    let d = dir.path();
    let legacy = legacy_records();
    assert!(verify_chain(&legacy).is_ok(), "the old chain verifies");
    let mut before = state::State::default();
    for r in &legacy {
        before.apply(r.clone());
    }
    let want = figures(&before);
    {
        let db = store::SledLedgerStore::open(&ledger_dir(d)).expect("sled");
        db.append_all(&legacy).expect("written the old way");
        store::write_head(
            &store::head_path(d),
            &store::Head {
                seq: 6,
                brokered_total_pence: before.brokered_total(),
                hash: before.last_hash().to_owned(),
                written_at: OffsetDateTime::UNIX_EPOCH,
                last_backup: None,
                ledger_id: None,
            },
        )
        .expect("head");
    }
    let settings = LedgerSettings::default();
    let l = Ledger::open(d, settings).expect("opens and migrates");
    {
        let st = l.state();
        assert!(st
            .records
            .iter()
            .all(|r| r.notes.is_none() && !r.actor.contains("Jane")));
        assert!(
            !serde_json::to_string(&st.records)
                .expect("json")
                .contains("Jane"),
            "nothing personal in the chain"
        );
        assert_eq!(st.records.iter().filter(|r| r.sealed.is_some()).count(), 6);
        assert_ne!(
            st.last_hash(),
            before.last_hash(),
            "the chain was recomputed"
        );
        assert_eq!(figures(&st), want, "totals and KPIs unchanged");
        let opened = st.opened(&st.records[0]);
        assert_eq!(
            opened.notes.as_deref(),
            Some("Spoke to Jane Doe on 07700 900123")
        );
        assert_eq!(opened.actor, "key:k1 (Jane Broker)");
        let case = st.case("case-1", &|_: &str| String::new()).expect("case");
        assert_eq!(
            case.events[0].notes.as_deref(),
            Some("Spoke to Jane Doe on 07700 900123")
        );
    }
    let hash_after = l.state().last_hash().to_owned();
    drop(l);
    // The old folder, plaintext and all, was replaced by the migrated copy.
    let raw_holds = |dir: &Path| {
        std::fs::read_dir(dir)
            .expect("dir")
            .flatten()
            .any(|e| std::fs::read(e.path()).is_ok_and(|b| b.windows(8).any(|w| w == b"Jane Doe")))
    };
    assert!(
        !raw_holds(&ledger_dir(d)),
        "no plaintext left in the ledger's files"
    );
    assert!(!d.join("ledger.migrating").exists() && !d.join("ledger.pre-migration").exists());
    // Once: a second open changes nothing and verifies.
    let l = Ledger::open(d, settings).expect("reopens");
    assert_eq!(l.state().last_hash(), hash_after);
    let (subjects, records) = l.erase_member("a").expect("erases");
    assert_eq!(
        (subjects, records),
        (2, 4),
        "member a and case-1: its 3 events and its referral"
    );
    drop(l);
    let l = Ledger::open(d, settings).expect("reopens after erasure");
    assert!(
        !raw_holds(&ledger_dir(d)) && !raw_holds(d),
        "nothing in the folder's files"
    );
    let st = l.state();
    assert_eq!(st.last_hash(), hash_after, "erasure leaves the chain alone");
    assert_eq!(figures(&st), want, "totals and KPIs unchanged by erasure");
    let case = st.case("case-1", &|_: &str| String::new()).expect("case");
    assert_eq!(case.events[0].notes.as_deref(), Some(seal::ERASED));
    assert_eq!(case.events[0].actor, "key:k1");
    let b = st.referrals(&|_: &str| String::new());
    assert!(
        b.iter().all(|r| r.member_id != "b"),
        "b's referral stays voided"
    );
    let keys = std::fs::read_to_string(seal::keys_path(d)).expect("key file");
    assert!(
        !keys.contains("member:a") && !keys.contains("case:case-1"),
        "{keys}"
    );
    assert!(
        keys.contains("member:b"),
        "other members keep their key: {keys}"
    );
}

#[test]
fn an_interrupted_migration_swap_is_finished_or_undone_at_open() {
    let dir = data_dir();
    let d = dir.path();
    let legacy = legacy_records();
    {
        let db = store::SledLedgerStore::open(&ledger_dir(d)).expect("sled");
        db.append_all(&legacy).expect("old records");
    }
    let head = store::Head {
        seq: 6,
        brokered_total_pence: 500_000,
        hash: legacy[5].hash.clone(),
        written_at: OffsetDateTime::UNIX_EPOCH,
        last_backup: None,
        ledger_id: None,
    };
    store::write_head(&store::head_path(d), &head).expect("head");
    // A crash after the old folder was moved aside, before the copy was
    // swapped in (the copy incomplete): the old folder comes back.
    std::fs::rename(ledger_dir(d), d.join("ledger.pre-migration")).expect("aside");
    std::fs::create_dir_all(d.join("ledger.migrating")).expect("stray copy");
    let l = Ledger::open(d, LedgerSettings::default()).expect("recovers and migrates");
    assert_eq!(l.state().last_seq(), 6);
    assert_eq!(l.state().brokered_total(), 500_000);
    assert!(l.state().records.iter().all(|r| r.notes.is_none()));
    assert!(!d.join("ledger.pre-migration").exists() && !d.join("ledger.migrating").exists());
}

#[test]
fn a_backup_carries_the_keys_so_a_restore_opens_the_notes_but_not_erased_ones() {
    let settings = LedgerSettings::default();
    let (src, dst) = (data_dir(), data_dir());
    let l = Ledger::open(src.path(), settings).expect("opens");
    let mut e = ev(
        "r-a",
        None,
        Event::Referral {
            member_id: "a".into(),
            programme: Programme::Sega,
        },
    );
    e.notes = Some("met Jane Doe".into());
    l.append(e).expect("a's referral");
    let mut e = ev(
        "r-b",
        None,
        Event::Referral {
            member_id: "b".into(),
            programme: Programme::Sedf,
        },
    );
    e.notes = Some("met John Roe".into());
    l.append(e).expect("b's referral");
    l.erase_member("a").expect("erases a");
    let file = src.path().join("b.jsonl");
    backup::backup(&l, &[], &file).expect("backup");
    let text = std::fs::read_to_string(&file).expect("backup text");
    assert!(
        !text.contains("Jane Doe") && !text.contains(r#""subject":"member:a","key""#),
        "erased before the backup: {text}"
    );
    assert!(
        !text.contains("John Roe"),
        "notes are sealed in backups too"
    );
    backup::restore(dst.path(), &file, false, settings, None, &mut |_| Ok(())).expect("restores");
    let r = Ledger::open(dst.path(), settings).expect("restored opens");
    let notes: Vec<Option<String>> = r
        .state()
        .referrals(&|_: &str| String::new())
        .into_iter()
        .map(|v| v.notes)
        .collect();
    assert_eq!(
        notes,
        vec![
            Some(seal::ERASED.to_owned()),
            Some("met John Roe".to_owned())
        ]
    );
}

#[test]
fn a_second_case_for_the_same_members_on_a_notice_is_refused() {
    let l = Ledger::in_memory(LedgerSettings::default());
    let first = open_case(&l, "dup", &["a", "b"], "a");
    let again = l.append(ev(
        "dup-2",
        None,
        Event::CaseOpened {
            case_id: String::new(),
            ocid: "ocds-dup".into(),
            group: vec![],
            members: vec!["b".into(), "a".into()],
            lead: "b".into(),
            title: "t".into(),
            source: "fts".into(),
            buyer: None,
            cpv_division: None,
        },
    ));
    match again {
        Err(Error::Conflict { code, message }) => {
            assert_eq!(code, "case_exists");
            assert!(message.contains(&first), "{message}");
        }
        other => panic!("a duplicate case was not refused: {other:?}"),
    }
    // Another member set on the same notice is its own case.
    let other = l.append(ev(
        "dup-3",
        None,
        Event::CaseOpened {
            case_id: String::new(),
            ocid: "ocds-dup".into(),
            group: vec![],
            members: vec!["a".into()],
            lead: "a".into(),
            title: "t".into(),
            source: "fts".into(),
            buyer: None,
            cpv_division: None,
        },
    ));
    assert!(other.is_ok(), "{other:?}");
}

#[test]
fn next_steps_are_exactly_the_steps_the_ledger_accepts() {
    for from in CaseStatus::ALL {
        for to in CaseStatus::ALL {
            if matches!(to, CaseStatus::Identified | CaseStatus::Won) {
                continue;
            }
            let l = Ledger::in_memory(LedgerSettings::default());
            let case = open_case(&l, "o", &["a"], "a");
            let path: Vec<CaseStatus> = match from {
                CaseStatus::Identified => vec![],
                CaseStatus::Won => {
                    won(
                        &l,
                        "w",
                        &case,
                        100,
                        vec![share("a", 10_000)],
                        date!(2025 - 06 - 01),
                    )
                    .expect("won");
                    vec![]
                }
                s => vec![s],
            };
            for (i, s) in path.iter().enumerate() {
                status(&l, &format!("p{i}"), &case, *s).expect("path");
            }
            let accepted = status(&l, "to", &case, to).is_ok();
            assert_eq!(
                accepted,
                from.next_steps().contains(&to),
                "{} -> {}",
                from.as_str(),
                to.as_str()
            );
        }
    }
}
