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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The configuration file. Unknown keys are errors, so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub addr: Option<String>,
    pub clusters: Option<Vec<String>>,
    pub weights: Option<crate::matching::Weights>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// Cluster slugs members may belong to.
    pub clusters: Vec<String>,
    /// Match component weights (normalised to sum to 1).
    pub weights: crate::matching::Weights,
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
        Ok(Config {
            data_dir,
            addr,
            clusters,
            weights,
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
            clusters: None,
            weights: None,
        };
        let c = Config::resolve(file, Some("/from/flag".into()), None).expect("valid");
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.addr.port(), 9000);
        assert!(Config::resolve(FileConfig::default(), None, Some("nope".into())).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("data_dri = 'x'").is_err());
    }
}
