//! Search: BM25 over the text fields, filters as constant-score clauses,
//! sorting, pagination, facet counts and highlighted snippets.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, FilterCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};
use time::OffsetDateTime;

use crate::error::{IndexError, Result};

mod forward;
use crate::schema::{NO_DEADLINE, NO_VALUE};
use crate::writer::NoticeIndex;
use sebroker_model::notice::{Listing, NoticeSummary, Stage, Status};

/// Result order. `Relevance` falls back to `Published` when there is no query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Relevance,
    Deadline,
    Value,
    Published,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s.trim().to_ascii_lowercase().as_str() {
            "relevance" => Some(Sort::Relevance),
            "deadline" => Some(Sort::Deadline),
            "value" => Some(Sort::Value),
            "published" => Some(Sort::Published),
            _ => None,
        }
    }
}

/// A search: query text, filters (all must hold; values within one filter
/// are alternatives), order and page.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub q: String,
    pub statuses: Vec<Status>,
    /// CPV code prefixes (`85`, `8531`, `85312000`).
    pub cpv: Vec<String>,
    /// NUTS codes at any level (`UKG` finds `UKG21`).
    pub regions: Vec<String>,
    pub min_value_pence: Option<i64>,
    pub max_value_pence: Option<i64>,
    /// Some lot weights social value at least this much (basis points).
    pub min_social_value_bp: Option<u32>,
    pub vcse: bool,
    pub sme: bool,
    pub reserved: bool,
    /// `fts`, `cf`, `anchor:<slug>`, `anchor` (any anchor), `ocds:<name>`.
    pub sources: Vec<String>,
    pub notice_types: Vec<String>,
    /// Words that must all appear in the buyer's name.
    pub buyer: Option<String>,
    pub deadline_from: Option<OffsetDateTime>,
    pub deadline_to: Option<OffsetDateTime>,
    pub sort: Sort,
    /// The clock `open`/`closed` are judged against.
    pub now: OffsetDateTime,
    pub limit: usize,
    pub offset: usize,
    pub facets: bool,
    pub snippets: bool,
    /// When not empty, only these notices can match.
    pub only_ocids: Vec<String>,
    /// These notices never match (e.g. the other members of an opportunity group).
    pub exclude_ocids: Vec<String>,
}

impl SearchRequest {
    pub fn new(q: impl Into<String>, now: OffsetDateTime) -> Self {
        SearchRequest {
            q: q.into(),
            statuses: Vec::new(),
            cpv: Vec::new(),
            regions: Vec::new(),
            min_value_pence: None,
            max_value_pence: None,
            min_social_value_bp: None,
            vcse: false,
            sme: false,
            reserved: false,
            sources: Vec::new(),
            notice_types: Vec::new(),
            buyer: None,
            deadline_from: None,
            deadline_to: None,
            sort: Sort::Relevance,
            now,
            limit: 10,
            offset: 0,
            facets: false,
            snippets: false,
            only_ocids: Vec::new(),
            exclude_ocids: Vec::new(),
        }
    }
}

/// One result: the notice's ocid, its score and highlighted snippets (HTML,
/// with `<b>` around matched words).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hit {
    pub ocid: String,
    /// What a result shows, from the index; `None` only if the document
    /// has no readable listing (the caller reads the store instead).
    #[serde(skip)]
    pub summary: Option<NoticeSummary>,
    pub score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_snippet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_snippet: Option<String>,
}

/// Counts per value of each facet, over all matching notices.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Facets {
    pub status: BTreeMap<String, u64>,
    pub cpv_division: BTreeMap<String, u64>,
    pub region: BTreeMap<String, u64>,
    pub source: BTreeMap<String, u64>,
    pub notice_type: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SearchResults {
    pub total: u64,
    pub hits: Vec<Hit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
}

/// The largest page we serve; deeper paging is a sign of a scraper, not a user.
pub const MAX_LIMIT: usize = 1000;
/// The deepest result a search serves (`offset + limit`). The top-docs
/// collector reserves room for `offset + limit` hits, so an unbounded
/// offset is an unbounded allocation.
pub const MAX_WINDOW: usize = 10_000;

/// Longest query text we parse, in characters: longer text is refused, as
/// no person types it and the parser's work grows with it.
pub const MAX_QUERY_CHARS: usize = 1000;

/// Deepest bracket nesting handed to tantivy's parser, which recurses per
/// level (100 000 `(` overflow the stack and abort the process); deeper
/// text is searched with its brackets read as spaces.
const MAX_QUERY_DEPTH: usize = 8;

