//! The engine's error type. The lower crates' errors are flattened into
//! it (a ledger conflict stays a conflict with its code), so the server
//! maps one enum to the API's error codes.

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
    /// An operation over stored data stopped with this error.
    #[error("{0}")]
    Failed(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<sebroker_store::Error> for Error {
    fn from(e: sebroker_store::Error) -> Self {
        use sebroker_store::Error as S;
        match e {
            S::Store(e) => Error::Store(e),
            S::StoreVersion(m) => Error::StoreVersion(m),
            S::Locked { dir, pid } => Error::Locked { dir, pid },
            S::Io { path, source } => Error::Io { path, source },
            S::Corrupt { key, message } => Error::Corrupt { key, message },
            S::Invalid(m) => Error::Invalid(m),
            S::Refused(m) => Error::Refused(m),
            S::Visit(m) => Error::Failed(m),
        }
    }
}

impl From<sebroker_ledger::Error> for Error {
    fn from(e: sebroker_ledger::Error) -> Self {
        use sebroker_ledger::Error as L;
        match e {
            L::Store(e) => Error::Store(e),
            L::NoticeStore(e) => e.into(),
            L::Io { path, source } => Error::Io { path, source },
            L::Corrupt { key, message } => Error::Corrupt { key, message },
            L::NotFound(m) => Error::NotFound(m),
            L::Invalid(m) => Error::Invalid(m),
            L::Conflict { code, message } => Error::Conflict { code, message },
            L::Unprocessable { code, message } => Error::Unprocessable { code, message },
            L::Refused(m) => Error::Refused(m),
            L::Unavailable { code, message } => Error::Unavailable { code, message },
        }
    }
}

impl From<sebroker_matching::Error> for Error {
    fn from(e: sebroker_matching::Error) -> Self {
        use sebroker_matching::Error as M;
        match e {
            M::Index(e) => Error::Index(e),
            M::Io { path, source } => Error::Io { path, source },
            M::Connector(e) => e.into(),
        }
    }
}

impl From<sebroker_connectors::error::ConnectorError> for Error {
    fn from(e: sebroker_connectors::error::ConnectorError) -> Self {
        use sebroker_connectors::error::ConnectorError as C;
        match e {
            C::Read { path, source } => Error::Io { path, source },
            other => Error::Invalid(other.to_string()),
        }
    }
}

impl From<sebroker_alerts::Error> for Error {
    fn from(e: sebroker_alerts::Error) -> Self {
        use sebroker_alerts::Error as A;
        match e {
            A::Store(e) => Error::Store(e),
            A::NoticeStore(e) => e.into(),
            A::Matching(e) => e.into(),
            A::Io { path, source } => Error::Io { path, source },
            A::Corrupt { key, message } => Error::Corrupt { key, message },
            A::NotFound(m) => Error::NotFound(m),
            A::Invalid(m) => Error::Invalid(m),
            A::Config(m) => Error::Config(m),
        }
    }
}
