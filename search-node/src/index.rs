//! The product index: tantivy, with the feed cursor stored in each commit's payload so that
//! documents and cursor can never disagree after a crash.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use contracts::catalog::Product;
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::directory::{META_LOCK, MmapDirectory};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{
    Directory, Index, IndexMeta, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument,
    TantivyError, Term,
};
use thiserror::Error;

/// Memory the index writer may use before it flushes a segment.
const WRITER_MEMORY: usize = 50_000_000;

/// The index failed.
#[derive(Debug, Error)]
pub enum IndexError {
    /// Another process has the index open for writing.
    #[error(
        "data directory {path} is in use by another process (tantivy's writer lock is held); \
         stop the other search-node or choose another --data-dir"
    )]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The query does not parse.
    #[error("{0}")]
    Query(String),
    /// tantivy failed.
    #[error("index error: {0}")]
    Tantivy(#[from] TantivyError),
    /// The commit payload is unreadable.
    #[error("unreadable commit payload: {0}")]
    Payload(String),
    /// Files of the index do not match their checksums.
    #[error("damaged index files: {0}")]
    Damaged(String),
}

/// What each commit records beside the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    /// Last applied feed seq.
    seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    product_id: Field,
    name: Field,
    description: Field,
    category: Field,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The product.
    pub product_id: String,
    /// BM25 score.
    pub score: f32,
    /// Its name as indexed.
    pub name: String,
    /// Its category.
    pub category: String,
}

/// The product index.
pub struct ProductIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let stemmed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        product_id: builder.add_text_field("product_id", STRING | STORED),
        name: builder.add_text_field("name", stemmed.clone() | STORED),
        description: builder.add_text_field("description", stemmed),
        category: builder.add_text_field("category", STRING | STORED),
    };
    (builder.build(), fields)
}

