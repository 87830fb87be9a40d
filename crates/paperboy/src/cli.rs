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
    #[command(flatten)]
    embedder: crate::search_cmd::EmbedderArgs,
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
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal API tokens (`Authorization: Bearer …` on the API's write endpoints).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Email digests: build an edition, send what is queued, import subscribers.
    Digest(crate::digest::DigestArgs),
    /// Rebuild the search index from the stored papers.
    Reindex,
    /// Render comments' HTML again: those stored without it or by another renderer version
    /// (the server also does this in the background when it starts).
    RerenderComments {
        /// Every comment, whatever renderer made its HTML.
        #[arg(long)]
        all: bool,
    },
    /// Measure search quality on a BEIR-layout relevance data set (nDCG@10, Recall@100, MRR@10).
    Eval(crate::search_cmd::EvalArgs),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from PAPERBOY_PASSWORD or standard input.
    Create {
        /// Username (2–42 letters, digits, `-`, `_`, `.`).
        username: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name (defaults to the username).
        #[arg(long)]
        fullname: Option<String>,
        /// Make the account an administrator (moderation).
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for a user and print its secret (shown this once; only a hash is kept).
    Create {
        /// The user's username.
        #[arg(long)]
        user: String,
        /// A label for the token ("laptop", "CI").
        #[arg(long)]
        name: String,
    },
    /// List a user's live tokens.
    List {
        /// The user's username.
        #[arg(long)]
        user: String,
    },
    /// Revoke a token by its id (from `token list`).
    Revoke {
        /// The user's username.
        #[arg(long)]
        user: String,
        /// The token's id.
        #[arg(long)]
        id: i64,
    },
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
    /// Send cookies without `Secure` (and without the `__Host-` prefix): only for serving
    /// plain http to browsers that refuse secure cookies from it. Never behind a public address.
    #[arg(long, env = "PAPERBOY_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// The site's name, shown in the header.
    #[arg(long, env = "PAPERBOY_SITE_NAME", default_value = "Paperboy")]
    site_name: String,
    /// Addresses of reverse proxies in front of Paperboy: requests from them are counted, for
    /// rate limits, by the client address they put last in `X-Forwarded-For`. Comma-separated.
    #[arg(
        long = "trusted-proxy",
        env = "PAPERBOY_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Host names (or `name:port`) whose `Host` header pages and feeds may link to when no
    /// `--base-url` is set (the listening address and loopback always may). Comma-separated.
    #[arg(
        long = "allowed-host",
        env = "PAPERBOY_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    #[command(flatten)]
    sources: SourceArgs,
    /// Megabytes of memory for the caches of rendered pages, API answers and email editions,
    /// all together (each cache gets a share; an answer larger than its share is not kept).
    #[arg(long, env = "PAPERBOY_CACHE_MB", default_value_t = 40)]
    cache_mb: usize,
    /// Password hashes computed at once (19 MiB of memory each); sign-ins beyond it wait up
    /// to a second, then are answered 503. Defaults to the number of cores.
    #[arg(long, env = "PAPERBOY_PASSWORD_HASHES")]
    password_hashes: Option<usize>,
    /// Do not build or send email digests from this process.
    #[arg(long, env = "PAPERBOY_NO_DIGEST")]
    no_digest: bool,
    #[command(flatten)]
    mail: crate::digest::MailArgs,
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
        Command::User(UserCommand::Create {
            username,
            email,
            fullname,
            admin,
        }) => create_user(&cli.settings, username, email, fullname, admin).await,
        Command::Token(command) => token(&cli.settings, command).await,
        Command::Digest(args) => {
            crate::digest::run(
                open_store(&cli.settings).await?,
                &cli.settings.data_dir,
                &cli.settings.embedder,
                args,
            )
            .await
        }
        Command::Reindex => {
            crate::search_cmd::reindex(
                &cli.settings.data_dir,
                &cli.settings.embedder,
                open_store(&cli.settings).await?,
            )
            .await
        }
        Command::Eval(args) => crate::search_cmd::eval(&args, &cli.settings.embedder),
        Command::RerenderComments { all } => {
            let store = open_store(&cli.settings).await?;
            let n = paperboy_web::comments::rerender_stale(store, all)
                .await
                .context("rendering comments")?;
            println!(
                "Rendered {n} comment{} (renderer version {}).",
                if n == 1 { "" } else { "s" },
                paperboy_web::comments::RENDERER_VERSION
            );
            Ok(())
        }
    }
}

