//! The one error type of the sebroker library, and its exit codes.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The embedded store failed.
    #[error("store error: {0}")]
    Store(#[from] sled::Error),
    /// The store holds data this version cannot read.
    #[error("{0}")]
    StoreVersion(String),
    /// Another process holds the data folder.
    #[error("the data folder {dir} is in use by process {pid} (probably `sebroker serve`); stop that process, or point --data-dir / SEBROKER_DATA_DIR at another folder")]
    Locked { dir: PathBuf, pid: String },
    #[error(transparent)]
    Index(#[from] sebroker_index::IndexError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A stored record could not be decoded (corruption or a bug).
    #[error("corrupt stored record {key}: {message}")]
    Corrupt { key: String, message: String },
    /// Something the user asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The user's input is invalid.
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
    /// The ledger could not complete a write (HTTP 503); the message says
    /// whether the event was stored.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Process exit codes, the same for every command.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const PARTIAL: u8 = 3;
}
