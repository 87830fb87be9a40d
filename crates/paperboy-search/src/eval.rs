//! Relevance evaluation on a BEIR-layout data set (`corpus.jsonl[.gz]`,
//! `queries-<split>.jsonl` or `queries.jsonl`, `qrels/<split>.tsv`): nDCG@10, Recall@100 and
//! MRR@10 for keyword-only, semantic-only and hybrid search, plus a grid search of the hybrid
//! weight (use it on the train split only).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use crate::{
    Embedder, SearchDoc, SearchEngine, SearchError, SearchMode, SearchQuery, StaticEmbedder,
};

/// A loaded BEIR data set.
pub struct Beir {
    /// Documents.
    pub docs: Vec<SearchDoc>,
    /// Queries: id and text.
    pub queries: Vec<(String, String)>,
    /// Relevance judgments: query id → document id → grade.
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> SearchError {
    SearchError::Io(format!("{}: {e}", path.display()))
}

fn lines(path: &Path) -> Result<Vec<String>, SearchError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    BufReader::new(reader)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| io(path, e))
}

fn first_existing(dir: &Path, names: &[&str]) -> Result<std::path::PathBuf, SearchError> {
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| {
            SearchError::Io(format!(
                "{}: none of {} exists",
                dir.display(),
                names.join(", ")
            ))
        })
}

impl Beir {
    /// Loads `split` (`train`, `test`, `dev`) of the data set in `dir`.
    pub fn load(dir: &Path, split: &str) -> Result<Self, SearchError> {
        let corpus = first_existing(dir, &["corpus.jsonl.gz", "corpus.jsonl"])?;
        let mut docs = Vec::new();
        for (i, line) in lines(&corpus)?.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| io(&corpus, format!("line {}: {e}", i + 1)))?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
            docs.push(SearchDoc {
                key: field("_id"),
                title: field("title"),
                summary: field("text"),
                ..SearchDoc::default()
            });
        }
        let qfile = first_existing(dir, &[&format!("queries-{split}.jsonl"), "queries.jsonl"])?;
        let mut queries = Vec::new();
        for (i, line) in lines(&qfile)?.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| io(&qfile, format!("line {}: {e}", i + 1)))?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
            queries.push((field("_id"), field("text")));
        }
        let qrels_path = dir.join("qrels").join(format!("{split}.tsv"));
        let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
        for line in lines(&qrels_path)?.iter().skip(1) {
            let parts: Vec<&str> = line.split('\t').collect();
            if let [q, d, s] = parts[..]
                && let Ok(s) = s.trim().parse::<u32>()
            {
                qrels
                    .entry(q.to_owned())
                    .or_default()
                    .insert(d.to_owned(), s);
            }
        }
        queries.retain(|(id, _)| qrels.contains_key(id));
        Ok(Self {
            docs,
            queries,
            qrels,
        })
    }

    /// An in-memory engine over the corpus, with the built-in embedder fitted to it.
    pub fn engine(&self) -> Result<SearchEngine, SearchError> {
        let mut embedder = StaticEmbedder::builtin()?;
        let texts: Vec<String> = self
            .docs
            .iter()
            .map(|d| format!("{}. {}", d.title, d.summary))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        embedder.fit_to_corpus(&refs);
        self.engine_with(Arc::new(embedder))
    }

    /// An in-memory engine over the corpus with `embedder` (every document embedded now).
    pub fn engine_with(&self, embedder: Arc<dyn Embedder>) -> Result<SearchEngine, SearchError> {
        let engine = SearchEngine::in_memory(embedder)?;
        for chunk in self.docs.chunks(2_000) {
            engine.index_docs(chunk)?;
        }
        engine.commit()?;
        Ok(engine)
    }
}

/// Mean metrics over the queries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    /// nDCG@10.
    pub ndcg10: f64,
    /// Recall@100.
    pub recall100: f64,
    /// MRR@10.
    pub mrr10: f64,
}

/// Scores one ranking against its judgments.
pub fn metrics_of(ranked: &[String], rel: &HashMap<String, u32>) -> Metrics {
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, d)| f64::from(*rel.get(d).unwrap_or(&0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = rel.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, &g)| f64::from(g) / ((i + 2) as f64).log2())
        .sum();
    let relevant = rel.values().filter(|&&g| g > 0).count();
    let found = ranked
        .iter()
        .take(100)
        .filter(|d| rel.get(*d).is_some_and(|&g| g > 0))
        .count();
    let mrr = ranked
        .iter()
        .take(10)
        .position(|d| rel.get(d).is_some_and(|&g| g > 0))
        .map_or(0.0, |p| 1.0 / (p + 1) as f64);
    Metrics {
        ndcg10: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        recall100: if relevant > 0 {
            found as f64 / relevant as f64
        } else {
            0.0
        },
        mrr10: mrr,
    }
}

/// Runs every query in `mode` and averages the metrics.
pub fn evaluate(
    engine: &SearchEngine,
    data: &Beir,
    mode: SearchMode,
    semantic_weight: Option<f32>,
) -> Result<Metrics, SearchError> {
    let mut sum = Metrics::default();
    for (qid, text) in &data.queries {
        let mut q = SearchQuery::new(text.clone());
        q.mode = mode;
        q.limit = 100;
        q.highlight = false;
        q.semantic_weight = semantic_weight;
        let ranked: Vec<String> = engine.search(&q)?.hits.into_iter().map(|h| h.key).collect();
        let m = metrics_of(&ranked, &data.qrels[qid]);
        sum.ndcg10 += m.ndcg10;
        sum.recall100 += m.recall100;
        sum.mrr10 += m.mrr10;
    }
    let n = data.queries.len().max(1) as f64;
    Ok(Metrics {
        ndcg10: sum.ndcg10 / n,
        recall100: sum.recall100 / n,
        mrr10: sum.mrr10 / n,
    })
}

/// Tries hybrid weights 0, 0.05, …, 1 and returns (best weight, its metrics) by nDCG@10.
pub fn tune_weight(engine: &SearchEngine, data: &Beir) -> Result<(f32, Metrics), SearchError> {
    let mut best = (0.0, Metrics::default());
    for i in 0..=20 {
        let w = i as f32 * 0.05;
        let m = evaluate(engine, data, SearchMode::Hybrid, Some(w))?;
        if m.ndcg10 > best.1.ndcg10 {
            best = (w, m);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_ranking_scores_one_and_a_miss_scores_zero() {
        let rel: HashMap<String, u32> = [("a".to_owned(), 1), ("b".to_owned(), 1)].into();
        let m = metrics_of(&["a".into(), "b".into(), "c".into()], &rel);
        assert!((m.ndcg10 - 1.0).abs() < 1e-9);
        assert!((m.recall100 - 1.0).abs() < 1e-9);
        assert!((m.mrr10 - 1.0).abs() < 1e-9);
        let m = metrics_of(&["c".into(), "a".into()], &rel);
        assert!((m.mrr10 - 0.5).abs() < 1e-9);
        assert!((m.recall100 - 0.5).abs() < 1e-9);
        assert!(m.ndcg10 > 0.0 && m.ndcg10 < 1.0);
        let m = metrics_of(&["x".into()], &rel);
        assert_eq!(m.ndcg10, 0.0);
    }
}
