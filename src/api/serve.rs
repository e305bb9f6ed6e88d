//! `sebroker serve`: open the data folder (or a fresh demo folder), catch the
//! index up, and serve the API until Ctrl-C or SIGTERM.

use std::sync::Arc;

use crate::app::App;
use crate::config::Config;
use crate::error::exit;

pub fn run(config: &Config, demo: bool) -> anyhow::Result<u8> {
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
    let app = App::open(&data_dir)?.with_weights(config.weights);
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
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        // Tests and scripts read this line to find the port.
        println!("sebroker listening on http://{addr}");
        tracing::info!(%addr, data_dir = %data_dir.display(), "serving");
        axum::serve(listener, super::router(app))
            .with_graceful_shutdown(shutdown())
            .await?;
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
