//! LaTeX in titles, abstracts and comments (`$\mathcal{O}(n)$`), rendered on the server to
//! MathML (pulldown-latex) — no JavaScript renderer is shipped. Everything outside `$…$` is
//! escaped text; the MathML is passed through an allowlist of MathML elements and
//! presentational attributes, so no LaTeX macro (`\href`, `\htmlData`, …) can produce a link,
//! a handler or a script.
//!
//! The renderer is bounded so that no input costs more than a little work: a formula longer
//! than [`MAX_FORMULA_BYTES`], with more than [`MAX_COMMANDS`] commands, braces nested deeper
//! than [`MAX_GROUP_DEPTH`] or a macro definition (`\def`, `\newcommand`, …), and every
//! formula of a text past the first [`MAX_FORMULAS`], is shown as its escaped source instead.
//! (pulldown-latex parses recursively: a long `\sqrt\sqrt\sqrt…` chain once overflowed the
//! stack.)

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

/// Longest formula rendered, in bytes (between the dollars).
pub const MAX_FORMULA_BYTES: usize = 1_000;
/// Most commands (`\name` or `\` and a symbol) in a rendered formula.
pub const MAX_COMMANDS: usize = 50;
/// Deepest nesting of `{…}` groups (and `\left…\right`, `\begin…\end`) rendered.
pub const MAX_GROUP_DEPTH: usize = 12;
/// Most formulas rendered in one text; the rest are shown as source.
pub const MAX_FORMULAS: usize = 64;

/// Commands that define macros: never rendered, whatever pulldown-latex makes of them.
const MACRO_DEFINITIONS: &[&str] = &[
    "def",
    "gdef",
    "edef",
    "xdef",
    "let",
    "futurelet",
    "newcommand",
    "renewcommand",
    "providecommand",
    "DeclareMathOperator",
    "DeclareRobustCommand",
    "newenvironment",
    "renewenvironment",
    "expandafter",
    "csname",
    "catcode",
];

/// Whether `latex` is within the bounds above (so cheap to render).
pub fn within_bounds(latex: &str) -> bool {
    if latex.len() > MAX_FORMULA_BYTES {
        return false;
    }
    let bytes = latex.as_bytes();
    let (mut commands, mut depth) = (0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                commands += 1;
                if commands > MAX_COMMANDS {
                    return false;
                }
                let name_len = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphabetic())
                    .count();
                let name = &latex[i + 1..i + 1 + name_len];
                if MACRO_DEFINITIONS.contains(&name) {
                    return false;
                }
                match name {
                    "left" | "begin" => depth += 1,
                    "right" | "end" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                // A one-symbol command (`\{`, `\\`) is skipped whole.
                i += 1 + name_len.max(usize::from(i + 1 < bytes.len()));
                if depth > MAX_GROUP_DEPTH {
                    return false;
                }
                continue;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_GROUP_DEPTH {
                    return false;
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

/// Renders one formula; `None` when it is not valid LaTeX or is out of bounds (the caller
/// shows the source).
fn formula(latex: &str, display: bool) -> Option<String> {
    if !within_bounds(latex) {
        return None;
    }
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
/// formulas is escaped; a formula that does not parse, is out of bounds or comes after the
/// first [`MAX_FORMULAS`] is shown as its escaped source.
pub fn render_text(text: &str) -> String {
    render_text_counted(text, &mut 0)
}

/// [`render_text`], counting the formulas rendered in `rendered` (shared by the pieces of
/// one comment, which are rendered apart).
pub(crate) fn render_text_counted(text: &str, rendered: &mut usize) -> String {
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
        let mathml = if *rendered < MAX_FORMULAS && !latex.trim().is_empty() {
            *rendered += 1;
            formula(latex, display)
        } else {
            None
        };
        match mathml {
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