impl ProductIndex {
    /// Opens (creating if needed) the index in `dir` and takes its writer lock.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let (schema, fields) = schema();
        let directory = MmapDirectory::open(dir).map_err(TantivyError::from)?;
        let index = Index::open_or_create(directory, schema)?;
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(|e| match e {
                TantivyError::LockFailure(LockError::LockBusy, _) => IndexError::Locked {
                    path: dir.to_owned(),
                },
                other => IndexError::Tantivy(other),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            dir: dir.to_owned(),
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        })
    }

    /// The directory the index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The feed seq of the last commit, or `None` for an index never bootstrapped.
    pub fn committed_seq(&self) -> Result<Option<u64>, IndexError> {
        seq_of(&self.index.load_metas()?)
    }

    /// The last commit, with its files kept from garbage collection for as long as the
    /// snapshot lives, while the node goes on indexing and merging.
    pub fn snapshot(&self) -> Result<IndexSnapshot, IndexError> {
        // The lock tantivy's own readers take while they pick up a commit: garbage collection
        // waits for it, so the commit's segments are registered as in use before it can run.
        let _meta_lock = self
            .index
            .directory()
            .acquire_lock(&META_LOCK)
            .map_err(TantivyError::from)?;
        let metas = self.index.load_metas()?;
        Ok(IndexSnapshot {
            dir: self.dir.clone(),
            metas,
        })
    }

    /// Checks every file of the last commit against its checksum.
    pub fn verify(&self) -> Result<(), IndexError> {
        let damaged = self.index.validate_checksum()?;
        if damaged.is_empty() {
            Ok(())
        } else {
            let mut names: Vec<String> = damaged.iter().map(|p| p.display().to_string()).collect();
            names.sort();
            Err(IndexError::Damaged(names.join(", ")))
        }
    }

    /// Replaces the product's document (delete its term, add the new one): applying the same
    /// state twice leaves one document.
    pub fn upsert(&self, product: &Product) -> Result<(), IndexError> {
        let writer = self.writer();
        writer.delete_term(Term::from_field_text(self.fields.product_id, &product.id));
        let mut doc = TantivyDocument::default();
        doc.add_text(self.fields.product_id, &product.id);
        doc.add_text(self.fields.name, &product.name);
        doc.add_text(self.fields.description, &product.description);
        doc.add_text(self.fields.category, &product.category);
        writer.add_document(doc)?;
        Ok(())
    }

    /// Removes the product's document.
    pub fn delete(&self, product_id: &str) {
        self.writer()
            .delete_term(Term::from_field_text(self.fields.product_id, product_id));
    }

    /// Removes every document (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        self.writer().delete_all_documents()?;
        Ok(())
    }

    /// Commits everything applied so far together with the feed cursor `seq`, then makes it
    /// visible to searches.
    pub fn commit(&self, seq: u64) -> Result<(), IndexError> {
        let payload = serde_json::to_string(&Payload { seq })
            .map_err(|e| IndexError::Payload(e.to_string()))?;
        {
            let mut writer = self.writer();
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&payload);
            prepared.commit()?;
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Drops changes applied since the last commit; returns that commit's seq.
    pub fn rollback(&self) -> Result<Option<u64>, IndexError> {
        self.writer().rollback()?;
        self.committed_seq()
    }

    /// Documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// BM25 search over name (boosted) and description, optionally within one category.
    pub fn search(
        &self,
        text: &str,
        category: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<Hit>, usize), IndexError> {
        let mut parser =
            QueryParser::for_index(&self.index, vec![self.fields.name, self.fields.description]);
        parser.set_field_boost(self.fields.name, 2.0);
        let parsed = parser
            .parse_query(text)
            .map_err(|e| IndexError::Query(e.to_string()))?;
        let query: Box<dyn Query> = match category {
            Some(c) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, parsed),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.category, c),
                        IndexRecordOption::Basic,
                    )),
                ),
            ])),
            None => parsed,
        };
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(limit)
            .and_offset(offset)
            .order_by_score();
        let (docs, total) = searcher
            .search(&query, &(top, Count))
            .map_err(|e| match e {
                // A query the parser accepts can still ask for what the schema cannot do (e.g.
                // `name:*` needs a fast field): that is the client's query, not our failure.
                TantivyError::SchemaError(message) => IndexError::Query(message),
                // `field:*` is parsed without checking the field exists (an escaped name such
                // as `a\*:*` gets there); running it then names the field the query made up.
                TantivyError::FieldNotFound(field) => {
                    IndexError::Query(format!("no field {field:?} to search"))
                }
                other => IndexError::Tantivy(other),
            })?;
        if docs.iter().any(|(score, _)| !score.is_finite()) {
            return Err(IndexError::Query(
                "the query's boosts are too large: scores overflow".into(),
            ));
        }
        let mut hits = Vec::with_capacity(docs.len());
        for (score, address) in docs {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text_of = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            hits.push(Hit {
                product_id: text_of(self.fields.product_id),
                score,
                name: text_of(self.fields.name),
                category: text_of(self.fields.category),
            });
        }
        Ok((hits, total))
    }
}

fn seq_of(metas: &IndexMeta) -> Result<Option<u64>, IndexError> {
    match &metas.payload {
        None => Ok(None),
        Some(text) => serde_json::from_str::<Payload>(text)
            .map(|p| Some(p.seq))
            .map_err(|e| IndexError::Payload(e.to_string())),
    }
}

/// One commit of the index: its `meta.json` and the files it names. Those files are not
/// deleted while this value lives (tantivy collects only files no live segment meta names).
pub struct IndexSnapshot {
    dir: PathBuf,
    metas: IndexMeta,
}

impl IndexSnapshot {
    /// The feed seq the commit recorded (`None`: never bootstrapped).
    pub fn seq(&self) -> Result<Option<u64>, IndexError> {
        seq_of(&self.metas)
    }

    /// The commit's segment files present in the directory, in name order.
    pub fn files(&self) -> Vec<String> {
        let mut files: Vec<String> = self
            .metas
            .list_segment_files()
            .into_iter()
            // The list names candidates, e.g. a delete file for a segment without deletes.
            .filter(|p| self.dir.join(p).is_file())
            .map(|p| p.display().to_string())
            .collect();
        files.sort();
        files
    }

    /// Opens one of the commit's files.
    pub fn open(&self, name: &str) -> std::io::Result<std::fs::File> {
        std::fs::File::open(self.dir.join(name))
    }

