//! What brokers send (over HTTP or from the command line), parsed into
//! valid ledger events: unknown fields refused, dates parsed, members and
//! notices checked to exist, the notice's facts copied into the case.

use serde::Deserialize;
use time::Date;

use super::model::{ymd, CaseStatus, Event, Programme, ReturnFigures, Share};
use super::NewEvent;
use crate::error::{Error, Result};
use crate::store::NoticeStore;

fn date(s: Option<&str>) -> Result<Option<Date>> {
    s.map(|s| ymd::parse(s).map_err(|m| Error::Invalid(format!("date: {m}"))))
        .transpose()
}

fn member_exists(store: &dyn NoticeStore, id: &str) -> Result<()> {
    match store.get_member(id)? {
        Some(_) => Ok(()),
        None => Err(Error::Unprocessable {
            code: "member_not_found",
            message: format!("no member with id {id:?}"),
        }),
    }
}

/// `POST /api/v1/cases`: open a case on a notice for a member or consortium.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseInput {
    pub ocid: String,
    /// One member, or the consortium's members.
    pub members: Vec<String>,
    /// The lead partner (default: the first member).
    #[serde(default)]
    pub lead: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// `YYYY-MM-DD` [default: today].
    #[serde(default)]
    pub date: Option<String>,
}

impl CaseInput {
    pub fn into_event(
        self,
        store: &dyn NoticeStore,
        actor: String,
        idempotency_key: String,
    ) -> Result<NewEvent> {
        let n = store
            .get_notice(&self.ocid)?
            .ok_or_else(|| Error::Unprocessable {
                code: "notice_not_found",
                message: format!("no notice with ocid {:?}", self.ocid),
            })?;
        for m in &self.members {
            member_exists(store, m)?;
        }
        let lead = self
            .lead
            .or_else(|| self.members.first().cloned())
            .unwrap_or_default();
        let mut group = store.group_of(&n.ocid)?;
        group.retain(|o| *o != n.ocid);
        Ok(NewEvent {
            date: date(self.date.as_deref())?,
            actor,
            idempotency_key,
            notes: self.notes,
            event: Event::CaseOpened {
                case_id: String::new(),
                ocid: n.ocid.clone(),
                group,
                members: self.members,
                lead,
                title: n.title.clone(),
                source: n.source.clone(),
                buyer: n.buyer.name.clone(),
                cpv_division: n
                    .cpv
                    .first()
                    .and_then(|c| c.code.get(..2))
                    .map(str::to_owned),
            },
        })
    }
}

/// `POST /api/v1/cases/{id}/events`: a step of a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseEventInput {
    /// introduced, interested, bid_submitted, won, lost, withdrawn, or void.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// For `won`: the contract value in pence.
    #[serde(default)]
    pub value_pence: Option<i64>,
    /// For `won` by a consortium: each member's basis points (sum 10000).
    #[serde(default)]
    pub shares: Option<Vec<Share>>,
    /// For `void`: the seq of the event that no longer counts.
    #[serde(default)]
    pub voids_seq: Option<u64>,
}

impl CaseEventInput {
    /// `case_members` / `lead`: the case's, to default a single member's share.
    pub fn into_event(
        self,
        case_id: &str,
        case_members: &[String],
        actor: String,
        idempotency_key: String,
    ) -> Result<NewEvent> {
        let date = date(self.date.as_deref())?;
        let event = match self.kind.as_str() {
            "won" => {
                let value_pence = self.value_pence.ok_or_else(|| Error::Unprocessable {
                    code: "invalid_value",
                    message: "a won event needs value_pence".into(),
                })?;
                let shares = match self.shares {
                    Some(s) if !s.is_empty() => s,
                    _ if case_members.len() == 1 => vec![Share {
                        member_id: case_members[0].clone(),
                        basis_points: 10_000,
                    }],
                    _ => {
                        return Err(Error::Unprocessable {
                            code: "invalid_shares",
                            message: "a consortium's win needs shares: [{member_id, basis_points}] summing to 10000".into(),
                        })
                    }
                };
                Event::Won {
                    case_id: case_id.to_owned(),
                    value_pence,
                    shares,
                }
            }
            "void" => {
                let voids_seq = self.voids_seq.ok_or_else(|| Error::Unprocessable {
                    code: "invalid_void",
                    message: "a void event needs voids_seq (the event it cancels)".into(),
                })?;
                return Ok(NewEvent {
                    date,
                    actor,
                    idempotency_key,
                    notes: None,
                    event: Event::Voided {
                        voids_seq,
                        reason: self.notes.unwrap_or_default(),
                    },
                });
            }
            other => {
                let status = CaseStatus::parse(other).ok_or_else(|| {
                    Error::Invalid(format!(
                        "type: {other:?} is not one of introduced, interested, bid_submitted, won, lost, withdrawn, void"
                    ))
                })?;
                if self.value_pence.is_some() || self.shares.is_some() {
                    return Err(Error::Invalid(
                        "value_pence and shares go only with type won".into(),
                    ));
                }
                Event::StatusChanged {
                    case_id: case_id.to_owned(),
                    status,
                }
            }
        };
        Ok(NewEvent {
            date,
            actor,
            idempotency_key,
            notes: self.notes,
            event,
        })
    }
}

