//! A paper's page: `/papers/{arxiv_id}`.

use crate::extract::Path;
use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_core::{ArxivId, Author, Paper};

use super::Ctx;
use crate::auth::CurrentUser;
use crate::markdown::render_comment;
use crate::{AppError, AppState};

/// A comment as the page shows it.
struct CommentView {
    id: i64,
    author: String,
    username: String,
    when: String,
    html: String,
    /// Markdown source, for the author's edit form.
    body: String,
    edited: bool,
    deleted: bool,
    hidden: bool,
    mine: bool,
    replies: Vec<CommentView>,
}

/// A similar paper, as the page links it.
struct SimilarView {
    id: String,
    title_html: String,
    upvotes: i64,
}

#[derive(Template)]
#[template(path = "paper.html")]
struct PaperTemplate {
    ctx: Ctx,
    voted: bool,
    comments: Vec<CommentView>,
    title_html: String,
    summary_html: String,
    paper: Paper,
    authors: Vec<Author>,
    similar: Vec<SimilarView>,
    upvoters: Vec<paperboy_core::StoredUserRef>,
    published: String,
    abs_url: String,
    pdf_url: String,
    feed_date: Option<String>,
    submitter: Option<String>,
    organization: Option<(String, String)>,
}

/// Upvoters named on the page.
const UPVOTERS: u32 = 24;

/// Similar papers shown.
const SIMILAR: usize = 6;

/// `GET /papers/{id}`
pub async fn show_paper(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    user: CurrentUser,
    ctx: Ctx,
) -> Result<Response, AppError> {
    if let Some(markdown) = crate::api::paper_markdown(&state, &raw).await {
        return Ok(markdown);
    }
    let id = ArxivId::parse(&raw).map_err(|e| AppError::NotFound(e.to_string()))?;
    if id.version().is_some() {
        // One page per paper, whatever the version.
        return Ok(Redirect::permanent(&format!("/papers/{}", id.base())).into_response());
    }
    let paper =
        state.store.paper(&id).await?.ok_or_else(|| {
            AppError::NotFound(format!("Paperboy does not know the paper {id} yet."))
        })?;
    let feed = paper.feed.as_ref();
    let me = user.0.as_ref().map(|u| u.id);
    // Independent reads: run them together.
    let voted = async {
        match me {
            Some(uid) => Ok(state.store.has_voted(uid, &id).await?),
            None => Ok(false),
        }
    };
    let comments = async { Ok::<_, AppError>(state.store.comments(&id).await?) };
    let upvoters = async { Ok::<_, AppError>(state.store.paper_upvoters(&id, UPVOTERS).await?) };
    let (voted, all, upvoters, similar) =
        tokio::try_join!(voted, comments, upvoters, similar_papers(&state, &id))?;
    let view = |c: &paperboy_store::Comment| CommentView {
        id: c.id,
        author: c.fullname.clone(),
        username: c.username.clone(),
        when: c.created_at.format("%b %-d, %Y %H:%M UTC").to_string(),
        html: if c.deleted || c.hidden {
            String::new()
        } else {
            render_comment(&c.body)
        },
        body: if c.hidden {
            String::new()
        } else {
            c.body.clone()
        },
        edited: c.edited_at.is_some(),
        deleted: c.deleted,
        hidden: c.hidden && !c.deleted,
        mine: Some(c.user_id) == me && !c.deleted && !c.hidden,
        replies: Vec::new(),
    };
    let mut comments: Vec<CommentView> = all
        .iter()
        .filter(|c| c.parent_id.is_none())
        .map(view)
        .collect();
    for reply in all.iter().filter(|c| c.parent_id.is_some()) {
        if let Some(parent) = comments.iter_mut().find(|c| Some(c.id) == reply.parent_id) {
            parent.replies.push(view(reply));
        }
    }
    Ok(Html(
        PaperTemplate {
            ctx,
            voted,
            comments,
            title_html: crate::math::render_text(&paper.title),
            summary_html: crate::math::render_text(&paper.summary),
            authors: paper.visible_authors().cloned().collect(),
            similar,
            upvoters,
            published: paper.published_at.format("%B %-d, %Y").to_string(),
            abs_url: paper.id.abs_url(),
            pdf_url: paper.id.pdf_url(),
            feed_date: feed.map(|f| f.feed_date.format("%Y-%m-%d").to_string()),
            submitter: feed
                .and_then(|f| f.submitter.as_ref())
                .map(|s| s.fullname.clone()),
            organization: feed
                .and_then(|f| f.organization.as_ref())
                .map(|o| (o.name.clone(), o.fullname.clone())),
            paper,
        }
        .render()?,
    )
    .into_response())
}

/// Papers like this one, from the search engine's vectors (none without an engine); kept a
/// minute in the page cache, as a paper page is the second most visited page.
async fn similar_papers(state: &AppState, id: &ArxivId) -> Result<Vec<SimilarView>, AppError> {
    let Some(engine) = state.search.clone() else {
        return Ok(Vec::new());
    };
    let links = match state.pages.similar(id.base()) {
        Some(links) => links,
        None => {
            let key = id.clone();
            let scored = tokio::task::spawn_blocking(move || engine.similar(&key, SIMILAR))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let links: Vec<_> = crate::engine::scored_papers(state, scored)
                .await?
                .into_iter()
                .filter(|(p, _)| p.id.base() != id.base())
                .map(|(p, _)| {
                    (
                        p.id.base().to_owned(),
                        crate::math::render_text(&p.title),
                        p.upvotes,
                    )
                })
                .collect();
            let links: std::sync::Arc<[crate::cache::SimilarLink]> = links.into();
            state.pages.put_similar(id.base().to_owned(), links.clone());
            links
        }
    };
    Ok(links
        .iter()
        .map(|(id, title_html, upvotes)| SimilarView {
            id: id.clone(),
            title_html: title_html.clone(),
            upvotes: *upvotes,
        })
        .collect())
}
