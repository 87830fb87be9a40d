//! A paper's page: `/papers/{arxiv_id}`.

use crate::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperboy_core::{ArxivId, Author, Paper};
use serde::Deserialize;

use super::Ctx;
use crate::auth::CurrentUser;
use crate::{AppError, AppState};

/// A comment as the page shows it.
struct CommentView {
    id: i64,
    author: String,
    username: String,
    when: String,
    /// The stored HTML, or for a long comment an excerpt (escaped text).
    html: String,
    /// Shown as an excerpt, with a link to the whole comment.
    collapsed: bool,
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
    /// The page's absolute address (`<link rel="canonical">`), from [`crate::origin`].
    canonical: String,
    voted: bool,
    comments: Vec<CommentView>,
    /// Which threads this page shows, and the links to the others.
    comment_pages: CommentPages,
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

/// Comment threads (a comment and its replies) per page.
pub const THREADS_PER_PAGE: usize = 30;

/// A comment whose HTML is longer than this (bytes) is shown as an excerpt with a link to
/// the whole of it, so long threads of long comments stay cheap to serve.
pub const COLLAPSE_BYTES: usize = 3 * 1024;

/// Characters of a comment's HTML read for a page of threads: more than [`COLLAPSE_BYTES`],
/// so a comment cut short is always shown as an excerpt.
const PAGE_HTML_CHARS: u32 = 4 * 1024;

/// Characters of text in a long comment's excerpt.
pub const EXCERPT_CHARS: usize = 400;

/// The paper page's query: `?p=N` (threads page, from 0) or `?comment=ID` (the page holding
/// that comment, shown whole).
#[derive(Debug, Deserialize)]
pub struct PaperParams {
    p: Option<String>,
    comment: Option<String>,
}

/// Where the shown threads sit among all of them.
struct CommentPages {
    /// First and last thread shown (1-based), and how many there are.
    first: usize,
    last: usize,
    threads: usize,
    earlier: Option<String>,
    later: Option<String>,
}

/// The link to a comment: the paper page holding its thread, with the comment shown whole.
pub fn comment_url(paper: &str, comment: i64) -> String {
    format!("/papers/{paper}?comment={comment}#comment-{comment}")
}

/// `GET /papers/{id}`
pub async fn show_paper(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Query(params): Query<PaperParams>,
    user: CurrentUser,
    ctx: Ctx,
    crate::origin::RequestOrigin(origin): crate::origin::RequestOrigin,
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
    let focus = params
        .comment
        .as_deref()
        .and_then(|c| c.trim().parse::<i64>().ok());
    let comments = async {
        // A named comment is shown whole; otherwise long ones are excerpts, and the store
        // sends only the start of their HTML and no Markdown the page does not need.
        Ok::<_, AppError>(match focus {
            Some(_) => state.store.comments(&id).await?,
            None => {
                state
                    .store
                    .comments_for_page(&id, me, crate::comments::RENDERER_VERSION, PAGE_HTML_CHARS)
                    .await?
            }
        })
    };
    let upvoters = async { Ok::<_, AppError>(state.store.paper_upvoters(&id, UPVOTERS).await?) };
    let (voted, all, upvoters, similar) =
        tokio::try_join!(voted, comments, upvoters, similar_papers(&state, &id))?;
    // One page of threads (oldest first); the page holding `?comment=`, if named.
    let roots: Vec<&paperboy_store::Comment> =
        all.iter().filter(|c| c.parent_id.is_none()).collect();
    let pages = roots.len().div_ceil(THREADS_PER_PAGE).max(1);
    let page = match (focus, params.p.as_deref().map(str::trim)) {
        (Some(cid), _) => all
            .iter()
            .find(|c| c.id == cid)
            .map(|c| c.parent_id.unwrap_or(c.id))
            .and_then(|root| roots.iter().position(|r| r.id == root))
            .map_or(0, |i| i / THREADS_PER_PAGE),
        (None, None | Some("")) => 0,
        (None, Some(p)) => p
            .parse::<usize>()
            .map_err(|_| AppError::BadRequest("A page number is a whole number from 0.".into()))?,
    }
    .min(pages - 1);
    let start = (page * THREADS_PER_PAGE).min(roots.len());
    let shown_roots = &roots[start..(start + THREADS_PER_PAGE).min(roots.len())];
    let mut shown: Vec<&paperboy_store::Comment> = Vec::new();
    for root in shown_roots {
        shown.push(root);
        shown.extend(all.iter().filter(|c| c.parent_id == Some(root.id)));
    }
    let htmls = crate::comments::html_for_page(&state.store, &shown).await?;
    let base = id.base().to_owned();
    let view = |c: &paperboy_store::Comment, html: Option<String>| {
        let html = html.unwrap_or_default();
        let collapsed = html.len() > COLLAPSE_BYTES && focus != Some(c.id);
        CommentView {
            id: c.id,
            author: c.fullname.clone(),
            username: c.username.clone(),
            when: c.created_at.format("%b %-d, %Y %H:%M UTC").to_string(),
            html: if collapsed {
                crate::comments::excerpt(&html, EXCERPT_CHARS)
            } else {
                html
            },
            collapsed,
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
        }
    };
    let mut comments: Vec<CommentView> = Vec::with_capacity(shown_roots.len());
    for (c, html) in shown.iter().zip(htmls) {
        match c.parent_id {
            None => comments.push(view(c, html)),
            Some(_) => {
                if let Some(parent) = comments.last_mut() {
                    parent.replies.push(view(c, html));
                }
            }
        }
    }
    let page_link = |p: usize| {
        if p == 0 {
            format!("/papers/{base}#comments-h")
        } else {
            format!("/papers/{base}?p={p}#comments-h")
        }
    };
    let comment_pages = CommentPages {
        first: page * THREADS_PER_PAGE + usize::from(!shown_roots.is_empty()),
        last: page * THREADS_PER_PAGE + shown_roots.len(),
        threads: roots.len(),
        earlier: (page > 0).then(|| page_link(page - 1)),
        later: (page + 1 < pages).then(|| page_link(page + 1)),
    };
    Ok(Html(
        PaperTemplate {
            canonical: format!("{origin}/papers/{}", paper.id.base()),
            ctx,
            voted,
            comments,
            comment_pages,
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
