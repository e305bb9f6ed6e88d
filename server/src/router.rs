//! The route table: every API route and page in one list — method, path,
//! surface (API or page), the policy action it performs, and its handler.
//! The router is built from this list and nothing else, so every route
//! passes through [`crate::principal::admit`] and has a policy entry; the
//! authorization tests read the same list ([`routes`]).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put, MethodRouter};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use sebroker_engine::Engine;

use crate::api::write::write;
use crate::api::{
    self, accounts, alerts, anchors, audit, cases, interests, keys, market, matches, members,
    notices, returns, sources, totals,
};
use crate::door::Door;
use crate::error::{ApiError, Code};
use crate::pages;
use crate::policy::{self, Action, Route, Surface};
use crate::principal::{self, Refusal};
use crate::state::ServerState;
use sebroker_ledger::input::{CaseEventInput, CaseInput, ReferralInput, ReturnInput};

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Requests running longer than this are answered with 408.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

type Handler = MethodRouter<ServerState>;

fn row(
    method: Method,
    path: &'static str,
    surface: Surface,
    action: Action,
    h: Handler,
) -> (Route, Handler) {
    (
        Route {
            method,
            path,
            surface,
            action,
        },
        h,
    )
}

/// The table, API first, then pages.
fn table() -> Vec<(Route, Handler)> {
    use Action as A;
    use Method as M;
    use Surface::{Api, Page};
    vec![
        row(M::GET, "/healthz", Api, A::Health, get(api::healthz)),
        row(
            M::GET,
            "/api/v1/openapi.json",
            Api,
            A::OpenApi,
            get(openapi_json),
        ),
        row(M::GET, "/api/docs", Api, A::ApiDocs, get(api_docs)),
        row(M::GET, "/metrics", Api, A::Metrics, get(metrics_route)),
        row(
            M::GET,
            "/api/v1/notices",
            Api,
            A::NoticesSearch,
            get(notices::list),
        ),
        row(
            M::GET,
            "/api/v1/notices/{ocid}",
            Api,
            A::NoticeRead,
            get(notices::show),
        ),
        row(
            M::GET,
            "/api/v1/notices/{ocid}/matches",
            Api,
            A::NoticeMatches,
            get(matches::notice_matches),
        ),
        row(
            M::GET,
            "/api/v1/notices/{ocid}/consortia",
            Api,
            A::NoticeConsortia,
            get(matches::consortia),
        ),
        row(
            M::GET,
            "/api/v1/members",
            Api,
            A::MembersList,
            get(matches::members),
        ),
        row(
            M::GET,
            "/api/v1/members/{id}",
            Api,
            A::MemberRead,
            get(matches::member),
        ),
        row(
            M::POST,
            "/api/v1/members",
            Api,
            A::MemberCreate,
            post(members::create),
        ),
        row(
            M::PATCH,
            "/api/v1/members/{id}",
            Api,
            A::MemberUpdate,
            patch(members::update),
        ),
        row(
            M::POST,
            "/api/v1/members/{id}/erase",
            Api,
            A::MemberErase,
            post(members::erase),
        ),
        row(
            M::GET,
            "/api/v1/members/{id}/matches",
            Api,
            A::MemberMatches,
            get(matches::member_matches_route),
        ),
        row(
            M::GET,
            "/api/v1/members/{id}/alerts",
            Api,
            A::MemberAlerts,
            get(alerts::member_alerts),
        ),
        row(
            M::PUT,
            "/api/v1/members/{id}/alert-settings",
            Api,
            A::MemberAlertSettings,
            put(alerts::put_settings),
        ),
        row(
            M::GET,
            "/api/v1/members/{id}/returns",
            Api,
            A::MemberReturns,
            get(returns::member_returns),
        ),
        row(
            M::POST,
            "/api/v1/members/{id}/returns",
            Api,
            A::MemberReturnFile,
            post(write::<ReturnInput>),
        ),
        row(
            M::GET,
            "/api/v1/members/{id}/cases",
            Api,
            A::MemberCases,
            get(cases::member_cases),
        ),
        row(
            M::GET,
            "/api/v1/alerts/deliveries",
            Api,
            A::AlertDeliveries,
            get(alerts::deliveries),
        ),
        row(
            M::POST,
            "/api/v1/alerts/run",
            Api,
            A::AlertsRun,
            post(alerts::run),
        ),
        row(M::GET, "/feeds/{file}", Api, A::Feed, get(alerts::feed)),
        row(
            M::GET,
            "/unsubscribe/{token}",
            Api,
            A::Unsubscribe,
            get(pages::unsubscribe::page),
        ),
        row(
            M::POST,
            "/unsubscribe/{token}",
            Api,
            A::Unsubscribe,
            post(pages::unsubscribe::stop),
        ),
        row(
            M::GET,
            "/api/v1/returns",
            Api,
            A::ReturnsList,
            get(returns::list),
        ),
        row(
            M::GET,
            "/api/v1/referrals",
            Api,
            A::ReferralsList,
            get(returns::referrals),
        ),
        row(
            M::POST,
            "/api/v1/referrals",
            Api,
            A::ReferralCreate,
            post(write::<ReferralInput>),
        ),
        row(
            M::POST,
            "/api/v1/events/{seq}/void",
            Api,
            A::EventVoid,
            post(write::<returns::VoidInput>),
        ),
        row(M::GET, "/api/v1/cases", Api, A::CasesList, get(cases::list)),
        row(
            M::POST,
            "/api/v1/cases",
            Api,
            A::CaseOpen,
            post(write::<CaseInput>),
        ),
        row(
            M::GET,
            "/api/v1/cases/{id}",
            Api,
            A::CaseRead,
            get(cases::show),
        ),
        row(
            M::POST,
            "/api/v1/cases/{id}/events",
            Api,
            A::CaseEvent,
            post(write::<CaseEventInput>),
        ),
        row(
            M::GET,
            "/api/v1/totals",
            Api,
            A::Totals,
            get(totals::totals),
        ),
        row(M::GET, "/api/v1/kpis", Api, A::Kpis, get(totals::kpis)),
        row(
            M::GET,
            "/api/v1/reconciliation",
            Api,
            A::Reconciliation,
            get(totals::reconciliation),
        ),
        row(M::GET, "/api/v1/stats", Api, A::Stats, get(totals::stats)),
        row(M::GET, "/api/v1/keys", Api, A::KeysList, get(keys::list)),
        row(
            M::POST,
            "/api/v1/keys",
            Api,
            A::KeyCreate,
            post(keys::create),
        ),
        row(
            M::POST,
            "/api/v1/keys/{id}/revoke",
            Api,
            A::KeyRevoke,
            post(keys::revoke),
        ),
        // People's accounts (issue 14).
        row(
            M::GET,
            "/api/v1/accounts",
            Api,
            A::AccountsList,
            get(accounts::list),
        ),
        row(
            M::POST,
            "/api/v1/accounts",
            Api,
            A::AccountCreate,
            post(accounts::create),
        ),
        row(
            M::PATCH,
            "/api/v1/accounts/{id}",
            Api,
            A::AccountUpdate,
            patch(accounts::update),
        ),
        row(
            M::POST,
            "/api/v1/accounts/{id}/disable",
            Api,
            A::AccountDisable,
            post(accounts::disable),
        ),
        row(
            M::POST,
            "/api/v1/accounts/{id}/reset",
            Api,
            A::AccountReset,
            post(accounts::reset),
        ),
        row(
            M::GET,
            "/api/v1/sources",
            Api,
            A::Sources,
            get(sources::list),
        ),
        row(
            M::POST,
            "/api/v1/anchors/{slug}/opportunities",
            Api,
            A::AnchorUpload,
            post(anchors::create),
        ),
        row(M::GET, "/api/v1/audit", Api, A::AuditRead, get(audit::list)),
        row(M::GET, "/", Page, A::PageHome, get(pages::browse::home)),
        row(
            M::GET,
            "/signin",
            Page,
            A::PageSignIn,
            get(pages::auth::signin_form),
        ),
        row(
            M::POST,
            "/signin",
            Page,
            A::PageSignIn,
            post(pages::auth::signin),
        ),
        row(
            M::POST,
            "/signout",
            Page,
            A::PageSignOut,
            post(pages::auth::signout),
        ),
        row(
            M::GET,
            "/search",
            Page,
            A::PageSearch,
            get(pages::browse::search),
        ),
        row(
            M::GET,
            "/notices/{ocid}",
            Page,
            A::PageNotice,
            get(pages::browse::notice),
        ),
        row(
            M::GET,
            "/members",
            Page,
            A::PageMembers,
            get(pages::browse::members),
        ),
        row(
            M::GET,
            "/members/{id}",
            Page,
            A::PageMember,
            get(pages::browse::member),
        ),
        row(
            M::POST,
            "/cases",
            Page,
            A::PageCaseOpen,
            post(pages::cases::open_case),
        ),
        row(
            M::GET,
            "/cases/{id}",
            Page,
            A::PageCase,
            get(pages::cases::case_page),
        ),
        row(
            M::POST,
            "/cases/{id}/events",
            Page,
            A::PageCaseStep,
            post(pages::cases::record_step),
        ),
        row(
            M::GET,
            "/pipeline",
            Page,
            A::PagePipeline,
            get(pages::pipeline::pipeline),
        ),
        row(
            M::GET,
            "/dashboard",
            Page,
            A::PageDashboard,
            get(pages::dashboard::dashboard),
        ),
        row(
            M::GET,
            "/dashboard/totals.csv",
            Page,
            A::PageTotalsCsv,
            get(pages::dashboard::totals_csv),
        ),
        // The member's journey and its interests (issue 14).
        row(
            M::POST,
            "/api/v1/members/{id}/interests",
            Api,
            A::MemberInterestAsk,
            post(interests::ask),
        ),
        row(
            M::GET,
            "/api/v1/members/{id}/interests",
            Api,
            A::MemberInterests,
            get(interests::list),
        ),
        row(
            M::POST,
            "/api/v1/members/{id}/alert-settings/test",
            Api,
            A::MemberAlertSettingsTest,
            post(alerts::test_settings),
        ),
        row(
            M::GET,
            "/opportunities",
            Page,
            A::PageMemberHome,
            get(pages::member::home),
        ),
        row(
            M::GET,
            "/opportunities/{ocid}",
            Page,
            A::PageMemberNotice,
            get(pages::member::notice),
        ),
        row(
            M::POST,
            "/opportunities/{ocid}/interest",
            Page,
            A::PageMemberInterest,
            post(pages::member::ask),
        ),
        row(
            M::GET,
            "/alerts",
            Page,
            A::PageAlerts,
            get(pages::member::alerts),
        ),
        row(
            M::GET,
            "/settings",
            Page,
            A::PageSettings,
            get(pages::member::settings),
        ),
        row(
            M::POST,
            "/settings",
            Page,
            A::PageSettings,
            post(pages::member::save_settings),
        ),
        row(
            M::POST,
            "/settings/test",
            Page,
            A::PageSettings,
            post(pages::member::test_webhook),
        ),
        row(
            M::GET,
            "/profile",
            Page,
            A::PageProfile,
            get(pages::member::profile),
        ),
        row(
            M::POST,
            "/profile",
            Page,
            A::PageProfile,
            post(pages::member::save_profile),
        ),
        // People's accounts: the admin's page and the links people get.
        row(
            M::GET,
            "/admin/people",
            Page,
            A::PagePeople,
            get(pages::people::list),
        ),
        row(
            M::POST,
            "/admin/people",
            Page,
            A::PagePeopleChange,
            post(pages::people::invite),
        ),
        row(
            M::POST,
            "/admin/people/{id}",
            Page,
            A::PagePeopleChange,
            post(pages::people::change),
        ),
        row(
            M::GET,
            "/invite/{token}",
            Page,
            A::PageSetPassword,
            get(pages::people::invite_form),
        ),
        row(
            M::POST,
            "/invite/{token}",
            Page,
            A::PageSetPassword,
            post(pages::people::invite_set),
        ),
        row(
            M::GET,
            "/reset/{token}",
            Page,
            A::PageSetPassword,
            get(pages::people::reset_form),
        ),
        row(
            M::POST,
            "/reset/{token}",
            Page,
            A::PageSetPassword,
            post(pages::people::reset_set),
        ),
        // The market map (issue 16).
        row(
            M::GET,
            "/api/v1/market",
            Api,
            A::Market,
            get(market::market),
        ),
        row(
            M::GET,
            "/market",
            Page,
            A::PageMarket,
            get(pages::market::page_market),
        ),
        row(
            M::GET,
            "/market.csv",
            Page,
            A::PageMarket,
            get(pages::market::csv),
        ),
        row(
            M::GET,
            "/static/style.css",
            Page,
            A::Static,
            get(pages::layout::stylesheet),
        ),
    ]
}

