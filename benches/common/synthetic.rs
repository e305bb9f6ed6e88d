//! Shared by the benches: the demo notices, and synthetic member profiles
//! built from their CPV codes, places and words.

#![allow(dead_code)]

use std::collections::HashMap;

use sebroker_connectors::ocds::{self, CompileContext, Release};
use sebroker_connectors::places::Places;
use sebroker_index::{Identifiers, Member, Notice, TrackRecord};

pub fn demo_notices(places: &Places) -> Vec<Notice> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    compile_files(
        ["fts-2026-11.json", "cf-2026-11.json"].map(|f| root.join(f)),
        places,
    )
}

/// The notices of the releases in these OCDS files, by ocid; a file or
/// release that does not read is passed over (the benches' inputs are
/// known).
pub fn compile_files(
    files: impl IntoIterator<Item = std::path::PathBuf>,
    places: &Places,
) -> Vec<Notice> {
    let mut by_ocid: HashMap<String, Vec<Release>> = HashMap::new();
    for f in files {
        let Ok(o) = ocds::read_path(&f) else {
            continue;
        };
        for r in o.releases {
            if let Ok(rel) = Release::parse(&r.json) {
                if let Some(ocid) = rel.ocid.clone() {
                    by_ocid.entry(ocid).or_default().push(rel);
                }
            }
        }
    }
    let ctx = CompileContext {
        places,
        source: None,
    };
    let mut v: Vec<Notice> = by_ocid
        .into_values()
        .filter_map(|r| ocds::compile(r, &ctx))
        .collect();
    v.sort_by(|a, b| a.ocid.cmp(&b.ocid));
    v
}

/// A deterministic pseudo-random generator (no extra crate needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

pub fn synthetic_members(n: usize, notices: &[Notice], places: &Places) -> Vec<Member> {
    let codes: Vec<(String, String)> = notices
        .iter()
        .flat_map(|x| {
            x.cpv
                .iter()
                .map(|c| (c.code.clone(), c.description.clone().unwrap_or_default()))
        })
        .collect();
    let words: Vec<&str> = notices
        .iter()
        .flat_map(|x| x.description.split_whitespace())
        .filter(|w| w.len() > 4)
        .collect();
    let areas = [
        "UKG31", "UKG32", "UKG33", "UKG36", "UKG37", "UKG38", "UKG39", "UKG1", "UKG2", "UKG",
    ];
    let clusters = ["ward-end", "walsall", "smethwick", "wolverhampton", "other"];
    let mut rng = Lcg(42);
    (0..n)
        .map(|i| {
            let (c1, d1) = &codes[rng.next() % codes.len()];
            let (c2, d2) = &codes[rng.next() % codes.len()];
            let desc: Vec<&str> = (0..30).map(|_| words[rng.next() % words.len()]).collect();
            let area = areas[rng.next() % areas.len()];
            Member {
                id: format!("s-{i:06}"),
                name: format!("Synthetic Member {i}"),
                cluster: clusters[i % clusters.len()].into(),
                legal_form: Some("cic".into()),
                description: format!("{d1}. {d2}. {}", desc.join(" ")),
                cpv: vec![c1.clone(), c2.clone()],
                keywords: Vec::new(),
                service_areas: vec![area.into()],
                postcode: None,
                nuts: places.resolve(area).unwrap_or_default(),
                turnover_pence: Some(((rng.next() % 300) as i64 + 5) * 1_000_000),
                employees: Some((rng.next() % 60) as u32),
                min_contract_pence: None,
                max_contract_pence: None,
                identifiers: Identifiers::default(),
                track_record: vec![TrackRecord {
                    title: d1.clone(),
                    buyer: notices[rng.next() % notices.len()].buyer.name.clone(),
                    value_pence: None,
                    year: Some(2025),
                    cpv: vec![c1.clone()],
                    ocid: None,
                    confidence: 1.0,
                    lots: Vec::new(),
                }],
                vcse: true,
                sme: true,
                website: None,
                contact: None,
            }
        })
        .collect()
}
