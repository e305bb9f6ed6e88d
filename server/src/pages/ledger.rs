//! The funder dashboard in the pages (brokered value against the target,
//! by cluster, over time, the KPI table, CSV downloads). Cases are in
//! [`super::cases`], the pipeline board in [`super::pipeline`].

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use time::OffsetDateTime;

use sebroker_connectors::money::format_pence;

use super::auth::Viewer;
use super::internal;
use super::layout::{message, page};
use sebroker_ledger::totals::By;

fn refused(text: &str) -> Response {
    (
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message("Not recorded", text),
    )
        .into_response()
}

/// A server-rendered bar chart of brokered value by month (cumulative line).
fn chart(rows: &[(String, i64)]) -> Markup {
    let (w, h, pad) = (640.0f64, 220.0f64, 40.0f64);
    let mut cum = Vec::new();
    let mut total = 0i64;
    for (_, v) in rows {
        total = total.saturating_add(*v);
        cum.push(total);
    }
    let max = cum.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = rows.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    html! {
        svg viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="Brokered value over time, cumulative by month" {
            title { "Brokered value over time" }
            line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) stroke="#0b0c0c" {}
            @for (i, ((month, _), c)) in rows.iter().zip(&cum).enumerate() {
                @let bh = (*c as f64 / max) * (h - 2.0 * pad);
                @let x = pad + i as f64 * bw;
                rect x=(format!("{:.1}", x + bw * 0.1)) y=(format!("{:.1}", h - pad - bh)) width=(format!("{:.1}", bw * 0.8)) height=(format!("{:.1}", bh)) fill="#1d70b8" {
                    title { (month) ": " (format_pence(*c)) }
                }
                text x=(format!("{:.1}", x + bw / 2.0)) y=(h - pad + 16.0) font-size="11" text-anchor="middle" { (month) }
            }
            text x=(pad) y=(pad - 10.0) font-size="12" { (format_pence(total)) " brokered" }
        }
    }
}

fn bar(percent: f64) -> Markup {
    let p = percent.clamp(0.0, 100.0);
    html! { div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=(format!("{p:.1}")) { span style={ "width:" (format!("{p:.1}")) "%" } {} } }
}

pub async fn dashboard(State(state): State<super::State>, viewer: Viewer) -> Response {
    let app = state.app.clone();
    let done = crate::blocking::run(move || {
        let today = OffsetDateTime::now_utc().date();
        (
            sebroker_engine::views::totals(&app, By::Cluster),
            sebroker_engine::views::totals(&app, By::Cluster),
            sebroker_engine::views::totals(&app, By::Month),
            sebroker_engine::views::kpis(&app, today),
        )
    })
    .await;
    let (overall, by_cluster, by_month, kpis) = match done {
        Ok(x) => x,
        Err(e) => return internal(&e),
    };
    let months: Vec<(String, i64)> = by_month
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.value_pence))
        .collect();
    let body = html! {
        h1 { "Brokered value" }
        div class="card" {
            p { strong id="total" { (format_pence(overall.total_pence)) } " of " (format_pence(overall.target_pence)) " target (" (format!("{:.1}", overall.progress_percent)) "%) · " (overall.wins) " wins" }
            (bar(overall.progress_percent))
        }
        h2 { "By cluster" }
        table {
            tr { th { "Cluster" } th { "Brokered" } th { "Target" } th { "Progress" } }
            @for r in &by_cluster.rows {
                tr { td { (r.key) } td { (format_pence(r.value_pence)) } td { (r.target_pence.map(format_pence).unwrap_or_default()) }
                     td style="min-width:8rem" { @if let Some(p) = r.progress_percent { (bar(p)) (format!("{p:.1}%")) } } }
            }
        }
        h2 { "Over time" }
        (chart(&months))
        h2 { "KPIs against targets" }
        table {
            tr { th { "Cluster" } th { "Members" } th { "SEGA referrals" } th { "SEDF referrals" } th { "Brokered" } }
            @for c in &kpis.clusters {
                tr { td { (c.cluster) } td { (c.members) " / " (c.members_target) } td { (c.sega_referrals) " / " (c.sega_target) }
                     td { (c.sedf_referrals) " / " (c.sedf_target) } td { (format_pence(c.brokered_pence)) } }
            }
        }
        p { "Downloads: " a href="/dashboard/totals.csv?by=cluster" { "totals by cluster (CSV)" } " · " a href="/dashboard/totals.csv?by=month" { "by month (CSV)" } }
        (PreEscaped(""))
    };
    page(&viewer, "Dashboard", body).into_response()
}

#[derive(Deserialize)]
pub struct ByParam {
    by: Option<String>,
}

pub async fn totals_csv(
    State(state): State<super::State>,
    principal: crate::principal::Principal,
    Query(q): Query<ByParam>,
) -> Response {
    let by = match By::parse(q.by.as_deref().unwrap_or("cluster")) {
        Ok(b) => b,
        Err(e) => return refused(&e.to_string()),
    };
    if by == By::Member {
        // The same refinement the API asks: funders see aggregates only.
        if let Err(e) = principal.allows(crate::policy::Action::TotalsByMember) {
            return super::refusal_page(&e);
        }
    }
    let app = state.app.clone();
    let t = match crate::blocking::run(move || sebroker_engine::views::totals(&app, by)).await {
        Ok(t) => t,
        Err(e) => return internal(&e),
    };
    crate::csv::response(crate::csv::totals(&t), Some("totals.csv"))
}
