//! The server's door: the admin token and the rate limits every request
//! meets before a handler (a token bucket per API key, per client address).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use sebroker_engine::config::{Config, Secret};

/// What the server checks before any handler runs.
pub struct Door {
    /// The token that admits anchors' uploads (`admin_token`); none refuses them.
    pub admin_token: Option<Secret>,
    /// The token that reads `/metrics` (and nothing else).
    pub metrics_token: Option<Secret>,
    /// Requests per minute per API key (and the sessions made with it).
    pub limiter: RateLimiter,
    /// Sign-in attempts and bad credentials per minute per client address.
    pub attempts: RateLimiter,
}

impl Door {
    pub fn new(config: &Config) -> Door {
        Door {
            admin_token: config.sync.admin_token.clone(),
            metrics_token: config.metrics_token.clone(),
            limiter: RateLimiter::new(config.rate_limit_per_minute),
            attempts: RateLimiter::new(config.auth_attempts_per_minute),
        }
    }
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
    fn the_bucket_empties() {
        let r = RateLimiter::new(2);
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_err());
        assert!(r.check("b").is_ok());
    }
}
