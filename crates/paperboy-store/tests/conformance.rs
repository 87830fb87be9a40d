//! The storage conformance suite: every test runs against SQLite, and against PostgreSQL when
//! `TEST_DATABASE_URL` is set (each test in a schema of its own). With
//! `PAPERBOY_STRICT_TESTS=1` (set by CI) a missing PostgreSQL fails instead of skipping.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use paperboy_core::{
    ArxivId, DateWindow, IsoWeek, NewAuthor, NewFeedEntry, NewPaper, OrgRef, UserRef, Username,
    YearMonth,
};
use paperboy_store::{FeedQuery, FeedSort, NewUser, PaperCursor, Store, StoreError};

paperboy_testkit::conformance!(
    a_stored_paper_reads_back_with_every_field,
    reimporting_updates_and_never_duplicates,
    a_newer_version_replaces_text_and_authors_and_an_older_one_does_not,
    missing_optional_fields_keep_what_was_stored,
    the_feed_lists_a_window_by_upvotes_then_submission_order,
    feed_pages_report_whether_more_follow,
    the_feed_filters_by_submitter,
    feed_dates_know_their_neighbours,
    the_catalogue_pages_newest_first_by_cursor,
    author_names_match_case_insensitively,
    upvoting_twice_counts_once_and_unvoting_removes_it,
    concurrent_votes_never_make_counts_drift,
    usernames_and_emails_are_unique,
    an_imported_submitter_does_not_overwrite_a_local_account,
    repeated_ids_in_one_batch_keep_the_last_record,
    hostile_text_is_stored_verbatim,
    state_values_round_trip,
    stats_count_what_is_stored,
);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn paper(id: &str) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).expect("id"),
        format!("Title of {id}"),
        format!("Abstract of {id}."),
        t("2025-10-27T10:00:00Z"),
    );
    p.authors = vec![
        NewAuthor::named("Ada Lovelace"),
        NewAuthor::named("Alan Turing"),
    ];
    p.categories = vec!["cs.CL".into(), "cs.AI".into()];
    p
}

fn on_feed(
    mut p: NewPaper,
    date: &str,
    at: &str,
    upvotes: i64,
    submitter: Option<&str>,
) -> NewPaper {
    p.source_upvotes = Some(upvotes);
    p.feed = Some(NewFeedEntry {
        feed_date: day(date),
        submitted_at: t(at),
        submitter: submitter.map(|s| UserRef {
            username: s.into(),
            fullname: format!("{s} Fullname"),
            avatar_url: None,
        }),
        organization: None,
    });
    p
}

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).expect("id")
}

fn query(window: DateWindow) -> FeedQuery {
    FeedQuery {
        window,
        submitter: None,
        sort: FeedSort::Upvotes,
        offset: 0,
        limit: 50,
    }
}

async fn local_user(store: &Arc<dyn Store>, name: &str) -> i64 {
    store
        .create_user(&NewUser {
            username: Username::parse(name).expect("username"),
            fullname: name.to_uppercase(),
            email: Some(
                paperboy_core::Email::parse(&format!("{name}@example.org")).expect("email"),
            ),
            password_hash: Some("$argon2id$fake".into()),
            is_admin: false,
        })
        .await
        .expect("create user")
        .id
}

