//! The full-text index of member profiles, so that one notice is matched
//! against every member by one query.

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value as _, STORED, STRING,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::Result;
use sebroker_model::Member;

/// A full-text index of member profiles (rebuilt from the store on start;
/// small enough to live in memory).
pub struct MemberIndex {
    index: Index,
    reader: IndexReader,
    text: Field,
    cpv: Field,
    analyzer: TextAnalyzer,
    /// Member id of each document, by segment then document: hits are
    /// named without reading the doc store (a block decompression each).
    ids: Vec<Vec<String>>,
}

/// Longest notice text used for a match query: enough words to carry the
/// subject, not so many that common words dominate.
const MAX_QUERY_TERMS: usize = 48;

impl MemberIndex {
    pub fn build(members: &[Member]) -> Result<MemberIndex> {
        let mut b = Schema::builder();
        let id = b.add_text_field("id", STRING | STORED);
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
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 32 * 1024 * 1024)?;
        for m in members {
            let mut d = TantivyDocument::default();
            d.add_text(id, &m.id);
            d.add_text(text, m.profile_text());
            for c in m.all_cpv() {
                for n in 2..=c.len().min(8) {
                    d.add_text(cpv, &c[..n]);
                }
            }
            writer.add_document(d)?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let analyzer = index.tokenizers().get("en_stem").unwrap_or_default();
        let ids = id_table(&reader.searcher(), id)?;
        Ok(MemberIndex {
            index,
            reader,
            text,
            cpv,
            analyzer,
            ids,
        })
    }

    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Members ranked by BM25 of `text` against their profiles, plus members
    /// sharing a CPV division with `cpv_divisions` (score 0 when only that).
    /// Returns member id → BM25 score, at most `limit` text matches.
    pub fn candidates(
        &self,
        text: &str,
        cpv_divisions: &[String],
        limit: usize,
    ) -> Result<HashMap<String, f64>> {
        let searcher = self.reader.searcher();
        let mut out = HashMap::new();
        let terms = self.terms(text);
        if !terms.is_empty() {
            let clauses: Vec<(Occur, Box<dyn Query>)> = terms
                .into_iter()
                .map(|t| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(self.text, &t),
                        IndexRecordOption::WithFreqs,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            let q = BooleanQuery::new(clauses);
            for (score, addr) in
                searcher.search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score())?
            {
                if let Some(id) = self.id_of(addr) {
                    out.insert(id.to_owned(), f64::from(score));
                }
            }
        }
        if !cpv_divisions.is_empty() {
            let clauses: Vec<(Occur, Box<dyn Query>)> = cpv_divisions
                .iter()
                .map(|d| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(self.cpv, d),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            let q = BooleanQuery::new(clauses);
            for (_, addr) in
                searcher.search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score())?
            {
                if let Some(id) = self.id_of(addr) {
                    out.entry(id.to_owned()).or_insert(0.0);
                }
            }
        }
        Ok(out)
    }

    fn id_of(&self, addr: DocAddress) -> Option<&str> {
        self.ids
            .get(addr.segment_ord as usize)?
            .get(addr.doc_id as usize)
            .map(String::as_str)
    }

    /// Distinct analysed terms of a text, in order of first appearance.
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

    #[doc(hidden)]
    pub fn tantivy_index(&self) -> &Index {
        &self.index
    }
}

/// The member id of every document, read once from the doc store.
fn id_table(searcher: &tantivy::Searcher, id: Field) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::with_capacity(searcher.segment_readers().len());
    for (ord, seg) in searcher.segment_readers().iter().enumerate() {
        let mut ids = Vec::with_capacity(seg.max_doc() as usize);
        for doc in 0..seg.max_doc() {
            let d: TantivyDocument = searcher.doc(DocAddress::new(ord as u32, doc))?;
            let v = d.get_first(id).and_then(|v| v.as_str()).unwrap_or_default();
            ids.push(v.to_owned());
        }
        out.push(ids);
    }
    Ok(out)
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
