//! Submitting a paper to the daily list by its arXiv id, shared by the submit page and
//! `POST /api/papers/index`. Metadata come from the configured arXiv API (never a URL the
//! request names); a paper already on the list stays where it is (a duplicate submission
//! lands on the existing entry).

use chrono::Utc;
use paperboy_core::{ArxivId, Paper};
use paperboy_store::{FeedSubmission, StoreError, User};

use crate::AppState;

/// Why a submission did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// arXiv has no paper of that id.
    #[error("arXiv has no paper {0}.")]
    NotOnArxiv(ArxivId),
    /// arXiv could not be asked.
    #[error("arXiv could not be asked about {0} right now. Please try again later.")]
    Unreachable(ArxivId),
    /// The moderators removed the paper.
    #[error("The paper {0} was removed by this site's moderators.")]
    Removed(ArxivId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a submission did.
#[derive(Debug)]
pub struct Submitted {
    /// The paper as stored, with its feed entry.
    pub paper: Paper,
    /// Whether this request put it on the list (`false`: it was there already).
    pub added: bool,
}

/// Puts the paper `id` on today's list for `user` (and the organization `organization_id`,
/// which the caller checked `user` belongs to), fetching it from arXiv if it is not stored.
pub async fn submit_paper(
    state: &AppState,
    id: &ArxivId,
    user: &User,
    organization_id: Option<i64>,
) -> Result<Submitted, SubmitError> {
    let id = id.without_version();
    // A paper the moderators hid stays hidden: no asking arXiv, no new entry.
    if state.store.paper_hidden(&id).await? {
        return Err(SubmitError::Removed(id));
    }
    let stored = state.store.paper(&id).await?;
    if let Some(existing) = stored.as_ref()
        && existing.feed.is_some()
    {
        return Ok(Submitted {
            paper: existing.clone(),
            added: false,
        });
    }
    if stored.is_none() {
        let fetched = state
            .arxiv
            .fetch_ids(std::slice::from_ref(&id))
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, paper = %id, "fetching a submitted paper from arXiv");
                SubmitError::Unreachable(id.clone())
            })?;
        let Some(mut paper) = fetched.into_iter().find(|p| p.id.base() == id.base()) else {
            return Err(SubmitError::NotOnArxiv(id));
        };
        paper.feed = None;
        state.store.upsert_papers(&[paper]).await?;
    }
    let now = Utc::now();
    let added = match state
        .store
        .submit_to_feed(
            &id,
            &FeedSubmission {
                feed_date: now.date_naive(),
                submitted_at: now,
                submitter_id: user.id,
                organization_id,
            },
        )
        .await
    {
        Ok(added) => added,
        Err(StoreError::NotFound(_)) => return Err(SubmitError::Removed(id)),
        Err(e) => return Err(e.into()),
    };
    state.pages.invalidate();
    let paper = state
        .store
        .paper(&id)
        .await?
        .ok_or_else(|| SubmitError::Removed(id.clone()))?;
    Ok(Submitted { paper, added })
}
