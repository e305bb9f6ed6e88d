//! sebroker-matching: the matcher and its components, consortia, award
//! links and the evaluation on real awards.
//!
//! Matching: a score in [0, 1] for a (notice, member) pair, the weighted sum
//! of named components a broker can read, with reasons. One notice is
//! matched against every member by one query over the member index
//! (candidates), then each candidate is scored.

pub mod boosted;
pub mod components;
pub mod consortia;
mod error;
pub mod evaluate;
pub mod links;
pub mod listwise;
pub mod members;
pub mod ranker;
pub mod tree;

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use sebroker_connectors::places::Places;
use sebroker_index::{Member, MemberIndex, Notice};

pub use error::{Error, Result};
pub use members::MemberSet;

pub use sebroker_model::{Components, Match, Weights};

/// How timing is judged.
#[derive(Debug, Clone, Copy)]
pub enum Timing {
    /// Look back / replay: timing excludes no one and scores 1.
    Ignore,
    /// Live: notices that cannot be bid for at this time match no one.
    At(OffsetDateTime),
}

/// Text relevance is BM25 divided by the best score among candidates, but
/// never by less than this, so a weak best match does not look perfect.
pub const TEXT_FLOOR: f64 = 12.0;
/// Candidates taken from the member index per notice.
pub const CANDIDATES: usize = 200;
/// Candidates of each kind (text, CPV, the buyer's past suppliers) the
/// learned ranking scores per notice: its features cost some 3 µs a
/// candidate at 100k members, mostly memory reads.
pub const LEARNED_CANDIDATES: usize = 100;

/// Members, their index and what scoring needs.
pub struct Matcher<'a> {
    pub members: &'a HashMap<String, Member>,
    pub index: &'a MemberIndex,
    pub places: &'a Places,
    pub weights: Weights,
    /// The learned ranking; `None` ranks by the weighted sum of components.
    pub ranker: Option<ranker::Ranker<'a>>,
}

/// What scoring a notice against each candidate reads from the notice,
/// worked out once per notice.
struct NoticeParts<'n> {
    /// The buyer's normalised name.
    buyer: String,
    /// The finest of the notice's NUTS codes.
    finest: Vec<String>,
    /// The values its capacity is judged on.
    values: Vec<i64>,
    /// Its CPV codes, keyed for comparison.
    codes: Vec<components::CpvKey<'n>>,
}

