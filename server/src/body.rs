//! Request bodies, query strings and the idempotency key, each an axum
//! extractor whose refusal is in the API's error shape ([`ApiJson`],
//! [`ApiQuery`], [`IdempotencyKey`]).
//!
//! JSON request bodies are bounded before they are parsed: [`ApiJson`] refuses
//! a wrong content type (415), then scans the bytes once — nesting depth,
//! string length, array length — so no body can make the parser recurse
//! deeply or build huge values, and only then deserializes (unknown fields
//! refused by the input types). Every refusal is in the API's error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use sebroker_connectors::json::scan;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code};

/// Deepest nesting a body may have (our inputs are at most three deep).
pub const MAX_DEPTH: usize = 16;
/// Longest string (bytes, as sent) a body may hold: notes, names, URLs.
pub const MAX_STRING_BYTES: usize = 16 * 1024;
/// Most elements in one array: members of a case, shares, lots.
pub const MAX_ARRAY_LEN: usize = 500;

/// Where a body broke a limit.
#[derive(Debug, PartialEq, Eq)]
pub struct Exceeded {
    pub position: usize,
    pub what: String,
}

/// Scans JSON text for the limits without building anything: iterative,
/// string-aware, linear in the input. Syntax is left to the parser.
pub fn check_limits(bytes: &[u8]) -> Result<(), Exceeded> {
    // Per open container: is it an array, and how many elements so far.
    let mut stack: Vec<(bool, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // The connectors' scanner skips strings (escapes included);
                // an unterminated one ends the text, for serde to report.
                let end = scan::string_end(bytes, i).unwrap_or(bytes.len());
                if end - i > MAX_STRING_BYTES + 2 {
                    return Err(Exceeded {
                        position: i,
                        what: format!("a string longer than {MAX_STRING_BYTES} bytes"),
                    });
                }
                i = end;
                continue;
            }
            c @ (b'[' | b'{') => {
                count_element(&mut stack, i)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(Exceeded {
                        position: i,
                        what: format!("nesting deeper than {MAX_DEPTH}"),
                    });
                }
                stack.push((c == b'[', 0));
            }
            b']' | b'}' => {
                stack.pop();
            }
            b',' | b':' | b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => {
                count_element(&mut stack, i)?;
                // Skip the rest of a number or literal.
                while i + 1 < bytes.len()
                    && !matches!(
                        bytes[i + 1],
                        b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t'
                    )
                {
                    i += 1;
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// Counts a value starting at `pos` against its enclosing array.
fn count_element(stack: &mut [(bool, usize)], pos: usize) -> Result<(), Exceeded> {
    if let Some((true, n)) = stack.last_mut() {
        *n += 1;
        if *n > MAX_ARRAY_LEN {
            return Err(Exceeded {
                position: pos,
                what: format!("an array of more than {MAX_ARRAY_LEN} elements"),
            });
        }
    }
    Ok(())
}

/// The text with every number written as a whole number with a zero
/// fraction (`12.0`, `-3.00`) written without it (`12`, `-3`). JSON has
/// one number type and JSON Schema counts `12.0` as an integer, but serde
/// refuses it for an integer field; the rewrite is textual, so no value
/// changes (a fraction that is not all zeros, or an exponent, is kept and
/// refused as before).
pub fn whole_numbers(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            let end = scan::string_end(bytes, i).unwrap_or(bytes.len());
            if let Some(o) = out.as_mut() {
                o.extend_from_slice(&bytes[i..end]);
            }
            i = end;
            continue;
        }
        if c == b'-' || c.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            {
                i += 1;
            }
            let token = &bytes[start..i];
            let keep = match token.iter().position(|&b| b == b'.') {
                Some(dot)
                    if dot > 0
                        && token[..dot]
                            .iter()
                            .enumerate()
                            .all(|(k, b)| b.is_ascii_digit() || (k == 0 && *b == b'-'))
                        && token[..dot].iter().any(u8::is_ascii_digit)
                        && token.len() > dot + 1
                        && token[dot + 1..].iter().all(|&b| b == b'0') =>
                {
                    let o = out.get_or_insert_with(|| bytes[..start].to_vec());
                    o.extend_from_slice(&token[..dot]);
                    None
                }
                _ => Some(token),
            };
            if let (Some(t), Some(o)) = (keep, out.as_mut()) {
                o.extend_from_slice(t);
            }
            continue;
        }
        if let Some(o) = out.as_mut() {
            o.push(c);
        }
        i += 1;
    }
    match out {
        Some(o) => std::borrow::Cow::Owned(o),
        None => std::borrow::Cow::Borrowed(bytes),
    }
}

