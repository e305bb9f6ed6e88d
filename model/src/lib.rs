//! sebroker-model: the domain types every crate shares — the compiled
//! [`Notice`] and its parts, the [`Member`] with its track record, a
//! [`Match`] with its score [`Components`] and [`Weights`], an
//! [`AwardLink`], and the process [`exit`] codes. Plain data with serde and
//! the few rules that belong to the data itself (a notice's status at a
//! time, a score from its components); no storage, no index, no I/O.

pub mod exit;
pub mod link;
pub mod member;
pub mod notice;
pub mod score;
pub mod secret;

pub use link::{AwardLink, LinkStatus};
pub use member::{Identifiers, Member, TrackRecord};
pub use notice::{
    Award, Buyer, Contact, CpvCode, Criterion, Listing, Lot, Notice, NoticeSummary, ReleaseRef,
    Stage, Status, Suitability, Supplier, Value,
};
pub use score::{Components, Match, Weights};
pub use secret::{same_secret, Secret};
