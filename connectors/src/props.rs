//! Property tests of the readers that take untrusted input: the OCDS reader
//! (random nesting, bad tokens, truncation points), the money parser, and
//! the CSV readers (places, CPV, anchors). Up to 256 cases each.

use proptest::prelude::*;

use crate::json::{check_depth, MAX_DEPTH};
use crate::ocds::read::{read_bytes, ErrorKind};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

/// How one generated release is written.
#[derive(Debug, Clone)]
enum Kind {
    Good { nesting: usize },
    BadToken(&'static str),
    TooDeep(usize),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (0usize..8).prop_map(|nesting| Kind::Good { nesting }),
        2 => prop::sample::select(vec![
            "Infinity", "-Infinity", "NaN", "01", "1.", "--2", "+1", ".5", "nul", "tru",
            "\"a\u{1}b\"", "\"tab\there\"", "\"bad \\x escape\"",
        ])
        .prop_map(Kind::BadToken),
        1 => (MAX_DEPTH..MAX_DEPTH + 100).prop_map(Kind::TooDeep),
    ]
}

/// A release with id `i`; `{"ocid":"o-i","id":"i","x":...}`.
fn release(i: usize, k: &Kind) -> String {
    let x = match k {
        Kind::Good { nesting } => format!(
            "{}{{\"n\":1e9999,\"s\":\"]}}[{{\\\"\"}}{}",
            "[".repeat(*nesting),
            "]".repeat(*nesting)
        ),
        Kind::BadToken(t) => format!("[1, {t}, 2]"),
        // The release object is level 1, so `d` more brackets go beyond.
        Kind::TooDeep(d) => format!("{}0{}", "[".repeat(*d), "]".repeat(*d)),
    };
    format!("{{\"ocid\":\"o-{i}\",\"id\":\"{i}\",\"x\":{x}}}")
}

/// A package of these releases, with the byte range of each.
fn package(kinds: &[Kind], ws: &str) -> (String, Vec<std::ops::Range<usize>>) {
    let mut text = format!("{{\"uri\":\"u\",{ws}\"releases\":{ws}[");
    let mut spans = Vec::new();
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            text.push(',');
            text.push_str(ws);
        }
        let r = release(i, k);
        spans.push(text.len()..text.len() + r.len());
        text.push_str(&r);
    }
    text.push_str("],\"publisher\":{\"name\":\"p\"}}");
    (text, spans)
}

