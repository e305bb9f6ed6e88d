//! UK local authorities with their GSS code, NUTS3 area and combined
//! authority: the built-in West Midlands table, or every UK authority read
//! from the public files (`uk_local_authorities.csv`, mySociety, CC-BY-4.0;
//! `lad18_to_nuts318.csv`, ONS, OGL) in a folder such as `shared/data/geo`.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::{builtin, PlaceEntry};

/// The largest table file read (the real ones are under 1 MiB).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most rows read from one file (the real ones have under 500).
const MAX_ROWS: usize = 20_000;

/// The metropolitan districts of the West Midlands Combined Authority.
const WMCA: &[&str] = &[
    "E08000025",
    "E08000026",
    "E08000027",
    "E08000028",
    "E08000029",
    "E08000030",
    "E08000031",
];

/// One local authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// GSS code (`E08000030`).
    pub gss: String,
    /// Common short name (`Walsall`).
    pub name: String,
    /// NUTS3 (2018) area that holds it, when known.
    pub nuts3: Option<String>,
    /// That area's name (`Walsall`, `Staffordshire CC`).
    pub nuts3_name: Option<String>,
    /// Combined authority (`WMCA`), when it belongs to one.
    pub combined_authority: Option<String>,
    /// English region or nation (`West Midlands`, `Scotland`).
    pub region: String,
}

/// A table of local authorities, sorted by GSS code.
#[derive(Debug, Clone, Default)]
pub struct Authorities {
    list: Vec<Authority>,
}

impl Authorities {
    /// The built-in West Midlands table (`builtin::LOCAL_AUTHORITIES`).
    pub fn builtin() -> Authorities {
        let list = builtin::LOCAL_AUTHORITIES
            .iter()
            .map(|(gss, name, nuts)| Authority {
                gss: (*gss).to_owned(),
                name: (*name).to_owned(),
                nuts3: Some((*nuts).to_owned()),
                nuts3_name: None,
                combined_authority: WMCA.contains(gss).then(|| "WMCA".to_owned()),
                region: "West Midlands".to_owned(),
            })
            .collect();
        Authorities { list }
    }

    /// Every current UK authority from `dir/uk_local_authorities.csv`, with
    /// NUTS3 from `dir/lad18_to_nuts318.csv`; the built-in table fills in
    /// and wins for the West Midlands. Errors name the file and the row.
    pub fn load(dir: &Path) -> Result<Authorities, String> {
        let nuts = read_lad_nuts(&dir.join("lad18_to_nuts318.csv"))?;
        let mut by_gss: HashMap<String, Authority> =
            read_authorities(&dir.join("uk_local_authorities.csv"), &nuts)?
                .into_iter()
                .map(|a| (a.gss.clone(), a))
                .collect();
        for b in Authorities::builtin().list {
            let entry = by_gss.entry(b.gss.clone()).or_insert_with(|| b.clone());
            entry.nuts3 = b.nuts3.clone();
            if entry.combined_authority.is_none() {
                entry.combined_authority = b.combined_authority.clone();
            }
            if let Some((_, name)) = b.nuts3.as_ref().and_then(|c| nuts.get(c)) {
                entry.nuts3_name = Some(name.clone());
            }
        }
        let mut list: Vec<Authority> = by_gss.into_values().collect();
        list.sort_by(|a, b| a.gss.cmp(&b.gss));
        Ok(Authorities { list })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Authority> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The authority with this GSS code.
    pub fn get(&self, gss: &str) -> Option<&Authority> {
        self.list
            .binary_search_by(|a| a.gss.as_str().cmp(gss))
            .ok()
            .and_then(|i| self.list.get(i))
    }

    /// What [`super::Places`] needs to resolve these authorities' GSS codes
    /// and names to their NUTS3 areas, and to name those areas.
    pub fn place_entries(&self) -> Vec<PlaceEntry> {
        let mut out = Vec::new();
        for a in &self.list {
            let Some(nuts) = &a.nuts3 else { continue };
            for key in [&a.gss, &a.name] {
                out.push(PlaceEntry::Authority {
                    key: key.clone(),
                    nuts: nuts.clone(),
                });
            }
            if let Some(n) = &a.nuts3_name {
                out.push(PlaceEntry::Name {
                    code: nuts.clone(),
                    name: n.clone(),
                });
            }
        }
        out
    }
}

/// Opens a CSV file bounded in size; errors name the file.
fn open_csv(path: &Path) -> Result<csv::Reader<std::io::Take<std::fs::File>>, String> {
    let at = path.display();
    let f = std::fs::File::open(path).map_err(|e| format!("{at}: {e}"))?;
    let len = f.metadata().map_err(|e| format!("{at}: {e}"))?.len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "{at}: {len} bytes is larger than the {MAX_FILE_BYTES} a place table may be"
        ));
    }
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(f.take(MAX_FILE_BYTES)))
}

