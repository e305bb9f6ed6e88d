//! Who is asking: the [`Caller`] extractor reads `Authorization: Bearer
//! KEY` (an API key, or the configured admin token), applies the per-key
//! rate limit, and offers the checks every route makes.
//!
//! 401 without a valid key, 403 when the role may not use the route, 404
//! when a member asks for another member's objects (as for missing ones).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::auth::Role;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id, or `admin-token`.
    pub key_id: String,
    pub name: String,
    pub role: Role,
    /// For member keys: the member they may see.
    pub member_id: Option<String>,
}

/// Compares secrets in constant time (over their SHA-256, so lengths leak nothing).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

impl Caller {
    /// Authenticates the `Authorization: Bearer` header and applies the
    /// per-key rate limit.
    pub fn from_headers(
        app: &crate::App,
        headers: &axum::http::HeaderMap,
    ) -> Result<Caller, ApiError> {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = given else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_key",
                "send an API key as `Authorization: Bearer <key>` (create one with `sebroker keys create`)",
            ));
        };
        let caller = if app
            .admin_token
            .as_ref()
            .is_some_and(|t| same_secret(token, &t.0))
        {
            Caller {
                key_id: "admin-token".into(),
                name: "admin token".into(),
                role: Role::Admin,
                member_id: None,
            }
        } else {
            match app.ledger.authenticate(token) {
                Some(k) => Caller {
                    key_id: k.id,
                    name: k.name,
                    role: k.role,
                    member_id: k.member_id,
                },
                None => {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "invalid_key",
                        "the API key is not valid (unknown, revoked or expired)",
                    ))
                }
            }
        };
        if let Err(wait) = app.limiter.check(&caller.key_id) {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests for this key; retry in {wait} s"),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
        Ok(caller)
    }
}

impl FromRequestParts<super::State> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &super::State) -> Result<Self, ApiError> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let caller = Caller::from_headers(app, &parts.headers)?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl Caller {
    /// 403 unless the caller has one of `roles` (admin always may).
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            return Ok(());
        }
        let mut names: Vec<&str> = vec!["admin"];
        names.extend(roles.iter().map(|r| r.as_str()));
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this route is for {} keys; this key's role is {}",
                names.join(", "),
                self.role.as_str()
            ),
        ))
    }

    /// Brokers and admins see every member; a member key only its own (any
    /// other id answers exactly like a missing member); funders none.
    pub fn may_see_member(&self, id: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Admin | Role::Broker => Ok(()),
            Role::Member if self.member_id.as_deref() == Some(id) => Ok(()),
            Role::Member => Err(member_not_found(id)),
            Role::Funder => self.require(&[Role::Broker, Role::Member]),
        }
    }

    /// Who the ledger records as the author of a write.
    pub fn actor(&self) -> String {
        format!("key:{} ({})", self.key_id, self.name)
    }
}

pub fn member_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "member_not_found",
        format!("no member with id {id:?}"),
    )
}

/// An admin: the anchors' upload route. Kept as its own extractor so the
/// route reads as what it needs.
pub struct Admin(pub Caller);

impl FromRequestParts<super::State> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &super::State) -> Result<Self, ApiError> {
        let c = Caller::from_request_parts(parts, app).await?;
        c.require(&[])?;
        Ok(Admin(c))
    }
}
