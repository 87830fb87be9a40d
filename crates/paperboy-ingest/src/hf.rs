//! A client for huggingface.co's daily papers (`{base}/api/daily_papers`): the papers on the
//! daily list of one day, each with its feed entry (submitter, organization, upvotes).

use std::collections::HashSet;

use chrono::NaiveDate;
use paperboy_core::NewPaper;

use crate::records::AnyRecord;
use crate::source::{self, SourceError};

/// huggingface.co.
pub const DEFAULT_BASE_URL: &str = "https://huggingface.co";

/// Items per page (the most the API gives).
const PAGE_SIZE: usize = 100;

/// The most pages one day is read for.
const MAX_PAGES: usize = 10;

/// A client for huggingface.co's daily-papers API.
#[derive(Debug, Clone)]
pub struct HfClient {
    http: reqwest::Client,
    daily_url: String,
}

impl HfClient {
    /// A client for the site at `base_url` ([`DEFAULT_BASE_URL`] for the real one).
    pub fn new(base_url: &str) -> Self {
        Self {
            http: source::http_client(),
            daily_url: format!("{}/api/daily_papers", source::trim_base(base_url)),
        }
    }

    /// The papers on the daily list of `date`, in the site's order. Pages of 100 are read
    /// while they come back full (at most 10). Items that are not usable papers are logged
    /// and skipped.
    pub async fn daily_papers(&self, date: NaiveDate) -> Result<Vec<NewPaper>, SourceError> {
        let mut papers = Vec::new();
        let mut seen = HashSet::new();
        for page in 0..MAX_PAGES {
            let answer = source::get(
                &self.http,
                &self.daily_url,
                &[
                    ("date", date.format("%Y-%m-%d").to_string()),
                    ("limit", PAGE_SIZE.to_string()),
                    ("p", page.to_string()),
                ],
            )
            .await?;
            if !answer.status.is_success() {
                return Err(answer.http_error());
            }
            let items: Vec<serde_json::Value> = serde_json::from_str(&answer.body)
                .map_err(|e| answer.parse_error(format!("expected a JSON array of papers: {e}")))?;
            let count = items.len();
            let mut new_on_page = 0;
            for (index, item) in items.into_iter().enumerate() {
                let item_id = item
                    .pointer("/paper/id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
                    .to_owned();
                let paper = serde_json::from_value::<AnyRecord>(item)
                    .map_err(|e| e.to_string())
                    .and_then(|record| record.into_paper().map_err(|e| e.to_string()));
                match paper {
                    Ok(paper) => {
                        if seen.insert(paper.id.base().to_owned()) {
                            new_on_page += 1;
                            papers.push(paper);
                        }
                    }
                    Err(e) => tracing::warn!(
                        %date,
                        page,
                        index,
                        id = %item_id,
                        "skipping a huggingface.co daily paper: {e}"
                    ),
                }
            }
            // A short page is the last; a page of nothing new means the site ignores `p`.
            if count < PAGE_SIZE || new_on_page == 0 {
                break;
            }
        }
        Ok(papers)
    }
}
