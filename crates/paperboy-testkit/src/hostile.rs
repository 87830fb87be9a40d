//! A hostile-input corpus: text an attacker would put in a title, an abstract, an author or
//! display name, a comment or an organization's name, and checks that an output did not turn
//! it into markup. One corpus for every sink (HTML pages, JSON, Markdown, RSS, Atom, email):
//! see `crates/paperboy-web/tests/hostile.rs`.
//!
//! - [`corpus`]: about sixty entries — XSS (scripts, event handlers, `javascript:`/`data:`
//!   URLs, SVG, entity tricks, broken tags, breaking out of attributes and raw-text elements),
//!   LaTeX (`\href{javascript:…}`, `\url`, huge and nested formulas), Markdown (raw HTML,
//!   link and image tricks, autolinks, deep nests), header injection (CR/LF), control
//!   characters, bidi overrides, NUL, and huge inputs.
//! - [`html_findings`]: what in an HTML document could run script or load from elsewhere
//!   (tokenized with html5ever, as a browser would).

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// One hostile input.
#[derive(Debug, Clone)]
pub struct Hostile {
    /// What it tries, for messages.
    pub name: &'static str,
    /// The text.
    pub text: String,
}

impl Hostile {
    /// The first `max` characters (an input's field may hold less than the entry).
    pub fn clipped(&self, max: usize) -> String {
        self.text.chars().take(max).collect()
    }

    /// Whether the entry is larger than any ordinary field (meant to be refused or clipped).
    pub fn is_huge(&self) -> bool {
        self.text.len() > 5_000
    }
}

fn h(name: &'static str, text: impl Into<String>) -> Hostile {
    Hostile {
        name,
        text: text.into(),
    }
}

/// The corpus.
pub fn corpus() -> Vec<Hostile> {
    vec![
        // Cross-site scripting.
        h("script element", "<script>alert(1)</script>"),
        h("img onerror", "<img src=x onerror=alert(1)>"),
        h("svg onload", "<svg onload=alert(1)>"),
        h("svg with script", "<svg><script>alert(1)</script></svg>"),
        h("javascript: link", "<a href=\"javascript:alert(1)\">x</a>"),
        h(
            "javascript: with a tab entity",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        ),
        h("iframe", "<iframe src=\"javascript:alert(1)\"></iframe>"),
        h("body onload", "<body onload=alert(1)>"),
        h(
            "double-quoted attribute breakout",
            "\"><script>alert(1)</script>",
        ),
        h(
            "single-quoted attribute breakout",
            "'><img src=x onerror=alert(1)>",
        ),
        h("unquoted attribute breakout", " onmouseover=alert(1) x="),
        h("broken tag", "<img src=x onerror=alert(1)//"),
        h("split script", "<scr<script>ipt>alert(1)</scr</script>ipt>"),
        h(
            "entity-encoded script",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
        ),
        h(
            "double-encoded img",
            "&amp;lt;img src=x onerror=alert(1)&amp;gt;",
        ),
        h(
            "style url",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
        ),
        h(
            "mathml xlink",
            "<math><mtext><a xlink:href=\"javascript:alert(1)\">x</a></mtext></math>",
        ),
        h(
            "meta refresh",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        ),
        h("textarea breakout", "</textarea><script>alert(1)</script>"),
        h("title breakout", "</title><script>alert(1)</script>"),
        h("comment breakout", "--><script>alert(1)</script><!--"),
        h("cdata breakout", "]]><script>alert(1)</script><![CDATA["),
        h(
            "data: link",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        ),
        h(
            "style element",
            "<style>@import 'http://evil.example/x.css';</style>",
        ),
        h(
            "form action",
            "<form action=\"javascript:alert(1)\"><button>x</button></form>",
        ),
        h(
            "object and embed",
            "<object data=\"javascript:alert(1)\"></object><embed src=\"javascript:alert(1)\">",
        ),
        h("base element", "<base href=\"http://evil.example/\">"),
        h(
            "json breakout",
            "\"}]</script><script>alert(1)</script>{\"a\":\"",
        ),
        // LaTeX.
        h("latex href", r"$\href{javascript:alert(1)}{click}$"),
        h("latex url", r"$\url{javascript:alert(1)}$"),
        h(
            "latex text with html",
            r"$$\text{<script>alert(1)</script>}$$",
        ),
        h(
            "latex nested braces",
            format!("${}x{}$", "{".repeat(500), "}".repeat(500)),
        ),
        h(
            "latex nested superscripts",
            format!("${}x{}$", "x^{".repeat(300), "}".repeat(300)),
        ),
        h(
            "latex huge formula",
            format!("${}$", r"\frac{a}{b}".repeat(800)),
        ),
        h("latex recursive macro", r"$\def\x{\x}\x$"),
        h("latex unbalanced environment", r"$\begin{array}{c} x"),
        h(
            "latex style and class",
            r"$\style{color:red}{x}\class{evil}{y}\htmlId{a}{b}$",
        ),
        // Markdown.
        h("markdown javascript: link", "[click](javascript:alert(1))"),
        h("markdown uppercase scheme", "[click](JAVASCRIPT:alert(1))"),
        h("markdown angle link", "[click](<javascript:alert(1)>)"),
        h("markdown javascript: image", "![img](javascript:alert(1))"),
        h(
            "markdown external image",
            "![tracker](https://tracker.example/pixel.png)",
        ),
        h("markdown autolink", "<javascript:alert(1)>"),
        h(
            "markdown reference link",
            "[x][r]\n\n[r]: javascript:alert(1)",
        ),
        h(
            "markdown raw html block",
            "<div onclick=\"alert(1)\">\n\n*md*\n\n</div>",
        ),
        h(
            "markdown link in code",
            "`[x](javascript:alert(1))` and ```\n<script>alert(1)</script>\n```",
        ),
        h(
            "markdown title breakout",
            "[x](https://example.org \"\\\"onmouseover=\\\"alert(1)\")",
        ),
        h(
            "markdown data: link",
            "[x](data:text/html,<script>alert(1)</script>)",
        ),
        h("markdown deep list", "- ".repeat(500) + "x"),
        h("markdown deep quote", "> ".repeat(1000) + "x"),
        // Header injection.
        h("crlf header", "Title\r\nBcc: victim@example.org"),
        h("lf header", "Name\nX-Injected: yes"),
        h(
            "encoded word",
            "=?utf-8?b?PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==?=",
        ),
        h("blank line then body", "x\r\n\r\n<html>body</html>"),
        // Control characters and Unicode.
        h("nul", "a\u{0}b<script>\u{0}alert(1)</script>"),
        h("c0 controls", "\u{1}\u{2}\u{7}\u{8}\u{b}\u{c}\u{1b}[31mred"),
        h("bidi override", "\u{202E}gnp.exe\u{202C} \u{2066}x\u{2069}"),
        h("zero-width scheme", "[x](java\u{200B}script:alert(1))"),
        h("noncharacters", "a\u{FFFE}b\u{FFFF}c"),
        h("byte order mark and astral", "\u{FEFF}𝕏 👍🏽 \u{10FFFF}"),
        // Huge.
        h("huge text", "word ".repeat(40_000)),
        h("huge word", "a".repeat(100_000)),
        h("deep html nest", "<div>".repeat(5_000)),
    ]
}

