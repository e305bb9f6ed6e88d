//! The market map's snapshot follows the store: an answer is reused while
//! nothing changed and recomputed when members change. (A test of its own
//! crate: inside `engine::market` it would make the market module depend
//! on the demo, which depends on the whole engine.)

#[test]
fn the_snapshot_follows_the_members() {
    let (_dir, app) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    let p = sebroker_engine::market::MarketParams {
        by: Some("cluster".into()),
        now: Some("2026-11-20".into()),
        ..sebroker_engine::market::MarketParams::default()
    };
    let before = sebroker_engine::market::market(&app, &p).expect("market");
    assert!(before.total.members > 0 && before.total.open_notices > 0);
    let again = sebroker_engine::market::market(&app, &p).expect("again");
    assert_eq!(
        before.total, again.total,
        "the same answer from the cached snapshot"
    );
    let mut m = app
        .member_set()
        .members
        .values()
        .next()
        .cloned()
        .expect("a member");
    m.id = "m-new".into();
    sebroker_engine::members::import(&app, &[m], time::macros::date!(2026 - 01 - 01), "test")
        .expect("import");
    let after = sebroker_engine::market::market(&app, &p).expect("after");
    assert_eq!(
        after.total.members,
        before.total.members + 1,
        "a new member is counted at once"
    );
}

/// Ingests `text` as the API and the commands do (followers caught up).
fn ingest(app: &sebroker_engine::Engine, text: &str) {
    let report = sebroker_engine::ingest::ingest_text(
        app,
        "test",
        text,
        &sebroker_engine::ingest::IngestOptions::default(),
    )
    .expect("ingest");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

/// One new tender (a demo tender under a new ocid) and a demo tender closed
/// by a later release.
fn a_small_change() -> (String, String) {
    let text = include_str!("../../fixtures/demo/fts-2026-11.json");
    let mut pkg: serde_json::Value = serde_json::from_str(text).expect("demo json");
    let releases = pkg["releases"].as_array_mut().expect("releases");
    let tender = releases
        .iter()
        .find(|r| {
            r["tag"] == serde_json::json!(["tender"]) && r["tender"]["tenderPeriod"].is_object()
        })
        .cloned()
        .expect("a demo tender");
    let mut new = tender.clone();
    new["ocid"] = "ocds-h6vhtk-inc001".into();
    new["id"] = "ocds-h6vhtk-inc001-1".into();
    // Not a probable duplicate of the tender it was copied from.
    new["tender"]["title"] = "Grounds maintenance for community allotments".into();
    new["tender"]["description"] = "Mowing, hedges and paths at twelve allotment sites.".into();
    new["tender"]["value"] = serde_json::json!({"amount": 123456.78, "currency": "GBP"});
    let mut closed = tender.clone();
    let closed_ocid = closed["ocid"].as_str().expect("ocid").to_owned();
    closed["id"] = format!("{closed_ocid}-closed").into();
    closed["date"] = "2026-11-30T09:00:00+00:00".into();
    closed["tender"]["tenderPeriod"]["endDate"] = "2026-11-02T12:00:00+00:00".into();
    *releases = vec![new, closed];
    (pkg.to_string(), closed_ocid)
}

#[test]
fn an_update_from_the_change_log_answers_as_a_rebuild_would() {
    use sebroker_engine::market::{market, MarketParams};
    let (_dir, app) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    let params = |by: &str| MarketParams {
        by: Some(by.into()),
        now: Some("2026-11-20".into()),
        from: Some("2025-11-20".into()),
        ..MarketParams::default()
    };
    let groupings = ["local_authority", "cluster", "region", "cpv_division"];
    let before: Vec<_> = groupings
        .iter()
        .map(|by| market(&app, &params(by)).expect("before"))
        .collect();
    let (text, closed) = a_small_change();
    ingest(&app, &text);
    let updated: Vec<_> = groupings
        .iter()
        .map(|by| market(&app, &params(by)).expect("updated"))
        .collect();
    // Drop the kept snapshot: the next answer is built from the whole store.
    app.market.set(std::sync::Arc::new(()));
    let rebuilt: Vec<_> = groupings
        .iter()
        .map(|by| market(&app, &params(by)).expect("rebuilt"))
        .collect();
    assert!(
        app.store.get_notice(&closed).expect("read").is_some(),
        "the closed tender is stored"
    );
    for ((b, u), r) in before.iter().zip(&updated).zip(&rebuilt) {
        assert_eq!(u.rows, r.rows, "{}: rows as rebuilt", u.by);
        assert_eq!(u.total, r.total, "{}: total as rebuilt", u.by);
        assert_eq!(u.timeline, r.timeline, "{}: timeline as rebuilt", u.by);
        assert_ne!(
            b.total.open_value_pence, u.total.open_value_pence,
            "{}: the change is counted",
            u.by
        );
    }
}

#[test]
fn the_timeline_counts_a_tender_in_each_month_it_was_open() {
    use sebroker_engine::market::{market, MarketParams};
    let (_dir, app) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    let params = MarketParams {
        by: Some("cluster".into()),
        now: Some("2026-11-20".into()),
        from: Some("2026-06-01".into()),
        ..MarketParams::default()
    };
    let before = market(&app, &params).expect("before");
    // £10,000, VCSE-suitable, published in September, closing 10 November.
    let release = serde_json::json!({
        "ocid": "ocds-h6vhtk-tl0001", "id": "ocds-h6vhtk-tl0001-1",
        "date": "2026-09-15T10:00:00+01:00", "tag": ["tender"], "initiationType": "tender",
        "parties": [{"id": "b1", "name": "Walsall Council", "roles": ["buyer"],
                     "address": {"region": "UKG38", "countryName": "United Kingdom"}}],
        "buyer": {"id": "b1", "name": "Walsall Council"},
        "tender": {"id": "t1", "title": "Befriending calls for older residents",
                   "status": "active", "value": {"amount": 10000, "currency": "GBP"},
                   "suitability": {"vcse": true},
                   "items": [{"id": "1", "classification": {"scheme": "CPV", "id": "85312000"},
                              "deliveryAddresses": [{"region": "UKG38"}]}],
                   "tenderPeriod": {"endDate": "2026-11-10T12:00:00+00:00"}}
    });
    let text = serde_json::json!({"releases": [release]}).to_string();
    ingest(&app, &text);
    let after = market(&app, &params).expect("after");
    let open = |m: &sebroker_engine::market::Market, month: &str| {
        m.timeline
            .iter()
            .find(|x| x.month == month)
            .map(|x| {
                (
                    x.open_vcse_suitable_value_pence,
                    x.published_vcse_suitable_value_pence,
                )
            })
            .unwrap_or_else(|| panic!("no month {month} in {:?}", m.timeline))
    };
    for (month, open_more, published_more) in [
        ("2026-08", 0, 0),
        ("2026-09", 1_000_000, 1_000_000),
        ("2026-10", 1_000_000, 0),
        ("2026-11", 1_000_000, 0),
    ] {
        let (b, a) = (open(&before, month), open(&after, month));
        assert_eq!(a.0 - b.0, open_more, "{month}: open");
        assert_eq!(a.1 - b.1, published_more, "{month}: published");
    }
    assert_eq!(
        after.total.open_notices, before.total.open_notices,
        "closed at now: not open, though it was open in November"
    );
}
