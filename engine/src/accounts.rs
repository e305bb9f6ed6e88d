//! People's accounts: e-mail and password (argon2id) sign-in for admins,
//! brokers, funders and members, invited by an admin; invitation and reset
//! tokens stored as SHA-256 hashes, single use and expiring. Each account
//! carries a generation that every change raises, so the sessions made
//! before a change (disable, role change, password reset) end at their
//! next request. Three sled trees in the notice store's database:
//! `accounts` (id → account), `account_emails` (lower-case e-mail → id) and
//! `account_tokens` (token hash → token).

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use sebroker_ledger::auth::Role;

/// How long an invitation link works.
pub const INVITE_TTL: time::Duration = time::Duration::days(7);
/// How long a password-reset link works.
pub const RESET_TTL: time::Duration = time::Duration::hours(1);
/// The shortest password accepted (characters).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password hashed (bytes): hashing is the costly part.
pub const MAX_PASSWORD_BYTES: usize = 256;
/// The longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Invited; signs in once the invitation link has set a password.
    Invited,
    Active,
    /// Cannot sign in; its sessions have ended.
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Invited => "invited",
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        }
    }
}

/// An account as the API and the pages show it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    /// `acc_` and 12 hex digits.
    pub id: String,
    /// As typed at the invitation; unique without regard to case.
    pub email: String,
    pub name: String,
    pub role: Role,
    /// For members: the member the person speaks for.
    #[serde(default)]
    pub member_id: Option<String>,
    pub status: AccountStatus,
    /// Raised by every change; a session made at another generation ends.
    pub generation: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
}

/// An account as stored: with its password hash (PHC string), if set.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    account: Account,
    #[serde(default)]
    password_hash: Option<String>,
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Invite,
    Reset,
}

impl TokenKind {
    /// The path of its page (`/invite/{token}`, `/reset/{token}`).
    pub fn path(self) -> &'static str {
        match self {
            TokenKind::Invite => "/invite/",
            TokenKind::Reset => "/reset/",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredToken {
    account_id: String,
    kind: TokenKind,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    /// The account's generation when issued: any later change voids it.
    generation: u64,
}

/// A new account, as an admin asks for it.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub member_id: Option<String>,
}

/// The accounts and their tokens.
pub struct Accounts {
    accounts: sled::Tree,
    emails: sled::Tree,
    tokens: sled::Tree,
    /// Read-modify-write of an account happens under this lock.
    write: Mutex<()>,
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::Unprocessable {
        code: "invalid_account",
        message: message.into(),
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no account with id {id:?}"))
}

fn store_err(e: sled::Error) -> Error {
    Error::Store(e)
}

/// An e-mail address of a plausible shape: `local@domain.tld`, no spaces.
pub fn check_email(email: &str) -> Result<String> {
    let e = email.trim();
    let ok = e.len() <= MAX_EMAIL_BYTES
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(e.to_owned())
    } else {
        Err(invalid(format!(
            "email: {e:?} is not an e-mail address (name@example.org)"
        )))
    }
}

/// A password long enough and short enough to hash.
pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(invalid(format!(
            "password: at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

fn random_hex<const N: usize>() -> Result<String> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b)
        .map_err(|e| Error::Failed(format!("the system's random source failed: {e}")))?;
    Ok(sebroker_ledger::auth::hex(&b))
}

fn token_hash(token: &str) -> String {
    sebroker_ledger::auth::hex(&Sha256::digest(token.as_bytes()))
}

/// The argon2id hash (PHC string) of a password, with a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| Error::Failed(format!("the system's random source failed: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| Error::Failed(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Failed(format!("password hash: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash nobody's password matches, verified for unknown e-mails so that
/// they take as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("not anybody's password at all").unwrap_or_default())
}

impl Accounts {
    /// Opens the account trees of the store's database.
    pub fn open(db: &sled::Db) -> Result<Accounts> {
        Ok(Accounts {
            accounts: db.open_tree("accounts").map_err(store_err)?,
            emails: db.open_tree("account_emails").map_err(store_err)?,
            tokens: db.open_tree("account_tokens").map_err(store_err)?,
            write: Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn load(&self, id: &str) -> Result<Option<Stored>> {
        let Some(v) = self.accounts.get(id.as_bytes()).map_err(store_err)? else {
            return Ok(None);
        };
        serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                key: format!("store/accounts/{id}"),
                message: e.to_string(),
            })
    }

    fn save(&self, s: &Stored) -> Result<()> {
        let bytes = serde_json::to_vec(s).map_err(|e| Error::Failed(e.to_string()))?;
        self.accounts
            .insert(s.account.id.as_bytes(), bytes)
            .map_err(store_err)?;
        self.accounts.flush().map_err(store_err)?;
        Ok(())
    }

    /// Every account, by e-mail.
    pub fn list(&self) -> Result<Vec<Account>> {
        let mut out = Vec::new();
        for kv in &self.accounts {
            let (k, v) = kv.map_err(store_err)?;
            let s: Stored = serde_json::from_slice(&v).map_err(|e| Error::Corrupt {
                key: format!("store/accounts/{}", String::from_utf8_lossy(&k)),
                message: e.to_string(),
            })?;
            out.push(s.account);
        }
        out.sort_by_key(|a| a.email.to_lowercase());
        Ok(out)
    }

    pub fn get(&self, id: &str) -> Result<Option<Account>> {
        Ok(self.load(id)?.map(|s| s.account))
    }

    /// The account a session made at `generation` stands for now: active
    /// and unchanged since, or none (the session ends).
    pub fn current(&self, id: &str, generation: u64) -> Option<Account> {
        let s = self.load(id).ok().flatten()?;
        (s.account.status == AccountStatus::Active && s.account.generation == generation)
            .then_some(s.account)
    }

    /// Invites a person: the account (invited) and the invitation token,
    /// whose text is returned once and stored only hashed.
    pub fn invite(&self, new: NewAccount) -> Result<(Account, String)> {
        let account = self.insert(new, None)?;
        let token = self.issue(&account, TokenKind::Invite)?;
        Ok((account, token))
    }

    /// An account that can sign in at once (the demo).
    pub fn create_active(&self, new: NewAccount, password: &str) -> Result<Account> {
        check_password(password)?;
        self.insert(new, Some(hash_password(password)?))
    }

    fn insert(&self, new: NewAccount, hash: Option<String>) -> Result<Account> {
        let email = check_email(&new.email)?;
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(invalid("name: 1 to 200 characters"));
        }
        check_role(new.role, new.member_id.as_deref())?;
        let _w = self.lock();
        let id = format!("acc_{}", random_hex::<6>()?);
        let lower = email.to_lowercase();
        let taken = self
            .emails
            .compare_and_swap(lower.as_bytes(), None::<&[u8]>, Some(id.as_bytes()))
            .map_err(store_err)?;
        if taken.is_err() {
            return Err(Error::Conflict {
                code: "account_exists",
                message: format!("email: an account with {email:?} exists already"),
            });
        }
        let now = OffsetDateTime::now_utc();
        let account = Account {
            id,
            email,
            name,
            role: new.role,
            member_id: new.member_id,
            status: if hash.is_some() {
                AccountStatus::Active
            } else {
                AccountStatus::Invited
            },
            generation: 1,
            created_at: now,
            updated_at: now,
        };
        self.save(&Stored {
            account: account.clone(),
            password_hash: hash,
        })?;
        self.emails.flush().map_err(store_err)?;
        Ok(account)
    }

