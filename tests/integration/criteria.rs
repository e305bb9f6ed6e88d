//! Award criteria on real Find a Tender notices: social-value weights read
//! per lot, the `--min-social-value` search filter and the match reason.

use crate::common::{run_json, shared_data, tempdir};

#[test]
fn social_value_weights_are_read_filtered_and_explained() {
    let Some(data) = shared_data("social_value_weights_are_read_filtered_and_explained") else {
        return;
    };
    let dir = tempdir();
    let day = data.join("ocds/fts/backfill/2026-08-10");
    let (code, _) = run_json(dir.path(), &["ingest", day.to_str().expect("p"), "--json"]);
    assert_eq!(code, 0);

    // Bolton House Road Site Waste Clearance: quality 55%, social value 15%, price 30%.
    let (code, n) = run_json(dir.path(), &["notice", "ocds-h6vhtk-06df89", "--json"]);
    assert_eq!(code, 0, "{n}");
    let criteria = n["lots"][0]["award_criteria"].as_array().expect("criteria");
    let got: Vec<(&str, &str, u64, bool)> = criteria
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or(""),
                c["name"].as_str().unwrap_or(""),
                c["weight_bp"].as_u64().unwrap_or(0),
                c["social_value"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("quality", "Quality", 5500, false),
            ("quality", "Social Value", 1500, true),
            ("price", "Pricing", 3000, false),
        ]
    );

    // Counted from the raw day independently: 2 notices weight social value
    // at 15% or more in some lot, 19 at 10% or more.
    let search = |min: &str| {
        let (code, r) = run_json(
            dir.path(),
            &[
                "search",
                "",
                "--min-social-value",
                min,
                "--limit",
                "100",
                "--json",
            ],
        );
        assert_eq!(code, 0, "{r}");
        r
    };
    let at15 = search("15");
    let mut ocids: Vec<&str> = at15["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["ocid"].as_str())
        .collect();
    ocids.sort_unstable();
    assert_eq!(ocids, vec!["ocds-h6vhtk-06cf88", "ocds-h6vhtk-06df89"]);
    assert_eq!(search("10")["total"], 19);
    assert_eq!(search("60")["total"], 0);

    // A waste-clearance member near Bolton is told what social value weighs.
    let members = dir.path().join("m.json");
    std::fs::write(
        &members,
        r#"[{"id": "w-1", "name": "Bolton Clear CIC", "cluster": "other",
             "description": "Site clearance, waste removal and recycling",
             "cpv": ["90500000"], "service_areas": ["UKD36"]}]"#,
    )
    .expect("write");
    let (code, r) = run_json(
        dir.path(),
        &["members", "import", members.to_str().expect("p"), "--json"],
    );
    assert_eq!(code, 0, "{r}");
    let (code, m) = run_json(dir.path(), &["match", "ocds-h6vhtk-06df89", "--json"]);
    assert_eq!(code, 0, "{m}");
    let top = &m["matches"][0];
    assert_eq!(top["member_id"], "w-1", "{m}");
    assert!(
        top["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x == "social value is 15% of the award"),
        "{top}"
    );
}
