//! The single ingest writer: concurrent ingests from many threads, a batch
//! that dies between its store write and the index commit while another
//! commits, and reopening afterwards: every stored notice is searchable and
//! the index never records a store sequence it has not indexed.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use sebroker_engine::ingest::{ingest_text, IngestOptions};
use sebroker_engine::search::{search, SearchParams};
use sebroker_engine::writer::Hook;
use sebroker_engine::Engine;

use crate::common::tempdir;

/// One release package with one tender notice whose title holds `word`.
fn package(ocid: &str, word: &str) -> String {
    serde_json::json!({
        "releases": [{
            "ocid": ocid,
            "id": format!("{ocid}-r1"),
            "date": "2026-11-02T09:00:00Z",
            "tag": ["tender"],
            "tender": { "id": ocid, "title": format!("Writer test {word}"), "status": "active" }
        }]
    })
    .to_string()
}

/// The ocids a search for `word` finds (ungrouped).
fn found(app: &Engine, word: &str) -> Vec<String> {
    let params = SearchParams {
        q: Some(word.to_owned()),
        group: Some(false),
        limit: Some(100),
        ..SearchParams::default()
    };
    let page = search(app, &params).expect("search");
    page.hits.into_iter().map(|h| h.notice.ocid).collect()
}

/// Waits (bounded) until `cond` holds; panics if it never does.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..2_000 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{what} never happened");
}

#[test]
fn concurrent_ingests_are_all_searchable_after_reopen() {
    let dir = tempdir();
    let app = Arc::new(Engine::open_dir(dir.path()).expect("opens"));
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let app = app.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    let ocid = format!("ocds-test-w{t}n{i}");
                    let r = ingest_text(
                        &app,
                        &ocid,
                        &package(&ocid, &format!("tok{t}x{i}")),
                        &IngestOptions::default(),
                    )
                    .expect("ingests");
                    // Each caller gets its own summary back.
                    assert_eq!(r.notices_created, 1, "{ocid}");
                    // Committed before it returns: searchable at once.
                    assert_eq!(found(&app, &format!("tok{t}x{i}")), vec![ocid]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let last = app.store.last_seq().expect("seq");
    assert_eq!(last, 30);
    assert_eq!(app.index.indexed_seq(), last);
    drop(app);
    let app = Engine::open_dir(dir.path()).expect("reopens");
    assert_eq!(app.index.num_docs(), 30);
    for t in 0..6 {
        for i in 0..5 {
            assert_eq!(
                found(&app, &format!("tok{t}x{i}")),
                vec![format!("ocds-test-w{t}n{i}")]
            );
        }
    }
}

/// Before the single writer, ingest B could store its notice, ingest A
/// commit the index with the store's latest sequence (B's included), and B
/// die before indexing: after a restart catch-up believed the index was
/// current and B's notice was never searchable. Here B stops between its
/// store write and the commit, A is queued meanwhile and must not write,
/// then B fails as a crash would; A's commit and a reopen must still find
/// B's notice.
#[test]
fn a_batch_dying_before_its_commit_is_indexed_by_the_next_writer() {
    let dir = tempdir();
    let app = Arc::new(Engine::open_dir(dir.path()).expect("opens"));
    let (at_pause, paused) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let hook: Hook = Arc::new(move |name: &str| {
        if name == "batch-b" {
            let _ = at_pause.send(());
            let _ = released
                .lock()
                .expect("lock")
                .recv_timeout(Duration::from_secs(30));
            return Err(sebroker_engine::Error::Invalid(
                "injected crash before the index commit".into(),
            ));
        }
        Ok(())
    });
    app.writer.set_hook(Some(hook));
    let b = {
        let app = app.clone();
        std::thread::spawn(move || {
            ingest_text(
                &app,
                "batch-b",
                &package("ocds-test-b", "bravo"),
                &IngestOptions::default(),
            )
        })
    };
    paused
        .recv_timeout(Duration::from_secs(30))
        .expect("B reaches the pause");
    // B's notice is in the store, not in the index.
    assert!(app.store.get_notice("ocds-test-b").expect("get").is_some());
    assert!(found(&app, "bravo").is_empty());
    let a = {
        let app = app.clone();
        std::thread::spawn(move || {
            ingest_text(
                &app,
                "batch-a",
                &package("ocds-test-a", "alpha"),
                &IngestOptions::default(),
            )
        })
    };
    // A is queued behind the writer B holds and has written nothing.
    wait_for("A queued", || app.writer.queued() == 1);
    assert!(app.store.get_notice("ocds-test-a").expect("get").is_none());
    release.send(()).expect("release B");
    let err = b.join().expect("B thread").expect_err("B was made to fail");
    assert!(err.to_string().contains("injected crash"), "{err}");
    let ra = a.join().expect("A thread").expect("A ingests");
    assert_eq!(ra.notices_created, 1);
    // A's commit indexed everything up to the sequence it recorded: B too.
    assert_eq!(app.index.indexed_seq(), app.store.last_seq().expect("seq"));
    assert_eq!(found(&app, "bravo"), vec!["ocds-test-b".to_owned()]);
    assert_eq!(found(&app, "alpha"), vec!["ocds-test-a".to_owned()]);
    drop(app);
    let app = Engine::open_dir(dir.path()).expect("reopens");
    assert_eq!(found(&app, "bravo"), vec!["ocds-test-b".to_owned()]);
    assert_eq!(found(&app, "alpha"), vec!["ocds-test-a".to_owned()]);
}

/// A crash between the store write and the index commit, with no other
/// ingest after it: the reopen catches the index up from the change log.
#[test]
fn a_crash_before_the_commit_is_caught_up_on_open() {
    let dir = tempdir();
    {
        let app = Engine::open_dir(dir.path()).expect("opens");
        ingest_text(
            &app,
            "first",
            &package("ocds-test-1", "first"),
            &IngestOptions::default(),
        )
        .expect("first");
        let seq = app.index.indexed_seq();
        app.writer.set_hook(Some(Arc::new(|_: &str| {
            Err(sebroker_engine::Error::Invalid("injected crash".into()))
        })));
        assert!(ingest_text(
            &app,
            "second",
            &package("ocds-test-2", "second"),
            &IngestOptions::default()
        )
        .is_err());
        // The index records only what it indexed.
        assert_eq!(app.index.indexed_seq(), seq);
        assert!(app.index.indexed_seq() < app.store.last_seq().expect("seq"));
    }
    let app = Engine::open_dir(dir.path()).expect("reopens");
    assert_eq!(found(&app, "second"), vec!["ocds-test-2".to_owned()]);
    assert_eq!(app.index.indexed_seq(), app.store.last_seq().expect("seq"));
}
