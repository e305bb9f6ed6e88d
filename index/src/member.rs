//! The member index: every member profile's words and CPV prefixes, so that
//! one notice is scored against every member by one pass over the postings
//! of its terms, and one member can be replaced without rebuilding the rest.
//!
//! Why not a tantivy index: the members live in memory anyway, a match
//! query is a disjunction of up to 48 terms that are common among members
//! (block-max WAND prunes little), and an award link must update one member
//! at once. A tantivy RAM index took ~12 ms per notice at 100k members and
//! a full rebuild per change; accumulating BM25 over in-memory postings is
//! a fraction of that. Scores are tantivy's BM25 to the bit pattern of its
//! formula (k1 1.2, b 0.75, its fieldnorm quantisation, f32), and the text
//! is analysed by tantivy's `en_stem` analyzer, so candidates and their
//! scores are those a tantivy index of the same profiles gives (a unit test
//! checks it against one).

use std::collections::HashMap;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::tokenizer::{TextAnalyzer, TokenizerManager};

use crate::error::Result;
use sebroker_model::Member;

/// Candidates of a notice: member id → BM25 score.
pub type Candidates = HashMap<String, f64>;

/// One candidate of a notice as [`MemberIndex::candidate_list`] finds it:
/// its document slot (stable while the member is indexed: a replaced
/// member keeps its slot), its member id and its BM25 score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate<'a> {
    pub slot: u32,
    pub id: &'a str,
    pub bm25: f64,
}

/// Longest notice text used for a match query: enough words to carry the
/// subject, not so many that common words dominate.
const MAX_QUERY_TERMS: usize = 48;
/// Longest CPV prefix indexed (a full code's significant digits).
const MAX_PREFIX: usize = 8;

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// One field's postings: term → documents with their term frequency and
/// length (packed, see [`pack`]), and each document's length as tantivy
/// stores it (a quantised fieldnorm id).
#[derive(Default)]
struct Field {
    terms: HashMap<String, Vec<(u32, u32)>>,
    norm: Vec<u8>,
    /// How many live documents have each fieldnorm id: a term's table is
    /// filled only for the ids in use (a few dozen of 256).
    norm_count: Vec<u32>,
    /// Tokens of every live document (for the average length).
    tokens: u64,
    /// Each document's distinct terms, so a replaced member's postings can
    /// be found without scanning every list.
    doc_terms: Vec<Vec<String>>,
}

/// A posting's term frequency and its document's fieldnorm id in one word:
/// scoring reads both from the posting it is already reading, instead of a
/// second, random, load of the document's norm. A frequency above 2^24 - 1
/// (no profile is that long) is counted as that.
fn pack(tf: u32, norm: u8) -> u32 {
    (tf.min(0x00FF_FFFF) << 8) | u32::from(norm)
}

/// Postings whose term frequency is at most this read their contribution
/// from a table computed once per term (most postings: profiles are short).
const TABLE_TF: usize = 4;
/// A term with fewer postings than this computes each contribution directly
/// (filling the table would cost more).
const TABLE_MIN_POSTINGS: usize = 256;

impl Field {
    fn add(&mut self, doc: u32, tokens: &[String], with_freqs: bool) {
        let mut freq: HashMap<&str, u32> = HashMap::new();
        for t in tokens {
            *freq.entry(t).or_default() += 1;
        }
        let len = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        let norm = FieldNormReader::fieldnorm_to_id(len);
        let mut distinct: Vec<String> = Vec::with_capacity(freq.len());
        for (t, f) in freq {
            let f = if with_freqs { f } else { 1 };
            self.terms
                .entry(t.to_owned())
                .or_default()
                .push((doc, pack(f, norm)));
            distinct.push(t.to_owned());
        }
        let slot = doc as usize;
        if self.norm.len() <= slot {
            self.norm.resize(slot + 1, 0);
            self.doc_terms.resize_with(slot + 1, Vec::new);
        }
        self.norm[slot] = norm;
        if self.norm_count.is_empty() {
            self.norm_count = vec![0; 256];
        }
        self.norm_count[usize::from(norm)] += 1;
        self.doc_terms[slot] = distinct;
        self.tokens = self.tokens.saturating_add(tokens.len() as u64);
    }

