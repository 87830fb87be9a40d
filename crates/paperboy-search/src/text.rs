//! The full-text side: a tantivy index of title (boosted), abstract, authors, organization and
//! keywords with English stemming and BM25, filter fields (feed day, category, organization,
//! has-code) and sort fields (published, upvotes). Each document carries the slot of its
//! vector in the [`crate::ann::VectorIndex`], so the two sides join without lookups.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EnableScoring, Occur, Query, QueryParser,
    RangeQuery, Scorer, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher,
    SegmentOrdinal, TERMINATED, TantivyDocument, Term, doc,
};

use crate::ann::Slot;
use crate::{Filters, SearchDoc, SearchError, Segment};

/// Title boost relative to the other text fields (tuned on SciFact train).
pub const TITLE_BOOST: f32 = 0.3;

/// Share of the documents above which a query word counts as common (see [`KeywordQuery`]).
/// SciFact train's nDCG@10 is the same from 0.02 to 0.1 (keyword 0.6985, hybrid 0.7073); 0.05
/// splits most long claims on a 1M-paper CS catalogue.
pub const COMMON_SHARE: f64 = 0.05;

/// Candidates the rare words of a split query find per hit asked for.
pub const CANDIDATES_PER_HIT: usize = 3;

/// Fewest candidates the rare words of a split query find.
pub const MIN_CANDIDATES: usize = 100;

/// Fewest tokens of title and abstract (after stop words; "pre-training" is two) a query needs
/// to be split: shorter queries are fast in full, and each of their words counts.
pub const SPLIT_MIN_WORDS: usize = 5;

/// English stop words left out of plain-word queries (Lucene's list).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Characters of abstract shown in a highlighted snippet.
const SUMMARY_SNIPPET_CHARS: usize = 360;

