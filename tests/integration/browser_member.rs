//! A member's journey and the funder's downloads in a real headless
//! Chromium against `serve --demo`: every page built for them checked with
//! axe-core, screenshotted, and at 390 px without sideways scrolling
//! (`browser::audit_page`).

use fantoccini::Client;
use serde_json::Value;

use crate::browser::{
    audit_page, browser, demo_server_with_keys, demo_server_with_keys_env, sign_in,
    sign_in_account, wait_for, wait_for_path,
};

/// Runs `fetch` inside the page (the session's cookie goes with it) and
/// answers `[status, content-disposition, text]`.
async fn fetch(
    c: &Client,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u64, String, String) {
    let auth = bearer
        .map(|k| format!("'Authorization': 'Bearer {k}',"))
        .unwrap_or_default();
    let body = body
        .map(|b| format!("body: JSON.stringify({b}),"))
        .unwrap_or_default();
    let script = format!(
        "return fetch('{path}', {{method: '{method}', headers: {{{auth} 'Content-Type': 'application/json', 'Idempotency-Key': 'b-' + Math.random()}}, {body}}})
           .then(r => r.text().then(t => [r.status, r.headers.get('content-disposition') || '', t]))"
    );
    let v = c.execute(&script, vec![]).await.expect("fetch");
    (
        v[0].as_u64().unwrap_or(0),
        v[1].as_str().unwrap_or_default().to_owned(),
        v[2].as_str().unwrap_or_default().to_owned(),
    )
}

async fn text(c: &Client, css: &str) -> String {
    wait_for(c, css).await.text().await.expect("text")
}

async fn set_field(c: &Client, css: &str, value: &str) {
    let e = wait_for(c, css).await;
    e.clear().await.expect("clear");
    e.send_keys(value).await.expect("type");
}

async fn member_reads_and_asks(c: &Client) {
    wait_for_path(c, "/opportunities").await;
    audit_page(c, "member-opportunities").await;
    wait_for(c, "article h2 a")
        .await
        .click()
        .await
        .expect("open a notice");
    wait_for(c, "#ask").await;
    let main = text(c, "main").await;
    for words in [
        "Why it fits you",
        "Deadline",
        "Places",
        "Lots",
        "your services",
    ] {
        if words == "Lots" && !main.contains("Lots") {
            continue;
        }
        assert!(main.contains(words), "{words}: {main}");
    }
    audit_page(c, "member-notice").await;
    wait_for(c, "form[action$='/interest'] button")
        .await
        .click()
        .await
        .expect("ask");
    let said = text(c, "#ask ~ p[role=status], section p[role=status]").await;
    assert!(said.contains("You asked the brokerage"), "{said}");
}