    /// Applies `f` to the stored account and raises its generation.
    fn change(&self, id: &str, f: impl FnOnce(&mut Stored) -> Result<()>) -> Result<Account> {
        let _w = self.lock();
        let mut s = self.load(id)?.ok_or_else(|| not_found(id))?;
        f(&mut s)?;
        s.account.generation = s.account.generation.saturating_add(1);
        s.account.updated_at = OffsetDateTime::now_utc();
        self.save(&s)?;
        Ok(s.account)
    }

    /// Disables an account: it cannot sign in, and its sessions end.
    pub fn disable(&self, id: &str) -> Result<Account> {
        self.change(id, |s| {
            s.account.status = AccountStatus::Disabled;
            Ok(())
        })
    }

    /// Changes the role (and the member, for members); sessions end.
    pub fn set_role(&self, id: &str, role: Role, member_id: Option<String>) -> Result<Account> {
        check_role(role, member_id.as_deref())?;
        self.change(id, |s| {
            s.account.role = role;
            s.account.member_id = member_id;
            Ok(())
        })
    }

    /// A reset link for the account (sessions end now; the password is
    /// set when the link is used). A disabled account gets none.
    pub fn issue_reset(&self, id: &str) -> Result<(Account, String)> {
        let account = self.change(id, |s| match s.account.status {
            AccountStatus::Disabled => Err(Error::Conflict {
                code: "account_disabled",
                message: format!("account {id:?} is disabled: it cannot be reset"),
            }),
            _ => Ok(()),
        })?;
        // An invited account is still waiting to set its first password.
        let kind = match account.status {
            AccountStatus::Invited => TokenKind::Invite,
            _ => TokenKind::Reset,
        };
        let token = self.issue(&account, kind)?;
        Ok((account, token))
    }

    fn issue(&self, account: &Account, kind: TokenKind) -> Result<String> {
        let ttl = match kind {
            TokenKind::Invite => INVITE_TTL,
            TokenKind::Reset => RESET_TTL,
        };
        self.issue_for(account, kind, ttl)
    }

