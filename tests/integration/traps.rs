//! The hand-made parser traps of `fixtures/ocds/traps` (see its README).

use crate::common::{repo, run_json, tempdir};

#[test]
fn traps_are_handled_and_reported() {
    let dir = tempdir();
    let traps = repo().join("fixtures/ocds/traps");
    let (code, r) = run_json(
        dir.path(),
        &["ingest", traps.to_str().expect("path"), "--json"],
    );
    assert_eq!(
        code, 3,
        "partial because of the truncated file and the bad line: {r}"
    );
    assert_eq!(r["files"], 7);
    assert_eq!(r["files_skipped"], 2, "README.md and notes.txt: {r}");
    assert_eq!(r["releases_without_ocid"], 1);
    assert_eq!(r["releases_duplicate"], 1);
    assert_eq!(r["files_lossy_utf8"], 1);
    assert_eq!(r["notices_created"], 12);
    let errors = r["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().any(|e| e["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("truncated.json"))
        && e["position"].as_u64() > Some(800)));
    assert!(errors.iter().any(|e| e["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("releases.jsonl"))
        && e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("line 2"))));

    let notice = |ocid: &str| run_json(dir.path(), &["notice", ocid, "--json"]).1;
    let unbounded = notice("ocds-trap01-0001");
    assert_eq!(unbounded["value"]["unbounded"], true);
    assert_eq!(unbounded["value"]["amount_pence"], serde_json::Value::Null);
    assert_eq!(
        notice("ocds-trap01-0002")["value"]["amount_pence"],
        4_250_050
    );
    let no_currency = notice("ocds-trap01-0003");
    assert_eq!(no_currency["value"]["amount_pence"], 120_000);
    assert_eq!(no_currency["value"]["currency"], serde_json::Value::Null);
    assert_eq!(notice("ocds-trap01-0004")["title"], "Nul in title");
    assert!(notice("ocds-trap01-0006")["title"]
        .as_str()
        .is_some_and(|t| t.contains('\u{FFFD}')));
    assert_eq!(notice("ocds-trap01-0007")["title"], "Before the cut A");
    assert_eq!(notice("ocds-trap01-0008")["title"], "Before the cut B");
    let cut = crate::common::run(dir.path(), &["notice", "ocds-trap01-0009", "--json"]);
    assert_eq!(
        cut.status.code(),
        Some(1),
        "the cut-off release was not stored"
    );
    let record = notice("ocds-trap01-0013");
    assert_eq!(record["releases"].as_array().map(Vec::len), Some(2));
    assert_eq!(record["title"], "Record release B");
    assert_eq!(notice("ocds-trap01-0014")["title"], "Gzipped");

    // Again: nothing new, same errors.
    let (code, again) = run_json(
        dir.path(),
        &["ingest", traps.to_str().expect("path"), "--json"],
    );
    assert_eq!(code, 3);
    assert_eq!(again["releases_new"], 0);
    assert_eq!(again["notices_created"], 0);
    assert_eq!(again["errors"], r["errors"]);
}
