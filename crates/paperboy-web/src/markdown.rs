//! User-written Markdown (comments) to safe HTML: rendered with pulldown-cmark, then cleaned
//! by ammonia's allowlist (no scripts, no event handlers, no `javascript:` URLs; links get
//! `rel="noopener noreferrer nofollow ugc"`). Raw HTML in the source is shown as text. Images
//! become links (see [`images_as_links`]): an `<img>` from another host would tell it the IP
//! address of everyone who reads the comment.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

/// Renders comment Markdown to HTML that is safe to embed. `$…$` formulas are set aside
/// before Markdown sees them (so `_` and `*` inside stay LaTeX) and put back as MathML.
pub fn render_comment(source: &str) -> String {
    let (source, formulas) = set_aside_formulas(source);
    let html = render_markdown(&source);
    put_back_formulas(&html, &formulas)
}

const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

fn set_aside_formulas(source: &str) -> (String, Vec<String>) {
    let source: String = source
        .chars()
        .filter(|c| *c != MARK_OPEN && *c != MARK_CLOSE)
        .collect();
    let mut out = String::with_capacity(source.len());
    let mut formulas = Vec::new();
    let mut rest = source.as_str();
    while let Some(start) = rest.find('$') {
        let open = if rest[start..].starts_with("$$") {
            2
        } else {
            1
        };
        let delim = &rest[start..start + open];
        let Some(len) = rest[start + open..].find(delim) else {
            break;
        };
        let end = start + open + len + open;
        out.push_str(&rest[..start]);
        out.push(MARK_OPEN);
        out.push_str(&formulas.len().to_string());
        out.push(MARK_CLOSE);
        formulas.push(crate::math::render_text(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    (out, formulas)
}

fn put_back_formulas(html: &str, formulas: &[String]) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(MARK_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + MARK_OPEN.len_utf8()..];
        let Some(end) = after.find(MARK_CLOSE) else {
            break;
        };
        if let Some(f) = after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| formulas.get(i))
        {
            out.push_str(f);
        }
        rest = &after[end + MARK_CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn render_markdown(source: &str) -> String {
    let parser = Parser::new_ext(
        source,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    )
    // Raw HTML becomes text rather than markup.
    .map(|event| match event {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        other => other,
    });
    let parser = images_as_links(parser);
    let mut unsafe_html = String::with_capacity(source.len() * 2);
    html::push_html(&mut unsafe_html, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow ugc"))
        .rm_tags(["img"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(&unsafe_html)
        .to_string()
}

/// Markdown images as links: `![alt](url)` shows as a link reading "alt (image: url)", so a
/// comment loads nothing from another host (the CSP keeps `img-src 'self'`).
fn images_as_links<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut open: Vec<(CowStr<'a>, bool)> = Vec::new();
    events.flat_map(move |event| match event {
        Event::Start(Tag::Image {
            dest_url, title, ..
        }) => {
            open.push((dest_url.clone(), false));
            vec![Event::Start(Tag::Link {
                link_type: LinkType::Inline,
                dest_url,
                title,
                id: CowStr::Borrowed(""),
            })]
        }
        Event::End(TagEnd::Image) => {
            let (url, had_alt) = open.pop().unwrap_or((CowStr::Borrowed(""), false));
            let label = if had_alt {
                format!(" (image: {url})")
            } else {
                format!("image: {url}")
            };
            vec![Event::Text(label.into()), Event::End(TagEnd::Link)]
        }
        Event::Text(t) | Event::Code(t) if !open.is_empty() => {
            if let Some(last) = open.last_mut() {
                last.1 |= !t.trim().is_empty();
            }
            vec![Event::Text(t)]
        }
        other => vec![other],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered() {
        let html = render_comment("**bold** and `code`\n\n- item");
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("<code>code</code>"));
        assert!(html.contains("<li>item</li>"));
    }

    #[test]
    fn hostile_markup_is_neutralized() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=//evil.example></iframe>",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        ] {
            let html = render_comment(hostile);
            // Whatever survives is text, never markup or a live link.
            for forbidden in [
                "<script",
                "<img",
                "<iframe",
                "<a href=\"javascript:",
                "<a href=\"data:",
            ] {
                assert!(!html.contains(forbidden), "{hostile} -> {html}");
            }
        }
    }

    #[test]
    fn images_become_links_that_load_nothing() {
        let html = render_comment(
            "see ![a plot](https://tracker.example/p.png) and ![](http://x.example/i.gif)",
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("href=\"https://tracker.example/p.png\""),
            "{html}"
        );
        assert!(
            html.contains("a plot (image: https://tracker.example/p.png)</a>"),
            "{html}"
        );
        assert!(html.contains("image: http://x.example/i.gif</a>"), "{html}");
        assert!(html.contains("nofollow"), "{html}");
        let html = render_comment("![x](javascript:alert(1))");
        assert!(!html.contains("href=\"javascript:"), "{html}");
    }

    #[test]
    fn formulas_in_comments_survive_markdown() {
        let html = render_comment(r"Cost is $a_1 \cdot b_2$, **really**.");
        assert!(html.contains("<math"), "{html}");
        assert!(html.contains("<strong>really</strong>"), "{html}");
        assert!(
            !html.contains("<em>"),
            "underscores inside the formula are not emphasis: {html}"
        );
    }

    #[test]
    fn links_are_marked_nofollow() {
        let html = render_comment("[paper](https://arxiv.org/abs/2310.06825)");
        assert!(
            html.contains("rel=\"noopener noreferrer nofollow ugc\""),
            "{html}"
        );
    }
}