/// A JSON body, checked for type and limits, then parsed.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
            });
        if !json {
            return Err(ApiError::of(Code::UnsupportedMediaType));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            // Over the body limit is its own code (as the router's
            // limit answers); any other failure to read is a bad body.
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Code::BodyTooLarge
            } else {
                Code::InvalidBody
            };
            ApiError::new(code, e.body_text())
        })?;
        check_limits(&bytes).map_err(|e| {
            ApiError::new(
                Code::InvalidBody,
                format!("the body has {} (at byte {})", e.what, e.position),
            )
        })?;
        // Every body of this API is an object; serde would read a struct
        // from an array too (`[]` as all defaults), so that is refused here.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::new(
                Code::InvalidBody,
                "the body must be a JSON object ({...})",
            ));
        }
        serde_json::from_slice(&whole_numbers(&bytes))
            .map(ApiJson)
            .map_err(|e| ApiError::new(Code::InvalidBody, format!("the body is not valid: {e}")))
    }
}

/// An optional JSON body: none when the request has no body at all;
/// otherwise exactly as [`ApiJson`] (a body without a JSON content type is
/// refused, never silently ignored).
pub struct OptionalApiJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let declared = req.headers().contains_key(header::CONTENT_TYPE)
            || req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim() != "0");
        if !declared {
            return Ok(OptionalApiJson(None));
        }
        ApiJson::from_request(req, state)
            .await
            .map(|ApiJson(v)| OptionalApiJson(Some(v)))
    }
}

/// A query string parsed into `T` (unknown parameters refused by `T`); a
/// bad one is a 400 `invalid_parameter` naming what is wrong.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::new(Code::InvalidParameter, e.body_text()))
    }
}

/// The longest idempotency key (the ledger stores it with the event).
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// The `Idempotency-Key` header every write must carry (trimmed, 1 to
/// [`MAX_IDEMPOTENCY_KEY`] bytes); missing or unusable, a 400
/// `missing_idempotency_key`.
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
            .map(|k| IdempotencyKey(k.to_owned()))
            .ok_or_else(|| ApiError::of(Code::MissingIdempotencyKey))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_lose_their_zero_fraction_and_nothing_else_changes() {
        let w =
            |s: &str| String::from_utf8(whole_numbers(s.as_bytes()).into_owned()).expect("utf-8");
        assert_eq!(
            w(r#"{"a":12.0,"b":-3.00,"c":[1.0,2.5,1e3,1.0e2]}"#),
            r#"{"a":12,"b":-3,"c":[1,2.5,1e3,1.0e2]}"#
        );
        assert_eq!(
            w(r#"{"s":"12.0","t":"\"1.0"}"#),
            r#"{"s":"12.0","t":"\"1.0"}"#
        );
        assert_eq!(w("7"), "7");
        assert_eq!(w("0.0"), "0");
        assert!(matches!(
            whole_numbers(b"{\"a\": 1}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn ordinary_bodies_pass() {
        for ok in [
            &br#"{"ocid":"a","members":["m-1","m-2"],"notes":"x, [y] {z} \"q\""}"#[..],
            br#"[1, 2.5e3, true, null, {"a": [[]]}]"#,
            b"",
            br#"{"a":"\\"}"#,
        ] {
            assert_eq!(check_limits(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn deep_long_and_wide_bodies_are_refused_where_they_break() {
        let deep = "[".repeat(100_000);
        assert_eq!(
            check_limits(deep.as_bytes()).map_err(|e| e.position),
            Err(MAX_DEPTH)
        );
        let long = format!("{{\"notes\":\"{}\"}}", "a".repeat(MAX_STRING_BYTES + 1));
        assert!(check_limits(long.as_bytes()).is_err());
        let fits = format!("{{\"notes\":\"{}\"}}", "a".repeat(MAX_STRING_BYTES));
        assert!(check_limits(fits.as_bytes()).is_ok());
        let wide = format!("[{}1]", "1,".repeat(MAX_ARRAY_LEN));
        assert!(check_limits(wide.as_bytes()).is_err());
        let objects = format!("[{}{{}}]", "{},".repeat(MAX_ARRAY_LEN));
        assert!(check_limits(objects.as_bytes()).is_err());
        let fits = format!("[{}1]", "1,".repeat(MAX_ARRAY_LEN - 1));
        assert!(check_limits(fits.as_bytes()).is_ok());
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let s = format!("{{\"a\":\"{}\"}}", "[".repeat(1000));
        assert!(check_limits(s.as_bytes()).is_ok());
    }
}
