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
//! | `[clusters.<slug>] places` | — | — | the places of a cluster on the market map (`/market`): `ward-end` Birmingham, `walsall` Walsall, `smethwick` Sandwell, `wolverhampton` Wolverhampton; `other` none (every UK place outside the others). With tables, the clusters are the tables' keys |
//! | `geo_dir` | `SEBROKER_GEO_DIR` | — | none: the built-in West Midlands authorities; a folder with `uk_local_authorities.csv` and `lad18_to_nuts318.csv` (the shared data's `geo/`) adds every UK local authority, its NUTS3 area and combined authority |
//! | `[weights]`| —                    | —            | fitted defaults (see `matching::Weights`) |
//! | `[matching]` `model` | —          | —            | none: rank by the weighted components; `"shipped"` for the learned model compiled in (`matching/model.json`), or a model file written by `sebroker evaluate --fit --out FILE` |
//! | `target_pence` | `SEBROKER_TARGET_PENCE` | — | `100000000` (£1,000,000 brokered over the programme) |
//! | `programme_start` | `SEBROKER_PROGRAMME_START` | — | `2025-04-01` (first day of programme year 1) |
//! | `[ledger]` `max_value_pence` | `SEBROKER_LEDGER_MAX_VALUE_PENCE` | — | `100000000000` (£1bn): the most one `won` value or one return's turnover may be; above it, or negative, is refused with 422 (notices keep their published values) |
//! | `rate_limit_per_minute` | `SEBROKER_RATE_LIMIT` | — | `600` requests per API key per minute (its page sessions included) |
//! | `auth_attempts_per_minute` | `SEBROKER_AUTH_RATE_LIMIT` | — | `30` sign-ins and, separately, `30` bad or missing credentials per client address per minute; then 429 with `Retry-After` |
//! | `fts_url`  | `SEBROKER_FTS_URL`   | `--fts-url` (sync, serve) | `https://www.find-tender.service.gov.uk` |
//! | `cf_url`   | `SEBROKER_CF_URL`    | `--cf-url` (sync, serve)  | `https://www.contractsfinder.service.gov.uk` |
//! | `admin_token` | `SEBROKER_ADMIN_TOKEN` | — (never a flag: flags show in `ps`) | none: anchor uploads refused |
//! | `sync_interval_minutes` | `SEBROKER_SYNC_INTERVAL` | `--sync-interval` (serve) | `15` |
//! | `sync_sources` | — | — | `["fts", "cf"]` and every feed: what `serve` syncs |
//! | `[[feeds]]` `name`, `url` | — | — | none: generic OCDS feeds, source `ocds:<name>` |
//! | `[sync]` | — | — | windows: `page_limit` 100, `window_hours` 24, `min_split_minutes` 60, `overlap_minutes` 30, `first_run_days` 7, `max_pages_per_window` 5000 |
//! | `[http.fts]`, `[http.cf]`, `[http.feeds]` | — | — | pacing and retries: `timeout_ms`, `connect_timeout_ms`, `max_body_bytes`, `min_interval_ms` (FTS 10500, CF 2000, feeds 1000), `max_attempts` 5, `backoff_base_ms` 2000, `backoff_max_ms` 300000, `max_retry_after_ms` 900000, `retry_after_scale` 1.0, `forbidden_wait_ms` (CF 300000) |
//!
//! | `public_url` | `SEBROKER_PUBLIC_URL` | `--public-url` | `http://<addr>`: the base of links in alerts and feeds |
//! | `[alerts]` | — | — | see docs/alerts.md: `default_threshold` 0.6, `default_frequency` daily, `digest_time` "08:00" (UK time), `digest_weekday` "monday", `max_items` 25, `webhook_allow` [], `webhook_timeout_ms` 10000, `webhook_connect_timeout_ms` 5000, `max_attempts` 8, `backoff_base_ms` 30000, `backoff_max_ms` 3600000, `concurrency` 8, `email_from`, `outbox_dir` (`<data_dir>/outbox`), `smtp_timeout_ms` 30000, `broker_*` |
//! | `[server]` `metrics_token` | `SEBROKER_METRICS_TOKEN` | — (a secret) | none: `/metrics` takes an admin key only |
//! | `alerts.deliver` | — | — | `true`; `false` sends nothing (deliveries stay queued, webhook names are not resolved) |
//! | `alerts.smtp_url` | `SEBROKER_SMTP_URL` | — (a secret) | none: emails go to the outbox as `.eml` files |
//!
//! See docs/connectors.md for the sources and what each setting does, and
//! docs/alerts.md for alerts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use sebroker_connectors::http::HttpSettings;
use sebroker_connectors::places::Gazetteer;
use sebroker_connectors::sync::{SourceSpec, SyncSettings};

