//! API errors as data: every error the API answers has a [`Code`] — a
//! stable snake_case string, an HTTP status and, where one fits, a default
//! message — so clients can branch on `code` and docs/api.md lists them all.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Declares [`Code`] once: each variant with its string, its status and
/// its default message, so the three can never drift apart.
macro_rules! codes {
    ($(#[doc = $doc:literal] $v:ident = $s:literal, $status:ident, $msg:expr;)*) => {
        /// Every error code the API answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $doc] $v,)*
            /// A ledger refusal carried as the ledger gave it: a code the
            /// server has no variant for, or one of ours arriving with
            /// another status. Today these are `member_not_found` and
            /// `notice_not_found` as 422 (a case input names an unknown
            /// member or notice, where the API's own codes are 404s for a
            /// path) and `invalid_void` and `invalid_transition` as 409
            /// (against the ledger's state, where the same codes are 422
            /// for a malformed input). Strings stay unique in [`Code::ALL`];
            /// see [`Code::from_ledger`].
            Ledger { code: &'static str, status: StatusCode },
        }

        impl Code {
            /// Every code with its own variant (not [`Code::Ledger`]).
            pub const ALL: &'static [Code] = &[$(Code::$v,)*];

            /// The stable string clients see in `error.code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$v => $s,)*
                    Code::Ledger { code, .. } => code,
                }
            }

            /// The HTTP status the code answers with.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(Code::$v => StatusCode::$status,)*
                    Code::Ledger { status, .. } => status,
                }
            }

            /// What the code means (its one doc line; docs/api.md's table).
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Code::$v => $doc.trim_ascii(),)*
                    Code::Ledger { .. } => "the body names a member or notice not stored (422), or a step the ledger's state refuses (409)",
                }
            }

            /// The message sent when the caller has nothing more specific.
            pub const fn default_message(self) -> Option<&'static str> {
                match self {
                    $(Code::$v => $msg,)*
                    Code::Ledger { .. } => None,
                }
            }
        }
    };
}