/// The schema's fields.
#[derive(Clone, Copy)]
pub struct Fields {
    key: Field,
    slot: Field,
    title: Field,
    summary: Field,
    all: Field,
    authors: Field,
    organization: Field,
    org_key: Field,
    keywords: Field,
    category: Field,
    feed_day: Field,
    published: Field,
    upvotes: Field,
    has_code: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let stemmed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let plain = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        slot: b.add_u64_field("slot", FAST),
        title: b.add_text_field("title", stemmed.clone() | STORED),
        summary: b.add_text_field("summary", STORED),
        all: b.add_text_field("all", stemmed.clone()),
        authors: b.add_text_field("authors", plain.clone()),
        organization: b.add_text_field("organization", plain),
        org_key: b.add_text_field("org_key", STRING),
        keywords: b.add_text_field("keywords", stemmed),
        category: b.add_text_field("category", STRING),
        feed_day: b.add_i64_field("feed_day", INDEXED | FAST),
        published: b.add_i64_field("published", INDEXED | FAST),
        upvotes: b.add_i64_field("upvotes", FAST),
        has_code: b.add_u64_field("has_code", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// The tantivy index with its writer and reader.
pub struct TextIndex {
    index: Index,
    fields: Fields,
    writer: std::sync::Mutex<IndexWriter>,
    reader: IndexReader,
    /// Title boost used by the query parser.
    pub title_boost: f32,
    /// Share of the documents above which a query word counts as common.
    pub common_share: f64,
}

/// Threads that search one query's segments (and segments a compacted index keeps).
pub fn search_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn tv(e: tantivy::TantivyError) -> SearchError {
    SearchError::Index(e.to_string())
}

/// A keyword hit: its slot and BM25 score.
pub type KeywordHit = (Slot, f32);

impl TextIndex {
    /// Opens or creates the index in `dir` (`None`: in memory).
    pub fn open(dir: Option<&Path>) -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        let index = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| SearchError::Io(format!("{}: {e}", dir.display())))?;
                let mmap = tantivy::directory::MmapDirectory::open(dir)
                    .map_err(|e| SearchError::Index(e.to_string()))?;
                Index::open_or_create(mmap, schema).map_err(tv)?
            }
            None => Index::create_in_ram(schema),
        };
        let mut index = index;
        // One query's segments are searched in parallel: on an idle server a query takes
        // about 1/threads of the time (the results are the same).
        let threads = search_threads();
        if threads > 1 {
            index.set_multithread_executor(threads).map_err(tv)?;
        }
        let writer = index.writer(64_000_000).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(
                tantivy::directory::error::LockError::LockBusy,
                _,
            ) => SearchError::InUse(
                dir.map_or_else(|| "memory".to_owned(), |d| d.display().to_string()),
            ),
            e => tv(e),
        })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(tv)?;
        Ok(Self {
            index,
            fields,
            writer: std::sync::Mutex::new(writer),
            reader,
            title_boost: TITLE_BOOST,
            common_share: COMMON_SHARE,
        })
    }

    /// Files of the index whose checksum does not match their content (tantivy's footers);
    /// empty when every file is whole. A file that cannot even be checked counts as damaged.
    pub fn damaged_files(&self) -> Result<Vec<String>, SearchError> {
        let mut files: Vec<String> = match self.index.validate_checksum() {
            Ok(damaged) => damaged.iter().map(|p| p.display().to_string()).collect(),
            Err(e) => vec![format!("(cannot be checked: {e})")],
        };
        files.sort();
        Ok(files)
    }

    /// Keys of the documents whose vector slot is `from` or past it (or that have none).
    pub fn keys_from_slot(
        &self,
        searcher: &Searcher,
        from: Slot,
    ) -> Result<Vec<String>, SearchError> {
        let mut keys = Vec::new();
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let column = reader.fast_fields().u64("slot").map_err(tv)?;
            for doc in reader.doc_ids_alive() {
                if column.first(doc).is_some_and(|s| s < u64::from(from)) {
                    continue;
                }
                let stored: TantivyDocument = searcher
                    .doc(DocAddress::new(ord as SegmentOrdinal, doc))
                    .map_err(tv)?;
                if let Some(key) = stored.get_first(self.fields.key).and_then(|v| v.as_str()) {
                    keys.push(key.to_owned());
                }
            }
        }
        Ok(keys)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds (or replaces) a document whose vector is in `slot`.
    pub fn upsert(&self, d: &SearchDoc, slot: Slot) -> Result<(), SearchError> {
        let f = &self.fields;
        let w = self.writer();
        w.delete_term(Term::from_field_text(f.key, &d.key));
        let mut doc = doc!(
            f.key => d.key.as_str(),
            f.slot => u64::from(slot),
            f.title => d.title.as_str(),
            f.summary => d.summary.as_str(),
            f.all => format!("{} {}", d.title, d.summary),
            f.published => d.published_at.timestamp(),
            f.upvotes => d.upvotes,
            f.has_code => u64::from(d.has_code),
        );
        for a in &d.authors {
            doc.add_text(f.authors, a);
        }
        if let Some(org) = &d.organization {
            doc.add_text(f.organization, format!("{} {}", org.name, org.fullname));
            doc.add_text(f.org_key, org.name.to_lowercase());
        }
        for k in &d.keywords {
            doc.add_text(f.keywords, k);
        }
        for c in &d.categories {
            doc.add_text(f.category, c);
        }
        if let Some(day) = d.feed_date {
            doc.add_i64(f.feed_day, day_number(day));
        }
        w.add_document(doc).map_err(tv)?;
        Ok(())
    }

    /// Removes a document.
    pub fn remove(&self, key: &str) {
        self.writer()
            .delete_term(Term::from_field_text(self.fields.key, key));
    }

    /// Removes every document.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer().delete_all_documents().map_err(tv)?;
        Ok(())
    }

    /// Makes what was written durable and visible.
    pub fn commit(&self) -> Result<(), SearchError> {
        self.writer().commit().map_err(tv)?;
        self.reader.reload().map_err(tv)?;
        Ok(())
    }

    /// Merges the index into at most [`search_threads`] segments of about equal size, for the
    /// fastest queries: block-max WAND skips most in a few large segments, and the searcher
    /// runs one thread per segment. Worth it after a bulk build; later commits add small
    /// segments that the merge policy folds in as they accumulate.
    pub fn compact(&self) -> Result<(), SearchError> {
        let groups = search_threads().max(1);
        // A segment the merge policy is merging already cannot be merged again: such a merge
        // fails, and the next round sees the segments as they are once it has finished.
        for _ in 0..20 {
            // The segments as committed now (a searcher may predate merges finished since).
            let mut segments: Vec<(u32, tantivy::index::SegmentId)> = self
                .index
                .searchable_segment_metas()
                .map_err(tv)?
                .iter()
                .map(|m| (m.num_docs(), m.id()))
                .collect();
            if segments.len() <= groups {
                break;
            }
            // Largest first into the lightest group: groups of about equal size.
            segments.sort_by_key(|s| std::cmp::Reverse(s.0));
            let mut bins: Vec<(u64, Vec<tantivy::index::SegmentId>)> =
                vec![(0, Vec::new()); groups];
            for (docs, id) in segments {
                if let Some(bin) = bins.iter_mut().min_by_key(|b| b.0) {
                    bin.0 += u64::from(docs);
                    bin.1.push(id);
                }
            }
            let merges: Vec<_> = {
                let mut w = self.writer();
                bins.into_iter()
                    .filter(|b| b.1.len() > 1)
                    .map(|b| w.merge(&b.1))
                    .collect()
            };
            let mut failed = false;
            for m in merges {
                if let Err(e) = m.wait() {
                    tracing::debug!(error = %e, "a merge of search segments is tried again");
                    failed = true;
                }
            }
            if !failed {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.reader.reload().map_err(tv)?;
        Ok(())
    }

    /// In bulk mode (a rebuild) segments are not merged as they are written: [`Self::compact`]
    /// merges them once at the end, into groups of equal size, which background merges of
    /// unequal segments would prevent. Out of bulk mode, tantivy's log merge policy folds small
    /// segments together as they accumulate.
    pub fn set_bulk(&self, bulk: bool) {
        let w = self.writer();
        if bulk {
            w.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        } else {
            w.set_merge_policy(Box::new(tantivy::indexer::LogMergePolicy::default()));
        }
    }

    /// A searcher over the last commit.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The user query. Title and abstract are scored as one field (BM25 over the whole text
    /// ranks better than a sum of per-field scores), plus the title again with a boost,
    /// authors, organization and keywords.
    ///
    /// Plain words (the usual query) become one flat disjunction of term queries, one per
    /// token and field, which tantivy answers with block-max WAND: it skips the blocks of
    /// documents that cannot reach the top hits, instead of scoring every match. Queries with
    /// syntax (quoted phrases, `+`/`-`, fields, …) go through tantivy's lenient parser.
    ///
    /// Plain words are also split by how common they are in this index (see
    /// [`KeywordQuery`]).
    ///
    /// The text is bounded first (see [`bound_query`]), so no query costs more than
    /// [`MAX_QUERY_TERMS`] terms.
    pub fn parse(&self, searcher: &Searcher, text: &str) -> KeywordQuery {
        let bounded = bound_query(text);
        let text = bounded.as_str();
        let f = &self.fields;
        let schema = self.index.schema();
        if has_query_syntax(text, |name| schema.get_field(name).is_ok()) {
            let mut parser = QueryParser::for_index(
                &self.index,
                vec![f.all, f.title, f.authors, f.organization, f.keywords],
            );
            parser.set_field_boost(f.title, self.title_boost);
            return KeywordQuery {
                full: parser.parse_query_lenient(text).0,
                split: None,
            };
        }
        // Stop words match nearly every document and weigh nearly nothing in BM25, but
        // every candidate pays for them: they are left out (unless nothing else is left).
        let content: Vec<&str> = text
            .split_whitespace()
            .filter(|w| {
                let w = w
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase();
                !STOP_WORDS.contains(&w.as_str())
            })
            .collect();
        let text = if content.is_empty() {
            text.to_owned()
        } else {
            content.join(" ")
        };
        let text = text.as_str();
        // Which words are common here, by where they start in the text (every field's
        // tokenizer splits words alike; the stemmed ones differ only in the terms).
        // Documents as doc_freq counts them: deleted ones too, until merges drop them.
        let docs: f64 = searcher
            .segment_readers()
            .iter()
            .map(|r| f64::from(r.max_doc()))
            .sum();
        let mut common_at: HashMap<usize, bool> = HashMap::new();
        if let Ok(mut analyzer) = self.index.tokenizer_for_field(f.all) {
            let mut stream = analyzer.token_stream(text);
            while let Some(token) = stream.next() {
                let df = searcher
                    .doc_freq(&Term::from_field_text(f.all, &token.text))
                    .unwrap_or(0);
                common_at.insert(token.offset_from, df as f64 > self.common_share * docs);
            }
        }
        let mut rare: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut common: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in [
            (f.all, 1.0),
            (f.title, self.title_boost),
            (f.authors, 1.0),
            (f.organization, 1.0),
            (f.keywords, 1.0),
        ] {
            let Ok(mut analyzer) = self.index.tokenizer_for_field(field) else {
                continue;
            };
            let mut stream = analyzer.token_stream(text);
            while let Some(token) = stream.next() {
                let term = TermQuery::new(
                    Term::from_field_text(field, &token.text),
                    IndexRecordOption::WithFreqs,
                );
                let q: Box<dyn Query> = if (boost - 1.0f32).abs() < f32::EPSILON {
                    Box::new(term)
                } else {
                    Box::new(BoostQuery::new(Box::new(term), boost))
                };
                if common_at.get(&token.offset_from).copied().unwrap_or(false) {
                    common.push((Occur::Should, q));
                } else {
                    rare.push((Occur::Should, q));
                }
            }
        }
        let copy = |clauses: &[(Occur, Box<dyn Query>)]| {
            clauses
                .iter()
                .map(|(o, q)| (*o, q.box_clone()))
                .collect::<Vec<_>>()
        };
        let long = common_at.len() >= SPLIT_MIN_WORDS;
        let split = (long && !rare.is_empty() && !common.is_empty()).then(|| Split {
            rare: Box::new(BooleanQuery::new(copy(&rare))),
            common: Box::new(BooleanQuery::new(copy(&common))),
        });
        rare.extend(common);
        KeywordQuery {
            full: Box::new(BooleanQuery::new(rare)),
            split,
        }
    }

    /// The user query over title and abstract (the `all` field), for highlighting.
    pub fn parse_for_highlight(&self, text: &str) -> Box<dyn Query> {
        QueryParser::for_index(&self.index, vec![self.fields.all])
            .parse_query_lenient(&bound_query(text))
            .0
    }

    /// The filters as a query (`None`: no filter).
    pub fn filter_query(&self, filters: &Filters) -> Option<Box<dyn Query>> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(w) = filters.window {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.feed_day, day_number(w.start()))),
                    Bound::Excluded(Term::from_field_i64(
                        f.feed_day,
                        day_number(w.end_exclusive()),
                    )),
                )),
            ));
        }
        if let Some(c) = &filters.category {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.category, c),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(o) = &filters.organization {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.org_key, &o.to_lowercase()),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(h) = filters.has_code {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.has_code, u64::from(h)),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// `query` restricted by `filter`.
    pub fn and(query: Box<dyn Query>, filter: Option<&dyn Query>) -> Box<dyn Query> {
        match filter {
            None => query,
            Some(filter) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(filter.box_clone(), 0.0)),
                ),
            ])),
        }
    }

    /// Each segment's column of slots, opened once for all the hits of a search: opening a
    /// column reads its block table, which cost more than the lookups themselves.
    fn slot_columns(&self, searcher: &Searcher) -> Result<SlotColumns, SearchError> {
        searcher
            .segment_readers()
            .iter()
            .map(|r| r.fast_fields().u64("slot").map_err(tv))
            .collect::<Result<_, _>>()
            .map(SlotColumns)
    }

    /// The best `limit` matches of `query` with their BM25 scores. Not counting every match
    /// lets tantivy skip the documents that cannot make the top (block-max WAND).
    pub fn top(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        limit: usize,
    ) -> Result<Vec<KeywordHit>, SearchError> {
        let top = searcher
            .search(query, &TopDocs::with_limit(limit.max(1)).order_by_score())
            .map_err(tv)?;
        let slots = self.slot_columns(searcher)?;
        top.into_iter()
            .map(|(score, addr)| Ok((slots.get(addr)?, score)))
            .collect()
    }

    /// The best `limit` matches of `query` within `filter`, with their BM25 scores.
    ///
    /// A split query (see [`KeywordQuery`]) is answered in two steps: its rare words find
    /// [`CANDIDATES_PER_HIT`] × `limit` candidates (at least [`MIN_CANDIDATES`]) by block-max
    /// WAND over their short postings, then the common words' scores are added to those
    /// candidates only, read by seeking their postings. The scores are the whole query's
    /// BM25; what can differ from scoring every match is a document that matches none of the
    /// rare words, or too few to be a candidate. When the rare words match fewer documents than
    /// that, every match of the whole query is scored instead.
    pub fn top_keyword(
        &self,
        searcher: &Searcher,
        query: &KeywordQuery,
        filter: Option<&dyn Query>,
        limit: usize,
    ) -> Result<Vec<KeywordHit>, SearchError> {
        let in_full = || {
            self.top(
                searcher,
                Self::and(query.full.box_clone(), filter).as_ref(),
                limit,
            )
        };
        let Some(split) = &query.split else {
            return in_full();
        };
        let limit = limit.max(1);
        let want = (limit * CANDIDATES_PER_HIT).max(MIN_CANDIDATES);
        let rare = Self::and(split.rare.box_clone(), filter);
        let candidates = searcher
            .search(rare.as_ref(), &TopDocs::with_limit(want).order_by_score())
            .map_err(tv)?;
        if candidates.len() < want {
            return in_full();
        }
        let weight = split
            .common
            .weight(EnableScoring::enabled_from_searcher(searcher))
            .map_err(tv)?;
        let mut by_segment: Vec<Vec<(DocId, f32)>> =
            vec![Vec::new(); searcher.segment_readers().len()];
        for (score, addr) in candidates {
            if let Some(s) = by_segment.get_mut(addr.segment_ord as usize) {
                s.push((addr.doc_id, score));
            }
        }
        let mut scored: Vec<(f32, DocAddress)> = Vec::with_capacity(want);
        for (ord, mut docs) in by_segment.into_iter().enumerate() {
            if docs.is_empty() {
                continue;
            }
            docs.sort_unstable_by_key(|d| d.0);
            let mut scorer = weight
                .scorer(searcher.segment_reader(ord as SegmentOrdinal), 1.0)
                .map_err(tv)?;
            for (doc, score) in docs {
                if scorer.doc() < doc {
                    scorer.seek(doc);
                }
                let extra = if scorer.doc() == doc {
                    scorer.score()
                } else {
                    0.0
                };
                scored.push((score + extra, DocAddress::new(ord as SegmentOrdinal, doc)));
            }
        }
        // As TopDocs orders: by score, then by address.
        scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(limit);
        let slots = self.slot_columns(searcher)?;
        scored
            .into_iter()
            .map(|(score, addr)| Ok((slots.get(addr)?, score)))
            .collect()
    }

    /// Matches of `query` (or every document) ordered by a field, newest or most upvoted first.
    pub fn top_by_field(
        &self,
        searcher: &Searcher,
        query: Option<&dyn Query>,
        by_upvotes: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<KeywordHit>, usize), SearchError> {
        let all = AllQuery;
        let query = query.unwrap_or(&all);
        let field = if by_upvotes { "upvotes" } else { "published" };
        let (top, count) = searcher
            .search(
                query,
                &(
                    TopDocs::with_limit(limit.max(1))
                        .and_offset(offset)
                        .order_by_fast_field::<i64>(field, Order::Desc),
                    Count,
                ),
            )
            .map_err(tv)?;
        let slots = self.slot_columns(searcher)?;
        let hits = top
            .into_iter()
            .map(|(v, addr)| Ok((slots.get(addr)?, v.unwrap_or(0) as f32)))
            .collect::<Result<_, SearchError>>()?;
        Ok((hits, count))
    }

    /// Slots of every document matching `query`, if there are at most `max`.
    pub fn all_slots(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        max: usize,
    ) -> Result<Option<Vec<Slot>>, SearchError> {
        let count = searcher.search(query, &Count).map_err(tv)?;
        if count > max {
            return Ok(None);
        }
        let docs = searcher.search(query, &DocSetCollector).map_err(tv)?;
        let slots = self.slot_columns(searcher)?;
        let mut slots = docs
            .into_iter()
            .map(|addr| slots.get(addr))
            .collect::<Result<Vec<_>, _>>()?;
        slots.sort_unstable();
        Ok(Some(slots))
    }

    /// Stored title and abstract of `key`.
    pub fn stored(
        &self,
        searcher: &Searcher,
        key: &str,
    ) -> Result<Option<TantivyDocument>, SearchError> {
        match self.address(searcher, key)? {
            Some(addr) => Ok(Some(searcher.doc(addr).map_err(tv)?)),
            None => Ok(None),
        }
    }

    /// Where `key`'s live document is, read straight from each segment's postings of the key
    /// (a search would hand one lookup to the executor's threads).
    fn address(&self, searcher: &Searcher, key: &str) -> Result<Option<DocAddress>, SearchError> {
        let term = Term::from_field_text(self.fields.key, key);
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let inverted = reader.inverted_index(self.fields.key).map_err(tv)?;
            let Some(mut postings) = inverted
                .read_postings(&term, IndexRecordOption::Basic)
                .map_err(|e| SearchError::Index(e.to_string()))?
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if reader.alive_bitset().is_none_or(|a| a.is_alive(doc)) {
                    return Ok(Some(DocAddress::new(ord as SegmentOrdinal, doc)));
                }
                doc = postings.advance();
            }
        }
        Ok(None)
    }

    /// Stored title and abstract of `key`, if it is indexed.
    pub fn stored_text(
        &self,
        searcher: &Searcher,
        key: &str,
    ) -> Result<Option<(String, String)>, SearchError> {
        let text = |doc: &TantivyDocument, field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        Ok(self.stored(searcher, key)?.map(|doc| {
            (
                text(&doc, self.fields.title),
                text(&doc, self.fields.summary),
            )
        }))
    }

    /// Whether `key` is indexed.
    pub fn contains(&self, searcher: &Searcher, key: &str) -> Result<bool, SearchError> {
        Ok(self.stored(searcher, key)?.is_some())
    }

    /// Highlighters for `query` on title and abstract.
    pub fn highlighters(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
    ) -> Result<(SnippetGenerator, SnippetGenerator), SearchError> {
        // Both from the `all` field's terms: the abstract is stored, not indexed on its own.
        let mut title = SnippetGenerator::create(searcher, query, self.fields.all).map_err(tv)?;
        title.set_max_num_chars(10_000);
        let mut summary = SnippetGenerator::create(searcher, query, self.fields.all).map_err(tv)?;
        summary.set_max_num_chars(SUMMARY_SNIPPET_CHARS);
        Ok((title, summary))
    }

    /// Title and abstract of a stored document as highlighted segments.
    pub fn highlight(
        &self,
        doc: &TantivyDocument,
        gens: Option<&(SnippetGenerator, SnippetGenerator)>,
    ) -> (Vec<Segment>, Vec<Segment>) {
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let title = text(self.fields.title);
        let summary = text(self.fields.summary);
        match gens {
            Some((tg, sg)) => (
                segments_or_plain(&tg.snippet(&title), &title, usize::MAX),
                segments_or_plain(&sg.snippet(&summary), &summary, SUMMARY_SNIPPET_CHARS),
            ),
            None => (
                vec![Segment::text(title)],
                vec![Segment::text(truncate(&summary, SUMMARY_SNIPPET_CHARS))],
            ),
        }
    }
}