    fn issue_for(&self, account: &Account, kind: TokenKind, ttl: time::Duration) -> Result<String> {
        let token = format!("sbt_{}", random_hex::<24>()?);
        let t = StoredToken {
            account_id: account.id.clone(),
            kind,
            expires_at: OffsetDateTime::now_utc() + ttl,
            generation: account.generation,
        };
        let bytes = serde_json::to_vec(&t).map_err(|e| Error::Failed(e.to_string()))?;
        self.tokens
            .insert(token_hash(&token).as_bytes(), bytes)
            .map_err(store_err)?;
        self.tokens.flush().map_err(store_err)?;
        Ok(token)
    }

    /// The account a live token of `kind` is for (not used up by this).
    pub fn peek(&self, token: &str, kind: TokenKind) -> Result<Option<Account>> {
        if token.len() > 100 {
            return Ok(None);
        }
        let Some(v) = self
            .tokens
            .get(token_hash(token).as_bytes())
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        let Ok(t) = serde_json::from_slice::<StoredToken>(&v) else {
            return Ok(None);
        };
        if t.kind != kind || t.expires_at <= OffsetDateTime::now_utc() {
            return Ok(None);
        }
        Ok(self
            .get(&t.account_id)?
            .filter(|a| a.generation == t.generation && a.status != AccountStatus::Disabled))
    }

