//! Members, matching, consortia, award links and the evaluation command.

use crate::common::{repo, run, run_json, shared_data, tempdir};

fn demo_dir() -> tempfile::TempDir {
    let dir = tempdir();
    let demo = repo().join("fixtures/demo");
    let (code, _) = run_json(
        dir.path(),
        &[
            "ingest",
            demo.join("fts-2026-11.json").to_str().expect("p"),
            demo.join("cf-2026-11.json").to_str().expect("p"),
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let (code, r) = run_json(
        dir.path(),
        &[
            "members",
            "import",
            demo.join("members.json").to_str().expect("p"),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["imported"], 48);
    dir
}

#[test]
fn imports_report_bad_rows_and_keep_good_ones() {
    let dir = tempdir();
    let f = repo().join("fixtures/members");
    let (code, r) = run_json(
        dir.path(),
        &[
            "members",
            "import",
            f.join("members.csv").to_str().expect("p"),
            "--json",
        ],
    );
    assert_eq!(code, 3, "{r}");
    assert_eq!(r["imported"], 3);
    let errors = r["errors"].as_array().expect("errors");
    let at: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["at"].as_str().unwrap_or(""),
                e["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        at,
        vec![
            ("line 5", "cluster"),
            ("line 6", "cpv[0]"),
            ("line 7", "name")
        ]
    );
    assert!(r["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .any(|w| w["message"].as_str().is_some_and(|m| m.contains("Narnia"))));

    let (code, r) = run_json(
        dir.path(),
        &[
            "members",
            "import",
            f.join("members.jsonl").to_str().expect("p"),
            "--json",
        ],
    );
    assert_eq!(code, 3);
    assert_eq!(r["imported"], 2);
    assert_eq!(r["errors"][0]["at"], "line 3");
    assert_eq!(r["errors"][0]["field"], "colour");
    assert_eq!(r["errors"][1]["at"], "line 4");

    let (code, r) = run_json(
        dir.path(),
        &[
            "members",
            "import",
            f.join("members.json").to_str().expect("p"),
            "--json",
        ],
    );
    assert_eq!(code, 3);
    assert_eq!(r["imported"], 2);
    assert_eq!(r["errors"][0]["at"], "item 3");
    assert_eq!(r["errors"][0]["field"], "legal_form");
    assert_eq!(r["errors"][1]["at"], "item 4");

    let (_, list) = run_json(dir.path(), &["members", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(7));
    let (_, m) = run_json(dir.path(), &["members", "show", "t-0001", "--json"]);
    assert_eq!(m["turnover_pence"], 18_000_000);
    assert!(m["nuts"]
        .as_array()
        .expect("nuts")
        .iter()
        .any(|c| c == "UKG31"));
    // Re-import replaces by id.
    let (code, _) = run_json(
        dir.path(),
        &[
            "members",
            "import",
            f.join("members.csv").to_str().expect("p"),
            "--json",
        ],
    );
    assert_eq!(code, 3);
    let (_, list) = run_json(dir.path(), &["members", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(7));
}

#[test]
fn the_top_member_is_the_one_a_broker_would_pick() {
    let dir = demo_dir();
    // Ward End youth work, reserved: the Washwood Heath youth charity, in Birmingham.
    let (code, r) = run_json(dir.path(), &["match", "ocds-h6vhtk-d0000a", "--json"]);
    assert_eq!(code, 0);
    let top = &r["matches"][0];
    assert_eq!(top["member_id"], "m-0001", "{r}");
    let reasons: Vec<&str> = top["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(
        reasons.iter().any(|x| x.contains("85312300")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|x| x.contains("UKG31")), "{reasons:?}");
    for c in [
        "text",
        "cpv",
        "geography",
        "capacity",
        "timing",
        "suitability",
        "relationship",
    ] {
        let v = top["components"][c].as_f64().expect("component");
        assert!((0.0..=1.0).contains(&v), "{c} = {v}");
    }
    let scores: Vec<f64> = r["matches"]
        .as_array()
        .expect("m")
        .iter()
        .filter_map(|m| m["score"].as_f64())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    // Single-service notices go to the member that offers that service, there.
    for (ocid, member) in [
        ("ocds-h6vhtk-d0000b", "m-0041"), // interpreting in Wolverhampton
        ("ocds-h6vhtk-d0000c", "m-0036"), // home from hospital in Sandwell
        ("ocds-h6vhtk-d00013", "m-0046"), // carers in Dudley
    ] {
        let (_, r) = run_json(dir.path(), &["match", ocid, "--top", "3", "--json"]);
        assert_eq!(r["matches"][0]["member_id"], member, "{ocid}: {r}");
    }
}

#[test]
fn closed_notices_never_match() {
    let dir = demo_dir();
    let (_, open) = run_json(
        dir.path(),
        &[
            "matches",
            "--member",
            "m-0013",
            "--now",
            "2026-12-01",
            "--top",
            "50",
            "--json",
        ],
    );
    let ocids: Vec<&str> = open["matches"]
        .as_array()
        .expect("m")
        .iter()
        .filter_map(|m| m["ocid"].as_str())
        .collect();
    assert!(ocids.contains(&"ocds-h6vhtk-d00001"), "{open}");
    for m in open["matches"].as_array().expect("m") {
        assert!(
            ["open", "pipeline", "planned"].contains(&m["status"].as_str().unwrap_or("")),
            "{m}"
        );
    }
    // After its deadline the family hubs tender is gone from the member's matches.
    let (_, later) = run_json(
        dir.path(),
        &[
            "matches",
            "--member",
            "m-0013",
            "--now",
            "2027-12-31",
            "--top",
            "50",
            "--json",
        ],
    );
    let later: Vec<&str> = later["matches"]
        .as_array()
        .expect("m")
        .iter()
        .filter_map(|m| m["ocid"].as_str())
        .collect();
    assert!(!later.contains(&"ocds-h6vhtk-d00001"));
    // The cancelled notice matches no one, even before its deadline.
    for id in ["m-0001", "m-0013", "m-0025", "m-0040"] {
        let (_, r) = run_json(
            dir.path(),
            &[
                "matches",
                "--member",
                id,
                "--now",
                "2026-12-01",
                "--top",
                "100",
                "--json",
            ],
        );
        assert!(!r["matches"]
            .as_array()
            .expect("m")
            .iter()
            .any(|m| m["ocid"] == "ocds-h6vhtk-d00004"));
    }
    let out = run(dir.path(), &["matches", "--member", "m-9999"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_multi_lot_notice_gets_a_consortium() {
    let dir = demo_dir();
    let (code, r) = run_json(dir.path(), &["consortia", "ocds-h6vhtk-d00001", "--json"]);
    assert_eq!(code, 0);
    let c = &r["consortia"][0];
    let members: Vec<&str> = c["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert!((2..=4).contains(&members.len()), "{r}");
    assert!(
        c["score"].as_f64() > r["best_single"][1].as_f64(),
        "better than any single member: {r}"
    );
    let lots = c["lots"].as_array().expect("lots");
    assert_eq!(lots.len(), 3);
    // Catering to the catering CIC, cleaning to the cleaning co-op, youth to the youth association.
    assert_eq!(lots[0]["member_id"], "m-0013");
    assert_eq!(lots[1]["member_id"], "m-0015");
    assert_eq!(lots[2]["member_id"], "m-0016");
    assert!(members.contains(&c["lead"].as_str().unwrap_or("")));
    assert!(!c["reasons"].as_array().expect("reasons").is_empty());
}

#[test]
fn real_awards_link_to_members_track_records() {
    let Some(data) = shared_data("real_awards_link_to_members_track_records") else {
        return;
    };
    let dir = tempdir();
    let members = dir.path().join("m.json");
    // Headway Shropshire (vcse: true in the notice) by its Companies House
    // number; Pony Partnerships by name only, spelled differently.
    std::fs::write(&members, r#"[
        {"id": "h-1", "name": "Headway Shropshire", "cluster": "other", "identifiers": {"companies_house": "04884834"}},
        {"id": "p-1", "name": "Pony Partnerships C.I.C.", "cluster": "other"}
    ]"#).expect("write");
    let data_dir = tempdir();
    let (code, _) = run_json(
        data_dir.path(),
        &["members", "import", members.to_str().expect("p"), "--json"],
    );
    assert_eq!(code, 0);
    run_json(
        data_dir.path(),
        &[
            "ingest",
            data.join("ocds/fts").to_str().expect("p"),
            "--json",
        ],
    );
    let (_, links) = run_json(data_dir.path(), &["links", "list", "--json"]);
    let links = links.as_array().expect("links");
    let headway = links
        .iter()
        .find(|l| l["member_id"] == "h-1")
        .expect("Headway linked");
    assert_eq!(headway["ocid"], "ocds-h6vhtk-06972b");
    assert_eq!(headway["method"], "identifier");
    assert_eq!(headway["confidence"], 1.0);
    let pony = links
        .iter()
        .find(|l| l["member_id"] == "p-1")
        .expect("Pony Partnerships linked");
    assert_eq!(pony["method"], "name");
    assert!(pony["confidence"].as_f64().is_some_and(|c| c >= 0.93));
    // The link is in the member's track record until a broker rejects it.
    let (_, m) = run_json(data_dir.path(), &["members", "show", "h-1", "--json"]);
    assert!(m["track_record"]
        .as_array()
        .expect("tr")
        .iter()
        .any(|t| t["ocid"] == "ocds-h6vhtk-06972b"));
    let award = headway["award_id"].as_str().expect("award");
    assert!(run(
        data_dir.path(),
        &["links", "reject", "h-1", "ocds-h6vhtk-06972b", award]
    )
    .status
    .success());
    let (_, m) = run_json(data_dir.path(), &["members", "show", "h-1", "--json"]);
    assert!(!m["track_record"]
        .as_array()
        .expect("tr")
        .iter()
        .any(|t| t["ocid"] == "ocds-h6vhtk-06972b"));
    drop(dir);
}

#[test]
fn evaluation_beats_every_baseline() {
    let Some(data) = shared_data("evaluation_beats_every_baseline") else {
        return;
    };
    let o = data.join("ocds");
    let p = |s: &str| o.join(s).to_str().expect("p").to_owned();
    let shared_train = [
        p("fts/whole-stream/page-050.json"),
        p("fts/whole-stream/page-111.json"),
        p("cf"),
    ];
    for (train_day, test_day) in [
        ("fts/backfill/2026-08-10", "fts/backfill/2026-08-11"),
        ("fts/backfill/2026-08-11", "fts/backfill/2026-08-10"),
    ] {
        let dir = tempdir();
        let mut args = vec![
            "evaluate".to_owned(),
            "--json".into(),
            "--train".into(),
            p(train_day),
        ];
        args.extend(shared_train.iter().cloned());
        args.extend(["--test".to_owned(), p(test_day)]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, r) = run_json(dir.path(), &args);
        assert_eq!(code, 0);
        assert!(r["n"].as_u64().is_some_and(|n| n >= 30), "{r}");
        let methods = r["methods"].as_array().expect("methods");
        let get = |name: &str| {
            methods
                .iter()
                .find(|m| m["name"] == name)
                .expect("method")
                .clone()
        };
        let ours = get("matcher");
        for b in ["baseline:popularity", "baseline:bm25", "baseline:cpv"] {
            let base = get(b);
            assert!(
                ours["mrr"].as_f64() > base["mrr"].as_f64(),
                "{test_day}: matcher {ours} vs {base}"
            );
            assert!(
                ours["recall_at_k"].as_f64() >= base["recall_at_k"].as_f64(),
                "{test_day}: matcher {ours} vs {base}"
            );
        }
    }
}