fn segments_or_plain(snippet: &tantivy::snippet::Snippet, full: &str, max: usize) -> Vec<Segment> {
    if snippet.highlighted().is_empty() {
        return vec![Segment::text(truncate(full, max))];
    }
    let fragment = snippet.fragment();
    let mut out = Vec::new();
    let mut at = 0;
    for r in snippet.highlighted() {
        if r.start > at {
            out.push(Segment::text(fragment[at..r.start].to_owned()));
        }
        out.push(Segment::highlight(fragment[r.start..r.end].to_owned()));
        at = r.end;
    }
    if at < fragment.len() {
        out.push(Segment::text(fragment[at..].to_owned()));
    }
    out
}

/// At most `max` bytes of `s`, cut at a word boundary, with "…" when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let cut = s[..end].rfind(' ').unwrap_or(end);
    format!("{}…", &s[..cut])
}

/// A parsed keyword query.
///
/// Plain words are split by how common they are in the index: a word in more than
/// [`COMMON_SHARE`] of the documents ("model", "learning" in a computer-science catalogue)
/// has a long postings list and a low BM25 weight. Block-max WAND cannot skip much of a long
/// query over many such lists (a 15-word sentence makes 30 of them in title + abstract and
/// title alone; authors, organization and keywords add short ones),
/// so [`TextIndex::top_keyword`] finds candidates by the rare words and adds the common
/// words' scores to those only — Lucene's common-terms query.
pub struct KeywordQuery {
    /// Every word in every field: what a document's score is.
    full: Box<dyn Query>,
    /// The rare and the common words apart, when there are both.
    split: Option<Split>,
}

