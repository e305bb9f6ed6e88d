//! Opening the index folder, writing notices into it, and committing with a
//! payload that records which store sequence the index reflects.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::{IndexError, Result};
use crate::schema::{self, Fields, SCHEMA_VERSION};
use sebroker_model::notice::Notice;

/// Writer heap: tantivy needs at least 15 MB per thread; 64 MB keeps segment
/// counts low during a backfill without a large footprint.
const WRITER_HEAP_BYTES: usize = 64 * 1024 * 1024;

/// What each commit records, so a restart knows how far the index got.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommitPayload {
    pub schema_version: u32,
    /// The last store change sequence applied to the index.
    pub store_seq: u64,
}

/// The full-text index of notices.
pub struct NoticeIndex {
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    writer: Mutex<IndexWriter>,
    pub(crate) fields: Fields,
    path: PathBuf,
}

impl NoticeIndex {
    /// Opens the index in `dir`, creating it when missing. An index written
    /// with another schema version is wiped (it is derived data) and reported
    /// as empty, so the caller rebuilds it from the store.
    pub fn open(dir: &Path) -> Result<NoticeIndex> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Folder {
            path: dir.to_owned(),
            source,
        })?;
        let (schema, fields) = schema::build();
        let index = match Self::open_existing(dir, &schema)? {
            Some(index) => index,
            None => {
                Self::wipe(dir)?;
                Index::create_in_dir(dir, schema)?
            }
        };
        let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_HEAP_BYTES)?;
        // Removes files left behind by a crash between two commits.
        if let Err(e) = writer.garbage_collect_files().wait() {
            tracing::warn!(error = %e, "could not clean stray index files");
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(NoticeIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            path: dir.to_owned(),
        })
    }

    /// Opens an index only if it exists with exactly our schema and version.
    fn open_existing(dir: &Path, schema: &Schema) -> Result<Option<Index>> {
        let mmap = MmapDirectory::open(dir).map_err(|e| IndexError::Folder {
            path: dir.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let exists = Index::exists(&mmap).map_err(|e| IndexError::Folder {
            path: dir.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if !exists {
            return Ok(None);
        }
        let index = match Index::open(mmap) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "index unreadable; it will be rebuilt from the store");
                return Ok(None);
            }
        };
        let same_schema = index.schema() == *schema;
        let payload = Self::payload_of(&index);
        if !same_schema || payload.is_some_and(|p| p.schema_version != SCHEMA_VERSION) {
            tracing::info!("index schema changed; it will be rebuilt from the store");
            return Ok(None);
        }
        Ok(Some(index))
    }

    fn wipe(dir: &Path) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|source| IndexError::Folder {
            path: dir.to_owned(),
            source,
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(|source| IndexError::Folder { path: p, source })?;
        }
        Ok(())
    }

    fn payload_of(index: &Index) -> Option<CommitPayload> {
        let metas = index.load_metas().ok()?;
        serde_json::from_str(metas.payload.as_deref()?).ok()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store sequence the last commit reflects (0 for a fresh index).
    pub fn indexed_seq(&self) -> u64 {
        Self::payload_of(&self.index).map_or(0, |p| p.store_seq)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        // A panic while holding the lock leaves the writer usable: tantivy
        // keeps uncommitted work in the writer, and the next commit or
        // rollback settles it.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces a notice (by ocid). Visible after `commit`.
    pub fn upsert(&self, notice: &Notice) -> Result<()> {
        let doc: TantivyDocument = schema::document(&self.fields, notice);
        let w = self.writer();
        w.delete_term(Term::from_field_text(self.fields.ocid, &notice.ocid));
        w.add_document(doc)?;
        Ok(())
    }

    pub fn delete(&self, ocid: &str) {
        self.writer()
            .delete_term(Term::from_field_text(self.fields.ocid, ocid));
    }

    /// Removes every document (before a rebuild).
    pub fn clear(&self) -> Result<()> {
        self.writer().delete_all_documents()?;
        Ok(())
    }

    /// Starts merging every committed segment into one (on tantivy's merge
    /// thread); `wait` on the answer, then searches visit one segment.
    /// `None` when there is one segment or none.
    pub fn start_merge(&self) -> Result<Option<PendingMerge<'_>>> {
        let ids = self.index.searchable_segment_ids()?;
        if ids.len() < 2 {
            return Ok(None);
        }
        let future = self.writer().merge(&ids);
        Ok(Some(PendingMerge {
            index: self,
            future,
        }))
    }

    /// Commits everything written so far, recording `store_seq`, and makes it
    /// visible to searches.
    pub fn commit(&self, store_seq: u64) -> Result<()> {
        let payload = format!(r#"{{"schema_version":{SCHEMA_VERSION},"store_seq":{store_seq}}}"#);
        {
            let mut w = self.writer();
            let mut prepared = w.prepare_commit()?;
            prepared.set_payload(&payload);
            prepared.commit()?;
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Bytes on disk of the index folder.
    pub fn size_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.path)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// A merge under way (see [`NoticeIndex::start_merge`]).
pub struct PendingMerge<'a> {
    index: &'a NoticeIndex,
    future: tantivy::FutureResult<Option<tantivy::index::SegmentMeta>>,
}

impl PendingMerge<'_> {
    /// Waits for the merge and makes its segment the one searches read.
    pub fn wait(self) -> Result<()> {
        self.future.wait()?;
        self.index.reader.reload()?;
        Ok(())
    }
}
