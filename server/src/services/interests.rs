//! Members' interest in notices ("ask the brokerage about this"), for
//! `POST /api/v1/members/{id}/interests`, the member's notice page, and
//! the brokers' notice page and pipeline ([`for_notice`], [`all`]). An
//! interest opens no case and counts as no introduction.

use sebroker_engine::interests::Interest;
use sebroker_engine::Engine;

use axum::http::StatusCode;

use crate::error::{notice_not_found, ApiError, Code};

/// An interest with the member's name as it stands now (an erased member
/// shows its tombstone's name).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub interest: Interest,
    pub member_name: String,
}

/// Records member `member_id`'s interest in notice `ocid` (both must
/// exist), durably; `by` is the asking key's id. Returns the interest (the
/// first one when asked before) and whether it is new. Blocking.
pub fn ask(
    app: &Engine,
    member_id: &str,
    ocid: &str,
    by: &str,
) -> Result<(Interest, bool), ApiError> {
    super::members::must_exist(app, member_id)?;
    if app.store.get_notice(ocid)?.is_none() {
        // The ocid is the body's, not the path's: 422, as for a case.
        let mut e = notice_not_found(ocid);
        e.code = Code::from_ledger("notice_not_found", StatusCode::UNPROCESSABLE_ENTITY);
        e.field = Some("ocid".into());
        return Err(e);
    }
    let (i, new) = app.interests.record(Interest {
        ocid: ocid.to_owned(),
        member_id: member_id.to_owned(),
        at: time::OffsetDateTime::now_utc(),
        by: by.to_owned(),
    })?;
    if new {
        tracing::info!(
            member_id,
            ocid,
            "a member asked the brokerage about a notice"
        );
    }
    Ok((i, new))
}

fn named(app: &Engine, list: Vec<Interest>) -> Result<Vec<Shown>, ApiError> {
    let mut out = Vec::with_capacity(list.len());
    for interest in list {
        let member_name = app
            .store
            .get_member(&interest.member_id)?
            .map_or_else(|| interest.member_id.clone(), |m| m.name);
        out.push(Shown {
            interest,
            member_name,
        });
    }
    Ok(out)
}

/// The members who asked about notice `ocid`, oldest first, with their
/// names: what the brokers' notice page shows. Blocking.
pub fn for_notice(app: &Engine, ocid: &str) -> Result<Vec<Shown>, ApiError> {
    named(app, app.interests.for_notice(ocid)?)
}

/// Every interest, newest first, with names: what the pipeline shows.
/// Blocking.
pub fn all(app: &Engine) -> Result<Vec<Shown>, ApiError> {
    named(app, app.interests.all()?)
}

/// Member `member_id`'s interests, newest first (the member must exist).
/// Blocking.
pub fn for_member(app: &Engine, member_id: &str) -> Result<Vec<Interest>, ApiError> {
    super::members::must_exist(app, member_id)?;
    Ok(app.interests.for_member(member_id)?)
}
