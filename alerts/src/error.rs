//! The alert engine's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The alert log's sled trees failed.
    #[error("store error: {0}")]
    Store(#[from] sled::Error),
    /// The notice store failed.
    #[error(transparent)]
    NoticeStore(#[from] sebroker_store::Error),
    /// Matching (the member index) failed.
    #[error(transparent)]
    Matching(#[from] sebroker_matching::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A stored record could not be decoded (corruption or a bug).
    #[error("corrupt stored record {key}: {message}")]
    Corrupt { key: String, message: String },
    /// Something asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input is invalid.
    #[error("{0}")]
    Invalid(String),
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, Error>;