    /// The commit's `meta.json`, as tantivy writes it.
    pub fn meta_json(&self) -> Result<Vec<u8>, IndexError> {
        let mut json = serde_json::to_vec_pretty(&self.metas)
            .map_err(|e| IndexError::Payload(e.to_string()))?;
        json.push(b'\n');
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, name: &str, description: &str, category: &str) -> Product {
        Product {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            category: category.into(),
            price_minor: 1,
            currency: "EUR".into(),
            stock: 1,
            version: 1,
            updated_seq: 1,
            updated_at: String::new(),
        }
    }

    #[test]
    fn stems_ranks_filters_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let index = ProductIndex::open(dir.path()).unwrap();
        assert_eq!(index.committed_seq().unwrap(), None);
        index
            .upsert(&product(
                "a",
                "Running Shoes",
                "light trail runners",
                "footwear",
            ))
            .unwrap();
        index
            .upsert(&product(
                "b",
                "Kettle",
                "for people who run to the kettle",
                "kitchen",
            ))
            .unwrap();
        index
            .upsert(&product("c", "Desk", "oak", "office"))
            .unwrap();
        index.commit(7).unwrap();
        assert_eq!(index.committed_seq().unwrap(), Some(7));

        let (hits, total) = index.search("running", None, 10, 0).unwrap();
        assert_eq!(total, 2, "stemming matches running and run");
        assert_eq!(
            hits[0].product_id, "a",
            "a name match outranks a description match"
        );
        let (hits, _) = index.search("runs", Some("kitchen"), 10, 0).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].product_id, "b");

        index
            .upsert(&product("a", "Sandals", "beach", "footwear"))
            .unwrap();
        index
            .upsert(&product("a", "Sandals", "beach", "footwear"))
            .unwrap();
        index.delete("c");
        index.commit(9).unwrap();
        assert_eq!(index.num_docs(), 2);
        assert_eq!(index.search("sandals", None, 10, 0).unwrap().1, 1);
        assert_eq!(index.search("oak", None, 10, 0).unwrap().1, 0);
        assert!(matches!(
            index.search("name:(", None, 10, 0),
            Err(IndexError::Query(_))
        ));
    }

    #[test]
    fn a_query_naming_no_field_is_the_clients_error() {
        let dir = tempfile::tempdir().unwrap();
        let index = ProductIndex::open(dir.path()).unwrap();
        for q in [" 1e999\\*:* ", "a\\*:*", "nofield:*"] {
            assert!(
                matches!(index.search(q, None, 10, 0), Err(IndexError::Query(_))),
                "{q:?}"
            );
        }
    }

    /// Files of a commit whose documents are all deleted afterwards: gone after the next
    /// commit's garbage collection, unless a snapshot holds them.
    fn files_after_deleting_everything(hold: bool) -> (Vec<String>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let index = ProductIndex::open(dir.path()).unwrap();
        for i in 0..30 {
            let id = format!("p{i}");
            index
                .upsert(&product(&id, "Kettle", "", "kitchen"))
                .unwrap();
        }
        index.commit(1).unwrap();
        let snapshot = index.snapshot().unwrap();
        let files = snapshot.files();
        assert!(!files.is_empty());
        let kept = hold.then_some(snapshot);
        for i in 0..30 {
            index.delete(&format!("p{i}"));
        }
        index.upsert(&product("q", "Desk", "", "office")).unwrap();
        index.commit(2).unwrap();
        // Garbage collection runs after a commit; a second one makes sure it has.
        index.upsert(&product("r", "Lamp", "", "office")).unwrap();
        index.commit(3).unwrap();
        let present = files
            .iter()
            .filter(|f| dir.path().join(f).exists())
            .cloned()
            .collect();
        assert_eq!(kept.map(|s| s.seq().unwrap()), hold.then_some(Some(1)));
        (files, present)
    }

    #[test]
    fn a_snapshot_keeps_its_files_from_garbage_collection() {
        let (files, present) = files_after_deleting_everything(false);
        assert!(
            present.len() < files.len(),
            "without a snapshot the dropped segment's files are collected: {present:?}"
        );
        let (files, present) = files_after_deleting_everything(true);
        assert_eq!(
            present, files,
            "a held snapshot keeps every file of its commit"
        );
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = ProductIndex::open(dir.path()).unwrap();
        assert!(matches!(
            ProductIndex::open(dir.path()),
            Err(IndexError::Locked { .. })
        ));
    }
}
