//! The learned ranking: explainable features of a (notice, member) pair and a
//! pairwise logistic regression over them (fitted by `sebroker evaluate`).
//!
//! Every feature is a number a broker can read back as a sentence (the
//! matcher's components plus a few facts about the member's past awards), so
//! the learned score stays explainable: it is a weighted sum of them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use sebroker_connectors::cpv;
use sebroker_connectors::places::{Named, Places};
use sebroker_index::{Candidate, Member, MemberIndex, Notice};

use crate::components;
use crate::links::normalise_name;

/// The features, in the order of a feature vector.
pub const FEATURES: [&str; 17] = [
    "text",
    "bm25",
    "words",
    "cpv",
    "cpv_idf",
    "geography",
    "relationship",
    "buyer_kind",
    "value_fit",
    "wins",
    "title_overlap",
    "capacity",
    "suitability",
    "proximity",
    "buyer_wins",
    "same_lot",
    "weighted",
];
/// Number of features.
pub const NF: usize = FEATURES.len();

/// What features need from the whole member set: how many members carry each
/// CPV prefix (for its rarity).
#[derive(Debug, Default)]
#[cfg_attr(test, derive(PartialEq))]
pub struct Corpus {
    df: HashMap<String, u32>,
    n: u32,
    /// What each member's features read, computed once per member, at the
    /// member's slot in the member index: a candidate's inputs are read by
    /// its slot, with no id hashed or compared (at 100k members those
    /// lookups' cache misses were a sixth of a learned match).
    prep: Vec<Option<Prep>>,
    /// Each counted member's slot in the member index.
    slot_of: HashMap<String, u32>,
    word_df: HashMap<String, u32>,
    /// Members (awards from that buyer, id, slot in the member index) by the
    /// normalised names of the buyers they have worked for, most awards from
    /// that buyer first (members the index holds).
    by_buyer: HashMap<String, Vec<(usize, String, u32)>>,
}

/// A member's feature inputs, computed when it is counted, so a notice's
/// features are lookups instead of allocations per (notice, member) pair.
#[derive(Debug, Clone)]
#[cfg_attr(test, derive(PartialEq))]
struct Prep {
    /// The [`fnv`] hash of its member id: a slot read for a candidate is
    /// checked to be that candidate's.
    id: u64,
    /// The hashes ([`fnv`]) of its description and keyword words, sorted,
    /// each once: each is looked up in the notice's [`WordTable`]. A 64-bit
    /// hash stands for its word (a million distinct words
    /// all hash apart but for odds of about 1 in 40 million, and a clash
    /// only miscounts one word), so no word's text is read per candidate:
    /// those reads were a fifth of a learned match.
    words: Vec<u64>,
    /// Its and its past work's CPV codes, sorted, each once (`all_cpv`).
    codes: Vec<String>,
    /// Every prefix of those codes as a [`key`], sorted, each once.
    prefixes: Vec<u128>,
    /// The hashes of each past award's title words ([`fnv`], sorted within
    /// each title, each once), the titles one after another, and where each
    /// ends: one flat list, read without touching any word's text.
    title_hashes: Vec<u64>,
    title_ends: Vec<u32>,
    /// The kind of buyer of each past award that has one.
    kinds: Vec<&'static str>,
    /// The log of its median past award value (None: no values).
    median_ln: Option<f64>,
    /// Its finest NUTS codes (`components::finest`).
    nuts_finest: Vec<String>,
    /// Each past award's buyer, in lower case and normalised, with the
    /// record's confidence (`components::relationship` reads these).
    buyers: Vec<(String, String, f64)>,
    /// Each lot it has won, as a [`lot_key`] (sorted).
    lot_keys: Vec<u64>,
    /// How many past awards it has.
    records: usize,
    /// Its own fields the components read (places, size, kind: see
    /// [`lite`]), so that a candidate is scored from its `Prep` alone and
    /// the member itself is looked up only for the matches shown.
    lite: Member,
}

/// A copy of the fields of a member that its features read beyond its
/// prepared inputs (service areas' NUTS codes, postcode, size and kind),
/// the rest left empty.
fn lite(m: &Member) -> Member {
    Member {
        id: String::new(),
        name: String::new(),
        cluster: String::new(),
        legal_form: None,
        description: String::new(),
        cpv: Vec::new(),
        keywords: Vec::new(),
        service_areas: Vec::new(),
        postcode: m.postcode.clone(),
        nuts: m.nuts.clone(),
        turnover_pence: m.turnover_pence,
        employees: m.employees,
        min_contract_pence: m.min_contract_pence,
        max_contract_pence: m.max_contract_pence,
        identifiers: Default::default(),
        track_record: Vec::new(),
        vcse: m.vcse,
        sme: m.sme,
        website: None,
        contact: None,
    }
}

impl Prep {
    fn of(m: &Member, words: HashSet<String>) -> Prep {
        let (mut title_hashes, mut title_ends) = (Vec::new(), Vec::new());
        for t in &m.track_record {
            let mut hashes: Vec<u64> = title_words(&t.title).iter().map(|w| fnv(w)).collect();
            hashes.sort_unstable();
            hashes.dedup();
            title_hashes.extend(hashes);
            title_ends.push(u32::try_from(title_hashes.len()).unwrap_or(u32::MAX));
        }
        let all = m.all_cpv();
        let mut prefixes: Vec<u128> = all.iter().flat_map(|c| prefixes(c)).map(key).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        let mut words: Vec<u64> = words.iter().map(|w| fnv(w)).collect();
        words.sort_unstable();
        words.dedup();
        Prep {
            id: fnv(&m.id),
            words,
            codes: all.into_iter().map(str::to_owned).collect(),
            prefixes,
            title_hashes,
            title_ends,
            kinds: m
                .track_record
                .iter()
                .filter_map(|t| t.buyer.as_deref().and_then(buyer_kind))
                .collect(),
            median_ln: median_ln(m),
            nuts_finest: components::finest(&m.nuts)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            buyers: m
                .track_record
                .iter()
                .filter_map(|t| {
                    let b = t.buyer.as_deref()?;
                    Some((b.to_lowercase(), normalise_name(b), t.confidence))
                })
                .collect(),
            lot_keys: lot_keys_of(m),
            records: m.track_record.len(),
            lite: lite(m),
        }
    }
}

/// A lot of one procurement: the buyer's normalised name, the title's words
/// and the lot's id. Lot ids are only unique within a procurement ("1",
/// "LOT-0001"), so the buyer and the title say which one: a framework's
/// call-offs and a contract let again under its old title share them.
fn lot_key(buyer: &str, title: &str, lot: &str) -> u64 {
    let mut words: Vec<String> = title_words(title).into_iter().collect();
    words.sort_unstable();
    fnv(&format!("{buyer}\u{0}{}\u{0}{}", words.join(" "), lot))
}

