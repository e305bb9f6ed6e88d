//! A gazetteer of UK postcode districts with their coordinates and the towns
//! and areas they cover, read from a postcode-districts CSV (the shared data's
//! `geo/postcode_districts.csv`: `Postcode,Latitude,Longitude,...,Town/Area,
//! Region,...,Post Town`). It answers "how far is this supplier from where the
//! work is": a postcode's point, and the points of the places a notice's text
//! names ("Location of school: Reigate", "pupils live in SM7").

use std::collections::HashMap;
use std::io::Read;

/// A point on the map, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

impl Point {
    /// Great-circle distance in kilometres (haversine).
    pub fn km_to(&self, other: &Point) -> f64 {
        let (a, b) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = b - a;
        let dlon = (other.lon - self.lon).to_radians();
        let h = (dlat / 2.0).sin().powi(2) + a.cos() * b.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * 6371.0 * h.sqrt().min(1.0).asin()
    }
}

/// A place named in a text, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub point: Point,
}

/// Postcode districts and place names with their points.
#[derive(Debug, Clone, Default)]
pub struct Gazetteer {
    districts: HashMap<String, Point>,
    /// Lower-case place name → centroid of the districts that carry it.
    names: HashMap<String, Named>,
    /// Longest name, in words (bounds the text scan).
    longest: usize,
}

/// Names too generic to locate anything ("Town Centre", "Green").
const GENERIC: &[&str] = &[
    "airport",
    "central",
    "centre",
    "city",
    "city centre",
    "common",
    "east",
    "green",
    "hill",
    "industrial estate",
    "north",
    "park",
    "south",
    "town",
    "town centre",
    "university",
    "village",
    "west",
    "new town",
    "old town",
    "the",
    "street",
    "road",
    "station",
];

/// The largest file read: the real table is about 0.5 MB.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

impl Gazetteer {
    /// Reads the CSV; `where_` names the file in errors.
    pub fn parse(reader: impl Read, where_: &str) -> Result<Gazetteer, String> {
        let mut rdr = csv::Reader::from_reader(reader.take(MAX_BYTES));
        let headers = rdr
            .headers()
            .map_err(|e| format!("{where_}: header: {e}"))?
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| format!("{where_}: no column {name:?}"))
        };
        let (pc, lat, lon) = (col("Postcode")?, col("Latitude")?, col("Longitude")?);
        let named: Vec<usize> = ["Town/Area", "Post Town", "Region"]
            .iter()
            .filter_map(|n| col(n).ok())
            .collect();
        let mut g = Gazetteer::default();
        let mut sums: HashMap<String, (String, f64, f64, u32)> = HashMap::new();
        for (i, row) in rdr.records().enumerate() {
            let row = row.map_err(|e| format!("{where_}: row {}: {e}", i + 2))?;
            let field = |c: usize| row.get(c).unwrap_or("").trim();
            let (Ok(la), Ok(lo)) = (field(lat).parse::<f64>(), field(lon).parse::<f64>()) else {
                continue; // a district without coordinates locates nothing
            };
            if !(-90.0..=90.0).contains(&la) || !(-180.0..=180.0).contains(&lo) {
                continue;
            }
            let point = Point { lat: la, lon: lo };
            g.districts.insert(field(pc).to_uppercase(), point);
            for &c in &named {
                for name in field(c).split(',').map(str::trim) {
                    let key = name.to_lowercase();
                    if name.len() < 4 || GENERIC.contains(&key.as_str()) {
                        continue;
                    }
                    let e = sums.entry(key).or_insert((name.to_owned(), 0.0, 0.0, 0));
                    e.1 += la;
                    e.2 += lo;
                    e.3 += 1;
                }
            }
        }
        for (key, (name, la, lo, n)) in sums {
            g.longest = g.longest.max(key.split(' ').count());
            let point = Point {
                lat: la / f64::from(n),
                lon: lo / f64::from(n),
            };
            g.names.insert(key, Named { name, point });
        }
        Ok(g)
    }

    /// Reads the CSV file at `path` (errors name it).
    pub fn load(path: &std::path::Path) -> Result<Gazetteer, String> {
        let at = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|e| format!("{at}: {e}"))?;
        Gazetteer::parse(std::io::BufReader::new(f), &at)
    }

    /// Number of districts known.
    pub fn len(&self) -> usize {
        self.districts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.districts.is_empty()
    }

    /// The point of a full postcode (`KT19 9XA`, `KT199XA`) or a district (`KT19`).
    pub fn postcode(&self, postcode: &str) -> Option<Point> {
        let compact: String = postcode
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        if let Some(p) = self.districts.get(&compact) {
            return Some(*p);
        }
        // A full postcode ends in a three-character inward code.
        let outward = compact.get(..compact.len().checked_sub(3)?)?;
        self.districts.get(outward).copied()
    }

    /// The places a text names: capitalised place names (up to the longest
    /// name's length in words) and postcode districts, each once.
    pub fn places_in(&self, text: &str) -> Vec<Named> {
        let tokens: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
            .filter(|t| !t.is_empty())
            .collect();
        let mut out: Vec<Named> = Vec::new();
        let mut push = |n: Named| {
            if !out.iter().any(|o| o.name == n.name) {
                out.push(n);
            }
        };
        let mut i = 0;
        while i < tokens.len() {
            let mut step = 1;
            if let Some(p) = self.district_token(tokens[i]) {
                push(Named {
                    name: tokens[i].to_owned(),
                    point: p,
                });
            } else if starts_upper(tokens[i]) {
                for len in (1..=self.longest.min(tokens.len() - i)).rev() {
                    let words = &tokens[i..i + len];
                    if !words.iter().all(|w| starts_upper(w) || is_joiner(w)) {
                        continue;
                    }
                    if let Some(n) = self.names.get(&words.join(" ").to_lowercase()) {
                        push(n.clone());
                        step = len;
                        break;
                    }
                }
            }
            i += step;
        }
        out
    }

    /// A token shaped like a postcode district that the table knows (`SM7`).
    fn district_token(&self, t: &str) -> Option<Point> {
        let b = t.as_bytes();
        let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
        let shaped = (1..=2).contains(&letters)
            && b.len() > letters
            && b.len() <= letters + 2
            && b[letters].is_ascii_digit();
        if shaped {
            self.districts.get(t).copied()
        } else {
            None
        }
    }
}

