//! The ledger folded into the views people ask for: cases with their
//! current status and win, cluster history, referrals and returns. Derived
//! from the records alone, so a restored backup gives the same answers.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::Date;

use super::model::{split, CaseStatus, Event, Programme, Record, ReturnFigures, Share};
use crate::error::{Error, Result};

/// Everything in the ledger, in memory, with indexes.
#[derive(Debug, Default)]
pub struct State {
    /// Record `seq` is at index `seq - 1`.
    pub records: Vec<Record>,
    /// Idempotency key → seq.
    pub by_key: HashMap<String, u64>,
    /// Case id → seqs of its events (the opening first).
    pub cases: BTreeMap<String, Vec<u64>>,
    /// Voided seq → the seq of the event that voided it.
    pub voided: HashMap<u64, u64>,
    /// Member → seqs of its cluster changes.
    pub clusters: HashMap<String, Vec<u64>>,
    pub referrals: Vec<u64>,
    pub returns: Vec<u64>,
    /// API keys by id, folded from `key_created` / `key_revoked`.
    pub keys: BTreeMap<String, crate::auth::ApiKey>,
    /// The opened personal data of sealed records (`crate::seal`), by seq;
    /// [`crate::seal::Personal::erased`] once its key is gone.
    pub personal: HashMap<u64, crate::seal::Personal>,
}

/// A won event as it counts.
#[derive(Debug, Clone, Serialize)]
pub struct Win {
    pub seq: u64,
    #[serde(with = "super::model::ymd")]
    pub date: Date,
    pub value_pence: i64,
    pub shares: Vec<Share>,
    /// Each member's part in whole pence (the remainder to the lead).
    pub parts: Vec<Part>,
    /// Counted as brokered value: won after an introduction.
    pub counted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub member_id: String,
    pub value_pence: i64,
    /// The member's cluster on the date of the win.
    pub cluster: String,
}

/// One event of a case as shown to people.
#[derive(Debug, Clone, Serialize)]
pub struct CaseEvent {
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: Option<CaseStatus>,
    #[serde(with = "super::model::ymd")]
    pub date: Date,
    pub actor: String,
    pub notes: Option<String>,
    pub value_pence: Option<i64>,
    pub voided_by: Option<u64>,
    pub voids_seq: Option<u64>,
}

