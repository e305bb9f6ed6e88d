//! The policy table: for every action a route or page performs, which roles
//! may perform it. The router ([`crate::router`]) attaches one action to
//! each route, the principal middleware ([`super::principal`]) asks
//! [`decide`] before any handler runs, and handlers that refine an action
//! (totals by member) ask the same table. Nothing else decides who may do
//! what.

use axum::http::Method;
use sebroker_ledger::auth::Role;

/// Which credential a route takes and how it answers refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// JSON under `/api/v1` (and the public feed and health routes):
    /// `Authorization: Bearer`, JSON errors.
    Api,
    /// HTML pages: the session cookie, sign-in redirects, HTML errors.
    Page,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub surface: Surface,
    pub action: Action,
}

/// Everything a caller can ask the server to do, API and pages alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Health,
    /// The OpenAPI document.
    OpenApi,
    /// The API documentation page, rendered from the document.
    ApiDocs,
    /// Prometheus metrics: an admin key, or the configured `metrics_token`
    /// (admitted by [`crate::principal::admit`] for this action only).
    Metrics,
    NoticesSearch,
    NoticeRead,
    NoticeMatches,
    NoticeConsortia,
    MembersList,
    MemberRead,
    MemberMatches,
    MemberAlerts,
    MemberAlertSettings,
    MemberReturns,
    MemberReturnFile,
    MemberCases,
    /// `POST /api/v1/members`: a new member.
    MemberCreate,
    /// `PATCH /api/v1/members/{id}`: brokers any field, a member its own
    /// editable fields.
    MemberUpdate,
    /// `POST /api/v1/members/{id}/erase`: personal data removed everywhere.
    MemberErase,
    /// `GET /api/v1/audit`: the audit log.
    AuditRead,
    AlertDeliveries,
    AlertsRun,
    /// The secret Atom feed: its token is the credential.
    Feed,
    /// The e-mail unsubscribe link: its token is the credential.
    Unsubscribe,
    ReturnsList,
    ReferralsList,
    ReferralCreate,
    EventVoid,
    CasesList,
    CaseOpen,
    CaseRead,
    CaseEvent,
    Totals,
    /// Totals broken down by member: names members, so not for funders.
    TotalsByMember,
    Kpis,
    Reconciliation,
    Stats,
    KeysList,
    KeyCreate,
    KeyRevoke,
    /// People's accounts (`/api/v1/accounts`): admins only.
    AccountsList,
    AccountCreate,
    AccountUpdate,
    AccountDisable,
    AccountReset,
    Sources,
    AnchorUpload,
    PageHome,
    PageSignIn,
    PageSignOut,
    PageSearch,
    PageNotice,
    PageMembers,
    PageMember,
    PageCaseOpen,
    PageCaseStep,
    /// The case page: its log, next steps, voids.
    PageCase,
    PagePipeline,
    PageDashboard,
    PageTotalsCsv,
    // The member's own pages and interests (issue 14).
    /// `POST /api/v1/members/{id}/interests`: "ask the brokerage about this".
    MemberInterestAsk,
    /// `GET /api/v1/members/{id}/interests`.
    MemberInterests,
    /// `POST /api/v1/members/{id}/alert-settings/test`: a test to the webhook.
    MemberAlertSettingsTest,
    /// The member's ranked open opportunities (`/opportunities`).
    PageMemberHome,
    /// A notice as a member reads it, with its own match.
    PageMemberNotice,
    /// The form behind "ask the brokerage about this".
    PageMemberInterest,
    /// `/alerts`: what was sent to the member.
    PageAlerts,
    /// `/settings`: the member's alert settings (and the webhook test).
    PageSettings,
    /// `/profile`: the member's own profile.
    PageProfile,
    /// `/admin/people`: the accounts, and the forms that change them.
    PagePeople,
    PagePeopleChange,
    /// `/invite/{token}`, `/reset/{token}`: the token is the credential.
    PageSetPassword,
    // The market map (issue 16): counts only, so the funder reads it too.
    Market,
    PageMarket,
    Static,
}

