//! `/market`: the market map for brokers and the funder: a tile-grid map of
//! the West Midlands' local authorities and their neighbours (no boundary
//! files needed), shaded by open VCSE-suitable value with the clusters
//! marked, the table by place, the top gaps per cluster and a month-by-month
//! chart; `/market.csv` downloads the table. Counts only: no member named.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use sebroker_connectors::money::format_pence;
use sebroker_engine::market::{Market, MarketParams, MarketRow, Month};

use super::auth::{urlencode, Viewer};
use super::internal;
use super::layout::{message, page};
use crate::policy::{allows, Action};

/// The map's tiles: (GSS code, short label, column, row), north at the
/// top. The West Midlands and the authorities around it.
const TILES: &[(&str, &str, u8, u8)] = &[
    ("W06000006", "Wrexham", 0, 0),
    ("E06000050", "Cheshire W", 1, 0),
    ("E06000049", "Cheshire E", 2, 0),
    ("E07000198", "Staffs Moor", 3, 0),
    ("E07000035", "Derbys Dales", 4, 0),
    ("E06000051", "Shropshire", 0, 1),
    ("E07000195", "Newcastle", 1, 1),
    ("E06000021", "Stoke", 2, 1),
    ("E07000193", "E Staffs", 3, 1),
    ("E07000039", "S Derbys", 4, 1),
    ("E06000020", "Telford", 0, 2),
    ("E07000197", "Stafford", 1, 2),
    ("E07000192", "Cannock", 2, 2),
    ("E07000194", "Lichfield", 3, 2),
    ("E07000199", "Tamworth", 4, 2),
    ("E07000134", "NW Leics", 5, 2),
    ("W06000023", "Powys", 0, 3),
    ("E07000196", "S Staffs", 1, 3),
    ("E08000031", "Wolverhampton", 2, 3),
    ("E08000030", "Walsall", 3, 3),
    ("E07000218", "N Warks", 4, 3),
    ("E07000132", "Hinckley", 5, 3),
    ("E07000239", "Wyre Forest", 1, 4),
    ("E08000027", "Dudley", 2, 4),
    ("E08000028", "Sandwell", 3, 4),
    ("E08000025", "Birmingham", 4, 4),
    ("E07000219", "Nuneaton", 5, 4),
    ("E07000234", "Bromsgrove", 2, 5),
    ("E07000236", "Redditch", 3, 5),
    ("E08000029", "Solihull", 4, 5),
    ("E08000026", "Coventry", 5, 5),
    ("E07000220", "Rugby", 6, 5),
    ("E06000019", "Herefordshire", 0, 6),
    ("E07000235", "Malvern Hills", 1, 6),
    ("E07000237", "Worcester", 2, 6),
    ("E07000238", "Wychavon", 3, 6),
    ("E07000222", "Warwick", 4, 6),
    ("W06000021", "Monmouth", 0, 7),
    ("E07000080", "Forest of Dean", 1, 7),
    ("E07000083", "Tewkesbury", 2, 7),
    ("E07000079", "Cotswold", 3, 7),
    ("E07000221", "Stratford", 4, 7),
    ("E07000177", "Cherwell", 5, 7),
];

/// Fill colours from no value to the most, and the text on each.
const SHADES: [(&str, &str); 5] = [
    ("#f3f2f1", "#0b0c0c"),
    ("#c6dbef", "#0b0c0c"),
    ("#6baed6", "#0b0c0c"),
    ("#2171b5", "#ffffff"),
    ("#08306b", "#ffffff"),
];
const TILE: u32 = 78;

