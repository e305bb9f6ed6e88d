//! The audit middleware's work: every non-GET request of the route table
//! (API and page form posts), accepted or refused, is recorded in the
//! engine's audit log (`sebroker_engine::audit`) after its answer is made:
//! who (the principal's key id and role, or `anonymous`), the route
//! template, when, the peer address, the status and the `Idempotency-Key`.
//! Never the body, never the key's name (it may be a person's).

use axum::http::request::Parts;
use axum::http::Method;

use crate::policy::Route;
use crate::principal::{self, Principal};
use crate::state::ServerState;
use sebroker_engine::audit::NewAudit;

/// What the request was, noted before it is handled.
#[derive(Debug, Clone)]
pub struct Seen {
    kind: String,
    from: String,
    idempotency_key: Option<String>,
}

/// The longest idempotency key kept (longer ones are refused anyway).
const MAX_KEY: usize = 200;

impl Seen {
    /// `None` for reads (GET, HEAD): they are not audited.
    pub fn of(route: &Route, parts: &Parts) -> Option<Seen> {
        if matches!(parts.method, Method::GET | Method::HEAD) {
            return None;
        }
        let idempotency_key = parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(|k| k.chars().take(MAX_KEY).collect());
        Some(Seen {
            kind: format!("{} {}", route.method, route.path),
            from: principal::client_addr(parts),
            idempotency_key,
        })
    }
}

/// The actor as audited: the key id (or `admin-token`), never its name.
fn actor(p: Option<&Principal>) -> (String, Option<String>) {
    match p {
        // The command line's in-process requests: `cli:<user>`.
        Some(p) if p.via == principal::Via::Local => (p.name.clone(), Some(p.role.as_str().into())),
        Some(p) if p.key_id == "admin-token" => (p.key_id.clone(), Some(p.role.as_str().into())),
        Some(p) => (format!("key:{}", p.key_id), Some(p.role.as_str().into())),
        None => ("anonymous".into(), None),
    }
}

/// Records the answer's `status` to the request `seen` by `who`. A failure
/// to record is logged (the write itself has happened and is answered).
pub async fn note(s: &ServerState, seen: Seen, who: Option<&Principal>, status: u16) {
    let (actor, role) = actor(who);
    let local = who.is_some_and(|p| p.via == principal::Via::Local);
    let from = if local { "cli".to_owned() } else { seen.from };
    let entry = NewAudit {
        at: time::OffsetDateTime::now_utc(),
        actor,
        role,
        kind: seen.kind,
        from,
        status,
        idempotency_key: seen.idempotency_key,
    };
    let log = s.app.audit.clone();
    match tokio::task::spawn_blocking(move || log.record(entry)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the audit log could not record a write"),
        Err(e) => tracing::error!(error = %e, "the audit task stopped"),
    }
}