/// What in `html` could run script or fetch from another host: `<script>`/`<iframe>`/
/// `<object>`/`<embed>`/`<svg>`/`<base>`/`<style>`/`<meta http-equiv>` elements, `on*`
/// attributes, `javascript:`/`vbscript:`/`data:` URLs, and images from another host. Empty
/// when `html` is safe. `allowed_scripts` lists `src` values of the site's own scripts.
pub fn html_findings(html: &str, allowed_scripts: &[&str]) -> Vec<String> {
    let sink = Findings {
        found: RefCell::new(Vec::new()),
        allowed_scripts: allowed_scripts.iter().map(|s| (*s).to_owned()).collect(),
    };
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.found.into_inner()
}

struct Findings {
    found: RefCell<Vec<String>>,
    allowed_scripts: Vec<String>,
}

/// A URL a browser would run or render inline.
fn live_url(value: &str) -> bool {
    let v: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    v.starts_with("javascript:") || v.starts_with("vbscript:") || v.starts_with("data:")
}

impl TokenSink for Findings {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Token::TagToken(tag) = token else {
            return TokenSinkResult::Continue;
        };
        if tag.kind != TagKind::StartTag {
            return TokenSinkResult::Continue;
        }
        let name = tag.name.to_string();
        let attr = |n: &str| {
            tag.attrs
                .iter()
                .find(|a| &*a.name.local == n)
                .map(|a| a.value.to_string())
        };
        let mut found = self.found.borrow_mut();
        match name.as_str() {
            "script" => {
                let src = attr("src").unwrap_or_default();
                if !self.allowed_scripts.contains(&src) {
                    found.push(format!("<script src={src:?}>"));
                }
            }
            "iframe" | "object" | "embed" | "svg" | "base" | "style" | "frame" | "applet" => {
                found.push(format!("<{name}>"));
            }
            "meta" if attr("http-equiv").is_some() => found.push("<meta http-equiv>".into()),
            "img" | "image" | "video" | "audio" | "source" => {
                let src = attr("src").unwrap_or_default();
                if !src.starts_with('/') || src.starts_with("//") {
                    found.push(format!("<{name} src={src:?}> loads from elsewhere"));
                }
            }
            _ => {}
        }
        for a in &tag.attrs {
            let local = a.name.local.to_ascii_lowercase();
            if local.starts_with("on") {
                found.push(format!("<{name} {local}=…> event handler"));
            }
            if matches!(
                local.as_str(),
                "href" | "src" | "action" | "formaction" | "data" | "xlink:href" | "poster"
            ) && live_url(&a.value)
            {
                found.push(format!("<{name} {local}={:?}>", a.value.to_string()));
            }
        }
        drop(found);
        // What a tree builder would do: these elements' contents are text.
        match name.as_str() {
            "title" | "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                TokenSinkResult::RawData(RawKind::Rawtext)
            }
            "script" => TokenSinkResult::RawData(RawKind::ScriptData),
            "plaintext" => TokenSinkResult::Plaintext,
            _ => TokenSinkResult::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_sees_what_a_browser_would_run() {
        for bad in [
            "<p><script>alert(1)</script></p>",
            "<img src=x onerror=alert(1)>",
            "<a href=\" JaVaScRiPt:alert(1)\">x</a>",
            "<svg onload=alert(1)>",
            "<img src=\"https://tracker.example/p.png\">",
        ] {
            assert!(!html_findings(bad, &[]).is_empty(), "{bad}");
        }
        for good in [
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
            "<textarea><script>alert(1)</script></textarea>",
            "<a href=\"https://example.org\" title=\"onclick\">x</a>",
            "<script src=\"/static/app.js\"></script>",
        ] {
            assert!(
                html_findings(good, &["/static/app.js"]).is_empty(),
                "{good}: {:?}",
                html_findings(good, &["/static/app.js"])
            );
        }
    }

    #[test]
    fn the_corpus_is_large_and_named_uniquely() {
        let c = corpus();
        assert!(c.len() >= 60, "{}", c.len());
        let mut names: Vec<_> = c.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), c.len());
    }
}
