//! The rows of the market map and which notices and members fall in each:
//! local authorities (by the NUTS3 area search resolves their GSS code
//! to), NUTS3 areas shared by several authorities, "elsewhere in" rows for
//! places known only at NUTS1/NUTS2, regions, clusters and CPV divisions.

use std::collections::{BTreeMap, HashMap};

use super::snapshot::{Fact, Snapshot};
use super::By;
use crate::error::{Error, Result};
use crate::Engine;

/// Who counts as a row's members.
#[derive(Debug)]
enum Members {
    /// Service areas overlapping this NUTS code.
    Covering(String),
    /// Service areas overlapping any of these NUTS codes (a cluster's
    /// places: a member of another cluster serving them counts).
    CoveringAny(Vec<String>),
    /// Members of this cluster or of none that has places.
    Outside(String, Vec<String>),
    /// Members with this CPV division in their profile or track record.
    Division(String),
}

#[derive(Debug)]
pub(crate) struct RowDef {
    pub key: String,
    pub name: String,
    pub kind: String,
    pub region: Option<String>,
    pub authorities: Vec<String>,
    members: Members,
}

/// A grouping's rows, made once per snapshot: which notices fall in each
/// row (before the query's cpv and source filters) and how many members.
#[derive(Debug, Default)]
pub(crate) struct Defs {
    pub rows: Vec<RowDef>,
    /// The notices placed in each row (indexes into the snapshot).
    pub members_of: Vec<Vec<u32>>,
    /// The members of each row.
    pub member_counts: Vec<u64>,
    /// Every notice with a UK place, each once (the total's).
    pub placed: Vec<u32>,
}

impl Defs {
    fn push(&mut self, def: RowDef) -> usize {
        self.rows.push(def);
        self.members_of.push(Vec::new());
        self.rows.len() - 1
    }

    fn place(&mut self, row: usize, fact: u32) {
        if let Some(v) = self.members_of.get_mut(row) {
            if v.last() != Some(&fact) {
                v.push(fact);
            }
        }
    }

    /// The number of members of `def`.
    fn member_count(def: &RowDef, snap: &Snapshot) -> u64 {
        let n = snap
            .members
            .facts
            .iter()
            .filter(|m| match &def.members {
                Members::Covering(code) => m.covers(code),
                Members::CoveringAny(codes) => codes.iter().any(|c| m.covers(c)),
                Members::Outside(slug, placed) => {
                    m.cluster == *slug || !placed.contains(&m.cluster)
                }
                Members::Division(d) => m.divisions.contains(d),
            })
            .count();
        n as u64
    }
}

/// The rows of grouping `by`, with the notices and the members of each.
pub(crate) fn define(app: &Engine, by: By, snap: &Snapshot) -> Result<Defs> {
    let mut defs = Defs {
        placed: snap
            .facts
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.nuts.is_empty())
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect(),
        ..Defs::default()
    };
    let placed = defs
        .placed
        .clone()
        .into_iter()
        .filter_map(|i| snap.facts.get(i as usize).map(|f| (i, f.as_ref())));
    match by {
        By::LocalAuthority => by_authority(app, &mut defs, placed),
        By::Region => by_region(app, &mut defs, placed),
        By::Cluster => by_cluster(app, &mut defs, placed)?,
        By::CpvDivision => by_division(app, &mut defs, placed, &snap.divisions)?,
    }
    defs.member_counts = defs
        .rows
        .iter()
        .map(|d| Defs::member_count(d, snap))
        .collect();
    Ok(defs)
}

fn area_name(app: &Engine, code: &str) -> String {
    app.places()
        .name_of(code)
        .map_or_else(|| format!("NUTS area {code}"), str::to_owned)
}

fn covering(key: &str, name: String, kind: &str, authorities: Vec<String>) -> RowDef {
    RowDef {
        key: key.to_owned(),
        name,
        kind: kind.to_owned(),
        region: Some(key.to_owned()),
        authorities,
        members: Members::Covering(key.to_owned()),
    }
}

/// One row per NUTS3 area of the known authorities: keyed by the GSS code
/// when one authority has it alone, else by the area. Search resolves a
/// GSS code to the same area, so the row is search's `region=<GSS>`.
fn by_authority<'a>(app: &Engine, defs: &mut Defs, facts: impl Iterator<Item = (u32, &'a Fact)>) {
    let mut areas: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    {
        let places = app.places();
        for a in app.config.authorities.iter() {
            if let Some(code) = places.resolve_code(&a.gss).filter(|c| c.len() == 5) {
                areas
                    .entry(code)
                    .or_default()
                    .push((a.gss.clone(), a.name.clone()));
            }
        }
    }
    let mut row_of: HashMap<String, usize> = HashMap::new();
    for (code, auths) in areas {
        let gss: Vec<String> = auths.iter().map(|a| a.0.clone()).collect();
        let def = match auths.as_slice() {
            [(g, name)] => RowDef {
                members: Members::Covering(code.clone()),
                ..covering(g, name.clone(), "authority", gss)
            },
            _ => {
                let name = format!(
                    "{} (NUTS3 area of {} authorities)",
                    area_name(app, &code),
                    auths.len()
                );
                covering(&code, name, "nuts3", gss)
            }
        };
        row_of.insert(code, defs.push(def));
    }
    for (i, f) in facts {
        for code in &f.finest {
            // A NUTS3 (or finer) code, else its region's: no allocation per
            // notice, only per new row.
            let key: &str = if code.len() >= 5 {
                code
            } else {
                code.char_indices()
                    .nth(3)
                    .map_or(code.as_str(), |(b, _)| &code[..b])
            };
            let row = match row_of.get(key) {
                Some(r) => *r,
                None => {
                    let def = if key.len() >= 5 {
                        covering(key, area_name(app, key), "nuts3", Vec::new())
                    } else if key.len() == 3 {
                        covering(
                            key,
                            format!("elsewhere in {}", area_name(app, key)),
                            "elsewhere",
                            Vec::new(),
                        )
                    } else {
                        covering(
                            key,
                            "elsewhere in the UK (no region given)".into(),
                            "elsewhere",
                            Vec::new(),
                        )
                    };
                    let r = defs.push(def);
                    row_of.insert(key.to_owned(), r);
                    r
                }
            };
            defs.place(row, i);
        }
    }
}

