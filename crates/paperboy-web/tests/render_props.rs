//! Property tests of the comment renderer: random bytes and random nesting of Markdown and
//! LaTeX never panic (nor overflow the stack), and the output is well-formed, escaped HTML of
//! bounded size and bounded structure. The work is bounded by counting what comes out (bytes,
//! elements, depth), never by a clock.

use paperboy_web::markdown::{MAX_DEPTH, MAX_ELEMENTS, MAX_OUTPUT, render_comment};
use paperboy_web::math::{self, MAX_FORMULAS};
use proptest::prelude::*;

/// Elements the output may hold: the Markdown sanitizer's and the MathML allowlist's.
const ALLOWED: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "area",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "map",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
    "input",
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

/// HTML's void elements (MathML's empty ones are written with an end tag).
const VOID: &[&str] = &["area", "br", "col", "hr", "img", "input", "wbr"];

/// What the structure of an output holds.
#[derive(Debug, Default)]
struct Shape {
    elements: usize,
    depth: usize,
}

/// Checks that `html` is well-formed and inert: every tag allowed and closed in order, no
/// event handler, no script URL, no raw `<` or `>` in text, every `&` an entity. Returns its
/// shape.
fn check(html: &str) -> Shape {
    let mut stack: Vec<String> = Vec::new();
    let mut shape = Shape::default();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(open) = rest.find(['<', '>', '&']) else {
            break;
        };
        let at = &rest[open..];
        if at.starts_with('>') {
            panic!("raw > in text: {html}");
        }
        if at.starts_with('&') {
            let end = at.find(';').unwrap_or_else(|| panic!("bare & in {html}"));
            let name = &at[1..end];
            assert!(
                !name.is_empty()
                    && name.len() < 10
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '#'),
                "bad entity {name} in {html}"
            );
            rest = &at[end + 1..];
            continue;
        }
        // A tag: up to the `>` outside quotes.
        let mut in_quote = false;
        let mut end = None;
        for (i, c) in at.char_indices().skip(1) {
            match c {
                '"' => in_quote = !in_quote,
                '>' if !in_quote => {
                    end = Some(i);
                    break;
                }
                '<' if !in_quote => panic!("< inside a tag: {html}"),
                _ => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("unclosed tag in {html}"));
        let tag = &at[1..end];
        rest = &at[end + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(ALLOWED.contains(&name.as_str()), "tag <{tag}> in {html}");
        for (attr, value) in attributes(tag) {
            let attr = attr.to_ascii_lowercase();
            assert!(!attr.starts_with("on"), "handler in <{tag}>");
            assert!(attr != "style", "style in <{tag}>");
            let value = value.trim().to_ascii_lowercase();
            assert!(
                !value.starts_with("javascript:") && !value.starts_with("data:"),
                "script URL in <{tag}>"
            );
        }
        if closing {
            let top = stack
                .pop()
                .unwrap_or_else(|| panic!("stray </{name}> in {html}"));
            assert_eq!(top, name, "misnested before {:.80}", rest);
        } else {
            shape.elements += 1;
            if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
                stack.push(name);
                shape.depth = shape.depth.max(stack.len());
            }
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?} in {html}");
    shape
}

/// The attributes of a tag's text (`a href="x" rel="y"`): names and quoted values.
fn attributes(tag: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let rest = tag.trim_end_matches('/');
    let mut rest = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        rest = rest[name_end..].trim_start();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let after = after
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("unquoted value in <{tag}>"));
            let close = after
                .find('"')
                .unwrap_or_else(|| panic!("open quote in <{tag}>"));
            out.push((name, &after[..close]));
            rest = after[close + 1..].trim_start();
        } else {
            out.push((name, ""));
        }
    }
    out
}

/// Renders and checks the properties every output has.
fn render_checked(source: &str) -> (String, Shape) {
    let html = render_comment(source);
    assert!(html.len() <= MAX_OUTPUT, "{} bytes", html.len());
    let shape = check(&html);
    if !source.contains('$') {
        // Markdown alone: its bounds, give or take what the sanitizer adds (a `tbody`).
        assert!(shape.elements <= MAX_ELEMENTS + 8, "{shape:?}");
        assert!(shape.depth <= MAX_DEPTH + 2, "{shape:?}");
    }
    (html, shape)
}

/// Pieces of Markdown and LaTeX that nest or cost.
const TOKENS: &[&str] = &[
    "- ",
    "* ",
    "1. ",
    "> ",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "$",
    "$$",
    "\\sqrt",
    "\\frac",
    "x^",
    "^{",
    "_",
    "*",
    "**",
    "`",
    "```",
    "\n",
    "\n\n",
    "|",
    "| --- |",
    "# ",
    "<",
    "&",
    "\\left(",
    "\\right)",
    "\\begin{matrix}",
    "\\end{matrix}",
    "\\\\",
    "a",
    " ",
    "~~",
    "![",
    "](http://x)",
    "<script>",
    "\\def",
    "\\text{",
    "    ",
    "\t",
    "\u{E000}",
    "\u{E001}",
    "0",
    "\\",
    "\"",
    "'",
    "=",
];

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..1500).prop_map(|t| t.concat())
}

