//! The store's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The embedded database failed.
    #[error("store error: {0}")]
    Store(#[from] sled::Error),
    /// The store holds data this version cannot read.
    #[error("{0}")]
    StoreVersion(String),
    /// Another process holds the data folder.
    #[error("the data folder {dir} is in use by process {pid} (probably `sebroker serve`); stop that process, or point --data-dir / SEBROKER_DATA_DIR at another folder")]
    Locked { dir: PathBuf, pid: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A stored record could not be decoded (corruption or a bug).
    #[error("corrupt stored record {key}: {message}")]
    Corrupt { key: String, message: String },
    /// A value could not be encoded for storage.
    #[error("{0}")]
    Invalid(String),
    /// The caller's visitor of `for_each_notice` stopped with this error.
    #[error("{0}")]
    Visit(String),
    /// The store cannot be opened safely; the message says what to do.
    #[error("{0}")]
    Refused(String),
}

pub type Result<T> = std::result::Result<T, Error>;
