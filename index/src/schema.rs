//! The tantivy schema: which notice fields are searchable, filterable,
//! sortable and faceted, and how a notice becomes a document.

use tantivy::schema::{
    Facet, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::TantivyDocument;

use sebroker_model::notice::{Listing, Notice, Stage};

/// Bumped whenever the schema or the way documents are built changes; an
/// index of another version is rebuilt from the store. 4: column
/// dictionaries written without zstd (a build that reads no zstd blocks).
/// 5: each document stores its search listing, and `open_until`.
pub const SCHEMA_VERSION: u32 = 5;

/// Stored in the `deadline` field when a notice has none, so that it sorts last.
pub const NO_DEADLINE: i64 = i64::MAX;
/// Stored in the `value` field when a notice has no value.
pub const NO_VALUE: i64 = -1;

/// Handles to every field, resolved once.
#[derive(Clone, Debug)]
pub struct Fields {
    pub ocid: Field,
    pub title: Field,
    pub description: Field,
    pub buyer: Field,
    pub cpv_text: Field,
    pub cpv: Field,
    pub nuts: Field,
    pub stage: Field,
    pub source: Field,
    pub notice_type: Field,
    pub flags: Field,
    pub value: Field,
    pub deadline: Field,
    pub published: Field,
    /// The largest weight of social value in a lot's award (basis points; -1 none).
    pub social_value: Field,
    pub facets: Field,
    /// A tender's deadline ([`NO_DEADLINE`] if none), `i64::MIN` for any
    /// other stage: open tenders are counted in the main pass with it.
    pub open_until: Field,
    /// The notice's [`Listing`] as JSON: a hit is answered from the index
    /// without reading and decoding the stored notice.
    pub listing: Field,
}

pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_stored = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        ocid: b.add_text_field("ocid", STRING | STORED | FAST),
        title: b.add_text_field("title", text_stored.clone()),
        description: b.add_text_field("description", text_stored),
        buyer: b.add_text_field("buyer", text.clone()),
        cpv_text: b.add_text_field("cpv_text", text),
        cpv: b.add_text_field("cpv", STRING),
        nuts: b.add_text_field("nuts", STRING),
        stage: b.add_text_field("stage", STRING),
        source: b.add_text_field("source", STRING),
        notice_type: b.add_text_field("notice_type", STRING),
        flags: b.add_text_field("flags", STRING),
        value: b.add_i64_field("value", INDEXED | FAST),
        deadline: b.add_i64_field("deadline", INDEXED | FAST),
        published: b.add_i64_field("published", INDEXED | FAST),
        social_value: b.add_i64_field("social_value", INDEXED | FAST),
        facets: b.add_facet_field("facets", tantivy::schema::FacetOptions::default()),
        open_until: b.add_i64_field("open_until", FAST),
        listing: b.add_bytes_field("listing", STORED),
    };
    (b.build(), fields)
}

/// Every prefix of a CPV code from the division down (`85`, `853`, ... `85312000`),
/// so that a filter on any prefix is one term lookup.
pub fn cpv_prefixes(code: &str) -> impl Iterator<Item = &str> {
    (2..=code.len().min(8)).filter_map(move |n| code.get(..n))
}

/// Builds the tantivy document of a notice.
pub fn document(f: &Fields, n: &Notice) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.ocid, &n.ocid);
    d.add_text(f.title, &n.title);
    d.add_text(f.description, &n.description);
    if let Some(b) = &n.buyer.name {
        d.add_text(f.buyer, b);
    }
    let mut prefixes: Vec<&str> = Vec::new();
    for c in &n.cpv {
        if let Some(desc) = &c.description {
            d.add_text(f.cpv_text, desc);
        }
        prefixes.extend(cpv_prefixes(&c.code));
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    for p in prefixes {
        d.add_text(f.cpv, p);
    }
    for code in &n.nuts {
        d.add_text(f.nuts, code);
    }
    d.add_text(f.stage, n.stage.as_str());
    d.add_text(f.source, &n.source);
    if let Some((kind, _)) = n.source.split_once(':') {
        d.add_text(f.source, kind);
    }
    if let Some(t) = &n.notice_type {
        d.add_text(f.notice_type, t);
    }
    for (on, flag) in [
        (n.suitability.vcse, "vcse"),
        (n.suitability.sme, "sme"),
        (n.reserved, "reserved"),
    ] {
        if on {
            d.add_text(f.flags, flag);
        }
    }
    d.add_i64(f.value, n.value.headline_pence().unwrap_or(NO_VALUE));
    d.add_i64(
        f.deadline,
        n.deadline.map_or(NO_DEADLINE, |t| t.unix_timestamp()),
    );
    d.add_i64(f.published, n.published.map_or(0, |t| t.unix_timestamp()));
    d.add_i64(
        f.open_until,
        match n.stage {
            Stage::Tender => n.deadline.map_or(NO_DEADLINE, |t| t.unix_timestamp()),
            _ => i64::MIN,
        },
    );
    d.add_i64(f.social_value, n.social_value_bp().map_or(-1, i64::from));
    add_facets(f, n, &mut d);
    // A listing of plain strings, numbers and dates always serialises.
    if let Ok(listing) = serde_json::to_vec(&Listing::of(n)) {
        d.add_bytes(f.listing, &listing);
    }
    d
}

fn add_facets(f: &Fields, n: &Notice, d: &mut TantivyDocument) {
    d.add_facet(f.facets, Facet::from_path(["source", n.source.as_str()]));
    d.add_facet(f.facets, Facet::from_path(["stage", n.stage.as_str()]));
    let ty = n.notice_type.as_deref().unwrap_or("none");
    d.add_facet(f.facets, Facet::from_path(["type", ty]));
    for div in n.cpv_divisions() {
        d.add_facet(f.facets, Facet::from_path(["cpv", div.as_str()]));
    }
    for region in n.regions() {
        d.add_facet(f.facets, Facet::from_path(["region", region.as_str()]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpv_prefixes_cover_every_level() {
        let p: Vec<&str> = cpv_prefixes("45261920").collect();
        assert_eq!(p.first(), Some(&"45"));
        assert_eq!(p.last(), Some(&"45261920"));
        assert_eq!(p.len(), 7);
        assert_eq!(cpv_prefixes("4").count(), 0);
    }
}