use crate::error::{Error, Result};

/// The configuration file. Unknown keys are errors, so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub addr: Option<String>,
    pub clusters: Option<ClustersFileConfig>,
    pub geo_dir: Option<PathBuf>,
    pub weights: Option<sebroker_matching::Weights>,
    pub target_pence: Option<i64>,
    pub programme_start: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    pub auth_attempts_per_minute: Option<u32>,
    pub fts_url: Option<String>,
    pub cf_url: Option<String>,
    pub admin_token: Option<Secret>,
    pub sync_interval_minutes: Option<u64>,
    pub sync_sources: Option<Vec<String>>,
    #[serde(default)]
    pub feeds: Vec<FeedConfig>,
    pub sync: Option<SyncSettings>,
    pub http: Option<HttpConfig>,
    pub public_url: Option<String>,
    pub alerts: Option<AlertsConfig>,
    pub ledger: Option<LedgerFileConfig>,
    pub server: Option<ServerFileConfig>,
    pub matching: Option<MatchingFileConfig>,
}

/// `clusters`: a list of slugs, or one table per cluster
/// (`[clusters.walsall] places = ["Walsall"]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ClustersFileConfig {
    List(Vec<String>),
    Tables(std::collections::BTreeMap<String, ClusterFileConfig>),
}

/// `[clusters.<slug>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFileConfig {
    /// Place names, GSS codes, NUTS codes or postcodes: where the cluster works.
    #[serde(default)]
    pub places: Option<Vec<String>>,
}

/// The default places of the programme's clusters (slug, places).
pub const DEFAULT_CLUSTER_PLACES: &[(&str, &[&str])] = &[
    ("ward-end", &["E08000025"]),
    ("walsall", &["E08000030"]),
    ("smethwick", &["E08000028"]),
    ("wolverhampton", &["E08000031"]),
];

/// Each cluster's places: the configured ones, else the defaults.
fn cluster_places(
    clusters: &[String],
    file: Option<&ClustersFileConfig>,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let configured = |slug: &str| match file {
        Some(ClustersFileConfig::Tables(t)) => t.get(slug).and_then(|c| c.places.clone()),
        _ => None,
    };
    clusters
        .iter()
        .map(|slug| {
            let places = configured(slug).unwrap_or_else(|| {
                DEFAULT_CLUSTER_PLACES
                    .iter()
                    .find(|(s, _)| s == slug)
                    .map(|(_, p)| p.iter().map(|x| (*x).to_owned()).collect())
                    .unwrap_or_default()
            });
            (slug.clone(), places)
        })
        .collect()
}

/// Reads the local authorities of `geo_dir`, or the built-in table.
fn authorities(geo_dir: Option<&Path>) -> Result<sebroker_connectors::places::Authorities> {
    use sebroker_connectors::places::Authorities;
    match geo_dir {
        None => Ok(Authorities::builtin()),
        Some(dir) => Authorities::load(dir).map_err(|e| Error::Config(format!("geo_dir: {e}"))),
    }
}

/// `[server]`: HTTP settings that are not flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFileConfig {
    /// A bearer token that reads `/metrics` (and nothing else).
    pub metrics_token: Option<Secret>,
}

