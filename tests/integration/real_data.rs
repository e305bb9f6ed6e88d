//! Every JSON file under `../shared/data/ocds`, with facts checked against
//! the published notices.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::{run, run_json, shared_data, tempdir};

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Distinct ocids in a file, by a plain text scan for `"ocid": "..."`, so the
/// count does not depend on the parser under test.
fn scan_ocids(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("\"ocid\"") {
        rest = &rest[i + 6..];
        let after = rest.trim_start().strip_prefix(':').map(str::trim_start);
        if let Some(v) = after.and_then(|a| a.strip_prefix('"')) {
            if let Some(end) = v.find('"') {
                out.insert(v[..end].to_owned());
            }
        }
    }
    out
}

#[test]
fn every_file_ingests_with_the_right_notice_count() {
    let Some(data) = shared_data("every_file_ingests_with_the_right_notice_count") else {
        return;
    };
    let mut files = Vec::new();
    json_files(&data.join("ocds"), &mut files);
    assert!(
        files.len() >= 20,
        "expected the shared OCDS files, found {}",
        files.len()
    );
    for f in &files {
        let expected = scan_ocids(&std::fs::read_to_string(f).expect("utf-8")).len() as u64;
        let dir = tempdir();
        let (code, report) = run_json(dir.path(), &["ingest", f.to_str().expect("path"), "--json"]);
        assert_eq!(code, 0, "{}: {report}", f.display());
        assert_eq!(
            report["errors"].as_array().map(Vec::len),
            Some(0),
            "{}",
            f.display()
        );
        assert_eq!(
            report["notices_created"].as_u64(),
            Some(expected),
            "{}",
            f.display()
        );
        let (_, stats) = run_json(dir.path(), &["stats", "--json"]);
        assert_eq!(stats["notices"].as_u64(), Some(expected), "{}", f.display());
    }
}