/// `GET /api/v1/openapi.json`: the document of this table's API rows.
async fn openapi_json() -> axum::Json<serde_json::Value> {
    axum::Json(crate::openapi::document(&routes()).clone())
}

/// `GET /api/docs`: the same document as a page.
async fn api_docs() -> axum::response::Html<String> {
    crate::openapi::page::render(crate::openapi::document(&routes()))
}

/// `GET /metrics`: Prometheus text (the gauges read the store).
async fn metrics_route(
    axum::extract::State(app): axum::extract::State<Arc<Engine>>,
) -> Result<Response, ApiError> {
    let text = crate::blocking::try_run(move || Ok(crate::metrics::render(&app))).await?;
    Ok(crate::metrics::answer(text))
}

/// No route: the HTML 404 page with the site's header to a browser (it
/// asks for `text/html`) outside `/api/`, else 404 `route_not_found` as
/// JSON; counted as `unmatched`.
async fn fallback(
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let start = std::time::Instant::now();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let api = uri.path().starts_with("/api/");
    let resp = if !api && wants_html {
        pages::layout::not_found_page()
    } else {
        crate::error::not_found().await.into_response()
    };
    crate::metrics::record("unmatched", &method, resp.status().as_u16(), start);
    resp
}

/// Every route of the server, as the router serves them.
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(r, _)| r).collect()
}

