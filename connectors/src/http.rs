//! The HTTP layer every live connector uses: reqwest with rustls, explicit
//! timeouts, bounded response sizes, no redirects; pacing (a minimum
//! interval between requests), `Retry-After` honoured, otherwise exponential
//! backoff with jitter, and a bounded number of attempts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Settings of one HTTP client; every duration in milliseconds in the
/// configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Whole-request timeout (connect, headers and body).
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Larger responses are refused (and retried, then the window fails);
    /// a gzip body may not expand beyond it either.
    pub max_body_bytes: u64,
    /// At least this long between two requests of one source.
    pub min_interval_ms: u64,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff delay; doubled per attempt, with jitter, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// `Retry-After` values above this are cut down to it.
    pub max_retry_after_ms: u64,
    /// Multiplies every `Retry-After` (1.0 in production; tests scale down).
    pub retry_after_scale: f64,
    /// When set, a 403 means "too many requests" (Contracts Finder): wait
    /// this long and retry.
    pub forbidden_wait_ms: Option<u64>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout_ms: 60_000,
            connect_timeout_ms: 10_000,
            max_body_bytes: 32 * 1024 * 1024,
            min_interval_ms: 1_000,
            max_attempts: 5,
            backoff_base_ms: 2_000,
            backoff_max_ms: 300_000,
            max_retry_after_ms: 900_000,
            retry_after_scale: 1.0,
            forbidden_wait_ms: None,
        }
    }
}

impl HttpSettings {
    /// Find a Tender: about 12 requests per 2 minutes, so one every 10 s.
    pub fn fts() -> Self {
        HttpSettings {
            min_interval_ms: 10_500,
            ..HttpSettings::default()
        }
    }

    /// Contracts Finder: a 403 asks for 5 minutes' wait.
    pub fn cf() -> Self {
        HttpSettings {
            min_interval_ms: 2_000,
            forbidden_wait_ms: Some(300_000),
            ..HttpSettings::default()
        }
    }
}

/// Why a request failed for good.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The server could not be reached or did not answer in time, on every attempt.
    #[error("{url}: cannot reach the server after {attempts} attempts: {message}")]
    Unreachable {
        url: String,
        attempts: u32,
        message: String,
    },
    /// The server kept answering with an error status or an unusable body.
    #[error("{url}: gave up after {attempts} attempts: {message}")]
    Exhausted {
        url: String,
        attempts: u32,
        message: String,
    },
    /// An answer that retrying cannot fix (400, 404, a redirect...).
    #[error("{url}: HTTP {status}: {message}")]
    Permanent {
        url: String,
        status: u16,
        message: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl FetchError {
    /// The server was never reached (offline, DNS, refused, timeouts).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, FetchError::Unreachable { .. })
    }
}

/// Something the client waited for or retried; reported to the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpEvent {
    /// Waiting because the server said so (429, CF's 403, `Retry-After`).
    RateLimitWait { wait: Duration, status: u16 },
    /// Waiting before retrying a failed attempt.
    Backoff {
        wait: Duration,
        attempt: u32,
        reason: String,
    },
}

/// What one attempt gave.
enum Attempt {
    /// A 200 body and its `Content-Type`.
    Ok(Vec<u8>, Option<String>),
    /// Retry after this wait (from the server), or after a backoff.
    Retry {
        server_wait: Option<Duration>,
        status: Option<u16>,
        reason: String,
        network: bool,
    },
    Fatal(u16, String),
}

/// A paced, retrying HTTP client for one source.
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
    last_request: Mutex<Option<Instant>>,
    seed: AtomicU64,
}

