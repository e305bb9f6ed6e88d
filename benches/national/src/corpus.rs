//! The scaled corpus: the shared FTS and CF releases copied with new ocids,
//! titles and values varied per copy, written as OCDS package files of
//! about 50 MB; the baseline's text file (one JSON line per release, the
//! fields the bare index reads); the queries; 1,000 members.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sebroker_connectors::ocds::{self, CompileContext, Release};
use sebroker_connectors::places::Places;
use serde_json::{json, Value};

/// Bytes of releases per package file.
const FILE_BYTES: usize = 50 * 1024 * 1024;

/// Words put in front of a copy's titles so copies are not probable
/// duplicates of each other (the dedupe compares titles).
const VARIANTS: &[&str] = &[
    "Northern",
    "Southern",
    "Eastern",
    "Western",
    "Central",
    "Coastal",
    "Rural",
    "Urban",
    "Metropolitan",
    "County",
    "District",
    "Borough",
    "Regional",
    "National",
    "Community",
    "Integrated",
    "Specialist",
    "Strategic",
    "Framework",
    "Dynamic",
    "Pilot",
    "Extended",
    "Renewed",
    "Phase",
];

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Every distinct real release (ocid, raw JSON), in file order.
fn real_releases(data: &Path) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    json_files(&data.join("ocds/fts"), &mut files)?;
    json_files(&data.join("ocds/cf"), &mut files)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in files {
        let outcome = ocds::read_path(&f).with_context(|| format!("reading {}", f.display()))?;
        for r in outcome.releases {
            let Ok(rel) = Release::parse(&r.json) else {
                continue;
            };
            let Some(ocid) = rel.ocid else { continue };
            if seen.insert(sebroker_connectors::json::content_hash(&r.json)) {
                out.push((ocid, r.json));
            }
        }
    }
    if out.is_empty() {
        bail!("no releases under {}/ocds", data.display());
    }
    Ok(out)
}

