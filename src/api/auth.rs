//! The API's name for the principal: every handler takes a [`Caller`],
//! admitted by [`super::principal::admit`] against the policy table before
//! the handler runs.

pub use super::principal::{member_not_found, same_secret, Principal as Caller};
