//! The OpenAPI document and its page: the document's operations are the
//! route table's API rows, no more and no fewer; it is OpenAPI 3.1 with a
//! content type on every answer and the error codes of `Code`; it and
//! `/api/docs` answer without a key, and the page lists every operation
//! under the pages' Content-Security-Policy, with no script.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use tower::ServiceExt;

use sebroker_server::error::Code;
use sebroker_server::policy::Surface;
use sebroker_server::router::{local, routes};

fn get(path: &str) -> (u16, axum::http::HeaderMap, String) {
    let (_dir, app) = sebroker_engine::demo::open_in_tempdir().expect("demo");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let req = Request::get(path).body(Body::empty()).expect("request");
        let resp = local(Arc::new(app)).oneshot(req).await.expect("answer");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .expect("body");
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    })
}

fn document() -> Value {
    let (st, h, body) = get("/api/v1/openapi.json");
    assert_eq!(st, 200, "the document needs no key: {body}");
    assert!(h["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
    serde_json::from_str(&body).expect("the document is JSON")
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in ["get", "put", "post", "patch", "delete"] {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_lists_every_api_route_of_the_table_and_no_other() {
    let doc = document();
    let table: BTreeSet<(String, String)> = routes()
        .into_iter()
        .filter(|r| r.surface == Surface::Api)
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    let documented = operations(&doc);
    let missing: Vec<_> = table.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes without documentation: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "documented routes that are not in the table: {extra:?}"
    );
    for must in [
        "/healthz",
        "/feeds/{file}",
        "/unsubscribe/{token}",
        "/metrics",
        "/api/v1/openapi.json",
    ] {
        assert!(documented.iter().any(|(_, p)| p == must), "{must}");
    }
    assert!(
        !documented.iter().any(|(_, p)| p == "/search" || p == "/"),
        "pages are not API"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_typed_answers_and_the_error_codes() {
    let doc = document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .expect("the code enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let want: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(codes, want);
    let mut saw_csv = false;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let at = format!("{method} {path}");
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{at}: no responses"));
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success answer"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: no summary"
            );
            for (status, r) in responses {
                if status == "408" {
                    continue; // the timeout layer answers without a body
                }
                let content = r["content"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{at} {status}: no content"));
                assert!(!content.is_empty(), "{at} {status}: no content type");
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        content["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                        "{at} {status}"
                    );
                }
                saw_csv |= content.contains_key("text/csv");
            }
            let public = op["security"].as_array().is_some_and(Vec::is_empty);
            if !public {
                assert!(responses.contains_key("401"), "{at}: keyed but no 401");
            }
        }
    }
    assert!(saw_csv, "lists offer CSV");
    let feed = &doc["paths"]["/feeds/{file}"]["get"]["responses"]["200"]["content"];
    assert!(
        feed.get("application/atom+xml; charset=utf-8").is_some(),
        "{feed}"
    );
    let unsub = &doc["paths"]["/unsubscribe/{token}"]["get"]["responses"]["200"]["content"];
    assert!(unsub.get("text/html; charset=utf-8").is_some(), "{unsub}");
    let body = &doc["paths"]["/api/v1/cases"]["post"]["requestBody"]["content"]["application/json"];
    assert!(
        body["example"].is_object(),
        "write bodies have examples: {body}"
    );
    let schema = &doc["components"]["schemas"]["CaseInput"];
    assert_eq!(
        schema["additionalProperties"], false,
        "unknown fields are refused: {schema}"
    );
}

#[test]
fn the_docs_page_lists_every_operation_under_the_csp() {
    let doc = document();
    let (st, h, page) = get("/api/docs");
    assert_eq!(st, 200);
    assert!(h["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().expect("ascii");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(!page.contains("<script"), "no script on the page");
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "nothing from elsewhere"
    );
    for (method, path) in operations(&doc) {
        let label = format!("{method} {path}");
        assert!(page.contains(&label), "the page does not list {label}");
    }
    assert!(
        page.contains("Roles allowed: admin, broker"),
        "roles from the policy table"
    );
}
