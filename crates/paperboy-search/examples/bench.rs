//! Search benchmark over an index built by `paperboy reindex`: latency of keyword and hybrid
//! queries (query embedding included), recommendations from 50 upvotes, recall@10 of the
//! vector index against exact search, and the same keyword queries on SQLite FTS5 over the
//! same papers. Run by `scripts/bench-search.sh`.
//!
//! `cargo run --release -p paperboy-search --example bench -- DATA_DIR QUERIES.jsonl
//! [--latency-only] [--skip-fts] [--common-share X] [--feedback PAPERS:WEIGHT] [--runs N]`
//!
//! `--latency-only` stops after the query latencies, `--skip-fts` before SQLite FTS5; `--common-share 1.0` scores every keyword
//! query in full (no split into rare and common words), for comparison; `--runs N` repeats
//! the latency rounds N times.

use std::path::PathBuf;
use std::time::Instant;

use paperboy_core::ArxivId;
use paperboy_search::{Feedback, SearchEngine, SearchMode, SearchQuery, StaticEmbedder};

fn pct(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs.get(i).copied().unwrap_or(f64::NAN)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(qfile)) = (args.get(1), args.get(2)) else {
        return Err(
            "usage: bench DATA_DIR QUERIES.jsonl [--latency-only] [--skip-fts] [--common-share X] \
             [--feedback PAPERS:WEIGHT] [--runs N]"
                .into(),
        );
    };
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let latency_only = args.iter().any(|a| a == "--latency-only");
    let skip_fts = args.iter().any(|a| a == "--skip-fts");
    let common_share: Option<f64> = option("--common-share").map(|s| s.parse()).transpose()?;
    // `--feedback PAPERS:WEIGHT`: the transformer's pseudo-relevance feedback, to time its cost.
    let feedback = option("--feedback")
        .map(|s| -> Result<Feedback, Box<dyn std::error::Error>> {
            let (p, w) = s.split_once(':').ok_or("--feedback PAPERS:WEIGHT")?;
            Ok(Feedback {
                papers: p.parse()?,
                weight: w.parse()?,
            })
        })
        .transpose()?;
    let runs: usize = option("--runs")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1);
    let dir = PathBuf::from(dir);
    let queries: Vec<String> = std::fs::read_to_string(qfile)?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .take(1000)
        .collect();

    let t = Instant::now();
    let mut engine = SearchEngine::open(&dir, StaticEmbedder::builtin_shared()?)?;
    println!("open: {:.0} ms, {} papers", ms(t), engine.len());
    if let Some(f) = feedback {
        engine.feedback = Some(f);
        println!("feedback: {f:?}");
    }
    if let Some(share) = common_share {
        engine.set_common_share(share);
        println!("common share: {share}");
    }

    // One untimed round first: a server answers from a warm page cache, and the first queries
    // after opening fault the index's pages in.
    for q in &queries {
        let mut sq = SearchQuery::new(q.clone());
        sq.highlight = true;
        std::hint::black_box(engine.search(&sq)?);
    }
    // Latency of whole queries (20 highlighted hits), then of their parts.
    for _ in 0..runs {
        for (name, mode, highlight) in [
            ("keyword", SearchMode::Keyword, true),
            ("hybrid", SearchMode::Hybrid, true),
            ("keyword, no highlighting", SearchMode::Keyword, false),
            ("semantic, no highlighting", SearchMode::Semantic, false),
            ("hybrid, no highlighting", SearchMode::Hybrid, false),
        ] {
            let mut times = Vec::new();
            for q in &queries {
                let mut sq = SearchQuery::new(q.clone());
                sq.mode = mode;
                sq.highlight = highlight;
                let t = Instant::now();
                let r = engine.search(&sq)?;
                times.push(ms(t));
                std::hint::black_box(r);
            }
            let (p50, p99) = (pct(times.clone(), 0.5), pct(times, 0.99));
            println!(
                "{name:26} p50 {p50:.2} ms  p99 {p99:.2} ms  ({} queries)",
                queries.len()
            );
        }
    }
    if latency_only {
        return Ok(());
    }
    let embedder = engine.embedder().clone();
    let mut times = Vec::new();
    for q in &queries {
        let t = Instant::now();
        std::hint::black_box(embedder.embed_query(q));
        times.push(ms(t));
    }
    println!(
        "{:26} p50 {:.3} ms  p99 {:.3} ms",
        "embedding the query",
        pct(times.clone(), 0.5),
        pct(times, 0.99)
    );

    let keys = engine.sample_keys(5_000);
    let mut times = Vec::new();
    for r in 0..100 {
        let liked: Vec<ArxivId> = keys
            .iter()
            .skip(r * 37 % keys.len().max(1))
            .step_by(97)
            .take(50)
            .filter_map(|k| ArxivId::parse(k).ok())
            .collect();
        let t = Instant::now();
        let recs = engine.recommend(&liked, 20);
        times.push(ms(t));
        std::hint::black_box(recs);
    }
    println!(
        "recommend (50 upvotes) p50 {:.2} ms  p99 {:.2} ms",
        pct(times.clone(), 0.5),
        pct(times, 0.99)
    );

    // Recall of the vector graph against exact search, and semantic latency, by ef.
    let sample: Vec<&str> = queries.iter().take(200).map(String::as_str).collect();
    let papers: Vec<String> = keys.iter().step_by(25).take(200).cloned().collect();
    for ef in [128, 256, 384, 512, 768, 1024] {
        engine.set_ef_search(ef, ef);
        let recall = engine.ann_recall(&sample, 10);
        let recall_papers = engine.ann_recall_of_papers(&papers, 10);
        let mut times = Vec::new();
        for q in &queries {
            let mut sq = SearchQuery::new(q.clone());
            sq.mode = SearchMode::Semantic;
            sq.highlight = false;
            sq.limit = 10;
            let t = Instant::now();
            std::hint::black_box(engine.search(&sq)?);
            times.push(ms(t));
        }
        println!(
            "ef {ef:3}: vector index recall@10 vs exact: query embeddings {:.4} \
             (ties within 1e-3: {:.4}), paper vectors {:.4} (ties: {:.4}); \
             semantic top 10 p50 {:.2} ms  p99 {:.2} ms",
            recall.exact_ids,
            recall.within_epsilon,
            recall_papers.exact_ids,
            recall_papers.within_epsilon,
            pct(times.clone(), 0.5),
            pct(times, 0.99)
        );
    }
    engine.set_ef_search(
        paperboy_search::ann::DEFAULT_EF_SEARCH,
        paperboy_search::ann::QUERY_EF_SEARCH,
    );

    if skip_fts {
        return Ok(());
    }
    // SQLite FTS5 over the same papers.
    let store = dir.join("paperboy.sqlite");
    let fts = dir.join("fts-bench.sqlite");
    let _ = std::fs::remove_file(&fts);
    let conn = rusqlite::Connection::open(&fts)?;
    let t = Instant::now();
    conn.execute_batch(&format!(
        "ATTACH DATABASE '{}' AS store;
         CREATE VIRTUAL TABLE fts USING fts5(title, summary, tokenize = 'porter');
         INSERT INTO fts (rowid, title, summary) SELECT rowid, title, summary FROM store.papers;",
        store.display()
    ))?;
    println!("fts5 build: {:.1} s", t.elapsed().as_secs_f64());
    let mut stmt = conn.prepare(
        "SELECT rowid, bm25(fts, 1.5, 1.0) FROM fts WHERE fts MATCH ?1 ORDER BY bm25(fts, 1.5, 1.0) LIMIT 20",
    )?;
    // FTS5 is slow at this scale (seconds per query): time at most FTS_QUERIES queries so the
    // run always ends with its figures.
    const FTS_QUERIES: usize = 100;
    let mut times = Vec::new();
    let mut ours = Vec::new();
    for q in queries.iter().take(FTS_QUERIES) {
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{w}\""))
            .collect();
        if words.is_empty() {
            continue;
        }
        let m = words.join(" OR ");
        let t = Instant::now();
        let rows: Vec<(i64, f64)> = stmt
            .query_map([&m], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        times.push(ms(t));
        std::hint::black_box(rows);
        let mut sq = SearchQuery::new(q.clone());
        sq.mode = SearchMode::Keyword;
        sq.highlight = false;
        let t = Instant::now();
        std::hint::black_box(engine.search(&sq)?);
        ours.push(ms(t));
    }
    let (f50, f99) = (pct(times.clone(), 0.5), pct(times.clone(), 0.99));
    let (o50, o99) = (pct(ours.clone(), 0.5), pct(ours, 0.99));
    println!(
        "fts5 (top 20, OR of the words) p50 {f50:.2} ms  p99 {f99:.2} ms  ({} queries)",
        times.len()
    );
    println!(
        "keyword on the same queries, no highlighting: p50 {o50:.2} ms  p99 {o99:.2} ms; \
         fts5 / paperboy: p50 {:.0}x  p99 {:.0}x",
        f50 / o50,
        f99 / o99
    );
    Ok(())
}
