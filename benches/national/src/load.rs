//! The HTTP load client: the queries one after another on one keep-alive
//! connection (p50/p99), then N connections for a fixed time (req/s, p99).
//! Only 127.0.0.1 URLs are accepted.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The query strings: `q=WORD&region=CODE` plus `extra`.
pub fn queries(tsv: &Path, extra: &str, limit: usize) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(tsv).with_context(|| format!("reading {}", tsv.display()))?;
    let out: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .take(limit)
        .map(|(w, r)| format!("q={w}&region={r}{extra}"))
        .collect();
    if out.is_empty() {
        bail!("{}: no queries", tsv.display());
    }
    Ok(out)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn client(token: Option<&str>) -> Result<reqwest::Client> {
    let mut h = reqwest::header::HeaderMap::new();
    if let Some(t) = token {
        h.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {t}").parse()?,
        );
    }
    Ok(reqwest::Client::builder()
        .default_headers(h)
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()?)
}

async fn get(c: &reqwest::Client, url: &str) -> Result<Duration> {
    let t = Instant::now();
    let r = c.get(url).send().await?;
    let status = r.status();
    let _ = r.bytes().await?;
    if !status.is_success() {
        bail!("{url}: HTTP {status}");
    }
    Ok(t.elapsed())
}

/// Runs the sequential pass, then (when `conns` > 0) the concurrent one;
/// prints `name_p50_ms`, `name_p99_ms`, `name_rps`, `name_conc_p99_ms`.
pub fn run(
    base: &str,
    token: Option<&str>,
    qs: &[String],
    name: &str,
    conns: usize,
    secs: u64,
) -> Result<()> {
    if !base.starts_with("http://127.0.0.1:") {
        bail!("{base}: only 127.0.0.1 is allowed");
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let c = client(token)?;
        // One warm-up pass over a few queries opens the connection.
        for q in qs.iter().take(10) {
            get(&c, &format!("{base}{q}")).await?;
        }
        let mut lat = Vec::with_capacity(qs.len());
        for q in qs {
            lat.push(get(&c, &format!("{base}{q}")).await?);
        }
        lat.sort();
        println!("{name}_p50_ms {:.3}", percentile(&lat, 0.50));
        println!("{name}_p99_ms {:.3}", percentile(&lat, 0.99));
        if conns == 0 {
            return Ok(());
        }
        let end = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for k in 0..conns {
            let c = client(token)?;
            let urls: Vec<String> = qs.iter().map(|q| format!("{base}{q}")).collect();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                // Bounded: by time, and by a count no run of `secs` reaches.
                for i in 0..50_000_000usize {
                    if Instant::now() >= end {
                        break;
                    }
                    lat.push(get(&c, &urls[(i * 7 + k) % urls.len()]).await?);
                }
                anyhow::Ok(lat)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        all.sort();
        println!("{name}_rps {:.0}", all.len() as f64 / secs as f64);
        println!("{name}_conc_p99_ms {:.3}", percentile(&all, 0.99));
        Ok(())
    })
}
