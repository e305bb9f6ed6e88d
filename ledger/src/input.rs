//! What brokers send (over HTTP or from the command line), parsed into
//! valid ledger events: unknown fields refused, dates parsed, members and
//! notices checked to exist, the notice's facts copied into the case.

use serde::Deserialize;
use time::Date;

use super::model::{ymd, CaseStatus, Event, Programme, ReturnFigures, Share};
use super::NewEvent;
use crate::error::{Error, Result};
use sebroker_store::NoticeStore;

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
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
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

/// Property tests of the returns CSV reader: any text is read without a
/// panic, every row answers once with its line, valid rows come back exactly
/// as written (formulas and markup stay text), and a bad cell costs only its
/// row, with the column named.
#[cfg(test)]
mod csv_proptests {
    use super::returns_csv;
    use proptest::prelude::*;

    /// A valid row: member, year, a few figures, and notes full of CSV traps.
    #[derive(Debug, Clone)]
    struct Row {
        member: String,
        year: i32,
        turnover: Option<i64>,
        employees: Option<u32>,
        notes: Option<String>,
    }

    fn notes() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("=HYPERLINK(\"http://x\",\"y\")".to_owned()),
            Just("=cmd|' /C calc'!A0".to_owned()),
            Just("+1+1".to_owned()),
            Just("@SUM(A1:A9)".to_owned()),
            Just("<script>alert(1)</script>".to_owned()),
            Just("line one\nline two, with \"quotes\"".to_owned()),
            // Non-blank at both ends: the reader trims cells.
            "[a-zA-Z0-9][a-zA-Z0-9 ,;\"'\u{e9}\u{1f600}]{0,30}[a-zA-Z0-9]",
        ]
    }

    fn row() -> impl Strategy<Value = Row> {
        (
            "m-[0-9]{4}",
            1900i32..2200,
            prop::option::of(0i64..i64::MAX),
            prop::option::of(any::<u32>()),
            prop::option::of(notes()),
        )
            .prop_map(|(member, year, turnover, employees, notes)| Row {
                member,
                year,
                turnover,
                employees,
                notes,
            })
    }

    fn write(rows: &[Row]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = ["member_id", "year", "turnover_pence", "employees", "notes"];
        w.write_record(header).expect("header");
        for r in rows {
            let cell = |v: Option<String>| v.unwrap_or_default();
            w.write_record([
                r.member.clone(),
                r.year.to_string(),
                cell(r.turnover.map(|t| t.to_string())),
                cell(r.employees.map(|e| e.to_string())),
                cell(r.notes.clone()),
            ])
            .expect("row");
        }
        String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
    }

    /// Text that looks like CSV gone wrong: quotes, separators, line ends,
    /// NUL, BOMs, formulas, huge numbers.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("\"".to_owned()),
            Just(",".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("\r".to_owned()),
            Just("\0".to_owned()),
            Just("\u{feff}".to_owned()),
            Just("member_id,year,turnover_pence\n".to_owned()),
            Just("m-0001".to_owned()),
            Just("99999999999999999999999".to_owned()),
            Just("-1".to_owned()),
            Just("=1+1".to_owned()),
            "\\PC{0,10}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.join(""))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_is_read_without_a_panic(text in hostile()) {
            let out = returns_csv(&text);
            // At most one answer per line (plus the header's), never more.
            let lines = text.split(['\n', '\r']).count() as u64 + 1;
            prop_assert!(out.len() as u64 <= lines, "{} answers for {} lines", out.len(), lines);
            for (line, row) in &out {
                prop_assert!(*line <= lines, "line {line} past the end ({lines})");
                if let Ok((member, _)) = row {
                    prop_assert!(!member.is_empty());
                }
            }
        }

        #[test]
        fn any_bytes_decoded_lossily_are_read(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = returns_csv(&text);
        }

        #[test]
        fn valid_rows_come_back_exactly(rows in prop::collection::vec(row(), 1..12)) {
            let text = write(&rows);
            let out = returns_csv(&text);
            prop_assert_eq!(out.len(), rows.len());
            let mut last_line = 1;
            for ((line, got), want) in out.iter().zip(&rows) {
                prop_assert!(*line > last_line, "lines go forward: {line} after {last_line}");
                last_line = *line;
                let (member, input) = got.as_ref().map_err(|e| TestCaseError::fail(e.clone()))?;
                prop_assert_eq!(member, &want.member);
                prop_assert_eq!(input.year, want.year);
                prop_assert_eq!(input.turnover_pence, want.turnover);
                prop_assert_eq!(input.employees, want.employees);
                // Formulas and markup are kept as the text they are.
                prop_assert_eq!(&input.notes, &want.notes);
            }
        }

        #[test]
        fn a_bad_cell_costs_only_its_row(
            rows in prop::collection::vec(row(), 2..8),
            pick in any::<prop::sample::Index>(),
            bad in prop_oneof![
                Just("99999999999999999999".to_owned()),
                Just("1e9999".to_owned()),
                Just("NaN".to_owned()),
                Just("Infinity".to_owned()),
                Just("12.5".to_owned()),
                Just("£100".to_owned()),
                Just("=1+1".to_owned()),
                Just("0x10".to_owned()),
            ],
        ) {
            let at = pick.index(rows.len());
            let mut text = write(&rows);
            // Rewrite the chosen row's turnover cell (third column).
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let cells: Vec<&str> = lines[at + 1].splitn(4, ',').collect();
            prop_assume!(cells.len() == 4 && !cells[3].starts_with('"') && !rows[at].notes.as_deref().unwrap_or("").contains('\n'));
            prop_assume!(rows[..at].iter().all(|r| !r.notes.as_deref().unwrap_or("").contains('\n')));
            lines[at + 1] = format!("{},{},{},{}", cells[0], cells[1], bad, cells[3]);
            text = lines.join("\n");
            let out = returns_csv(&text);
            prop_assert_eq!(out.len(), rows.len());
            for (i, (_, got)) in out.iter().enumerate() {
                if i == at {
                    let e = got.as_ref().err().cloned().unwrap_or_default();
                    prop_assert!(e.starts_with("turnover_pence:"), "row {i}: {got:?}");
                } else {
                    prop_assert!(got.is_ok(), "row {i}: {got:?}");
                }
            }
        }
    }

    #[test]
    fn header_and_required_cells_are_named() {
        let out = returns_csv("member_id,year,colour\nm-0001,2026,red\n");
        assert_eq!(out.len(), 1);
        assert!(
            matches!(&out[0], (1, Err(e)) if e.contains("colour")),
            "{out:?}"
        );
        let out = returns_csv("member_id,year\n,2026\nm-0001,\n");
        assert!(
            matches!(&out[0], (2, Err(e)) if e.contains("member_id")),
            "{out:?}"
        );
        assert!(
            matches!(&out[1], (3, Err(e)) if e.contains("year")),
            "{out:?}"
        );
        let out = returns_csv("member_id,year\nm-0001,2026,extra\n");
        assert!(
            out[0].1.is_err(),
            "a row longer than the header is refused: {out:?}"
        );
    }
}
