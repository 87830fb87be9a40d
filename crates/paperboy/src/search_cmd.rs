//! The search subcommands (`reindex`, `eval`), the embedder setting every command that opens
//! the index shares ([`EmbedderArgs`]), and the hook that keeps the search index of a running
//! server current ([`open_search`]): catch-ups, and the background embedding of papers a slow
//! (transformer) embedder has not reached yet.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use paperboy_search::backfill::Backfill;
use paperboy_search::eval::{Beir, evaluate, tune_weight};
use paperboy_search::{Embedder, EmbedderChoice, Feedback, SearchEngine, SearchMode};
use paperboy_store::Store;

/// The embedder of semantic search, similar papers and recommendations (shared by every
/// command that opens the search index: an index built with another embedder is rebuilt).
#[derive(Debug, Clone, Args)]
pub struct EmbedderArgs {
    /// `builtin` (the static model inside Paperboy: no setup) or `onnx:DIR` (a transformer,
    /// better results, ~15 papers/s to embed: DIR made by scripts/fetch-transformer-model.sh;
    /// papers are embedded in the background while keyword search works at once).
    #[arg(
        long,
        env = "PAPERBOY_EMBEDDER",
        default_value = "builtin",
        global = true
    )]
    pub embedder: EmbedderChoice,
    /// The ONNX Runtime library (`libonnxruntime.so`) for `onnx:`; by default ORT_DYLIB_PATH,
    /// else the one in DIR.
    #[arg(long, env = "PAPERBOY_ONNX_RUNTIME", global = true)]
    pub onnx_runtime: Option<PathBuf>,
}

impl EmbedderArgs {
    /// Loads the configured embedder.
    pub fn load(&self) -> anyhow::Result<Arc<dyn Embedder>> {
        self.embedder
            .load(self.onnx_runtime.as_deref())
            .with_context(|| format!("loading the embedder `{}`", self.embedder))
    }
}

/// Arguments of `paperboy eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A BEIR-layout folder (corpus.jsonl[.gz], queries-SPLIT.jsonl, qrels/SPLIT.tsv).
    pub dir: PathBuf,
    /// Which split's queries and judgments to use (tune on train, report on test).
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Also search the hybrid weight that maximizes nDCG@10 on this split (use on train).
    #[arg(long)]
    pub tune: bool,
    /// Overrides the title boost of keyword queries.
    #[arg(long)]
    pub title_boost: Option<f32>,
    /// Overrides the semantic weight of hybrid fusion.
    #[arg(long)]
    pub weight: Option<f32>,
    /// Overrides the share of documents above which a query word counts as common (1.0
    /// scores every query in full).
    #[arg(long)]
    pub common_share: Option<f64>,
    /// Overrides the embedder's pseudo-relevance feedback in hybrid search: `PAPERS:WEIGHT`
    /// (`3:0.5`), or `off`.
    #[arg(long, value_parser = parse_feedback)]
    pub feedback: Option<Feedback>,
}

/// `PAPERS:WEIGHT` or `off` (no feedback: zero papers).
fn parse_feedback(s: &str) -> Result<Feedback, String> {
    if s == "off" {
        return Ok(Feedback {
            papers: 0,
            weight: 0.0,
        });
    }
    let (papers, weight) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected PAPERS:WEIGHT (3:0.5) or off"))?;
    let papers = papers
        .parse()
        .map_err(|_| format!("`{papers}`: not a number of papers"))?;
    let weight: f32 = weight
        .parse()
        .map_err(|_| format!("`{weight}`: not a weight"))?;
    if !weight.is_finite() || weight < 0.0 {
        return Err(format!("`{weight}`: the weight must be 0 or more"));
    }
    Ok(Feedback { papers, weight })
}

/// How often a running server looks for changed papers (after syncs, imports by another
/// process, votes, or another replica's writes).
const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens the search index under `data_dir` with the configured embedder and keeps it
/// current: a background task catches up with `store` now and then every minute, and in
/// between embeds the papers still waiting for a vector (a transformer embedder's; see
/// [`Backfill`]). `serve` calls this; the engine it returns is what the web layer searches.
pub fn open_search(
    data_dir: &Path,
    embedder: &EmbedderArgs,
    store: Arc<dyn Store>,
) -> anyhow::Result<Arc<SearchEngine>> {
    let embedder = embedder.load()?;
    let engine = SearchEngine::open(data_dir, embedder).context("opening the search index")?;
    let engine = Arc::new(engine);
    let background = engine.clone();
    tokio::spawn(async move {
        let mut backfill = Backfill::new(&background);
        loop {
            let next = tokio::time::Instant::now() + CATCH_UP_EVERY;
            if let Err(e) = catch_up(&background, store.as_ref()).await {
                tracing::warn!("search index catch-up failed: {e:#}");
            }
            if let Err(e) = backfill
                .run_until(store.as_ref(), Some(next.into_std()))
                .await
            {
                tracing::warn!("embedding papers in the background failed: {e:#}");
            }
            tokio::time::sleep_until(next).await;
        }
    });
    Ok(engine)
}

