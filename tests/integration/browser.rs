//! End-to-end tests of the web pages in a real headless Chromium, driven
//! over WebDriver (chromedriver), against the real binary on 127.0.0.1.
//! Skipped with a message when Chromium is not installed, unless
//! `SEBROKER_REQUIRE_BROWSER=1` (CI sets it), which makes that a failure.
//! Screenshots of each page go to `target/screenshots/`.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::common::{bin, repo};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    // Dropped last: the next browser test starts once this one's Chromium is gone.
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

/// One Chromium at a time: on a 2-core machine parallel browsers only make
/// each other's waits time out.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Starts chromedriver and a headless Chromium, or explains why not.
pub async fn browser(test: &str) -> Option<Browser> {
    let chrome = find(&[
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]);
    let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let (Some(chrome), Some(driver)) = (chrome, driver) else {
        assert!(
            std::env::var("SEBROKER_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "{test}: SEBROKER_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed"
        );
        eprintln!("SKIPPED {test}: no chromium and chromedriver (apt-get install chromium chromium-driver)");
        return None;
    };
    // (A tokio mutex: it is held across awaits, and a test that panicked
    // while holding it does not poison it for the others.)
    let turn = ONE_BROWSER.lock().await;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let driver = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("profile dir");
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,1600", format!("--user-data-dir={}", profile.path().display())]
        }
    }))
    .expect("caps");
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    _profile: profile,
                    _one_at_a_time: turn,
                })
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{test}: could not start a browser session: {last:?}");
}

/// `serve --demo` on port 0 with the given environment; returns the child
/// and its URL.
pub fn demo_server(env: &[(&str, &str)]) -> (Child, String) {
    let (child, url, _) = demo_server_with_keys_env(env);
    (child, url)
}

pub async fn screenshot(c: &Client, name: &str) {
    let dir = repo().join("target").join("screenshots");
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

/// Where the axe-core script is: `SEBROKER_AXE_JS`, else the copy
/// `.ci/run` installs with npm under `target/axe`. Missing axe-core fails
/// the test under `SEBROKER_REQUIRE_BROWSER=1`; elsewhere it is reported.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("SEBROKER_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/axe/node_modules/axe-core/axe.min.js"));
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            assert!(
                std::env::var("SEBROKER_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "axe-core is missing at {} ({e}): `npm install --prefix target/axe axe-core@4`",
                path.display()
            );
            eprintln!("NOT CHECKED: no axe-core at {} ({e})", path.display());
            None
        }
    }
}

/// The serious and critical axe-core violations of the current page, one
/// line each (rule, help, elements); `None` when axe-core is not installed.
pub async fn violations(c: &Client) -> Option<Vec<String>> {
    let axe = axe_source()?;
    c.execute(&axe, vec![]).await.expect("inject axe-core");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done(r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at '
                        + v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe-core");
    Some(serde_json::from_value(found).expect("axe answers a list"))
}

/// Runs axe-core inside the current page and fails on any serious or
/// critical violation, naming the rule and the elements.
pub async fn assert_accessible(c: &Client, page: &str) {
    let Some(list) = violations(c).await else {
        return;
    };
    assert!(
        list.is_empty(),
        "{page}: {} serious or critical accessibility violations:\n{}",
        list.len(),
        list.join("\n")
    );
}

/// What every page of ours has beyond axe-core's rules: a skip link to
/// `#main`, a caption on every table, a name on every progress bar.
pub async fn assert_page_basics(c: &Client, page: &str) {
    let v = c
        .execute(
            "const skip = document.querySelector('a[href=\"#main\"]');
             const main = document.getElementById('main');
             const tables = [...document.querySelectorAll('table')]
               .filter(t => !t.querySelector(':scope > caption')).length;
             const bars = [...document.querySelectorAll('[role=progressbar], progress')]
               .filter(b => !(b.getAttribute('aria-label') || b.getAttribute('aria-labelledby'))).length;
             return [!!skip && !!main, tables, bars];",
            vec![],
        )
        .await
        .expect("page basics");
    let (skip, tables, bars): (bool, u64, u64) = serde_json::from_value(v).expect("three answers");
    assert!(skip, "{page}: no skip link to #main");
    assert_eq!(tables, 0, "{page}: tables without a caption");
    assert_eq!(bars, 0, "{page}: progress bars without a name");
}

/// Sets the browser window's width (the page keeps its height).
pub async fn set_width(c: &Client, width: u32) {
    c.set_window_size(width, 1000).await.expect("window size");
}

/// Fails when the current page scrolls sideways at the window's width.
pub async fn assert_no_horizontal_scroll(c: &Client, page: &str) {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .expect("measure");
    let dims: Vec<u64> = serde_json::from_value(v).expect("two numbers");
    assert!(
        dims[0] <= dims[1],
        "{page} scrolls sideways: {} px of content in a {} px window",
        dims[0],
        dims[1]
    );
}

/// The checks every page gets: axe-core at the current width, a
/// screenshot, then the same page at 390 px with no sideways scrolling and
/// a second screenshot; the window goes back to 1366 px.
pub async fn audit_page(c: &Client, name: &str) {
    set_width(c, 1366).await;
    assert_accessible(c, name).await;
    assert_page_basics(c, name).await;
    screenshot(c, name).await;
    set_width(c, 390).await;
    assert_no_horizontal_scroll(c, name).await;
    assert_accessible(c, &format!("{name} at 390 px")).await;
    screenshot(c, &format!("{name}-390")).await;
    set_width(c, 1366).await;
}

/// Waits for an element: after a click the browser navigates on its own
/// time, so an immediate `find` can still see the old page.
pub async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css:?} on the page: {e}"))
}

