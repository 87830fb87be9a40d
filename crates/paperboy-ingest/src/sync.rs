//! Keeping a server current: [`sync_once`] fetches the last few days of huggingface.co's
//! daily papers, enriches them with arXiv metadata, adds the configured arXiv categories'
//! new submissions to the catalogue, and stores everything; [`run_sync_loop`] does that
//! forever, quietly while the sources cannot be reached.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{Days, NaiveDate, SecondsFormat, Utc};
use paperboy_core::{ArxivId, NewPaper};
use paperboy_store::Store;

use crate::arxiv::{self, ArxivClient};
use crate::hf::{self, HfClient};
use crate::source::SourceError;

/// The state key holding the time (RFC 3339) of the last successful sync.
pub const LAST_SUCCESS_KEY: &str = "sync.last_success";

/// What a sync fetches, and from where.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// huggingface.co (or a mirror).
    pub hf_base: String,
    /// The arXiv API's host.
    pub arxiv_base: String,
    /// How many days, up to today, to fetch (at least 1).
    pub days: u32,
    /// arXiv categories (`cs.CL`, …) whose submissions of those days enter the catalogue.
    pub categories: Vec<String>,
    /// The least time between two arXiv requests (arXiv asks for 3 s).
    pub arxiv_interval: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            hf_base: hf::DEFAULT_BASE_URL.to_owned(),
            arxiv_base: arxiv::DEFAULT_BASE_URL.to_owned(),
            days: 3,
            categories: Vec::new(),
            arxiv_interval: arxiv::DEFAULT_MIN_INTERVAL,
        }
    }
}

/// What one sync stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Papers from huggingface.co's daily lists (stored with their feed entries).
    pub hf_papers: usize,
    /// Papers from arXiv: the daily papers' metadata and the categories' submissions.
    pub arxiv_papers: usize,
    /// Days fetched.
    pub days: u32,
    /// arXiv requests that failed (logged); huggingface.co's papers were stored regardless.
    pub arxiv_failures: usize,
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = if self.days == 1 { "day" } else { "days" };
        write!(
            f,
            "{} papers from huggingface.co and {} from arXiv over the last {} {days}",
            self.hf_papers, self.arxiv_papers, self.days
        )?;
        if self.arxiv_failures > 0 {
            write!(f, " ({} arXiv requests failed)", self.arxiv_failures)?;
        }
        Ok(())
    }
}

/// The clients of one sync loop, kept between runs (so the arXiv limiter spans them).
struct Sources {
    hf: HfClient,
    arxiv: ArxivClient,
    /// Whether "arXiv is unreachable" was already logged as a warning (until it recovers).
    arxiv_down: AtomicBool,
}

impl Sources {
    fn new(settings: &SyncSettings) -> Self {
        Self {
            hf: HfClient::new(&settings.hf_base),
            arxiv: ArxivClient::new(&settings.arxiv_base, settings.arxiv_interval),
            arxiv_down: AtomicBool::new(false),
        }
    }
}

/// One sync, for the `settings.days` days up to `today`:
///
/// 1. huggingface.co's daily papers of each day are stored, with their feed entries;
/// 2. their arXiv metadata (categories, comment, journal reference, DOI, latest version) is
///    fetched and stored: arXiv records carry no feed entry, so the feed stays as it is, and
///    fields arXiv lacks keep what huggingface.co gave; authors stay huggingface.co's (they
///    carry the claimed and hidden authorships) when it listed any;
/// 3. each configured category's submissions of each day are stored in the catalogue.
///
/// An unreachable (or failing) huggingface.co ends the sync with its error at once. arXiv
/// failures are logged and counted in the report; once arXiv is unreachable, the rest of the
/// arXiv requests of this sync are skipped (and [`run_sync_loop`] warns about it once per
/// outage). On success, [`LAST_SUCCESS_KEY`] records the time.
pub async fn sync_once(
    store: &Arc<dyn Store>,
    settings: &SyncSettings,
    today: NaiveDate,
) -> Result<SyncReport, SourceError> {
    sync_with(&Sources::new(settings), store, settings, today).await
}

