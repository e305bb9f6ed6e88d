//! The matching crate's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The member index failed.
    #[error(transparent)]
    Index(#[from] sebroker_index::IndexError),
    /// An evaluation input could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Connector(#[from] sebroker_connectors::error::ConnectorError),
}

pub type Result<T> = std::result::Result<T, Error>;
