//! Webhook delivery: a JSON POST of the alert, signed with HMAC-SHA256 over
//! `"{timestamp}.{body}"` with the recipient's secret, carrying a stable
//! delivery id; no redirects, explicit timeouts, no proxy, and a connection
//! to the very address the SSRF check passed.
//!
//! Headers: `Sebroker-Delivery: dl-…`, `Sebroker-Timestamp: <unix seconds>`,
//! `Sebroker-Signature: v1=<hex>`. Receivers recompute the signature, check
//! the timestamp is recent, and drop delivery ids they have seen.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::urlsafe::{self, Checker, Host, UrlError};
use super::Alert;

pub const DELIVERY_HEADER: &str = "Sebroker-Delivery";
pub const TIMESTAMP_HEADER: &str = "Sebroker-Timestamp";
pub const SIGNATURE_HEADER: &str = "Sebroker-Signature";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str) -> HmacSha256 {
    #[allow(clippy::expect_used)]
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length")
}

/// `v1=<hex of HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    let out = m.finalize().into_bytes();
    let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

/// Checks a signature header in constant time.
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("v1=") else {
        return false;
    };
    let Some(bytes) = decode_hex(hex) else {
        return false;
    };
    let mut m = mac(secret);
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&bytes).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[derive(Serialize)]
struct Payload<'a> {
    delivery_id: &'a str,
    event: &'static str,
    alert: &'a Alert,
}

/// The body of a delivery: the same bytes on every attempt.
pub fn body(alert: &Alert, delivery_id: &str) -> Vec<u8> {
    serde_json::to_vec(&Payload {
        delivery_id,
        event: "alert",
        alert,
    })
    .unwrap_or_default()
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    /// Worth trying again later.
    Retry(String),
    /// Trying again cannot help (SSRF refusal, redirect, 410 Gone).
    Permanent(String),
}

/// Timeouts of a webhook attempt.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub total: Duration,
    pub connect: Duration,
}

/// One attempt: check the URL (resolving names once), connect to the
/// checked address, POST the signed body.
pub async fn send(
    url: &str,
    secret: &str,
    delivery_id: &str,
    body: &[u8],
    timestamp: i64,
    check: &Checker,
    t: Timeouts,
) -> Attempt {
    let (w, addr) = match urlsafe::resolve(url, check).await {
        Ok(x) => x,
        Err(e @ UrlError::Resolve { .. }) => return Attempt::Retry(e.to_string()),
        Err(e) => return Attempt::Permanent(e.to_string()),
    };
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(t.total)
        .connect_timeout(t.connect)
        .no_proxy()
        .user_agent(concat!("sebroker-webhook/", env!("CARGO_PKG_VERSION")));
    if let Host::Name(h) = &w.host {
        b = b.resolve(h, addr);
    }
    let client = match b.build() {
        Ok(c) => c,
        Err(e) => return Attempt::Retry(format!("cannot build the HTTP client: {e}")),
    };
    let res = client
        .post(w.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, delivery_id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sign(secret, timestamp, body))
        .body(body.to_vec())
        .send()
        .await;
    match res {
        Ok(r) => {
            let status = r.status();
            if status.is_success() {
                Attempt::Sent
            } else if status.is_redirection() {
                let to = r
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?")
                    .to_owned();
                Attempt::Permanent(format!(
                    "HTTP {status}: redirect to {to:?} refused (webhooks never follow redirects)"
                ))
            } else if status == reqwest::StatusCode::GONE {
                Attempt::Permanent(format!("HTTP {status}: the receiver is gone"))
            } else {
                Attempt::Retry(format!("HTTP {status}"))
            }
        }
        Err(e) if e.is_timeout() => Attempt::Retry(format!("timed out: {e}")),
        Err(e) => Attempt::Retry(format!("cannot reach {}: {e}", w.url)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let body = br#"{"a":1}"#;
        let sig = sign("s3cret", 1_700_000_000, body);
        assert!(sig.starts_with("v1=") && sig.len() == 67);
        assert!(verify("s3cret", 1_700_000_000, body, &sig));
        assert!(!verify("s3cret", 1_700_000_001, body, &sig));
        assert!(!verify("other", 1_700_000_000, body, &sig));
        assert!(!verify("s3cret", 1_700_000_000, br#"{"a":2}"#, &sig));
        assert!(!verify("s3cret", 1_700_000_000, body, "v1=zz"));
        // RFC 4231 test case 2 as a known answer: key "Jefe".
        let mut m = mac("Jefe");
        m.update(b"what do ya want for nothing?");
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn refused_urls_are_permanent_and_never_connected() {
        let t = Timeouts {
            total: Duration::from_secs(1),
            connect: Duration::from_secs(1),
        };
        for u in [
            "http://127.0.0.1:9/x",
            "http://[::1]:9/x",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/x",
            "http://0x7f000001:9/x",
        ] {
            let check = Checker::system(&urlsafe::Allowlist::default());
            let a = send(u, "k", "dl-1", b"{}", 0, &check, t).await;
            assert!(matches!(a, Attempt::Permanent(_)), "{u}: {a:?}");
        }
    }
}
