//! Builds the vector graph again over the vectors of an index built by `paperboy reindex`
//! (without touching it) and reports the time and the recall@10 against exact search, for
//! tuning the graph's parameters on real embeddings.
//!
//! `cargo run --release -p paperboy-search --example graph -- DATA_DIR [QUERIES]`

use std::path::PathBuf;
use std::time::Instant;

use paperboy_search::ann::VectorIndex;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        return Err("usage: graph DATA_DIR [QUERIES]".into());
    };
    let queries: usize = args.get(2).and_then(|q| q.parse().ok()).unwrap_or(200);
    let src = PathBuf::from(dir).join("search");
    let tmp = tempfile::tempdir()?;
    std::fs::copy(src.join("vectors.log"), tmp.path().join("vectors.log"))?;
    let t = Instant::now();
    let mut index = VectorIndex::open(tmp.path(), 352)?;
    println!(
        "open: {:.1} s, {} vectors",
        t.elapsed().as_secs_f64(),
        index.len()
    );
    let t = Instant::now();
    index.link();
    println!("graph built in {:.1} s", t.elapsed().as_secs_f64());
    let step = (index.slots_len() as usize / queries).max(1);
    for ef in [32, 64, 96, 128, 200] {
        index.ef_search = ef;
        let (mut found, mut wanted) = (0usize, 0usize);
        let t = Instant::now();
        for s in (0..index.slots_len()).step_by(step).take(queries) {
            let v = index.vector(s);
            let exact: Vec<u32> = index.exact(&v, 10).into_iter().map(|x| x.0).collect();
            wanted += exact.len();
            found += index
                .search(&v, 10)
                .iter()
                .filter(|x| exact.contains(&x.0))
                .count();
        }
        println!(
            "ef {ef}: recall@10 {:.4} ({:.1} s with the exact scans)",
            found as f64 / wanted as f64,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
