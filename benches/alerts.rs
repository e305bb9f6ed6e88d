//! Alert selection for many members: one full alerts run (dry run: select
//! and rank, no sending) over 10k synthetic members and the demo notices.
//!
//! `cargo bench --bench alerts`

#[path = "common/synthetic.rs"]
mod synthetic;

use criterion::{criterion_group, criterion_main, Criterion};
use sebroker_alerts::{self as alerts, RunOptions, Scope};
use sebroker_connectors::places::Places;
use sebroker_engine::Engine;

fn bench(c: &mut Criterion) {
    let places = Places::builtin();
    let notices = synthetic::demo_notices(&places);
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Engine::open_dir(dir.path()).expect("app");
    let members = synthetic::synthetic_members(10_000, &notices, &places);
    for m in &members {
        app.store.put_member(m).expect("member");
    }
    app.matches.reload_members().expect("members");
    // Every member wants a daily digest in its Atom feed.
    let set_at = time::macros::datetime!(2026-11-01 09:00 UTC);
    for m in &members {
        let input: sebroker_alerts::settings::SettingsInput = serde_json::from_value(
            serde_json::json!({"frequency": "daily", "feed": true, "threshold": 0.5}),
        )
        .expect("settings");
        alerts::put_settings(&app, &m.id, input, set_at).expect("settings");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    for f in ["fts-2026-11.json", "cf-2026-11.json"] {
        let text = std::fs::read_to_string(root.join(f)).expect("demo file");
        sebroker_engine::ingest::ingest_text(&app, f, &text, &Default::default()).expect("ingest");
    }
    let now = time::macros::datetime!(2026-12-01 09:00 UTC);
    let mut g = c.benchmark_group("alerts");
    g.sample_size(10);
    let opts = RunOptions {
        now,
        dry_run: true,
        scope: Scope::All,
    };
    let report = alerts::run(&app, &opts).expect("run");
    eprintln!(
        "digest run: {} recipients considered, {} digests due, {} alerts, {} items",
        report.recipients_considered,
        report.digests_due,
        report.alerts.len(),
        report.alerts.iter().map(|a| a.items).sum::<usize>()
    );
    g.bench_function("daily_digests_10k_members_dry_run", |b| {
        b.iter(|| alerts::run(&app, &opts).expect("run"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