async fn a_stored_paper_reads_back_with_every_field(store: Arc<dyn Store>) {
    let mut p = paper("2510.00001v2");
    p.updated_at = Some(t("2025-10-28T10:00:00Z"));
    p.comment = Some("12 pages".into());
    p.journal_ref = Some("NeurIPS 2025".into());
    p.doi = Some("10.1000/xyz".into());
    p.github_repo = Some("https://github.com/a/b".into());
    p.github_stars = Some(42);
    p.project_page = Some("https://a.github.io".into());
    p.ai_summary = Some("It works.".into());
    p.keywords = vec!["diffusion".into(), "LLM".into()];
    p.source_comments = Some(3);
    p.discussion_id = Some("abc123".into());
    p.authors[1].hidden = true;
    p.authors[0].hf_user = Some("ada".into());
    let mut p = on_feed(p, "2025-10-29", "2025-10-29T13:58:51Z", 7, Some("akhaliq"));
    if let Some(feed) = p.feed.as_mut() {
        feed.organization = Some(OrgRef {
            name: "deepmind".into(),
            fullname: "Google DeepMind".into(),
            avatar_url: Some("https://example.org/dm.png".into()),
        });
    }
    let summary = store.upsert_papers(&[p]).await.expect("upsert");
    assert_eq!((summary.inserted, summary.updated), (1, 0));

    let got = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got.id.base(), "2510.00001");
    assert_eq!(got.version, Some(2));
    assert_eq!(got.title, "Title of 2510.00001v2");
    assert_eq!(got.categories, ["cs.CL", "cs.AI"]);
    assert_eq!(got.published_at, t("2025-10-27T10:00:00Z"));
    assert_eq!(got.updated_at, Some(t("2025-10-28T10:00:00Z")));
    assert_eq!(got.comment.as_deref(), Some("12 pages"));
    assert_eq!(got.journal_ref.as_deref(), Some("NeurIPS 2025"));
    assert_eq!(got.doi.as_deref(), Some("10.1000/xyz"));
    assert_eq!(got.github_stars, Some(42));
    assert_eq!(got.project_page.as_deref(), Some("https://a.github.io"));
    assert_eq!(got.ai_summary.as_deref(), Some("It works."));
    assert_eq!(got.keywords, ["diffusion", "LLM"]);
    assert_eq!(got.upvotes, 7);
    assert_eq!(got.num_comments, 3);
    assert_eq!(got.discussion_id.as_deref(), Some("abc123"));
    let names: Vec<_> = got.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Ada Lovelace", "Alan Turing"]);
    assert!(got.authors[1].hidden);
    assert_eq!(got.authors[0].user.as_deref(), Some("ada"));
    assert_eq!(got.visible_authors().count(), 1);
    let feed = got.feed.expect("on the feed");
    assert_eq!(feed.feed_date, day("2025-10-29"));
    assert_eq!(feed.submitted_at, t("2025-10-29T13:58:51Z"));
    assert_eq!(
        feed.submitter.expect("submitter").fullname,
        "akhaliq Fullname"
    );
    assert_eq!(feed.organization.expect("org").fullname, "Google DeepMind");

    assert!(
        store
            .paper(&id("2510.00002"))
            .await
            .expect("read")
            .is_none()
    );
}

async fn reimporting_updates_and_never_duplicates(store: Arc<dyn Store>) {
    let batch = vec![paper("2510.00001"), paper("2510.00002")];
    store.upsert_papers(&batch).await.expect("first");
    let mut again = batch.clone();
    again[0].title = "Retitled".into();
    let summary = store.upsert_papers(&again).await.expect("second");
    assert_eq!((summary.inserted, summary.updated), (0, 2));
    let stats = store.stats().await.expect("stats");
    assert_eq!(stats.papers, 2);
    assert_eq!(stats.authors, 4, "authors replaced, not appended");
    let got = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got.title, "Retitled");
}

async fn a_newer_version_replaces_text_and_authors_and_an_older_one_does_not(
    store: Arc<dyn Store>,
) {
    store
        .upsert_papers(&[paper("2510.00001v1")])
        .await
        .expect("v1");
    let mut v3 = paper("2510.00001v3");
    v3.title = "Version three".into();
    v3.authors = vec![NewAuthor::named("Grace Hopper")];
    store.upsert_papers(&[v3]).await.expect("v3");
    let mut v2 = paper("2510.00001v2");
    v2.title = "Version two".into();
    v2.authors = vec![
        NewAuthor::named("Somebody Else"),
        NewAuthor::named("And Another"),
    ];
    v2.doi = Some("10.1/filled".into());
    store.upsert_papers(&[v2]).await.expect("v2");

    let got = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got.version, Some(3));
    assert_eq!(got.title, "Version three");
    let names: Vec<_> = got.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Grace Hopper"]);
    assert_eq!(
        got.doi.as_deref(),
        Some("10.1/filled"),
        "older records still fill gaps"
    );
    assert_eq!(store.stats().await.expect("stats").papers, 1);
}

