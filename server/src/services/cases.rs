//! Cases: opening one and recording a step on it, for `POST /api/v1/cases`,
//! `POST /api/v1/cases/{id}/events` and the notice page's two forms.

use sebroker_engine::Engine;
use sebroker_ledger::input::{CaseEventInput, CaseInput};
use sebroker_ledger::model::Event;
use sebroker_ledger::state::Case;
use sebroker_ledger::{Appended, NewEvent};

use crate::error::{case_not_found, ApiError, Code};

/// The case `id` as it stands, or `case_not_found`.
pub fn case(app: &Engine, id: &str) -> Result<Case, ApiError> {
    sebroker_engine::views::case(app, id).ok_or_else(|| case_not_found(id))
}

/// Appends one event to the ledger (blocking: call it off the async
/// threads).
pub fn record(app: &Engine, e: NewEvent) -> Result<Appended, ApiError> {
    Ok(sebroker_engine::views::record(app, e)?)
}

/// The event that opens a case (members and notice checked against the
/// store).
pub fn open_event(
    app: &Engine,
    input: CaseInput,
    actor: String,
    key: String,
) -> Result<NewEvent, ApiError> {
    Ok(input.into_event(app.store.as_ref(), actor, key)?)
}

/// The event of a step on case `id`; a void must name one of this case's
/// own events (the ledger alone would void any event).
pub fn step_event(
    app: &Engine,
    id: &str,
    input: CaseEventInput,
    actor: String,
    key: String,
) -> Result<NewEvent, ApiError> {
    let case = case(app, id)?;
    let e = input.into_event(id, &case.members, actor, key)?;
    if let Event::Voided { voids_seq, .. } = &e.event {
        if !case.events.iter().any(|ev| ev.seq == *voids_seq) {
            return Err(ApiError::new(
                Code::InvalidVoid,
                format!("event {voids_seq} is not an event of case {id}"),
            ));
        }
    }
    Ok(e)
}

/// The case an appended case event belongs to, as it now stands.
pub fn case_of(app: &Engine, done: &Appended) -> Result<Case, ApiError> {
    case(app, done.record.event.case_id().unwrap_or_default())
}

/// Opens a case: the appended record (or the replayed one) and the case.
pub fn open_case(
    app: &Engine,
    actor: String,
    input: CaseInput,
    key: String,
) -> Result<(Appended, Case), ApiError> {
    let done = record(app, open_event(app, input, actor, key)?)?;
    let case = case_of(app, &done)?;
    Ok((done, case))
}

/// Records a step on case `id`: the appended record and the case after it.
pub fn record_step(
    app: &Engine,
    actor: String,
    id: &str,
    input: CaseEventInput,
    key: String,
) -> Result<(Appended, Case), ApiError> {
    let done = record(app, step_event(app, id, input, actor, key)?)?;
    let case = case(app, id)?;
    Ok((done, case))
}
