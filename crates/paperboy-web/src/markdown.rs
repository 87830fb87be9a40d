//! User-written Markdown (comments) to safe HTML: rendered with pulldown-cmark, then cleaned
//! by ammonia's allowlist (no scripts, no event handlers, no `javascript:` URLs; links get
//! `rel="noopener noreferrer nofollow"`). Raw HTML in the source is shown as text.

use pulldown_cmark::{Event, Options, Parser, html};

/// Renders comment Markdown to HTML that is safe to embed.
pub fn render_comment(source: &str) -> String {
    let parser = Parser::new_ext(
        source,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    )
    // Raw HTML becomes text rather than markup.
    .map(|event| match event {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(source.len() * 2);
    html::push_html(&mut unsafe_html, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(&unsafe_html)
        .to_string()
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
    fn links_are_marked_nofollow() {
        let html = render_comment("[paper](https://arxiv.org/abs/2310.06825)");
        assert!(
            html.contains("rel=\"noopener noreferrer nofollow\""),
            "{html}"
        );
    }
}
