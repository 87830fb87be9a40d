//! Hostile input for the parsers that read what visitors type (arXiv ids and URLs, days, ISO
//! weeks, months, usernames, emails): random bytes and strings never panic, errors quote a
//! bounded part of the input, and every valid value survives display then parse.

use chrono::{Datelike, NaiveDate};
use paperboy_core::dates::parse_day;
use paperboy_core::{ArxivId, DateWindow, Email, IsoWeek, Username, YearMonth};
use proptest::prelude::*;

/// Strings that look almost like what the parsers expect: their alphabet, in any order.
fn near_miss() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[0-9vVwW.:/\\-_ a-zA-Z\u{0}\u{202e}\u{1F600}é#?%]{0,40}")
        .expect("regex")
}

/// Prefixes a parser strips or keys on.
fn decorated() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "",
            "arXiv:",
            "ARXIV:",
            "https://arxiv.org/abs/",
            "http://www.arxiv.org/pdf/",
            "huggingface.co/papers/",
            "hf.co/papers/",
            "https://export.arxiv.org/abs/",
            "é",
        ]),
        near_miss(),
        prop::sample::select(vec!["", "v1", "v0", "v99999", ".pdf", "/", "?x#y", "é"]),
    )
        .prop_map(|(a, b, c)| format!("{a}{b}{c}"))
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        near_miss(),
        decorated(),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// A day chrono can show with a four-digit year, as the parsers require.
fn day() -> impl Strategy<Value = NaiveDate> {
    (0i32..=9999, 1u32..=366).prop_filter_map("a real day", |(y, ordinal)| {
        NaiveDate::from_yo_opt(y, ordinal)
    })
}

/// A valid arXiv id, new or old style, with or without a version.
fn arxiv_id() -> impl Strategy<Value = String> {
    let version =
        prop::option::of(1u32..10_000).prop_map(|v| v.map(|v| format!("v{v}")).unwrap_or_default());
    let new_style = (7u32..=99, 1u32..=12, 0u32..100_000).prop_map(|(yy, mm, n)| {
        if yy <= 14 {
            format!("{yy:02}{mm:02}.{:04}", n % 10_000)
        } else {
            format!("{yy:02}{mm:02}.{n:05}")
        }
    });
    let old_style = (
        prop::sample::select(vec!["hep-th", "math", "cond-mat", "astro-ph", "q-bio"]),
        prop::option::of("[A-Z]{2}"),
        0u32..100,
        1u32..=12,
        0u32..1000,
    )
        .prop_map(|(archive, class, yy, mm, n)| match class {
            Some(c) => format!("{archive}.{c}/{yy:02}{mm:02}{n:03}"),
            None => format!("{archive}/{yy:02}{mm:02}{n:03}"),
        });
    (prop_oneof![new_style, old_style], version).prop_map(|(id, v)| format!("{id}{v}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_parser_panics_and_errors_quote_a_bounded_input(s in any_text()) {
        if let Err(e) = ArxivId::parse(&s) {
            prop_assert!(e.to_string().chars().count() < 300, "{e}");
        }
        let _ = ArxivId::from_id_or_url(&s);
        for message in [
            parse_day(&s).err().map(|e| e.to_string()),
            IsoWeek::parse(&s).err().map(|e| e.to_string()),
            YearMonth::parse(&s).err().map(|e| e.to_string()),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(message.chars().count() < 300, "{message}");
        }
        let _ = Username::parse(&s);
        let _ = Email::parse(&s);
    }

    #[test]
    fn whatever_parses_survives_its_neighbours(s in any_text()) {
        // What a URL can name, its page links the previous and next of: those must not panic.
        let windows = [
            parse_day(&s).ok().map(DateWindow::Day),
            IsoWeek::parse(&s).ok().map(DateWindow::Week),
            YearMonth::parse(&s).ok().map(DateWindow::Month),
        ];
        for w in windows.into_iter().flatten() {
            let _ = (w.previous(), w.next(), w.end_exclusive(), w.to_string());
        }
    }

    #[test]
    fn an_arxiv_id_round_trips_through_display_and_urls(raw in arxiv_id()) {
        let id = ArxivId::parse(&raw).expect("a valid id parses");
        prop_assert_eq!(id.to_string(), raw.clone());
        prop_assert_eq!(ArxivId::parse(&id.to_string()).expect("again"), id.clone());
        prop_assert_eq!(ArxivId::parse(&format!("  arXiv:{raw} ")).expect("prefixed"), id.clone());
        for url in [
            format!("https://arxiv.org/abs/{raw}"),
            format!("https://arxiv.org/pdf/{raw}.pdf"),
            format!("https://huggingface.co/papers/{raw}?x=1#top"),
        ] {
            prop_assert_eq!(ArxivId::from_id_or_url(&url), Some(id.clone()), "{}", url);
        }
        prop_assert_eq!(ArxivId::parse(id.base()).expect("base").version(), None);
    }

    #[test]
    fn days_weeks_and_months_round_trip(d in day()) {
        let text = d.format("%Y-%m-%d").to_string();
        prop_assert_eq!(parse_day(&text).expect("day"), d);
        prop_assert_eq!(DateWindow::Day(d).to_string(), text);

        let week = IsoWeek::of(d);
        // ISO years can leave the four-digit range at its very ends.
        if (0..=9999).contains(&d.iso_week().year()) {
            let shown = week.to_string();
            prop_assert_eq!(IsoWeek::parse(&shown).expect("week"), week);
            prop_assert!(DateWindow::Week(week).contains(d));
            prop_assert_eq!(IsoWeek::parse(&shown.to_lowercase()).expect("lower case"), week);
        }

        let month = YearMonth::of(d);
        let shown = month.to_string();
        prop_assert_eq!(YearMonth::parse(&shown).expect("month"), month);
        prop_assert_eq!(month.first_day().year(), d.year());
        prop_assert!(DateWindow::Month(month).contains(d));
    }
}

#[test]
fn huge_inputs_are_refused_quickly_and_quoted_short() {
    let huge = "2025-10-29".repeat(100_000);
    let e = parse_day(&huge).expect_err("not a day");
    assert!(e.to_string().chars().count() < 300);
    let e = ArxivId::parse(&"1".repeat(1_000_000)).expect_err("not an id");
    assert!(e.to_string().chars().count() < 300);
    assert!(
        ArxivId::from_id_or_url(&format!("https://arxiv.org/abs/{}", "v".repeat(100_000)))
            .is_none()
    );
    assert!(IsoWeek::parse(&"W".repeat(100_000)).is_err());
    assert!(YearMonth::parse(&"-".repeat(100_000)).is_err());
}
