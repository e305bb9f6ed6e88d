//! Configuration: one struct, each field settable in the TOML file
//! (`--config` / `SEBROKER_CONFIG`), by an environment variable
//! (`SEBROKER_*`) or by a flag; flags beat the environment, which beats the
//! file.
//!
//! | key        | env                  | flag         | default          |
//! |------------|----------------------|--------------|------------------|
//! | `data_dir` | `SEBROKER_DATA_DIR`  | `--data-dir` | `./data`         |
//! | `addr`     | `SEBROKER_ADDR`      | `--addr`     | `127.0.0.1:8080` |
//! | `clusters` | `SEBROKER_CLUSTERS`  | —            | `ward-end,walsall,smethwick,wolverhampton,other` |
//! | `[weights]`| —                    | —            | fitted defaults (see `matching::Weights`) |
//! | `target_pence` | `SEBROKER_TARGET_PENCE` | — | `100000000` (£1,000,000 brokered over the programme) |
//! | `programme_start` | `SEBROKER_PROGRAMME_START` | — | `2025-04-01` (first day of programme year 1) |
//! | `rate_limit_per_minute` | `SEBROKER_RATE_LIMIT` | — | `600` requests per API key per minute |
//! | `fts_url`  | `SEBROKER_FTS_URL`   | `--fts-url` (sync, serve) | `https://www.find-tender.service.gov.uk` |
//! | `cf_url`   | `SEBROKER_CF_URL`    | `--cf-url` (sync, serve)  | `https://www.contractsfinder.service.gov.uk` |
//! | `admin_token` | `SEBROKER_ADMIN_TOKEN` | — (never a flag: flags show in `ps`) | none: anchor uploads refused |
//! | `sync_interval_minutes` | `SEBROKER_SYNC_INTERVAL` | `--sync-interval` (serve) | `15` |
//! | `sync_sources` | — | — | `["fts", "cf"]` and every feed: what `serve` syncs |
//! | `[[feeds]]` `name`, `url` | — | — | none: generic OCDS feeds, source `ocds:<name>` |
//! | `[sync]` | — | — | windows: `page_limit` 100, `window_hours` 24, `min_split_minutes` 60, `overlap_minutes` 30, `first_run_days` 7, `max_pages_per_window` 5000 |
//! | `[http.fts]`, `[http.cf]`, `[http.feeds]` | — | — | pacing and retries: `timeout_ms`, `connect_timeout_ms`, `max_body_bytes`, `min_interval_ms` (FTS 10500, CF 2000, feeds 1000), `max_attempts` 5, `backoff_base_ms` 2000, `backoff_max_ms` 300000, `max_retry_after_ms` 900000, `retry_after_scale` 1.0, `forbidden_wait_ms` (CF 300000) |
//!
//! See docs/connectors.md for the sources and what each setting does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use sebroker_connectors::http::HttpSettings;
use sebroker_connectors::sync::{SourceSpec, SyncSettings};

use crate::error::{Error, Result};

/// The configuration file. Unknown keys are errors, so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub addr: Option<String>,
    pub clusters: Option<Vec<String>>,
    pub weights: Option<crate::matching::Weights>,
    pub target_pence: Option<i64>,
    pub programme_start: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    pub fts_url: Option<String>,
    pub cf_url: Option<String>,
    pub admin_token: Option<Secret>,
    pub sync_interval_minutes: Option<u64>,
    pub sync_sources: Option<Vec<String>>,
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
    pub sync: Option<SyncSettings>,
    pub http: Option<HttpConfig>,
}

/// A generic OCDS feed: source `ocds:<name>`, first page at `url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub name: String,
    pub url: String,
}

/// `[http.fts]`, `[http.cf]`, `[http.feeds]`: each key overrides the
/// source's default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub fts: Option<toml::Table>,
    pub cf: Option<toml::Table>,
    pub feeds: Option<toml::Table>,
}

/// A secret: never printed, never logged.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything about live sources, resolved (file < environment < flags).
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub fts: SourceSpec,
    pub cf: SourceSpec,
    pub feeds: Vec<SourceSpec>,
    /// The sources `serve` runs on its schedule.
    pub enabled: Vec<String>,
    pub interval: std::time::Duration,
    pub settings: SyncSettings,
    pub admin_token: Option<Secret>,
}