/// The column positions of a header, lower-case and without a BOM.
fn columns<R: Read>(rdr: &mut csv::Reader<R>, at: &Path) -> Result<HashMap<String, usize>, String> {
    let h = rdr
        .headers()
        .map_err(|e| format!("{}: cannot read the header: {e}", at.display()))?;
    Ok(h.iter()
        .enumerate()
        .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim().to_lowercase(), i))
        .collect())
}

fn cell<'a>(rec: &'a csv::StringRecord, col: &HashMap<String, usize>, name: &str) -> &'a str {
    col.get(name)
        .and_then(|i| rec.get(*i))
        .map(str::trim)
        .unwrap_or("")
}

/// LAD18CD → (NUTS318CD, NUTS318NM), and NUTS318CD → (itself, its name).
fn read_lad_nuts(path: &Path) -> Result<HashMap<String, (String, String)>, String> {
    let mut rdr = open_csv(path)?;
    let col = columns(&mut rdr, path)?;
    for need in ["lad18cd", "nuts318cd", "nuts318nm"] {
        if !col.contains_key(need) {
            return Err(format!("{}: no {need} column", path.display()));
        }
    }
    let mut out = HashMap::new();
    for (i, rec) in rdr.records().take(MAX_ROWS).enumerate() {
        let rec = rec.map_err(|e| format!("{} row {}: {e}", path.display(), i + 2))?;
        let code = cell(&rec, &col, "nuts318cd").to_uppercase();
        if super::nuts_code(&code).is_none_or(|c| c.len() != 5) {
            continue;
        }
        let name = cell(&rec, &col, "nuts318nm").to_owned();
        out.insert(code.clone(), (code.clone(), name.clone()));
        out.insert(cell(&rec, &col, "lad18cd").to_uppercase(), (code, name));
    }
    Ok(out)
}

/// The current authorities of `uk_local_authorities.csv`.
fn read_authorities(
    path: &Path,
    nuts: &HashMap<String, (String, String)>,
) -> Result<Vec<Authority>, String> {
    let mut rdr = open_csv(path)?;
    let col = columns(&mut rdr, path)?;
    for need in ["gss-code", "nice-name", "region", "current-authority"] {
        if !col.contains_key(need) {
            return Err(format!("{}: no {need} column", path.display()));
        }
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().take(MAX_ROWS).enumerate() {
        let rec = rec.map_err(|e| format!("{} row {}: {e}", path.display(), i + 2))?;
        let gss = cell(&rec, &col, "gss-code").to_uppercase();
        if !super::is_gss(&gss)
            || !cell(&rec, &col, "current-authority").eq_ignore_ascii_case("true")
        {
            continue;
        }
        let area = nuts.get(&gss);
        let ca = cell(&rec, &col, "combined-authority");
        out.push(Authority {
            name: cell(&rec, &col, "nice-name").to_owned(),
            nuts3: area.map(|a| a.0.clone()),
            nuts3_name: area.map(|a| a.1.clone()),
            combined_authority: (!ca.is_empty()).then(|| ca.to_owned()),
            region: cell(&rec, &col, "region").to_owned(),
            gss,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_marks_the_combined_authority() {
        let a = Authorities::builtin();
        let walsall = a.get("E08000030").expect("walsall");
        assert_eq!(walsall.nuts3.as_deref(), Some("UKG38"));
        assert_eq!(walsall.combined_authority.as_deref(), Some("WMCA"));
        assert_eq!(
            a.get("E07000192")
                .and_then(|x| x.combined_authority.clone()),
            None
        );
        assert!(a.get("E99999999").is_none());
    }

    #[test]
    fn loads_authorities_with_their_nuts3_area() {
        // No tempfile crate here: a folder of this process's own.
        let path =
            std::env::temp_dir().join(format!("sebroker-authorities-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("dir");
        struct Dir(std::path::PathBuf);
        impl Dir {
            fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = Dir(path);
        std::fs::write(
            dir.path().join("uk_local_authorities.csv"),
            "gss-code,nice-name,region,combined-authority,current-authority\n\
             E09000023,Lewisham,London,,True\n\
             E07000001,Gone,South East,,False\n\
             E08000030,Walsall,West Midlands,WMCA,True\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("lad18_to_nuts318.csv"),
            "LAD18CD,LAD18NM,NUTS318CD,NUTS318NM\nE09000023,Lewisham,UKI44,Lewisham and Southwark\n",
        )
        .expect("write");
        let a = Authorities::load(dir.path()).expect("load");
        let lew = a.get("E09000023").expect("lewisham");
        assert_eq!(lew.nuts3.as_deref(), Some("UKI44"));
        assert_eq!(lew.nuts3_name.as_deref(), Some("Lewisham and Southwark"));
        assert!(
            a.get("E07000001").is_none(),
            "former authorities are left out"
        );
        assert_eq!(
            a.get("E08000030").and_then(|x| x.nuts3.clone()).as_deref(),
            Some("UKG38")
        );
        assert!(a.len() > 30, "the built-in table fills in");
        let err = Authorities::load(&dir.path().join("missing")).expect_err("no files");
        assert!(err.contains("lad18_to_nuts318.csv"), "{err}");
    }
}
