//! The one error type of the index crate.

use std::path::PathBuf;

/// What can go wrong while opening, writing or querying the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy itself failed (I/O, corrupt segment, lock held...).
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index folder could not be created or cleaned.
    #[error("cannot prepare index folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The query text could not be parsed (unbalanced quotes, bad field...).
    #[error("cannot parse query {query:?}: {message}")]
    Query { query: String, message: String },
    /// A filter value is not valid (unknown status, bad CPV prefix...).
    #[error("invalid filter {field}: {message}")]
    Filter {
        field: &'static str,
        message: String,
    },
    /// `offset + limit` goes past the deepest page a search serves
    /// ([`crate::query::MAX_WINDOW`]): the collector would have to hold
    /// that many hits at once.
    #[error("offset {offset} + limit {limit} goes past result {max}; narrow the search instead of paging this deep")]
    Window {
        offset: usize,
        limit: usize,
        max: usize,
    },
}

pub type Result<T> = std::result::Result<T, IndexError>;