#[test]
fn known_notice_facts_and_search() {
    let Some(data) = shared_data("known_notice_facts_and_search") else {
        return;
    };
    let dir = tempdir();
    let (code, _) = run_json(
        dir.path(),
        &[
            "ingest",
            data.join("ocds").to_str().expect("path"),
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let (code, n) = run_json(dir.path(), &["notice", "ocds-h6vhtk-06e086", "--json"]);
    assert_eq!(code, 0);
    assert!(n["buyer"]["name"]
        .as_str()
        .is_some_and(|b| b.contains("East Staffordshire")));
    assert_eq!(n["notice_type"], "UK4");
    assert!(n["cpv"]
        .as_array()
        .expect("cpv")
        .iter()
        .any(|c| c["code"] == "45261920"));
    assert_eq!(n["value"]["amount_pence"], 16_500_000);
    assert_eq!(n["value"]["currency"], "GBP");
    assert_eq!(n["deadline"], "2026-08-25T12:00:00+01:00");
    assert!(n["nuts"]
        .as_array()
        .expect("nuts")
        .iter()
        .any(|c| c == "UKG2"));
    assert_eq!(n["suitability"]["vcse"], true);

    let ocids = |v: &serde_json::Value| -> Vec<String> {
        v["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["ocid"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let (code, page) = run_json(
        dir.path(),
        &[
            "search",
            "",
            "--region",
            "UKG",
            "--vcse",
            "--now",
            "2026-08-12",
            "--limit",
            "100",
            "--json",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        ocids(&page).contains(&"ocds-h6vhtk-06e086".to_owned()),
        "{page}"
    );
    for h in page["hits"].as_array().expect("hits") {
        assert!(h["nuts"]
            .as_array()
            .expect("nuts")
            .iter()
            .any(|c| c == "UKG"));
        assert_eq!(h["suitability"]["vcse"], true);
    }
    // Found through its CPV description: "roof" is in no title or description words of this notice.
    let (_, page) = run_json(
        dir.path(),
        &["search", "roof maintenance", "--limit", "50", "--json"],
    );
    assert!(
        ocids(&page).contains(&"ocds-h6vhtk-06e086".to_owned()),
        "{page}"
    );
    // Open is judged against --now: closed a day after the deadline.
    let (_, page) = run_json(
        dir.path(),
        &[
            "search",
            "community centres",
            "--status",
            "open",
            "--now",
            "2026-08-26",
            "--json",
        ],
    );
    assert!(!ocids(&page).contains(&"ocds-h6vhtk-06e086".to_owned()));
    let (_, page) = run_json(
        dir.path(),
        &[
            "search",
            "community centres",
            "--status",
            "closed",
            "--now",
            "2026-08-26",
            "--json",
        ],
    );
    assert!(ocids(&page).contains(&"ocds-h6vhtk-06e086".to_owned()));
}

#[test]
fn server_duplicate_is_stored_once_and_reingest_changes_nothing() {
    let Some(data) = shared_data("server_duplicate_is_stored_once_and_reingest_changes_nothing")
    else {
        return;
    };
    let dir = tempdir();
    let page = data.join("ocds/fts/whole-stream/page-050.json");
    let (code, r) = run_json(
        dir.path(),
        &["ingest", page.to_str().expect("path"), "--json"],
    );
    assert_eq!(code, 0);
    // 100 releases on the page, one of them twice, byte for byte.
    assert_eq!(r["releases_read"], 100);
    assert_eq!(r["releases_duplicate"], 1);
    let (_, stats) = run_json(dir.path(), &["stats", "--json"]);
    assert_eq!(stats["releases"], 99);

    let all = data.join("ocds");
    let all = all.to_str().expect("path");
    run_json(dir.path(), &["ingest", all, "--json"]);
    let (_, before) = run_json(dir.path(), &["stats", "--json", "--now", "2026-08-12"]);
    let search = [
        "search",
        "care services",
        "--limit",
        "20",
        "--now",
        "2026-08-12",
        "--json",
    ];
    let (_, hits_before) = run_json(dir.path(), &search);
    let (code, again) = run_json(dir.path(), &["ingest", all, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(again["releases_new"], 0);
    assert_eq!(again["notices_created"], 0);
    assert_eq!(again["notices_updated"], 0);
    let (_, after) = run_json(dir.path(), &["stats", "--json", "--now", "2026-08-12"]);
    assert_eq!(before, after);
    let (_, hits_after) = run_json(dir.path(), &search);
    assert_eq!(hits_before["hits"], hits_after["hits"]);
    assert_eq!(hits_before["facets"], hits_after["facets"]);
}

#[test]
fn reindex_gives_identical_results() {
    let Some(data) = shared_data("reindex_gives_identical_results") else {
        return;
    };
    let dir = tempdir();
    run_json(
        dir.path(),
        &[
            "ingest",
            data.join("ocds").to_str().expect("path"),
            "--json",
        ],
    );
    let queries: [&[&str]; 4] = [
        &[
            "search",
            "cleaning",
            "--json",
            "--now",
            "2026-08-12",
            "--limit",
            "30",
        ],
        &[
            "search",
            "",
            "--region",
            "UKG",
            "--sort",
            "deadline",
            "--json",
            "--now",
            "2026-08-12",
        ],
        &[
            "search",
            "",
            "--cpv",
            "85",
            "--sort",
            "value",
            "--json",
            "--now",
            "2026-08-12",
        ],
        &[
            "search",
            "software",
            "--status",
            "open,planned",
            "--json",
            "--now",
            "2026-08-12",
        ],
    ];
    // BM25 scores move slightly when deleted (superseded) documents leave the
    // statistics, so results are compared by notice and order, not by score.
    let without_scores = |mut v: serde_json::Value| {
        for h in v["hits"].as_array_mut().expect("hits") {
            h.as_object_mut().expect("hit").remove("score");
        }
        v
    };
    let before: Vec<_> = queries
        .iter()
        .map(|q| without_scores(run_json(dir.path(), q).1))
        .collect();
    let out = run(dir.path(), &["reindex"]);
    assert!(out.status.success());
    let after: Vec<_> = queries
        .iter()
        .map(|q| without_scores(run_json(dir.path(), q).1))
        .collect();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["hits"], a["hits"]);
        assert_eq!(b["total"], a["total"]);
        assert_eq!(b["facets"], a["facets"]);
    }
    // A lost index is rebuilt from the store at start.
    std::fs::remove_dir_all(dir.path().join("index")).expect("remove index");
    let rebuilt: Vec<_> = queries
        .iter()
        .map(|q| without_scores(run_json(dir.path(), q).1))
        .collect();
    for (b, a) in before.iter().zip(&rebuilt) {
        assert_eq!(b["hits"], a["hits"]);
    }
}

#[test]
fn a_corrupt_file_loses_nothing() {
    let Some(data) = shared_data("a_corrupt_file_loses_nothing") else {
        return;
    };
    let dir = tempdir();
    let day = data.join("ocds/fts/backfill/2026-08-10");
    run_json(
        dir.path(),
        &["ingest", day.to_str().expect("path"), "--json"],
    );
    let (_, before) = run_json(dir.path(), &["notice", "ocds-h6vhtk-06e086", "--json"]);
    let (_, stats_before) = run_json(dir.path(), &["stats", "--json", "--now", "2026-08-12"]);

    // A truncated copy of a page, and a file of garbage, beside a good file.
    let inputs = tempdir();
    let page = std::fs::read(day.join("page-001.json")).expect("page");
    std::fs::write(
        inputs.path().join("a-truncated.json"),
        &page[..page.len() / 2],
    )
    .expect("write");
    std::fs::write(
        inputs.path().join("b-garbage.json"),
        b"\x00\x01 not json {{{",
    )
    .expect("write");
    std::fs::copy(
        data.join("ocds/fts/backfill/2026-08-11/page-001.json"),
        inputs.path().join("c-good.json"),
    )
    .expect("copy");
    let (code, r) = run_json(
        dir.path(),
        &["ingest", inputs.path().to_str().expect("path"), "--json"],
    );
    assert_eq!(code, 3, "partial: {r}");
    let errors = r["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{r}");
    assert!(errors[0]["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("a-truncated.json")));
    assert!(errors[0]["position"].as_u64().is_some_and(|p| p > 1000));
    assert!(errors[1]["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("b-garbage.json")));
    assert!(
        r["notices_created"].as_u64().is_some_and(|n| n > 50),
        "the good file was ingested: {r}"
    );
    let (_, after) = run_json(dir.path(), &["notice", "ocds-h6vhtk-06e086", "--json"]);
    assert_eq!(before, after);
    let (_, stats_after) = run_json(dir.path(), &["stats", "--json", "--now", "2026-08-12"]);
    assert!(stats_after["notices"].as_u64() > stats_before["notices"].as_u64());
}

#[test]
fn conversion_from_planned_to_tender_keeps_one_notice() {
    let Some(data) = shared_data("conversion_from_planned_to_tender_keeps_one_notice") else {
        return;
    };
    let dir = tempdir();
    let f = data.join("ocds/fts/conversions/uk3-069311.json");
    let (_, r) = run_json(dir.path(), &["ingest", f.to_str().expect("path"), "--json"]);
    assert_eq!(r["notices_created"], 1);
    let (_, n) = run_json(dir.path(), &["notice", "ocds-h6vhtk-069311", "--json"]);
    assert_eq!(n["releases"].as_array().map(Vec::len), Some(2));
    assert_eq!(n["notice_type"], "UK4", "the later release wins: {n}");
    assert_eq!(n["stage"], "tender");
}

#[test]
fn reference_files_import() {
    let Some(data) = shared_data("reference_files_import") else {
        return;
    };
    let dir = tempdir();
    let (code, r) = run_json(
        dir.path(),
        &[
            "reference",
            "import",
            "cpv",
            data.join("cpv/cpv_2008.csv").to_str().expect("p"),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["entries"], 9454);
    for f in [
        "postcode_districts.csv",
        "uk_local_authorities.csv",
        "lad18_to_nuts318.csv",
    ] {
        let (code, r) = run_json(
            dir.path(),
            &[
                "reference",
                "import",
                "places",
                data.join("geo").join(f).to_str().expect("p"),
                "--json",
            ],
        );
        assert!(code == 0 || code == 3, "{f}: {r}");
        assert!(r["entries"].as_u64().is_some_and(|n| n > 300), "{f}: {r}");
    }
    // Postcodes outside the built-in table now resolve (AB10 is Aberdeen, Scotland: UKM).
    let (code, _) = run_json(
        dir.path(),
        &["search", "", "--region", "AB10 1AA", "--json"],
    );
    assert_eq!(code, 0);
    let (_, stats) = run_json(dir.path(), &["stats", "--json"]);
    assert!(stats["cpv_descriptions"]
        .as_u64()
        .is_some_and(|n| n >= 9454));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn an_index_left_behind_by_a_crash_catches_up_at_start() {
    let Some(data) = shared_data("an_index_left_behind_by_a_crash_catches_up_at_start") else {
        return;
    };
    let dir = tempdir();
    let day1 = data.join("ocds/fts/backfill/2026-08-10");
    let day2 = data.join("ocds/fts/backfill/2026-08-11");
    run_json(dir.path(), &["ingest", day1.to_str().expect("p"), "--json"]);
    // The index as it was after day 1...
    let saved = tempdir();
    copy_dir(&dir.path().join("index"), saved.path());
    run_json(dir.path(), &["ingest", day2.to_str().expect("p"), "--json"]);
    let (_, full) = run_json(dir.path(), &["search", "", "--limit", "1", "--json"]);
    // ...put back, as if the process died after the store write and before
    // the index commit.
    std::fs::remove_dir_all(dir.path().join("index")).expect("rm");
    copy_dir(saved.path(), &dir.path().join("index"));
    let (_, caught_up) = run_json(dir.path(), &["search", "", "--limit", "1", "--json"]);
    assert_eq!(full["total"], caught_up["total"]);
    let (_, stats) = run_json(dir.path(), &["stats", "--json"]);
    assert_eq!(stats["index_docs"], stats["notices"]);
}
