//! The member index against a tantivy index of the same profiles: the same
//! candidates with the same scores, and one member replaced in place.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, STRING};
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

use super::{cpv_tokens, MemberIndex};
use sebroker_model::{Member, TrackRecord};

const WORDS: &[&str] = &[
    "youth",
    "catering",
    "cleaning",
    "gardening",
    "parks",
    "warm",
    "spaces",
    "esol",
    "english",
    "lessons",
    "family",
    "hubs",
    "community",
    "transport",
    "minibus",
    "repair",
    "furniture",
    "reuse",
    "advice",
    "debt",
    "housing",
    "support",
    "wellbeing",
    "mental",
    "health",
    "walking",
    "groups",
    "training",
    "employment",
    "digital",
    "inclusion",
    "laptops",
    "food",
    "bank",
];
const CODES: &[&str] = &[
    "85311000-2",
    "85312000-9",
    "55520000-1",
    "90910000-9",
    "77310000-6",
    "80400000-8",
    "60130000-8",
    "85320000-8",
    "79952000-2",
    "98000000-3",
];

/// Deterministic members with varied lengths, repeated words and codes.
fn members(n: usize) -> Vec<Member> {
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    (0..n)
        .map(|i| {
            let len = 3 + next() % 40;
            let description: Vec<&str> = (0..len).map(|_| WORDS[next() % WORDS.len()]).collect();
            let mut m = member(i, description.join(" "), CODES[next() % CODES.len()]);
            if i % 3 == 0 {
                m.track_record.push(TrackRecord {
                    title: format!(
                        "{} {}",
                        WORDS[next() % WORDS.len()],
                        WORDS[next() % WORDS.len()]
                    ),
                    buyer: None,
                    value_pence: None,
                    year: None,
                    cpv: vec![CODES[next() % CODES.len()].to_owned()],
                    ocid: None,
                    confidence: 1.0,
                    lots: Vec::new(),
                });
            }
            m
        })
        .collect()
}

fn member(i: usize, description: String, code: &str) -> Member {
    Member {
        id: format!("m-{i:04}"),
        name: format!("Member {i}"),
        cluster: "other".into(),
        legal_form: None,
        description,
        cpv: vec![code.to_owned()],
        keywords: Vec::new(),
        service_areas: Vec::new(),
        postcode: None,
        nuts: Vec::new(),
        turnover_pence: None,
        employees: None,
        min_contract_pence: None,
        max_contract_pence: None,
        identifiers: Default::default(),
        track_record: Vec::new(),
        vcse: true,
        sme: true,
        website: None,
        contact: None,
    }
}

/// The index sebroker used before: tantivy in RAM, one document per member.
struct Tantivy {
    index: Index,
    text: tantivy::schema::Field,
    cpv: tantivy::schema::Field,
}

fn tantivy_of(members: &[Member]) -> Tantivy {
    let mut b = Schema::builder();
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqs),
        ),
    );
    let cpv = b.add_text_field("cpv", STRING);
    let index = Index::create_in_ram(b.build());
    let mut w: IndexWriter = index
        .writer_with_num_threads(1, 32 * 1024 * 1024)
        .expect("writer");
    for m in members {
        let mut d = TantivyDocument::default();
        d.add_text(text, m.profile_text());
        for c in cpv_tokens(m) {
            d.add_text(cpv, &c);
        }
        w.add_document(d).expect("add");
    }
    w.commit().expect("commit");
    Tantivy { index, text, cpv }
}

/// Tantivy's top `limit` (doc → score) for a disjunction of terms.
fn tantivy_top(
    t: &Tantivy,
    field: tantivy::schema::Field,
    terms: &[String],
    opt: IndexRecordOption,
    limit: usize,
) -> HashMap<u32, f32> {
    let clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .iter()
        .map(|x| {
            let q: Box<dyn Query> = Box::new(TermQuery::new(Term::from_field_text(field, x), opt));
            (Occur::Should, q)
        })
        .collect();
    let searcher = t.index.reader().expect("reader").searcher();
    searcher
        .search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(limit).order_by_score(),
        )
        .expect("search")
        .into_iter()
        .map(|(s, a)| (a.doc_id, s))
        .collect()
}

#[test]
fn text_scores_are_tantivys_bm25() {
    let ms = members(600);
    let ours = MemberIndex::build(&ms).expect("build");
    let theirs = tantivy_of(&ms);
    for q in [
        "youth catering and cleaning",
        "warm spaces ESOL English lessons for families",
        "minibus repair",
    ] {
        let terms = ours.terms(q);
        let mut scores = vec![0f32; ours.ids.len()];
        let mut touched = Vec::new();
        ours.text
            .score_into(&terms, ours.len(), &mut scores, Some(&mut touched));
        let want = tantivy_top(
            &theirs,
            theirs.text,
            &terms,
            IndexRecordOption::WithFreqs,
            600,
        );
        assert!(!want.is_empty(), "{q}: tantivy found nothing");
        assert_eq!(touched.len(), want.len(), "{q}: the same documents match");
        for (doc, s) in &want {
            let mine = scores[*doc as usize];
            assert!(
                (mine - s).abs() <= 1e-4 * s.abs().max(1.0),
                "{q}: doc {doc} {mine} vs tantivy {s}"
            );
        }
    }
}