/// A case, folded.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub case_id: String,
    pub ocid: String,
    pub group: Vec<String>,
    pub title: String,
    pub members: Vec<String>,
    pub lead: String,
    pub source: String,
    pub buyer: Option<String>,
    pub cpv_division: Option<String>,
    pub status: CaseStatus,
    #[serde(with = "super::model::ymd")]
    pub opened: Date,
    pub win: Option<Win>,
    pub events: Vec<CaseEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferralView {
    pub seq: u64,
    pub member_id: String,
    pub programme: Programme,
    #[serde(with = "super::model::ymd")]
    pub date: Date,
    pub cluster: String,
    pub notes: Option<String>,
    pub actor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReturnView {
    pub seq: u64,
    pub member_id: String,
    #[serde(flatten)]
    pub figures: ReturnFigures,
    #[serde(with = "super::model::ymd")]
    pub date: Date,
    pub actor: String,
}

impl State {
    /// Folds records in (they must already be verified and in order).
    pub fn apply(&mut self, r: Record) {
        let seq = r.seq;
        self.by_key.insert(r.idempotency_key.clone(), seq);
        match &r.event {
            Event::CaseOpened { case_id, .. } => {
                self.cases.insert(case_id.clone(), vec![seq]);
            }
            Event::StatusChanged { case_id, .. } | Event::Won { case_id, .. } => {
                self.cases.entry(case_id.clone()).or_default().push(seq);
            }
            Event::Voided { voids_seq, .. } => {
                self.voided.insert(*voids_seq, seq);
            }
            Event::ClusterChanged { member_id, .. } => {
                self.clusters
                    .entry(member_id.clone())
                    .or_default()
                    .push(seq);
            }
            Event::Referral { .. } => self.referrals.push(seq),
            Event::ReturnFiled { .. } => self.returns.push(seq),
            Event::KeyCreated { key } => {
                let mut k = key.clone();
                k.last_used_at = None;
                self.keys.insert(k.id.clone(), k);
            }
            Event::KeyRevoked { key_id } => {
                if let Some(k) = self.keys.get_mut(key_id) {
                    k.revoked_at.get_or_insert(r.recorded_at);
                }
            }
            Event::LedgerReplaced { .. } => {}
        }
        self.records.push(r);
    }

    pub fn last_seq(&self) -> u64 {
        self.records.len() as u64
    }

    /// Records the opened personal data of record `seq` (a created key
    /// gets its name back).
    pub fn open_personal(&mut self, seq: u64, p: crate::seal::Personal) {
        if let Some(Event::KeyCreated { key }) = self.record(seq).map(|r| &r.event) {
            let id = key.id.clone();
            if let (Some(k), Some(name)) = (self.keys.get_mut(&id), &p.key_name) {
                k.name.clone_from(name);
            }
        }
        self.personal.insert(seq, p);
    }

    /// Record `r` as people read it: with its opened personal data.
    pub fn opened(&self, r: &Record) -> Record {
        match self.personal.get(&r.seq) {
            Some(p) => crate::seal::with_personal(r, p),
            None => r.clone(),
        }
    }

    /// The subject whose key seals the personal data of `r`: the case for
    /// case events (and voids of them), the member for member events, the
    /// member of a member key, else the key or the ledger itself.
    pub fn subject_of(&self, r: &Record) -> String {
        match &r.event {
            Event::CaseOpened { case_id, .. }
            | Event::StatusChanged { case_id, .. }
            | Event::Won { case_id, .. } => format!("case:{case_id}"),
            Event::Voided { voids_seq, .. } => self
                .record(*voids_seq)
                .map_or_else(|| "ledger".to_owned(), |v| self.subject_of(v)),
            Event::ClusterChanged { member_id, .. }
            | Event::Referral { member_id, .. }
            | Event::ReturnFiled { member_id, .. } => format!("member:{member_id}"),
            Event::KeyCreated { key } => match &key.member_id {
                Some(m) => format!("member:{m}"),
                None => format!("key:{}", key.id),
            },
            Event::KeyRevoked { key_id } => {
                match self.keys.get(key_id).and_then(|k| k.member_id.clone()) {
                    Some(m) => format!("member:{m}"),
                    None => format!("key:{key_id}"),
                }
            }
            Event::LedgerReplaced { .. } => "ledger".into(),
        }
    }

    /// The subjects whose keys hold personal data about `member`: the
    /// member's own, and every case it is part of (the notes of a
    /// consortium's case may name any of its people).
    pub fn subjects_of_member(&self, member: &str) -> Vec<String> {
        let mut v = vec![format!("member:{member}")];
        for (case_id, seqs) in &self.cases {
            let in_case = seqs.first().and_then(|s| self.record(*s)).is_some_and(|r| {
                matches!(&r.event, Event::CaseOpened { members, lead, .. }
                    if lead == member || members.iter().any(|m| m == member))
            });
            if in_case {
                v.push(format!("case:{case_id}"));
            }
        }
        v
    }

    pub fn last_hash(&self) -> &str {
        self.records
            .last()
            .map_or(super::model::GENESIS, |r| r.hash.as_str())
    }

    pub fn record(&self, seq: u64) -> Option<&Record> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.records.get(i)
    }

    fn live(&self, seq: u64) -> Option<&Record> {
        if self.voided.contains_key(&seq) {
            return None;
        }
        self.record(seq)
    }

    /// The member's cluster on `date`: the last change on or before it, else
    /// the first one recorded, else `fallback`.
    pub fn cluster_on(&self, member_id: &str, date: Date, fallback: &str) -> String {
        let Some(seqs) = self.clusters.get(member_id) else {
            return fallback.to_owned();
        };
        let mut changes: Vec<(&Date, u64, &str)> = seqs
            .iter()
            .filter_map(|s| self.record(*s))
            .filter_map(|r| match &r.event {
                Event::ClusterChanged { cluster, .. } => Some((&r.date, r.seq, cluster.as_str())),
                _ => None,
            })
            .collect();
        changes.sort();
        changes
            .iter()
            .rev()
            .find(|(d, _, _)| **d <= date)
            .or(changes.first())
            .map_or_else(|| fallback.to_owned(), |c| c.2.to_owned())
    }

    /// The member's latest recorded cluster.
    pub fn current_cluster(&self, member_id: &str) -> Option<String> {
        let seqs = self.clusters.get(member_id)?;
        let mut changes: Vec<(&Date, u64, &str)> = seqs
            .iter()
            .filter_map(|s| self.record(*s))
            .filter_map(|r| match &r.event {
                Event::ClusterChanged { cluster, .. } => Some((&r.date, r.seq, cluster.as_str())),
                _ => None,
            })
            .collect();
        changes.sort();
        changes.last().map(|c| c.2.to_owned())
    }

    /// The case, folded; `cluster_of` gives a member's cluster when the
    /// ledger has no history for it.
    pub fn case(&self, case_id: &str, cluster_of: &dyn Fn(&str) -> String) -> Option<Case> {
        let seqs = self.cases.get(case_id)?;
        let open = self.record(*seqs.first()?)?;
        let Event::CaseOpened {
            case_id,
            ocid,
            group,
            members,
            lead,
            title,
            source,
            buyer,
            cpv_division,
        } = &open.event
        else {
            return None;
        };
        let mut status = CaseStatus::Identified;
        let mut introduced = false;
        let mut win = None;
        let mut events = vec![self.case_event(open)];
        for seq in &seqs[1..] {
            let Some(r) = self.record(*seq) else { continue };
            events.push(self.case_event(r));
            if let Some(v) = self.voided.get(seq) {
                if let Some(vr) = self.record(*v) {
                    events.push(self.case_event(vr));
                }
                continue;
            }
            match &r.event {
                Event::StatusChanged { status: s, .. } => {
                    status = *s;
                    introduced |= *s == CaseStatus::Introduced;
                }
                Event::Won {
                    value_pence,
                    shares,
                    ..
                } => {
                    status = CaseStatus::Won;
                    let parts = split(*value_pence, shares, lead)
                        .into_iter()
                        .map(|(m, p)| Part {
                            cluster: self.cluster_on(&m, r.date, &cluster_of(&m)),
                            member_id: m,
                            value_pence: p,
                        })
                        .collect();
                    win = Some(Win {
                        seq: r.seq,
                        date: r.date,
                        value_pence: *value_pence,
                        shares: shares.clone(),
                        parts,
                        counted: introduced,
                    });
                }
                _ => {}
            }
        }
        if status != CaseStatus::Won {
            win = None;
        }
        Some(Case {
            case_id: case_id.clone(),
            ocid: ocid.clone(),
            group: group.clone(),
            title: title.clone(),
            members: members.clone(),
            lead: lead.clone(),
            source: source.clone(),
            buyer: buyer.clone(),
            cpv_division: cpv_division.clone(),
            status,
            opened: open.date,
            win,
            events,
        })
    }

    fn case_event(&self, r: &Record) -> CaseEvent {
        let r = &self.opened(r);
        let (status, value_pence, voids_seq) = match &r.event {
            Event::CaseOpened { .. } => (Some(CaseStatus::Identified), None, None),
            Event::StatusChanged { status, .. } => (Some(*status), None, None),
            Event::Won { value_pence, .. } => (Some(CaseStatus::Won), Some(*value_pence), None),
            Event::Voided { voids_seq, .. } => (None, None, Some(*voids_seq)),
            _ => (None, None, None),
        };
        CaseEvent {
            seq: r.seq,
            kind: r.event.kind(),
            status,
            date: r.date,
            actor: r.actor.clone(),
            notes: match &r.event {
                Event::Voided { reason, .. } => Some(reason.clone()),
                _ => r.notes.clone(),
            },
            value_pence,
            voided_by: self.voided.get(&r.seq).copied(),
            voids_seq,
        }
    }

    /// Every case, folded, in id order.
    pub fn all_cases(&self, cluster_of: &dyn Fn(&str) -> String) -> Vec<Case> {
        let mut v: Vec<Case> = self
            .cases
            .keys()
            .filter_map(|id| self.case(id, cluster_of))
            .collect();
        v.sort_by_key(|c| case_number(&c.case_id));
        v
    }

    /// The sum of counted wins: the running total the head records. It
    /// cannot wrap: appends keep it within `i64` and [`State::impossible`]
    /// refuses a chain whose sum does not fit; this saturates as a last guard.
    pub fn brokered_total(&self) -> i64 {
        self.checked_brokered_total().unwrap_or(i64::MAX)
    }

    /// The sum of counted wins, or `None` when it does not fit an `i64`.
    pub fn checked_brokered_total(&self) -> Option<i64> {
        let none = |_: &str| String::new();
        super::model::sum_pence(
            self.cases
                .keys()
                .filter_map(|id| self.case(id, &none))
                .filter_map(|c| c.win)
                .filter(|w| w.counted)
                .map(|w| w.value_pence),
        )
    }

    /// What no real ledger can hold: a win of zero or less, a negative
    /// turnover, a total that does not fit. `verify` fails and `open`
    /// refuses on it (a hand-edited or pre-bounds chain).
    pub fn impossible(&self) -> Option<String> {
        for r in &self.records {
            match &r.event {
                Event::Won { value_pence, .. } if *value_pence <= 0 => {
                    return Some(format!("event {} is a win of {value_pence} pence", r.seq))
                }
                Event::ReturnFiled { figures, .. }
                    if figures.turnover_pence.is_some_and(|t| t < 0) =>
                {
                    return Some(format!(
                        "event {} is a return with a negative turnover",
                        r.seq
                    ))
                }
                _ => {}
            }
        }
        match self.checked_brokered_total() {
            Some(t) if t >= 0 => None,
            Some(t) => Some(format!("the brokered total is {t} pence, below zero")),
            None => Some(
                "the counted wins sum to more than 9223372036854775807 pence (the total would wrap)"
                    .into(),
            ),
        }
    }

    /// Values above the configured bound: possible, but not plausible for
    /// one contract; `verify` reports them.
    pub fn implausible(&self, max_value_pence: i64) -> Option<String> {
        self.records.iter().find_map(|r| match &r.event {
            Event::Won { value_pence, .. } if *value_pence > max_value_pence => Some(format!(
                "event {} is a win of {value_pence} pence, above `[ledger] max_value_pence` ({max_value_pence})",
                r.seq
            )),
            _ => None,
        })
    }

    pub fn referrals(&self, cluster_of: &dyn Fn(&str) -> String) -> Vec<ReferralView> {
        self.referrals
            .iter()
            .filter_map(|s| self.live(*s))
            .filter_map(|r| match &r.event {
                Event::Referral {
                    member_id,
                    programme,
                } => Some(ReferralView {
                    seq: r.seq,
                    member_id: member_id.clone(),
                    programme: *programme,
                    date: r.date,
                    cluster: self.cluster_on(member_id, r.date, &cluster_of(member_id)),
                    notes: self.opened(r).notes,
                    actor: self.opened(r).actor,
                }),
                _ => None,
            })
            .collect()
    }

    /// The standing returns: the latest (not voided) per member and year.
    pub fn returns(&self) -> Vec<ReturnView> {
        let mut latest: BTreeMap<(String, i32), ReturnView> = BTreeMap::new();
        for r in self.returns.iter().filter_map(|s| self.live(*s)) {
            if let Event::ReturnFiled { member_id, figures } = &r.event {
                latest.insert(
                    (member_id.clone(), figures.year),
                    ReturnView {
                        seq: r.seq,
                        member_id: member_id.clone(),
                        figures: figures.clone(),
                        date: r.date,
                        actor: self.opened(r).actor,
                    },
                );
            }
        }
        latest.into_values().collect()
    }

    /// Checks that `event` may follow the current state (before appending);
    /// money above `max_value_pence` is refused.
    pub fn check(&self, event: &Event, max_value_pence: i64) -> Result<()> {
        let none = |_: &str| String::new();
        let unprocessable =
            |code: &'static str, m: String| Error::Unprocessable { code, message: m };
        match event {
            Event::CaseOpened {
                members,
                lead,
                ocid,
                ..
            } => {
                if let Some(existing) = self.case_for(ocid, members) {
                    return Err(Error::Conflict {
                        code: "case_exists",
                        message: format!(
                            "{existing} is already the case of {} on {ocid}; record its next step there",
                            members.join(" + ")
                        ),
                    });
                }
                if members.is_empty() {
                    return Err(unprocessable(
                        "invalid_case",
                        "a case needs at least one member".into(),
                    ));
                }
                let mut sorted = members.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != members.len() {
                    return Err(unprocessable(
                        "invalid_case",
                        "members are listed twice".into(),
                    ));
                }
                if !members.contains(lead) {
                    return Err(unprocessable(
                        "invalid_case",
                        format!("lead {lead:?} is not one of the case's members"),
                    ));
                }
            }
            Event::StatusChanged { case_id, status } => {
                let case = self
                    .case(case_id, &none)
                    .ok_or_else(|| case_missing(case_id))?;
                if matches!(status, CaseStatus::Identified | CaseStatus::Won) {
                    return Err(unprocessable(
                        "invalid_transition",
                        format!("{} cannot be set as a status event (a case opens identified; a win is a `won` event with its value)", status.as_str()),
                    ));
                }
                if case.status.is_terminal() {
                    return Err(Error::Conflict {
                        code: "case_closed",
                        message: format!(
                            "case {case_id} is {}; void that event first to change it",
                            case.status.as_str()
                        ),
                    });
                }
                if !case.status.next_steps().contains(status) {
                    return Err(Error::Conflict {
                        code: "invalid_transition",
                        message: format!(
                            "case {case_id} is already {}; it cannot move back to {}",
                            case.status.as_str(),
                            status.as_str()
                        ),
                    });
                }
            }
            Event::Won {
                case_id,
                value_pence,
                shares,
            } => {
                let case = self
                    .case(case_id, &none)
                    .ok_or_else(|| case_missing(case_id))?;
                if case.status.is_terminal() {
                    return Err(Error::Conflict {
                        code: "case_closed",
                        message: format!(
                            "case {case_id} is {}; void that event first to change it",
                            case.status.as_str()
                        ),
                    });
                }
                if *value_pence <= 0 {
                    return Err(unprocessable(
                        "invalid_value",
                        "value_pence must be above 0".into(),
                    ));
                }
                super::model::check_money("value_pence", *value_pence, max_value_pence)
                    .map_err(|m| unprocessable("invalid_value", m))?;
                if self
                    .checked_brokered_total()
                    .and_then(|t| t.checked_add(*value_pence))
                    .is_none()
                {
                    return Err(unprocessable(
                        "invalid_value",
                        "value_pence: the brokered total would no longer fit in 64 bits".into(),
                    ));
                }
                check_shares(&case.members, shares)?;
            }
            Event::Voided { voids_seq, reason } => {
                if reason.trim().is_empty() {
                    return Err(unprocessable(
                        "invalid_void",
                        "say why the event is voided (reason)".into(),
                    ));
                }
                let r = self
                    .record(*voids_seq)
                    .ok_or_else(|| Error::NotFound(format!("no event with seq {voids_seq}")))?;
                if let Some(by) = self.voided.get(voids_seq) {
                    return Err(Error::Conflict {
                        code: "already_voided",
                        message: format!("event {voids_seq} was already voided by event {by}"),
                    });
                }
                match &r.event {
                    Event::StatusChanged { case_id, .. } | Event::Won { case_id, .. } => {
                        // Only the latest standing status event of a case can be
                        // voided, so the case's history stays a valid path.
                        let latest = self.cases.get(case_id).and_then(|s| {
                            s[1..].iter().rev().find(|s| !self.voided.contains_key(s))
                        });
                        if latest != Some(voids_seq) {
                            return Err(Error::Conflict {
                                code: "invalid_void",
                                message: format!(
                                    "event {voids_seq} is not the latest event of case {case_id}; void the later ones first"
                                ),
                            });
                        }
                    }
                    Event::Referral { .. } | Event::ReturnFiled { .. } => {}
                    other => {
                        return Err(unprocessable(
                            "invalid_void",
                            format!("a {} event cannot be voided", other.kind()),
                        ))
                    }
                }
            }
            Event::ClusterChanged { member_id, cluster } => {
                if member_id.is_empty() || cluster.is_empty() {
                    return Err(unprocessable(
                        "invalid_cluster",
                        "member_id and cluster are required".into(),
                    ));
                }
            }
            Event::Referral { member_id, .. } => {
                if member_id.trim().is_empty() {
                    return Err(unprocessable(
                        "invalid_referral",
                        "member_id is required".into(),
                    ));
                }
            }
            Event::ReturnFiled { figures, .. } => {
                if !(2000..=2100).contains(&figures.year) {
                    return Err(unprocessable(
                        "invalid_return",
                        format!("year {} is not a year between 2000 and 2100", figures.year),
                    ));
                }
                if let Some(t) = figures.turnover_pence {
                    super::model::check_money("turnover_pence", t, max_value_pence)
                        .map_err(|m| unprocessable("invalid_return", m))?;
                }
            }
            Event::KeyCreated { key } => {
                if self.keys.contains_key(&key.id) {
                    return Err(Error::Conflict {
                        code: "key_exists",
                        message: format!("a key with id {:?} already exists", key.id),
                    });
                }
            }
            Event::KeyRevoked { key_id } => {
                if !self.keys.contains_key(key_id) {
                    return Err(Error::NotFound(format!("no key with id {key_id:?}")));
                }
            }
            Event::LedgerReplaced { .. } => {
                if !self.records.is_empty() {
                    return Err(unprocessable(
                        "invalid_event",
                        "ledger_replaced can only be the first event of a new ledger".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl State {
    /// The case already opened for exactly these members (in any order) on
    /// this notice or one of its group, whatever its status: one member or
    /// one consortium has one case per notice.
    pub fn case_for(&self, ocid: &str, members: &[String]) -> Option<String> {
        let mut wanted: Vec<&String> = members.iter().collect();
        wanted.sort();
        self.cases.values().find_map(|seqs| {
            let Event::CaseOpened {
                case_id,
                ocid: o,
                group,
                members: m,
                ..
            } = &self.record(*seqs.first()?)?.event
            else {
                return None;
            };
            let mut have: Vec<&String> = m.iter().collect();
            have.sort();
            let same_notice = o == ocid || group.iter().any(|g| g == ocid);
            (same_notice && have == wanted).then(|| case_id.clone())
        })
    }
}

fn case_missing(id: &str) -> Error {
    Error::NotFound(format!("no case with id {id:?}"))
}

/// `case-12` → 12, for ordering.
pub fn case_number(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

fn check_shares(members: &[String], shares: &[Share]) -> Result<()> {
    let bad = |m: String| Error::Unprocessable {
        code: "invalid_shares",
        message: m,
    };
    let mut seen = Vec::new();
    let mut sum: u64 = 0;
    for s in shares {
        if !members.contains(&s.member_id) {
            return Err(bad(format!(
                "{:?} is not a member of this case ({})",
                s.member_id,
                members.join(", ")
            )));
        }
        if seen.contains(&&s.member_id) {
            return Err(bad(format!("{:?} has two shares", s.member_id)));
        }
        seen.push(&s.member_id);
        sum += u64::from(s.basis_points);
    }
    if sum != 10_000 {
        return Err(bad(format!(
            "shares sum to {sum} basis points; they must sum to 10000 (100%)"
        )));
    }
    Ok(())
}
