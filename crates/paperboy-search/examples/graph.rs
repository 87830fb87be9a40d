//! Builds the vector graph again over the vectors of an index built by `paperboy reindex`
//! (without touching it) and reports the time and the recall@10 against exact search, for
//! tuning the graph's parameters on real embeddings: with stored paper vectors as queries,
//! and, given a file of queries, with their embeddings by the built-in embedder.
//!
//! `cargo run --release -p paperboy-search --example graph -- DATA_DIR [PAPERS [QUERIES.jsonl]]`

use std::path::PathBuf;
use std::time::Instant;

use paperboy_search::StaticEmbedder;
use paperboy_search::ann::VectorIndex;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        return Err("usage: graph DATA_DIR [PAPERS [QUERIES.jsonl]]".into());
    };
    let papers: usize = args.get(2).and_then(|q| q.parse().ok()).unwrap_or(200);
    let texts: Vec<String> = match args.get(3) {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
            .take(200)
            .collect(),
        None => Vec::new(),
    };
    let src = PathBuf::from(dir).join("search");
    let tmp = tempfile::tempdir()?;
    std::fs::copy(src.join("vectors.log"), tmp.path().join("vectors.log"))?;
    let t = Instant::now();
    let embedder = StaticEmbedder::builtin_shared()?;
    let mut index = VectorIndex::open(tmp.path(), embedder.dims())?;
    println!(
        "open: {:.1} s, {} vectors",
        t.elapsed().as_secs_f64(),
        index.len()
    );
    let t = Instant::now();
    index.link();
    println!("graph built in {:.1} s", t.elapsed().as_secs_f64());
    let step = (index.slots_len() as usize / papers.max(1)).max(1);
    let paper_vectors: Vec<Vec<f32>> = (0..index.slots_len())
        .step_by(step)
        .filter(|&s| index.is_live(s))
        .take(papers)
        .filter_map(|s| index.vector(s))
        .collect();
    let query_vectors: Vec<Vec<f32>> = texts.iter().map(|q| embedder.embed_query(q)).collect();
    for ef in [64, 128, 200, 256, 300, 400] {
        let t = Instant::now();
        let p = index.recall(&paper_vectors, 10, ef);
        let mut line = format!(
            "ef {ef:3}: recall@10 paper vectors {:.4} (ties {:.4})",
            p.exact_ids, p.within_epsilon
        );
        if !query_vectors.is_empty() {
            let q = index.recall(&query_vectors, 10, ef);
            line += &format!(
                ", queries {:.4} (ties {:.4})",
                q.exact_ids, q.within_epsilon
            );
        }
        println!(
            "{line}  ({:.1} s with the exact scans)",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