/// The whole server: every row of the table behind [`admit`], the API's
/// CSV negotiation, security headers, body-size and time limits.
pub fn router(app: Arc<Engine>, secure_cookies: bool) -> Router {
    let door = Arc::new(Door::new(&app.config));
    let state = ServerState {
        web: Arc::new(pages::WebState::new(
            app.clone(),
            door.clone(),
            secure_cookies,
        )),
        door,
        app,
    };
    let mut router: Router<ServerState> = Router::new();
    for (route, handler) in table() {
        let path = route.path;
        let api = route.surface == Surface::Api;
        let handler = if api {
            handler.layer(axum::middleware::from_fn(crate::csv::negotiate))
        } else {
            handler
        };
        let s = state.clone();
        let handler = handler.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let (s, route) = (s.clone(), route.clone());
                async move { admit_then_run(s, route, req, next).await }
            },
        ));
        // Outermost: refusals are counted too, under the route's template.
        let handler = handler.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| crate::metrics::track(path, req, next),
        ));
        router = router.route(path, handler);
    }
    router
        .fallback(fallback)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Outermost, so that the limits' own answers carry the headers too.
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// A refusal as the route's surface answers it: the JSON error, or for a
/// page the error page or the sign-in redirect.
fn answer(surface: Surface, refusal: Refusal) -> Response {
    match (surface, refusal) {
        (Surface::Api, Refusal::Refused(e)) => e.into_response(),
        (Surface::Page, Refusal::Refused(e)) => pages::refusal_page(&e),
        (_, Refusal::SignIn { next }) => {
            axum::response::Redirect::to(&format!("/signin?next={}", principal::urlencode(&next)))
                .into_response()
        }
    }
}

