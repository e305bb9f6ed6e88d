//! `GET /api/docs`: the OpenAPI document as one HTML page, rendered here
//! from the document itself (no script, no CDN, so it works offline and
//! under the pages' Content-Security-Policy): every operation with its
//! method, path, summary, roles, parameters, body, answers and examples.

use maud::{html, Markup};
use serde_json::Value;

use crate::pages::layout::bare;

/// The page for `doc` (the value [`super::document`] returns).
pub fn render(doc: &Value) -> axum::response::Html<String> {
    let empty = serde_json::Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    let body = html! {
        h1 { "sebroker API" }
        p { (doc["info"]["description"].as_str().unwrap_or("")) }
        p {
            "The machine-readable document: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" }
            " (OpenAPI " (doc["openapi"].as_str().unwrap_or("")) "). Send keys as "
            code { "Authorization: Bearer <key>" } "."
        }
        nav aria-label="Operations" {
            ul {
                @for (path, item) in paths {
                    @for (method, op) in operations(item) {
                        li { a href={ "#" (anchor(method, path)) } { code { (method.to_uppercase()) " " (path) } } " " (text(op, "summary")) }
                    }
                }
            }
        }
        @for (path, item) in paths {
            @for (method, op) in operations(item) {
                (operation(method, path, op))
            }
        }
    };
    bare("API", body)
}

/// The operations of a path item, in a stable method order.
fn operations(item: &Value) -> Vec<(&'static str, &Value)> {
    ["get", "put", "post", "patch", "delete"]
        .into_iter()
        .filter_map(|m| item.get(m).map(|op| (m, op)))
        .collect()
}

fn anchor(method: &str, path: &str) -> String {
    let p: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("op-{method}{p}")
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn operation(method: &str, path: &str, op: &Value) -> Markup {
    let roles: Vec<&str> = op["x-roles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Vec::new();
    let params = op["parameters"].as_array().unwrap_or(&empty);
    html! {
        section class="card" id=(anchor(method, path)) {
            h2 { code { (method.to_uppercase()) " " (path) } }
            p { strong { (text(op, "summary")) } }
            p { (text(op, "description")) }
            p { "Roles allowed: "
                @if roles.is_empty() { "everyone (no key)" } @else { (roles.join(", ")) } }
            @if !params.is_empty() {
                div class="scroll" { table {
                    caption { "Parameters" }
                    thead { tr { th { "name" } th { "in" } th { "required" } th { "schema" } th { "about" } } }
                    tbody {
                        @for p in params {
                            tr {
                                td { code { (text(p, "name")) } }
                                td { (text(p, "in")) }
                                td { (if p["required"].as_bool() == Some(true) { "yes" } else { "no" }) }
                                td { code { (p.get("schema").map(|s| s.to_string()).unwrap_or_default()) } }
                                td { (text(p, "description")) }
                            }
                        }
                    }
                } }
            }
            @if let Some(content) = op["requestBody"]["content"].as_object() {
                h3 { "Body" }
                @for (ct, c) in content {
                    p { code { (ct) } " " (c["schema"].to_string()) }
                    @if let Some(ex) = c.get("example") { pre { (pretty(ex)) } }
                }
            }
            h3 { "Answers" }
            @if let Some(responses) = op["responses"].as_object() {
                @for (status, r) in responses {
                    (response(status, r))
                }
            }
        }
    }
}

fn response(status: &str, r: &Value) -> Markup {
    let types: Vec<&str> = r["content"]
        .as_object()
        .map(|c| c.keys().map(String::as_str).collect())
        .unwrap_or_default();
    html! {
        details {
            summary { strong { (status) } " " (text(r, "description")) " " @for t in &types { code { (t) } " " } }
            @if let Some(content) = r["content"].as_object() {
                @for c in content.values() {
                    @if let Some(ex) = c.get("example") { pre { (pretty(ex)) } }
                    @if let Some(exs) = c["examples"].as_object() {
                        @for ex in exs.values() { pre { (pretty(&ex["value"])) } }
                    }
                }
            }
        }
    }
}
