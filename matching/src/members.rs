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
            if let Some(m) = members.get_mut(&l.member_id) {
                merge_link(m, l);
            }
        }
        // In id order: ties in the index go to the earlier member, the
        // same ones on every start.
        let mut list: Vec<Member> = members.values().cloned().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
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
            Some(_) => Corpus::build(&self.index, self.members.values()),
            None => Corpus::default(),
        };
        self.model = model;
    }

    /// Adds a new award link to its member's track record and updates that
    /// member's entry in the index (and the learned ranking's statistics)
    /// alone. Returns whether the member changed (false for an unknown
    /// member, a rejected link, or an award already on its record).
    pub fn add_link(&mut self, link: &AwardLink) -> bool {
        let Some(m) = self.members.get_mut(&link.member_id) else {
            return false;
        };
        let before = m.clone();
        if !merge_link(m, link) {
            return false;
        }
        self.index.upsert(m);
        if self.model.is_some() {
            self.corpus.remove(&before);
            self.corpus.add(m, &self.index);
        }
        true
    }

    /// The learned ranking over this set, when a model is set.
    pub fn ranker(&self) -> Option<Ranker<'_>> {
        self.model.as_ref().map(|model| Ranker {
            model,
            corpus: &self.corpus,
        })
    }
}

/// Puts a link's award on a member's track record, unless rejected or
/// already there (a record the broker typed in with the same ocid is not
/// doubled). Returns whether it was added.
fn merge_link(m: &mut Member, l: &AwardLink) -> bool {
    let Some(t) = l.track_record() else {
        return false;
    };
    if m.track_record
        .iter()
        .any(|x| x.ocid.is_some() && x.ocid == t.ocid)
    {
        return false;
    }
    m.track_record.push(t);
    true
}

/// Whether a notice can still be bid for at some point (so worth matching).
pub fn biddable(n: &Notice) -> bool {
    matches!(n.stage, Stage::Tender | Stage::Pipeline | Stage::Planned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sebroker_model::LinkStatus;

    fn demo_members() -> Vec<Member> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/demo/members.json");
        let clusters: Vec<String> = ["ward-end", "walsall", "smethwick", "wolverhampton", "other"]
            .map(String::from)
            .to_vec();
        let places = sebroker_connectors::places::Places::builtin();
        let parsed = sebroker_connectors::members::parse_file(
            std::path::Path::new(path),
            &clusters,
            &places,
        )
        .expect("demo members");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed.members
    }

    fn link(member: &str, ocid: &str, title: &str, buyer: &str) -> AwardLink {
        AwardLink {
            member_id: member.into(),
            ocid: ocid.into(),
            award_id: format!("{ocid}-award"),
            supplier_name: None,
            supplier_identifier: None,
            method: "name".into(),
            confidence: 0.9,
            status: LinkStatus::Proposed,
            title: title.into(),
            buyer: Some(buyer.into()),
            value_pence: Some(4_500_000),
            year: Some(2026),
            cpv: vec!["90911200".into()],
            lots: Vec::new(),
        }
    }

    #[test]
    fn an_award_link_updates_one_member_as_a_rebuild_would() {
        let members = demo_members();
        let first = members[0].id.clone();
        let links = [
            link(
                &first,
                "ocds-x-1",
                "Zymurgy workshops for community kitchens",
                "Walsall Council",
            ),
            link(
                &first,
                "ocds-x-2",
                "Window cleaning of libraries",
                "Walsall Council",
            ),
        ];
        let model = Model::shipped().expect("shipped model");
        let mut live = MemberSet::build(members.clone(), &[]).expect("build");
        live.set_model(Some(model.clone()));
        for l in &links {
            assert!(live.add_link(l), "a new award changes its member");
        }
        assert!(
            !live.add_link(&links[0]),
            "the same award twice is one record"
        );
        assert!(!live.add_link(&link("nobody", "ocds-x-3", "x", "y")));
        let mut fresh = MemberSet::build(members, &links).expect("build");
        fresh.set_model(Some(model));
        assert_eq!(live.members, fresh.members);
        assert_eq!(
            live.corpus, fresh.corpus,
            "the learned ranking's statistics"
        );
        for (q, codes) in [
            ("zymurgy kitchens", vec!["90".to_owned(), "909".to_owned()]),
            ("youth work mentoring", vec!["85".to_owned()]),
        ] {
            let a = live.index.candidates(q, &codes, 100).expect("live");
            let b = fresh.index.candidates(q, &codes, 100).expect("fresh");
            assert_eq!(a.len(), b.len(), "{q}");
            for (id, s) in &b {
                let got = a.get(id).unwrap_or_else(|| panic!("{q}: {id} missing"));
                assert!((got - s).abs() < 1e-5, "{q}: {id} {got} vs {s}");
            }
        }
        let found = live.index.candidates("zymurgy", &[], 5).expect("c");
        assert!(
            found.contains_key(&first),
            "the linked award's title is searchable"
        );
    }
}
