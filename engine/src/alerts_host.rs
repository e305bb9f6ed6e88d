//! The engine as the alert engine's [`Host`]: its store, alert log,
//! configuration, members and places, the matches follower's cursor, and
//! the ledger's open cases for the brokers' deadline alerts.

use std::path::Path;
use std::sync::RwLockReadGuard;

use time::{Duration, OffsetDateTime};

use sebroker_alerts::broker::{CaseDeadline, CaseDeadlines};
use sebroker_alerts::config::AlertsConfig;
use sebroker_alerts::deliver::AlertsRuntime;
use sebroker_alerts::{AlertStore, Host};
use sebroker_connectors::places::Places;
use sebroker_matching::{MemberSet, Weights};
use sebroker_store::NoticeStore;

use crate::Engine;

impl Host for Engine {
    fn store(&self) -> &dyn NoticeStore {
        self.store.as_ref()
    }
    fn alert_log(&self) -> &dyn AlertStore {
        self.alert_log.as_ref()
    }
    fn config(&self) -> &AlertsConfig {
        &self.config.alerts
    }
    fn runtime(&self) -> &AlertsRuntime {
        &self.alerts_rt
    }
    fn data_dir(&self) -> &Path {
        Engine::data_dir(self)
    }
    fn members(&self) -> RwLockReadGuard<'_, MemberSet> {
        self.member_set()
    }
    fn places(&self) -> RwLockReadGuard<'_, Places> {
        Engine::places(self)
    }
    fn weights(&self) -> Weights {
        self.matches.weights()
    }
    fn cases(&self) -> &dyn CaseDeadlines {
        self
    }
    fn matched_upto(&self) -> sebroker_alerts::Result<u64> {
        Ok(self.store.cursor(crate::consumers::MATCHES)?)
    }
}

/// The ledger's open cases.
impl CaseDeadlines for Engine {
    fn closing(
        &self,
        _: &dyn Host,
        now: OffsetDateTime,
        within: Duration,
    ) -> sebroker_alerts::Result<Vec<CaseDeadline>> {
        let mut out = Vec::new();
        for c in crate::views::cases(self)
            .into_iter()
            .filter(|c| c.status.is_open())
        {
            let Some(n) = self.store.get_notice(&c.ocid)? else {
                continue;
            };
            let Some(deadline) = n.deadline else { continue };
            if deadline > now && deadline <= now + within {
                out.push(CaseDeadline {
                    case_id: c.case_id.clone(),
                    ocid: c.ocid.clone(),
                    deadline,
                    detail: format!(
                        "{} ({}), case {}",
                        c.members.join(" + "),
                        c.status.as_str(),
                        c.case_id
                    ),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::Engine;
    use sebroker_alerts::*;
    use std::sync::atomic::Ordering;
    use time::macros::datetime;

    fn demo_app() -> (tempfile::TempDir, Engine) {
        crate::demo::open_in_tempdir().expect("demo")
    }

    fn run_at(app: &Engine, now: OffsetDateTime) -> Result<RunReport> {
        run(
            app,
            &RunOptions {
                now,
                dry_run: false,
                scope: Scope::All,
            },
        )
    }

    #[test]
    fn a_digest_that_fails_before_its_commit_is_sent_once_by_the_next_run() {
        let (_dir, app) = demo_app();
        let input: settings::SettingsInput =
            serde_json::from_str(r#"{"frequency":"daily","threshold":0.5,"feed":true}"#)
                .expect("json");
        put_settings(&app, "m-0013", input, datetime!(2026-11-30 12:00 UTC)).expect("settings");
        let log = app.alert_log();
        // 09:00 UK on Tuesday 1 Dec: the daily digest (08:00) is due; the
        // commit of its alert fails.
        let at = datetime!(2026-12-01 09:00 UTC);
        app.alerts_rt.fail_next_commit.store(true, Ordering::SeqCst);
        let err = run_at(&app, at).expect_err("the injected failure");
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert!(log.alerts_of("m-0013", 10).expect("alerts").is_empty());
        assert_eq!(log.last_digest("m-0013").expect("last"), None, "not done");
        // The next run sends it, once.
        let r = run_at(&app, at + time::Duration::minutes(5)).expect("run");
        assert_eq!(r.digests_due, 1);
        let sent = log.alerts_of("m-0013", 10).expect("alerts");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].kind, AlertKind::Daily);
        assert!(!sent[0].items.is_empty());
        assert!(log.last_digest("m-0013").expect("last").is_some());
        // Done: the same slot is not due again, and nothing is sent twice.
        let r = run_at(&app, at + time::Duration::minutes(10)).expect("run");
        assert_eq!(r.digests_due, 0);
        assert_eq!(log.alerts_of("m-0013", 10).expect("alerts").len(), 1);
    }

    #[test]
    fn a_crash_after_the_commit_and_before_the_mark_sends_nothing_twice() {
        let (_dir, app) = demo_app();
        let input: settings::SettingsInput =
            serde_json::from_str(r#"{"frequency":"daily","threshold":0.5,"feed":true}"#)
                .expect("json");
        put_settings(&app, "m-0013", input, datetime!(2026-11-30 12:00 UTC)).expect("settings");
        let log = app.alert_log();
        let at = datetime!(2026-12-01 09:00 UTC);
        run_at(&app, at).expect("run");
        let first = log.alerts_of("m-0013", 10).expect("alerts");
        assert_eq!(first.len(), 1);
        // As if the process died between the alert's commit and the mark.
        log.set_last_digest("m-0013", datetime!(2026-11-30 09:00 UTC))
            .expect("unmark");
        let r = run_at(&app, at + time::Duration::minutes(1)).expect("run");
        assert_eq!(r.digests_due, 1, "due again");
        assert!(r.alerts.is_empty(), "but everything in it was already sent");
        assert_eq!(log.alerts_of("m-0013", 10).expect("alerts").len(), 1);
    }
}

#[cfg(test)]
mod broker_tests {
    use super::*;
    use sebroker_alerts::broker::NoCases;
    use sebroker_ledger::input::CaseInput;

    #[test]
    fn open_cases_with_a_closing_deadline_reach_brokers() {
        let (_dir, app) = crate::demo::open_in_tempdir().expect("demo");
        let ocid = "ocds-h6vhtk-d00001";
        let input = CaseInput {
            ocid: ocid.into(),
            members: vec!["m-0013".into()],
            lead: None,
            notes: None,
            date: None,
        };
        let ev = input
            .into_event(app.store.as_ref(), "test".into(), "k1".into())
            .expect("event");
        crate::views::record(&app, ev).expect("recorded");
        let deadline = app
            .store
            .get_notice(ocid)
            .expect("store")
            .expect("notice")
            .deadline
            .expect("deadline");
        let within = Duration::days(7);
        let soon = app
            .closing(&app, deadline - Duration::days(3), within)
            .expect("closing");
        assert_eq!(soon.len(), 1);
        assert_eq!(soon[0].ocid, ocid);
        assert!(soon[0].detail.contains("m-0013"));
        // Not yet within the window, and not after the deadline.
        assert!(app
            .closing(&app, deadline - Duration::days(30), within)
            .expect("c")
            .is_empty());
        assert!(app
            .closing(&app, deadline + Duration::days(1), within)
            .expect("c")
            .is_empty());
        assert!(NoCases
            .closing(&app, deadline - Duration::days(3), within)
            .expect("c")
            .is_empty());
    }
}