pub async fn page_market(
    State(state): State<super::State>,
    viewer: Viewer,
    Query(p): Query<MarketParams>,
) -> Response {
    let app = state.app.clone();
    let done = crate::blocking::run(move || {
        let places = sebroker_engine::market::market(
            &app,
            &MarketParams {
                by: Some("local_authority".into()),
                ..p.clone()
            },
        )?;
        let clusters = sebroker_engine::market::market(
            &app,
            &MarketParams {
                by: Some("cluster".into()),
                ..p
            },
        )?;
        let cpv = app.cpv_table()?;
        Ok::<_, sebroker_engine::Error>((places, clusters, cpv, app.config.cluster_places.clone()))
    })
    .await;
    let (places, clusters, cpv, cluster_places) = match done {
        Ok(Ok(x)) => x,
        Ok(Err(
            sebroker_engine::Error::Invalid(m)
            | sebroker_engine::Error::Unprocessable { message: m, .. },
        )) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                message("Not a market query", &m),
            )
                .into_response()
        }
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    let searchable = allows(Action::PageSearch, viewer.session.role);
    let clustered: Vec<String> = cluster_places.values().flatten().cloned().collect();
    let division = |g: &str| -> String {
        let (d, v) = g.split_once('=').unwrap_or((g, "0"));
        let name = cpv
            .describe(&format!("{d}000000"))
            .unwrap_or("CPV division");
        format!("{d} {name}: {}", format_pence(v.parse().unwrap_or(0)))
    };
    let body = html! {
        h1 { "The market map" }
        p class="muted" {
            "Open opportunities at " (places.now.date()) ", awards from " (places.from.date()) " to " (places.to.date())
            ". Members count when a match scores at least " (places.threshold) ". "
            a href={ "/market.csv?now=" (urlencode(&places.now.date().to_string())) } { "Download the table (CSV)" }
        }
        div class="market" {
            section class="market-map" {
                h2 { "Open VCSE-suitable value by local authority" }
                (map(&places, &clustered, searchable))
                (legend())
            }
            section {
                h2 { "Top gaps per cluster" }
                p class="muted" { "CPV divisions with open value where no member matches yet." }
                @for r in &clusters.rows {
                    div class="card" {
                        h3 { (r.name) }
                        p { (r.open_notices) " open · " (format_pence(r.vcse_suitable_open_value_pence)) " VCSE-suitable · " (r.members) " members, " (r.matched_members) " matched" }
                        @if r.gaps.is_empty() { p class="muted" { "No gaps: every division with open value has a match." } }
                        @else { ol { @for g in r.gaps.iter().take(5) { li { (division(g)) } } } }
                    }
                }
            }
        }
        h2 { "Month by month" }
        (chart(&places.timeline))
        h2 { "By place" }
        (table(&places, searchable))
    };
    page(&viewer, "Market map", body).into_response()
}

/// The row that holds an authority: its own, or its shared NUTS3 area's.
fn row_of<'a>(m: &'a Market, gss: &str) -> Option<&'a MarketRow> {
    m.rows
        .iter()
        .find(|r| r.authorities.iter().any(|a| a == gss))
}

fn search_link(region: &str, now: &Market) -> String {
    format!(
        "/search?status=open&region={}&now={}",
        urlencode(region),
        urlencode(&now.now.date().to_string())
    )
}

fn shade(v: i64, max: i64) -> usize {
    if v <= 0 || max <= 0 {
        return 0;
    }
    // Four equal steps of the largest value.
    let step = (v as f64 / max as f64 * 4.0).ceil() as usize;
    step.clamp(1, 4)
}

