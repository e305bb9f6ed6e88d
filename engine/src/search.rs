//! Search parameters shared by the CLI and the API (same names in both),
//! validated into an index query, and results joined with the store.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use sebroker_connectors::{money, source};
use sebroker_index::{Facets, NoticeSummary, SearchRequest, Sort, Status};

use crate::error::{Error, Result};
use crate::Engine;

/// Search parameters as users give them. Lists are comma-separated; money is
/// whole pounds; dates are RFC 3339 or `YYYY-MM-DD`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find in titles, descriptions and buyers.
    pub q: Option<String>,
    /// Comma-separated: pipeline, planned, open, closed, awarded, cancelled, unknown.
    pub status: Option<String>,
    /// Comma-separated CPV codes or prefixes (`85`, `85300000`).
    pub cpv: Option<String>,
    /// Comma-separated NUTS codes, place names or postcodes.
    pub region: Option<String>,
    /// Whole pounds, zero or more.
    #[param(minimum = 0)]
    pub min_value: Option<i64>,
    /// Whole pounds, zero or more.
    #[param(minimum = 0)]
    pub max_value: Option<i64>,
    /// Some lot weights social value at least this many percent.
    #[param(minimum = 0, maximum = 100)]
    pub min_social_value: Option<f64>,
    pub vcse: Option<bool>,
    pub sme: Option<bool>,
    /// Reserved for SMEs and VCSEs.
    pub reserved: Option<bool>,
    /// Comma-separated sources (`fts`, `cf`, `anchor:<slug>`, `ocds:<name>`).
    pub source: Option<String>,
    /// Comma-separated notice types (`UK4`…).
    #[serde(rename = "type")]
    pub notice_type: Option<String>,
    pub buyer: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`.
    pub deadline_from: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`.
    pub deadline_to: Option<String>,
    /// relevance (default), deadline, published, value.
    pub sort: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD`: the clock open and closed are judged by.
    pub now: Option<String>,
    /// 1 to 1000 (default 10).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// 0 to 9000 on the API (so that any `limit` fits in the window).
    #[param(minimum = 0, maximum = 9000)]
    pub offset: Option<usize>,
    pub facets: Option<bool>,
    pub snippets: Option<bool>,
    /// Show each opportunity group once (default true); false lists every notice.
    pub group: Option<bool>,
}

fn list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

pub use crate::when::parse_when;

fn pence(field: &str, pounds: Option<i64>) -> Result<Option<i64>> {
    match pounds {
        None => Ok(None),
        Some(p) if p < 0 => Err(Error::Invalid(format!(
            "{field}: must be zero or more pounds"
        ))),
        Some(p) => money::pounds_to_pence(p)
            .map(Some)
            .ok_or_else(|| Error::Invalid(format!("{field}: {p} is too large"))),
    }
}

impl SearchParams {
    /// Validates the parameters into an index request.
    pub fn to_request(&self, app: &Engine) -> Result<SearchRequest> {
        let now = match &self.now {
            Some(s) => parse_when("now", s, false)?,
            None => OffsetDateTime::now_utc(),
        };
        let mut r = SearchRequest::new(self.q.clone().unwrap_or_default(), now);
        for s in list(&self.status) {
            r.statuses.push(Status::parse(&s).ok_or_else(|| {
                Error::Invalid(format!(
                    "status: {s:?} is not one of pipeline, planned, open, closed, awarded, cancelled, unknown"
                ))
            })?);
        }
        r.cpv = list(&self.cpv);
        let places = app.places();
        for reg in list(&self.region) {
            let code = places.resolve_code(&reg).ok_or_else(|| {
                Error::Invalid(format!("region: {reg:?} is not a NUTS code, region, local authority or postcode we know"))
            })?;
            r.regions.push(code);
        }
        r.min_value_pence = pence("min_value", self.min_value)?;
        r.max_value_pence = pence("max_value", self.max_value)?;
        r.min_social_value_bp = match self.min_social_value {
            Some(p) if p.is_finite() && (0.0..=100.0).contains(&p) => {
                Some((p * 100.0).round() as u32)
            }
            Some(p) => {
                return Err(Error::Invalid(format!(
                    "min_social_value: {p} is not a percentage from 0 to 100"
                )))
            }
            None => None,
        };
        r.vcse = self.vcse.unwrap_or(false);
        r.sme = self.sme.unwrap_or(false);
        r.reserved = self.reserved.unwrap_or(false);
        for s in list(&self.source) {
            if !source::is_valid_source(&s) {
                return Err(Error::Invalid(format!(
                    "source: {s:?} is not fts, cf, anchor:<slug> or ocds:<name>"
                )));
            }
            r.sources.push(s);
        }
        r.notice_types = list(&self.notice_type);
        r.buyer = self.buyer.clone();
        r.deadline_from = self
            .deadline_from
            .as_deref()
            .map(|s| parse_when("deadline_from", s, false))
            .transpose()?;
        r.deadline_to = self
            .deadline_to
            .as_deref()
            .map(|s| parse_when("deadline_to", s, true))
            .transpose()?;
        r.sort = match &self.sort {
            Some(s) => Sort::parse(s).ok_or_else(|| {
                Error::Invalid(format!(
                    "sort: {s:?} is not relevance, deadline, value or published"
                ))
            })?,
            None => Sort::Relevance,
        };
        r.limit = self
            .limit
            .unwrap_or(10)
            .clamp(1, sebroker_index::query::MAX_LIMIT);
        r.offset = self.offset.unwrap_or(0);
        r.facets = self.facets.unwrap_or(true);
        r.snippets = self.snippets.unwrap_or(true);
        Ok(r)
    }
}

#[derive(Debug, Serialize)]
pub struct SearchHit {
    #[serde(flatten)]
    pub notice: NoticeSummary,
    pub score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_snippet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_snippet: Option<String>,
    /// The other notices of the same opportunity (other sources), when grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
}

/// The other notices of one opportunity.
#[derive(Debug, Serialize)]
pub struct Group {
    /// Every source of the opportunity, this notice's included.
    pub sources: Vec<String>,
    pub others: Vec<GroupMember>,
}

#[derive(Debug, Serialize)]
pub struct GroupMember {
    pub ocid: String,
    pub source: String,
}

#[derive(Debug, Serialize)]
pub struct SearchPage {
    pub total: u64,
    pub offset: usize,
    pub limit: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    pub hits: Vec<SearchHit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
}

/// Runs a search and joins each hit with its stored notice. Unless
/// `group=false`, each opportunity group shows once: of the members that
/// match, the first by source (fts, cf, others) stands for the group.
pub fn search(app: &Engine, params: &SearchParams) -> Result<SearchPage> {
    let mut req = params.to_request(app)?;
    if params.group.unwrap_or(true) {
        req.exclude_ocids = hidden_members(app, &req)?;
    }
    let res = app.index.search(&req)?;
    let mut hits = Vec::with_capacity(res.hits.len());
    for h in res.hits {
        // The index answers with the listing it stores; a document without
        // one (never written by this version) is read from the store, and
        // skipped if the store no longer has it.
        let notice = match h.summary {
            Some(s) => s,
            None => match app.store.get_notice(&h.ocid)? {
                Some(n) => NoticeSummary::of(&n, req.now),
                None => continue,
            },
        };
        hits.push(SearchHit {
            group: group_of(app, &notice.ocid, &notice.source)?,
            notice,
            score: h.score,
            title_snippet: h.title_snippet,
            description_snippet: h.description_snippet,
        });
    }
    Ok(SearchPage {
        total: res.total,
        offset: req.offset,
        limit: req.limit,
        now: req.now,
        hits,
        facets: res.facets,
    })
}

/// The group members this search must not show: in each group, every
/// matching member but the representative of those that match.
fn hidden_members(app: &Engine, req: &SearchRequest) -> Result<Vec<String>> {
    let groups = app.store.groups()?;
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let mut probe = req.clone();
    probe.only_ocids = groups.iter().flatten().cloned().collect();
    probe.limit = probe
        .only_ocids
        .len()
        .clamp(1, sebroker_index::query::MAX_LIMIT);
    probe.offset = 0;
    probe.facets = false;
    probe.snippets = false;
    let mut hidden = Vec::new();
    // Groups are small and few; probe in chunks so no request grows unbounded.
    let all = std::mem::take(&mut probe.only_ocids);
    let mut matching = std::collections::HashSet::new();
    for chunk in all.chunks(sebroker_index::query::MAX_LIMIT) {
        probe.only_ocids = chunk.to_vec();
        for h in app.index.search(&probe)?.hits {
            matching.insert(h.ocid);
        }
    }
    for g in groups {
        let mut members: Vec<(String, String)> = Vec::new();
        for o in g.iter().filter(|o| matching.contains(*o)) {
            // A store error fails the search: a guess here would show a
            // group twice or hide its representative.
            let source = app.store.get_notice(o)?.map(|n| n.source);
            members.push((o.clone(), source.unwrap_or_default()));
        }
        if let Some(rep) = crate::groups::representative(&members) {
            hidden.extend(members.iter().filter(|m| m.0 != rep.0).map(|m| m.0.clone()));
        }
    }
    Ok(hidden)
}

fn group_of(app: &Engine, ocid: &str, source: &str) -> Result<Option<Group>> {
    let members = app.store.group_of(ocid)?;
    if members.len() < 2 {
        return Ok(None);
    }
    let mut sources = vec![source.to_owned()];
    let mut others = Vec::new();
    for o in members.into_iter().filter(|o| *o != ocid) {
        let source = app
            .store
            .get_notice(&o)?
            .map(|x| x.source)
            .unwrap_or_default();
        if !sources.contains(&source) {
            sources.push(source.clone());
        }
        others.push(GroupMember { ocid: o, source });
    }
    Ok(Some(Group { sources, others }))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use super::*;
    use sebroker_store::failing::FailingStore;

    #[test]
    fn a_store_error_fails_the_search_instead_of_guessing_groups() {
        let (_dir, mut app) = crate::demo::open_in_tempdir().expect("demo");
        // Two notices filed as one opportunity.
        let mut ocids = Vec::new();
        app.store
            .for_each_notice(&mut |n| {
                ocids.push(n.ocid);
                Ok(())
            })
            .expect("notices");
        assert!(app.store.link_group(&ocids[0], &ocids[1]).expect("group"));
        let failing = Arc::new(FailingStore::new(app.store.clone()));
        app.store = failing.clone();
        let params = SearchParams::default();
        let req = params.to_request(&app).expect("request");
        let hidden = hidden_members(&app, &req).expect("hidden while the store works");
        assert!(!hidden.is_empty());
        failing.fail.store(true, Ordering::SeqCst);
        let err = hidden_members(&app, &req).expect_err("a failing store fails");
        assert!(err.to_string().contains("injected store failure"), "{err}");
        assert!(search(&app, &params).is_err());
    }
}
