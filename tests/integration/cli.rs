//! Exit codes, messages and the one-process-per-folder lock.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::common::{bin, run, tempdir};

#[test]
fn usage_errors_exit_2_and_unknown_notices_exit_1() {
    let dir = tempdir();
    let out = bin().arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = run(dir.path(), &["search", "x", "--sort", "sideways"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sort"));
    let out = run(dir.path(), &["search", "x", "--cpv", "8x"]);
    assert_ne!(out.status.code(), Some(0));
    let out = run(dir.path(), &["notice", "ocds-h6vhtk-nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no notice with ocid"));
    let out = run(dir.path(), &["ingest", "/nonexistent/file.json"]);
    assert_eq!(out.status.code(), Some(1));
    let out = bin().arg("--help").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
}

/// Starts `serve` on port 0 and returns the child and its base URL.
pub fn serve(global: &[&str], serve_args: &[&str]) -> (Child, String) {
    let mut child = bin()
        .args(global)
        // Never sync the real services from tests.
        .args(["serve", "--addr", "127.0.0.1:0", "--no-sync"])
        .args(serve_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let url = crate::common::listening_url(&mut child);
    (child, url)
}

/// A running `serve --demo` with the demo keys it printed (by label:
/// `admin`, `broker`, `funder`, `member m-0001`).
pub struct DemoServer {
    pub child: Child,
    pub url: String,
    pub keys: std::collections::HashMap<String, String>,
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DemoServer {
    pub fn key(&self, label: &str) -> &str {
        self.keys
            .get(label)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no demo key {label:?} in {:?}", self.keys.keys()))
    }
}

/// Starts `serve` on port 0, reads its first stdout line and the
/// `demo key LABEL: KEY` lines it prints on stderr (up to the `try:` line),
/// then keeps draining stderr so the server never blocks on it.
pub fn serve_demo(global: &[&str], serve_args: &[&str]) -> DemoServer {
    let mut child = bin()
        .args(global)
        .args(["serve", "--addr", "127.0.0.1:0", "--no-sync"])
        .args(serve_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let url = crate::common::listening_url(&mut child);
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut keys = std::collections::HashMap::new();
    loop {
        let mut l = String::new();
        if err.read_line(&mut l).expect("stderr") == 0 {
            break;
        }
        if let Some(rest) = l.trim().strip_prefix("demo key ") {
            if let Some((label, key)) = rest.split_once(": ") {
                keys.insert(label.to_owned(), key.to_owned());
            }
        }
        if l.starts_with("try: ") {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while err.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    DemoServer { child, url, keys }
}

#[test]
fn a_second_process_is_told_who_holds_the_folder() {
    let dir = tempdir();
    let d = dir.path().to_str().expect("path");
    let (mut server, _url) = serve(&["--data-dir", d], &[]);
    let out = run(dir.path(), &["stats"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("in use by process") && msg.contains(&server.id().to_string()),
        "{msg}"
    );
    // Once the holder is gone, the folder opens again.
    assert_eq!(run(dir.path(), &["stats"]).status.code(), Some(0));
}

#[test]
fn the_config_file_and_environment_set_the_data_folder() {
    let dir = tempdir();
    let cfg = dir.path().join("sebroker.toml");
    let data = dir.path().join("from-config");
    std::fs::write(
        &cfg,
        format!("data_dir = {:?}\n", data.to_str().expect("p")),
    )
    .expect("write");
    let out = bin()
        .arg("--config")
        .arg(&cfg)
        .arg("stats")
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("store").exists());
    let env_data = dir.path().join("from-env");
    let out = bin()
        .env("SEBROKER_DATA_DIR", &env_data)
        .env("SEBROKER_CONFIG", &cfg)
        .arg("stats")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        env_data.join("store").exists(),
        "the environment beats the file"
    );
    std::fs::write(&cfg, "data_dri = 'typo'\n").expect("write");
    let out = bin()
        .arg("--config")
        .arg(&cfg)
        .arg("stats")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("data_dri"));
}
