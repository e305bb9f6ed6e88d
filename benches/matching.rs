//! Matching and consortium search against synthetic member profiles
//! (1k, 10k, 100k), built from the CPV codes, places and words of the
//! fictional demo data; notices are the demo notices. The re-match group
//! matches every open notice of the shared data (`../shared/data/ocds`:
//! the FTS backfill days and the CF pages) against 10k members.
//!
//! `cargo bench --bench matching`

use std::collections::HashMap;

#[path = "common/synthetic.rs"]
mod synthetic;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sebroker_connectors::places::Places;
use sebroker_index::{Member, MemberIndex, Notice};
use sebroker_matching::ranker::{Corpus, Model, Ranker};
use sebroker_matching::{Matcher, Timing, Weights};
use synthetic::{demo_notices, synthetic_members};

fn bench(c: &mut Criterion) {
    let places = Places::builtin();
    let notices = demo_notices(&places);
    let multi_lot = notices
        .iter()
        .find(|n| n.ocid == "ocds-h6vhtk-d00001")
        .cloned()
        .unwrap_or_else(|| notices[0].clone());
    for n in [1_000usize, 10_000, 100_000] {
        let members = synthetic_members(n, &notices, &places);
        let index = MemberIndex::build(&members).expect("index");
        let map: HashMap<String, Member> = members.into_iter().map(|m| (m.id.clone(), m)).collect();
        let matcher = Matcher {
            members: &map,
            index: &index,
            places: &places,
            weights: Weights::default(),
            ranker: None,
        };
        let mut i = 0;
        // Candidate retrieval alone: the member index's two queries.
        let mut g = c.benchmark_group("member_candidates");
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                i += 1;
                let x = &notices[i % notices.len()];
                index
                    .candidates(&sebroker_matching::notice_text(x), &x.cpv_divisions(), 40)
                    .expect("candidates")
            })
        });
        g.finish();
        let mut g = c.benchmark_group("match_one_notice");
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                i += 1;
                matcher
                    .match_notice(&notices[i % notices.len()], Timing::Ignore, 10)
                    .expect("match")
            })
        });
        g.finish();
        // The learned ranker (the shipped model) over the same members.
        let model = Model::shipped().expect("shipped model");
        let corpus = Corpus::build(&index, map.values());
        let learned = Matcher {
            ranker: Some(Ranker {
                model: &model,
                corpus: &corpus,
            }),
            ..matcher_of(&map, &index, &places)
        };
        let mut g = c.benchmark_group("match_one_notice_learned");
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                i += 1;
                learned
                    .match_notice(&notices[i % notices.len()], Timing::Ignore, 10)
                    .expect("match")
            })
        });
        g.finish();
        if n == 10_000 {
            c.bench_function("consortia_10k_members", |b| {
                b.iter(|| {
                    sebroker_matching::consortia::propose(&multi_lot, &matcher, 4, 3)
                        .expect("consortia")
                })
            });
            let mut t = c.benchmark_group("rematch_all_demo_notices_10k_members");
            t.throughput(Throughput::Elements(notices.len() as u64));
            t.sample_size(10);
            t.bench_function("notices", |b| {
                b.iter(|| {
                    for x in &notices {
                        matcher.match_notice(x, Timing::Ignore, 50).expect("match");
                    }
                })
            });
            t.finish();
            rematch(c, &matcher, &learned, &places);
        }
    }
}

/// Issue 12's re-match after a bulk import: every open notice of the shared
/// data against 10k members, one thread, and split over two threads (as
/// many as the machine has), with and without the learned ranker. Matching
/// only: the engine's `rematch_all` also writes each notice's matches.
fn rematch(c: &mut Criterion, matcher: &Matcher<'_>, learned: &Matcher<'_>, places: &Places) {
    let open: Vec<Notice> = shared_notices(places)
        .into_iter()
        .filter(sebroker_matching::members::biddable)
        .collect();
    assert!(
        !open.is_empty(),
        "no open notices under ../shared/data/ocds (the re-match bench reads them)"
    );
    println!("re-match: {} open notices of the shared data", open.len());
    let mut g = c.benchmark_group("rematch_open_shared_notices_10k_members");
    g.throughput(Throughput::Elements(open.len() as u64));
    g.sample_size(10);
    for (name, m) in [("weights", matcher), ("learned", learned)] {
        g.bench_function(format!("{name}_one_thread"), |b| {
            b.iter(|| match_all(m, &open))
        });
        g.bench_function(format!("{name}_two_threads"), |b| {
            b.iter(|| {
                let half = open.len().div_ceil(2);
                std::thread::scope(|s| {
                    for part in open.chunks(half.max(1)) {
                        s.spawn(move || match_all(m, part));
                    }
                })
            })
        });
    }
    g.finish();
}

/// Matches each notice as the engine does (top 50).
fn match_all(m: &Matcher<'_>, notices: &[Notice]) -> usize {
    notices
        .iter()
        .map(|n| m.match_notice(n, Timing::Ignore, 50).expect("match").len())
        .sum()
}

/// The notices of the shared FTS backfill days and CF pages, compiled.
fn shared_notices(places: &Places) -> Vec<Notice> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ocds");
    let mut files = Vec::new();
    for dir in [root.join("cf"), root.join("fts/backfill")] {
        collect_json(&dir, 3, &mut files);
    }
    synthetic::compile_files(files, places)
}

/// Every `.json` file under `dir`, at most `depth` folders down (the data
/// is two deep).
fn collect_json(dir: &std::path::Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            if depth > 0 {
                collect_json(&p, depth - 1, out);
            }
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn matcher_of<'a>(
    members: &'a HashMap<String, Member>,
    index: &'a MemberIndex,
    places: &'a Places,
) -> Matcher<'a> {
    Matcher {
        members,
        index,
        places,
        weights: Weights::default(),
        ranker: None,
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
