//! Who may use the API: keys with a role (admin, broker, funder, member
//! bound to a member id), stored as SHA-256 hashes and compared in constant
//! time, and a per-key rate limit (a token bucket in memory).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    crate::ledger::model::hex(&Sha256::digest(key.as_bytes()))
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
    let id = crate::ledger::model::hex(&random_bytes::<6>()?);
    let secret = crate::ledger::model::hex(&random_bytes::<24>()?);
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

/// A token bucket per key: `burst` requests at once, refilled at
/// `per_minute`.
pub struct RateLimiter {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: per_minute.max(1),
            burst: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says how many seconds until one is free.
    pub fn check(&self, key: &str) -> std::result::Result<(), u64> {
        let now = Instant::now();
        let rate = f64::from(self.per_minute) / 60.0;
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = b
            .entry(key.to_owned())
            .or_insert((f64::from(self.burst), now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(f64::from(self.burst));
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(600)
    }
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

    #[test]
    fn the_bucket_empties() {
        let r = RateLimiter::new(2);
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_err());
        assert!(r.check("b").is_ok());
    }
}
