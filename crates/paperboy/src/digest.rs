//! `paperboy digest …` and the mail settings shared with `serve`: SMTP server, From address,
//! the site's public base URL, and when digests go out (time zone, send time, weekly day).
//! [`SearchRecommender`] gives digests their "for you" section from the search engine.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{NaiveDate, NaiveTime, Weekday};
use clap::{Args, Subcommand};
use paperboy_core::ArxivId;
use paperboy_core::Email;
use paperboy_mail::digest::{EDITION_PAPERS, EditionContent, select_papers};
use paperboy_mail::schedule::build_edition;
use paperboy_mail::{
    MailError, MailResult, MailService, Mailer, Recommender, ScheduleSettings, SendTime,
    SharedRecommender, SiteSettings, SmtpSettings, SmtpTls, Worker, WorkerOptions,
};
use paperboy_search::SearchEngine;
use paperboy_store::{Cadence, ImportedSubscriber, Store};

/// Upvotes considered for an account's recommendations (the most recent ones).
const UPVOTES_CONSIDERED: u32 = 200;

/// The "for you" section from the search engine: the account's upvoted papers, grouped into
/// interests, query the vector index (`SearchEngine::recommend_excluding`); the edition's own
/// papers are left out. An account without upvotes gets none.
pub struct SearchRecommender {
    engine: Arc<SearchEngine>,
    store: Arc<dyn Store>,
}

impl SearchRecommender {
    /// Recommendations from `engine` for the accounts of `store`.
    pub fn new(engine: Arc<SearchEngine>, store: Arc<dyn Store>) -> Self {
        Self { engine, store }
    }

    /// The same, shared, as the worker takes it.
    pub fn shared(engine: Arc<SearchEngine>, store: Arc<dyn Store>) -> SharedRecommender {
        Arc::new(Self::new(engine, store))
    }
}

#[async_trait::async_trait]
impl Recommender for SearchRecommender {
    async fn recommend(
        &self,
        user_id: i64,
        exclude: &[String],
        limit: usize,
    ) -> MailResult<Vec<String>> {
        let upvoted: Vec<ArxivId> = self
            .store
            .upvoted_paper_ids(user_id, UPVOTES_CONSIDERED)
            .await?
            .iter()
            .filter_map(|id| ArxivId::parse(id).ok())
            .collect();
        if upvoted.is_empty() {
            return Ok(Vec::new());
        }
        let exclude: Vec<ArxivId> = exclude
            .iter()
            .filter_map(|id| ArxivId::parse(id).ok())
            .collect();
        let engine = self.engine.clone();
        // Vector math over the index: off the async threads.
        let scored = tokio::task::spawn_blocking(move || {
            engine.recommend_excluding(&upvoted, &exclude, limit)
        })
        .await
        .map_err(|e| MailError::Settings(format!("the recommendation task failed: {e}")))?;
        Ok(scored.into_iter().map(|s| s.key).collect())
    }
}

/// Mail settings (flags with `PAPERBOY_*` environment fallbacks).
#[derive(Debug, Args)]
pub struct MailArgs {
    /// SMTP server host.
    #[arg(long, env = "PAPERBOY_SMTP_HOST", default_value = "localhost")]
    smtp_host: String,
    /// SMTP server port.
    #[arg(long, env = "PAPERBOY_SMTP_PORT", default_value_t = 25)]
    smtp_port: u16,
    /// SMTP connection security: none, starttls or tls.
    #[arg(long, env = "PAPERBOY_SMTP_TLS", default_value = "none")]
    smtp_tls: String,
    /// SMTP login.
    #[arg(long, env = "PAPERBOY_SMTP_USERNAME")]
    smtp_username: Option<String>,
    /// SMTP password (prefer the environment variable).
    #[arg(long, env = "PAPERBOY_SMTP_PASSWORD", hide_env_values = true)]
    smtp_password: Option<String>,
    /// SMTP connections kept open (messages sent in parallel).
    #[arg(long, env = "PAPERBOY_SMTP_CONNECTIONS", default_value_t = 4)]
    smtp_connections: u32,
    /// The From address of digests, e.g. `Paperboy <digest@papers.example.org>`.
    #[arg(
        long,
        env = "PAPERBOY_MAIL_FROM",
        default_value = "Paperboy <paperboy@localhost>"
    )]
    mail_from: String,
    /// The site's public base URL (like `https://papers.example.org`): links in emails, feeds and
    /// canonical links start with it. Without it, emails link to the address `serve` listens
    /// on, and pages and feeds to the `Host` a request names if it is that address, loopback or
    /// an `--allowed-host`.
    #[arg(long, env = "PAPERBOY_BASE_URL")]
    base_url: Option<String>,
    /// Time zone of the send time (IANA name, e.g. Europe/Paris).
    #[arg(long, env = "PAPERBOY_DIGEST_TIME_ZONE", default_value = "UTC")]
    digest_time_zone: String,
    /// Local time digests go out (HH:MM); daily ones on weekdays.
    #[arg(long, env = "PAPERBOY_DIGEST_SEND_TIME", default_value = "08:00")]
    digest_send_time: String,
    /// Day the weekly digest goes out.
    #[arg(long, env = "PAPERBOY_DIGEST_WEEKLY_DAY", default_value = "monday")]
    digest_weekly_day: String,
}