async fn sync_with(
    sources: &Sources,
    store: &Arc<dyn Store>,
    settings: &SyncSettings,
    today: NaiveDate,
) -> Result<SyncReport, SourceError> {
    let days = settings.days.max(1);
    // Oldest first, so a paper listed on two days ends on the later one.
    let dates: Vec<NaiveDate> = (0..days)
        .rev()
        .filter_map(|back| today.checked_sub_days(Days::new(u64::from(back))))
        .collect();
    let mut report = SyncReport {
        days,
        ..SyncReport::default()
    };

    let mut ids: Vec<ArxivId> = Vec::new();
    let mut seen = HashSet::new();
    let mut hf_authored = HashSet::new();
    for &date in &dates {
        let papers = sources.hf.daily_papers(date).await?;
        store.upsert_papers(&papers).await?;
        report.hf_papers += papers.len();
        tracing::debug!(%date, papers = papers.len(), "stored huggingface.co's daily papers");
        for paper in &papers {
            let base = paper.id.base().to_owned();
            if !paper.authors.is_empty() {
                hf_authored.insert(base.clone());
            }
            if seen.insert(base) {
                ids.push(paper.id.without_version());
            }
        }
    }

    let mut arxiv = ArxivStep {
        store,
        down_logged: &sources.arxiv_down,
        hf_authored: &hf_authored,
        report: &mut report,
        unreachable: false,
    };
    if !ids.is_empty() {
        let fetched = sources.arxiv.fetch_ids(&ids).await;
        arxiv
            .store_result("the daily papers' metadata", fetched)
            .await?;
    }
    for category in &settings.categories {
        for &date in &dates {
            if arxiv.unreachable {
                break;
            }
            let fetched = sources.arxiv.fetch_category_day(category, date).await;
            arxiv
                .store_result(&format!("{category} of {date}"), fetched)
                .await?;
        }
    }

    store
        .set_state(
            LAST_SUCCESS_KEY,
            &Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .await?;
    Ok(report)
}

/// Stores arXiv results and keeps track of arXiv failures.
struct ArxivStep<'a> {
    store: &'a Arc<dyn Store>,
    down_logged: &'a AtomicBool,
    hf_authored: &'a HashSet<String>,
    report: &'a mut SyncReport,
    unreachable: bool,
}

impl ArxivStep<'_> {
    async fn store_result(
        &mut self,
        what: &str,
        fetched: Result<Vec<NewPaper>, SourceError>,
    ) -> Result<(), SourceError> {
        match fetched {
            Ok(mut papers) => {
                for paper in &mut papers {
                    if self.hf_authored.contains(paper.id.base()) {
                        paper.authors.clear();
                    }
                    paper.feed = None;
                }
                self.store.upsert_papers(&papers).await?;
                self.report.arxiv_papers += papers.len();
                tracing::debug!(papers = papers.len(), "stored arXiv's {what}");
                if self.down_logged.swap(false, Ordering::Relaxed) {
                    tracing::info!("arXiv is reachable again");
                }
            }
            Err(e) => {
                self.report.arxiv_failures += 1;
                if e.is_unreachable() {
                    // Skip the rest of this sync's arXiv requests; warn once per outage.
                    self.unreachable = true;
                    if self.down_logged.swap(true, Ordering::Relaxed) {
                        tracing::debug!("arXiv still unreachable: {e}");
                    } else {
                        tracing::warn!(
                            "arXiv enrichment unavailable: {e}; storing huggingface.co's papers without it"
                        );
                    }
                } else {
                    tracing::warn!("could not fetch arXiv's {what}: {e}");
                }
            }
        }
        Ok(())
    }
}

/// Syncs forever: now, then `every` (at least a second) after each run ends, with today's
/// UTC date. A success is logged at info level. The first failure logs one warning (for an
/// unreachable source: "sync unavailable: cannot reach … ; serving the papers already
/// stored, will retry every …"); further failures are logged at debug level until a sync
/// succeeds again.
pub async fn run_sync_loop(store: Arc<dyn Store>, settings: SyncSettings, every: Duration) {
    let every = every.max(Duration::from_secs(1));
    let sources = Sources::new(&settings);
    let mut failing = false;
    loop {
        let today = Utc::now().date_naive();
        match sync_with(&sources, &store, &settings, today).await {
            Ok(report) if failing => {
                failing = false;
                tracing::info!("sync available again: {report}");
            }
            Ok(report) => tracing::info!("sync done: {report}"),
            Err(e) if failing => tracing::debug!("sync still unavailable: {e}"),
            Err(SourceError::Unreachable { url, message }) => {
                failing = true;
                tracing::warn!(
                    "sync unavailable: cannot reach {url} ({message}); serving the papers already stored, will retry every {every:?}"
                );
            }
            Err(e) => {
                failing = true;
                tracing::warn!(
                    "sync failed: {e}; serving the papers already stored, will retry every {every:?}"
                );
            }
        }
        tokio::time::sleep(every).await;
    }
}