impl<'n> NoticeParts<'n> {
    fn new(n: &'n Notice, buyer: String) -> NoticeParts<'n> {
        NoticeParts {
            buyer,
            finest: components::finest(&n.nuts)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            values: components::capacity_values(n),
            codes: n
                .cpv
                .iter()
                .map(|c| components::CpvKey::new(&c.code))
                .collect(),
        }
    }
}

/// What a candidate's BM25 is divided by for its text relevance: the best
/// among the candidates, at least [`TEXT_FLOOR`].
pub fn text_best(candidates: &[sebroker_index::Candidate<'_>]) -> f64 {
    candidates
        .iter()
        .map(|c| c.bm25)
        .fold(0.0f64, f64::max)
        .max(TEXT_FLOOR)
}

/// Reads the first lines of what the components read of each member (see
/// `Corpus::warm` for why), returning a value made of them.
fn warm_members(found: &[(&Member, f64)]) -> u64 {
    let mut acc = 0u64;
    for (m, _) in found {
        acc ^= m.cpv.first().map_or(0, |c| c.len() as u64);
        acc ^= m.nuts.first().map_or(0, |c| c.len() as u64);
        acc ^= m.track_record.first().map_or(0, |t| {
            t.cpv.len() as u64 ^ t.buyer.as_ref().map_or(0, |b| b.len() as u64)
        });
        acc ^= u64::from(m.vcse) ^ m.turnover_pence.unwrap_or(0) as u64;
    }
    acc
}

/// The text of a notice used as a match query.
pub fn notice_text(n: &Notice) -> String {
    let cpv: Vec<&str> = n
        .cpv
        .iter()
        .filter_map(|c| c.description.as_deref())
        .collect();
    let lots: Vec<&str> = n.lots.iter().filter_map(|l| l.title.as_deref()).collect();
    format!(
        "{}\n{}\n{}\n{}\n{}",
        n.title,
        n.title,
        cpv.join("\n"),
        lots.join("\n"),
        n.description
    )
}

impl Matcher<'_> {
    /// The members that fit `n`, best first (ties by member id), at most `top`.
    pub fn match_notice(&self, n: &Notice, timing: Timing, top: usize) -> Result<Vec<Match>> {
        let timing_part = match timing {
            Timing::Ignore => (1.0, None),
            Timing::At(now) => match components::timing(n, now) {
                Some(t) => t,
                None => return Ok(Vec::new()),
            },
        };
        if let Some(r) = &self.ranker {
            return self.match_learned(n, r, &timing_part, top);
        }
        let candidates =
            self.index
                .candidate_list(&notice_text(n), &n.cpv_divisions(), CANDIDATES)?;
        let best = text_best(&candidates);
        let buyer = crate::links::buyer_name(n);
        // Score every candidate without words (nor anything allocated per
        // candidate), then explain only the ones shown.
        let parts = NoticeParts::new(n, buyer);
        let mut same = HashMap::new();
        // Every candidate looked up first, then scored: the lookups (and
        // the first reads of what scoring reads) do not depend on each
        // other, so at 100k members their cache misses overlap instead of
        // coming one candidate at a time.
        let found: Vec<(&Member, f64)> = candidates
            .iter()
            .filter_map(|c| Some((self.members.get(c.id)?, c.bm25 / best)))
            .collect();
        std::hint::black_box(warm_members(&found));
        let mut scored: Vec<(f64, &Member, f64)> = Vec::with_capacity(found.len());
        for (m, text) in found {
            let c = self.quick_components(n, &parts, m, text, timing_part.0, &mut same);
            scored.push((c.score(&self.weights), m, text));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        scored.truncate(top);
        Ok(scored
            .into_iter()
            .map(|(_, m, text)| self.score(n, &parts.buyer, m, text, &timing_part, true))
            .collect())
    }

    /// The components of [`Matcher::score`] (with `explain` false) from the
    /// parts of the notice worked out once: the same values, rounded the
    /// same, nothing allocated per candidate (`same`: see
    /// `components::relationship_score`).
    fn quick_components<'m>(
        &self,
        n: &Notice,
        p: &NoticeParts<'_>,
        m: &'m Member,
        text: f64,
        timing: f64,
        same: &mut HashMap<&'m str, bool>,
    ) -> Components {
        Components {
            text: round3(text.clamp(0.0, 1.0)),
            cpv: round3(components::cpv_score_quick(&p.codes, m)),
            geography: round3(components::geography_score(&p.finest, m)),
            capacity: round3(components::capacity_score(&p.values, m)),
            timing: round3(timing),
            suitability: round3(components::suitability_score(n, m)),
            relationship: round3(components::relationship_score(&p.buyer, m, same)),
        }
    }

    /// `match_notice` with the learned ranking: the score is the model's
    /// (in (0, 1)); components and reasons are the same as without it.
    fn match_learned(
        &self,
        n: &Notice,
        r: &ranker::Ranker<'_>,
        timing: &(f64, Option<String>),
        top: usize,
    ) -> Result<Vec<Match>> {
        let facts = ranker::NoticeFacts::new(n, r.corpus, self.places);
        let candidates = r
            .corpus
            .candidates(self.index, n, &facts.buyer, LEARNED_CANDIDATES)?;
        let best = text_best(&candidates);
        std::hint::black_box(r.corpus.warm(&candidates));
        let (needs, columns) = (r.model.needs(), r.model.columns());
        let ctx = (r.corpus, self.places);
        // Members are looked up only for the matches shown (and for a
        // candidate the corpus lacks): at 100k members those lookups' cache
        // misses were an eighth of a match.
        let mut scored: Vec<(f64, &str, f64)> = candidates
            .iter()
            .filter_map(|c| {
                let tb = (c.bm25 / best, c.bm25);
                let x = match ranker::features_at(n, &facts, (c.slot, c.id), tb, ctx, &needs) {
                    Some(x) => x,
                    None => {
                        let m = self.members.get(c.id)?;
                        ranker::features_needed(n, &facts, m, tb, ctx, &needs)
                    }
                };
                Some((r.model.raw_at(&columns, &x), c.id, tb.0))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        Ok(scored
            .into_iter()
            .filter_map(|(raw, id, text)| Some((raw, self.members.get(id)?, text)))
            .take(top)
            .map(|(raw, m, text)| {
                let mut out = self.score(n, &facts.buyer, m, text, timing, true);
                // Three decimals, kept inside (0, 1): a logistic never
                // reaches either end, and a confident model's rounding would.
                out.score = round3(1.0 / (1.0 + (-raw).exp())).clamp(0.001, 0.999);
                if let Some((km, place)) = ranker::nearest(&facts, m, self.places) {
                    out.reasons
                        .push(format!("based {km:.0} km from {}", place.name));
                }
                out.reasons.extend(ranker::lot_reason(&facts, m, r.corpus));
                out
            })
            .collect())
    }

    /// Scores one candidate; `text` is its normalised text relevance and
    /// `buyer` the notice buyer's normalised name. Reasons are written only
    /// when `explain`.
    pub fn score(
        &self,
        n: &Notice,
        buyer: &str,
        m: &Member,
        text: f64,
        timing: &(f64, Option<String>),
        explain: bool,
    ) -> Match {
        let cpv = components::cpv_score(n, m, explain);
        let geo = components::geography(&n.nuts, m, self.places, explain);
        let cap = components::capacity(n, m, explain);
        let suit = components::suitability(n, m);
        let rel = components::relationship(buyer, m, explain);
        let c = Components {
            text: round3(text.clamp(0.0, 1.0)),
            cpv: round3(cpv.0),
            geography: round3(geo.0),
            capacity: round3(cap.0),
            timing: round3(timing.0),
            suitability: round3(suit.0),
            relationship: round3(rel.0),
        };
        let mut reasons = Vec::new();
        if !explain {
            return Match {
                member_id: m.id.clone(),
                score: c.score(&self.weights),
                components: c,
                reasons,
            };
        }
        if c.text >= 0.3 {
            reasons.push(format!(
                "its profile matches the notice text ({:.0}%)",
                c.text * 100.0
            ));
        }
        reasons.extend(
            [cpv.1, geo.1, cap.1, timing.1.clone(), suit.1, rel.1]
                .into_iter()
                .flatten(),
        );
        if let Some(bp) = n.social_value_bp().filter(|bp| *bp > 0) {
            reasons.push(format!("social value is {} of the award", percent(bp)));
        }
        Match {
            member_id: m.id.clone(),
            score: c.score(&self.weights),
            components: c,
            reasons,
        }
    }
}

/// Basis points as a percentage in words: 1500 → "15%", 1250 → "12.5%".
pub fn percent(bp: u32) -> String {
    if bp.is_multiple_of(100) {
        format!("{}%", bp / 100)
    } else {
        format!("{:.1}%", f64::from(bp) / 100.0)
    }
}

/// Three decimals: scores are shown to people, and stable digits make
/// outputs comparable.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Component contributions of a match, for display.
pub fn contributions(c: &Components, w: &Weights) -> BTreeMap<&'static str, f64> {
    let v = serde_json::to_value(c).unwrap_or_default();
    Weights::NAMES
        .iter()
        .map(|n| {
            (
                *n,
                v.get(n).and_then(|x| x.as_f64()).unwrap_or(0.0) as f64 * w.get(n),
            )
        })
        .collect()
}
