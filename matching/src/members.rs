//! Members as matching sees them: stored members with their linked track
//! record merged in, and the member index built over them.

use std::collections::HashMap;

use sebroker_index::MemberIndex;
use sebroker_model::{AwardLink, Member, Notice, Stage};

use crate::error::Result;
use crate::ranker::{Corpus, Model, Ranker};

/// Matches kept per notice.
pub const STORED_PER_NOTICE: usize = 50;
/// Matches below this score are not stored.
pub const STORED_MIN_SCORE: f64 = 0.2;

/// Members as matching sees them: stored members with links merged into
/// their track records, and their index.
pub struct MemberSet {
    pub members: HashMap<String, Member>,
    pub index: MemberIndex,
    /// What the learned ranking's features need from the whole set (built
    /// by `set_model`).
    pub corpus: Corpus,
    /// The learned ranking model (`[matching] model`); `None` ranks by the
    /// weighted sum of components.
    pub model: Option<Model>,
}

impl MemberSet {
    /// Builds the set from stored members and award links.
    pub fn build(stored: Vec<Member>, links: &[AwardLink]) -> Result<MemberSet> {
        let mut members: HashMap<String, Member> =
            stored.into_iter().map(|m| (m.id.clone(), m)).collect();
        for l in links {
            if let (Some(m), Some(t)) = (members.get_mut(&l.member_id), l.track_record()) {
                // A record the broker already typed in (same ocid) is not doubled.
                if !m
                    .track_record
                    .iter()
                    .any(|x| x.ocid.is_some() && x.ocid == t.ocid)
                {
                    m.track_record.push(t);
                }
            }
        }
        let list: Vec<Member> = members.values().cloned().collect();
        Ok(MemberSet {
            index: MemberIndex::build(&list)?,
            corpus: Corpus::default(),
            members,
            model: None,
        })
    }

    /// Sets the learned ranking model (`None`: rank by the weights); the
    /// member statistics its features need are built only when there is one.
    pub fn set_model(&mut self, model: Option<Model>) {
        self.corpus = match &model {
            Some(_) => Corpus::build(self.members.values()),
            None => Corpus::default(),
        };
        self.model = model;
    }

    /// The learned ranking over this set, when a model is set.
    pub fn ranker(&self) -> Option<Ranker<'_>> {
        self.model.as_ref().map(|model| Ranker {
            model,
            corpus: &self.corpus,
        })
    }
}

/// Whether a notice can still be bid for at some point (so worth matching).
pub fn biddable(n: &Notice) -> bool {
    matches!(n.stage, Stage::Tender | Stage::Pipeline | Stage::Planned)
}
