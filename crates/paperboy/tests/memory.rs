//! Memory under anonymous traffic (issue 13, item 3): the real `paperboy serve` process on a
//! catalogue this test generates, driven with the mixes that grew it without bound before —
//! over a thousand distinct valid `/api/daily_papers?month=…&limit=…&sort=…` addresses, 150
//! concurrent failed sign-ins from 150 addresses (through the trusted-proxy header), and page
//! views — while its resident memory is read from `/proc/PID/status`. The peak (`VmHWM`) must
//! stay under [`PEAK_LIMIT_MB`].
//!
//! `scripts/bench-memory.sh` runs this same test against a release binary and an imported
//! data set: `PAPERBOY_MEMORY_BIN` names the binary, `PAPERBOY_MEMORY_DATA_DIR` a data folder
//! already imported (then nothing is generated), `PAPERBOY_MEMORY_MONTHS` the months to ask
//! for (`2025-03,2025-04,…`).

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The most resident memory the server may reach, in MB.
const PEAK_LIMIT_MB: u64 = 400;
/// Papers generated when no data folder is given.
const PAPERS: u32 = 3_000;
/// Distinct daily-list addresses asked for.
const API_URLS: usize = 1_200;
/// Concurrent failed sign-ins, each from its own address.
const SIGN_INS: usize = 150;

fn binary() -> PathBuf {
    std::env::var_os("PAPERBOY_MEMORY_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_paperboy")),
        PathBuf::from,
    )
}