/// One row per NUTS1 region (`UK` for notices placed only in the UK).
fn by_region<'a>(app: &Engine, defs: &mut Defs, facts: impl Iterator<Item = (u32, &'a Fact)>) {
    let mut row_of: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (i, f) in facts {
        let regions: Vec<&String> = f.nuts.iter().filter(|c| c.len() == 3).collect();
        if regions.is_empty() {
            row_of.entry("UK".into()).or_default().push(i);
        }
        for r in regions {
            row_of.entry(r.clone()).or_default().push(i);
        }
    }
    for (code, facts) in row_of {
        // Notices placed only in the UK: not search's `region=UK`, which is
        // every UK notice, so the row is an "elsewhere" one.
        let (name, kind) = if code == "UK" {
            (
                "elsewhere in the UK (no region given)".to_owned(),
                "elsewhere",
            )
        } else {
            (area_name(app, &code), "region")
        };
        let r = defs.push(covering(&code, name, kind, Vec::new()));
        for i in facts {
            defs.place(r, i);
        }
    }
}

/// One row per cluster: its places (`[clusters.<slug>] places`); a cluster
/// without places (`other`) holds every UK place outside the others.
fn by_cluster<'a>(
    app: &Engine,
    defs: &mut Defs,
    facts: impl Iterator<Item = (u32, &'a Fact)>,
) -> Result<()> {
    let mut placed: Vec<(usize, Vec<String>)> = Vec::new();
    let mut outside: Vec<usize> = Vec::new();
    let with_places: Vec<String> = app
        .config
        .clusters
        .iter()
        .filter(|s| {
            app.config
                .cluster_places
                .get(*s)
                .is_some_and(|p| !p.is_empty())
        })
        .cloned()
        .collect();
    for slug in &app.config.clusters {
        let names = app
            .config
            .cluster_places
            .get(slug)
            .cloned()
            .unwrap_or_default();
        let mut codes = Vec::new();
        for p in &names {
            let code = app.places().resolve_code(p).ok_or_else(|| {
                Error::Config(format!(
                    "clusters.{slug}.places: {p:?} is not a place we know"
                ))
            })?;
            codes.push(code);
        }
        let (members, region) = if codes.is_empty() {
            (Members::Outside(slug.clone(), with_places.clone()), None)
        } else {
            (Members::CoveringAny(codes.clone()), Some(names.join(",")))
        };
        let authorities = names
            .iter()
            .filter(|n| sebroker_connectors::places::is_gss(n))
            .cloned()
            .collect();
        let r = defs.push(RowDef {
            key: slug.clone(),
            name: cluster_name(slug, &names, app),
            kind: "cluster".into(),
            region,
            authorities,
            members,
        });
        if codes.is_empty() {
            outside.push(r);
        } else {
            placed.push((r, codes));
        }
    }
    for (i, f) in facts {
        let mut inside = false;
        for (r, codes) in &placed {
            if codes.iter().any(|c| f.nuts.contains(c)) {
                defs.place(*r, i);
                inside = true;
            }
        }
        if !inside {
            for r in &outside {
                defs.place(*r, i);
            }
        }
    }
    Ok(())
}

fn cluster_name(slug: &str, places: &[String], app: &Engine) -> String {
    if places.is_empty() {
        return format!("{slug} (every place outside the other clusters)");
    }
    let named: Vec<String> = places
        .iter()
        .map(|p| {
            app.config
                .authorities
                .get(p)
                .map_or_else(|| p.clone(), |a| a.name.clone())
        })
        .collect();
    format!("{slug} ({})", named.join(", "))
}

/// One row per CPV division (`none` for notices without CPV codes).
fn by_division<'a>(
    app: &Engine,
    defs: &mut Defs,
    facts: impl Iterator<Item = (u32, &'a Fact)>,
    codes: &[String],
) -> Result<()> {
    let table = app.cpv_table()?;
    let mut row_of: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (i, f) in facts {
        if f.divisions.is_empty() {
            row_of.entry("none".into()).or_default().push(i);
        }
        for d in f.divisions.iter().filter_map(|d| codes.get(*d as usize)) {
            row_of.entry(d.clone()).or_default().push(i);
        }
    }
    for (d, facts) in row_of {
        let name = table
            .describe(&format!("{d}000000"))
            .map_or_else(|| format!("CPV division {d}"), str::to_owned);
        let r = defs.push(RowDef {
            key: d.clone(),
            name,
            kind: "cpv_division".into(),
            region: None,
            authorities: Vec::new(),
            members: Members::Division(d),
        });
        for i in facts {
            defs.place(r, i);
        }
    }
    Ok(())
}
