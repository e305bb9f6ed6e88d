//! `sebroker ingest`: files and folders of OCDS into the store and the index,
//! with counts and every error located by file and byte position. Every
//! source writes through the single [`Writer`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sebroker_connectors::ocds;

use crate::error::Result;
use crate::Engine;

pub use crate::batch::{IngestError, IngestOptions, IngestReport};
pub use sebroker_connectors::ocds::files::collect_files;

/// Ingests files through the single writer; `progress` is called after
/// each file with (done, total). Each file is read (decoded and split into
/// releases) here, then written to the store by the writer; the index
/// follows in batches and is committed before this returns.
pub fn ingest_files(
    app: &Engine,
    files: &[PathBuf],
    opts: &IngestOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<IngestReport> {
    let mut report = IngestReport::default();
    // Where the time goes (logged at the end: `RUST_LOG=info`).
    let (mut read, mut write) = (Duration::ZERO, Duration::ZERO);
    for (i, file) in files.iter().enumerate() {
        let name = file.display().to_string();
        let t = Instant::now();
        let outcome = ocds::read_path(file);
        read += t.elapsed();
        match outcome {
            Ok(outcome) => {
                let t = Instant::now();
                // Durable (store flushed) when this returns.
                let r = app.writer.submit(&name, outcome, opts, false)?;
                write += t.elapsed();
                report.add(r);
            }
            Err(e) => {
                report.files += 1;
                report.errors.push(IngestError {
                    file: name,
                    position: 0,
                    message: e.to_string(),
                });
            }
        }
        progress(i + 1, files.len());
    }
    let t = Instant::now();
    app.writer.commit()?;
    let commit = t.elapsed();
    // A bulk load (at least half of what the index now holds) ends with
    // one segment: a search visits each segment, and a backfill leaves
    // several. The merge runs beside the followers.
    let created = report.notices_created;
    let merge = if created > 0 && created.saturating_mul(2) >= app.index.num_docs() {
        app.index.start_merge()?
    } else {
        None
    };
    let t = Instant::now();
    // A one-shot ingest lets the followers (groups, matches) catch up.
    app.follow()?;
    if let Some(m) = merge {
        m.wait()?;
    }
    tracing::info!(
        read_ms = read.as_millis() as u64,
        write_ms = write.as_millis() as u64,
        last_commit_ms = commit.as_millis() as u64,
        follow_ms = t.elapsed().as_millis() as u64,
        "ingest timings"
    );
    app.store.log_ingest(&serde_json::json!({
        "at": time::OffsetDateTime::now_utc().unix_timestamp(),
        "files": report.files, "releases_new": report.releases_new,
        "notices_created": report.notices_created, "notices_updated": report.notices_updated,
        "errors": report.errors.len(),
    }))?;
    app.store.flush()?;
    Ok(report)
}

/// Ingests in-memory JSON (the demo data set, API uploads), then lets the
/// followers catch up: like a one-shot command, what it wrote is grouped
/// and matched when it returns.
pub fn ingest_text(
    app: &Engine,
    name: &str,
    text: &str,
    opts: &IngestOptions,
) -> Result<IngestReport> {
    let report = ingest_outcome(
        app,
        name,
        ocds::read_bytes(text.as_bytes(), false, false),
        opts,
    )?;
    app.follow()?;
    Ok(report)
}

/// Ingests releases already read (a page of a live source, anchors'
/// opportunities) through the single writer: store, groups, matches, then
/// an index commit, all durable before it returns.
pub fn ingest_outcome(
    app: &Engine,
    name: &str,
    outcome: ocds::ReadOutcome,
    opts: &IngestOptions,
) -> Result<IngestReport> {
    app.writer.submit(name, outcome, opts, true)
}
