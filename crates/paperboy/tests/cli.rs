//! The `paperboy` binary as a user runs it: real processes, real files, real signals.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paperboy_store::Store;

fn paperboy(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperboy"));
    cmd.env_remove("PAPERBOY_DATABASE_URL")
        .env("PAPERBOY_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    cmd
}

fn kaggle_line(i: u32, version: u32) -> String {
    serde_json::json!({
        "id": format!("2503.{i:05}"),
        "authors": "Ada Lovelace, Alan Turing",
        "title": format!("Paper number {i} v{version}"),
        "categories": "cs.CL",
        "abstract": format!("We study thing {i}."),
        "versions": (1..=version).map(|v| serde_json::json!({"version": format!("v{v}"), "created": "2025-03-18"})).collect::<Vec<_>>(),
        "update_date": "2025-03-18",
        "authors_parsed": [["Lovelace", "Ada", ""], ["Turing", "Alan", ""]]
    })
    .to_string()
}

/// A JSON Lines file of `n` distinct papers, where every 100th line is followed by a second
/// version of the same paper (so the file has more lines than papers).
fn dump(dir: &Path, n: u32) -> PathBuf {
    let path = dir.join("dump.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    for i in 0..n {
        writeln!(out, "{}", kaggle_line(i, 1)).expect("write");
        if i % 100 == 0 {
            writeln!(out, "{}", kaggle_line(i, 2)).expect("write");
        }
    }
    out.flush().expect("flush");
    path
}

async fn open(data_dir: &Path) -> paperboy_store::sqlite::SqliteStore {
    paperboy_store::sqlite::SqliteStore::open(&data_dir.join("paperboy.sqlite"))
        .await
        .expect("open store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_import_midway_loses_nothing_committed_and_a_rerun_completes_it() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    const N: u32 = 60_000;
    let file = dump(dir.path(), N);

    let mut child = paperboy(&data)
        .args(["import", "--batch-size", "500"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start import");
    // Wait until some batches are committed, then kill the process without warning.
    let started = Instant::now();
    let mut seen = 0;
    while seen == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no batch committed within a minute"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        if data.join("paperboy.sqlite").exists() {
            seen = open(&data)
                .await
                .stats()
                .await
                .map(|s| s.papers)
                .unwrap_or(0);
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let store = open(&data).await;
    store
        .check_integrity()
        .await
        .expect("integrity after the kill");
    let after_kill = store.stats().await.expect("stats");
    assert!(
        after_kill.papers >= seen,
        "committed papers survive the kill"
    );
    assert!(
        after_kill.papers < i64::from(N),
        "killed midway (got {})",
        after_kill.papers
    );
    assert_eq!(
        after_kill.authors,
        2 * after_kill.papers,
        "no half-written paper"
    );
    drop(store);

    let status = paperboy(&data)
        .args(["import", "--batch-size", "500"])
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .expect("rerun");
    assert!(status.success());
    let store = open(&data).await;
    store
        .check_integrity()
        .await
        .expect("integrity after the rerun");
    let done = store.stats().await.expect("stats");
    assert_eq!(done.papers, i64::from(N), "every paper once");
    assert_eq!(done.authors, 2 * i64::from(N));
    let p = store
        .paper(&paperboy_core::ArxivId::parse("2503.00100").expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (p.version, p.title.as_str()),
        (Some(2), "Paper number 100 v2")
    );
}

#[test]
fn import_reports_bad_lines_by_file_and_line_and_imports_the_rest() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("some.jsonl");
    std::fs::write(
        &file,
        format!("{}\nnot json\n{}\n", kaggle_line(1, 1), kaggle_line(2, 1)),
    )
    .expect("write");
    let out = paperboy(&dir.path().join("data"))
        .arg("import")
        .arg(&file)
        .output()
        .expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("2 new"), "{stdout}");
    assert!(
        stdout.contains("papers/s"),
        "a rate in the summary: {stdout}"
    );
    assert!(
        stderr.contains(&format!("{}:2: malformed JSON", file.display())),
        "{stderr}"
    );

    let out = paperboy(&dir.path().join("data"))
        .args(["import", "--strict"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success(), "strict mode fails on the bad line");
    assert!(String::from_utf8_lossy(&out.stderr).contains("some.jsonl:2"));
}

#[test]
fn help_explains_every_subcommand() {
    let out = Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .arg("--help")
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "serve",
        "import",
        "sync",
        "stats",
        "--data-dir",
        "--database-url",
    ] {
        assert!(help.contains(word), "--help mentions {word}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .args(["serve", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("PAPERBOY_ADDR") && help.contains("127.0.0.1:8080"),
        "{help}"
    );
}

#[tokio::test]
async fn serve_prints_its_address_serves_pages_and_says_once_that_sync_is_unavailable() {
    let dir = tempfile::tempdir().expect("dir");
    // A port nothing listens on stands for a machine without internet.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let mut child = paperboy(&dir.path().join("data"))
        .env("RUST_LOG", "info")
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--hf-url",
            &dead,
            "--arxiv-url",
            &dead,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let url = line.trim().rsplit(' ').next().expect("address").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let body = reqwest::get(format!("{url}/"))
        .await
        .expect("GET /")
        .text()
        .await
        .expect("body");
    assert!(body.contains("Daily Papers"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().expect("kill");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read");
    child.wait().expect("reap");
    let unavailable: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("sync unavailable"))
        .collect();
    assert_eq!(unavailable.len(), 1, "one clear line: {stderr}");
}

#[test]
fn stats_prints_counts() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("one.jsonl");
    std::fs::write(&file, kaggle_line(7, 1)).expect("write");
    let data = dir.path().join("data");
    assert!(
        paperboy(&data)
            .arg("import")
            .arg(&file)
            .status()
            .expect("import")
            .success()
    );
    let out = paperboy(&data).arg("stats").output().expect("stats");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("papers") && l.trim_end().ends_with(" 1")),
        "{text}"
    );
}

#[tokio::test]
async fn user_create_makes_an_administrator_with_an_argon2id_password() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let out = paperboy(&data)
        .args([
            "user",
            "create",
            "admin-ada",
            "--email",
            "ada@example.org",
            "--admin",
        ])
        .env("PAPERBOY_PASSWORD", "a long enough password")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = open(&data).await;
    let user = store
        .user_by_name("admin-ada")
        .await
        .expect("read")
        .expect("created");
    assert!(user.is_admin);
    assert!(user.password_hash.expect("hash").starts_with("$argon2id$"));
    let short = paperboy(&data)
        .args(["user", "create", "bob", "--email", "bob@example.org"])
        .env("PAPERBOY_PASSWORD", "short")
        .output()
        .expect("run");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_prints_a_secret_that_authenticates_its_user_and_list_and_revoke_work() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    {
        let store = open(&data).await;
        store
            .create_user(&paperboy_store::NewUser {
                username: paperboy_core::Username::parse("ada").expect("name"),
                fullname: "Ada Lovelace".into(),
                email: None,
                password_hash: None,
                is_admin: false,
            })
            .await
            .expect("user");
    }
    let out = paperboy(&data)
        .args(["token", "create", "--user", "ada", "--name", "laptop"])
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("pb_") && secret.len() > 32, "{secret}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not shown again"));
    let store = open(&data).await;
    let user = store
        .authenticate_api_token(&secret)
        .await
        .expect("auth")
        .expect("the token's user");
    assert_eq!(user.username, "ada");

    let out = paperboy(&data)
        .args(["token", "list", "--user", "ada"])
        .output()
        .expect("token list");
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listed.contains("laptop"), "{listed}");
    assert!(!listed.contains(&secret[3..]), "the secret is never listed");
    let id = listed.split('\t').next().expect("id").to_owned();
    assert!(
        paperboy(&data)
            .args(["token", "revoke", "--user", "ada", "--id", &id])
            .status()
            .expect("revoke")
            .success()
    );
    assert!(
        store
            .authenticate_api_token(&secret)
            .await
            .expect("auth")
            .is_none()
    );
    let out = paperboy(&data)
        .args(["token", "create", "--user", "nobody", "--name", "x"])
        .output()
        .expect("token create");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user `nobody`"));
}
