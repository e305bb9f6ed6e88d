//! Integration and end-to-end tests of the whole `sebroker` binary, compiled
//! as one test binary for fast linking.
//!
//! - `real_data`: every real OCDS file in `../shared/data` (skipped when absent)
//! - `hostile`: files nested 200,000 deep, bad tokens in real releases,
//!   damaged gzip, and a hostile Find a Tender stand-in (deep nesting, bad
//!   tokens, gzip bomb, slow and endless bodies, redirects, HTML)
//! - `traps`: hand-made parser traps in `fixtures/ocds/traps`
//! - `cli`: exit codes, the data-folder lock, reference imports
//! - `api`: the HTTP API of `serve --demo` on 127.0.0.1
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
mod browser;
mod cli;
mod common;
mod hostile;
mod ledger;
mod matching;
mod real_data;
mod sync;
mod traps;