/// One construct nested `depth` times around a core, as an attacker would write it.
fn nesting() -> impl Strategy<Value = String> {
    let openers: &[(&str, &str)] = &[
        ("- ", ""),
        ("> ", ""),
        ("1. ", ""),
        ("[", "](x)"),
        ("*", "*"),
        ("**", "**"),
        ("~~", "~~"),
        ("${", "}$"),
        ("$x^{", "}$"),
        ("$\\sqrt", "$"),
        ("$\\frac{", "}{y}$"),
        ("$\\left(", "\\right)$"),
        ("![", "](http://x)"),
    ];
    (prop::sample::select(openers), 0usize..400, 1usize..4).prop_map(
        |((open, close), depth, times)| {
            let one = format!("{}x{}", open.repeat(depth), close.repeat(depth));
            vec![one; times].join("\n\n")
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_bytes_render_to_well_formed_bounded_html(bytes in prop::collection::vec(any::<u8>(), 0..12_000)) {
        let source = String::from_utf8_lossy(&bytes);
        render_checked(&source);
    }

    #[test]
    fn random_markdown_and_latex_render_to_well_formed_bounded_html(source in tokens()) {
        render_checked(&source);
    }

    #[test]
    fn random_nesting_renders_to_well_formed_bounded_html(source in nesting()) {
        let (html, _) = render_checked(&source);
        // Nothing vanishes: the innermost text is there, as markup's text or as source.
        // (but a code fence's info string, `~~~~x~~~~`, is not shown, as on any site).
        if !source.starts_with("~~~") {
            prop_assert!(html.contains('x'), "{}", html);
        }
    }

    #[test]
    fn any_text_with_formulas_renders_bounded(source in tokens()) {
        let html = math::render_text(&source);
        check(&html);
        prop_assert!(html.matches("<math").count() <= MAX_FORMULAS);
    }
}

/// The inputs that once cost a second per view, or overflowed the stack, one by one.
#[test]
fn known_worst_cases_stay_bounded_and_show_their_source() {
    let cases = [
        format!("${}x{}$", "{".repeat(5_000), "}".repeat(4_990)),
        format!("${}x{}$", "x^{".repeat(3_000), "}".repeat(3_000)),
        format!("${}x$", "\\sqrt".repeat(1_900)),
        format!("$${}x$$", "\\sqrt".repeat(60)),
        format!("${}x$", "\\sqrt ".repeat(50)),
        format!("{}x", "- ".repeat(200)),
        format!("{}x", "- - - - ".repeat(1_000)),
        format!("{}x", ">".repeat(5_000)),
        format!("{}x", "> ".repeat(200)),
        format!("{}x", "[".repeat(9_999)),
        format!("{}x{}", "[".repeat(3_000), "](y)".repeat(1_500)),
        "a".repeat(10_000),
        "$a$".repeat(3_300),
        "|a".repeat(5_000) + "\n" + &"|-".repeat(5_000) + "\n" + &"|b".repeat(5_000),
        "$\\def\\x{\\x\\x}\\x$".into(),
        "$\\newcommand{\\a}{\\a}\\a$".into(),
    ];
    for source in &cases {
        let (html, _) = render_checked(source);
        assert!(
            html.contains('x') || html.contains('a'),
            "the text is kept: {source:.40} -> {html:.200}"
        );
    }
    // Out of bounds, a formula is its escaped source, never dropped.
    let html = render_comment(&cases[0]);
    assert!(!html.contains("<math"), "{html:.200}");
    assert!(html.contains("{{{{"), "{html:.200}");
    let sqrt = render_comment(&cases[2]);
    assert!(sqrt.contains("\\sqrt\\sqrt"), "{sqrt:.200}");
    let defined = render_comment("$\\def\\x{y}\\x$");
    assert!(
        defined.contains("\\def") && !defined.contains("<math"),
        "{defined}"
    );
    // Within bounds, formulas render.
    assert!(render_comment(&cases[4]).contains("<msqrt"));
    // Only the first formulas of a text render; the rest are shown as source.
    let many = render_comment(&cases[12]);
    assert_eq!(many.matches("<math").count(), MAX_FORMULAS, "{many:.200}");
    assert!(many.contains("$a$"));
}

/// Deep nesting is flattened: the structure stops at the bound, the text is all there.
#[test]
fn deep_lists_and_quotes_are_flattened_with_their_text_kept() {
    let source = format!("{}deepest", "- ".repeat(200));
    let (html, shape) = render_checked(&source);
    assert!(html.contains("deepest"));
    assert!(shape.depth <= MAX_DEPTH + 2, "{shape:?}");
    let source = format!("{}quoted", "> ".repeat(200));
    let (html, shape) = render_checked(&source);
    assert!(html.contains("quoted"));
    assert!(shape.depth <= MAX_DEPTH + 2, "{shape:?}");
    // Many elements: the first ones kept, the text of all.
    let source: String = (0..5_000).map(|i| format!("*e{i}* ")).collect();
    let (html, shape) = render_checked(&source);
    assert!(html.contains("e4999"));
    assert!(shape.elements <= MAX_ELEMENTS + 8, "{shape:?}");
}

/// A formula in an image's alt text: images are links, so the alt text (and its formula) is
/// the link's content, never an attribute — no quote in it can open an attribute of its own.
#[test]
fn a_formula_in_an_image_alt_text_stays_inside_the_link() {
    let html = render_comment("![$x\" onerror=\"alert(1)$](http://example.org/a.png)");
    check(&html);
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains(" onerror="), "{html}");
    assert!(
        html.contains(
            "<a href=\"http://example.org/a.png\" rel=\"noopener noreferrer nofollow ugc\"><math"
        ),
        "{html}"
    );
}
