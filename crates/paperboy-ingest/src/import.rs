//! Streaming file import: plain or gzip files, JSON Lines or one JSON array, detected from the
//! content. A reader thread parses records into batches; the async side stores each batch in
//! one transaction. Memory stays constant whatever the file's size (a bounded channel holds a
//! few batches), and a crash loses at most the batch being written: importing again upserts,
//! so nothing is duplicated.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use paperboy_core::NewPaper;
use paperboy_store::{Store, StoreError, UpsertSummary};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use tokio::sync::mpsc;

use crate::records::{AnyRecord, RecordError};

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Records per transaction.
    pub batch_size: usize,
    /// Stop at the first bad record instead of skipping it.
    pub strict: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch_size: 2000,
            strict: false,
            progress: false,
        }
    }
}

/// A bad record: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// The file.
    pub file: PathBuf,
    /// Its line (JSON Lines) or element number (JSON array), from 1.
    pub line: u64,
    /// What is wrong.
    pub error: RecordError,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.error)
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON array file broke off or is not JSON: the rest of it cannot be read.
    #[error("{file}: the JSON array cannot be read past element {element}: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// Elements read before the break.
        element: u64,
        /// The parser's message.
        message: String,
    },
    /// `--strict` and a record was bad.
    #[error("{0} (stopping: strict mode)")]
    Strict(BadRecord),
    /// Storing a batch failed.
    #[error("storing papers failed: {0}")]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Files read.
    pub files: usize,
    /// Records read (good and bad).
    pub records: u64,
    /// New papers and updated ones.
    pub stored: UpsertSummary,
    /// Records skipped as bad.
    pub skipped: u64,
    /// The first bad records (up to 100), for the user to see.
    pub bad: Vec<BadRecord>,
    /// Wall time.
    pub elapsed: Duration,
    /// Time spent storing batches (the rest is reading and parsing, overlapped).
    pub store_time: Duration,
}

impl ImportReport {
    /// Records stored per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (self.stored.inserted + self.stored.updated) as f64 / secs
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} records from {} file(s): {} new, {} updated, {} skipped in {:.1}s ({:.0} papers/s; {:.1}s storing)",
            self.records,
            self.files,
            self.stored.inserted,
            self.stored.updated,
            self.skipped,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.store_time.as_secs_f64()
        )
    }
}

const MAX_BAD_KEPT: usize = 100;

/// The largest record read: a JSON line or array element past it is refused with a clear
/// error instead of being held in memory (real records are a few kilobytes).
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

fn too_large_message() -> String {
    format!(
        "the record is larger than {} MiB",
        MAX_RECORD_BYTES / (1024 * 1024)
    )
}

/// Reads one line, through its newline, into `bytes`, keeping at most `cap` bytes of it: a
/// longer line is consumed to its end and reported cut (`bytes` then empty). Returns the
/// bytes consumed (0 at the end of the input) and whether the line was cut.
fn read_line_capped(
    reader: &mut dyn BufRead,
    bytes: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut cut = false;
    loop {
        let (n, done) = {
            let buf = match reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok((consumed, cut));
            }
            let (n, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !cut {
                if bytes.len() + n > cap {
                    cut = true;
                    bytes.clear();
                    bytes.shrink_to(64 * 1024);
                } else {
                    bytes.extend_from_slice(&buf[..n]);
                }
            }
            (n, done)
        };
        reader.consume(n);
        consumed += n;
        if done {
            return Ok((consumed, cut));
        }
    }
}

/// Counts what the JSON array reader takes, failing once one element passes
/// [`MAX_RECORD_BYTES`]; the count restarts at each element.
struct ElementBudget<R> {
    inner: R,
    used: std::rc::Rc<std::cell::Cell<usize>>,
}

impl<R: Read> Read for ElementBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = MAX_RECORD_BYTES.saturating_sub(self.used.get());
        if left == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                too_large_message(),
            ));
        }
        let n = buf.len().min(left);
        let read = self.inner.read(&mut buf[..n])?;
        self.used.set(self.used.get() + read);
        Ok(read)
    }
}

enum Message {
    Batch(Vec<NewPaper>),
    Bad(BadRecord),
}

/// Imports every file, in order, into `store`.
pub async fn import_files(
    store: Arc<dyn Store>,
    files: &[PathBuf],
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut report = ImportReport::default();
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = progress_bar(options.progress, total_bytes);
    let read_bytes = Arc::new(AtomicU64::new(0));
    for file in files {
        report.files += 1;
        let (tx, mut rx) = mpsc::channel::<Message>(2);
        let reader = {
            let file = file.clone();
            let opts = options.clone();
            let counter = read_bytes.clone();
            tokio::task::spawn_blocking(move || read_file(&file, &opts, &counter, &tx))
        };
        let mut stop: Option<ImportError> = None;
        while let Some(msg) = rx.recv().await {
            match msg {
                Message::Batch(batch) => {
                    report.records += batch.len() as u64;
                    let t = Instant::now();
                    let result = store.upsert_papers(&batch).await;
                    report.store_time += t.elapsed();
                    match result {
                        Ok(s) => report.stored += s,
                        Err(e) => {
                            stop = Some(e.into());
                            break;
                        }
                    }
                }
                Message::Bad(bad) => {
                    report.records += 1;
                    report.skipped += 1;
                    if options.strict {
                        stop = Some(ImportError::Strict(bad));
                        break;
                    }
                    tracing::warn!("skipped {bad}");
                    if report.bad.len() < MAX_BAD_KEPT {
                        report.bad.push(bad);
                    }
                }
            }
            if let Some(bar) = &bar {
                bar.set_position(read_bytes.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{} papers",
                    report.stored.inserted + report.stored.updated
                ));
            }
        }
        drop(rx);
        let read_result = reader.await.map_err(|e| ImportError::Io {
            file: file.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if let Some(e) = stop {
            return Err(e);
        }
        read_result?;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn progress_bar(enabled: bool, total: u64) -> Option<indicatif::ProgressBar> {
    if !enabled {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// Counts the bytes read from the file (before decompression), for the progress bar.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file, decompressing gzip when the content starts with gzip's magic bytes.
fn open_decompressed(path: &Path, counter: &Arc<AtomicU64>) -> std::io::Result<Box<dyn BufRead>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let raw = Counting {
        inner: head.chain(file),
        counter: counter.clone(),
    };
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::read::MultiGzDecoder::new(BufReader::new(raw)),
        ))
    } else {
        Box::new(BufReader::with_capacity(256 * 1024, raw))
    })
}