impl NoticeIndex {
    /// Runs a search against the last committed state of the index.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let text = self.text_query(&req.q)?;
        let filters = self.filters(req, true)?;
        let query = self.exclude(combine(text.clone(), filters), req);
        let limit = req.limit.clamp(1, MAX_LIMIT);
        if req
            .offset
            .checked_add(limit)
            .is_none_or(|end| end > MAX_WINDOW)
        {
            return Err(IndexError::Window {
                offset: req.offset,
                limit,
                max: MAX_WINDOW,
            });
        }
        // The facets ride on the main pass; the status counts ignore the
        // status filter, so with one they take a second pass.
        let one_pass = req.statuses.is_empty();
        let facet_pass = req.facets.then(|| facet_collector(one_pass));
        let open_pass = (req.facets && one_pass).then(|| open_counter(req.now));
        let top = || TopDocs::with_limit(limit).and_offset(req.offset);
        let (addrs, (total, counts, open)): (Vec<(Option<f32>, DocAddress)>, _) =
            match (req.sort, text.is_some()) {
                (Sort::Relevance, true) => {
                    let (docs, n, fc, open) = searcher.search(
                        &query,
                        &(top().order_by_score(), Count, facet_pass, open_pass),
                    )?;
                    (
                        docs.into_iter().map(|(s, a)| (Some(s), a)).collect(),
                        (n, fc, open),
                    )
                }
                (sort, _) => {
                    let (field, order) = match sort {
                        Sort::Deadline => ("deadline", Order::Asc),
                        Sort::Value => ("value", Order::Desc),
                        _ => ("published", Order::Desc),
                    };
                    let c = top().order_by_fast_field::<i64>(field, order);
                    let (docs, n, fc, open) =
                        searcher.search(&query, &(c, Count, facet_pass, open_pass))?;
                    (
                        docs.into_iter().map(|(_, a)| (None, a)).collect(),
                        (n, fc, open),
                    )
                }
            };
        let snippets = match (&text, req.snippets) {
            (Some(t), true) => Some(self.snippet_generators(&searcher, t.as_ref())?),
            _ => None,
        };
        let mut hits = Vec::with_capacity(addrs.len());
        for (score, addr) in addrs {
            hits.push(self.hit(&searcher, addr, score, snippets.as_ref(), req.now)?);
        }
        let facets = match counts {
            Some(counts) => Some(self.facets(&searcher, req, text, counts, open)?),
            None => None,
        };
        Ok(SearchResults {
            total: total as u64,
            hits,
            facets,
        })
    }

    fn hit(
        &self,
        searcher: &Searcher,
        addr: DocAddress,
        score: Option<f32>,
        snippets: Option<&(SnippetGenerator, SnippetGenerator)>,
        now: OffsetDateTime,
    ) -> Result<Hit> {
        // One read of the stored document gives the ocid, the listing and
        // the text for snippets (reading the ocid's fast column instead
        // walked its dictionary block: more than a quarter of a search).
        let doc: TantivyDocument = searcher.doc(addr)?;
        let ocid = field_text(&doc, self.fields.ocid);
        let listing = {
            use tantivy::schema::document::Value as _;
            doc.get_first(self.fields.listing)
                .and_then(|v| v.as_bytes())
                .and_then(|b| serde_json::from_slice::<Listing>(b).ok())
        };
        let (title_snippet, description_snippet) = match snippets {
            Some((t, d)) => {
                // A title is shown whole: tantivy's fragment ends at the
                // last token, which drops a closing ")" or "." after it.
                let title = field_text(&doc, self.fields.title);
                (
                    whole_html(&title, &t.snippet(&title)),
                    non_empty(
                        d.snippet(snippet_source(&doc, self.fields.description))
                            .to_html(),
                    ),
                )
            }
            None => (None, None),
        };
        Ok(Hit {
            summary: listing.map(|l| l.at(now)),
            ocid,
            score,
            title_snippet,
            description_snippet,
        })
    }

    fn snippet_generators(
        &self,
        searcher: &Searcher,
        q: &dyn Query,
    ) -> Result<(SnippetGenerator, SnippetGenerator)> {
        let mut title = SnippetGenerator::create(searcher, q, self.fields.title)?;
        // Every highlight of a title falls in its one fragment.
        title.set_max_num_chars(MAX_TITLE_SNIPPET_CHARS);
        let mut desc = SnippetGenerator::create(searcher, q, self.fields.description)?;
        desc.set_max_num_chars(240);
        Ok((title, desc))
    }

    /// The BM25 part: every word must match in title, description, buyer or
    /// CPV descriptions. Words, `"phrases"`, `+`/`-`, `AND`/`OR`/`NOT` and
    /// brackets keep their meaning; syntax errors are forgiven (lenient
    /// parsing); text longer than [`MAX_QUERY_CHARS`] is refused.
    fn text_query(&self, q: &str) -> Result<Option<std::sync::Arc<dyn Query>>> {
        if q.trim().is_empty() {
            return Ok(None);
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(IndexError::Filter {
                field: "q",
                message: format!("the query text is longer than {MAX_QUERY_CHARS} characters"),
            });
        }
        let q = plain_syntax(q);
        let q = flatten_deep_brackets(&q);
        let f = &self.fields;
        let mut parser = QueryParser::for_index(
            &self.index,
            vec![f.title, f.description, f.buyer, f.cpv_text],
        );
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.title, 3.0);
        parser.set_field_boost(f.cpv_text, 1.5);
        let (query, _errors) = parser.parse_query_lenient(&q);
        Ok(Some(std::sync::Arc::from(forward::excluded_forward_only(
            query,
        ))))
    }

    /// Every filter of the request as a query clause. `with_status` is false
    /// when computing the status facet, which must ignore the status filter.
    fn filters(&self, req: &SearchRequest, with_status: bool) -> Result<Vec<Box<dyn Query>>> {
        let f = &self.fields;
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        if with_status && !req.statuses.is_empty() {
            let alts = req
                .statuses
                .iter()
                .map(|s| self.status_query(*s, req.now))
                .collect();
            out.push(any_of(alts));
        }
        let cpv: Vec<String> = req
            .cpv
            .iter()
            .map(|c| validate_cpv(c))
            .collect::<Result<_>>()?;
        push_terms(&mut out, f.cpv, &cpv);
        let regions: Vec<String> = req
            .regions
            .iter()
            .map(|r| r.trim().to_ascii_uppercase())
            .collect();
        push_terms(&mut out, f.nuts, &regions);
        push_terms(&mut out, f.source, &req.sources);
        push_terms(&mut out, f.ocid, &req.only_ocids);
        let types: Vec<String> = req
            .notice_types
            .iter()
            .map(|t| t.trim().to_ascii_uppercase())
            .collect();
        push_terms(&mut out, f.notice_type, &types);
        for (on, flag) in [
            (req.vcse, "vcse"),
            (req.sme, "sme"),
            (req.reserved, "reserved"),
        ] {
            if on {
                push_terms(&mut out, f.flags, &[flag.to_owned()]);
            }
        }
        if req.min_value_pence.is_some() || req.max_value_pence.is_some() {
            let lo = req.min_value_pence.unwrap_or(0).max(0);
            let hi = req
                .max_value_pence
                .map_or(Bound::Unbounded, Bound::Included);
            out.push(range_i64(self.fields.value, Bound::Included(lo), hi));
        }
        if let Some(min) = req.min_social_value_bp {
            out.push(range_i64(
                self.fields.social_value,
                Bound::Included(i64::from(min)),
                Bound::Unbounded,
            ));
        }
        if req.deadline_from.is_some() || req.deadline_to.is_some() {
            let lo = req
                .deadline_from
                .map_or(Bound::Unbounded, |t| Bound::Included(t.unix_timestamp()));
            let hi = req.deadline_to.map_or(Bound::Excluded(NO_DEADLINE), |t| {
                Bound::Included(t.unix_timestamp())
            });
            out.push(range_i64(self.fields.deadline, lo, hi));
        }
        if let Some(b) = req.buyer.as_deref().filter(|b| !b.trim().is_empty()) {
            let parser = QueryParser::for_index(&self.index, vec![f.buyer]);
            let words: Vec<String> = b
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(|w| format!("+{w}"))
                .collect();
            let (q, _) = parser.parse_query_lenient(&words.join(" "));
            out.push(q);
        }
        let _ = NO_VALUE; // values below 0 mean "no value" and never match a range
        Ok(out)
    }

    /// `q` without the notices of `req.exclude_ocids`.
    fn exclude(&self, q: Box<dyn Query>, req: &SearchRequest) -> Box<dyn Query> {
        let alts: Vec<Box<dyn Query>> = req
            .exclude_ocids
            .iter()
            .map(|o| term(self.fields.ocid, o))
            .collect();
        if alts.is_empty() {
            return q;
        }
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, q),
            (Occur::MustNot, any_of(alts)),
        ]))
    }

    /// `open` and `closed` are tenders on either side of `now`.
    fn status_query(&self, status: Status, now: OffsetDateTime) -> Box<dyn Query> {
        let stage = |s: Stage| -> Box<dyn Query> { term(self.fields.stage, s.as_str()) };
        let deadline = |lo: Bound<i64>, hi: Bound<i64>| -> Box<dyn Query> {
            range_i64(self.fields.deadline, lo, hi)
        };
        let now = now.unix_timestamp();
        match status {
            Status::Open => all_of(vec![
                stage(Stage::Tender),
                deadline(Bound::Excluded(now), Bound::Unbounded),
            ]),
            Status::Closed => all_of(vec![
                stage(Stage::Tender),
                deadline(Bound::Unbounded, Bound::Included(now)),
            ]),
            Status::Pipeline => stage(Stage::Pipeline),
            Status::Planned => stage(Stage::Planned),
            Status::Awarded => stage(Stage::Awarded),
            Status::Cancelled => stage(Stage::Cancelled),
            Status::Unknown => stage(Stage::Unknown),
        }
    }

    /// The facet counts of a search from its main pass: `counts` has every
    /// root, and the stages and the open count (`open`) too when no status
    /// filter applies; otherwise one more pass without it counts those.
    fn facets(
        &self,
        searcher: &Searcher,
        req: &SearchRequest,
        text: Option<std::sync::Arc<dyn Query>>,
        counts: tantivy::collector::FacetCounts,
        open: Option<usize>,
    ) -> Result<Facets> {
        let (stages, open) = match open {
            Some(open) => (None, open as u64),
            None => {
                let unfiltered = self.exclude(combine(text, self.filters(req, false)?), req);
                let mut sc = FacetCollector::for_field("facets");
                sc.add_facet("/stage");
                let (stages, open) = searcher.search(&unfiltered, &(sc, open_counter(req.now)))?;
                (Some(stages), open as u64)
            }
        };
        let mut out = Facets::default();
        let leaf = |facet: &tantivy::schema::Facet| {
            facet
                .to_path()
                .last()
                .map(|s| s.to_string())
                .unwrap_or_default()
        };
        for (root, map) in [
            ("/source", &mut out.source),
            ("/type", &mut out.notice_type),
            ("/cpv", &mut out.cpv_division),
            ("/region", &mut out.region),
        ] {
            for (facet, n) in counts.get(root) {
                map.insert(leaf(facet), n);
            }
        }
        let mut by_stage: BTreeMap<String, u64> = BTreeMap::new();
        for (facet, n) in stages.as_ref().unwrap_or(&counts).get("/stage") {
            by_stage.insert(leaf(facet), n);
        }
        let stage = |s: Stage| by_stage.get(s.as_str()).copied().unwrap_or(0);
        let tenders = stage(Stage::Tender);
        for status in Status::ALL {
            let n = match status {
                Status::Open => open,
                Status::Closed => tenders.saturating_sub(open),
                Status::Pipeline => stage(Stage::Pipeline),
                Status::Planned => stage(Stage::Planned),
                Status::Awarded => stage(Stage::Awarded),
                Status::Cancelled => stage(Stage::Cancelled),
                Status::Unknown => stage(Stage::Unknown),
            };
            if n > 0 {
                out.status.insert(status.as_str().to_owned(), n);
            }
        }
        Ok(out)
    }
}

