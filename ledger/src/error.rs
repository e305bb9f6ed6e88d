//! The ledger's error type. The codes of `Conflict`, `Unprocessable` and
//! `Unavailable` are the API's error codes (`case_exists`, `ledger_write_failed`…).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ledger's sled database failed.
    #[error("store error: {0}")]
    Store(#[from] sled::Error),
    /// The notice store (where the ledger's mark is kept) failed.
    #[error(transparent)]
    NoticeStore(#[from] sebroker_store::Error),
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
    /// The request conflicts with the current state (HTTP 409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request is well-formed but not acceptable (HTTP 422).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// The ledger failed its start-up check; the message names the backup.
    #[error("{0}")]
    Refused(String),
    /// A write could not be completed (HTTP 503); the message says whether
    /// the event was stored.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
}

pub type Result<T> = std::result::Result<T, Error>;
