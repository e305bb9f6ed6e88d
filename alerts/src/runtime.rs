//! The alert engine's runtime state in one process: its wake-ups, the
//! deliveries in flight, the one-run-at-a-time lock and the webhook
//! resolver.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// In-process coordination of the engine: wake-ups and what is in flight.
#[derive(Default)]
pub struct AlertsRuntime {
    /// Notified after an ingest changed notices (instant alerts).
    pub ingested: tokio::sync::Notify,
    /// Notified when deliveries were queued.
    pub queued: tokio::sync::Notify,
    /// Deliveries being attempted by this process.
    pub(crate) in_flight: Mutex<HashSet<String>>,
    /// One selection run at a time.
    pub(crate) run_lock: Mutex<()>,
    /// Tests: the next alert commit fails (an error between selecting a
    /// digest and committing it).
    #[doc(hidden)]
    pub fail_next_commit: std::sync::atomic::AtomicBool,
    /// Resolves webhook names at subscription and at every send; none: the
    /// system resolver.
    resolver: std::sync::RwLock<Option<Arc<dyn crate::urlsafe::Resolver>>>,
}

impl AlertsRuntime {
    /// The resolver of webhook names (subscription and sends).
    pub fn resolver(&self) -> Arc<dyn crate::urlsafe::Resolver> {
        self.resolver
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| Arc::new(crate::urlsafe::SystemResolver))
    }

    /// Uses `r` to resolve webhook names (tests feed a table).
    pub fn set_resolver(&self, r: Arc<dyn crate::urlsafe::Resolver>) {
        *self.resolver.write().unwrap_or_else(|e| e.into_inner()) = Some(r);
    }
}
