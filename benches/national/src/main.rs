//! `national`: the helpers of benches/national.sh (see that script).
//!
//! - `national corpus DATA OUT N QUERIES`: the scaled corpus, baseline text, queries, members
//! - `national bare-index OUT/bare.jsonl INDEX_DIR`: the bare tantivy baseline
//! - `national bare-serve INDEX_DIR`: the bare axum + tantivy server
//! - `national load BASE_URL QUERIES_TSV NAME EXTRA N CONNS SECS [TOKEN]`: the HTTP client

mod bare;
mod corpus;
mod load;

use std::path::Path;

use anyhow::{bail, Context, Result};

fn num(s: &str, what: &str) -> Result<usize> {
    s.parse()
        .with_context(|| format!("{what}: {s:?} is not a number"))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["corpus", data, out, n, q] => corpus::build(
            Path::new(data),
            Path::new(out),
            num(n, "N")?,
            num(q, "QUERIES")?,
        ),
        ["bare-index", jsonl, dir] => bare::index(Path::new(jsonl), Path::new(dir)),
        ["bare-serve", dir] => bare::serve(Path::new(dir)),
        ["load", base, tsv, name, extra, n, conns, secs, rest @ ..] => {
            let qs = load::queries(Path::new(tsv), extra, num(n, "N")?)?;
            let secs = num(secs, "SECS")? as u64;
            load::run(
                base,
                rest.first().copied(),
                &qs,
                name,
                num(conns, "CONNS")?,
                secs,
            )
        }
        _ => bail!("usage: see benches/national/src/main.rs"),
    }
}