fn kept_ids(text: &[u8]) -> (Vec<usize>, usize, usize) {
    let o = read_bytes(text, false, false);
    let ids = o
        .releases
        .iter()
        .map(|r| {
            let id = r
                .json
                .split("\"id\":\"")
                .nth(1)
                .and_then(|s| s.split('"').next());
            id.and_then(|s| s.parse().ok()).unwrap_or(usize::MAX)
        })
        .collect();
    let skipped = o
        .errors
        .iter()
        .filter(|e| e.kind == ErrorKind::Release)
        .count();
    let damaged = o
        .errors
        .iter()
        .filter(|e| e.kind == ErrorKind::Damaged)
        .count();
    (ids, skipped, damaged)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_good_release_around_bad_ones_is_kept(
        kinds in prop::collection::vec(kind(), 1..20),
        ws in prop::sample::select(vec!["", " ", "\n  ", "\r\n\t"]),
    ) {
        let (text, _) = package(&kinds, ws);
        let (ids, skipped, damaged) = kept_ids(text.as_bytes());
        let good: Vec<usize> = kinds.iter().enumerate()
            .filter(|(_, k)| matches!(k, Kind::Good { .. })).map(|(i, _)| i).collect();
        prop_assert_eq!(ids, good);
        prop_assert_eq!(skipped, kinds.len() - kinds.iter().filter(|k| matches!(k, Kind::Good { .. })).count());
        prop_assert_eq!(damaged, 0);
    }

    #[test]
    fn truncation_keeps_every_release_completed_before_the_cut(
        kinds in prop::collection::vec(kind(), 1..12),
        cut in 0.0f64..1.0,
    ) {
        let (text, spans) = package(&kinds, " ");
        let at = ((text.len() as f64) * cut) as usize;
        let (ids, _, damaged) = kept_ids(&text.as_bytes()[..at]);
        let expect: Vec<usize> = kinds.iter().enumerate()
            .filter(|(i, k)| matches!(k, Kind::Good { .. }) && spans[*i].end <= at)
            .map(|(i, _)| i).collect();
        prop_assert_eq!(ids, expect);
        prop_assert_eq!(damaged, 1, "a cut file is reported as damaged");
    }

    #[test]
    fn arrays_nest_up_to_the_limit(levels in 0usize..(MAX_DEPTH + 8), n in 1usize..4) {
        let kinds = vec![Kind::Good { nesting: 1 }; n];
        let (pkg, _) = package(&kinds, "");
        let text = format!("{}{pkg}{}", "[".repeat(levels), "]".repeat(levels));
        let (ids, skipped, damaged) = kept_ids(text.as_bytes());
        if levels <= MAX_DEPTH {
            prop_assert_eq!((ids.len(), skipped, damaged), (n, 0, 0));
        } else {
            prop_assert_eq!((ids.len(), skipped, damaged), (0, 1, 0));
        }
    }

    #[test]
    fn arbitrary_and_mutated_bytes_never_panic(
        junk in prop::collection::vec(any::<u8>(), 0..400),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        lines in any::<bool>(),
    ) {
        let (text, _) = package(&[Kind::Good { nesting: 2 }, Kind::BadToken("NaN"), Kind::Good { nesting: 0 }], "\n");
        let mut bytes = text.into_bytes();
        for (i, b) in &flips {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        for input in [&junk[..], &bytes[..]] {
            let o = read_bytes(input, false, lines);
            for r in &o.releases {
                prop_assert!(serde_json::from_str::<serde::de::IgnoredAny>(&r.json).is_ok());
                prop_assert!(check_depth(r.json.as_bytes(), MAX_DEPTH).is_ok());
            }
            let _ = read_bytes(input, true, lines);
        }
    }
}

/// Exact pence of `int.frac × 10^exp`, rounded half away from zero, by i128.
fn reference_pence(int: &str, frac: &str, exp: i32) -> Option<i128> {
    let n: i128 = format!("0{int}{frac}").parse().ok()?;
    let scale = exp + 2 - frac.len() as i32;
    if scale >= 0 {
        return n.checked_mul(10i128.checked_pow(scale as u32)?);
    }
    let d = 10i128.checked_pow((-scale) as u32)?;
    Some(n / d + i128::from(n % d * 2 >= d))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn money_never_panics(s in "\\PC{0,40}", raw in prop::collection::vec(any::<char>(), 0..40)) {
        let _ = crate::money::parse_amount(&s);
        let _ = crate::money::parse_amount(&raw.into_iter().collect::<String>());
    }

    #[test]
    fn money_is_exact_or_unbounded(
        neg in any::<bool>(),
        int in "[0-9]{0,18}",
        frac in "[0-9]{0,18}",
        exp in -20i32..16,
        quoted in any::<bool>(),
    ) {
        prop_assume!(!(int.is_empty() && frac.is_empty()));
        let text = format!("{}{int}{}{frac}e{exp}", if neg { "-" } else { "" }, if frac.is_empty() { "" } else { "." });
        let text = if quoted { format!("\"{text}\"") } else { text };
        let got = crate::money::parse_amount(&text);
        let want = reference_pence(&int, &frac, exp).expect("reference fits i128");
        let want = match i64::try_from(want) {
            Ok(p) => crate::money::Amount::Pence(if neg { -p } else { p }),
            Err(_) => crate::money::Amount::Unbounded,
        };
        prop_assert_eq!(got, Some(want), "{}", text);
    }

    #[test]
    fn money_pounds_and_pence_round_trip(pounds in -92_233_720_368_547_757i64..92_233_720_368_547_757, pence in 0i64..100) {
        let text = format!("{pounds}.{pence:02}");
        let want = pounds * 100 + if pounds < 0 || text.starts_with('-') { -pence } else { pence };
        prop_assert_eq!(crate::money::parse_amount(&text), Some(crate::money::Amount::Pence(want)));
    }
}

/// A CSV row that is good, or bad in a way the reader must report.
#[derive(Debug, Clone)]
enum Row {
    Good(u32),
    Bad(u8),
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        prop_oneof![3 => (0u32..1000).prop_map(Row::Good), 1 => (0u8..3).prop_map(Row::Bad)],
        0..30,
    )
}

