//! Human-readable output of the CLI (JSON output is the serde form).

use sebroker_connectors::money::format_pence;
use sebroker_connectors::places::Places;
use sebroker_index::{Notice, Value};

use sebroker_engine::ingest::IngestReport;
use sebroker_engine::search::SearchPage;

pub fn ingest_summary(r: &IngestReport) {
    println!(
        "{} files ({} skipped), {} releases read: {} new, {} duplicate, {} replaced, {} without ocid, {} invalid",
        r.files, r.files_skipped, r.releases_read, r.releases_new, r.releases_duplicate, r.releases_replaced,
        r.releases_without_ocid, r.releases_invalid
    );
    println!(
        "notices: {} created, {} updated",
        r.notices_created, r.notices_updated
    );
    if r.files_lossy_utf8 > 0 {
        println!(
            "{} files had invalid UTF-8 (replaced with U+FFFD)",
            r.files_lossy_utf8
        );
    }
    for e in &r.errors {
        eprintln!("error: {} at byte {}: {}", e.file, e.position, e.message);
    }
}

fn money(v: &Value) -> String {
    match v.headline_pence() {
        Some(p) => {
            let cur = v.currency.as_deref().unwrap_or("currency unknown");
            if cur == "GBP" {
                format_pence(p)
            } else {
                format!("{} {cur}", format_pence(p).trim_start_matches('£'))
            }
        }
        None if v.unbounded => "unbounded".into(),
        None => "-".into(),
    }
}

fn strip_tags(s: &str) -> String {
    s.replace("<b>", "*").replace("</b>", "*")
}

pub fn search_page(p: &SearchPage) {
    println!(
        "{} notices (showing {}–{})",
        p.total,
        p.offset + 1.min(p.hits.len()),
        p.offset + p.hits.len()
    );
    for h in &p.hits {
        let n = &h.notice;
        let deadline = n
            .deadline
            .map(|d| d.date().to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "\n{}  [{} {} {}]  {}\n  {}\n  buyer: {}  value: {}  deadline: {}",
            n.ocid,
            n.source,
            n.notice_type.as_deref().unwrap_or("-"),
            n.status.as_str(),
            h.title_snippet
                .as_deref()
                .map(strip_tags)
                .unwrap_or_else(|| n.title.clone()),
            h.description_snippet
                .as_deref()
                .map(strip_tags)
                .unwrap_or_default()
                .replace('\n', " "),
            n.buyer.as_deref().unwrap_or("-"),
            money(&n.value),
            deadline
        );
        if let Some(g) = &h.group {
            let others: Vec<String> = g
                .others
                .iter()
                .map(|o| format!("{} ({})", o.ocid, o.source))
                .collect();
            println!("  also on: {}", others.join(", "));
        }
    }
    if let Some(f) = &p.facets {
        let show = |name: &str, m: &std::collections::BTreeMap<String, u64>| {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            println!("{name}: {}", parts.join(" "));
        };
        println!();
        show("status", &f.status);
        show("source", &f.source);
        show("type", &f.notice_type);
        show("region", &f.region);
        show("cpv", &f.cpv_division);
    }
}

pub fn notice(n: &Notice, places: &Places) {
    println!("{}\n{}\n", n.ocid, n.title);
    println!(
        "source: {}  {}",
        n.source,
        n.source_url.as_deref().unwrap_or("")
    );
    println!(
        "type: {}  stage: {}",
        n.notice_type.as_deref().unwrap_or("-"),
        n.stage.as_str()
    );
    println!("buyer: {}", n.buyer.name.as_deref().unwrap_or("-"));
    println!("value: {}", money(&n.value));
    if let Some(d) = n.deadline {
        println!("deadline: {d}");
    }
    let nuts: Vec<String> = n
        .nuts
        .iter()
        .map(|c| match places.name_of(c) {
            Some(name) => format!("{c} ({name})"),
            None => c.clone(),
        })
        .collect();
    println!("places: {}  →  {}", n.places.join(", "), nuts.join(", "));
    println!(
        "suitable for SME: {}  VCSE: {}  reserved: {}",
        n.suitability.sme, n.suitability.vcse, n.reserved
    );
    for c in &n.cpv {
        println!("CPV {} {}", c.code, c.description.as_deref().unwrap_or(""));
    }
    for l in &n.lots {
        println!(
            "lot {} {} {}",
            l.id,
            l.title.as_deref().unwrap_or(""),
            l.value.as_ref().map(money).unwrap_or_default()
        );
    }
    for a in &n.awards {
        let names: Vec<&str> = a
            .suppliers
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        println!(
            "award {} [{}] {} {}",
            a.id,
            a.status.as_deref().unwrap_or("-"),
            names.join(", "),
            a.value.as_ref().map(money).unwrap_or_default()
        );
    }
    for c in &n.contacts {
        let parts: Vec<&str> = [&c.name, &c.email, &c.telephone]
            .iter()
            .filter_map(|x| x.as_deref())
            .collect();
        println!("contact: {}", parts.join(", "));
    }
    println!("\n{}", n.description);
    println!(
        "\nContains public sector information licensed under the Open Government Licence v3.0."
    );
}