/// Flag-or-environment values for [`SyncConfig::resolve`].
#[derive(Debug, Default, Clone)]
pub struct SyncFlags {
    pub fts_url: Option<String>,
    pub cf_url: Option<String>,
    pub sync_interval_minutes: Option<u64>,
    pub admin_token: Option<String>,
}

fn http_settings(
    base: HttpSettings,
    table: Option<&toml::Table>,
    key: &str,
) -> Result<HttpSettings> {
    let Some(over) = table else { return Ok(base) };
    let mut t = toml::Table::try_from(&base).map_err(|e| Error::Config(e.to_string()))?;
    for (k, v) in over {
        t.insert(k.clone(), v.clone());
    }
    toml::Value::Table(t)
        .try_into()
        .map_err(|e| Error::Config(format!("[http.{key}]: {e}")))
}

impl SyncConfig {
    pub fn resolve(file: &FileConfig, flags: SyncFlags) -> Result<SyncConfig> {
        let check = |key: &str, u: &str| {
            sebroker_connectors::http::check_url(u)
                .map(|_| ())
                .map_err(|m| Error::Config(format!("{key}: {m}")))
        };
        let fts_url = flags.fts_url.or_else(|| file.fts_url.clone());
        let cf_url = flags.cf_url.or_else(|| file.cf_url.clone());
        let http = file.http.as_ref();
        let mut fts = SourceSpec::fts(fts_url.as_deref());
        check("fts_url", &fts.url)?;
        fts.http = http_settings(fts.http, http.and_then(|h| h.fts.as_ref()), "fts")?;
        let mut cf = SourceSpec::cf(cf_url.as_deref());
        check("cf_url", &cf.url)?;
        cf.http = http_settings(cf.http, http.and_then(|h| h.cf.as_ref()), "cf")?;
        let mut feeds = Vec::new();
        for f in &file.feeds {
            if !sebroker_connectors::source::is_slug(&f.name) {
                return Err(Error::Config(format!(
                    "feeds: name {:?} must be a lower-case slug (letters, digits, dashes)",
                    f.name
                )));
            }
            check(&format!("feeds.{}", f.name), &f.url)?;
            let mut spec = SourceSpec::feed(&f.name, &f.url);
            spec.http = http_settings(spec.http, http.and_then(|h| h.feeds.as_ref()), "feeds")?;
            feeds.push(spec);
        }
        let mut enabled = file.sync_sources.clone().unwrap_or_else(|| {
            let mut v = vec!["fts".to_owned(), "cf".to_owned()];
            v.extend(feeds.iter().map(|f| f.name.clone()));
            v
        });
        enabled.dedup();
        for s in &enabled {
            if s != "fts" && s != "cf" && !feeds.iter().any(|f| &f.name == s) {
                return Err(Error::Config(format!(
                    "sync_sources: {s:?} is not fts, cf or a configured feed (ocds:<name>)"
                )));
            }
        }
        let minutes = flags
            .sync_interval_minutes
            .or(file.sync_interval_minutes)
            .unwrap_or(15);
        if minutes == 0 {
            return Err(Error::Config(
                "sync_interval_minutes: must be at least 1".into(),
            ));
        }
        let admin_token = flags
            .admin_token
            .map(Secret)
            .or_else(|| file.admin_token.clone())
            .filter(|s| !s.0.trim().is_empty());
        if admin_token.as_ref().is_some_and(|t| t.0.len() < 16) {
            return Err(Error::Config(
                "admin_token: use at least 16 characters".into(),
            ));
        }
        Ok(SyncConfig {
            fts,
            cf,
            feeds,
            enabled,
            interval: std::time::Duration::from_secs(minutes * 60),
            settings: file.sync.clone().unwrap_or_default(),
            admin_token,
        })
    }