codes! {
    /// A query parameter or path segment is malformed or out of range.
    InvalidParameter = "invalid_parameter", BAD_REQUEST, None;
    /// Parameters that parse but contradict each other (a window whose `from` is after its `to`).
    InvalidWindow = "invalid_window", UNPROCESSABLE_ENTITY, None;
    /// The JSON body does not parse, is not an object, breaks a limit or has unknown fields.
    InvalidBody = "invalid_body", BAD_REQUEST, None;
    /// The body is larger than the server accepts.
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE, Some("the request body is too large");
    /// A body without a JSON content type.
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        Some("send the body as JSON with `Content-Type: application/json`");
    /// The path and query are longer than the server reads.
    UriTooLong = "uri_too_long", URI_TOO_LONG, None;
    /// A search asked past the deepest window the index answers.
    OffsetTooLarge = "offset_too_large", BAD_REQUEST, None;
    /// A write without an `Idempotency-Key` header.
    MissingIdempotencyKey = "missing_idempotency_key", BAD_REQUEST,
        Some("every write needs an `Idempotency-Key` header (1 to 200 bytes of unique text; send the same key when retrying)");
    /// No `Authorization: Bearer` key.
    MissingKey = "missing_key", UNAUTHORIZED,
        Some("send an API key as `Authorization: Bearer <key>` (create one with `sebroker keys create`)");
    /// The key is unknown, revoked or expired.
    InvalidKey = "invalid_key", UNAUTHORIZED,
        Some("the API key is not valid (unknown, revoked or expired)");
    /// The key's role may not use this route.
    Forbidden = "forbidden", FORBIDDEN, None;
    /// Too many requests or failed credentials; `Retry-After` says when.
    RateLimited = "rate_limited", TOO_MANY_REQUESTS, None;
    /// Something the request names does not exist.
    NotFound = "not_found", NOT_FOUND, None;
    /// No route at this path.
    RouteNotFound = "route_not_found", NOT_FOUND,
        Some("no such route; the API lives under /api/v1");
    /// No member with the id in the path (or not one the key may see).
    MemberNotFound = "member_not_found", NOT_FOUND, None;
    /// No notice with the ocid in the path.
    NoticeNotFound = "notice_not_found", NOT_FOUND, None;
    /// No case with the id in the path (or not one the key may see).
    CaseNotFound = "case_not_found", NOT_FOUND, None;
    /// No API key with the id in the path.
    KeyNotFound = "key_not_found", NOT_FOUND, None;
    /// No person's account with the id in the path.
    AccountNotFound = "account_not_found", NOT_FOUND, None;
    /// An account with this e-mail address exists already (case does not count).
    AccountExists = "account_exists", CONFLICT, None;
    /// An account that cannot be made or changed as asked (e-mail, name, role and member).
    InvalidAccount = "invalid_account", UNPROCESSABLE_ENTITY, None;
    /// A disabled account cannot be reset.
    AccountDisabled = "account_disabled", CONFLICT, None;
    /// No Atom feed at this token.
    FeedNotFound = "feed_not_found", NOT_FOUND,
        Some("no feed at this address (it may have been revoked)");
    /// No unsubscribe link with this token.
    UnsubscribeNotFound = "unsubscribe_not_found", NOT_FOUND,
        Some("this unsubscribe link is not valid");
    /// A member body with a field that does not parse (`field` names it).
    InvalidMember = "invalid_member", UNPROCESSABLE_ENTITY, None;
    /// A member with this id is stored already.
    MemberExists = "member_exists", CONFLICT, None;
    /// An erasure whose `confirm` is not the member id of its path.
    EraseNotConfirmed = "erase_not_confirmed", UNPROCESSABLE_ENTITY, None;
    /// Alert settings that do not make sense.
    InvalidAlertSettings = "invalid_alert_settings", UNPROCESSABLE_ENTITY, None;
    /// An anchor slug that is not one.
    InvalidAnchor = "invalid_anchor", BAD_REQUEST, None;
    /// An anchor opportunity that does not parse.
    InvalidOpportunity = "invalid_opportunity", UNPROCESSABLE_ENTITY, None;
    /// The ledger: a case that cannot be opened as asked.
    InvalidCase = "invalid_case", UNPROCESSABLE_ENTITY, None;
    /// The ledger: an event of an unknown kind or shape.
    InvalidEvent = "invalid_event", UNPROCESSABLE_ENTITY, None;
    /// The ledger: a step the case's status does not allow.
    InvalidTransition = "invalid_transition", UNPROCESSABLE_ENTITY, None;
    /// The ledger: a missing, zero or too large money value.
    InvalidValue = "invalid_value", UNPROCESSABLE_ENTITY, None;
    /// The ledger: win shares that do not add up or name other members.
    InvalidShares = "invalid_shares", UNPROCESSABLE_ENTITY, None;
    /// A void of an event that is not the case's or cannot be voided.
    InvalidVoid = "invalid_void", UNPROCESSABLE_ENTITY, None;
    /// The ledger: a cluster that is not one.
    InvalidCluster = "invalid_cluster", UNPROCESSABLE_ENTITY, None;
    /// The ledger: a referral that cannot be booked.
    InvalidReferral = "invalid_referral", UNPROCESSABLE_ENTITY, None;
    /// The ledger: a yearly return that cannot be booked.
    InvalidReturn = "invalid_return", UNPROCESSABLE_ENTITY, None;
    /// The ledger: a step on a case that is already closed.
    CaseClosed = "case_closed", CONFLICT, None;
    /// The ledger: the member (or consortium) already has a case on this notice; `message` names it.
    CaseExists = "case_exists", CONFLICT, None;
    /// The ledger: a void of an event already voided.
    AlreadyVoided = "already_voided", CONFLICT, None;
    /// The ledger: an idempotency key sent again with a different write.
    IdempotencyKeyReused = "idempotency_key_reused", CONFLICT, None;
    /// The ledger: an API key that exists already.
    KeyExists = "key_exists", CONFLICT, None;
    /// A key that cannot be made as asked (no such member, a member for another role, a past expiry).
    InvalidKeyInput = "invalid_key_input", UNPROCESSABLE_ENTITY, None;
    /// The ledger refuses writes (its start-up check or a failed write).
    LedgerUnavailable = "ledger_unavailable", SERVICE_UNAVAILABLE, None;
    /// The ledger's write failed and nothing was stored.
    LedgerWriteFailed = "ledger_write_failed", SERVICE_UNAVAILABLE, None;
    /// The ledger's write may or may not have been stored.
    LedgerWriteUncertain = "ledger_write_uncertain", SERVICE_UNAVAILABLE, None;
    /// The ledger's head file could not be written.
    LedgerHeadFailed = "ledger_head_failed", SERVICE_UNAVAILABLE, None;
    /// A fault of the server; the log has the cause.
    Internal = "internal", INTERNAL_SERVER_ERROR, Some("internal error; see the server log");
}

impl Code {
    /// The code for a ledger refusal (`code` as the ledger names it,
    /// `status` from its kind: conflict, unprocessable, unavailable): our
    /// variant when it has that name and that status, else
    /// [`Code::Ledger`] so the answer is exactly what the ledger said.
    pub fn from_ledger(code: &'static str, status: StatusCode) -> Code {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code && c.status() == status)
            .unwrap_or(Code::Ledger { code, status })
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    /// Seconds to wait before retrying (sent as `Retry-After` with 429).
    pub retry_after: Option<u64>,
    /// The input field the error is about (`cpv[2]`, `contact.email`),
    /// sent as `error.field` when known.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
            field: None,
        }
    }

    /// The same error naming the input field it is about.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// An error with its code's default message (or the code itself).
    pub fn of(code: Code) -> Self {
        ApiError::new(code, code.default_message().unwrap_or(code.as_str()))
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// A fault of the server: logged with its cause, answered as
    /// `internal` without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::of(Code::Internal)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body =
            serde_json::json!({ "error": { "code": self.code.as_str(), "message": self.message } });
        if let Some(f) = self.field.as_deref() {
            body["error"]["field"] = serde_json::Value::String(f.to_owned());
        }
        let mut r = (self.status(), Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(s),
            );
        }
        r
    }
}

