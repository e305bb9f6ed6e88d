//! A broker's working day in headless Chromium: search (opening form,
//! facets, pagination, a bad filter kept at its field), a notice, a case
//! opened from a consortium proposal, steps (only forward ones offered), a
//! wrong win value corrected, a second case refused and linked, the
//! pipeline, the members list and a member page; the funder's dashboard
//! follows. Every page passes `audit_page` (axe-core, 390 px).

use crate::browser::{
    audit_page, browser, demo_server_with_keys, sign_in, wait_for, wait_for_path, wait_for_query,
};
use fantoccini::{Client, Locator};

/// The demo notice with a consortium proposal (Warm Homes retrofit).
const NOTICE: &str = "ocds-h6vhtk-d00002";

/// The text of `main`; read again when a form's reload replaced the
/// element between finding it and reading it (a stale element).
async fn main_text(c: &Client) -> String {
    for _ in 0..50 {
        if let Ok(t) = wait_for(c, "main").await.text().await {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    wait_for(c, "main").await.text().await.expect("text")
}

/// Waits until the case's stage reads `want` (the page reloads after a form).
async fn wait_for_stage(c: &Client, want: &str) {
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css("#case-status")).await {
            if e.text().await.is_ok_and(|t| t == want) {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the case never reached {want:?}: {}", main_text(c).await);
}

async fn options(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for o in c.find_all(Locator::Css(css)).await.expect("options") {
        out.push(o.attr("value").await.expect("attr").unwrap_or_default());
    }
    out
}

async fn search_pages(c: &Client, url: &str) {
    c.goto(&format!("{url}/search")).await.expect("search");
    let status = wait_for(c, "select#status option[selected]").await;
    assert_eq!(
        status.attr("value").await.expect("attr").as_deref(),
        Some("open")
    );
    let sort = wait_for(c, "select#sort option[selected]").await;
    assert_eq!(
        sort.attr("value").await.expect("attr").as_deref(),
        Some("deadline")
    );
    let counted = wait_for(c, "p[role=status]").await.text().await.expect("t");
    assert!(counted.starts_with("1–"), "{counted}");
    audit_page(c, "search").await;
    // A facet is a link with a count that narrows the search.
    let facet = wait_for(c, "section.facets a[href*='source=']").await;
    facet.click().await.expect("facet");
    wait_for_query(c, "source=").await;
    assert!(wait_for(c, "p[role=status]")
        .await
        .text()
        .await
        .expect("t")
        .contains(" of "));
    // Every status: more than one page, "21–40 of N" after "Next".
    c.goto(&format!("{url}/search?status=")).await.expect("all");
    wait_for(c, "a[rel=next]")
        .await
        .click()
        .await
        .expect("next");
    wait_for_query(c, "offset=20").await;
    let counted = wait_for(c, "p[role=status]").await.text().await.expect("t");
    assert!(counted.starts_with("21–"), "{counted}");
    wait_for(c, "a[rel=prev]").await;
    // A bad offset stays at its field, with what was typed.
    c.goto(&format!("{url}/search?q=youth&offset=-1"))
        .await
        .expect("bad");
    let err = wait_for(c, "#offset-error").await.text().await.expect("t");
    assert!(err.contains("-1"), "{err}");
    let typed = wait_for(c, "input#offset")
        .await
        .prop("value")
        .await
        .expect("v");
    assert_eq!(typed.as_deref(), Some("-1"));
    assert_eq!(
        wait_for(c, "input#q")
            .await
            .prop("value")
            .await
            .expect("v")
            .as_deref(),
        Some("youth")
    );
    audit_page(c, "search-bad-filter").await;
    // Nothing found says what to try.
    c.goto(&format!("{url}/search?q=zzqqxxnothing"))
        .await
        .expect("empty");
    assert!(main_text(c).await.contains("Try fewer or other words"));
}

/// Opens the consortium's case from the notice page; its URL.
async fn open_consortium_case(c: &Client, url: &str) -> String {
    c.goto(&format!("{url}/notices/{NOTICE}"))
        .await
        .expect("notice");
    wait_for(c, "details.card").await;
    let body = main_text(c).await;
    assert!(!body.to_lowercase().contains("lot 1 lot 1"), "{body}");
    assert!(body.contains("past work with this buyer"), "{body}");
    audit_page(c, "notice").await;
    wait_for(c, "form:has(input[name=members]) button")
        .await
        .click()
        .await
        .expect("open");
    wait_for_stage(c, "identified").await;
    c.current_url().await.expect("url").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_works_a_consortium_case_and_the_funder_sees_the_win() {
    let Some(b) = browser("a_broker_works_a_consortium_case_and_the_funder_sees_the_win").await
    else {
        return;
    };
    let (mut server, url, keys) = demo_server_with_keys();
    let c = &b.client;
    sign_in(c, &url, keys.get("broker").expect("broker key")).await;
    search_pages(c, &url).await;
    let case_url = open_consortium_case(c, &url).await;
    audit_page(c, "case").await;
    // Only forward steps are offered.
    let next = options(c, "select#step option").await;
    assert!(!next.contains(&"identified".to_owned()), "{next:?}");
    wait_for(c, "select#step")
        .await
        .select_by_value("introduced")
        .await
        .expect("intro");
    wait_for(c, "#notes")
        .await
        .send_keys("met the partners")
        .await
        .expect("notes");
    wait_for(c, "form[action$='/events'] button")
        .await
        .click()
        .await
        .expect("record");
    wait_for_stage(c, "introduced").await;
    let next = options(c, "select#step option").await;
    assert!(
        !next.contains(&"introduced".to_owned()),
        "no backward step: {next:?}"
    );
    // A bad value stays on the page with the notes typed.
    wait_for(c, "select#step")
        .await
        .select_by_value("won")
        .await
        .expect("won");
    wait_for(c, "#value")
        .await
        .send_keys("lots")
        .await
        .expect("value");
    wait_for(c, "#notes")
        .await
        .send_keys("contract signed")
        .await
        .expect("notes");
    wait_for(c, "form[action$='/events'] button")
        .await
        .click()
        .await
        .expect("record");
    let err = wait_for(c, "#step-error").await.text().await.expect("t");
    assert!(err.contains("lots"), "{err}");
    assert_eq!(
        wait_for(c, "#notes")
            .await
            .prop("value")
            .await
            .expect("v")
            .as_deref(),
        Some("contract signed")
    );
    // A wrong win value, then corrected: void + the right win.
    wait_for(c, "select#step")
        .await
        .select_by_value("won")
        .await
        .expect("won");
    let value = wait_for(c, "#value").await;
    value.clear().await.expect("clear");
    value.send_keys("15000").await.expect("value");
    wait_for(c, "form[action$='/events'] button")
        .await
        .click()
        .await
        .expect("record");
    wait_for_stage(c, "won").await;
    assert!(main_text(c).await.contains("£15,000.00"));
    wait_for(c, "#correct-value")
        .await
        .send_keys("150000")
        .await
        .expect("v");
    wait_for(c, "#correct-notes")
        .await
        .send_keys("a zero was missing")
        .await
        .expect("n");
    wait_for(c, "form:has(#correct-value) button")
        .await
        .click()
        .await
        .expect("correct");
    wait_for(c, "#correct-value").await;
    for _ in 0..100 {
        if main_text(c).await.contains("£150,000.00") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let body = main_text(c).await;
    assert!(
        body.contains("Won\n£150,000.00") || body.contains("£150,000.00 (counted"),
        "{body}"
    );
    assert!(body.contains("voided by step"), "{body}");
    let stamp = wait_for(c, "ol.log time")
        .await
        .attr("datetime")
        .await
        .expect("attr")
        .unwrap_or_default();
    assert!(
        stamp.contains('T') && (stamp.ends_with('Z') || stamp.contains('+')),
        "{stamp}"
    );
    // A second case for the same consortium is refused and linked.
    c.goto(&format!("{url}/notices/{NOTICE}"))
        .await
        .expect("notice");
    wait_for(c, "form:has(input[name=members]) button")
        .await
        .click()
        .await
        .expect("again");
    let link = wait_for(c, "#open-case-error a").await;
    let href = link.attr("href").await.expect("href").unwrap_or_default();
    assert!(case_url.ends_with(&href), "{href} vs {case_url}");
    audit_page(c, "notice-case-exists").await;
    // The pipeline, the members list and a member page.
    c.goto(&format!("{url}/pipeline")).await.expect("pipeline");
    wait_for(c, "details#closed").await;
    assert!(main_text(c).await.contains("Closed cases (1)"));
    audit_page(c, "pipeline").await;
    c.goto(&format!("{url}/members?q=caldmore&sort=turnover"))
        .await
        .expect("members");
    let rows = c
        .find_all(Locator::Css("table tr"))
        .await
        .expect("rows")
        .len();
    assert!(rows >= 2, "a header and Caldmore");
    audit_page(c, "members").await;
    c.goto(&format!("{url}/members/m-0002"))
        .await
        .expect("member");
    wait_for(c, "a[href^='/cases/']").await;
    audit_page(c, "member").await;
    // The funder's dashboard follows the corrected win.
    wait_for(c, "header form button")
        .await
        .click()
        .await
        .expect("sign out");
    wait_for_path(c, "/signin").await;
    sign_in(c, &url, keys.get("funder").expect("funder key")).await;
    c.goto(&format!("{url}/dashboard"))
        .await
        .expect("dashboard");
    assert_eq!(
        wait_for(c, "#total").await.text().await.expect("t"),
        "£150,000.00"
    );
    let _ = c.clone().close().await;
    let _ = server.kill();
    let _ = server.wait();
}
