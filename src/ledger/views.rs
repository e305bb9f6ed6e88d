//! The ledger as the application shows it: folded with members' current
//! clusters and the notice store (shared by the CLI and the API).

use time::Date;

use super::state::Case;
use super::totals::{self, By, Kpis, Reconciliation, Totals};
use super::{Appended, NewEvent};
use crate::app::App;
use crate::error::Result;

impl App {
    /// Every case, folded, in the order they were opened.
    pub fn cases(&self) -> Vec<Case> {
        let lookup = self.cluster_lookup();
        self.ledger.state().all_cases(&lookup)
    }

    pub fn case(&self, id: &str) -> Option<Case> {
        let lookup = self.cluster_lookup();
        self.ledger.state().case(id, &lookup)
    }

    pub fn totals(&self, by: By) -> Totals {
        totals::totals(&self.cases(), by, &self.ledger.settings, &self.clusters)
    }

    pub fn kpis(&self, today: Date) -> Kpis {
        let lookup = self.cluster_lookup();
        let members: Vec<(String, String)> = self
            .member_set()
            .members
            .values()
            .map(|m| (m.id.clone(), m.cluster.clone()))
            .collect();
        let cases = self.cases();
        let state = self.ledger.state();
        totals::kpis(
            &state,
            &cases,
            &members,
            &lookup,
            &self.ledger.settings,
            &self.clusters,
            today,
        )
    }

    /// Awards naming members, against open cases: proposals to confirm, and
    /// wins without brokerage.
    pub fn reconciliation(&self) -> Result<Reconciliation> {
        let links = self.store.links()?;
        let cases = self.cases();
        // Read every linked notice first, so that a store error fails the
        // answer instead of reading as "no award date".
        let mut dates: std::collections::HashMap<(String, String), Date> =
            std::collections::HashMap::new();
        for l in &links {
            if let Some(n) = self.store.get_notice(&l.ocid)? {
                for a in &n.awards {
                    if let Some(d) = a.date {
                        dates.insert((n.ocid.clone(), a.id.clone()), d.date());
                    }
                }
            }
        }
        let award_date = |ocid: &str, award: &str| -> Option<Date> {
            dates.get(&(ocid.to_owned(), award.to_owned())).copied()
        };
        Ok(totals::reconcile(&cases, &links, &award_date))
    }

    /// Appends to the ledger (durable when it returns).
    pub fn record(&self, e: NewEvent) -> Result<Appended> {
        self.ledger.append(e)
    }
}
