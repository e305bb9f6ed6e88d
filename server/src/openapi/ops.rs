//! What each API action documents: summary, query parameters (from the
//! query types' `IntoParams` derives), body (from the input types'
//! `ToSchema` derives, with an example), success answers and the error
//! codes of its own. [`op`] is an exhaustive match on [`Action`]: a new
//! action is documented here, or it does not compile.

use axum::http::Method;
use serde_json::{json, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use crate::api::{accounts, alerts, audit, cases, keys, matches, members, returns, totals, Paging};
use crate::error::Code;
use crate::policy::Action;
use sebroker_engine::search::SearchParams;

/// A request body: its schema (a component), an example, and whether it
/// may be left out.
pub struct Body {
    pub schema: RefOr<Schema>,
    pub example: Value,
    pub required: bool,
}

/// A success answer.
pub enum Answer {
    Json {
        description: &'static str,
        schema: Value,
        example: Option<Value>,
    },
    Text {
        description: &'static str,
        content_type: &'static str,
        example: &'static str,
    },
}

/// One operation's documentation.
pub struct Op {
    pub summary: &'static str,
    pub description: &'static str,
    pub tag: &'static str,
    query: fn() -> Vec<Parameter>,
    pub body: Option<Body>,
    pub ok: Vec<(u16, Answer)>,
    /// `?format=csv` turns the JSON answer into CSV.
    pub csv: bool,
    /// A ledger write: `Idempotency-Key`, 201 new or 200 replayed.
    pub write: bool,
    /// Error codes of this operation beyond those of its kind.
    pub errors: &'static [Code],
}

impl Op {
    pub fn query(&self) -> Vec<Parameter> {
        (self.query)()
    }

    pub fn query_is_empty(&self) -> bool {
        self.query().is_empty()
    }
}

fn none() -> Vec<Parameter> {
    Vec::new()
}

fn q<T: IntoParams>() -> Vec<Parameter> {
    let mut v = T::into_params(|| Some(ParameterIn::Query));
    for p in &mut v {
        if let Some(s) = refined(&p.name) {
            p.schema = Some(super::schema(s));
        }
    }
    v
}

/// The market map's query: its own `by` groupings (not the totals'), and
/// its window's days as `now` is read.
fn market_params() -> Vec<Parameter> {
    let mut v = q::<sebroker_engine::market::MarketParams>();
    for p in &mut v {
        match p.name.as_str() {
            "by" => {
                p.schema = Some(super::schema(json!({"type": "string",
                    "enum": ["local_authority", "cluster", "region", "cpv_division"]})));
            }
            "from" | "to" => p.schema = Some(super::schema(when())),
            _ => {}
        }
    }
    v
}

/// A comma-separated list of these words (empty items are skipped, as
/// the server splits).
fn words(words: &[&str]) -> Value {
    let one = format!("({})?", words.join("|"));
    json!({"type": "string", "pattern": format!("^{one}(,{one})*$")})
}

/// A calendar date as a pattern (`format` alone is only an annotation):
/// every day of every month, 29 February aside.
const DATE: &str = r"[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))";

/// A date (`YYYY-MM-DD`).
pub fn date() -> Value {
    json!({"type": "string", "format": "date", "pattern": format!("^{DATE}$")})
}

/// A date (`YYYY-MM-DD`) or an RFC 3339 time.
pub fn when() -> Value {
    let time = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
    json!({"type": "string", "pattern": format!("^{DATE}({time})?$")})
}

/// An RFC 3339 instant: a date and a time with its offset.
fn instant() -> Value {
    let time = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
    json!({"type": "string", "pattern": format!("^{DATE}{time}$")})
}

/// What the server checks of a query parameter, by name, beyond its Rust
/// type: the words it knows, dates, places.
fn refined(name: &str) -> Option<Value> {
    Some(match name {
        "now" | "deadline_from" | "deadline_to" => when(),
        "since" => instant(),
        "today" => date(),
        // Whole pounds that fit in pence (`money::pounds_to_pence`).
        "min_value" | "max_value" => {
            json!({"type": "integer", "minimum": 0, "maximum": i64::MAX / 100})
        }
        "sort" => {
            json!({"type": "string", "enum": ["relevance", "deadline", "value", "published"]})
        }
        "by" => {
            json!({"type": "string", "enum": ["cluster", "member", "source", "buyer", "cpv_division", "month", "programme_year"]})
        }
        "state" => {
            json!({"type": "string", "enum": ["queued", "sending", "sent", "failed", "dead"]})
        }
        "programme" => json!({"type": "string", "enum": ["sega", "sedf"]}),
        "status" => words(NOTICE_STATUSES),
        // Also place names, local authorities and postcodes (docs/api.md);
        // the document names the NUTS regions.
        "region" => words(&[
            "UK", "UKC", "UKD", "UKE", "UKF", "UKG", "UKH", "UKI", "UKJ", "UKK", "UKL", "UKM",
            "UKN",
        ]),
        // Digits up to a dash (a check digit after it is ignored).
        "cpv" => {
            let one = "([0-9]{2,8}(-[^,]*)?)?";
            json!({"type": "string", "pattern": format!("^{one}(,{one})*$")})
        }
        "source" => {
            let one = "(fts|cf|anchor|ocds|anchor:[a-z0-9-]{1,64}|ocds:[a-z0-9-]{1,64})?";
            json!({"type": "string", "pattern": format!("^{one}(,{one})*$")})
        }
        _ => return None,
    })
}

const NOTICE_STATUSES: &[&str] = &[
    "pipeline",
    "planned",
    "open",
    "closed",
    "awarded",
    "cancelled",
    "unknown",
];
const CASE_STATUSES: &[&str] = &[
    "identified",
    "introduced",
    "interested",
    "bid_submitted",
    "won",
    "lost",
    "withdrawn",
];

/// Case filters take one case status.
fn case_filter() -> Vec<Parameter> {
    let mut v = q::<cases::CaseFilter>();
    for p in &mut v {
        if p.name == "status" {
            p.schema = Some(super::schema(
                json!({"type": "string", "enum": CASE_STATUSES}),
            ));
        }
    }
    v
}

/// Consortia take `top` 1 to 20 (not the matches' 500).
fn consortia_params() -> Vec<Parameter> {
    let mut v = q::<matches::MatchParams>();
    for p in &mut v {
        if p.name == "top" {
            p.schema = Some(super::schema(
                json!({"type": ["integer", "null"], "minimum": 1, "maximum": matches::MAX_CONSORTIA}),
            ));
        }
    }
    v.retain(|p| p.name != "status" && p.name != "now");
    v
}

/// A member's matches take `top`, `status` and `now`.
fn member_match_params() -> Vec<Parameter> {
    let mut v = q::<matches::MatchParams>();
    v.retain(|p| p.name != "max_size");
    v
}

/// Notice matches take `top` only (the rest is read and ignored).
fn top_only() -> Vec<Parameter> {
    let mut v = q::<matches::MatchParams>();
    v.retain(|p| p.name == "top");
    v
}

/// Every component schema the operations refer to.
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    let mut v = Vec::new();
    fn add<T: ToSchema>(v: &mut Vec<(String, RefOr<Schema>)>) {
        v.push((T::name().into_owned(), T::schema()));
        T::schemas(v);
    }
    add::<sebroker_ledger::input::CaseInput>(&mut v);
    add::<crate::api::interests::InterestInput>(&mut v);
    add::<sebroker_ledger::input::CaseEventInput>(&mut v);
    add::<sebroker_ledger::input::ReferralInput>(&mut v);
    add::<sebroker_ledger::input::ReturnInput>(&mut v);
    add::<sebroker_ledger::model::Share>(&mut v);
    add::<sebroker_ledger::model::Programme>(&mut v);
    add::<sebroker_ledger::auth::Role>(&mut v);
    add::<sebroker_alerts::settings::SettingsInput>(&mut v);
    add::<sebroker_connectors::anchors::OpportunityInput>(&mut v);
    add::<sebroker_connectors::anchors::FieldValue>(&mut v);
    add::<keys::KeyInput>(&mut v);
    add::<accounts::AccountInput>(&mut v);
    add::<accounts::AccountUpdate>(&mut v);
    add::<sebroker_engine::accounts::Account>(&mut v);
    add::<sebroker_engine::accounts::AccountStatus>(&mut v);
    add::<alerts::RunInput>(&mut v);
    add::<returns::VoidInput>(&mut v);
    add::<sebroker_connectors::members::MemberInput>(&mut v);
    add::<members::EraseInput>(&mut v);
    for (name, s) in &mut v {
        patch(name, s);
    }
    if let Some(p) = member_patch(&v) {
        v.push(("MemberPatch".into(), p));
    }
    v
}

