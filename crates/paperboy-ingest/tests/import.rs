//! File imports into a real SQLite store: formats detected from content, bad records reported
//! with file and line and skipped, strict mode, gzip, and re-imports that never duplicate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use paperboy_core::ArxivId;
use paperboy_ingest::{ImportError, ImportOptions, import_files};
use paperboy_store::Store;

async fn store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(
        paperboy_store::sqlite::SqliteStore::open(&dir.join("import.sqlite"))
            .await
            .expect("open store"),
    )
}

fn kaggle_line(i: u32) -> String {
    serde_json::json!({
        "id": format!("2503.{i:05}"),
        "submitter": null,
        "authors": "Ada Lovelace, Alan Turing",
        "title": format!("Paper number {i}"),
        "comments": null, "journal-ref": null, "doi": null, "report-no": null,
        "categories": "cs.CL cs.AI",
        "license": null,
        "abstract": format!("  We study thing {i}.\nIt works.\n"),
        "versions": [{"version": "v1", "created": "2025-03-18"}],
        "update_date": "2025-03-18",
        "authors_parsed": [["Lovelace", "Ada", ""], ["Turing", "Alan", ""]]
    })
    .to_string()
}

fn hf_item(id: &str, date: &str) -> serde_json::Value {
    serde_json::json!({
        "paper": {
            "id": id,
            "authors": [{"_id": "a1", "name": "Grace Hopper", "hidden": false}],
            "publishedAt": format!("{date}T10:00:00.000Z"),
            "submittedOnDailyAt": format!("{date}T12:00:00.000Z"),
            "title": format!("Daily paper {id}"),
            "summary": "An abstract.",
            "upvotes": 4,
            "discussionId": "d"
        },
        "publishedAt": format!("{date}T12:00:00.000Z"),
        "title": format!("Daily paper {id}"),
        "numComments": 2,
        "submittedBy": {"name": "akhaliq", "fullname": "AK"}
    })
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

#[tokio::test]
async fn json_lines_import_skips_bad_records_and_names_their_line() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path()).await;
    let lines = [
        kaggle_line(1),
        "{this is not json".to_owned(),
        kaggle_line(2),
        String::new(),
        r#"{"id":"not-an-id","title":"T","abstract":"A","versions":[]}"#.to_owned(),
        r#"{"something":"else"}"#.to_owned(),
        kaggle_line(3),
    ];
    let file = write(dir.path(), "mixed.jsonl", &lines.join("\n"));
    let options = ImportOptions {
        batch_size: 2,
        ..ImportOptions::default()
    };
    let report = import_files(store.clone(), std::slice::from_ref(&file), &options)
        .await
        .expect("import");
    assert_eq!(report.stored.inserted, 3);
    assert_eq!(report.skipped, 3);
    let lines: Vec<u64> = report.bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, [2, 5, 6]);
    let shown = report.bad[1].to_string();
    assert!(
        shown.starts_with(&format!("{}:5: ", file.display())),
        "{shown}"
    );
    assert!(shown.contains("not an arXiv id"), "{shown}");
    let paper = store
        .paper(&ArxivId::parse("2503.00002").expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(paper.summary, "We study thing 2. It works.");
    assert_eq!(paper.authors.len(), 2);
}

#[tokio::test]
async fn strict_mode_stops_at_the_first_bad_record() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path()).await;
    let file = write(
        dir.path(),
        "bad.jsonl",
        &format!("{}\n{{oops\n{}\n", kaggle_line(1), kaggle_line(2)),
    );
    let options = ImportOptions {
        strict: true,
        batch_size: 1,
        ..ImportOptions::default()
    };
    let err = import_files(store, &[file], &options)
        .await
        .expect_err("strict");
    assert!(
        matches!(err, ImportError::Strict(ref bad) if bad.line == 2),
        "{err}"
    );
    assert!(err.to_string().contains("bad.jsonl:2"), "{err}");
}

#[tokio::test]
async fn a_gzipped_json_array_of_daily_items_is_detected_and_imported() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path()).await;
    let items = serde_json::json!([
        hf_item("2510.00001", "2025-10-29"),
        {"paper": {"id": "bogus"}},
        hf_item("2510.00002", "2025-10-30"),
    ]);
    let path = dir.path().join("daily.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::default(),
    );
    gz.write_all(items.to_string().as_bytes()).expect("write");
    gz.finish().expect("finish");

    let report = import_files(store.clone(), &[path], &ImportOptions::default())
        .await
        .expect("import");
    assert_eq!((report.stored.inserted, report.skipped), (2, 1));
    assert_eq!(report.bad[0].line, 2, "element number in an array");
    let stats = store.stats().await.expect("stats");
    assert_eq!(
        (stats.feed_entries, stats.feed_days, stats.users),
        (2, 2, 1)
    );
    let p = store
        .paper(&ArxivId::parse("2510.00002").expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(p.feed.expect("feed").feed_date.to_string(), "2025-10-30");
    assert_eq!((p.upvotes, p.num_comments), (4, 2));
}

#[tokio::test]
async fn a_truncated_json_array_keeps_what_came_before_the_break() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path()).await;
    let full = serde_json::json!([
        hf_item("2510.00001", "2025-10-29"),
        hf_item("2510.00002", "2025-10-29")
    ])
    .to_string();
    let cut = &full[..full.len() - 40];
    let file = write(dir.path(), "cut.json", cut);
    let err = import_files(store.clone(), &[file], &ImportOptions::default())
        .await
        .expect_err("truncated");
    assert!(
        matches!(err, ImportError::Syntax { element: 1, .. }),
        "{err}"
    );
    assert_eq!(
        store.stats().await.expect("stats").papers,
        1,
        "the complete element was stored"
    );
}

#[tokio::test]
async fn importing_the_same_files_twice_updates_and_never_duplicates() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path()).await;
    let lines: Vec<String> = (1..=50).map(kaggle_line).collect();
    let a = write(dir.path(), "a.jsonl", &lines.join("\n"));
    let hf = write(
        dir.path(),
        "hf.jsonl",
        &format!(
            "{}\n{}\n",
            hf_item("2503.00001", "2025-03-19"),
            hf_item("2510.00009", "2025-10-29")
        ),
    );
    let files = vec![a, hf];
    let first = import_files(store.clone(), &files, &ImportOptions::default())
        .await
        .expect("first");
    assert_eq!((first.stored.inserted, first.stored.updated), (51, 1));
    let second = import_files(store.clone(), &files, &ImportOptions::default())
        .await
        .expect("second");
    assert_eq!((second.stored.inserted, second.stored.updated), (0, 52));
    let stats = store.stats().await.expect("stats");
    assert_eq!((stats.papers, stats.feed_entries), (51, 2));
    // The arXiv record and the daily item describe one paper: both contributed.
    let p = store
        .paper(&ArxivId::parse("2503.00001").expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(p.categories, ["cs.CL", "cs.AI"]);
    assert!(p.feed.is_some());
    store.check_integrity().await.expect("integrity");
}

#[tokio::test]
async fn empty_and_missing_files_are_handled() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(dir.path()).await;
    let empty = write(dir.path(), "empty.jsonl", "\n\n");
    let report = import_files(store.clone(), &[empty], &ImportOptions::default())
        .await
        .expect("empty");
    assert_eq!(report.records, 0);
    let err = import_files(
        store,
        &[dir.path().join("missing.jsonl")],
        &ImportOptions::default(),
    )
    .await
    .expect_err("missing");
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
}