fn map(m: &Market, clustered: &[String], searchable: bool) -> Markup {
    let max = m
        .rows
        .iter()
        .map(|r| r.vcse_suitable_open_value_pence)
        .max()
        .unwrap_or(0);
    let (w, h) = (7 * TILE, 8 * TILE);
    html! {
        svg viewBox={ "0 0 " (w) " " (h) } width="100%" class="tiles" aria-labelledby="map-title" {
            title id="map-title" { "Tile map of the West Midlands' local authorities and their neighbours, shaded by open VCSE-suitable value; clusters outlined in red" }
            @for (gss, label, col, rowi) in TILES {
                @let row = row_of(m, gss);
                @let v = row.map_or(0, |r| r.vcse_suitable_open_value_pence);
                @let (fill, ink) = SHADES[shade(v, max)];
                @let x = u32::from(*col) * TILE;
                @let y = u32::from(*rowi) * TILE;
                @let cluster = clustered.iter().any(|c| c == gss);
                @let tip = match row {
                    Some(r) => format!("{}: {} open, {} VCSE-suitable, {} members", r.name, r.open_notices, format_pence(v), r.members),
                    None => format!("{label}: no data (outside the places table)"),
                };
                @let tile = html! {
                    rect x=(x + 2) y=(y + 2) width=(TILE - 4) height=(TILE - 4) fill=(fill)
                        stroke=(if cluster { "#d4351c" } else { "#b1b4b6" }) stroke-width=(if cluster { 5 } else { 1 }) {}
                    text x=(x + TILE / 2) y=(y + TILE / 2) fill=(ink) font-size="10" text-anchor="middle" { (label) }
                    @if let Some(r) = row { text x=(x + TILE / 2) y=(y + TILE / 2 + 14) fill=(ink) font-size="10" text-anchor="middle" { (r.open_notices) " open" } }
                };
                @match (row.and_then(|r| r.region.as_deref()), searchable) {
                    (Some(_), true) => a href=(search_link(gss, m)) aria-label=(tip) { title { (tip) } (tile) },
                    _ => g role="img" aria-label=(tip) { title { (tip) } (tile) },
                }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        p class="legend" {
            @for (i, (fill, _)) in SHADES.iter().enumerate() {
                span class="swatch" style={ "background:" (fill) } {}
                (["none", "low", "some", "high", "most"][i]) " "
            }
            span class="swatch cluster" {} "a cluster's place"
        }
    }
}

fn chart(months: &[Month]) -> Markup {
    let (w, h, pad) = (640.0f64, 220.0f64, 40.0f64);
    let max = months
        .iter()
        .map(|m| {
            m.open_vcse_suitable_value_pence
                .max(m.awarded_to_vcse_value_pence)
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bw = (w - 2.0 * pad) / months.len().max(1) as f64;
    let bar = |v: i64| (v as f64 / max) * (h - 2.0 * pad);
    html! {
        svg viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="VCSE-suitable value open, and value awarded to VCSEs, by month" {
            title { "VCSE-suitable value open (blue) and awarded to VCSEs (green), by month" }
            line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) stroke="#0b0c0c" {}
            @for (i, m) in months.iter().enumerate() {
                @let x = pad + i as f64 * bw;
                @let (a, b) = (bar(m.open_vcse_suitable_value_pence), bar(m.awarded_to_vcse_value_pence));
                rect x=(format!("{:.1}", x + bw * 0.1)) y=(format!("{:.1}", h - pad - a)) width=(format!("{:.1}", bw * 0.4)) height=(format!("{:.1}", a)) fill="#1d70b8" {}
                rect x=(format!("{:.1}", x + bw * 0.5)) y=(format!("{:.1}", h - pad - b)) width=(format!("{:.1}", bw * 0.4)) height=(format!("{:.1}", b)) fill="#00703c" {}
                @if i % 2 == 0 { text x=(format!("{:.1}", x + bw / 2.0)) y=(h - pad + 16.0) font-size="10" text-anchor="middle" { (m.month) } }
            }
        }
        div class="scroll" tabindex="0" role="region" aria-label="The chart's figures" { table class="market-months" {
            caption { "The chart's figures" }
            tr { th scope="col" { "Month" } th scope="col" { "VCSE-suitable open" } th scope="col" { "VCSE-suitable published" } th scope="col" { "Awarded to VCSEs" } }
            @for m in months.iter().filter(|m| m.open_vcse_suitable_value_pence > 0 || m.published_vcse_suitable_value_pence > 0 || m.awarded_to_vcse_value_pence > 0) {
                tr { td { (m.month) } td { (format_pence(m.open_vcse_suitable_value_pence)) } td { (format_pence(m.published_vcse_suitable_value_pence)) } td { (format_pence(m.awarded_to_vcse_value_pence)) } }
            }
        } }
    }
}

fn table(m: &Market, searchable: bool) -> Markup {
    html! {
        div class="scroll" tabindex="0" role="region" aria-label="The market by place" {
            table class="market-table" {
                caption { "The market by place" }
                tr {
                    th scope="col" { "Place" } th scope="col" { "Open" } th scope="col" { "Open value" }
                    th scope="col" { "VCSE-suitable" } th scope="col" { "Reserved" } th scope="col" { "Social value weighted" }
                    th scope="col" { "Awarded" } th scope="col" { "To VCSEs" } th scope="col" { "Members" } th scope="col" { "Matched" } th scope="col" { "Top gaps" }
                }
                @for r in m.rows.iter().chain(std::iter::once(&m.total)) {
                    tr {
                        td { @match (&r.region, searchable) { (Some(reg), true) => a href=(search_link(reg, m)) { (r.name) }, _ => (r.name) } }
                        td { (r.open_notices) } td { (format_pence(r.open_value_pence)) } td { (format_pence(r.vcse_suitable_open_value_pence)) }
                        td { (format_pence(r.reserved_open_value_pence)) } td { (r.social_value_weighted_notices) }
                        td { (format_pence(r.awarded_value_pence)) } td { (format_pence(r.awarded_to_vcse_value_pence)) }
                        td { (r.members) } td { (r.matched_members) }
                        td { (r.gaps.iter().take(3).map(|g| g.split('=').next().unwrap_or("")).collect::<Vec<_>>().join(", ")) }
                    }
                }
            }
        }
    }
}

/// `/market.csv`: the table by place, the same CSV as the API's.
pub async fn csv(State(state): State<super::State>, Query(p): Query<MarketParams>) -> Response {
    let app = state.app.clone();
    let done = crate::blocking::run(move || sebroker_engine::market::market(&app, &p)).await;
    match done {
        Ok(Ok(m)) => match serde_json::to_value(&m) {
            Ok(v) => crate::csv::response(crate::csv::to_csv(&v), Some("market.csv")),
            Err(e) => internal(&e),
        },
        Ok(Err(
            sebroker_engine::Error::Invalid(msg)
            | sebroker_engine::Error::Unprocessable { message: msg, .. },
        )) => (
            axum::http::StatusCode::BAD_REQUEST,
            message("Not a market query", &msg),
        )
            .into_response(),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e),
    }
}