    /// The spec of a source by name (`fts`, `cf`, `ocds:<name>`).
    pub fn spec(&self, name: &str) -> Option<&SourceSpec> {
        match name {
            "fts" => Some(&self.fts),
            "cf" => Some(&self.cf),
            _ => self.feeds.iter().find(|f| f.name == name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// Cluster slugs members may belong to.
    pub clusters: Vec<String>,
    /// Match component weights (normalised to sum to 1).
    pub weights: crate::matching::Weights,
    /// Brokered value target and programme start.
    pub ledger: crate::ledger::LedgerSettings,
    /// Requests per minute per API key.
    pub rate_limit_per_minute: u32,
}

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

impl FileConfig {
    pub fn load(path: Option<&Path>) -> Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }
}

impl Config {
    /// Resolves the configuration: `flag_*` already hold flag-or-environment
    /// values (clap reads `SEBROKER_*`), the file fills what they leave.
    pub fn resolve(
        file: FileConfig,
        flag_data_dir: Option<PathBuf>,
        flag_addr: Option<String>,
    ) -> Result<Config> {
        let data_dir = flag_data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let addr_s = flag_addr
            .or(file.addr)
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = addr_s.parse().map_err(|_| {
            Error::Config(format!(
                "addr: {addr_s:?} is not an address like 127.0.0.1:8080"
            ))
        })?;
        let clusters = match std::env::var("SEBROKER_CLUSTERS") {
            Ok(v) => v
                .split(',')
                .map(|c| c.trim().to_lowercase())
                .filter(|c| !c.is_empty())
                .collect(),
            Err(_) => file.clusters.unwrap_or_else(|| {
                crate::members::DEFAULT_CLUSTERS
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect()
            }),
        };
        if let Some(bad) = clusters
            .iter()
            .find(|c| !sebroker_connectors::source::is_slug(c))
        {
            return Err(Error::Config(format!(
                "clusters: {bad:?} is not a slug (lower-case letters, digits, dashes)"
            )));
        }
        let weights = file.weights.unwrap_or_default().normalised();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut ledger = crate::ledger::LedgerSettings::default();
        let target = match env("SEBROKER_TARGET_PENCE") {
            Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                Error::Config(format!(
                    "SEBROKER_TARGET_PENCE: {v:?} is not a whole number of pence"
                ))
            })?),
            None => file.target_pence,
        };
        if let Some(t) = target {
            if t <= 0 {
                return Err(Error::Config("target_pence: must be above 0".into()));
            }
            ledger.target_pence = t;
        }
        if let Some(s) = env("SEBROKER_PROGRAMME_START").or(file.programme_start) {
            ledger.programme_start = crate::ledger::model::ymd::parse(&s)
                .map_err(|m| Error::Config(format!("programme_start: {m}")))?;
        }
        let rate_limit_per_minute = match env("SEBROKER_RATE_LIMIT") {
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                Error::Config(format!("SEBROKER_RATE_LIMIT: {v:?} is not a whole number"))
            })?,
            None => file.rate_limit_per_minute.unwrap_or(600),
        };
        if rate_limit_per_minute == 0 {
            return Err(Error::Config(
                "rate_limit_per_minute: must be at least 1".into(),
            ));
        }
        Ok(Config {
            data_dir,
            addr,
            clusters,
            weights,
            ledger,
            rate_limit_per_minute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file() {
        let file = FileConfig {
            data_dir: Some("/from/file".into()),
            addr: Some("127.0.0.1:9000".into()),
            ..FileConfig::default()
        };
        let c = Config::resolve(file, Some("/from/flag".into()), None).expect("valid");
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.addr.port(), 9000);
        assert!(Config::resolve(FileConfig::default(), None, Some("nope".into())).is_err());
    }

    #[test]
    fn sync_settings_from_file_env_and_flags() {
        let file: FileConfig = toml::from_str(
            "fts_url = 'http://127.0.0.1:1'\nadmin_token = 'abcdefghijklmnopq'\n[http.fts]\nmin_interval_ms = 0\n[[feeds]]\nname = 'pcs'\nurl = 'https://example.org/ocds'\n",
        )
        .expect("parses");
        assert!(!format!("{file:?}").contains("abcdefghijklmnopq"));
        let c = SyncConfig::resolve(
            &file,
            SyncFlags {
                cf_url: Some("http://127.0.0.1:2".into()),
                ..SyncFlags::default()
            },
        )
        .expect("valid");
        assert_eq!(c.fts.url, "http://127.0.0.1:1");
        assert_eq!(c.fts.http.min_interval_ms, 0);
        assert_eq!(c.fts.http.max_attempts, 5);
        assert_eq!(c.cf.http.forbidden_wait_ms, Some(300_000));
        assert_eq!(c.cf.url, "http://127.0.0.1:2");
        assert_eq!(c.enabled, vec!["fts", "cf", "ocds:pcs"]);
        assert!(c.spec("ocds:pcs").is_some());
        assert!(SyncConfig::resolve(
            &file,
            SyncFlags {
                fts_url: Some("nope".into()),
                ..SyncFlags::default()
            }
        )
        .is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("data_dri = 'x'").is_err());
    }
}
