//! sebroker: a procurement brokerage matching engine for the social economy.
//!
//! Data flows one way: connectors (crate `sebroker-connectors`) → store
//! ([`store`]) + index (crate `sebroker-index`) → search ([`search`]) → CLI
//! ([`cli`]) and HTTP API ([`api`]). See ARCHITECTURE.md.

pub mod alerts;
pub mod anchors;
pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod consortia;
pub mod demo;
pub mod error;
pub mod evaluate;
pub mod groups;
pub mod ingest;
pub mod ledger;
pub mod matching;
pub mod members;
pub mod search;
pub mod sources;
pub mod store;
pub mod web;

pub use app::App;
pub use error::{Error, Result};