    /// Uses a token once: sets the password, makes the account active and
    /// ends its older sessions. `None` when the token is unknown, used,
    /// expired or outdated by a later change of the account.
    pub fn redeem(&self, token: &str, kind: TokenKind, password: &str) -> Result<Option<Account>> {
        check_password(password)?;
        if self.peek(token, kind)?.is_none() {
            return Ok(None);
        }
        // Removing it is the single use: of two racing requests one wins.
        let Some(v) = self
            .tokens
            .remove(token_hash(token).as_bytes())
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        self.tokens.flush().map_err(store_err)?;
        let t: StoredToken = serde_json::from_slice(&v).map_err(|e| Error::Corrupt {
            key: "store/account_tokens".into(),
            message: e.to_string(),
        })?;
        let hash = hash_password(password)?;
        let generation = t.generation;
        let account = self.change(&t.account_id, move |s| {
            if s.account.generation != generation || s.account.status == AccountStatus::Disabled {
                return Err(Error::Conflict {
                    code: "token_outdated",
                    message: "the account changed after this link was made".into(),
                });
            }
            s.account.status = AccountStatus::Active;
            s.password_hash = Some(hash);
            Ok(())
        });
        match account {
            Ok(a) => Ok(Some(a)),
            Err(Error::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The active account with this e-mail and password. Unknown e-mails
    /// cost a hash too, so the answer's time does not tell them apart.
    pub fn sign_in(&self, email: &str, password: &str) -> Result<Option<Account>> {
        if password.len() > MAX_PASSWORD_BYTES || email.len() > MAX_EMAIL_BYTES {
            return Ok(None);
        }
        let lower = email.trim().to_lowercase();
        let id = self.emails.get(lower.as_bytes()).map_err(store_err)?;
        let stored = match id {
            Some(id) => self.load(&String::from_utf8_lossy(&id))?,
            None => None,
        };
        let hash = stored
            .as_ref()
            .and_then(|s| s.password_hash.as_deref())
            .unwrap_or_else(|| decoy_hash());
        let ok = verify_password(password, hash);
        Ok(stored
            .filter(|s| ok && s.password_hash.is_some())
            .map(|s| s.account)
            .filter(|a| a.status == AccountStatus::Active))
    }

    /// Erasure of member `member`: its people's accounts are disabled and
    /// their e-mail and name removed (their tokens stop working with the
    /// generation). Returns how many accounts.
    pub fn erase_member(&self, member: &str) -> Result<usize> {
        let bound: Vec<Account> = self
            .list()?
            .into_iter()
            .filter(|a| a.member_id.as_deref() == Some(member))
            .collect();
        for a in &bound {
            let _ = self
                .emails
                .remove(a.email.to_lowercase().as_bytes())
                .map_err(store_err)?;
            self.change(&a.id, |s| {
                s.account.email = format!("erased-{}@erased.invalid", s.account.id);
                s.account.name = format!("erased person {}", s.account.id);
                s.account.status = AccountStatus::Disabled;
                s.password_hash = None;
                Ok(())
            })?;
        }
        self.emails.flush().map_err(store_err)?;
        Ok(bound.len())
    }
}

/// The path of a token's page (`/invite/sbt_…`, `/reset/sbt_…`).
pub fn link_path(kind: TokenKind, token: &str) -> String {
    format!("{}{token}", kind.path())
}

/// A member account names its member; no other role does.
pub(crate) fn check_role(role: Role, member_id: Option<&str>) -> Result<()> {
    match (role, member_id.map(str::trim)) {
        (Role::Member, Some(m)) if !m.is_empty() => Ok(()),
        (Role::Member, _) => Err(invalid("member_id: a member's account names its member")),
        (_, None) => Ok(()),
        (_, Some(_)) => Err(invalid("member_id: only a member's account names a member")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = sled::Config::new().path(dir.path()).open().expect("sled");
        (dir, Accounts::open(&db).expect("open"))
    }

    fn person(email: &str) -> NewAccount {
        NewAccount {
            email: email.into(),
            name: "A. Person".into(),
            role: Role::Broker,
            member_id: None,
        }
    }

    #[test]
    fn an_invitation_sets_a_password_once_and_then_signs_in() {
        let (_d, a) = open();
        let (acc, token) = a.invite(person("Ann@Example.org")).expect("invite");
        assert_eq!(acc.status, AccountStatus::Invited);
        assert!(a.sign_in("ann@example.org", "").expect("in").is_none());
        assert!(a.peek(&token, TokenKind::Reset).expect("peek").is_none());
        assert!(a.redeem(&token, TokenKind::Invite, "short").is_err());
        let on = a
            .redeem(&token, TokenKind::Invite, "a long password")
            .expect("redeem")
            .expect("live token");
        assert_eq!(on.status, AccountStatus::Active);
        assert!(on.generation > acc.generation);
        assert!(a
            .redeem(&token, TokenKind::Invite, "another long one")
            .expect("again")
            .is_none());
        let signed = a
            .sign_in("ANN@example.org ", "a long password")
            .expect("in");
        assert_eq!(signed.map(|x| x.id), Some(acc.id.clone()));
        assert!(a
            .sign_in("ann@example.org", "a wrong password")
            .expect("in")
            .is_none());
        assert!(a
            .sign_in("nobody@example.org", "a long password")
            .expect("in")
            .is_none());
        assert!(matches!(
            a.invite(person("ANN@example.org")),
            Err(Error::Conflict {
                code: "account_exists",
                ..
            })
        ));
        assert!(matches!(
            a.invite(person("not an address")),
            Err(Error::Unprocessable { .. })
        ));
    }

    #[test]
    fn changes_end_sessions_and_outdate_tokens() {
        let (_d, a) = open();
        let acc = a
            .create_active(person("b@example.org"), "a long password")
            .expect("create");
        assert!(a.current(&acc.id, acc.generation).is_some());
        let (reset, token) = a.issue_reset(&acc.id).expect("reset");
        assert!(
            a.current(&acc.id, acc.generation).is_none(),
            "a reset ends sessions"
        );
        assert!(a.current(&acc.id, reset.generation).is_some());
        let moved = a.set_role(&acc.id, Role::Funder, None).expect("role");
        assert!(a.current(&acc.id, reset.generation).is_none());
        assert!(
            a.redeem(&token, TokenKind::Reset, "a new long password")
                .expect("redeem")
                .is_none(),
            "a change after the link outdates it"
        );
        let off = a.disable(&acc.id).expect("disable");
        assert!(a.current(&acc.id, moved.generation).is_none());
        assert!(a.current(&acc.id, off.generation).is_none(), "disabled");
        assert!(a
            .sign_in("b@example.org", "a long password")
            .expect("in")
            .is_none());
        assert!(a.set_role(&acc.id, Role::Member, None).is_err());
    }

    #[test]
    fn an_expired_link_does_not_work() {
        let (_d, a) = open();
        let (acc, _) = a.invite(person("late@example.org")).expect("invite");
        let old = a
            .issue_for(&acc, TokenKind::Invite, time::Duration::seconds(-1))
            .expect("issue");
        assert!(a.peek(&old, TokenKind::Invite).expect("peek").is_none());
        assert!(a
            .redeem(&old, TokenKind::Invite, "a long password")
            .expect("redeem")
            .is_none());
        assert_eq!(
            a.get(&acc.id).expect("get").map(|x| x.status),
            Some(AccountStatus::Invited)
        );
    }

    #[test]
    fn erasure_removes_a_members_people() {
        let (_d, a) = open();
        let mut p = person("m@example.org");
        p.role = Role::Member;
        p.member_id = Some("m1".into());
        let acc = a.create_active(p, "a long password").expect("create");
        assert_eq!(a.erase_member("m1").expect("erase"), 1);
        let after = a.get(&acc.id).expect("get").expect("kept");
        assert!(!after.email.contains("m@example.org"));
        assert_eq!(after.status, AccountStatus::Disabled);
        assert!(a
            .sign_in("m@example.org", "a long password")
            .expect("in")
            .is_none());
    }
}
