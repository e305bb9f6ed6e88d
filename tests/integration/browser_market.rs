//! `/market` in Chromium: the funder reads the tile map, the gaps and the
//! chart (axe-core, screenshots, 390 px wide); a broker follows a place on
//! the map to the search filtered to it.

use crate::browser::{
    audit_page, browser, demo_server_with_keys, screenshot, sign_in, wait_for, wait_for_path,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_market_map_shows_places_and_links_to_their_search() {
    let Some(b) = browser("the_market_map_shows_places_and_links_to_their_search").await else {
        return;
    };
    let (mut server, url, keys) = demo_server_with_keys();
    let c = &b.client;
    sign_in(c, &url, keys.get("funder").expect("funder key")).await;
    c.goto(&format!("{url}/market?now=2026-11-20"))
        .await
        .expect("market");
    wait_for(c, "svg.tiles").await;
    let text = wait_for(c, "main").await.text().await.expect("text");
    assert!(text.contains("Top gaps per cluster"), "{text}");
    assert!(text.contains("Walsall"), "{text}");
    // The funder may not open search: the tiles are not links for it.
    let links = c
        .find_all(fantoccini::Locator::Css("svg.tiles a"))
        .await
        .expect("links");
    assert!(
        links.is_empty(),
        "the funder's map links to a page it may not open"
    );
    audit_page(c, "market").await;
    // A broker's tile for Walsall opens the search filtered to Walsall.
    sign_in(c, &url, keys.get("broker").expect("broker key")).await;
    c.goto(&format!("{url}/market?now=2026-11-20"))
        .await
        .expect("market");
    let walsall = "svg.tiles a[href*='region=E08000030']";
    wait_for(c, walsall).await;
    screenshot(c, "market-broker").await;
    let href = wait_for(c, walsall)
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    c.goto(&format!("{url}{href}")).await.expect("search");
    wait_for_path(c, "/search").await;
    let body = wait_for(c, "main").await.text().await.expect("search text");
    assert!(!body.contains("Not found"), "{body}");
    let _ = c.clone().close().await;
    let _ = server.kill();
    let _ = server.wait();
}
