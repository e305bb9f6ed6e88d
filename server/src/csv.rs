//! CSV on request, for every list and total: `?format=csv` (or `json`) or
//! `Accept: text/csv`. The handler answers JSON as usual; this layer turns
//! the answer's list (the first array of objects in it, or the object
//! itself) into CSV, flattening nested fields as `a.b` and joining lists of
//! plain values with `;`. The dashboard's totals download is written here
//! too ([`totals`]): every CSV the server sends comes from [`write`].

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{ApiError, Code};

/// Responses larger than this are not converted (they are ours, so this
/// only guards against surprises).
const MAX_CONVERT_BYTES: usize = 256 * 1024 * 1024;

pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let mut csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    if let Some(q) = req.uri().query() {
        let mut kept = Vec::new();
        for pair in q.split('&') {
            match pair.split_once('=') {
                Some(("format", "csv")) => csv = true,
                Some(("format", "json")) => csv = false,
                Some(("format", other)) => {
                    return ApiError::new(
                        Code::InvalidParameter,
                        format!("format: {other:?} is not csv or json"),
                    )
                    .into_response()
                }
                _ => kept.push(pair),
            }
        }
        let path = req.uri().path().to_owned();
        let new = if kept.is_empty() {
            path
        } else {
            format!("{path}?{}", kept.join("&"))
        };
        if let Ok(uri) = new.parse() {
            *req.uri_mut() = uri;
        }
    }
    let resp = next.run(req).await;
    if !csv || !resp.status().is_success() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_CONVERT_BYTES).await else {
        return ApiError::new(Code::Internal, "the answer could not be read for CSV")
            .into_response();
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let mut out = response(to_csv(&v), None);
    *out.status_mut() = parts.status;
    out
}

/// The content type of every CSV answer.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// A CSV answer; with `filename`, offered as a download of that name.
pub fn response(text: String, filename: Option<&str>) -> Response {
    let mut out = Response::new(Body::from(text));
    let h = out.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Some(v) =
        filename.and_then(|n| HeaderValue::from_str(&format!("attachment; filename=\"{n}\"")).ok())
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    out
}

/// The dashboard's totals download: fixed columns (an empty total still
/// has its header), progress to two decimals.
pub fn totals(t: &sebroker_ledger::totals::Totals) -> String {
    let columns = [
        "key",
        "value_pence",
        "wins",
        "target_pence",
        "progress_percent",
    ]
    .map(str::to_owned);
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            vec![
                text_cell(&r.key),
                r.value_pence.to_string(),
                r.wins.to_string(),
                r.target_pence.map(|v| v.to_string()).unwrap_or_default(),
                r.progress_percent
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    write(&columns, &rows)
}

/// The rows of an answer: an array itself, else the first array of objects
/// among its fields (the list), else the first array, else the object.
fn rows(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => {
            let arrays: Vec<&Vec<Value>> = o.values().filter_map(Value::as_array).collect();
            if let Some(a) = arrays
                .iter()
                .find(|a| a.first().is_some_and(Value::is_object))
                .or(arrays.iter().find(|a| a.is_empty()))
            {
                a.iter().collect()
            } else {
                vec![v]
            }
        }
        other => vec![other],
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                flatten(&key(k), x, out);
            }
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let parts: Vec<String> = a.iter().map(scalar).collect();
            out.push((prefix.to_owned(), parts.join(";")));
        }
        Value::Array(_) => out.push((prefix.to_owned(), v.to_string())),
        other => out.push((prefix.to_owned(), scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => text_cell(s),
        other => other.to_string(),
    }
}

/// A text cell made safe to open in a spreadsheet: text starting with
/// `=`, `+`, `-`, `@`, tab or CR would run as a formula, so it gets a
/// leading `'` (OWASP's advice). Numbers are written as numbers, never
/// through this.
pub fn text_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// The one CSV writer: a header row, then the rows (text cells already
/// passed through [`text_cell`]).
pub fn write(columns: &[String], rows: &[Vec<String>]) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail; a record error would only come from
    // I/O.
    let _ = w.write_record(columns);
    for r in rows {
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The CSV text of an answer.
pub fn to_csv(v: &Value) -> String {
    let flat: Vec<Vec<(String, String)>> = rows(v)
        .into_iter()
        .map(|r| {
            let mut cells = Vec::new();
            flatten("", r, &mut cells);
            cells
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for r in &flat {
        for (k, _) in r {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let lines: Vec<Vec<String>> = flat
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    r.iter()
                        .find(|(k, _)| k == c)
                        .map_or_else(String::new, |(_, v)| v.clone())
                })
                .collect()
        })
        .collect();
    write(&columns, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_flatten_into_columns() {
        let v = serde_json::json!({"total": 2, "rows": [
            {"key": "walsall", "value_pence": 5, "win": {"date": "2026-01-01"}, "members": ["a", "b"]},
            {"key": "smethwick, west", "value_pence": 7, "extra": null}
        ]});
        assert_eq!(
            to_csv(&v),
            "key,members,value_pence,win.date,extra\nwalsall,a;b,5,2026-01-01,\n\"smethwick, west\",,7,,\n"
        );
        assert_eq!(to_csv(&serde_json::json!({"a": 1})), "a\n1\n");
    }

    #[test]
    fn totals_download_has_fixed_columns() {
        use sebroker_ledger::totals::{TotalRow, Totals};
        let row = |key: &str, target, progress| TotalRow {
            key: key.into(),
            value_pence: 1250,
            wins: 2,
            target_pence: target,
            progress_percent: progress,
        };
        let t = Totals {
            by: "cluster",
            total_pence: 2500,
            target_pence: 5000,
            progress_percent: 50.0,
            wins: 4,
            rows: vec![
                row("walsall", Some(2500), Some(50.0)),
                row("=x, y", None, None),
            ],
        };
        assert_eq!(
            totals(&t),
            "key,value_pence,wins,target_pence,progress_percent\nwalsall,1250,2,2500,50.00\n\"'=x, y\",1250,2,,\n"
        );
        let empty = Totals {
            rows: Vec::new(),
            ..t
        };
        assert_eq!(
            totals(&empty),
            "key,value_pence,wins,target_pence,progress_percent\n"
        );
    }

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        let v = serde_json::json!([
            {"t": "=HYPERLINK(\"http://x\")", "n": -5},
            {"t": "+1", "n": 1}, {"t": "-2", "n": 2}, {"t": "@SUM(A1)", "n": 3},
            {"t": "\tx", "n": 4}, {"t": "\rx", "n": 5}, {"t": "a=b", "n": 6}
        ]);
        let out = to_csv(&v);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "n,t");
        assert_eq!(lines[1], "-5,\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(lines[2], "1,'+1");
        assert_eq!(lines[3], "2,'-2");
        assert_eq!(lines[4], "3,'@SUM(A1)");
        assert!(
            lines[5] == "4,\"'\tx\"" || lines[5] == "4,'\tx",
            "{}",
            lines[5]
        );
        assert!(out.contains("'\rx"), "{out}");
        assert_eq!(lines.last().copied(), Some("6,a=b"));
    }
}