fn starts_upper(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

/// Lower-case words inside place names ("Stratford upon Avon", "Newcastle under Lyme").
fn is_joiner(w: &str) -> bool {
    matches!(
        w,
        "upon" | "under" | "on" | "in" | "le" | "by" | "the" | "de" | "en" | "of"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "Postcode,Latitude,Longitude,Town/Area,Region,Post Town\n\
        RH2,51.2367,-0.203246,Reigate,Reigate and Banstead,Reigate\n\
        SM7,51.3228,-0.202072,Banstead,Reigate and Banstead,Banstead\n\
        KT19,51.3502,-0.269417,\"Horton, West Ewell, Stoneleigh\",Epsom and Ewell,Epsom\n\
        KT7,51.3902,-0.32897,\"Thames Ditton, Weston Green\",Elmbridge,Thames Ditton\n\
        CV37,52.19,-1.70,\"Town Centre, Shottery\",Stratford-on-Avon,Stratford upon Avon\n\
        XX1,not,a number,Nowhere,Nowhere,Nowhere\n";

    fn g() -> Gazetteer {
        Gazetteer::parse(CSV.as_bytes(), "test.csv").expect("parse")
    }

    #[test]
    fn postcodes_locate_by_their_district() {
        let g = g();
        assert_eq!(g.len(), 5, "the row without coordinates is skipped");
        let epsom = g.postcode("KT19 9XA").expect("full");
        assert_eq!(g.postcode("kt199xa"), Some(epsom));
        assert_eq!(g.postcode("KT19"), Some(epsom));
        assert_eq!(g.postcode("ZZ9 9ZZ"), None);
        let reigate = g.postcode("RH2").expect("RH2");
        let d = epsom.km_to(&reigate);
        assert!(
            (12.0..15.0).contains(&d),
            "West Ewell–Reigate is about 13 km: {d}"
        );
    }

    #[test]
    fn texts_name_places_and_districts() {
        let g = g();
        let text = "Location of students: Thames Ditton, Esher & West Ewell. \
                    Location of school: Reigate. Pupils live in SM7 postcode area; \
                    the green route via Town Centre and Stratford upon Avon.";
        let names: Vec<String> = g.places_in(text).into_iter().map(|n| n.name).collect();
        assert_eq!(
            names,
            [
                "Thames Ditton",
                "West Ewell",
                "Reigate",
                "SM7",
                "Stratford upon Avon"
            ]
        );
        assert!(g
            .places_in("reigate in lower case is a word, not a place")
            .is_empty());
    }

    #[test]
    fn a_file_without_the_columns_is_refused_by_name() {
        let e = Gazetteer::parse("a,b\n1,2\n".as_bytes(), "x.csv").expect_err("columns");
        assert!(e.contains("x.csv") && e.contains("Postcode"), "{e}");
    }
}
