//! Comments are rendered once, when they are written or edited, never on every view: the
//! Markdown + math renderer ([`crate::markdown::render_comment`]) runs on a blocking thread
//! (not on the async workers that serve pages) and the sanitized HTML is stored with the
//! comment and the renderer's version ([`RENDERER_VERSION`]).
//!
//! A comment whose stored HTML is missing or was made by another renderer version (older
//! comments, or a renderer change) is re-rendered by [`rerender_stale`] — run in the
//! background when the server starts and by `paperboy rerender-comments` — and, until then,
//! by the page that shows it ([`html_for_page`]), which stores what it rendered.

use std::sync::Arc;

use paperboy_store::{Comment, Store};

use crate::AppError;
pub use crate::markdown::RENDERER_VERSION;

/// Comments re-rendered per store round trip by [`rerender_stale`].
pub const BATCH: u32 = 100;

/// Renders a comment's Markdown on a blocking thread.
pub async fn render(source: &str) -> Result<String, AppError> {
    let source = source.to_owned();
    tokio::task::spawn_blocking(move || crate::markdown::render_comment(&source))
        .await
        .map_err(|e| AppError::Internal(format!("rendering a comment: {e}")))
}

/// Whether a stored comment's HTML can be served as is.
pub fn is_current(c: &Comment) -> bool {
    c.html_version == RENDERER_VERSION && c.body_html.is_some()
}

/// The HTML of each shown comment (`None` for deleted or hidden ones), in the order given:
/// the stored HTML when current; otherwise rendered now on a blocking thread, all together,
/// and stored so the next view does not render again.
pub async fn html_for_page(
    store: &Arc<dyn Store>,
    comments: &[&Comment],
) -> Result<Vec<Option<String>>, AppError> {
    let shown = |c: &Comment| !c.deleted && !c.hidden;
    let stale: Vec<(i64, String)> = comments
        .iter()
        .filter(|c| shown(c) && !is_current(c))
        .map(|c| (c.id, c.body.clone()))
        .collect();
    let mut rendered = if stale.is_empty() {
        Vec::new()
    } else {
        let done = tokio::task::spawn_blocking(move || {
            stale
                .into_iter()
                .map(|(id, body)| {
                    let html = crate::markdown::render_comment(&body);
                    (id, body, html)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| AppError::Internal(format!("rendering comments: {e}")))?;
        for (id, body, html) in &done {
            if let Err(e) = store
                .set_comment_html(*id, body, html, RENDERER_VERSION)
                .await
            {
                tracing::warn!("storing comment {id}'s HTML: {e}");
            }
        }
        done
    };
    Ok(comments
        .iter()
        .map(|c| {
            if !shown(c) {
                None
            } else if is_current(c) {
                c.body_html.clone()
            } else {
                rendered
                    .iter_mut()
                    .find(|(id, _, _)| *id == c.id)
                    .map(|(_, _, html)| std::mem::take(html))
            }
        })
        .collect())
}

/// Re-renders, in batches of [`BATCH`], every live comment whose stored HTML is missing or
/// made by another renderer version (every live comment with `all`); how many were stored.
/// A comment edited meanwhile keeps its edit's rendering.
pub async fn rerender_stale(store: Arc<dyn Store>, all: bool) -> Result<u64, AppError> {
    let version = (!all).then_some(RENDERER_VERSION);
    let (mut after, mut stored) = (0, 0);
    loop {
        let batch = store.comments_to_render(version, after, BATCH).await?;
        let Some(last) = batch.last().map(|(id, _)| *id) else {
            return Ok(stored);
        };
        after = last;
        let rendered = tokio::task::spawn_blocking(move || {
            batch
                .into_iter()
                .map(|(id, body)| {
                    let html = crate::markdown::render_comment(&body);
                    (id, body, html)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| AppError::Internal(format!("rendering comments: {e}")))?;
        for (id, body, html) in rendered {
            if store
                .set_comment_html(id, &body, &html, RENDERER_VERSION)
                .await?
            {
                stored += 1;
            }
        }
    }
}

/// Most bytes of HTML read to make an excerpt.
const EXCERPT_SCAN_BYTES: usize = 16 * 1024;

/// The first `max_chars` characters of the text of `html` (sanitized HTML, as stored), with
/// `…` if there is more: still-escaped text without tags, safe to embed. Reads at most
/// `EXCERPT_SCAN_BYTES` of it.
pub fn excerpt(html: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(max_chars + 16);
    let (mut chars, mut in_tag, mut in_quote) = (0, false, false);
    let mut tag_start = 0;
    let mut cut = false;
    let mut iter = html.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if i >= EXCERPT_SCAN_BYTES || chars >= max_chars {
            cut = true;
            break;
        }
        match c {
            '<' if !in_tag => {
                in_tag = true;
                tag_start = i;
            }
            '"' if in_tag => in_quote = !in_quote,
            '>' if in_tag && !in_quote => {
                in_tag = false;
                let name: String = html[tag_start + 1..i]
                    .trim_start_matches('/')
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                let block = matches!(
                    name.as_str(),
                    "p" | "br"
                        | "li"
                        | "pre"
                        | "blockquote"
                        | "h1"
                        | "h2"
                        | "h3"
                        | "h4"
                        | "h5"
                        | "h6"
                        | "tr"
                        | "td"
                        | "th"
                        | "hr"
                        | "math"
                );
                if block && !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            _ if in_tag => {}
            '&' => {
                // An entity is copied whole (`&amp;`), counted as one character.
                out.push('&');
                while let Some((_, e)) =
                    iter.next_if(|(_, e)| e.is_ascii_alphanumeric() || *e == '#')
                {
                    out.push(e);
                }
                if iter.next_if(|(_, e)| *e == ';').is_some() {
                    out.push(';');
                }
                chars += 1;
            }
            c if c.is_whitespace() => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                    chars += 1;
                }
            }
            c => {
                out.push(c);
                chars += 1;
            }
        }
    }
    let mut out = out.trim_end().to_owned();
    if cut {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_the_text_cut_short_with_entities_whole() {
        let html = "<p>One &amp; <strong>two</strong></p>\n<ul><li>three</li></ul>";
        assert_eq!(excerpt(html, 100), "One &amp; two three");
        assert_eq!(excerpt(html, 3), "One…");
        assert_eq!(excerpt(html, 5), "One &amp;…");
        let attr = "<a href=\"x\" title=\"a > b\">link</a>";
        assert_eq!(excerpt(attr, 100), "link");
    }
}
