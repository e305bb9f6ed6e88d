//! People's accounts in a real headless Chromium against `serve --demo`:
//! an admin invites a member's person from `/admin/people`, the invitation
//! link sets a password and signs in, the person signs in with e-mail and
//! password and lands on their home; a reset ends the open session and its
//! link works once; disabling the account ends the session at the next
//! request. Each page (sign-in, people, invitation, reset, the 404 page)
//! passes `audit_page` (axe-core, screenshots, 390 px without sideways
//! scrolling).

use fantoccini::Client;
use serde_json::Value;

use crate::browser::{
    audit_page, browser, demo_server_with_keys, sign_out, wait_for, wait_for_path, wait_for_text,
};

const EMAIL: &str = "Robin.Member@example.org";
const FIRST: &str = "robin's first password";
const SECOND: &str = "robin's second password";

async fn admin_api(url: &str, key: &str, path: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .expect("admin call");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("json")
}

async fn account_id(url: &str, key: &str) -> String {
    let v: Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/accounts"))
        .bearer_auth(key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    v["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["email"] == EMAIL))
        .and_then(|x| x["id"].as_str())
        .expect("the invited account is listed")
        .to_owned()
}

async fn type_into(c: &Client, css: &str, text: &str) {
    wait_for(c, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Sets a password on an invitation or reset page.
async fn set_password(c: &Client, password: &str) {
    type_into(c, "#password", password).await;
    type_into(c, "#confirm", password).await;
    wait_for(c, "main form button[type=submit]")
        .await
        .click()
        .await
        .expect("set password");
}

async fn sign_in_as_person(c: &Client, url: &str, password: &str) {
    c.goto(&format!("{url}/signin"))
        .await
        .expect("sign-in page");
    type_into(c, "#email", EMAIL).await;
    type_into(c, "#password", password).await;
    wait_for(c, "main form button[type=submit]")
        .await
        .click()
        .await
        .expect("sign in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_a_person_who_signs_in_until_disabled() {
    let Some(b) = browser("an_admin_invites_a_person_who_signs_in_until_disabled").await else {
        return;
    };
    let (mut server, url, keys) = demo_server_with_keys();
    let c = &b.client;
    let admin = keys.get("admin").expect("demo admin key").clone();
    let member = keys
        .keys()
        .find_map(|k| k.strip_prefix("member "))
        .expect("a demo member key")
        .to_owned();
    let home = "/opportunities".to_owned();
    c.goto(&format!("{url}/signin"))
        .await
        .expect("sign-in page");
    wait_for(c, "#email").await;
    audit_page(c, "people-signin").await;
    crate::browser::sign_in(c, &url, &admin).await;
    // The admin's header links to the people page.
    wait_for(c, "header a[href='/admin/people']")
        .await
        .click()
        .await
        .expect("people");
    wait_for(c, "#invite-email").await;
    audit_page(c, "people-admin").await;
    type_into(c, "#invite-email", EMAIL).await;
    type_into(c, "#invite-name", "Robin Member").await;
    wait_for(c, "#invite-role")
        .await
        .select_by_value("member")
        .await
        .expect("role");
    type_into(c, "#invite-member", &member).await;
    wait_for(c, "form[action='/admin/people'] button[type=submit]")
        .await
        .click()
        .await
        .expect("invite");
    let link = wait_for(c, "#invite-link")
        .await
        .text()
        .await
        .expect("the link is shown");
    assert!(link.starts_with(&format!("{url}/invite/sbt_")), "{link}");
    sign_out(c).await;
    // The invitation: set a password, then signed in at home.
    c.goto(&link).await.expect("invitation");
    wait_for(c, "#confirm").await;
    audit_page(c, "people-invite").await;
    set_password(c, FIRST).await;
    wait_for_path(c, &home).await;
    sign_out(c).await;
    sign_in_as_person(c, &url, FIRST).await;
    wait_for_path(c, &home).await;
    wait_for(c, "header form button").await;
    // A reset by the admin ends the open session at its next request.
    let id = account_id(&url, &admin).await;
    let reset = admin_api(&url, &admin, &format!("/api/v1/accounts/{id}/reset")).await;
    let reset_path = reset["reset_path"].as_str().expect("reset path").to_owned();
    c.goto(&format!("{url}{home}")).await.expect("home again");
    wait_for_path(c, "/signin").await;
    c.goto(&format!("{url}{reset_path}"))
        .await
        .expect("reset link");
    wait_for(c, "#confirm").await;
    audit_page(c, "people-reset").await;
    set_password(c, SECOND).await;
    wait_for_path(c, &home).await;
    // The reset link works once.
    c.goto(&format!("{url}{reset_path}"))
        .await
        .expect("reset again");
    wait_for_text(c, "main h1", "This link does not work").await;
    // Disabled: the open session ends at the next request, and no sign-in.
    admin_api(&url, &admin, &format!("/api/v1/accounts/{id}/disable")).await;
    c.goto(&format!("{url}{home}"))
        .await
        .expect("home after disable");
    wait_for_path(c, "/signin").await;
    sign_in_as_person(c, &url, SECOND).await;
    wait_for_text(c, "main h1", "Sign-in failed").await;
    // Unknown paths: the HTML page with the site's header.
    c.goto(&format!("{url}/no-such-page")).await.expect("404");
    wait_for_text(c, "main h1", "Page not found").await;
    wait_for(c, "header a[href='/']").await;
    audit_page(c, "people-not-found").await;
    let _ = server.kill();
    let _ = server.wait();
}