/// Indexes what changed in the store since the last catch-up.
pub async fn catch_up(engine: &SearchEngine, store: &dyn Store) -> anyhow::Result<()> {
    let done = engine
        .catch_up(store)
        .await
        .context("updating the search index")?;
    let embedded = engine.embedded();
    if done.repaired {
        tracing::warn!(
            indexed = done.indexed,
            report = ?engine.open_report(),
            "search index repaired: it was damaged on disk and is current again"
        );
    }
    tracing::info!(
        indexed = done.indexed,
        removed = done.removed,
        repaired = done.repaired,
        embedded = embedded.done,
        waiting_for_vectors = embedded.waiting,
        "search index is current"
    );
    Ok(())
}

/// `paperboy reindex`: rebuilds the search index from the store. With a transformer
/// embedder the text index is done first, then the papers are embedded with progress; an
/// interrupted run leaves a working keyword index, and `serve` with the same embedder embeds
/// the rest.
pub async fn reindex(
    data_dir: &Path,
    embedder: &EmbedderArgs,
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let engine =
        SearchEngine::open(data_dir, embedder.load()?).context("opening the search index")?;
    let done = engine
        .rebuild(store.as_ref())
        .await
        .context("rebuilding the search index")?;
    println!(
        "indexed {} papers in {:.1} s",
        done.indexed,
        started.elapsed().as_secs_f64()
    );
    if engine.embedded().waiting > 0 {
        let embedding = std::time::Instant::now();
        let p = Backfill::new(&engine)
            .run_until(store.as_ref(), None)
            .await
            .context("embedding the papers")?;
        println!(
            "embedded {} papers in {:.1} s ({:.1} papers/s)",
            p.done,
            embedding.elapsed().as_secs_f64(),
            p.rate
        );
    }
    Ok(())
}

/// `paperboy eval DIR --split test`: one line per mode with nDCG@10, Recall@100, MRR@10, with
/// the configured embedder (the built-in one is fitted to the corpus first).
pub fn eval(args: &EvalArgs, embedder: &EmbedderArgs) -> anyhow::Result<()> {
    let data = Beir::load(&args.dir, &args.split)
        .with_context(|| format!("loading {}", args.dir.display()))?;
    let started = std::time::Instant::now();
    let mut engine = match embedder.embedder {
        EmbedderChoice::Builtin => data.engine(),
        EmbedderChoice::Onnx(_) => data.engine_with(embedder.load()?),
    }
    .context("indexing the corpus")?;
    let indexing = started.elapsed().as_secs_f64();
    if let Some(b) = args.title_boost {
        engine.set_title_boost(b);
    }
    if let Some(w) = args.weight {
        engine.semantic_weight = w;
    }
    if let Some(c) = args.common_share {
        engine.set_common_share(c);
    }
    if let Some(f) = args.feedback {
        engine.feedback = (f.papers > 0).then_some(f);
    }
    println!(
        "{}: {} documents, {} {} queries, embedder {} (indexed in {indexing:.1} s, {:.0} documents/s)",
        args.dir.display(),
        data.docs.len(),
        data.queries.len(),
        args.split,
        engine.embedder().id(),
        data.docs.len() as f64 / indexing.max(1e-9),
    );
    for (name, mode) in [
        ("keyword ", SearchMode::Keyword),
        ("semantic", SearchMode::Semantic),
        ("hybrid  ", SearchMode::Hybrid),
    ] {
        let m = evaluate(&engine, &data, mode, None)?;
        println!(
            "{name}  nDCG@10 {:.4}  Recall@100 {:.4}  MRR@10 {:.4}",
            m.ndcg10, m.recall100, m.mrr10
        );
    }
    if args.tune {
        let (w, m) = tune_weight(&engine, &data)?;
        println!(
            "best hybrid weight on {}: {w:.2} (nDCG@10 {:.4}  Recall@100 {:.4}  MRR@10 {:.4})",
            args.split, m.ndcg10, m.recall100, m.mrr10
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_is_papers_and_weight_or_off_and_anything_else_is_a_clear_error() {
        assert_eq!(
            parse_feedback("3:0.5"),
            Ok(Feedback {
                papers: 3,
                weight: 0.5
            })
        );
        assert_eq!(parse_feedback("off").map(|f| f.papers), Ok(0));
        for bad in ["3", "x:0.5", "3:x", "3:-1", "3:NaN", ""] {
            let e = parse_feedback(bad).expect_err(bad);
            assert!(e.contains('`'), "{bad}: {e}");
        }
    }
}
