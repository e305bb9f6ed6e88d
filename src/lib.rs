//! sebroker: the command line over the engine (crate `sebroker-engine`) and
//! the server (crate `sebroker-server`). This crate only parses commands,
//! opens the engine from the one configuration, runs, and prints; see
//! ARCHITECTURE.md for the crates and the direction data flows.

pub mod cli;