/// `POST /api/v1/referrals`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralInput {
    pub member_id: String,
    pub programme: Programme,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl ReferralInput {
    pub fn into_event(
        self,
        store: &dyn NoticeStore,
        actor: String,
        idempotency_key: String,
    ) -> Result<NewEvent> {
        member_exists(store, &self.member_id)?;
        Ok(NewEvent {
            date: date(self.date.as_deref())?,
            actor,
            idempotency_key,
            notes: self.notes,
            event: Event::Referral {
                member_id: self.member_id,
                programme: self.programme,
            },
        })
    }
}

/// `POST /api/v1/members/{id}/returns`: the figures, plus optional notes
/// and date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    pub year: i32,
    #[serde(default)]
    pub turnover_pence: Option<i64>,
    #[serde(default)]
    pub employees: Option<u32>,
    #[serde(default)]
    pub new_products_services: Option<u32>,
    #[serde(default)]
    pub new_markets: Option<u32>,
    #[serde(default)]
    pub volunteering_hours: Option<u32>,
    #[serde(default)]
    pub clients_supported: Option<u32>,
    #[serde(default)]
    pub jobs_created: Option<u32>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl ReturnInput {
    pub fn into_event(
        self,
        store: &dyn NoticeStore,
        member_id: &str,
        actor: String,
        idempotency_key: String,
    ) -> Result<NewEvent> {
        member_exists(store, member_id)?;
        Ok(NewEvent {
            date: date(self.date.as_deref())?,
            actor,
            idempotency_key,
            notes: self.notes,
            event: Event::ReturnFiled {
                member_id: member_id.to_owned(),
                figures: ReturnFigures {
                    year: self.year,
                    turnover_pence: self.turnover_pence,
                    employees: self.employees,
                    new_products_services: self.new_products_services,
                    new_markets: self.new_markets,
                    volunteering_hours: self.volunteering_hours,
                    clients_supported: self.clients_supported,
                    jobs_created: self.jobs_created,
                },
            },
        })
    }
}

/// One CSV row of returns: the member and its figures, or why not.
pub type ReturnRow = std::result::Result<(String, ReturnInput), String>;

/// Returns from CSV: a `member_id` column and the [`ReturnInput`] fields.
/// Each row is parsed or reported by line.
pub fn returns_csv(text: &str) -> Vec<(u64, ReturnRow)> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => return vec![(1, Err(format!("cannot read the header: {e}")))],
    };
    const COLS: &[&str] = &[
        "member_id",
        "year",
        "turnover_pence",
        "employees",
        "new_products_services",
        "new_markets",
        "volunteering_hours",
        "clients_supported",
        "jobs_created",
        "date",
        "notes",
    ];
    if let Some(bad) = headers.iter().find(|h| !COLS.contains(h)) {
        return vec![(
            1,
            Err(format!(
                "unknown column {bad:?}; expected some of {}",
                COLS.join(", ")
            )),
        )];
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.push((e.position().map_or(0, |p| p.line()), Err(e.to_string())));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: &str| {
            headers
                .iter()
                .position(|h| h == c)
                .and_then(|i| rec.get(i))
                .filter(|v| !v.is_empty())
        };
        let row = (|| -> std::result::Result<(String, ReturnInput), String> {
            fn num<T: std::str::FromStr>(
                c: &str,
                v: Option<&str>,
            ) -> std::result::Result<Option<T>, String> {
                v.map(|v| {
                    v.replace(',', "")
                        .parse::<T>()
                        .map_err(|_| format!("{c}: {v:?} is not a whole number"))
                })
                .transpose()
            }
            let member = get("member_id").ok_or("member_id: is required")?.to_owned();
            Ok((
                member,
                ReturnInput {
                    year: num("year", get("year"))?.ok_or("year: is required")?,
                    turnover_pence: num("turnover_pence", get("turnover_pence"))?,
                    employees: num("employees", get("employees"))?,
                    new_products_services: num(
                        "new_products_services",
                        get("new_products_services"),
                    )?,
                    new_markets: num("new_markets", get("new_markets"))?,
                    volunteering_hours: num("volunteering_hours", get("volunteering_hours"))?,
                    clients_supported: num("clients_supported", get("clients_supported"))?,
                    jobs_created: num("jobs_created", get("jobs_created"))?,
                    date: get("date").map(str::to_owned),
                    notes: get("notes").map(str::to_owned),
                },
            ))
        })();
        out.push((line, row));
    }
    out
}
