//! Members: the check every member route makes first (the `{id}` of the
//! path names a stored member), answered the same everywhere.

use sebroker_engine::Engine;

use crate::error::{member_not_found, ApiError};

/// `Ok` when member `id` is stored, else `member_not_found` (blocking).
pub fn must_exist(app: &Engine, id: &str) -> Result<(), ApiError> {
    match app.store.get_member(id)? {
        Some(_) => Ok(()),
        None => Err(member_not_found(id)),
    }
}
