//! The fictional demo data set (`fixtures/demo/`), compiled into the binary so
//! `sebroker serve --demo` works from any folder and never touches the network.

use crate::error::Result;
use crate::ingest::{ingest_text, IngestOptions, IngestReport};
use crate::Engine;

const DEMO_FILES: &[(&str, &str)] = &[
    (
        "fixtures/demo/fts-2026-11.json",
        include_str!("../../fixtures/demo/fts-2026-11.json"),
    ),
    (
        "fixtures/demo/cf-2026-11.json",
        include_str!("../../fixtures/demo/cf-2026-11.json"),
    ),
];

const DEMO_MEMBERS: &str = include_str!("../../fixtures/demo/members.json");

/// Loads the demo members, then the demo notices (matched as they arrive).
pub fn load(app: &Engine, clusters: &[String]) -> Result<Vec<IngestReport>> {
    let parsed = {
        let places = app.places();
        sebroker_connectors::members::parse_text(DEMO_MEMBERS, "json", clusters, &places)
    };
    if let Some(e) = parsed.errors.first() {
        return Err(crate::Error::Invalid(format!(
            "demo members {}: {}",
            e.at, e.message
        )));
    }
    // Demo members belong to their clusters from the programme's start.
    crate::members::import(
        app,
        &parsed.members,
        app.ledger.settings.programme_start,
        "demo",
    )?;
    let reports = DEMO_FILES
        .iter()
        .map(|(name, text)| ingest_text(app, name, text, &IngestOptions::default()))
        .collect::<Result<Vec<_>>>()?;
    Ok(reports)
}

/// One fictional account per role (`admin@demo.invalid`…; the member's
/// bound to `member`), with random passwords: returned (label, e-mail,
/// password) to be printed once by `serve --demo`.
pub fn accounts(app: &Engine, member: Option<&str>) -> Result<Vec<(String, String, String)>> {
    use sebroker_ledger::auth::Role;
    let mut out = Vec::new();
    for role in Role::ALL {
        let member_id = (role == Role::Member)
            .then(|| member.map(str::to_owned))
            .flatten();
        if role == Role::Member && member_id.is_none() {
            continue;
        }
        let email = format!("{}@demo.invalid", role.as_str());
        let mut b = [0u8; 6];
        getrandom::getrandom(&mut b)
            .map_err(|e| crate::Error::Failed(format!("the system's random source failed: {e}")))?;
        let password = format!("demo-{}", sebroker_ledger::auth::hex(&b));
        let name = format!("Demo {}", role.as_str());
        let new = crate::accounts::NewAccount {
            email: email.clone(),
            name,
            role,
            member_id: member_id.clone(),
        };
        app.accounts.create_active(new, &password)?;
        let label = match &member_id {
            Some(m) => format!("member {m}"),
            None => role.as_str().to_owned(),
        };
        out.push((label, email, password));
    }
    Ok(out)
}

/// A fresh data folder holding the demo data, opened (tests of this and
/// the crates above).
#[doc(hidden)]
pub fn open_in_tempdir() -> Result<(tempfile::TempDir, crate::Engine)> {
    let dir = tempfile::tempdir().map_err(|source| crate::Error::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let app = crate::Engine::open_dir(dir.path())?;
    let clusters: Vec<String> = sebroker_connectors::members::DEFAULT_CLUSTERS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    load(&app, &clusters)?;
    Ok((dir, app))
}
