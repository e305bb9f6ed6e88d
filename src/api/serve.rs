//! `sebroker serve`: open the data folder (or a fresh demo folder), catch the
//! index up, sync the live sources on a schedule (not with `--no-sync` or
//! `--demo`), run the alert engine (instant alerts after each ingest,
//! digests on schedule, deliveries and their retries), and serve the API
//! until Ctrl-C or SIGTERM.

use std::sync::Arc;

use crate::app::App;
use crate::config::{Config, SyncConfig};
use crate::error::exit;

pub fn run(config: &Config, sync: &SyncConfig, demo: bool, no_sync: bool) -> anyhow::Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Kept alive until the server stops; removed on drop.
    let mut _demo_dir = None;
    let data_dir = if demo {
        let d = tempfile::Builder::new()
            .prefix("sebroker-demo-")
            .tempdir()?;
        let p = d.path().to_owned();
        _demo_dir = Some(d);
        p
    } else {
        config.data_dir.clone()
    };
    let mut app = App::open(&data_dir)?
        .with_weights(config.weights)
        .with_alerts(config.alerts.clone());
    app.admin_token = sync.admin_token.clone();
    if demo {
        let reports = crate::demo::load(&app, &config.clusters)?;
        let notices: u64 = reports.iter().map(|r| r.notices_created).sum();
        eprintln!(
            "demo: loaded {notices} fictional notices and {} members into {}",
            app.member_set().members.len(),
            data_dir.display()
        );
    }
    let app = Arc::new(app);
    let specs: Vec<_> = if demo || no_sync {
        Vec::new()
    } else {
        sync.enabled
            .iter()
            .filter_map(|name| sync.spec(name).cloned())
            .collect()
    };
    rt.block_on(async move {
        let tasks = crate::sources::spawn_schedule(
            app.clone(),
            specs,
            sync.settings.clone(),
            sync.interval,
        );
        let alert_tasks = crate::alerts::service::spawn(app.clone());
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        // Tests and scripts read this line to find the port.
        println!("sebroker listening on http://{addr}");
        tracing::info!(%addr, data_dir = %data_dir.display(), "serving");
        axum::serve(listener, super::router(app))
            .with_graceful_shutdown(shutdown())
            .await?;
        for t in tasks.into_iter().chain(alert_tasks) {
            t.abort();
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(exit::OK)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