impl From<sebroker_engine::Error> for ApiError {
    fn from(e: sebroker_engine::Error) -> Self {
        use sebroker_engine::Error as E;
        match e {
            E::Invalid(m) => ApiError::new(Code::InvalidParameter, m),
            E::NotFound(m) => ApiError::new(Code::NotFound, m),
            E::Conflict { code, message } => {
                ApiError::new(Code::from_ledger(code, StatusCode::CONFLICT), message)
            }
            E::Unprocessable { code, message } => ApiError::new(
                Code::from_ledger(code, StatusCode::UNPROCESSABLE_ENTITY),
                message,
            ),
            E::Unavailable { code, message } => ApiError::new(
                Code::from_ledger(code, StatusCode::SERVICE_UNAVAILABLE),
                message,
            ),
            E::Index(e @ sebroker_index::IndexError::Window { .. }) => {
                ApiError::new(Code::OffsetTooLarge, e.to_string())
            }
            E::Index(sebroker_index::IndexError::Filter { field, message }) => {
                ApiError::new(Code::InvalidParameter, format!("{field}: {message}"))
            }
            other => ApiError::internal(&other),
        }
    }
}

/// No member `id` (or not one the caller may see).
pub fn member_not_found(id: &str) -> ApiError {
    ApiError::new(Code::MemberNotFound, format!("no member with id {id:?}"))
}

/// No notice `ocid`.
pub fn notice_not_found(ocid: &str) -> ApiError {
    ApiError::new(
        Code::NoticeNotFound,
        format!("no notice with ocid {ocid:?}"),
    )
}

/// No case `id` (or not one the caller may see).
pub fn case_not_found(id: &str) -> ApiError {
    ApiError::new(Code::CaseNotFound, format!("no case with id {id:?}"))
}

pub async fn not_found() -> ApiError {
    ApiError::of(Code::RouteNotFound)
}

impl From<sebroker_ledger::Error> for ApiError {
    fn from(e: sebroker_ledger::Error) -> Self {
        sebroker_engine::Error::from(e).into()
    }
}

impl From<sebroker_store::Error> for ApiError {
    fn from(e: sebroker_store::Error) -> Self {
        sebroker_engine::Error::from(e).into()
    }
}

impl From<sebroker_alerts::Error> for ApiError {
    fn from(e: sebroker_alerts::Error) -> Self {
        sebroker_engine::Error::from(e).into()
    }
}

/// The error table of docs/api.md, as it must read: one row per code.
pub fn docs_table() -> String {
    let mut out = String::from("| code | status | meaning |\n|---|---|---|\n");
    for c in Code::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.status().as_u16(),
            c.meaning()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_errors() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && !s.starts_with('_')
                    && !s.ends_with('_')
                    && !s.contains("__"),
                "{s} is not snake_case"
            );
            let st = c.status().as_u16();
            assert!((400..600).contains(&st), "{s}: {st}");
        }
    }

    #[test]
    fn ledger_codes_keep_their_status() {
        let c = Code::from_ledger("case_closed", StatusCode::CONFLICT);
        assert_eq!(c, Code::CaseClosed);
        // Same name, other status: carried as the ledger said it.
        let m = Code::from_ledger("member_not_found", StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(m.as_str(), "member_not_found");
        assert_eq!(m.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!Code::ALL.contains(&m));
        let u = Code::from_ledger("something_new", StatusCode::CONFLICT);
        assert_eq!(
            (u.as_str(), u.status()),
            ("something_new", StatusCode::CONFLICT)
        );
    }

    #[tokio::test]
    async fn the_json_shape_is_code_and_message() {
        let mut e = ApiError::new(Code::RateLimited, "slow down");
        e.retry_after = Some(7);
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[axum::http::header::RETRY_AFTER], "7");
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "rate_limited", "message": "slow down"}})
        );
    }

    /// docs/api.md lists every code between its markers exactly as
    /// [`docs_table`] writes it; run with `SEBROKER_WRITE_DOCS=1` to rewrite.
    #[test]
    fn docs_error_table_matches_the_codes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
        let text = std::fs::read_to_string(&path).expect("docs/api.md is readable");
        let (start, end) = ("<!-- error-codes:start -->\n", "<!-- error-codes:end -->");
        let a = text
            .find(start)
            .expect("docs/api.md has the error-codes markers")
            + start.len();
        let b = text[a..].find(end).expect("the end marker") + a;
        let want = docs_table();
        if std::env::var_os("SEBROKER_WRITE_DOCS").is_some() {
            let new = format!("{}{want}{}", &text[..a], &text[b..]);
            std::fs::write(&path, new).expect("docs/api.md is writable");
            return;
        }
        assert_eq!(
            &text[a..b],
            want,
            "docs/api.md's error table disagrees with Code; rerun with SEBROKER_WRITE_DOCS=1"
        );
    }
}
