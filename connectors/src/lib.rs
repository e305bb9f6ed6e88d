//! sebroker-connectors: everything that turns published procurement data into
//! compiled [`Notice`](sebroker_index::Notice)s — tolerant OCDS reading,
//! release normalisation and merging, money and place normalisation, and the
//! reference tables (CPV, places) that normalisation needs.

pub mod cpv;
pub mod error;
pub mod json;
pub mod money;
pub mod ocds;
pub mod places;
pub mod source;

pub use error::ConnectorError;