#[test]
fn cpv_scores_are_tantivys_bm25() {
    // Enough members that the division's postings are scored from the
    // per-term table (a term with fewer postings computes each directly).
    let ms = members(3000);
    let ours = MemberIndex::build(&ms).expect("build");
    let theirs = tantivy_of(&ms);
    let prefixes: Vec<String> = ["85", "853", "8531", "85311", "90"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut scores = vec![0f32; ours.ids.len()];
    let mut touched = Vec::new();
    assert!(ours.cpv.postings(&prefixes[..1]) >= super::TABLE_MIN_POSTINGS);
    ours.cpv
        .score_into(&prefixes, ours.len(), &mut scores, Some(&mut touched));
    let want = tantivy_top(
        &theirs,
        theirs.cpv,
        &prefixes,
        IndexRecordOption::Basic,
        3000,
    );
    assert_eq!(touched.len(), want.len());
    for (doc, s) in &want {
        let mine = scores[*doc as usize];
        assert!(
            (mine - s).abs() <= 1e-4 * s.abs().max(1.0),
            "doc {doc} {mine} vs tantivy {s}"
        );
    }
}

#[test]
fn candidates_are_the_best_text_and_cpv_matches() {
    let ms = members(300);
    let ours = MemberIndex::build(&ms).expect("build");
    let theirs = tantivy_of(&ms);
    let terms = ours.terms("youth catering");
    let want = tantivy_top(
        &theirs,
        theirs.text,
        &terms,
        IndexRecordOption::WithFreqs,
        10,
    );
    let got = ours
        .candidates("youth catering", &[], 10)
        .expect("candidates");
    assert_eq!(got.len(), 10);
    let mut want_scores: Vec<f32> = want.values().copied().collect();
    let mut got_scores: Vec<f32> = got.values().map(|s| *s as f32).collect();
    want_scores.sort_by(|a, b| b.total_cmp(a));
    got_scores.sort_by(|a, b| b.total_cmp(a));
    for (a, b) in got_scores.iter().zip(&want_scores) {
        assert!((a - b).abs() <= 1e-4, "{got_scores:?} vs {want_scores:?}");
    }
    // CPV-only candidates score 0 and come on top of the text ones.
    let with_cpv = ours
        .candidates("youth catering", &["98".to_owned()], 10)
        .expect("candidates");
    assert!(with_cpv.len() > 10);
    assert!(with_cpv.values().any(|s| *s == 0.0));
}

#[test]
fn one_member_is_replaced_in_place() {
    let mut ms = members(200);
    let mut index = MemberIndex::build(&ms).expect("build");
    assert_eq!(index.len(), 200);
    assert!(index.candidates("zymurgy", &[], 5).expect("c").is_empty());
    // m-0007 learns a new word and a new code: the index answers as a
    // fresh build of the changed members would.
    ms[7].description.push_str(" zymurgy");
    ms[7].cpv.push("15980000-1".to_owned());
    index.upsert(&ms[7]);
    assert_eq!(index.len(), 200);
    let fresh = MemberIndex::build(&ms).expect("build");
    for (q, codes) in [
        ("zymurgy youth", vec!["159".to_owned()]),
        ("catering parks", vec!["85".to_owned()]),
    ] {
        let a = index.candidates(q, &codes, 400).expect("c");
        let b = fresh.candidates(q, &codes, 400).expect("c");
        assert_eq!(a.len(), b.len(), "{q}");
        for (id, s) in &b {
            let mine = a.get(id).unwrap_or_else(|| panic!("{q}: {id} missing"));
            assert!((mine - s).abs() <= 1e-5, "{q}: {id} {mine} vs {s}");
        }
    }
    assert!(index
        .candidates("zymurgy", &[], 5)
        .expect("c")
        .contains_key("m-0007"));
    // Removed: gone from every list, and its slot is reused.
    index.remove("m-0007");
    assert_eq!(index.len(), 199);
    assert!(index
        .candidates("zymurgy", &["159".to_owned()], 5)
        .expect("c")
        .is_empty());
    index.upsert(&ms[7]);
    assert_eq!(index.ids.len(), 200, "the freed slot was reused");
}

#[test]
fn replaced_members_score_as_a_fresh_build_where_tables_are_used() {
    // Long lists (scored from the per-term table, filled only for the
    // fieldnorm ids in use): members replaced with other lengths, and some
    // removed, must leave every score equal to a fresh build's.
    let mut ms = members(2000);
    let mut index = MemberIndex::build(&ms).expect("build");
    for i in (0..2000).step_by(37) {
        let words: Vec<&str> = (0..(i % 90) + 1)
            .map(|k| WORDS[(i + k) % WORDS.len()])
            .collect();
        ms[i].description = words.join(" ");
        index.upsert(&ms[i]);
    }
    for i in (5..2000).step_by(101) {
        index.remove(&ms[i].id);
    }
    let kept: Vec<Member> = ms
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 101 != 5)
        .map(|(_, m)| m.clone())
        .collect();
    let fresh = MemberIndex::build(&kept).expect("build");
    let q = "youth catering cleaning community support food";
    let codes = vec!["85".to_owned(), "853".to_owned()];
    assert!(index.text.postings(&index.terms(q)[..1]) >= super::TABLE_MIN_POSTINGS);
    let a = index.candidates(q, &codes, 5000).expect("c");
    let b = fresh.candidates(q, &codes, 5000).expect("c");
    assert_eq!(a.len(), b.len());
    for (id, s) in &b {
        assert_eq!(a.get(id), Some(s), "{id}");
    }
}