impl MailArgs {
    /// `--base-url`, shared with the web layer's links.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    fn site(&self, default_base: &str) -> anyhow::Result<SiteSettings> {
        let base = self.base_url.as_deref().unwrap_or(default_base);
        Ok(SiteSettings::new("Paperboy", base, &self.mail_from)?)
    }

    fn mailer(&self) -> anyhow::Result<Mailer> {
        let tls = SmtpTls::parse(&self.smtp_tls).with_context(|| {
            format!("--smtp-tls `{}`: use none, starttls or tls", self.smtp_tls)
        })?;
        Ok(Mailer::new(SmtpSettings {
            host: self.smtp_host.clone(),
            port: self.smtp_port,
            tls,
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            max_connections: self.smtp_connections.max(1),
            ..SmtpSettings::default()
        })?)
    }

    fn send_time(&self) -> anyhow::Result<SendTime> {
        let time_zone = self.digest_time_zone.parse().map_err(|_| {
            anyhow::anyhow!(
                "--digest-time-zone `{}` is not an IANA time zone like Europe/Paris",
                self.digest_time_zone
            )
        })?;
        let at = NaiveTime::parse_from_str(&self.digest_send_time, "%H:%M").with_context(|| {
            format!(
                "--digest-send-time `{}` is not a time like 08:00",
                self.digest_send_time
            )
        })?;
        let weekly_on: Weekday = self.digest_weekly_day.parse().map_err(|_| {
            anyhow::anyhow!(
                "--digest-weekly-day `{}` is not a weekday like monday",
                self.digest_weekly_day
            )
        })?;
        Ok(SendTime {
            time_zone,
            at,
            weekly_on,
        })
    }
}

/// For `serve`: the web layer's mail service, and the digest jobs (scheduler and outbox worker,
/// with "for you" recommendations from `search`) spawned in the background. `listening` is the
/// address served, the default base URL.
pub fn start_for_serve(
    store: Arc<dyn Store>,
    mail: &MailArgs,
    listening: std::net::SocketAddr,
    search: Option<Arc<SearchEngine>>,
    edition_cache_bytes: usize,
) -> anyhow::Result<MailService> {
    let site = mail.site(&format!("http://{listening}"))?;
    let mailer = mail.mailer()?;
    paperboy_mail::spawn_digest_jobs(
        store.clone(),
        site.clone(),
        mailer.clone(),
        ScheduleSettings {
            send: Some(mail.send_time()?),
            worker: WorkerOptions {
                concurrency: mail.smtp_connections.max(1) as usize,
                edition_cache_bytes,
                ..WorkerOptions::default()
            },
            recommender: search.map(|engine| SearchRecommender::shared(engine, store.clone())),
        },
    );
    Ok(MailService::new(store, site, mailer))
}

/// `paperboy digest`.
#[derive(Debug, Args)]
pub struct DigestArgs {
    #[command(subcommand)]
    command: DigestCommand,
    #[command(flatten)]
    mail: MailArgs,
}