/// The [`lot_key`]s of a member's past awards, sorted, each once.
fn lot_keys_of(m: &Member) -> Vec<u64> {
    let mut keys: Vec<u64> = m
        .track_record
        .iter()
        .filter_map(|t| Some((normalise_name(t.buyer.as_deref()?), t)))
        .flat_map(|(b, t)| t.lots.iter().map(move |l| lot_key(&b, &t.title, l)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A short string (a CPV prefix: at most 8 characters) as a number, for
/// quick comparison: its length above its bytes (longer strings are cut to
/// 15 bytes; no CPV prefix is that long).
fn key(s: &str) -> u128 {
    let b = s.as_bytes();
    let n = b.len().min(15);
    b[..n]
        .iter()
        .fold(n as u128, |acc, x| (acc << 8) | u128::from(*x))
}

/// FNV-1a of a word: a quick first test of set membership.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The log of a member's median past award value (the upper median).
fn median_ln(m: &Member) -> Option<f64> {
    let mut past: Vec<f64> = m
        .track_record
        .iter()
        .filter_map(|t| t.value_pence.filter(|p| *p > 0))
        .map(|p| (p as f64).ln())
        .collect();
    if past.is_empty() {
        return None;
    }
    past.sort_by(f64::total_cmp);
    Some(past[past.len() / 2])
}

/// Meaningful words of a text: lower case, at least 3 letters, no stop words.
fn words(s: &str) -> HashSet<String> {
    const STOP: &[&str] = &[
        "the",
        "and",
        "for",
        "with",
        "this",
        "that",
        "from",
        "are",
        "will",
        "services",
        "service",
        "contract",
        "provision",
        "lot",
        "which",
        "have",
        "has",
        "been",
        "all",
        "any",
        "not",
        "its",
        "their",
        "our",
        "you",
        "your",
        "may",
        "also",
        "within",
    ];
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// The prefixes of a code's significant digits: division, group, class,
/// category… down to the code itself.
fn prefixes(code: &str) -> impl Iterator<Item = &str> {
    let sig = cpv::significant(code);
    (2..=sig.len().min(8)).filter_map(move |l| sig.get(..l))
}

impl Corpus {
    /// The statistics of `members`, whose prepared inputs sit at their
    /// slots in `index` (a member the index does not hold is counted, and
    /// its inputs prepared when asked for: see [`Corpus::prep_of`]).
    pub fn build<'a>(index: &MemberIndex, members: impl Iterator<Item = &'a Member>) -> Corpus {
        let mut c = Corpus::default();
        for m in members {
            c.count(m, true, index.slot(&m.id));
        }
        for list in c.by_buyer.values_mut() {
            sort_buyer_list(list);
        }
        c
    }

    /// Counts one more member (after [`Corpus::remove`] of its old self:
    /// an award link changed its record), at its slot in `index`.
    pub fn add(&mut self, m: &Member, index: &MemberIndex) {
        self.count(m, true, index.slot(&m.id));
        for t in &m.track_record {
            if let Some(list) = t
                .buyer
                .as_deref()
                .and_then(|b| self.by_buyer.get_mut(&normalise_name(b)))
            {
                sort_buyer_list(list);
            }
        }
    }

    /// Forgets a member's counts.
    pub fn remove(&mut self, m: &Member) {
        self.count(m, false, None);
    }

    /// Adds (`add`) or takes away a member's prefixes, words and buyers.
    fn count(&mut self, m: &Member, add: bool, slot: Option<u32>) {
        let step = |x: &mut u32| {
            *x = if add {
                x.saturating_add(1)
            } else {
                x.saturating_sub(1)
            }
        };
        step(&mut self.n);
        let set: HashSet<&str> = m.all_cpv().into_iter().flat_map(prefixes).collect();
        for p in set {
            step(self.df.entry(p.to_owned()).or_default());
            if self.df.get(p) == Some(&0) {
                self.df.remove(p);
            }
        }
        let w = words(&format!("{}\n{}", m.description, m.keywords.join(" ")));
        for x in &w {
            step(self.word_df.entry(x.clone()).or_default());
            if self.word_df.get(x) == Some(&0) {
                self.word_df.remove(x);
            }
        }
        let mut buyers: HashMap<String, usize> = HashMap::new();
        for b in m
            .track_record
            .iter()
            .filter_map(|t| t.buyer.as_deref().map(normalise_name))
            .filter(|b| !b.is_empty())
        {
            *buyers.entry(b).or_default() += 1;
        }
        if add {
            let Some(slot) = slot else { return };
            let at = slot as usize;
            if self.prep.len() <= at {
                self.prep.resize(at + 1, None);
            }
            self.prep[at] = Some(Prep::of(m, w));
            self.slot_of.insert(m.id.clone(), slot);
            for (b, count) in buyers {
                self.by_buyer
                    .entry(b)
                    .or_default()
                    .push((count, m.id.clone(), slot));
            }
        } else {
            if let Some(p) = self
                .slot_of
                .remove(&m.id)
                .and_then(|slot| self.prep.get_mut(slot as usize))
            {
                *p = None;
            }
            for b in buyers.keys() {
                if let Some(list) = self.by_buyer.get_mut(b) {
                    list.retain(|(_, id, _)| *id != m.id);
                }
            }
        }
    }

    /// Candidates for a notice: the best text matches and members sharing
    /// its CPV codes (deepest and rarest first, as BM25 on code prefixes
    /// ranks them), plus every member that has worked for its buyer.
    /// Each with the raw BM25 of the text (0 when found otherwise).
    pub fn candidates<'a>(
        &'a self,
        index: &'a MemberIndex,
        n: &Notice,
        buyer: &str,
        limit: usize,
    ) -> Result<Vec<Candidate<'a>>, sebroker_index::IndexError> {
        let mut codes: Vec<String> = n
            .cpv
            .iter()
            .flat_map(|c| prefixes(&c.code))
            .map(str::to_owned)
            .collect();
        codes.sort();
        codes.dedup();
        let mut out = index.candidate_list(&crate::notice_text(n), &codes, limit)?;
        // Bounded: a big buyer may have worked with thousands of members.
        if let Some(ids) = self.by_buyer.get(buyer) {
            let mut taken: Vec<u32> = out.iter().map(|c| c.slot).collect();
            taken.sort_unstable();
            for (_, id, slot) in ids.iter().take(limit) {
                if taken.binary_search(slot).is_err() {
                    out.push(Candidate {
                        slot: *slot,
                        id,
                        bm25: 0.0,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Reads the first lines of every candidate's prepared inputs, before
    /// any is scored, and returns a value made of them (for
    /// `std::hint::black_box`). Why: at 100k members each candidate's
    /// inputs are a dozen cache misses, and scored one candidate after
    /// another they come one at a time; these reads do not depend on each
    /// other, so the processor has many of them in flight at once.
    pub fn warm(&self, candidates: &[Candidate<'_>]) -> u64 {
        let first = |v: &[u64]| v.first().copied().unwrap_or(0);
        let mut acc = 0u64;
        for c in candidates {
            acc ^= c.id.len() as u64 ^ u64::from(c.id.as_bytes().first().copied().unwrap_or(0));
            let Some(Some(p)) = self.prep.get(c.slot as usize) else {
                continue;
            };
            acc ^= p.id ^ first(&p.words) ^ first(&p.title_hashes) ^ first(&p.lot_keys);
            acc ^= p.words.get(8).copied().unwrap_or(0) ^ p.words.get(16).copied().unwrap_or(0);
            acc ^= p.prefixes.first().map_or(0, |k| *k as u64);
            acc ^= p.codes.first().map_or(0, |c| c.len() as u64);
            acc ^= p.nuts_finest.first().map_or(0, |c| c.len() as u64);
            acc ^= p
                .buyers
                .first()
                .map_or(0, |b| b.0.len() as u64 ^ b.1.len() as u64);
            acc ^= p.kinds.first().map_or(0, |k| k.len() as u64);
            acc ^= p.lite.service_areas.len() as u64 ^ p.lite.nuts.len() as u64;
        }
        acc
    }

    /// A member's prepared inputs. One the corpus does not hold (none in
    /// practice) is prepared here, without words: its word overlap is 0.
    fn prep_of(&self, m: &Member) -> Cow<'_, Prep> {
        let held = self
            .slot_of
            .get(&m.id)
            .and_then(|s| self.prep_at(*s, &m.id));
        match held {
            Some(p) => Cow::Borrowed(p),
            None => Cow::Owned(Prep::of(m, HashSet::new())),
        }
    }

    /// The prepared inputs at a slot of the member index, if they are
    /// member `id`'s.
    fn prep_at(&self, slot: u32, id: &str) -> Option<&Prep> {
        self.prep
            .get(slot as usize)?
            .as_ref()
            .filter(|p| p.id == fnv(id))
    }

    fn word_idf(&self, w: &str) -> f64 {
        let df = self.word_df.get(w).copied().unwrap_or(0);
        ((f64::from(self.n) + 1.0) / (f64::from(df) + 1.0)).ln()
    }

    /// Inverse document frequency of a CPV prefix among members.
    fn idf(&self, p: &str) -> f64 {
        let df = self.df.get(p).copied().unwrap_or(0);
        ((f64::from(self.n) + 1.0) / (f64::from(df) + 1.0)).ln()
    }
}

/// Most awards from the buyer first, then by member id.
fn sort_buyer_list(list: &mut [(usize, String, u32)]) {
    list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
}

/// The kind of a buyer from its name: repeat business with the same kind of
/// buyer (councils, NHS bodies…) is a signal even when the buyer is new.
pub fn buyer_kind(name: &str) -> Option<&'static str> {
    let n = name.to_lowercase();
    let has = |ws: &[&str]| ws.iter().any(|w| n.contains(w));
    if has(&["nhs", "hospital", "health", "integrated care", "ambulance"]) {
        Some("nhs")
    } else if has(&["university", "college"]) {
        Some("higher education")
    } else if has(&["school", "academy", "academies", "education trust"]) {
        Some("schools")
    } else if has(&["housing", "homes"]) {
        Some("housing")
    } else if has(&["police", "fire", "constabulary"]) {
        Some("emergency services")
    } else if has(&["council", "borough", "county", "city of", "district"]) {
        Some("council")
    } else if has(&[
        "ministry",
        "department",
        "agency",
        "hm ",
        "office",
        "authority",
    ]) {
        Some("public body")
    } else {
        None
    }
}

/// Words of a title that carry meaning (lower case, longer than 3 letters).
fn title_words(s: &str) -> HashSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .map(str::to_lowercase)
        .collect()
}

/// Past buyers' normalised names found to be (or not to be) a notice's buyer.
type Same = RefCell<HashMap<String, bool>>;

/// What is computed once per notice.
pub struct NoticeFacts {
    pub buyer: String,
    kind: Option<&'static str>,
    /// Each CPV prefix of the notice (as a [`key`]) with its IDF.
    prefixes: Vec<(u128, f64)>,
    idf_total: f64,
    value: Option<i64>,
    title: HashSet<String>,
    /// The hashes ([`fnv`]) of the title's words.
    title_hashed: Vec<u64>,
    /// The description's words by hash, with their weights.
    word_table: WordTable,
    words_total: f64,
    /// The notice's finest NUTS codes (`components::finest`).
    finest: Vec<String>,
    /// Where the work is, as far as the gazetteer can tell.
    pub whereabouts: Vec<Named>,
    /// The values its capacity is judged on (`components::capacity_values`).
    values: Vec<i64>,
    /// Past buyers' normalised names found to be (or not to be) this
    /// notice's buyer (see `relationship`).
    same: Same,
    /// Its lots as [`lot_key`]s, with their ids.
    lot_keys: Vec<(u64, String)>,
}

impl NoticeFacts {
    pub fn new(n: &Notice, corpus: &Corpus, places: &Places) -> NoticeFacts {
        let buyer = crate::links::buyer_name(n);
        let set: HashSet<&str> = n.cpv.iter().flat_map(|c| prefixes(&c.code)).collect();
        let prefixes: Vec<(u128, f64)> = set.into_iter().map(|p| (key(p), corpus.idf(p))).collect();
        let mut words: Vec<(u64, f64)> = words(&n.description)
            .iter()
            .map(|w| (fnv(w), corpus.word_idf(w)))
            .collect();
        // In one order, so that their total is the same on every run.
        words.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.total_cmp(&b.1)));
        let title = title_words(&n.title);
        let lot_max = n
            .lots
            .iter()
            .filter_map(|l| l.value.as_ref()?.headline_pence())
            .max();
        NoticeFacts {
            buyer: buyer.clone(),
            kind: n.buyer.name.as_deref().and_then(buyer_kind),
            idf_total: prefixes.iter().map(|p| p.1).sum(),
            prefixes,
            value: n.value.headline_pence().or(lot_max).filter(|v| *v > 0),
            title_hashed: title.iter().map(|w| fnv(w)).collect(),
            title,
            words_total: words.iter().map(|w| w.1).sum(),
            word_table: WordTable::new(words.into_iter()),
            finest: components::finest(&n.nuts)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            whereabouts: whereabouts(n, places),
            values: components::capacity_values(n),
            same: Same::default(),
            lot_keys: n
                .lots
                .iter()
                .map(|l| (lot_key(&buyer, &n.title, &l.id), l.id.clone()))
                .collect(),
        }
    }
}

/// The places a notice names in its text, and its places that are postcodes.
fn whereabouts(n: &Notice, places: &Places) -> Vec<Named> {
    let Some(g) = places.gazetteer() else {
        return Vec::new();
    };
    let mut text = format!("{}\n{}", n.title, n.description);
    for l in &n.lots {
        if let Some(t) = &l.title {
            text.push('\n');
            text.push_str(t);
        }
    }
    let mut out = g.places_in(&text);
    for p in &n.places {
        if let Some(point) = g
            .postcode(p)
            .filter(|_| p.chars().any(|c| c.is_ascii_digit()))
        {
            out.push(Named {
                name: p.clone(),
                point,
            });
        }
    }
    out
}

/// Distance from the member's postcode to the nearest place of the work, in
/// kilometres, with that place (None when either is unknown).
pub fn nearest<'f>(f: &'f NoticeFacts, m: &Member, places: &Places) -> Option<(f64, &'f Named)> {
    let home = places.gazetteer()?.postcode(m.postcode.as_deref()?)?;
    f.whereabouts
        .iter()
        .map(|w| (home.km_to(&w.point), w))
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

/// 1 at the place of the work, 0.5 at 10 km, towards 0 far away or unknown.
fn proximity(f: &NoticeFacts, m: &Member, places: &Places) -> f64 {
    nearest(f, m, places).map_or(0.0, |(km, _)| 1.0 / (1.0 + km / 10.0))
}

/// CPV overlap with all of the member's past work, each shared prefix
/// weighted by its rarity, relative to the notice's own total.
fn cpv_idf(f: &NoticeFacts, p: &Prep) -> f64 {
    if f.idf_total <= 0.0 {
        return 0.0;
    }
    let shared: f64 = f
        .prefixes
        .iter()
        .filter(|(x, _)| p.prefixes.binary_search(x).is_ok())
        .map(|x| x.1)
        .sum();
    shared / f.idf_total
}

/// The notice description's words found in the member's descriptions,
/// each weighted by its rarity among members, relative to the notice's total
/// (0 for a member the corpus does not hold).
fn word_overlap(f: &NoticeFacts, p: &Prep) -> f64 {
    if f.words_total <= 0.0 {
        return 0.0;
    }
    // A profile has a few dozen words and a notice a few hundred: each of
    // the profile's is looked up (a walk through both lists was an eighth
    // of a learned match).
    let shared: f64 = p.words.iter().map(|h| f.word_table.get(*h)).sum();
    shared / f.words_total
}

/// A notice's word hashes with their weights: an open-addressing table
/// (linear probing, at most half full) small enough to stay in cache while
/// every candidate's words are looked up in it.
struct WordTable {
    slots: Vec<(u64, f64)>,
    used: Vec<bool>,
    mask: usize,
}

impl WordTable {
    fn new(words: impl ExactSizeIterator<Item = (u64, f64)>) -> WordTable {
        let size = (2 * words.len()).next_power_of_two().max(8);
        let mut t = WordTable {
            slots: vec![(0, 0.0); size],
            used: vec![false; size],
            mask: size - 1,
        };
        for (h, weight) in words {
            let mut i = t.home(h);
            while t.used[i] && t.slots[i].0 != h {
                i = (i + 1) & t.mask;
            }
            t.used[i] = true;
            t.slots[i] = (h, weight);
        }
        t
    }

    fn home(&self, h: u64) -> usize {
        ((h ^ (h >> 32)) as usize) & self.mask
    }

    /// The weight of a word's hash (0 when the notice lacks it).
    fn get(&self, h: u64) -> f64 {
        let mut i = self.home(h);
        while self.used[i] {
            if self.slots[i].0 == h {
                return self.slots[i].1;
            }
            i = (i + 1) & self.mask;
        }
        0.0
    }
}

/// `components::relationship`'s score from the member's prepared buyer
/// names: the best confidence of a past award from the same buyer. `same`
/// remembers the comparison per past buyer's name (candidates share them).
fn relationship(buyer: &str, p: &Prep, same: &Same) -> f64 {
    from_buyer(buyer, p, same)
        .map(|confidence| confidence.clamp(0.0, 1.0))
        .fold(0.0, f64::max)
}

/// The confidences of the member's past awards from the notice's buyer.
fn from_buyer<'p>(buyer: &'p str, p: &'p Prep, same: &'p Same) -> impl Iterator<Item = f64> + 'p {
    let first = buyer.split(' ').next().filter(|w| !w.is_empty());
    p.buyers
        .iter()
        .filter(move |(lower, normalised, _)| {
            // The same cheap pre-check as the component's.
            first.is_some_and(|w| lower.contains(w)) && same_buyer(buyer, normalised, same)
        })
        .map(|(_, _, confidence)| *confidence)
}

/// How many past awards came from the notice's buyer (the log of one more):
/// a supplier a buyer keeps coming back to, beyond that it has worked there.
fn buyer_wins(buyer: &str, p: &Prep, same: &Same) -> f64 {
    (1.0 + from_buyer(buyer, p, same).count() as f64).ln()
}

/// 1 when the member has won one of the notice's lots before: the same lot
/// of the same buyer's procurement (a framework's call-off, or the contract
/// let again), else 0.
fn same_lot(f: &NoticeFacts, p: &Prep) -> f64 {
    if won_lot(f, p).is_some() {
        1.0
    } else {
        0.0
    }
}

/// The id of a notice's lot the member has won before ([`same_lot`]).
fn won_lot<'f>(f: &'f NoticeFacts, p: &Prep) -> Option<&'f str> {
    f.lot_keys
        .iter()
        .find(|(k, _)| p.lot_keys.binary_search(k).is_ok())
        .map(|(_, id)| id.as_str())
}