struct Split {
    rare: Box<dyn Query>,
    common: Box<dyn Query>,
}

impl KeywordQuery {
    /// The whole query, for matching and ordering by a field.
    pub fn into_full(self) -> Box<dyn Query> {
        self.full
    }

    /// Whether the query was split into rare and common words.
    pub fn is_split(&self) -> bool {
        self.split.is_some()
    }

    /// How many terms the whole query looks up (a term in two fields counts twice).
    pub fn term_count(&self) -> usize {
        let mut n = 0;
        self.full.query_terms(&mut |_, _| n += 1);
        n
    }
}

/// Characters of a query that are read; the rest is dropped.
pub const MAX_QUERY_CHARS: usize = 500;

/// Words of a query that are read (a word: letters and digits between anything else, as the
/// tokenizers split them, operators included); the rest is dropped.
pub const MAX_QUERY_WORDS: usize = 64;

/// How deep parentheses nest in a query; deeper ones are read as plain spaces.
pub const MAX_QUERY_DEPTH: usize = 4;

/// The most terms a query looks up: each word in each of the five searched fields.
pub const MAX_QUERY_TERMS: usize = MAX_QUERY_WORDS * 5;

/// `text` cut to what a query may cost: its first [`MAX_QUERY_CHARS`] characters and
/// [`MAX_QUERY_WORDS`] words, parentheses deeper than [`MAX_QUERY_DEPTH`] (and unmatched
/// closing ones), backslashes and stars (`field:*`) turned into spaces, unclosed ones closed. Whatever is dropped is dropped
/// quietly: a query never fails for its size, and the parser's recursion stays shallow.
pub fn bound_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_QUERY_CHARS * 4));
    let mut depth = 0usize;
    let mut excess = 0usize;
    let mut words = 0usize;
    let mut in_word = false;
    for c in text.chars().take(MAX_QUERY_CHARS) {
        if c.is_alphanumeric() {
            if !in_word {
                if words == MAX_QUERY_WORDS {
                    break;
                }
                words += 1;
                in_word = true;
            }
            out.push(c);
            continue;
        }
        in_word = false;
        match c {
            '(' if depth < MAX_QUERY_DEPTH && excess == 0 => {
                depth += 1;
                out.push(c);
            }
            '(' => {
                excess += 1;
                out.push(' ');
            }
            ')' if excess > 0 => {
                excess -= 1;
                out.push(' ');
            }
            ')' if depth > 0 => {
                depth -= 1;
                out.push(c);
            }
            ')' => out.push(' '),
            // `field:*` (or `field: *`, `field:(…)*`) asks which documents have the field,
            // which only fast fields answer; no search here needs a star.
            '*' => out.push(' '),
            // Escapes build terms the parser's other paths do not expect (`title:\ ` made
            // tantivy 0.27 panic); plain text never needs them.
            '\\' => out.push(' '),
            c => out.push(c),
        }
    }
    for _ in 0..depth {
        out.push(')');
    }
    out
}

