//! Matching and consortium search against synthetic member profiles
//! (1k, 10k, 100k), built from the CPV codes, places and words of the
//! fictional demo data; notices are the demo notices.
//!
//! `cargo bench --bench matching`

use std::collections::HashMap;

#[path = "common/synthetic.rs"]
mod synthetic;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sebroker_connectors::places::Places;
use sebroker_index::{Member, MemberIndex};
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
        let corpus = Corpus::build(map.values());
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
