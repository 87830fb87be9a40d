//! `GET /papers/{id}.md`: a paper as Markdown (what `HfApi.read_paper` fetches).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paperboy_core::{ArxivId, Paper};

use crate::AppState;

/// Text as Markdown that shows as itself: the characters that would open raw HTML, an
/// autolink or a link (`< > [ ]`, and a backslash before punctuation) are backslash-escaped,
/// so a title reading `<img onerror=…>` or `[x](javascript:…)` stays text in any Markdown
/// viewer, while LaTeX like `$\alpha$` reads as before.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let escape = match c {
            '<' | '>' | '[' | ']' => true,
            '\\' => chars.peek().is_some_and(char::is_ascii_punctuation),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// [`md_text`] on one line (titles, names: a line break would start a block of its own).
fn md_line(s: &str) -> String {
    md_text(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The Markdown text of a paper.
pub fn render_markdown(p: &Paper) -> String {
    let mut md = format!("# {}\n\n", md_line(&p.title));
    let authors: Vec<String> = p.visible_authors().map(|a| md_line(&a.name)).collect();
    if !authors.is_empty() {
        md.push_str(&format!("**Authors:** {}\n\n", authors.join(", ")));
    }
    md.push_str(&format!(
        "**arXiv:** [{id}]({abs}) · **Published:** {date}",
        id = p.id.base(),
        abs = p.id.abs_url(),
        date = p.published_at.format("%Y-%m-%d")
    ));
    if let Some(f) = &p.feed {
        md.push_str(&format!(
            " · **On the daily list:** {}",
            f.feed_date.format("%Y-%m-%d")
        ));
    }
    md.push_str(&format!(" · **Upvotes:** {}\n\n", p.upvotes));
    if let Some(repo) = &p.github_repo {
        md.push_str(&format!("**Code:** {}\n\n", md_line(repo)));
    }
    if let Some(page) = &p.project_page {
        md.push_str(&format!("**Project page:** {}\n\n", md_line(page)));
    }
    if let Some(s) = &p.ai_summary {
        md.push_str(&format!("**In one sentence:** {}\n\n", md_line(s)));
    }
    md.push_str("## Abstract\n\n");
    md.push_str(&md_text(p.summary.trim()));
    md.push('\n');
    md
}

/// Answers `/papers/{raw}` when `raw` ends in `.md` (the page route hands it over, since a
/// route cannot end in a parameter with a suffix): `None` when it does not.
pub async fn paper_markdown(state: &AppState, raw: &str) -> Option<Response> {
    let id = raw.strip_suffix(".md")?;
    let text = |status: StatusCode, body: String| {
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/markdown; charset=utf-8"),
        );
        r
    };
    let Ok(id) = ArxivId::parse(id) else {
        return Some(text(StatusCode::NOT_FOUND, "Not a paper id.\n".into()));
    };
    Some(match state.store.paper(&id).await {
        Ok(Some(p)) => text(StatusCode::OK, render_markdown(&p)),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            format!("Paperboy does not know the paper {id}.\n"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "reading a paper for Markdown failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.\n".into(),
            )
        }
    })
}

/// `GET /papers/{id}.md` (documentation only: served through the page route).
#[utoipa::path(
    get,
    path = "/papers/{id}.md",
    params(("id" = String, Path, description = "arXiv id, like 2310.06825")),
    responses(
        (status = 200, description = "The paper as Markdown", body = String, content_type = "text/markdown"),
        (status = 404, description = "Unknown or malformed id", body = String, content_type = "text/markdown"),
    ),
    tag = "papers"
)]
#[expect(
    dead_code,
    reason = "only documents the route for the OpenAPI document"
)]
pub(super) async fn paper_markdown_doc() {}
