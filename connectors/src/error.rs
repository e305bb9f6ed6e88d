//! The one error type of the connectors crate.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A file could not be read at all.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A reference file (CPV list, places table) is not in a known format.
    #[error("{path}: {message}")]
    Reference { path: PathBuf, message: String },
    /// A release could not be understood.
    #[error("release {release}: {message}")]
    Release { release: String, message: String },
}

pub type Result<T> = std::result::Result<T, ConnectorError>;

/// A bad row of a tabular file (CSV, JSON Lines), by 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

impl RowError {
    pub fn new(line: u64, message: impl Into<String>) -> Self {
        RowError {
            line,
            message: message.into(),
        }
    }
}
