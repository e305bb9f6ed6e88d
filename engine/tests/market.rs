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