#[derive(Debug, Subcommand)]
enum DigestCommand {
    /// Build an edition: pick its trending papers and enqueue one message per confirmed
    /// subscriber (again: only subscribers confirmed since).
    Build(BuildArgs),
    /// Send what is queued, then exit (or keep going with --follow).
    Run(RunArgs),
    /// Import already-confirmed subscribers, one address per line (moving a list over).
    ImportSubscribers(ImportArgs),
    /// Print the outbox by status.
    Status,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// The edition's date (the feed day for daily, a day of the week for weekly); default the
    /// latest day with papers.
    #[arg(long)]
    edition: Option<String>,
    /// daily or weekly.
    #[arg(long, default_value = "daily")]
    cadence: String,
    /// Print what would be sent, change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Print what would be sent, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep running, sending whatever becomes due.
    #[arg(long)]
    follow: bool,
    /// Rows claimed at a time.
    #[arg(long, default_value_t = 200)]
    batch_size: u32,
    /// Seconds a claim lasts before another worker may take the rows over.
    #[arg(long, default_value_t = 300)]
    lease_seconds: u64,
    /// Seconds before the first retry of a temporary failure (doubled each attempt).
    #[arg(long, default_value_t = 60)]
    retry_seconds: u64,
    /// Add the "for you" section from the search index (`paperboy reindex` builds it). This
    /// process then holds the index for the run: not while `serve` uses the same data
    /// directory (its own worker adds the section anyway).
    #[arg(long, env = "PAPERBOY_DIGEST_FOR_YOU")]
    for_you: bool,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// A file of addresses, one per line.
    file: PathBuf,
    /// daily or weekly.
    #[arg(long, default_value = "daily")]
    cadence: String,
}

fn cadence(s: &str) -> anyhow::Result<Cadence> {
    Cadence::parse(s).with_context(|| format!("--cadence `{s}`: use daily or weekly"))
}

/// Runs `paperboy digest …`; `data_dir` holds the search index the "for you" section is drawn
/// from.
pub async fn run(
    store: Arc<dyn Store>,
    data_dir: &Path,
    embedder: &crate::search_cmd::EmbedderArgs,
    args: DigestArgs,
) -> anyhow::Result<()> {
    match args.command {
        DigestCommand::Build(b) => build(store, &args.mail, b).await,
        DigestCommand::Run(r) => send(store, data_dir, embedder, &args.mail, r).await,
        DigestCommand::ImportSubscribers(i) => import(store, i).await,
        DigestCommand::Status => {
            let c = store.outbox_counts(None).await?;
            println!(
                "queued {}  sending {}  sent {}  failed {}  cancelled {}",
                c.queued, c.sending, c.sent, c.failed, c.cancelled
            );
            let c = store.confirmation_counts().await?;
            println!(
                "confirmations: queued {}  sending {}  sent {}  failed {}  cancelled {}",
                c.queued, c.sending, c.sent, c.failed, c.cancelled
            );
            Ok(())
        }
    }
}

async fn build(store: Arc<dyn Store>, mail: &MailArgs, args: BuildArgs) -> anyhow::Result<()> {
    let cadence = cadence(&args.cadence)?;
    let date = match &args.edition {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .with_context(|| format!("--edition `{d}` is not a date like 2025-10-29"))?,
        None => match store.latest_feed_date().await? {
            Some(d) => d,
            None => bail!("there are no papers yet: import some first"),
        },
    };
    if args.dry_run {
        let site = mail.site("http://127.0.0.1:8080")?;
        let ids = select_papers(&*store, cadence, date, EDITION_PAPERS).await?;
        let content = EditionContent::for_papers(&*store, cadence, date, &ids, &site).await?;
        let recipients = store.confirmed_subscribers(cadence, u32::MAX).await?;
        println!("dry run: nothing is stored or sent");
        println!("subject: {}", content.subject);
        for (i, p) in content.papers.iter().enumerate() {
            println!(
                "{:>3}. [{} upvotes] {} — {}",
                i + 1,
                p.upvotes,
                p.title,
                p.url
            );
        }
        println!(
            "would enqueue up to {} messages (confirmed {cadence} subscribers without one for this edition)",
            recipients.len()
        );
        for s in recipients.iter().take(10) {
            println!("  to {}", s.email);
        }
        if recipients.len() > 10 {
            println!("  … and {} more", recipients.len() - 10);
        }
        return Ok(());
    }
    let built = build_edition(&*store, cadence, date).await?;
    println!(
        "{} {cadence} edition {} ({} papers): {} messages enqueued",
        if built.created { "built" } else { "rebuilt" },
        built.edition.date,
        built.edition.paper_ids.len(),
        built.enqueued
    );
    Ok(())
}