/// The slot column of each segment of one searcher.
struct SlotColumns(Vec<tantivy::columnar::Column<u64>>);

impl SlotColumns {
    /// The slot of the document at `addr`.
    fn get(&self, addr: DocAddress) -> Result<Slot, SearchError> {
        self.0
            .get(addr.segment_ord as usize)
            .and_then(|c| c.first(addr.doc_id))
            .map(|s| s as Slot)
            .ok_or_else(|| SearchError::Index("a document has no slot".into()))
    }
}

/// Whether `text` uses query syntax: a quoted phrase, a word that starts with `+` or `-`, a
/// search field (`title:…`, any name `is_field` knows, as tantivy's parser does), `AND`/`OR`/
/// `NOT`, or a boost (`word^2`). Parentheses, colons and the like alone are the punctuation of
/// plain text ("innate lymphoid cells (ILCs)", "BERT: pre-training"): grouping means nothing
/// without an operator, and plain words are answered much faster (see [`TextIndex::parse`]).
fn has_query_syntax(text: &str, is_field: impl Fn(&str) -> bool) -> bool {
    text.contains('"')
        || text.split_whitespace().any(|w| {
            let w = w.trim_start_matches('(');
            let signed = (w.starts_with('+') || w.starts_with('-'))
                && w[1..].starts_with(|c: char| c.is_alphanumeric());
            let field = w.split_once(':').is_some_and(|(f, _)| is_field(f));
            let boost = w
                .split_once('^')
                .is_some_and(|(a, b)| !a.is_empty() && b.starts_with(|c: char| c.is_ascii_digit()));
            signed || field || boost || matches!(w, "AND" | "OR" | "NOT")
        })
}

