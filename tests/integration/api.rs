//! The HTTP API of `serve --demo`, over real HTTP on 127.0.0.1.

use crate::cli::{serve_demo, DemoServer as Server};

/// GET as the demo broker.
fn get(s: &Server, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .get(format!("{}{path}", s.url))
        .bearer_auth(s.key("broker"))
        .send()
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().expect("JSON body"))
}

#[test]
fn search_filters_facets_and_details() {
    let s = demo_server();
    let (status, health) = get(&s, "/healthz");
    assert_eq!(status, 200);
    assert!(
        health["notices"].as_u64().is_some_and(|n| n >= 40),
        "{health}"
    );

    let (status, page) = get(
        &s,
        "/api/v1/notices?q=youth&region=UKG&now=2026-12-01&limit=5",
    );
    assert_eq!(status, 200);
    assert!(page["total"].as_u64().is_some_and(|n| n >= 2), "{page}");
    let first = &page["hits"][0];
    assert!(
        first["title_snippet"]
            .as_str()
            .is_some_and(|t| t.contains("<b>")),
        "{first}"
    );
    assert!(
        first.get("contacts").is_none(),
        "contacts are only on the notice's own page"
    );
    assert!(page["facets"]["status"].is_object());

    let (_, open) = get(&s, "/api/v1/notices?status=open&now=2026-12-01&limit=100");
    for h in open["hits"].as_array().expect("hits") {
        assert_eq!(h["status"], "open");
    }
    let (_, vcse) = get(
        &s,
        "/api/v1/notices?vcse=true&min_value=10000&max_value=500000&limit=100",
    );
    for h in vcse["hits"].as_array().expect("hits") {
        assert_eq!(h["suitability"]["vcse"], true);
        let v = h["value"]["amount_pence"]
            .as_i64()
            .or(h["value"]["gross_pence"].as_i64())
            .expect("value");
        assert!((1_000_000..=50_000_000).contains(&v), "{h}");
    }
    let ocid = first["ocid"].as_str().expect("ocid").to_owned();
    let (status, n) = get(&s, &format!("/api/v1/notices/{ocid}"));
    assert_eq!(status, 200);
    assert_eq!(n["ocid"], ocid.as_str());
    assert!(n["contacts"].is_array());
}

#[test]
fn errors_are_json_with_codes() {
    let s = demo_server();
    let (status, e) = get(&s, "/api/v1/notices/ocds-nope");
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "notice_not_found");
    let (status, e) = get(&s, "/api/v1/notices?status=live");
    assert_eq!(status, 400);
    assert_eq!(e["error"]["code"], "invalid_parameter");
    let (status, e) = get(&s, "/api/v1/notices?colour=blue");
    assert_eq!(status, 400);
    assert!(e["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("colour")));
    let (status, e) = get(&s, "/api/v1/notices?cpv=8x");
    assert_eq!(status, 400, "{e}");
    let (status, e) = get(&s, "/nothing-here");
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "route_not_found");
}

fn demo_server() -> Server {
    serve_demo(&[], &["--demo"])
}
