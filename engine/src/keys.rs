//! The one place API keys are made (for the CLI and the API alike): the
//! member a key speaks for must exist, and its expiry must be ahead.

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::Engine;
use sebroker_ledger::auth::{ApiKey, Role};

/// Creates a key after checking its member exists; returns the key text
/// (shown once) and its stored form.
pub fn create(
    app: &Engine,
    role: Role,
    member_id: Option<String>,
    name: Option<String>,
    expires: Option<String>,
) -> Result<(String, ApiKey)> {
    if let Some(m) = &member_id {
        if app.store.get_member(m)?.is_none() {
            return Err(Error::Invalid(format!(
                "member: no member with id {m:?} (import members first)"
            )));
        }
    }
    let expires_at = expires.as_deref().map(parse_expiry).transpose()?;
    if expires_at.is_some_and(|e| e <= OffsetDateTime::now_utc()) {
        return Err(Error::Invalid("expires: the date has passed".into()));
    }
    Ok(app
        .ledger
        .create_key(role, member_id, name.unwrap_or_default(), expires_at)?)
}

/// `YYYY-MM-DD` (the key stops at 00:00 UTC that day) or an RFC 3339 time
/// with its offset (it stops then).
fn parse_expiry(s: &str) -> Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    sebroker_ledger::model::ymd::parse(s)
        .map(|d| d.midnight().assume_utc())
        .map_err(|m| {
            Error::Invalid(format!(
                "expires: {m} (or an RFC 3339 time such as 2027-01-31T17:00:00Z)"
            ))
        })
}