/// The reason `same_lot` gives, when it holds: "has won lot 2716 of this
/// procurement before".
pub fn lot_reason(f: &NoticeFacts, m: &Member, corpus: &Corpus) -> Option<String> {
    won_lot(f, &corpus.prep_of(m)).map(|id| format!("has won lot {id} of this procurement before"))
}

/// Whether a past buyer's normalised name is the notice buyer's (Jaro-Winkler
/// at least 0.9), remembered per name.
fn same_buyer(buyer: &str, normalised: &str, same: &Same) -> bool {
    if let Some(known) = same.borrow().get(normalised) {
        return *known;
    }
    let is = strsim::jaro_winkler(buyer, normalised) >= 0.9;
    same.borrow_mut().insert(normalised.to_owned(), is);
    is
}

/// Share of past awards won from buyers of the notice buyer's kind.
fn same_kind(f: &NoticeFacts, p: &Prep) -> f64 {
    let (Some(kind), false) = (f.kind, p.records == 0) else {
        return 0.0;
    };
    let same = p.kinds.iter().filter(|k| **k == kind).count();
    same as f64 / p.records as f64
}

/// How close the notice's value is to the member's own past award values
/// (1 = the same order of magnitude as its median award; 0 = unknown).
fn value_fit(f: &NoticeFacts, p: &Prep) -> f64 {
    let (Some(v), Some(median)) = (f.value, p.median_ln) else {
        return 0.0;
    };
    (-((v as f64).ln() - median).abs() / 3.0).exp()
}

