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
            "--postcodes".into(),
            data.join("geo/postcode_districts.csv")
                .to_str()
                .expect("p")
                .to_owned(),
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
        let learned = get("learned");
        let baselines = [
            "baseline:popularity",
            "baseline:bm25",
            "baseline:cpv",
            "baseline:naive-combined",
        ];
        for b in baselines {
            let base = get(b);
            assert!(
                ours["mrr"].as_f64() > base["mrr"].as_f64(),
                "{test_day}: matcher {ours} vs {base}"
            );
            assert!(
                ours["recall_at_k"].as_f64() >= base["recall_at_k"].as_f64(),
                "{test_day}: matcher {ours} vs {base}"
            );
            // The learned ranker, fitted on the train side only, puts the
            // winner higher on average and more often in the top ten than
            // every baseline.
            assert!(
                learned["mrr"].as_f64() > base["mrr"].as_f64()
                    && learned["recall_at_k"].as_f64() > base["recall_at_k"].as_f64(),
                "{test_day}: learned {learned} vs {base}"
            );
        }
        // ...and than the weighted matcher: higher on average, more often
        // in the top ten (inside the intervals: README).
        for metric in ["mrr", "recall_at_k", "ndcg_at_10"] {
            assert!(
                learned[metric].as_f64() > ours[metric].as_f64(),
                "{test_day}: {metric}: learned {learned} vs matcher {ours}"
            );
        }
        // Every method has nDCG@10 and bootstrap intervals around its point.
        for m in methods {
            for (v, ci) in [
                ("recall_at_k", "recall_at_k_ci"),
                ("mrr", "mrr_ci"),
                ("ndcg_at_10", "ndcg_at_10_ci"),
            ] {
                let x = m[v].as_f64().expect("metric");
                let lo = m[ci][0].as_f64().expect("lo");
                let hi = m[ci][1].as_f64().expect("hi");
                assert!(lo <= x && x <= hi && lo < hi || x == 0.0, "{m}");
            }
        }
        // The model was fitted on train-side queries only, with words for features.
        assert!(r["train_queries"].as_u64().is_some_and(|q| q >= 30), "{r}");
        let features = r["model"]["features"].as_array().expect("features");
        assert!(!features.is_empty() && features.len() <= 15, "{r}");
        assert!(methods.iter().any(|m| m["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("learned:-"))));
    }
}

/// A model file with boosted trees (`evaluate --trees`) is loaded and its
/// trees are added to the score; a tree that could loop is refused.
#[test]
fn a_model_with_trees_is_used_and_a_bad_tree_refused() {
    let dir = demo_dir();
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/matching/model.json"))
            .expect("model"),
    )
    .expect("json");
    let config = dir.path().join("trees.toml");
    let cfg = config.to_str().expect("p");
    let top = |trees: serde_json::Value| {
        let mut m = shipped.clone();
        m["trees"] = trees;
        let file = dir.path().join("trees.json");
        std::fs::write(&file, m.to_string()).expect("write");
        std::fs::write(
            &config,
            format!("[matching]\nmodel = \"{}\"\n", file.display()),
        )
        .expect("write");
        run(
            dir.path(),
            &[
                "--config",
                cfg,
                "match",
                "ocds-h6vhtk-d0000a",
                "--top",
                "5",
                "--json",
            ],
        )
    };
    let matches = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        r["matches"]
            .as_array()
            .expect("matches")
            .iter()
            .map(|m| {
                (
                    m["member_id"].as_str().expect("id").to_owned(),
                    m["score"].as_f64().expect("score"),
                    m["components"]["text"].as_f64().expect("text"),
                )
            })
            .collect::<Vec<_>>()
    };
    let plain = matches(top(serde_json::json!([])));
    // One tree of one leaf moves every score up and no rank.
    let lifted = matches(top(serde_json::json!([[{"leaf": 3.0}]])));
    assert_eq!(
        plain.iter().map(|m| &m.0).collect::<Vec<_>>(),
        lifted.iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    assert!(
        plain
            .iter()
            .zip(&lifted)
            .all(|(a, b)| b.1 > a.1 || b.1 == 0.999),
        "{plain:?} {lifted:?}"
    );
    // A tree on the text relevance that sinks the best text match.
    let split = serde_json::json!([[
        {"split": {"feature": "text", "below": 0.9999, "left": 1, "right": 2}},
        {"leaf": 0.0},
        {"leaf": -50.0}
    ]]);
    let sunk = matches(top(split));
    assert!(plain.iter().any(|m| m.2 == 1.0), "{plain:?}");
    assert!(sunk.iter().all(|m| m.2 < 1.0), "{plain:?} {sunk:?}");
    // A child before its parent could loop: refused with where.
    let out = top(serde_json::json!([[
        {"split": {"feature": "text", "below": 0.5, "left": 0, "right": 1}},
        {"leaf": 1.0}
    ]]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tree 0") && err.contains("node 0"), "{err}");
}

#[test]
fn the_learned_ranking_keeps_the_brokers_pick_and_its_reasons() {
    let dir = demo_dir();
    let config = dir.path().join("learned.toml");
    std::fs::write(&config, "[matching]\nmodel = \"shipped\"\n").expect("write");
    let cfg = config.to_str().expect("p");
    for (ocid, member, reason) in [
        ("ocds-h6vhtk-d0000a", "m-0001", "85312300"), // Ward End youth work
        ("ocds-h6vhtk-d0000b", "m-0041", "UKG39"),    // interpreting in Wolverhampton
        ("ocds-h6vhtk-d0000c", "m-0036", "85312000"), // home from hospital in Sandwell
        ("ocds-h6vhtk-d00013", "m-0046", "UKG36"),    // carers in Dudley
    ] {
        let (code, r) = run_json(
            dir.path(),
            &["--config", cfg, "match", ocid, "--top", "5", "--json"],
        );
        assert_eq!(code, 0, "{r}");
        let top = &r["matches"][0];
        assert_eq!(top["member_id"], member, "{ocid}: {r}");
        assert!(
            top["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .any(|x| x.as_str().is_some_and(|x| x.contains(reason))),
            "{ocid}: {top}"
        );
        // Components are kept on every match; scores are best first, in (0, 1).
        let scores: Vec<f64> = r["matches"]
            .as_array()
            .expect("m")
            .iter()
            .map(|m| {
                assert!(m["components"]["text"].as_f64().is_some(), "{m}");
                m["score"].as_f64().expect("score")
            })
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert!(scores.iter().all(|s| *s > 0.0 && *s < 1.0), "{scores:?}");
    }
    // A model file that is not a model is refused with its name.
    std::fs::write(
        dir.path().join("bad.json"),
        "{\"features\": [\"shoe size\"], \"mean\": [0], \"scale\": [1], \"weights\": [1]}",
    )
    .expect("write");
    std::fs::write(
        &config,
        format!(
            "[matching]\nmodel = \"{}\"\n",
            dir.path().join("bad.json").display()
        ),
    )
    .expect("write");
    let out = run(
        dir.path(),
        &["--config", cfg, "match", "ocds-h6vhtk-d0000a"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("matching.model") && err.contains("shoe size"),
        "{err}"
    );
}

#[test]
fn consortia_on_a_real_multi_lot_notice_give_each_member_a_lot() {
    let Some(data) = shared_data("consortia_on_a_real_multi_lot_notice_give_each_member_a_lot")
    else {
        return;
    };
    let dir = tempdir();
    let page = data.join("ocds/fts/backfill/2026-08-10/page-004.json");
    let (code, _) = run_json(dir.path(), &["ingest", page.to_str().expect("p"), "--json"]);
    assert_eq!(code, 0);
    // Milk & Bread for University Hospitals of Morecambe Bay: lot 1 milk
    // (£498,700.80, CPV 155…), lot 2 bread (£138,559.29, CPV 158…).
    let ocid = "ocds-h6vhtk-06ce25";
    let (_, n) = run_json(dir.path(), &["notice", ocid, "--json"]);
    let lot_cpv = |i: usize| -> Vec<String> {
        n["lots"][i]["cpv"]
            .as_array()
            .expect("lot cpv")
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect()
    };
    assert!(lot_cpv(0).iter().any(|c| c == "15511000"), "{n}");
    assert!(lot_cpv(1).iter().any(|c| c == "15811000"), "{n}");
    assert!(!lot_cpv(1).iter().any(|c| c.starts_with("155")), "{n}");
    let members = dir.path().join("m.json");
    std::fs::write(
        &members,
        r#"[
        {"id": "d-1", "name": "Bay Dairy Co-operative", "cluster": "other",
         "description": "Milk and dairy products delivered daily", "cpv": ["15500000"],
         "service_areas": ["UKD"], "turnover_gbp": 3000000},
        {"id": "b-1", "name": "Morecambe Community Bakery CIC", "cluster": "other",
         "description": "Bread and bakery products", "cpv": ["15811000"],
         "service_areas": ["UKD"], "turnover_gbp": 100000},
        {"id": "c-1", "name": "Bay Catering Social Enterprise", "cluster": "other",
         "description": "Catering and food supply for hospitals", "cpv": ["15000000"],
         "service_areas": ["UKD"], "turnover_gbp": 50000}
    ]"#,
    )
    .expect("write");
    let (code, r) = run_json(
        dir.path(),
        &["members", "import", members.to_str().expect("p"), "--json"],
    );
    assert_eq!(code, 0, "{r}");
    let (code, r) = run_json(dir.path(), &["consortia", ocid, "--json"]);
    assert_eq!(code, 0, "{r}");
    let all = r["consortia"].as_array().expect("consortia");
    assert!(!all.is_empty(), "{r}");
    for c in all {
        let holders: Vec<&str> = c["lots"]
            .as_array()
            .expect("lots")
            .iter()
            .filter_map(|l| l["member_id"].as_str())
            .collect();
        // No member that covers nothing; the lead holds a lot.
        for m in c["members"].as_array().expect("members") {
            assert!(holders.contains(&m.as_str().unwrap_or("")), "{c}");
        }
        assert!(holders.contains(&c["lead"].as_str().unwrap_or("")), "{c}");
    }
    let best = &all[0];
    let holders: Vec<&str> = best["lots"]
        .as_array()
        .expect("lots")
        .iter()
        .filter_map(|l| l["member_id"].as_str())
        .collect();
    assert_eq!(holders, vec!["d-1", "b-1"], "{best}");
    // The dairy holds the larger share of the work, so it leads.
    assert_eq!(best["lead"], "d-1", "{best}");
    assert!(
        best["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x
                .as_str()
                .is_some_and(|x| x.contains("lead partner: d-1 (holds lot 1, £498,700.80"))),
        "{best}"
    );
    // Capacity per lot: milk is 17% of the dairy's turnover (1.0), bread
    // 139% of the bakery's (0.4): 0.7, though combined turnover (£3.1m)
    // is five times the whole value.
    assert_eq!(best["coverage"]["capacity"], 0.7, "{best}");
}

/// A hand-made school-transport notice whose text names where the work is,
/// and two taxi firms alike in everything but their address: with a
/// gazetteer the learned ranking puts the local one first and says why.
#[test]
fn the_nearest_supplier_comes_first_and_the_reason_says_how_far() {
    let dir = tempdir();
    let p = dir.path();
    std::fs::write(
        p.join("postcodes.csv"),
        "Postcode,Latitude,Longitude,Town/Area,Region,Post Town\n\
         RH2,51.2367,-0.203246,Reigate,Reigate and Banstead,Reigate\n\
         KT19,51.3502,-0.269417,\"Horton, West Ewell\",Epsom and Ewell,Epsom\n\
         B8,52.49,-1.84278,\"Washwood Heath, Ward End\",Birmingham,Birmingham\n",
    )
    .expect("csv");
    std::fs::write(
        p.join("model.json"),
        r#"{"features": ["text", "proximity"], "mean": [0, 0], "scale": [1, 1], "weights": [1, 4]}"#,
    )
    .expect("model");
    let config = p.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[matching]\nmodel = \"{}\"\npostcode_districts = \"{}\"\n",
            p.join("model.json").display(),
            p.join("postcodes.csv").display()
        ),
    )
    .expect("config");
    let firm = |id: &str, postcode: &str| {
        serde_json::json!({"id": id, "name": format!("{id} Cars"), "cluster": "other",
            "description": "Home to school transport for pupils with special educational needs",
            "cpv": ["60130000"], "postcode": postcode})
    };
    std::fs::write(
        p.join("members.json"),
        serde_json::json!([firm("far", "B8 1AA"), firm("near", "RH2 7AA")]).to_string(),
    )
    .expect("members");
    let release = serde_json::json!({"uri": "x", "publishedDate": "2026-11-01T00:00:00Z",
        "releases": [{"ocid": "ocds-h6vhtk-t00001", "id": "t1", "tag": ["tender"],
        "date": "2026-11-01T09:00:00+00:00", "buyer": {"name": "Surrey County Council"},
        "tender": {"id": "t", "title": "Home to school transport",
            "description": "Pupils with special educational needs. Location of school: Reigate",
            "status": "active", "items": [{"id": "1", "classification":
            {"scheme": "CPV", "id": "60130000"}}]}}]});
    std::fs::write(p.join("notice.json"), release.to_string()).expect("notice");
    let cfg = config.to_str().expect("p");
    let data = tempdir();
    for args in [
        vec![
            "--config",
            cfg,
            "members",
            "import",
            "members.json",
            "--json",
        ],
        vec!["--config", cfg, "ingest", "notice.json", "--json"],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "members.json" | "notice.json" => p.join(a).display().to_string(),
                _ => (*a).to_owned(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, r) = run_json(data.path(), &args);
        assert_eq!(code, 0, "{r}");
    }
    let (code, r) = run_json(
        data.path(),
        &["--config", cfg, "match", "ocds-h6vhtk-t00001", "--json"],
    );
    assert_eq!(code, 0, "{r}");
    let m = r["matches"].as_array().expect("matches");
    assert_eq!(m[0]["member_id"], "near", "{r}");
    assert_eq!(m[1]["member_id"], "far", "{r}");
    let reasons = |i: usize| m[i]["reasons"].to_string();
    assert!(
        reasons(0).contains("based 0 km from Reigate"),
        "{}",
        reasons(0)
    );
    assert!(reasons(1).contains("km from Reigate"), "{}", reasons(1));
    assert!(m[0]["score"].as_f64() > m[1]["score"].as_f64());
}
