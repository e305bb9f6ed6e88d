//! sebroker-engine: everything opened from one configuration. It owns the
//! [`Engine`] (data folder lock, store, index, ledger, alert log, members
//! and places), the configuration (file < environment < flags), the single
//! ingest writer ([`writer`]), the followers of the store's change log
//! ([`consumers`]: opportunity groups, matches and award links, alerts), the
//! sources (files, live feeds, anchors, the demo), search glue and the
//! ledger's views over notices and members.

pub mod accounts;
mod alerts_host;
pub mod anchors;
pub mod audit;
pub mod batch;
pub mod board;
pub mod config;
pub mod consumers;
pub mod demo;
pub mod derived;
pub mod engine;
pub mod erase;
pub mod error;
pub mod groups;
pub mod ingest;
pub mod interests;
pub mod keys;
pub mod market;
pub mod matches;
pub mod members;
pub mod people;
pub mod search;
pub mod sources;
pub mod views;
pub mod when;
pub mod writer;

pub use engine::{spawn_followers, Engine};
pub use error::{Error, Result};