/// Best share of the notice title's words found in one past award title.
fn title_overlap(f: &NoticeFacts, p: &Prep) -> f64 {
    if f.title.is_empty() {
        return 0.0;
    }
    let mut start = 0usize;
    let mut best = 0.0f64;
    for end in &p.title_ends {
        let end = (*end as usize).min(p.title_hashes.len());
        let hashes = p.title_hashes.get(start..end).unwrap_or_default();
        start = end;
        let found = f
            .title_hashed
            .iter()
            .filter(|h| hashes.binary_search(h).is_ok())
            .count();
        best = best.max(found as f64 / f.title.len() as f64);
    }
    best
}

/// Which features to compute (by position in [`FEATURES`]).
pub type Needs = [bool; NF];
/// Every feature.
pub const ALL: Needs = [true; NF];
/// The features the `weighted` feature is made of.
const WEIGHTED_PARTS: [usize; 6] = [0, 3, 5, 6, 11, 12];

/// The feature vector of a (notice, member) pair; `text` is the normalised
/// BM25 relevance and `bm25` the raw score.
pub fn features(
    n: &Notice,
    f: &NoticeFacts,
    m: &Member,
    text: f64,
    bm25: f64,
    ctx: (&Corpus, &Places),
) -> [f64; NF] {
    features_needed(n, f, m, (text, bm25), ctx, &ALL)
}