async fn missing_optional_fields_keep_what_was_stored(store: Arc<dyn Store>) {
    let mut hf = on_feed(
        paper("2510.00001"),
        "2025-10-29",
        "2025-10-29T08:00:00Z",
        12,
        Some("akhaliq"),
    );
    hf.github_repo = Some("https://github.com/x/y".into());
    hf.github_stars = Some(100);
    hf.keywords = vec!["agents".into()];
    store.upsert_papers(&[hf]).await.expect("hf");
    // A later arXiv record knows none of these, and has no feed entry.
    let mut arxiv = paper("2510.00001v1");
    arxiv.published_at = t("2025-10-26T00:00:00Z");
    store.upsert_papers(&[arxiv]).await.expect("arxiv");
    let got = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got.github_repo.as_deref(), Some("https://github.com/x/y"));
    assert_eq!(got.github_stars, Some(100));
    assert_eq!(got.keywords, ["agents"]);
    assert_eq!(got.upvotes, 12);
    assert_eq!(
        got.published_at,
        t("2025-10-26T00:00:00Z"),
        "earliest date wins"
    );
    assert!(got.feed.is_some(), "still on the feed");
}

async fn the_feed_lists_a_window_by_upvotes_then_submission_order(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[
            on_feed(
                paper("2510.00001"),
                "2025-10-29",
                "2025-10-29T09:00:00Z",
                5,
                None,
            ),
            on_feed(
                paper("2510.00002"),
                "2025-10-29",
                "2025-10-29T08:00:00Z",
                5,
                None,
            ),
            on_feed(
                paper("2510.00003"),
                "2025-10-29",
                "2025-10-29T10:00:00Z",
                9,
                None,
            ),
            on_feed(
                paper("2510.00004"),
                "2025-10-28",
                "2025-10-28T10:00:00Z",
                50,
                None,
            ),
            on_feed(
                paper("2510.00005"),
                "2025-11-03",
                "2025-11-03T10:00:00Z",
                1,
                None,
            ),
            paper("2510.00006"),
            on_feed(
                paper("2510.00007"),
                "2025-10-31",
                "2025-10-31T23:00:00Z",
                3,
                None,
            ),
        ])
        .await
        .expect("upsert");
    let ids = |page: paperboy_store::FeedPage| {
        page.papers
            .iter()
            .map(|p| p.id.base().to_owned())
            .collect::<Vec<_>>()
    };
    let page = store
        .feed(&query(DateWindow::Day(day("2025-10-29"))))
        .await
        .expect("feed");
    assert_eq!(ids(page), ["2510.00003", "2510.00002", "2510.00001"]);

    let week = DateWindow::Week(IsoWeek::parse("2025-W44").expect("week"));
    let page = store.feed(&query(week)).await.expect("week");
    assert_eq!(
        ids(page),
        [
            "2510.00004",
            "2510.00003",
            "2510.00002",
            "2510.00001",
            "2510.00007"
        ]
    );

    let month = DateWindow::Month(YearMonth::parse("2025-11").expect("month"));
    assert_eq!(
        ids(store.feed(&query(month)).await.expect("month")),
        ["2510.00005"]
    );

    let mut q = query(DateWindow::Month(
        YearMonth::parse("2025-10").expect("month"),
    ));
    q.sort = FeedSort::PublishedAt;
    assert_eq!(
        ids(store.feed(&q).await.expect("by date")),
        [
            "2510.00007",
            "2510.00003",
            "2510.00001",
            "2510.00002",
            "2510.00004"
        ]
    );
    q.sort = FeedSort::Upvotes;
    assert_eq!(
        ids(store.feed(&q).await.expect("by votes"))[0],
        "2510.00004"
    );
    q.sort = FeedSort::Trending;
    let trending = ids(store.feed(&q).await.expect("trending"));
    assert_eq!(trending.len(), 5);
    // Scored as of the window's end: 3 votes an hour old beat 50 votes three days old.
    assert_eq!(trending[0], "2510.00007");
}