/// Waits until an element's text is `want`: after a form posts, the old
/// page's elements stay findable until the new page replaces them.
pub async fn wait_for_text(c: &Client, css: &str, want: &str) {
    let mut last = String::new();
    for _ in 0..200 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.trim() == want {
                    return;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never read {want:?} (last {last:?})");
}

/// Waits until the page's query string holds `part`: the search page is
/// already at `/search` before its form is sent, so only the query tells
/// the new page from the old.
pub async fn wait_for_query(c: &Client, part: &str) {
    for _ in 0..100 {
        if c.current_url()
            .await
            .is_ok_and(|u| u.query().is_some_and(|q| q.contains(part)))
        {
            // The URL changes when the navigation commits; wait for the
            // new document to finish loading too.
            for _ in 0..100 {
                let ready = c
                    .execute("return document.readyState", vec![])
                    .await
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned));
                if ready.as_deref() == Some("complete") {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached a page with {part:?} in its query");
}

/// Waits until the page is `path` (after a form submission).
pub async fn wait_for_path(c: &Client, path: &str) {
    for _ in 0..100 {
        if c.current_url().await.is_ok_and(|u| u.path() == path) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached {path}");
}

/// Signs in with an account's e-mail and password (the demo's
/// `account ROLE` entry: "EMAIL PASSWORD").
pub async fn sign_in_account(c: &Client, url: &str, credentials: &str) {
    let (email, password) = credentials.split_once(' ').expect("EMAIL PASSWORD");
    c.goto(&format!("{url}/signin"))
        .await
        .expect("sign-in page");
    wait_for(c, "#email")
        .await
        .send_keys(email)
        .await
        .expect("type e-mail");
    wait_for(c, "#password")
        .await
        .send_keys(password)
        .await
        .expect("type password");
    wait_for(c, "main form button[type=submit]")
        .await
        .click()
        .await
        .expect("submit");
    wait_for(c, "header form button").await;
}

pub async fn sign_in(c: &Client, url: &str, key: &str) {
    c.goto(&format!("{url}/signin"))
        .await
        .expect("sign-in page");
    wait_for(c, "#key")
        .await
        .send_keys(key)
        .await
        .expect("type key");
    wait_for(c, "form button[type=submit]")
        .await
        .click()
        .await
        .expect("submit");
    wait_for(c, "header form button").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_searches_and_reads_a_notice() {
    let Some(b) = browser("broker_searches_and_reads_a_notice").await else {
        return;
    };
    let (mut server, url) = demo_server(&[("SEBROKER_ADMIN_TOKEN", "browser-test-admin-token")]);
    let c = &b.client;
    // Pages need a session.
    c.goto(&format!("{url}/search")).await.expect("goto");
    wait_for_path(c, "/signin").await;
    screenshot(c, "signin").await;
    sign_in(c, &url, "browser-test-admin-token").await;
    wait_for_path(c, "/search").await;
    wait_for(c, "#q")
        .await
        .send_keys("youth")
        .await
        .expect("type");
    // The opening form sorts by deadline; this test reads the best match.
    wait_for(c, "select#sort")
        .await
        .select_by_value("relevance")
        .await
        .expect("sort");
    wait_for(c, "form[role=search] button")
        .await
        .click()
        .await
        .expect("search");
    // Read the results only once the new page is there: reading the old
    // page's links while the browser navigates raced (a stale element).
    wait_for_query(c, "q=youth").await;
    let first = wait_for(c, "article h2 a").await;
    let title = first.text().await.expect("text");
    assert!(title.to_lowercase().contains("youth"), "{title}");
    audit_page(c, "search").await;
    first.click().await.expect("open notice");
    // Only the notice page has match cards.
    wait_for(c, "details.card").await;
    let h1 = wait_for(c, "main h1").await.text().await.expect("text");
    assert!(!h1.is_empty());
    let body = wait_for(c, "main").await.text().await.expect("text");
    assert!(body.contains("Best-matched members"), "{body}");
    screenshot(c, "notice").await;
    c.goto(&format!("{url}/members")).await.expect("members");
    assert!(wait_for(c, "table")
        .await
        .text()
        .await
        .expect("t")
        .contains("Caldmore"));
    screenshot(c, "members").await;
    // A form without its CSRF token is refused.
    let status = c
        .execute(
            "return fetch('/signout', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=forged'}).then(r => r.status)",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(status.as_u64(), Some(403));
    // Signing out ends the session.
    wait_for(c, "header form button")
        .await
        .click()
        .await
        .expect("click");
    wait_for_path(c, "/signin").await;
    c.goto(&format!("{url}/members")).await.expect("goto");
    wait_for_path(c, "/signin").await;
    // The API's documentation is a page too (public, server-rendered).
    c.goto(&format!("{url}/api/docs")).await.expect("docs");
    wait_for(c, "main h1").await;
    audit_page(c, "api-docs").await;
    let _ = c.clone().close().await;
    let _ = server.kill();
    let _ = server.wait();
}

/// `serve --demo` with its demo keys (read from stderr: `demo key ROLE: KEY`).
pub fn demo_server_with_keys() -> (Child, String, std::collections::HashMap<String, String>) {
    demo_server_with_keys_env(&[])
}

pub fn demo_server_with_keys_env(
    env: &[(&str, &str)],
) -> (Child, String, std::collections::HashMap<String, String>) {
    let mut cmd = bin();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .args(["serve", "--addr", "127.0.0.1:0", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let url = crate::common::listening_url(&mut child);
    // Keep reading stderr for the server's whole life (a closed pipe would
    // break its logging); hand the demo keys over as they appear.
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in stderr.lines().map_while(Result::ok) {
            if let Some((label, key)) = l.strip_prefix("demo key ").and_then(|r| r.split_once(": "))
            {
                let _ = tx.send((label.to_owned(), key.trim().to_owned()));
            }
            // Accounts come first: `account ROLE` → "EMAIL PASSWORD".
            if let Some((label, cred)) = l
                .strip_prefix("demo account ")
                .and_then(|r| r.split_once(": "))
            {
                let _ = tx.send((format!("account {label}"), cred.trim().to_owned()));
            }
        }
    });
    let mut keys: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    while keys.keys().filter(|l| !l.starts_with("account ")).count() < 4 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((label, key)) => {
                keys.insert(label, key);
            }
            Err(_) => break,
        }
    }
    (child, url, keys)
}

/// Signs out with the header's button and waits for the sign-in page.
pub async fn sign_out(c: &Client) {
    wait_for(c, "header form button")
        .await
        .click()
        .await
        .expect("sign out");
    wait_for_path(c, "/signin").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_brokers_a_win_and_the_funder_sees_it() {
    let Some(b) = browser("a_broker_brokers_a_win_and_the_funder_sees_it").await else {
        return;
    };
    let (mut server, url, keys) = demo_server_with_keys();
    let c = &b.client;
    let broker = keys.get("broker").expect("demo broker key");
    sign_in(c, &url, broker).await;
    // Search, open the notice.
    c.goto(&format!("{url}/search?q=family+hubs"))
        .await
        .expect("search");
    wait_for(c, "article h2 a")
        .await
        .click()
        .await
        .expect("open");
    wait_for(c, "details.card").await;
    screenshot(c, "notice-broker").await;
    // Open a case for the catering CIC, introduce it, record a win.
    let select = wait_for(c, "#case-member").await;
    select
        .select_by_value("m-0013")
        .await
        .expect("choose member");
    wait_for(c, "form#open-case button")
        .await
        .click()
        .await
        .expect("open case");
    let step = wait_for(c, "select[name=step]").await;
    step.select_by_value("introduced")
        .await
        .expect("introduced");
    wait_for(c, "form[action$='/events'] button")
        .await
        .click()
        .await
        .expect("record");
    wait_for_text(c, "#case-status", "introduced").await;
    wait_for(c, "select[name=step]")
        .await
        .select_by_value("won")
        .await
        .expect("won");
    wait_for(c, "input[name=value_gbp]")
        .await
        .send_keys("150000")
        .await
        .expect("value");
    wait_for(c, "form[action$='/events'] button")
        .await
        .click()
        .await
        .expect("record win");
    wait_for_text(c, "#case-status", "won").await;
    let body = wait_for(c, "main").await.text().await.expect("text");
    assert!(body.contains("£150,000.00"), "{body}");
    screenshot(c, "case-won").await;
    c.goto(&format!("{url}/pipeline")).await.expect("pipeline");
    wait_for(c, ".board").await;
    screenshot(c, "pipeline").await;
    sign_out(c).await;
    // The funder's dashboard shows the new total.
    sign_in(c, &url, keys.get("funder").expect("funder key")).await;
    c.goto(&format!("{url}/dashboard"))
        .await
        .expect("dashboard");
    let total = wait_for(c, "#total").await.text().await.expect("total");
    assert_eq!(total, "£150,000.00");
    screenshot(c, "dashboard").await;
    sign_out(c).await;
    // A member sees only its own pages.
    let (label, key) = keys
        .iter()
        .find(|(l, _)| l.starts_with("member "))
        .expect("member key");
    let own = label.trim_start_matches("member ").to_owned();
    sign_in(c, &url, key).await;
    c.goto(&format!("{url}/members/{own}"))
        .await
        .expect("own page");
    wait_for(c, "main h1").await;
    screenshot(c, "member").await;
    let other = if own == "m-0013" { "m-0001" } else { "m-0013" };
    c.goto(&format!("{url}/members/{other}"))
        .await
        .expect("other page");
    wait_for_text(c, "main h1", "Not found").await;
    c.goto(&format!("{url}/search")).await.expect("search");
    assert_eq!(
        wait_for(c, "main h1").await.text().await.expect("h1"),
        "Not found"
    );
    let _ = c.clone().close().await;
    let _ = server.kill();
    let _ = server.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_check_finds_what_it_should() {
    let Some(b) = browser("the_accessibility_check_finds_what_it_should").await else {
        return;
    };
    let c = &b.client;
    // An image without a text alternative and an unnamed button: both are
    // critical for axe-core, so the check must name them.
    c.goto("data:text/html,<html lang=en><title>t</title><main><img src=x.png><button></button></main></html>")
        .await
        .expect("goto");
    let Some(found) = violations(c).await else {
        return;
    };
    let all = found.join("\n");
    assert!(all.contains("image-alt"), "{all}");
    assert!(all.contains("button-name"), "{all}");
    c.goto("data:text/html,<html lang=en><title>t</title><main><p>Fine.</p></main></html>")
        .await
        .expect("goto");
    assert_eq!(violations(c).await, Some(vec![]));
}