/// [`features`], computing only those `needs` asks for (the others are 0):
/// a model reads only its own.
pub fn features_needed(
    n: &Notice,
    f: &NoticeFacts,
    m: &Member,
    (text, bm25): (f64, f64),
    ctx: (&Corpus, &Places),
    needs: &Needs,
) -> [f64; NF] {
    features_of(n, f, &ctx.0.prep_of(m), (text, bm25), ctx.1, needs)
}

/// [`features_needed`] for a candidate of the member index the corpus was
/// built over, from its prepared inputs alone (read by its slot); `None`
/// when the corpus holds no inputs of member `id` there.
pub fn features_at(
    n: &Notice,
    f: &NoticeFacts,
    (slot, id): (u32, &str),
    (text, bm25): (f64, f64),
    ctx: (&Corpus, &Places),
    needs: &Needs,
) -> Option<[f64; NF]> {
    let p = ctx.0.prep_at(slot, id)?;
    Some(features_of(n, f, p, (text, bm25), ctx.1, needs))
}

/// The features `needs` asks for, from a member's prepared inputs `p`.
fn features_of(
    n: &Notice,
    f: &NoticeFacts,
    p: &Prep,
    (text, bm25): (f64, f64),
    places: &Places,
    needs: &Needs,
) -> [f64; NF] {
    let mut x = [0.0; NF];
    let parts: [&dyn Fn() -> f64; NF - 1] = [
        &|| text.clamp(0.0, 1.0),
        &|| (1.0 + bm25.max(0.0)).ln(),
        &|| word_overlap(f, p),
        &|| components::cpv_score_in(n, &p.codes, false).0,
        &|| cpv_idf(f, p),
        &|| components::geography_in(&f.finest, &p.lite, &p.nuts_finest, places, false).0,
        &|| relationship(&f.buyer, p, &f.same),
        &|| same_kind(f, p),
        &|| value_fit(f, p),
        &|| (1.0 + p.records as f64).ln(),
        &|| title_overlap(f, p),
        &|| components::capacity_score(&f.values, &p.lite),
        &|| components::suitability_score(n, &p.lite),
        &|| proximity(f, &p.lite, places),
        &|| buyer_wins(&f.buyer, p, &f.same),
        &|| same_lot(f, p),
    ];
    for (i, part) in parts.iter().enumerate() {
        if needs[i] {
            x[i] = part();
        }
    }
    if !needs[NF - 1] {
        return x;
    }
    x[NF - 1] = weighted(&x);
    x
}

/// The matcher's own score with the default weights (timing left out), so
/// the learned ranking starts from what the weights already get right.
fn weighted(x: &[f64; NF]) -> f64 {
    let w = sebroker_model::Weights::default();
    let c = sebroker_model::Components {
        text: x[0],
        cpv: x[3],
        geography: x[5],
        capacity: x[11],
        timing: 1.0,
        suitability: x[12],
        relationship: x[6],
    };
    c.score(&w)
}

/// A model with the member statistics its features need.
#[derive(Clone, Copy)]
pub struct Ranker<'a> {
    pub model: &'a Model,
    pub corpus: &'a Corpus,
}

/// A fitted ranking model over named features: a linear score over the
/// standardised features, plus boosted trees over the raw ones if any.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// How the model was made (the command line), for the record.
    #[serde(default)]
    pub made_by: String,
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    /// Boosted trees added to the linear score (LambdaMART), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trees: Vec<crate::tree::Tree>,
}

/// The model shipped with sebroker (see `made_by` inside for its command).
pub const SHIPPED: &str = include_str!("../model.json");

impl Model {
    /// The shipped model.
    pub fn shipped() -> Result<Model, String> {
        Model::parse(SHIPPED).map_err(|e| format!("matching/model.json: {e}"))
    }