/// Puts `word` in front of every `"title": "` string value.
fn vary_titles(json: &str, word: &str) -> String {
    let mut out = String::with_capacity(json.len() + 64);
    let mut rest = json;
    while let Some(i) = rest.find("\"title\"") {
        let (head, tail) = rest.split_at(i + 7);
        out.push_str(head);
        let t = tail.trim_start();
        match t.strip_prefix(':').map(str::trim_start) {
            Some(v) if v.starts_with('"') => {
                out.push_str(": \"");
                out.push_str(word);
                out.push(' ');
                rest = &v[1..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Adds `delta` to the integer part of every `"amount": N` (exact: text).
fn vary_amounts(json: &str, delta: u64) -> String {
    let mut out = String::with_capacity(json.len() + 64);
    let mut rest = json;
    while let Some(i) = rest.find("\"amount\"") {
        let (head, tail) = rest.split_at(i + 8);
        out.push_str(head);
        let t = tail.trim_start();
        let Some(v) = t.strip_prefix(':').map(str::trim_start) else {
            rest = tail;
            continue;
        };
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        // Only plain integers that fit; `1e9999` and the like stay as they are.
        match v[..digits].parse::<u64>() {
            Ok(n) if digits > 0 && !v[digits..].starts_with(['e', 'E']) => {
                out.push_str(": ");
                out.push_str(&n.saturating_add(delta).to_string());
                rest = &v[digits..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Copy `i` of the real releases: the first copy is the real release.
fn copy_of(real: &[(String, String)], i: usize) -> (String, String) {
    let (ocid, json) = &real[i % real.len()];
    let copy = i / real.len();
    if copy == 0 {
        return (ocid.clone(), json.clone());
    }
    let new_ocid = format!("{ocid}-x{copy}");
    let word = format!("{} {copy}", VARIANTS[copy % VARIANTS.len()]);
    let j = json.replace(ocid.as_str(), &new_ocid);
    let j = vary_amounts(&vary_titles(&j, &word), (copy as u64) * 1_013);
    (new_ocid, j)
}

/// The baseline's line for one release: the text fields, compiled alone.
fn baseline_line(places: &Places, json: &str) -> Option<Value> {
    let rel = Release::parse(json).ok()?;
    let n = ocds::compile(
        vec![rel],
        &CompileContext {
            places,
            source: None,
        },
    )?;
    let cpv: Vec<&str> = n.cpv.iter().map(|c| c.code.as_str()).collect();
    Some(json!({
        "ocid": n.ocid, "title": n.title, "description": n.description,
        "buyer": n.buyer.name.unwrap_or_default(), "cpv": cpv, "nuts": n.nuts,
        "places": n.places.join(" "),
        "value": n.value.amount_pence.unwrap_or(-1),
        "published": n.published.map_or(0, |t| t.unix_timestamp()),
    }))
}

/// Writes `n` releases under `out/releases/`, the baseline text
/// (`out/bare.jsonl`), queries (`out/queries.tsv`) and `out/members.json`.
pub fn build(data: &Path, out: &Path, n: usize, queries: usize) -> Result<()> {
    let real = real_releases(data)?;
    let dir = out.join("releases");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let places = Places::builtin();
    let mut bare = std::io::BufWriter::new(std::fs::File::create(out.join("bare.jsonl"))?);
    let mut words: BTreeMap<String, usize> = BTreeMap::new();
    let mut regions: BTreeMap<String, usize> = BTreeMap::new();
    let (mut file_no, mut buf, mut input_bytes) = (0usize, String::new(), 0u64);
    for i in 0..n {
        let (_, json) = copy_of(&real, i);
        if let Some(line) = baseline_line(&places, &json) {
            if i < real.len() {
                count_terms(&line, &mut words, &mut regions);
            }
            writeln!(bare, "{line}")?;
        }
        buf.push_str(if buf.is_empty() {
            "{\"releases\":["
        } else {
            ","
        });
        buf.push_str(&json);
        if buf.len() >= FILE_BYTES || i + 1 == n {
            buf.push_str("]}");
            file_no += 1;
            let p = dir.join(format!("part-{file_no:04}.json"));
            std::fs::write(&p, &buf).with_context(|| format!("writing {}", p.display()))?;
            input_bytes += buf.len() as u64;
            buf.clear();
        }
    }
    bare.flush()?;
    write_queries(out, &words, &regions, queries)?;
    write_members(out)?;
    println!("corpus: {n} releases in {file_no} files, {input_bytes} bytes of JSON");
    std::fs::write(out.join("input_bytes"), input_bytes.to_string())?;
    Ok(())
}

fn count_terms(
    line: &Value,
    words: &mut BTreeMap<String, usize>,
    regions: &mut BTreeMap<String, usize>,
) {
    let title = line["title"].as_str().unwrap_or_default().to_lowercase();
    for w in title.split(|c: char| !c.is_alphanumeric()) {
        if w.len() >= 5 && w.chars().all(|c| c.is_ascii_lowercase()) {
            *words.entry(w.to_owned()).or_default() += 1;
        }
    }
    for r in line["nuts"].as_array().into_iter().flatten() {
        if let Some(r) = r.as_str().filter(|r| r.len() == 3) {
            *regions.entry(r.to_owned()).or_default() += 1;
        }
    }
}

/// `queries` lines of `keyword \t NUTS region`: the commonest title words
/// and NUTS1 regions of the real releases, paired in turn.
fn write_queries(
    out: &Path,
    words: &BTreeMap<String, usize>,
    regions: &BTreeMap<String, usize>,
    queries: usize,
) -> Result<()> {
    let top = |m: &BTreeMap<String, usize>, k: usize| -> Vec<String> {
        let mut v: Vec<(&String, &usize)> = m.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter().take(k).map(|(w, _)| w.clone()).collect()
    };
    let (w, r) = (top(words, 200), top(regions, 12));
    if w.is_empty() || r.is_empty() {
        bail!("no title words or regions to build queries from");
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("queries.tsv"))?);
    for i in 0..queries {
        writeln!(f, "{}\t{}", w[i % w.len()], r[(i / w.len() + i) % r.len()])?;
    }
    f.flush()?;
    Ok(())
}

/// 1,000 members: the demo members copied with new ids.
fn write_members(out: &Path) -> Result<()> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo/members.json");
    let text =
        std::fs::read_to_string(&demo).with_context(|| format!("reading {}", demo.display()))?;
    let base: Vec<Value> = serde_json::from_str(&text).context("demo members are a JSON array")?;
    if base.is_empty() {
        bail!("{}: no members", demo.display());
    }
    let members: Vec<Value> = (0..1000)
        .map(|i| {
            let mut m = base[i % base.len()].clone();
            m["id"] = json!(format!("n-{i:05}"));
            if let Some(name) = m["name"].as_str().map(str::to_owned) {
                m["name"] = json!(format!("{name} {i}"));
            }
            // Copies have no registered identifiers: one organisation, one id.
            if i >= base.len() {
                if let Some(o) = m.as_object_mut() {
                    o.remove("identifiers");
                }
            }
            m
        })
        .collect();
    std::fs::write(out.join("members.json"), serde_json::to_string(&members)?)?;
    Ok(())
}
