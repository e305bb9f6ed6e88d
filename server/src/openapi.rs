//! The OpenAPI 3.1 document of the API, built from the route table: every
//! `Surface::Api` row becomes one operation, described by [`ops::op`] (an
//! exhaustive match on the row's [`Action`], so a new action does not
//! compile until it is documented), with the roles from the policy table,
//! the error codes from [`Code`], and the request types' own
//! `ToSchema`/`IntoParams` derives. Served at `GET /api/v1/openapi.json`
//! and rendered as HTML at `GET /api/docs` ([`page`]).

pub mod ops;
pub mod page;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::Method;
use serde_json::{json, Value};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr, Required, Schema,
};

use crate::error::Code;
use crate::policy::{self, Access, Route, Surface};
use ops::{Answer, Op};

/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";

/// The document for `routes`, built once per process (the table is fixed
/// at compile time).
pub fn document(routes: &[Route]) -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(build(routes)).unwrap_or_else(|_| json!({})))
}

/// A JSON schema written as JSON (nested answers are described where they
/// are shaped, in [`ops`]).
pub fn schema(v: Value) -> RefOr<Schema> {
    serde_json::from_value(v).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

fn build(routes: &[Route]) -> OpenApi {
    let mut components = ops::components();
    components.push(("Error".into(), error_schema()));
    let mut paths = PathsBuilder::new();
    for r in routes.iter().filter(|r| r.surface == Surface::Api) {
        let Some(op) = ops::op(r.action, &r.method) else {
            continue;
        };
        paths = paths.path(
            r.path,
            PathItem::new(http_method(&r.method), operation(r, &op)),
        );
    }
    let bearer = SecurityScheme::Http(
        Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API key (`sebroker keys create`), or the configured admin token; \
                 `/metrics` also takes the configured `metrics_token`.",
            ))
            .build(),
    );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("sebroker API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Procurement notices matched to social-economy members, and the brokerage ledger. \
                     Errors are `{\"error\": {\"code\", \"message\"}}`; lists take `?format=csv`.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .schemas_from_iter(components)
                .security_scheme(BEARER, bearer)
                .build(),
        ))
        .build()
}

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

/// `{"error": {"code", "message"}}` with every code of [`Code::ALL`].
fn error_schema() -> RefOr<Schema> {
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    schema(json!({
        "type": "object",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": { "type": "string", "enum": codes },
                "message": { "type": "string" }
            }
        }}
    }))
}

/// Whether the route needs a credential.
fn needs_key(r: &Route) -> bool {
    policy::access(r.action) != Access::Public
}

fn operation(r: &Route, op: &Op) -> utoipa::openapi::path::Operation {
    let roles: Vec<&str> = if needs_key(r) {
        policy::roles(r.action).iter().map(|x| x.as_str()).collect()
    } else {
        Vec::new()
    };
    let who = match policy::access(r.action) {
        Access::Public => "No key needed.".to_owned(),
        Access::Roles(_) => format!("Roles: {}.", roles.join(", ")),
        Access::RolesOrOwnMember(_) => format!(
            "Roles: {} (a member key only for its own member).",
            roles.join(", ")
        ),
    };
    let mut b = OperationBuilder::new()
        .summary(Some(op.summary))
        .description(Some(format!("{} {who}", op.description)))
        .operation_id(Some(format!(
            "{:?}{}",
            r.action,
            r.method.as_str().to_lowercase()
        )))
        .tag(op.tag)
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-roles", json!(roles))
                .build(),
        ));
    for p in path_params(r.path) {
        b = b.parameter(p);
    }
    for p in op.query() {
        b = b.parameter(p);
    }
    if op.csv {
        b = b.parameter(format_param());
    }
    if op.write {
        b = b.parameter(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some("1 to 200 bytes of unique text; the same key when retrying."))
                .schema(Some(schema(json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]([ -~]{0,198}[!-~])?$"}))))
                .example(Some(json!("2026-12-01-case-1"))),
        );
    }
    if let Some(body) = &op.body {
        b = b.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(if body.required {
                    Required::True
                } else {
                    Required::False
                }))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(body.schema.clone()))
                        .example(Some(body.example.clone()))
                        .build(),
                )
                .build(),
        ));
    }
    if needs_key(r) {
        b = b.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    } else {
        b = b.securities(Some(Vec::<SecurityRequirement>::new()));
    }
    b.responses(responses(r, op)).build()
}

/// Parameters named in the path template (`{id}`); `{seq}` is a number.
fn path_params(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let (s, ex) = match name {
                "seq" => (
                    json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
                    json!(12),
                ),
                "slug" => (
                    json!({"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}),
                    json!("walsall-council"),
                ),
                "file" => (
                    json!({"type": "string", "pattern": "^[^/]+$"}),
                    json!("0123abcd.atom"),
                ),
                "ocid" => (
                    json!({"type": "string", "pattern": "^[^/]+$"}),
                    json!("ocds-h6vhtk-04f2a1"),
                ),
                "id" => (
                    json!({"type": "string", "pattern": "^[^/]+$"}),
                    json!("m-example"),
                ),
                _ => (json!({"type": "string", "pattern": "^[^/]+$"}), json!("x")),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema(s)))
                .example(Some(ex))
                .build()
        })
        .collect()
}