    /// Parses and checks a model file's text.
    pub fn parse(text: &str) -> Result<Model, String> {
        let mut m: Model = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for (i, t) in m.trees.iter_mut().enumerate() {
            t.check(&FEATURES).map_err(|e| format!("tree {i}: {e}"))?;
        }
        let k = m.features.len();
        if m.mean.len() != k || m.scale.len() != k || m.weights.len() != k {
            return Err(format!(
                "features, mean, scale and weights must have the same length ({k})"
            ));
        }
        if let Some(bad) = m.features.iter().find(|f| !FEATURES.contains(&f.as_str())) {
            return Err(format!("unknown feature {bad:?} (known: {FEATURES:?})"));
        }
        if m.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err("every scale must be a positive number".into());
        }
        Ok(m)
    }

    /// The raw ranking score of a feature vector (higher is better).
    pub fn raw(&self, x: &[f64; NF]) -> f64 {
        self.raw_at(&self.columns(), x)
    }

    /// The position in [`FEATURES`] of each of the model's features.
    pub fn columns(&self) -> Vec<usize> {
        self.features
            .iter()
            .map(|name| FEATURES.iter().position(|f| f == name).unwrap_or(0))
            .collect()
    }

    /// [`Model::raw`] with the model's [`Model::columns`] looked up once.
    pub fn raw_at(&self, columns: &[usize], x: &[f64; NF]) -> f64 {
        columns
            .iter()
            .zip(self.mean.iter().zip(&self.scale))
            .zip(&self.weights)
            .map(|((&i, (mu, s)), w)| w * (x[i] - mu) / s)
            .sum::<f64>()
            + self.trees.iter().map(|t| t.value(x)).sum::<f64>()
    }

    /// The features this model reads (with those `weighted` is made of).
    pub fn needs(&self) -> Needs {
        let mut needs = [false; NF];
        for i in self.columns() {
            needs[i] = true;
        }
        for i in self.trees.iter().flat_map(|t| t.columns()) {
            needs[i] = true;
        }
        if needs[NF - 1] {
            for i in WEIGHTED_PARTS {
                needs[i] = true;
            }
        }
        needs
    }

    /// The score shown to people, in (0, 1): the logistic of the raw score.
    pub fn score(&self, x: &[f64; NF]) -> f64 {
        1.0 / (1.0 + (-self.raw(x)).exp())
    }
}

/// One training query: the gold candidates' and the other candidates' features.
pub struct Query {
    pub gold: Vec<[f64; NF]>,
    pub other: Vec<[f64; NF]>,
}

/// L2 penalties tried by the fit's cross-validation (`evaluate`): the
/// penalty keeps weights small where the data says little.
pub const L2_GRID: [f64; 4] = [0.001, 0.01, 0.1, 1.0];
/// Gradient steps of the fit (full batch; the problem is convex).
const STEPS: usize = 400;

/// Fits a pairwise logistic regression on `queries` using only the features
/// in `use_features`: every (gold, other) pair of a query should rank gold
/// first; each query weighs the same.
pub fn fit(queries: &[Query], use_features: &[&str], l2: f64) -> Model {
    let st = Standardiser::new(queries, use_features);
    let z = |x: &[f64; NF]| st.z(x);
    // Pair differences, each weighted 1 / (pairs in its query).
    let mut diffs: Vec<(Vec<f64>, f64)> = Vec::new();
    for q in queries {
        let pairs = (q.gold.len() * q.other.len()).max(1) as f64;
        for g in &q.gold {
            let zg = z(g);
            for o in &q.other {
                let d: Vec<f64> = zg.iter().zip(z(o)).map(|(a, b)| a - b).collect();
                diffs.push((d, 1.0 / pairs));
            }
        }
    }
    let total: f64 = diffs.iter().map(|d| d.1).sum::<f64>().max(1e-12);
    let mut w = vec![0.0; st.idx.len()];
    for _ in 0..STEPS {
        let mut grad: Vec<f64> = w.iter().map(|wi| 2.0 * l2 * wi).collect();
        for (d, weight) in &diffs {
            let s: f64 = d.iter().zip(&w).map(|(a, b)| a * b).sum();
            // d/dw of log(1 + exp(-s)) = -d * sigmoid(-s)
            let g = -1.0 / (1.0 + s.exp()) * weight / total;
            for (gi, di) in grad.iter_mut().zip(d) {
                *gi += g * di;
            }
        }
        for (wi, gi) in w.iter_mut().zip(&grad) {
            *wi -= 1.0 * gi;
        }
    }
    st.model(&w)
}

/// The position in [`FEATURES`] of each known name in `names`.
pub(crate) fn feature_columns(names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .filter_map(|f| FEATURES.iter().position(|g| g == f))
        .collect()
}

