//! The funder dashboard: brokered value against the £1,000,000 target, by
//! cluster and month by month (a server-rendered SVG chart with axes and
//! the target line), the wins behind the total, the KPIs in words, and its
//! CSV downloads in pounds. The funder sees aggregates and wins by cluster
//! only; names of members are for the roles the policy lets see totals by
//! member (`Action::TotalsByMember`).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use time::{Date, Month, OffsetDateTime};

use sebroker_connectors::money::format_pence;
use sebroker_ledger::state::Case;
use sebroker_ledger::totals::{By, Kpis, Totals};

use super::auth::Viewer;
use super::internal;
use super::layout::{message, page};
use crate::policy::{allows, Action};

fn refused(text: &str) -> Response {
    (
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message("Not recorded", text),
    )
        .into_response()
}

/// Pence as pounds with two decimals (`1234.56`, `-0.05`), exactly: integer
/// arithmetic, no floats.
pub fn pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let p = pence.unsigned_abs();
    format!("{sign}{}.{:02}", p / 100, p % 100)
}

/// `YYYY-MM` of a date.
fn month_key(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), u8::from(d.month()))
}

fn next_month(d: Date) -> Option<Date> {
    let (y, m) = match d.month() {
        Month::December => (d.year().checked_add(1)?, Month::January),
        m => (d.year(), m.next()),
    };
    Date::from_calendar_date(y, m, 1).ok()
}

/// The most months the chart and the month CSV cover (ten years).
const MAX_MONTHS: usize = 120;

/// Every month from `from` to `to` (both included), months without wins
/// included, each with its brokered value.
pub fn every_month(by_month: &Totals, from: Date, to: Date) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let Ok(mut d) = Date::from_calendar_date(from.year(), from.month(), 1) else {
        return out;
    };
    let last = month_key(to);
    while out.len() < MAX_MONTHS {
        let key = month_key(d);
        let v = by_month
            .rows
            .iter()
            .filter(|r| r.key == key)
            .map(|r| r.value_pence)
            .fold(0i64, i64::saturating_add);
        let done = key >= last;
        out.push((key, v));
        match next_month(d) {
            Some(n) if !done => d = n,
            _ => break,
        }
    }
    out
}

/// The months the dashboard shows: from the programme's start (or the
/// first win, if earlier) to this month (or the last win, if later).
fn month_span(kpis: &Kpis, by_month: &Totals, today: Date) -> (Date, Date) {
    let parse = |k: &str| {
        let (y, m) = k.split_once('-')?;
        let m = Month::try_from(m.parse::<u8>().ok()?).ok()?;
        Date::from_calendar_date(y.parse().ok()?, m, 1).ok()
    };
    let wins: Vec<Date> = by_month.rows.iter().filter_map(|r| parse(&r.key)).collect();
    let from = wins
        .iter()
        .copied()
        .chain([kpis.programme_start])
        .min()
        .unwrap_or(today);
    let to = wins.iter().copied().chain([today]).max().unwrap_or(today);
    (from, to)
}

/// `£1.2m`, `£350k`, `£0`: short labels for the chart's axis.
fn short_pounds(pence: i64) -> String {
    let pounds = pence / 100;
    if pounds >= 1_000_000 {
        format!(
            "£{}.{}m",
            pounds / 1_000_000,
            (pounds % 1_000_000) / 100_000
        )
    } else if pounds >= 1_000 {
        format!("£{}k", pounds / 1_000)
    } else {
        format!("£{pounds}")
    }
}

/// The chart's geometry: a phone-width drawing that scales up.
const W: f64 = 360.0;
const H: f64 = 240.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;

fn y_of(v: i64, max: i64) -> f64 {
    H - BOTTOM - (v as f64 / max.max(1) as f64) * (H - TOP - BOTTOM)
}