/// The best keys of a score array by a full sort (the reference for the
/// chunked scan).
fn best_by_sort(scores: &[f32], limit: usize) -> Vec<(u32, f32)> {
    let mut keys: Vec<u64> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| **s > 0.0)
        .map(|(i, s)| super::key(*s, i as u32))
        .collect();
    keys.sort_unstable_by(|a, b| b.cmp(a));
    keys.truncate(limit);
    keys.into_iter()
        .map(|k| {
            (
                u32::MAX - (k & 0xFFFF_FFFF) as u32,
                f32::from_bits((k >> 32) as u32),
            )
        })
        .collect()
}

#[test]
fn the_chunked_scan_keeps_the_best_scores_with_ties_to_the_earlier_slot() {
    // Few distinct scores (many ties), zeros, the best late and early, and
    // lengths that are not a multiple of a chunk.
    let mut seed = 7u64;
    for (len, limit) in [
        (5_000usize, 200usize),
        (4_099, 40),
        (130, 200),
        (64, 1),
        (1, 3),
    ] {
        let scores: Vec<f32> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                match (seed >> 33) % 10 {
                    0..=3 => 0.0,
                    r => r as f32 * 0.75,
                }
            })
            .collect();
        let mut scratch = scores.clone();
        let got = super::best_of_all(&mut scratch, limit);
        assert_eq!(
            got,
            best_by_sort(&scores, limit),
            "{len} slots, {limit} best"
        );
        assert!(scratch.iter().all(|s| *s == 0.0), "scores set back to 0");
    }
}

/// `candidates` by the exhaustive path: every slot scored, a full sort.
fn exhaustive(
    index: &MemberIndex,
    text: &str,
    codes: &[String],
    limit: usize,
) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for (field, terms, keep) in [
        (&index.text, index.terms(text), true),
        (&index.cpv, codes.to_vec(), false),
    ] {
        let mut scores = vec![0f32; index.ids.len()];
        field.score_into(&terms, index.len(), &mut scores, None);
        for (slot, score) in best_by_sort(&scores, limit.max(1)) {
            if let Some(id) = index.id_of(slot) {
                let s = if keep { f64::from(score) } else { 0.0 };
                out.entry(id.to_owned()).or_insert(s);
            }
        }
    }
    out
}

#[test]
fn candidates_equal_the_exhaustive_ones_bit_for_bit() {
    // Thousands of members: the dense scan and its chunk skipping are used.
    let list = members(4_000);
    let mut index = MemberIndex::build(&list).expect("index");
    // Replaced members reuse slots out of order.
    for m in list.iter().step_by(97) {
        let mut m = m.clone();
        m.description.push_str(" catering catering youth");
        index.upsert(&m);
    }
    let queries = [
        "youth catering and community transport",
        "cleaning gardening parks",
        "debt advice housing support wellbeing mental health",
        "food bank digital inclusion laptops training employment",
        "warm spaces",
        "zymurgy",
    ];
    let code_sets: [&[&str]; 3] = [&[], &["85", "853", "8531"], &["55", "90", "98", "9091"]];
    let mut compared = 0;
    for q in queries {
        for codes in code_sets {
            let codes: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
            for limit in [1, 40, 200] {
                let got = index.candidates(q, &codes, limit).expect("candidates");
                let want = exhaustive(&index, q, &codes, limit);
                assert_eq!(got.len(), want.len(), "{q:?} {codes:?} {limit}");
                for (id, s) in &want {
                    let g = got
                        .get(id)
                        .unwrap_or_else(|| panic!("{id} missing for {q:?}"));
                    assert_eq!(g.to_bits(), s.to_bits(), "{id} for {q:?} {codes:?} {limit}");
                }
                compared += want.len();
            }
        }
    }
    assert!(compared > 1_000, "only {compared} candidates compared");
}