/// The places `evaluate` ranks with: the built-in table, and the gazetteer
/// of `--postcodes` or `[matching] postcode_districts`.
pub fn evaluation_places(
    config: &sebroker_engine::config::Config,
    postcodes: Option<&std::path::Path>,
) -> anyhow::Result<sebroker_connectors::places::Places> {
    use sebroker_connectors::places::{Gazetteer, Places};
    let places = Places::builtin();
    let gazetteer = match postcodes {
        Some(p) => Some(Gazetteer::load(p).map_err(|e| anyhow::anyhow!("--postcodes {e}"))?),
        None => config.gazetteer.clone(),
    };
    Ok(match gazetteer {
        Some(g) => places.with_gazetteer(g),
        None => places,
    })
}

/// Prints `sebroker evaluate`'s report (a table, or JSON).
pub fn evaluation(
    train: &[std::path::PathBuf],
    test: &[std::path::PathBuf],
    k: usize,
    json: bool,
    weights: (sebroker_matching::Weights, bool),
    places: &sebroker_connectors::places::Places,
) -> anyhow::Result<u8> {
    if test.is_empty() {
        eprintln!("error: evaluate needs --test files (or --fit --out FILE to fit a model)");
        return Ok(sebroker_model::exit::USAGE);
    }
    let report = sebroker_matching::evaluate::evaluate(train, test, k, weights, places)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(sebroker_model::exit::OK);
    }
    println!(
        "{} pairs over {} test notices; {} supplier profiles from {} train notices; {} train queries",
        report.n, report.test_notices, report.profiles, report.train_notices, report.train_queries
    );
    println!(
        "{:<26} {:>6} {:>6} {:>18} {:>18} {:>18}",
        "method",
        "R@1",
        "R@5",
        format!("R@{k} [95% CI]"),
        "MRR [95% CI]",
        "nDCG@10 [95% CI]"
    );
    let ci = |v: f64, c: [f64; 2]| format!("{v:.3} [{:.2},{:.2}]", c[0], c[1]);
    for m in &report.methods {
        println!(
            "{:<26} {:>6.3} {:>6.3} {:>18} {:>18} {:>18}",
            m.name,
            m.recall_at_1,
            m.recall_at_5,
            ci(m.recall_at_k, m.recall_at_k_ci),
            ci(m.mrr, m.mrr_ci),
            ci(m.ndcg_at_10, m.ndcg_at_10_ci)
        );
    }
    println!(
        "reach: {:.3} of pairs have the supplier among the learned ranker's candidates",
        report.reach
    );
    let linear = sebroker_matching::ranker::Model {
        trees: Vec::new(),
        ..report.model.clone()
    };
    println!(
        "learned model: {} (+ {} trees: see --json)",
        serde_json::to_string(&linear)?,
        report.model.trees.len()
    );
    println!(
        "loss and L2 chosen by train-side CV: {}, {}",
        report.loss.name(),
        report.l2
    );
    match report.boosting {
        Some(b) => println!(
            "boosted trees chosen by train-side CV: {} of depth {}, min leaf {}, shrinkage {}",
            b.trees, b.depth, b.min_leaf, b.shrinkage
        ),
        None => println!("boosted trees: none (train-side CV kept the linear model)"),
    }
    println!("dropped by train-side CV: {:?}", report.dropped);
    println!("train-side CV MRR: {:?}", report.cv);
    Ok(sebroker_model::exit::OK)
}

/// `evaluate --fit --out FILE`: fits the learned ranker on every file given.
pub fn fit_model(
    train: &[std::path::PathBuf],
    test: &[std::path::PathBuf],
    (out, trees): (&std::path::Path, bool),
    json: bool,
    places: &sebroker_connectors::places::Places,
) -> anyhow::Result<u8> {
    let paths: Vec<std::path::PathBuf> = train.iter().chain(test).cloned().collect();
    let mut fitted = sebroker_matching::evaluate::fit_ranker(&paths, places, trees)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    fitted.model.made_by = format!("sebroker {}", args.join(" "));
    let text = serde_json::to_string_pretty(&fitted.model)?;
    std::fs::write(out, format!("{text}\n"))
        .map_err(|e| anyhow::anyhow!("writing the model to {}: {e}", out.display()))?;
    if json {
        println!(
            "{}",
            serde_json::json!({"out": out, "queries": fitted.queries, "loss": fitted.loss.name(), "l2": fitted.l2, "dropped": fitted.dropped, "boosting": fitted.boosting, "cv": fitted.cv, "model": fitted.model})
        );
    } else {
        println!(
            "fitted on {} queries; loss {}, L2 {}; dropped {:?}; wrote {}",
            fitted.queries,
            fitted.loss.name(),
            fitted.l2,
            fitted.dropped,
            out.display()
        );
    }
    Ok(sebroker_model::exit::OK)
}
