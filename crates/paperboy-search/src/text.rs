//! The full-text side: a tantivy index of title (boosted), abstract, authors, organization and
//! keywords with English stemming and BM25, filter fields (feed day, category, organization,
//! has-code) and sort fields (published, upvotes). Each document carries the slot of its
//! vector in the [`crate::ann::VectorIndex`], so the two sides join without lookups.

use std::ops::Bound;
use std::path::Path;

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery,
    TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher,
    SegmentOrdinal, TERMINATED, TantivyDocument, Term, doc,
};

use crate::ann::Slot;
use crate::{Filters, SearchDoc, SearchError, Segment};

/// Title boost relative to the other text fields (tuned on SciFact train).
pub const TITLE_BOOST: f32 = 0.3;

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
        let writer = index.writer(64_000_000).map_err(tv)?;
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
        })
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
    pub fn parse(&self, text: &str) -> Box<dyn Query> {
        let f = &self.fields;
        let schema = self.index.schema();
        if has_query_syntax(text, |name| schema.get_field(name).is_ok()) {
            let mut parser = QueryParser::for_index(
                &self.index,
                vec![f.all, f.title, f.authors, f.organization, f.keywords],
            );
            parser.set_field_boost(f.title, self.title_boost);
            return parser.parse_query_lenient(text).0;
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
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
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
                clauses.push((Occur::Should, q));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// The user query over title and abstract (the `all` field), for highlighting.
    pub fn parse_for_highlight(&self, text: &str) -> Box<dyn Query> {
        QueryParser::for_index(&self.index, vec![self.fields.all])
            .parse_query_lenient(text)
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
    use super::*;

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