/// `[matching]`: the learned ranking model.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingFileConfig {
    /// `"shipped"` or the path of a model file.
    pub model: Option<String>,
    /// A postcode-districts CSV with coordinates (the shared data's
    /// `geo/postcode_districts.csv`): distances from members to the work.
    pub postcode_districts: Option<PathBuf>,
}

/// Reads `[matching] postcode_districts`, if set.
fn gazetteer(file: Option<&MatchingFileConfig>) -> Result<Option<Gazetteer>> {
    let Some(path) = file.and_then(|m| m.postcode_districts.as_deref()) else {
        return Ok(None);
    };
    Gazetteer::load(path)
        .map(Some)
        .map_err(|e| Error::Config(format!("matching.postcode_districts: {e}")))
}

/// Reads `[matching] model`: the shipped model or a model file.
fn matching_model(
    file: Option<&MatchingFileConfig>,
) -> Result<Option<sebroker_matching::ranker::Model>> {
    use sebroker_matching::ranker::Model;
    let Some(spec) = file.and_then(|m| m.model.as_deref()) else {
        return Ok(None);
    };
    let model = if spec == "shipped" {
        Model::shipped()
    } else {
        std::fs::read_to_string(spec)
            .map_err(|e| e.to_string())
            .and_then(|t| Model::parse(&t))
    };
    model
        .map(Some)
        .map_err(|e| Error::Config(format!("matching.model {spec:?}: {e}")))
}

/// `[ledger]`: bounds on what the ledger accepts (see docs/ledger.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerFileConfig {
    /// The most one `won` value or one return's turnover may be (pence).
    pub max_value_pence: Option<i64>,
}

pub use sebroker_alerts::config::AlertsConfig;

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

pub use sebroker_model::Secret;

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

/// The one configuration, resolved once (file < environment < flags) and
/// handed to the engine and the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// Cluster slugs members may belong to.
    pub clusters: Vec<String>,
    /// Each cluster's places on the market map (`[clusters.<slug>] places`).
    pub cluster_places: std::collections::BTreeMap<String, Vec<String>>,
    /// The local authorities the market map shows (`geo_dir`, else built in).
    pub authorities: std::sync::Arc<sebroker_connectors::places::Authorities>,
    /// Match component weights (normalised to sum to 1).
    pub weights: sebroker_matching::Weights,
    /// The learned ranking model (`[matching] model`); `None` ranks by the weights.
    pub model: Option<sebroker_matching::ranker::Model>,
    /// Postcode districts with coordinates (`[matching] postcode_districts`).
    pub gazetteer: Option<Gazetteer>,
    pub alerts: AlertsConfig,
    /// Brokered value target and programme start.
    pub ledger: sebroker_ledger::LedgerSettings,
    /// Requests per minute per API key.
    pub rate_limit_per_minute: u32,
    /// Sign-in attempts, and bad credentials, per client address per minute.
    pub auth_attempts_per_minute: u32,
    /// Live sources, their schedule and the admin token.
    pub sync: SyncConfig,
    /// The bearer token that reads `/metrics` besides admin keys.
    pub metrics_token: Option<Secret>,
}

/// Flag-or-environment values (clap reads `SEBROKER_*`); the file fills
/// what they leave.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub data_dir: Option<PathBuf>,
    pub addr: Option<String>,
    pub public_url: Option<String>,
    pub fts_url: Option<String>,
    pub cf_url: Option<String>,
    pub sync_interval_minutes: Option<u64>,
    /// `SEBROKER_ADMIN_TOKEN` (never a flag: flags show in `ps`).
    pub admin_token: Option<String>,
}

