//! Integration and end-to-end tests of the whole `sebroker` binary, compiled
//! as one test binary for fast linking.
//!
//! - `real_data`: every real OCDS file in `../shared/data` (skipped when absent)
//! - `traps`: hand-made parser traps in `fixtures/ocds/traps`
//! - `cli`: exit codes, the data-folder lock, reference imports
//! - `api`: the HTTP API of `serve --demo` on 127.0.0.1
//! - `bad_input`: the bad-input corpus (HTTP bodies, query strings, headers,
//!   paths and pages against one `serve --demo`; hostile files; hostile
//!   upstream pages through `sync`)
//! - `browser`: the web pages in headless Chromium (WebDriver)
//! - `matching`: members, matches, consortia, award links, evaluation
//! - `alerts`: selection, updates, digests and broker alerts in-process;
//!   webhooks against a receiver on 127.0.0.1 (retries, signatures, dead
//!   letters, SSRF), the `.eml` outbox, Atom feeds, a crash mid-delivery
//! - `ledger`: cases to a consortium win over HTTP, roles, retries,
//!   corrections, reconciliation, CSV, cluster history, durability refusal,
//!   backup → restore → verify
//! - `sync`: live sources against a local replay of ../shared/data with
//!   injected faults, anchors, opportunity groups, the sources API

mod alerts;
mod api;
mod bad_input;
mod browser;
mod cli;
mod common;
mod ledger;
mod matching;
mod real_data;
mod sync;
mod traps;
