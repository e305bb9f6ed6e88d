//! sebroker-connectors: everything that turns published procurement data into
//! compiled [`Notice`](sebroker_model::Notice)s — tolerant OCDS reading,
//! release normalisation and merging, money and place normalisation, the
//! reference tables (CPV, places) that normalisation needs, the live sources
//! (Find a Tender, Contracts Finder, any OCDS feed) with their HTTP layer,
//! anchor institutions' own opportunities, duplicate detection, and the
//! cluster members' own files (`members`: JSON, JSON Lines, CSV).

pub mod anchors;
pub mod cpv;
pub mod dedupe;
pub mod error;
pub mod http;
pub mod json;
pub mod members;
pub mod money;
pub mod ocds;
pub mod places;
pub mod source;
pub mod sync;
pub mod uktime;

pub use error::ConnectorError;

#[cfg(test)]
mod props;