/// The whole server (API and pages) without `Secure` cookies (tests, the
/// command line's in-process calls).
pub fn local(app: Arc<Engine>) -> Router {
    router(app, false)
}

/// Admits and runs a request, then audits it when it is a write
/// (`crate::audit`): refusals by the principal and the policy included.
async fn admit_then_run(s: ServerState, route: Route, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let seen = crate::audit::Seen::of(&route, &parts);
    let admitted = principal::admit(&s, &route, &mut parts).await;
    let who = parts.extensions.get::<principal::Principal>().cloned();
    let resp = match admitted {
        Err(refused) => {
            let mut refusal = answer(route.surface, refused);
            refusal
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            refusal
        }
        Ok(()) => run_admitted(&s, &route, parts, body, next).await,
    };
    if let Some(seen) = seen {
        let status = resp.status().as_u16();
        crate::audit::note(&s, seen, who.as_ref(), status).await;
    }
    resp
}

async fn run_admitted(
    s: &ServerState,
    route: &Route,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
    next: Next,
) -> Response {
    let public = policy::access(route.action) == policy::Access::Public;
    let token_route = matches!(route.action, Action::Feed | Action::Unsubscribe);
    let addr = principal::client_addr(&parts);
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    if token_route && resp.status() == axum::http::StatusCode::NOT_FOUND {
        // A token in the path is a credential: guessing one counts as a
        // bad credential of this address.
        if let Err(wait) = s.door.attempts.check(&format!("fail:{addr}")) {
            return principal::too_many("failed sign-ins from this address", wait).into_response();
        }
    }
    if route.surface == Surface::Api {
        resp = json_rejection(resp).await;
    }
    if !public {
        // Answers for a principal must not outlive the session in a cache
        // (Back after sign-out), nor be shared.
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// axum's own extractor rejections (a path segment that is not a number or
/// not UTF-8, a form that does not parse) answer in plain text; on the API
/// every error is JSON with a code, so those become `invalid_parameter`.
async fn json_rejection(resp: Response) -> Response {
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !resp.status().is_client_error() {
        return resp;
    }
    let status = resp.status();
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    // The codes keep the status axum chose for the ones it has (a body
    // over the limit, a wrong content type); everything else it refuses is
    // a malformed parameter.
    let code = match status {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => Code::BodyTooLarge,
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
        _ => Code::InvalidParameter,
    };
    ApiError::new(code, text).into_response()
}

/// The longest path and query string served; search words and filters fit
/// in far less.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Headers every answer carries: no framing, no sniffing, no referrer, and
/// a content policy that allows only this site's own styles and forms.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = if req.uri().path_and_query().map_or(0, |p| p.as_str().len()) > MAX_URI_BYTES {
        ApiError::new(
            Code::UriTooLong,
            format!("the path and query may be at most {MAX_URI_BYTES} bytes"),
        )
        .into_response()
    } else {
        next.run(req).await.into_response()
    };
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; connect-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router is built from the table alone: a `.route(` call anywhere
    /// else in the sources would add a route without a policy entry.
    #[test]
    fn no_route_is_added_outside_the_table() {
        // This crate's sources and the binary's (the only crates with axum).
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut stack = vec![here.join("src"), here.join("..").join("src")];
        let mut offenders = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("src is readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("server/src/router.rs")
                {
                    let text = std::fs::read_to_string(&path).expect("source");
                    if text.contains(".route(")
                        || text.contains(".nest(")
                        || text.contains(".merge(")
                    {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "routes outside the table: {offenders:?}"
        );
    }

    #[test]
    fn every_row_is_unique_and_under_its_surface() {
        let rows = routes();
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            assert!(
                seen.insert((r.method.clone(), r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            if r.path.starts_with("/api/") {
                assert_eq!(r.surface, Surface::Api, "{}", r.path);
            }
        }
    }
}
