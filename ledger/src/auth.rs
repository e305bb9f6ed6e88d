//! Who may use the API: keys with a role (admin, broker, funder, member
//! bound to a member id), stored as SHA-256 hashes and compared in constant
//! time. (The per-key rate limit is the server's: `sebroker_server::door`.)

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, keys included.
    Admin,
    /// Notices, members, matches, cases, referrals, returns, totals.
    Broker,
    /// Totals and KPIs only, read-only.
    Funder,
    /// One member's own profile, matches, cases and returns.
    Member,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Broker, Role::Funder, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Broker => "broker",
            Role::Funder => "funder",
            Role::Member => "member",
        }
    }

    /// Brokers' pages and routes: search, notices, members, cases.
    pub fn brokers(self) -> bool {
        matches!(self, Role::Admin | Role::Broker)
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A stored key: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public id (the part after `sbk_`), used to list and revoke.
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub member_id: Option<String>,
    /// Hex SHA-256 of the whole key.
    pub hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiKey {
    pub fn usable(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b)
        .map_err(|e| Error::Invalid(format!("the system's random source failed: {e}")))?;
    Ok(b)
}

pub fn hash_secret(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// Compares two hex hashes in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A new key: `sbk_<id>_<secret>` and its stored form.
pub fn new_key(
    role: Role,
    member_id: Option<String>,
    name: String,
    expires_at: Option<OffsetDateTime>,
) -> Result<(String, ApiKey)> {
    if (role == Role::Member) != member_id.is_some() {
        return Err(Error::Invalid(if role == Role::Member {
            "a member key needs --member ID (the member it may see)".into()
        } else {
            "--member goes only with --role member".into()
        }));
    }
    let id = hex(&random_bytes::<6>()?);
    let secret = hex(&random_bytes::<24>()?);
    let key = format!("sbk_{id}_{secret}");
    let stored = ApiKey {
        name: if name.trim().is_empty() {
            format!("{} key", role.as_str())
        } else {
            name.trim().to_owned()
        },
        id,
        role,
        member_id,
        hash: hash_secret(&key),
        created_at: OffsetDateTime::now_utc(),
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    Ok((key, stored))
}

/// The id part of a key (`sbk_<id>_...`), if it has the shape of one.
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("sbk_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some(id)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_an_id_and_verify_by_hash() {
        let (k, stored) = new_key(Role::Broker, None, String::new(), None).expect("key");
        assert_eq!(key_id(&k), Some(stored.id.as_str()));
        assert!(same_hash(&hash_secret(&k), &stored.hash));
        assert!(!same_hash(&hash_secret("sbk_x_y"), &stored.hash));
        assert!(new_key(Role::Member, None, String::new(), None).is_err());
        assert!(new_key(Role::Funder, Some("m".into()), String::new(), None).is_err());
    }
}