async fn feed_pages_report_whether_more_follow(store: Arc<dyn Store>) {
    let batch: Vec<_> = (1..=7)
        .map(|i| {
            on_feed(
                paper(&format!("2510.{i:05}")),
                "2025-10-29",
                &format!("2025-10-29T0{i}:00:00Z"),
                i,
                None,
            )
        })
        .collect();
    store.upsert_papers(&batch).await.expect("upsert");
    for sort in [FeedSort::Upvotes, FeedSort::PublishedAt, FeedSort::Trending] {
        let mut q = query(DateWindow::Day(day("2025-10-29")));
        q.sort = sort;
        q.limit = 3;
        let mut seen = Vec::new();
        for page_no in 0..3 {
            q.offset = page_no * 3;
            let page = store.feed(&q).await.expect("page");
            assert_eq!(page.has_more, page_no < 2, "{sort:?} page {page_no}");
            seen.extend(page.papers.into_iter().map(|p| p.id.base().to_owned()));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 7, "{sort:?}: every paper exactly once");
        q.offset = 30;
        let past = store.feed(&q).await.expect("past end");
        assert!(past.papers.is_empty() && !past.has_more);
    }
}

async fn the_feed_filters_by_submitter(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[
            on_feed(
                paper("2510.00001"),
                "2025-10-29",
                "2025-10-29T09:00:00Z",
                1,
                Some("alice"),
            ),
            on_feed(
                paper("2510.00002"),
                "2025-10-29",
                "2025-10-29T09:00:00Z",
                1,
                Some("bob"),
            ),
            on_feed(
                paper("2510.00003"),
                "2025-10-30",
                "2025-10-30T09:00:00Z",
                1,
                Some("alice"),
            ),
        ])
        .await
        .expect("upsert");
    let mut q = query(DateWindow::Week(IsoWeek::parse("2025-W44").expect("week")));
    q.submitter = Some("alice".into());
    let page = store.feed(&q).await.expect("feed");
    assert_eq!(page.papers.len(), 2);
    for p in &page.papers {
        let submitter = p
            .feed
            .as_ref()
            .and_then(|f| f.submitter.as_ref())
            .expect("submitter");
        assert_eq!(submitter.username, "alice");
    }
}

async fn feed_dates_know_their_neighbours(store: Arc<dyn Store>) {
    assert_eq!(store.latest_feed_date().await.expect("latest"), None);
    store
        .upsert_papers(&[
            on_feed(
                paper("2510.00001"),
                "2025-10-24",
                "2025-10-24T09:00:00Z",
                1,
                None,
            ),
            on_feed(
                paper("2510.00002"),
                "2025-10-27",
                "2025-10-27T09:00:00Z",
                1,
                None,
            ),
            on_feed(
                paper("2510.00003"),
                "2025-10-29",
                "2025-10-29T09:00:00Z",
                1,
                None,
            ),
        ])
        .await
        .expect("upsert");
    assert_eq!(
        store.latest_feed_date().await.expect("latest"),
        Some(day("2025-10-29"))
    );
    assert_eq!(
        store
            .neighbour_feed_dates(day("2025-10-27"))
            .await
            .expect("n"),
        (Some(day("2025-10-24")), Some(day("2025-10-29")))
    );
    assert_eq!(
        store
            .neighbour_feed_dates(day("2025-10-28"))
            .await
            .expect("n"),
        (Some(day("2025-10-27")), Some(day("2025-10-29")))
    );
    assert_eq!(
        store
            .neighbour_feed_dates(day("2025-10-24"))
            .await
            .expect("n"),
        (None, Some(day("2025-10-27")))
    );
}