/// Validates a user-given base URL: http or https, with a host.
pub fn check_url(s: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("{s:?} is not an http(s) URL"));
    }
    Ok(u)
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Result<HttpClient, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sebroker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        Ok(HttpClient {
            client,
            settings,
            last_request: Mutex::new(None),
            seed: AtomicU64::new(seed | 1),
        })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// GETs `url`, retrying as the settings allow; `on_event` hears of every
    /// wait. `accept` judges a 200 body; a refused body is retried like a 503.
    pub async fn get(
        &self,
        url: &str,
        accept: &(dyn Fn(&[u8]) -> Result<(), String> + Send + Sync),
        on_event: &(dyn Fn(HttpEvent) + Send + Sync),
    ) -> Result<Vec<u8>, FetchError> {
        let max = self.settings.max_attempts.max(1);
        let mut last = String::new();
        let mut all_network = true;
        for attempt in 1..=max {
            self.pace().await;
            match self.attempt(url).await {
                Attempt::Ok(body, content_type) => {
                    all_network = false;
                    match judge(&body, content_type.as_deref(), accept) {
                        Ok(()) => return Ok(body),
                        Err(m) => last = m,
                    }
                }
                Attempt::Fatal(status, message) => {
                    return Err(FetchError::Permanent {
                        url: url.to_owned(),
                        status,
                        message,
                    })
                }
                Attempt::Retry {
                    server_wait,
                    status,
                    reason,
                    network,
                } => {
                    all_network &= network;
                    last = reason;
                    if let (Some(wait), Some(status)) = (server_wait, status) {
                        if attempt < max {
                            on_event(HttpEvent::RateLimitWait { wait, status });
                            tracing::info!(
                                url,
                                status,
                                wait_ms = wait.as_millis() as u64,
                                "rate limited; waiting"
                            );
                            tokio::time::sleep(wait).await;
                        }
                        continue;
                    }
                }
            }
            if attempt < max {
                let wait = self.backoff(attempt);
                on_event(HttpEvent::Backoff {
                    wait,
                    attempt,
                    reason: last.clone(),
                });
                tracing::info!(url, attempt, wait_ms = wait.as_millis() as u64, reason = %last, "retrying");
                tokio::time::sleep(wait).await;
            }
        }
        if all_network {
            Err(FetchError::Unreachable {
                url: url.to_owned(),
                attempts: max,
                message: last,
            })
        } else {
            Err(FetchError::Exhausted {
                url: url.to_owned(),
                attempts: max,
                message: last,
            })
        }
    }

    /// Waits until `min_interval` has passed since the previous request.
    async fn pace(&self) {
        let min = Duration::from_millis(self.settings.min_interval_ms);
        let mut last = self.last_request.lock().await;
        if let Some(t) = *last {
            let due = t + min;
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
            }
        }
        *last = Some(Instant::now());
    }

    /// Exponential backoff with "equal jitter": half fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.settings.backoff_base_ms.max(1);
        let exp = base.saturating_mul(1u64 << (attempt - 1).min(20));
        let capped = exp.min(self.settings.backoff_max_ms.max(base));
        let half = capped / 2;
        Duration::from_millis(half + self.random() % (capped - half + 1))
    }

    fn random(&self) -> u64 {
        // xorshift64*: jitter needs no cryptographic quality.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn server_wait(&self, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
        let v = headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim();
        let secs = match v.parse::<u64>() {
            Ok(s) => s as f64,
            Err(_) => {
                let when = httpdate(v)?;
                (when - time::OffsetDateTime::now_utc())
                    .as_seconds_f64()
                    .max(0.0)
            }
        };
        let ms = (secs * 1000.0 * self.settings.retry_after_scale.max(0.0)) as u64;
        Some(Duration::from_millis(
            ms.min(self.settings.max_retry_after_ms),
        ))
    }

    async fn attempt(&self, url: &str) -> Attempt {
        let resp = match self.client.get(url).send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    server_wait: None,
                    status: None,
                    reason: describe(&e),
                    network: true,
                };
            }
        };
        let status = resp.status();
        let code = status.as_u16();
        let retry_after = self.server_wait(resp.headers());
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let location = header(reqwest::header::LOCATION);
        if status.is_success() {
            return match self.read_body(resp).await {
                Ok(b) => Attempt::Ok(b, content_type),
                Err((m, network)) => Attempt::Retry {
                    server_wait: None,
                    status: None,
                    reason: m,
                    network,
                },
            };
        }
        let snippet = self
            .read_body(resp)
            .await
            .map(|b| snippet(&b))
            .unwrap_or_default();
        match code {
            429 => Attempt::Retry {
                server_wait: Some(retry_after.unwrap_or_else(|| self.backoff(3))),
                status: Some(code),
                reason: format!("HTTP 429 {snippet}"),
                network: false,
            },
            403 if self.settings.forbidden_wait_ms.is_some() => Attempt::Retry {
                server_wait: Some(retry_after.unwrap_or(Duration::from_millis(
                    self.settings.forbidden_wait_ms.unwrap_or(0),
                ))),
                status: Some(code),
                reason: format!("HTTP 403 (too many requests) {snippet}"),
                network: false,
            },
            408 | 425 | 500 | 502 | 503 | 504 => Attempt::Retry {
                server_wait: retry_after,
                status: retry_after.map(|_| code),
                reason: format!("HTTP {code} {snippet}"),
                network: false,
            },
            300..=399 => Attempt::Fatal(
                code,
                format!(
                    "redirect to {} not followed (redirects are never followed); check the configured URL",
                    location.as_deref().map_or("nowhere".into(), |l| format!("{:?}", l.chars().take(200).collect::<String>()))
                ),
            ),
            _ => Attempt::Fatal(code, snippet),
        }
    }

    /// Reads the body, refusing more than `max_body_bytes`, within the
    /// whole-request timeout (a body trickled byte by byte, or one that never
    /// ends, stops there). The server did answer, so a failure here is never
    /// "unreachable": the window fails and the run goes on.
    async fn read_body(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, (String, bool)> {
        let max = self.settings.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > max) {
            return Err((
                format!("response larger than {max} bytes (Content-Length)"),
                false,
            ));
        }
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let deadline = Instant::now() + timeout;
        let mut body = Vec::new();
        loop {
            let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Ok(c) => c,
                Err(_) => {
                    let message = format!(
                        "body not complete within the {} ms timeout ({} bytes received)",
                        timeout.as_millis(),
                        body.len()
                    );
                    return Err((message, false));
                }
            };
            match chunk {
                Ok(Some(c)) => {
                    if body.len() as u64 + c.len() as u64 > max {
                        return Err((format!("response larger than {max} bytes"), false));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    let message = format!(
                        "body cut short after {} bytes: {}",
                        body.len(),
                        describe(&e)
                    );
                    return Err((message, false));
                }
            }
        }
    }
}

