//! Helpers: run the real binary on a fresh data folder, find the shared data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sebroker"));
    c.env_remove("SEBROKER_DATA_DIR")
        .env_remove("SEBROKER_CONFIG")
        .env_remove("RUST_LOG");
    c
}

/// Runs `sebroker --data-dir DIR ARGS...`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("the sebroker binary runs")
}

/// Runs and parses stdout as JSON.
pub fn run_json(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = run(dir, args);
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of {args:?} is not JSON ({e}); exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data`, or `None` (with a message) when this checkout has none.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let p = repo().join("..").join("shared").join("data");
    if p.join("ocds").is_dir() {
        Some(p)
    } else if std::env::var("SEBROKER_REQUIRE_DATA").is_ok_and(|v| v == "1") {
        // CI has the data: a missing folder there is a broken checkout,
        // not a reason to skip.
        panic!("{test}: ../shared/data is absent and SEBROKER_REQUIRE_DATA=1");
    } else {
        eprintln!("SKIPPED {test}: ../shared/data is absent (real-data tests need it beside the checkout)");
        None
    }
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sebroker-test-")
        .tempdir()
        .expect("temp dir")
}

/// Reads the first line `serve` prints (`sebroker listening on URL`) from
/// the child's piped stdout and returns the URL; panics with the line when
/// it is not a loopback URL.
pub fn listening_url(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    let stdout = child.stdout.take().expect("serve's stdout is piped");
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the listening line");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line from serve: {line:?}"
    );
    url
}