/// `PATCH /api/v1/members/{id}`'s body: a JSON merge patch over the import
/// format, so every field is optional, `null` clears, and the id stays.
fn member_patch(v: &[(String, RefOr<Schema>)]) -> Option<RefOr<Schema>> {
    let (_, input) = v.iter().find(|(n, _)| n == "MemberInput")?;
    let mut s = serde_json::to_value(input).ok()?;
    let o = s.as_object_mut()?;
    o.remove("required");
    if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
        props.remove("id");
    }
    o.insert(
        "description".into(),
        json!("A JSON merge patch (RFC 7386) over the member: absent is unchanged, null clears."),
    );
    serde_json::from_value(s).ok()
}

/// What the server checks of a body beyond its Rust types (dates, words,
/// ranges), written into the derived schema so that a client (and
/// Schemathesis) sends only what is accepted.
fn patch(name: &str, s: &mut RefOr<Schema>) {
    let Ok(mut v) = serde_json::to_value(&*s) else {
        return;
    };
    unsigned(&mut v);
    let date = json!({"anyOf": [date(), {"type": "null"}]});
    let set = |v: &mut Value, field: &str, schema: Value| {
        if let Some(props) = v["properties"].as_object_mut() {
            props.insert(field.to_owned(), schema);
        }
    };
    match name {
        "CaseInput" => {
            set(&mut v, "date", date.clone());
            set(
                &mut v,
                "members",
                json!({"type": "array", "items": {"type": "string"}, "minItems": 1}),
            );
        }
        "CaseEventInput" => {
            let kinds = [
                "introduced",
                "interested",
                "bid_submitted",
                "won",
                "lost",
                "withdrawn",
                "void",
            ];
            set(&mut v, "type", json!({"type": "string", "enum": kinds}));
            set(&mut v, "date", date.clone());
            set(
                &mut v,
                "value_pence",
                json!({"type": ["integer", "null"], "minimum": 1, "maximum": 100_000_000_000_i64}),
            );
            // Value and shares go only with `won`.
            v["if"] = json!({"properties": {"type": {"not": {"const": "won"}}}});
            v["then"] = json!({"properties": {"value_pence": {"type": "null"}, "shares": {"type": "null"}}});
        }
        "Share" => set(
            &mut v,
            "basis_points",
            json!({"type": "integer", "minimum": 0, "maximum": 10_000}),
        ),
        "ReturnInput" => {
            set(
                &mut v,
                "year",
                json!({"type": "integer", "minimum": 2000, "maximum": 2100}),
            );
            set(&mut v, "date", date.clone());
            set(
                &mut v,
                "turnover_pence",
                json!({"type": ["integer", "null"], "minimum": 0, "maximum": 100_000_000_000_i64}),
            );
        }
        "ReferralInput" => set(&mut v, "date", date.clone()),
        "RunInput" => set(&mut v, "now", json!({"anyOf": [when(), {"type": "null"}]})),
        "KeyInput" => set(
            &mut v,
            "expires",
            json!({"anyOf": [when(), {"type": "null"}]}),
        ),
        "SettingsInput" => {
            set(
                &mut v,
                "frequency",
                json!({"type": ["string", "null"], "enum": ["instant", "daily", "weekly", "off", null]}),
            );
            set(
                &mut v,
                "threshold",
                json!({"type": ["number", "null"], "minimum": 0, "maximum": 1}),
            );
            set(
                &mut v,
                "email",
                json!({"type": ["string", "null"], "format": "email"}),
            );
            set(
                &mut v,
                "webhook_url",
                json!({"type": ["string", "null"], "format": "uri"}),
            );
        }
        _ => {}
    }
    if let Ok(p) = serde_json::from_value(v) {
        *s = p;
    }
}