    fn remove(&mut self, doc: u32, tokens: usize) {
        let slot = doc as usize;
        if let (Some(norm), Some(_)) = (self.norm.get(slot), self.doc_terms.get(slot)) {
            if let Some(c) = self.norm_count.get_mut(usize::from(*norm)) {
                *c = c.saturating_sub(1);
            }
        }
        for t in self
            .doc_terms
            .get_mut(slot)
            .map(std::mem::take)
            .unwrap_or_default()
        {
            if let Some(list) = self.terms.get_mut(&t) {
                list.retain(|p| p.0 != doc);
                if list.is_empty() {
                    self.terms.remove(&t);
                }
            }
        }
        self.tokens = self.tokens.saturating_sub(tokens as u64);
    }

    /// How many postings the terms have (how many documents a query touches
    /// at most).
    fn postings(&self, terms: &[String]) -> usize {
        terms
            .iter()
            .filter_map(|t| self.terms.get(t))
            .map(Vec::len)
            .sum()
    }

    /// Adds each term's BM25 to the documents holding it (tantivy's formula,
    /// the same f32 operations in the same order: the table only computes
    /// them once per term). `touched` collects the documents first scored,
    /// when given.
    fn score_into(
        &self,
        terms: &[String],
        docs: u64,
        scores: &mut [f32],
        mut touched: Option<&mut Vec<u32>>,
    ) {
        if docs == 0 {
            return;
        }
        let avg = self.tokens as f32 / docs as f32;
        let mut cache = [0f32; 256];
        for (id, c) in cache.iter_mut().enumerate() {
            let dl = FieldNormReader::id_to_fieldnorm(id as u8) as f32;
            *c = K1 * (1.0 - B + B * dl / avg);
        }
        let mut table = [[0f32; 256]; TABLE_TF];
        // Only ids some document has: a posting's id is its document's.
        let used: Vec<u8> = (0..=255u8)
            .filter(|id| {
                self.norm_count
                    .get(usize::from(*id))
                    .is_some_and(|c| *c > 0)
            })
            .collect();
        for t in terms {
            let Some(list) = self.terms.get(t) else {
                continue;
            };
            let df = list.len() as u64;
            let x = ((docs.saturating_sub(df)) as f32 + 0.5) / (df as f32 + 0.5);
            let weight = (1.0 + x).ln() * (1.0 + K1);
            let exact = |packed: u32| {
                let tf = (packed >> 8) as f32;
                weight * (tf / (tf + cache[(packed & 0xFF) as usize]))
            };
            let tabled = list.len() >= TABLE_MIN_POSTINGS;
            if tabled {
                for (f, row) in table.iter_mut().enumerate() {
                    for &id in &used {
                        row[usize::from(id)] = exact(pack(f as u32 + 1, id));
                    }
                }
            }
            let contribution = |packed: u32| {
                let f = (packed >> 8) as usize;
                if tabled && (1..=TABLE_TF).contains(&f) {
                    table[f - 1][(packed & 0xFF) as usize]
                } else {
                    exact(packed)
                }
            };
            match touched.as_deref_mut() {
                Some(touched) => {
                    for &(doc, packed) in list {
                        let s = &mut scores[doc as usize];
                        if *s == 0.0 {
                            touched.push(doc);
                        }
                        *s += contribution(packed);
                    }
                }
                None => {
                    for &(doc, packed) in list {
                        scores[doc as usize] += contribution(packed);
                    }
                }
            }
        }
    }
}

/// The ranking key of a scored document: its score's bits (positive floats
/// order as their bits do) above the complement of its slot, so a larger
/// key is a better score, ties going to the earlier slot.
fn key(score: f32, slot: u32) -> u64 {
    (u64::from(score.to_bits()) << 32) | u64::from(u32::MAX - slot)
}

/// Keeps the `limit` largest keys offered (a min-heap of the best so far:
/// most documents are turned away by one comparison).
struct Best {
    heap: std::collections::BinaryHeap<std::cmp::Reverse<u64>>,
    limit: usize,
    /// The smallest key kept once `limit` are kept (0 before): a key not
    /// above it is turned away without touching the heap.
    floor: u64,
}

impl Best {
    fn new(limit: usize) -> Best {
        Best {
            heap: std::collections::BinaryHeap::with_capacity(limit + 1),
            limit,
            floor: 0,
        }
    }

    #[inline]
    fn offer(&mut self, k: u64) {
        if k > self.floor || self.heap.len() < self.limit {
            self.keep(k);
        }
    }

