//! The search subcommands (`reindex`, `eval`) and the hook that keeps the search index of a
//! running server current ([`open_search`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use paperboy_search::eval::{Beir, evaluate, tune_weight};
use paperboy_search::{SearchEngine, SearchMode, StaticEmbedder};
use paperboy_store::Store;

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
}

/// How often a running server looks for changed papers (after syncs, imports by another
/// process, votes, or another replica's writes).
const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens the search index under `data_dir` with the built-in embedder and keeps it current:
/// a background task catches up with `store` now and then every minute. `serve` calls this;
/// the engine it returns is what the web layer searches.
pub fn open_search(data_dir: &Path, store: Arc<dyn Store>) -> anyhow::Result<Arc<SearchEngine>> {
    let embedder = StaticEmbedder::builtin_shared().context("loading the built-in embedder")?;
    let engine = SearchEngine::open(data_dir, embedder).context("opening the search index")?;
    let engine = Arc::new(engine);
    let background = engine.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = catch_up(&background, store.as_ref()).await {
                tracing::warn!("search index catch-up failed: {e:#}");
            }
            tokio::time::sleep(CATCH_UP_EVERY).await;
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
    tracing::info!(
        indexed = done.indexed,
        removed = done.removed,
        total = engine.len(),
        "search index is current"
    );
    Ok(())
}

/// `paperboy reindex`: rebuilds the search index from the store.
pub async fn reindex(data_dir: &Path, store: Arc<dyn Store>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let embedder = StaticEmbedder::builtin_shared().context("loading the built-in embedder")?;
    let engine = SearchEngine::open(data_dir, embedder).context("opening the search index")?;
    let done = engine
        .rebuild(store.as_ref())
        .await
        .context("rebuilding the search index")?;
    println!(
        "indexed {} papers in {:.1} s",
        done.indexed,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `paperboy eval DIR --split test`: one line per mode with nDCG@10, Recall@100, MRR@10.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let data = Beir::load(&args.dir, &args.split)
        .with_context(|| format!("loading {}", args.dir.display()))?;
    let started = std::time::Instant::now();
    let mut engine = data.engine().context("indexing the corpus")?;
    if let Some(b) = args.title_boost {
        engine.set_title_boost(b);
    }
    if let Some(w) = args.weight {
        engine.semantic_weight = w;
    }
    println!(
        "{}: {} documents, {} {} queries (indexed in {:.1} s)",
        args.dir.display(),
        data.docs.len(),
        data.queries.len(),
        args.split,
        started.elapsed().as_secs_f64()
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
