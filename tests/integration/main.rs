//! Integration and end-to-end tests of the whole `sebroker` binary, compiled
//! as one test binary for fast linking.
//!
//! - `accounts`: people's accounts: the admin-only API, links used once, sessions ending when the account changes, demo accounts, the HTML 404
//! - `real_data`: every real OCDS file in `../shared/data` (skipped when absent, failing instead with `SEBROKER_REQUIRE_DATA=1` as in CI)
//! - `hostile`: files nested 200,000 deep, bad tokens in real releases,
//!   damaged gzip, and a hostile Find a Tender stand-in (deep nesting, bad
//!   tokens, gzip bomb, slow and endless bodies, redirects, HTML)
//! - `traps`: hand-made parser traps in `fixtures/ocds/traps`
//! - `cli`: exit codes, the data-folder lock, reference imports
//! - `api`: the HTTP API of `serve --demo` on 127.0.0.1
//! - `bad_input`: the bad-input corpus (HTTP bodies, query strings, headers,
//!   paths and pages against one `serve --demo`; hostile files; hostile
//!   upstream pages through `sync`)
//! - `browser`: the web pages in headless Chromium (WebDriver)
//! - `browser_people`: an admin invites a person, links set passwords once, sessions end on reset and disable
//! - `matrix`: every route and page × every kind of caller against the
//!   policy table, with leak checks; rate limits per address and per key
//! - `matching`: members, matches, consortia, award links, evaluation
//! - `market`: the market map on the real data: places equal search's totals,
//!   awards to VCSE-flagged suppliers, the command, the funder sees counts only
//! - `browser_market`: `/market` in Chromium (axe-core, screenshots, 390 px)
//! - `criteria`: award criteria of real notices: social-value weights, the filter, the reason
//! - `members_api`: `POST`/`PATCH /api/v1/members` (each invalid field
//!   named, a member key on its own editable fields, clusters to the ledger)
//! - `erasure`: a member's personal data erased from every store and file
//!   of the data folder, `verify` passing, totals and KPIs unchanged
//! - `audit`: a scripted session's writes and refusals in the audit log,
//!   read by admins only, filters, CSV, `sebroker audit`
//! - `alerts`: selection, updates, digests and broker alerts in-process;
//!   webhooks against a receiver on 127.0.0.1 (retries, signatures, dead
//!   letters, SSRF), the `.eml` outbox, Atom feeds, a crash mid-delivery
//! - `ledger`: cases to a consortium win over HTTP, roles, retries,
//!   corrections, reconciliation, CSV, cluster history, durability refusal,
//!   backup → restore → verify
//! - `crash`: `serve` killed with SIGKILL mid-write in a loop: nothing
//!   acknowledged is lost, nothing retried doubles
//! - `damaged`: 30 damaged data folders (sled files, head, older copies,
//!   another ledger, the index): refused clearly or started intact
//! - `writer`: the single ingest writer under concurrent ingests and crashes
//! - `openapi`: the OpenAPI document against the route table, and `/api/docs`
//! - `metrics`: `/metrics` parses, moves with requests, ingests and
//!   deliveries, and needs an admin key or the metrics token
//! - `goldens`: search, matches, alerts and totals on the shared data against `tests/goldens/`
//! - `layout`: the house — no module cycle in any crate, a thin binary
//! - `sync`: live sources against a local replay of ../shared/data with
//!   injected faults, anchors, opportunity groups, the sources API; `sync`
//!   and `anchors import` match with the configured `[weights]`

mod accounts;
mod alerts;
mod api;
mod audit;
mod bad_input;
mod browser;
mod browser_broker;
mod browser_market;
mod browser_member;
mod browser_people;
mod cases_api;
mod cli;
mod common;
mod crash;
mod criteria;
mod damaged;
mod erasure;
mod goldens;
mod hostile;
mod layout;
mod ledger;
mod market;
mod matching;
mod matrix;
mod member_pages;
mod members_api;
mod metrics;
mod openapi;
mod real_data;
mod sync;
mod traps;
mod writer;