/// A range over an i64 fast field (tantivy 0.27 takes terms, not a field
/// name); with neither bound it is every document.
fn range_i64(field: Field, lo: Bound<i64>, hi: Bound<i64>) -> Box<dyn Query> {
    let term = |b: Bound<i64>| match b {
        Bound::Included(v) => Bound::Included(Term::from_field_i64(field, v)),
        Bound::Excluded(v) => Bound::Excluded(Term::from_field_i64(field, v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    if matches!((&lo, &hi), (Bound::Unbounded, Bound::Unbounded)) {
        return Box::new(AllQuery);
    }
    Box::new(RangeQuery::new(term(lo), term(hi)))
}

/// `q` without the parser's field, boost, fuzzy, wildcard, range and escape
/// syntax (`: ^ ~ * [ ] { } \\`), read as spaces: users search words, and
/// tantivy 0.22's lenient parser never returns on some of it (`title:(^`
/// spins a thread forever). The tokenizer splits words on these anyway.
fn plain_syntax(q: &str) -> String {
    q.chars()
        .map(|c| if ":^~*[]{}\\".contains(c) { ' ' } else { c })
        .collect()
}

/// `q` as is, or with every bracket read as a space when they nest deeper
/// than [`MAX_QUERY_DEPTH`] (the words are still searched).
fn flatten_deep_brackets(q: &str) -> std::borrow::Cow<'_, str> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in q.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    if deepest <= MAX_QUERY_DEPTH {
        return std::borrow::Cow::Borrowed(q);
    }
    std::borrow::Cow::Owned(
        q.chars()
            .map(|c| if "()".contains(c) { ' ' } else { c })
            .collect(),
    )
}

fn validate_cpv(c: &str) -> Result<String> {
    let digits: String = c.trim().chars().take_while(|ch| *ch != '-').collect();
    if digits.len() < 2 || digits.len() > 8 || !digits.chars().all(|ch| ch.is_ascii_digit()) {
        return Err(IndexError::Filter {
            field: "cpv",
            message: format!("{c:?} is not a CPV code prefix (2 to 8 digits, e.g. 85 or 85312000)"),
        });
    }
    Ok(digits)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Titles longer than this are highlighted in their first part only.
const MAX_TITLE_SNIPPET_CHARS: usize = 2_000;

/// Characters of a description its snippet is chosen from: tokenising a
/// long description whole was a fifth of a search with snippets, and the
/// best fragment of a notice almost always lies in its opening.
const MAX_SNIPPET_SOURCE_CHARS: usize = 4000;

/// The opening of a field's first text, at most [`MAX_SNIPPET_SOURCE_CHARS`].
fn snippet_source(doc: &TantivyDocument, field: Field) -> &str {
    use tantivy::schema::document::Value as _;
    let text = doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("");
    match text.char_indices().nth(MAX_SNIPPET_SOURCE_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A field's text as the snippet generator reads it: its values joined by
/// one space, trimmed.
fn field_text(doc: &TantivyDocument, field: Field) -> String {
    use tantivy::schema::document::Value as _;
    let parts: Vec<&str> = doc.get_all(field).filter_map(|v| v.as_str()).collect();
    parts.join(" ").trim().to_owned()
}

/// The whole `text` as HTML with the snippet's highlights: what lies
/// before and after the fragment (tantivy cuts it at the first and last
/// token) is kept, escaped. `None` when nothing is highlighted.
fn whole_html(text: &str, snippet: &tantivy::snippet::Snippet) -> Option<String> {
    if snippet.is_empty() {
        return None;
    }
    let range = snippet.fragment_range();
    let (Some(before), Some(after)) = (text.get(..range.start), text.get(range.end..)) else {
        return non_empty(snippet.to_html());
    };
    Some(format!(
        "{}{}{}",
        escape_html(before),
        snippet.to_html(),
        escape_html(after)
    ))
}

/// The escaping tantivy applies to a fragment (`&`, `<`, `>`, `"`, `'`).
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn push_terms(out: &mut Vec<Box<dyn Query>>, field: Field, values: &[String]) {
    let alts: Vec<Box<dyn Query>> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| term(field, v))
        .collect();
    if !alts.is_empty() {
        out.push(any_of(alts));
    }
}

fn any_of(mut alts: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if alts.len() == 1 {
        return alts.remove(0);
    }
    Box::new(BooleanQuery::new(
        alts.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn all_of(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        clauses.into_iter().map(|q| (Occur::Must, q)).collect(),
    ))
}

/// The facets of a search: sources, types, CPV divisions, regions, and
/// the stages when `with_stage`.
fn facet_collector(with_stage: bool) -> FacetCollector {
    let mut fc = FacetCollector::for_field("facets");
    for root in ["/source", "/type", "/cpv", "/region"] {
        fc.add_facet(root);
    }
    if with_stage {
        fc.add_facet("/stage");
    }
    fc
}

/// Counts the open tenders among the matches, from `open_until` (the same
/// rule as the `open` status filter: a deadline after `now`, or none).
fn open_counter(
    now: OffsetDateTime,
) -> FilterCollector<Count, impl Fn(i64) -> bool + Clone + Send + Sync + 'static, i64> {
    let now = now.unix_timestamp();
    FilterCollector::new("open_until".to_owned(), move |t: i64| t > now, Count)
}

/// Text query (scored) AND filters (unscored).
fn combine(
    text: Option<std::sync::Arc<dyn Query>>,
    filters: Vec<Box<dyn Query>>,
) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = filters
        .into_iter()
        .map(|q| {
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>,
            )
        })
        .collect();
    match text {
        Some(t) => clauses.push((Occur::Must, t.box_clone())),
        None if clauses.is_empty() => return Box::new(AllQuery),
        None => {}
    }
    Box::new(BooleanQuery::new(clauses))
}

/// Property tests of the query side: whatever a user types or sends as a
/// filter, a search answers `Ok` (or a `Filter` error naming the field),
/// never panics, and keeps its page and range promises.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use sebroker_model::notice::{Buyer, CpvCode, Notice, Stage, Suitability, Value};
    use std::sync::OnceLock;

    /// Words the fixture titles are made of; queries built from them must find.
    const WORDS: [&str; 8] = [
        "roof",
        "youth",
        "cleaning",
        "catering",
        "garden",
        "transport",
        "advice",
        "repairs",
    ];
    const N_DOCS: usize = 24;

    fn notice(i: usize) -> Notice {
        let stages = [
            Stage::Tender,
            Stage::Awarded,
            Stage::Pipeline,
            Stage::Planned,
        ];
        let at = |days: i64| OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000 + days);
        Notice {
            ocid: format!("ocds-test-{i:04}"),
            source: if i.is_multiple_of(3) { "cf" } else { "fts" }.into(),
            source_url: None,
            releases: Vec::new(),
            notice_type: Some(format!("UK{}", 1 + i % 7)),
            stage: stages[i % stages.len()],
            title: format!("{} and {} services", WORDS[i % 8], WORDS[(i / 8 + 3) % 8]),
            description: format!("Lot {i}: <script>alert({i})</script> \"quoted\" & more"),
            buyer: Buyer {
                name: Some(format!("Council number {i}")),
                ..Buyer::default()
            },
            contacts: Vec::new(),
            cpv: vec![CpvCode {
                code: format!("{:08}", 45_000_000 + i * 1_000_000),
                description: Some("Construction work".into()),
            }],
            value: Value {
                amount_pence: (!i.is_multiple_of(5)).then_some(i as i64 * 1_000_000),
                ..Value::default()
            },
            published: Some(at(i as i64)),
            updated: None,
            deadline: (i % 4 != 1).then(|| at(30 + i as i64)),
            places: vec!["UKG21".into()],
            nuts: vec!["UK".into(), "UKG".into(), "UKG2".into(), "UKG21".into()],
            suitability: Suitability {
                sme: i.is_multiple_of(2),
                vcse: i.is_multiple_of(3),
            },
            reserved: i.is_multiple_of(6),
            lots: Vec::new(),
            awards: Vec::new(),
        }
    }

    /// One index shared by every case (building it per case would dominate).
    fn index() -> &'static NoticeIndex {
        static INDEX: OnceLock<(tempfile::TempDir, NoticeIndex)> = OnceLock::new();
        &INDEX
            .get_or_init(|| {
                let dir = tempfile::tempdir().expect("temp dir");
                let idx = NoticeIndex::open(dir.path()).expect("index opens");
                for i in 0..N_DOCS {
                    idx.upsert(&notice(i)).expect("upsert");
                }
                idx.commit(1).expect("commit");
                (dir, idx)
            })
            .1
    }

    fn request(q: &str) -> SearchRequest {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_040);
        let mut r = SearchRequest::new(q, now);
        r.facets = true;
        r.snippets = true;
        r
    }

    /// The promises every answer keeps, whatever was asked.
    fn check_page(
        req: &SearchRequest,
        res: &SearchResults,
    ) -> std::result::Result<(), TestCaseError> {
        let limit = req.limit.clamp(1, MAX_LIMIT);
        prop_assert!(res.hits.len() <= limit);
        prop_assert!(res.total <= N_DOCS as u64);
        let after_offset = (res.total as usize).saturating_sub(req.offset);
        prop_assert_eq!(res.hits.len(), after_offset.min(limit));
        for h in &res.hits {
            prop_assert!(h.ocid.starts_with("ocds-test-"), "{:?}", h.ocid);
        }
        Ok(())
    }

    /// Query text full of the parser's syntax: quotes, brackets, fields,
    /// boosts, ranges, wildcards, NUL, odd Unicode.
    fn hostile_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("\"".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("title:".to_owned()),
            Just("ocid:".to_owned()),
            Just("nosuchfield:".to_owned()),
            Just("value:[1 TO *]".to_owned()),
            Just("deadline:>".to_owned()),
            Just("^3".to_owned()),
            Just("~2".to_owned()),
            Just("*".to_owned()),
            Just(" AND ".to_owned()),
            Just(" OR ".to_owned()),
            Just(" NOT ".to_owned()),
            Just("-".to_owned()),
            Just("+".to_owned()),
            Just("\\".to_owned()),
            Just("\0".to_owned()),
            Just("1e9999".to_owned()),
            Just("<script>".to_owned()),
            Just("\u{202e}\u{fffd}\u{1f600}".to_owned()),
            prop::sample::select(WORDS.to_vec()).prop_map(str::to_owned),
            "\\PC{0,12}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|v| v.join(""))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_query_text_answers_a_well_formed_page(q in hostile_text()) {
            let req = request(&q);
            let res = index().search(&req);
            prop_assert!(res.is_ok(), "{:?} -> {:?}", q, res.err());
            if let Ok(res) = res {
                check_page(&req, &res)?;
            }
        }

        #[test]
        fn any_unicode_query_answers(q in "\\PC{0,200}") {
            let req = request(&q);
            let res = index().search(&req);
            prop_assert!(res.is_ok(), "{:?} -> {:?}", q, res.err());
        }

        #[test]
        fn a_title_word_always_finds_its_notices(i in 0..N_DOCS, noise in "[ ,.;!?]{0,4}") {
            let word = WORDS[i % 8];
            let res = index().search(&{
                let mut r = request(&format!("{noise}{word}{noise}"));
                r.limit = N_DOCS;
                r
            });
            prop_assert!(res.is_ok());
            if let Ok(res) = res {
                let want = format!("ocds-test-{i:04}");
                prop_assert!(res.hits.iter().any(|h| h.ocid == want), "{word} did not find {want}");
            }
        }

        #[test]
        fn any_limit_and_offset_keep_the_page_promise(
            limit in prop_oneof![Just(0usize), Just(usize::MAX), 0usize..2000],
            offset in prop_oneof![Just(usize::MAX), Just(usize::MAX / 2), 0usize..40],
            sort in prop::sample::select(vec![Sort::Relevance, Sort::Deadline, Sort::Value, Sort::Published]),
            q in prop::sample::select(vec!["", "roof", "services"]),
        ) {
            let mut req = request(q);
            req.limit = limit;
            req.offset = offset;
            req.sort = sort;
            let res = index().search(&req);
            let end = offset.checked_add(limit.clamp(1, MAX_LIMIT));
            if end.is_none_or(|e| e > MAX_WINDOW) {
                // Deeper than the window: refused by name, never a panic.
                prop_assert!(matches!(res, Err(IndexError::Window { .. })), "{:?}", res);
            } else {
                prop_assert!(res.is_ok(), "{:?}", res.err());
                if let Ok(res) = res {
                    check_page(&req, &res)?;
                    // Paging never changes how many match.
                    let all = index().search(&request(q)).map(|r| r.total).ok();
                    prop_assert_eq!(Some(res.total), all);
                }
            }
        }

        #[test]
        fn any_value_range_is_kept_by_every_hit(
            min in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), 0i64..30_000_000],
            max in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), 0i64..30_000_000],
        ) {
            let mut req = request("");
            req.min_value_pence = Some(min);
            req.max_value_pence = Some(max);
            req.limit = N_DOCS;
            let res = index().search(&req);
            prop_assert!(res.is_ok(), "{:?}", res.err());
            if let Ok(res) = res {
                for h in &res.hits {
                    let i: usize = h.ocid.trim_start_matches("ocds-test-").parse().unwrap_or(usize::MAX);
                    prop_assume!(i < N_DOCS);
                    let v = notice(i).value.headline_pence();
                    prop_assert!(v.is_some_and(|v| v >= min.max(0) && v <= max), "{} {:?} not in {min}..={max}", h.ocid, v);
                }
            }
        }

        #[test]
        fn any_cpv_filter_is_accepted_or_refused_by_name(c in prop_oneof![
            "\\PC{0,16}",
            "[0-9]{0,10}",
            "[0-9]{2,8}-[0-9]",
        ]) {
            let mut req = request("");
            req.cpv = vec![c.clone()];
            match index().search(&req) {
                Ok(res) => check_page(&req, &res)?,
                Err(IndexError::Filter { field, .. }) => prop_assert_eq!(field, "cpv"),
                Err(e) => prop_assert!(false, "{:?}: unexpected error {}", c, e),
            }
        }

        #[test]
        fn any_filter_text_and_deadline_answers(
            region in "\\PC{0,12}",
            source in "\\PC{0,12}",
            buyer in "\\PC{0,40}",
            from in any::<i64>(),
            to in any::<i64>(),
        ) {
            let mut req = request("services");
            req.regions = vec![region];
            req.sources = vec![source];
            req.notice_types = vec!["uk4".into(), "\0".into()];
            req.buyer = Some(buyer);
            // Any instant time can represent (years -9999..=9999).
            let clamp = |s: i64| s.clamp(-377_705_116_800, 253_402_300_799);
            req.deadline_from = OffsetDateTime::from_unix_timestamp(clamp(from)).ok();
            req.deadline_to = OffsetDateTime::from_unix_timestamp(clamp(to)).ok();
            let res = index().search(&req);
            prop_assert!(res.is_ok(), "{:?}", res.err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The status counts of one pass (and of two, under a status filter)
        /// are what a search for each status finds; each hit's listing is
        /// the notice's summary at that clock.
        #[test]
        fn status_counts_and_listings_agree_with_each_status_searched(
            word in prop::sample::select(&WORDS[..]),
            // Half the clocks fall on a deadline, where open turns closed.
            day in prop_oneof![20_000i64..20_080, (0i64..N_DOCS as i64).prop_map(|i| 20_030 + i)],
            filter in prop::option::of(prop::sample::select(&Status::ALL[..])),
        ) {
            let mut req = request(word);
            req.now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(day);
            req.statuses = filter.into_iter().collect();
            req.limit = N_DOCS;
            let res = index().search(&req).expect("search");
            let counts = res.facets.expect("facets").status;
            for status in Status::ALL {
                let mut one = req.clone();
                one.statuses = vec![status];
                one.facets = false;
                let n = index().search(&one).expect("search").total;
                prop_assert_eq!(counts.get(status.as_str()).copied().unwrap_or(0), n, "{:?}", status);
            }
            for h in &res.hits {
                let i: usize = h.ocid.trim_start_matches("ocds-test-").parse().expect("ocid");
                prop_assert_eq!(h.summary.as_ref(), Some(&NoticeSummary::of(&notice(i), req.now)));
            }
        }
    }

    #[test]
    fn deeply_nested_queries_answer_and_found_words_stay_found() {
        let n = MAX_QUERY_CHARS;
        for q in [
            "(".repeat(n),
            ")".repeat(n),
            "[".repeat(n),
            "{".repeat(n),
            "\"".repeat(n),
            "-".repeat(n),
            "+".repeat(n),
            "title:".repeat(n / 6),
            "(a OR ".repeat(n / 6),
            "NOT ".repeat(n / 4),
            "(\"".repeat(n / 2),
        ] {
            let res = index().search(&request(&q));
            assert!(res.is_ok(), "{}…: {:?}", &q[..12], res.err());
        }
        let q = format!("{}roof{}", "(".repeat(400), ")".repeat(400));
        let res = index().search(&request(&q)).expect("nested word");
        assert!(
            res.total > 0,
            "the word inside deep brackets is still searched"
        );
        let shallow = index().search(&request("((roof))")).expect("shallow");
        assert_eq!(res.total, shallow.total);
    }

    #[test]
    fn an_excluded_phrase_leaves_exactly_the_other_notices() {
        // tantivy 0.27's exclusion seeks a phrase scorer backwards (a debug
        // assertion fired: the query proptest's `" NOT ^3<script>"`).
        let all = index().search(&request("")).expect("all").total;
        for (phrase, neg) in [
            ("\"catering services\"", "NOT \"catering services\""),
            ("\"catering services\"", "-\"catering services\""),
            ("3<script>", " NOT ^3<script>"),
        ] {
            let hit = index().search(&request(phrase)).expect("phrase").total;
            let rest = index().search(&request(neg)).expect("negated").total;
            assert_eq!(hit + rest, all, "{neg:?}: {hit} + {rest} of {all}");
        }
        let hit = index()
            .search(&request("\"catering services\""))
            .expect("phrase")
            .total;
        assert!(hit > 0, "the phrase is in the test notices");
        let both = index()
            .search(&request("catering NOT \"catering services\""))
            .expect("word and excluded phrase")
            .total;
        let roof = index().search(&request("catering")).expect("word").total;
        assert_eq!(both, roof - hit);
    }

    #[test]
    fn field_and_boost_syntax_cannot_hang_the_parser() {
        // Each of these never returned from tantivy 0.22's lenient parser.
        for q in [
            "title:(^",
            "title:(^3",
            "title:(^3 roof",
            "title:(^3ocid:deadline:>\" OR x",
        ] {
            let res = index().search(&request(q));
            assert!(res.is_ok(), "{q:?}: {:?}", res.err());
        }
        let with = index().search(&request("title:roof^3")).expect("search");
        let plain = index().search(&request("title roof 3")).expect("search");
        assert_eq!(
            with.total, plain.total,
            "syntax characters are read as spaces"
        );
    }

    #[test]
    fn overlong_query_text_is_refused_by_name() {
        for q in [
            "(".repeat(100_000),
            "roof ".repeat(20_000),
            "é".repeat(MAX_QUERY_CHARS + 1),
        ] {
            match index().search(&request(&q)) {
                Err(IndexError::Filter {
                    field: "q",
                    message,
                }) => {
                    assert!(message.contains("longer than"), "{message}");
                }
                other => panic!("{} chars: {other:?}", q.len()),
            }
        }
        let ok = "é".repeat(MAX_QUERY_CHARS);
        assert!(
            index().search(&request(&ok)).is_ok(),
            "the limit counts characters, not bytes"
        );
    }

    #[test]
    fn a_highlighted_title_keeps_what_follows_its_last_word() {
        let dir = tempfile::tempdir().expect("temp dir");
        let idx = NoticeIndex::open(dir.path()).expect("index opens");
        let mut n = notice(1);
        n.title = "(Pilot) Family Hubs: Catering, Cleaning and Youth Activities (Walsall and Wolverhampton)".into();
        idx.upsert(&n).expect("upsert");
        idx.commit(1).expect("commit");
        for word in ["youth", "wolverhampton", "pilot"] {
            let res = idx.search(&request(word)).expect("search");
            let t = res.hits[0]
                .title_snippet
                .as_deref()
                .expect("a title snippet");
            assert!(
                t.starts_with("(<b>Pilot</b>) Family") || t.starts_with("(Pilot) Family"),
                "{word}: {t}"
            );
            assert!(
                t.ends_with("Wolverhampton</b>)") || t.ends_with("Wolverhampton)"),
                "{word}: {t}"
            );
            assert_eq!(t.matches("<b>").count(), 1, "{word}: {t}");
        }
    }

    #[test]
    fn snippets_escape_html_in_the_text() {
        let mut req = request("services");
        req.limit = N_DOCS;
        let res = index().search(&req).expect("search");
        let mut seen = 0;
        for h in &res.hits {
            for s in [&h.title_snippet, &h.description_snippet]
                .into_iter()
                .flatten()
            {
                assert!(!s.contains("<script"), "raw HTML in a snippet: {s}");
                seen += 1;
            }
        }
        assert!(seen > 0, "no snippet was produced: {res:?}");
    }
}