/// Who may perform an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential: the route is public, or carries its own secret token.
    Public,
    /// A signed-in principal with one of these roles.
    Roles(&'static [Role]),
    /// One of these roles, or a member key acting on its own member (the
    /// `{id}` of the path); another member's id answers as if missing.
    RolesOrOwnMember(&'static [Role]),
}

const ADMIN: &[Role] = &[Role::Admin];
const BROKERS: &[Role] = &[Role::Admin, Role::Broker];
const BROKERS_FUNDER: &[Role] = &[Role::Admin, Role::Broker, Role::Funder];
const BROKERS_MEMBERS: &[Role] = &[Role::Admin, Role::Broker, Role::Member];
const MEMBERS: &[Role] = &[Role::Member];
const EVERYONE: &[Role] = &[Role::Admin, Role::Broker, Role::Funder, Role::Member];

/// The table. A new action does not compile until it has a row here.
pub const fn access(action: Action) -> Access {
    use Access::{Public, Roles, RolesOrOwnMember};
    use Action as A;
    match action {
        A::Health | A::Feed | A::Unsubscribe | A::PageSignIn | A::Static => Public,
        A::OpenApi | A::ApiDocs => Public,
        A::Metrics => Roles(ADMIN),
        A::NoticesSearch | A::NoticeRead | A::NoticeMatches | A::NoticeConsortia => Roles(BROKERS),
        // Lists filter to the member's own rows (see `Principal::sees_member`).
        A::MembersList | A::CasesList | A::CaseRead | A::ReferralsList => Roles(BROKERS_MEMBERS),
        A::MemberRead
        | A::MemberMatches
        | A::MemberAlerts
        | A::MemberAlertSettings
        | A::MemberReturns
        | A::MemberCases
        | A::MemberUpdate => RolesOrOwnMember(BROKERS),
        A::MemberCreate => Roles(BROKERS),
        A::MemberErase | A::AuditRead => Roles(ADMIN),
        A::MemberReturnFile | A::ReturnsList | A::ReferralCreate | A::EventVoid => Roles(BROKERS),
        A::CaseOpen | A::CaseEvent | A::Reconciliation | A::Stats | A::Sources => Roles(BROKERS),
        A::AlertDeliveries => Roles(BROKERS),
        A::AlertsRun | A::KeysList | A::KeyCreate | A::KeyRevoke | A::AnchorUpload => Roles(ADMIN),
        A::Totals | A::Kpis => Roles(BROKERS_FUNDER),
        A::TotalsByMember => Roles(BROKERS),
        A::PageHome | A::PageSignOut => Roles(EVERYONE),
        A::PageSearch | A::PageNotice | A::PageMembers | A::PagePipeline => Roles(BROKERS),
        A::PageCaseOpen | A::PageCaseStep | A::PageCase => Roles(BROKERS),
        A::PageMember => RolesOrOwnMember(BROKERS),
        A::PageDashboard | A::PageTotalsCsv => Roles(BROKERS_FUNDER),
        // A member's own: the member on its own id, brokers for any member.
        A::MemberInterestAsk | A::MemberInterests | A::MemberAlertSettingsTest => {
            RolesOrOwnMember(BROKERS)
        }
        // Pages about "your" member: only a member session has one.
        A::PageMemberHome | A::PageMemberNotice | A::PageMemberInterest => Roles(MEMBERS),
        A::PageAlerts | A::PageSettings | A::PageProfile => Roles(MEMBERS),
        A::AccountsList | A::AccountCreate | A::AccountUpdate => Roles(ADMIN),
        A::AccountDisable | A::AccountReset => Roles(ADMIN),
        A::PagePeople | A::PagePeopleChange => Roles(ADMIN),
        A::PageSetPassword => Public,
        A::Market | A::PageMarket => Roles(BROKERS_FUNDER),
    }
}

/// The answer of the table for one principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The role may not do this (403 on the API).
    Forbidden,
    /// A member asking about another member: answered as if missing (404).
    Hidden,
}