/// Days since 1970-01-01.
fn day_number(d: chrono::NaiveDate) -> i64 {
    d.signed_duration_since(chrono::NaiveDate::default())
        .num_days()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// A deterministic catalogue: words drawn with Zipf frequencies, so a few are in most
    /// documents and most in few.
    fn zipf_index(docs: usize) -> (TextIndex, Vec<String>) {
        let vocab: Vec<String> = (0..600).map(|i| format!("w{i}x")).collect();
        let weights: Vec<f64> = (1..=vocab.len()).map(|r| 1.0 / r as f64).collect();
        let total: f64 = weights.iter().sum();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let word = |next: &mut dyn FnMut() -> f64| {
            let mut x = next() * total;
            for (w, p) in vocab.iter().zip(&weights) {
                x -= p;
                if x <= 0.0 {
                    return w.clone();
                }
            }
            vocab[vocab.len() - 1].clone()
        };
        let index = TextIndex::open(None).expect("index");
        for i in 0..docs {
            let title: Vec<String> = (0..6).map(|_| word(&mut next)).collect();
            let summary: Vec<String> = (0..40).map(|_| word(&mut next)).collect();
            let d = SearchDoc {
                key: format!("k{i}"),
                title: title.join(" "),
                summary: summary.join(" "),
                ..SearchDoc::default()
            };
            index.upsert(&d, i as Slot).expect("upsert");
        }
        index.commit().expect("commit");
        let queries = (0..60)
            .map(|_| {
                (0..8)
                    .map(|_| word(&mut next))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        (index, queries)
    }

    #[test]
    fn a_split_query_scores_its_hits_in_full_and_finds_the_best() {
        let (index, queries) = zipf_index(3_000);
        let searcher = index.searcher();
        let (mut split, mut same, mut hits) = (0, 0, 0);
        for text in &queries {
            let query = index.parse(&searcher, text);
            split += usize::from(query.is_split());
            let got = index
                .top_keyword(&searcher, &query, None, 10)
                .expect("top_keyword");
            // Every match, scored by the whole query.
            let exact = index
                .top(&searcher, query.full.as_ref(), 3_000)
                .expect("top");
            let full: HashMap<Slot, f32> = exact.iter().copied().collect();
            assert!(!got.is_empty(), "{text}");
            for pair in got.windows(2) {
                assert!(pair[0].1 >= pair[1].1, "{text}: not in order");
            }
            for (slot, score) in &got {
                let want = full.get(slot).copied().expect("a hit matches the query");
                assert!((score - want).abs() < 1e-4, "{text}: {score} vs {want}");
            }
            let best: HashSet<Slot> = exact.iter().take(10).map(|h| h.0).collect();
            same += got.iter().filter(|h| best.contains(&h.0)).count();
            hits += got.len();
        }
        assert!(
            split >= queries.len() / 2,
            "only {split} queries were split"
        );
        // Here the common words are most of every query (in real queries the rare ones
        // carry the topic): 9 hits in 10 are still the exact top 10's.
        assert!(
            same * 100 >= hits * 85,
            "{same} of {hits} hits are the exact top 10's"
        );
    }

    #[test]
    fn when_the_rare_words_match_few_documents_every_match_is_scored() {
        let (index, _) = zipf_index(3_000);
        let searcher = index.searcher();
        // w599x is in a handful of documents; the others in most.
        let text = "w599x w0x w1x w2x w3x";
        let query = index.parse(&searcher, text);
        assert!(query.is_split());
        let got = index.top_keyword(&searcher, &query, None, 50).expect("top");
        let exact = index.top(&searcher, query.full.as_ref(), 50).expect("top");
        assert_eq!(got.len(), 50);
        assert_eq!(got, exact);
        assert!(
            !index.parse(&searcher, "w599x w0x w1x w2x").is_split(),
            "a short query"
        );
        let mut index = index;
        index.common_share = 1.0;
        assert!(!index.parse(&searcher, text).is_split());
    }

    #[test]
    fn only_real_query_syntax_leaves_the_plain_words_path() {
        let index = TextIndex::open(None).expect("index");
        let schema = index.index.schema();
        let has_query_syntax =
            |text: &str| has_query_syntax(text, |name| schema.get_field(name).is_ok());
        for plain in [
            "innate lymphoid cells (ILCs) in the gut",
            "BERT: pre-training of deep bidirectional transformers",
            "25(OH)D levels above 75 nmol/liter",
            "oxaliplatin-based chemotherapy",
            "the T cell receptor (TCR) signal - a review",
            "x^y notation",
        ] {
            assert!(!has_query_syntax(plain), "{plain:?}");
        }
        for syntax in [
            "\"graph neural network\"",
            "diffusion -image",
            "+diffusion video",
            "title:transformer",
            "category:cs.CL diffusion",
            "(authors:hinton OR authors:lecun)",
            "vision AND language",
            "diffusion^2 model",
        ] {
            assert!(has_query_syntax(syntax), "{syntax:?}");
        }
    }
}
