//! Ingest throughput and search latency on the real FTS/CF releases of
//! `../shared/data`, scaled up by varying ocids.
//!
//! `cargo bench --bench ingest_search` — set `SEBROKER_BENCH_NOTICES`
//! (default 100000) for the search corpus size. Besides criterion's timings
//! it prints p50/p99 latencies, index size and peak memory (VmHWM).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sebroker_engine::ingest::{ingest_text, IngestOptions};
use sebroker_engine::search::{search, SearchParams};
use sebroker_engine::Engine;
use sebroker_index::{SearchRequest, Status};

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ocds");
    p.is_dir().then_some(p)
}

/// Every distinct raw release of the shared data (ocid, raw JSON).
fn real_releases(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in files {
        let Ok(o) = sebroker_connectors::ocds::read_path(&f) else {
            continue;
        };
        for r in o.releases {
            let Ok(rel) = sebroker_connectors::ocds::Release::parse(&r.json) else {
                continue;
            };
            let Some(ocid) = rel.ocid else { continue };
            if seen.insert(sebroker_connectors::json::content_hash(&r.json)) {
                out.push((ocid, r.json));
            }
        }
    }
    out
}

/// `n` releases: copies of the real ones with the ocid varied per copy.
fn scaled(real: &[(String, String)], n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (ocid, json) = &real[i % real.len()];
            let copy = i / real.len();
            if copy == 0 {
                json.clone()
            } else {
                json.replace(ocid.as_str(), &format!("{ocid}-x{copy}"))
            }
        })
        .collect()
}

fn package(releases: &[String]) -> String {
    format!("{{\"releases\":[{}]}}", releases.join(","))
}

fn fresh_app() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Engine::open_dir(dir.path()).expect("app");
    (dir, app)
}

fn load(app: &Engine, releases: &[String]) {
    for chunk in releases.chunks(20_000) {
        ingest_text(app, "bench", &package(chunk), &IngestOptions::default()).expect("ingest");
    }
}

fn percentiles(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99))
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn bench_ingest(c: &mut Criterion) {
    let Some(dir) = shared() else {
        eprintln!("SKIPPED: ../shared/data is absent");
        return;
    };
    let real = real_releases(&dir);
    let batch = scaled(&real, 10_000);
    let text = package(&batch);
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10)
        .throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("10k_releases_end_to_end", |b| {
        b.iter_batched(
            fresh_app,
            |(_d, app)| {
                ingest_text(&app, "bench", &text, &IngestOptions::default()).expect("ingest")
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_search(c: &mut Criterion) {
    let Some(dir) = shared() else { return };
    let n: usize = std::env::var("SEBROKER_BENCH_NOTICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let real = real_releases(&dir);
    let releases = scaled(&real, n);
    let (_d, app) = fresh_app();
    let t = Instant::now();
    load(&app, &releases);
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "corpus: {} releases → {} notices, loaded in {:.1}s ({:.0} releases/s), index {:.1} MiB, peak RSS {} MiB",
        releases.len(),
        app.index.num_docs(),
        secs,
        releases.len() as f64 / secs,
        app.index.size_on_disk() as f64 / 1_048_576.0,
        peak_rss_kib() / 1024
    );
    let now = time::macros::datetime!(2026-08-12 12:00 UTC);
    let queries = [
        "cleaning",
        "roof maintenance",
        "care services",
        "software licences",
        "youth",
        "catering school meals",
    ];
    let request = |q: &str| {
        let mut r = SearchRequest::new(q, now);
        r.statuses = vec![Status::Open];
        r.regions = vec!["UK".into()];
        r
    };
    // p50/p99 over many runs: criterion reports means, the target is a tail.
    let mut plain = Vec::new();
    let mut full = Vec::new();
    for i in 0..2_000 {
        let q = queries[i % queries.len()];
        let t = Instant::now();
        app.index.search(&request(q)).expect("search");
        plain.push(t.elapsed());
        let params = SearchParams {
            q: Some(q.into()),
            status: Some("open".into()),
            now: Some("2026-08-12T12:00:00Z".into()),
            ..SearchParams::default()
        };
        let t = Instant::now();
        search(&app, &params).expect("search");
        full.push(t.elapsed());
    }
    let (p50, p99) = percentiles(plain);
    eprintln!("keyword+filter top 10 (index only): p50 {p50:?} p99 {p99:?}");
    let (p50, p99) = percentiles(full);
    eprintln!("with facets, snippets and store join: p50 {p50:?} p99 {p99:?}");

    let mut g = c.benchmark_group(format!("search_{n}"));
    g.bench_function("keyword_filter_top10", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            app.index
                .search(&request(queries[i % queries.len()]))
                .expect("search")
        })
    });
    g.bench_function("with_facets_snippets", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let mut r = request(queries[i % queries.len()]);
            r.facets = true;
            r.snippets = true;
            app.index.search(&r).expect("search")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ingest, bench_search);
criterion_main!(benches);