/// The features a fit uses and how they are standardised: their indices
/// in [`FEATURES`], and their means and scales over every row of the
/// queries fitted.
pub(crate) struct Standardiser {
    pub idx: Vec<usize>,
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardiser {
    pub(crate) fn new(queries: &[Query], use_features: &[&str]) -> Standardiser {
        let idx = feature_columns(use_features);
        let rows = queries.iter().flat_map(|q| q.gold.iter().chain(&q.other));
        let (mean, scale) = standardise(rows, &idx);
        Standardiser { idx, mean, scale }
    }

    /// A row's chosen features, standardised.
    pub(crate) fn z(&self, x: &[f64; NF]) -> Vec<f64> {
        self.idx
            .iter()
            .enumerate()
            .map(|(j, &i)| (x[i] - self.mean[j]) / self.scale[j])
            .collect()
    }

    /// The model of weights `w` (rounded to 4 places, as it is shipped).
    pub(crate) fn model(self, w: &[f64]) -> Model {
        Model {
            made_by: String::new(),
            features: self.idx.iter().map(|&i| FEATURES[i].to_owned()).collect(),
            mean: self.mean,
            scale: self.scale,
            weights: w.iter().map(|x| (x * 1e4).round() / 1e4).collect(),
            trees: Vec::new(),
        }
    }
}

/// Mean and standard deviation of each chosen feature (scale 1 when constant).
pub(crate) fn standardise<'a>(
    rows: impl Iterator<Item = &'a [f64; NF]> + Clone,
    idx: &[usize],
) -> (Vec<f64>, Vec<f64>) {
    let count = rows.clone().count().max(1) as f64;
    let mean: Vec<f64> = idx
        .iter()
        .map(|&i| rows.clone().map(|r| r[i]).sum::<f64>() / count)
        .collect();
    let scale: Vec<f64> = idx
        .iter()
        .zip(&mean)
        .map(|(&i, mu)| {
            let var = rows.clone().map(|r| (r[i] - mu).powi(2)).sum::<f64>() / count;
            if var > 1e-12 {
                var.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    (mean, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_learns_which_feature_separates_gold() {
        // Gold has a high cpv_idf and random text; others the reverse noise.
        let mut queries = Vec::new();
        for q in 0..20 {
            let mut gold = [0.0; NF];
            gold[4] = 0.9;
            gold[0] = (q % 3) as f64 / 3.0;
            let other: Vec<[f64; NF]> = (0..10)
                .map(|i| {
                    let mut o = [0.0; NF];
                    o[4] = 0.1 + (i % 4) as f64 / 10.0;
                    o[0] = ((q + i) % 3) as f64 / 3.0;
                    o
                })
                .collect();
            queries.push(Query {
                gold: vec![gold],
                other,
            });
        }
        let m = fit(&queries, &["text", "cpv_idf"], 0.01);
        assert_eq!(m.features, vec!["text", "cpv_idf"]);
        assert!(m.weights[1] > 0.5, "{m:?}");
        assert!(m.weights[1] > m.weights[0].abs() * 3.0, "{m:?}");
        let mut g = [0.0; NF];
        g[4] = 0.9;
        let mut o = [0.0; NF];
        o[4] = 0.2;
        assert!(m.raw(&g) > m.raw(&o));
        let text = serde_json::to_string(&m).expect("json");
        assert_eq!(Model::parse(&text).expect("parse"), m);
    }

    /// The straightforward features (computed from the member itself, per
    /// pair), as they were before `Prep`: the fast path must equal them.
    fn reference(n: &Notice, f: &NoticeFacts, m: &Member, ctx: (&Corpus, &Places)) -> [f64; NF] {
        let (corpus, places) = ctx;
        let set: HashSet<&str> = m.all_cpv().into_iter().flat_map(prefixes).collect();
        let cpv_idf = if f.idf_total > 0.0 {
            let member: HashSet<u128> = set.iter().map(|p| key(p)).collect();
            f.prefixes
                .iter()
                .filter(|(p, _)| member.contains(p))
                .map(|p| p.1)
                .sum::<f64>()
                / f.idf_total
        } else {
            0.0
        };
        let mw = words(&format!("{}\n{}", m.description, m.keywords.join(" ")));
        let words = if f.words_total > 0.0 && corpus.slot_of.contains_key(&m.id) {
            words(&n.description)
                .iter()
                .filter(|w| mw.contains(*w))
                .map(|w| corpus.word_idf(w))
                .sum::<f64>()
                / f.words_total
        } else {
            0.0
        };
        let same_kind = match (f.kind, m.track_record.is_empty()) {
            (Some(kind), false) => {
                m.track_record
                    .iter()
                    .filter(|t| t.buyer.as_deref().and_then(buyer_kind) == Some(kind))
                    .count() as f64
                    / m.track_record.len() as f64
            }
            _ => 0.0,
        };
        let value_fit = match (f.value, median_ln(m)) {
            (Some(v), Some(med)) => (-((v as f64).ln() - med).abs() / 3.0).exp(),
            _ => 0.0,
        };
        let title = if f.title.is_empty() {
            0.0
        } else {
            m.track_record
                .iter()
                .map(|t| {
                    let w = title_words(&t.title);
                    f.title.iter().filter(|x| w.contains(*x)).count() as f64 / f.title.len() as f64
                })
                .fold(0.0, f64::max)
        };
        let first = f.buyer.split(' ').next().unwrap_or_default();
        let from_buyer = m
            .track_record
            .iter()
            .filter_map(|t| t.buyer.as_deref())
            .filter(|b| {
                !first.is_empty()
                    && b.to_lowercase().contains(first)
                    && strsim::jaro_winkler(&f.buyer, &normalise_name(b)) >= 0.9
            })
            .count();
        let won_lot = m.track_record.iter().any(|t| {
            t.buyer.as_deref().map(normalise_name).as_deref() == Some(f.buyer.as_str())
                && title_words(&t.title) == title_words(&n.title)
                && n.lots.iter().any(|l| t.lots.contains(&l.id))
        });
        let mut x = [
            0.5,
            (1.0f64 + 7.0).ln(),
            words,
            components::cpv_score(n, m, false).0,
            cpv_idf,
            components::geography(&n.nuts, m, places, false).0,
            components::relationship(&f.buyer, m, false).0,
            same_kind,
            value_fit,
            (1.0 + m.track_record.len() as f64).ln(),
            title,
            components::capacity(n, m, false).0,
            components::suitability(n, m).0,
            proximity(f, m, places),
            (1.0 + from_buyer as f64).ln(),
            if won_lot { 1.0 } else { 0.0 },
            0.0,
        ];
        x[NF - 1] = weighted(&x);
        x
    }

    fn demo() -> (Vec<Notice>, Vec<Member>, Places) {
        use sebroker_connectors::ocds::{self, CompileContext, Release};
        let places = Places::builtin();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo");
        let mut by_ocid: HashMap<String, Vec<Release>> = HashMap::new();
        for f in ["fts-2026-11.json", "cf-2026-11.json"] {
            for r in ocds::read_path(&root.join(f)).expect("demo file").releases {
                let rel = Release::parse(&r.json).expect("demo release");
                by_ocid
                    .entry(rel.ocid.clone().expect("ocid"))
                    .or_default()
                    .push(rel);
            }
        }
        let ctx = CompileContext {
            places: &places,
            source: None,
        };
        let mut notices: Vec<Notice> = by_ocid
            .into_values()
            .filter_map(|r| ocds::compile(r, &ctx))
            .collect();
        notices.sort_by(|a, b| a.ocid.cmp(&b.ocid));
        let clusters: Vec<String> = ["ward-end", "walsall", "smethwick", "wolverhampton", "other"]
            .map(String::from)
            .to_vec();
        let parsed = sebroker_connectors::members::parse_file(
            &root.join("members.json"),
            &clusters,
            &places,
        )
        .expect("demo members");
        (notices, parsed.members, places)
    }

    #[test]
    fn the_fast_features_are_the_straightforward_ones() {
        let (notices, mut members, places) = demo();
        assert!(notices.len() >= 5 && members.len() >= 5);
        // Past work with values, buyers of several kinds and titles, so every
        // feature has something to read.
        for (i, m) in members.iter_mut().enumerate() {
            let n = &notices[i % notices.len()];
            m.track_record.push(sebroker_index::TrackRecord {
                title: n.title.clone(),
                buyer: n.buyer.name.clone(),
                value_pence: Some(1_000_000 * (i as i64 + 1)),
                year: Some(2025),
                cpv: n.cpv.iter().map(|c| c.code.clone()).collect(),
                ocid: None,
                confidence: 0.8,
                lots: n.lots.iter().take(1).map(|l| l.id.clone()).collect(),
            });
        }
        let index = MemberIndex::build(&members).expect("index");
        let corpus = Corpus::build(&index, members.iter());
        let outsider = Member {
            id: "not-in-the-corpus".into(),
            ..members[0].clone()
        };
        let mut nonzero = [false; NF];
        for n in &notices {
            let f = NoticeFacts::new(n, &corpus, &places);
            for m in members.iter().chain([&outsider]) {
                let fast = features(n, &f, m, 0.5, 7.0, (&corpus, &places));
                // A candidate read by its slot in the index, as the
                // matcher reads it, has the same features.
                if let Some(slot) = index.slot(&m.id) {
                    let at =
                        features_at(n, &f, (slot, &m.id), (0.5, 7.0), (&corpus, &places), &ALL);
                    assert_eq!(at, Some(fast), "{} / {} by slot", n.ocid, m.id);
                }
                let slow = reference(n, &f, m, (&corpus, &places));
                // Equal but for the order of a sum (word weights are added
                // in the profile's order, not the notice's).
                let close = fast.iter().zip(&slow).all(|(a, b)| (a - b).abs() < 1e-12);
                assert!(close, "{} / {}: {fast:?} vs {slow:?}", n.ocid, m.id);
                // The matcher's CPV component, reason included, from the
                // member's codes as they come and from the sorted list.
                assert_eq!(
                    components::cpv_score(n, m, true),
                    components::cpv_score_in(n, &m.all_cpv(), true)
                );
                for (z, v) in nonzero.iter_mut().zip(fast) {
                    *z |= v != 0.0;
                }
                // A model's own features are the same when only they are computed.
                let model = Model::shipped().expect("shipped model");
                let part =
                    features_needed(n, &f, m, (0.5, 7.0), (&corpus, &places), &model.needs());
                assert_eq!(model.raw(&part), model.raw(&fast));
            }
        }
        let idle: Vec<&str> = FEATURES
            .iter()
            .zip(nonzero)
            .filter(|(_, z)| !z)
            .map(|(f, _)| *f)
            .collect();
        assert!(
            idle.len() <= 2,
            "features never nonzero on the demo data: {idle:?}"
        );
    }

    #[test]
    fn a_lot_won_before_is_a_feature_and_a_reason() {
        let (notices, members, places) = demo();
        let mut n = notices[0].clone();
        n.lots = vec![sebroker_index::Lot {
            id: "2716".into(),
            title: None,
            value: None,
            suitability: Default::default(),
            award_criteria: Vec::new(),
            cpv: Vec::new(),
            nuts: Vec::new(),
        }];
        let record = |title: &str, lots: &[&str]| sebroker_index::TrackRecord {
            title: title.into(),
            buyer: n.buyer.name.clone(),
            value_pence: None,
            year: Some(2026),
            cpv: Vec::new(),
            ocid: None,
            confidence: 1.0,
            lots: lots.iter().map(|l| l.to_string()).collect(),
        };
        let mut same = members[0].clone();
        same.track_record = vec![record(&n.title, &["2716"]), record(&n.title, &["2717"])];
        let mut other_lot = members[1].clone();
        other_lot.track_record = vec![record(&n.title, &["2717"])];
        let mut other_title = members[2].clone();
        other_title.track_record = vec![record("Grounds maintenance", &["2716"])];
        let all = [same, other_lot, other_title];
        let index = MemberIndex::build(&all).expect("index");
        let corpus = Corpus::build(&index, all.iter());
        let f = NoticeFacts::new(&n, &corpus, &places);
        let at = |name: &str| FEATURES.iter().position(|x| *x == name).expect("feature");
        let x: Vec<[f64; NF]> = all
            .iter()
            .map(|m| features(&n, &f, m, 0.0, 0.0, (&corpus, &places)))
            .collect();
        assert_eq!(
            [
                x[0][at("same_lot")],
                x[1][at("same_lot")],
                x[2][at("same_lot")]
            ],
            [1.0, 0.0, 0.0]
        );
        // Two awards from the buyer count more than one.
        assert!(x[0][at("buyer_wins")] > x[1][at("buyer_wins")]);
        assert!(x[1][at("buyer_wins")] > 0.0);
        assert_eq!(
            lot_reason(&f, &all[0], &corpus).as_deref(),
            Some("has won lot 2716 of this procurement before")
        );
        assert_eq!(lot_reason(&f, &all[1], &corpus), None);
    }

    #[test]
    fn the_quick_components_are_the_explained_ones() {
        let (notices, mut members, places) = demo();
        // Varied records: values, buyers (one not ASCII, one in capitals),
        // minimum sizes, no turnover, no places.
        for (i, m) in members.iter_mut().enumerate() {
            let n = &notices[(i * 7) % notices.len()];
            let buyer = match i % 3 {
                0 => n.buyer.name.clone(),
                1 => n.buyer.name.as_deref().map(str::to_uppercase),
                _ => n.buyer.name.as_deref().map(|b| format!("{b} — Åland")),
            };
            m.track_record.push(sebroker_index::TrackRecord {
                title: n.title.clone(),
                buyer,
                value_pence: Some(1_000_000 * (i as i64 + 1)),
                year: Some(2025),
                cpv: n.cpv.iter().map(|c| c.code.clone()).collect(),
                ocid: None,
                confidence: 0.5 + (i % 5) as f64 / 10.0,
                lots: Vec::new(),
            });
            if i % 4 == 1 {
                m.turnover_pence = None;
                m.max_contract_pence = Some(5_000_000);
                m.min_contract_pence = Some(2_000_000);
            }
            if i % 6 == 2 {
                m.nuts.clear();
            }
        }
        let index = sebroker_index::MemberIndex::build(&members).expect("index");
        let map: HashMap<String, Member> =
            members.iter().map(|m| (m.id.clone(), m.clone())).collect();
        let matcher = crate::Matcher {
            members: &map,
            index: &index,
            places: &places,
            weights: sebroker_model::Weights::default(),
            ranker: None,
        };
        let mut relationships = 0;
        for n in &notices {
            let buyer = crate::links::buyer_name(n);
            let parts = crate::NoticeParts::new(n, buyer.clone());
            let mut same = HashMap::new();
            for m in &members {
                for (text, timing) in [(0.0, 1.0), (0.37, 0.7), (1.4, 0.2)] {
                    let slow = matcher.score(n, &buyer, m, text, &(timing, None), false);
                    let quick = matcher.quick_components(n, &parts, m, text, timing, &mut same);
                    assert_eq!(quick, slow.components, "{} / {}", n.ocid, m.id);
                    relationships += usize::from(quick.relationship > 0.0);
                }
            }
        }
        assert!(relationships > 0, "no relationship was ever found");
    }

    #[test]
    fn lowered_contains_is_lowercase_contains() {
        for (text, part) in [
            ("Walsall Council", "walsall"),
            ("WALSALL", "wals"),
            ("Birmingham", "walsall"),
            ("Ål", "ål"),
            ("ÅLAND Council", "åland"),
            ("ab", "abc"),
            ("", "a"),
        ] {
            assert_eq!(
                components::lowered_contains(text, part),
                text.to_lowercase().contains(part),
                "{text:?} {part:?}"
            );
        }
    }

    #[test]
    fn buyer_kinds_are_read_from_names() {
        assert_eq!(buyer_kind("Walsall Council"), Some("council"));
        assert_eq!(buyer_kind("NHS Black Country ICB"), Some("nhs"));
        assert_eq!(buyer_kind("University of Leeds"), Some("higher education"));
        assert_eq!(buyer_kind("Acme Widgets"), None);
    }
}