    fn keep(&mut self, k: u64) {
        if self.heap.len() < self.limit {
            self.heap.push(std::cmp::Reverse(k));
        } else if self.heap.peek().is_some_and(|low| k > low.0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(k));
        }
        if self.heap.len() >= self.limit {
            self.floor = self.heap.peek().map_or(0, |low| low.0);
        }
    }

    /// The slots kept with their scores, best first (unscored ones left out).
    fn slots(self) -> Vec<(u32, f32)> {
        let mut keys: Vec<u64> = self
            .heap
            .into_iter()
            .map(|r| r.0)
            .filter(|k| k >> 32 != 0)
            .collect();
        keys.sort_unstable_by(|a, b| b.cmp(a));
        keys.into_iter()
            .map(|k| {
                let slot = u32::MAX - (k & 0xFFFF_FFFF) as u32;
                (slot, f32::from_bits((k >> 32) as u32))
            })
            .collect()
    }
}

/// Slots scanned together by [`best_of_all`].
const CHUNK: usize = 64;

/// The best `limit` of every slot's score (each set back to 0): every slot
/// is offered, unscored ones too (their key is below any scored one's, and
/// `slots` drops them), so there is no unpredictable branch on whether a
/// slot was scored; once `limit` are kept, a chunk whose best key (its
/// highest score at its first slot) is not above the floor is turned away
/// whole, as each of its slots would be.
fn best_of_all(scores: &mut [f32], limit: usize) -> Vec<(u32, f32)> {
    let mut best = Best::new(limit);
    for (c, chunk) in scores.chunks_mut(CHUNK).enumerate() {
        let base = (c * CHUNK) as u32;
        // Scores are not negative, so they order as their bits: an integer
        // maximum, which the compiler vectorises (a float one it cannot).
        let top = f32::from_bits(chunk.iter().map(|s| s.to_bits()).max().unwrap_or(0));
        if best.heap.len() < best.limit || key(top, base) > best.floor {
            for (i, s) in chunk.iter().enumerate() {
                best.offer(key(*s, base + i as u32));
            }
        }
        chunk.fill(0.0);
    }
    best.slots()
}

