//! The keyword query parser is bounded: any text (random bytes, deep nesting, thousands of
//! words, every operator) parses without a panic or a stack overflow into at most
//! `MAX_QUERY_TERMS` terms, and the engine answers it without panicking.

use std::sync::{Arc, OnceLock};

use paperboy_core::{ArxivId, NewPaper};
use paperboy_search::text::{
    MAX_QUERY_CHARS, MAX_QUERY_DEPTH, MAX_QUERY_TERMS, MAX_QUERY_WORDS, TextIndex, bound_query,
};
use paperboy_search::{SearchDoc, SearchEngine, SearchMode, SearchQuery, StaticEmbedder};
use proptest::prelude::*;

/// An in-memory engine over a few papers, shared by the cases.
fn engine() -> &'static SearchEngine {
    static ENGINE: OnceLock<SearchEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let engine = SearchEngine::in_memory(StaticEmbedder::builtin_shared().expect("model"))
            .expect("engine");
        let docs: Vec<SearchDoc> = (0..30)
            .map(|i| {
                let p = NewPaper::new(
                    ArxivId::parse(&format!("2512.{:05}", i + 1)).expect("id"),
                    format!("Graph neural networks for word {i} title"),
                    format!("Language models and graph title words, NOT AND OR, number {i}."),
                    chrono::Utc::now(),
                );
                SearchDoc {
                    key: p.id.base().to_owned(),
                    title: p.title,
                    summary: p.summary,
                    authors: vec![format!("Author {i}")],
                    published_at: p.published_at,
                    ..SearchDoc::default()
                }
            })
            .collect();
        engine.index_docs(&docs).expect("index");
        engine.commit().expect("commit");
        engine
    })
}

fn text_index() -> &'static TextIndex {
    static INDEX: OnceLock<TextIndex> = OnceLock::new();
    INDEX.get_or_init(|| TextIndex::open(None).expect("index"))
}

fn terms(text: &str) -> usize {
    let index = text_index();
    index.parse(&index.searcher(), text).term_count()
}

fn answers(text: &str) {
    for mode in [
        SearchMode::Hybrid,
        SearchMode::Keyword,
        SearchMode::Semantic,
    ] {
        let mut q = SearchQuery::new(text);
        q.mode = mode;
        engine().search(&q).expect("an answer, not an error");
    }
}

/// Searches `text` in every mode: an error is allowed (the web layer then answers from the
/// store), a panic is not.
fn no_panic(text: &str) {
    for mode in [
        SearchMode::Hybrid,
        SearchMode::Keyword,
        SearchMode::Semantic,
    ] {
        let mut q = SearchQuery::new(text);
        q.mode = mode;
        let _ = engine().search(&q);
    }
}

#[test]
fn deeply_nested_parentheses_parse_without_overflowing_the_stack() {
    for depth in [5, 50, 400, 5_000] {
        let text = format!("{}graph AND title{}", "(".repeat(depth), ")".repeat(depth));
        assert!(terms(&text) <= MAX_QUERY_TERMS);
        answers(&text);
        let text = format!("{}\"graph\" -word", "(+".repeat(depth));
        answers(&text);
        let text = format!("{}NOT graph", "NOT (".repeat(depth));
        answers(&text);
    }
}

#[test]
fn a_query_is_cut_to_its_bounds_and_never_fails() {
    let words: Vec<String> = (0..1_000).map(|i| format!("w{i}")).collect();
    let long = words.join(" ");
    assert!(terms(&long) <= MAX_QUERY_TERMS, "{}", terms(&long));
    answers(&long);
    let bounded = bound_query(&long);
    assert_eq!(bounded.split_whitespace().count(), MAX_QUERY_WORDS);
    let huge = "x".repeat(100_000);
    assert_eq!(bound_query(&huge).chars().count(), MAX_QUERY_CHARS);
    answers(&huge);
    // Hyphenated runs split into many words count each.
    let dashed = vec!["a-b-c-d-e-f-g-h"; 100].join(" ");
    assert!(terms(&dashed) <= MAX_QUERY_TERMS, "{}", terms(&dashed));
    // Nesting within the bounds is kept as it was written.
    assert_eq!(bound_query("((a OR b) AND c)"), "((a OR b) AND c)");
    let deep = format!("{}x{}", "(".repeat(6), ")".repeat(6));
    let kept = bound_query(&deep);
    assert_eq!(kept.matches('(').count(), MAX_QUERY_DEPTH);
    assert_eq!(kept.matches(')').count(), MAX_QUERY_DEPTH);
    // Unbalanced parentheses are closed or dropped.
    assert_eq!(bound_query("(a (b"), "(a (b))");
    assert_eq!(bound_query("a) b"), "a  b");
    // Escapes and `field:*` (which only fast fields answer) are read as spaces.
    assert_eq!(bound_query("title:\\ a title:*"), "title:  a title: ");
    answers("--(\"authors:\"\"  NOT \\\u{3347a}title:\\ AND ");
    answers("((\"\"title:*:");
    answers("(\"\"title: *[");
    answers(" TO title:(}^2*^2");
    // A phrase of operators and an empty group under NOT (found by the property test below).
    no_panic("} NOT \" AND  AND \"\\\\ NOT ((((((");
}

/// Pieces of query syntax, glued at random.
fn syntax() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("\"".to_owned()),
        Just("-".to_owned()),
        Just("+".to_owned()),
        Just(":".to_owned()),
        Just(" AND ".to_owned()),
        Just(" OR ".to_owned()),
        Just(" NOT ".to_owned()),
        Just(" ".to_owned()),
        Just("title:".to_owned()),
        Just("authors:".to_owned()),
        Just("^2".to_owned()),
        Just("*".to_owned()),
        Just("~".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(" TO ".to_owned()),
        Just("\\".to_owned()),
        "[a-z]{1,8}",
        "[0-9]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..400).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_syntax_parses_into_a_bounded_query_and_the_engine_answers(text in syntax()) {
        let n = terms(&text);
        prop_assert!(n <= MAX_QUERY_TERMS, "{} terms for {:?}", n, text);
        no_panic(&text);
    }

    #[test]
    fn random_strings_parse_into_a_bounded_query_and_the_engine_answers(text in any::<String>()) {
        let n = terms(&text);
        prop_assert!(n <= MAX_QUERY_TERMS, "{} terms for {:?}", n, text);
        no_panic(&text);
        let bounded = bound_query(&text);
        prop_assert!(bounded.chars().count() <= MAX_QUERY_CHARS + MAX_QUERY_DEPTH);
    }
}

#[test]
fn the_engine_is_shared_by_the_cases() {
    // Keeps the fixture honest: the cases search a real index with matches.
    let found = engine()
        .search(&SearchQuery::new("graph neural"))
        .expect("search");
    assert!(!found.hits.is_empty());
    let _ = Arc::clone(engine().embedder());
}
