//! sebroker-index: the tantivy full-text indexes derived from the model's
//! notices and members (schema, writing with commit payloads, queries,
//! facets, snippets).
//!
//! The index is never the source of truth: the store (sled, crate `sebroker-store`)
//! holds notices; this crate can rebuild the index from them at any time.

pub mod error;
pub mod member;
pub mod query;
pub mod schema;
pub mod writer;

pub use error::IndexError;
pub use member::{Candidate, Candidates, MemberIndex};
// The model's types, re-exported for callers that only see the index.
pub use query::{Facets, Hit, SearchRequest, SearchResults, Sort};
pub use sebroker_model::{
    Award, Buyer, Contact, CpvCode, Lot, Notice, NoticeSummary, ReleaseRef, Stage, Status,
    Suitability, Supplier, Value,
};
pub use sebroker_model::{Identifiers, Member, TrackRecord};
pub use writer::NoticeIndex;