/// utoipa writes `u32` as `int32` with `minimum: 0`, which caps it at
/// 2^31 - 1; the server takes up to 2^32 - 1 (and `u64` likewise).
fn unsigned(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let min0 = o.get("minimum").and_then(Value::as_f64) == Some(0.0);
            match o.get("format").and_then(Value::as_str) {
                Some("int32") if min0 => {
                    o.insert("format".into(), json!("uint32"));
                    o.insert("maximum".into(), json!(u32::MAX));
                }
                Some("int64") if min0 => {
                    o.insert("format".into(), json!("uint64"));
                    o.entry("maximum").or_insert(json!(u64::MAX));
                }
                _ => {}
            }
            o.values_mut().for_each(unsigned);
        }
        Value::Array(a) => a.iter_mut().for_each(unsigned),
        _ => {}
    }
}

fn body<T: ToSchema>(example: Value) -> Option<Body> {
    Some(Body {
        schema: RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name())),
        example,
        required: true,
    })
}

fn json(description: &'static str, schema: Value) -> Answer {
    Answer::Json {
        description,
        schema,
        example: None,
    }
}

/// An object with these required fields (more may follow).
fn obj(fields: &[(&str, Value)]) -> Value {
    let props: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let req: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "required": req, "properties": props})
}

fn int() -> Value {
    json!({"type": "integer"})
}