fn region(r: &str) -> Option<String> {
    (r == "West Midlands").then(|| "UKG".to_owned())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_readers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = crate::places::parse_places_csv(&bytes[..], &region);
        let _ = crate::cpv::CpvTable::parse_csv(&bytes[..]);
        let _ = crate::anchors::parse_file(&bytes, &crate::places::Places::builtin());
        let mut with_header = b"Postcode,UK region\n".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = crate::places::parse_places_csv(&with_header[..], &region);
        let mut with_header = b"reference,title,type\n".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = crate::anchors::parse_file(&with_header, &crate::places::Places::builtin());
    }

    #[test]
    fn places_csv_keeps_good_rows_around_bad_ones(rows in rows()) {
        let mut f = b"Postcode,UK region\n".to_vec();
        for r in &rows {
            match r {
                Row::Good(n) => f.extend_from_slice(format!("WS{n},West Midlands\n").as_bytes()),
                Row::Bad(0) => f.extend_from_slice(b"WS\xff\xfe1,West Midlands\n"),
                Row::Bad(1) => f.extend_from_slice(b"WS9,Atlantis\n"),
                Row::Bad(_) => f.extend_from_slice(b",West Midlands\n"),
            }
        }
        let (entries, bad) = crate::places::parse_places_csv(&f[..], &region).expect("header");
        let good: Vec<String> = rows.iter().filter_map(|r| match r { Row::Good(n) => Some(format!("WS{n}")), _ => None }).collect();
        let got: Vec<String> = entries.iter().map(|e| match e {
            crate::places::PlaceEntry::District { district, .. } => district.clone(),
            other => format!("{other:?}"),
        }).collect();
        prop_assert_eq!(got, good);
        let bad_lines: Vec<u64> = rows.iter().enumerate().filter(|(_, r)| matches!(r, Row::Bad(_))).map(|(i, _)| i as u64 + 2).collect();
        prop_assert_eq!(bad.iter().map(|e| e.line).collect::<Vec<_>>(), bad_lines);
    }

    #[test]
    fn cpv_csv_keeps_good_rows_around_bad_ones(rows in rows()) {
        let mut f = "\u{feff}CODE,EN\n".as_bytes().to_vec();
        for r in &rows {
            match r {
                Row::Good(n) => f.extend_from_slice(format!("{:08}-1,\"Service, {n}\"\n", 10_000_000 + n).as_bytes()),
                Row::Bad(0) => f.extend_from_slice(b"12345678-1,caf\xe9\n"),
                Row::Bad(1) => f.extend_from_slice(b"123456789,too long\n"),
                Row::Bad(_) => f.extend_from_slice(b"85312000,\n"),
            }
        }
        let (ok, bad) = crate::cpv::CpvTable::parse_csv(&f[..]);
        let good: Vec<String> = rows.iter().filter_map(|r| match r { Row::Good(n) => Some(format!("{:08}", 10_000_000 + n)), _ => None }).collect();
        prop_assert_eq!(ok.into_iter().map(|(c, _)| c).collect::<Vec<_>>(), good);
        let bad_lines: Vec<u64> = rows.iter().enumerate().filter(|(_, r)| matches!(r, Row::Bad(_))).map(|(i, _)| i as u64 + 2).collect();
        prop_assert_eq!(bad.iter().map(|e| e.line).collect::<Vec<_>>(), bad_lines);
    }

    #[test]
    fn anchors_csv_keeps_good_rows_around_bad_ones(rows in rows()) {
        let mut f = b"# sebroker-anchors v1\nanchor,reference,title,type,value_max_gbp\n".to_vec();
        for (i, r) in rows.iter().enumerate() {
            match r {
                Row::Good(n) => f.extend_from_slice(format!("A,r{i},Title {n},pipeline,{n}\n").as_bytes()),
                Row::Bad(0) => f.extend_from_slice(format!("A,r{i},T,pipeline,Infinity\n").as_bytes()),
                Row::Bad(1) => f.extend_from_slice(format!("A,r{i},T,tender,1\n").as_bytes()),
                Row::Bad(_) => f.extend_from_slice(format!("A,r{i},T,pipeline,1,extra\n").as_bytes()),
            }
        }
        let p = crate::anchors::parse_file(&f, &crate::places::Places::builtin()).expect("header");
        let good: Vec<String> = rows.iter().enumerate().filter(|(_, r)| matches!(r, Row::Good(_))).map(|(i, _)| format!("r{i}")).collect();
        prop_assert_eq!(p.rows.iter().map(|(_, o)| o.reference.clone()).collect::<Vec<_>>(), good);
        let bad_lines: Vec<u64> = rows.iter().enumerate().filter(|(_, r)| matches!(r, Row::Bad(_))).map(|(i, _)| i as u64 + 3).collect();
        prop_assert_eq!(p.errors.iter().map(|e| e.line).collect::<Vec<_>>(), bad_lines);
    }
}
