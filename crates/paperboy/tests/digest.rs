//! `paperboy digest` as an operator runs it: real processes, a real SQLite file, a real SMTP
//! server (aiosmtpd), and a worker killed with SIGKILL mid-batch.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use paperboy_core::{ArxivId, NewAuthor, NewFeedEntry, NewPaper};
use paperboy_store::Store;
use paperboy_testkit::smtp::SmtpSink;

fn paperboy(data_dir: &Path, sink: &SmtpSink) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperboy"));
    cmd.env_remove("PAPERBOY_DATABASE_URL")
        .env("PAPERBOY_DATA_DIR", data_dir)
        .env("PAPERBOY_SMTP_HOST", "127.0.0.1")
        .env("PAPERBOY_SMTP_PORT", sink.port().to_string())
        .env("PAPERBOY_MAIL_FROM", "Paperboy <digest@example.org>")
        .env("PAPERBOY_BASE_URL", "https://papers.example.org")
        .env("RUST_LOG", "warn");
    cmd
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

async fn seed(data_dir: &Path, subscribers: usize) {
    let store = paperboy_store::sqlite::SqliteStore::open(&data_dir.join("paperboy.sqlite"))
        .await
        .expect("open");
    let papers: Vec<NewPaper> = (1..=12)
        .map(|i| {
            let mut p = NewPaper::new(
                ArxivId::parse(&format!("2510.{i:05}")).expect("id"),
                format!("Paper {i}"),
                "An abstract.",
                t("2025-10-28T12:00:00Z"),
            );
            p.authors = vec![NewAuthor::named("Ada Lovelace")];
            p.source_upvotes = Some(i64::from(i));
            p.feed = Some(NewFeedEntry {
                feed_date: NaiveDate::from_ymd_opt(2025, 10, 29).expect("date"),
                submitted_at: t("2025-10-29T08:00:00Z"),
                submitter: None,
                organization: None,
            });
            p
        })
        .collect();
    store.upsert_papers(&papers).await.expect("papers");
    let list = (0..subscribers)
        .map(|i| format!("reader{i}@example.org"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(data_dir.join("subscribers.txt"), list).expect("write list");
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run paperboy");
    assert!(
        out.status.success(),
        "paperboy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_what_would_be_sent_and_changes_nothing() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    seed(dir.path(), 3).await;
    run_ok(paperboy(dir.path(), &sink).args([
        "digest",
        "import-subscribers",
        dir.path().join("subscribers.txt").to_str().expect("path"),
    ]));
    let out = run_ok(paperboy(dir.path(), &sink).args([
        "digest",
        "build",
        "--edition",
        "2025-10-29",
        "--dry-run",
    ]));
    assert!(
        out.contains("Trending papers for Wednesday, October 29, 2025"),
        "{out}"
    );
    assert!(out.contains("Paper 12"), "{out}");
    assert!(out.contains("would enqueue up to 3 messages"), "{out}");
    assert!(out.contains("to reader0@example.org"), "{out}");
    let out = run_ok(paperboy(dir.path(), &sink).args(["digest", "run", "--dry-run"]));
    assert!(out.contains("would send up to 0 messages"), "{out}");
    let status = run_ok(paperboy(dir.path(), &sink).args(["digest", "status"]));
    assert!(status.contains("queued 0"), "{status}");
    assert!(sink.messages().is_empty());

    let bad = paperboy(dir.path(), &sink)
        .args(["digest", "build", "--edition", "2025-13-45"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a date like 2025-10-29"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_and_restarted_delivers_one_copy_to_every_subscriber() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    const N: usize = 1500;
    // SMTP connections of the worker: at most one message in flight on each.
    const CONNECTIONS: usize = 4;
    let dir = tempfile::tempdir().expect("dir");
    seed(dir.path(), N).await;
    let out = run_ok(paperboy(dir.path(), &sink).args([
        "digest",
        "import-subscribers",
        dir.path().join("subscribers.txt").to_str().expect("path"),
    ]));
    assert!(out.contains(&format!("{N} subscribers added")), "{out}");
    let out =
        run_ok(paperboy(dir.path(), &sink).args(["digest", "build", "--edition", "2025-10-29"]));
    assert!(out.contains(&format!("{N} messages enqueued")), "{out}");
    let out =
        run_ok(paperboy(dir.path(), &sink).args(["digest", "build", "--edition", "2025-10-29"]));
    assert!(
        out.contains("0 messages enqueued"),
        "building twice is a no-op: {out}"
    );

    let worker = |sink: &SmtpSink| {
        let mut cmd = paperboy(dir.path(), sink);
        cmd.env("PAPERBOY_SMTP_CONNECTIONS", CONNECTIONS.to_string())
            .args([
                "digest",
                "run",
                "--lease-seconds",
                "3",
                "--batch-size",
                "100",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let mut first = worker(&sink).spawn().expect("start the worker");
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.messages().is_empty() {
        assert!(Instant::now() < deadline, "the worker sent nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Kill at a moment unrelated to what the server just stored (a real crash is not timed
    // to the server's replies): a fixed while after sending began.
    tokio::time::sleep(Duration::from_millis(700)).await;
    first.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
    first.wait().expect("reap");
    let at_kill = sink.messages().len();
    assert!(at_kill < N, "killed mid-batch ({at_kill} of {N} delivered)");

    let out = worker(&sink).output().expect("restart the worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sink.wait_for(N, Duration::from_secs(10)).await;

    // What each subscriber sees: their mailbox, copies with one Message-ID suppressed.
    let mailboxes = sink.mailboxes();
    assert_eq!(
        mailboxes.len(),
        N,
        "every confirmed subscriber received the digest"
    );
    for (rcpt, mailbox) in &mailboxes {
        assert_eq!(mailbox.len(), 1, "{rcpt} holds exactly one digest");
    }

    // What went over the wire: a message is transmitted a second time only if the worker died
    // after writing its final `.` and before committing the outcome (the server still stores
    // what it had read). One message is in flight per connection, so that is at most one per
    // connection; the copy is the same message (same Message-ID, same parts).
    let raw = sink.messages();
    let most = raw.iter().map(|m| m.in_flight).max().unwrap_or_default();
    assert!(
        most <= CONNECTIONS as u64,
        "at most one message in flight per connection: {most} at once"
    );
    let mut copies: HashMap<String, Vec<&paperboy_testkit::smtp::ReceivedMail>> = HashMap::new();
    for m in &raw {
        assert_eq!(m.rcpt.len(), 1);
        copies.entry(m.rcpt[0].clone()).or_default().push(m);
    }
    let resent: Vec<&String> = copies
        .iter()
        .filter(|(_, c)| c.len() > 1)
        .map(|(r, _)| r)
        .collect();
    eprintln!(
        "{at_kill} delivered before SIGKILL; {} transmitted twice (accepted by the server but killed before the outcome was recorded)",
        resent.len()
    );
    assert!(
        resent.len() <= CONNECTIONS && raw.len() - N == resent.len(),
        "at most one re-sent message per SMTP connection, each at most once: {resent:?}"
    );
    for rcpt in &resent {
        let c = &copies[*rcpt];
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].header("Message-ID"), c[1].header("Message-ID"));
        assert_eq!((&c[0].text, &c[0].html), (&c[1].text, &c[1].html));
    }
    let store = paperboy_store::sqlite::SqliteStore::open(&dir.path().join("paperboy.sqlite"))
        .await
        .expect("open");
    let counts = store.outbox_counts(None).await.expect("counts");
    assert_eq!((counts.sent, counts.pending()), (N as i64, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_confirms_subscriptions_by_email_and_its_worker_sends_a_built_edition() {
    use std::io::{BufRead, BufReader};

    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    seed(dir.path(), 2).await;
    let mut child = paperboy(dir.path(), &sink)
        .env_remove("PAPERBOY_BASE_URL")
        .args(["serve", "--addr", "127.0.0.1:0", "--no-sync"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let url = line.trim().rsplit(' ').next().expect("address").to_owned();

    let http = reqwest::Client::new();
    // A browser first gets the CSRF cookie with a page, then sends its token with the form.
    let home = http.get(format!("{url}/")).send().await.expect("home page");
    let cookie = home
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-pb_csrf="))
        .expect("a CSRF cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let token = cookie.split_once('=').expect("value").1.to_owned();
    let r = http
        .post(format!("{url}/subscribe"))
        .header("cookie", &cookie)
        .form(&[("email", "ada@example.org"), ("csrf_token", token.as_str())])
        .send()
        .await
        .expect("subscribe");
    assert_eq!(r.status().as_u16(), 200);
    let got = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "the confirmation email");
    let text = &got[0].text;
    let start = text
        .find(&format!("{url}/subscribe/confirm/"))
        .expect("a link to this server");
    let confirm = text[start..].split_whitespace().next().expect("link");
    let r = http.get(confirm).send().await.expect("confirm");
    assert_eq!(r.status().as_u16(), 200);

    run_ok(paperboy(dir.path(), &sink).args([
        "digest",
        "import-subscribers",
        dir.path().join("subscribers.txt").to_str().expect("path"),
    ]));
    let out =
        run_ok(paperboy(dir.path(), &sink).args(["digest", "build", "--edition", "2025-10-29"]));
    assert!(out.contains("3 messages enqueued"), "{out}");
    // The worker inside serve picks them up (it polls every few seconds).
    let got = sink.wait_for(4, Duration::from_secs(30)).await;
    child.kill().expect("kill");
    child.wait().expect("reap");
    let mut digests: Vec<String> = got
        .iter()
        .filter(|m| {
            m.header("Subject")
                .is_some_and(|s| s.contains("Trending papers"))
        })
        .map(|m| m.rcpt.join(","))
        .collect();
    digests.sort();
    assert_eq!(
        digests,
        [
            "ada@example.org",
            "reader0@example.org",
            "reader1@example.org"
        ]
    );
}

/// A paper off the daily feed (so not in the edition), for recommendations to find.
fn archive_paper(i: u32, title: &str, summary: &str) -> NewPaper {
    NewPaper::new(
        ArxivId::parse(&format!("2509.{i:05}")).expect("id"),
        title,
        summary,
        t("2025-09-15T12:00:00Z"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_whose_account_upvoted_papers_gets_recommendations_and_one_without_none() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    seed(dir.path(), 0).await;
    let store = paperboy_store::sqlite::SqliteStore::open(&dir.path().join("paperboy.sqlite"))
        .await
        .expect("open");
    let diffusion = [
        (
            1,
            "Denoising diffusion models for image synthesis",
            "We train denoising diffusion probabilistic models that generate high resolution images from noise, with a U-Net denoiser and classifier-free guidance for text-to-image synthesis.",
        ),
        (
            2,
            "Latent diffusion for fast image generation",
            "Diffusion models in the latent space of an autoencoder generate images faster; text-to-image synthesis with cross-attention conditioning and guidance.",
        ),
        (
            3,
            "Video diffusion models",
            "We extend image diffusion models to video generation, denoising frames jointly with temporal attention for text-to-video synthesis.",
        ),
        (
            4,
            "Consistency distillation of diffusion samplers",
            "Distilling a diffusion model into a few-step image generator: consistency models sample images from noise in one or two denoising steps.",
        ),
    ];
    let proteins = [
        (
            11,
            "Protein structure prediction from sequence",
            "We predict the three-dimensional structure of proteins from amino acid sequences with an evolutionary multiple sequence alignment and residue pair representation.",
        ),
        (
            12,
            "Protein language models for enzyme function",
            "A language model trained on protein sequences predicts enzyme function and mutation effects on stability and binding affinity.",
        ),
        (
            13,
            "Docking small molecules into protein pockets",
            "Molecular docking predicts how drug-like small molecules bind protein pockets, scoring ligand poses with a learned energy function.",
        ),
    ];
    let papers: Vec<NewPaper> = diffusion
        .iter()
        .chain(proteins.iter())
        .map(|(i, title, summary)| archive_paper(*i, title, summary))
        .collect();
    store.upsert_papers(&papers).await.expect("papers");
    let subscriber = |name: &'static str| {
        let store = &store;
        async move {
            let user = store
                .create_user(&paperboy_store::NewUser {
                    username: paperboy_core::Username::parse(name).expect("name"),
                    fullname: name.into(),
                    email: Some(
                        paperboy_core::Email::parse(&format!("{name}@example.org")).expect("email"),
                    ),
                    password_hash: None,
                    is_admin: false,
                })
                .await
                .expect("user");
            let token = paperboy_mail::token::new_token();
            store
                .subscribe(&paperboy_store::NewSubscriber {
                    email: paperboy_core::Email::parse(&format!("{name}@example.org"))
                        .expect("email"),
                    user_id: Some(user.id),
                    cadence: paperboy_store::Cadence::Daily,
                    confirm_token_hash: paperboy_mail::token::hash_token(&token),
                    confirm_token: token.clone(),
                    confirm_expires_at: Utc::now() + chrono::Duration::hours(1),
                    unsubscribe_token: paperboy_mail::token::new_token(),
                })
                .await
                .expect("subscribe");
            store
                .confirm_subscriber(&paperboy_mail::token::hash_token(&token), Utc::now())
                .await
                .expect("confirm")
                .expect("confirmed");
            user.id
        }
    };
    let ada = subscriber("ada").await;
    subscriber("bob").await;
    for id in ["2509.00001", "2509.00002"] {
        store
            .set_vote(ada, &ArxivId::parse(id).expect("id"), true)
            .await
            .expect("upvote");
    }

    // `digest run --for-you` needs the search index, and says so.
    let out = paperboy(dir.path(), &sink)
        .args(["digest", "run", "--for-you"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run `paperboy reindex` first"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_ok(paperboy(dir.path(), &sink).arg("reindex"));

    // `serve` hands its search engine to its digest worker.
    let (mut server, _url) = start_serve(dir.path(), &sink);
    run_ok(paperboy(dir.path(), &sink).args(["digest", "build", "--edition", "2025-10-29"]));
    let got = sink.wait_for(2, Duration::from_secs(30)).await;
    server.kill().expect("stop serve");
    server.wait().expect("reap");
    assert_eq!(got.len(), 2, "both digests, sent by serve's worker");
    assert_recommendations(&sink.mailboxes(), "Wednesday, October 29");

    // So does `paperboy digest run --for-you`, with serve stopped.
    run_ok(paperboy(dir.path(), &sink).args(["digest", "build", "--edition", "2025-10-30"]));
    let out = run_ok(paperboy(dir.path(), &sink).args(["digest", "run", "--for-you"]));
    assert!(out.contains("2 sent"), "{out}");
    assert_recommendations(&sink.mailboxes(), "Thursday, October 30");
}

/// Starts `paperboy serve` on a free port; returns the process and its URL.
fn start_serve(data_dir: &Path, sink: &SmtpSink) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = paperboy(data_dir, sink)
        .env_remove("PAPERBOY_BASE_URL")
        .args(["serve", "--addr", "127.0.0.1:0", "--no-sync"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let url = line.trim().rsplit(' ').next().expect("address").to_owned();
    (child, url)
}

/// Ada (who upvoted two diffusion papers) got the edition with a "for you" section of the
/// closest papers she has not upvoted; Bob (no upvotes) got it without one.
fn assert_recommendations(
    mailboxes: &std::collections::BTreeMap<String, Vec<paperboy_testkit::smtp::ReceivedMail>>,
    edition: &str,
) {
    let digest_of = |who: &str| {
        mailboxes[who]
            .iter()
            .find(|m| m.header("Subject").is_some_and(|s| s.contains(edition)))
            .unwrap_or_else(|| panic!("{who}'s digest of {edition}"))
            .clone()
    };
    let ada_mail = digest_of("ada@example.org");
    let at = ada_mail.text.find("For you").unwrap_or_else(|| {
        panic!(
            "a for-you section for the account with upvotes: {}",
            ada_mail.text
        )
    });
    let for_you = &ada_mail.text[at..];
    let first = for_you
        .lines()
        .find(|l| l.starts_with("- "))
        .expect("a recommended paper");
    assert!(
        [
            "Video diffusion models",
            "Consistency distillation of diffusion samplers"
        ]
        .iter()
        .any(|t| first.contains(t)),
        "the closest unread paper to the upvoted diffusion papers comes first: {for_you}"
    );
    assert!(
        for_you.contains("/papers/2509.0000"),
        "links to the papers: {for_you}"
    );
    assert!(
        !for_you.contains("Denoising diffusion models for image synthesis")
            && !for_you.contains("Latent diffusion for fast image generation"),
        "papers already upvoted are not recommended: {for_you}"
    );
    assert!(
        !for_you.contains("Paper 12"),
        "the edition's own papers are not recommended again: {for_you}"
    );
    assert!(ada_mail.html.contains("For you"));
    let bob_mail = digest_of("bob@example.org");
    assert!(
        !bob_mail.text.contains("For you") && !bob_mail.html.contains("For you"),
        "no upvotes, no recommendations"
    );
}
