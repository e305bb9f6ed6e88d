//! The bare baseline: tantivy of the same version indexing the same text
//! fields from the prepared `bare.jsonl` (one indexing thread, one commit),
//! and a bare axum server answering keyword + region queries (top 10 ids).

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use axum::extract::{Query as AxQuery, State};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, TantivyDocument, Term};

struct Fields {
    ocid: Field,
    title: Field,
    description: Field,
    buyer: Field,
    cpv: Field,
    nuts: Field,
    places: Field,
    value: Field,
    published: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let f = Fields {
        ocid: b.add_text_field("ocid", STRING | STORED),
        title: b.add_text_field("title", text.clone()),
        description: b.add_text_field("description", text.clone()),
        buyer: b.add_text_field("buyer", text.clone()),
        cpv: b.add_text_field("cpv", STRING),
        nuts: b.add_text_field("nuts", STRING),
        places: b.add_text_field("places", text),
        value: b.add_i64_field("value", INDEXED | FAST),
        published: b.add_i64_field("published", INDEXED | FAST),
    };
    (b.build(), f)
}

/// Indexes `bare.jsonl` into `index_dir`; prints the time taken.
pub fn index(jsonl: &Path, index_dir: &Path) -> Result<()> {
    let (schema, f) = schema();
    std::fs::create_dir_all(index_dir)?;
    let start = Instant::now();
    let index = Index::create_in_dir(index_dir, schema)?;
    let mut w = index.writer_with_num_threads(1, 200_000_000)?;
    let file =
        std::fs::File::open(jsonl).with_context(|| format!("opening {}", jsonl.display()))?;
    let mut n = 0u64;
    for line in std::io::BufReader::new(file).lines() {
        let v: Value = serde_json::from_str(&line?)?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let mut d = doc!(
            f.ocid => s("ocid"), f.title => s("title"), f.description => s("description"),
            f.buyer => s("buyer"), f.places => s("places"),
            f.value => v["value"].as_i64().unwrap_or(-1),
            f.published => v["published"].as_i64().unwrap_or(0),
        );
        for c in v["cpv"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            d.add_text(f.cpv, c);
        }
        for c in v["nuts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            d.add_text(f.nuts, c);
        }
        w.add_document(d)?;
        n += 1;
    }
    w.commit()?;
    let secs = start.elapsed().as_secs_f64();
    println!("bare_index_docs {n}");
    println!("bare_index_seconds {secs:.3}");
    Ok(())
}

struct Served {
    reader: IndexReader,
    parser: QueryParser,
    f: Fields,
}

#[derive(serde::Deserialize)]
struct Params {
    q: Option<String>,
    region: Option<String>,
}

async fn search(State(s): State<Arc<Served>>, AxQuery(p): AxQuery<Params>) -> Json<Value> {
    let searcher = s.reader.searcher();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(q) = p.q.as_deref().filter(|q| !q.is_empty()) {
        clauses.push((Occur::Must, s.parser.parse_query_lenient(q).0));
    }
    if let Some(r) = p.region.as_deref() {
        let t = Term::from_field_text(s.f.nuts, r);
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(t, IndexRecordOption::Basic)),
        ));
    }
    let q = BooleanQuery::new(clauses);
    let top = TopDocs::with_limit(10).order_by_score();
    let Ok((docs, total)) = searcher.search(&q, &(top, Count)) else {
        return Json(json!({"error": "search failed"}));
    };
    let ids: Vec<String> = docs
        .into_iter()
        .filter_map(|(_, a)| searcher.doc::<TantivyDocument>(a).ok())
        .filter_map(|d| {
            use tantivy::schema::Value as _;
            d.get_first(s.f.ocid)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    Json(json!({"total": total, "ids": ids}))
}

/// Serves `index_dir` on 127.0.0.1 (an ephemeral port, printed first).
pub fn serve(index_dir: &Path) -> Result<()> {
    let index = Index::open_in_dir(index_dir)?;
    let (_, f) = schema();
    let parser = QueryParser::for_index(&index, vec![f.title, f.description, f.buyer]);
    let reader = index.reader()?;
    let state = Arc::new(Served { reader, parser, f });
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let app = axum::Router::new()
            .route("/search", get(search))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("bare listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