/// Decides `action` for a principal with `role` (and, for member keys,
/// `own` member id) on the member `{id}` named by the path, if any.
pub fn decide(
    action: Action,
    role: Role,
    own: Option<&str>,
    path_member: Option<&str>,
) -> Decision {
    match access(action) {
        Access::Public => Decision::Allow,
        Access::Roles(roles) if roles.contains(&role) => Decision::Allow,
        Access::Roles(_) => Decision::Forbidden,
        Access::RolesOrOwnMember(roles) if roles.contains(&role) => Decision::Allow,
        Access::RolesOrOwnMember(_) if role == Role::Member => match path_member {
            Some(p) if may_see_member(role, own, p) => Decision::Allow,
            _ => Decision::Hidden,
        },
        Access::RolesOrOwnMember(_) => Decision::Forbidden,
    }
}

/// Whether `role` may perform `action` at all (no member named): what the
/// pages ask before they offer a link.
pub fn allows(action: Action, role: Role) -> bool {
    decide(action, role, None, None) == Decision::Allow
}

/// The one rule for records about members: a member key sees only its own
/// member's records (`own` is the member its key belongs to); every other
/// role the route admitted sees them all.
pub fn may_see_member(role: Role, own: Option<&str>, member: &str) -> bool {
    role != Role::Member || own == Some(member)
}

/// A record about several members (a case, a consortium) is visible when
/// any one of them is.
pub fn may_see_any_member(role: Role, own: Option<&str>, members: &[String]) -> bool {
    role != Role::Member || members.iter().any(|m| may_see_member(role, own, m))
}

/// The roles an action admits, for error messages and documentation.
pub fn roles(action: Action) -> Vec<Role> {
    match access(action) {
        Access::Public => Role::ALL.to_vec(),
        Access::Roles(r) => r.to_vec(),
        Access::RolesOrOwnMember(r) => {
            let mut v = r.to_vec();
            v.push(Role::Member);
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_see_only_themselves() {
        let d = |role, own, path| decide(Action::MemberRead, role, own, path);
        assert_eq!(d(Role::Member, Some("a"), Some("a")), Decision::Allow);
        assert_eq!(d(Role::Member, Some("a"), Some("b")), Decision::Hidden);
        assert_eq!(d(Role::Member, None, Some("b")), Decision::Hidden);
        assert_eq!(d(Role::Funder, None, Some("a")), Decision::Forbidden);
        assert_eq!(d(Role::Broker, None, Some("a")), Decision::Allow);
    }

    #[test]
    fn a_member_sees_only_its_own_records() {
        assert!(may_see_member(Role::Member, Some("a"), "a"));
        assert!(!may_see_member(Role::Member, Some("a"), "b"));
        assert!(!may_see_member(Role::Member, None, "a"));
        for r in [Role::Admin, Role::Broker, Role::Funder] {
            assert!(may_see_member(r, None, "a"));
            assert!(may_see_any_member(r, None, &[]));
        }
        let case = ["b".to_owned(), "a".to_owned()];
        assert!(may_see_any_member(Role::Member, Some("a"), &case));
        assert!(!may_see_any_member(Role::Member, Some("c"), &case));
        assert!(!may_see_any_member(Role::Member, Some("a"), &[]));
    }

    #[test]
    fn funders_read_totals_but_not_by_member() {
        assert_eq!(
            decide(Action::Totals, Role::Funder, None, None),
            Decision::Allow
        );
        assert_eq!(
            decide(Action::TotalsByMember, Role::Funder, None, None),
            Decision::Forbidden
        );
        assert_eq!(
            decide(Action::PageTotalsCsv, Role::Funder, None, None),
            Decision::Allow
        );
    }

    #[test]
    fn only_admins_manage_keys() {
        for r in [Role::Broker, Role::Funder, Role::Member] {
            assert_eq!(
                decide(Action::KeyCreate, r, Some("m"), None),
                Decision::Forbidden
            );
        }
        assert_eq!(
            decide(Action::KeyCreate, Role::Admin, None, None),
            Decision::Allow
        );
    }
}
