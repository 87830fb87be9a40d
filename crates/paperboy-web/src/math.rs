//! LaTeX in titles, abstracts and comments (`$\mathcal{O}(n)$`), rendered on the server to
//! MathML (pulldown-latex) — no JavaScript renderer is shipped. Everything outside `$…$` is
//! escaped text; the MathML is passed through an allowlist of MathML elements and
//! presentational attributes, so no LaTeX macro (`\href`, `\htmlData`, …) can produce a link,
//! a handler or a script.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_latex::{Parser, RenderConfig, Storage, push_mathml};

const MATHML_TAGS: &[&str] = &[
    "math",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "mrow",
    "mfrac",
    "msqrt",
    "mroot",
    "mstyle",
    "merror",
    "mpadded",
    "mphantom",
    "msub",
    "msup",
    "msubsup",
    "munder",
    "mover",
    "munderover",
    "mmultiscripts",
    "mprescripts",
    "mtable",
    "mtr",
    "mtd",
    "semantics",
    "annotation",
    "menclose",
];

const MATHML_ATTRIBUTES: &[&str] = &[
    "display",
    "mathvariant",
    "stretchy",
    "fence",
    "separator",
    "lspace",
    "rspace",
    "accent",
    "accentunder",
    "movablelimits",
    "linethickness",
    "columnalign",
    "rowalign",
    "width",
    "height",
    "depth",
    "scriptlevel",
    "displaystyle",
    "minsize",
    "maxsize",
    "symmetric",
    "largeop",
    "form",
    "notation",
    "encoding",
    "columnspacing",
    "rowspacing",
];

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(MATHML_TAGS.iter().copied().collect::<HashSet<_>>())
        .generic_attributes(MATHML_ATTRIBUTES.iter().copied().collect::<HashSet<_>>())
        .url_schemes(HashSet::new())
        .link_rel(None);
    b
});

/// Appends `s` to `out`, HTML-escaped.
pub(crate) fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Renders one formula; `None` when it is not valid LaTeX (the caller shows the source).
fn formula(latex: &str, display: bool) -> Option<String> {
    let storage = Storage::new();
    let parser = Parser::new(latex, &storage);
    let mut config = RenderConfig::default();
    if display {
        config.display_mode = pulldown_latex::config::DisplayMode::Block;
    }
    let mut events = Vec::new();
    for event in parser {
        events.push(event.ok()?);
    }
    let mut mathml = String::new();
    push_mathml(
        &mut mathml,
        events.into_iter().map(Ok::<_, std::io::Error>),
        config,
    )
    .ok()?;
    Some(SANITIZER.clean(&mathml).to_string())
}

/// HTML for text that may hold `$…$` (inline) or `$$…$$` (display) formulas. Text outside
/// formulas is escaped; a formula that does not parse is shown as its escaped source.
pub fn render_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        let (display, open) = if rest[start..].starts_with("$$") {
            (true, 2)
        } else {
            (false, 1)
        };
        let body_start = start + open;
        let close = if display {
            rest[body_start..].find("$$")
        } else {
            rest[body_start..].find('$')
        };
        let Some(close) = close else { break };
        let latex = &rest[body_start..body_start + close];
        escape(&rest[..start], &mut out);
        match formula(latex, display).filter(|_| !latex.trim().is_empty()) {
            Some(mathml) => out.push_str(&mathml),
            None => escape(&rest[start..body_start + close + open], &mut out),
        }
        rest = &rest[body_start + close + open..];
    }
    escape(rest, &mut out);
    out
}

/// Whether `text` holds a formula worth rendering (saves work for the common case).
pub fn has_math(text: &str) -> bool {
    text.matches('$').count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_formulas_become_mathml_and_text_stays_escaped() {
        let html = render_text(r"Sorting in $\mathcal{O}(n \log n)$ time & <fast>");
        assert!(html.contains("<math"), "{html}");
        assert!(html.contains("&amp; &lt;fast&gt;"), "{html}");
        assert!(!html.contains('$'), "{html}");
    }

    #[test]
    fn text_without_formulas_is_only_escaped() {
        assert_eq!(render_text("a < b, costs $5"), "a &lt; b, costs $5");
    }

    /// The tags of an HTML string (everything between `<` and `>`).
    fn tags(html: &str) -> Vec<&str> {
        html.split('<')
            .skip(1)
            .map(|t| t.split('>').next().unwrap_or(t))
            .collect()
    }

    #[test]
    fn hostile_latex_produces_no_link_handler_or_script() {
        for hostile in [
            r"$\href{javascript:alert(1)}{x}$",
            r"$\htmlData{onclick=alert(1)}{x}$",
            r"$\url{javascript:alert(1)}$",
            r"$x</math><script>alert(1)</script>$",
            r"$\text{<img src=x onerror=alert(1)>}$",
            r"$$\style{background:url(javascript:alert(1))}{x}$$",
        ] {
            let html = render_text(hostile);
            // Escaped text is harmless; look only inside real tags.
            for tag in tags(&html) {
                for forbidden in ["script", "img", "href", "on", "style", "a "] {
                    let name_or_attr = tag
                        .split_whitespace()
                        .any(|part| part.trim_start_matches(['<', '/']).starts_with(forbidden));
                    assert!(!name_or_attr, "{hostile} -> {html}");
                }
            }
        }
    }
}
