//! The real client: the official `huggingface_hub` Python package (from the venv `.ci/run`
//! prepares) talks to a Paperboy server on a random port over imported data, and every field
//! it returns must equal what the database holds (`tests/hf_client.py` does the comparing).
//! Skips (via `paperboy_testkit::skip`) when the venv is missing.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use paperboy_core::format_hf_timestamp;
use paperboy_store::Store;
use serde_json::{Value, json};

fn venv() -> PathBuf {
    std::env::var_os("PAPERBOY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/paperboy-venv"))
}

/// Daily items as huggingface.co's API returns them: 40 papers over October and early
/// November 2025, two submitters, some with an organization.
fn fixture_items() -> Vec<Value> {
    (0..40u32)
        .map(|i| {
            // Three a day over October 1–8, then one a day over ISO week 2025-W44.
            let day = if i < 24 { 1 + i % 8 } else { 27 + (i - 24) % 7 };
            let (month, day) = if day > 31 { (11, day - 31) } else { (10, day) };
            let submitted = format!("2025-{month:02}-{day:02}T{:02}:{:02}:00.000Z", 6 + i % 12, i);
            let (user, fullname) = if i % 3 == 0 {
                ("alice", "Alice Archer")
            } else {
                ("bob", "Bob Baker")
            };
            let topic = ["attention", "diffusion", "retrieval", "agents"][(i % 4) as usize];
            let mut paper = json!({
                "id": format!("2510.{:05}", 100 + i),
                "authors": [
                    {"_id": format!("a{i}"), "name": format!("Author {i}"), "hidden": false},
                    {"_id": format!("b{i}"), "name": "Grace Hopper", "hidden": false,
                     "user": {"user": "ghopper", "fullname": "Grace Hopper"}},
                ],
                "publishedAt": format!("2025-09-{:02}T12:00:00.000Z", 1 + i % 28),
                "submittedOnDailyAt": submitted,
                "submittedOnDailyBy": {"user": user, "fullname": fullname, "avatarUrl": "/avatars/x.svg"},
                "title": format!("Paper {i}: scalable {topic} with unicode Zoë and $x^2$"),
                "summary": format!("We study {topic} <b>at scale</b> & report results ({i})."),
                "upvotes": (i * 13) % 50,
                "discussionId": format!("d{i}"),
            });
            if i % 2 == 0 {
                paper["ai_summary"] = json!(format!("A summary of paper {i}."));
                paper["ai_keywords"] = json!([topic, "scale"]);
                paper["githubRepo"] = json!(format!("https://github.com/x/p{i}"));
            }
            let mut item = json!({
                "paper": paper,
                "publishedAt": submitted,
                "title": format!("Paper {i}: scalable {topic} with unicode Zoë and $x^2$"),
                "summary": "",
                "numComments": i % 5,
                "submittedBy": {"user": user, "fullname": fullname},
                "isAuthorParticipating": false,
            });
            if i % 4 == 0 {
                item["organization"] = json!({"name": "acme", "fullname": "Acme Labs"});
                item["paper"]["organization"] = item["organization"].clone();
            }
            item
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_huggingface_hub_client_reads_what_the_database_holds() {
    let python = venv().join("bin/python");
    let has_client = std::process::Command::new(&python)
        .args(["-c", "import huggingface_hub"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_client {
        paperboy_testkit::skip(&format!(
            "{} cannot import huggingface_hub: run .ci/run (or set PAPERBOY_VENV)",
            python.display()
        ));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let fixture = dir.path().join("daily.jsonl");
    let mut f = std::fs::File::create(&fixture).expect("fixture");
    for item in fixture_items() {
        writeln!(f, "{item}").expect("write fixture");
    }
    drop(f);
    let store: Arc<dyn Store> = Arc::new(
        paperboy_store::sqlite::SqliteStore::open(&dir.path().join("hf.sqlite"))
            .await
            .expect("open store"),
    );
    let report = paperboy_ingest::import_files(
        store.clone(),
        std::slice::from_ref(&fixture),
        &paperboy_ingest::ImportOptions::default(),
    )
    .await
    .expect("import");
    assert_eq!(report.skipped, 0, "{report}");

    // What the database holds, for the script to compare against.
    let mut papers = serde_json::Map::new();
    for p in store.list_papers(None, 1000).await.expect("list") {
        let feed = p.feed.as_ref();
        papers.insert(
            p.id.base().to_owned(),
            json!({
                "title": p.title,
                "summary": p.summary,
                "upvotes": p.upvotes,
                "authors": p.authors.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
                "published_at": format_hf_timestamp(p.published_at),
                "num_comments": p.num_comments,
                "ai_summary": p.ai_summary,
                "ai_keywords": p.keywords,
                "github_repo": p.github_repo,
                "feed_date": feed.map(|f| f.feed_date.to_string()),
                "submitted_at": feed.map(|f| format_hf_timestamp(f.submitted_at)),
                "submitter": feed.and_then(|f| f.submitter.as_ref()).map(|s| s.username.clone()),
                "submitter_fullname": feed.and_then(|f| f.submitter.as_ref()).map(|s| s.fullname.clone()),
                "organization": feed.and_then(|f| f.organization.as_ref()).map(|o| o.name.clone()),
            }),
        );
    }
    assert_eq!(papers.len(), 40);
    let expected = json!({
        "papers": papers,
        "day": "2025-10-08",
        "week": "2025-W44",
        "month": "2025-10",
        "submitter": "alice",
        "submitter_fullname": "Alice Archer",
        "known_id": "2510.00101",
        "title_word": "diffusion",
    });
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).expect("expected");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = paperboy_web::AppState::new(store);
    tokio::spawn(paperboy_web::serve(listener, state, std::future::pending()));

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hf_client.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&base)
        .arg(&expected_path)
        .env("HF_HUB_OFFLINE", "0")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env_remove("HF_TOKEN")
        .output()
        .await
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "huggingface_hub disagreed with the database:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("huggingface_hub OK: 40 papers"), "{stdout}");
}