/// Judges a 200 body: an HTML page is refused by its type (a maintenance
/// page, a login wall), anything else by `accept`, naming the type when it
/// was not JSON.
fn judge(
    body: &[u8],
    content_type: Option<&str>,
    accept: &(dyn Fn(&[u8]) -> Result<(), String> + Send + Sync),
) -> Result<(), String> {
    let ct = content_type.map(|c| c.to_ascii_lowercase());
    let mime = ct
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(str::trim);
    if matches!(mime, Some("text/html" | "application/xhtml+xml")) {
        return Err(format!(
            "unusable response: the server answered {} instead of JSON: {}",
            mime.unwrap_or("HTML"),
            snippet(body)
        ));
    }
    accept(body).map_err(|m| {
        let json_like = mime.is_none_or(|m| m.contains("json") || m == "application/octet-stream");
        match content_type {
            Some(c) if !json_like => format!("unusable response (Content-Type {c}, not JSON): {m}"),
            _ => format!("unusable response: {m}"),
        }
    })
}

/// A short, single-line, printable start of a body for error messages.
fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(160)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "request failed"
    };
    let mut msg = kind.to_owned();
    let mut src = std::error::Error::source(e);
    if let Some(s) = src.take() {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
    }
    msg
}

/// Parses an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`).
fn httpdate(s: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|p| p.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = HttpClient::new(HttpSettings {
            backoff_base_ms: 100,
            backoff_max_ms: 1000,
            ..HttpSettings::default()
        })
        .expect("client");
        for _ in 0..50 {
            let d1 = c.backoff(1).as_millis();
            assert!((50..=100).contains(&d1), "{d1}");
            let d5 = c.backoff(5).as_millis();
            assert!((500..=1000).contains(&d5), "{d5}");
        }
    }

    #[test]
    fn retry_after_seconds_dates_and_scale() {
        let c = HttpClient::new(HttpSettings {
            retry_after_scale: 0.5,
            ..HttpSettings::default()
        })
        .expect("client");
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            reqwest::header::HeaderValue::from_static("120"),
        );
        assert_eq!(c.server_wait(&h), Some(Duration::from_secs(60)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            reqwest::header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(c.server_wait(&h), Some(Duration::ZERO));
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("http://127.0.0.1:9/x").is_ok());
    }

    #[test]
    fn html_and_other_types_are_named() {
        let ok = |_: &[u8]| Ok(());
        let refuse = |_: &[u8]| Err("not JSON".to_owned());
        let e =
            judge(b"<html>down</html>", Some("text/html; charset=utf-8"), &ok).expect_err("html");
        assert!(
            e.contains("text/html instead of JSON: <html>down</html>"),
            "{e}"
        );
        assert_eq!(judge(b"{}", Some("application/json"), &ok), Ok(()));
        assert_eq!(judge(b"{}", None, &ok), Ok(()));
        let e = judge(b"x", Some("text/plain"), &refuse).expect_err("refused");
        assert!(e.contains("Content-Type text/plain"), "{e}");
        let e = judge(b"x", Some("application/json"), &refuse).expect_err("refused");
        assert_eq!(e, "unusable response: not JSON");
    }
}
