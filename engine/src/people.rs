//! The account services that need the whole engine: inviting a person
//! (a member's account must name a stored member), changing a role,
//! issuing a reset link, links under the public URL, and the person's name
//! behind an actor for the case log. The accounts themselves are in
//! [`crate::accounts`].

use crate::accounts::{
    check_role, invalid, link_path, Account, AccountStatus, NewAccount, TokenKind,
};
use crate::error::Result;
use sebroker_ledger::auth::Role;

/// A link as a person opens it: under the configured public URL, or (when
/// that is the listening address with port 0, as in tests) under the host
/// the admin's request came to.
pub fn absolute(engine: &crate::Engine, path: &str, host: Option<&str>) -> String {
    let base = engine.config.alerts.public_url.trim_end_matches('/');
    match host {
        Some(h) if base.ends_with(":0") => format!("http://{h}{path}"),
        _ => format!("{base}{path}"),
    }
}

/// Invites a person (the one service of the API and the admin's page):
/// a member's account must name a stored member. Returns the account and
/// the path of the invitation link, to be shown once.
pub fn invite(engine: &crate::Engine, new: NewAccount) -> Result<(Account, String)> {
    check_member(engine, new.role, new.member_id.as_deref())?;
    let (account, token) = engine.accounts.invite(new)?;
    tracing::info!(account = %account.id, role = account.role.as_str(), "account invited");
    Ok((account, link_path(TokenKind::Invite, &token)))
}

/// Changes an account's role (and member), as [`invite`] checks them.
pub fn set_role(
    engine: &crate::Engine,
    id: &str,
    role: Role,
    member_id: Option<String>,
) -> Result<Account> {
    check_member(engine, role, member_id.as_deref())?;
    let a = engine.accounts.set_role(id, role, member_id)?;
    tracing::info!(account = %a.id, role = a.role.as_str(), "account role changed");
    Ok(a)
}

/// The path of a reset link (an invitation again for a person who never set a password).
pub fn reset(engine: &crate::Engine, id: &str) -> Result<(Account, String)> {
    let (a, token) = engine.accounts.issue_reset(id)?;
    let kind = match a.status {
        AccountStatus::Invited => TokenKind::Invite,
        _ => TokenKind::Reset,
    };
    tracing::info!(account = %a.id, "account reset link made");
    Ok((a.clone(), link_path(kind, &token)))
}

fn check_member(engine: &crate::Engine, role: Role, member_id: Option<&str>) -> Result<()> {
    check_role(role, member_id)?;
    if let Some(m) = member_id {
        if engine.store.get_member(m.trim())?.is_none() {
            return Err(invalid(format!("member_id: no member with id {m:?}")));
        }
    }
    Ok(())
}

/// The person's name behind an actor as the ledger and the audit log
/// record it (`web:acc_…` an account, `web:<key id>` or `key:<id> (…)` a
/// key, `cli:<user>`), for the case log; `None` when it names nobody known.
pub fn person_name(engine: &crate::Engine, actor: &str) -> Option<String> {
    let id = actor
        .strip_prefix("web:")
        .or_else(|| actor.strip_prefix("key:"))
        .map(|rest| rest.split(' ').next().unwrap_or(rest));
    if let Some(user) = actor.strip_prefix("cli:") {
        return Some(format!("{user} (command line)"));
    }
    let id = id?;
    if id.starts_with("acc_") {
        return engine.accounts.get(id).ok().flatten().map(|a| a.name);
    }
    engine.ledger.state().keys.get(id).map(|k| k.name.clone())
}