/// The search engine for recommendations in `digest run --for-you`: the index `serve` or
/// `paperboy reindex` keeps, caught up first. It must exist and be free (a running `serve`
/// holds it): otherwise the error says so, rather than digests quietly going out without
/// their section.
async fn recommender_for_run(
    data_dir: &Path,
    embedder: &crate::search_cmd::EmbedderArgs,
    store: &Arc<dyn Store>,
) -> anyhow::Result<SharedRecommender> {
    let embedder = embedder.load()?;
    let engine = SearchEngine::open(data_dir, embedder).with_context(|| {
        format!(
            "--for-you: opening the search index under {} (is `paperboy serve` using it?)",
            data_dir.display()
        )
    })?;
    let engine = Arc::new(engine);
    if engine.is_empty() {
        bail!("--for-you: the search index is empty; run `paperboy reindex` first");
    }
    if let Err(e) = crate::search_cmd::catch_up(&engine, store.as_ref()).await {
        tracing::warn!("search index catch-up failed, recommending from it as it is: {e:#}");
    }
    Ok(SearchRecommender::shared(engine, store.clone()))
}

async fn send(
    store: Arc<dyn Store>,
    data_dir: &Path,
    embedder: &crate::search_cmd::EmbedderArgs,
    mail: &MailArgs,
    args: RunArgs,
) -> anyhow::Result<()> {
    if args.dry_run {
        let c = store.outbox_counts(None).await?;
        let confirmations = store.confirmation_counts().await?.pending();
        println!("dry run: nothing is sent");
        println!(
            "would send up to {} messages ({} digests queued, {} claimed by a worker; {} confirmations) through {}:{}",
            c.pending() + confirmations,
            c.queued,
            c.sending,
            confirmations,
            mail.smtp_host,
            mail.smtp_port
        );
        return Ok(());
    }
    let site = mail.site("http://127.0.0.1:8080")?;
    let options = WorkerOptions {
        batch_size: args.batch_size.max(1),
        concurrency: mail.smtp_connections.max(1) as usize,
        lease: Duration::from_secs(args.lease_seconds.max(1)),
        retry_base: Duration::from_secs(args.retry_seconds.max(1)),
        poll: Duration::from_millis(500),
        ..WorkerOptions::default()
    };
    let recommender = if args.for_you {
        Some(recommender_for_run(data_dir, embedder, &store).await?)
    } else {
        None
    };
    let worker = Worker::new(store, site, mail.mailer()?, options).with_recommender(recommender);
    if args.follow {
        worker.run(crate::cli::shutdown_signal()).await;
        return Ok(());
    }
    let started = std::time::Instant::now();
    let report = worker.drain().await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{report} in {secs:.1} s ({:.0} messages/s)",
        report.sent as f64 / secs.max(0.001)
    );
    Ok(())
}

async fn import(store: Arc<dyn Store>, args: ImportArgs) -> anyhow::Result<()> {
    let cadence = cadence(&args.cadence)?;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let mut list = Vec::new();
    let mut bad = 0;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", args.file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match Email::parse(&line) {
            Ok(email) => list.push(ImportedSubscriber {
                email,
                cadence,
                unsubscribe_token: paperboy_mail::token::new_token(),
            }),
            Err(e) => {
                bad += 1;
                eprintln!("{}:{}: {e}", args.file.display(), n + 1);
            }
        }
    }
    let added = store.import_subscribers(&list).await?;
    println!(
        "{added} subscribers added, {} already known, {bad} lines skipped",
        list.len() as u64 - added
    );
    Ok(())
}