async fn token(settings: &Settings, command: TokenCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let user_of = |name: String| {
        let store = store.clone();
        async move {
            store
                .user_by_name(&name)
                .await?
                .with_context(|| format!("there is no user `{name}`"))
        }
    };
    match command {
        TokenCommand::Create { user, name } => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 100,
                "a token name is 1 to 100 characters"
            );
            let user = user_of(user).await?;
            let created = store.create_api_token(user.id, name).await?;
            eprintln!(
                "Created token {} \"{}\" for {}. Copy it now: it is not shown again.",
                created.token.id, created.token.name, user.username
            );
            println!("{}", created.secret);
        }
        TokenCommand::List { user } => {
            let user = user_of(user).await?;
            for t in store.api_tokens(user.id).await? {
                println!(
                    "{}\t{}\tcreated {}\tlast used {}",
                    t.id,
                    t.name,
                    t.created_at.format("%Y-%m-%d %H:%M"),
                    t.last_used_at.map_or_else(
                        || "never".to_owned(),
                        |d| d.format("%Y-%m-%d %H:%M").to_string()
                    )
                );
            }
        }
        TokenCommand::Revoke { user, id } => {
            let user = user_of(user).await?;
            anyhow::ensure!(
                store.revoke_api_token(user.id, id).await?,
                "{} has no live token {id}",
                user.username
            );
            println!("Revoked token {id}.");
        }
    }
    Ok(())
}

async fn serve(settings: &Settings, args: ServeArgs) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    // The search index catches up now and every minute; the JSON search API asks it.
    let search =
        crate::search_cmd::open_search(&settings.data_dir, &settings.embedder, store.clone())?;
    if !args.no_sync {
        let store = store.clone();
        let sync_settings = args.sources.settings();
        let every = Duration::from_secs(args.sync_minutes.max(1) * 60);
        tokio::spawn(async move { run_sync_loop(store, sync_settings, every).await });
    }
    {
        // Comments stored by an older renderer (or before HTML was stored) are rendered
        // again in the background; pages render any not yet done themselves.
        let store = store.clone();
        tokio::spawn(async move {
            match paperboy_web::comments::rerender_stale(store, false).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("rendered {n} comments again"),
                Err(e) => tracing::warn!("rendering comments again: {e}"),
            }
        });
    }
    println!("Paperboy is serving on http://{addr}");
    let budget = paperboy_web::CacheBudget::split(args.cache_mb.saturating_mul(1 << 20));
    let mut state = paperboy_web::AppState::new(store.clone()).with_cache_budget(budget);
    if let Some(n) = args.password_hashes {
        state.hashers = Arc::new(paperboy_web::auth::Hashers::new(
            n,
            paperboy_web::auth::HASH_WAIT,
        ));
    }
    if !args.no_digest {
        state = state.with_mail(crate::digest::start_for_serve(
            store,
            &args.mail,
            addr,
            Some(search.clone()),
            budget.mail,
        )?);
    }
    state.search = Some(search);
    state.cookies = paperboy_web::auth::CookiePolicy {
        secure: !args.insecure_cookies,
    };
    state.site_name = args.site_name.as_str().into();
    state.trusted_proxies = args.trusted_proxies.clone().into();
    state.origin = std::sync::Arc::new(
        paperboy_web::origin::SiteOrigin::new(args.mail.base_url(), &args.allowed_hosts)?
            .listening_on(addr),
    );
    let public = settings.data_dir.join("public");
    state.public_dir = public.is_dir().then_some(public);
    state.arxiv = paperboy_ingest::ArxivClient::new(
        &args.sources.arxiv_url,
        paperboy_ingest::arxiv::DEFAULT_MIN_INTERVAL,
    );
    paperboy_web::serve(listener, state, shutdown_signal())
        .await
        .context("serving HTTP")
}

pub(crate) async fn shutdown_signal() {
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
    // Written by the background embedding of a transformer embedder (not while it is absent).
    if let Some(p) = paperboy_search::backfill::saved_progress(&settings.data_dir) {
        println!(
            "search vectors {p} (as of {})",
            p.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    Ok(())
}

async fn create_user(
    settings: &Settings,
    username: String,
    email: String,
    fullname: Option<String>,
    admin: bool,
) -> anyhow::Result<()> {
    let username = paperboy_core::Username::parse(&username)?;
    let email = paperboy_core::Email::parse(&email)?;
    let password = match std::env::var("PAPERBOY_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprint!("Password for {username}: ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    paperboy_web::auth::check_password_rules(&password).map_err(anyhow::Error::msg)?;
    let hash = paperboy_web::auth::hash_password(password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = open_store(settings).await?;
    let user = store
        .create_user(&paperboy_store::NewUser {
            fullname: fullname.unwrap_or_else(|| username.to_string()),
            username,
            email: Some(email),
            password_hash: Some(hash),
            is_admin: admin,
        })
        .await?;
    println!(
        "created {}{} (id {})",
        user.username,
        if user.is_admin {
            ", an administrator"
        } else {
            ""
        },
        user.id
    );
    Ok(())
}
