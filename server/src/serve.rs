//! `sebroker serve`: open the data folder (or a fresh demo folder), catch the
//! index up, sync the live sources on a schedule (not with `--no-sync` or
//! `--demo`), run the alert engine (instant alerts after each ingest,
//! digests on schedule, deliveries and their retries), and serve the API
//! until Ctrl-C or SIGTERM.

use std::sync::Arc;

use sebroker_engine::config::Config;
use sebroker_engine::Engine;
use sebroker_ledger::auth::Role;
use sebroker_model::exit;

pub fn run(config: &Config, demo: bool, no_sync: bool) -> anyhow::Result<u8> {
    let sync = &config.sync;
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
    // Installed before anything is counted (the demo's ingest included).
    crate::metrics::handle();
    let mut config = config.clone();
    config.data_dir.clone_from(&data_dir);
    let app = Engine::open(&config)?;
    if !demo {
        // sled checks a page only when it reads it: a damaged folder must
        // not start and then fail request by request.
        let started = std::time::Instant::now();
        let entries = app.store.check().map_err(|e| {
            anyhow::anyhow!(
                "refusing to serve: the notice store in {} is damaged ({e}); restore the data folder from a backup",
                data_dir.display()
            )
        })?;
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(entries, ms, "notice store checked");
    }
    let mut demo_keys = Vec::new();
    let mut demo_accounts = Vec::new();
    if demo {
        let reports = sebroker_engine::demo::load(&app, &config.clusters)?;
        let notices: u64 = reports.iter().map(|r| r.notices_created).sum();
        eprintln!(
            "demo: loaded {notices} fictional notices and {} members into {}",
            app.member_set().members.len(),
            data_dir.display()
        );
        let first_member = app.store.members()?.into_iter().next().map(|m| m.id);
        for role in Role::ALL {
            let member = (role == Role::Member)
                .then(|| first_member.clone())
                .flatten();
            if role == Role::Member && member.is_none() {
                continue;
            }
            let label = match &member {
                Some(m) => format!("member {m}"),
                None => role.as_str().to_owned(),
            };
            let (key, _) = app
                .ledger
                .create_key(role, member, format!("demo {label}"), None)?;
            demo_keys.push((label, key));
        }
        demo_accounts = sebroker_engine::demo::accounts(&app, first_member.as_deref())?;
    }
    if !config.alerts.deliver {
        // Nothing may leave the machine: no webhook name is resolved (so
        // none can be subscribed) and the deliverer does not run.
        app.alerts_rt
            .set_resolver(Arc::new(sebroker_alerts::urlsafe::StaticResolver::default()));
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
        let tasks = sebroker_engine::sources::spawn_schedule(
            app.clone(),
            specs,
            sync.settings.clone(),
            sync.interval,
        );
        let mut alert_tasks = sebroker_alerts::service::spawn(app.clone());
        alert_tasks.push(sebroker_engine::spawn_followers(app.clone()));
        alert_tasks.push(sebroker_ledger::spawn_upkeep(app.ledger.clone()));
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        // Commands run beside the server find it here (see `cli::ledger`);
        // written before the listening line, so whoever reads that line can
        // already find the file.
        let url_file = sebroker_engine::config::url_file(&data_dir);
        if let Err(e) =
            sebroker_ledger::store::write_atomic(&url_file, format!("http://{addr}\n").as_bytes())
        {
            tracing::warn!(error = %e, "could not write serve.url");
        }
        tracing::info!(%addr, data_dir = %data_dir.display(), "serving");
        // Tests and scripts read this line to find the port.
        println!("sebroker listening on http://{addr}");
        // Last, after the logs: what a newcomer needs to sign in, written
        // under one lock of stderr so that no log line falls inside it.
        {
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            if demo {
                let _ = writeln!(err);
                let _ = writeln!(err, "demo: open http://{addr}/signin and sign in with an account (e-mail and password) or a key");
                for (label, email, password) in &demo_accounts {
                    let _ = writeln!(err, "demo account {label}: {email} {password}");
                }
            }
            for (label, key) in &demo_keys {
                let _ = writeln!(err, "demo key {label}: {key}");
            }
            if !demo_keys.is_empty() {
                let _ = writeln!(err, "try: curl -H 'Authorization: Bearer <key>' http://{addr}/api/v1/kpis");
            }
        }
        // The client address feeds the per-address limits on sign-in and
        // bad credentials.
        let service =
            crate::router::local(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown())
            .await?;
        for t in tasks.into_iter().chain(alert_tasks) {
            t.abort();
        }
        let _ = std::fs::remove_file(&url_file);
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
