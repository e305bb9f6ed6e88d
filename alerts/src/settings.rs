//! A recipient's alert settings: how often (instant, daily, weekly, off),
//! the score threshold, and the channels (email, webhook with its secret,
//! Atom feed with its secret token). Input is parsed into valid settings
//! before it is stored; handlers only ever see valid values.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::email::parse_email;
use super::schedule::Frequency;
use super::urlsafe::{self, Allowlist, Resolver};
use crate::config::AlertsConfig;
use crate::error::{Error, Result};

/// The stored settings of one recipient (a member id).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSettings {
    pub member_id: String,
    pub frequency: Frequency,
    /// Matches scoring below this are not alerted.
    pub threshold: f64,
    /// Early signals (pipeline, planned, market engagement, PSR) included.
    pub early_signals: bool,
    pub email: Option<String>,
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of the webhook signature.
    pub webhook_secret: Option<String>,
    /// The secret of the feed URL `/feeds/{token}.atom`; none: no feed.
    pub feed_token: Option<String>,
    /// The secret of the unsubscribe link in emails.
    pub unsubscribe_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("member_id", &self.member_id)
            .field("frequency", &self.frequency)
            .field("threshold", &self.threshold)
            .field("email", &self.email.as_ref().map(|_| "<set>"))
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

/// `PUT /api/v1/members/{id}/alert-settings`: every field optional; absent
/// fields keep their value, `null` clears email and webhook.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub frequency: Option<String>,
    pub threshold: Option<f64>,
    pub early_signals: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub webhook_url: Option<Option<String>>,
    /// A new webhook secret is generated (the old one stops verifying).
    #[serde(default)]
    pub rotate_webhook_secret: bool,
    /// true: a feed (a token is made if none); false: the feed URL is revoked.
    pub feed: Option<bool>,
    /// A new feed token is made; the old feed URL stops working.
    #[serde(default)]
    pub rotate_feed_token: bool,
}

fn nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::<String>::deserialize(d)?))
}

/// A random secret: 32 bytes from the operating system, as hex.
pub fn random_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b)
        .map_err(|e| Error::Invalid(format!("the system random source failed: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl AlertSettings {
    /// The settings a member starts with (no channels, so nothing is sent).
    pub fn new(member_id: &str, cfg: &AlertsConfig, now: OffsetDateTime) -> Result<AlertSettings> {
        Ok(AlertSettings {
            member_id: member_id.to_owned(),
            frequency: cfg.default_frequency,
            threshold: cfg.default_threshold,
            early_signals: true,
            email: None,
            webhook_url: None,
            webhook_secret: None,
            feed_token: None,
            unsubscribe_token: random_token()?,
            updated_at: now,
        })
    }

    /// Applies an input: parsed and checked (the webhook URL against the
    /// SSRF rules, its name resolved through `resolver`), or an error
    /// naming the field.
    pub fn apply(
        mut self,
        input: SettingsInput,
        allow: &Allowlist,
        resolver: &dyn Resolver,
        now: OffsetDateTime,
    ) -> Result<AlertSettings> {
        if let Some(f) = &input.frequency {
            self.frequency = Frequency::parse(f).ok_or_else(|| {
                Error::Invalid(format!(
                    "frequency: {f:?} is not one of instant, daily, weekly, off"
                ))
            })?;
        }
        if let Some(t) = input.threshold {
            if !(0.0..=1.0).contains(&t) || t.is_nan() {
                return Err(Error::Invalid(format!(
                    "threshold: {t} must be between 0 and 1"
                )));
            }
            self.threshold = t;
        }
        if let Some(e) = input.early_signals {
            self.early_signals = e;
        }
        match input.email {
            Some(Some(e)) => self.email = Some(parse_email(&e)?),
            Some(None) => self.email = None,
            None => {}
        }
        match input.webhook_url {
            Some(Some(u)) => {
                // Resolved now: a name pointing inside is refused when set.
                let w = urlsafe::check_subscription(&u, allow, resolver)
                    .map_err(|e| Error::Invalid(format!("webhook_url: {e}")))?;
                self.webhook_url = Some(w.url.to_string());
                if self.webhook_secret.is_none() {
                    self.webhook_secret = Some(random_token()?);
                }
            }
            Some(None) => {
                self.webhook_url = None;
                self.webhook_secret = None;
            }
            None => {}
        }
        if input.rotate_webhook_secret && self.webhook_url.is_some() {
            self.webhook_secret = Some(random_token()?);
        }
        match input.feed {
            Some(true) if self.feed_token.is_none() => self.feed_token = Some(random_token()?),
            Some(false) => self.feed_token = None,
            _ => {}
        }
        if input.rotate_feed_token && self.feed_token.is_some() {
            self.feed_token = Some(random_token()?);
        }
        self.updated_at = now;
        Ok(self)
    }

    /// Whether any channel would carry an alert (the feed counts).
    pub fn has_channel(&self) -> bool {
        self.email.is_some() || self.webhook_url.is_some() || self.feed_token.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_parsed_and_checked() {
        let cfg = AlertsConfig::default();
        let now = OffsetDateTime::UNIX_EPOCH;
        let s = AlertSettings::new("m-1", &cfg, now).expect("new");
        let allow = Allowlist::default();
        let names = urlsafe::StaticResolver::default()
            .with("hooks.example.org", &["93.184.215.14".parse().expect("ip")])
            .with("inside.example.org", &["10.0.0.1".parse().expect("ip")]);
        let input: SettingsInput = serde_json::from_str(
            r#"{"frequency":"weekly","threshold":0.6,"email":"a@example.org","webhook_url":"https://hooks.example.org/x","feed":true}"#,
        )
        .expect("json");
        let s = s.apply(input, &allow, &names, now).expect("valid");
        assert_eq!(s.frequency, Frequency::Weekly);
        assert_eq!(s.webhook_secret.as_ref().map(String::len), Some(64));
        assert!(s.feed_token.is_some());
        let token = s.feed_token.clone();
        let revoke: SettingsInput =
            serde_json::from_str(r#"{"feed":false,"email":null}"#).expect("json");
        let s2 = s.clone().apply(revoke, &allow, &names, now).expect("valid");
        assert!(s2.feed_token.is_none() && s2.email.is_none());
        let rotate: SettingsInput =
            serde_json::from_str(r#"{"rotate_feed_token":true}"#).expect("json");
        assert_ne!(
            s.clone()
                .apply(rotate, &allow, &names, now)
                .expect("ok")
                .feed_token,
            token
        );
        for bad in [
            r#"{"frequency":"hourly"}"#,
            r#"{"threshold":1.5}"#,
            r#"{"email":"not an address"}"#,
            r#"{"webhook_url":"http://169.254.169.254/"}"#,
            r#"{"webhook_url":"https://inside.example.org/"}"#,
            r#"{"webhook_url":"https://gone.invalid/"}"#,
        ] {
            let i: SettingsInput = serde_json::from_str(bad).expect("json");
            assert!(s.clone().apply(i, &allow, &names, now).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<SettingsInput>(r#"{"colour":1}"#).is_err());
        assert!(!format!("{s:?}").contains("a@example.org"));
    }
}
