//! The followers of the change log, through the engine's public API: they
//! catch up from their cursors, off the writer, restartably.

use sebroker_connectors::ocds;

use sebroker_engine::consumers::{GROUPS, LINKS, MATCHES};
use sebroker_engine::ingest::IngestOptions;
use sebroker_engine::Engine;

/// The demo's tender notices again, under new ocids, as one package.
fn renamed_tenders(prefix: &str) -> String {
    let text = include_str!("../../fixtures/demo/fts-2026-11.json");
    let mut pkg: serde_json::Value = serde_json::from_str(text).expect("demo json");
    let releases = pkg["releases"].as_array_mut().expect("releases");
    releases.retain(|r| r["tag"].to_string().contains("tender"));
    for r in releases.iter_mut() {
        let ocid = r["ocid"]
            .as_str()
            .expect("ocid")
            .replace("ocds-h6vhtk", prefix);
        r["ocid"] = serde_json::Value::String(ocid);
    }
    pkg.to_string()
}

/// Writes through the single writer only: no follower runs.
fn write_only(engine: &Engine, text: &str) {
    let outcome = ocds::read_bytes(text.as_bytes(), false, false);
    engine
        .writer
        .submit("test", outcome, &IngestOptions::default(), true)
        .expect("written");
}

fn stored_matches(engine: &Engine) -> Vec<(String, Vec<sebroker_model::Match>)> {
    let mut out = Vec::new();
    engine
        .store
        .for_each_notice(&mut |n| {
            out.push((n.ocid.clone(), Vec::new()));
            Ok(())
        })
        .expect("notices");
    for (ocid, m) in &mut out {
        *m = engine.store.matches_of_notice(ocid).expect("matches");
    }
    out
}

#[test]
fn followers_catch_up_from_their_cursors_off_the_writer() {
    let (_dir, engine) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    let last = engine.store.last_seq().expect("seq");
    assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), last);
    assert_eq!(engine.store.cursor(GROUPS).expect("cursor"), last);
    assert_eq!(engine.store.cursor(LINKS).expect("cursor"), last);

    write_only(&engine, &renamed_tenders("ocds-test01"));
    let now = engine.store.last_seq().expect("seq");
    assert!(now > last, "the write made changes");
    // The writer wrote and indexed, but matched nothing: that is the
    // followers' job, and they have not run.
    assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), last);
    let new: Vec<_> = stored_matches(&engine)
        .into_iter()
        .filter(|(o, _)| o.starts_with("ocds-test01"))
        .collect();
    assert!(!new.is_empty());
    assert!(new.iter().all(|(_, m)| m.is_empty()), "{new:?}");

    let done = engine.follow().expect("follow");
    assert_eq!(done.changes, now - last);
    assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), now);
    assert_eq!(engine.store.cursor(GROUPS).expect("cursor"), now);
    assert_eq!(engine.store.cursor(LINKS).expect("cursor"), now);
    let matched = stored_matches(&engine);
    assert!(
        matched
            .iter()
            .any(|(o, m)| o.starts_with("ocds-test01") && !m.is_empty()),
        "the new tenders are matched once followed"
    );
    // Nothing left to do: a second catch-up is empty.
    assert_eq!(engine.follow().expect("follow").changes, 0);
}

#[test]
fn a_follower_restarted_behind_redoes_its_window_with_the_same_result() {
    let (_dir, engine) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    let start = engine.store.last_seq().expect("seq");
    write_only(&engine, &renamed_tenders("ocds-test02"));
    engine.follow().expect("follow");
    let before = stored_matches(&engine);
    // A crash after the matches were stored but before the cursor moved
    // leaves the cursor behind: the window is redone, idempotently.
    engine.store.set_cursor(MATCHES, start).expect("rewind");
    engine.store.set_cursor(GROUPS, start).expect("rewind");
    engine.store.set_cursor(LINKS, start).expect("rewind");
    let redone = engine.follow().expect("follow");
    assert_eq!(
        redone.changes,
        engine.store.last_seq().expect("seq") - start
    );
    assert_eq!(redone.links_new, 0, "links are never made twice");
    assert_eq!(stored_matches(&engine), before);
}

#[test]
fn a_rematch_moves_the_matches_cursor_to_the_last_change() {
    let (_dir, engine) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    write_only(&engine, &renamed_tenders("ocds-test03"));
    let last = engine.store.last_seq().expect("seq");
    assert!(engine.store.cursor(MATCHES).expect("cursor") < last);
    engine.rematch_all().expect("rematch");
    assert_eq!(engine.store.cursor(MATCHES).expect("cursor"), last);
    assert_eq!(engine.store.cursor(LINKS).expect("cursor"), last);
}

/// The notice page matches once: its top members and its proposals are
/// what the two separate calls (the API's matches and consortia) answer.
#[test]
fn the_notice_view_equals_matches_and_consortia_asked_apart() {
    let (_dir, engine) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    let mut ocids = Vec::new();
    engine
        .store
        .for_each_notice(&mut |n| {
            ocids.push(n.ocid.clone());
            Ok(())
        })
        .expect("notices");
    let mut with_consortia = 0;
    for ocid in &ocids {
        let (_, shown, view) = engine
            .matches
            .notice_view(ocid, 10, 4, 3)
            .expect("view")
            .expect("known");
        let (_, apart) = engine
            .matches
            .notice_matches(ocid, 10)
            .expect("matches")
            .expect("known");
        let (_, proposals) = engine
            .matches
            .consortia(ocid, 4, 3)
            .expect("consortia")
            .expect("known");
        assert_eq!(
            serde_json::to_value(&shown).expect("json"),
            serde_json::to_value(&apart).expect("json"),
            "{ocid}"
        );
        assert_eq!(
            serde_json::to_value(&view).expect("json"),
            serde_json::to_value(&proposals).expect("json"),
            "{ocid}"
        );
        with_consortia += usize::from(!view.consortia.is_empty());
    }
    assert!(with_consortia > 0, "some demo notice has a consortium");
    assert!(engine
        .matches
        .notice_view("ocds-nope", 10, 4, 3)
        .expect("view")
        .is_none());
}

#[test]
fn a_large_window_matched_on_every_core_stores_what_one_notice_at_a_time_does() {
    let (_dir, engine) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    // Over a hundred new notices in one window: matched in parallel.
    let prefixes = [
        "ocds-par01",
        "ocds-par02",
        "ocds-par03",
        "ocds-par04",
        "ocds-par05",
    ];
    for p in prefixes {
        write_only(&engine, &renamed_tenders(p));
    }
    engine.follow().expect("follow");
    let stored: Vec<_> = stored_matches(&engine)
        .into_iter()
        .filter(|(o, _)| prefixes.iter().any(|p| o.starts_with(p)))
        .collect();
    assert!(stored.len() >= 100, "{} notices", stored.len());
    assert!(stored.iter().any(|(_, m)| !m.is_empty()));
    for (ocid, got) in stored {
        let (n, ranked) = engine
            .matches
            .notice_matches(&ocid, sebroker_matching::members::STORED_PER_NOTICE)
            .expect("match")
            .expect("known");
        let want: Vec<_> = if sebroker_matching::members::biddable(&n) {
            ranked
                .into_iter()
                .filter(|m| m.score >= sebroker_matching::members::STORED_MIN_SCORE)
                .collect()
        } else {
            Vec::new()
        };
        assert_eq!(got, want, "{ocid}");
    }
}
