//! Import throughput and peak memory: `cargo bench -p paperboy-ingest --bench import -- FILE…`.
//!
//! Imports the files into a fresh SQLite database (and, when `PAPERBOY_BENCH_DATABASE_URL`
//! names a PostgreSQL database, into a fresh schema there too) and prints papers per second
//! and the process's peak resident memory.

use std::path::PathBuf;
use std::sync::Arc;

use paperboy_ingest::{ImportOptions, import_files};
use paperboy_store::Store;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let files: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        eprintln!("usage: cargo bench -p paperboy-ingest --bench import -- FILE…");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite: Arc<dyn Store> = Arc::new(
        paperboy_store::sqlite::SqliteStore::open(&dir.path().join("bench.sqlite"))
            .await
            .expect("open sqlite"),
    );
    let mut options = ImportOptions::default();
    if let Some(n) = std::env::var("PAPERBOY_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.batch_size = n;
    }
    let report = import_files(sqlite, &files, &options)
        .await
        .expect("import");
    println!("sqlite:   {report}");
    println!("sqlite:   peak RSS {:.0} MB", peak_rss_mb());

    if let Ok(url) = std::env::var("PAPERBOY_BENCH_DATABASE_URL") {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        let schema = format!("bench_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .await
            .expect("schema");
        let sep = if url.contains('?') { '&' } else { '?' };
        let pg: Arc<dyn Store> = Arc::new(
            paperboy_store::postgres::PgStore::connect(&format!(
                "{url}{sep}options=-c%20search_path%3D{schema}"
            ))
            .await
            .expect("open postgres"),
        );
        let report = import_files(pg, &files, &options).await.expect("import");
        println!("postgres: {report}");
        println!("postgres: peak RSS {:.0} MB (whole process)", peak_rss_mb());
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop schema");
    }
}