/// Sign-ins and bad credentials allowed per client address per minute.
pub const DEFAULT_AUTH_ATTEMPTS_PER_MINUTE: u32 = 30;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Where a running `serve` writes its URL, so commands can reach it.
pub fn url_file(data_dir: &Path) -> PathBuf {
    data_dir.join("serve.url")
}

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
    /// The defaults for a data folder, without reading the environment
    /// (tests, benchmarks, the demo).
    pub fn for_data_dir(dir: &Path) -> Result<Config> {
        let addr: SocketAddr = DEFAULT_ADDR
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let file = FileConfig::default();
        let clusters: Vec<String> = sebroker_connectors::members::DEFAULT_CLUSTERS
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
        Ok(Config {
            data_dir: dir.to_owned(),
            addr,
            cluster_places: cluster_places(&clusters, None),
            clusters,
            authorities: std::sync::Arc::new(sebroker_connectors::places::Authorities::builtin()),
            weights: sebroker_matching::Weights::default(),
            model: None,
            gazetteer: None,
            alerts: AlertsConfig::default(),
            ledger: sebroker_ledger::LedgerSettings::default(),
            rate_limit_per_minute: 600,
            auth_attempts_per_minute: DEFAULT_AUTH_ATTEMPTS_PER_MINUTE,
            sync: SyncConfig::resolve(&file, SyncFlags::default())?,
            metrics_token: None,
        })
    }

    /// Resolves the configuration: `flags` hold flag-or-environment values
    /// (clap reads `SEBROKER_*`), the file fills what they leave.
    pub fn resolve(file: FileConfig, flags: Flags) -> Result<Config> {
        let sync = SyncConfig::resolve(
            &file,
            SyncFlags {
                fts_url: flags.fts_url,
                cf_url: flags.cf_url,
                sync_interval_minutes: flags.sync_interval_minutes,
                admin_token: flags.admin_token,
            },
        )?;
        let (flag_data_dir, flag_addr, flag_public_url) =
            (flags.data_dir, flags.addr, flags.public_url);
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
            Err(_) => match &file.clusters {
                Some(ClustersFileConfig::List(l)) => l.clone(),
                Some(ClustersFileConfig::Tables(t)) => t.keys().cloned().collect(),
                None => sebroker_connectors::members::DEFAULT_CLUSTERS
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect(),
            },
        };
        let cluster_places = cluster_places(&clusters, file.clusters.as_ref());
        let geo_dir = std::env::var_os("SEBROKER_GEO_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or(file.geo_dir.clone());
        let authorities = std::sync::Arc::new(authorities(geo_dir.as_deref())?);
        if let Some(bad) = clusters
            .iter()
            .find(|c| !sebroker_connectors::source::is_slug(c))
        {
            return Err(Error::Config(format!(
                "clusters: {bad:?} is not a slug (lower-case letters, digits, dashes)"
            )));
        }
        let weights = file.weights.unwrap_or_default().normalised();
        let model = matching_model(file.matching.as_ref())?;
        let gazetteer = gazetteer(file.matching.as_ref())?;
        let alerts = file.alerts.unwrap_or_default().resolve(
            flag_public_url.or(file.public_url),
            &addr,
            std::env::var("SEBROKER_SMTP_URL").ok(),
        )?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut ledger = sebroker_ledger::LedgerSettings::default();
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
        let max = match env("SEBROKER_LEDGER_MAX_VALUE_PENCE") {
            Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                Error::Config(format!(
                    "SEBROKER_LEDGER_MAX_VALUE_PENCE: {v:?} is not a whole number of pence"
                ))
            })?),
            None => file.ledger.as_ref().and_then(|l| l.max_value_pence),
        };
        if let Some(m) = max {
            if m <= 0 {
                return Err(Error::Config(
                    "ledger.max_value_pence: must be above 0".into(),
                ));
            }
            ledger.max_value_pence = m;
        }
        if let Some(s) = env("SEBROKER_PROGRAMME_START").or(file.programme_start) {
            ledger.programme_start = sebroker_ledger::model::ymd::parse(&s)
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
        let auth_attempts_per_minute = match env("SEBROKER_AUTH_RATE_LIMIT") {
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                Error::Config(format!(
                    "SEBROKER_AUTH_RATE_LIMIT: {v:?} is not a whole number"
                ))
            })?,
            None => file
                .auth_attempts_per_minute
                .unwrap_or(DEFAULT_AUTH_ATTEMPTS_PER_MINUTE),
        };
        if auth_attempts_per_minute == 0 {
            return Err(Error::Config(
                "auth_attempts_per_minute: must be at least 1".into(),
            ));
        }
        let metrics_token = env("SEBROKER_METRICS_TOKEN")
            .map(Secret)
            .or_else(|| file.server.as_ref().and_then(|s| s.metrics_token.clone()))
            .filter(|s| !s.0.trim().is_empty());
        if metrics_token.as_ref().is_some_and(|t| t.0.len() < 16) {
            return Err(Error::Config(
                "metrics_token: use at least 16 characters".into(),
            ));
        }
        Ok(Config {
            metrics_token,
            sync,
            auth_attempts_per_minute,
            data_dir,
            addr,
            clusters,
            cluster_places,
            authorities,
            weights,
            model,
            gazetteer,
            alerts,
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
        let c = Config::resolve(
            file,
            Flags {
                data_dir: Some("/from/flag".into()),
                ..Flags::default()
            },
        )
        .expect("valid");
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.addr.port(), 9000);
        assert!(Config::resolve(
            FileConfig::default(),
            Flags {
                addr: Some("nope".into()),
                ..Flags::default()
            }
        )
        .is_err());
        assert_eq!(c.alerts.public_url, "http://127.0.0.1:9000");
        let file: FileConfig = toml::from_str(
            "public_url = 'https://brokerage.example.org/'\n[alerts]\ndigest_time = '07:30'\nwebhook_allow = ['127.0.0.1']\n",
        )
        .expect("parses");
        let c = Config::resolve(file, Flags::default()).expect("valid");
        assert_eq!(c.alerts.public_url, "https://brokerage.example.org");
        assert!(!c.alerts.webhook_allow.is_empty());
        let file: FileConfig = toml::from_str("[alerts]\ndigest_time = '7 am'\n").expect("parses");
        assert!(Config::resolve(file, Flags::default()).is_err());
        assert!(toml::from_str::<FileConfig>("[alerts]\nwebhook_allow = ['nope']\n").is_err());
    }

    #[test]
    fn clusters_take_a_list_or_tables_of_places() {
        let list: FileConfig = toml::from_str("clusters = ['walsall', 'other']\n").expect("a list");
        let c = Config::resolve(list, Flags::default()).expect("valid");
        assert_eq!(
            c.cluster_places.get("walsall"),
            Some(&vec!["E08000030".to_owned()])
        );
        assert_eq!(c.cluster_places.get("other"), Some(&Vec::new()));
        let tables: FileConfig = toml::from_str(
            "[clusters.walsall]\nplaces = ['Walsall', 'Dudley']\n[clusters.other]\n",
        )
        .expect("tables");
        let c = Config::resolve(tables, Flags::default()).expect("valid");
        assert_eq!(c.clusters, vec!["other".to_owned(), "walsall".to_owned()]);
        assert_eq!(c.cluster_places.get("walsall").map(Vec::len), Some(2));
        assert!(toml::from_str::<FileConfig>("[clusters.walsall]\nplace = ['x']\n").is_err());
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
    fn the_ledger_section_bounds_money() {
        let c = Config::resolve(FileConfig::default(), Flags::default()).expect("valid");
        assert_eq!(c.ledger.max_value_pence, 100_000_000_000);
        let file: FileConfig =
            toml::from_str("[ledger]\nmax_value_pence = 5000\n").expect("parses");
        let c = Config::resolve(file, Flags::default()).expect("valid");
        assert_eq!(c.ledger.max_value_pence, 5000);
        let file: FileConfig = toml::from_str("[ledger]\nmax_value_pence = -1\n").expect("parses");
        assert!(Config::resolve(file, Flags::default()).is_err());
        assert!(toml::from_str::<FileConfig>("[ledger]\nmax_value = 1\n").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("data_dri = 'x'").is_err());
    }
}
