//! How every sled database of the store is opened: the store itself and
//! compaction's copy, so that both have the same settings.

use std::path::Path;

/// sled's page cache; explicit so memory use does not depend on sled's default.
const CACHE_BYTES: u64 = 256 * 1024 * 1024;

fn sled_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
}

/// How long [`open`] waits for a lock sled still holds.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens a sled database with [`sled_config`]. sled releases its file lock
/// from a background thread after the last handle is dropped, so opening
/// again right after a close can find it still held: wait for it (bounded),
/// rather than fail. Another process holding the folder is kept out by the
/// store's own lock file before this is reached.
pub fn open(dir: &Path) -> sled::Result<sled::Db> {
    let start = std::time::Instant::now();
    loop {
        match sled_config(dir).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && start.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