async fn the_catalogue_pages_newest_first_by_cursor(store: Arc<dyn Store>) {
    let base = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    let batch: Vec<_> = (1..=25)
        .map(|i| {
            let mut p = paper(&format!("2501.{i:05}"));
            // Two papers share each timestamp, so the id must break ties.
            p.published_at = base + Duration::hours(i64::from(i / 2));
            p
        })
        .collect();
    store.upsert_papers(&batch).await.expect("upsert");
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = store.list_papers(cursor.as_ref(), 10).await.expect("page");
        if page.is_empty() {
            break;
        }
        let encoded = PaperCursor::after(page.last().expect("last")).encode();
        cursor = Some(PaperCursor::decode(&encoded).expect("decodes"));
        seen.extend(page);
    }
    assert_eq!(seen.len(), 25);
    for pair in seen.windows(2) {
        assert!(
            (pair[0].published_at, pair[0].id.base()) > (pair[1].published_at, pair[1].id.base()),
            "strictly newest first"
        );
    }
}

async fn author_names_match_case_insensitively(store: Arc<dyn Store>) {
    let mut other = paper("2510.00002");
    other.authors = vec![NewAuthor::named("Grace Hopper")];
    store
        .upsert_papers(&[paper("2510.00001"), other])
        .await
        .expect("upsert");
    let found = store
        .papers_by_author("ada lovelace", 10)
        .await
        .expect("by author");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.base(), "2510.00001");
    assert!(
        store
            .papers_by_author("Nobody", 10)
            .await
            .expect("none")
            .is_empty()
    );
}

async fn upvoting_twice_counts_once_and_unvoting_removes_it(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[on_feed(
            paper("2510.00001"),
            "2025-10-29",
            "2025-10-29T09:00:00Z",
            10,
            None,
        )])
        .await
        .expect("upsert");
    let user = local_user(&store, "voter").await;
    let pid = id("2510.00001");
    assert_eq!(store.set_vote(user, &pid, true).await.expect("vote"), 11);
    assert_eq!(store.set_vote(user, &pid, true).await.expect("again"), 11);
    assert!(store.has_voted(user, &pid).await.expect("has"));
    assert_eq!(store.set_vote(user, &pid, false).await.expect("unvote"), 10);
    assert_eq!(
        store
            .set_vote(user, &pid, false)
            .await
            .expect("unvote again"),
        10
    );
    assert!(!store.has_voted(user, &pid).await.expect("has"));
    assert!(matches!(
        store.set_vote(user, &id("2510.09999"), true).await,
        Err(StoreError::NotFound(_))
    ));
    store.check_integrity().await.expect("integrity");
}

