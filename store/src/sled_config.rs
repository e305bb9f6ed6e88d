//! How every sled database of the store is opened: the store itself and
//! compaction's copy, so that both have the same settings.

use std::path::Path;

/// sled's page cache; explicit so memory use does not depend on sled's default.
const CACHE_BYTES: u64 = 256 * 1024 * 1024;

pub fn sled_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
}
