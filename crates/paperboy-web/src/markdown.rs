//! User-written Markdown (comments) to safe HTML: rendered with pulldown-cmark, then cleaned
//! by ammonia's allowlist (no scripts, no event handlers, no `javascript:` URLs; links get
//! `rel="noopener noreferrer nofollow ugc"`). Raw HTML in the source is shown as text. Images
//! become links (see `images_as_links`): an `<img>` from another host would tell it the IP
//! address of everyone who reads the comment.
//!
//! The work is bounded whatever the input: structure nested deeper than [`MAX_DEPTH`] or past
//! the first [`MAX_ELEMENTS`] elements is flattened (its text is kept, its markup dropped),
//! formulas are bounded by [`crate::math`], and a rendering larger than [`MAX_OUTPUT`] bytes
//! is replaced by the escaped source. Comments are rendered once, when written or edited
//! (see [`crate::comments`]); [`RENDERER_VERSION`] names the renderer's output.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

/// Version of what [`render_comment`] outputs: bump it whenever the output for some input
/// changes, and stored comments are re-rendered (at server start and by
/// `paperboy rerender-comments`).
pub const RENDERER_VERSION: i32 = 2;

/// Deepest nesting of Markdown elements kept (lists in lists, quotes in quotes, emphasis…).
pub const MAX_DEPTH: usize = 20;
/// Most Markdown elements kept in one comment.
pub const MAX_ELEMENTS: usize = 2_000;
/// Largest rendering kept, in bytes; a larger one shows the escaped source instead.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// Renders comment Markdown to HTML that is safe to embed. `$…$` formulas are set aside
/// before Markdown sees them (so `_` and `*` inside stay LaTeX) and put back as MathML.
pub fn render_comment(source: &str) -> String {
    let (marked, formulas) = set_aside_formulas(source);
    let html = render_markdown(&marked);
    let html = put_back_formulas(&html, &formulas);
    if html.len() <= MAX_OUTPUT {
        html
    } else {
        as_source(source)
    }
}

/// A comment whose rendering is too large, shown as its escaped source (cut, and saying so,
/// past [`MAX_OUTPUT`]).
fn as_source(source: &str) -> String {
    let mut out = String::from("<pre class=\"comment-source\">");
    let mut cut = false;
    for c in source.chars() {
        if out.len() + 8 > MAX_OUTPUT - 128 {
            cut = true;
            break;
        }
        crate::math::escape(c.encode_utf8(&mut [0; 4]), &mut out);
    }
    out.push_str("</pre>");
    if cut {
        out.push_str("<p class=\"meta\">(cut: this comment is too long to show whole)</p>");
    }
    out
}

const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// A formula set aside: its HTML and its source (shown instead where HTML cannot go).
struct Formula {
    html: String,
    source: String,
}

fn set_aside_formulas(source: &str) -> (String, Vec<Formula>) {
    let source: String = source
        .chars()
        .filter(|c| *c != MARK_OPEN && *c != MARK_CLOSE)
        .collect();
    let mut out = String::with_capacity(source.len());
    let mut formulas = Vec::new();
    let (mut rendered, mut html_bytes) = (0, 0);
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
        let text = &rest[start..end];
        // Past the output bound, formulas stay source (escaped) without being rendered.
        let html = if html_bytes < MAX_OUTPUT {
            crate::math::render_text_counted(text, &mut rendered)
        } else {
            let mut escaped = String::new();
            crate::math::escape(text, &mut escaped);
            escaped
        };
        html_bytes += html.len();
        formulas.push(Formula {
            html,
            source: text.to_owned(),
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    (out, formulas)
}

/// Puts formulas back in place of their marks: as MathML in text, as escaped source inside
/// a tag (an image's `alt`, say), where markup would break out of the attribute.
fn put_back_formulas(html: &str, formulas: &[Formula]) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // Where the text before each mark ends: in a tag (and in a quoted value) or not. The
    // sanitizer's output quotes every attribute value with `"` and escapes `"` inside.
    let (mut in_tag, mut in_quote) = (false, false);
    while let Some(start) = rest.find(MARK_OPEN) {
        for c in rest[..start].chars() {
            match c {
                '<' if !in_tag => in_tag = true,
                '"' if in_tag => in_quote = !in_quote,
                '>' if in_tag && !in_quote => in_tag = false,
                _ => {}
            }
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + MARK_OPEN.len_utf8()..];
        let Some(end) = after.find(MARK_CLOSE) else {
            rest = after;
            break;
        };
        if let Some(f) = after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| formulas.get(i))
        {
            if in_tag {
                crate::math::escape(&f.source, &mut out);
            } else {
                out.push_str(&f.html);
            }
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
    })
    .scan(Bounds::default(), |bounds, event| Some(bounds.pass(event)))
    .flatten();
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

/// Keeps Markdown's structure within [`MAX_DEPTH`] and [`MAX_ELEMENTS`]: an element past
/// either loses its start and end tags (a line break stands in for a block's end), its text
/// stays.
#[derive(Default)]
struct Bounds {
    /// For each open element, whether its tags are kept.
    open: Vec<bool>,
    /// Open elements whose tags are kept.
    depth: usize,
    /// Elements kept so far.
    elements: usize,
}

impl Bounds {
    fn pass<'a>(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        match event {
            Event::Start(tag) => {
                let keep = self.depth < MAX_DEPTH && self.elements < MAX_ELEMENTS;
                self.open.push(keep);
                if keep {
                    self.depth += 1;
                    self.elements += 1;
                    Some(Event::Start(tag))
                } else if matches!(tag, Tag::Image { .. }) {
                    // The alt text follows as text; say it was an image.
                    Some(Event::Text("[image: ".into()))
                } else {
                    None
                }
            }
            Event::End(end) => {
                if self.open.pop().unwrap_or(false) {
                    self.depth -= 1;
                    Some(Event::End(end))
                } else if matches!(end, TagEnd::Image) {
                    Some(Event::Text("]".into()))
                } else if matches!(
                    end,
                    TagEnd::Emphasis
                        | TagEnd::Strong
                        | TagEnd::Strikethrough
                        | TagEnd::Superscript
                        | TagEnd::Subscript
                        | TagEnd::Link
                ) {
                    None
                } else {
                    Some(Event::SoftBreak)
                }
            }
            Event::Rule | Event::HardBreak | Event::TaskListMarker(_)
                if self.elements >= MAX_ELEMENTS =>
            {
                Some(Event::SoftBreak)
            }
            Event::Rule | Event::HardBreak | Event::TaskListMarker(_) => {
                self.elements += 1;
                Some(event)
            }
            other => Some(other),
        }
    }
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