fn paperboy(data_dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env_remove("PAPERBOY_DATABASE_URL")
        .env("PAPERBOY_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    cmd
}

/// The generated catalogue's months.
const MONTHS: [&str; 12] = [
    "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08",
    "2025-09", "2025-10", "2025-11", "2025-12",
];

/// Words the generated abstracts are made of (so searches find something).
const WORDS: [&str; 16] = [
    "attention",
    "diffusion",
    "retrieval",
    "agents",
    "benchmark",
    "language",
    "vision",
    "reasoning",
    "sparse",
    "graph",
    "robust",
    "efficient",
    "alignment",
    "tokens",
    "video",
    "speech",
];

/// One Hugging Face daily-papers item: paper `i`, on a day of 2025.
fn hf_line(i: u32) -> String {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date")
        + chrono::Days::new(u64::from(i % 360));
    let at = format!("{}T08:{:02}:00.000Z", day.format("%Y-%m-%d"), i % 60);
    let words: Vec<&str> = (0..150)
        .map(|k| WORDS[((i + k * 7) % 16) as usize])
        .collect();
    serde_json::json!({
        "paper": {
            "id": format!("25{:02}.{:05}", 1 + (i % 12), i),
            "authors": (0..6).map(|a| serde_json::json!({"name": format!("Author {} {}", i % 97, a), "hidden": false})).collect::<Vec<_>>(),
            "publishedAt": at,
            "submittedOnDailyAt": at,
            "title": format!("Paper {i} on {} and {}", WORDS[(i % 16) as usize], WORDS[((i / 16) % 16) as usize]),
            "summary": words.join(" "),
            "upvotes": i % 50,
        },
        "publishedAt": at,
        "title": format!("Paper {i}"),
        "numComments": 0,
    })
    .to_string()
}

/// Writes and imports the generated catalogue into `data`.
fn generate(dir: &Path, data: &Path) {
    let file = dir.join("daily.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
    for i in 0..PAPERS {
        writeln!(out, "{}", hf_line(i)).expect("write");
    }
    out.flush().expect("flush");
    drop(out);
    let status = paperboy(data)
        .arg("import")
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .expect("import");
    assert!(status.success(), "import failed");
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Ends the server when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `requests` with at most `concurrency` in flight; returns the statuses.
async fn drive(requests: Vec<reqwest::RequestBuilder>, concurrency: usize) -> Vec<u16> {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for request in requests {
        let permit = permits.clone().acquire_owned().await.expect("permit");
        tasks.spawn(async move {
            let status = match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    // Read the whole body, as a client does.
                    let _ = r.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            drop(permit);
            status
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.expect("task"));
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_traffic_keeps_the_servers_memory_under_its_bound() {
    let dir = tempfile::tempdir().expect("dir");
    let (data, months): (PathBuf, Vec<String>) = match std::env::var_os("PAPERBOY_MEMORY_DATA_DIR")
    {
        Some(d) => (
            PathBuf::from(d),
            std::env::var("PAPERBOY_MEMORY_MONTHS")
                .map(|m| m.split(',').map(str::to_owned).collect())
                .unwrap_or_else(|_| MONTHS.iter().map(|m| (*m).to_owned()).collect()),
        ),
        None => {
            let data = dir.path().join("data");
            generate(dir.path(), &data);
            (data, MONTHS.iter().map(|m| (*m).to_owned()).collect())
        }
    };
    let mut child = paperboy(&data)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--no-sync",
            "--no-digest",
            "--trusted-proxy",
            "127.0.0.1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start serve");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the address");
    let server = Server(child);
    let base = line.trim().rsplit(' ').next().expect("address").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    // Wait until it answers (the search index catches up at start).
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(120), "no answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (rss_start, _) = memory_kib(pid).expect("memory");

    // Sample the resident size while the traffic runs.
    let done = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(rss_start));
    let sampler = {
        let (done, peak_rss) = (done.clone(), peak_rss.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Acquire) {
                if let Some((rss, _)) = memory_kib(pid) {
                    peak_rss.fetch_max(rss, Ordering::AcqRel);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // 1. Over a thousand distinct valid daily-list addresses.
    let mut api = Vec::new();
    'urls: for limit in (1..=100u32).rev() {
        for sort in ["publishedAt", "trending"] {
            for month in &months {
                api.push(http.get(format!(
                    "{base}/api/daily_papers?month={month}&limit={limit}&sort={sort}"
                )));
                if api.len() == API_URLS {
                    break 'urls;
                }
            }
        }
    }
    let statuses = drive(api, 32).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(ok, API_URLS, "every daily-list page answers 200");
    let after_api = memory_kib(pid).expect("memory").0;

    // 2. Concurrent failed sign-ins, each from its own address (the proxy header).
    let token = paperboy_web::auth::new_token();
    let sign_ins: Vec<_> = (0..SIGN_INS)
        .map(|i| {
            http.post(format!("{base}/signin"))
                .header(
                    "x-forwarded-for",
                    format!("10.1.{}.{}", i / 200, 1 + i % 200),
                )
                .header("cookie", format!("__Host-pb_csrf={token}"))
                .form(&[
                    ("username", format!("nobody{i}")),
                    ("password", "wrong password".to_owned()),
                    ("csrf_token", token.clone()),
                ])
        })
        .collect();
    let statuses = drive(sign_ins, SIGN_INS).await;
    for s in &statuses {
        assert!(
            *s == 401 || *s == 503,
            "a failed sign-in is refused (401) or asked to come back (503), not {s}"
        );
    }
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let after_sign_ins = memory_kib(pid).expect("memory").0;

    // 3. Page views: list pages, papers, searches.
    let mut pages = vec![
        http.get(format!("{base}/")),
        http.get(format!("{base}/papers/trending")),
    ];
    for month in &months {
        pages.push(http.get(format!("{base}/papers/month/{month}")));
        pages.push(http.get(format!("{base}/papers/month/{month}?p=1")));
    }
    for d in 0..120u64 {
        let day =
            chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date") + chrono::Days::new(d * 3);
        pages.push(http.get(format!("{base}/papers/date/{}", day.format("%Y-%m-%d"))));
    }
    for i in (0..PAPERS).step_by(15) {
        pages.push(http.get(format!("{base}/papers/25{:02}.{i:05}", 1 + (i % 12))));
    }
    for w in WORDS {
        pages.push(http.get(format!("{base}/search?q={w}")));
    }
    let statuses = drive(pages, 32).await;
    let served = statuses
        .iter()
        .filter(|s| matches!(**s, 200 | 303 | 404))
        .count();
    assert_eq!(served, statuses.len(), "page views answer: {statuses:?}");

    done.store(true, Ordering::Release);
    sampler.await.expect("sampler");
    let (rss_end, hwm) = memory_kib(pid).expect("memory");
    drop(server);
    let peak = hwm.max(peak_rss.load(Ordering::Acquire));
    eprintln!(
        "memory (MB): at start {}, after {API_URLS} API pages {}, after {SIGN_INS} sign-ins \
         ({refused} refused, the rest told to come back) {}, at the end {}, peak {}",
        rss_start / 1024,
        after_api / 1024,
        after_sign_ins / 1024,
        rss_end / 1024,
        peak / 1024
    );
    assert!(
        peak < PEAK_LIMIT_MB * 1024,
        "the server's memory peaked at {} MB (limit {PEAK_LIMIT_MB} MB)",
        peak / 1024
    );
}