async fn concurrent_votes_never_make_counts_drift(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[paper("2510.00001")])
        .await
        .expect("upsert");
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(local_user(&store, &format!("user{i}")).await);
    }
    let pid = id("2510.00001");
    let mut tasks = Vec::new();
    for (i, user) in users.iter().copied().enumerate() {
        for round in 0..4 {
            let store = store.clone();
            let pid = pid.clone();
            // Users with an even index end up voted (last action up), odd ones not.
            let up = (round + i) % 2 == 1 || (round == 3 && i % 2 == 0);
            tasks.push(tokio::spawn(async move {
                store.set_vote(user, &pid, up).await.expect("vote");
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    let mut voted = 0;
    for user in &users {
        if store.has_voted(*user, &pid).await.expect("has") {
            voted += 1;
        }
    }
    let got = store.paper(&pid).await.expect("read").expect("found");
    assert_eq!(got.upvotes, voted, "the count equals the votes stored");
    store.check_integrity().await.expect("integrity");
}

async fn usernames_and_emails_are_unique(store: Arc<dyn Store>) {
    local_user(&store, "ada").await;
    let again = store
        .create_user(&NewUser {
            username: Username::parse("ada").expect("username"),
            fullname: "Other".into(),
            email: None,
            password_hash: None,
            is_admin: false,
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let same_email = store
        .create_user(&NewUser {
            username: Username::parse("ada2").expect("username"),
            fullname: "Other".into(),
            email: Some(paperboy_core::Email::parse("ada@example.org").expect("email")),
            password_hash: None,
            is_admin: false,
        })
        .await;
    assert!(matches!(same_email, Err(StoreError::Conflict(_))));
    let user = store
        .user_by_name("ada")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(user.fullname, "ADA");
    assert!(store.user_by_name("nobody").await.expect("read").is_none());
}

async fn an_imported_submitter_does_not_overwrite_a_local_account(store: Arc<dyn Store>) {
    local_user(&store, "alice").await;
    store
        .upsert_papers(&[on_feed(
            paper("2510.00001"),
            "2025-10-29",
            "2025-10-29T09:00:00Z",
            1,
            Some("alice"),
        )])
        .await
        .expect("upsert");
    let user = store
        .user_by_name("alice")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(user.fullname, "ALICE", "local profile kept");
    let got = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("found");
    let submitter = got.feed.and_then(|f| f.submitter).expect("submitter");
    assert_eq!(submitter.username, "alice");
}

async fn repeated_ids_in_one_batch_keep_the_last_record(store: Arc<dyn Store>) {
    let mut first = paper("2510.00001");
    first.title = "First".into();
    let mut second = paper("2510.00001");
    second.title = "Second".into();
    let summary = store
        .upsert_papers(&[first, paper("2510.00002"), second])
        .await
        .expect("upsert");
    assert_eq!(summary.inserted + summary.updated, 3);
    assert_eq!(store.stats().await.expect("stats").papers, 2);
    let got = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got.title, "Second");
}

async fn hostile_text_is_stored_verbatim(store: Arc<dyn Store>) {
    let mut p = paper("2510.00001");
    p.title = "<script>alert('x')</script> Robert'); DROP TABLE papers;-- $\\mathcal{O}(n)$".into();
    p.summary = "\"quotes\" & ampersands, emoji 🧪, RTL \u{202e}text, CJK 漢字".into();
    p.authors = vec![NewAuthor::named("<img src=x onerror=alert(1)>")];
    store.upsert_papers(&[p.clone()]).await.expect("upsert");
    let got = store
        .paper(&id("2510.00001"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(got.title, p.title);
    assert_eq!(got.summary, p.summary);
    assert_eq!(got.authors[0].name, p.authors[0].name);
    assert_eq!(store.stats().await.expect("stats").papers, 1);
}

async fn state_values_round_trip(store: Arc<dyn Store>) {
    assert_eq!(store.get_state("sync.hf").await.expect("get"), None);
    store.set_state("sync.hf", "2025-10-29").await.expect("set");
    store
        .set_state("sync.hf", "2025-10-30")
        .await
        .expect("set again");
    assert_eq!(
        store.get_state("sync.hf").await.expect("get").as_deref(),
        Some("2025-10-30")
    );
}

async fn stats_count_what_is_stored(store: Arc<dyn Store>) {
    let mut p = on_feed(
        paper("2510.00001"),
        "2025-10-29",
        "2025-10-29T09:00:00Z",
        1,
        Some("alice"),
    );
    if let Some(feed) = p.feed.as_mut() {
        feed.organization = Some(OrgRef {
            name: "org".into(),
            fullname: "Org".into(),
            avatar_url: None,
        });
    }
    store
        .upsert_papers(&[
            p,
            on_feed(
                paper("2510.00002"),
                "2025-10-30",
                "2025-10-30T09:00:00Z",
                1,
                Some("alice"),
            ),
            paper("2510.00003"),
        ])
        .await
        .expect("upsert");
    let s = store.stats().await.expect("stats");
    assert_eq!(
        (
            s.papers,
            s.feed_entries,
            s.authors,
            s.users,
            s.organizations,
            s.feed_days
        ),
        (3, 2, 6, 1, 1, 2)
    );
    store.check_integrity().await.expect("integrity");
}
