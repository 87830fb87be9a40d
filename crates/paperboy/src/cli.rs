//! The command line: one `Settings` shared by every subcommand (flags with `PAPERBOY_*`
//! environment fallbacks), and one function per subcommand.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use paperboy_ingest::sync::{SyncSettings, run_sync_loop, sync_once};
use paperboy_ingest::{ImportOptions, import_files};
use paperboy_store::Store;

/// Paperboy: a self-hostable Daily Papers site for your team.
///
/// Start with `paperboy serve` and open the address it prints. Import papers with
/// `paperboy import FILE…` (Hugging Face daily-papers JSON or arXiv JSON Lines, plain or .gz).
#[derive(Debug, Parser)]
#[command(name = "paperboy", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

/// Settings common to every subcommand.
#[derive(Debug, Args)]
struct Settings {
    /// Where Paperboy keeps its files: the SQLite database, the search index, models.
    #[arg(
        long,
        env = "PAPERBOY_DATA_DIR",
        default_value = "./paperboy-data",
        global = true
    )]
    data_dir: PathBuf,
    /// A `postgres://…` URL to keep data in PostgreSQL instead of the embedded SQLite file.
    #[arg(
        long,
        env = "PAPERBOY_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the site (and keep it current by syncing from huggingface.co and arXiv).
    Serve(ServeArgs),
    /// Import papers from files: Hugging Face daily-papers JSON (array or JSON Lines) or arXiv
    /// metadata JSON Lines (the Kaggle snapshot format); plain or gzip, detected from content.
    Import(ImportArgs),
    /// Fetch the latest daily papers from huggingface.co (and arXiv) once, then exit.
    Sync(SyncArgs),
    /// Print counts of what is stored.
    Stats,
    /// Rebuild the search index from the stored papers.
    Reindex,
    /// Measure search quality on a BEIR-layout relevance data set (nDCG@10, Recall@100, MRR@10).
    Eval(crate::search_cmd::EvalArgs),
}

#[derive(Debug, Args)]
struct SourceArgs {
    /// Base URL of the Hugging Face daily-papers source.
    #[arg(
        long,
        env = "PAPERBOY_HF_URL",
        default_value = "https://huggingface.co"
    )]
    hf_url: String,
    /// Base URL of the arXiv API.
    #[arg(
        long,
        env = "PAPERBOY_ARXIV_URL",
        default_value = "http://export.arxiv.org"
    )]
    arxiv_url: String,
    /// arXiv categories to pull into the catalogue every sync (e.g. cs.CL); repeat or separate
    /// with commas. None by default: the daily list comes from huggingface.co.
    #[arg(
        long = "arxiv-category",
        env = "PAPERBOY_ARXIV_CATEGORIES",
        value_delimiter = ','
    )]
    arxiv_categories: Vec<String>,
    /// How many recent days each sync looks at.
    #[arg(long, env = "PAPERBOY_SYNC_DAYS", default_value_t = 3)]
    sync_days: u32,
}

impl SourceArgs {
    fn settings(&self) -> SyncSettings {
        SyncSettings {
            hf_base: self.hf_url.clone(),
            arxiv_base: self.arxiv_url.clone(),
            days: self.sync_days,
            categories: self.arxiv_categories.clone(),
            arxiv_interval: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAPERBOY_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Do not sync from the live sources in the background.
    #[arg(long, env = "PAPERBOY_NO_SYNC")]
    no_sync: bool,
    /// Minutes between background syncs.
    #[arg(long, env = "PAPERBOY_SYNC_MINUTES", default_value_t = 30)]
    sync_minutes: u64,
    #[command(flatten)]
    sources: SourceArgs,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Files to import.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Stop at the first malformed record instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// Records per transaction.
    #[arg(long, default_value_t = 2000)]
    batch_size: usize,
}

#[derive(Debug, Args)]
struct SyncArgs {
    #[command(flatten)]
    sources: SourceArgs,
}

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    paperboy_store::open(settings.database_url.as_deref(), &settings.data_dir)
        .await
        .context("opening the database")
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(&cli.settings, args).await,
        Command::Import(args) => import(&cli.settings, args).await,
        Command::Sync(args) => sync(&cli.settings, args).await,
        Command::Stats => stats(&cli.settings).await,
        Command::Reindex => {
            crate::search_cmd::reindex(&cli.settings.data_dir, open_store(&cli.settings).await?)
                .await
        }
        Command::Eval(args) => crate::search_cmd::eval(&args),
    }
}

async fn serve(settings: &Settings, args: ServeArgs) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    // The search index catches up now and every minute (the web layer will take it from here).
    let _search = crate::search_cmd::open_search(&settings.data_dir, store.clone())?;
    if !args.no_sync {
        let store = store.clone();
        let sync_settings = args.sources.settings();
        let every = Duration::from_secs(args.sync_minutes.max(1) * 60);
        tokio::spawn(async move { run_sync_loop(store, sync_settings, every).await });
    }
    println!("Paperboy is serving on http://{addr}");
    let state = paperboy_web::AppState::new(store);
    paperboy_web::serve(listener, state, shutdown_signal())
        .await
        .context("serving HTTP")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn import(settings: &Settings, args: ImportArgs) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let options = ImportOptions {
        batch_size: args.batch_size.max(1),
        strict: args.strict,
        progress: std::io::stderr().is_terminal(),
    };
    let report = import_files(store, &args.files, &options).await?;
    for bad in &report.bad {
        eprintln!("skipped {bad}");
    }
    if report.skipped > report.bad.len() as u64 {
        eprintln!(
            "… and {} more skipped records",
            report.skipped - report.bad.len() as u64
        );
    }
    println!("{report}");
    Ok(())
}

async fn sync(settings: &Settings, args: SyncArgs) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let today = chrono::Utc::now().date_naive();
    let report = sync_once(&store, &args.sources.settings(), today)
        .await
        .context("sync failed")?;
    println!("{report}");
    Ok(())
}

async fn stats(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let s = store.stats().await?;
    let latest = store.latest_feed_date().await?;
    println!("backend        {:?}", store.backend());
    println!("papers         {}", s.papers);
    println!(
        "daily entries  {} over {} days",
        s.feed_entries, s.feed_days
    );
    println!(
        "latest day     {}",
        latest.map_or_else(|| "-".to_owned(), |d| d.to_string())
    );
    println!("authors        {}", s.authors);
    println!("users          {}", s.users);
    println!("organizations  {}", s.organizations);
    println!("upvotes        {}", s.votes);
    Ok(())
}