fn any_obj() -> Value {
    json!({"type": "object"})
}

fn objs() -> Value {
    json!({"type": "array", "items": {"type": "object"}})
}

/// The `Account` component.
fn account_ref() -> Value {
    json!({"$ref": "#/components/schemas/Account"})
}

/// `{total, limit, offset, <name>: [...]}` (`api::Paging::wrap`).
fn paged(name: &str) -> Value {
    obj(&[
        ("total", int()),
        ("limit", int()),
        ("offset", int()),
        (name, objs()),
    ])
}

/// A read: GET, JSON answer, CSV on request.
fn read(
    summary: &'static str,
    description: &'static str,
    tag: &'static str,
    query: fn() -> Vec<Parameter>,
    answer: Answer,
    errors: &'static [Code],
) -> Op {
    Op {
        summary,
        description,
        tag,
        query,
        body: None,
        ok: vec![(200, answer)],
        csv: true,
        write: false,
        errors,
    }
}

/// A ledger write (`api::write::write`): 201 new, 200 replayed, same body.
fn write(
    summary: &'static str,
    tag: &'static str,
    body: Option<Body>,
    answer: fn() -> Value,
    errors: &'static [Code],
) -> Op {
    Op {
        summary,
        description: "Booked in the ledger under the `Idempotency-Key`: 201 for a new record, 200 with the same body when the key is sent again.",
        tag,
        query: none,
        body,
        ok: vec![
            (201, json("booked", answer())),
            (200, json("replayed: the record booked earlier under this key", answer())),
        ],
        csv: false,
        write: true,
        errors,
    }
}

fn event_answer() -> Value {
    obj(&[
        ("event", any_obj()),
        ("replayed", json!({"type": "boolean"})),
    ])
}

fn case_answer() -> Value {
    obj(&[
        ("case", any_obj()),
        ("seq", int()),
        ("replayed", json!({"type": "boolean"})),
    ])
}

/// The ledger's refusals of a case input (as 422 or 409).
const CASE_WRITE: &[Code] = &[
    Code::InvalidCase,
    Code::InvalidEvent,
    Code::InvalidTransition,
    Code::InvalidValue,
    Code::InvalidShares,
    Code::InvalidVoid,
    Code::InvalidCluster,
    Code::CaseClosed,
    Code::AlreadyVoided,
    Code::CaseNotFound,
    Code::InvalidParameter,
];

