//! The backfill job: embeds, after the fact, the indexed papers still waiting for their vector
//! (a slow embedder's catch-ups leave them so; see [`SearchEngine::backfill`]). Its position
//! is the index itself — the reserved slots are its to-do list, and each step commits — so a
//! restart resumes where the last step stopped and embeds nothing twice. It logs its progress
//! (done of total, rate, time left) every [`LOG_EVERY`] and keeps it in
//! `DATA_DIR/search/backfill.json`, which `paperboy stats` reads without opening the index.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use paperboy_store::Store;
use serde::{Deserialize, Serialize};

use crate::{Embedded, SearchEngine, SearchError};

/// Papers embedded (and committed) per step: a few seconds of a transformer on 2 cores.
pub const STEP: usize = 64;

/// How often progress is logged and saved.
pub const LOG_EVERY: Duration = Duration::from_secs(30);

/// Name of the progress file in the index folder.
const FILE: &str = "backfill.json";

/// The backfill's progress, as logged and saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The embedder the vectors come from.
    pub embedder: String,
    /// Papers with a vector.
    pub done: usize,
    /// Papers waiting for theirs.
    pub waiting: usize,
    /// Papers embedded per second by this run of the job (0 before its first step).
    pub rate: f64,
    /// Seconds left at that rate.
    pub eta_secs: Option<u64>,
    /// When this was measured.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.done + self.waiting;
        let share = if total == 0 {
            100.0
        } else {
            100.0 * self.done as f64 / total as f64
        };
        write!(f, "{} of {total} embedded ({share:.1}%)", self.done)?;
        if self.waiting > 0 {
            write!(f, ", {:.1} papers/s", self.rate)?;
            if let Some(eta) = self.eta_secs {
                write!(f, ", about {} left", human(eta))?;
            }
        }
        write!(f, " [{}]", self.embedder)
    }
}

fn human(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs / 60),
        _ => format!("{:.1} h", secs as f64 / 3600.0),
    }
}

/// The progress last saved under `data_dir` (`None` when no backfill ran there).
pub fn saved_progress(data_dir: &Path) -> Option<Progress> {
    let body = std::fs::read(data_dir.join("search").join(FILE)).ok()?;
    serde_json::from_slice(&body).ok()
}

/// A run of the backfill job over one engine.
pub struct Backfill<'a> {
    engine: &'a SearchEngine,
    path: Option<PathBuf>,
    /// Papers embedded by this run, and the time its steps took.
    embedded: usize,
    working: Duration,
    last_log: Option<Instant>,
}

impl<'a> Backfill<'a> {
    /// A run over `engine` (nothing is done until [`Self::step`]).
    pub fn new(engine: &'a SearchEngine) -> Self {
        Self {
            path: engine.index_dir().map(|d| d.join(FILE)),
            engine,
            embedded: 0,
            working: Duration::ZERO,
            last_log: None,
        }
    }

    /// Where the job stands now.
    pub fn progress(&self) -> Progress {
        let Embedded { done, waiting } = self.engine.embedded();
        let rate = if self.working.is_zero() {
            0.0
        } else {
            self.embedded as f64 / self.working.as_secs_f64()
        };
        Progress {
            embedder: self.engine.embedder().id(),
            done,
            waiting,
            rate,
            eta_secs: (rate > 0.0).then(|| (waiting as f64 / rate).ceil() as u64),
            updated_at: Utc::now(),
        }
    }

    /// Embeds up to [`STEP`] waiting papers; whether some are still waiting.
    pub async fn step(&mut self, store: &dyn Store) -> Result<bool, SearchError> {
        if self.engine.embedded().waiting == 0 {
            return Ok(false);
        }
        let started = Instant::now();
        let n = self.engine.backfill(store, STEP).await?;
        self.working += started.elapsed();
        self.embedded += n;
        let waiting = self.engine.embedded().waiting;
        let due = self.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if due || waiting == 0 {
            self.report()?;
        }
        Ok(waiting > 0 && n > 0)
    }

    /// Logs and saves the progress.
    pub fn report(&mut self) -> Result<(), SearchError> {
        let p = self.progress();
        tracing::info!(
            done = p.done,
            total = p.done + p.waiting,
            rate = format!("{:.1}/s", p.rate),
            eta_s = p.eta_secs,
            "{}",
            if p.waiting == 0 {
                "every paper is embedded"
            } else {
                "embedding papers in the background"
            }
        );
        self.last_log = Some(Instant::now());
        if let Some(path) = &self.path {
            let tmp = path.with_extension("json.tmp");
            let body = serde_json::to_vec_pretty(&p)
                .map_err(|e| SearchError::Io(format!("{}: {e}", path.display())))?;
            std::fs::write(&tmp, body)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| SearchError::Io(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Steps until nothing waits or `deadline` passes; the progress at the end.
    pub async fn run_until(
        &mut self,
        store: &dyn Store,
        deadline: Option<Instant>,
    ) -> Result<Progress, SearchError> {
        while deadline.is_none_or(|d| Instant::now() < d) && self.step(store).await? {}
        Ok(self.progress())
    }
}
