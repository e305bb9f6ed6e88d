//! A link from an award notice to a member's track record, proposed by
//! the matcher and confirmed or rejected by a broker.

use serde::{Deserialize, Serialize};

use crate::TrackRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkStatus {
    Proposed,
    Confirmed,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwardLink {
    pub member_id: String,
    pub ocid: String,
    pub award_id: String,
    pub supplier_name: Option<String>,
    pub supplier_identifier: Option<String>,
    /// `identifier` or `name`.
    pub method: String,
    pub confidence: f64,
    pub status: LinkStatus,
    pub title: String,
    pub buyer: Option<String>,
    pub value_pence: Option<i64>,
    pub year: Option<i32>,
    pub cpv: Vec<String>,
    /// The lots the award is for ([`crate::Notice::award_lots`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<String>,
}

impl AwardLink {
    /// The track-record entry this link contributes (none once rejected).
    pub fn track_record(&self) -> Option<TrackRecord> {
        (self.status != LinkStatus::Rejected).then(|| TrackRecord {
            title: self.title.clone(),
            buyer: self.buyer.clone(),
            value_pence: self.value_pence,
            year: self.year,
            cpv: self.cpv.clone(),
            ocid: Some(self.ocid.clone()),
            confidence: if self.status == LinkStatus::Confirmed {
                1.0
            } else {
                self.confidence
            },
            lots: self.lots.clone(),
        })
    }
}
