//! Integration and end-to-end tests of the whole `sebroker` binary, compiled
//! as one test binary for fast linking.
//!
//! - `sync`: live sources against a local replay of ../shared/data with
//!   injected faults, anchors, opportunity groups, the sources API

mod sync;
