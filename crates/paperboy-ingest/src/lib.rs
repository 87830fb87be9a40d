//! Getting papers into Paperboy: file importers (Hugging Face daily-papers JSON, arXiv JSON
//! Lines in the Kaggle snapshot format) and clients for the live sources (the arXiv API and
//! huggingface.co's daily papers), with the sync loop that keeps a server current.

pub mod arxiv;
pub mod hf;
pub mod import;
pub mod records;
pub mod source;
pub mod sync;

pub use arxiv::ArxivClient;
pub use hf::HfClient;
pub use import::{ImportError, ImportOptions, ImportReport, import_files};
pub use records::{AnyRecord, RecordError};
pub use source::SourceError;
pub use sync::{SyncReport, SyncSettings, run_sync_loop, sync_once};