async fn member_changes_settings(c: &Client, url: &str, own: &str, key: &str) {
    c.goto(&format!("{url}/settings")).await.expect("settings");
    audit_page(c, "member-settings").await;
    wait_for(c, "#frequency")
        .await
        .select_by_value("instant")
        .await
        .expect("instant");
    set_field(c, "#threshold", "0").await;
    set_field(c, "#email", "alerts@example.org").await;
    let feed = wait_for(c, "input[name=feed]").await;
    if feed.prop("checked").await.expect("checked").as_deref() != Some("true") {
        feed.click().await.expect("feed on");
    }
    wait_for(c, "button[value=save]")
        .await
        .click()
        .await
        .expect("save");
    assert!(text(c, "p.ok").await.contains("saved"));
    // Applied: the page shows it again, and the API agrees.
    c.goto(&format!("{url}/settings")).await.expect("reload");
    let v = wait_for(c, "#threshold")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(v.as_deref(), Some("0"));
    assert!(wait_for(c, "#feed-url")
        .await
        .text()
        .await
        .expect("feed")
        .contains("/feeds/"));
    let (st, _, body) = fetch(
        c,
        "GET",
        &format!("/api/v1/members/{own}/alerts"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["settings"]["frequency"], "instant", "{v}");
    assert_eq!(v["settings"]["email"], "alerts@example.org", "{v}");
}

/// The e-mail's unsubscribe link (read from the outbox), opened in the
/// browser: a page that asks, then one that says it is done.
async fn unsubscribe_from_the_email(c: &Client, url: &str, outbox: &std::path::Path) {
    let mut eml = None;
    for _ in 0..200 {
        eml = std::fs::read_dir(outbox)
            .into_iter()
            .flatten()
            .flatten()
            .find_map(|f| std::fs::read_to_string(f.path()).ok());
        if eml.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let eml = eml.expect("the alert e-mail in the outbox");
    let token = eml
        .split("/unsubscribe/")
        .nth(1)
        .and_then(|r| r.split(['>', '"', '\r', '\n']).next())
        .expect("an unsubscribe link");
    c.goto(&format!("{url}/unsubscribe/{token}"))
        .await
        .expect("unsubscribe");
    audit_page(c, "unsubscribe").await;
    wait_for(c, "main form button")
        .await
        .click()
        .await
        .expect("stop e-mails");
    crate::browser::wait_for_text(c, "main h1", "Alert e-mails stopped").await;
    audit_page(c, "unsubscribed").await;
}

async fn member_reads_alerts_and_profile(
    c: &Client,
    url: &str,
    admin: &str,
    outbox: &std::path::Path,
) {
    let (st, _, body) = fetch(
        c,
        "POST",
        "/api/v1/alerts/run",
        Some(admin),
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    c.goto(&format!("{url}/alerts")).await.expect("alerts");
    wait_for(c, "article.card a[href^='/opportunities/']").await;
    audit_page(c, "member-alerts").await;
    unsubscribe_from_the_email(c, url, outbox).await;
    c.goto(&format!("{url}/profile?cpv_q=services"))
        .await
        .expect("profile");
    wait_for(c, "#description").await;
    audit_page(c, "member-profile").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_reads_a_notice_asks_about_it_sets_its_alerts_and_reads_them() {
    let Some(b) =
        browser("a_member_reads_a_notice_asks_about_it_sets_its_alerts_and_reads_them").await
    else {
        return;
    };
    // E-mails go to an outbox the test can read.
    let dir = tempfile::tempdir().expect("tmp");
    let outbox = dir.path().join("outbox");
    let config = dir.path().join("sebroker.toml");
    std::fs::write(
        &config,
        format!(
            "[alerts]\noutbox_dir = {:?}\n",
            outbox.display().to_string()
        ),
    )
    .expect("config");
    let (mut server, url, keys) =
        demo_server_with_keys_env(&[("SEBROKER_CONFIG", &config.display().to_string())]);
    let c = &b.client;
    let (label, key) = keys
        .iter()
        .find(|(l, _)| l.starts_with("member "))
        .expect("member key");
    let own = label.trim_start_matches("member ").to_owned();
    let admin = keys.get("admin").expect("admin key").clone();
    // A person signs in with the member's account (the key is kept for
    // the API calls below).
    let account = keys
        .iter()
        .find(|(l, _)| l.starts_with("account member"))
        .map(|(_, cred)| cred.clone())
        .expect("the demo's member account");
    sign_in_account(c, &url, &account).await;
    member_reads_and_asks(c).await;
    member_changes_settings(c, &url, &own, key).await;
    member_reads_alerts_and_profile(c, &url, &admin, &outbox).await;
    // The e-mail address is gone from the settings.
    let (_, _, body) = fetch(
        c,
        "GET",
        &format!("/api/v1/members/{own}/alerts"),
        Some(key),
        None,
    )
    .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    assert!(v["settings"]["email"].is_null(), "{v}");
    // Another member's pages are not found.
    let other = if own == "m-0013" { "m-0001" } else { "m-0013" };
    c.goto(&format!("{url}/members/{other}"))
        .await
        .expect("other");
    assert_eq!(text(c, "main h1").await, "Not found");
    let (st, _, _) = fetch(
        c,
        "GET",
        &format!("/api/v1/members/{other}/interests"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(st, 404);
    let _ = c.clone().close().await;
    let _ = server.kill();
    let _ = server.wait();
}

/// A win of £150,000.50 booked through the API with the broker's key.
async fn book_a_win(c: &Client, broker: &str) -> String {
    let (_, _, body) = fetch(
        c,
        "GET",
        "/api/v1/notices?status=open&limit=1",
        Some(broker),
        None,
    )
    .await;
    let v: Value = serde_json::from_str(&body).expect("json");
    let ocid = v["hits"][0]["ocid"]
        .as_str()
        .expect("an open notice")
        .to_owned();
    let open = serde_json::json!({"ocid": ocid, "members": ["m-0013"]});
    let (st, _, body) = fetch(c, "POST", "/api/v1/cases", Some(broker), Some(open)).await;
    assert!(st == 200 || st == 201, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let id = v["case"]["case_id"].as_str().expect("case id").to_owned();
    for step in [
        serde_json::json!({"type": "introduced"}),
        serde_json::json!({"type": "won", "value_pence": 15_000_050}),
    ] {
        let (st, _, body) = fetch(
            c,
            "POST",
            &format!("/api/v1/cases/{id}/events"),
            Some(broker),
            Some(step),
        )
        .await;
        assert!(st == 200 || st == 201, "{body}");
    }
    ocid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funder_reads_the_dashboard_and_downloads_csv_in_pounds() {
    let Some(b) = browser("the_funder_reads_the_dashboard_and_downloads_csv_in_pounds").await
    else {
        return;
    };
    let (mut server, url, keys) = demo_server_with_keys();
    let c = &b.client;
    let funder = keys.get("funder").expect("funder key").clone();
    sign_in(c, &url, &funder).await;
    wait_for_path(c, "/dashboard").await;
    book_a_win(c, keys.get("broker").expect("broker key")).await;
    c.goto(&format!("{url}/dashboard"))
        .await
        .expect("dashboard");
    assert_eq!(text(c, "#total").await, "£150,000.50");
    wait_for(c, "svg.chart").await;
    audit_page(c, "dashboard-funder").await;
    let (_, _, body) = fetch(c, "GET", "/api/v1/totals", Some(&funder), None).await;
    let pence = serde_json::from_str::<Value>(&body).expect("json")["total_pence"]
        .as_i64()
        .expect("pence");
    let pounds = format!("{}.{:02}", pence / 100, pence % 100);
    let mut files = Vec::new();
    for (by, header) in [
        (
            "cluster",
            "cluster,brokered_gbp,wins,target_gbp,progress_percent",
        ),
        ("month", "month,brokered_gbp,cumulative_gbp"),
        ("wins", "date,notice,ocid,cluster,value_gbp"),
    ] {
        // The session's cookie goes with the page's own fetch.
        let (st, disposition, csv) = fetch(
            c,
            "GET",
            &format!("/dashboard/totals.csv?by={by}"),
            None,
            None,
        )
        .await;
        assert_eq!(st, 200, "{by}: {csv}");
        assert_eq!(csv.lines().next(), Some(header), "{by}: {csv}");
        assert!(csv.contains(&pounds), "{by} has {pounds}: {csv}");
        files.push(disposition);
    }
    files.dedup();
    assert_eq!(files.len(), 3, "distinct file names: {files:?}");
    let (st, _, _) = fetch(c, "GET", "/dashboard/totals.csv?by=member", None, None).await;
    assert_eq!(st, 404, "never per member for the funder");
    let _ = c.clone().close().await;
    let _ = server.kill();
    let _ = server.wait();
}