/// Reads one file on a blocking thread and sends batches and bad records.
fn read_file(
    path: &Path,
    options: &ImportOptions,
    counter: &Arc<AtomicU64>,
    tx: &mpsc::Sender<Message>,
) -> Result<(), ImportError> {
    let io_err = |source| ImportError::Io {
        file: path.to_owned(),
        source,
    };
    let mut reader = open_decompressed(path, counter).map_err(io_err)?;
    // JSON array or JSON Lines: look at the first byte that is not white space.
    let first = loop {
        let buf = reader.fill_buf().map_err(io_err)?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                reader.consume(i);
                break Some(b);
            }
            None if buf.is_empty() => break None,
            None => {
                let len = buf.len();
                reader.consume(len);
            }
        }
    };
    let mut sink = Sink {
        path,
        batch: Vec::with_capacity(options.batch_size),
        batch_size: options.batch_size.max(1),
        tx,
    };
    let result = match first {
        None => Ok(()),
        Some(b'[') => read_array(reader, &mut sink),
        Some(_) => read_lines(reader, &mut sink).map_err(io_err),
    };
    // What was read before an error is good: store it.
    sink.flush();
    result
}

struct Sink<'a> {
    path: &'a Path,
    batch: Vec<NewPaper>,
    batch_size: usize,
    tx: &'a mpsc::Sender<Message>,
}

impl Sink<'_> {
    /// Takes one record; returns false when the receiver has gone (the import stopped).
    fn record(&mut self, line: u64, parsed: Result<NewPaper, RecordError>) -> bool {
        match parsed {
            Ok(paper) => {
                self.batch.push(paper);
                if self.batch.len() >= self.batch_size {
                    return self.flush();
                }
                true
            }
            Err(error) => self
                .tx
                .blocking_send(Message::Bad(BadRecord {
                    file: self.path.to_owned(),
                    line,
                    error,
                }))
                .is_ok(),
        }
    }

    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        self.tx.blocking_send(Message::Batch(batch)).is_ok()
    }
}

fn read_lines(mut reader: Box<dyn BufRead>, sink: &mut Sink<'_>) -> std::io::Result<()> {
    let mut line = String::new();
    let mut number = 0u64;
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let (consumed, cut) = read_line_capped(&mut *reader, &mut bytes, MAX_RECORD_BYTES)?;
        if consumed == 0 {
            return Ok(());
        }
        number += 1;
        line.clear();
        let parsed = match std::str::from_utf8(&bytes) {
            _ if cut => Err(RecordError::Invalid(too_large_message())),
            Ok(s) => {
                line.push_str(s);
                if line.trim().is_empty() {
                    continue;
                }
                AnyRecord::from_json(&line).and_then(AnyRecord::into_paper)
            }
            Err(e) => Err(RecordError::Json(format!("not UTF-8: {e}"))),
        };
        if !sink.record(number, parsed) {
            return Ok(());
        }
    }
}

/// Streams the elements of a top-level JSON array without holding the array in memory.
fn read_array(reader: Box<dyn BufRead>, sink: &mut Sink<'_>) -> Result<(), ImportError> {
    struct Elements<'s, 'a> {
        sink: &'s mut Sink<'a>,
        count: &'s mut u64,
        used: std::rc::Rc<std::cell::Cell<usize>>,
    }
    impl<'de> Visitor<'de> for Elements<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array of paper records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            // Each element is read as a generic value first, so a record of the wrong shape
            // is skipped rather than ending the array.
            while let Some(value) = seq.next_element::<serde_json::Value>()? {
                self.used.set(0);
                *self.count += 1;
                let parsed = serde_json::from_value::<AnyRecord>(value)
                    .map_err(|e| RecordError::Json(e.to_string()))
                    .and_then(AnyRecord::into_paper);
                if !self.sink.record(*self.count, parsed) {
                    // The import stopped; drain nothing more.
                    return Ok(());
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    let mut count = 0u64;
    let used = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut de = serde_json::Deserializer::from_reader(ElementBudget {
        inner: reader,
        used: used.clone(),
    });
    let result = Elements {
        sink,
        count: &mut count,
        used,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    result.map_err(|e| ImportError::Syntax {
        file: sink_path(sink),
        element: count,
        message: e.to_string(),
    })
}

fn sink_path(sink: &Sink<'_>) -> PathBuf {
    sink.path.to_owned()
}