/// The documentation of `action` under `method`, or `None` for what is not
/// part of the API document (pages, refinements inside a handler).
pub fn op(action: Action, method: &Method) -> Option<Op> {
    use Action as A;
    use Code as C;
    Some(match action {
        A::Health => read("Health", "Whether the server answers, and how many notices it indexes.", "server", none,
            json("up", obj(&[("status", json!({"type": "string", "enum": ["ok"]})), ("notices", int())])), &[]),
        A::OpenApi => Op {
            summary: "This document",
            description: "The OpenAPI 3.1 document of the API, built from the route table.",
            tag: "server",
            query: none,
            body: None,
            ok: vec![(200, json("the document", obj(&[("openapi", json!({"type": "string"})), ("paths", any_obj())])))],
            csv: false,
            write: false,
            errors: &[],
        },
        A::ApiDocs => Op {
            summary: "The API documentation page",
            description: "This document as an HTML page, rendered by the server (no script, works offline).",
            tag: "server",
            query: none,
            body: None,
            ok: vec![(200, Answer::Text { description: "the page", content_type: "text/html; charset=utf-8", example: "<!DOCTYPE html>…" })],
            csv: false,
            write: false,
            errors: &[],
        },
        A::Metrics => Op {
            summary: "Prometheus metrics",
            description: "Requests by route and status with latency histograms, ingest counters, sources, alert deliveries, ledger events, members and notices, in the Prometheus text format. An admin key or the configured `metrics_token`.",
            tag: "server",
            query: none,
            body: None,
            ok: vec![(200, Answer::Text { description: "the metrics", content_type: "text/plain; version=0.0.4; charset=utf-8", example: "# TYPE sebroker_notices gauge\nsebroker_notices 42\n" })],
            csv: false,
            write: false,
            errors: &[],
        },
        A::NoticesSearch => read("Search notices", "The same parameters as `sebroker search`: words, filters, facets, snippets, paging.", "notices",
            q::<SearchParams>, json("a page of hits", obj(&[("total", int()), ("offset", int()), ("limit", int()), ("now", json!({"type": "string"})), ("hits", objs())])),
            &[C::OffsetTooLarge, C::InvalidParameter]),
        A::NoticeRead => read("One notice", "The compiled notice in full, with its contacts.", "notices", none,
            json("the notice", obj(&[("ocid", json!({"type": "string"}))])), &[C::NoticeNotFound]),
        A::NoticeMatches => read("Matches of a notice", "Members ranked for the notice, with each score's components and reasons.", "matching", top_only,
            json("the matches", obj(&[("ocid", json!({"type": "string"})), ("matches", objs())])), &[C::NoticeNotFound]),
        A::NoticeConsortia => read("Consortia for a notice", "Groups of members that together fit the notice.", "matching", consortia_params,
            json("the proposals", any_obj()), &[C::NoticeNotFound]),
        A::MembersList => read("Members", "Id, name, cluster and legal form of each member (a member key: itself only).", "members", q::<Paging>,
            json("a page of members", paged("members")), &[]),
        A::MemberCreate => Op {
            summary: "Add a member",
            description: "One member in the members import format, stored and flushed, its cluster booked in the ledger and every notice re-matched before the answer. A field that does not parse is a 422 naming it in `error.field`.",
            tag: "members",
            query: none,
            body: body::<sebroker_connectors::members::MemberInput>(json!({"id": "m-new", "name": "Walsall Community Transport", "cluster": "walsall", "cpv": ["60130000"], "service_areas": ["Walsall"], "contact": {"name": "A. Person", "email": "a.person@example.org"}})),
            ok: vec![(201, json("the member as stored", obj(&[("member", any_obj())])))],
            csv: false,
            write: false,
            errors: &[C::InvalidMember, C::MemberExists],
        },
        A::MemberUpdate => Op {
            summary: "Change a member",
            description: "A JSON merge patch over the member (brokers, admins: any field; the member itself: its description, keywords, services, service areas, capacity and contact). A changed cluster is booked in the ledger; every notice is re-matched before the answer.",
            tag: "members",
            query: none,
            body: Some(Body {
                schema: RefOr::Ref(utoipa::openapi::Ref::from_schema_name("MemberPatch")),
                example: json!({"description": "Community transport and befriending", "contact": {"phone": "0121 496 0000"}}),
                required: true,
            }),
            ok: vec![(200, json("the member as stored", obj(&[("member", any_obj())])))],
            csv: false,
            write: false,
            errors: &[C::InvalidMember, C::MemberNotFound, C::Forbidden],
        },
        A::MemberErase => Op {
            summary: "Erase a member's personal data",
            description: "Removes the member's personal data everywhere it is kept (member record, matches, alert settings, deliveries, outbox, the ledger's sealed fields); totals and KPIs do not change. The body confirms the id.",
            tag: "members",
            query: none,
            body: body::<members::EraseInput>(json!({"confirm": "m-example"})),
            ok: vec![(200, json("what was removed", any_obj()))],
            csv: false,
            write: false,
            errors: &[C::MemberNotFound, C::EraseNotConfirmed],
        },
        A::AuditRead => read("The audit log", "Every write through the API, the pages and the command line, accepted or refused, oldest first.", "server",
            q::<audit::AuditParams>, json("a page of entries", paged("entries")), &[C::InvalidParameter]),
        A::MemberRead => read("One member", "The member's profile with its linked track record.", "members", none,
            json("the member", obj(&[("id", json!({"type": "string"}))])), &[]),
        A::MemberMatches => read("A member's matches", "Notices matched to the member, best first; `status` filters by the notice's status at `now`.", "matching", member_match_params,
            json("the matches", obj(&[("member_id", json!({"type": "string"})), ("matches", objs())])), &[C::InvalidParameter]),
        A::MemberAlerts => read("A member's alerts", "Its alert settings (no secrets) and its alerts, newest first.", "alerts", q::<alerts::AlertsParams>,
            json("settings and alerts", obj(&[("member_id", json!({"type": "string"})), ("settings", json!({"type": ["object", "null"]})), ("alerts", objs())])), &[]),
        A::MemberAlertSettings => Op {
            summary: "Change a member's alert settings",
            description: "Changes the fields given; `null` clears the e-mail or webhook. The answer shows the secrets (webhook secret, feed URL) once.",
            tag: "alerts",
            query: none,
            body: body::<sebroker_alerts::settings::SettingsInput>(json!({"frequency": "daily", "threshold": 0.7, "feed": true})),
            ok: vec![(200, json("the settings", obj(&[("member_id", json!({"type": "string"})), ("frequency", json!({"type": "string"})), ("feed", json!({"type": "boolean"}))])))],
            csv: false,
            write: false,
            errors: &[C::InvalidAlertSettings],
        },
        A::MemberInterestAsk => Op {
            summary: "Ask the brokerage about a notice",
            description: "The member (or a broker for it) tells the brokerage it is interested in a notice. Brokers see it on the notice and the pipeline. It opens no case and counts as no introduction. 201 when new; 200 with the first interest when asked before.",
            tag: "members",
            query: none,
            body: body::<crate::api::interests::InterestInput>(json!({"ocid": "ocds-h6vhtk-d00007"})),
            ok: vec![
                (201, json("the interest, new", obj(&[("interest", any_obj()), ("new", json!({"type": "boolean"}))]))),
                (200, json("the interest asked before", obj(&[("interest", any_obj()), ("new", json!({"type": "boolean"}))]))),
            ],
            csv: false,
            write: false,
            errors: &[C::Ledger { code: "notice_not_found", status: axum::http::StatusCode::UNPROCESSABLE_ENTITY }],
        },
        A::MemberInterests => read("A member's interests", "The notices the member asked the brokerage about, newest first.", "members", none,
            json("the interests", obj(&[("member_id", json!({"type": "string"})), ("interests", objs())])), &[]),
        A::MemberAlertSettingsTest => Op {
            summary: "Test a member's webhook",
            description: "Sends a signed test payload (`\"event\": \"test\"`) to the member's webhook through the same SSRF-safe path as alerts (checked and resolved at this send, no redirects, the configured timeouts) and reports the outcome: `sent`, `retry` or `refused`. Nothing is recorded as a delivery.",
            tag: "alerts",
            query: none,
            body: None,
            ok: vec![(200, json("the outcome", obj(&[("delivered", json!({"type": "boolean"})), ("outcome", json!({"type": "string", "enum": ["sent", "retry", "refused"]})), ("webhook_url", json!({"type": "string"}))])))],
            csv: false,
            write: false,
            errors: &[C::InvalidAlertSettings],
        },
        A::MemberReturns => read("A member's yearly returns", "Returns of one member, as booked in the ledger.", "ledger", q::<Paging>,
            json("a page of returns", paged("returns")), &[]),
        A::MemberReturnFile => write("File a yearly return", "ledger",
            body::<sebroker_ledger::input::ReturnInput>(json!({"year": 2027, "turnover_pence": 12_500_000, "employees": 12})),
            event_answer, &[C::InvalidReturn, C::InvalidValue, C::InvalidParameter, C::MemberNotFound]),
        A::MemberCases => read("A member's cases", "Brokerage cases the member is part of.", "ledger", case_filter,
            json("a page of cases", paged("cases")), &[C::InvalidParameter]),
        A::AlertDeliveries => read("Alert deliveries", "The delivery log, newest alert first; filter by state and member.", "alerts", q::<alerts::DeliveriesParams>,
            json("the deliveries", obj(&[("deliveries", objs())])), &[C::InvalidParameter]),
        A::AlertsRun => Op {
            summary: "Run the alerts now",
            description: "Selects and queues what is due (deliveries follow in the background); `dry_run` only shows them.",
            tag: "alerts",
            query: none,
            body: body::<alerts::RunInput>(json!({"dry_run": true})).map(|b| Body { required: false, ..b }),
            ok: vec![(200, json("what was selected and queued", obj(&[("dry_run", json!({"type": "boolean"})), ("alerts", objs()), ("deliveries_queued", int())])))],
            csv: false,
            write: false,
            errors: &[C::InvalidParameter],
        },
        A::Feed => Op {
            summary: "A secret Atom feed",
            description: "`/feeds/{token}.atom`: the token is the credential; unknown or revoked tokens are 404 (and count as bad credentials).",
            tag: "alerts",
            query: none,
            body: None,
            ok: vec![(200, Answer::Text { description: "the feed", content_type: "application/atom+xml; charset=utf-8", example: "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">…</feed>" })],
            csv: false,
            write: false,
            errors: &[C::FeedNotFound, C::RouteNotFound],
        },
        A::Unsubscribe if method == Method::GET => Op {
            summary: "Unsubscribe page",
            description: "The e-mail's unsubscribe link: a page with a button (the token is the credential).",
            tag: "alerts",
            query: none,
            body: None,
            ok: vec![(200, Answer::Text { description: "the page", content_type: "text/html; charset=utf-8", example: "<!DOCTYPE html>…" })],
            csv: false,
            write: false,
            errors: &[],
        },
        A::Unsubscribe => Op {
            summary: "Unsubscribe",
            description: "Stops the alert e-mails of the token's member (the button, or a mail client's one-click `List-Unsubscribe-Post`).",
            tag: "alerts",
            query: none,
            body: None,
            ok: vec![(200, Answer::Text { description: "done", content_type: "text/html; charset=utf-8", example: "<!DOCTYPE html>…" })],
            csv: false,
            write: false,
            errors: &[C::UnsubscribeNotFound],
        },
        A::ReturnsList => read("Yearly returns", "Every member's returns.", "ledger", q::<Paging>, json("a page of returns", paged("returns")), &[]),
        A::ReferralsList => read("Referrals", "Referrals to SEGA and SEDF (a member key: its own).", "ledger", q::<returns::ReferralFilter>,
            json("a page of referrals", paged("referrals")), &[]),
        A::ReferralCreate => write("Refer a member", "ledger",
            body::<sebroker_ledger::input::ReferralInput>(json!({"member_id": "m-example", "programme": "sega"})),
            event_answer, &[C::InvalidReferral, C::MemberNotFound, C::InvalidParameter]),
        A::EventVoid => write("Void an event", "ledger",
            body::<returns::VoidInput>(json!({"reason": "entered twice"})),
            event_answer, &[C::InvalidVoid, C::AlreadyVoided, C::InvalidEvent, C::NotFound]),
        A::CasesList => read("Cases", "Brokerage cases, filtered by status, member or notice.", "ledger", case_filter,
            json("a page of cases", paged("cases")), &[C::InvalidParameter]),
        A::CaseOpen => write("Open a case", "ledger",
            body::<sebroker_ledger::input::CaseInput>(json!({"ocid": "ocds-h6vhtk-04f2a1", "members": ["m-example"]})),
            case_answer, &[C::InvalidCase, C::CaseExists, C::NoticeNotFound, C::MemberNotFound, C::InvalidCluster, C::InvalidParameter]),
        A::CaseRead => read("One case", "A case with its steps.", "ledger", none,
            json("the case", obj(&[("case_id", json!({"type": "string"}))])), &[C::CaseNotFound]),
        A::CaseEvent => write("Record a case step", "ledger",
            body::<sebroker_ledger::input::CaseEventInput>(json!({"type": "introduced"})),
            case_answer, CASE_WRITE),
        A::Totals => read("Totals", "Brokered value by cluster, member, source, buyer, CPV division, month or programme year (by member: not for funders).", "funder",
            q::<totals::TotalsParams>, json("the totals", obj(&[("by", json!({"type": "string"})), ("total_pence", int()), ("rows", objs())])), &[C::InvalidParameter, C::Forbidden]),
        A::Market => read("Market map", "Open and awarded value place by place (`by`: local_authority, cluster, region, cpv_division) with the members who can cover it (counts only) and the CPV divisions no member matches at the alert threshold (`gaps`, `division=value_pence`).", "funder",
            market_params, json("the market map", obj(&[("rows", objs()), ("total", any_obj()), ("timeline", objs())])), &[C::InvalidParameter, C::InvalidWindow]),
        A::Kpis => read("KPIs", "The programme's key figures on `today`.", "funder", q::<totals::KpiParams>, json("the KPIs", any_obj()), &[C::InvalidParameter]),
        A::Reconciliation => read("Reconciliation", "Proposed wins from award notices, and wins without brokerage.", "ledger", none, json("the reconciliation", any_obj()), &[]),
        A::Stats => read("Counts", "The same counts as `sebroker stats`, and the ledger's.", "server", q::<totals::StatsParams>,
            json("the counts", obj(&[("notices", int()), ("releases", int()), ("ledger_events", int())])), &[C::InvalidParameter]),
        A::KeysList => read("API keys", "Every key (never its secret).", "keys", q::<Paging>, json("a page of keys", paged("keys")), &[]),
        A::KeyCreate => Op {
            summary: "Create an API key",
            description: "The key is in the answer, once.",
            tag: "keys",
            query: none,
            body: body::<keys::KeyInput>(json!({"role": "funder", "name": "the funder's dashboard"})),
            ok: vec![(201, json("the new key", obj(&[("id", json!({"type": "string"})), ("role", json!({"type": "string"})), ("key", json!({"type": "string"}))])))],
            csv: false,
            write: false,
            errors: &[C::InvalidKeyInput, C::KeyExists, C::LedgerUnavailable, C::LedgerWriteFailed, C::LedgerWriteUncertain, C::LedgerHeadFailed],
        },
        A::KeyRevoke => Op {
            summary: "Revoke an API key",
            description: "The key and its sessions stop working at once.",
            tag: "keys",
            query: none,
            body: None,
            ok: vec![(200, json("the revoked key", obj(&[("key", any_obj())])))],
            csv: false,
            write: false,
            errors: &[C::KeyNotFound, C::LedgerUnavailable, C::LedgerWriteFailed, C::LedgerWriteUncertain, C::LedgerHeadFailed],
        },
        A::Sources => read("Live sources", "Each live source's last run, counts, errors and next run.", "server", none,
            json("the sources", obj(&[("sources", objs())])), &[]),
        A::AnchorUpload => Op {
            summary: "Upload an anchor's opportunity",
            description: "One opportunity in the sebroker-anchors format, stored before the answer: 201 when new, 200 when it was there.",
            tag: "anchors",
            query: none,
            body: body::<sebroker_connectors::anchors::OpportunityInput>(json!({"anchor": "Walsall Council", "title": "Grounds maintenance", "deadline": "2027-01-31"})),
            ok: vec![
                (201, json("stored", obj(&[("ocid", json!({"type": "string"})), ("source", json!({"type": "string"})), ("created", json!({"type": "boolean"}))]))),
                (200, json("already stored", obj(&[("ocid", json!({"type": "string"})), ("source", json!({"type": "string"})), ("created", json!({"type": "boolean"}))]))),
            ],
            csv: false,
            write: false,
            errors: &[C::InvalidAnchor, C::InvalidOpportunity],
        },
        A::AccountsList => read("People's accounts", "Every person's account (never a password hash), by e-mail.", "accounts", q::<Paging>, json("a page of accounts", paged("accounts")), &[]),
        A::AccountCreate => Op {
            summary: "Invite a person",
            description: "An account in the `invited` state; the invitation link (7 days, once) is in the answer, once. A member's account names a stored member.",
            tag: "accounts",
            query: none,
            body: body::<accounts::AccountInput>(json!({"email": "sam@example.org", "name": "Sam Broker", "role": "broker"})),
            ok: vec![(201, json("the invitation", obj(&[("account", account_ref()), ("invite_url", json!({"type": "string"}))])))],
            csv: false,
            write: false,
            errors: &[C::AccountExists, C::InvalidAccount],
        },
        A::AccountUpdate => Op {
            summary: "Change a person's role",
            description: "The role (and the member, for members); the person's sessions end.",
            tag: "accounts",
            query: none,
            body: body::<accounts::AccountUpdate>(json!({"role": "funder"})),
            ok: vec![(200, json("the account", obj(&[("account", account_ref())])))],
            csv: false,
            write: false,
            errors: &[C::AccountNotFound, C::InvalidAccount],
        },
        A::AccountDisable => Op {
            summary: "Disable a person's account",
            description: "It cannot sign in, and its sessions end at their next request.",
            tag: "accounts",
            query: none,
            body: None,
            ok: vec![(200, json("the account", obj(&[("account", account_ref())])))],
            csv: false,
            write: false,
            errors: &[C::AccountNotFound],
        },
        A::AccountReset => Op {
            summary: "A password-reset link",
            description: "A reset link (one hour, once) in the answer, once; the person's sessions end now.",
            tag: "accounts",
            query: none,
            body: None,
            ok: vec![(200, json("the reset link", obj(&[("account", account_ref()), ("reset_url", json!({"type": "string"}))])))],
            csv: false,
            write: false,
            errors: &[C::AccountNotFound, C::AccountDisabled],
        },
        // Refinements asked inside a handler, and the pages: not operations.
        A::PagePeople | A::PagePeopleChange | A::PageSetPassword => return None,
        A::TotalsByMember
        | A::PageHome
        | A::PageSignIn
        | A::PageSignOut
        | A::PageSearch
        | A::PageNotice
        | A::PageMembers
        | A::PageMember
        | A::PageCaseOpen
        | A::PageCaseStep
        | A::PageCase
        | A::PagePipeline
        | A::PageDashboard
        | A::PageTotalsCsv
        | A::PageMemberHome
        | A::PageMemberNotice
        | A::PageMemberInterest
        | A::PageAlerts
        | A::PageSettings
        | A::PageProfile
        | A::PageMarket
        | A::Static => return None,
    })
}