fn y_axis(max: i64, target: i64) -> Markup {
    let ticks: Vec<i64> = (0..=4).map(|i| max / 4 * i).collect();
    html! {
        line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(H - BOTTOM) stroke="#0b0c0c" {}
        line x1=(LEFT) y1=(H - BOTTOM) x2=(W - RIGHT) y2=(H - BOTTOM) stroke="#0b0c0c" {}
        @for t in ticks {
            @let y = format!("{:.1}", y_of(t, max));
            line x1=(LEFT - 4.0) y1=(y) x2=(LEFT) y2=(y) stroke="#0b0c0c" {}
            text x=(LEFT - 6.0) y=(y) font-size="10" text-anchor="end" dominant-baseline="middle" { (short_pounds(t)) }
        }
        @let ty = format!("{:.1}", y_of(target, max));
        line x1=(LEFT) y1=(ty) x2=(W - RIGHT) y2=(ty) stroke="#d4351c" stroke-width="2" stroke-dasharray="6 3" {}
        text x=(W - RIGHT) y=(format!("{:.1}", y_of(target, max) - 4.0)) font-size="10" text-anchor="end" fill="#b1260f" { "target " (short_pounds(target)) }
    }
}

/// Cumulative brokered value month by month against the target: bars for
/// each month (months without wins too), a y axis in pounds, the target
/// as a dashed line, month labels thinned to fit a phone.
fn chart(months: &[(String, i64)], target: i64) -> Markup {
    let mut cum = Vec::with_capacity(months.len());
    let mut total = 0i64;
    for (_, v) in months {
        total = total.saturating_add(*v);
        cum.push(total);
    }
    let max = cum
        .iter()
        .copied()
        .chain([target])
        .max()
        .unwrap_or(1)
        .max(1);
    let n = months.len().max(1);
    let bw = (W - LEFT - RIGHT) / n as f64;
    // At most six month labels: they stay apart on a 390 px phone.
    let every = n.div_ceil(6).max(1);
    html! {
        svg class="chart" viewBox={ "0 0 " (W) " " (H) } role="img" aria-labelledby="chart-title chart-desc" {
            title id="chart-title" { "Brokered value, cumulative, month by month" }
            desc id="chart-desc" { (format_pence(total)) " brokered so far against a target of " (format_pence(target)) ", over " (n) " months." }
            (y_axis(max, target))
            @for (i, ((month, _), c)) in months.iter().zip(&cum).enumerate() {
                @let x = LEFT + i as f64 * bw;
                @let y = y_of(*c, max);
                rect x=(format!("{:.1}", x + bw * 0.15)) y=(format!("{:.1}", y)) width=(format!("{:.1}", (bw * 0.7).max(1.0))) height=(format!("{:.1}", (H - BOTTOM - y).max(0.0))) fill="#1d70b8" {
                    title { (month) ": " (format_pence(*c)) " so far" }
                }
                @if i % every == 0 {
                    text x=(format!("{:.1}", x + bw / 2.0)) y=(H - BOTTOM + 14.0) font-size="10" text-anchor="middle" { (month) }
                }
            }
            text x=(LEFT + (W - LEFT - RIGHT) / 2.0) y=(H - 6.0) font-size="10" text-anchor="middle" { "month (cumulative value won)" }
        }
    }
}

fn bar(percent: f64, label: &str) -> Markup {
    let p = percent.clamp(0.0, 100.0);
    html! { div class="bar" role="progressbar" aria-label=(label) aria-valuemin="0" aria-valuemax="100" aria-valuenow=(format!("{p:.1}")) { span style={ "width:" (format!("{p:.1}")) "%" } {} } }
}

/// One counted win as the dashboard lists it.
pub struct WinRow {
    pub date: Date,
    pub title: String,
    pub ocid: String,
    pub value_pence: i64,
    /// The clusters of its parts, each once.
    pub clusters: Vec<String>,
    /// The members' names (shown only to roles that may see them).
    pub members: Vec<String>,
}