thread_local! {
    /// Per-thread score accumulator and the documents it touched.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<u32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// An in-memory index of member profiles (rebuilt from the store on start,
/// updated one member at a time after).
pub struct MemberIndex {
    analyzer: TextAnalyzer,
    /// Member id of each document slot (`None`: a removed member's slot).
    ids: Vec<Option<String>>,
    slot_of: HashMap<String, u32>,
    free: Vec<u32>,
    text: Field,
    cpv: Field,
    /// Each slot's token counts (text, cpv), to undo them on removal.
    lengths: Vec<(usize, usize)>,
}

/// The CPV prefixes a member is indexed under: 2 to 8 leading characters of
/// each of its codes and its past work's codes.
fn cpv_tokens(m: &Member) -> Vec<String> {
    let mut out = Vec::new();
    for c in m.all_cpv() {
        for n in 2..=c.len().min(MAX_PREFIX) {
            if let Some(p) = c.get(..n) {
                out.push(p.to_owned());
            }
        }
    }
    out
}

impl MemberIndex {
    /// Indexes `members` in the order given (ties in a ranking go to the
    /// earlier member, as tantivy breaks them by document order).
    pub fn build(members: &[Member]) -> Result<MemberIndex> {
        let analyzer = TokenizerManager::default()
            .get("en_stem")
            .unwrap_or_default();
        let mut index = MemberIndex {
            analyzer,
            ids: Vec::with_capacity(members.len()),
            slot_of: HashMap::with_capacity(members.len()),
            free: Vec::new(),
            text: Field::default(),
            cpv: Field::default(),
            lengths: Vec::with_capacity(members.len()),
        };
        for m in members {
            index.upsert(m);
        }
        Ok(index)
    }

    /// Adds a member, or replaces its entry (its profile or track record
    /// changed): only its own postings are touched.
    pub fn upsert(&mut self, m: &Member) {
        self.remove(&m.id);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => u32::try_from(self.ids.len()).unwrap_or(u32::MAX),
        };
        let text = self.tokens(&m.profile_text());
        let cpv = cpv_tokens(m);
        self.text.add(slot, &text, true);
        self.cpv.add(slot, &cpv, false);
        let i = slot as usize;
        if self.ids.len() <= i {
            self.ids.resize(i + 1, None);
            self.lengths.resize(i + 1, (0, 0));
        }
        self.ids[i] = Some(m.id.clone());
        self.lengths[i] = (text.len(), cpv.len());
        self.slot_of.insert(m.id.clone(), slot);
    }

    /// Removes a member's entry (nothing when it has none).
    pub fn remove(&mut self, id: &str) {
        let Some(slot) = self.slot_of.remove(id) else {
            return;
        };
        let i = slot as usize;
        let (text, cpv) = self.lengths.get(i).copied().unwrap_or((0, 0));
        self.text.remove(slot, text);
        self.cpv.remove(slot, cpv);
        if let Some(x) = self.ids.get_mut(i) {
            *x = None;
        }
        self.free.push(slot);
    }

    pub fn len(&self) -> u64 {
        self.slot_of.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Members ranked by BM25 of `text` against their profiles, plus members
    /// sharing a CPV prefix in `cpv_prefixes` (score 0 when only that; the
    /// best-scored first, by BM25 over the prefixes they share).
    /// Returns member id → BM25 score, at most `limit` of each kind.
    pub fn candidates(
        &self,
        text: &str,
        cpv_prefixes: &[String],
        limit: usize,
    ) -> Result<Candidates> {
        Ok(self
            .candidate_list(text, cpv_prefixes, limit)?
            .into_iter()
            .map(|c| (c.id.to_owned(), c.bm25))
            .collect())
    }

    /// [`MemberIndex::candidates`] as a list (each member once, in no set
    /// order), borrowing ids from the index: a matcher reading hundreds of
    /// candidates per notice copies no id and hashes none.
    pub fn candidate_list(
        &self,
        text: &str,
        cpv_prefixes: &[String],
        limit: usize,
    ) -> Result<Vec<Candidate<'_>>> {
        let mut out: Vec<Candidate<'_>> = Vec::with_capacity(2 * limit);
        let docs = self.len();
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let (scores, touched) = &mut *scratch;
            // Kept between queries (all zeros again after each): allocating
            // 400 KB per notice at 100k members cost more than scoring.
            if scores.len() < self.ids.len() {
                scores.resize(self.ids.len(), 0.0);
            }
            for (field, terms, keep_score) in [
                (&self.text, self.terms(text), true),
                (&self.cpv, cpv_prefixes.to_vec(), false),
            ] {
                // Touching many documents: reading every score once at the
                // end is cheaper than noting each document first touched.
                let dense = field.postings(&terms) > self.ids.len() / 8;
                field.score_into(&terms, docs, scores, (!dense).then_some(&mut *touched));
                let best = if dense {
                    best_of_all(&mut scores[..self.ids.len()], limit.max(1))
                } else {
                    let mut best = Best::new(limit.max(1));
                    for &d in touched.iter() {
                        best.offer(key(scores[d as usize], d));
                    }
                    best.slots()
                };
                // The text's candidates come first and are each once, so
                // only the CPV pass can meet one already taken.
                let mut taken: Vec<u32> = out.iter().map(|c| c.slot).collect();
                taken.sort_unstable();
                for (doc, score) in best {
                    if taken.binary_search(&doc).is_ok() {
                        continue;
                    }
                    if let Some(id) = self.id_of(doc) {
                        let bm25 = if keep_score { f64::from(score) } else { 0.0 };
                        out.push(Candidate {
                            slot: doc,
                            id,
                            bm25,
                        });
                    }
                }
                for &d in touched.iter() {
                    scores[d as usize] = 0.0;
                }
                touched.clear();
            }
        });
        Ok(out)
    }

    /// The member id at a document slot (`None`: no member there).
    pub fn id_of(&self, doc: u32) -> Option<&str> {
        self.ids.get(doc as usize)?.as_deref()
    }

    /// A member's document slot.
    pub fn slot(&self, id: &str) -> Option<u32> {
        self.slot_of.get(id).copied()
    }

    /// Every token of a text, analysed as tantivy's `en_stem` does.
    fn tokens(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// Distinct analysed terms of a query text, in order of first appearance.
    fn terms(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token().text.clone();
            if t.len() > 2 && !STOP_WORDS.contains(&t.as_str()) && seen.insert(t.clone()) {
                out.push(t);
                if out.len() >= MAX_QUERY_TERMS {
                    break;
                }
            }
        }
        out
    }
}

/// Words that carry no subject in procurement text (after stemming).
const STOP_WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "with",
    "this",
    "that",
    "will",
    "are",
    "from",
    "which",
    "has",
    "have",
    "been",
    "not",
    "all",
    "any",
    "can",
    "its",
    "our",
    "their",
    "other",
    "such",
    "including",
    "provid",
    "provis",
    "servic",
    "contract",
    "tender",
    "procur",
    "notic",
    "requir",
    "supplier",
    "deliv",
    "opportun",
    "council",
    "author",
    "lot",
    "lots",
    "year",
    "month",
    "period",
    "within",
    "also",
    "may",
    "must",
    "shall",
    "per",
    "more",
    "please",
    "http",
    "https",
    "www",
    "com",
    "org",
    "gov",
];

#[cfg(test)]
mod tests;