fn format_param() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("format")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "`csv` for the answer's list as CSV (also `Accept: text/csv`).",
        ))
        .schema(Some(schema(
            json!({"type": "string", "enum": ["json", "csv"]}),
        )))
        .build()
}

/// The codes every operation of this kind can answer, besides its own.
fn error_codes(r: &Route, op: &Op) -> Vec<Code> {
    let mut codes = vec![Code::UriTooLong, Code::Internal];
    if op.csv || !op.query_is_empty() || r.path.contains('{') {
        codes.push(Code::InvalidParameter);
    }
    if needs_key(r) || matches!(r.action, policy::Action::Feed | policy::Action::Unsubscribe) {
        codes.push(Code::RateLimited);
    }
    if needs_key(r) {
        codes.extend([Code::MissingKey, Code::InvalidKey]);
        if policy::roles(r.action).len() < sebroker_ledger::auth::Role::ALL.len()
            || matches!(policy::access(r.action), Access::RolesOrOwnMember(_))
        {
            codes.push(Code::Forbidden);
        }
        if matches!(policy::access(r.action), Access::RolesOrOwnMember(_)) {
            codes.push(Code::MemberNotFound);
        }
    }
    if op.body.is_some() {
        codes.extend([
            Code::InvalidBody,
            Code::BodyTooLarge,
            Code::UnsupportedMediaType,
        ]);
    }
    if op.write {
        codes.extend([
            Code::MissingIdempotencyKey,
            Code::IdempotencyKeyReused,
            Code::LedgerUnavailable,
            Code::LedgerWriteFailed,
            Code::LedgerWriteUncertain,
            Code::LedgerHeadFailed,
        ]);
    }
    codes.extend_from_slice(op.errors);
    let mut seen = std::collections::HashSet::new();
    codes.retain(|c| seen.insert(c.as_str()));
    codes
}

fn responses(r: &Route, op: &Op) -> utoipa::openapi::response::Responses {
    let mut b = ResponsesBuilder::new();
    for (status, answer) in &op.ok {
        b = b.response(status.to_string(), success(*status, answer, op.csv));
    }
    // Errors grouped by status: one response each, an example per code.
    let mut by_status: BTreeMap<u16, Vec<Code>> = BTreeMap::new();
    for c in error_codes(r, op) {
        by_status.entry(c.status().as_u16()).or_default().push(c);
    }
    for (status, codes) in by_status {
        let names: Vec<String> = codes.iter().map(|c| format!("`{}`", c.as_str())).collect();
        let content = ContentBuilder::new()
            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Error"))))
            .examples_from_iter(codes.iter().map(|c| {
                let example = utoipa::openapi::example::ExampleBuilder::new()
                    .summary(c.meaning())
                    .value(Some(json!({"error": {"code": c.as_str(), "message": c.default_message().unwrap_or(c.meaning())}})))
                    .build();
                (c.as_str().to_owned(), example)
            }))
            .build();
        b = b.response(
            status.to_string(),
            ResponseBuilder::new()
                .description(names.join(", "))
                .content("application/json", content)
                .build(),
        );
    }
    if needs_key(r) || op.body.is_some() {
        // Requests running past the server's limit (`router::REQUEST_TIMEOUT`).
        b = b.response(
            "408",
            ResponseBuilder::new()
                .description("the request took longer than 30 s (no body)")
                .build(),
        );
    }
    b.build()
}

fn success(status: u16, a: &Answer, csv: bool) -> utoipa::openapi::response::Response {
    let ok = |ct: &str, s: Value, ex: Option<Value>| {
        ContentBuilder::new()
            .schema(Some(schema(s)))
            .example(ex)
            .build()
            .pipe(|c| (ct.to_owned(), c))
    };
    let (desc, mut contents) = match a {
        Answer::Json {
            description,
            schema: s,
            example,
        } => (
            *description,
            vec![ok("application/json", s.clone(), example.clone())],
        ),
        Answer::Text {
            description,
            content_type,
            example,
        } => (
            *description,
            vec![ok(
                content_type,
                json!({"type": "string"}),
                Some(json!(example)),
            )],
        ),
    };
    if csv && matches!(a, Answer::Json { .. }) {
        contents.push(ok(
            "text/csv",
            json!({"type": "string"}),
            Some(json!("id,name\nm-example,Example CIC\n")),
        ));
    }
    let _ = status;
    let mut b = ResponseBuilder::new().description(desc);
    for (ct, c) in contents {
        b = b.content(ct, c);
    }
    b.build()
}

/// `x.pipe(f)`: keeps the builders above readable.
trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}