/// The wins counted in the total, newest first.
pub fn wins(cases: &[Case], name_of: &dyn Fn(&str) -> String) -> Vec<WinRow> {
    let mut out: Vec<WinRow> = cases
        .iter()
        .filter_map(|c| {
            let w = c.win.as_ref().filter(|w| w.counted)?;
            let mut clusters: Vec<String> = w.parts.iter().map(|p| p.cluster.clone()).collect();
            clusters.sort();
            clusters.dedup();
            Some(WinRow {
                date: w.date,
                title: c.title.clone(),
                ocid: c.ocid.clone(),
                value_pence: w.value_pence,
                clusters,
                members: w.parts.iter().map(|p| name_of(&p.member_id)).collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.ocid.cmp(&b.ocid)));
    out
}

fn wins_table(rows: &[WinRow], names: bool) -> Markup {
    html! {
        div class="scroll" {
            table {
                caption { "The wins behind the total" @if !names { " (by cluster; members are not named to funders)" } }
                tr { th scope="col" { "Date" } th scope="col" { "Notice" } th scope="col" { "Cluster" }
                     @if names { th scope="col" { "Member" } } th scope="col" { "Value" } }
                @if rows.is_empty() { tr { td colspan=(if names { 5 } else { 4 }) { "No brokered wins yet." } } }
                @for r in rows {
                    tr { td { time datetime=(r.date.to_string()) { (r.date) } } td { (r.title) } td { (r.clusters.join(", ")) }
                         @if names { td { (r.members.join(" + ")) } } td { (format_pence(r.value_pence)) } }
                }
            }
        }
    }
}

fn kpi_words() -> Markup {
    html! {
        dl class="card" {
            dt { "Brokered value" } dd { "The value of contracts members won after the brokerage introduced them, counted on the date of the win. The programme's target is £1,000,000, shared evenly between the programme clusters." }
            dt { "Members" } dd { "Organisations belonging to each cluster now, against the cluster's target number of members." }
            dt { "SEGA referrals" } dd { "Members the brokerage referred to the SEGA programme, against each cluster's target." }
            dt { "SEDF referrals" } dd { "Members the brokerage referred to the SEDF programme, against each cluster's target." }
            dt { "Turnover growth" } dd { "Members whose yearly returns show their turnover growing by at least the target percentage a year." }
        }
    }
}

fn kpi_table(kpis: &Kpis) -> Markup {
    html! {
        div class="scroll" {
            table {
                caption { "KPIs by cluster, against their targets" }
                tr { th scope="col" { "Cluster" } th scope="col" { "Members" } th scope="col" { "SEGA referrals" } th scope="col" { "SEDF referrals" } th scope="col" { "Brokered" } }
                @for c in &kpis.clusters {
                    tr { th scope="row" { (c.cluster) } td { (c.members) " of " (c.members_target) } td { (c.sega_referrals) " of " (c.sega_target) }
                         td { (c.sedf_referrals) " of " (c.sedf_target) } td { (format_pence(c.brokered_pence)) } }
                }
            }
        }
        p { (kpis.turnover_growth_members_meeting_target) " of " (kpis.turnover_growth_members_reporting)
            " members reporting two years of turnover grew by at least " (kpis.turnover_growth_target_percent) "% a year." }
    }
}

fn cluster_table(by_cluster: &Totals) -> Markup {
    html! {
        div class="scroll" {
            table {
                caption { "Brokered value by cluster" }
                tr { th scope="col" { "Cluster" } th scope="col" { "Brokered" } th scope="col" { "Target" } th scope="col" { "Progress" } }
                @for r in &by_cluster.rows {
                    tr { th scope="row" { (r.key) } td { (format_pence(r.value_pence)) } td { (r.target_pence.map(format_pence).unwrap_or_default()) }
                         td style="min-width:6rem" { @if let Some(p) = r.progress_percent { (bar(p, &format!("{} progress", r.key))) (format!("{p:.1}%")) } } }
                }
            }
        }
    }
}

/// Everything the dashboard reads, at one moment.
struct Loaded {
    by_cluster: Totals,
    by_month: Totals,
    kpis: Kpis,
    wins: Vec<WinRow>,
    at: OffsetDateTime,
}

fn load(app: &sebroker_engine::Engine) -> Loaded {
    let at = OffsetDateTime::now_utc();
    let set = app.member_set();
    let name_of = |id: &str| {
        set.members
            .get(id)
            .map_or_else(|| id.to_owned(), |m| m.name.clone())
    };
    let cases = sebroker_engine::views::cases(app);
    Loaded {
        by_cluster: sebroker_engine::views::totals(app, By::Cluster),
        by_month: sebroker_engine::views::totals(app, By::Month),
        kpis: sebroker_engine::views::kpis(app, at.date()),
        wins: wins(&cases, &name_of),
        at,
    }
}

fn downloads(names: bool) -> Markup {
    html! {
        h2 { "Downloads (CSV, in pounds)" }
        ul {
            li { a href="/dashboard/totals.csv?by=cluster" { "Brokered value by cluster" } }
            li { a href="/dashboard/totals.csv?by=month" { "Brokered value by month" } }
            li { a href="/dashboard/totals.csv?by=wins" { "The wins behind the total" } }
            @if names { li { a href="/dashboard/totals.csv?by=member" { "Brokered value by member" } } }
        }
    }
}

pub async fn dashboard(State(state): State<super::State>, viewer: Viewer) -> Response {
    let app = state.app.clone();
    let l = match crate::blocking::run(move || load(&app)).await {
        Ok(x) => x,
        Err(e) => return internal(&e),
    };
    let names = allows(Action::TotalsByMember, viewer.session.role);
    let (from, to) = month_span(&l.kpis, &l.by_month, l.at.date());
    let months = every_month(&l.by_month, from, to);
    let t = &l.by_cluster;
    let body = html! {
        h1 { "Brokered value" }
        p class="muted" { "As at " time datetime=(l.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()) { (l.at.date()) " " (format!("{:02}:{:02}", l.at.hour(), l.at.minute())) " UTC" } }
        div class="card" {
            p { strong id="total" { (format_pence(t.total_pence)) } " of " (format_pence(t.target_pence)) " target (" (format!("{:.1}", t.progress_percent)) "%) · " (t.wins) @if t.wins == 1 { " win" } @else { " wins" } }
            (bar(t.progress_percent, "Progress to the target"))
        }
        h2 { "Month by month" }
        (chart(&months, t.target_pence))
        (cluster_table(t))
        h2 { "Wins" }
        (wins_table(&l.wins, names))
        h2 { "KPIs" }
        (kpi_words())
        (kpi_table(&l.kpis))
        (downloads(names))
    };
    page(&viewer, "Dashboard", body).into_response()
}

#[derive(Deserialize)]
pub struct ByParam {
    by: Option<String>,
}

/// A totals table in pounds, with its key column named.
fn totals_csv_text(t: &Totals, key: &str) -> String {
    let columns = [
        key,
        "brokered_gbp",
        "wins",
        "target_gbp",
        "progress_percent",
    ]
    .map(str::to_owned);
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            vec![
                crate::csv::text_cell(&r.key),
                pounds(r.value_pence),
                r.wins.to_string(),
                r.target_pence.map(pounds).unwrap_or_default(),
                r.progress_percent
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    crate::csv::write(&columns, &rows)
}

/// Every month with its value and the running total, in pounds.
fn months_csv_text(months: &[(String, i64)]) -> String {
    let columns = ["month", "brokered_gbp", "cumulative_gbp"].map(str::to_owned);
    let mut total = 0i64;
    let rows: Vec<Vec<String>> = months
        .iter()
        .map(|(m, v)| {
            total = total.saturating_add(*v);
            vec![m.clone(), pounds(*v), pounds(total)]
        })
        .collect();
    crate::csv::write(&columns, &rows)
}

/// The wins, in pounds; members named only when `names`.
fn wins_csv_text(rows: &[WinRow], names: bool) -> String {
    let mut columns = vec!["date", "notice", "ocid", "cluster"];
    if names {
        columns.push("member");
    }
    columns.push("value_gbp");
    let columns: Vec<String> = columns.into_iter().map(str::to_owned).collect();
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut l = vec![
                r.date.to_string(),
                crate::csv::text_cell(&r.title),
                crate::csv::text_cell(&r.ocid),
                crate::csv::text_cell(&r.clusters.join(" + ")),
            ];
            if names {
                l.push(crate::csv::text_cell(&r.members.join(" + ")));
            }
            l.push(pounds(r.value_pence));
            l
        })
        .collect();
    crate::csv::write(&columns, &lines)
}

/// `GET /dashboard/totals.csv?by=cluster|month|wins|member|source|…`: in
/// pounds, each download under its own file name.
pub async fn totals_csv(
    State(state): State<super::State>,
    principal: crate::principal::Principal,
    Query(q): Query<ByParam>,
) -> Response {
    let which = q.by.unwrap_or_else(|| "cluster".into());
    let names = principal.allows(Action::TotalsByMember).is_ok();
    let app = state.app.clone();
    let day = OffsetDateTime::now_utc().date();
    let (text, file) = if which == "wins" || which == "month" {
        let l = match crate::blocking::run(move || load(&app)).await {
            Ok(x) => x,
            Err(e) => return internal(&e),
        };
        if which == "wins" {
            (
                wins_csv_text(&l.wins, names),
                format!("sebroker-wins-{day}.csv"),
            )
        } else {
            let (from, to) = month_span(&l.kpis, &l.by_month, l.at.date());
            let months = every_month(&l.by_month, from, to);
            (
                months_csv_text(&months),
                format!("sebroker-brokered-by-month-{day}.csv"),
            )
        }
    } else {
        let by = match By::parse(&which) {
            Ok(b) => b,
            Err(e) => return refused(&e.to_string()),
        };
        if by == By::Member {
            // The same refinement the API asks: funders see aggregates only.
            if let Err(e) = principal.allows(Action::TotalsByMember) {
                return super::refusal_page(&e);
            }
        }
        let t = match crate::blocking::run(move || sebroker_engine::views::totals(&app, by)).await {
            Ok(t) => t,
            Err(e) => return internal(&e),
        };
        let file = format!("sebroker-brokered-by-{}-{day}.csv", by.as_str());
        (totals_csv_text(&t, by.as_str()), file)
    };
    crate::csv::response(text, Some(&file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sebroker_ledger::totals::TotalRow;

    #[test]
    fn pence_become_pounds_exactly() {
        assert_eq!(pounds(123_456), "1234.56");
        assert_eq!(pounds(5), "0.05");
        assert_eq!(pounds(0), "0.00");
        assert_eq!(pounds(-105), "-1.05");
        assert_eq!(pounds(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn every_month_is_listed_with_or_without_wins() {
        let row = |key: &str, v| TotalRow {
            key: key.into(),
            value_pence: v,
            wins: 1,
            target_pence: None,
            progress_percent: None,
        };
        let t = Totals {
            by: "month",
            total_pence: 300,
            target_pence: 1000,
            progress_percent: 30.0,
            wins: 2,
            rows: vec![row("2025-11", 100), row("2026-02", 200)],
        };
        let d = |y, m| Date::from_calendar_date(y, m, 15).expect("date");
        let months = every_month(&t, d(2025, Month::October), d(2026, Month::March));
        let keys: Vec<&str> = months.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
        );
        assert_eq!(months[1].1, 100);
        assert_eq!(months[3].1, 0);
        assert_eq!(
            months_csv_text(&months).lines().nth(5),
            Some("2026-02,2.00,3.00")
        );
    }
}
