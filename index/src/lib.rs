//! sebroker-index: the compiled notice model that everything downstream reads,
//! and the tantivy full-text index derived from it (schema, writing, queries).
//!
//! The index is never the source of truth: the store (sled, in the root crate)
//! holds notices; this crate can rebuild the index from them at any time.

pub mod error;
pub mod member;
pub mod notice;
pub mod query;
pub mod schema;
pub mod writer;

pub use error::IndexError;
pub use member::{Identifiers, Member, MemberIndex, TrackRecord};
pub use notice::{
    Award, Buyer, Contact, CpvCode, Lot, Notice, NoticeSummary, ReleaseRef, Stage, Status,
    Suitability, Supplier, Value,
};
pub use query::{Facets, Hit, SearchRequest, SearchResults, Sort};
pub use writer::NoticeIndex;
