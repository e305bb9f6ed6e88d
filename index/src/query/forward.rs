//! Excluded clauses (`NOT x`, `-x`) behind a scorer that only seeks
//! forward. tantivy 0.27's `Exclude` calls `seek_danger` on the excluded
//! scorer with targets that may lie behind where a phrase scorer left
//! itself after an earlier miss; the phrase scorer asserts against that (a
//! panic in debug builds: `NOT "roof repair"`, found by the query
//! proptest) and nothing promises what it returns in release builds. The
//! wrapper answers `seek_danger` with tantivy's own default (seek, never
//! the inner scorer's danger zone), and seeks only ahead of where it is.

use tantivy::query::{BooleanQuery, EnableScoring, Explanation, Occur, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

/// `query` with every excluded clause, at any depth, made forward-only.
pub(super) fn excluded_forward_only(query: Box<dyn Query>) -> Box<dyn Query> {
    let Some(b) = query.downcast_ref::<BooleanQuery>() else {
        return query;
    };
    let clauses = b
        .clauses()
        .iter()
        .map(|(occur, q)| {
            let q = excluded_forward_only(q.box_clone());
            match occur {
                Occur::MustNot => (*occur, Box::new(Forward(q)) as Box<dyn Query>),
                _ => (*occur, q),
            }
        })
        .collect();
    Box::new(BooleanQuery::new(clauses))
}

#[derive(Debug)]
struct Forward(Box<dyn Query>);

impl Clone for Forward {
    fn clone(&self) -> Self {
        Forward(self.0.box_clone())
    }
}

impl Query for Forward {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ForwardWeight(self.0.weight(scoring)?)))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.0.query_terms(visitor);
    }
}

struct ForwardWeight(Box<dyn Weight>);

impl Weight for ForwardWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ForwardScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

struct ForwardScorer(Box<dyn Scorer>);

impl DocSet for ForwardScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let doc = self.0.doc();
        if doc >= target {
            return doc;
        }
        self.0.seek(target)
    }

    // `seek_danger` is the trait's default: `seek`, then compare.

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }

    fn cost(&self) -> u64 {
        self.0.cost()
    }
}

impl Scorer for ForwardScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}
