//! Cases over the API: a second case for the same member, or the same
//! consortium in another order, on the same notice is refused with 409
//! `case_exists` naming the first; other members still get their own.

use serde_json::json;

use crate::common::tempdir;
use crate::members_api::site;

#[test]
fn a_second_case_for_the_same_members_on_a_notice_is_409_case_exists() {
    let dir = tempdir();
    let s = site(dir.path());
    let (_, page) = s.call(Some("broker"), "GET", "/api/v1/notices?limit=1", None);
    let ocid = page["hits"][0]["ocid"].as_str().expect("ocid").to_owned();
    let open = |members: serde_json::Value| {
        s.call(
            Some("broker"),
            "POST",
            "/api/v1/cases",
            Some(&json!({"ocid": ocid, "members": members})),
        )
    };
    let (st, first) = open(json!(["m-0001"]));
    assert_eq!(st, 201, "{first}");
    let first_id = first["case"]["case_id"]
        .as_str()
        .expect("case id")
        .to_owned();

    let (st, again) = open(json!(["m-0001"]));
    assert_eq!(st, 409, "{again}");
    assert_eq!(again["error"]["code"], "case_exists", "{again}");
    let message = again["error"]["message"].as_str().expect("message");
    assert!(message.contains(&first_id), "{message}");

    // A consortium is the same consortium whatever the order of its members.
    let (st, pair) = open(json!(["m-0001", "m-0002"]));
    assert_eq!(st, 201, "{pair}");
    let (st, swapped) = open(json!(["m-0002", "m-0001"]));
    assert_eq!(st, 409, "{swapped}");
    assert_eq!(swapped["error"]["code"], "case_exists");

    // Another member on the same notice gets its own case.
    let (st, other) = open(json!(["m-0002"]));
    assert_eq!(st, 201, "{other}");
    let (_, list) = s.call(
        Some("broker"),
        "GET",
        &format!("/api/v1/cases?ocid={ocid}"),
        None,
    );
    assert_eq!(list["cases"].as_array().map(Vec::len), Some(3), "{list}");
}
